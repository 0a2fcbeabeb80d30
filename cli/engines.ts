// The engines a bundle can be run or verified on, behind one interface: the bundle's own target
// (spinnaker2 simulator, cuda program, or the golden engine itself) and the references (golden, cuda).
import { type Bundle } from "../ir/bundle.js";
import { NmcError } from "../ir/errors.js";
import type { Graph } from "../ir/types.js";
import type { SequenceBatch } from "../runtime/batch.js";
import { GoldenEngine } from "../runtime/golden/interpreter.js";
import { runCuda, type CudaRun, type CudaRunMode } from "../targets/cuda/index.js";
import { Simulator } from "../targets/spinnaker2/sim/simulator.js";
import { bundleMapping } from "./spinnaker2.js";

/** Every population's integer output at one tick (the golden engine's and the simulator's observer shape). */
export type Observer = (popIndex: number, out: Int32Array, sample: number, tick: number) => void;

export interface IntRunner {
  name: string;
  run(batch: SequenceBatch, observer?: Observer): { outputQ: Int32Array; output: Float64Array; outputShape: number[] };
}

/** The CUDA source a bundle carries (int or float variant), or undefined for bundles of other targets. */
export const CUDA_SOURCE_SECTION = "cuda.source";
export const CUDA_FLOAT_SOURCE_SECTION = "cuda.source.float";

export function bundleCudaSource(b: Bundle, precision: "int" | "float"): string | undefined {
  const s = b.sections.get(precision === "int" ? CUDA_SOURCE_SECTION : CUDA_FLOAT_SOURCE_SECTION);
  return s ? new TextDecoder().decode(s.data) : undefined;
}

/** Replays a CUDA run's recorded per-tick outputs ([B, T, Σ sizes]) through an observer. */
function replayEvents(g: Graph, r: CudaRun, observer: Observer, B: number, T: number): void {
  if (!r.events) throw new NmcError("the CUDA program did not record per-tick outputs");
  const total = g.populations.reduce((a, p) => a + p.size, 0);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      let off = (b * T + t) * total;
      g.populations.forEach((p, pi) => {
        observer(pi, r.events!.subarray(off, off + p.size), b, t);
        off += p.size;
      });
    }
  }
}

export function cudaRunner(g: Graph, source: string | undefined, mode: CudaRunMode = "auto"): IntRunner & { last?: CudaRun } {
  const runner: IntRunner & { last?: CudaRun } = {
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

export function goldenRunner(g: Graph): IntRunner {
  return { name: "golden engine", run: (batch, observer) => new GoldenEngine(g, { observer }).run(batch) };
}

/** The engine of the bundle's own target. */
export function targetRunner(file: string, g: Graph, b: Bundle): IntRunner {
  const target = b.manifest.target;
  if (target === "spinnaker2") {
    const m = bundleMapping(b, g, file);
    const sim = new Simulator(g, m.partition, m.placement, m.routing, m.hw);
    return { name: `spinnaker2 simulator (${m.partition.pes} PEs)`, run: (batch, observer) => sim.run(batch, { observer }) };
  }
  if (target === "cuda") return cudaRunner(g, bundleCudaSource(b, "int"));
  if (target === "golden") return goldenRunner(g);
  throw new NmcError(`this nmc cannot run target ${target}`, { file, expected: "spinnaker2 | cuda | golden" });
}
