// `nmc run --pipeline N` and the bench's large-model run: one model on the spinnaker2 simulator, its PEs
// shared among N worker threads in contiguous runs (targets/spinnaker2/sim/pipeline.ts says how they exchange
// events and tick figures; planPipeline how they are shared). Every worker gets a copy of the same graph and
// mapping (structured clones: plain data, typed arrays and maps, so no re-encoding or re-verification, and a
// mapping made with storage options a bundle does not record travels too) and runs the same samples; the
// merged run is the one-thread run's, bit for bit (outputs, every counter, the per-tick critical path, DVFS
// counts: test/targets/spinnaker2-pipeline.test.ts). The inputs are quantized once, here, and shared, and the
// projections' splits over the PE slices made here too, both while the threads start, then sent to each worker.
import type { Graph } from "../../ir/types.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import type { KernelChoice } from "../../runtime/wasm/index.js";
import type { Mapping } from "../spinnaker2/mapping.js";
import { quantizeInputs } from "../../runtime/golden/interpreter.js";
import { planPipeline, type PipelinePlan, type PipelineSplit, progressEntries, tickFigures } from "../spinnaker2/sim/pipeline.js";
import type { Execution, SimRun } from "../spinnaker2/sim/results.js";
import { PipelinePool, postRun } from "./pipeline-pool.js";
import { mergePipelined } from "./result.js";
import { splitAll, type SplitHandover } from "../spinnaker2/sim/slices.js";

export interface PipelineOptions {
  /** Worker threads (at most one per PE, or per LayerNorm whose slices exchange partial sums). */
  workers: number;
  kernels?: KernelChoice;
  execution?: Execution;
  dvfs?: boolean;
  /** Population names that start workers 1, 2, … (planPipeline; default: balanced by an estimate of each population's work). */
  cuts?: readonly string[];
  /** Per population (graph order): the work to balance by (e.g. measured milliseconds), instead of planPipeline's estimate. */
  work?: ArrayLike<number>;
  /** Ticks the exchange rings hold (default 16; at least 3). */
  ring?: number;
  /** Samples done (the last worker's count: a sample is done when every worker has run it). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Worker threads kept between runs (pipeline-pool.ts), for a program that simulates many batches: the threads
   * start and load their modules once. Default: threads started for this run and ended after it.
   */
  pool?: PipelinePool;
}

/** What a pipeline worker runs (in PipelineStart). */
export interface PipelineWorkerInput {
  graph: Graph;
  mapping: Mapping;
  /** The batch without its data (its shape, lengths): the workers read the inputs from xq. */
  batch: SequenceBatch;
  kernels?: KernelChoice;
  execution?: Execution;
  dvfs?: boolean;
  plan: PipelinePlan;
  /** Whether the worker posts its progress (the last one does, when the caller wants it). */
  progress: boolean;
  /** performance.timeOrigin + now() when the main thread started the workers (ms). */
  startedAt: number;
}

/** The message that makes a pipeline worker build and run: what it runs, the projections' splits and the quantized inputs. */
export interface PipelineStart {
  type: "run";
  input: PipelineWorkerInput;
  splits: SplitHandover;
  /** The inputs quantized once by the main thread (quantizeInputs), shared by every worker (Int32Array's memory). */
  xq: SharedArrayBuffer;
}

/** Where a worker's wall time went, in milliseconds (beside the run; nothing of it is in the run's figures). */
export interface WorkerTimes {
  /**
   * From the main thread handing the run to the workers to this worker's simulator being built: starting the thread and
   * loading its modules (unless a pool kept it), quantizing the inputs, copying the model in, building.
   */
  sinceStart: number;
  /** Building the simulator (PEs, weight splits, kernels' memory). */
  build: number;
  /** Running the samples, waits included. */
  run: number;
  /** Of run: waiting for the other workers (an earlier worker's tick, or a later one that lags by the ring's depth). */
  wait: number;
}

/**
 * Runs `batch` on the simulator of (g, m) over `opts.workers` pipeline workers; the run as one thread reports
 * it, the split, and where each worker's time went.
 */
export async function simulatePipelined(g: Graph, m: Mapping, batch: SequenceBatch, opts: PipelineOptions): Promise<{ run: SimRun; split: PipelineSplit; times: WorkerTimes[] }> {
  const split = planPipeline(g, m.partition, opts.workers, { cuts: opts.cuts, work: opts.work });
  const W = split.workers, ring = Math.max(3, opts.ring ?? 16);
  const progress = new SharedArrayBuffer(4 * progressEntries(W, g.populations.length));
  const channels: Record<number, SharedArrayBuffer> = {};
  for (const c of split.channels) channels[c.pop] = new SharedArrayBuffer(4 * ring * c.size);
  const figures = Array.from({ length: W - 1 }, () => new SharedArrayBuffer(8 * ring * tickFigures(m.partition.pes)));
  const shape: SequenceBatch = { ...batch, data: new Float64Array(0) };
  const pool = opts.pool ?? new PipelinePool(W);
  const startedAt = performance.timeOrigin + performance.now();
  const threads = pool.take(W);
  let ok = false;
  try {
    // The workers wait for the projections' splits (sim/slices.ts) and the inputs, quantized once (quantizeInputs,
    // into shared memory every worker reads): both made here while new threads start and load their modules (this
    // thread would otherwise idle; the inputs of a long batch take tens of ms). The splits may come from this
    // thread's cache when it simulated the same mapping before: each worker's build then skips the split, the
    // larger part of a cold build.
    const xq = new SharedArrayBuffer(4 * batch.data.length);
    quantizeInputs(g, batch, new Int32Array(xq));
    const splits: SplitHandover = [...splitAll(g, m.partition.slices)].map(([name, split]) => ({ name, split }));
    const done = await Promise.all(threads.map((w, index) => {
      const input: PipelineWorkerInput = {
        graph: g, mapping: m, batch: shape, kernels: opts.kernels, execution: opts.execution, dvfs: opts.dvfs, progress: index === W - 1 && opts.onProgress !== undefined, startedAt,
        plan: { workers: W, index, peOwner: split.peOwner, ring, progress, channels, figures },
      };
      return postRun<{ run: SimRun; times: WorkerTimes }>(w, { type: "run", input, splits, xq } satisfies PipelineStart, (d) => opts.onProgress?.(d, batch.batch));
    }));
    ok = true;
    const runs = done.map((d) => d.run);
    return { run: W === 1 ? runs[0] : mergePipelined(runs), split, times: done.map((d) => d.times) };
  } finally {
    pool.release(ok);
    if (!opts.pool) void pool.close();
  }
}
