// nmc tune's prunable weights: which of a model's variables become projections (and are pruned), their
// magnitudes, the int8 fake-quantization of QAT, and the overall sparsity of the masks.
import type * as tfjs from "@tensorflow/tfjs";
import type { Tf } from "../../runtime/tfjs/index.js";
import { maskSparsity } from "./schedule.js";

type Tensor = tfjs.Tensor;
type LayerVariable = tfjs.LayerVariable;

// ---- the prunable weights ---------------------------------------------------------------------------

export interface Prunable {
  /** The report's name: the model.json weight, or `layer/B_re+B_im`. */
  name: string;
  layer: string;
  className: string;
  members: LayerVariable[];
  shape: number[];
  /** Fake-quantize per column (axis 1 of [rows, cols]) with qat; null: never. */
  qat: boolean;
  master: tfjs.Variable[];
  maskData: Uint8Array;
  mask: Tensor | null;
}

const PRUNED_PARAMS = new Set(["kernel", "recurrent_kernel", "embeddings"]);

export function paramOf(v: LayerVariable): string {
  const n = v.originalName ?? v.name;
  return n.slice(n.lastIndexOf("/") + 1);
}

export function findPrunable(model: tfjs.LayersModel): { prunable: Omit<Prunable, "master" | "maskData" | "mask">[]; notPruned: string[] } {
  const prunable: Omit<Prunable, "master" | "maskData" | "mask">[] = [];
  const notPruned: string[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const ws = layer.trainableWeights;
    if (cls === "DiagonalSSM") {
      const re = ws.find((w) => paramOf(w) === "B_re");
      const im = ws.find((w) => paramOf(w) === "B_im");
      if (re && im) prunable.push({ name: `${layer.name}/B_re+B_im`, layer: layer.name, className: cls, members: [re, im], shape: [...re.shape] as number[], qat: false });
      for (const w of ws) if (w !== re && w !== im) notPruned.push(w.originalName ?? w.name);
      continue;
    }
    for (const w of ws) {
      if (PRUNED_PARAMS.has(paramOf(w)) && w.shape.length === 2) {
        prunable.push({ name: w.originalName ?? w.name, layer: layer.name, className: cls, members: [w], shape: [...w.shape] as number[], qat: true });
      } else notPruned.push(w.originalName ?? w.name);
    }
  }
  return { prunable, notPruned };
}

/** Per-entry magnitude of a prunable weight's master (L2 over a group's members). */
export function magnitudes(p: Prunable): Float32Array {
  const parts = p.master.map((m) => m.dataSync() as Float32Array);
  const out = new Float32Array(parts[0]!.length);
  if (parts.length === 1) {
    const a = parts[0]!;
    for (let i = 0; i < out.length; i++) out[i] = Math.abs(a[i]!);
  } else {
    for (let i = 0; i < out.length; i++) {
      let s = 0;
      for (const a of parts) s += a[i]! * a[i]!;
      out[i] = Math.sqrt(s);
    }
  }
  return out;
}

/**
 * Symmetric int8 fake-quantization with one scale per column of a [rows, cols] weight, as the quantize pass
 * does it (max |w| of the column ÷ 127, round half away from zero). A zero column stays zero.
 */
export function fakeQuantize(tf: Tf, w: Tensor, qmax = 127): Tensor {
  return tf.tidy(() => {
    const scale = tf.div(tf.max(tf.abs(w), 0, true), qmax); // [1, cols]
    const safe = tf.where(tf.greater(scale, 0), scale, tf.onesLike(scale));
    const r = tf.div(w, safe);
    const q = tf.mul(tf.sign(r), tf.floor(tf.add(tf.abs(r), 0.5)));
    return tf.mul(q, safe);
  });
}

export function overallMaskSparsity(ps: Prunable[]): number {
  let z = 0, n = 0;
  for (const p of ps) {
    z += maskSparsity(p.maskData) * p.maskData.length;
    n += p.maskData.length;
  }
  return n ? z / n : 0;
}
