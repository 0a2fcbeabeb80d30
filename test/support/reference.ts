// An independent float64 reference for the model math of docs/model-math.md, written straight from the
// spec with plain loops over Float64Array. It imports nothing from the project: the acceptance tests compare
// `nmc run` against it, so sharing code would let one bug pass as two agreeing implementations.
//
// Layouts are C order, as in the model.json weight manifest: a [C, 3H] kernel holds W[c][j] at c*3H + j.

export type Activation = "linear" | "relu" | "sigmoid" | "tanh" | "swish" | "softplus" | "gelu_new";
export type ReadoutMode = "last" | "mean" | "sum";

export interface EgruParams {
  kernel: Float64Array; // [C, 3H], gate blocks z, r, g
  recurrent_kernel: Float64Array; // [H, 3H]
  bias: Float64Array; // [3H]
  recurrent_bias: Float64Array; // [3H]
  thr: Float64Array; // [H]
}

export interface LruParams {
  nu_log: Float64Array; // [P]
  theta_log: Float64Array; // [P]
  gamma_log: Float64Array; // [P]
  B_re: Float64Array; // [P, H]
  B_im: Float64Array; // [P, H]
  C_re: Float64Array; // [H, P]
  C_im: Float64Array; // [H, P]
  D: Float64Array; // [H]
}

export interface S5Params {
  Lambda_re: Float64Array; // [P], negative
  Lambda_im: Float64Array; // [P]
  log_step: Float64Array; // [P]
  B_re: Float64Array; // [P, H]
  B_im: Float64Array; // [P, H]
  C_re: Float64Array; // [H, P]
  C_im: Float64Array; // [H, P]
  D: Float64Array; // [H]
}

/** One layer of a model, as the random-model generator describes it and the reference runs it. */
export type LayerSpec =
  | { kind: "EGRU"; name: string; inWidth: number; units: number; params: EgruParams }
  | { kind: "LRU"; name: string; width: number; stateSize: number; params: LruParams }
  | { kind: "S5"; name: string; width: number; stateSize: number; params: S5Params }
  | {
      kind: "Dense";
      name: string;
      inWidth: number;
      units: number;
      activation: Activation;
      kernel: Float64Array; // [I, O]
      bias: Float64Array; // [O]
    }
  | { kind: "Dropout"; name: string; width: number; rate: number };

export interface ModelSpec {
  inputWidth: number;
  layers: LayerSpec[];
}

export function layerOutWidth(layer: LayerSpec): number {
  switch (layer.kind) {
    case "EGRU":
    case "Dense":
      return layer.units;
    case "LRU":
    case "S5":
    case "Dropout":
      return layer.width;
  }
}

export function modelOutWidth(spec: ModelSpec): number {
  const last = spec.layers[spec.layers.length - 1];
  return last === undefined ? spec.inputWidth : layerOutWidth(last);
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** What an EGRU run did, for diagnosing a mismatch (a flipped event sits where `minMargin` is ~0). */
export interface EgruStats {
  /** (unit, tick) pairs that fired. */
  events: number;
  /** (unit, tick) pairs in all. */
  steps: number;
  /** min over (unit, tick) of |c − θ|: how close the run came to a threshold decision. */
  minMargin: number;
}

export function newEgruStats(): EgruStats {
  return { events: 0, steps: 0, minMargin: Infinity };
}

/** EGRU per EvNN: events y_t = o ⊙ c for every tick, [T*H]. */
export function egruForward(x: Float64Array, T: number, C: number, p: EgruParams, stats?: EgruStats): Float64Array {
  const H = p.thr.length;
  const G = 3 * H;
  const thr = new Float64Array(H);
  for (let i = 0; i < H; i++) thr[i] = Math.min(1, Math.max(0, p.thr[i]!));
  const h = new Float64Array(H);
  let yPrev = new Float64Array(H);
  const out = new Float64Array(T * H);
  const vx = new Float64Array(G);
  const vh = new Float64Array(G);
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < G; j++) {
      let s = p.bias[j]!;
      for (let c = 0; c < C; c++) s += x[t * C + c]! * p.kernel[c * G + j]!;
      vx[j] = s;
      let r = p.recurrent_bias[j]!;
      for (let i = 0; i < H; i++) r += yPrev[i]! * p.recurrent_kernel[i * G + j]!;
      vh[j] = r;
    }
    const y = new Float64Array(H);
    for (let i = 0; i < H; i++) {
      const z = sigmoid(vx[i]! + vh[i]!);
      const r = sigmoid(vx[H + i]! + vh[H + i]!);
      const g = Math.tanh(vx[2 * H + i]! + r * vh[2 * H + i]!);
      const c = z * h[i]! + (1 - z) * g;
      const o = c - thr[i]! > 0 ? 1 : 0;
      if (stats) {
        stats.events += o;
        stats.steps += 1;
        stats.minMargin = Math.min(stats.minMargin, Math.abs(c - thr[i]!));
      }
      y[i] = o === 1 ? c : 0; // o ⊙ c, without the −0 that 0 · (negative c) gives
      h[i] = c - o * thr[i]!;
      out[t * H + i] = y[i]!;
    }
    yPrev = y;
  }
  return out;
}

/**
 * The complex diagonal recurrence shared by LRU and S5 once discretized:
 * x_k = Λ̄ ⊙ x_{k−1} + B̄ u_k, y_k = Re(C x_k) + D ⊙ u_k, zero initial state.
 */
function diagonalRecurrence(
  u: Float64Array,
  T: number,
  H: number,
  lamRe: Float64Array,
  lamIm: Float64Array,
  bRe: Float64Array,
  bIm: Float64Array,
  cRe: Float64Array,
  cIm: Float64Array,
  D: Float64Array,
): Float64Array {
  const P = lamRe.length;
  const xRe = new Float64Array(P);
  const xIm = new Float64Array(P);
  const out = new Float64Array(T * H);
  for (let t = 0; t < T; t++) {
    for (let p = 0; p < P; p++) {
      let nr = lamRe[p]! * xRe[p]! - lamIm[p]! * xIm[p]!;
      let ni = lamRe[p]! * xIm[p]! + lamIm[p]! * xRe[p]!;
      for (let k = 0; k < H; k++) {
        const v = u[t * H + k]!;
        nr += bRe[p * H + k]! * v;
        ni += bIm[p * H + k]! * v;
      }
      xRe[p] = nr;
      xIm[p] = ni;
    }
    for (let k = 0; k < H; k++) {
      // Re((a + ib)(c + id)) = ac − bd
      let s = D[k]! * u[t * H + k]!;
      for (let p = 0; p < P; p++) s += cRe[k * P + p]! * xRe[p]! - cIm[k * P + p]! * xIm[p]!;
      out[t * H + k] = s;
    }
  }
  return out;
}

/** LRU (Orvieto et al. 2023): Λ̄ = exp(−exp(ν) + i·exp(θ)), B̄ = diag(exp(γ)) (B_re + i B_im). */
export function lruForward(u: Float64Array, T: number, H: number, p: LruParams): Float64Array {
  const P = p.nu_log.length;
  const lamRe = new Float64Array(P);
  const lamIm = new Float64Array(P);
  const bRe = new Float64Array(P * H);
  const bIm = new Float64Array(P * H);
  for (let q = 0; q < P; q++) {
    const mag = Math.exp(-Math.exp(p.nu_log[q]!));
    const phase = Math.exp(p.theta_log[q]!);
    lamRe[q] = mag * Math.cos(phase);
    lamIm[q] = mag * Math.sin(phase);
    const gamma = Math.exp(p.gamma_log[q]!);
    for (let k = 0; k < H; k++) {
      bRe[q * H + k] = gamma * p.B_re[q * H + k]!;
      bIm[q * H + k] = gamma * p.B_im[q * H + k]!;
    }
  }
  return diagonalRecurrence(u, T, H, lamRe, lamIm, bRe, bIm, p.C_re, p.C_im, p.D);
}

/** S5 with zero-order hold (Smith et al. 2023): Λ̄ = exp(ΛΔ), B̄ = ((Λ̄ − 1)/Λ) ⊙ B row-wise, Δ = exp(log_step). */
export function s5Forward(u: Float64Array, T: number, H: number, p: S5Params): Float64Array {
  const P = p.Lambda_re.length;
  const lamRe = new Float64Array(P);
  const lamIm = new Float64Array(P);
  const bRe = new Float64Array(P * H);
  const bIm = new Float64Array(P * H);
  for (let q = 0; q < P; q++) {
    const step = Math.exp(p.log_step[q]!);
    const lr = p.Lambda_re[q]!;
    const li = p.Lambda_im[q]!;
    const mag = Math.exp(lr * step);
    lamRe[q] = mag * Math.cos(li * step);
    lamIm[q] = mag * Math.sin(li * step);
    // γ = (Λ̄ − 1) / Λ, complex division: (a + ib)/(c + id) = ((ac + bd) + i(bc − ad)) / (c² + d²)
    const a = lamRe[q]! - 1;
    const b = lamIm[q]!;
    const den = lr * lr + li * li;
    const gRe = (a * lr + b * li) / den;
    const gIm = (b * lr - a * li) / den;
    for (let k = 0; k < H; k++) {
      const br = p.B_re[q * H + k]!;
      const bi = p.B_im[q * H + k]!;
      bRe[q * H + k] = gRe * br - gIm * bi;
      bIm[q * H + k] = gRe * bi + gIm * br;
    }
  }
  return diagonalRecurrence(u, T, H, lamRe, lamIm, bRe, bIm, p.C_re, p.C_im, p.D);
}

function activate(v: number, activation: Activation): number {
  switch (activation) {
    case "linear":
      return v;
    case "relu":
      return v > 0 ? v : 0;
    case "sigmoid":
      return sigmoid(v);
    case "tanh":
      return Math.tanh(v);
    case "swish": // x·σ(x)
      return v / (1 + Math.exp(-v));
    case "softplus": // log(1 + eˣ) = x + log(1 + e⁻ˣ)
      return v > 0 ? v + Math.log1p(Math.exp(-v)) : Math.log1p(Math.exp(v));
    case "gelu_new": // ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
      return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  }
}

/** Dense applied per tick: y_t = act(x_t · W + b), [T*O]. */
export function denseForward(
  x: Float64Array,
  T: number,
  I: number,
  kernel: Float64Array,
  bias: Float64Array,
  activation: Activation,
): Float64Array {
  const O = bias.length;
  const out = new Float64Array(T * O);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < O; o++) {
      let s = bias[o]!;
      for (let i = 0; i < I; i++) s += x[t * I + i]! * kernel[i * O + o]!;
      out[t * O + o] = activate(s, activation);
    }
  }
  return out;
}

/** Reduces a sequence [T*K] over time to [K]. */
export function readout(y: Float64Array, T: number, K: number, mode: ReadoutMode): Float64Array {
  const out = new Float64Array(K);
  if (T === 0) return out;
  if (mode === "last") {
    for (let k = 0; k < K; k++) out[k] = y[(T - 1) * K + k]!;
    return out;
  }
  for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) out[k] = out[k]! + y[t * K + k]!;
  if (mode === "mean") for (let k = 0; k < K; k++) out[k] = out[k]! / T;
  return out;
}

function layerForward(layer: LayerSpec, x: Float64Array, T: number, inWidth: number, stats?: EgruStats): Float64Array {
  switch (layer.kind) {
    case "EGRU":
      return egruForward(x, T, inWidth, layer.params, stats);
    case "LRU":
      return lruForward(x, T, inWidth, layer.params);
    case "S5":
      return s5Forward(x, T, inWidth, layer.params);
    case "Dense":
      return denseForward(x, T, inWidth, layer.kernel, layer.bias, layer.activation);
    case "Dropout":
      return Float64Array.from(x);
  }
}

/** Runs one sample x [T*C] through the stack: [T*K], or [K] when a readout is given. */
export function forwardModel(
  spec: ModelSpec,
  x: Float64Array,
  T: number,
  mode?: ReadoutMode,
  stats?: EgruStats,
): Float64Array {
  let width = spec.inputWidth;
  let y = x;
  for (const layer of spec.layers) {
    y = layerForward(layer, y, T, width, stats);
    width = layerOutWidth(layer);
  }
  return mode === undefined ? y : readout(y, T, width, mode);
}

/** Runs a batch x [B*T*C]: [B*T*K], or [B*K] with a readout. */
export function forwardBatch(
  spec: ModelSpec,
  x: Float64Array,
  B: number,
  T: number,
  mode?: ReadoutMode,
  stats?: EgruStats,
): Float64Array {
  const C = spec.inputWidth;
  const parts: Float64Array[] = [];
  for (let b = 0; b < B; b++) parts.push(forwardModel(spec, x.subarray(b * T * C, (b + 1) * T * C), T, mode, stats));
  const per = parts[0]?.length ?? 0;
  const out = new Float64Array(B * per);
  parts.forEach((p, b) => out.set(p, b * per));
  return out;
}
