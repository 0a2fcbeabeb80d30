import { resolve } from "node:path";
import type { Command } from "commander";
import { Option } from "commander";
import { NmcError } from "../../ir/errors.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
import { readNpy } from "../../runtime/io/npy.js";
import { checkWorkersApply, prepareJob, runBatch } from "../../targets/run/job.js";
import { parseShard, parseWorkers, SHARD_HELP, sliceBatch, splitRange } from "../../targets/run/shard.js";
import { dtOption, INPUT_FORMATS_HELP, readBatch, ticksOption, timeUnitOption, warnInputSaturation } from "../input.js";
import { addTargetOptions, engineOption, numberOption, readoutOption, targetOptionValues } from "../options.js";
import { inputIdentity, PART_FORMAT, PART_VERSION, writePart } from "../batch/part.js";
import { present } from "../batch/present.js";
import { TARGETS } from "../../targets/registry.js";
import { sampleProgress } from "../batch/progress.js";

interface RunOptions {
  engine?: string;
  html?: string;
  rasterInput?: string;
  /** spinnaker2's run options (added from the registry); the part file records them. */
  mode?: string;
  level?: string;
  quiet?: boolean;
  input: string;
  out?: string;
  labels?: string;
  readout?: string;
  precision?: string;
  json?: boolean;
  dt?: string;
  ticks?: string;
  timeUnit?: string;
  workers?: string;
  pipeline?: string;
  shard?: string;
  save?: string;
}

async function runCommand(model: string, opts: RunOptions): Promise<void> {
  const workers = opts.workers !== undefined ? parseWorkers(opts.workers) : undefined;
  const pipeline = opts.pipeline !== undefined ? parseWorkers(opts.pipeline, "--pipeline") : undefined;
  const shard = opts.shard !== undefined ? parseShard(opts.shard) : undefined;
  if (shard && !opts.save) {
    throw new NmcError("--shard runs part of the samples and writes them to a part file for nmc merge", { hint: `add --save part-${shard.index}.json` });
  }
  if (opts.html && shard) {
    throw new NmcError("--html reports a whole run; a shard is part of one", { hint: "merge the parts with nmc merge part*.json --html report.html" });
  }
  const options = targetOptionValues(opts, "runOptions");
  const job = await prepareJob({ model, engine: opts.engine, readout: opts.readout, precision: opts.precision, options });
  if (opts.html && !job.loaded?.report) throw new NmcError(`--html draws a target's own report; the ${job.engine} engine has none`, { hint: "compile with --target spinnaker2 and run that bundle" });
  if (workers !== undefined) checkWorkersApply(job.engine);
  const rasterSample = opts.html ? numberOption("--raster-input", opts.rasterInput ?? "0", 0, 2 ** 31, true)! : 0;
  const { x, batch } = readBatch(job.graph, opts.input, opts);
  const total = batch.batch;
  const range = shard ? splitRange(total, shard.count)[shard.index - 1] : { start: 0, end: total };
  const sub = sliceBatch(batch, range);
  const saturation = warnInputSaturation(job.graph, sub, opts.input);
  let labels: { values: Float64Array; file: string } | undefined;
  if (opts.labels) {
    const all = toFloat64(readNpy(opts.labels));
    if (shard && all.length !== total) throw new NmcError("labels do not match the inputs", { file: opts.labels, expected: `${total} labels`, found: `${all.length}` });
    labels = { values: shard ? all.subarray(range.start, range.end) : all, file: opts.labels };
  }
  const bar = sampleProgress(job.target?.progressVerb ?? "running", opts.quiet === true || opts.json === true);
  const t0 = performance.now();
  let result, split: string[][] | undefined;
  try {
    result = await runBatch(job, sub, { workers, pipeline, onPipeline: (p) => (split = p), onProgress: bar ? (d, t) => bar.update(d, t) : undefined });
  } finally {
    bar?.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const threads = workers !== undefined ? Math.min(workers, sub.batch) : undefined;
  const part = shard ?? (opts.save ? { index: 1, count: 1 } : undefined);
  const headLines: string[] = [];
  if (part) {
    const which = range.end > range.start ? `samples ${range.start}..${range.end - 1} of ${total}` : `no samples (more shards than the ${total} samples)`;
    headLines.push(`shard    ${part.index}/${part.count}: ${which} -> ${opts.save} (combine with nmc merge)`);
  }
  if (threads !== undefined) headLines.push(`workers  ${threads} worker thread${threads === 1 ? "" : "s"}`);
  if (split) headLines.push(`pipeline ${split.length} worker threads: ${split.map((p) => p.join(" + ")).join(" | ")}`);
  if (opts.save && part) {
    writePart(opts.save, {
      format: PART_FORMAT, version: PART_VERSION,
      model: { file: model, path: resolve(model), sha256: job.identity() },
      engine: job.engine, readout: opts.readout ?? null, precision: opts.precision ?? null, mode: opts.mode === "dense" ? "dense" : "event", level: opts.level ?? null,
      input: { file: opts.input, shape: x.shape, dtype: x.dtype, samples: total, sha256: inputIdentity(batch) },
      shard: { index: part.index, count: part.count, start: range.start, end: range.end },
      labels: labels ? { file: labels.file, values: Array.from(labels.values) } : null,
      seconds, workers: threads ?? null, result,
    });
  }
  process.stdout.write(await present({
    model, job, precision: opts.precision, result,
    input: { file: opts.input, shape: x.shape, dtype: x.dtype }, out: opts.out, labels, json: opts.json === true,
    options, seconds,
    extra: {
      ...(saturation ? { input_saturation: { saturated: saturation.saturated, values: saturation.values, max_abs: saturation.maxAbs, limit: saturation.limit } } : {}),
      ...(threads !== undefined ? { workers: threads } : {}), ...(split ? { pipeline: { workers: split.length, populations: split } } : {}), ...(part ? { shard: { index: part.index, count: part.count, start: range.start, end: range.end, file: opts.save } } : {}) },
    headLines,
    html: opts.html ? {
      file: opts.html, title: `nmc: ${model} on ${job.target?.displayName ?? job.engine}`,
      raster: (rep) => {
        const sample = Math.min(rasterSample, Math.max(0, batch.batch - 1));
        return rep.raster ? rep.raster(batch, sample) : { points: [], sample };
      },
    } : undefined,
  }));
}

export function registerRun(program: Command): void {
  const cmd = program
    .command("run")
    .description("run a model on input sequences and write its outputs")
    .argument("<model>", "a bundle from nmc compile (.nmb), or model.json (TensorFlow.js LayersModel)")
    .addOption(engineOption())
    .option("-q, --quiet", "no progress bar")
    .option("--html <file>", "spinnaker2: also write a self-contained HTML report with plots (PE map, activity raster, sparsity, energy, latency)")
    .option("--raster-input <k>", "spinnaker2 --html: which input sequence the activity raster shows", "0")
    .requiredOption("--input <file>", "input sequences [T, C] (one) or [B, T, C]; token ids [B, T] for Embedding models. Formats: " + INPUT_FORMATS_HELP)
    .addOption(dtOption())
    .addOption(ticksOption())
    .addOption(timeUnitOption())
    .option("--out <file>", "write outputs as float32 .npy: [B, T, K] per tick, or [B, K] with a readout")
    .option("--labels <file>", ".npy of integer class labels [B]: report accuracy (argmax of the readout)")
    .addOption(readoutOption())
    .addOption(new Option("--precision <p>", "float engine: f64 or f32 storage; cuda engine: int (bit-exact with golden, default) or float (the float variant on the bundle's float IR)").choices(["f64", "f32", ...TARGETS.flatMap((t) => t.precisions ?? [])]))
    .option("--json", "print a JSON summary (shapes, events, sparsity, synaptic operations) on stdout")
    .option("--workers <n>", "split the samples over n worker threads (0 or auto: one per available core); the results are identical to a one-thread run. golden, spinnaker2 and float engines")
    .option("--pipeline <n>", "spinnaker2: simulate one model's PEs on n worker threads (0 or auto: one per core), each running a contiguous run of its PEs in graph order (a population may be shared by two) and passing their events on tick by tick; the results are identical to a one-thread run. For one large model, where --workers (which splits the samples) does not help")
    .option("--shard <i/n>", `${SHARD_HELP}; needs --save. nmc merge combines the n part files`)
    .option("--save <part.json>", "write a part file (outputs and raw counters of this shard, with the model's and input's checksums) for nmc merge")
    .addHelpText("after", `
Examples:
  $ nmc run model.json --input x.npy --out y.npy
  $ nmc compile model.json -o m.nmb && nmc run m.nmb --input x.npy --labels y.npy --json
  $ nmc compile model.json --target spinnaker2 -o s.nmb && nmc run s.nmb --input x.npy --labels y.npy
  $ nmc run examples/egru-smnist/model.json --input examples/egru-smnist/inputs/x.npy \\
        --labels examples/egru-smnist/inputs/y.npy --json
  $ nmc run model.json --input data.npz:x_test          # one array of a .npz (default: x, else the first)
  $ nmc run model.json --input x.json                   # nested arrays [[...], ...]
  $ nmc run examples/ssm-events/model.json --input examples/ssm-events/inputs/events.csv --dt 1 --ticks 56
  $ nmc run s.nmb --input x.npy --labels y.npy --workers auto    # one worker thread per core, same figures
  $ nmc run s.nmb --input x.npy --pipeline 2           # one large model: its PEs over 2 worker threads
  $ nmc run s.nmb --input x.npy --labels y.npy --shard 2/4 --save part-2.json
  $ nmc merge part-*.json                               # the report of the whole input, from its 4 parts

Parallel runs: --workers N splits the samples into N contiguous ranges, one worker thread each (each loads
the model itself); outputs, accuracy, counters and the spinnaker2 report are identical to a one-thread run.
--shard i/n (1-based) runs the i-th of n ranges split the same way, for a job array across machines, e.g.
Slurm: sbatch --array=1-8 --wrap 'nmc run s.nmb --input x.npy --labels y.npy --shard $SLURM_ARRAY_TASK_ID/8
--save part-$SLURM_ARRAY_TASK_ID.json', then nmc merge part-*.json. --workers does not apply to the cuda
engine (one compiled program runs the batch); --shard does.
--pipeline N (spinnaker2) splits one model instead: N worker threads each simulate a contiguous run of its
PEs in graph order (a population may be shared by two), balanced by an estimate of their work, and pass the
events that cross between them tick by tick; worker 2 simulates tick t while worker 1 is at tick t + 1. For a
large model on many PEs; the results are identical to a one-thread run (models with pooling or event time,
the MAC array or DRAM: refused).

Event inputs (.csv with header t,channel[,value], or a structured .npy with fields t, channel[, value])
become one sequence [1, T, C]: each event adds value (default 1) at tick floor(t / dt) of its channel,
C is the model's input width, T the last tick + 1 unless --ticks is given.

Event-time models (nmc import event-ssm) take every event as one step with its own time step: an .npz with
tokens [B, L], timesteps [B, L] in ms and lengths [B] (event-ssm's collate output; without lengths a sequence
ends at its last token ≥ 0), or an event list t,channel[,value] in time order, where step i has
Δt = t[i+1] − t[i] and the last event is dropped (event-ssm's convention), t in --time-unit (default us).`)
    .action(async (model: string, opts: RunOptions) => runCommand(model, opts));
  addTargetOptions(cmd, "runOptions");
}
