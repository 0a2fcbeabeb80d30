// The lutBits option of the quantize pass (nmc compile --lut-bits k): every table 2^k entries over its fixed
// range (runtime/fixed/QUANTIZATION.md), the LUT input formats at least lutMinFrac(k), the default 8 unchanged.
import { describe, expect, it } from "vitest";
import { calibratePass } from "../../compiler/passes/calibrate.js";
import { lutMinFrac } from "../../compiler/passes/fixed.js";
import { runPass } from "../../compiler/passes/pass.js";
import { quantizePass } from "../../compiler/passes/quantize.js";
import { NmcError } from "../../ir/errors.js";
import { encodeGraph } from "../../ir/codec.js";
import type { Graph } from "../../ir/types.js";
import { verifyGraph } from "../../ir/verify.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import { sigmoidLut, tanhLut } from "../../runtime/fixed/index.js";
import { buildGraph, uniform } from "../support/graphs.js";

const shape = { seed: 21, inputs: 3, egru: 5, state: 3, dense: 2, pruneFraction: 0.3, readout: "mean" as const };

function batchFor(g: Graph, seed: number): SequenceBatch {
  const input = g.populations.find((p) => p.name === g.inputs[0])!;
  const r = uniform(seed, -2, 2);
  return { data: Float64Array.from({ length: 3 * 4 * input.size }, r), batch: 3, ticks: 4, channels: input.size };
}

function quantized(lutBits?: number) {
  const g = buildGraph(shape);
  const calibration = calibratePass.run(g, { batch: batchFor(g, 7) }).report;
  return runPass(quantizePass, g, { calibration, ...(lutBits === undefined ? {} : { lutBits }) });
}

describe("quantize pass: lutBits", () => {
  it.each([8, 9, 10, 11, 12])("lutBits %i: tables of 2^k entries over the same range, verified", (k) => {
    const { graph, report } = quantized(k);
    expect(report.lutBits).toBe(k);
    const e = graph.populations.find((p) => p.kind === "EGRU")!;
    const f = e.fixed!;
    expect(f.accFrac).toBeGreaterThanOrEqual(lutMinFrac(k));
    const [sig, tanh] = e.luts!;
    expect([sig.name, sig.table.length, sig.lo, sig.stepLog2]).toEqual(["sigmoid", 2 ** k, -8, 4 + k - 8]);
    expect([tanh.name, tanh.table.length, tanh.lo, tanh.stepLog2]).toEqual(["tanh", 2 ** k, -4, 5 + k - 8]);
    expect(Array.from(sig.table)).toEqual(Array.from(sigmoidLut(f.accFrac, k).table));
    expect(Array.from(tanh.table)).toEqual(Array.from(tanhLut(f.accFrac, k).table));
    expect(verifyGraph(graph)).toEqual([]);
  });

  it("the default is 8, and leaves the quantized IR byte-identical to an explicit 8", () => {
    const a = quantized(), b = quantized(8);
    expect(a.report.lutBits).toBe(8);
    expect(Buffer.from(encodeGraph(a.graph)).equals(Buffer.from(encodeGraph(b.graph)))).toBe(true);
    expect(a.graph.populations.find((p) => p.kind === "EGRU")!.luts!.map((l) => l.table.length)).toEqual([256, 256]);
  });

  it.each([7, 13, 9.5, NaN])("refuses lutBits %s, naming the allowed range", (k) => {
    expect(() => quantized(k)).toThrow(NmcError);
    expect(() => quantized(k)).toThrow(/lut bits must be an integer in 8…12/);
  });
});
