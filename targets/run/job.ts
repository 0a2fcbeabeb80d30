// Running a model over a batch of input sequences: in this thread, or split by samples across worker
// threads (`nmc run --workers N`). A job is described by a file path and engine options (JobSpec), so a
// worker loads the bundle or model itself; only the input slices travel (transferred, not copied) and the
// raw results come back to be merged in sample order. The CLI and `bench/batch.ts` both call runBatch.
import { closeSync, openSync, readSync } from "node:fs";
import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
// Only what every engine needs is imported here; the rest is imported when a job needs it, so a worker
// thread of the golden engine does not pay for loading the simulator, the CUDA driver or the model.json frontend.
import { BUNDLE_MAGIC, FLOAT_IR_SECTION, bundleGraph, readBundle, type Bundle } from "../../ir/bundle.js";
import { encodeGraph } from "../../ir/codec.js";
import { NmcError, type NmcErrorInit } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import { FloatEngine, type Precision } from "../../runtime/float/interpreter.js";
import { type SequenceBatch } from "../../runtime/batch.js";
import { GoldenEngine } from "../../runtime/golden/interpreter.js";
import type { Mapping } from "../../targets/spinnaker2/index.js";
import { type Engine, parseEngine, parseReadout } from "../options.js";
import { mergeResults, type CountersResult, type RawResult } from "./result.js";
import { sliceBatch, splitRange } from "./shard.js";

/** True when the file starts with the bundle magic (so a bundle is recognised whatever its name). */
export function isBundleFile(file: string): boolean {
  if (file.endsWith(".nmb")) return true;
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString("latin1") === BUNDLE_MAGIC;
  } catch {
    return false; // the loader that runs next reports the unreadable file properly
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The graph an engine runs: a bundle's quantized IR (golden, its target) or float IR, or a model.json's float IR. */
export async function loadRunnable(model: string, engineOpt: string | undefined, readout: string | undefined, warn: (w: string) => void = (w) => process.stderr.write(`nmc: warning: ${w}\n`)): Promise<{ graph: Graph; engine: Engine; bundle?: Bundle }> {
  if (isBundleFile(model)) {
    const b = readBundle(model);
    const t = b.manifest.target;
    const engine = parseEngine(engineOpt ?? (t === "spinnaker2" || t === "cuda" ? t : "golden"));
    if (readout !== undefined) {
      throw new NmcError("--readout applies to model.json; a bundle's readout was fixed when it was compiled", {
        file: model, hint: `recompile with nmc compile <model.json> --readout ${readout}`,
      });
    }
    const q = bundleGraph(b, model);
    return { graph: engine === "float" ? bundleGraph(b, model, FLOAT_IR_SECTION) : q, engine, bundle: b };
  }
  const engine = parseEngine(engineOpt ?? "float");
  if (engine !== "float") {
    throw new NmcError(`the ${engine} engine runs compiled bundles; ${model} is a float model`, {
      file: model, hint: `compile it first: nmc compile ${model} -o m.nmb && nmc run m.nmb --input ...`,
    });
  }
  const { loadModel } = await import("../../compiler/frontend/index.js");
  const { graph, warnings } = loadModel(model, { readout: parseReadout(readout) });
  for (const w of warnings) warn(w);
  return { graph, engine };
}

/** What a worker needs to load and run the model itself. */
export interface JobSpec {
  /** The bundle (.nmb) or model.json, as a path the worker can open (relative to the current directory). */
  model: string;
  engine?: string;
  readout?: string;
  /** float engine: f64 | f32; cuda engine: int | float. */
  precision?: string;
  /** spinnaker2: execute event-driven (default) or densely (`--mode dense`: every value sent, every weight visited). */
  execution?: "event" | "dense";
}

/** A loaded job: the graph that runs, the engine, and a function that runs it over a batch. */
export interface PreparedJob {
  spec: JobSpec;
  engine: Engine;
  /** The graph the engine runs (for cuda --precision float: the bundle's float IR). */
  graph: Graph;
  bundle?: Bundle;
  mapping?: Mapping;
  /** sha256 of what runs: the bundle file's bytes, or the encoded IR of a model.json (readout included). */
  identity(): string;
  /** Runs the engine over a batch in this thread; onProgress(samples done) as it goes. */
  run(batch: SequenceBatch, onProgress?: (done: number) => void): RawResult;
}

/** Loads the model of a job and checks its options (the same checks in the main thread and in a worker). */
export async function prepareJob(spec: JobSpec, warn?: (w: string) => void): Promise<PreparedJob> {
  const { graph: loaded, engine, bundle } = await loadRunnable(spec.model, spec.engine, spec.readout, warn);
  const p = spec.precision;
  if (engine === "cuda") {
    if (p === "f64" || p === "f32") throw new NmcError(`--precision ${p} applies to the float engine`, { expected: "int or float for the cuda engine" });
  } else if (engine !== "spinnaker2" && (p === "int" || p === "float")) {
    throw new NmcError(`--precision ${p} applies to the cuda engine`, { expected: "f64 or f32 for the float engine" });
  }
  const cudaPrecision = p === "float" ? "float" : "int";
  const graph = engine === "cuda" && cudaPrecision === "float" ? bundleGraph(bundle!, spec.model, FLOAT_IR_SECTION) : loaded;
  const s2 = engine === "spinnaker2" ? { ...await import("../spinnaker2.js"), ...await import("../../targets/spinnaker2/index.js") } : undefined;
  const mapping = s2 ? s2.bundleMapping(bundle!, graph, spec.model) : undefined;
  const cuda = engine === "cuda" ? { ...await import("../../targets/cuda/index.js"), ...await import("../engines.js") } : undefined;
  let id: string | undefined;
  const job: PreparedJob = {
    spec, engine, graph, bundle, mapping,
    identity() {
      id ??= bundle?.fileSha256 ?? createHash("sha256").update(encodeGraph(graph)).digest("hex");
      return id;
    },
    run(batch, onProgress) {
      if (engine === "spinnaker2") {
        return { kind: "sim", run: s2!.simulate(graph, mapping!, batch, { execution: spec.execution ?? "event", ...(onProgress ? { onSample: (b: number) => onProgress(b + 1) } : {}) }) };
      }
      if (engine === "cuda") {
        const r = cuda!.runCuda(graph, batch, { precision: cudaPrecision, source: cuda!.bundleCudaSource(bundle!, cudaPrecision), events: false });
        onProgress?.(batch.batch);
        return {
          kind: "counters", engine, output: r.output, ...(r.outputQ ? { outputQ: r.outputQ } : {}), ...(r.outFrac !== undefined ? { outFrac: r.outFrac } : {}),
          outputShape: r.outputShape, counters: r.counters,
          backend: `generated CUDA C++ (${r.mode === "gpu" ? `GPU: ${r.ranOn}` : "host emulation of the same source"}; ${r.compiler}${r.cached ? ", cached build" : ""})`,
          ...(r.fallback ? { fallback: r.fallback } : {}),
        };
      }
      const once = (b: SequenceBatch): CountersResult => {
        if (engine === "golden") {
          const r = new GoldenEngine(graph).run(b);
          return { kind: "counters", engine, output: r.output, outputQ: r.outputQ, outFrac: r.outFrac, outputShape: r.outputShape, counters: r.counters };
        }
        const r = new FloatEngine(graph, { precision: p as Precision | undefined }).run(b);
        return { kind: "counters", engine: "float", output: r.output, outputShape: r.outputShape, counters: r.counters };
      };
      if (!onProgress || batch.batch < 2) {
        const r = once(batch);
        onProgress?.(batch.batch);
        return r;
      }
      // With progress: in up to 16 pieces, each on a fresh engine, merged like the runs of workers are.
      const parts: CountersResult[] = [];
      for (const range of splitRange(batch.batch, Math.min(16, batch.batch))) {
        parts.push(once(sliceBatch(batch, range)));
        onProgress(range.end);
      }
      return mergeResults(parts);
    },
  };
  return job;
}

/** Messages from a worker. */
export type WorkerMessage =
  | { type: "progress"; done: number }
  | { type: "done"; result: RawResult }
  | { type: "error"; error: { nmc: boolean; message: string; fields?: NmcErrorInit; stack?: string } };

/** What a worker is started with (workerData). */
export interface WorkerInput {
  spec: JobSpec;
  data: Float64Array;
  batch: number;
  ticks: number;
  channels: number;
  progress: boolean;
}

export interface BatchOptions {
  /** Worker threads; 0 or undefined: run in this thread. At most one worker per sample is started. */
  workers?: number;
  /** Samples done so far (all workers together). */
  onProgress?: (done: number, total: number) => void;
}

/** Worker threads run the engines of nmc's own process; the cuda engine runs one compiled program instead. */
export function checkWorkersApply(engine: Engine): void {
  if (engine === "cuda") {
    throw new NmcError("--workers applies to the engines that run in nmc's own process (golden, spinnaker2, float); the cuda engine runs one compiled program over the whole batch", {
      hint: "drop --workers (on a GPU the program is already parallel), or spread a large input over machines with --shard i/n and nmc merge",
    });
  }
}

const WORKER_URL = new URL("./worker.js", import.meta.url);

/** Runs one worker over a slice; resolves with its result. `started` lets the caller terminate it. */
function runWorker(input: WorkerInput, onProgress: (done: number) => void, started: (w: Worker) => void): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const w = new Worker(WORKER_URL, { workerData: input, transferList: [input.data.buffer as ArrayBuffer], stdout: false, stderr: false });
    started(w);
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      f();
    };
    w.on("message", (m: WorkerMessage) => {
      if (m.type === "progress") onProgress(m.done);
      else if (m.type === "done") finish(() => resolve(m.result));
      else finish(() => {
        if (m.error.nmc) reject(new NmcError(m.error.message, m.error.fields));
        else {
          const e = new Error(`in a worker thread: ${m.error.message}`);
          if (m.error.stack) e.stack = m.error.stack;
          reject(e);
        }
      });
    });
    w.on("error", (e) => finish(() => reject(e instanceof Error ? new Error(`a worker thread failed: ${e.message}`) : new Error(`a worker thread failed: ${String(e)}`))));
    w.on("exit", (code) => finish(() => reject(new Error(`a worker thread exited (code ${code}) without a result`))));
  });
}

/**
 * Runs `job` over `batch`: in this thread when `workers` is 0 or undefined, else split into contiguous sample
 * ranges over min(workers, samples) worker threads, each loading the model from `job.spec.model`. The
 * merged result is identical to the single-thread run's (outputs in sample order, counters summed).
 */
export async function runBatch(job: PreparedJob, batch: SequenceBatch, opts: BatchOptions = {}): Promise<RawResult> {
  const total = batch.batch;
  const workers = Math.min(opts.workers ?? 0, total);
  if (workers < 1) {
    return job.run(batch, opts.onProgress ? (d) => opts.onProgress!(d, total) : undefined);
  }
  checkWorkersApply(job.engine);
  const ranges = splitRange(total, workers);
  const done = new Array<number>(workers).fill(0);
  const started: Worker[] = [];
  const report = (i: number, d: number) => {
    done[i] = d;
    opts.onProgress?.(done.reduce((a, x) => a + x, 0), total);
  };
  const promises = ranges.map((r, i) => {
    // A copy of the slice, so its buffer can be transferred to the worker.
    const slice = Float64Array.from(sliceBatch(batch, r).data);
    return runWorker(
      { spec: job.spec, data: slice, batch: r.end - r.start, ticks: batch.ticks, channels: batch.channels, progress: opts.onProgress !== undefined },
      (d) => report(i, d), (w) => started.push(w),
    );
  });
  try {
    const parts = await Promise.all(promises);
    return mergeResults(parts);
  } catch (e) {
    await Promise.allSettled(started.map((w) => w.terminate()));
    throw e;
  }
}
