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
