// AssemblyScript source of nmc's WebAssembly kernels (compiled by scripts/build-wasm.mjs into
// runtime/wasm/kernels.wasm at `npm run build`; not part of the TypeScript program). They are the hot loops of
// runtime/golden/kernels.ts and targets/spinnaker2/sim/accumulate.ts over the same data laid out in one linear
// memory (runtime/wasm/index.ts, Arena): those TypeScript functions are the definition, and these must give the
// same results bit for bit (test/runtime/wasm-kernels.test.ts checks it on random data and random models).
//
// The column sums are exact integers held in doubles, as in TypeScript: a product x · w (|x| < 2^31, |w| < 2^15)
// is exact, and every partial sum the engines form stays below 2^53 in magnitude (the bounds are stated in
// runtime/golden/kernels.ts), so it is exact too. The same IEEE operations in the same order give the same
// doubles.
//
// Naming: <kernel>_<column index type>_<weight type>.

/** acc[col[k]] += x · w[k] for k in [k, end): one CSR row (or a slice's chunks of it), unrolled by four. */
// @ts-ignore: decorator
@inline function addRow<C, W>(x: f64, k: usize, end: usize, col: usize, w: usize, acc: usize): void {
  const cs = sizeof<C>(), ws = sizeof<W>();
  for (; k + 4 <= end; k += 4) {
    const cp = col + k * cs, wp = w + k * ws;
    const p0 = acc + ((<usize>load<C>(cp)) << 3);
    store<f64>(p0, load<f64>(p0) + x * <f64>load<W>(wp));
    const p1 = acc + ((<usize>load<C>(cp + cs)) << 3);
    store<f64>(p1, load<f64>(p1) + x * <f64>load<W>(wp + ws));
    const p2 = acc + ((<usize>load<C>(cp + 2 * cs)) << 3);
    store<f64>(p2, load<f64>(p2) + x * <f64>load<W>(wp + 2 * ws));
    const p3 = acc + ((<usize>load<C>(cp + 3 * cs)) << 3);
    store<f64>(p3, load<f64>(p3) + x * <f64>load<W>(wp + 3 * ws));
  }
  for (; k < end; k++) {
    const p = acc + ((<usize>load<C>(col + k * cs)) << 3);
    store<f64>(p, load<f64>(p) + x * <f64>load<W>(w + k * ws));
  }
}

/**
 * runtime/golden/kernels.ts accumulateNonZero: for every row i < rows with v[i] ≠ 0 (v: int32), the row's
 * entries [rowPtr[i], rowPtr[i + 1]) are added into acc (f64). Returns the entries read.
 */
// @ts-ignore: decorator
@inline function nonZero<C, W>(v: usize, rows: u32, rowPtr: usize, col: usize, w: usize, acc: usize): f64 {
  let touched: u64 = 0;
  for (let i: usize = 0; i < <usize>rows; i++) {
    const x = load<i32>(v + (i << 2));
    if (x == 0) continue;
    const k = <usize>load<u32>(rowPtr + (i << 2));
    const end = <usize>load<u32>(rowPtr + (i << 2) + 4);
    touched += <u64>(end - k);
    addRow<C, W>(<f64>x, k, end, col, w, acc);
  }
  return <f64>touched;
}

export function nonZero_u16_i8(v: usize, rows: u32, rowPtr: usize, col: usize, w: usize, acc: usize): f64 {
  return nonZero<u16, i8>(v, rows, rowPtr, col, w, acc);
}
export function nonZero_u16_i16(v: usize, rows: u32, rowPtr: usize, col: usize, w: usize, acc: usize): f64 {
  return nonZero<u16, i16>(v, rows, rowPtr, col, w, acc);
}
export function nonZero_u32_i8(v: usize, rows: u32, rowPtr: usize, col: usize, w: usize, acc: usize): f64 {
  return nonZero<u32, i8>(v, rows, rowPtr, col, w, acc);
}
export function nonZero_u32_i16(v: usize, rows: u32, rowPtr: usize, col: usize, w: usize, acc: usize): f64 {
  return nonZero<u32, i16>(v, rows, rowPtr, col, w, acc);
}

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
    addRow<C, W>(x, <usize>load<u32>(rp), <usize>load<u32>(rp + (<usize>S << 2)), col, w, sums);
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

/**
 * runtime/fixed roundShift(x, s) for an integer |x| < 2^53 and 0 ≤ s < 64: round(x / 2^s), ties away from zero,
 * as integers ((|x| + 2^(s−1)) >> s with the sign put back). Where |x| + 2^(s−1) < 2^53 the TypeScript double
 * formula is exact, so the two agree.
 */
// @ts-ignore: decorator
@inline function roundShiftI(x: i64, s: i64): i64 {
  const m = x < 0 ? -x : x;
  const q = s == 0 ? m : (m + (<i64>1 << (s - 1))) >> s;
  return x < 0 ? -q : q;
}

/**
 * runtime/golden/kernels.ts requantizeColumns, for 0 ≤ pre < 32, shifts in [0, 62] and |mult| ≤ 2^15 (Q15
 * mantissas; the caller checks): port[c] += sat32(rs(sat32(rs(acc[c], pre)) · mult[c], shift[c])) for every
 * column with acc[c] ≠ 0 (acc, port: f64 holding integers; mult, shift: int32). Every intermediate is an integer
 * below 2^53, so int64 arithmetic gives the TypeScript doubles exactly. Values clamped by the first sat32 are added
 * to counts[0], by the second to counts[1] (f64). Returns the columns requantized, and leaves acc all zero (the
 * engines then need not clear it before the next accumulation).
 */
export function requantize(acc: usize, cols: u32, mult: usize, shift: usize, pre: i32, port: usize, counts: usize): f64 {
  const MAX: i64 = 2147483647, MIN: i64 = -2147483648;
  let n: u32 = 0, satSum: u32 = 0, satRq: u32 = 0;
  for (let c: usize = 0; c < <usize>cols; c++) {
    const a = load<f64>(acc + (c << 3));
    if (a == 0) continue;
    store<f64>(acc + (c << 3), 0);
    let v = roundShiftI(<i64>a, <i64>pre);
    if (v > MAX) { v = MAX; satSum++; } else if (v < MIN) { v = MIN; satSum++; }
    let r = roundShiftI(v * <i64>load<i32>(mult + (c << 2)), <i64>load<i32>(shift + (c << 2)));
    if (r > MAX) { r = MAX; satRq++; } else if (r < MIN) { r = MIN; satRq++; }
    const p = port + (c << 3);
    store<f64>(p, load<f64>(p) + <f64>r);
    n++;
  }
  store<f64>(counts, load<f64>(counts) + <f64>satSum);
  store<f64>(counts + 8, load<f64>(counts + 8) + <f64>satRq);
  return <f64>n;
}

/** runtime/fixed lutIndexAt before its clamp: floor((x − origin) · invStep), the same double operations (the caller clamps and counts). */
// @ts-ignore: decorator
@inline function lutIndexRaw(origin: f64, invStep: f64, x: f64): f64 {
  return Math.floor((x - origin) * invStep);
}

/**
 * runtime/golden/kernels.ts egruUnits over n units (Q14), for the caller's checked layout: vx, vh (f64, 3n each:
 * z, r, g), the σ and tanh tables (int16, with their index constants), thr (int32, n), h (int32, n), out (int32, n),
 * pq (the zoneout p as Q15; 0: none). Input values beyond a table are added to counts[0], states clamped to int16
 * to counts[1] (f64). Returns the events (units that fired). Every integer product is below 2^47, so the int64
 * arithmetic gives the TypeScript doubles exactly; the table indices are the same double operations.
 */
export function egru(
  n: u32, vx: usize, vh: usize, sigT: usize, sigLen: i32, sigO: f64, sigI: f64, tanT: usize, tanLen: i32, tanO: f64, tanI: f64,
  thr: usize, h: usize, out: usize, pq: i32, counts: usize,
): f64 {
  const nn = <usize>n, sigTop = <f64>(sigLen - 1), tanTop = <f64>(tanLen - 1);
  let events: u32 = 0, clipLut: u32 = 0, clipState: u32 = 0;
  for (let i: usize = 0; i < nn; i++) {
    let fz = lutIndexRaw(sigO, sigI, load<f64>(vx + (i << 3)) + load<f64>(vh + (i << 3)));
    if (fz < 0) { fz = 0; clipLut++; } else if (fz > sigTop) { fz = sigTop; clipLut++; }
    let fr = lutIndexRaw(sigO, sigI, load<f64>(vx + ((nn + i) << 3)) + load<f64>(vh + ((nn + i) << 3)));
    if (fr < 0) { fr = 0; clipLut++; } else if (fr > sigTop) { fr = sigTop; clipLut++; }
    const z = <i64>load<i16>(sigT + (<usize>(<i32>fz) << 1));
    const r = <i64>load<i16>(sigT + (<usize>(<i32>fr) << 1));
    const rh = roundShiftI(r * <i64>load<f64>(vh + ((2 * nn + i) << 3)), 14);
    let fg = lutIndexRaw(tanO, tanI, load<f64>(vx + ((2 * nn + i) << 3)) + <f64>rh);
    if (fg < 0) { fg = 0; clipLut++; } else if (fg > tanTop) { fg = tanTop; clipLut++; }
    const g = <i64>load<i16>(tanT + (<usize>(<i32>fg) << 1));
    const hp = <i64>load<i32>(h + (i << 2));
    let c = roundShiftI(z * hp + (16384 - z) * g, 14);
    if (c > 32767) { c = 32767; clipState++; } else if (c < -32768) { c = -32768; clipState++; }
    if (pq != 0) c = roundShiftI(<i64>pq * hp + (32768 - <i64>pq) * c, 15);
    const d = c - <i64>load<i32>(thr + (i << 2));
    if (d > 0) {
      store<i32>(out + (i << 2), <i32>c);
      store<i32>(h + (i << 2), <i32>d);
      events++;
    } else {
      store<i32>(out + (i << 2), 0);
      store<i32>(h + (i << 2), <i32>c);
    }
  }
  store<f64>(counts, load<f64>(counts) + <f64>clipLut);
  store<f64>(counts + 8, load<f64>(counts + 8) + <f64>clipState);
  return <f64>events;
}

/**
 * runtime/golden/kernels.ts ssmOutputs for n rows of C (int32 copies, row-major, P columns; the caller checks
 * |c| ≤ 2^15, multipliers Q15, shifts in [0, 62], 0 ≤ pre < 32, 0 ≤ down ≤ 62): for row k,
 *   acc = Σ_p c_re[k, p] · r_re[p] − c_im[k, p] · r_im[p]    (exact: |term| ≤ 2^31, in int64)
 *   y = sat32(rq(sat32(rs(acc, pre)), mult[k], shift[k]) + skip[k]);  out[k] = sat16(rs(y, down))
 * The dot product runs four states at a time in SIMD (i64x2 extended multiplies of i32x4 lanes), the rest one by
 * one; an integer sum does not depend on its order. Clamps are added to counts[0 … 3] (sum, requant, y, output).
 */
export function ssmOut(
  n: u32, P: u32, cr: usize, ci: usize, rr: usize, ri: usize, mult: usize, shift: usize, skip: usize, pre: i32, down: i32, out: usize, counts: usize,
): void {
  const MAX: i64 = 2147483647, MIN: i64 = -2147483648, P4 = <usize>(P & ~3), PP = <usize>P;
  let c0: u32 = 0, c1: u32 = 0, c2: u32 = 0, c3: u32 = 0;
  for (let k: usize = 0; k < <usize>n; k++) {
    const row = k * PP;
    let v = i64x2.splat(0);
    for (let p: usize = 0; p < P4; p += 4) {
      const a = v128.load(cr + ((row + p) << 2)), x = v128.load(rr + (p << 2));
      const b = v128.load(ci + ((row + p) << 2)), y = v128.load(ri + (p << 2));
      v = i64x2.add(v, i64x2.add(i64x2.extmul_low_i32x4_s(a, x), i64x2.extmul_high_i32x4_s(a, x)));
      v = i64x2.sub(v, i64x2.add(i64x2.extmul_low_i32x4_s(b, y), i64x2.extmul_high_i32x4_s(b, y)));
    }
    let acc: i64 = i64x2.extract_lane(v, 0) + i64x2.extract_lane(v, 1);
    for (let p: usize = P4; p < PP; p++) {
      acc += <i64>load<i32>(cr + ((row + p) << 2)) * <i64>load<i32>(rr + (p << 2)) - <i64>load<i32>(ci + ((row + p) << 2)) * <i64>load<i32>(ri + (p << 2));
    }
    let s = roundShiftI(acc, <i64>pre);
    if (s > MAX) { s = MAX; c0++; } else if (s < MIN) { s = MIN; c0++; }
    let r = roundShiftI(s * <i64>load<i32>(mult + (k << 2)), <i64>load<i32>(shift + (k << 2)));
    if (r > MAX) { r = MAX; c1++; } else if (r < MIN) { r = MIN; c1++; }
    let yv = r + <i64>load<f64>(skip + (k << 3));
    if (yv > MAX) { yv = MAX; c2++; } else if (yv < MIN) { yv = MIN; c2++; }
    let o = roundShiftI(yv, <i64>down);
    if (o > 32767) { o = 32767; c3++; } else if (o < -32768) { o = -32768; c3++; }
    store<i32>(out + (k << 2), <i32>o);
  }
  store<f64>(counts, load<f64>(counts) + <f64>c0);
  store<f64>(counts + 8, load<f64>(counts + 8) + <f64>c1);
  store<f64>(counts + 16, load<f64>(counts + 16) + <f64>c2);
  store<f64>(counts + 24, load<f64>(counts + 24) + <f64>c3);
}
