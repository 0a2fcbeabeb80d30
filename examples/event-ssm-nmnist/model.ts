// The training forward of an event-ssm classifier (Schöne et al. 2024; github.com/Efficient-Scalable-Machine-
// Learning/event-ssm, commit d9ceb07) in TensorFlow.js, on plain variables named after event-ssm's Flax tree,
// written from the math of docs/model-math.md ("Event-time SSMs"); no event-ssm code is copied. The variant
// trained here (the one `config.yaml` describes):
//
//   tokens ─ Embedding (event_ssm/seq_model.py StackedEncoderModel: nn.Embed; the padding id −1 reads the last row)
//   per stage s, layer l (event_ssm/layers.py SequenceStage, SequenceLayer; pre-norm LayerNorm, ε 1e−6):
//     v = LayerNorm(u);  y = S5(v) (stride k on layer 0 of a stage: the state of each group's first event)
//     y = y + D ⊙ pool(v);  g = y ⊙ σ(Dense_0(gelu_tanh(y)));  u' = pool(u) + g        (pool only on layer 0)
//   timepool readout (seq_model.py masked_timepool) ─ decoder Dense
//
// S5 (event_ssm/ssm.py S5SSM, discretize_async): per state, Λ = min(Λ_re, −1e−4) + i Λ_im (clip_eigs), step
// s = exp(log_step), and per event k with time step Δt_k (ms): Λ̄_k = exp(Λ s Δt_k), the async gain
// γ = (exp(Λ s) − 1) / Λ, x_k = Λ̄_k x_{k−1} + γ B̃ v_k, y_k = Re(C̃ x_k) (no conj_sym). EventPooling timepool
// (layers.py EventPooling): a group of k events gives Σ x_i (Δt_i + 1e−6) / Σ (Δt_i + 1e−6), and the next
// layers' time step is the group's Σ Δt_i.
//
// Speed on the single-threaded wasm backend: the recurrence is one custom-gradient op that runs in
// JavaScript (`ssmScan`): forward over the events in float64 (γ and Λ̄ too), backward by the adjoint
// recurrence, with the gradients of Λ, log_step and the input written out by hand (see the comments there). The embedding look-up is a
// JavaScript gather with a scatter-add gradient (tfjs-backend-wasm has no UnsortedSegmentSum kernel), and
// every matrix product uses untransposed kernels (as examples/ssm-events/fast.ts explains).
import type * as tfjs from "@tensorflow/tfjs";
import { seededRandom, type Tf, untransposedMatMul } from "../../index.js";

type Tensor = tfjs.Tensor;

export interface NetConfig {
  vocabulary: number;
  classes: number;
  dModel: number;
  dSsm: number;
  /** Λ is initialized per block of this many states. */
  blockSize: number;
  stages: number;
  layersPerStage: number;
  stride: number;
  dtMin: number;
  dtMax: number;
  dropout: number;
}

/** A padded batch: tokens and Δt (ms) [B, L] row-major, padding token −1 and Δt 0; L a multiple of stride^stages. */
export interface EventBatch {
  B: number;
  L: number;
  tokens: Int32Array;
  dt: Float32Array;
  lengths: Int32Array;
}

export const LN_EPS = 1e-6;
export const POOL_EPS = 1e-6;
/** clip_eigs: Re Λ ≤ −1e−4, in float32 (ssm.py S5SSM.setup). */
const CLIP = Math.fround(-1e-4);

export const layerPath = (s: number, l: number) => `encoder/stages_${s}/SequenceLayer_${l}`;

/** The total downsampling stride^stages: batches are padded to a multiple of it. */
export const totalStride = (c: NetConfig) => c.stride ** c.stages;

/** Variables by name: Flax paths, with B and C split into `_re` / `_im` (joined again by `flaxArrays`). */
export type Params = Map<string, tfjs.Variable>;

/** Fresh parameters, seeded. Initialization (ours; event-ssm's differs where noted in the README). */
export function initParams(tf: Tf, c: NetConfig, seed: number): Params {
  const rand = seededRandom(seed);
  const normal = () => {
    const u = Math.max(rand(), 1e-12), v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const p: Params = new Map();
  const add = (name: string, shape: number[], f: (i: number) => number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    p.set(name, tf.variable(tf.tensor(Float32Array.from({ length: n }, (_, i) => f(i)), shape), true, name));
  };
  const H = c.dModel, P = c.dSsm;
  add("encoder/encoder/embedding", [c.vocabulary, H], () => normal() / Math.sqrt(H));
  for (let s = 0; s < c.stages; s++) {
    for (let l = 0; l < c.layersPerStage; l++) {
      const path = layerPath(s, l);
      add(`${path}/LayerNorm_0/scale`, [H], () => 1);
      add(`${path}/LayerNorm_0/bias`, [H], () => 0);
      const ssm = `${path}/S5SSM_0`;
      // S4D-Lin (Gu et al. 2022): Λ_n = −1/2 + iπn, n counted within each block.
      add(`${ssm}/Lambda_re`, [P], () => -0.5);
      add(`${ssm}/Lambda_im`, [P], (i) => Math.PI * (i % c.blockSize));
      add(`${ssm}/B_re`, [P, H], () => normal() / Math.sqrt(2 * H));
      add(`${ssm}/B_im`, [P, H], () => normal() / Math.sqrt(2 * H));
      add(`${ssm}/C_re`, [H, P], () => normal() / Math.sqrt(P));
      add(`${ssm}/C_im`, [H, P], () => normal() / Math.sqrt(P));
      add(`${ssm}/D`, [H], () => normal());
      add(`${ssm}/log_step`, [P, 1], () => Math.log(c.dtMin) + rand() * (Math.log(c.dtMax) - Math.log(c.dtMin)));
      add(`${path}/Dense_0/kernel`, [H, H], () => normal() / Math.sqrt(H));
      add(`${path}/Dense_0/bias`, [H], () => 0);
    }
  }
  add("decoder/kernel", [H, c.classes], () => normal() / Math.sqrt(H));
  add("decoder/bias", [c.classes], () => 0);
  return p;
}

/** The parameters as event-ssm's Flax arrays (B [P, H, 2], C [H, P, 2]), by Flax path, float32. */
export function flaxArrays(p: Params): { key: string; shape: number[]; data: Float32Array }[] {
  const out: { key: string; shape: number[]; data: Float32Array }[] = [];
  const interleave = (re: tfjs.Variable, im: tfjs.Variable) => {
    const a = re.dataSync(), b = im.dataSync();
    const d = new Float32Array(a.length * 2);
    for (let i = 0; i < a.length; i++) {
      d[2 * i] = a[i]!;
      d[2 * i + 1] = b[i]!;
    }
    return d;
  };
  for (const [name, v] of p) {
    if (name.endsWith("/B_im") || name.endsWith("/C_im")) continue;
    if (name.endsWith("/B_re") || name.endsWith("/C_re")) {
      const base = name.slice(0, -3);
      out.push({ key: base, shape: [...v.shape, 2], data: interleave(v, p.get(`${base}_im`)!) });
    } else {
      out.push({ key: name, shape: [...v.shape], data: Float32Array.from(v.dataSync()) });
    }
  }
  return out;
}

/** Group sums of Δt over groups of k (the last L mod k events dropped): the next rate's time steps. */
export function poolDt(dt: Float32Array, B: number, L: number, k: number): Float32Array {
  const G = Math.floor(L / k);
  const out = new Float32Array(B * G);
  for (let b = 0; b < B; b++) {
    for (let g = 0; g < G; g++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += dt[b * L + g * k + j]!;
      out[b * G + g] = s;
    }
  }
  return out;
}

/** The forward, bound to `tf` and the parameters. */
export function makeForward(tf: Tf, c: NetConfig, p: Params) {
  const v = (name: string) => {
    const t = p.get(name);
    if (!t) throw new Error(`no parameter ${name}`);
    return t;
  };
  // a·b with untransposed kernels in the gradient (tfjs-backend-wasm's transposed products are ~8× slower).
  const mm = untransposedMatMul(tf);

  /** table[ids] ([N, W]); id −1 (padding) wraps to the last row, as jnp.take does. Gradient: scatter-add. */
  const gather = (table: Tensor, ids: Int32Array): Tensor => {
    const [V, W] = table.shape as [number, number];
    const rows = Int32Array.from(ids, (i) => (i < 0 ? V + i : i));
    const f = tf.customGrad(((t: Tensor) => {
      const src = t.dataSync() as Float32Array;
      const out = new Float32Array(rows.length * W);
      for (let n = 0; n < rows.length; n++) out.set(src.subarray(rows[n]! * W, rows[n]! * W + W), n * W);
      return {
        value: tf.tensor2d(out, [rows.length, W]),
        gradFunc: (dy: Tensor) => {
          const g = dy.dataSync() as Float32Array;
          const acc = new Float32Array(V * W);
          for (let n = 0; n < rows.length; n++) {
            const o = rows[n]! * W;
            for (let j = 0; j < W; j++) acc[o + j] += g[n * W + j]!;
          }
          return [tf.tensor2d(acc, [V, W])];
        },
      };
    }) as unknown as Parameters<Tf["customGrad"]>[0]) as (t: Tensor) => Tensor;
    return f(table);
  };

  /**
   * The S5 SSM's states over each sequence, in float64 from the float32 parameters (as nmc computes them: in
   * float32 the gain of a clipped, slow mode loses ~1e−4 and the phase of a fast one over a long Δt ~1e−4 rad):
   * s = exp(log_step), Λ = min(Λ_re, −1e−4) + iΛ_im, Λ̄_l = exp(Λ s Δt_l), γ = (exp(Λ s) − 1)/Λ (async),
   * x_l = Λ̄_l x_{l−1} + γ u_l (x_{−1} = 0), u = B̃v = [Re | Im] ([B·L, 2P]); returns [Re x | Im x] at the first
   * event of every group of k ([B·G, 2P], G = L // k).
   * Gradients, for a real loss ℓ, with G_z = ∂ℓ/∂Re z + i ∂ℓ/∂Im z for a complex z: y = A x gives G_x = conj(A) G_y
   * and G_A = conj(x) G_y. So the adjoint recurrence is H_l = G_out,l + conj(Λ̄_{l+1}) H_{l+1} (the gradient of
   * x_l), G_u,l = conj(γ) H_l, G_γ = Σ_l conj(u_l) H_l and G_Λ̄,l = H_l conj(x_{l−1}). With α + iω = Λ s,
   * ∂ℓ/∂α = Σ Δt_l Re(conj(Λ̄_l) G_Λ̄,l), ∂ℓ/∂ω = Σ Δt_l Im(conj(Λ̄_l) G_Λ̄,l); γ is holomorphic in Λ with
   * dγ/dΛ = (s e^{Λs} − γ)/Λ and dγ/ds = e^{Λs}. Then ∂ℓ/∂Λ_re = s ∂ℓ/∂α + Re(conj(dγ/dΛ) G_γ) (0 where
   * clipped), ∂ℓ/∂Λ_im = s ∂ℓ/∂ω + Im(conj(dγ/dΛ) G_γ), ∂ℓ/∂log_step = α ∂ℓ/∂α + ω ∂ℓ/∂ω + Re(conj(s e^{Λs}) G_γ).
   */
  const ssmScan = (lamRe: Tensor, lamIm: Tensor, logStep: Tensor, u: Tensor, dt: Float32Array, B: number, L: number, k: number): Tensor => {
    const P = lamRe.shape[0]!;
    const G = Math.floor(L / k);
    const emits = (l: number) => l % k === 0 && l < G * k;
    const f = tf.customGrad(((lr: Tensor, li: Tensor, ls: Tensor, ut: Tensor) => {
      const lre = lr.dataSync(), lim = li.dataSync(), lst = ls.dataSync(), uu = ut.dataSync() as Float32Array;
      const step = Float64Array.from(lst, (v) => Math.exp(v));
      const cr = Float64Array.from(lre, (v) => Math.min(v, CLIP));
      const a = Float64Array.from(cr, (v, q) => v * step[q]!);
      const w = Float64Array.from(lim, (v, q) => v * step[q]!);
      // γ = (e^{Λs} − 1)/Λ, with Re(e^{Λs} − 1) = expm1(α) cos ω − 2 sin²(ω/2) (no cancellation).
      const gr = new Float64Array(P), gi = new Float64Array(P);
      for (let q = 0; q < P; q++) {
        const er = Math.expm1(a[q]!) * Math.cos(w[q]!) - 2 * Math.sin(w[q]! / 2) ** 2, ei = Math.exp(a[q]!) * Math.sin(w[q]!);
        const den = cr[q]! * cr[q]! + lim[q]! * lim[q]!;
        gr[q] = (er * cr[q]! + ei * lim[q]!) / den;
        gi[q] = (ei * cr[q]! - er * lim[q]!) / den;
      }
      // Λ̄ per distinct Δt (time stamps are whole µs, so Δt values repeat).
      const cache = new Map<number, number>();
      const lam: number[] = [];
      const which = new Int32Array(B * L);
      for (let r = 0; r < B * L; r++) {
        const d = dt[r]!;
        let j = cache.get(d);
        if (j === undefined) {
          j = cache.size;
          cache.set(d, j);
          for (let q = 0; q < P; q++) {
            const e = Math.exp(a[q]! * d);
            lam.push(e * Math.cos(w[q]! * d), e * Math.sin(w[q]! * d));
          }
        }
        which[r] = j;
      }
      const xs = new Float64Array(B * L * 2 * P); // every state, for the gradient
      const out = new Float32Array(B * G * 2 * P);
      for (let s = 0; s < B; s++) {
        for (let q = 0; q < P; q++) {
          let xr = 0, xi = 0;
          for (let l = 0; l < L; l++) {
            const r = s * L + l, li = which[r]! * 2 * P + 2 * q;
            const ar = lam[li]!, ai = lam[li + 1]!;
            const ur = uu[r * 2 * P + q]!, ui = uu[r * 2 * P + P + q]!;
            const nr = ar * xr - ai * xi + gr[q]! * ur - gi[q]! * ui;
            const ni = ar * xi + ai * xr + gr[q]! * ui + gi[q]! * ur;
            xr = nr;
            xi = ni;
            xs[r * 2 * P + q] = xr;
            xs[r * 2 * P + P + q] = xi;
            if (emits(l)) {
              const o = (s * G + l / k) * 2 * P;
              out[o + q] = xr;
              out[o + P + q] = xi;
            }
          }
        }
      }
      return {
        value: tf.tensor2d(out, [B * G, 2 * P]),
        gradFunc: (dy: Tensor) => {
          const gy = dy.dataSync() as Float32Array;
          const gu = new Float32Array(B * L * 2 * P);
          const ga = new Float64Array(P), gw = new Float64Array(P), ggr = new Float64Array(P), ggi = new Float64Array(P);
          for (let s = 0; s < B; s++) {
            for (let q = 0; q < P; q++) {
              let hr = 0, hi = 0; // the gradient reaching x_l from x_{l+1}
              for (let l = L - 1; l >= 0; l--) {
                const r = s * L + l;
                if (emits(l)) {
                  const o = (s * G + l / k) * 2 * P;
                  hr += gy[o + q]!;
                  hi += gy[o + P + q]!;
                }
                const ur = uu[r * 2 * P + q]!, ui = uu[r * 2 * P + P + q]!;
                gu[r * 2 * P + q] = gr[q]! * hr + gi[q]! * hi;
                gu[r * 2 * P + P + q] = gr[q]! * hi - gi[q]! * hr;
                ggr[q] += ur * hr + ui * hi;
                ggi[q] += ur * hi - ui * hr;
                const li = which[r]! * 2 * P + 2 * q;
                const ar = lam[li]!, ai = lam[li + 1]!;
                if (l > 0) {
                  const pr = xs[(r - 1) * 2 * P + q]!, pi = xs[(r - 1) * 2 * P + P + q]!;
                  const mr = hr * pr + hi * pi, mi = hi * pr - hr * pi; // G_Λ̄ = H conj(x_{l−1})
                  const d = dt[r]!;
                  ga[q] += d * (ar * mr + ai * mi);
                  gw[q] += d * (ar * mi - ai * mr);
                }
                const nr = ar * hr + ai * hi, ni = ar * hi - ai * hr; // conj(Λ̄_l) H_l
                hr = nr;
                hi = ni;
              }
            }
          }
          const gRe = new Float32Array(P), gIm = new Float32Array(P), gStep = new Float32Array(P);
          for (let q = 0; q < P; q++) {
            const sq = step[q]!, e = Math.exp(a[q]!);
            const er = e * Math.cos(w[q]!), ei = e * Math.sin(w[q]!); // e^{Λs}
            // dγ/dΛ = (s e^{Λs} − γ)/Λ
            const nr = sq * er - gr[q]!, ni = sq * ei - gi[q]!;
            const den = cr[q]! * cr[q]! + lim[q]! * lim[q]!;
            const dr = (nr * cr[q]! + ni * lim[q]!) / den, di = (ni * cr[q]! - nr * lim[q]!) / den;
            // conj(dγ/dΛ) G_γ
            const cr2 = dr * ggr[q]! + di * ggi[q]!, ci2 = dr * ggi[q]! - di * ggr[q]!;
            gRe[q] = lre[q]! < CLIP ? sq * ga[q]! + cr2 : 0;
            gIm[q] = sq * gw[q]! + ci2;
            gStep[q] = a[q]! * ga[q]! + w[q]! * gw[q]! + sq * (er * ggr[q]! + ei * ggi[q]!);
          }
          return [tf.tensor1d(gRe), tf.tensor1d(gIm), tf.tensor(gStep, [P, 1]), tf.tensor2d(gu, [B * L, 2 * P])];
        },
      };
    }) as unknown as Parameters<Tf["customGrad"]>[0]) as (a: Tensor, w: Tensor, s: Tensor, u: Tensor) => Tensor;
    return f(lamRe, lamIm, logStep, u);
  };

  const layerNorm = (x: Tensor, path: string) => {
    const { mean, variance } = tf.moments(x, 1, true);
    const y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, LN_EPS)));
    return tf.add(tf.mul(y, v(`${path}/LayerNorm_0/scale`)), v(`${path}/LayerNorm_0/bias`));
  };
  const gelu = (x: Tensor) => {
    const cube = tf.mul(tf.mul(x, x), x);
    return tf.mul(0.5, tf.mul(x, tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, cube)))))));
  };
  /** EventPooling timepool of x [B·L, W] over groups of k: [B·G, W] (weights are constants: Δt is data). */
  const pool = (x: Tensor, dt: Float32Array, B: number, L: number, k: number) => {
    const G = Math.floor(L / k), W = x.shape[1]!;
    const wts = new Float32Array(B * G * k);
    for (let s = 0; s < B; s++) {
      for (let g = 0; g < G; g++) {
        let sum = 0;
        for (let j = 0; j < k; j++) sum += dt[s * L + g * k + j]! + POOL_EPS;
        for (let j = 0; j < k; j++) wts[(s * G + g) * k + j] = (dt[s * L + g * k + j]! + POOL_EPS) / sum;
      }
    }
    const xs = G * k === L ? x : tf.reshape(tf.slice(tf.reshape(x, [B, L, W]), [0, 0, 0], [B, G * k, W]), [B * G * k, W]);
    return tf.sum(tf.reshape(tf.mul(xs, tf.tensor2d(wts, [B * G * k, 1])), [B * G, k, W]), 1);
  };

  /** The SSM's input matrix [H, 2P] = [B̃ᵀ_re | B̃ᵀ_im] and output matrix [2P, H] = [C̃ᵀ_re; −C̃ᵀ_im]. */
  const projections = (ssm: string) => {
    const bIn = tf.transpose(tf.concat([v(`${ssm}/B_re`), v(`${ssm}/B_im`)], 0));
    const cOut = tf.concat([tf.transpose(v(`${ssm}/C_re`)), tf.neg(tf.transpose(v(`${ssm}/C_im`)))], 0);
    return { bIn, cOut };
  };

  interface RunOptions {
    /** Dropout (one mask per sequence and unit, shared by all steps: event-ssm's broadcast_dims=[0]) with this seed. */
    dropoutSeed?: number;
    /** Sees every layer's intermediate values ([rows, width], rows sequence-major), by the Flax path of the layer. */
    tap?: (name: string, value: Tensor) => void;
  }

  return (batch: EventBatch, opts: RunOptions = {}): Tensor => {
    const { B } = batch;
    let L = batch.L;
    let dt = batch.dt;
    let drops = 0;
    const dropout = (x: Tensor, rows: number) => {
      if (opts.dropoutSeed === undefined || c.dropout === 0) return x;
      const W = x.shape[1]!;
      const keep = tf.div(tf.cast(tf.greaterEqual(tf.randomUniform([B, 1, W], 0, 1, "float32", opts.dropoutSeed * 101 + drops++), c.dropout), "float32"), 1 - c.dropout);
      return tf.reshape(tf.mul(tf.reshape(x, [B, rows, W]), keep), [B * rows, W]);
    };
    let u = gather(v("encoder/encoder/embedding"), batch.tokens); // [B·L, H]
    for (let s = 0; s < c.stages; s++) {
      for (let l = 0; l < c.layersPerStage; l++) {
        const path = layerPath(s, l);
        const k = l === 0 ? c.stride : 1;
        const G = Math.floor(L / k);
        const x = layerNorm(u, path);
        const d = projections(`${path}/S5SSM_0`);
        const ssm = `${path}/S5SSM_0`;
        const states = ssmScan(v(`${ssm}/Lambda_re`), v(`${ssm}/Lambda_im`), v(`${ssm}/log_step`), mm(x, d.bIn), dt, B, L, k);
        const xp = k > 1 ? pool(x, dt, B, L, k) : x;
        const y = tf.add(mm(states, d.cOut), tf.mul(xp, v(`${path}/S5SSM_0/D`)));
        opts.tap?.(`${path}/LayerNorm_0`, x);
        opts.tap?.(`${path}/S5SSM_0`, y);
        const gate = tf.sigmoid(tf.add(mm(dropout(gelu(y), G), v(`${path}/Dense_0/kernel`)), v(`${path}/Dense_0/bias`)));
        const g = dropout(tf.mul(y, gate), G);
        const skip = k > 1 ? pool(u, dt, B, L, k) : u;
        u = tf.add(skip, g);
        opts.tap?.(`${path}/add`, u);
        if (k > 1) {
          dt = poolDt(dt, B, L, k);
          L = G;
        }
      }
    }
    // timepool readout: Σ_{i<n} x_i (Δt_i + ε) / Σ_i Δt_i, n = length // total stride (seq_model.py masked_timepool).
    const wts = new Float32Array(B * L);
    const down = totalStride(c);
    for (let s = 0; s < B; s++) {
      const n = Math.floor(batch.lengths[s]! / down);
      let total = 0;
      for (let i = 0; i < L; i++) total += dt[s * L + i]!;
      for (let i = 0; i < Math.min(n, L); i++) wts[s * L + i] = (dt[s * L + i]! + POOL_EPS) / total;
    }
    const H = u.shape[1]!;
    const pooled = tf.sum(tf.mul(tf.reshape(u, [B, L, H]), tf.tensor3d(wts, [B, L, 1])), 1);
    opts.tap?.("readout", pooled);
    return tf.add(mm(pooled, v("decoder/kernel")), v("decoder/bias"));
  };
}
