import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { GraphBuilder, csrFromDense } from "../../ir/builder.js";
import { summarize } from "../../runtime/counters.js";
import { FloatEngine, runFloat } from "../../runtime/float/interpreter.js";
import { erf } from "../../runtime/float/math.js";
import { buildGraph, graphShapeArb, uniform } from "../support/graphs.js";
import { buildModel, makeBatch, modelArb } from "../support/quant-models.js";
import { fuzzParams } from "../support/fuzz.js";

/** One input channel, two EGRU units; only the g gate has weights, so z = r = σ(0) = 1/2 throughout. */
function twoUnitEgru() {
  const b = new GraphBuilder("two");
  const x = b.input("x", 1, "values");
  const e = b.egru("egru", 2, { biasX: new Float32Array(6), biasH: new Float32Array(6), thr: Float32Array.of(0.3, 0.1) });
  //                       z0 z1 r0 r1 g0  g1
  b.project("k", x, e, "input", csrFromDense([0, 0, 0, 0, 2, -1], 1, 6));
  // unit 0's event feeds unit 1's candidate through the reset gate
  b.project("r", e, e, "recurrent", csrFromDense([0, 0, 0, 0, 0, 1, /* row 1 */ 0, 0, 0, 0, 0, 0], 2, 6), 1);
  b.outputs.push(e.name);
  return b.build();
}

describe("float interpreter: EGRU formulas by hand", () => {
  it("two units over three ticks", () => {
    const g = twoUnitEgru();
    const run = runFloat(g, { data: [1, 0, 1], batch: 1, ticks: 3, channels: 1 });
    // tick 1: x = 1, no previous events: g = tanh(2), tanh(−1); c = g/2 (h = 0)
    const c1 = [Math.tanh(2) / 2, Math.tanh(-1) / 2]; // 0.4820, −0.3808
    // unit 0 fires (0.4820 > 0.3): y = c, h = c − 0.3; unit 1 stays below 0.1
    const h1 = [c1[0] - Math.fround(0.3), c1[1]]; // θ is stored as float32, as the model file has it
    // tick 2: x = 0; vh_g1 = y0 · 1 = c1[0]; g1 = tanh(r · vh_g1) = tanh(c1[0] / 2); g0 = tanh(0) = 0
    const c2 = [h1[0] / 2, h1[1] / 2 + Math.tanh(c1[0] / 2) / 2]; // 0.0910, −0.0722: no events
    // tick 3: x = 1 again, no previous events
    const c3 = [c2[0] / 2 + Math.tanh(2) / 2, c2[1] / 2 + Math.tanh(-1) / 2]; // 0.5275 fires, −0.4169
    const expected = [c1[0], 0, 0, 0, c3[0], 0];
    run.output.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 12));
    expect(c1[0]).toBeCloseTo(0.482014, 6);
    expect(c3[0]).toBeCloseTo(0.527518, 5);

    const c = run.counters;
    expect(c.populations.egru.events).toBe(2);
    expect(c.populations.egru.unitTicks).toBe(6);
    // input row has 2 stored weights, touched at ticks 1 and 3; recurrent row 0 (1 weight) at tick 2
    expect(c.projections.k).toMatchObject({ dense: 18, effective: 4, activityOnly: 12, weightOnly: 6 });
    expect(c.projections.r).toMatchObject({ dense: 36, effective: 1, activityOnly: 6, weightOnly: 3 });
    const s = summarize(c);
    expect(s.activation_sparsity_per_population.egru).toBeCloseTo(4 / 6, 12);
    expect(s.gains.combined).toBeCloseTo((18 + 36) / 5, 12);
  });

  it("fires only strictly above threshold (c − θ = 0 does not fire)", () => {
    const b = new GraphBuilder("eq");
    const x = b.input("x", 1, "values");
    // g = tanh(atanh(0.6)) = 0.6, z = 1/2 → c = 0.3 = θ exactly? use θ = c computed the same way
    const c = Math.tanh(Math.atanh(0.6)) / 2;
    const e = b.egru("egru", 1, { biasX: new Float64Array(3), biasH: new Float64Array(3), thr: Float64Array.of(c) });
    b.project("k", x, e, "input", csrFromDense([0, 0, Math.atanh(0.6)], 1, 3, "f64"));
    b.project("r", e, e, "recurrent", csrFromDense([0, 0, 0], 1, 3), 1);
    b.outputs.push(e.name);
    expect(Array.from(runFloat(b.build(), { data: [1], batch: 1, ticks: 1, channels: 1 }).output)).toEqual([0]);
  });
});

describe("float interpreter: DiagonalSSM", () => {
  it("P = 1, H = 1 matches the closed form y_k = Re(c Σ λ^(k−j) b u_j) + d u_k", () => {
    const lam = { re: 0.8 * Math.cos(0.7), im: 0.8 * Math.sin(0.7) };
    const bb = { re: 0.5, im: -0.25 }, cc = { re: 1.5, im: 0.75 }, d = 0.3;
    const b = new GraphBuilder("ssm");
    const x = b.input("x", 1, "values");
    const s = b.diagonalSsm("ssm", 1, 1, "lru", { lambdaRe: Float64Array.of(lam.re), lambdaIm: Float64Array.of(lam.im), cRe: Float64Array.of(cc.re), cIm: Float64Array.of(cc.im) });
    b.project("B", x, s, "u", csrFromDense([bb.re, bb.im], 1, 2, "f64"));
    b.project("D", x, s, "skip", csrFromDense([d], 1, 1, "f64"));
    b.outputs.push(s.name);
    const u = [1, -2, 0, 0.5, 3];
    const run = runFloat(b.build(), { data: u, batch: 1, ticks: u.length, channels: 1 });
    for (let k = 0; k < u.length; k++) {
      let re = 0, im = 0;
      for (let j = 0; j <= k; j++) {
        const m = 0.8 ** (k - j), a = 0.7 * (k - j);
        const pr = m * Math.cos(a), pi = m * Math.sin(a); // λ^(k−j)
        const qr = pr * bb.re - pi * bb.im, qi = pr * bb.im + pi * bb.re; // · b
        re += qr * u[j];
        im += qi * u[j];
      }
      expect(run.output[k]).toBeCloseTo(cc.re * re - cc.im * im + d * u[k], 12);
    }
  });
});

describe("float interpreter: engine behaviour", () => {
  it("samples of a batch are independent: a batch equals its samples run one by one", () => {
    fc.assert(fc.property(graphShapeArb, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }), (shape, B, T) => {
      const g = buildGraph(shape);
      const r = uniform(shape.seed + 1);
      const data = Float64Array.from({ length: B * T * shape.inputs }, () => (Math.abs(r()) < 0.4 ? 0 : r()));
      const all = runFloat(g, { data, batch: B, ticks: T, channels: shape.inputs });
      const per = all.output.length / B;
      for (let b = 0; b < B; b++) {
        const one = runFloat(g, { data: data.subarray(b * T * shape.inputs, (b + 1) * T * shape.inputs), batch: 1, ticks: T, channels: shape.inputs });
        expect(Array.from(one.output)).toEqual(Array.from(all.output.subarray(b * per, (b + 1) * per)));
      }
    }), { numRuns: 40 });
  });

  it("Float32 storage stays close to Float64 when no unit sits at its threshold", () => {
    const g = buildGraph({ seed: 5, inputs: 4, egru: 6, state: 3, dense: 3, pruneFraction: 0.3, readout: "none" });
    const r = uniform(9);
    const data = Float64Array.from({ length: 2 * 8 * 4 }, r);
    const a = runFloat(g, { data, batch: 2, ticks: 8, channels: 4 });
    const b = new FloatEngine(g, { precision: "f32" }).run({ data, batch: 2, ticks: 8, channels: 4 });
    a.output.forEach((v, i) => expect(Math.abs(v - b.output[i])).toBeLessThan(1e-4));
  });

  it("readout modes: last, mean and sum of the per-tick output", () => {
    const shape = { seed: 21, inputs: 2, egru: 3, state: 2, dense: 2, pruneFraction: 0, readout: "none" as const };
    const r = uniform(3);
    const data = Float64Array.from({ length: 5 * 2 }, r);
    const per = runFloat(buildGraph(shape), { data, batch: 1, ticks: 5, channels: 2 }).output;
    const at = (t: number, k: number) => per[t * 2 + k];
    for (const mode of ["last", "mean", "sum"] as const) {
      const out = runFloat(buildGraph({ ...shape, readout: mode }), { data, batch: 1, ticks: 5, channels: 2 }).output;
      for (let k = 0; k < 2; k++) {
        const sum = [0, 1, 2, 3, 4].reduce((a, t) => a + at(t, k), 0);
        expect(out[k]).toBeCloseTo(mode === "last" ? at(4, k) : mode === "mean" ? sum / 5 : sum, 12);
      }
    }
  });

  it("token inputs select one embedding row per tick", () => {
    const b = new GraphBuilder("tok");
    const x = b.input("tokens", 4, "tokens");
    const e = b.dense("emb", 2, "linear", new Float32Array(2));
    b.project("emb.embeddings", x, e, "x", csrFromDense([1, 2, 3, 4, 5, 6, 7, 8], 4, 2));
    b.outputs.push(e.name);
    const run = runFloat(b.build(), { data: [3, 0, 2], batch: 1, ticks: 3, channels: 1 });
    expect(Array.from(run.output)).toEqual([7, 8, 1, 2, 5, 6]);
  });

  it("Multiply: out = a ⊙ b of this tick's port sums, on random gated models (identity operands checked exactly)", () => {
    let gates = 0;
    fc.assert(fc.property(modelArb(), fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 6 }), (spec, seed, T) => {
      const g = buildModel(spec);
      const index = new Map(g.populations.map((p, i) => [p.name, i]));
      const outs = g.populations.map((p) => new Float64Array(T * p.size));
      const ports = g.populations.map(() => ({} as Record<string, Float64Array>));
      new FloatEngine(g, {
        observer: (k, v, _b, t) => {
          outs[k].set(v.out, t * g.populations[k].size);
          for (const [name, a] of Object.entries(v.ports)) (ports[k][name] ??= new Float64Array(T * a.length)).set(a, t * a.length);
        },
      }).run(makeBatch(g, seed, 1, T, 1));
      g.populations.forEach((p, k) => {
        if (p.kind !== "Multiply") return;
        gates++;
        const n = p.size;
        // Compared as numbers (+ 0 folds −0 into +0): a port starts at +0 and a silent source adds nothing, so
        // a source output of −0 (e.g. GELU of a tiny negative) arrives as +0, the same value.
        for (let i = 0; i < T * n; i++) expect(outs[k][i] + 0).toBe(ports[k].a[i] * ports[k].b[i] + 0);
        // A port fed by one identity projection alone holds its source's output (of this or the previous tick).
        for (const port of ["a", "b"]) {
          const inc = g.projections.filter((j) => j.target === p.name && j.port === port);
          if (inc.length !== 1) continue;
          const src = outs[index.get(inc[0].source)!], d = inc[0].delay;
          for (let t = 0; t < T; t++) for (let i = 0; i < n; i++) expect(ports[k][port][t * n + i] + 0).toBe(t - d < 0 ? 0 : src[(t - d) * n + i] + 0);
        }
      });
    }), fuzzParams(60));
    expect(gates).toBeGreaterThan(0);
  });

  it("erf is accurate to 1e-14 at known points", () => {
    expect(erf(0)).toBe(0);
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 14);
    expect(erf(-1)).toBeCloseTo(-0.8427007929497149, 14);
    expect(erf(2.5)).toBeCloseTo(0.999593047982555, 14);
    expect(erf(3.5)).toBeCloseTo(0.9999992569016276, 14);
  });
});
