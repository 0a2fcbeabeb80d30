// EGRU (event-based GRU, Subramoney et al. ICLR 2023; math as in EvNN) as a TensorFlow.js layer.
// The math is `docs/model-math.md`, section EGRU; this file is its float, differentiable form.
//
// Layer `EGRU` — config (snake_case in model.json, camelCase in TS):
//   units, dampening_factor = 0.7, pseudo_derivative_support = 1.0, thr_mean = 0.3, activity_regularization = 0
//   (+ optional seed, written only when set; + zoneout = 0, EvNN's zoneout p in [0, 1), written only when not 0:
//   training blends with EvNN's random mask, inference with p as EvNN's compiled kernel, docs/model-math.md)
// Weights, in this order: kernel [C, 3H], recurrent_kernel [H, 3H], bias [3H], recurrent_bias [3H], thr [H];
// gate blocks along the last axis in the order z, r, g. Input [B, T, C] → output [B, T, H]: the graded events
// y_t of every step.

import type * as tfjs from "@tensorflow/tfjs";
import { NmcError } from "../../ir/errors.js";
import { configValue, fnInitializer, type Tf } from "./backend.js";

type Tensor = tfjs.Tensor;

export interface EgruWeights {
  kernel: Tensor; // [C, 3H]
  recurrentKernel: Tensor; // [H, 3H]
  bias: Tensor; // [3H]
  recurrentBias: Tensor; // [3H]
  thr: Tensor; // [H]
}

export interface EgruForwardOptions {
  /** Surrogate-gradient scale (EvNN `dampening_factor`). Default 0.7. */
  dampeningFactor?: number;
  /** Surrogate-gradient half-width 1/support (EvNN `pseudo_derivative_support`). Default 1.0. */
  pseudoDerivativeSupport?: number;
  /**
   * EvNN zoneout probability p in [0, 1) (default 0: none), applied to the candidate before the threshold.
   * Inference (EvNN's compiled kernel): c ← p·h + (1 − p)·c. Training: c ← (c − h)·m + h, m ~ Bernoulli(1 − p)
   * per (sample, unit, step), as EvNN's training path.
   */
  zoneout?: number;
  /** Training mode: zoneout with a random mask instead of its expectation. Default false. */
  training?: boolean;
}

export interface EgruForwardResult {
  /** Graded events y_t = o_t ⊙ c_t, [B, T, H]. */
  y: Tensor;
  /** Output gates o_t ∈ {0, 1}, [B, T, H] (differentiable through the surrogate). */
  o: Tensor;
}

/**
 * Heaviside step H(x) = 1 for x > 0, else 0 (exactly 0 at x = 0), with EvNN's surrogate gradient
 * dH/dx ≈ dampening · max(0, 1 − support·|x|) (EvNN SpikeFunction.backward).
 */
export function makeHeaviside(tf: Tf, dampeningFactor = 0.7, pseudoDerivativeSupport = 1.0): (x: Tensor) => Tensor {
  const f = tf.customGrad((xIn: Tensor | tfjs.GradSaveFunc, saveIn: Tensor | tfjs.GradSaveFunc) => {
    const x = xIn as Tensor;
    const save = saveIn as tfjs.GradSaveFunc;
    save([x]);
    return {
      value: tf.step(x, 0),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const xs = saved[0]!;
        const shape = tf.relu(tf.sub(1, tf.mul(pseudoDerivativeSupport, tf.abs(xs))));
        return tf.mul(dy, tf.mul(shape, dampeningFactor));
      },
    };
  });
  return (x: Tensor) => f(x);
}

/**
 * The EGRU forward pass over a whole sequence, from zero state (h_0 = 0, y_0 = 0). Plain tf ops, so it is
 * differentiable (with the surrogate for the step). The caller owns the returned tensors; wrap in tf.tidy.
 * The input projection x_t·W + b_x is computed for all steps at once before the time loop.
 */
export function egruForward(
  tf: Tf,
  x: Tensor,
  w: EgruWeights,
  opts: EgruForwardOptions & { heaviside?: (x: Tensor) => Tensor } = {},
): EgruForwardResult {
  if (x.rank !== 3) {
    throw new NmcError("EGRU input must have rank 3", { expected: "[batch, time, channels]", found: `[${x.shape}]` });
  }
  const [B, T, C] = x.shape as [number, number, number];
  const H = w.thr.shape[0]!;
  if (w.kernel.shape[0] !== C || w.kernel.shape[1] !== 3 * H) {
    throw new NmcError("EGRU kernel shape does not match the input", {
      expected: `[${C}, ${3 * H}]`,
      found: `[${w.kernel.shape}]`,
    });
  }
  const heaviside =
    opts.heaviside ?? makeHeaviside(tf, opts.dampeningFactor ?? 0.7, opts.pseudoDerivativeSupport ?? 1.0);

  const thr = tf.clipByValue(w.thr, 0, 1); // EvNN clamps the threshold to [0, 1] in the forward pass
  const zoneout = opts.zoneout ?? 0;
  const vxAll = tf.add(tf.reshape(tf.matMul(tf.reshape(x, [B * T, C]), w.kernel), [B, T, 3 * H]), w.bias);
  const [vxZ, vxR, vxG] = tf.split(vxAll, 3, 2) as [Tensor, Tensor, Tensor];
  const xz = tf.unstack(vxZ, 1);
  const xr = tf.unstack(vxR, 1);
  const xg = tf.unstack(vxG, 1);

  let h: Tensor = tf.zeros([B, H]);
  let y: Tensor = tf.zeros([B, H]);
  const ys: Tensor[] = [];
  const os: Tensor[] = [];
  for (let t = 0; t < T; t++) {
    const vh = tf.add(tf.matMul(y, w.recurrentKernel), w.recurrentBias); // [B, 3H]
    const [vhZ, vhR, vhG] = tf.split(vh, 3, 1) as [Tensor, Tensor, Tensor];
    const z = tf.sigmoid(tf.add(xz[t]!, vhZ));
    const r = tf.sigmoid(tf.add(xr[t]!, vhR));
    const g = tf.tanh(tf.add(xg[t]!, tf.mul(r, vhG)));
    let c = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), g));
    if (zoneout !== 0) {
      c = opts.training
        ? tf.add(tf.mul(tf.sub(c, h), tf.cast(tf.less(tf.randomUniform([B, H]), 1 - zoneout), "float32")), h)
        : tf.add(tf.mul(zoneout, h), tf.mul(1 - zoneout, c));
    }
    const o = heaviside(tf.sub(c, thr));
    y = tf.mul(o, c);
    h = tf.sub(c, tf.mul(o, thr));
    ys.push(y);
    os.push(o);
  }
  if (T === 0) {
    return { y: tf.zeros([B, 0, H]), o: tf.zeros([B, 0, H]) };
  }
  return { y: tf.stack(ys, 1), o: tf.stack(os, 1) };
}

/**
 * Samples Beta(α, β) with β = 3, α = β·m/(1−m) (mean m), as EvNN initializes `thr`: X/(X+Y) with
 * X ~ Gamma(α), Y ~ Gamma(β) drawn by tf.randomGamma (seeded when `seed` is given). Values lie in (0, 1).
 */
export function sampleThreshold(tf: Tf, shape: number[], mean: number, seed?: number): Tensor {
  return tf.tidy(() => {
    const beta = 3;
    const alpha = (beta * mean) / (1 - mean);
    const x = tf.randomGamma(shape, alpha, 1, "float32", seed);
    const yv = tf.randomGamma(shape, beta, 1, "float32", seed === undefined ? undefined : seed + 1);
    // Guard the (practically impossible) 0/0 of two underflowed draws.
    return tf.clipByValue(tf.div(x, tf.maximum(tf.add(x, yv), 1e-30)), 1e-6, 1 - 1e-6);
  });
}

export interface EgruLayerArgs {
  units: number;
  dampeningFactor?: number;
  pseudoDerivativeSupport?: number;
  thrMean?: number;
  activityRegularization?: number;
  zoneout?: number;
  seed?: number;
  name?: string;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
  batchSize?: number;
  trainable?: boolean;
  dtype?: tfjs.DataType;
  [key: string]: unknown;
}

/** Builds the `EGRU` layer class against a given tf module (see index.ts `makeLayerClasses`). */
export function makeEgruClass(tf: Tf) {
  class EGRU extends tf.layers.Layer {
    static className = "EGRU";

    readonly units: number;
    readonly dampeningFactor: number;
    readonly pseudoDerivativeSupport: number;
    readonly thrMean: number;
    readonly activityRegularization: number;
    readonly zoneout: number;
    readonly seed: number | undefined;

    kernel: tfjs.LayerVariable | null = null;
    recurrentKernel: tfjs.LayerVariable | null = null;
    bias: tfjs.LayerVariable | null = null;
    recurrentBias: tfjs.LayerVariable | null = null;
    thr: tfjs.LayerVariable | null = null;

    /**
     * Mean of o over (batch, time, unit) of the last call: a kept scalar tensor, differentiable through the
     * surrogate while training (the activity loss reads it). Replaced (and the old one disposed) every call.
     */
    lastActivityTensor: Tensor | null = null;

    private readonly heaviside: (x: Tensor) => Tensor;

    constructor(args: EgruLayerArgs) {
      super(args as ConstructorParameters<typeof tf.layers.Layer>[0]);
      const a = args as Record<string, unknown>;
      this.units = configValue<number>(a, "units", "units", NaN);
      this.dampeningFactor = configValue(a, "dampeningFactor", "dampening_factor", 0.7);
      this.pseudoDerivativeSupport = configValue(a, "pseudoDerivativeSupport", "pseudo_derivative_support", 1.0);
      this.thrMean = configValue(a, "thrMean", "thr_mean", 0.3);
      this.activityRegularization = configValue(a, "activityRegularization", "activity_regularization", 0);
      this.zoneout = configValue(a, "zoneout", "zoneout", 0);
      this.seed = configValue<number | undefined>(a, "seed", "seed", undefined);
      const node = this.name;
      if (typeof this.zoneout !== "number" || !(this.zoneout >= 0 && this.zoneout < 1)) {
        throw new NmcError("EGRU zoneout must be a number in [0, 1)", {
          node,
          path: "config.zoneout",
          expected: "0 ≤ zoneout < 1",
          found: String(this.zoneout),
        });
      }
      if (!Number.isInteger(this.units) || this.units <= 0) {
        throw new NmcError("EGRU units must be a positive integer", {
          node,
          path: "config.units",
          expected: "a positive integer",
          found: String(a.units),
        });
      }
      if (!(this.thrMean > 0 && this.thrMean < 1)) {
        throw new NmcError("EGRU thr_mean must lie strictly between 0 and 1", {
          node,
          path: "config.thr_mean",
          expected: "0 < thr_mean < 1",
          found: String(this.thrMean),
        });
      }
      for (const [k, v] of [
        ["dampening_factor", this.dampeningFactor],
        ["pseudo_derivative_support", this.pseudoDerivativeSupport],
        ["activity_regularization", this.activityRegularization],
      ] as const) {
        if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
          throw new NmcError(`EGRU ${k} must be a finite number ≥ 0`, {
            node,
            path: `config.${k}`,
            expected: "a finite number ≥ 0",
            found: String(v),
          });
        }
      }
      this.heaviside = makeHeaviside(tf, this.dampeningFactor, this.pseudoDerivativeSupport);
    }

    override build(inputShape: tfjs.Shape | tfjs.Shape[]): void {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfjs.Shape;
      const C = shape[shape.length - 1];
      if (shape.length !== 3 || C == null) {
        throw new NmcError("EGRU expects input [batch, time, channels] with a known channel count", {
          node: this.name,
          expected: "[batch, time, channels]",
          found: JSON.stringify(shape),
        });
      }
      const H = this.units;
      const s = this.seed;
      const sub = (k: number) => (s === undefined ? undefined : s + k);
      this.kernel = this.addWeight("kernel", [C, 3 * H], "float32", tf.initializers.glorotNormal({ seed: sub(0) }));
      this.recurrentKernel = this.addWeight(
        "recurrent_kernel",
        [H, 3 * H],
        "float32",
        tf.initializers.glorotNormal({ seed: sub(1) }),
      );
      this.bias = this.addWeight("bias", [3 * H], "float32", tf.initializers.zeros());
      this.recurrentBias = this.addWeight("recurrent_bias", [3 * H], "float32", tf.initializers.zeros());
      this.thr = this.addWeight(
        "thr",
        [H],
        "float32",
        fnInitializer(tf, (sh) => sampleThreshold(tf, sh, this.thrMean, sub(2))),
      );
      if (this.activityRegularization > 0) {
        this.addLoss(() => this.activityLoss());
      }
      this.built = true;
    }

    override computeOutputShape(inputShape: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfjs.Shape;
      return [shape[0] ?? null, shape[1] ?? null, this.units];
    }

    /** The weights as plain tensors (reads of the variables). */
    weightTensors(): EgruWeights {
      if (!this.kernel || !this.recurrentKernel || !this.bias || !this.recurrentBias || !this.thr) {
        throw new Error(`EGRU layer '${this.name}' is used before it is built`);
      }
      return {
        kernel: this.kernel.read(),
        recurrentKernel: this.recurrentKernel.read(),
        bias: this.bias.read(),
        recurrentBias: this.recurrentBias.read(),
        thr: this.thr.read(),
      };
    }

    /**
     * Runs the layer returning both the events y and the gates o ([B, T, H] each). Caller disposes. training:
     * zoneout with EvNN's random mask (default false: its inference form).
     */
    forward(x: Tensor, training = false): EgruForwardResult {
      return egruForward(tf, x, this.weightTensors(), { heaviside: this.heaviside, zoneout: this.zoneout, training });
    }

    override call(inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      let activity: Tensor | null = null;
      const y = tf.tidy(() => {
        const r = this.forward(x, kwargs?.training === true);
        activity = tf.keep(tf.mean(r.o));
        return r.y;
      });
      const prev = this.lastActivityTensor;
      this.lastActivityTensor = activity;
      if (prev && !prev.isDisposed) prev.dispose();
      return y;
    }

    /** activity_regularization × mean(o) of the last call (0 when there is none). */
    activityLoss(): tfjs.Scalar {
      const a = this.lastActivityTensor;
      if (!a || a.isDisposed) return tf.scalar(0);
      return tf.mul(this.activityRegularization, a) as tfjs.Scalar;
    }

    /** Fraction of (batch, step, unit) with o = 1 in the last call, or null when not available. */
    get lastActivity(): number | null {
      const a = this.lastActivityTensor;
      if (!a || a.isDisposed) return null;
      return a.dataSync()[0]!;
    }

    override getConfig(): tfjs.serialization.ConfigDict {
      const config: tfjs.serialization.ConfigDict = {
        units: this.units,
        dampeningFactor: this.dampeningFactor,
        pseudoDerivativeSupport: this.pseudoDerivativeSupport,
        thrMean: this.thrMean,
        activityRegularization: this.activityRegularization,
      };
      if (this.zoneout !== 0) config.zoneout = this.zoneout;
      if (this.seed !== undefined) config.seed = this.seed;
      return { ...super.getConfig(), ...config };
    }
  }
  return EGRU;
}

export type EgruClass = ReturnType<typeof makeEgruClass>;
export type EgruLayer = InstanceType<EgruClass>;
