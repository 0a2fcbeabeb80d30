// A worker thread of pipelined simulations (targets/run/pipeline.ts): for every run message, from the graph and
// mapping it is given (copies of the main thread's) it builds the whole simulator with its part of the pipeline
// plan, runs the samples (only its own populations' PEs) and posts the run; then it waits for the next run (a
// PipelinePool keeps it) or is ended. Failures are posted as messages, as targets/run/worker.ts does.
// The projections' splits over the PE slices and the quantized inputs come with the run (the main thread makes
// them while a new thread starts), so the build does not split them again.
import { parentPort } from "node:worker_threads";
import { NmcError } from "../../ir/errors.js";
import { Simulator } from "../spinnaker2/sim/simulator.js";
import type { WorkerMessage } from "./job.js";
import type { PipelineStart, WorkerTimes } from "./pipeline.js";
import type { SimRun } from "../spinnaker2/sim/results.js";
import { seedSplits } from "../spinnaker2/sim/slices.js";

function post(m: WorkerMessage<{ run: SimRun; times: WorkerTimes }>, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(m, transfer);
}

parentPort!.on("message", (msg: PipelineStart) => buildAndRun(msg));

function buildAndRun({ input, splits, xq }: PipelineStart): void {
  try {
    const t0 = performance.now();
    const g = input.graph, m = input.mapping;
    seedSplits(g, m.partition.slices, splits);
    const sim = new Simulator(g, m.partition, m.placement, m.routing, m.hw, { kernels: input.kernels, dvfs: input.dvfs, pipeline: input.plan });
    const t1 = performance.now();
    const run = sim.run(input.batch, { execution: input.execution, xq: new Int32Array(xq), ...(input.progress ? { onSample: (b: number) => post({ type: "progress", done: b + 1 }) } : {}) });
    const times: WorkerTimes = { sinceStart: performance.timeOrigin + t1 - input.startedAt, build: t1 - t0, run: performance.now() - t1, wait: sim.link!.waitMs };
    post({ type: "done", result: { run, times } }, [run.outputQ.buffer as ArrayBuffer, run.output.buffer as ArrayBuffer]);
  } catch (e) {
    if (e instanceof NmcError) post({ type: "error", error: { nmc: true, message: e.message, fields: e.fields() } });
    else post({ type: "error", error: { nmc: false, message: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined } });
  }
}
