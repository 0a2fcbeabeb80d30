// The LayerNorm population (runtime/fixed/QUANTIZATION.md): a hand-computed integer case checked against the
// golden engine and the BigInt reference, its float step against the formula, and its SpiNNaker 2 partition (one
// PE when it fits, else slices with a cross-PE reduction: test/targets/spinnaker2-layernorm-split.test.ts). Random models with LayerNorms are covered by
// test/runtime/golden.test.ts (golden = BigInt), test/targets/{spinnaker2,cuda}.test.ts (simulator and CUDA =
// golden) and test/compiler/functional.test.ts (float = tfjs's LayerNormalization; quantized bit-exactness).
import { describe, expect, it } from "vitest";
import { csrFromDense, GraphBuilder, identityCsr } from "../../ir/builder.js";
import type { Graph } from "../../ir/types.js";
import { decodeGraph, encodeGraph } from "../../ir/codec.js";
import { verifyGraph } from "../../ir/verify.js";
import { FloatEngine } from "../../runtime/float/interpreter.js";
import { isqrt } from "../../runtime/fixed/index.js";
import { SPINNAKER2 } from "../../targets/spinnaker2/chip.js";
import { partition } from "../../targets/spinnaker2/partition.js";
import { runBigIntReference } from "../support/golden-bigint.js";
import { goldenTrace } from "../support/spinnaker2.js";

const i32 = (...v: number[]) => ({ dtype: "i32" as const, shape: [v.length], data: Int32Array.from(v) });
const fmt = (outFrac: number, accFrac = outFrac) => ({ outFrac, accFrac, stateFrac: 0, stateBits: 0, readFrac: 0 });

function handGraph(): Graph {
  const b = new GraphBuilder("ln");
  const x = b.input("x", 3, "values");
  const ln = b.layerNorm("ln", 3, 1e-3, { gamma: Float32Array.of(1, -0.5, 2), beta: Float32Array.of(0, 0.5, -1) });
  b.project("id", x, ln, "x", identityCsr(3));
  b.outputs.push(ln.name);
  const g = b.build();
  const q: Graph = {
    ...g, populations: g.populations.map((p) => ({ ...p })), quant: { weightBits: 8, stateBits: 16, calibration: "hand", rangeMode: "max" },
    projections: g.projections.map((j) => {
      const csr = csrFromDense([1, 0, 0, 0, 1, 0, 0, 0, 1], 3, 3);
      // rq(x · 1, 16384, 10) = 16 x exactly: input Q8 → acc Q12.
      return { ...j, weights: { ...csr, values: { dtype: "i8" as const, shape: [3], data: Int8Array.from(csr.values.data) } }, requant: { multiplier: Int32Array.of(16384, 16384, 16384), shift: Int32Array.of(10, 10, 10) } };
    }),
  };
  q.populations[0].fixed = fmt(8);
  // acc Q12, out Q10; x' at frac_x 10 (shift 2), γ at frac_g 13 (1, −0.5, 2), β at out_frac (0, 0.5, −1), eps_q 1.
  q.populations[1].fixed = fmt(10, 12);
  q.populations[1].tensors = { gamma: i32(8192, -4096, 16384), beta: i32(0, 512, -1024), frac_x: i32(10), frac_g: i32(13), eps_q: i32(1) };
  expect(verifyGraph(q)).toEqual([]);
  return q;
}

describe("LayerNorm", () => {
  it("hand-computed integer case: golden = BigInt reference = the formula worked by hand", () => {
    const q = handGraph();
    // Shifts: x' = rs(port, 12 − 10 = 2); γ · t rs by 13 + 14 − 10 = 17.
    // Tick 0, x = (1, 2, 4.5): x_q = 256, 512, 1152; port = 16 x_q; x' = 1024, 2048, 4608. Σ = 7680, m = 2560;
    //   d = −1536, −512, 2048; Σd² = 6 815 744; V = roundDiv(·, 3) = 2 271 914.67 → 2 271 915, + eps_q = 2 271 916;
    //   s = ⌊√(V · 2^18)⌋ = 771 731; r = roundDiv(2^44, s) = 22 795 749; t = rs(d · r, 21) = −16 696 (−16 696.4),
    //   −5565 (−5565.3), 22 261 (22 260.9); γ · t = −136 773 632 → rs 17 = −1043.5 → −1044 (a tie,
    //   away from zero); 22 794 240 → 173.9 → 174, + 512 = 686; 364 724 224 → 2782.6 → 2783, − 1024 = 1759.
    //   (float: y = γ(x − 2.5)/√(2.1667 + 0.001) + β = −1.0186, 0.6698, 1.7168 → ·2^10 = −1043.3, 685.9, 1758.0)
    // Tick 1, x = (1, 1, 1): d = 0, V = 0 + eps_q = 1, s = 512, r = 2^35, t = 0: out = β = 0, 512, −1024.
    // Tick 2, x = (100, −100, 0): x' saturates to 32767, −32768, 0; Σ = −1, m = roundDiv(−1, 3) = 0;
    //   Σd² = 2 147 418 113, V = 715 806 039, s = 13 698 330, r = 1 284 258, t = 20 066, −20 067, 0 → 1254, 1139, −1024.
    const data = [1, 2, 4.5, 1, 1, 1, 100, -100, 0];
    const batch = { data, batch: 1, ticks: 3, channels: 3 };
    const golden = goldenTrace(q, batch), ref = runBigIntReference(q, batch);
    expect(Array.from(golden.outputQ)).toEqual([-1044, 686, 1759, 0, 512, -1024, 1254, 1139, -1024]);
    expect(Array.from(ref.outputQ)).toEqual(Array.from(golden.outputQ));
    expect(ref.clips.operand16).toBe(2);
  });

  it("the verifier checks the integer formats; the codec keeps epsilon", () => {
    const bad = (edit: Record<string, ReturnType<typeof i32>>, fx = fmt(10, 12)) => {
      const q = handGraph();
      q.populations[1] = { ...q.populations[1], fixed: fx, tensors: { ...q.populations[1].tensors, ...edit } };
      return verifyGraph(q).map((p) => p.message).join("\n");
    };
    expect(bad({ eps_q: i32(0) })).toMatch(/eps_q = 0 must be in 1\.\.2\^31/);
    expect(bad({ frac_x: i32(13) })).toMatch(/frac_x = 13 must be in 0\.\.acc_frac \(12\)/);
    expect(bad({ frac_g: i32(15) })).toMatch(/frac_g = 15 must be in 0\.\.14/);
    expect(bad({}, fmt(28, 28))).toMatch(/frac_g \+ 14 − out_frac = -1/);
    expect(bad({ gamma: i32(8192, 40000, 0) })).toMatch(/gamma\[1\] = 40000 must be within int16/);
    const back = decodeGraph(encodeGraph(handGraph()));
    expect(back.populations[1]).toMatchObject({ kind: "LayerNorm", epsilon: 1e-3 });
  });

  it("isqrt is the exact floor square root up to 2^52", () => {
    for (const n of [0, 1, 2, 3, 4, 15, 16, 17, 2 ** 18, 2 ** 52 - 1, (2 ** 26 - 1) ** 2, (2 ** 26 - 1) ** 2 - 1, 2271916 * 2 ** 18]) {
      const s = isqrt(n);
      expect(BigInt(s) ** 2n <= BigInt(n) && BigInt(s + 1) ** 2n > BigInt(n), `isqrt(${n}) = ${s}`).toBe(true);
    }
  });

  it("float: γ (x − μ) / √(σ² + ε) + β with the biased variance, per tick", () => {
    const b = new GraphBuilder("lnf");
    const x = b.input("x", 3, "values");
    const ln = b.layerNorm("ln", 3, 0.1, { gamma: Float32Array.of(1, -0.5, 2), beta: Float32Array.of(0, 0.5, -1) });
    b.project("id", x, ln, "x", identityCsr(3));
    b.outputs.push(ln.name);
    const out = new FloatEngine(b.build()).run({ data: Float64Array.of(1, 2, 4.5), batch: 1, ticks: 1, channels: 3 }).output;
    const v = (1.5 ** 2 + 0.5 ** 2 + 2 ** 2) / 3, r = 1 / Math.sqrt(v + 0.1);
    expect(Array.from(out)).toEqual([-1.5 * r, -0.5 * (-0.5 * r) + 0.5, 2 * (2 * r) - 1].map((y) => expect.closeTo(y, 14)));
  });

  it("SpiNNaker 2: a small LayerNorm lives on one PE; one that does not fit a PE is cut into slices that exchange partial sums", () => {
    const b = new GraphBuilder("wide");
    const n = 20_000;
    const x = b.input("x", 2, "values");
    const ln = b.layerNorm("too_wide", n, 1e-3, { gamma: new Float32Array(n).fill(1), beta: new Float32Array(n) });
    b.project("w", x, ln, "x", csrFromDense(new Float32Array(2 * n).fill(0.5), 2, n));
    b.outputs.push(ln.name);
    const wide = partition(b.build(), SPINNAKER2);
    const pp = wide.populations.find((p) => p.pop === "too_wide")!;
    expect(pp.slices.length).toBeGreaterThan(1);
    // Each slice carries the cross-PE reduction's totals (S2_OPS reduction.bytes) in its fixed part.
    for (const id of pp.slices) expect(wide.slices[id].fixedBytes).toBe(wide.slices[pp.slices[0]].fixedBytes);
    // A small one: one slice, no reduction state.
    const part = partition(handGraph(), SPINNAKER2);
    expect(part.populations.find((p) => p.pop === "ln")!.slices.length).toBe(1);
  });
});
