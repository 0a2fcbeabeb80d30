// The worker threads of pipelined simulations (targets/run/pipeline.ts), kept between runs when the caller holds
// a PipelinePool: a program that simulates many batches (a sweep, a benchmark, a server) then starts the threads
// and loads the simulator's modules into them once, as its own thread did, instead of before every run. Each run
// still sends its graph, mapping and plan and builds its simulator anew in every worker: nothing of one run's
// state survives into the next, so a pooled run is the one-shot run, bit for bit (test/targets/spinnaker2-pipeline.test.ts).
// Idle threads do not keep the process alive (they are unref'd between runs); close() ends them. A run that fails
// ends the pool's threads (a worker may be blocked waiting for a peer that died); the next run starts new ones.
import { Worker } from "node:worker_threads";
import { NmcError } from "../../ir/errors.js";
import { workerResult } from "./job.js";

const PIPELINE_WORKER_URL = new URL("./pipeline-worker.js", import.meta.url);

export class PipelinePool {
  private threads: Worker[] = [];
  private running = false;
  private closed = false;

  /** A pool of up to `size` worker threads, started at the first run that needs them. */
  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new NmcError("a pipeline pool needs a whole number of worker threads, at least 1", { found: String(size) });
  }

  /**
   * The first n threads for a run (started now where the pool has fewer), kept referenced until the run ends.
   * One run at a time: the threads of a pipeline wait on each other.
   */
  take(n: number): Worker[] {
    if (this.closed) throw new NmcError("this pipeline pool was closed");
    if (this.running) throw new NmcError("this pipeline pool is running another simulation (one at a time; make a pool per concurrent run)");
    if (n > this.size) throw new NmcError(`a pipelined run of ${n} workers on a pool of ${this.size} threads`);
    while (this.threads.length < n) {
      const w = new Worker(PIPELINE_WORKER_URL, { stdout: false, stderr: false });
      // Between runs nobody waits on it: a failure (an unheard "error" would throw here) or an exit drops it
      // from the pool, and the next run starts a new one (during a run, workerResult reports both).
      w.on("error", () => {});
      w.once("exit", () => (this.threads = this.threads.filter((x) => x !== w)));
      this.threads.push(w);
    }
    this.running = true;
    const ws = this.threads.slice(0, n);
    for (const w of ws) w.ref();
    return ws;
  }

  /** The run on the threads `take` gave is over: idle threads no longer keep the process alive. */
  release(ok: boolean): void {
    this.running = false;
    if (!ok) {
      // A worker may be blocked waiting for a peer that failed: end them all; the next run starts fresh ones.
      const ws = this.threads;
      this.threads = [];
      void Promise.allSettled(ws.map((w) => w.terminate()));
      return;
    }
    for (const w of this.threads) w.unref();
  }

  /** Ends the threads (the pool refuses further runs). */
  async close(): Promise<void> {
    this.closed = true;
    const ws = this.threads;
    this.threads = [];
    await Promise.allSettled(ws.map((w) => w.terminate()));
  }
}

/** Posts `message` to worker w (a run) and resolves with the result it posts back (job.ts workerResult). */
export function postRun<R>(w: Worker, message: unknown, onProgress: (done: number) => void): Promise<R> {
  const result = workerResult<R>(w, onProgress);
  w.postMessage(message);
  return result;
}
