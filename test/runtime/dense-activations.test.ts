// The Dense activations swish (x·σ(x)), softplus (log(1 + eˣ)) and gelu_new (the tanh-approximate GELU):
// their integer definitions (runtime/fixed/QUANTIZATION.md) worked by hand through the golden engine and the
// BigInt reference, their tables, their measured error against the float functions, and their float math
// against tfjs' own activations (a Dense built in code, and a saved model.json read back: tfjs 4.22 writes
// "gelu_new" but cannot read it without nmc's alias). The random-model properties (golden = BigInt reference,
// = simulator, = CUDA emulation; float = the float64 reference and tfjs) draw them with the other activations.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GraphBuilder, csrFromDense } from "../../ir/builder.js";
import type { Activation, Graph, Lut } from "../../ir/types.js";
import { verifyGraph } from "../../ir/verify.js";
import { toIrLut } from "../../compiler/passes/fixed.js";
import { type Lut as FixedLut, lutIndex, phiTanhLut, sigmoidLut, softplusLut } from "../../runtime/fixed/index.js";
import { runFloat } from "../../runtime/float/interpreter.js";
import { geluNew, phiTanh, softplus, swish } from "../../runtime/float/math.js";
import { denseUnits } from "../../runtime/golden/kernels.js";
import { runGolden } from "../../runtime/golden/interpreter.js";
import { initBestBackend, loadFloatModel, predictFloat, saveModelToDir, type Tf } from "../../runtime/tfjs/index.js";
import { runBigIntReference } from "../support/golden-bigint.js";

const fmt = (outFrac: number, accFrac: number) => ({ outFrac, accFrac, stateFrac: 0, stateBits: 0, readFrac: 0 });

/**
 * Input (one channel, `inFrac`) → Dense of one unit, bias 0, weight 1 with rq(a) = rs(a · 16384, shift), so
 * the port holds v = x_q · 2^(14 − shift); the Dense has formats (outFrac, accFrac) and its activation's table.
 */
function oneUnit(act: Activation, inFrac: number, shift: number, outFrac: number, accFrac: number, lut: FixedLut): Graph {
  const b = new GraphBuilder(act);
  const x = b.input("x", 1, "values");
  const d = b.dense("d", 1, act, new Float32Array(1));
  b.project("k", x, d, "x", csrFromDense([1], 1, 1));
  b.outputs.push(d.name);
  const g = b.build();
  const j = g.projections[0];
  const q: Graph = {
    ...g,
    quant: { weightBits: 8, stateBits: 16, calibration: "hand", rangeMode: "max" },
    populations: [
      { ...g.populations[0], fixed: fmt(inFrac, inFrac) },
      { ...g.populations[1], fixed: fmt(outFrac, accFrac), tensors: { bias: { dtype: "i32", shape: [1], data: Int32Array.of(0) } }, luts: [toIrLut(lut)] },
    ],
    projections: [{
      ...j,
      weights: { ...j.weights, values: { dtype: "i8", shape: [1], data: Int8Array.of(1) } },
      requant: { multiplier: Int32Array.of(16384), shift: Int32Array.of(shift) },
    }],
  };
  expect(verifyGraph(q)).toEqual([]);
  return q;
}

/** The golden engine's outputs on x (one tick each), after checking that the BigInt reference agrees. */
function outputs(q: Graph, x: number[]): number[] {
  const batch = { data: x, batch: 1, ticks: x.length, channels: 1 };
  const got = Array.from(runGolden(q, batch).outputQ);
  expect(got).toEqual(Array.from(runBigIntReference(q, batch).outputQ));
  return got;
}

describe("Dense swish, gelu_new, softplus: one-unit examples by hand (golden = BigInt reference)", () => {
  // Input Q8, shift 14: v = x_q, acc_frac 8, out_frac 6 (down = 2). The tables' index rules at in_frac 8:
  // σ: i = ⌊(v + 2048)/16⌋, Φ̃: i = ⌊(v + 1024)/8⌋, L: i = ⌊(−|v| + 2048)/8⌋.
  it("swish: x · σ(x) rounded to acc_frac, then to out_frac", () => {
    // x = 1: v = 256, i = ⌊2304/16⌋ = 144, σ(−8 + 144.5/16 = 1.03125) = 0.73718 → 12078; 256 · 12078 = 3 091 968;
    //   rs(·, 14) = 188.72 → 189; rs(189, 2) = 47.25 → 47 (float: 0.7311 · 64 = 46.79).
    // x = −1.5: v = −384, i = ⌊1664/16⌋ = 104, σ(−1.46875) = 0.18713 → 3066; −384 · 3066 = −1 177 344 → −71.86 → −72;
    //   rs(−72, 2) = −18 exactly.
    // x = 3: v = 768, i = 176, σ(3.03125) = 0.95396 → 15630; 12 003 840 → 732.66 → 733; rs(733, 2) = 183.25 → 183.
    // x = −20: v = −5120 clamps to i = 0, σ(−7.96875) = 3.46e−4 → 6; −30 720 → −1.875 → −2; rs(−2, 2) = −0.5 → −1 (a tie,
    //   away from zero): the table's clamp, −20 · σ(−7.97) = −0.007, where swish(−20) = −4e−8.
    expect(outputs(oneUnit("swish", 8, 14, 6, 8, sigmoidLut(8)), [1, -1.5, 3, -20])).toEqual([47, -18, 183, -1]);
  });

  it("gelu_new: x · Φ̃(x), Φ̃ the tanh form of the normal CDF, rounded as gelu", () => {
    // x = 1: v = 256, i = ⌊1280/8⌋ = 160, Φ̃(−4 + 160.5/32 = 1.015625) = 0.84497 → 13844; 256 · 13844 = 3 544 064
    //   → 216.31 → 216; rs(216, 2) = 54 (float: 0.8412 · 64 = 53.84).
    // x = −1.5: v = −384, i = ⌊640/8⌋ = 80, Φ̃(−1.484375) = 0.06903 → 1131; −434 304 → −26.51 → −27; rs(−27, 2) = −6.75 → −7.
    // x = 3: v = 768, i = 224, Φ̃(3.015625) = 0.99884 → 16365; 12 568 320 → 767.11 → 767; rs(767, 2) = 191.75 → 192.
    // x = −20: i = 0, Φ̃(−3.984375) → 0; the product is 0.
    expect(outputs(oneUnit("gelu_new", 8, 14, 6, 8, phiTanhLut(8)), [1, -1.5, 3, -20])).toEqual([54, -7, 192, 0]);
  });

  it("softplus with acc_frac < 14: relu(v) + rs(L(−|v|), 14 − acc_frac), then to out_frac", () => {
    // x = 1: −|v| = −256, i = ⌊1792/8⌋ = 224, L(−0.984375) = 0.31751 → 5202; rs(5202, 6) = 81.28 → 81;
    //   256 + 81 = 337; rs(337, 2) = 84.25 → 84 (float: 1.3133 · 64 = 84.05).
    // x = −1.5: −|v| = −384, i = 208, L(−1.484375) = 0.20428 → 3347; rs(3347, 6) = 52.30 → 52; 0 + 52; rs(52, 2) = 13.
    // x = 3: −|v| = −768, i = 160, L(−2.984375) = 0.04932 → 808; rs(808, 6) = 12.63 → 13; 768 + 13 = 781 → 195.25 → 195.
    // x = −20: i = 0, L(−7.984375) = 3.4e−4 → 6; rs(6, 6) = 0.09 → 0; out 0.
    expect(outputs(oneUnit("softplus", 8, 14, 6, 8, softplusLut(8)), [1, -1.5, 3, -20])).toEqual([84, 13, 195, 0]);
  });

  it("softplus with acc_frac ≥ 14: L shifted up exactly, one rounding to out_frac", () => {
    // Input Q14, shift 12: v = 4 · x_q, acc_frac 16, out_frac 11 (down = 5); L's index: i = ⌊(−|v| + 524 288)/2048⌋.
    // x = 0.5: v = 32 768, i = ⌊491 520/2048⌋ = 240, L(−0.484375) = 0.47998 → 7864; 32 768 + 7864 · 4 = 64 224;
    //   rs(64 224, 5) = 2007 exactly (float: 0.97408 · 2048 = 1994.9: the bin width, 1/32 at slope ≤ 1/2).
    // x = −1.25: v = −81 920, i = 216, L(−1.234375) = 0.25543 → 4185; 0 + 16 740; rs(16 740, 5) = 523.13 → 523.
    // x = 1.75: v = 114 688, i = 200, L(−1.734375) = 0.16253 → 2663; 114 688 + 10 652 = 125 340; rs(·, 5) = 3916.88 → 3917.
    expect(outputs(oneUnit("softplus", 14, 12, 11, 16, softplusLut(16)), [0.5, -1.25, 1.75])).toEqual([2007, 523, 3917]);
  });
});

describe("the tables of Φ̃ and L", () => {
  it("entries are the function at each bin's midpoint in Q14, ties away from zero", () => {
    for (const [l, f] of [[phiTanhLut(10), phiTanh], [softplusLut(10), (t: number) => Math.log1p(Math.exp(t))]] as const) {
      l.table.forEach((q, i) => expect(q, `${l.name}[${i}]`).toBe(Math.round(f(l.lo + (i + 0.5) * 2 ** -l.stepLog2) * 16384)));
    }
    expect([phiTanhLut(10).lo, phiTanhLut(10).stepLog2, softplusLut(10).lo, softplusLut(10).stepLog2]).toEqual([-4, 5, -8, 5]);
  });

  it("softplus looks up −|v| ≤ 0 only: its last bin ends at 0, so the upper clamp is never reached", () => {
    const l = softplusLut(12);
    expect(lutIndex(l, 0)).toBe(255);
    expect(lutIndex(l, -1)).toBe(255);
    expect(lutIndex(l, -(2 ** 12) / 32)).toBe(255);
    expect(lutIndex(l, -(2 ** 12) / 32 - 1)).toBe(254);
  });
});

/** max |integer − float| (real units) over x on a grid of `n` points in [−R, R], at (accFrac, outFrac). */
export function maxError(act: "swish" | "softplus" | "gelu_new", lut: Lut, R: number, accFrac: number, outFrac: number, n = 200_001): number {
  const f = act === "swish" ? swish : act === "softplus" ? softplus : geluNew;
  const v = new Float64Array(n), out = new Int32Array(n);
  for (let i = 0; i < n; i++) v[i] = Math.round((-R + (2 * R * i) / (n - 1)) * 2 ** accFrac);
  denseUnits(act, n, v, lut, accFrac - outFrac, out);
  let m = 0;
  for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(out[i] * 2 ** -outFrac - f(v[i] * 2 ** -accFrac)));
  return m;
}

describe("measured error of the integer activations against the float functions", () => {
  // A typical format: pre-activations within ±16 (acc_frac 24, the cap), outputs within ±16 (out_frac 11).
  // The error is the tables' bin width times the function's slope (σ, L: bins of 1/16 and 1/32; Φ̃: 1/32),
  // plus half an output step: swish 7.3e−3, softplus 7.9e−3 (at x ≈ 0, slope 1/2), gelu_new 4.1e−3 (gelu: 4.0e−3).
  it.each([["swish", sigmoidLut, 7.4e-3], ["softplus", softplusLut, 8.0e-3], ["gelu_new", phiTanhLut, 4.1e-3]] as const)(
    "%s: max |integer − float| over [−16, 16] at acc_frac 24, out_frac 11 is below %s", (act, make, bound) => {
      const e = maxError(act, make(24), 16, 24, 11);
      expect(e).toBeLessThan(bound);
      expect(e).toBeGreaterThan(bound / 2); // the figure in the comment is the measured one
    });
});

// ---------------------------------------------------------------------------------------------------------
// Float math = tfjs' activations
// ---------------------------------------------------------------------------------------------------------

describe("float swish, softplus, gelu_new = tfjs' activations", () => {
  let tf: Tf;
  let root: string;
  beforeAll(async () => {
    tf = (await initBestBackend()).tf;
    root = mkdtempSync(join(tmpdir(), "nmc-dense-act-"));
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const xs = Array.from({ length: 161 }, (_, i) => Math.fround(-20 + i / 4 + (i % 3) / 7));

  it.each(["swish", "softplus", "gelu_new"] as const)("%s: a one-unit Dense of weight 1, in code and through a saved model.json", async (act) => {
    const b = new GraphBuilder(act);
    const x = b.input("x", 1, "values");
    const d = b.dense("d", 1, act, new Float32Array(1));
    b.project("k", x, d, "x", csrFromDense([1], 1, 1));
    b.outputs.push(d.name);
    const ours = runFloat(b.build(), { data: xs, batch: 1, ticks: xs.length, channels: 1 }).output;
    const model = tf.sequential({
      layers: [tf.layers.dense({ units: 1, activation: act, inputShape: [null, 1], useBias: false, kernelInitializer: "ones" })],
    });
    const direct = predictFloat(model, Float32Array.from(xs), [1, xs.length, 1], tf);
    const dir = join(root, act);
    await saveModelToDir(model, dir);
    const { model: back, tf: tf2 } = await loadFloatModel(join(dir, "model.json"));
    const loaded = predictFloat(back, Float32Array.from(xs), [1, xs.length, 1], tf2);
    back.dispose();
    model.dispose();
    for (let i = 0; i < xs.length; i++) {
      // tfjs computes in float32 from several ops: 1e−6 of the larger of |y| and 1
      const tol = 1e-6 * Math.max(1, Math.abs(ours[i]));
      expect(Math.abs(direct[i] - ours[i]), `${act}(${xs[i]}): tfjs ${direct[i]}, nmc ${ours[i]}`).toBeLessThanOrEqual(tol);
      expect(loaded[i], `${act}(${xs[i]}) after save and load`).toBe(direct[i]);
    }
  });
});
