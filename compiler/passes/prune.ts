// Magnitude pruning: zero the smallest-magnitude weights until a projection (or the whole graph) reaches
// the target weight sparsity, and store the result sparsely. No fine-tuning: the accuracy cost is measured
// afterwards, not hidden. Ties are broken by storage order, so the result is deterministic.
import { NmcError } from "../../ir/errors.js";
import { tensor } from "../../ir/builder.js";
import type { CsrWeights, Graph, Projection, TensorData } from "../../ir/types.js";
import { typedArrayFor } from "../../ir/types.js";
import type { Pass } from "./pass.js";

export interface PruneOptions {
  /** Fraction of zero weights to reach, in [0, 1). Existing zeros count. */
  sparsity: number;
  /** `projection`: each projection reaches the target; `global`: one magnitude threshold over all. */
  scope?: "projection" | "global";
  /** Only projections whose name passes this test are pruned (default: all). */
  include?: (p: Projection) => boolean;
}

export interface PruneReport {
  target: number;
  scope: "projection" | "global";
  /** Per projection: zero weights ÷ all weights after pruning. */
  achieved: Record<string, number>;
  /** Over all pruned projections. */
  overall: number;
}

/** Keeps the stored entries whose `keep` flag is set, as a new CSR. */
function filterCsr(w: CsrWeights, rows: number, keep: Uint8Array): CsrWeights {
  let n = 0;
  for (let k = 0; k < keep.length; k++) n += keep[k];
  const rowPtr = new Uint32Array(rows + 1);
  const colIdx = new Uint32Array(n);
  const values = typedArrayFor(w.values.dtype, n) as TensorData;
  let o = 0;
  for (let r = 0; r < rows; r++) {
    for (let k = w.rowPtr[r]; k < w.rowPtr[r + 1]; k++) {
      if (!keep[k]) continue;
      colIdx[o] = w.colIdx[k];
      values[o] = w.values.data[k];
      o++;
    }
    rowPtr[r + 1] = o;
  }
  return { rowPtr, colIdx, values: { ...tensor(values), quant: w.values.quant } };
}

/** Indices of stored entries sorted by |value| ascending, ties by position. */
function byMagnitude(values: ArrayLike<number>, offset = 0): { mag: number; at: number }[] {
  return Array.from({ length: values.length }, (_, k) => ({ mag: Math.abs(values[k]), at: offset + k }));
}

export const prunePass: Pass<PruneOptions, PruneReport> = {
  name: "prune",
  run(graph: Graph, opts: PruneOptions): { graph: Graph; report: PruneReport } {
    const s = opts.sparsity;
    if (!(s >= 0 && s < 1)) throw new NmcError("weight sparsity must be in [0, 1)", { expected: "0 ≤ S < 1", found: String(s) });
    const scope = opts.scope ?? "projection";
    const chosen = graph.projections.filter((p) => (opts.include ?? (() => true))(p));
    const keep = new Map(chosen.map((p) => [p.name, new Uint8Array(p.weights.colIdx.length).fill(1)]));
    const drop = (entries: { mag: number; at: number }[], count: number, owner: (at: number) => [string, number]) => {
      entries.sort((a, b) => a.mag - b.mag || a.at - b.at);
      for (let i = 0; i < count && i < entries.length; i++) {
        const [name, k] = owner(entries[i].at);
        keep.get(name)![k] = 0;
      }
    };
    if (scope === "projection") {
      for (const p of chosen) {
        const total = p.rows * p.cols;
        const zeros = total - p.weights.colIdx.length;
        const need = Math.max(0, Math.ceil(s * total) - zeros);
        drop(byMagnitude(p.weights.values.data), need, (at) => [p.name, at]);
      }
    } else {
      const starts: number[] = [];
      let total = 0, zeros = 0, offset = 0;
      const entries: { mag: number; at: number }[] = [];
      for (const p of chosen) {
        starts.push(offset);
        total += p.rows * p.cols;
        zeros += p.rows * p.cols - p.weights.colIdx.length;
        entries.push(...byMagnitude(p.weights.values.data, offset));
        offset += p.weights.colIdx.length;
      }
      const owner = (at: number): [string, number] => {
        let i = starts.length - 1;
        while (starts[i] > at) i--;
        return [chosen[i].name, at - starts[i]];
      };
      drop(entries, Math.max(0, Math.ceil(s * total) - zeros), owner);
    }
    const achieved: Record<string, number> = {};
    let z = 0, all = 0;
    const projections = graph.projections.map((p) => {
      const k = keep.get(p.name);
      if (!k) return p;
      const weights = filterCsr(p.weights, p.rows, k);
      achieved[p.name] = 1 - weights.colIdx.length / (p.rows * p.cols);
      z += p.rows * p.cols - weights.colIdx.length;
      all += p.rows * p.cols;
      return { ...p, weights };
    });
    return { graph: { ...graph, projections }, report: { target: s, scope, achieved, overall: all ? z / all : 0 } };
  },
};
