// Running a model over a batch of input sequences: in this thread, or split by samples across worker
// threads (`nmc run --workers N`). A job is described by a file path and engine options (JobSpec), so a
// worker loads the bundle or model itself; only the input slices travel (transferred, not copied) and the
// raw results come back to be merged in sample order. This is nmc's one engine dispatcher: an engine is the
// float interpreter or a registered target (targets/registry.ts), found by name; the CLI, the bench and
// the public API all come through here.
import { closeSync, openSync, readSync } from "node:fs";
import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";
import { BUNDLE_MAGIC, FLOAT_IR_SECTION, bundleGraph, readBundle, type Bundle } from "../../ir/bundle.js";
import { encodeGraph } from "../../ir/codec.js";
import { NmcError, type NmcErrorInit } from "../../ir/errors.js";
import type { Graph, ReadoutMode } from "../../ir/types.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import { FloatEngine, type Precision } from "../../runtime/float/interpreter.js";
import { findTarget, TARGETS, targetNames } from "../registry.js";
import type { LoadedBundle, Target } from "../target.js";
import { mergeResults, type CountersResult, type RawResult } from "./result.js";
import { sliceBatch, splitRange } from "./shard.js";

/** An engine: the float interpreter, or the name of a registered target. */
export type Engine = string;

/** Every engine name: the float interpreter and the registered targets. */
export function engineNames(): string[] {
  return ["float", ...targetNames()];
}

export function parseEngine(v: string): Engine {
  if (!engineNames().includes(v)) throw new NmcError(`unknown engine ${v}`, { expected: engineNames().join(" | "), found: v });
  return v;
}

/** The float engine's precisions (a target says its own in Target.precisions). */
const FLOAT_PRECISIONS = ["f64", "f32"] as const;

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

/** The graph an engine runs: a bundle's quantized IR (its target, or another as a reference) or float IR, or a model.json's float IR. */
export async function loadRunnable(model: string, engineOpt: string | undefined, readout: string | undefined, warn: (w: string) => void = (w) => process.stderr.write(`nmc: warning: ${w}\n`)): Promise<{ graph: Graph; engine: Engine; bundle?: Bundle }> {
  if (isBundleFile(model)) {
    const b = readBundle(model);
    // A bundle runs on its own target by default; one of a target this nmc does not know, on the golden engine.
    const engine = parseEngine(engineOpt ?? (findTarget(b.manifest.target) ? b.manifest.target : "golden"));
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
  const { graph, warnings } = loadModel(model, { readout: readout as ReadoutMode | "none" | undefined });
  for (const w of warnings) warn(w);
  return { graph, engine };
}

/** What a worker needs to load and run the model itself. */
export interface JobSpec {
  /** The bundle (.nmb) or model.json, as a path the worker can open (relative to the current directory). */
  model: string;
  engine?: string;
  readout?: string;
  /** float engine: f64 | f32; a target's own precisions (cuda: int | float). */
  precision?: string;
  /** Values of the target's run options (spinnaker2: mode = event | dense), by key. */
  options?: Record<string, string | undefined>;
}

/** A loaded job: the graph that runs, the engine, and a function that runs it over a batch. */
export interface PreparedJob {
  spec: JobSpec;
  engine: Engine;
  /** The target behind the engine (undefined for the float engine). */
  target?: Target;
  /** The graph the engine runs (for cuda --precision float: the bundle's float IR). */
  graph: Graph;
  bundle?: Bundle;
  /** The loaded bundle on its engine's target (absent for the float engine). */
  loaded?: LoadedBundle;
  /** sha256 of what runs: the bundle file's bytes, or the encoded IR of a model.json (readout included). */
  identity(): string;
  /** Runs the engine over a batch in this thread; onProgress(samples done) as it goes. */
  run(batch: SequenceBatch, onProgress?: (done: number) => void): RawResult;
}

/** Refuses a --precision the engine does not take, naming the engines that do. */
function checkPrecision(engine: Engine, target: Target | undefined, p: string | undefined): void {
  if (p === undefined) return;
  const own: readonly string[] = target ? target.precisions ?? [] : FLOAT_PRECISIONS;
  if (own.includes(p)) return;
  const takers = [...(FLOAT_PRECISIONS as readonly string[]).includes(p) ? ["float"] : [], ...TARGETS.filter((t) => t.precisions?.includes(p)).map((t) => t.name)];
  throw new NmcError(`--precision ${p} applies to the ${takers.join(" / ") || "no"} engine`, {
    expected: own.length ? `${own.join(" or ")} for the ${engine} engine` : `no --precision for the ${engine} engine`, found: p,
  });
}

/** The bundle on the engine's target: its own target loads it; another target may run it as a reference. */
function loadOn(target: Target, bundle: Bundle, graph: Graph, file: string, precision: string | undefined): LoadedBundle {
  if (bundle.manifest.target === target.name) return target.load(bundle, graph, file, { precision });
  const ref = target.reference?.(graph, bundle, { precision });
  if (!ref) {
    throw new NmcError(`this bundle was compiled for target ${bundle.manifest.target}, not ${target.name}`, {
      file, hint: `compile with nmc compile <model.json> --target ${target.name} -o m.nmb, or run it with --engine golden`,
    });
  }
  return ref;
}

/** Runs the float interpreter, in up to 16 pieces when progress is shown (merged like the runs of workers). */
function runFloatEngine(graph: Graph, precision: string | undefined, batch: SequenceBatch, onProgress?: (done: number) => void): RawResult {
  const once = (b: SequenceBatch): CountersResult => {
    const r = new FloatEngine(graph, { precision: precision as Precision | undefined }).run(b);
    return { kind: "counters", engine: "float", output: r.output, outputShape: r.outputShape, counters: r.counters };
  };
  return inPieces(batch, once, onProgress);
}

/** Runs `once` over the batch, in up to 16 pieces when progress is wanted, each on a fresh engine. */
export function inPieces(batch: SequenceBatch, once: (b: SequenceBatch) => RawResult, onProgress?: (done: number) => void): RawResult {
  if (!onProgress || batch.batch < 2) {
    const r = once(batch);
    onProgress?.(batch.batch);
    return r;
  }
  const parts: RawResult[] = [];
  for (const range of splitRange(batch.batch, Math.min(16, batch.batch))) {
    parts.push(once(sliceBatch(batch, range)));
    onProgress(range.end);
  }
  return mergeResults(parts);
}

/** Loads the model of a job and checks its options (the same checks in the main thread and in a worker). */
export async function prepareJob(spec: JobSpec, warn?: (w: string) => void): Promise<PreparedJob> {
  const { graph: loaded, engine, bundle } = await loadRunnable(spec.model, spec.engine, spec.readout, warn);
  const target = engine === "float" ? undefined : findTarget(engine)!;
  checkPrecision(engine, target, spec.precision);
  const graph = target?.runsFloatIr?.(spec.precision) ? bundleGraph(bundle!, spec.model, FLOAT_IR_SECTION) : loaded;
  const onTarget = target ? loadOn(target, bundle!, graph, spec.model, spec.precision) : undefined;
  let id: string | undefined;
  return {
    spec, engine, target, graph, bundle, loaded: onTarget,
    identity() {
      id ??= bundle?.fileSha256 ?? createHash("sha256").update(encodeGraph(graph)).digest("hex");
      return id;
    },
    run(batch, onProgress) {
      if (!onTarget) return runFloatEngine(graph, spec.precision, batch, onProgress);
      return onTarget.execute(batch, { options: spec.options ?? {}, precision: spec.precision, onProgress });
    },
  };
}

/** Messages from a worker. */
export type WorkerMessage<R = RawResult> =
  | { type: "progress"; done: number }
  | { type: "done"; result: R }
  | { type: "error"; error: { nmc: boolean; message: string; fields?: NmcErrorInit; stack?: string } };

/** What a worker is started with (workerData). */
export interface WorkerInput {
  spec: JobSpec;
  data: Float64Array;
  batch: number;
  ticks: number;
  channels: number;
  /** Event-time inputs: the slice's time steps and lengths (SequenceBatch.timesteps, lengths). */
  timesteps?: Float64Array;
  lengths?: Int32Array;
  progress: boolean;
}

export interface BatchOptions {
  /** Worker threads; 0 or undefined: run in this thread. At most one worker per sample is started. */
  workers?: number;
  /**
   * spinnaker2: simulate one model's PEs on this many worker threads, a pipeline over its populations
   * (targets/run/pipeline.ts; every sample through every worker). 0, 1 or undefined: not pipelined.
   */
  pipeline?: number;
  /** --pipeline: what each worker ran (planPipeline's populations, "egru1[0:610]" for part of one). */
  onPipeline?: (populations: string[][]) => void;
  /** Samples done so far (all workers together). */
  onProgress?: (done: number, total: number) => void;
}

/** Worker threads run the engines of nmc's own process; a target whose program runs the whole batch itself refuses them. */
export function checkWorkersApply(engine: Engine): void {
  const t = findTarget(engine);
  if (t && !t.workers) {
    throw new NmcError(`--workers applies to the engines that run in nmc's own process (${engineNames().filter((n) => findTarget(n)?.workers !== false).join(", ")}); the ${engine} engine runs one compiled program over the whole batch`, {
      hint: "drop --workers (on a GPU the program is already parallel), or spread a large input over machines with --shard i/n and nmc merge",
    });
  }
}

const WORKER_URL = new URL("./worker.js", import.meta.url);

/**
 * Runs one worker thread (`url`, given `data`, posting WorkerMessages); resolves with its result. `started`
 * lets the caller terminate it.
 */
export function runWorker<R>(url: URL, data: unknown, transfer: ArrayBuffer[], onProgress: (done: number) => void, started: (w: Worker) => void): Promise<R> {
  const w = new Worker(url, { workerData: data, transferList: transfer, stdout: false, stderr: false });
  w.on("error", () => {}); // after its result, a thread's failure is its own end, not the run's (an unheard "error" would throw here)
  started(w);
  return workerResult<R>(w, onProgress);
}

/**
 * The result worker w posts next (WorkerMessages; progress reported on the way), rejecting on its error message,
 * an uncaught error or its exit. The listeners are removed when it settles, so that a thread kept for further
 * runs (pipeline-pool.ts) serves the next one cleanly.
 */
export function workerResult<R>(w: Worker, onProgress: (done: number) => void): Promise<R> {
  return new Promise((resolve, reject) => {
    const settle = (f: () => void) => {
      w.off("message", onMessage);
      w.off("error", onError);
      w.off("exit", onExit);
      f();
    };
    const onMessage = (m: WorkerMessage<R>) => {
      if (m.type === "progress") onProgress(m.done);
      else if (m.type === "done") settle(() => resolve(m.result));
      else settle(() => {
        if (m.error.nmc) reject(new NmcError(m.error.message, m.error.fields));
        else {
          const e = new Error(`in a worker thread: ${m.error.message}`);
          if (m.error.stack) e.stack = m.error.stack;
          reject(e);
        }
      });
    };
    const onError = (e: unknown) => settle(() => reject(new Error(`a worker thread failed: ${e instanceof Error ? e.message : String(e)}`)));
    const onExit = (code: number) => settle(() => reject(new Error(`a worker thread exited (code ${code}) without a result`)));
    w.on("message", onMessage);
    w.on("error", onError);
    w.on("exit", onExit);
  });
}

/**
 * Runs `job` over `batch`: in this thread when `workers` is 0 or undefined, else split into contiguous sample
 * ranges over min(workers, samples) worker threads, each loading the model from `job.spec.model`. The
 * merged result is identical to the single-thread run's (outputs in sample order, counters summed).
 */
export async function runBatch(job: PreparedJob, batch: SequenceBatch, opts: BatchOptions = {}): Promise<RawResult> {
  const total = batch.batch;
  if ((opts.pipeline ?? 0) > 1) return runPipelined(job, batch, opts.pipeline!, opts);
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
    const sub = sliceBatch(batch, r);
    const input: WorkerInput = {
      spec: job.spec, data: slice, batch: r.end - r.start, ticks: batch.ticks, channels: batch.channels, progress: opts.onProgress !== undefined,
      ...(sub.timesteps ? { timesteps: Float64Array.from(sub.timesteps) } : {}), ...(sub.lengths ? { lengths: Int32Array.from(sub.lengths) } : {}),
    };
    return runWorker<RawResult>(
      WORKER_URL, input, [slice.buffer as ArrayBuffer],
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

/** `--pipeline N`: the spinnaker2 simulator of the job's bundle over N pipeline workers (targets/run/pipeline.ts). */
async function runPipelined(job: PreparedJob, batch: SequenceBatch, n: number, opts: BatchOptions): Promise<RawResult> {
  if (job.engine !== "spinnaker2" || !job.bundle || job.bundle.manifest.target !== "spinnaker2") {
    throw new NmcError("--pipeline shares one model's PEs among worker threads on the spinnaker2 simulator: it takes a bundle compiled with --target spinnaker2, run on its own engine", {
      file: job.spec.model, found: `the ${job.engine} engine`, hint: "split the samples instead with --workers N",
    });
  }
  if ((opts.workers ?? 0) > 0) throw new NmcError("--pipeline and --workers cannot be combined", { hint: "--workers splits the samples, --pipeline splits the model: choose one" });
  const { loadMapping } = await import("../spinnaker2/mapping.js");
  const { simulatePipelined } = await import("./pipeline.js");
  const m = loadMapping(job.bundle, job.graph, job.spec.model);
  const { run, split } = await simulatePipelined(job.graph, m, batch, {
    workers: n, execution: job.spec.options?.mode === "dense" ? "dense" : "event", onProgress: opts.onProgress,
  });
  opts.onPipeline?.(split.populations);
  return { kind: "sim", run };
}
