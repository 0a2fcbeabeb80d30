// Magnitude statistics of calibration values: a histogram by power of two (bucket e holds
// 2^(e−1) < |v| ≤ 2^e), which answers every question the quantize pass asks (percentile range, clipping
// rate) exactly at the granularity of a binary point, in constant memory.
import type { Population } from "../../ir/types.js";
import { HOST_LITTLE_ENDIAN } from "../../runtime/io/ndarray.js";

const E_MIN = -64;
const E_MAX = 64;

/** Magnitude statistics of one kind of value. */
export interface RangeStats {
  /** Values seen (zeros included). */
  count: number;
  /** Largest |v| seen. */
  max: number;
  /** hist[e − E_MIN]: values with 2^(e−1) < |v| ≤ 2^e (e clamped to [E_MIN, E_MAX]). */
  hist: number[];
}

export interface PopulationRanges {
  kind: Population["kind"];
  out: RangeStats;
  /** Port accumulators and the pre-activations built from them. */
  acc: RangeStats;
  /** DiagonalSSM state (real and imaginary parts). */
  state: RangeStats;
  /** Per port, for a kind whose ports get formats of their own (Multiply: its operands `a` and `b`). */
  ports?: Record<string, RangeStats>;
}

export type RangeMode = { kind: "max" } | { kind: "percentile"; percentile: number };

export function emptyStats(): RangeStats {
  return { count: 0, max: 0, hist: new Array(E_MAX - E_MIN + 1).fill(0) };
}

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
/** The index of a float64's high 32-bit word in a Uint32Array view of it. */
const HI = HOST_LITTLE_ENDIAN ? 1 : 0;

/**
 * ⌈log2 a⌉ for a > 0, as Math.ceil(Math.log2(a)) gives it. Fast path from the bits: a = 2^E · (1 + f) with
 * f ≥ 2^−40 has log2 a ≥ E + 2^−40·log2(e), more than 4 ulps of E for every |E| ≤ 2^11, so Math.log2 (error
 * below 1 ulp) lies above E and its ceiling is E + 1. Exact powers of two, f < 2^−40, subnormals, Infinity and
 * NaN take Math.log2 itself.
 */
export function ceilLog2(a: number): number {
  F64[0] = a;
  const hi = U32[HI], lo = U32[1 - HI];
  const biased = (hi >>> 20) & 0x7ff;
  if (biased !== 0 && biased !== 0x7ff && ((hi & 0xfffff) !== 0 || lo >>> 12 !== 0)) return biased - 1022;
  return Math.ceil(Math.log2(a));
}

/** Records one value. */
export function add(st: RangeStats, v: number): void {
  st.count++;
  const a = Math.abs(v);
  if (a === 0) return;
  if (a > st.max) st.max = a;
  let e = ceilLog2(a);
  if (e < E_MIN) e = E_MIN;
  else if (e > E_MAX) e = E_MAX;
  st.hist[e - E_MIN]++;
}

/** Records every value of v. */
export function addAll(st: RangeStats, v: ArrayLike<number>): void {
  for (let i = 0; i < v.length; i++) add(st, v[i]);
}

/**
 * The range R to fit: the max, or the smallest power of two covering the percentile of the non-zero
 * magnitudes (never above the max). Zeros are left out: they fit any format, and counting them would let a
 * sparse population (mostly zero ReLU or EGRU outputs) choose a range that clips every value it emits.
 */
export function chooseRange(st: RangeStats, mode: RangeMode): number {
  if (mode.kind === "max" || st.count === 0) return st.max;
  let nonzero = 0;
  for (const h of st.hist) nonzero += h;
  const need = (mode.percentile / 100) * nonzero;
  let cum = 0;
  for (let i = 0; i < st.hist.length; i++) {
    cum += st.hist[i];
    if (cum >= need) return Math.min(st.max, 2 ** (i + E_MIN));
  }
  return st.max;
}

/** Fraction of the recorded values whose magnitude exceeds 2^k (what a format with range 2^k clips). */
export function clipFraction(st: RangeStats, k: number): number {
  if (st.count === 0) return 0;
  let n = 0;
  for (let i = 0; i < st.hist.length; i++) if (i + E_MIN > k) n += st.hist[i];
  return n / st.count;
}
