// A worker thread of a pipelined simulation (targets/run/pipeline.ts): decodes the graph and mapping it was
// given, builds the whole simulator with its part of the pipeline plan, runs the samples (only its own
// populations' PEs), and posts the run. Failures are posted as messages, as targets/run/worker.ts does.
import { parentPort, workerData } from "node:worker_threads";
import { NmcError } from "../../ir/errors.js";
import { decodeGraph } from "../../ir/codec.js";
import { mappingFromSection } from "../spinnaker2/mapping.js";
import { Simulator } from "../spinnaker2/sim/simulator.js";
import type { WorkerMessage } from "./job.js";
import type { PipelineWorkerInput } from "./pipeline.js";
import type { SimRun } from "../spinnaker2/sim/results.js";

function post(m: WorkerMessage<SimRun>, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(m, transfer);
}

const input = workerData as PipelineWorkerInput;
try {
  const g = decodeGraph(input.graph);
  const m = mappingFromSection(g, input.hw, input.mapping);
  const sim = new Simulator(g, m.partition, m.placement, m.routing, m.hw, { kernels: input.kernels, dvfs: input.dvfs, pipeline: input.plan });
  const run = sim.run(input.batch, { execution: input.execution, ...(input.progress ? { onSample: (b: number) => post({ type: "progress", done: b + 1 }) } : {}) });
  post({ type: "done", result: run }, [run.outputQ.buffer as ArrayBuffer, run.output.buffer as ArrayBuffer]);
} catch (e) {
  if (e instanceof NmcError) post({ type: "error", error: { nmc: true, message: e.message, fields: e.fields() } });
  else post({ type: "error", error: { nmc: false, message: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined } });
}
