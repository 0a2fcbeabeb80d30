// Row accumulation helpers shared by the golden engine's kernels (kernels.ts) and the simulator's (simulator.ts),
// inlined into each. See kernels.ts for why the sums are exact.

/**
 * acc[col[k]] += x · w[k] for k in [k, end): one CSR row (or a slice's chunks of it), unrolled by four. The sums
 * are A: f64 (exact integers, as the TypeScript definition holds them) or i32 (where the engines have proved that
 * no column sum leaves int32: runtime/golden/accumulation.ts), the same integers either way.
 */
// @ts-ignore: decorator
@inline export function addRow<C, W, A>(x: A, k: usize, end: usize, col: usize, w: usize, acc: usize): void {
  const cs = sizeof<C>(), ws = sizeof<W>(), as = alignof<A>();
  for (; k + 4 <= end; k += 4) {
    const cp = col + k * cs, wp = w + k * ws;
    const p0 = acc + ((<usize>load<C>(cp)) << as);
    store<A>(p0, load<A>(p0) + x * <A>load<W>(wp));
    const p1 = acc + ((<usize>load<C>(cp + cs)) << as);
    store<A>(p1, load<A>(p1) + x * <A>load<W>(wp + ws));
    const p2 = acc + ((<usize>load<C>(cp + 2 * cs)) << as);
    store<A>(p2, load<A>(p2) + x * <A>load<W>(wp + 2 * ws));
    const p3 = acc + ((<usize>load<C>(cp + 3 * cs)) << as);
    store<A>(p3, load<A>(p3) + x * <A>load<W>(wp + 3 * ws));
  }
  for (; k < end; k++) {
    const p = acc + ((<usize>load<C>(col + k * cs)) << as);
    store<A>(p, load<A>(p) + x * <A>load<W>(w + k * ws));
  }
}

/**
 * acc[c] += x · wd[c] for c in [0, cols) (int32 sums, addRow's int32 condition; wd: int8, a dense row with its absent
 * entries 0, which add nothing), eight columns at a time in SIMD.
 */
// @ts-ignore: decorator
@inline export function addDenseRow32(x: i32, wd: usize, cols: usize, acc: usize): void {
  const xs = i32x4.splat(x), C8 = cols & ~7;
  let c: usize = 0;
  for (; c < C8; c += 8) {
    const w8 = i16x8.extend_low_i8x16_s(v128.load64_zero(wd + c));
    const p = acc + (c << 2);
    v128.store(p, i32x4.add(v128.load(p), i32x4.mul(i32x4.extend_low_i16x8_s(w8), xs)));
    v128.store(p + 16, i32x4.add(v128.load(p + 16), i32x4.mul(i32x4.extend_high_i16x8_s(w8), xs)));
  }
  for (; c < cols; c++) {
    const p = acc + (c << 2);
    store<i32>(p, load<i32>(p) + x * <i32>load<i8>(wd + c));
  }
}

/** Whether x is an int16 value (it then fits one i16 lane of the paired kernels below). */
// @ts-ignore: decorator
@inline export function isInt16(x: i32): bool {
  return <u32>(x + 32768) <= 65535;
}

/**
 * The i16 lanes (xa, xb, xa, xb, …): the multiplier of two interleaved rows in i32x4.dot_i16x8_s (xa, xb int16).
 */
// @ts-ignore: decorator
@inline function pairOf(xa: i32, xb: i32): v128 {
  return i32x4.splat((xb << 16) | (xa & 0xffff));
}

/**
 * Eight int8 columns of two dense rows a and b, interleaved (a0, b0, a1, b1, …): widened to i16 (extend_low:
 * columns 0–3, extend_high: 4–7), one i32x4.dot_i16x8_s with pairOf gives xa · a[c] + xb · b[c] per column (exact:
 * |w| ≤ 2^7, |x| ≤ 2^15).
 */
// @ts-ignore: decorator
@inline function interleave8(a: usize, b: usize): v128 {
  return i8x16.shuffle(v128.load64_zero(a), v128.load64_zero(b), 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}

/**
 * addDenseRow32 for four rows at once (xa … xd int16, isInt16): acc[c] += xa · wa[c] + xb · wb[c] + xc · wc[c] +
 * xd · wd[c]. Each sum is loaded and stored once per four rows, and two rows' products come from one
 * i32x4.dot_i16x8_s. Integer sums in another order: the same integers (addRow's int32 condition bounds every
 * partial sum of a column's rows).
 */
// @ts-ignore: decorator
@inline export function addDenseRows4_32(
  wa: usize, wb: usize, wc: usize, wd: usize, xa: i32, xb: i32, xc: i32, xd: i32, cols: usize, acc: usize,
): void {
  const pab = pairOf(xa, xb), pcd = pairOf(xc, xd), C8 = cols & ~7;
  let c: usize = 0;
  for (; c < C8; c += 8) {
    const ab = interleave8(wa + c, wb + c), cd = interleave8(wc + c, wd + c);
    const lo = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(ab), pab), i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(cd), pcd));
    const hi = i32x4.add(i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(ab), pab), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(cd), pcd));
    const p = acc + (c << 2);
    v128.store(p, i32x4.add(v128.load(p), lo));
    v128.store(p + 16, i32x4.add(v128.load(p + 16), hi));
  }
  for (; c < cols; c++) {
    const p = acc + (c << 2);
    store<i32>(p, load<i32>(p) + xa * <i32>load<i8>(wa + c) + xb * <i32>load<i8>(wb + c) + xc * <i32>load<i8>(wc + c) + xd * <i32>load<i8>(wd + c));
  }
}

/** addDenseRows4_32 for two rows. */
// @ts-ignore: decorator
@inline export function addDenseRows2_32(wa: usize, wb: usize, xa: i32, xb: i32, cols: usize, acc: usize): void {
  const pab = pairOf(xa, xb), C8 = cols & ~7;
  let c: usize = 0;
  for (; c < C8; c += 8) {
    const ab = interleave8(wa + c, wb + c);
    const p = acc + (c << 2);
    v128.store(p, i32x4.add(v128.load(p), i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(ab), pab)));
    v128.store(p + 16, i32x4.add(v128.load(p + 16), i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(ab), pab)));
  }
  for (; c < cols; c++) {
    const p = acc + (c << 2);
    store<i32>(p, load<i32>(p) + xa * <i32>load<i8>(wa + c) + xb * <i32>load<i8>(wb + c));
  }
}

/**
 * The rows left over when rows are gathered four at a time (n < 4 of them: w0…w2 with values x0…x2, int16),
 * added as addDenseRows4_32 would.
 */
// @ts-ignore: decorator
@inline export function addDenseRest32(n: i32, w0: usize, w1: usize, w2: usize, x0: i32, x1: i32, x2: i32, cols: usize, acc: usize): void {
  if (n == 1) addDenseRow32(x0, w0, cols, acc);
  else if (n == 2) addDenseRows2_32(w0, w1, x0, x1, cols, acc);
  else if (n == 3) {
    addDenseRows2_32(w0, w1, x0, x1, cols, acc);
    addDenseRow32(x2, w2, cols, acc);
  }
}

/**
 * acc[s] += chunks[s] for s in [0, S) (u16 lanes, wrapping: the caller flushes before a lane can pass 65535),
 * eight slices at a time in SIMD.
 */
// @ts-ignore: decorator
@inline export function addChunks16(S: usize, chunks: usize, acc: usize): void {
  const S8 = S & ~7;
  let s: usize = 0;
  for (; s < S8; s += 8) {
    const a = acc + (s << 1);
    v128.store(a, i16x8.add(v128.load(a), v128.load(chunks + (s << 1))));
  }
  for (; s < S; s++) {
    const a = acc + (s << 1);
    store<u16>(a, load<u16>(a) + load<u16>(chunks + (s << 1)));
  }
}

/** touched[s] += acc[s] (u16 into int32), then acc[s] = 0, for s in [0, S). */
// @ts-ignore: decorator
@inline export function flushChunks16(S: usize, acc: usize, touched: usize): void {
  for (let s: usize = 0; s < S; s++) {
    const a = acc + (s << 1), t = touched + (s << 2);
    store<i32>(t, load<i32>(t) + <i32>load<u16>(a));
    store<u16>(a, 0);
  }
}

/**
 * touched[s] += rp[s + 1] − rp[s] for s in [0, S) (u32 row pointers of S consecutive chunks; touched: int32),
 * four slices at a time in SIMD.
 */
// @ts-ignore: decorator
@inline export function countChunks(S: usize, rp: usize, touched: usize): void {
  const S4 = S & ~3;
  let s: usize = 0;
  for (; s < S4; s += 4) {
    const t = touched + (s << 2);
    v128.store(t, i32x4.add(v128.load(t), i32x4.sub(v128.load(rp + (s << 2) + 4), v128.load(rp + (s << 2)))));
  }
  for (; s < S; s++) {
    const t = touched + (s << 2);
    store<i32>(t, load<i32>(t) + <i32>(load<u32>(rp + (s << 2) + 4) - load<u32>(rp + (s << 2))));
  }
}
