// nmc tune's data: the seeded validation split, the batches gathered from it, and the checks of the data and
// numeric options (compiler/tune/tune.ts runs the tuning loop on them).
import { NmcError } from "../../ir/errors.js";
import { seededRandom } from "../../runtime/random.js";
import type { TuneData } from "./tune.js";


export function shuffleInPlace(xs: Int32Array, rand: () => number): Int32Array {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = xs[i]!;
    xs[i] = xs[j]!;
    xs[j] = t;
  }
  return xs;
}

/** The seeded split: a shuffle of 0…N−1, the first `nVal` for validation, the rest (in index order) for fine-tuning. */
export function splitIndices(n: number, validation: number, seed: number): { fineTune: Int32Array; validation: Int32Array } {
  const nVal = validation < 1 ? Math.round(validation * n) : Math.round(validation);
  if (!(nVal >= 1 && nVal < n)) {
    throw new NmcError("the validation split leaves no data on one side", {
      expected: `between 1 and ${n - 1} validation samples of the ${n}`, found: `${nVal} (--validation ${validation})`,
    });
  }
  const perm = shuffleInPlace(Int32Array.from({ length: n }, (_, i) => i), seededRandom(seed ^ 0x5eed));
  const val = perm.slice(0, nVal).sort();
  const ft = perm.slice(nVal).sort();
  return { fineTune: ft, validation: val };
}

export function gatherRows(data: TuneData, idx: ArrayLike<number>, from: number, to: number): { x: Float32Array; y: Int32Array; shape: number[] } {
  const per = data.shape.slice(1).reduce((a, b) => a * b, 1);
  const n = to - from;
  const x = new Float32Array(n * per);
  const y = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = idx[from + k]!;
    x.set(data.x.subarray(i * per, (i + 1) * per), k * per);
    y[k] = data.labels[i]!;
  }
  return { x, y, shape: [n, ...data.shape.slice(1)] };
}

export function checkData(data: TuneData): number {
  const N = data.shape[0] ?? 0;
  const per = data.shape.slice(1).reduce((a, b) => a * b, 1);
  if (data.shape.length < 2 || N < 2 || data.x.length !== N * per) {
    throw new NmcError("nmc tune needs at least 2 input sequences [N, T, C] (or token ids [N, T])", { found: `shape [${data.shape}] with ${data.x.length} values` });
  }
  if (data.labels.length !== N) {
    throw new NmcError("labels do not match the inputs", { expected: `${N} labels, one per input sequence`, found: `${data.labels.length}` });
  }
  let k = 0;
  for (const v of data.labels) {
    if (!(Number.isInteger(v) && v >= 0)) throw new NmcError("labels must be class indices ≥ 0", { found: String(v) });
    k = Math.max(k, v + 1);
  }
  return k;
}

export function numberIn(name: string, v: number, lo: number, hi: number, loOpen = false, hiOpen = false, integer = false): number {
  const ok = Number.isFinite(v) && (loOpen ? v > lo : v >= lo) && (hiOpen ? v < hi : v <= hi) && (!integer || Number.isInteger(v));
  if (!ok) {
    throw new NmcError(`invalid ${name}`, { expected: `${integer ? "an integer" : "a number"} in ${loOpen ? "(" : "["}${lo}, ${hi}${hiOpen ? ")" : "]"}`, found: String(v) });
  }
  return v;
}
