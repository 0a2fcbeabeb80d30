// The float op table: per population kind, the state vectors it keeps across ticks and its step (the math
// of docs/model-math.md, in Float64 or Float32 storage). The engine looks a population's row up once, when
// it is built, and calls its step once per tick; the loops inside a step run on typed arrays.
import { NmcError } from "../../ir/errors.js";
import type { PopOf } from "../../ir/kinds.js";
import type { PopulationKind } from "../../ir/types.js";
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
        out[x[xOff]] = 1;
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
    state: (pop, Buf) => [new Buf(pop.stateSize), new Buf(pop.stateSize)], // x re, im
    step(s) {
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
    state: (pop, Buf) => [new Buf(pop.size)], // running sum
    step(s, _x, _xOff, t) {
      const pop = s.pop, out = s.out;
      const src = s.read;
      const sum = s.state[0];
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
};

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
