// The simulator's delivery kernels: the events of a tick's queues added into the column sums of all the PEs
// of a population at once (event execution), or every queued value times every weight of a dense expansion
// (dense execution). The innermost loop is the golden engine's (accumulateEntries, runtime/golden/kernels.ts),
// and the sums are exact integers in Float64Arrays, so the order in which rows are added never changes a sum.
import { accumulateEntries, type ColumnArray, type WeightArray } from "../../../runtime/golden/kernels.js";

/**
 * Delivery of event queues to S consecutive slices (PEs) of one population at once, the slices first …
 * first + S − 1 of a layout with `stride` slices per row (default: all of them). Slice s's queue holds events
 * (row idxs[s][q], value vals[s][q]) for q in [offs[s], offs[s] + ns[s]); its chunk of row i of the
 * projection is colIdx / w [rowPtr[i · stride + first + s], … + 1]), whose colIdx point into `sums` where
 * the slices' column sums lie side by side (slice s's own range only). For every event of every slice:
 * sums[col] += val · w over the slice's chunk; touched[s] += the entries read.
 *
 * Each slice reads its own queue and its own chunks, so every sum is exactly what that PE alone computes.
 * The slices are gone through event by event (event e of every slice, then e + 1), which reads the chunks of
 * a row in memory order when the queues agree. (A PE-by-PE order made the simulator several times slower on
 * large populations, for cache misses only.)
 */
export function accumulateQueues(
  S: number, idxs: Int32Array[], vals: Int32Array[], offs: Int32Array, ns: Int32Array, maxN: number,
  rowPtr: Uint32Array, colIdx: ColumnArray, w: WeightArray, sums: Float64Array, touched: Float64Array, stride = S, first = 0,
): void {
  for (let e = 0; e < maxN; e++) {
    for (let s = 0; s < S; s++) {
      if (e >= ns[s]) continue;
      const q = offs[s] + e;
      const r = idxs[s][q] * stride + first + s, x = vals[s][q];
      const k = rowPtr[r], end = rowPtr[r + 1];
      touched[s] += end - k;
      accumulateEntries(x, k, end, colIdx, w, sums);
    }
  }
}

/**
 * accumulateQueues when the S slices read one shared queue (events (idx[q], val[q]), q in [off, off + n)):
 * every event's S chunks form one contiguous range, read in one loop as a plain CSR row is.
 */
export function accumulateSharedQueue(
  S: number, idx: Int32Array, val: Int32Array, off: number, n: number,
  rowPtr: Uint32Array, colIdx: ColumnArray, w: WeightArray, sums: Float64Array, touched: Float64Array, stride = S, first = 0,
): void {
  const stop = off + n;
  for (let e = off; e < stop; e++) {
    const base = idx[e] * stride + first, x = val[e];
    for (let s = 0; s < S; s++) touched[s] += rowPtr[base + s + 1] - rowPtr[base + s];
    accumulateEntries(x, rowPtr[base], rowPtr[base + S], colIdx, w, sums);
  }
}

/**
 * Dense delivery (nothing skipped): for every queued value (zeros included) acc[c] += val · wd[row · cols + c]
 * over every column of the dense matrix wd (zeros included). The same exact sums as the sparse kernels: the
 * extra terms are all 0 (and a −0 term added to a +0 sum leaves +0).
 */
export function accumulateDense(idx: Int32Array, val: Int32Array, off: number, n: number, wd: WeightArray, cols: number, acc: Float64Array): void {
  const stop = off + n;
  for (let e = off; e < stop; e++) {
    const x = val[e];
    const base = idx[e] * cols;
    let c = 0;
    for (const c4 = cols - 3; c < c4; c += 4) { // unrolled as accumulateEntries
      acc[c] += x * wd[base + c];
      acc[c + 1] += x * wd[base + c + 1];
      acc[c + 2] += x * wd[base + c + 2];
      acc[c + 3] += x * wd[base + c + 3];
    }
    for (; c < cols; c++) acc[c] += x * wd[base + c];
  }
}

/**
 * The dense expansion [rows × cols] of a slice's chunks of CSR rows (chunk of row i: [rowPtr[i · stride +
 * slot], rowPtr[i · stride + slot + 1]), column = colIdx − colBase, as in accumulateQueues): what dense
 * execution visits. A plain CSR is stride 1, slot 0, colBase 0.
 */
export function denseWeights(rows: number, cols: number, rowPtr: Uint32Array, stride: number, slot: number, colIdx: ColumnArray, colBase: number, w: WeightArray): WeightArray {
  const d = w instanceof Int16Array ? new Int16Array(rows * cols) : new Int8Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    const r = i * stride + slot;
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) d[i * cols + colIdx[k] - colBase] = w[k];
  }
  return d;
}
