// A worker thread of `nmc run --workers N`: loads the model from the job's file path, runs its slice of the
// samples, posts progress (samples done) and then the raw result, whose typed arrays are transferred.
// Failures are posted as messages (an NmcError with its fields, anything else as an internal error), so the
// main thread reports them the way it reports its own.
import { parentPort, workerData } from "node:worker_threads";
import { NmcError } from "../../ir/errors.js";
import { prepareJob, type WorkerInput, type WorkerMessage } from "./job.js";
import { transferables } from "./result.js";

function post(m: WorkerMessage, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(m, transfer);
}

const input = workerData as WorkerInput;
try {
  // Test hook (test/cli/batch.test.ts): a failure inside the worker, to check how the main thread reports it.
  const fault = process.env.NMC_TEST_WORKER_FAULT;
  if (fault === "nmc") throw new NmcError("injected worker failure (NMC_TEST_WORKER_FAULT=nmc)", { file: input.spec.model, hint: "unset NMC_TEST_WORKER_FAULT" });
  if (fault === "internal") throw new TypeError("injected internal failure (NMC_TEST_WORKER_FAULT=internal)");
  // Model warnings were printed once by the main thread, which loaded the same file.
  const job = await prepareJob(input.spec, () => undefined);
  const result = job.run(
    {
      data: input.data, batch: input.batch, ticks: input.ticks, channels: input.channels,
      ...(input.timesteps ? { timesteps: input.timesteps } : {}), ...(input.lengths ? { lengths: input.lengths } : {}),
    },
    input.progress ? (done) => post({ type: "progress", done }) : undefined,
  );
  post({ type: "done", result }, transferables(result));
} catch (e) {
  if (e instanceof NmcError) post({ type: "error", error: { nmc: true, message: e.message, fields: e.fields() } });
  else post({ type: "error", error: { nmc: false, message: e instanceof Error ? e.message : String(e), stack: e instanceof Error ? e.stack : undefined } });
}
