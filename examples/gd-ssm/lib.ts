// The GD-SSM construction (issue 23): one diagonal linear recurrent layer with multiplicative input and output
// gating that computes one step of gradient descent on an implicit linear regression, written with nmc's layers.
// Used by make.ts (the example) and test/examples/gd-ssm.test.ts (the float-vs-GD check on a small instance).
//
// Task: w ~ N(0, I/d), context pairs (x_i, y_i = w·x_i), i = 1..N, x_i ~ N(0, I_d), then a query x_q.
// Implicit model f(x) = W x with W_0 = 0 and loss L(W) = ½ Σ_i (W x_i − y_i)²; one GD step of size η gives
// W_1 = W_0 − η ∇L(W_0) = η Σ_i y_i x_iᵀ, so the prediction is ŷ = W_1 x_q = η Σ_i y_i (x_iᵀ x_q).
//
// Tokens: u_t = [x_t, y_t] ∈ ℝ^{d+1}; t = 1..N the context, t = N+1 the query [x_q, 0]. Model (functional):
//   a_t = Dense_x(u_t) = x_t                   (kernel [I_d; 0], no bias)      input gate, one branch
//   b_t = Dense_y(u_t) = y_t·1_d               (kernel [0; 1ᵀ], no bias)      input gate, other branch
//   z_t = a_t ⊙ b_t = y_t x_t                  Multiply: the cross product of the token's two halves
//   s_t = DiagonalSSM(z)_t = Σ_{i≤t} z_i       Λ̄ = 1, B̄ = I, C = I, D = 0: the gradient accumulator
//   q_t = Dense_q(u_t) = x_t                   (kernel [I_d; 0], no bias)      output gate
//   o_t = s_t ⊙ q_t                            Multiply: the multiplicative readout
//   ŷ_t = Dense_head(o_t) = η Σ_j o_{t,j}      (kernel η·1_d, no bias)
// At the query step z_{N+1} = 0 (y = 0), so s_{N+1} = Σ_{i≤N} y_i x_i and ŷ_{N+1} = η Σ_i y_i x_iᵀ x_q.
// The readout is `last` (the query tick).
//
// Λ̄ = 1: LRU parameterization, Λ̄ = exp(−exp(ν) + i·exp(θ)) with ν = θ = −100: exp(−100) = 3.7e−44, so in
// float64 Re Λ̄ = 1 exactly and Im Λ̄ = 3.7e−44; B̄ = diag(exp(γ))·B with γ = 0. (S5 with Λ = 0 gives Λ̄ = 1
// exactly in nmc, whose frontend takes the limit Δ·B of the gain, but nmc's tfjs layer computes (Λ̄ − 1)/Λ as
// 0/0 = NaN there, so the model would not run in tfjs; LRU runs in both.) Quantized, Λ̄ is Q15 int16, whose
// largest value is 32767/2^15 = 1 − 2^−15 (runtime/fixed/QUANTIZATION.md); with 16-bit states the
// ties-away rounding of Λ̄·x keeps every |x| ≤ 2^14 unchanged, so the integer accumulator is exact there.

import type * as tfjs from "@tensorflow/tfjs";
import { type NmcLayerClasses, seededRandom, type Tf } from "../../index.js";

export const NU_LOG_ONE = -100; // ν with exp(−exp(ν)) = 1 in float64 and float32

/** The step size η chosen for a model trained at context length N (see optimalEta). */
export function optimalEta(d: number, N: number): number {
  return 1 / (N + d + 1);
}

/**
 * Expected ICL loss E[(ŷ − y_q)²] of one-step GD with step η at context length N, for w ~ N(0, I/d),
 * x ~ N(0, I_d): η² N (N + d + 1) − 2 η N + 1 (E tr S = N d, E tr S² = N d (N + d + 1) for S = Σ x_i x_iᵀ;
 * then E = (1/d)(η² E tr S² − 2 η E tr S + d)). Minimal at η = 1/(N + d + 1), where it is (d + 1)/(N + d + 1).
 */
export function gdLossTheory(eta: number, d: number, N: number): number {
  return eta * eta * N * (N + d + 1) - 2 * eta * N + 1;
}

/** Seeded standard normals (mulberry32 + Box–Muller). */
export function normalRng(seed: number): () => number {
  const uni = seededRandom(seed);
  let spare: number | null = null;
  return () => {
    if (spare !== null) { const s = spare; spare = null; return s; }
    let u = 0;
    while (u === 0) u = uni();
    const v = uni();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

export interface Tasks {
  count: number;
  d: number;
  N: number;
  /** Tokens [count, N + 1, d + 1] (float32): N context tokens [x_i, y_i], then the query [x_q, 0]. */
  x: Float32Array;
  /** The true query targets y_q = w·x_q [count] (from the float32 tokens, in float64). */
  yq: Float64Array;
}

/** Random linear-regression tasks; y_i is computed in float64 from the float32 x_i, then stored as float32. */
export function makeTasks(seed: number, count: number, d: number, N: number): Tasks {
  const rnd = normalRng(seed);
  const T = N + 1, C = d + 1;
  const x = new Float32Array(count * T * C);
  const yq = new Float64Array(count);
  const w = new Float64Array(d);
  for (let b = 0; b < count; b++) {
    for (let j = 0; j < d; j++) w[j] = rnd() / Math.sqrt(d);
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * C;
      let y = 0;
      for (let j = 0; j < d; j++) {
        x[o + j] = Math.fround(rnd());
        y += w[j] * x[o + j];
      }
      if (t < N) x[o + d] = Math.fround(y);
      else yq[b] = y;
    }
  }
  return { count, d, N, x, yq };
}

/**
 * The one-step-GD prediction ŷ = η Σ_{i<N} y_i (x_iᵀ x_q) of each task [count], in float64 from the float32
 * tokens (exactly what the model is fed). `n` (default: all) uses only the first n context pairs.
 */
export function gdPredict(x: Float32Array, count: number, d: number, T: number, eta: number, n = T - 1): Float64Array {
  const C = d + 1;
  const out = new Float64Array(count);
  for (let b = 0; b < count; b++) {
    const q = (b * T + T - 1) * C;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const o = (b * T + i) * C;
      let dot = 0;
      for (let j = 0; j < d; j++) dot += x[o + j] * x[q + j];
      s += x[o + d] * dot;
    }
    out[b] = eta * s;
  }
  return out;
}

/** Analytic weights by layer name and weight name (tfjs shapes: Dense kernel [in, out]). */
export function analyticWeights(d: number, eta: number): Record<string, Record<string, { shape: number[]; data: Float32Array }>> {
  const C = d + 1;
  const xSel = new Float32Array(C * d); // [I_d; 0]
  for (let j = 0; j < d; j++) xSel[j * d + j] = 1;
  const ySel = new Float32Array(C * d); // [0; 1ᵀ]
  for (let j = 0; j < d; j++) ySel[d * d + j] = 1;
  const eye = new Float32Array(d * d);
  for (let j = 0; j < d; j++) eye[j * d + j] = 1;
  return {
    gate_x: { kernel: { shape: [C, d], data: xSel } },
    gate_y: { kernel: { shape: [C, d], data: ySel.slice() } },
    gate_q: { kernel: { shape: [C, d], data: xSel.slice() } },
    accumulator: {
      nu_log: { shape: [d], data: new Float32Array(d).fill(NU_LOG_ONE) },
      theta_log: { shape: [d], data: new Float32Array(d).fill(NU_LOG_ONE) },
      gamma_log: { shape: [d], data: new Float32Array(d) },
      B_re: { shape: [d, d], data: eye.slice() },
      B_im: { shape: [d, d], data: new Float32Array(d * d) },
      C_re: { shape: [d, d], data: eye.slice() },
      C_im: { shape: [d, d], data: new Float32Array(d * d) },
      D: { shape: [d], data: new Float32Array(d) },
    },
    head: { kernel: { shape: [d, 1], data: new Float32Array(d).fill(eta) } },
  };
}

/**
 * The architecture (tfjs functional model, input [T = any, d + 1]); no Dense has a bias. Random initial
 * weights; `setAnalytic` writes the construction's. `stateSize` P of the SSM: d in the construction.
 */
export function buildGdSsm(tf: Tf, L: NmcLayerClasses, d: number, opts: { seed?: number; stateSize?: number; rMin?: number; rMax?: number } = {}): tfjs.LayersModel {
  const seed = opts.seed ?? 1;
  const inp = tf.input({ shape: [null, d + 1], name: "tokens" }) as tfjs.SymbolicTensor;
  const apply = (layer: tfjs.layers.Layer, x: tfjs.SymbolicTensor | tfjs.SymbolicTensor[]) => layer.apply(x) as tfjs.SymbolicTensor;
  const dense = (name: string, units: number, k: number) =>
    tf.layers.dense({ name, units, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: seed * 10 + k }) });
  const a = apply(dense("gate_x", d, 1), inp);
  const b = apply(dense("gate_y", d, 2), inp);
  const z = apply(tf.layers.multiply({ name: "cross" }), [a, b]);
  const s = apply(new L.DiagonalSSM({
    name: "accumulator", stateSize: opts.stateSize ?? d, parameterization: "lru", seed: seed * 10 + 3,
    ...(opts.rMin !== undefined ? { rMin: opts.rMin } : {}), ...(opts.rMax !== undefined ? { rMax: opts.rMax } : {}),
  }), z);
  const q = apply(dense("gate_q", d, 4), inp);
  const o = apply(tf.layers.multiply({ name: "readout_gate" }), [s, q]);
  const y = apply(dense("head", 1, 5), o);
  return tf.model({ inputs: inp, outputs: y, name: "gd_ssm" });
}

/** Writes the analytic weights into a model built by buildGdSsm (stateSize d). */
export function setAnalytic(tf: Tf, model: tfjs.LayersModel, d: number, eta: number): void {
  const W = analyticWeights(d, eta);
  for (const [layerName, ws] of Object.entries(W)) {
    const layer = model.getLayer(layerName);
    const values = layer.weights.map((v) => {
      const short = v.originalName.split("/").pop()!;
      const w = ws[short];
      if (!w) throw new Error(`gd-ssm: no analytic value for ${layerName}/${short}`);
      return tf.tensor(w.data, w.shape);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** A model's weights by layer and weight name, as float32 arrays. */
export function readWeights(model: tfjs.LayersModel): Record<string, Record<string, { shape: number[]; data: Float32Array }>> {
  const out: Record<string, Record<string, { shape: number[]; data: Float32Array }>> = {};
  for (const layer of model.layers) {
    for (const v of layer.weights) {
      const short = v.originalName.split("/").pop()!;
      (out[layer.name] ??= {})[short] = { shape: v.shape as number[], data: v.read().dataSync() as Float32Array };
    }
  }
  return out;
}

/** The userDefinedMetadata saved with the model: the readout and the construction's parameters. */
export function gdSsmMetadata(d: number, eta: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { nmc: { readout: "last" }, example: "gd-ssm", gd_ssm: { d, eta, tokens: "[x_i, y_i] for i = 1..N, then [x_q, 0]", ...extra } };
}

/**
 * The effective in-context learning-rate matrix of a model of this architecture at lag τ ≥ 1: the coefficient
 * M_τ[a, b] of y_i · x_i[a] · x_q[b] in ŷ when (x_i, y_i) lies τ ticks before the query. For the construction
 * M_τ = η I for every τ. With the SSM kernel K_τ = Re(C diag(Λ̄^τ) B̄) [H, H] (τ ≥ 1: D does not enter),
 * Dense kernels X = gate_x, Y = gate_y, Q = gate_q ([d+1, d]) and head h [d]:
 *   M_τ[a, b] = Σ_k h_k Q[b, k] Σ_m K_τ[k, m] (X[a, m] Y[y, m] + X[y, m] Y[a, m]),  y = the index d.
 * Also returns the ratio of the cubic-in-x coefficients (x_i[a] x_i[c] x_q[b], no y) to ‖M_τ‖: what a model
 * that learned GD exactly has at 0 (trained models may not, since y = w·x makes these not fully separable).
 */
export function effectiveEta(W: ReturnType<typeof readWeights>, d: number, tau: number): { M: number[][]; cubicRatio: number; lambdaAbs: number[] } {
  const X = W.gate_x.kernel.data, Y = W.gate_y.kernel.data, Q = W.gate_q.kernel.data, h = W.head.kernel.data;
  const s = W.accumulator;
  const P = s.nu_log.shape[0], H = d;
  const lre = new Float64Array(P), lim = new Float64Array(P), lambdaAbs: number[] = [];
  for (let p = 0; p < P; p++) {
    const mag = Math.exp(-Math.exp(s.nu_log.data[p]));
    const ph = Math.exp(s.theta_log.data[p]);
    // Λ̄^τ
    const m = mag ** tau, a = ph * tau;
    lre[p] = m * Math.cos(a);
    lim[p] = m * Math.sin(a);
    lambdaAbs.push(mag);
  }
  const K = new Float64Array(H * H);
  for (let k = 0; k < H; k++) {
    for (let mm = 0; mm < H; mm++) {
      let acc = 0;
      for (let p = 0; p < P; p++) {
        const g = Math.exp(s.gamma_log.data[p]);
        const br = g * s.B_re.data[p * H + mm], bi = g * s.B_im.data[p * H + mm];
        const cr = s.C_re.data[k * P + p], ci = s.C_im.data[k * P + p];
        // Re(c · λ^τ · b)
        const lbr = lre[p] * br - lim[p] * bi, lbi = lre[p] * bi + lim[p] * br;
        acc += cr * lbr - ci * lbi;
      }
      K[k * H + mm] = acc;
    }
  }
  const Cn = d + 1;
  const yi = d;
  const M: number[][] = [];
  for (let a = 0; a < d; a++) {
    const row: number[] = [];
    for (let b = 0; b < d; b++) {
      let v = 0;
      for (let k = 0; k < H; k++) {
        let inner = 0;
        for (let mm = 0; mm < H; mm++) inner += K[k * H + mm] * (X[a * d + mm] * Y[yi * d + mm] + X[yi * d + mm] * Y[a * d + mm]);
        v += h[k] * Q[b * d + k] * inner;
      }
      row.push(v);
    }
    M.push(row);
  }
  // cubic terms: coefficient of x_i[a] x_i[c] x_q[b] (symmetrized in a, c)
  let cub = 0;
  for (let a = 0; a < d; a++) for (let c = 0; c < d; c++) for (let b = 0; b < d; b++) {
    let v = 0;
    for (let k = 0; k < H; k++) {
      let inner = 0;
      for (let mm = 0; mm < H; mm++) inner += K[k * H + mm] * X[a * d + mm] * Y[c * d + mm];
      v += h[k] * Q[b * d + k] * inner;
    }
    cub += v * v;
  }
  let mn = 0;
  for (const r of M) for (const v of r) mn += v * v;
  void Cn;
  return { M, cubicRatio: Math.sqrt(cub / Math.max(mn, 1e-300)), lambdaAbs };
}
