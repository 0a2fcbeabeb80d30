// Batch throughput: `nmc run --workers N` over many input sequences, through the code path the CLI runs
// (cli/batch/job.ts runBatch: worker threads that each load the bundle from its file, input slices
// transferred, results merged in sample order). The golden engine and the spinnaker2 simulator on the
// egru-smnist test digits, with 1, 2, 4, … workers up to the available cores, each timed from the start of
// the first worker to the merged result, worker start-up (thread, module loading, bundle decoding and
// mapping) included. Speedup is against the same run in one thread without workers; every parallel result
// is checked identical to the one-thread result.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { prepareJob, runBatch, type RawResult, availableCores, FLOAT_IR_SECTION, IR_SECTION, IR_SECTION_KIND, writeBundle, encodeGraph, type SequenceBatch, mapGraph, mappingSection, SPINNAKER2 } from "../index.js";
import { fmt, fmtTiming, mdTable, measureAsync, median, type Benchmark, type Goal, type Timing } from "./lib.js";
import { exampleModel, type ExampleModel } from "./models.js";

/** The batch repeated until it holds n sequences (the committed test digits, reused). */
function tile(b: SequenceBatch, n: number): SequenceBatch {
  const per = b.ticks * b.channels;
  const src = b.data as Float64Array;
  const data = new Float64Array(n * per);
  for (let i = 0; i < n; i++) {
    const k = i % b.batch;
    data.set(src.subarray(k * per, (k + 1) * per), i * per);
  }
  return { data, batch: n, ticks: b.ticks, channels: b.channels };
}

/** A bundle of the example's quantized graph as `nmc compile` writes it (IR, float IR, spinnaker2 mapping). */
function writeExampleBundle(ex: ExampleModel, target: "golden" | "spinnaker2", file: string): void {
  const mapping = target === "spinnaker2" ? mapGraph(ex.quantized, SPINNAKER2) : undefined;
  writeBundle(file, {
    modelName: ex.name, modelSource: `examples/${ex.name}/model.json`, target,
    hardwareJson: mapping ? JSON.stringify(SPINNAKER2) : undefined,
    sections: [
      { name: IR_SECTION, kind: IR_SECTION_KIND, data: encodeGraph(ex.quantized) },
      { name: FLOAT_IR_SECTION, kind: IR_SECTION_KIND, data: encodeGraph(ex.float) },
      ...(mapping ? [mappingSection(mapping)] : []),
    ],
  });
}

/** 1, 2, 4, … and the number of cores (at least 1 and 2). */
export function workerCounts(cores: number): number[] {
  const out = new Set<number>([1, 2]);
  for (let w = 4; w < cores; w *= 2) out.add(w);
  out.add(Math.max(1, cores));
  return [...out].sort((a, b) => a - b);
}

interface Row {
  engine: string;
  workers: number;
  timing: Timing;
  speedup: number;
  efficiency: number;
  /** CPU time of the process (all threads) ÷ wall time, median over the repeats: the cores kept busy. */
  coresBusy: number;
  identical: boolean;
}

/** measureAsync, also recording the process's CPU time (all threads) ÷ wall time of each timed repeat. */
async function timed(fn: () => Promise<void>, o: { warmup: number; repeats: number }): Promise<{ timing: Timing; coresBusy: number }> {
  const busy: number[] = [];
  let warm = 0;
  const timing = await measureAsync(async () => {
    const c0 = process.cpuUsage(), t0 = performance.now();
    await fn();
    const c = process.cpuUsage(c0), wall = (performance.now() - t0) * 1000;
    if (warm++ >= o.warmup) busy.push((c.user + c.system) / wall);
  }, o);
  return { timing, coresBusy: median(busy) };
}

interface EngineFigures {
  engine: string;
  samples: number;
  ticks: number;
  oneThread: Timing;
  /** One sample: one worker minus one thread, i.e. what starting a worker costs. */
  startupSeconds: number;
  rows: Row[];
}

export const batch: Benchmark = {
  name: "batch",
  title: "Batch throughput: nmc run --workers N",
  async run(ctx) {
    const cores = availableCores();
    const counts = workerCounts(cores);
    const dir = mkdtempSync(join(tmpdir(), "nmc-bench-batch-"));
    try {
      ctx.log("egru-smnist: compiling");
      const ex = exampleModel("egru-smnist");
      const samples = ctx.quick ? 750 : 1500;
      const input = tile(ex.batch, samples);
      const one = tile(ex.batch, 1);
      // Quick mode: workers always start cold, so their warm-up runs are skipped; the one-thread run is warmed.
      const base = { warmup: ctx.warmup, repeats: ctx.quick ? 2 : 5 };
      const par = { warmup: ctx.quick ? 0 : 1, repeats: ctx.quick ? 2 : 5 };
      const small = { warmup: ctx.quick ? 0 : 1, repeats: ctx.quick ? 2 : 3 };
      const engines: EngineFigures[] = [];
      for (const engine of ["golden", "spinnaker2"] as const) {
        const file = join(dir, `${engine}.nmb`);
        writeExampleBundle(ex, engine, file);
        const job = await prepareJob({ model: file, engine }, () => undefined);
        ctx.log(`${engine}: one thread, ${samples} sequences`);
        let ref: RawResult | undefined;
        const oneThread = await measureAsync(async () => { ref = await runBatch(job, input); }, base);
        const s1 = await measureAsync(async () => { await runBatch(job, one); }, small);
        const w1 = await measureAsync(async () => { await runBatch(job, one, { workers: 1 }); }, small);
        const rows: Row[] = [];
        for (const w of counts) {
          ctx.log(`${engine}: ${w} worker${w === 1 ? "" : "s"}`);
          let got: RawResult | undefined;
          const { timing, coresBusy } = await timed(async () => { got = await runBatch(job, input, { workers: w }); }, w === 1 && ctx.quick ? { warmup: 0, repeats: 1 } : par);
          const speedup = oneThread.median / timing.median;
          rows.push({ engine, workers: w, timing, speedup, efficiency: speedup / w, coresBusy, identical: isDeepStrictEqual(got, ref) });
        }
        engines.push({ engine, samples, ticks: input.ticks, oneThread, startupSeconds: w1.median - s1.median, rows });
      }
      const goals: Goal[] = engines.map((e) => {
        const last = e.rows[e.rows.length - 1];
        const notes: string[] = [];
        if (!last.identical) notes.push("the parallel result differed from the one-thread result");
        notes.push(`worker start-up ${fmt(e.startupSeconds * 1000)} ms`);
        if (last.coresBusy < 0.8 * last.workers) notes.push(`the process kept only ${fmt(last.coresBusy)} of ${last.workers} cores busy (start-up, or other programs sharing the cores)`);
        return {
          goal: `${e.engine}: speedup with ${cores} workers on this machine's ${cores} cores (ideal ${cores}×; met if ≥ 0.7 × ${cores} = ${fmt(0.7 * cores)}×)`,
          measured: `${fmt(last.speedup)}× (parallel efficiency ${(100 * last.efficiency).toFixed(0)} %), ${e.samples} sequences, worker start-up included`,
          met: last.identical && last.speedup >= 0.7 * cores,
          note: notes.join("; "),
        };
      });
      const markdown = [
        `Wall time of \`nmc run --workers N\`'s code path (cli/batch/job.ts \`runBatch\`) over ${engines[0].samples} egru-smnist sequences ` +
          `(the ${exampleModel("egru-smnist").batch.batch} committed test digits, repeated) × ${engines[0].ticks} ticks, from starting the workers to the merged result.`,
        "Each worker thread loads the bundle from its file (decoding, and for the simulator re-deriving the mapping), so",
        "start-up is inside every figure. Speedup = one-thread time ÷ N-worker time (the one-thread run uses no worker);",
        "efficiency = speedup ÷ N. Cores busy = the process's CPU time (all threads) ÷ wall time: below N while workers start,",
        "or when other programs share the cores. Every parallel run's outputs and counters were compared with the one-thread run's.",
        "",
        mdTable(["engine", "workers", "wall time", "speedup", "efficiency", "cores busy", "identical to one thread"], engines.flatMap((e) => [
          [e.engine, "none (one thread)", fmtTiming(e.oneThread), "1×", "", "", ""],
          ...e.rows.map((r) => [e.engine, r.workers, fmtTiming(r.timing), `${fmt(r.speedup)}×`, `${(100 * r.efficiency).toFixed(0)} %`, fmt(r.coresBusy), r.identical ? "yes" : "**no**"]),
        ])),
        "",
        `Worker start-up (one worker over one sequence, minus one thread over one sequence): ${engines.map((e) => `${e.engine} ${fmt(e.startupSeconds * 1000)} ms`).join(", ")}.`,
      ].join("\n");
      return { figures: { cores, workerCounts: counts, engines }, goals, markdown };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
