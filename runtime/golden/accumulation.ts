// How the golden engine adds a projection's events into its column sums with the WebAssembly kernels
// (runtime/wasm): the form of the sums and of the weights it reads, chosen once per projection from its weights
// alone. Every form gives the same integers as the TypeScript definition (kernels.ts accumulateNonZero: f64 sums
// over the CSR rows); they differ only in speed.
//
// - "csr": f64 sums over the CSR rows (any weights);
// - "csr32": int32 sums over the CSR rows, where every column sum provably fits int32 (int32SumsFit: int16 source
//   values, the column's Σ|w| below 2^16) and the weights are int8;
// - "dense32": int32 sums over a dense expansion of the rows (absent entries stored as 0, which add nothing),
//   eight columns per SIMD step, for the same projections when at least DENSE_ROWS_MIN of the entries are stored;
//   the CSR's row pointers still count the stored entries (the effective synaptic operations).
// Column indices are copied as u16 where the columns allow. The bench's C baseline replays the choice
// (bench/c-baseline.ts), so that its loop has the same access pattern as the engine's.
import type { Projection } from "../../ir/types.js";
import { align8, type Arena, DENSE_ROWS_MIN, int32SumsFit, type RequantizeKernel, requantizeFits } from "../wasm/index.js";

export type AccumulationForm = "csr" | "csr32" | "dense32";

/** The form the golden engine's WebAssembly kernels use for projection j (pre: GoldenEngine.pre). */
export function accumulationForm(j: Projection, pre: number): AccumulationForm {
  const { colIdx, values } = j.weights;
  if (!(values.data instanceof Int8Array) || !j.requant || !requantizeFits(pre, j.requant.multiplier, j.requant.shift)) return "csr";
  if (!sumsFit(j.cols, colIdx, values.data)) return "csr";
  return colIdx.length >= DENSE_ROWS_MIN * j.rows * j.cols ? "dense32" : "csr32";
}

// A graph's weights are never changed in place (compiler passes make new arrays), so what is derived from them
// alone is kept per weight array, for the engines and simulators built later from the same graph.
const fits = new WeakMap<ArrayLike<number>, boolean>();
const cols16 = new WeakMap<Uint32Array, Uint16Array>();
const dense = new WeakMap<Int8Array, Int8Array>();

function sumsFit(cols: number, colIdx: Uint32Array, w: Int8Array): boolean {
  let f = fits.get(w);
  if (f === undefined) fits.set(w, (f = int32SumsFit(cols, colIdx, w)));
  return f;
}

/** The column indices as u16 (the caller checks that they fit). */
function asU16(colIdx: Uint32Array): Uint16Array {
  let c = cols16.get(colIdx);
  if (!c) cols16.set(colIdx, (c = Uint16Array.from(colIdx)));
  return c;
}

/**
 * CSR rows expanded to dense int8 rows of `width` columns (absent entries 0). Row r's entries are
 * [rowPtr[r · stride], rowPtr[(r + 1) · stride]): stride 1 for a projection's CSR, S for a simulator split's S
 * chunks per row (targets/spinnaker2/sim/wasm.ts).
 */
export function denseExpansion(rows: number, width: number, rowPtr: ArrayLike<number>, stride: number, colIdx: ArrayLike<number>, w: ArrayLike<number>): Int8Array {
  const wd = new Int8Array(rows * width);
  for (let r = 0; r < rows; r++) for (let e = rowPtr[r * stride]; e < rowPtr[(r + 1) * stride]; e++) wd[r * width + colIdx[e]] = w[e];
  return wd;
}

/** A projection's int8 weights as dense rows (row i at i · cols), kept per weight array. */
function denseOf(j: Projection): Int8Array {
  const w0 = j.weights.values.data as Int8Array;
  let wd = dense.get(w0);
  if (!wd) dense.set(w0, (wd = denseExpansion(j.rows, j.cols, j.weights.rowPtr, 1, j.weights.colIdx, w0)));
  return wd;
}

/** The arena bytes of a projection's copies in that form (row pointers, columns or dense rows, weights, sums). */
export function accumulationBytes(j: Projection, form: AccumulationForm): number {
  const nnz = j.weights.colIdx.length, w = j.weights.values.data.BYTES_PER_ELEMENT, colBytes = j.cols <= 65536 ? 2 : 4;
  const rows = align8(4 * (j.rows + 1));
  if (form === "dense32") return rows + align8(j.rows * j.cols) + align8(4 * j.cols);
  return rows + align8(colBytes * nnz) + align8(w * nnz) + align8((form === "csr" ? 8 : 4) * j.cols);
}

/** A projection's accumulation bound to its copies in the arena. */
export interface BoundAccumulation {
  /** Adds the rows of the source vector at byte offset v (rows non-zero values) into acc; returns the stored entries read. */
  add: (v: number) => number;
  /** The column sums: f64 (csr) or int32. */
  acc: Float64Array | Int32Array;
  /** The requantization of acc's form, or null (csr where requantizeFits refuses: the TypeScript kernel). */
  rq: RequantizeKernel | null;
}

/** Copies projection j's weights into the arena in its form and binds the kernel. */
export function bindAccumulation(arena: Arena, j: Projection, form: AccumulationForm, pre: number): BoundAccumulation {
  const { rowPtr: rp0, colIdx: c0 } = j.weights, w0 = j.weights.values.data as Int8Array | Int16Array, rows = j.rows, cols = j.cols;
  const rowPtr = arena.copy(rp0);
  if (form === "dense32") {
    const wd = arena.copy(denseOf(j)), acc = arena.alloc(Int32Array, cols), k = arena.denseRows32();
    const pr = rowPtr.byteOffset, pw = wd.byteOffset, pa = acc.byteOffset;
    return { add: (v) => k(v, rows, cols, pr, pw, pa), acc, rq: arena.requantize32() };
  }
  const col = cols <= 65536 ? arena.copy(asU16(c0)) : arena.copy(c0), w = arena.copy(w0);
  const acc = form === "csr32" ? arena.alloc(Int32Array, cols) : arena.alloc(Float64Array, cols);
  const k = form === "csr32" ? arena.nonZero32(col) : arena.nonZero(col, w);
  const pr = rowPtr.byteOffset, pc = col.byteOffset, pw = w.byteOffset, pa = acc.byteOffset;
  const rq = form === "csr32" ? arena.requantize32() : j.requant && requantizeFits(pre, j.requant.multiplier, j.requant.shift) ? arena.requantize() : null;
  return { add: (v) => k(v, rows, pr, pc, pw, pa), acc, rq };
}
