// A faster, training-only forward pass of the example's functional model on the wasm backend. It computes
// the same function as `model.apply` (with `training: false`) from the same variables, so the gradients train
// the model's own weights; the model that is saved, reloaded and evaluated is the ordinary tfjs model
// (train.ts checks that both forwards agree before training). With a dropout seed it also applies the
// model's Dropout layers as training does.
//
// Why: tfjs-backend-wasm's matrix product is ~8× slower when an operand is transposed (`transposeA` /
// `transposeB`: measured 20 ms vs 2.5 ms for [5600, 64]·[64, 64] on one core), and the gradients of every
// matMul use exactly those forms. Here every product goes through `mm`, whose custom gradient transposes
// explicitly (a cheap copy) and multiplies untransposed. The network also runs time-major ([T·B, width]
// rows, tick by tick), which the doubling scan of the diagonal recurrence wants, so no per-layer transposes
// are needed.
//
// Layers handled (what train.ts builds): InputLayer; Dense (linear, relu, sigmoid, gelu, gelu_new);
// Activation (the same); DiagonalSSM; LayerNormalization (last axis); Dropout (noise shape [null, 1, n] or
// none); the merges Add and Multiply. The graph is walked in `model.layers` order, which tfjs keeps
// topological, each layer reading the outputs of its one inbound node.
import type * as tfjs from "@tensorflow/tfjs";
import { type DiagonalSsmLayer, type Tf, untransposedMatMul } from "../../index.js";

type Tensor = tfjs.Tensor;

export interface FastOptions {
  /** Applies the Dropout layers (training mode) with masks drawn from this seed; without it they are the identity. */
  dropoutSeed?: number;
}

export type FastForward = (x: Tensor, opts?: FastOptions) => Tensor;

/** GELU, exact (x·Φ(x), as tfjs `gelu`) or the tanh form (as tfjs `gelu_new`), written as tfjs writes them. */
function gelu(tf: Tf, x: Tensor, tanhForm: boolean): Tensor {
  if (!tanhForm) return tf.mul(x, tf.mul(0.5, tf.add(1, tf.erf(tf.div(x, Math.SQRT2)))));
  const cube = tf.mul(tf.mul(x, x), x); // tfjs writes pow(x, 3); x·x·x has a plain gradient for negative x
  return tf.mul(0.5, tf.mul(x, tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, cube)))))));
}

function activate(tf: Tf, y: Tensor, act: string, where: string): Tensor {
  switch (act) {
    case "linear": return y;
    case "relu": return tf.relu(y);
    case "sigmoid": return tf.sigmoid(y);
    case "gelu": return gelu(tf, y, false);
    case "gelu_new": case "geluNew": return gelu(tf, y, true);
    default: throw new Error(`fast forward: activation ${act} (${where}) is not handled`);
  }
}

/** The layer's variable whose name ends with `/suffix` (tfjs names them `<layer>/<param>`). */
function param(layer: tfjs.layers.Layer, suffix: string): Tensor | undefined {
  const w = layer.trainableWeights.find((v) => v.name.endsWith(`/${suffix}`) || v.name === suffix);
  return w ? (w as unknown as { read(): Tensor }).read() : undefined;
}

/**
 * Returns f(x [B, T, C]) → [B, T, K], the model's output, for a functional (or Sequential) model made of the
 * layers listed above.
 */
export function makeFastForward(tf: Tf, model: tfjs.LayersModel): FastForward {
  // 2-D a·b with a gradient that avoids the transposed kernels.
  const mm = untransposedMatMul(tf);

  interface Ctx { T: number; B: number; dropoutSeed?: number }
  /** One layer: its inputs (time-major rows [T·B, width]) → its output. */
  type Op = (ins: Tensor[], ctx: Ctx) => Tensor;
  const ops: { name: string; inbound: string[]; op: Op }[] = [];
  let inputName = "";
  let dropouts = 0;

  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const node = (layer as unknown as { inboundNodes: { inboundLayers: tfjs.layers.Layer[] }[] }).inboundNodes[0];
    const inbound = (node?.inboundLayers ?? []).map((l) => l.name);
    if (cls === "InputLayer") {
      inputName = layer.name;
      continue;
    }
    if (inbound.length === 0) { // a Sequential model's first layer reads the model input
      inbound.push(inputName || "__input__");
      if (!inputName) inputName = "__input__";
    }
    const cfg = layer.getConfig() as Record<string, unknown>;
    const where = `${cls} ${layer.name}`;
    let op: Op;
    if (cls === "Dense") {
      const act = String(cfg.activation ?? "linear");
      const kernel = param(layer, "kernel")!;
      const bias = param(layer, "bias");
      op = ([h]) => {
        let y = mm(h!, kernel);
        if (bias) y = tf.add(y, bias);
        return activate(tf, y, act, where);
      };
    } else if (cls === "Activation") {
      const act = String(cfg.activation);
      op = ([h]) => activate(tf, h!, act, where);
    } else if (cls === "LayerNormalization") {
      const axis = cfg.axis as number | number[];
      const ax = Array.isArray(axis) ? axis : [axis];
      if (ax.length !== 1 || (ax[0] !== -1 && ax[0] !== 2)) throw new Error(`fast forward: ${where} axis ${JSON.stringify(axis)}`);
      const eps = Number(cfg.epsilon);
      const gamma = param(layer, "gamma");
      const beta = param(layer, "beta");
      op = ([h]) => {
        const { mean, variance } = tf.moments(h!, 1, true);
        let y = tf.mul(tf.sub(h!, mean), tf.rsqrt(tf.add(variance, eps)));
        if (gamma) y = tf.mul(y, gamma);
        if (beta) y = tf.add(y, beta);
        return y;
      };
    } else if (cls === "Dropout") {
      const rate = Number(cfg.rate ?? 0);
      const noise = (cfg.noiseShape ?? cfg.noise_shape) as (number | null)[] | null | undefined;
      const perTick = !noise; // no noise shape: one draw per unit and tick
      if (noise && !(noise.length === 3 && noise[1] === 1)) throw new Error(`fast forward: ${where} noise shape ${JSON.stringify(noise)}`);
      const k = dropouts++;
      op = ([h], { T, B, dropoutSeed }) => {
        if (dropoutSeed === undefined || rate === 0) return h!;
        const n = h!.shape[1]!;
        const keep = tf.div(tf.cast(tf.greaterEqual(tf.randomUniform(perTick ? [T, B, n] : [1, B, n], 0, 1, "float32", dropoutSeed * 101 + k), rate), "float32"), 1 - rate);
        return tf.reshape(tf.mul(tf.reshape(h!, [T, B, n]), keep), [T * B, n]);
      };
    } else if (cls === "Add") {
      op = (ins) => ins.slice(1).reduce((a, b) => tf.add(a, b), ins[0]!);
    } else if (cls === "Multiply") {
      op = (ins) => ins.slice(1).reduce((a, b) => tf.mul(a, b), ins[0]!);
    } else if (cls === "DiagonalSSM") {
      const ssm = layer as unknown as DiagonalSsmLayer;
      op = ([u], { T, B }) => {
        const s = ssm.discretize(); // Λ̄, B̄, C, D as differentiable functions of the weights
        const P = s.lambdaRe.shape[0]!;
        let re = tf.reshape(mm(u!, tf.transpose(s.bRe)), [T, B, P]);
        let im = tf.reshape(mm(u!, tf.transpose(s.bIm)), [T, B, P]);
        // Doubling scan: x_k += Λ̄^d x_{k−d} for d = 1, 2, 4, … (zero state before tick 0).
        let pRe: Tensor = s.lambdaRe;
        let pIm: Tensor = s.lambdaIm;
        for (let d = 1; d < T; d *= 2) {
          const shift = (v: Tensor) => tf.pad(tf.slice(v, [0, 0, 0], [T - d, B, P]), [[d, 0], [0, 0], [0, 0]]);
          const sRe = shift(re);
          const sIm = shift(im);
          const nRe = tf.add(re, tf.sub(tf.mul(pRe, sRe), tf.mul(pIm, sIm)));
          const nIm = tf.add(im, tf.add(tf.mul(pRe, sIm), tf.mul(pIm, sRe)));
          re = nRe;
          im = nIm;
          if (d * 2 < T) {
            const qRe = tf.sub(tf.mul(pRe, pRe), tf.mul(pIm, pIm));
            const qIm = tf.mul(2, tf.mul(pRe, pIm));
            pRe = qRe;
            pIm = qIm;
          }
        }
        // y = Re(C x) + D ⊙ u
        const y = tf.sub(
          mm(tf.reshape(re, [T * B, P]), tf.transpose(s.cRe)),
          mm(tf.reshape(im, [T * B, P]), tf.transpose(s.cIm)),
        );
        return tf.add(y, tf.mul(u!, s.d));
      };
    } else {
      throw new Error(`fast forward: layer class ${cls} is not handled`);
    }
    ops.push({ name: layer.name, inbound, op });
  }
  const outName = (model.outputs[0] as unknown as { sourceLayer: tfjs.layers.Layer }).sourceLayer.name;

  return (x: Tensor, opts: FastOptions = {}) => {
    const [B, T, C] = x.shape as [number, number, number];
    const ctx: Ctx = { T, B, dropoutSeed: opts.dropoutSeed };
    const values = new Map<string, Tensor>([[inputName, tf.reshape(tf.transpose(x, [1, 0, 2]), [T * B, C])]]);
    for (const { name, inbound, op } of ops) {
      values.set(name, op(inbound.map((n) => {
        const v = values.get(n);
        if (!v) throw new Error(`fast forward: layer ${name} reads ${n}, which has not been computed`);
        return v;
      }), ctx));
    }
    const h = values.get(outName)!;
    const K = h.shape[1]!;
    return tf.transpose(tf.reshape(h, [T, B, K]), [1, 0, 2]);
  };
}
