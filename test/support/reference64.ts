// A float64 reference evaluator for TensorFlow.js LayersModel files (model.json + weight shards), written
// straight from the layer math (tfjs-layers / Keras definitions, nmc's layer classes in runtime/tfjs, and
// docs/model-math.md) with plain loops over Float64Array. It reads the files itself and imports nothing of
// the project (Node builtins only): test/runtime/float64-reference.test.ts compares nmc's float engine with
// it, so a shared helper would let one bug pass as two agreeing implementations.
//
// What it evaluates, per sample (state starts at zero for every sequence):
// - topologies: Sequential (config an array or {layers}, input shape on an InputLayer or on the first layer)
//   and functional "Model" / "Functional" (layers with inbound_nodes in the tfjs form [[name, node, tensor,
//   kwargs], …] or the Keras 3 form {args, kwargs} with keras_history; input_layers / output_layers), also
//   wrapped in {model_config};
// - weights: every group's shards concatenated, entries back to back; float32 (promoted to float64), int32,
//   bool, and the manifest's quantization (float16; uint8 / uint16 / int8 affine: q·scale + min);
// - layers: InputLayer, Dense and TimeDistributed(Dense) (activations below), Activation, Dropout (identity),
//   Embedding (first layer, token ids), LayerNormalization, BatchNormalization (inference), Add, Average,
//   Multiply, Concatenate (feature axis), EGRU (with `zoneout` at inference) and DiagonalSSM (lru, s5);
// - activations: linear, relu, sigmoid, tanh, gelu (exact: x·Φ(x), erf within ~2 ulps), gelu_new (the tanh
//   approximation, as tfjs 4.22 names it), swish, softplus, softmax (over the feature axis);
// - the readout of docs/model-math.md ("Readout"): userDefinedMetadata.nmc.readout, or a top-level nmc key,
//   or an override; last / sum / mean over the ticks of the output layer.
//
// Layouts are C order, as in the weight manifest: a [C, 3H] kernel holds W[c][j] at c·3H + j.
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

export type Readout64 = "last" | "mean" | "sum" | "none";

export interface Layer64 {
  name: string;
  className: string;
  config: Record<string, any>;
  /** The layers (or the model input) it reads, in argument order. */
  inbound: string[];
}

export interface Model64 {
  file: string;
  inputName: string;
  /** The input shape without the batch axis: [T, C], or [T] for token ids. */
  inputShape: (number | null)[];
  /** The layers the output depends on, each after the layers it reads. */
  layers: Layer64[];
  output: string;
  weights: Map<string, { shape: number[]; values: Float64Array }>;
  /** From the model's metadata ("none" when it names none). */
  readout: Readout64;
}

/** What the reference saw while running (a test uses it to set aside draws that sit on an EGRU threshold). */
export interface Stats64 {
  /** The smallest |c − θ| of any EGRU unit at any tick (Infinity without EGRU layers). */
  egruMinMargin: number;
  egruEvents: number;
  egruUnitTicks: number;
  /**
   * Layer classes evaluated (counts per sample), DiagonalSSM also as DiagonalSSM:lru / DiagonalSSM:s5, EGRU with a
   * non-zero zoneout also as EGRU:zoneout, and each Dense / Activation activation as act:<name>.
   */
  seen: Map<string, number>;
}

export function newStats64(): Stats64 {
  return { egruMinMargin: Infinity, egruEvents: 0, egruUnitTicks: 0, seen: new Map() };
}

/** A sequence of one sample: T ticks of W features, [T, W] in C order. */
interface Seq {
  T: number;
  W: number;
  data: Float64Array;
}

// ---------------------------------------------------------------------------------------------------------
// Scalar math

/** erf(x) for 0 ≤ x < 1: (2/√π)·e^(−x²)·Σ_{n≥0} 2ⁿ x^(2n+1) / (1·3·5···(2n+1)), all terms positive. */
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 0; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 3);
    sum += term;
    if (term < 1e-17 * sum) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

/**
 * erfc(x) for x ≥ 1 from the continued fraction (DLMF 7.9.2)
 * √π·e^(x²)·erfc(x) = 2x / (2x² + 1 − 1·2 / (2x² + 5 − 3·4 / (2x² + 9 − …))), evaluated bottom-up from
 * depth 120 (converged to the last bit from x = 1 up; it converges ever more slowly toward 0).
 */
function erfcFraction(x: number): number {
  const t = 2 * x * x;
  const N = 120;
  let v = t + 1 + 4 * N;
  for (let n = N; n >= 1; n--) v = t + 1 + 4 * (n - 1) - ((2 * n - 1) * (2 * n)) / v;
  return (2 * x * Math.exp(-x * x)) / Math.sqrt(Math.PI) / v;
}

/** erfc(x) for x ≥ 0. */
function erfcPos(x: number): number {
  return x < 1 ? 1 - erfSeries(x) : erfcFraction(x);
}

/** erf(x), within an ulp or two of the correctly rounded value (series below 1, continued fraction above). */
export function erf64(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  const r = ax < 1 ? erfSeries(ax) : 1 - erfcFraction(ax);
  return x < 0 ? -r : r;
}

/** The standard normal CDF Φ(x) = ½(1 + erf(x/√2)) = ½·erfc(−x/√2): small tails keep their relative accuracy. */
export function phi64(x: number): number {
  return x < 0 ? 0.5 * erfcPos(-x / Math.SQRT2) : 1 - 0.5 * erfcPos(x / Math.SQRT2);
}

function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** tfjs-layers' activations by their serialized names (Keras': the same names). */
const SCALAR_ACTIVATIONS: Record<string, (x: number) => number> = {
  linear: (x) => x,
  relu: (x) => (x > 0 ? x : 0),
  sigmoid,
  tanh: Math.tanh,
  gelu: (x) => x * phi64(x),
  // tfjs GeluNew: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
  gelu_new: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
  swish: (x) => x * sigmoid(x),
  // log(1 + eˣ) without overflow
  softplus: (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))),
};

/** Applies an activation to each tick of a sequence, in place (softmax normalizes over the features). */
function activate(act: string, s: Seq): void {
  if (act === "softmax") {
    for (let t = 0; t < s.T; t++) {
      const o = t * s.W;
      let m = -Infinity;
      for (let i = 0; i < s.W; i++) m = Math.max(m, s.data[o + i]);
      let z = 0;
      for (let i = 0; i < s.W; i++) z += Math.exp(s.data[o + i] - m);
      for (let i = 0; i < s.W; i++) s.data[o + i] = Math.exp(s.data[o + i] - m) / z;
    }
    return;
  }
  const f = Object.hasOwn(SCALAR_ACTIVATIONS, act) ? SCALAR_ACTIVATIONS[act] : undefined;
  if (!f) throw new Error(`reference64: activation ${JSON.stringify(act)} is not implemented`);
  for (let i = 0; i < s.data.length; i++) s.data[i] = f(s.data[i]);
}

// ---------------------------------------------------------------------------------------------------------
// Reading model.json

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function readWeights64(file: string, manifest: any[]): Model64["weights"] {
  const out: Model64["weights"] = new Map();
  for (const group of manifest) {
    const bufs = (group.paths as string[]).map((p) => readFileSync(resolve(dirname(file), p)));
    const bytes = Buffer.concat(bufs);
    let at = 0;
    for (const w of group.weights as any[]) {
      const shape = w.shape as number[];
      const n = shape.reduce((a, b) => a * b, 1);
      const q = w.quantization as { dtype: string; scale?: number; min?: number } | undefined;
      const stored = q?.dtype ?? w.dtype;
      const values = new Float64Array(n);
      const affine = (v: number) => v * (q?.scale ?? 1) + (q?.min ?? 0);
      let size: number;
      switch (stored) {
        case "float32": size = 4; for (let i = 0; i < n; i++) values[i] = bytes.readFloatLE(at + 4 * i); break;
        case "int32": size = 4; for (let i = 0; i < n; i++) values[i] = bytes.readInt32LE(at + 4 * i); break;
        case "bool": size = 1; for (let i = 0; i < n; i++) values[i] = bytes[at + i] ? 1 : 0; break;
        case "float16": size = 2; for (let i = 0; i < n; i++) values[i] = halfToNumber(bytes.readUInt16LE(at + 2 * i)); break;
        case "uint8": size = 1; for (let i = 0; i < n; i++) values[i] = affine(bytes.readUInt8(at + i)); break;
        case "int8": size = 1; for (let i = 0; i < n; i++) values[i] = affine(bytes.readInt8(at + i)); break;
        case "uint16": size = 2; for (let i = 0; i < n; i++) values[i] = affine(bytes.readUInt16LE(at + 2 * i)); break;
        default: throw new Error(`reference64: weight ${w.name} has dtype ${stored}`);
      }
      if (w.group !== "optimizer") out.set(w.name, { shape, values });
      at += size * n;
    }
    if (at !== bytes.length) throw new Error(`reference64: weight group of ${file} is ${bytes.length} bytes, the manifest describes ${at}`);
  }
  return out;
}

function nameOf(l: any, fallback: string): string {
  const n = l.name ?? l.config?.name;
  return typeof n === "string" && n ? n : fallback;
}

/** The layer names one inbound node reads: tfjs [[name, node, tensor, kwargs], …] or Keras 3 {args, kwargs}. */
function inboundOf(node: unknown): string[] {
  if (Array.isArray(node)) return node.map((t) => String(Array.isArray(t) ? t[0] : t));
  const names: string[] = [];
  const visit = (a: unknown): void => {
    if (Array.isArray(a)) a.forEach(visit);
    else if (a && typeof a === "object") {
      const hist = (a as any).config?.keras_history;
      if (Array.isArray(hist)) names.push(String(hist[0]));
    }
  };
  visit((node as any)?.args ?? []);
  return names;
}

function shapeOf(config: any): (number | null)[] | undefined {
  const s = config?.batch_input_shape ?? config?.batch_shape;
  return Array.isArray(s) ? s.slice(1) : undefined;
}

/** Reads model.json and its weight shards. */
export function loadModel64(file: string): Model64 {
  const json = JSON.parse(readFileSync(file, "utf8"));
  let topo = json.modelTopology;
  if (topo?.model_config != null) topo = topo.model_config;
  const cls = topo.class_name;
  const weights = readWeights64(file, json.weightsManifest ?? []);
  const meta = json.userDefinedMetadata?.nmc ?? json.nmc;
  const readout: Readout64 = meta?.readout ?? "none";
  if (cls === "Sequential") {
    const raw: any[] = Array.isArray(topo.config) ? topo.config : topo.config.layers;
    let inputName = "input";
    let rest = raw;
    const inputShape = shapeOf(raw[0].config);
    if (raw[0].class_name === "InputLayer") {
      inputName = nameOf(raw[0], "input");
      rest = raw.slice(1);
    }
    if (!inputShape) throw new Error(`reference64: ${file} does not say the input shape`);
    let prev = inputName;
    const layers = rest.map((l, i) => {
      const layer: Layer64 = { name: nameOf(l, `layer_${i}`), className: l.class_name, config: l.config ?? {}, inbound: [prev] };
      prev = layer.name;
      return layer;
    });
    return { file, inputName, inputShape, layers, output: prev, weights, readout };
  }
  if (cls !== "Model" && cls !== "Functional") throw new Error(`reference64: model class ${cls}`);
  const byName = new Map<string, Layer64>();
  (topo.config.layers as any[]).forEach((l, i) => {
    const nodes = l.inbound_nodes ?? [];
    if (nodes.length > 1) throw new Error(`reference64: layer ${nameOf(l, "")} is called more than once`);
    const layer: Layer64 = { name: nameOf(l, `layer_${i}`), className: l.class_name, config: l.config ?? {}, inbound: nodes.length ? inboundOf(nodes[0]) : [] };
    byName.set(layer.name, layer);
  });
  const first = (x: unknown) => String(Array.isArray(x) ? x[0] : x);
  if (topo.config.input_layers.length !== 1 || topo.config.output_layers.length !== 1) throw new Error("reference64: one input and one output only");
  const inputName = first(topo.config.input_layers[0]);
  const output = first(topo.config.output_layers[0]);
  const input = byName.get(inputName);
  const inputShape = shapeOf(input?.config);
  if (!input || !inputShape) throw new Error(`reference64: input layer ${inputName} has no shape`);
  // Depth first from the output: every layer after the layers it reads.
  const order: Layer64[] = [];
  const done = new Set<string>([inputName]);
  const visit = (name: string, path: string[]): void => {
    if (done.has(name)) return;
    if (path.includes(name)) throw new Error(`reference64: cycle through ${name}`);
    const l = byName.get(name);
    if (!l) throw new Error(`reference64: no layer ${name}`);
    for (const n of l.inbound) visit(n, [...path, name]);
    done.add(name);
    order.push(l);
  };
  visit(output, []);
  return { file, inputName, inputShape, layers: order, output, weights, readout };
}

// ---------------------------------------------------------------------------------------------------------
// Layers

function weightOf(m: Model64, owner: string, param: string, shape: number[], outer = owner): Float64Array {
  for (const n of [`${owner}/${param}`, `${outer}/${owner}/${param}`, `${outer}/${param}`]) {
    const w = m.weights.get(n);
    if (!w) continue;
    if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
      throw new Error(`reference64: weight ${n} has shape [${w.shape}], expected [${shape}]`);
    }
    return w.values;
  }
  throw new Error(`reference64: no weight ${owner}/${param}`);
}

function seq(T: number, W: number): Seq {
  return { T, W, data: new Float64Array(T * W) };
}

function featureAxis(axis: unknown): boolean {
  const a = Array.isArray(axis) ? axis : [axis ?? -1];
  return a.length === 1 && (a[0] === -1 || a[0] === 2);
}

/** y_t = act(x_t W + b), W [I, K]. */
function dense(x: Seq, W: Float64Array, b: Float64Array | null, K: number, act: string): Seq {
  const y = seq(x.T, K);
  for (let t = 0; t < x.T; t++) {
    for (let k = 0; k < K; k++) {
      let s = b ? b[k] : 0;
      for (let i = 0; i < x.W; i++) s += x.data[t * x.W + i] * W[i * K + k];
      y.data[t * K + k] = s;
    }
  }
  activate(act, y);
  return y;
}

/**
 * EGRU (docs/model-math.md; EvNN): gates z, r, g; the reset gate multiplies the recurrent product; the
 * recurrent kernel reads the previous events y, not the state h; θ clamped to [0, 1]; a unit fires when
 * c − θ > 0, emits c and keeps c − θ. Zoneout p at inference (EvNN's compiled kernel, `ApplyZoneout` with
 * Training false): c = p·h_{t−1} + (1 − p)·c̃, applied before the threshold, h_{t−1} the carried state.
 */
function egru(m: Model64, l: Layer64, x: Seq, stats?: Stats64): Seq {
  const H = l.config.units as number;
  const C = x.W;
  const W = weightOf(m, l.name, "kernel", [C, 3 * H]);
  const R = weightOf(m, l.name, "recurrent_kernel", [H, 3 * H]);
  const bx = weightOf(m, l.name, "bias", [3 * H]);
  const br = weightOf(m, l.name, "recurrent_bias", [3 * H]);
  const thr = Float64Array.from(weightOf(m, l.name, "thr", [H]), (v) => Math.min(1, Math.max(0, v)));
  const p = Number(l.config.zoneout ?? 0);
  const y = seq(x.T, H);
  const h = new Float64Array(H);
  let yPrev = new Float64Array(H);
  const a = new Float64Array(3 * H), b = new Float64Array(3 * H);
  for (let t = 0; t < x.T; t++) {
    for (let j = 0; j < 3 * H; j++) {
      let sa = bx[j];
      for (let c = 0; c < C; c++) sa += x.data[t * C + c] * W[c * 3 * H + j];
      a[j] = sa;
      let sb = br[j];
      for (let i = 0; i < H; i++) sb += yPrev[i] * R[i * 3 * H + j];
      b[j] = sb;
    }
    const yNow = new Float64Array(H);
    for (let i = 0; i < H; i++) {
      const z = sigmoid(a[i] + b[i]);
      const r = sigmoid(a[H + i] + b[H + i]);
      const g = Math.tanh(a[2 * H + i] + r * b[2 * H + i]);
      const cand = z * h[i] + (1 - z) * g;
      const c = p ? p * h[i] + (1 - p) * cand : cand;
      const fire = c - thr[i] > 0;
      yNow[i] = fire ? c : 0;
      h[i] = fire ? c - thr[i] : c;
      if (stats) {
        stats.egruMinMargin = Math.min(stats.egruMinMargin, Math.abs(c - thr[i]));
        stats.egruUnitTicks++;
        if (fire) stats.egruEvents++;
      }
    }
    y.data.set(yNow, t * H);
    yPrev = yNow;
  }
  return y;
}

/**
 * DiagonalSSM: x_k = Λ̄ ⊙ x_{k−1} + B̄ u_k, y_k = Re(C x_k) + D ⊙ u_k (no factor 2), with
 * LRU: Λ̄ = exp(−exp(ν) + i·exp(θ)), B̄ = diag(exp(γ))·B;
 * S5 (zero-order hold): Δ = exp(log_step), Λ̄ = exp(ΛΔ), B̄ = ((Λ̄ − 1)/Λ)·B → Δ·B as Λ → 0, with
 * Λ̄ − 1 = expm1(Re ΛΔ)·cos(Im ΛΔ) − 2 sin²(Im ΛΔ / 2) + i·exp(Re ΛΔ)·sin(Im ΛΔ), free of cancellation.
 */
function diagonalSsm(m: Model64, l: Layer64, u: Seq): Seq {
  const P = l.config.state_size as number;
  const H = u.W;
  const kind = (l.config.parameterization ?? "lru") as string;
  const w = (p: string, shape: number[]) => weightOf(m, l.name, p, shape);
  const Bre = w("B_re", [P, H]), Bim = w("B_im", [P, H]), Cre = w("C_re", [H, P]), Cim = w("C_im", [H, P]), D = w("D", [H]);
  const lr = new Float64Array(P), li = new Float64Array(P);
  const gr = new Float64Array(P), gi = new Float64Array(P); // complex gain of row p of B
  if (kind === "lru") {
    const nu = w("nu_log", [P]), th = w("theta_log", [P]), ga = w("gamma_log", [P]);
    for (let p = 0; p < P; p++) {
      const mod = Math.exp(-Math.exp(nu[p]));
      const ang = Math.exp(th[p]);
      lr[p] = mod * Math.cos(ang);
      li[p] = mod * Math.sin(ang);
      gr[p] = Math.exp(ga[p]);
      gi[p] = 0;
    }
  } else if (kind === "s5") {
    const Lre = w("Lambda_re", [P]), Lim = w("Lambda_im", [P]), ls = w("log_step", [P]);
    for (let p = 0; p < P; p++) {
      const step = Math.exp(ls[p]);
      const re = Lre[p] * step, im = Lim[p] * step;
      lr[p] = Math.exp(re) * Math.cos(im);
      li[p] = Math.exp(re) * Math.sin(im);
      if (Lre[p] === 0 && Lim[p] === 0) {
        gr[p] = step;
        gi[p] = 0;
        continue;
      }
      const nr = Math.expm1(re) * Math.cos(im) - 2 * Math.sin(im / 2) ** 2; // Re(Λ̄ − 1)
      const ni = li[p]; // Im(Λ̄ − 1)
      const den = Lre[p] * Lre[p] + Lim[p] * Lim[p];
      gr[p] = (nr * Lre[p] + ni * Lim[p]) / den;
      gi[p] = (ni * Lre[p] - nr * Lim[p]) / den;
    }
  } else throw new Error(`reference64: DiagonalSSM parameterization ${kind}`);
  const y = seq(u.T, H);
  const xr = new Float64Array(P), xi = new Float64Array(P);
  for (let t = 0; t < u.T; t++) {
    const ut = u.data.subarray(t * H, (t + 1) * H);
    for (let p = 0; p < P; p++) {
      let bur = 0, bui = 0; // (B u)_p, then times the gain
      for (let k = 0; k < H; k++) {
        bur += Bre[p * H + k] * ut[k];
        bui += Bim[p * H + k] * ut[k];
      }
      const vr = gr[p] * bur - gi[p] * bui, vi = gr[p] * bui + gi[p] * bur;
      const a = xr[p], b = xi[p];
      xr[p] = lr[p] * a - li[p] * b + vr;
      xi[p] = lr[p] * b + li[p] * a + vi;
    }
    for (let k = 0; k < H; k++) {
      let s = D[k] * ut[k];
      for (let p = 0; p < P; p++) s += Cre[k * P + p] * xr[p] - Cim[k * P + p] * xi[p];
      y.data[t * H + k] = s;
    }
  }
  return y;
}

/** γ·(x − μ)/√(σ² + ε) + β per tick over the features (μ, σ² of that tick, σ² biased). */
function layerNorm(m: Model64, l: Layer64, x: Seq): Seq {
  if (!featureAxis(l.config.axis)) throw new Error(`reference64: LayerNormalization axis ${JSON.stringify(l.config.axis)}`);
  const n = x.W, eps = l.config.epsilon ?? 1e-3;
  const gamma = (l.config.scale ?? true) ? weightOf(m, l.name, "gamma", [n]) : new Float64Array(n).fill(1);
  const beta = (l.config.center ?? true) ? weightOf(m, l.name, "beta", [n]) : new Float64Array(n);
  const y = seq(x.T, n);
  for (let t = 0; t < x.T; t++) {
    const v = x.data.subarray(t * n, (t + 1) * n);
    let mu = 0;
    for (let i = 0; i < n; i++) mu += v[i];
    mu /= n;
    let var_ = 0;
    for (let i = 0; i < n; i++) var_ += (v[i] - mu) ** 2;
    var_ /= n;
    const sd = Math.sqrt(var_ + eps);
    for (let i = 0; i < n; i++) y.data[t * n + i] = (gamma[i] * (v[i] - mu)) / sd + beta[i];
  }
  return y;
}

/** Inference: γ·(x − moving_mean)/√(moving_variance + ε) + β per feature. */
function batchNorm(m: Model64, l: Layer64, x: Seq): Seq {
  if (!featureAxis(l.config.axis)) throw new Error(`reference64: BatchNormalization axis ${JSON.stringify(l.config.axis)}`);
  const n = x.W, eps = l.config.epsilon ?? 1e-3;
  const gamma = (l.config.scale ?? true) ? weightOf(m, l.name, "gamma", [n]) : new Float64Array(n).fill(1);
  const beta = (l.config.center ?? true) ? weightOf(m, l.name, "beta", [n]) : new Float64Array(n);
  const mean = weightOf(m, l.name, "moving_mean", [n]), variance = weightOf(m, l.name, "moving_variance", [n]);
  const y = seq(x.T, n);
  for (let t = 0; t < x.T; t++) {
    for (let i = 0; i < n; i++) y.data[t * n + i] = (gamma[i] * (x.data[t * n + i] - mean[i])) / Math.sqrt(variance[i] + eps) + beta[i];
  }
  return y;
}

function merge(l: Layer64, ins: Seq[]): Seq {
  const T = ins[0].T;
  if (l.className === "Concatenate") {
    if (!featureAxis(l.config.axis)) throw new Error(`reference64: Concatenate axis ${l.config.axis}`);
    const W = ins.reduce((a, s) => a + s.W, 0);
    const y = seq(T, W);
    for (let t = 0; t < T; t++) {
      let at = t * W;
      for (const s of ins) {
        y.data.set(s.data.subarray(t * s.W, (t + 1) * s.W), at);
        at += s.W;
      }
    }
    return y;
  }
  const W = ins[0].W;
  if (ins.some((s) => s.W !== W)) throw new Error(`reference64: ${l.className} ${l.name} of different widths`);
  const y = { T, W, data: Float64Array.from(ins[0].data) };
  for (const s of ins.slice(1)) {
    for (let i = 0; i < y.data.length; i++) y.data[i] = l.className === "Multiply" ? y.data[i] * s.data[i] : y.data[i] + s.data[i];
  }
  if (l.className === "Average") for (let i = 0; i < y.data.length; i++) y.data[i] /= ins.length;
  return y;
}

function count(stats: Stats64 | undefined, key: string): void {
  if (stats) stats.seen.set(key, (stats.seen.get(key) ?? 0) + 1);
}

function evalLayer(m: Model64, l: Layer64, ins: Seq[], stats?: Stats64): Seq {
  count(stats, l.className === "DiagonalSSM" ? `DiagonalSSM:${l.config.parameterization ?? "lru"}` : l.className);
  if (l.className === "EGRU" && Number(l.config.zoneout ?? 0) > 0) count(stats, "EGRU:zoneout");
  const one = () => {
    if (ins.length !== 1) throw new Error(`reference64: ${l.className} ${l.name} reads ${ins.length} inputs`);
    return ins[0];
  };
  switch (l.className) {
    case "Dense": {
      const act = l.config.activation ?? "linear";
      count(stats, `act:${act}`);
      const K = l.config.units as number, x = one();
      const W = weightOf(m, l.name, "kernel", [x.W, K]);
      const b = (l.config.use_bias ?? true) ? weightOf(m, l.name, "bias", [K]) : null;
      return dense(x, W, b, K, act);
    }
    case "TimeDistributed": {
      const inner = l.config.layer;
      if (inner?.class_name !== "Dense") throw new Error(`reference64: TimeDistributed(${inner?.class_name})`);
      const c = inner.config, act = c.activation ?? "linear", K = c.units as number, x = one();
      const owner = typeof c.name === "string" ? c.name : l.name;
      count(stats, `act:${act}`);
      const W = weightOf(m, owner, "kernel", [x.W, K], l.name);
      const b = (c.use_bias ?? true) ? weightOf(m, owner, "bias", [K], l.name) : null;
      return dense(x, W, b, K, act);
    }
    case "Activation": {
      const x = one();
      count(stats, `act:${l.config.activation}`);
      const y = { T: x.T, W: x.W, data: Float64Array.from(x.data) };
      activate(l.config.activation, y);
      return y;
    }
    case "Dropout": return one();
    case "Embedding": {
      const x = one(), V = l.config.input_dim as number, E = l.config.output_dim as number;
      const table = weightOf(m, l.name, "embeddings", [V, E]);
      const y = seq(x.T, E);
      for (let t = 0; t < x.T; t++) {
        const id = x.data[t * x.W];
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`reference64: token id ${id} outside [0, ${V})`);
        y.data.set(table.subarray(id * E, (id + 1) * E), t * E);
      }
      return y;
    }
    case "EGRU": return egru(m, l, one(), stats);
    case "DiagonalSSM": return diagonalSsm(m, l, one());
    case "LayerNormalization": return layerNorm(m, l, one());
    case "BatchNormalization": return batchNorm(m, l, one());
    case "Add": case "Average": case "Multiply": case "Concatenate": return merge(l, ins);
    default: throw new Error(`reference64: layer class ${l.className} is not implemented`);
  }
}

export interface Run64 {
  /** [B, T, K] per tick, or [B, K] after a readout. */
  output: Float64Array;
  shape: number[];
}

/**
 * Runs the model on x of shape [T, C] or [B, T, C] (token models: [T] or [B, T]). `readout` overrides the
 * model's metadata ("none": the output layer's per-tick values). `layerOutputs`, when given, receives every
 * layer's [T, W] output per sample (for locating a disagreement).
 */
export function runModel64(
  m: Model64,
  x: ArrayLike<number>,
  shape: readonly number[],
  opts: { readout?: Readout64; stats?: Stats64; layerOutputs?: Map<string, Float64Array[]> } = {},
): Run64 {
  const tokens = m.inputShape.length === 1;
  const rank = tokens ? 1 : 2;
  const [B, T, C] = shape.length === rank ? [1, shape[0], tokens ? 1 : shape[1]] : [shape[0], shape[1], tokens ? 1 : shape[2]];
  if (B * T * C !== x.length) throw new Error(`reference64: ${x.length} values for shape [${shape}]`);
  const readout = opts.readout ?? m.readout;
  let K = 0;
  const outs: Float64Array[] = [];
  for (let b = 0; b < B; b++) {
    const values = new Map<string, Seq>();
    values.set(m.inputName, { T, W: C, data: Float64Array.from({ length: T * C }, (_, i) => x[b * T * C + i]) });
    for (const l of m.layers) {
      const y = evalLayer(m, l, l.inbound.map((n) => values.get(n)!), opts.stats);
      values.set(l.name, y);
      if (opts.layerOutputs) {
        if (!opts.layerOutputs.has(l.name)) opts.layerOutputs.set(l.name, []);
        opts.layerOutputs.get(l.name)!.push(y.data);
      }
    }
    const y = values.get(m.output)!;
    K = y.W;
    if (readout === "none") {
      outs.push(y.data);
      continue;
    }
    const r = new Float64Array(K);
    if (readout === "last") {
      if (T > 0) r.set(y.data.subarray((T - 1) * K, T * K));
    } else {
      for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) r[k] += y.data[t * K + k];
      if (readout === "mean" && T > 0) for (let k = 0; k < K; k++) r[k] /= T;
    }
    outs.push(r);
  }
  const per = readout === "none" ? T * K : K;
  const output = new Float64Array(B * per);
  outs.forEach((o, b) => output.set(o, b * per));
  return { output, shape: readout === "none" ? [B, T, K] : [B, K] };
}

/** Loads and runs in one call. */
export function reference64(file: string, x: ArrayLike<number>, shape: readonly number[], opts: Parameters<typeof runModel64>[3] = {}): Run64 {
  return runModel64(loadModel64(file), x, shape, opts);
}
