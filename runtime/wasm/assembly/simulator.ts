// The SpiNNaker 2 simulator's WebAssembly kernels (AssemblyScript; compiled with kernels.ts through index.ts): a
// population's shared event queue added into its slices' column sums, and the one-call kernels that load,
// saturate and requantize all PEs of a group. targets/spinnaker2/sim/accumulate.ts and runtime/golden/kernels.ts
// are the definition; test/runtime/wasm-kernels.test.ts checks these against them.
import { addChunks16, addDenseRest32, addDenseRow32, addDenseRows4_32, addRow, countChunks, flushChunks16, isInt16 } from "./rows";
import { requantize32, saturate } from "./kernels";

/**
 * targets/spinnaker2/sim/accumulate.ts accumulateSharedQueue: the events (idx[e], val[e]) (int32 each) for
 * e in [off, off + n) of one queue shared by S consecutive slices of a row layout with `stride` slices per row
 * (rowPtr already advanced to the first of them); event e reads the contiguous range
 * [rowPtr[idx[e] · stride], rowPtr[idx[e] · stride + S]) (the S slices' chunks of its row) into sums, and adds
 * each slice's chunk length to touched[s] (f64).
 */
// @ts-ignore: decorator
@inline function sharedQueue<C, W>(S: u32, stride: u32, idx: usize, val: usize, off: u32, n: u32, rowPtr: usize, col: usize, w: usize, sums: usize, touched: usize): void {
  const stop = <usize>off + <usize>n;
  for (let e: usize = <usize>off; e < stop; e++) {
    const base = <usize>load<i32>(idx + (e << 2)) * <usize>stride;
    const x = <f64>load<i32>(val + (e << 2));
    const rp = rowPtr + (base << 2);
    for (let s: usize = 0; s < <usize>S; s++) {
      const t = touched + (s << 3);
      store<f64>(t, load<f64>(t) + <f64>(load<u32>(rp + (s << 2) + 4) - load<u32>(rp + (s << 2))));
    }
    addRow<C, W, f64>(x, <usize>load<u32>(rp), <usize>load<u32>(rp + (<usize>S << 2)), col, w, sums);
  }
}

export function sharedQueue_u16_i8(S: u32, stride: u32, idx: usize, val: usize, off: u32, n: u32, rowPtr: usize, col: usize, w: usize, sums: usize, touched: usize): void {
  sharedQueue<u16, i8>(S, stride, idx, val, off, n, rowPtr, col, w, sums, touched);
}
export function sharedQueue_u16_i16(S: u32, stride: u32, idx: usize, val: usize, off: u32, n: u32, rowPtr: usize, col: usize, w: usize, sums: usize, touched: usize): void {
  sharedQueue<u16, i16>(S, stride, idx, val, off, n, rowPtr, col, w, sums, touched);
}
export function sharedQueue_u32_i8(S: u32, stride: u32, idx: usize, val: usize, off: u32, n: u32, rowPtr: usize, col: usize, w: usize, sums: usize, touched: usize): void {
  sharedQueue<u32, i8>(S, stride, idx, val, off, n, rowPtr, col, w, sums, touched);
}
export function sharedQueue_u32_i16(S: u32, stride: u32, idx: usize, val: usize, off: u32, n: u32, rowPtr: usize, col: usize, w: usize, sums: usize, touched: usize): void {
  sharedQueue<u32, i16>(S, stride, idx, val, off, n, rowPtr, col, w, sums, touched);
}

/** sharedQueue into int32 sums (addRow's int32 condition), the slices' entry counts into touched as int32 (countChunks). */
// @ts-ignore: decorator
@inline function sharedQueue32<C, W>(S: u32, stride: u32, idx: usize, val: usize, off: u32, n: u32, rowPtr: usize, col: usize, w: usize, sums: usize, touched: usize): void {
  const stop = <usize>off + <usize>n;
  for (let e: usize = <usize>off; e < stop; e++) {
    const base = <usize>load<i32>(idx + (e << 2)) * <usize>stride;
    const rp = rowPtr + (base << 2);
    countChunks(<usize>S, rp, touched);
    addRow<C, W, i32>(load<i32>(val + (e << 2)), <usize>load<u32>(rp), <usize>load<u32>(rp + (<usize>S << 2)), col, w, sums);
  }
}

export function sharedQueue32_u16_i8(S: u32, stride: u32, idx: usize, val: usize, off: u32, n: u32, rowPtr: usize, col: usize, w: usize, sums: usize, touched: usize): void {
  sharedQueue32<u16, i8>(S, stride, idx, val, off, n, rowPtr, col, w, sums, touched);
}
export function sharedQueue32_u32_i8(S: u32, stride: u32, idx: usize, val: usize, off: u32, n: u32, rowPtr: usize, col: usize, w: usize, sums: usize, touched: usize): void {
  sharedQueue32<u32, i8>(S, stride, idx, val, off, n, rowPtr, col, w, sums, touched);
}

/**
 * sharedQueue over a dense expansion of the rows in the sums' column order (wd: int8, `width` columns per row,
 * absent entries 0; int32 sums, addRow's int32 condition): event e adds val · wd[idx[e] · width + c] into sums[c] for
 * c in [0, cols) (wd and sums already advanced to the run's first column), and each slice's chunk length (from
 * the CSR row pointers, advanced to the run's first slice) to touched[s] (int32, countChunks), as sharedQueue counts.
 */
export function sharedDense32_i8(
  S: u32, stride: u32, idx: usize, val: usize, off: u32, n: u32, rowPtr: usize, wd: usize, width: u32, cols: u32, sums: usize, touched: usize,
  chunks: usize, acc16: usize, every: u32,
): void {
  const stop = <usize>off + <usize>n, cc = <usize>cols;
  // With a table of chunk lengths (chunks: u16 per row and slot, advanced to the run's first slice, as rowPtr),
  // the counts are added in u16 lanes (acc16, S of them, zero on entry and on return), flushed into touched every
  // `every` events, before any lane could pass 65535; else from the row pointers (countChunks).
  let since: u32 = 0;
  // As denseRows32_i8: int16 values four rows at a time.
  let q: i32 = 0, w0: usize = 0, w1: usize = 0, w2: usize = 0, x0: i32 = 0, x1: i32 = 0, x2: i32 = 0;
  for (let e: usize = <usize>off; e < stop; e++) {
    const r = <usize>load<i32>(idx + (e << 2)), x = load<i32>(val + (e << 2));
    if (chunks == 0) countChunks(<usize>S, rowPtr + ((r * <usize>stride) << 2), touched);
    else {
      addChunks16(<usize>S, chunks + ((r * <usize>stride) << 1), acc16);
      if (++since == every) {
        flushChunks16(<usize>S, acc16, touched);
        since = 0;
      }
    }
    const row = wd + r * <usize>width;
    if (!isInt16(x)) addDenseRow32(x, row, cc, sums);
    else if (q == 0) { w0 = row; x0 = x; q = 1; }
    else if (q == 1) { w1 = row; x1 = x; q = 2; }
    else if (q == 2) { w2 = row; x2 = x; q = 3; }
    else { addDenseRows4_32(w0, w1, w2, row, x0, x1, x2, x, cc, sums); q = 0; }
  }
  addDenseRest32(q, w0, w1, w2, x0, x1, x2, cc, sums);
  if (chunks != 0) flushChunks16(<usize>S, acc16, touched);
}

/**
 * requantize32 for S PEs in one call (the simulator's shared int32 links): desc holds per PE five u32, the byte
 * offsets and length of its acc, cols, mult, shift and port; out receives per PE three f64: the columns
 * requantized and the values clamped by each sat32 (requantize32's return and counts).
 */
export function requantizeMany32(desc: usize, S: u32, pre: i32, out: usize): void {
  for (let s: usize = 0; s < <usize>S; s++) {
    const d = desc + s * 20, o = out + s * 24;
    store<f64>(o + 8, 0);
    store<f64>(o + 16, 0);
    store<f64>(o, requantize32(load<u32>(d), load<u32>(d + 4), load<u32>(d + 8), load<u32>(d + 12), pre, load<u32>(d + 16), o + 8));
  }
}

/**
 * runtime/golden/kernels.ts loadBias for several ports in one call: desc holds per port three u32, its byte
 * offset, the byte offset of its bias (f64 holding int32 values; 0: none, the port is zeroed) and its length.
 */
export function loadMany(desc: usize, count: u32): void {
  const ZERO = f64x2.splat(0);
  for (let q: usize = 0; q < <usize>count; q++) {
    const d = desc + q * 12;
    const port = <usize>load<u32>(d), bias = <usize>load<u32>(d + 4), n = <usize>load<u32>(d + 8), N2 = n & ~1;
    let i: usize = 0;
    if (bias == 0) {
      for (; i < N2; i += 2) v128.store(port + (i << 3), ZERO);
      if (i < n) store<f64>(port + (i << 3), 0);
    } else {
      for (; i < N2; i += 2) v128.store(port + (i << 3), v128.load(bias + (i << 3)));
      if (i < n) store<f64>(port + (i << 3), load<f64>(bias + (i << 3)));
    }
  }
}

/** saturate for several ports in one call: desc holds per port two u32 (byte offset, length); out[q] (f64) receives its clamps. */
export function saturateMany(desc: usize, count: u32, out: usize): void {
  for (let q: usize = 0; q < <usize>count; q++) {
    const d = desc + (q << 3), o = out + (q << 3);
    store<f64>(o, 0);
    saturate(load<u32>(d), load<u32>(d + 4), o);
  }
}
