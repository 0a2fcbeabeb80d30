// Running a model through the generated CUDA program: emit, build (cached), write params.bin and the input
// .npy into a temporary directory, run the executable, read output.npy / events.npy / counters.json back.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import type { RunCounters } from "../../runtime/counters.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import { fromFixed } from "../../runtime/fixed/index.js";
import { quantizeInputs, quantizeTime } from "../../runtime/golden/interpreter.js";
import { encodeNpy, readNpy } from "../../runtime/io/npy.js";
import { buildCuda, compilerAvailable, type CudaBuildMode, gpuAvailable } from "./build.js";
import { emitCuda } from "./emit.js";
import { type CudaPrecision, packParams } from "./params.js";
import { cudaTimed } from "./plan.js";

export type CudaRunMode = "auto" | "gpu" | "emulation";

export interface CudaRunOptions {
  precision: CudaPrecision;
  /** auto (default): the GPU build when nvidia-smi lists a GPU and nvcc exists, else (or on exit 3) emulation. */
  mode?: CudaRunMode;
  /** Record every population's output every tick (int precision only; default true). */
  events?: boolean;
  /** Sequences run side by side (1 to 4096; default: the program's choice, up to 4096). */
  chunk?: number;
  /** Reuse an already emitted source for this graph and precision. */
  source?: string;
}

export interface CudaRun {
  /** Real-valued output: [B, T, K], or [B, K] for a Readout output (int: outputQ / 2^outFrac). */
  output: Float64Array;
  /** int precision: the output integers (GoldenRun.outputQ). */
  outputQ?: Int32Array;
  outputShape: number[];
  /** int precision: fractional bits of outputQ. */
  outFrac?: number;
  /** int precision: every population's output every tick, [B, T, total units] in graph order. */
  events?: Int32Array;
  eventsShape?: number[];
  counters: RunCounters;
  /** The program's own line saying where it ran (GPU name, or host emulation). */
  ranOn: string;
  /** The build that ran. */
  mode: CudaBuildMode;
  /** Set when auto mode tried the GPU build and fell back to emulation: why. */
  fallback?: string;
  compiler: string;
  cached: boolean;
}

interface Exec {
  status: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

function execute(exe: string, args: string[]): Exec {
  const r = spawnSync(exe, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new NmcError(`cannot run the CUDA program: ${r.error.message}`, { file: exe });
  return { status: r.status, signal: r.signal, stdout: `${r.stdout ?? ""}`, stderr: `${r.stderr ?? ""}` };
}

/**
 * The input file of a timed program (plan.ts CudaPlan.time): per tick the quantized inputs, then Δt in quanta
 * (runtime/golden quantizeTime, exactly as the golden engine quantizes it; 0 without event time), then the
 * sequence's length (SequenceBatch.lengths, else T). Token ids stay ids (negative ones wrap in the program).
 */
function timedInput(graph: Graph, batch: SequenceBatch): { dtype: "i4"; shape: number[]; data: Int32Array } {
  const { batch: B, ticks: T, channels: C } = batch;
  const xq = quantizeInputs(graph, batch);
  const time = quantizeTime(graph, batch);
  const S = C + 2;
  const data = new Int32Array(B * T * S);
  for (let b = 0; b < B; b++) {
    const length = batch.lengths ? batch.lengths[b] : T;
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      data.set(xq.subarray(i * C, (i + 1) * C), i * S);
      data[i * S + C] = time ? time.dtq[i] : 0;
      data[i * S + C + 1] = length;
    }
  }
  return { dtype: "i4", shape: [B, T, S], data };
}

/**
 * The float variant's timed input: per tick the inputs as given, then Δt in ms (SequenceBatch.timesteps, as the float
 * engine reads them; 0 without event time), then the sequence's length (SequenceBatch.lengths, else T).
 */
function timedFloatInput(batch: SequenceBatch): { dtype: "f8"; shape: number[]; data: Float64Array } {
  const { batch: B, ticks: T, channels: C } = batch;
  const S = C + 2;
  const data = new Float64Array(B * T * S);
  for (let b = 0; b < B; b++) {
    const length = batch.lengths ? batch.lengths[b] : T;
    for (let t = 0; t < T; t++) {
      const i = b * T + t;
      for (let c = 0; c < C; c++) data[i * S + c] = batch.data[i * C + c];
      data[i * S + C] = batch.timesteps ? batch.timesteps[i] : 0;
      data[i * S + C + 1] = length;
    }
  }
  return { dtype: "f8", shape: [B, T, S], data };
}

/** Runs `graph` on `batch` through the generated CUDA program (see CudaRunOptions for the build chosen). */
export function runCuda(graph: Graph, batch: SequenceBatch, opts: CudaRunOptions): CudaRun {
  const { precision } = opts;
  const mode = opts.mode ?? "auto";
  const withEvents = precision === "int" && (opts.events ?? true);
  const source = opts.source ?? emitCuda(graph, { precision });
  const params = packParams(graph, precision);
  const { batch: B, ticks: T, channels: C } = batch;
  if (batch.data.length !== B * T * C) {
    throw new NmcError("input batch has the wrong number of values", { expected: `${B} × ${T} × ${C} = ${B * T * C}`, found: String(batch.data.length) });
  }
  const input = precision === "int"
    ? (cudaTimed(graph) ? timedInput(graph, batch) : { dtype: "i4" as const, shape: [B, T, C], data: quantizeInputs(graph, batch) })
    : (cudaTimed(graph) ? timedFloatInput(batch) : { dtype: "f8" as const, shape: [B, T, C], data: Float64Array.from(batch.data) });

  if (opts.chunk !== undefined && !(Number.isInteger(opts.chunk) && opts.chunk >= 1 && opts.chunk <= 4096)) {
    throw new NmcError("the CUDA chunk size must be an integer from 1 to 4096", { found: String(opts.chunk) });
  }
  const dir = mkdtempSync(join(tmpdir(), "nmc-cuda-"));
  try {
    const paramsPath = join(dir, "params.bin");
    const inputPath = join(dir, "input.npy");
    writeFileSync(paramsPath, params);
    writeFileSync(inputPath, encodeNpy(input));
    const args = [paramsPath, inputPath, dir, ...(withEvents ? [] : ["--no-events"]), ...(opts.chunk !== undefined ? ["--chunk", String(opts.chunk)] : [])];

    let fallback: string | undefined;
    let build;
    let used: CudaBuildMode;
    let r: Exec | undefined;
    const wantGpu = mode === "gpu" || (mode === "auto" && gpuAvailable() && compilerAvailable("gpu"));
    if (wantGpu) {
      build = buildCuda(source, "gpu");
      used = "gpu";
      r = execute(build.exe, args);
      if (r.status === 3 && mode === "auto") {
        fallback = `the GPU build found no usable CUDA device (${r.stderr.trim()}); ran the emulation build instead`;
        r = undefined;
      } else if (r.status === 3) {
        throw new NmcError(`the CUDA program found no usable GPU: ${r.stderr.trim()}`, { hint: "use --mode emulation (or auto)" });
      }
    }
    if (!r) {
      build = buildCuda(source, "emulation");
      used = "emulation";
      r = execute(build.exe, args);
    }
    if (r.status !== 0) {
      const how = r.status === null ? `was killed by ${r.signal}` : `failed with exit status ${r.status}`;
      throw new NmcError(`the CUDA program ${how}: ${r.stderr.trim() || r.stdout.trim()}`, { file: build!.exe });
    }
    const ranOn = r.stdout.split("\n").find((l) => l.startsWith("nmc-cuda: running"))?.replace(/^nmc-cuda: /, "") ?? "unknown";

    const out = readNpy(join(dir, "output.npy"));
    const counters = JSON.parse(readFileSync(join(dir, "counters.json"), "utf8")) as RunCounters;
    const res: CudaRun = {
      output: new Float64Array(0), outputShape: out.shape, counters, ranOn, mode: used!, compiler: build!.compiler, cached: build!.cached,
      ...(fallback ? { fallback } : {}),
    };
    if (precision === "int") {
      const q = out.data as Int32Array;
      const outPop = graph.populations.find((p) => p.name === graph.outputs[0])!;
      const outFrac = outPop.fixed?.outFrac ?? 0;
      res.outputQ = q;
      res.outFrac = outFrac;
      res.output = Float64Array.from(q, (v) => fromFixed(v, outFrac));
      if (withEvents) {
        const ev = readNpy(join(dir, "events.npy"));
        res.events = ev.data as Int32Array;
        res.eventsShape = ev.shape;
      }
    } else {
      res.output = out.data as Float64Array;
    }
    return res;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
