import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { csrToDense } from "../../ir/builder.js";
import { runPass } from "../../compiler/passes/pass.js";
import { prunePass } from "../../compiler/passes/prune.js";
import { buildGraph, graphShapeArb } from "../support/graphs.js";

describe("prune pass", () => {
  it("reaches the target per projection, keeps the largest magnitudes, and leaves the graph valid", () => {
    fc.assert(fc.property(graphShapeArb, fc.constantFrom(0, 0.5, 0.8, 0.95), (shape, s) => {
      const g = buildGraph(shape);
      const { graph, report } = runPass(prunePass, g, { sparsity: s });
      for (const p of graph.projections) {
        const before = g.projections.find((q) => q.name === p.name)!;
        const total = p.rows * p.cols;
        expect(report.achieved[p.name]).toBeGreaterThanOrEqual(s - 1e-12);
        // no more zeros than needed (beyond those already there)
        const zeros0 = total - before.weights.colIdx.length;
        expect(total - p.weights.colIdx.length).toBe(Math.max(zeros0, Math.ceil(s * total)));
        // every kept weight is at least as large as every dropped one
        const a = csrToDense(before.weights, p.rows, p.cols), b = csrToDense(p.weights, p.rows, p.cols);
        let minKept = Infinity, maxDropped = 0;
        a.forEach((v, i) => {
          if (v === 0) return;
          if (b[i] === 0) maxDropped = Math.max(maxDropped, Math.abs(v));
          else {
            expect(b[i]).toBe(v);
            minKept = Math.min(minKept, Math.abs(v));
          }
        });
        expect(maxDropped).toBeLessThanOrEqual(minKept);
      }
    }), { numRuns: 60 });
  });

  it("global scope uses one threshold over all projections", () => {
    const g = buildGraph({ seed: 4, inputs: 4, egru: 6, state: 3, dense: 3, pruneFraction: 0, readout: "none" });
    const { graph, report } = runPass(prunePass, g, { sparsity: 0.7, scope: "global" });
    expect(report.overall).toBeGreaterThanOrEqual(0.7);
    expect(report.overall).toBeLessThan(0.7 + 1 / 100);
    let maxDropped = 0, minKept = Infinity;
    graph.projections.forEach((p, j) => {
      const a = csrToDense(g.projections[j].weights, p.rows, p.cols), b = csrToDense(p.weights, p.rows, p.cols);
      a.forEach((v, i) => {
        if (v === 0) return;
        if (b[i] === 0) maxDropped = Math.max(maxDropped, Math.abs(v));
        else minKept = Math.min(minKept, Math.abs(v));
      });
    });
    expect(maxDropped).toBeLessThanOrEqual(minKept);
  });

  it("refuses a sparsity outside [0, 1)", () => {
    const g = buildGraph({ seed: 1, inputs: 2, egru: 2, state: 1, dense: 1, pruneFraction: 0, readout: "none" });
    expect(() => prunePass.run(g, { sparsity: 1 })).toThrow(/weight sparsity must be in \[0, 1\)/);
  });
});
