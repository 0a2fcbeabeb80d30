// `nmc run --pipeline N` and the bench's large-model run: one model on the spinnaker2 simulator, its PEs
// shared among N worker threads by population (targets/spinnaker2/sim/pipeline.ts says how they exchange
// events and tick figures; planPipeline how they are shared). Every worker decodes the same graph and mapping
// sections and runs the same samples; the merged run is the one-thread run's, bit for bit (outputs, every
// counter, the per-tick critical path, DVFS counts: test/spinnaker2/pipeline.test.ts).
import type { Worker } from "node:worker_threads";
import type { Graph } from "../../ir/types.js";
import { encodeGraph } from "../../ir/codec.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import type { KernelChoice } from "../../runtime/wasm/index.js";
import type { HardwareDescription } from "../spinnaker2/chip.js";
import { type Mapping, mappingSection } from "../spinnaker2/mapping.js";
import { planPipeline, type PipelinePlan, type PipelineSplit, tickFigures } from "../spinnaker2/sim/pipeline.js";
import type { Execution, SimRun } from "../spinnaker2/sim/results.js";
import { runWorker } from "./job.js";
import { mergePipelined } from "./result.js";

export interface PipelineOptions {
  /** Worker threads (at most one per population on PEs). */
  workers: number;
  kernels?: KernelChoice;
  execution?: Execution;
  dvfs?: boolean;
  /** Population names that start workers 1, 2, … (planPipeline; default: balanced by estimated work). */
  cuts?: readonly string[];
  /** Ticks the exchange rings hold (default 16; at least 3). */
  ring?: number;
  /** Samples done (the last worker's count: a sample is done when every worker has run it). */
  onProgress?: (done: number, total: number) => void;
}

/** What a pipeline worker is started with (workerData). */
export interface PipelineWorkerInput {
  graph: Uint8Array;
  mapping: Uint8Array;
  hw: HardwareDescription;
  batch: SequenceBatch;
  kernels?: KernelChoice;
  execution?: Execution;
  dvfs?: boolean;
  plan: PipelinePlan;
  progress: boolean;
}

const PIPELINE_WORKER_URL = new URL("./pipeline-worker.js", import.meta.url);

/** Runs `batch` on the simulator of (g, m) over `opts.workers` pipeline workers; the run as one thread reports it, and the split. */
export async function simulatePipelined(g: Graph, m: Mapping, batch: SequenceBatch, opts: PipelineOptions): Promise<{ run: SimRun; split: PipelineSplit }> {
  const split = planPipeline(g, m.partition, opts.workers, opts.cuts);
  const W = split.workers, ring = Math.max(3, opts.ring ?? 16);
  const P = m.partition.pes;
  const progress = new SharedArrayBuffer(4 * W);
  const channels: Record<number, SharedArrayBuffer> = {};
  for (const c of split.channels) channels[c.pop] = new SharedArrayBuffer(4 * ring * c.size);
  const figures = Array.from({ length: W - 1 }, () => new SharedArrayBuffer(8 * ring * tickFigures(P)));
  const graph = encodeGraph(g), mapping = mappingSection(m).data;
  const started: Worker[] = [];
  const promises = Array.from({ length: W }, (_, index) => {
    const input: PipelineWorkerInput = {
      graph, mapping, hw: m.hw, batch, kernels: opts.kernels, execution: opts.execution, dvfs: opts.dvfs,
      plan: { workers: W, index, owner: split.owner, ring, progress, channels, figures }, progress: index === W - 1 && opts.onProgress !== undefined,
    };
    return runWorker<SimRun>(PIPELINE_WORKER_URL, input, [], (d) => opts.onProgress?.(d, batch.batch), (w) => started.push(w));
  });
  try {
    const runs = await Promise.all(promises);
    return { run: W === 1 ? runs[0] : mergePipelined(runs), split };
  } catch (e) {
    await Promise.allSettled(started.map((w) => w.terminate()));
    throw e;
  }
}
