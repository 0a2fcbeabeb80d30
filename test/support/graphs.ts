// Small IR graphs built directly with the builder (no model.json), for IR and interpreter tests.
import fc from "fast-check";
import { GraphBuilder, csrFromDense } from "../../ir/builder.js";
import type { Graph, Population } from "../../ir/types.js";

const f32 = (n: number, g: () => number) => Float32Array.from({ length: n }, g);

/** A seeded uniform generator in [lo, hi). */
export function uniform(seed: number, lo = -1, hi = 1): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >> 17;
    s ^= s << 5; s >>>= 0;
    return lo + (hi - lo) * (s / 2 ** 32);
  };
}

export interface GraphShape {
  seed: number;
  inputs: number;
  egru: number;
  state: number;
  dense: number;
  pruneFraction: number;
  readout: "none" | "last" | "mean" | "sum";
  /** The SSM's output gated as in event-ssm's block, s ⊙ σ(Dense(s)), before the Dense (weights from their own seed). */
  gate?: boolean;
}

/** Input → EGRU → DiagonalSSM (→ ⊙ σ(Dense)) → Dense (→ Readout), weights seeded, some pruned to exact zeros. */
export function buildGraph(s: GraphShape): Graph {
  const r = uniform(s.seed);
  const w = (n: number) => f32(n, () => (Math.abs(r()) < s.pruneFraction ? 0 : r() * 1.5));
  const b = new GraphBuilder("g");
  const x = b.input("x", s.inputs, "values");
  const e = b.egru("egru", s.egru, { biasX: w(3 * s.egru), biasH: w(3 * s.egru), thr: f32(s.egru, () => Math.abs(r()) * 0.5) });
  b.project("egru.kernel", x, e, "input", csrFromDense(w(s.inputs * 3 * s.egru), s.inputs, 3 * s.egru));
  b.project("egru.recurrent_kernel", e, e, "recurrent", csrFromDense(w(s.egru * 3 * s.egru), s.egru, 3 * s.egru), 1);
  const P = s.state;
  const H = s.egru;
  const mag = Float64Array.from({ length: P }, () => 0.5 + 0.45 * Math.abs(r()));
  const ph = Float64Array.from({ length: P }, () => Math.PI * r());
  const ssm = b.diagonalSsm("ssm", H, P, "lru", {
    lambdaRe: mag.map((m, i) => m * Math.cos(ph[i])), lambdaIm: mag.map((m, i) => m * Math.sin(ph[i])),
    cRe: Float64Array.from({ length: H * P }, r), cIm: Float64Array.from({ length: H * P }, r),
  });
  b.project("ssm.B", e, ssm, "u", csrFromDense(Float64Array.from({ length: H * 2 * P }, r), H, 2 * P, "f64"));
  b.project("ssm.D", e, ssm, "skip", csrFromDense(Float64Array.from({ length: H * H }, (_, i) => (i % (H + 1) === 0 ? r() : 0)), H, H));
  let y: Population = ssm;
  if (s.gate) {
    const rg = uniform(s.seed ^ 0x9a7e);
    const g = b.dense("gate", H, "sigmoid", f32(H, rg));
    b.project("gate.kernel", ssm, g, "x", csrFromDense(f32(H * H, () => rg() * 1.5), H, H));
    y = b.gate("ssm.mul", ssm, g);
  }
  const d = b.dense("dense", s.dense, "tanh", w(s.dense));
  b.project("dense.kernel", y, d, "x", csrFromDense(w(H * s.dense), H, s.dense));
  if (s.readout !== "none") b.outputs.push(b.readout("readout", d, s.readout).name);
  else b.outputs.push(d.name);
  return b.build();
}

export const graphShapeArb: fc.Arbitrary<GraphShape> = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  inputs: fc.integer({ min: 1, max: 6 }),
  egru: fc.integer({ min: 1, max: 8 }),
  state: fc.integer({ min: 1, max: 6 }),
  dense: fc.integer({ min: 1, max: 5 }),
  pruneFraction: fc.constantFrom(0, 0.3, 0.8),
  readout: fc.constantFrom("none" as const, "last" as const, "mean" as const, "sum" as const),
  gate: fc.boolean(),
});
