// Seed inputs for the IR, bundle and hardware fuzzers: a few small float graphs (test/support/graphs.ts) and
// their quantized versions (compiler/pipeline.ts compileQuantized on a tiny synthetic calibration set), and
// the checks every fuzzer applies to a graph that was accepted: it verifies, and it runs on the golden
// engine (quantized) or the float engine (float) raising nothing but NmcError.
import { compileQuantized, syntheticCalibration } from "../../compiler/pipeline.js";
import type { Graph } from "../../ir/types.js";
import { verifyGraph } from "../../ir/verify.js";
import { runFloat } from "../../runtime/float/interpreter.js";
import { batchFromShape } from "../../runtime/batch.js";
import { runGolden } from "../../runtime/golden/interpreter.js";
import { FuzzBug, attemptClean } from "./fuzz.js";
import { buildGraph, type GraphShape } from "./graphs.js";

const SHAPES: GraphShape[] = [
  { seed: 11, inputs: 2, egru: 3, state: 2, dense: 2, pruneFraction: 0.3, readout: "none" },
  { seed: 12, inputs: 3, egru: 2, state: 1, dense: 3, pruneFraction: 0, readout: "mean" },
  { seed: 13, inputs: 1, egru: 4, state: 3, dense: 1, pruneFraction: 0.8, readout: "last" },
  { seed: 14, inputs: 2, egru: 2, state: 2, dense: 2, pruneFraction: 0.3, readout: "sum" },
  { seed: 15, inputs: 2, egru: 3, state: 2, dense: 2, pruneFraction: 0.3, readout: "mean", gate: true },
];

export interface SeedGraphs {
  float: Graph[];
  quantized: Graph[];
}

let cache: SeedGraphs | undefined;

/** The seed graphs (built once per test file). */
export function seedGraphs(): SeedGraphs {
  if (cache) return cache;
  const float = SHAPES.map(buildGraph);
  const quantized = float.map((g) => compileQuantized(g, { calibration: syntheticCalibration(g, 4, 6) }).quantized);
  cache = { float, quantized };
  return cache;
}

/** A tiny batch for `g`: 2 sequences × 3 ticks, deterministic values (token ids for token inputs). */
function tinyBatch(g: Graph) {
  const input = g.populations.find((p) => p.name === g.inputs[0]);
  const C = input?.size ?? 1;
  if (input?.kind === "Input" && input.encoding === "tokens") {
    return batchFromShape(g, Float64Array.from({ length: 6 }, (_, i) => i % Math.max(1, C)), [2, 3]);
  }
  // A mutated graph may claim a huge input; the engines must refuse it cleanly, not allocate it here.
  const c = Math.min(C, 64);
  return batchFromShape(g, Float64Array.from({ length: 6 * c }, (_, i) => Math.sin(i + 1) * 0.9), [2, 3, c]);
}

/**
 * The graph was accepted by a decoder: it must verify, and running it must give an output of the size its
 * output population says, or an NmcError; never another exception or a hang.
 */
export function checkAcceptedGraph(g: Graph, what: string): void {
  const problems = verifyGraph(g);
  if (problems.length) throw new FuzzBug(`${what} accepted a graph that verifyGraph rejects: ${problems.map((p) => `${p.node}: ${p.message}`).join("; ")}`);
  const run = attemptClean(`${what}: running the decoded graph`, () => {
    const batch = tinyBatch(g);
    if (g.quant) {
      const r = runGolden(g, batch);
      return { n: r.outputQ.length, shape: r.outputShape, finite: r.output.every(Number.isFinite) };
    }
    const r = runFloat(g, batch);
    return { n: r.output.length, shape: r.outputShape, finite: true };
  });
  if (run.ok) {
    const n = run.value.shape.reduce((a, b) => a * b, 1);
    if (n !== run.value.n) throw new FuzzBug(`${what}: output of ${run.value.n} values for shape [${run.value.shape}]`);
    if (!run.value.finite) throw new FuzzBug(`${what}: golden output has non-finite values`);
  }
}
