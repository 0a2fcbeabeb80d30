// A faster, training-only forward pass of the example's Sequential model (Dense / DiagonalSSM chain) on
// the wasm backend. It computes the same function as `model.apply` from the same variables, so the
// gradients train the model's own weights; the model that is saved, reloaded and evaluated is the ordinary
// tfjs model (train.ts checks that both forwards agree before training).
//
// Why: tfjs-backend-wasm's matrix product is ~8× slower when an operand is transposed (`transposeA` /
// `transposeB`: measured 20 ms vs 2.5 ms for [5600, 64]·[64, 64] on one core), and the gradients of every
// matMul use exactly those forms. Here every product goes through `mm`, whose custom gradient transposes
// explicitly (a cheap copy) and multiplies untransposed. The network also runs time-major ([T, B, ·]),
// which the doubling scan of the diagonal recurrence wants, so no per-layer transposes are needed.
import type * as tfjs from "@tensorflow/tfjs";
import type { DiagonalSsmLayer, Tf } from "../../index.js";

type Tensor = tfjs.Tensor;

export type FastForward = (x: Tensor) => Tensor;

/**
 * Returns f(x [B, T, C]) → [B, T, K], the model's output, for a Sequential chain of Dense (linear / relu)
 * and DiagonalSSM layers.
 */
export function makeFastForward(tf: Tf, model: tfjs.LayersModel): FastForward {
  // 2-D a·b with a gradient that avoids the transposed kernels.
  const mm = tf.customGrad(((a: Tensor, b: Tensor, save: tfjs.GradSaveFunc) => {
    save([a, b]);
    return {
      value: tf.matMul(a as tfjs.Tensor2D, b as tfjs.Tensor2D),
      gradFunc: (dy: Tensor, saved: Tensor[]) => {
        const [sa, sb] = saved as [tfjs.Tensor2D, tfjs.Tensor2D];
        return [
          tf.matMul(dy as tfjs.Tensor2D, tf.transpose(sb)),
          tf.matMul(tf.transpose(sa), dy as tfjs.Tensor2D),
        ];
      },
    };
  }) as unknown as Parameters<Tf["customGrad"]>[0]) as (a: Tensor, b: Tensor) => Tensor;

  type Step = (h: Tensor) => Tensor; // h: [T·B, width], time-major rows
  const steps: ((T: number, B: number) => Step)[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === "Dense") {
      const cfg = layer.getConfig() as { activation?: string; use_bias?: boolean; useBias?: boolean };
      const act = cfg.activation ?? "linear";
      if (act !== "linear" && act !== "relu") throw new Error(`fast forward: Dense activation ${act} is not handled`);
      const [kernel, bias] = layer.trainableWeights.map((w) => (w as unknown as { read(): Tensor }).read());
      steps.push(() => (h) => {
        let y = mm(h, kernel!);
        if (bias) y = tf.add(y, bias);
        return act === "relu" ? tf.relu(y) : y;
      });
    } else if (cls === "DiagonalSSM") {
      const ssm = layer as unknown as DiagonalSsmLayer;
      steps.push((T, B) => (u) => {
        const s = ssm.discretize(); // Λ̄, B̄, C, D as differentiable functions of the weights
        const P = s.lambdaRe.shape[0]!;
        let re = tf.reshape(mm(u, tf.transpose(s.bRe)), [T, B, P]);
        let im = tf.reshape(mm(u, tf.transpose(s.bIm)), [T, B, P]);
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
        return tf.add(y, tf.mul(u, s.d));
      });
    } else {
      throw new Error(`fast forward: layer class ${cls} is not handled`);
    }
  }

  return (x: Tensor) => {
    const [B, T, C] = x.shape as [number, number, number];
    let h = tf.reshape(tf.transpose(x, [1, 0, 2]), [T * B, C]);
    for (const make of steps) h = make(T, B)(h);
    const K = h.shape[1]!;
    return tf.transpose(tf.reshape(h, [T, B, K]), [1, 0, 2]);
  };
}
