import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GraphBuilder, csrFromDense, csrToDense } from "../../ir/builder.js";
import { decodeGraph, encodeGraph } from "../../ir/codec.js";
import { NmcError } from "../../ir/errors.js";
import { printGraph } from "../../ir/print.js";
import type { Activation, Graph, Population } from "../../ir/types.js";
import { verifyGraph } from "../../ir/verify.js";
import {
  type CalibrationReport, type RangeMode, type RangeStats, calibratePass, chooseRange, clipFraction, emptyStats,
} from "../../compiler/passes/calibrate.js";
import { runPass } from "../../compiler/passes/pass.js";
import { type QuantizeOptions, quantizePass } from "../../compiler/passes/quantize.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import { phiLut, phiTanhLut, quantizeMultiplier, sigmoidLut, softplusLut, tanhLut, toFixed } from "../../runtime/fixed/index.js";
import { buildGraph, graphShapeArb, uniform } from "../support/graphs.js";

/** Index of bucket e (2^(e−1) < |v| ≤ 2^e) in RangeStats.hist. */
const E0 = (emptyStats().hist.length - 1) / 2;

/** A random value batch [B, T, C] for the graph's (value) input. */
function randomBatch(g: Graph, seed: number, batch = 2, ticks = 4, amp = 2): SequenceBatch {
  const input = g.populations.find((p) => p.name === g.inputs[0])!;
  const r = uniform(seed, -amp, amp);
  return { data: Float64Array.from({ length: batch * ticks * input.size }, r), batch, ticks, channels: input.size };
}

function calibrate(g: Graph, batch: SequenceBatch): CalibrationReport {
  return calibratePass.run(g, { batch }).report;
}

function quantize(g: Graph, batch: SequenceBatch, opts: Omit<QuantizeOptions, "calibration"> = {}) {
  return runPass(quantizePass, g, { ...opts, calibration: calibrate(g, batch) });
}

const pop = (g: Graph, name: string): Population => g.populations.find((p) => p.name === name)!;
const proj = (g: Graph, name: string) => g.projections.find((j) => j.name === name)!;

/** Input x [C] → Dense d [K] with the given dense weight matrix [C, K] and bias. */
function denseGraph(weights: number[][], bias: number[], activation: Activation = "linear"): Graph {
  const C = weights.length, K = weights[0].length;
  const b = new GraphBuilder("dense");
  const x = b.input("x", C, "values");
  const d = b.dense("d", K, activation, Float32Array.from(bias));
  b.project("d.kernel", x, d, "x", csrFromDense(weights.flat(), C, K));
  b.outputs.push(d.name);
  return b.build();
}

const identity = (n: number) => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));

describe("calibrate pass", () => {
  // [B = 2, T = 3, C = 2]: max |x| = 3, values hit the bucket edges (2 ∈ bucket 1, 0.5 ∈ bucket −1)
  const data = [0.5, -1.25, 3, 0, 2, -0.3, /* second sequence */ 0, 0, -2.5, 1, 0.25, 0.5];
  const batch: SequenceBatch = { data, batch: 2, ticks: 3, channels: 2 };

  it("records the input max through a Dense identity (out and acc), counting every value", () => {
    const g = denseGraph(identity(2), [0, 0]);
    const { graph, report } = calibratePass.run(g, { batch });
    expect(graph).toBe(g); // unchanged
    expect(report.samples).toBe(2);
    expect(report.ticks).toBe(3);
    const x = report.populations.x, d = report.populations.d;
    expect(x.kind).toBe("Input");
    expect(d.kind).toBe("Dense");
    for (const st of [x.out, d.out, d.acc]) {
      expect(st.max).toBe(3);
      expect(st.count).toBe(12); // zeros included
    }
    expect(x.acc.count).toBe(0);
    expect(d.state.count).toBe(0);
    // buckets: 2^(e−1) < |v| ≤ 2^e
    const h = x.out.hist;
    expect(h[E0 - 2]).toBe(1); // 0.25
    expect(h[E0 - 1]).toBe(3); // 0.5, 0.3, 0.5
    expect(h[E0 + 0]).toBe(1); // 1
    expect(h[E0 + 1]).toBe(2); // 1.25, 2
    expect(h[E0 + 2]).toBe(2); // 3, 2.5
    expect(h.reduce((a, b) => a + b, 0)).toBe(9); // 12 values, 3 zeros
  });

  it("records the pre-activation of a nonlinear layer in acc and its output in out", () => {
    const g = denseGraph([[2, 0], [0, -1]], [0.5, 0], "tanh");
    const { report } = calibratePass.run(g, { batch });
    const d = report.populations.d;
    // column 0: 2x₀ + 0.5 over x₀ ∈ {0.5, 3, 2, 0, −2.5, 0.25} → max |·| = 6.5; column 1: |x₁| ≤ 1.25
    expect(d.acc.max).toBe(6.5);
    expect(d.out.max).toBeCloseTo(Math.tanh(6.5), 15);
  });

  it("percentile mode picks a power of two, never above the max", () => {
    const g = buildGraph({ seed: 5, inputs: 3, egru: 4, state: 2, dense: 2, pruneFraction: 0, readout: "mean" });
    const rep = calibrate(g, randomBatch(g, 9, 3, 6));
    for (const [name, r] of Object.entries(rep.populations)) {
      for (const st of [r.out, r.acc, r.state]) {
        if (st.count === 0) continue;
        expect(chooseRange(st, { kind: "max" }), name).toBe(st.max);
        for (const p of [50, 90, 99.9]) {
          const R = chooseRange(st, { kind: "percentile", percentile: p });
          expect(R).toBeLessThanOrEqual(st.max);
          if (R !== st.max) expect(Number.isInteger(Math.log2(R)), `${name} p${p} → ${R}`).toBe(true);
        }
      }
    }
  });

  it("chooseRange and clipFraction on a hand-made histogram", () => {
    const st: RangeStats = emptyStats();
    // 10 values: 0, 0, 0.3, 0.75, 1.5 ×3, 3 ×2, 100
    st.count = 10;
    st.max = 100;
    st.hist[E0 - 1] = 1; // 0.3
    st.hist[E0 + 0] = 1; // 0.75
    st.hist[E0 + 1] = 3; // 1.5
    st.hist[E0 + 2] = 2; // 3
    st.hist[E0 + 7] = 1; // 100
    const pct = (p: number): RangeMode => ({ kind: "percentile", percentile: p });
    expect(chooseRange(st, { kind: "max" })).toBe(100);
    // Percentiles are of the 8 non-zero magnitudes (zeros fit any format): cumulative 1, 2, 5, 7, 8.
    expect(chooseRange(st, pct(50))).toBe(2); // 4 values needed: 0.3, 0.75, then bucket 1
    expect(chooseRange(st, pct(62.5))).toBe(2); // 5 values: bucket 1 ends at 5
    expect(chooseRange(st, pct(63))).toBe(4);
    expect(chooseRange(st, pct(87.5))).toBe(4);
    expect(chooseRange(st, pct(88))).toBe(100); // bucket 7 is 128, capped at the max
    expect(chooseRange(st, pct(100))).toBe(100);
    expect(clipFraction(st, 1)).toBeCloseTo(0.3, 15); // beyond 2: 3, 3, 100
    expect(clipFraction(st, 2)).toBeCloseTo(0.1, 15); // beyond 4: 100
    expect(clipFraction(st, 6)).toBeCloseTo(0.1, 15);
    expect(clipFraction(st, 7)).toBe(0);
    expect(clipFraction(st, -2)).toBeCloseTo(0.8, 15); // every non-zero value
    expect(clipFraction(st, -64)).toBeCloseTo(0.8, 15);
    // nothing recorded
    expect(chooseRange(emptyStats(), pct(99))).toBe(0);
    expect(clipFraction(emptyStats(), 0)).toBe(0);
  });

  it("refuses a quantized graph", () => {
    const g = denseGraph(identity(2), [0, 0]);
    const q = quantize(g, batch).graph;
    expect(() => calibratePass.run(q, { batch })).toThrow(NmcError);
    expect(() => calibratePass.run(q, { batch })).toThrow(/already quantized/);
  });
});

describe("quantize pass: a hand-computed Dense layer", () => {
  // column 0: max |w| = 2 → scale 2/127: 0.5 → 31.75 → 32, −2 → −127, 0.003 → 0.19 → 0 (dropped)
  // column 1: max |w| = 0.25 → scale 0.25/127: 0.25 → 127, 0.1 → 50.8 → 51, −0.001 → −0.51 → −1 (kept)
  const W = [[0.5, 0.25], [-2, 0.1], [0.003, -0.001]];
  const bias = [0.1, -0.25];
  const batch: SequenceBatch = { data: [1, -3, 0.5, 2, 0, -1], batch: 1, ticks: 2, channels: 3 };

  it("per-column scales: the largest weight of each column is ±127, tiny weights are dropped", () => {
    const g = denseGraph(W, bias);
    const { graph, report } = quantize(g, batch);
    const j = proj(graph, "d.kernel");
    expect(j.weights.values.dtype).toBe("i8");
    expect(Array.from(j.weights.rowPtr)).toEqual([0, 2, 4, 5]);
    expect(Array.from(j.weights.colIdx)).toEqual([0, 1, 0, 1, 1]);
    expect(Array.from(j.weights.values.data)).toEqual([32, 127, -127, 51, -1]);
    expect(j.weights.values.quant!.scale).toEqual([2 / 127, Math.fround(0.25) / 127]);
    expect(report.projections).toEqual([{ name: "d.kernel", nnzFloat: 6, nnz: 5, dense: 6 }]);
    expect(verifyGraph(graph)).toEqual([]);
  });

  it("formats, biases and multipliers follow QUANTIZATION.md", () => {
    const g = denseGraph(W, bias);
    const { graph, report } = quantize(g, batch);
    const x = pop(graph, "x"), d = pop(graph, "d");
    // input: R = 3 → floor(log2(32767 / 3)) = 13
    expect(x.fixed!.outFrac).toBe(13);
    // the Dense pre-activations: computed in float, max |·| over the batch, 1 bit of headroom in int32
    const pre = [0.1 + 0.5 * 1 - 2 * -3 + 0.003 * 0.5, -0.25 + 0.25 * 1 + 0.1 * -3 - 0.001 * 0.5,
      0.1 + 0.5 * 2 + 0.003 * -1, -0.25 + 0.25 * 2 - 0.001 * -1];
    const R = Math.max(...pre.map(Math.abs));
    const accFrac = Math.floor(Math.log2(2147483647 / R)) - 1;
    expect(accFrac).toBe(27); // R ≈ 6.6: floor(log2(2^31 / 6.6)) − 1
    expect(d.fixed!.accFrac).toBe(accFrac);
    expect(d.fixed!.outFrac).toBe(Math.min(accFrac, Math.floor(Math.log2(32767 / R))));
    expect(report.populations.find((p) => p.name === "d")!.accFrac).toBe(accFrac);
    // biases: toFixed(b, acc_frac, 32) of the stored (f32) value
    const bq = d.tensors.bias;
    expect(bq.dtype).toBe("i32");
    expect(Array.from(bq.data)).toEqual(bias.map((b) => toFixed(Math.fround(b), accFrac, 32)));
    expect(bq.data[1]).toBe(-0.25 * 2 ** 27);
    expect(bq.quant!.fracBits).toBe(accFrac);
    // multipliers: scale_c · 2^(acc_frac − src_out_frac)
    const j = proj(graph, "d.kernel");
    const scales = [2 / 127, Math.fround(0.25) / 127];
    for (let c = 0; c < 2; c++) {
      const m = quantizeMultiplier(scales[c] * 2 ** (accFrac - 13));
      expect([j.requant!.multiplier[c], j.requant!.shift[c]]).toEqual([m.multiplier, m.shift]);
    }
    // by hand, column 0: 2/127 · 2^14 = 258.0157 = 16513.0 · 2^−6
    expect([j.requant!.multiplier[0], j.requant!.shift[0]]).toEqual([16513, 6]);
    expect(d.luts).toBeUndefined();
  });

  it("--bits 16 stores i16 weights with ±32767 column maxima", () => {
    const g = denseGraph(W, bias);
    const { graph } = quantize(g, batch, { weightBits: 16 });
    const j = proj(graph, "d.kernel");
    expect(j.weights.values.dtype).toBe("i16");
    expect(graph.quant!.weightBits).toBe(16);
    // 0.5 · 32767/2 = 8191.75 → 8192; 0.003 · 32767/2 = 49.15 → 49; 0.1 · 32767/0.25 = 13106.8 → 13107; −0.001 → −131
    expect(Array.from(j.weights.values.data)).toEqual([8192, 32767, -32767, 13107, 49, -131]);
    expect(Array.from(j.weights.colIdx)).toEqual([0, 1, 0, 1, 0, 1]);
    // int16 column sums are rounding-shifted by pre = 8 before requantization: the multiplier carries 2^8
    const d = pop(graph, "d").fixed!, x = pop(graph, "x").fixed!;
    const scales = [2 / 32767, 0.25 / 32767];
    for (let c = 0; c < 2; c++) {
      const m = quantizeMultiplier(scales[c] * 2 ** (d.accFrac - x.outFrac + 8));
      expect([j.requant!.multiplier[c], j.requant!.shift[c]]).toEqual([m.multiplier, m.shift]);
    }
    expect(verifyGraph(graph)).toEqual([]);
  });

  it("LUT activations: Q14 output, tables with in_frac = acc_frac (≥ 5)", () => {
    for (const [act, name, make] of [
      ["sigmoid", "sigmoid", sigmoidLut], ["tanh", "tanh", tanhLut], ["gelu", "phi", phiLut],
      ["gelu_new", "phi_tanh", phiTanhLut], ["swish", "sigmoid", sigmoidLut], ["softplus", "softplus", softplusLut],
    ] as const) {
      const g = denseGraph(W, bias, act);
      const { graph } = quantize(g, batch);
      const d = pop(graph, "d");
      const f = d.fixed!;
      expect(f.accFrac).toBeGreaterThanOrEqual(5);
      if (act !== "sigmoid" && act !== "tanh") expect(f.outFrac).toBeLessThanOrEqual(f.accFrac);
      else expect(f.outFrac).toBe(14);
      expect(d.luts!.map((l) => l.name)).toEqual([name]);
      const l = d.luts![0];
      expect(l.inFrac).toBe(f.accFrac);
      expect(l.outFrac).toBe(14);
      expect(l.table.length).toBe(256);
      expect(Array.from(l.table)).toEqual(Array.from(make(f.accFrac).table));
      expect(verifyGraph(graph)).toEqual([]);
    }
  });

  it("refuses softmax, naming the population", () => {
    const g = denseGraph(W, bias, "softmax");
    const cal = calibrate(g, batch);
    let err: unknown;
    try {
      quantizePass.run(g, { calibration: cal });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NmcError);
    expect((err as NmcError).message).toMatch(/population d\b.*softmax/);
    expect((err as NmcError).node).toBe("population d");
    expect((err as NmcError).hint).toMatch(/linear/);
  });

  it("refuses an already-quantized graph", () => {
    const g = denseGraph(W, bias);
    const cal = calibrate(g, batch);
    const q = quantizePass.run(g, { calibration: cal }).graph;
    expect(() => quantizePass.run(q, { calibration: cal })).toThrow(NmcError);
    expect(() => quantizePass.run(q, { calibration: cal })).toThrow(/already quantized/);
  });

  it("refuses a population without calibration ranges", () => {
    const g = denseGraph(W, bias);
    const cal = calibrate(g, batch);
    delete cal.populations.d;
    expect(() => quantizePass.run(g, { calibration: cal })).toThrow(/no calibration ranges for population d/);
  });

  it("does not modify the float graph it is given", () => {
    const g = denseGraph(W, bias);
    const before = printGraph(g);
    quantize(g, batch, { weightBits: 16 });
    expect(printGraph(g)).toBe(before);
    expect(g.quant).toBeUndefined();
  });
});

describe("quantize pass: EGRU, DiagonalSSM and readout", () => {
  const shape = { seed: 21, inputs: 3, egru: 5, state: 3, dense: 2, pruneFraction: 0.3, readout: "mean" as const };

  it("EGRU: Q14 output, threshold clamped to [0, 1] in Q14, biases at acc_frac, σ and tanh tables", () => {
    const g = buildGraph(shape);
    const thr = g.populations[1].tensors.thr.data;
    thr[0] = 1.5; // clamped to 1.0
    thr[1] = -0.2; // clamped to 0
    const { graph } = quantize(g, randomBatch(g, 3));
    const e = pop(graph, "egru");
    const f = e.fixed!;
    expect(f.outFrac).toBe(14);
    expect(f.accFrac).toBeGreaterThanOrEqual(5);
    const tq = e.tensors.thr;
    expect(tq.dtype).toBe("i16");
    expect(tq.data[0]).toBe(16384);
    expect(tq.data[1]).toBe(0);
    for (let i = 2; i < thr.length; i++) expect(tq.data[i]).toBe(toFixed(thr[i], 14, 16));
    for (const name of ["bias_x", "bias_h"]) {
      const src = pop(g, "egru").tensors[name].data;
      expect(e.tensors[name].dtype).toBe("i32");
      expect(Array.from(e.tensors[name].data)).toEqual(Array.from(src, (v) => toFixed(v, f.accFrac, 32)));
    }
    expect(e.luts!.map((l) => [l.name, l.inFrac, l.outFrac])).toEqual([["sigmoid", f.accFrac, 14], ["tanh", f.accFrac, 14]]);
    expect(Array.from(e.luts![0].table)).toEqual(Array.from(sigmoidLut(f.accFrac).table));
    expect(Array.from(e.luts![1].table)).toEqual(Array.from(tanhLut(f.accFrac).table));
    expect(verifyGraph(graph)).toEqual([]);
  });

  it("DiagonalSSM: Λ̄ in Q15, C per row with ±qmax maxima, C multipliers; readout in its source's format", () => {
    for (const [weightBits, stateBits] of [[8, 16], [16, 32]] as const) {
      const g = buildGraph(shape);
      const { graph, report } = quantize(g, randomBatch(g, 4), { weightBits, stateBits });
      const s = pop(graph, "ssm"), s0 = pop(g, "ssm");
      if (s.kind !== "DiagonalSSM") throw new Error("unreachable");
      const f = s.fixed!;
      expect(f.stateBits).toBe(stateBits);
      expect(f.readFrac).toBe(f.stateFrac - (stateBits - 16));
      expect(f.outFrac).toBeLessThanOrEqual(f.accFrac);
      const rep = report.populations.find((p) => p.name === "ssm")!;
      expect([rep.stateBits, rep.stateFrac, rep.accFrac]).toEqual([stateBits, f.stateFrac, f.accFrac]);
      for (const part of ["lambda_re", "lambda_im"]) {
        expect(s.tensors[part].dtype).toBe("i16");
        expect(Array.from(s.tensors[part].data)).toEqual(Array.from(s0.tensors[part].data, (v) => toFixed(v, 15, 16)));
      }
      const qmax = 2 ** (weightBits - 1) - 1;
      const pre = weightBits - 8; // int16 sums are rounding-shifted by 8 first: the multipliers carry 2^pre
      const H = s.size, P = s.stateSize;
      for (let h = 0; h < H; h++) {
        let m = 0, mq = 0, sc = 0;
        for (let p = 0; p < P; p++) {
          m = Math.max(m, Math.abs(s0.tensors.c_re.data[h * P + p]), Math.abs(s0.tensors.c_im.data[h * P + p]));
          mq = Math.max(mq, Math.abs(s.tensors.c_re.data[h * P + p]), Math.abs(s.tensors.c_im.data[h * P + p]));
        }
        sc = m / qmax;
        expect(mq).toBe(qmax);
        expect(s.tensors.c_re.quant!.scale[h]).toBe(sc);
        const M = quantizeMultiplier(sc * 2 ** (f.accFrac - f.readFrac + pre));
        expect([s.tensors.c_mult.data[h], s.tensors.c_shift.data[h]]).toEqual([M.multiplier, M.shift]);
      }
      expect(s.tensors.c_re.dtype).toBe(weightBits === 16 ? "i16" : "i8");
      // the port u is requantized into the state format, skip into the accumulator format
      const B = proj(graph, "ssm.B"), B0 = proj(g, "ssm.B");
      const egruOut = pop(graph, "egru").fixed!.outFrac;
      const colMax = new Float64Array(B.cols);
      B0.weights.colIdx.forEach((c, k) => { colMax[c] = Math.max(colMax[c], Math.abs(B0.weights.values.data[k])); });
      for (let c = 0; c < B.cols; c++) {
        const M = quantizeMultiplier((colMax[c] / qmax) * 2 ** (f.stateFrac - egruOut + pre));
        expect([B.requant!.multiplier[c], B.requant!.shift[c]]).toEqual([M.multiplier, M.shift]);
      }
      const r = pop(graph, "readout");
      expect(r.fixed!.outFrac).toBe(pop(graph, "dense").fixed!.outFrac);
      expect(graph.quant).toEqual({ weightBits, stateBits, calibration: "2 sequences", rangeMode: "max" });
      expect(verifyGraph(graph)).toEqual([]);
    }
  });

  it("every requantization multiplier is a Q15 mantissa in [2^14, 2^15) (or 0) with a shift in [0, 52]", () => {
    const g = buildGraph(shape);
    // an all-zero column in the dense kernel gets multiplier 0
    const dk = g.projections.find((j) => j.name === "dense.kernel")!;
    const dense = csrToDense(dk.weights, dk.rows, dk.cols);
    for (let r = 0; r < dk.rows; r++) dense[r * dk.cols + 1] = 0;
    dk.weights = csrFromDense(dense, dk.rows, dk.cols);
    const { graph } = quantize(g, randomBatch(g, 8));
    const pairs: [number, number][] = [];
    for (const j of graph.projections) j.requant!.multiplier.forEach((m, c) => pairs.push([m, j.requant!.shift[c]]));
    const s = pop(graph, "ssm");
    s.tensors.c_mult.data.forEach((m, h) => pairs.push([m, s.tensors.c_shift.data[h]]));
    for (const [m, sh] of pairs) {
      if (m === 0) expect(sh).toBe(0);
      else {
        expect(m).toBeGreaterThanOrEqual(2 ** 14);
        expect(m).toBeLessThan(2 ** 15);
      }
      expect(sh).toBeGreaterThanOrEqual(0);
      expect(sh).toBeLessThanOrEqual(52);
    }
    const q = proj(graph, "dense.kernel");
    expect([q.requant!.multiplier[1], q.requant!.shift[1]]).toEqual([0, 0]);
    expect(q.weights.values.quant!.scale[1]).toBe(0);
  });
});

describe("quantize pass: properties", () => {
  const modeArb = fc.constantFrom<RangeMode>({ kind: "max" }, { kind: "percentile", percentile: 99.9 }, { kind: "percentile", percentile: 90 });

  it("calibrate + quantize gives a valid graph whose codec round trip prints and re-encodes identically", () => {
    fc.assert(fc.property(
      graphShapeArb, fc.constantFrom(8 as const, 16 as const), fc.constantFrom(16 as const, 32 as const), modeArb, fc.integer({ min: 1, max: 1000 }),
      (shape, weightBits, stateBits, range, seed) => {
        const g = buildGraph(shape);
        const batch = randomBatch(g, seed, 2, 5);
        const cal = calibratePass.run(g, { batch }).report;
        const { graph, report } = quantizePass.run(g, { calibration: cal, weightBits, stateBits, range });
        expect(verifyGraph(graph)).toEqual([]);
        expect(graph.quant!.rangeMode).toBe(range.kind === "max" ? "max" : `percentile:${range.percentile}`);
        // the largest weight of every non-empty column is ±qmax; weights that round to 0 are gone
        const qmax = 2 ** (weightBits - 1) - 1;
        for (const j of graph.projections) {
          const colMax = new Array<number>(j.cols).fill(0);
          j.weights.colIdx.forEach((c, k) => {
            const v = j.weights.values.data[k];
            expect(v).not.toBe(0);
            colMax[c] = Math.max(colMax[c], Math.abs(v));
          });
          const j0 = proj(g, j.name);
          const nonEmpty = new Set(j0.weights.colIdx);
          colMax.forEach((m, c) => expect(m).toBe(nonEmpty.has(c) ? qmax : 0));
          // multiplier of column c: quantizeMultiplier(scale_c · 2^(port_frac − src_out_frac + pre)), or 0
          const tgt = pop(graph, j.target);
          const portFrac = tgt.kind === "DiagonalSSM" && j.port === "u" ? tgt.fixed!.stateFrac : tgt.fixed!.accFrac;
          const scale = j.weights.values.quant!.scale;
          for (let c = 0; c < j.cols; c++) {
            const x = scale[c] * 2 ** (portFrac - pop(graph, j.source).fixed!.outFrac + weightBits - 8);
            const M = scale[c] === 0 ? { multiplier: 0, shift: 0 } : quantizeMultiplier(x);
            expect([j.requant!.multiplier[c], j.requant!.shift[c]]).toEqual([M.multiplier, M.shift]);
          }
          const r = report.projections.find((p) => p.name === j.name)!;
          expect(r.nnz).toBe(j.weights.colIdx.length);
          expect(r.nnzFloat).toBe(j0.weights.colIdx.length);
        }
        for (const p of graph.populations) {
          const f = p.fixed!;
          if (p.kind === "DiagonalSSM" || (p.kind === "Dense" && (p.activation === "linear" || p.activation === "relu"))) {
            expect(f.outFrac).toBeLessThanOrEqual(f.accFrac);
          }
          if (p.kind === "EGRU" || (p.kind === "Dense" && p.activation !== "linear" && p.activation !== "relu")) {
            expect(f.accFrac).toBeGreaterThanOrEqual(5);
          }
        }
        const bytes = encodeGraph(graph);
        const back = decodeGraph(bytes);
        expect(back.quant).toEqual(graph.quant);
        expect(printGraph(back)).toBe(printGraph(graph));
        expect(Buffer.from(encodeGraph(back)).equals(Buffer.from(bytes))).toBe(true);
      },
    ), { numRuns: 60 });
  });
});

// Regressions for product bugs found while writing these tests.
describe("quantize pass: DiagonalSSM C requantization", () => {
  // QUANTIZATION.md: "Accumulator formats are also capped so that every requantization scale stays
  // below 2^14" — including the SSM's own C requantization scale_C · 2^(acc_frac − read_frac + pre).
  it("a cancelling state (large |x|, output ≈ skip) still quantizes", () => {
    const b = new GraphBuilder("cancel");
    const x = b.input("x", 1, "values");
    const s = b.diagonalSsm("ssm", 1, 2, "lru", {
      lambdaRe: Float64Array.of(0.5, 0.5), lambdaIm: Float64Array.of(0, 0), cRe: Float64Array.of(1, 1), cIm: Float64Array.of(0, 0),
    });
    b.project("B", x, s, "u", csrFromDense([100, -100, 0, 0], 1, 4)); // x_re[1] = −x_re[0]: C x = 0
    b.project("D", x, s, "skip", csrFromDense([0.01], 1, 1));
    b.outputs.push(s.name);
    const g = b.build();
    const batch: SequenceBatch = { data: [1, -1, 0.5, 1], batch: 1, ticks: 4, channels: 1 };
    const { graph } = quantize(g, batch);
    expect(verifyGraph(graph)).toEqual([]);
  });

  it("--state-bits 32 with no state seen in calibration (default state_frac 14 → read_frac −2)", () => {
    // the EGRU never fires on this input, so the SSM sees only zeros
    const g = buildGraph({ seed: 1, inputs: 1, egru: 1, state: 1, dense: 1, pruneFraction: 0, readout: "none" });
    const batch = randomBatch(g, 1, 2, 5);
    expect(calibrate(g, batch).populations.ssm.state.max).toBe(0);
    expect(() => quantize(g, batch, { stateBits: 16 })).not.toThrow();
    const { graph } = quantize(g, batch, { stateBits: 32 });
    expect(pop(graph, "ssm").fixed!.readFrac).toBeGreaterThanOrEqual(0);
  });
});

describe("calibrate and quantize a Multiply: each operand its own int16 format", () => {
  it("a value in ±8 and a gate in [0, 1]: frac_a 11, frac_b 14, acc_frac 26, out_frac 11 (QUANTIZATION.md)", () => {
    const b = new GraphBuilder("mul");
    const x = b.input("x", 2, "values");
    const m = b.multiply("m", 1);
    b.project("pa", x, m, "a", csrFromDense([1, 0], 2, 1));
    b.project("pb", x, m, "b", csrFromDense([0, 1], 2, 1));
    b.outputs.push(m.name);
    const g = b.build();
    const batch: SequenceBatch = { data: [8, 1, -4, 0.5, 2, 0.25], batch: 1, ticks: 3, channels: 2 };
    const cal = runPass(calibratePass, g, { batch }).report;
    // The port sums, each apart and both in acc.
    const r = cal.populations.m;
    expect(r.ports!.a.max).toBe(8);
    expect(r.ports!.b.max).toBe(1);
    expect(r.acc.max).toBe(8);
    expect(r.acc.count).toBe(6);
    const q = runPass(quantizePass, g, { calibration: cal }).graph;
    const mq = q.populations[1];
    // acc: floor(log2((2^31 − 1)/8)) − 1 = 26 (the projections allow up to 11 + 13 + 6 = 30);
    // a: floor(log2(32767/8)) = 11; b: floor(log2(32767/1)) = 14; out: max |a·b| = 8 → 11 (≤ 11 + 14).
    expect(mq.fixed).toMatchObject({ accFrac: 26, outFrac: 11 });
    expect(Array.from(mq.tensors.frac_a.data)).toEqual([11]);
    expect(Array.from(mq.tensors.frac_b.data)).toEqual([14]);
    expect(mq.tensors.frac_a.dtype).toBe("i32");
    expect(verifyGraph(q)).toEqual([]);
    expect(printGraph(q)).toMatch(/population m: Multiply\[1\] emits dense\n[\s\S]*port a\[1\]\n  port b\[1\]\n  tensor frac_a/);
  });
});
