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
// Naming: <kernel>_<column index type>_<weight type>. The simulator's own kernels are in simulator.ts, the row
// accumulation both use in rows.ts; index.ts is the module's entry (scripts/build-wasm.mjs).

import { addDenseRest32, addDenseRow32, addDenseRows4_32, addRow, isInt16 } from "./rows";

/**
 * runtime/golden/kernels.ts accumulateNonZero: for every row i < rows with v[i] ≠ 0 (v: int32), the row's
 * entries [rowPtr[i], rowPtr[i + 1]) are added into acc (A: f64, or i32 under addRow's condition). Returns the
 * entries read.
 */
// @ts-ignore: decorator
@inline function nonZero<C, W, A>(v: usize, rows: u32, rowPtr: usize, col: usize, w: usize, acc: usize): f64 {
  let touched: u64 = 0;
  for (let i: usize = 0; i < <usize>rows; i++) {
    const x = load<i32>(v + (i << 2));
    if (x == 0) continue;
    const k = <usize>load<u32>(rowPtr + (i << 2));
    const end = <usize>load<u32>(rowPtr + (i << 2) + 4);
    touched += <u64>(end - k);
    addRow<C, W, A>(<A>x, k, end, col, w, acc);
  }
  return <f64>touched;
}

export function nonZero_u16_i8(v: usize, rows: u32, rowPtr: usize, col: usize, w: usize, acc: usize): f64 {
  return nonZero<u16, i8, f64>(v, rows, rowPtr, col, w, acc);
}
export function nonZero_u16_i16(v: usize, rows: u32, rowPtr: usize, col: usize, w: usize, acc: usize): f64 {
  return nonZero<u16, i16, f64>(v, rows, rowPtr, col, w, acc);
}
export function nonZero_u32_i8(v: usize, rows: u32, rowPtr: usize, col: usize, w: usize, acc: usize): f64 {
  return nonZero<u32, i8, f64>(v, rows, rowPtr, col, w, acc);
}
export function nonZero_u32_i16(v: usize, rows: u32, rowPtr: usize, col: usize, w: usize, acc: usize): f64 {
  return nonZero<u32, i16, f64>(v, rows, rowPtr, col, w, acc);
}

export function nonZero32_u16_i8(v: usize, rows: u32, rowPtr: usize, col: usize, w: usize, acc: usize): f64 {
  return nonZero<u16, i8, i32>(v, rows, rowPtr, col, w, acc);
}
export function nonZero32_u32_i8(v: usize, rows: u32, rowPtr: usize, col: usize, w: usize, acc: usize): f64 {
  return nonZero<u32, i8, i32>(v, rows, rowPtr, col, w, acc);
}

/**
 * runtime/golden/kernels.ts accumulateNonZero over a dense expansion: for every row i with v[i] ≠ 0, acc (int32,
 * addRow's int32 condition) += v[i] · wd[i · cols …] (int8, row-major, absent entries 0). Returns the stored entries of
 * those rows (rowPtr: the CSR's, for the count only), as the CSR kernel does.
 */
export function denseRows32_i8(v: usize, rows: u32, cols: u32, rowPtr: usize, wd: usize, acc: usize): f64 {
  let touched: u64 = 0;
  const cc = <usize>cols;
  // Rows with int16 values are gathered four at a time (addDenseRows4_32), others added alone.
  let n: i32 = 0, w0: usize = 0, w1: usize = 0, w2: usize = 0, x0: i32 = 0, x1: i32 = 0, x2: i32 = 0;
  for (let i: usize = 0; i < <usize>rows; i++) {
    const x = load<i32>(v + (i << 2));
    if (x == 0) continue;
    touched += <u64>(load<u32>(rowPtr + (i << 2) + 4) - load<u32>(rowPtr + (i << 2)));
    const row = wd + i * cc;
    if (!isInt16(x)) addDenseRow32(x, row, cc, acc);
    else if (n == 0) { w0 = row; x0 = x; n = 1; }
    else if (n == 1) { w1 = row; x1 = x; n = 2; }
    else if (n == 2) { w2 = row; x2 = x; n = 3; }
    else { addDenseRows4_32(w0, w1, w2, row, x0, x1, x2, x, cc, acc); n = 0; }
  }
  addDenseRest32(n, w0, w1, w2, x0, x1, x2, cc, acc);
  return <f64>touched;
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

/** The bits of the double 2^e (a normal power of two: −1022 ≤ e ≤ 1023). */
// @ts-ignore: decorator
@inline function pow2bits(e: i64): i64 {
  return (e + 1023) << 52;
}

/**
 * runtime/fixed roundShift on two lanes of exact integers held in doubles, with half = 2^(s−1) (0 for s = 0) and
 * inv = 2^−s per lane: floor((|x| + half) · inv) with x's sign put back, the very double operations of the
 * TypeScript definition (a zero result may come back as −0 where TypeScript gives +0; every caller only adds it
 * to an integer sum or compares it, where the two are the same).
 */
// @ts-ignore: decorator
@inline function roundShift2(x: v128, half: v128, inv: v128): v128 {
  const SIGN = i64x2.splat(0x8000000000000000);
  return v128.or(f64x2.floor(f64x2.mul(f64x2.add(f64x2.abs(x), half), inv)), v128.and(x, SIGN));
}

/**
 * rs(v · mult[c], shift[c]) on two lanes (v: integers in doubles, already clamped to int32; mult: Q15, int32;
 * shift: int32 in [0, 62], at byte offsets mult and shift): the rounding shift of roundShift2 with 2^(s−1) and 2^−s
 * built from each lane's shift. Not clamped.
 */
// @ts-ignore: decorator
@inline function requantize2(v: v128, mult: usize, shift: usize): v128 {
  const I0 = i64x2.splat(0), B1023 = i64x2.splat(1023), B1022 = i64x2.splat(1022);
  const m = f64x2.convert_low_i32x4_s(v128.load64_zero(mult));
  const s = i64x2.extend_low_i32x4_s(v128.load64_zero(shift));
  const inv = i64x2.shl(i64x2.sub(B1023, s), 52);
  const half = v128.andnot(i64x2.shl(i64x2.add(B1022, s), 52), i64x2.eq(s, I0));
  return roundShift2(f64x2.mul(v, m), half, inv);
}

/**
 * runtime/golden/kernels.ts requantizeColumns, for 0 ≤ pre < 32, shifts in [0, 62] and |mult| ≤ 2^15 (Q15
 * mantissas; the caller checks): port[c] += sat32(rs(sat32(rs(acc[c], pre)) · mult[c], shift[c])) for every
 * column with acc[c] ≠ 0 (acc, port: f64 holding integers; mult, shift: int32). Two columns at a time in SIMD
 * (f64x2), with the TypeScript kernel's double operations in its order, so the doubles are the same; a column with
 * acc[c] = 0 adds a zero to its port, which changes nothing. Values clamped by the first sat32 are added to
 * counts[0], by the second to counts[1] (f64). Returns the columns with a non-zero sum, and leaves acc all zero
 * (the engines then need not clear it before the next accumulation). The sums are A: f64, or i32 (the same
 * integers, where the engines have proved they fit: runtime/golden/accumulation.ts).
 */
// @ts-ignore: decorator
@inline function requantizeOf<A>(acc: usize, cols: u32, mult: usize, shift: usize, pre: i32, port: usize, counts: usize): f64 {
  const as = alignof<A>();
  const MAX = f64x2.splat(2147483647), MIN = f64x2.splat(-2147483648), ZERO = f64x2.splat(0);
  const I0 = i64x2.splat(0);
  const hp = f64x2.splat(pre == 0 ? 0 : reinterpret<f64>(pow2bits(<i64>pre - 1))), ip = f64x2.splat(reinterpret<f64>(pow2bits(-<i64>pre)));
  let n: u32 = 0, satSum: u32 = 0, satRq: u32 = 0;
  let vN = i64x2.splat(0), vSum = i64x2.splat(0), vRq = i64x2.splat(0); // per-lane counts (a set comparison lane is −1)
  const C2 = <usize>(cols & ~1);
  // int32 sums with pre = 0 (int8 weights): rs(a, 0) = a and no int32 leaves int32, so the first step is the identity.
  if (!isFloat<A>() && pre == 0) {
    for (let c: usize = 0; c < C2; c += 2) {
      const pa = acc + (c << 2), pp = port + (c << 3);
      const a = f64x2.convert_low_i32x4_s(v128.load64_zero(pa));
      v128.store64_lane(pa, I0, 0);
      vN = i64x2.sub(vN, f64x2.ne(a, ZERO));
      let r = requantize2(a, mult + (c << 2), shift + (c << 2));
      vRq = i64x2.sub(i64x2.sub(vRq, f64x2.gt(r, MAX)), f64x2.lt(r, MIN));
      r = f64x2.pmin(f64x2.pmax(r, MIN), MAX);
      v128.store(pp, f64x2.add(v128.load(pp), r));
    }
  } else for (let c: usize = 0; c < C2; c += 2) {
    const pa = acc + (c << as), pp = port + (c << 3);
    let a: v128;
    if (isFloat<A>()) {
      a = v128.load(pa);
      v128.store(pa, ZERO);
    } else {
      a = f64x2.convert_low_i32x4_s(v128.load64_zero(pa));
      v128.store64_lane(pa, I0, 0);
    }
    vN = i64x2.sub(vN, f64x2.ne(a, ZERO));
    let v = roundShift2(a, hp, ip);
    vSum = i64x2.sub(i64x2.sub(vSum, f64x2.gt(v, MAX)), f64x2.lt(v, MIN));
    v = f64x2.pmin(f64x2.pmax(v, MIN), MAX);
    let r = requantize2(v, mult + (c << 2), shift + (c << 2));
    vRq = i64x2.sub(i64x2.sub(vRq, f64x2.gt(r, MAX)), f64x2.lt(r, MIN));
    r = f64x2.pmin(f64x2.pmax(r, MIN), MAX);
    v128.store(pp, f64x2.add(v128.load(pp), r));
  }
  n += <u32>(i64x2.extract_lane(vN, 0) + i64x2.extract_lane(vN, 1));
  satSum += <u32>(i64x2.extract_lane(vSum, 0) + i64x2.extract_lane(vSum, 1));
  satRq += <u32>(i64x2.extract_lane(vRq, 0) + i64x2.extract_lane(vRq, 1));
  const T: i64 = 2147483647, B: i64 = -2147483648;
  for (let c: usize = C2; c < <usize>cols; c++) {
    const a = <f64>load<A>(acc + (c << as));
    if (a == 0) continue;
    store<A>(acc + (c << as), <A>0);
    let v = roundShiftI(<i64>a, <i64>pre);
    if (v > T) { v = T; satSum++; } else if (v < B) { v = B; satSum++; }
    let r = roundShiftI(v * <i64>load<i32>(mult + (c << 2)), <i64>load<i32>(shift + (c << 2)));
    if (r > T) { r = T; satRq++; } else if (r < B) { r = B; satRq++; }
    const p = port + (c << 3);
    store<f64>(p, load<f64>(p) + <f64>r);
    n++;
  }
  store<f64>(counts, load<f64>(counts) + <f64>satSum);
  store<f64>(counts + 8, load<f64>(counts + 8) + <f64>satRq);
  return <f64>n;
}

/** requantizeOf over f64 column sums. */
export function requantize(acc: usize, cols: u32, mult: usize, shift: usize, pre: i32, port: usize, counts: usize): f64 {
  return requantizeOf<f64>(acc, cols, mult, shift, pre, port, counts);
}

/** requantize over int32 column sums (acc: i32; the same values as their f64 form), leaving them zero. */
export function requantize32(acc: usize, cols: u32, mult: usize, shift: usize, pre: i32, port: usize, counts: usize): f64 {
  return requantizeOf<i32>(acc, cols, mult, shift, pre, port, counts);
}

/**
 * runtime/golden/kernels.ts saturatePort: port[i] = sat32(port[i]) over n values (f64 holding integers), the
 * values clamped added to counts[0] (f64). Two at a time in SIMD.
 */
export function saturate(port: usize, n: u32, counts: usize): void {
  const MAX = f64x2.splat(2147483647), MIN = f64x2.splat(-2147483648);
  let sat: u32 = 0;
  let vSat = i64x2.splat(0);
  const N2 = <usize>(n & ~1);
  for (let i: usize = 0; i < N2; i += 2) {
    const p = port + (i << 3);
    const v = v128.load(p);
    vSat = i64x2.sub(i64x2.sub(vSat, f64x2.gt(v, MAX)), f64x2.lt(v, MIN));
    v128.store(p, f64x2.pmin(f64x2.pmax(v, MIN), MAX));
  }
  sat += <u32>(i64x2.extract_lane(vSat, 0) + i64x2.extract_lane(vSat, 1));
  for (let i: usize = N2; i < <usize>n; i++) {
    const p = port + (i << 3);
    const v = load<f64>(p);
    if (v > 2147483647) { store<f64>(p, 2147483647); sat++; } else if (v < -2147483648) { store<f64>(p, -2147483648); sat++; }
  }
  store<f64>(counts, load<f64>(counts) + <f64>sat);
}

/** runtime/fixed lutIndexAt before its clamp: floor((x − origin) · invStep), the same double operations (the caller clamps and counts). */
// @ts-ignore: decorator
@inline function lutIndexRaw(origin: f64, invStep: f64, x: f64): f64 {
  return Math.floor((x - origin) * invStep);
}

/**
 * The units [i0, n) of runtime/golden/kernels.ts egruUnits over n units (Q14), for the caller's checked layout: vx, vh (f64, 3n each:
 * z, r, g), the σ and tanh tables (int16, with their index constants), thr (int32, n), h (int32, n), out (int32, n),
 * pq (the zoneout p as Q15; 0: none). Input values beyond a table are added to counts[0], states clamped to int16
 * to counts[1] (f64). Returns the events (units that fired). Every integer product is below 2^47, so the int64
 * arithmetic gives the TypeScript doubles exactly; the table indices are the same double operations.
 */
// @ts-ignore: decorator
@inline function egruScalar(
  i0: usize, n: u32, vx: usize, vh: usize, sigT: usize, sigLen: i32, sigO: f64, sigI: f64, tanT: usize, tanLen: i32, tanO: f64, tanI: f64,
  thr: usize, h: usize, out: usize, pq: i32, counts: usize,
): f64 {
  const nn = <usize>n, sigTop = <f64>(sigLen - 1), tanTop = <f64>(tanLen - 1);
  let events: u32 = 0, clipLut: u32 = 0, clipState: u32 = 0;
  for (let i: usize = i0; i < nn; i++) {
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
 * Two table entries (int16) at the lanes' indices (doubles holding integers in the table's range: their int32
 * truncation is exact), as f64x2.
 */
// @ts-ignore: decorator
@inline function gather2(table: usize, f: v128): v128 {
  const idx = i32x4.trunc_sat_f64x2_s_zero(f);
  const a = <i32>load<i16>(table + (<usize>i32x4.extract_lane(idx, 0) << 1));
  const b = <i32>load<i16>(table + (<usize>i32x4.extract_lane(idx, 1) << 1));
  return f64x2.convert_low_i32x4_s(i32x4.replace_lane(i32x4.splat(a), 1, b));
}

/**
 * runtime/golden/kernels.ts egruUnits over n units (Q14), for the caller's checked layout: vx, vh (f64, 3n each:
 * z, r, g), the σ and tanh tables (int16, with their index constants), thr (int32, n), h (int32, n), out (int32, n),
 * pq (the zoneout p as Q15; 0: none). Input values beyond a table are added to counts[0], states clamped to int16
 * to counts[1] (f64). Returns the events (units that fired).
 *
 * Without zoneout, two units at a time in SIMD (f64x2) with the TypeScript kernel's double operations in its
 * order (the table indices, r · vh_g, z · h + (2^14 − z) · g: every product below 2^46, exact), the table reads
 * lane by lane; the odd unit, and every unit under zoneout, go through the scalar loop (int64, exact likewise).
 */
export function egru(
  n: u32, vx: usize, vh: usize, sigT: usize, sigLen: i32, sigO: f64, sigI: f64, tanT: usize, tanLen: i32, tanO: f64, tanI: f64,
  thr: usize, h: usize, out: usize, pq: i32, counts: usize,
): f64 {
  return egruOf(n, vx, vh, sigT, sigLen, sigO, sigI, tanT, tanLen, tanO, tanI, thr, h, out, pq, counts);
}

/**
 * egru over several unit ranges of one population in one call (the simulator's PEs of a group): desc holds per
 * range six u32, its n and the byte offsets of its vx, vh, thr, h and out; the tables, pq and counts are shared.
 * Returns the events of all ranges.
 */
export function egruMany(
  desc: usize, count: u32, sigT: usize, sigLen: i32, sigO: f64, sigI: f64, tanT: usize, tanLen: i32, tanO: f64, tanI: f64, pq: i32, counts: usize,
): f64 {
  let events: f64 = 0;
  for (let k: usize = 0; k < <usize>count; k++) {
    const d = desc + k * 24;
    events += egruOf(load<u32>(d), load<u32>(d + 4), load<u32>(d + 8), sigT, sigLen, sigO, sigI, tanT, tanLen, tanO, tanI, load<u32>(d + 12), load<u32>(d + 16), load<u32>(d + 20), pq, counts);
  }
  return events;
}

// @ts-ignore: decorator
@inline function egruOf(
  n: u32, vx: usize, vh: usize, sigT: usize, sigLen: i32, sigO: f64, sigI: f64, tanT: usize, tanLen: i32, tanO: f64, tanI: f64,
  thr: usize, h: usize, out: usize, pq: i32, counts: usize,
): f64 {
  const nn = <usize>n, N2 = pq == 0 ? nn & ~1 : 0;
  const ZERO = f64x2.splat(0), SO = f64x2.splat(sigO), SI = f64x2.splat(sigI), TO = f64x2.splat(tanO), TI = f64x2.splat(tanI);
  const STOP = f64x2.splat(<f64>(sigLen - 1)), TTOP = f64x2.splat(<f64>(tanLen - 1)), ONE = f64x2.splat(16384);
  const H14 = f64x2.splat(8192), I14 = f64x2.splat(1.0 / 16384), S16MAX = f64x2.splat(32767), S16MIN = f64x2.splat(-32768);
  let events: u32 = 0, clipLut: u32 = 0, clipState: u32 = 0;
  // Counted per lane in vectors (a set comparison lane is −1), added up once after the loop.
  let vLut = i64x2.splat(0), vState = i64x2.splat(0), vEv = i64x2.splat(0);
  for (let i: usize = 0; i < N2; i += 2) {
    const oz = i << 3, or = (nn + i) << 3, og = (2 * nn + i) << 3;
    let fz = f64x2.floor(f64x2.mul(f64x2.sub(f64x2.add(v128.load(vx + oz), v128.load(vh + oz)), SO), SI));
    let fr = f64x2.floor(f64x2.mul(f64x2.sub(f64x2.add(v128.load(vx + or), v128.load(vh + or)), SO), SI));
    vLut = i64x2.sub(i64x2.sub(i64x2.sub(i64x2.sub(vLut, f64x2.lt(fz, ZERO)), f64x2.gt(fz, STOP)), f64x2.lt(fr, ZERO)), f64x2.gt(fr, STOP));
    fz = f64x2.pmin(f64x2.pmax(fz, ZERO), STOP);
    fr = f64x2.pmin(f64x2.pmax(fr, ZERO), STOP);
    const z = gather2(sigT, fz), r = gather2(sigT, fr);
    const rh = roundShift2(f64x2.mul(r, v128.load(vh + og)), H14, I14);
    let fg = f64x2.floor(f64x2.mul(f64x2.sub(f64x2.add(v128.load(vx + og), rh), TO), TI));
    vLut = i64x2.sub(i64x2.sub(vLut, f64x2.lt(fg, ZERO)), f64x2.gt(fg, TTOP));
    fg = f64x2.pmin(f64x2.pmax(fg, ZERO), TTOP);
    const g = gather2(tanT, fg);
    const hp = f64x2.convert_low_i32x4_s(v128.load64_zero(h + (i << 2)));
    let c = roundShift2(f64x2.add(f64x2.mul(z, hp), f64x2.mul(f64x2.sub(ONE, z), g)), H14, I14);
    vState = i64x2.sub(i64x2.sub(vState, f64x2.gt(c, S16MAX)), f64x2.lt(c, S16MIN));
    c = f64x2.pmin(f64x2.pmax(c, S16MIN), S16MAX);
    const d = f64x2.sub(c, f64x2.convert_low_i32x4_s(v128.load64_zero(thr + (i << 2))));
    const fire = f64x2.gt(d, ZERO);
    vEv = i64x2.sub(vEv, fire);
    // c and d are integers in int32's range: the truncation is exact (a −0 becomes 0).
    v128.store64_lane(out + (i << 2), i32x4.trunc_sat_f64x2_s_zero(v128.and(c, fire)), 0);
    v128.store64_lane(h + (i << 2), i32x4.trunc_sat_f64x2_s_zero(v128.bitselect(d, c, fire)), 0);
  }
  clipLut += <u32>(i64x2.extract_lane(vLut, 0) + i64x2.extract_lane(vLut, 1));
  clipState += <u32>(i64x2.extract_lane(vState, 0) + i64x2.extract_lane(vState, 1));
  events += <u32>(i64x2.extract_lane(vEv, 0) + i64x2.extract_lane(vEv, 1));
  const tail = egruScalar(N2, n, vx, vh, sigT, sigLen, sigO, sigI, tanT, tanLen, tanO, tanI, thr, h, out, pq, counts);
  store<f64>(counts, load<f64>(counts) + <f64>clipLut);
  store<f64>(counts + 8, load<f64>(counts + 8) + <f64>clipState);
  return <f64>events + tail;
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
