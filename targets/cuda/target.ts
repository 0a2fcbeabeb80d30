// The cuda target: generated CUDA C++ (targets/cuda/emit.ts) stored in the bundle, int (bit-exact with
// the golden engine) and float (the float reference); run on the GPU when there is one, else in host
// emulation of the same source. It also serves as a reference for bundles of any target (`nmc verify
// --against cuda`), emitting the source from the bundle's IR when the bundle carries none.
import type { Bundle } from "../../ir/bundle.js";
import { NmcError } from "../../ir/errors.js";
import { graphTiming } from "../../ir/timing.js";
import type { Graph } from "../../ir/types.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import type { CountersResult } from "../run/result.js";
import type { LoadedBundle, Observer, Runner, Target } from "../target.js";
import { emitCuda } from "./emit.js";
import type { CudaPrecision } from "./params.js";
import { compilerAvailable } from "./build.js";
import { type CudaRun, type CudaRunMode, runCuda } from "./run.js";

/** The CUDA sources a cuda bundle carries. */
export const CUDA_SOURCE_SECTION = "cuda.source";
export const CUDA_FLOAT_SOURCE_SECTION = "cuda.source.float";

export function bundleCudaSource(b: Bundle | undefined, precision: CudaPrecision): string | undefined {
  const s = b?.sections.get(precision === "int" ? CUDA_SOURCE_SECTION : CUDA_FLOAT_SOURCE_SECTION);
  return s ? new TextDecoder().decode(s.data) : undefined;
}

/**
 * Replays a CUDA run's recorded per-tick outputs ([B, T, Σ sizes]) through an observer: each population at the
 * ticks it emits (every tick, but once every outRate in a multi-rate graph, as the golden engine observes it).
 */
function replayEvents(g: Graph, r: CudaRun, observer: Observer, B: number, T: number): void {
  if (!r.events) throw new NmcError("the CUDA program did not record per-tick outputs");
  const total = g.populations.reduce((a, p) => a + p.size, 0);
  const timing = graphTiming(g).byName;
  const outRate = g.populations.map((p) => timing.get(p.name)?.outRate ?? 1);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      let off = (b * T + t) * total;
      g.populations.forEach((p, pi) => {
        if ((t + 1) % outRate[pi] === 0) observer(pi, r.events!.subarray(off, off + p.size), b, t);
        off += p.size;
      });
    }
  }
}

/** The int program as a runner (verify): `source` is the bundle's, or undefined to emit it from `g`. */
export function cudaRunner(g: Graph, source: string | undefined, mode: CudaRunMode = "auto"): Runner & { last?: CudaRun } {
  const runner: Runner & { last?: CudaRun } = {
    name: "CUDA reference",
    run(batch, observer) {
      const r = runCuda(g, batch, { precision: "int", mode, source, events: observer !== undefined });
      runner.last = r;
      runner.name = `CUDA reference (${r.mode === "gpu" ? r.ranOn : "host emulation of the same source"}, ${r.compiler})`;
      if (observer) replayEvents(g, r, observer, batch.batch, batch.ticks);
      return { outputQ: r.outputQ!, output: r.output, outputShape: r.outputShape };
    },
  };
  return runner;
}

function cudaLoaded(g: Graph, bundle: Bundle | undefined, precision: string | undefined): LoadedBundle {
  const p: CudaPrecision = precision === "float" ? "float" : "int";
  return {
    runner: cudaRunner(g, bundleCudaSource(bundle, "int")),
    execute(batch: SequenceBatch, opts): CountersResult {
      const r = runCuda(g, batch, { precision: p, source: bundleCudaSource(bundle, p), events: false });
      opts.onProgress?.(batch.batch);
      return {
        kind: "counters", engine: "cuda", output: r.output, ...(r.outputQ ? { outputQ: r.outputQ } : {}), ...(r.outFrac !== undefined ? { outFrac: r.outFrac } : {}),
        outputShape: r.outputShape, counters: r.counters,
        backend: `generated CUDA C++ (${r.mode === "gpu" ? `GPU: ${r.ranOn}` : "host emulation of the same source"}; ${r.compiler}${r.cached ? ", cached build" : ""})`,
        ...(r.fallback ? { fallback: r.fallback } : {}),
      };
    },
  };
}

const encode = (s: string) => new TextEncoder().encode(s);

export const CUDA: Target = {
  name: "cuda",
  displayName: "CUDA",
  description: "cuda: generated CUDA C++ (GPU, or host emulation of the same source)",
  progressVerb: "running",
  compileOptions: [],
  runOptions: [],
  workers: false,
  precisions: ["int", "float"],
  runsFloatIr: (p) => p === "float",
  unavailable: () => (compilerAvailable("emulation") ? null : "neither g++ nor nvcc is installed"),
  lower: ({ quantized, float }) => ({
    sections: [
      { name: CUDA_SOURCE_SECTION, kind: "text/x-cuda; nmc int (bit-exact with golden)", data: encode(emitCuda(quantized, { precision: "int" })) },
      { name: CUDA_FLOAT_SOURCE_SECTION, kind: "text/x-cuda; nmc float reference", data: encode(emitCuda(float, { precision: "float" })) },
    ],
  }),
  load: (b, g, _file, opts) => cudaLoaded(g, b, opts?.precision),
  reference: (g, b, opts) => cudaLoaded(g, b, opts?.precision),
};
