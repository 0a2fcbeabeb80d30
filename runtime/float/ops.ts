// The float op table: per population kind, the state vectors it keeps across ticks and its step (the math
// of docs/model-math.md, in Float64 or Float32 storage). The engine looks a population's row up once, when
// it is built, and calls its step once per tick; the loops inside a step run on typed arrays.
import { NmcError } from "../../ir/errors.js";
import type { PopOf } from "../../ir/kinds.js";
import type { PoolMode, PopulationKind } from "../../ir/types.js";
import { gelu, geluNew, sigmoid, softplus, swish } from "./math.js";
import { type Buf, type BufConstructor, deliver, type FloatPop, loadBias } from "./state.js";

export interface FloatOp<K extends PopulationKind> {
  /** The state vectors it keeps across ticks (zeroed at the start of every sequence). */
  state(pop: PopOf<K>, Buf: BufConstructor): Buf[];
  /**
   * One tick: fills s.out (and advances s.state) from its ports, which the step loads and delivers into, or
   * from the model input x at xOff. t: the tick within the sequence, from 0.
   */
  step(s: FloatPop<K>, x: ArrayLike<number>, xOff: number, t: number): void;
}

export const FLOAT_OPS: { [K in PopulationKind]: FloatOp<K> } = {
  Input: {
    state: () => [],
    step(s, x, xOff) {
      const pop = s.pop, out = s.out;
      if (pop.encoding === "tokens") {
        out.fill(0);
        // A negative id reaches here only for a wrapping input (batchFromShape): −k selects unit V − k.
        const id = x[xOff];
        out[id < 0 ? pop.size + id : id] = 1;
      } else for (let i = 0; i < pop.size; i++) out[i] = x[xOff + i];
    },
  },
  EGRU: {
    state: (pop, Buf) => [new Buf(pop.size)], // h
    step(s) {
      const pop = s.pop, out = s.out;
      const H = pop.size;
      const vx = s.ports.input, vh = s.ports.recurrent;
      loadBias(vx, pop.tensors.bias_x.data);
      loadBias(vh, pop.tensors.bias_h.data);
      deliver(s);
      const thr = pop.tensors.thr.data;
      const h = s.state[0];
      // Zoneout p at inference, as EvNN's compiled kernel: the candidate blended with the previous state
      // (after its reset) before the threshold, c = p·h + (1 − p)·c (docs/model-math.md, "EGRU zoneout").
      const p = pop.zoneout ?? 0;
      for (let i = 0; i < H; i++) {
        const z = sigmoid(vx[i] + vh[i]);
        const r = sigmoid(vx[H + i] + vh[H + i]);
        const g = Math.tanh(vx[2 * H + i] + r * vh[2 * H + i]);
        const c0 = z * h[i] + (1 - z) * g;
        const c = p === 0 ? c0 : p * h[i] + (1 - p) * c0;
        // Store c first so that Float32 mode compares the stored (rounded) value with the threshold.
        out[i] = c;
        const fire = out[i] - thr[i] > 0;
        h[i] = fire ? out[i] - thr[i] : out[i];
        if (!fire) out[i] = 0;
      }
    },
  },
  DiagonalSSM: {
    // x re, im; event time with a stride adds the group's C x (H), its pooled skip (H) and weight sum (1).
    state: (pop, Buf) => (pop.discretization === undefined
      ? [new Buf(pop.stateSize), new Buf(pop.stateSize)]
      : [new Buf(pop.stateSize), new Buf(pop.stateSize), new Buf(pop.size), new Buf(pop.size), new Buf(1)]),
    step(s, _x, _xOff, t) {
      if (s.pop.discretization !== undefined) {
        eventSsmStep(s, t);
        return;
      }
      const pop = s.pop, out = s.out;
      const P = pop.stateSize, H = pop.size;
      const u = s.ports.u, skip = s.ports.skip;
      u.fill(0);
      skip.fill(0);
      deliver(s);
      const [xr, xi] = s.state;
      const lr = pop.tensors.lambda_re.data, li = pop.tensors.lambda_im.data;
      for (let p = 0; p < P; p++) {
        const a = xr[p], b = xi[p];
        xr[p] = lr[p] * a - li[p] * b + u[p];
        xi[p] = lr[p] * b + li[p] * a + u[P + p];
      }
      const cr = pop.tensors.c_re.data, ci = pop.tensors.c_im.data;
      for (let hh = 0; hh < H; hh++) {
        let y = skip[hh];
        const row = hh * P;
        for (let p = 0; p < P; p++) y += cr[row + p] * xr[p] - ci[row + p] * xi[p];
        out[hh] = y;
      }
    },
  },
  Dense: {
    state: () => [],
    step(s) {
      const acc = s.ports.x;
      loadBias(acc, s.pop.tensors.bias.data);
      deliver(s);
      applyActivation(s.pop.activation, acc, s.out);
    },
  },
  Readout: {
    state: (pop, Buf) => (pop.mode === "timepool" ? [new Buf(pop.size), new Buf(1)] : [new Buf(pop.size)]), // running sum (and Σ Δt)
    step(s, _x, _xOff, t) {
      const pop = s.pop, out = s.out;
      const src = s.read;
      const sum = s.state[0];
      if (pop.mode === "pool" || pop.mode === "timepool") {
        maskedReadoutStep(s, t);
        return;
      }
      for (let i = 0; i < pop.size; i++) {
        if (pop.mode === "last") sum[i] = src[i];
        else sum[i] += src[i];
        out[i] = pop.mode === "mean" ? sum[i] / (t + 1) : sum[i];
      }
    },
  },
  // out_i = a_i · b_i, the port sums of this tick (no bias).
  Multiply: {
    state: () => [],
    step(s) {
      const a = s.ports.a, b = s.ports.b, out = s.out;
      a.fill(0);
      b.fill(0);
      deliver(s);
      for (let i = 0; i < out.length; i++) out[i] = a[i] * b[i];
    },
  },
  // out_i = γ_i · (x_i − μ) · 1/√(σ² + ε) + β_i over this tick's port sums, μ the mean and σ² the biased
  // variance Σ(x_i − μ)²/n (tfjs LayerNormalization: tf.moments, then batchNorm's (x − μ) · rsqrt(σ² + ε)).
  LayerNorm: {
    state: () => [],
    step(s) {
      const x = s.ports.x, out = s.out, n = out.length, eps = s.pop.epsilon;
      const g = s.pop.tensors.gamma.data, b = s.pop.tensors.beta.data;
      x.fill(0);
      deliver(s);
      let sum = 0;
      for (let i = 0; i < n; i++) sum += x[i];
      const mean = sum / n;
      let sq = 0;
      for (let i = 0; i < n; i++) sq += (x[i] - mean) * (x[i] - mean);
      const r = 1 / Math.sqrt(sq / n + eps);
      for (let i = 0; i < n; i++) out[i] = Number(g[i]) * ((x[i] - mean) * r) + Number(b[i]);
    },
  },
  // event-ssm's EventPooling (layers.py): the steps of each group of `stride` pooled into one output at the
  // group's last step. State: the group's running sum or first value (n) and its weight sum (1).
  EventPooling: {
    state: (pop, Buf) => [new Buf(pop.size), new Buf(1)],
    step(s, _x, _xOff, t) {
      const pop = s.pop, x = s.ports.x, out = s.out, n = out.length, k = pop.stride;
      const [acc, wsum] = s.state;
      x.fill(0);
      deliver(s);
      const pos = t % k;
      poolInto(pop.mode, pos, s.dt, x, acc, wsum, n);
      if (pos !== k - 1) return;
      for (let i = 0; i < n; i++) out[i] = pooledValue(pop.mode, acc, wsum, k, i);
    },
  },
};

/** event-ssm's ε in the time-weighted means (EventPooling eps, masked_timepool eps): 1e−6 ms. */
const POOL_EPS = 1e-6;

/**
 * One step of an event-time DiagonalSSM (event-ssm ssm.py, S5SSM.__call__; docs/model-math.md): with Λ s = a + ib
 * per state, Λ̄ = exp((a + ib) Δt), the input gain γ of the discretization, x ← Λ̄ x + γ (B̃u). Λ̄ − 1 and
 * exp(Λs) − 1 are formed as expm1(·)cos(·) − 2 sin²(·/2) + i exp(·) sin(·), without the cancellation of the
 * subtraction. Output Re(C x) + skip at every step, or with a stride k once per group: Re(C x) of the group's
 * first step plus the group's skip pooled by `pool`.
 */
function eventSsmStep(s: FloatPop<"DiagonalSSM">, t: number): void {
  const pop = s.pop, out = s.out;
  const P = pop.stateSize, H = pop.size;
  const u = s.ports.u, skip = s.ports.skip;
  u.fill(0);
  skip.fill(0);
  deliver(s);
  const [xr, xi, latch, pooled, wsum] = s.state;
  const lr = pop.tensors.lambda_re.data, li = pop.tensors.lambda_im.data, st = pop.tensors.step.data;
  const disc = pop.discretization, dt = s.dt;
  for (let p = 0; p < P; p++) {
    const lre = Number(lr[p]), lim = Number(li[p]);
    const a = lre * st[p], b = lim * st[p]; // Λ s
    const mag = Math.exp(a * dt), ang = b * dt;
    const Lr = mag * Math.cos(ang), Li = mag * Math.sin(ang);
    let gr = 1, gi = 0;
    if (disc !== "dirac") {
      // γ = (e^z − 1)/Λ with z = Λ s (async) or Λ s Δt (zoh); its limit at Λ = 0 is s (async), s Δt (zoh).
      const za = disc === "async" ? a : a * dt, zb = disc === "async" ? b : ang;
      const hs = Math.sin(zb / 2);
      const nr = Math.expm1(za) * Math.cos(zb) - 2 * hs * hs, ni = Math.exp(za) * Math.sin(zb);
      const den = lre * lre + lim * lim;
      if (den === 0) {
        gr = disc === "async" ? st[p] : st[p] * dt;
      } else {
        gr = (nr * lre + ni * lim) / den;
        gi = (ni * lre - nr * lim) / den;
      }
    }
    const ur = u[p], ui = u[P + p];
    const xa = xr[p], xb = xi[p];
    xr[p] = Lr * xa - Li * xb + (gr * ur - gi * ui);
    xi[p] = Lr * xb + Li * xa + (gr * ui + gi * ur);
  }
  const cr = pop.tensors.c_re.data, ci = pop.tensors.c_im.data;
  const k = pop.stride ?? 1;
  const readC = (hh: number): number => {
    const row = hh * P;
    let y = 0;
    for (let p = 0; p < P; p++) y += cr[row + p] * xr[p] - ci[row + p] * xi[p];
    return y;
  };
  if (k === 1) {
    for (let hh = 0; hh < H; hh++) out[hh] = readC(hh) + skip[hh];
    return;
  }
  // Stride k: the states of each group's first step (event-ssm's xs[:R:k]) and the group's pooled skip (its
  // D term reads EventPooling(k, pool) of the input).
  const pos = t % k, mode = pop.pool ?? "last";
  if (pos === 0) for (let hh = 0; hh < H; hh++) latch[hh] = readC(hh);
  poolInto(mode, pos, dt, skip, pooled, wsum, H);
  if (pos !== k - 1) return;
  for (let hh = 0; hh < H; hh++) out[hh] = latch[hh] + pooledValue(mode, pooled, wsum, k, hh);
}

/**
 * One step of event-ssm's pooling of n values x into a group's accumulator (pos: the step's place in its group
 * of k): `last` keeps the group's first values, `avgpool` sums them, `timepool` sums x·(Δt + 1e−6) and the
 * weights into wsum[0]. EventPooling and a strided event-time DiagonalSSM's skip share it.
 */
function poolInto(mode: PoolMode, pos: number, dt: number, x: Buf, acc: Buf, wsum: Buf, n: number): void {
  if (mode === "timepool") {
    const w = dt + POOL_EPS;
    if (pos === 0) {
      for (let i = 0; i < n; i++) acc[i] = x[i] * w;
      wsum[0] = w;
    } else {
      for (let i = 0; i < n; i++) acc[i] += x[i] * w;
      wsum[0] += w;
    }
  } else if (pos === 0) for (let i = 0; i < n; i++) acc[i] = x[i];
  else if (mode === "avgpool") for (let i = 0; i < n; i++) acc[i] += x[i];
}

/** Unit i's pooled value at the end of a group of k (poolInto's accumulator). */
function pooledValue(mode: PoolMode, acc: Buf, wsum: Buf, k: number, i: number): number {
  return mode === "last" ? acc[i] : mode === "avgpool" ? acc[i] / k : acc[i] / wsum[0];
}

/**
 * The masked readouts of event-ssm's ClassificationModel (seq_model.py): over the first n = floor(length /
 * rate) steps (s.valid), `pool` Σ x_i / n and `timepool` Σ x_i (Δt_i + 1e−6) / Σ_all Δt_i, the denominator over
 * every step, padding included. The value after each step is the running one; after the last step, the readout.
 */
function maskedReadoutStep(s: FloatPop<"Readout">, t: number): void {
  const pop = s.pop, out = s.out, src = s.read, sum = s.state[0], n = pop.size;
  if (pop.mode === "pool") {
    if (t < s.valid) for (let i = 0; i < n; i++) sum[i] += src[i];
    // No valid step (length < rate, e.g. length 0): 0, as the golden engine (event-kernels.ts), not 0/0 = NaN.
    for (let i = 0; i < n; i++) out[i] = s.valid > 0 ? sum[i] / s.valid : 0;
    return;
  }
  const total = s.state[1];
  total[0] += s.dt;
  if (t < s.valid) {
    const w = s.dt + POOL_EPS;
    for (let i = 0; i < n; i++) sum[i] += src[i] * w;
  }
  for (let i = 0; i < n; i++) out[i] = total[0] > 0 ? sum[i] / total[0] : 0;
}

/** A population's row with its kind erased (the engine holds populations of every kind in one list). */
export function floatOpOf(kind: PopulationKind): FloatOp<PopulationKind> {
  return FLOAT_OPS[kind] as unknown as FloatOp<PopulationKind>;
}

function applyActivation(act: string, acc: Buf, out: Buf): void {
  const n = acc.length;
  switch (act) {
    case "linear": for (let i = 0; i < n; i++) out[i] = acc[i]; break;
    case "relu": for (let i = 0; i < n; i++) out[i] = acc[i] > 0 ? acc[i] : 0; break;
    case "sigmoid": for (let i = 0; i < n; i++) out[i] = sigmoid(acc[i]); break;
    case "tanh": for (let i = 0; i < n; i++) out[i] = Math.tanh(acc[i]); break;
    case "gelu": for (let i = 0; i < n; i++) out[i] = gelu(acc[i]); break;
    case "gelu_new": for (let i = 0; i < n; i++) out[i] = geluNew(acc[i]); break;
    case "swish": for (let i = 0; i < n; i++) out[i] = swish(acc[i]); break;
    case "softplus": for (let i = 0; i < n; i++) out[i] = softplus(acc[i]); break;
    case "softmax": {
      let m = -Infinity;
      for (let i = 0; i < n; i++) if (acc[i] > m) m = acc[i];
      let z = 0;
      for (let i = 0; i < n; i++) z += Math.exp(acc[i] - m);
      for (let i = 0; i < n; i++) out[i] = Math.exp(acc[i] - m) / z;
      break;
    }
    default: throw new NmcError(`unknown activation ${act}`);
  }
}
