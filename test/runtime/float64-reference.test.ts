// Acceptance: random functional models mixing EGRU, DiagonalSSM (S5, LRU), Dense, LayerNormalization, GELU,
// Multiply, Add and residual skips — `nmc run --engine float` equals a float64 reference within 1e-4 relative.
//
// The reference (test/support/reference64.ts) reads model.json and the weight shards itself and evaluates
// the layer math in Float64Array arithmetic; it imports nothing of nmc. nmc is driven through its public
// API (index.ts: loadModel, runFloat) for the property and through the built CLI for the acceptance cases
// and the example models.
//
// "Relative" here is elementwise with an absolute floor: |nmc − ref| ≤ 1e-4 · max(1, |ref|) for every
// output value (every tick and unit, or every readout value). The max over all cases of
// |nmc − ref| / max(1, |ref|) is logged.
//
// EGRU is discontinuous at its threshold: a draw in which some unit lands within 1e-9 of θ (f64) could fire
// on one side and not the other without either being wrong; such draws are set aside (counted; none is
// expected). --precision f32 has its own tolerance and margin, justified at F32_TOL below.
//
// EGRU zoneout (p from the config, inference blend c = p·h_{t−1} + (1 − p)·c̃ before the threshold, as EvNN's
// compiled kernel) is drawn too. nmc rounds p to float32 as EvNN's kernel takes it (compiler/frontend/
// layers.ts), the reference keeps the JSON double: for p = 0.3 that alone differs by ~8e−8 relative (0 for
// p = 0.25 or 0.5, exact in float32). Where nmc refuses zoneout, such models are skipped (counted).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initBestBackend, loadModel, NmcError, predictFloat, registerNmcLayers, runFloat, saveModelToDir, type Tf } from "../../index.js";
import type { NmcLayerClasses } from "../../runtime/tfjs/index.js";
import { ensureBuilt, repoRoot, runNmcAsync } from "../support/cli.js";
import {
  batchNormCase, buildFunctional, functionalInputs, type GraphCase, layerNormCase, mixedReferenceCase, referenceCaseArb,
} from "../support/functional-models.js";
import { fuzzParams } from "../support/fuzz.js";
import { encodeNpyF32, readNpy } from "../support/npy-lite.js";
import { erf64, loadModel64, newStats64, phi64, type Readout64, runModel64, type Stats64 } from "../support/reference64.js";

/** The acceptance tolerance of the f64 engine: |nmc − ref| ≤ TOL · max(1, |ref|). */
const TOL = 1e-4;
/** An f64 draw with an EGRU unit this close to its threshold is set aside (see the header). */
const F64_MARGIN = 1e-9;
/**
 * --precision f32: the engine stores every output, port accumulator and state in float32 (unit roundoff
 * u = 2^−24 ≈ 6e−8) and computes each operation in float64 in between, so each stored value carries a
 * relative rounding of at most u. To first order the output error is u times the sum over roundings of
 * |∂out/∂value|·|value|: a port sum of n terms adds up to n·u·Σ|terms| (n ≤ 128 here); a DiagonalSSM mode
 * integrates its state's roundings with gain up to min(T, 1/(1 − |Λ̄|)) (T ≤ 56; |Λ̄| ≤ 0.999 in ssm-events);
 * a LayerNorm amplifies by at most 1/√ε ≤ 32. For ssm-events (sums of 64, two SSM layers over T = 56) that
 * worst case is ~64·56·u ≈ 2e−4 per layer, so the tolerance is 1e−3 · max(1, |ref|). Rounding errors of
 * random sign add like a random walk, far below the worst case: the largest error measured is 1.3e−6
 * (ssm-events; random functional models 1.3e−6, egru-smnist 2.6e−7, logged). A real model-math bug (a lost
 * bias, a swapped gate, Euler B̄ for ZOH) costs 1e−2 to 1 and still fails.
 */
const F32_TOL = 1e-3;
/**
 * f32 and EGRU: a unit whose float64 c lies within the f32 error of c of its threshold may fire on one side
 * only, which changes every later output by O(θ). That error is the port sums' rounding (n·u·Σ|terms|:
 * ~4e−5 worst case for egru-smnist's 128-unit recurrent sums, ~1e−6 typically) carried through the gates;
 * samples whose smallest |c − θ| (the reference's) is below 1e−4 are set aside for the f32 check (counted:
 * one of the first six egru-smnist digits, at 9.9e−6).
 */
const F32_MARGIN = 1e-4;

let tf: Tf;
let L: NmcLayerClasses;
let tmp: string;
let dirs = 0;

beforeAll(async () => {
  tf = (await initBestBackend()).tf;
  L = registerNmcLayers(tf);
  tmp = mkdtempSync(join(tmpdir(), "nmc-f64ref-"));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------
// helpers

interface Cmp {
  /** max |got − want| / max(1, |want|) */
  rel: number;
  at: number;
}

function compare(got: ArrayLike<number>, want: ArrayLike<number>): Cmp {
  expect(got.length).toBe(want.length);
  let rel = 0, at = -1;
  for (let i = 0; i < want.length; i++) {
    const r = Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i]));
    if (Number.isNaN(r)) return { rel: Infinity, at: i };
    if (r > rel) {
      rel = r;
      at = i;
    }
  }
  return { rel, at };
}

/** Runs the reference sample by sample: the outputs and each sample's smallest EGRU margin |c − θ|. */
function reference(file: string, x: ArrayLike<number>, B: number, T: number, C: number, readout?: Readout64, seen?: Stats64["seen"]) {
  const m = loadModel64(file);
  const xs = Float64Array.from(x);
  const parts: Float64Array[] = [];
  const margins: number[] = [];
  for (let b = 0; b < B; b++) {
    const stats = newStats64();
    parts.push(runModel64(m, xs.subarray(b * T * C, (b + 1) * T * C), [T, C], { readout, stats }).output);
    margins.push(stats.egruMinMargin);
    if (seen) for (const [k, v] of stats.seen) seen.set(k, (seen.get(k) ?? 0) + v);
  }
  const per = parts[0]?.length ?? 0;
  const output = new Float64Array(B * per);
  parts.forEach((p, b) => output.set(p, b * per));
  return { output, per, margins };
}

/** Elementwise comparison restricted to the samples whose EGRU margin is at least `margin`. */
function compareSamples(got: ArrayLike<number>, want: Float64Array, per: number, margins: number[], margin: number) {
  let rel = 0, kept = 0;
  margins.forEach((m, b) => {
    if (m < margin) return;
    kept++;
    rel = Math.max(rel, compare(Float64Array.from(got).subarray(b * per, (b + 1) * per), want.subarray(b * per, (b + 1) * per)).rel);
  });
  return { rel, kept, setAside: margins.length - kept };
}

function describeCase(c: GraphCase): string {
  return `seed ${c.seed}, ${c.ticks} ticks × ${c.channels} channels, steps ${JSON.stringify(c.steps)}`;
}

async function saveCase(c: GraphCase, readout: Readout64): Promise<string> {
  const { model } = buildFunctional(tf, L, c);
  const dir = join(tmp, `case${dirs++}`);
  await saveModelToDir(model, dir, readout === "none" ? undefined : { nmc: { readout } });
  model.dispose();
  return join(dir, "model.json");
}

/** A hand-made model.json + weights.bin (float32), as tfjs writes them. */
function writeHandModel(name: string, topology: unknown, weights: [string, number[], number[]][], meta?: unknown): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const total = weights.reduce((a, [, , v]) => a + v.length, 0);
  const bin = Buffer.alloc(4 * total);
  let at = 0;
  for (const [, , v] of weights) for (const x of v) at = bin.writeFloatLE(x, at);
  writeFileSync(join(dir, "weights.bin"), bin);
  const json = {
    format: "layers-model", modelTopology: topology,
    weightsManifest: [{ paths: ["weights.bin"], weights: weights.map(([n, shape]) => ({ name: n, shape, dtype: "float32" })) }],
    ...(meta ? { userDefinedMetadata: meta } : {}),
  };
  writeFileSync(join(dir, "model.json"), JSON.stringify(json));
  return join(dir, "model.json");
}

function sequential(inputShape: (number | null)[], layers: { class_name: string; config: Record<string, unknown> }[]) {
  return {
    class_name: "Sequential",
    config: { name: "hand", layers: [{ class_name: "InputLayer", config: { batch_input_shape: [null, ...inputShape], name: "x" } }, ...layers] },
  };
}

/** nmc's float engine (public API) on a model file. */
function nmcFloat(file: string, x: ArrayLike<number>, B: number, T: number, C: number, precision: "f64" | "f32" = "f64") {
  return runFloat(loadModel(file).graph, { data: Float64Array.from(x), batch: B, ticks: T, channels: C }, { precision }).output;
}

/**
 * True when nmc refuses the model for its EGRU zoneout (an nmc without zoneout support: the test then has only
 * the reference's side of such a model); any other error is rethrown.
 */
function refusesZoneout(file: string): boolean {
  try {
    loadModel(file);
    return false;
  } catch (e) {
    if (e instanceof NmcError && /zoneout/.test(`${e.path ?? ""} ${e.message}`)) return true;
    throw e;
  }
}

const f32 = (v: number) => Math.fround(v);

// ---------------------------------------------------------------------------------------------------------

describe("reference64 itself: hand-computed cases", () => {
  it("erf and Φ within 2 ulps (tabulated values)", () => {
    const table: [number, number][] = [
      [1e-8, 1.1283791670955126e-8], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [0.7, 0.6778011938374184],
      [1, 0.8427007929497149], [1.5, 0.9661051464753108], [2, 0.9953222650189527], [2.5, 0.999593047982555],
      [3, 0.9999779095030014], [3.5, 0.9999992569016276], [4, 0.9999999845827421], [5, 0.9999999999984626],
    ];
    for (const [x, e] of table) {
      expect(Math.abs(erf64(x) - e), `erf(${x})`).toBeLessThanOrEqual(2 * 2 ** -52 * e);
      expect(erf64(-x)).toBe(-erf64(x));
    }
    expect(erf64(0)).toBe(0);
    expect(erf64(7)).toBe(1);
    // Φ in the lower tail keeps its relative accuracy: Φ(−2) = 0.0227501319481792072, Φ(−8) = 6.220960574271784e−16.
    expect(Math.abs(phi64(1) - 0.8413447460685429)).toBeLessThanOrEqual(2 ** -52);
    expect(Math.abs(phi64(-2) / 0.022750131948179207 - 1)).toBeLessThan(1e-15);
    expect(Math.abs(phi64(-8) / 6.220960574271784e-16 - 1)).toBeLessThan(1e-14);
  });

  it("Dense: every activation nmc accepts, against closed forms", () => {
    // One unit, kernel 1, bias 0.25, so the pre-activation of tick t is x_t + 0.25.
    const xs = [0.75, -1.25, 1.75, -0.75, -30.25, 29.75];
    const pre = xs.map((x) => x + 0.25); // 1, −1, 2, −0.5, −30, 30
    const want: Record<string, number[]> = {
      linear: pre,
      relu: pre.map((v) => Math.max(0, v)),
      sigmoid: [0.7310585786300049, 0.2689414213699951, 0.8807970779778823, 0.3775406687981454, 9.357622968840175e-14, 0.9999999999999065],
      tanh: pre.map(Math.tanh),
      // x·Φ(x) with Φ(1) = 0.8413447460685429, Φ(−1) = 0.15865525393145707, Φ(2) = 0.9772498680518208, Φ(−0.5) = 0.3085375387259869
      gelu: [0.8413447460685429, -0.15865525393145707, 1.9544997361036416, -0.15426876936299344, -0, 30],
      gelu_new: pre.map((v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))),
      swish: [0.7310585786300049, -0.2689414213699951, 1.7615941559557646, -0.1887703343990727, -2.8072868906520526e-12, 29.999999999997197],
      softplus: [1.3132616875182228, 0.31326168751822286, 2.1269280110429727, 0.47407698418010663, 9.357622968840175e-14, 30.000000000000092],
    };
    for (const [act, w] of Object.entries(want)) {
      const file = writeHandModel(`dense-${act}`, sequential([6, 1], [{ class_name: "Dense", config: { name: "d", units: 1, activation: act } }]), [
        ["d/kernel", [1, 1], [1]], ["d/bias", [1], [0.25]],
      ]);
      const y = runModel64(loadModel64(file), xs, [6, 1]).output;
      w.forEach((v, t) => expect(Math.abs(y[t] - v), `${act}(${pre[t]})`).toBeLessThanOrEqual(1e-15 * Math.max(1, Math.abs(v))));
      // nmc on the same file (cases a random draw hardly reaches: |x| = 30).
      expect(compare(nmcFloat(file, xs, 1, 6, 1), y).rel, act).toBeLessThan(1e-12);
    }
    // softmax over the features of each tick
    const file = writeHandModel("dense-softmax", sequential([1, 3], [{ class_name: "Dense", config: { name: "d", units: 3, activation: "softmax", use_bias: false } }]), [
      ["d/kernel", [3, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1]],
    ]);
    const y = runModel64(loadModel64(file), [1, 2, 3], [1, 3]).output;
    [0.09003057317038046, 0.24472847105479767, 0.6652409557748219].forEach((v, i) => expect(y[i]).toBeCloseTo(v, 15));
    expect(compare(nmcFloat(file, [1, 2, 3], 1, 1, 3), y).rel).toBeLessThan(1e-14);
  });

  const egruWeights = (zone?: number): [string, unknown, [string, number[], number[]][]] => [
    `egru${zone ?? ""}`,
    sequential([3, 1], [{ class_name: "EGRU", config: { name: "e", units: 2, ...(zone !== undefined ? { zoneout: zone } : {}) } }]),
    [
      // columns z0 z1 r0 r1 g0 g1; no weights reach z and r, so z = r = σ(0) = ½ throughout.
      ["e/kernel", [1, 6], [0, 0, 0, 0, 2, 1]],
      ["e/recurrent_kernel", [2, 6], [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0.5, 0]],
      ["e/bias", [6], [0, 0, 0, 0, 0, 0]],
      ["e/recurrent_bias", [6], [0, 0, 0, 0, 0.25, 0]],
      // θ1 = 1.7 is clamped to 1 (never reached: |c| < 1); θ0 = 0.3.
      ["e/thr", [2], [0.3, 1.7]],
    ],
  ];

  it("EGRU: events, reset by subtraction, recurrence through the events, clamped thresholds", () => {
    const [name, topo, w] = egruWeights();
    const file = writeHandModel(name, topo, w);
    const y = runModel64(loadModel64(file), [1, 0, 1], [3, 1]).output;
    const th0 = f32(0.3); // θ1 = 1.7 is clamped to 1, which |c| < 1 never crosses
    // t0 (x = 1, no previous events): c0 = ½·tanh(2 + ½·0.25) crosses θ0; c1 = ½·tanh(1) does not.
    const c0 = 0.5 * Math.tanh(2 + 0.5 * 0.25), c1 = 0.5 * Math.tanh(1);
    expect(c0).toBeGreaterThan(th0);
    const h0 = c0 - th0;
    // t1 (x = 0): unit 0's event c0 reaches g1 through R[0][g1] = 1; g0 sees only its recurrent bias.
    const d0 = 0.5 * h0 + 0.5 * Math.tanh(0.5 * 0.25), d1 = 0.5 * c1 + 0.5 * Math.tanh(0.5 * c0);
    expect(d0).toBeLessThan(th0);
    // t2 (x = 1): no events at t1, so the recurrent products are the biases.
    const e0 = 0.5 * d0 + 0.5 * Math.tanh(2 + 0.5 * 0.25), e1 = 0.5 * d1 + 0.5 * Math.tanh(1);
    expect(e0).toBeGreaterThan(th0);
    expect(e1).toBeLessThan(1);
    [c0, 0, 0, 0, e0, 0].forEach((v, i) => expect(y[i]).toBeCloseTo(v, 15));
    expect(compare(nmcFloat(file, [1, 0, 1], 1, 3, 1), y).rel).toBeLessThan(1e-14);
  });

  it("EGRU zoneout p at inference: c = p·h_{t−1} + (1 − p)·c̃ before the threshold (EvNN's compiled kernel)", () => {
    const [name, topo, w] = egruWeights(0.25);
    const y = runModel64(loadModel64(writeHandModel(name, topo, w)), [1, 0, 1], [3, 1]).output;
    const p = 0.25, th0 = f32(0.3);
    const blend = (h: number, cand: number) => p * h + (1 - p) * cand;
    // t0: h = 0, so c = (1 − p)·c̃; unit 0 fires, unit 1 (θ = 1) does not.
    const c0 = blend(0, 0.5 * Math.tanh(2 + 0.5 * 0.25)), c1 = blend(0, 0.5 * Math.tanh(1));
    expect(c0).toBeGreaterThan(th0);
    const h0 = c0 - th0;
    // t1 (x = 0): unit 0's event c0 drives g1.
    const d0 = blend(h0, 0.5 * h0 + 0.5 * Math.tanh(0.5 * 0.25)), d1 = blend(c1, 0.5 * c1 + 0.5 * Math.tanh(0.5 * c0));
    expect(d0).toBeLessThan(th0);
    // t2 (x = 1): no events at t1.
    const e0 = blend(d0, 0.5 * d0 + 0.5 * Math.tanh(2 + 0.5 * 0.25));
    expect(e0).toBeGreaterThan(th0);
    expect(blend(d1, 0.5 * d1 + 0.5 * Math.tanh(1))).toBeLessThan(1);
    [c0, 0, 0, 0, e0, 0].forEach((v, i) => expect(y[i]).toBeCloseTo(v, 15));
    // zoneout 0 (all nmc accepts today) is the plain EGRU, as is a config without the key.
    const [n0, t0, w0] = egruWeights(0);
    const plain = (file: string) => Array.from(runModel64(loadModel64(file), [1, 0, 1], [3, 1]).output);
    expect(plain(writeHandModel(n0, t0, w0))).toEqual(plain(writeHandModel("egru-nokey", egruWeights()[1], w0)));
  });

  it("DiagonalSSM S5 (ZOH, including the Λ → 0 limit Δ·B) and LRU, P = 1, against closed forms", () => {
    const T = 5;
    const u = [1, 0, 0, 0.5, -1];
    const ssm = (name: string, cfg: Record<string, unknown>, params: [string, number[]][]) =>
      writeHandModel(name, sequential([T, 1], [{ class_name: "DiagonalSSM", config: { name: "s", state_size: 1, ...cfg } }]),
        params.map(([n, v]) => [`s/${n}`, n.startsWith("B_") ? [1, 1] : n.startsWith("C_") ? [1, 1] : [1], v]));
    type C2 = [number, number];
    const mul = (a: C2, b: C2): C2 => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
    const div = (a: C2, b: C2): C2 => {
      const d = b[0] ** 2 + b[1] ** 2;
      return [(a[0] * b[0] + a[1] * b[1]) / d, (a[1] * b[0] - a[0] * b[1]) / d];
    };
    /** y_k = Re(C Σ_j λ^(k−j) B̄ u_j) + D u_k */
    const closed = (lam: C2, bbar: C2, c: C2, d: number) => u.map((_, k) => {
      let x: C2 = [0, 0];
      for (let j = 0; j <= k; j++) {
        const lx = mul(lam, x);
        x = [lx[0] + bbar[0] * u[j], lx[1] + bbar[1] * u[j]];
      }
      return c[0] * x[0] - c[1] * x[1] + d * u[k];
    });
    const [lre, lim, ls, bre, bim, cre, cim, d] = [-0.3, 0.7, Math.log(0.5), 0.8, -0.4, 1.1, 0.6, 0.25].map(f32);
    const dt = Math.exp(ls);
    const lam: C2 = [Math.exp(lre * dt) * Math.cos(lim * dt), Math.exp(lre * dt) * Math.sin(lim * dt)];
    const bbar = mul(div([lam[0] - 1, lam[1]], [lre, lim]), [bre, bim]);
    const s5 = ssm("s5", { parameterization: "s5" }, [["Lambda_re", [lre]], ["Lambda_im", [lim]], ["B_re", [bre]], ["B_im", [bim]], ["C_re", [cre]], ["C_im", [cim]], ["D", [d]], ["log_step", [ls]]]);
    const y5 = runModel64(loadModel64(s5), u, [T, 1]).output;
    closed(lam, bbar, [cre, cim], d).forEach((v, k) => expect(y5[k]).toBeCloseTo(v, 13));
    expect(compare(nmcFloat(s5, u, 1, T, 1), y5).rel).toBeLessThan(1e-13);

    // Λ = 0: Λ̄ = 1, B̄ = Δ·B (the limit of (Λ̄ − 1)/Λ), so x_k accumulates Δ·B·u.
    const zero = ssm("s5zero", { parameterization: "s5" }, [["Lambda_re", [0]], ["Lambda_im", [0]], ["B_re", [bre]], ["B_im", [bim]], ["C_re", [cre]], ["C_im", [cim]], ["D", [d]], ["log_step", [ls]]]);
    const y0 = runModel64(loadModel64(zero), u, [T, 1]).output;
    closed([1, 0], [dt * bre, dt * bim], [cre, cim], d).forEach((v, k) => expect(y0[k]).toBeCloseTo(v, 14));
    expect(compare(nmcFloat(zero, u, 1, T, 1), y0).rel).toBeLessThan(1e-13);

    // LRU: Λ̄ = exp(−exp(ν) + i·exp(θ)), B̄ = exp(γ)·B.
    const [nu, th, ga] = [Math.log(0.3), Math.log(0.8), -0.2].map(f32);
    const lru = ssm("lru", { parameterization: "lru" }, [["nu_log", [nu]], ["theta_log", [th]], ["gamma_log", [ga]], ["B_re", [bre]], ["B_im", [bim]], ["C_re", [cre]], ["C_im", [cim]], ["D", [d]]]);
    const yl = runModel64(loadModel64(lru), u, [T, 1]).output;
    const mag = Math.exp(-Math.exp(nu)), ph = Math.exp(th), g = Math.exp(ga);
    closed([mag * Math.cos(ph), mag * Math.sin(ph)], [g * bre, g * bim], [cre, cim], d).forEach((v, k) => expect(yl[k]).toBeCloseTo(v, 14));
    expect(compare(nmcFloat(lru, u, 1, T, 1), yl).rel).toBeLessThan(1e-13);
  });

  it("functional topology (tfjs and Keras 3 inbound nodes): LayerNorm, BatchNorm, merges, readouts", () => {
    const node = (...names: string[]) => [names.map((n) => [n, 0, 0, {}])];
    const keras3 = (...names: string[]) => [{ args: [names.map((n) => ({ class_name: "__keras_tensor__", config: { keras_history: [n, 0, 0] } }))], kwargs: {} }];
    const layers = (inb: (...n: string[]) => unknown) => [
      { name: "x", class_name: "InputLayer", config: { batch_input_shape: [null, 2, 3], name: "x" }, inbound_nodes: [] },
      { name: "ln", class_name: "LayerNormalization", config: { name: "ln", axis: -1, epsilon: 0 }, inbound_nodes: inb("x") },
      { name: "bn", class_name: "BatchNormalization", config: { name: "bn", axis: -1, epsilon: 0 }, inbound_nodes: inb("x") },
      { name: "avg", class_name: "Average", config: { name: "avg" }, inbound_nodes: inb("ln", "bn") },
      { name: "mul", class_name: "Multiply", config: { name: "mul" }, inbound_nodes: inb("avg", "x") },
      { name: "cat", class_name: "Concatenate", config: { name: "cat", axis: -1 }, inbound_nodes: inb("mul", "ln") },
      { name: "add", class_name: "Add", config: { name: "add" }, inbound_nodes: inb("cat", "cat2") },
      { name: "cat2", class_name: "Concatenate", config: { name: "cat2", axis: -1 }, inbound_nodes: inb("x", "bn") },
    ];
    const weights: [string, number[], number[]][] = [
      ["ln/gamma", [3], [1, 1, 1]], ["ln/beta", [3], [0, 0, 0]],
      ["bn/gamma", [3], [2, 2, 2]], ["bn/beta", [3], [1, 1, 1]], ["bn/moving_mean", [3], [1, 1, 1]], ["bn/moving_variance", [3], [4, 4, 4]],
    ];
    const x = [1, 2, 3, 0, 0, 3];
    // tick 0: LN = (x − 2)/√(2/3) = [−a, 0, a], a = √1.5; BN = 2(x − 1)/2 + 1 = x.
    const a = Math.sqrt(1.5);
    const ln0 = [-a, 0, a], bn0 = [1, 2, 3];
    const avg0 = ln0.map((v, i) => (v + bn0[i]) / 2), mul0 = avg0.map((v, i) => v * x[i]);
    const t0 = [...mul0, ...ln0].map((v, i) => v + [...x.slice(0, 3), ...bn0][i]);
    // tick 1: x = [0, 0, 3]: mean 1, var 2, LN = [−1, −1, 2]/√2; BN = x.
    const ln1 = [-1, -1, 2].map((v) => v / Math.SQRT2), bn1 = [0, 0, 3];
    const mul1 = ln1.map((v, i) => ((v + bn1[i]) / 2) * x[3 + i]);
    const t1 = [...mul1, ...ln1].map((v, i) => v + [...x.slice(3), ...bn1][i]);
    for (const [kind, inb] of [["tfjs", node], ["keras3", keras3]] as const) {
      const topo = { class_name: kind === "tfjs" ? "Model" : "Functional", config: { name: "f", layers: layers(inb), input_layers: [["x", 0, 0]], output_layers: [["add", 0, 0]] } };
      const file = writeHandModel(`functional-${kind}`, topo, weights, { nmc: { readout: "mean" } });
      const m = loadModel64(file);
      expect(m.readout).toBe("mean");
      const per = runModel64(m, x, [2, 3], { readout: "none" }).output;
      [...t0, ...t1].forEach((v, i) => expect(per[i]).toBeCloseTo(v, 14));
      const mean = runModel64(m, x, [2, 3]).output;
      t0.forEach((v, i) => expect(mean[i]).toBeCloseTo((v + t1[i]) / 2, 14));
      expect(Array.from(runModel64(m, x, [2, 3], { readout: "last" }).output)).toEqual(Array.from(per.subarray(6)));
      expect(compare(runModel64(m, x, [2, 3], { readout: "sum" }).output, t0.map((v, i) => v + t1[i])).rel).toBeLessThan(1e-15);
      if (kind === "tfjs") expect(compare(nmcFloat(file, x, 1, 2, 3), mean).rel).toBeLessThan(1e-14);
    }
  });
  it("Embedding (token ids) and TimeDistributed(Dense) with its inner layer's weight names; a top-level nmc readout", () => {
    const E = Array.from({ length: 15 }, (_, i) => f32(Math.sin(i))); // [5, 3]
    const W = [1, 2, -1, 0.5, 0.3, -0.7].map(f32), b = [0.1, 0.2].map(f32); // [3, 2], [2]
    const topo = {
      class_name: "Sequential", config: { name: "tok", layers: [
        { class_name: "Embedding", config: { name: "emb", input_dim: 5, output_dim: 3, batch_input_shape: [null, 4] } },
        { class_name: "TimeDistributed", config: { name: "td", layer: { class_name: "Dense", config: { name: "inner", units: 2, activation: "tanh" } } } },
      ] },
    };
    const dir = writeHandModel("tokens", topo, [["emb/embeddings", [5, 3], E], ["inner/kernel", [3, 2], W], ["inner/bias", [2], b]]);
    const json = JSON.parse(readFileSync(dir, "utf8"));
    writeFileSync(dir, JSON.stringify({ ...json, nmc: { readout: "sum" } }));
    const ids = [0, 3, 4, 1, 2, 2, 0, 4];
    const y = runModel64(loadModel64(dir), ids, [2, 4]).output;
    for (let s = 0; s < 2; s++) {
      for (let k = 0; k < 2; k++) {
        let want = 0;
        for (let t = 0; t < 4; t++) {
          const id = ids[s * 4 + t];
          want += Math.tanh(b[k] + E[id * 3] * W[k] + E[id * 3 + 1] * W[2 + k] + E[id * 3 + 2] * W[4 + k]);
        }
        expect(y[s * 2 + k]).toBeCloseTo(want, 14);
      }
    }
    expect(compare(nmcFloat(dir, ids, 2, 4, 1), y).rel).toBeLessThan(1e-14);
  });
});

// ---------------------------------------------------------------------------------------------------------

/**
 * Every Dense activation but softmax, each as a Dense and some as an Activation layer, so each run sees them all
 * (nmc accepts softmax on the output population only: the hand-made Dense test runs it there).
 */
const activationsCase: GraphCase = {
  channels: 3, ticks: 5, seed: 31337, perturb: true, steps: [
    { op: "dense", from: 0, units: 4, activation: "swish" },
    { op: "dense", from: 1, units: 4, activation: "softplus" },
    { op: "dense", from: 2, units: 4, activation: "tanh" },
    { op: "dense", from: 3, units: 4, activation: "gelu_new" },
    { op: "activation", from: 1, activation: "gelu" },
    { op: "activation", from: 5, activation: "sigmoid" },
    { op: "merge", kind: "average", from: [4, 6] },
    { op: "concat", from: [7, 0] },
    { op: "dense", from: 8, units: 3, activation: "relu" },
  ],
};

const READOUTS: Readout64[] = ["none", "last", "mean", "sum"];
const perturbed = (c: GraphCase): GraphCase => ({ ...c, perturb: true });

describe("nmc's float engine equals the float64 reference on random functional models", () => {
  it("reference64 agrees with tfjs's predict (float32) on random functional models: the reference reads the files as tfjs does", async () => {
    let checked = 0, setAside = 0;
    await fc.assert(fc.asyncProperty(referenceCaseArb, async (c) => {
      const { model } = buildFunctional(tf, L, c);
      const dir = join(tmp, `tf${dirs++}`);
      await saveModelToDir(model, dir);
      const B = 2;
      const x = functionalInputs(c, B);
      const want = predictFloat(model, x, [B, c.ticks, c.channels], tf);
      model.dispose();
      const ref = reference(join(dir, "model.json"), x, B, c.ticks, c.channels);
      // tfjs is float32: normwise per sample as in test/compiler/functional.test.ts (1e-4 of the output
      // scale); samples with an EGRU unit within float32 reach of its threshold are set aside.
      ref.margins.forEach((m, b) => {
        if (m < 1e-4) return void setAside++;
        checked++;
        let scale = 1e-6, err = 0;
        for (let i = b * ref.per; i < (b + 1) * ref.per; i++) {
          scale = Math.max(scale, Math.abs(ref.output[i]));
          err = Math.max(err, Math.abs(ref.output[i] - want[i]));
        }
        expect(err / scale, `sample ${b}: ${describeCase(c)}`).toBeLessThan(1e-4);
      });
    }), { ...fuzzParams(20), examples: [[mixedReferenceCase], [activationsCase]] });
    console.log(`reference64 vs tfjs: ${checked} samples checked, ${setAside} set aside (EGRU within 1e-4 of θ)`);
    expect(checked).toBeGreaterThan(10);
  }, 120_000);

  it("random graphs (EGRU with and without zoneout, S5, LRU, Dense of every activation but softmax, LayerNorm, BatchNorm, GELU, Multiply, Add, Average, Concatenate, residual skips, gated blocks), every readout: f64 within 1e-4 relative, f32 within 1e-3", async () => {
    const seen = new Map<string, number>();
    let max64 = 0, max32 = 0, cases = 0, setAside64 = 0, kept32 = 0, setAside32 = 0, zoneoutRefused = 0;
    await fc.assert(fc.asyncProperty(referenceCaseArb, fc.constantFrom(...READOUTS), async (c, readout) => {
      const file = await saveCase(c, readout);
      const B = 3, { ticks: T, channels: C } = c;
      const x = functionalInputs(c, B);
      if (refusesZoneout(file)) {
        zoneoutRefused++;
        fc.pre(false);
      }
      const ref = reference(file, x, B, T, C, undefined, seen);
      if (Math.min(...ref.margins) < F64_MARGIN) {
        setAside64++;
        fc.pre(false);
      }
      const got = nmcFloat(file, x, B, T, C);
      const r = compare(got, ref.output);
      expect(r.rel, `readout ${readout}, ${describeCase(c)}: output ${r.at} nmc ${got[r.at]} reference ${ref.output[r.at]}`).toBeLessThanOrEqual(TOL);
      max64 = Math.max(max64, r.rel);
      const g32 = nmcFloat(file, x, B, T, C, "f32");
      const s = compareSamples(g32, ref.output, ref.per, ref.margins, F32_MARGIN);
      expect(s.rel, `--precision f32, readout ${readout}, ${describeCase(c)}`).toBeLessThanOrEqual(F32_TOL);
      max32 = Math.max(max32, s.rel);
      kept32 += s.kept;
      setAside32 += s.setAside;
      cases++;
    }), {
      ...fuzzParams(100),
      examples: [[mixedReferenceCase, "mean"], [activationsCase, "none"], [perturbed(layerNormCase), "last"], [perturbed(batchNormCase), "sum"]],
    });
    console.log(`float64 reference property: ${cases} models, max relative error f64 ${max64.toExponential(2)}, f32 ${max32.toExponential(2)} ` +
      `(${kept32} samples; ${setAside32} set aside for f32, ${setAside64} draws for f64: EGRU at its threshold; ${zoneoutRefused} with an EGRU zoneout nmc refused); ` +
      `layers seen (per sample): ${JSON.stringify(Object.fromEntries(seen))}`);
    for (const k of ["EGRU", "DiagonalSSM:s5", "DiagonalSSM:lru", "Dense", "LayerNormalization", "BatchNormalization", "Multiply", "Add", "Average", "Concatenate", "Activation",
      "act:gelu", "act:gelu_new", "act:swish", "act:softplus", "act:relu", "act:tanh", "act:sigmoid"]) {
      expect(seen.get(k) ?? 0, `layers evaluated: ${k}`).toBeGreaterThan(0);
    }
    expect(cases).toBeGreaterThan(20);
  }, 180_000);
});

// ---------------------------------------------------------------------------------------------------------

describe("nmc run --engine float (the CLI) equals the float64 reference", () => {
  beforeAll(async () => {
    await ensureBuilt();
  }, 300_000);

  async function cliRun(model: string, x: ArrayLike<number>, shape: number[], extra: string[] = []) {
    const dir = join(tmp, `cli${dirs++}`);
    mkdirSync(dir);
    const input = join(dir, "x.npy"), out = join(dir, "y.npy");
    writeFileSync(input, encodeNpyF32(x, shape));
    const r = await runNmcAsync(["run", model, "--engine", "float", "--input", input, "--out", out, ...extra]);
    expect(r.code, r.stderr).toBe(0);
    return readNpy(out);
  }

  it("random functional models and the mixed acceptance case, every readout (metadata and --readout), f64 and --precision f32", async () => {
    const drawn = fc.sample(fc.tuple(referenceCaseArb, fc.constantFrom(...READOUTS)), { numRuns: 2, seed: Number(process.env.NMC_FUZZ_SEED ?? 4711) });
    let max64 = 0, max32 = 0;
    for (const [c, readout] of [[mixedReferenceCase, "mean"] as const, ...drawn]) {
      const file = await saveCase(c, readout);
      const B = 3, { ticks: T, channels: C } = c;
      const x = functionalInputs(c, B);
      const ref = reference(file, x, B, T, C);
      if (Math.min(...ref.margins) < F64_MARGIN || refusesZoneout(file)) continue;
      const y = await cliRun(file, x, [B, T, C]);
      expect(y.shape).toEqual(readout === "none" ? [B, T, 3] : [B, 3]);
      // --out is float32: its rounding (≤ 6e−8 relative) is well inside the tolerance.
      const r = compare(y.data, ref.output);
      expect(r.rel, `readout ${readout}, ${describeCase(c)}`).toBeLessThanOrEqual(TOL);
      max64 = Math.max(max64, r.rel);
      const y32 = await cliRun(file, x, [B, T, C], ["--precision", "f32"]);
      const s = compareSamples(y32.data, ref.output, ref.per, ref.margins, F32_MARGIN);
      expect(s.rel, `--precision f32, ${describeCase(c)}`).toBeLessThanOrEqual(F32_TOL);
      max32 = Math.max(max32, s.rel);
    }
    // --readout on the command line wins over the metadata.
    const file = await saveCase(mixedReferenceCase, "mean");
    const x = functionalInputs(mixedReferenceCase, 2);
    const { ticks: T, channels: C } = mixedReferenceCase;
    const y = await cliRun(file, x, [2, T, C], ["--readout", "last"]);
    const r = compare(y.data, reference(file, x, 2, T, C, "last").output);
    expect(r.rel).toBeLessThanOrEqual(TOL);
    console.log(`CLI on functional models: max relative error f64 ${Math.max(max64, r.rel).toExponential(2)}, f32 ${max32.toExponential(2)}`);
  }, 120_000);

  // The bundled examples, whatever their topology is today (ssm-events may become a functional gated-residual
  // model): the first samples of inputs/x.npy, f64 and f32.
  for (const ex of ["egru-smnist", "ssm-events"]) {
    it(`examples/${ex}: first 6 samples of inputs/x.npy`, async () => {
      const file = join(repoRoot, "examples", ex, "model.json");
      const all = readNpy(join(repoRoot, "examples", ex, "inputs", "x.npy"));
      const [, T, C] = all.shape;
      const B = Math.min(6, all.shape[0]);
      const x = all.data.subarray(0, B * T * C);
      const ref = reference(file, x, B, T, C);
      const y = await cliRun(file, x, [B, T, C]);
      const r = compareSamples(y.data, ref.output, ref.per, ref.margins, F64_MARGIN);
      expect(r.kept).toBe(B);
      expect(r.rel).toBeLessThanOrEqual(TOL);
      const y32 = await cliRun(file, x, [B, T, C], ["--precision", "f32"]);
      const s = compareSamples(y32.data, ref.output, ref.per, ref.margins, F32_MARGIN);
      expect(s.kept, "samples clear of an EGRU threshold for the f32 check").toBeGreaterThanOrEqual(B / 2);
      expect(s.rel).toBeLessThanOrEqual(F32_TOL);
      console.log(`examples/${ex}: max relative error f64 ${r.rel.toExponential(2)}, f32 ${s.rel.toExponential(2)} (${s.kept}/${B} samples; ` +
        `smallest EGRU margin ${Math.min(...ref.margins).toExponential(2)})`);
    }, 60_000);
  }

  it("EGRU zoneout: the reference applies it from the config; nmc either refuses it (not implemented) or equals the reference", async () => {
    const src = join(repoRoot, "examples", "egru-smnist");
    const dir = join(tmp, "zoneout");
    mkdirSync(dir);
    const json = JSON.parse(readFileSync(join(src, "model.json"), "utf8"));
    const layers = json.modelTopology.config.layers ?? json.modelTopology.config;
    const egru = layers.find((l: { class_name: string }) => l.class_name === "EGRU");
    egru.config.zoneout = 0.3;
    for (const g of json.weightsManifest) for (const p of g.paths) copyFileSync(join(src, p), join(dir, p));
    const file = join(dir, "model.json");
    writeFileSync(file, JSON.stringify(json));
    const all = readNpy(join(src, "inputs", "x.npy"));
    const [, T, C] = all.shape;
    const B = 4;
    const x = all.data.subarray(0, B * T * C);
    const ref = reference(file, x, B, T, C);
    // zoneout changes the outputs (else this case would test nothing).
    expect(compare(ref.output, reference(join(src, "model.json"), x, B, T, C).output).rel).toBeGreaterThan(1e-3);
    let graph;
    try {
      graph = loadModel(file).graph;
    } catch (e) {
      expect(e).toBeInstanceOf(NmcError);
      expect(String((e as NmcError).path ?? ""), (e as Error).message).toMatch(/zoneout/);
      console.log(`EGRU zoneout: nmc refuses it (${(e as Error).message}); only the reference ran`);
      return;
    }
    const got = runFloat(graph, { data: Float64Array.from(x), batch: B, ticks: T, channels: C }).output;
    const r = compareSamples(got, ref.output, ref.per, ref.margins, F64_MARGIN);
    expect(r.kept).toBe(B);
    expect(r.rel).toBeLessThanOrEqual(TOL);
    const y = await cliRun(file, x, [B, T, C]);
    expect(compare(y.data, ref.output).rel).toBeLessThanOrEqual(TOL);
    console.log(`EGRU zoneout 0.3 (egru-smnist): nmc accepts it, max relative error ${r.rel.toExponential(2)}`);
  }, 60_000);
});
