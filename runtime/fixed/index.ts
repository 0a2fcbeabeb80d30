// THE definition of nmc's quantized arithmetic. The golden interpreter, the SpiNNaker 2 simulator and the
// CUDA emitter (which writes these same formulas in C) all use exactly these primitives; a rounding rule
// changes here and nowhere else.
//
// Every value is an integer held in a JS number. Each primitive states the range of its arguments so that
// every intermediate stays below 2^53 and is therefore exact in a double (and in int64 in C):
// products are at most int32 × 2^15 (a Q15 multiplier mantissa) or int16 × int16.
import { erf, phiTanh } from "../float/math.js";
import { roundHalfAway, roundShift, sat32 } from "./core.js";

// The rounding and saturation primitives every definition here and in expq.ts builds on (core.ts).
export { roundHalfAway, roundShift, sat32 };

export const INT32_MIN = -2147483648;
export const INT32_MAX = 2147483647;
export const INT16_MIN = -32768;
export const INT16_MAX = 32767;
export const INT8_MIN = -128;
export const INT8_MAX = 127;

/** Clamps an integer to the signed range of `bits` bits. */
export function saturate(x: number, bits: number): number {
  const hi = satHi(bits), lo = satLo(bits);
  return x > hi ? hi : x < lo ? lo : x;
}

/** 2^(bits − 1) − 1 (a table for bits 1 … 53: the state kernels saturate every value, and ** per call showed in profiles). */
function satHi(bits: number): number {
  return (bits | 0) === bits && bits >= 1 && bits <= 53 ? SAT_HI[bits] : 2 ** (bits - 1) - 1;
}
function satLo(bits: number): number {
  return (bits | 0) === bits && bits >= 1 && bits <= 53 ? SAT_LO[bits] : -(2 ** (bits - 1));
}
const SAT_HI = Float64Array.from({ length: 54 }, (_, b) => 2 ** (b - 1) - 1);
const SAT_LO = Float64Array.from({ length: 54 }, (_, b) => -(2 ** (b - 1)));

export function sat16(x: number): number {
  return x > INT16_MAX ? INT16_MAX : x < INT16_MIN ? INT16_MIN : x;
}

export function sat8(x: number): number {
  return x > INT8_MAX ? INT8_MAX : x < INT8_MIN ? INT8_MIN : x;
}

// Counted forms of the clamps (nmc run and verify report how often each limit is hit, docs/metrics.md): each
// returns exactly what its plain form returns, and adds 1 to counts[site] when the clamp changed the value,
// i.e. only on the clamp's own branch. The kernels pass their population's counters (runtime/golden/
// saturation.ts); a count never changes a result.

/** sat32, counting a clamped value in counts[site]. */
export function sat32Count(x: number, counts: Float64Array, site: number): number {
  if (x > INT32_MAX) {
    counts[site]++;
    return INT32_MAX;
  }
  if (x < INT32_MIN) {
    counts[site]++;
    return INT32_MIN;
  }
  return x;
}

/** sat16, counting a clamped value in counts[site]. */
export function sat16Count(x: number, counts: Float64Array, site: number): number {
  if (x > INT16_MAX) {
    counts[site]++;
    return INT16_MAX;
  }
  if (x < INT16_MIN) {
    counts[site]++;
    return INT16_MIN;
  }
  return x;
}

/** saturate(x, bits), counting a clamped value in counts[site]. */
export function saturateCount(x: number, bits: number, counts: Float64Array, site: number): number {
  const hi = satHi(bits), lo = satLo(bits);
  if (x > hi) {
    counts[site]++;
    return hi;
  }
  if (x < lo) {
    counts[site]++;
    return lo;
  }
  return x;
}

/** Saturating int32 addition (a, b int32: the exact sum needs 33 bits, fine in a double). */
export function addSat32(a: number, b: number): number {
  return sat32(a + b);
}

/** A real scale factor as multiplier × 2^−shift with a Q15 mantissa: 2^14 ≤ |multiplier| < 2^15. */
export interface Multiplier {
  multiplier: number;
  shift: number;
}

/**
 * The Q15 multiplier closest to `scale` (> 0), so that requantize(x, m) ≈ x · scale. The mantissa has
 * 15 significant bits (relative error ≤ 2^−15), ample for int8/int16 outputs, and keeps every product
 * x · multiplier with x int32 below 2^46.
 */
export function quantizeMultiplier(scale: number): Multiplier {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`scale must be a positive finite number, is ${scale}`);
  let shift = 14 - Math.floor(Math.log2(scale));
  let multiplier = Math.round(scale * 2 ** shift);
  if (multiplier >= 2 ** 15) {
    multiplier = Math.round(multiplier / 2);
    shift -= 1;
  }
  if (shift < 0 || shift > 52) throw new RangeError(`scale ${scale} is outside the representable range`);
  return { multiplier, shift };
}

/** int32 x times a Q15 multiplier, rounding-shifted and saturated to int32: x · m · 2^−shift. */
export function requantize(x: number, m: Multiplier): number {
  return sat32(roundShift(x * m.multiplier, m.shift));
}

/** requantize with the multiplier and shift given apart (as the IR stores them; no object per call). */
export function requantizeMS(x: number, multiplier: number, shift: number): number {
  return sat32(roundShift(x * multiplier, shift));
}

/** requantizeMS, counting a result clamped to int32 in counts[site]. */
export function requantizeMSCount(x: number, multiplier: number, shift: number, counts: Float64Array, site: number): number {
  return sat32Count(roundShift(x * multiplier, shift), counts, site);
}

/**
 * Fixed-point complex multiply (a + ib)(c + id) with a, b int32 state values and c, d a Q15 coefficient
 * (|c|, |d| ≤ 2^15): returns [re, im] rounding-shifted by 15 and saturated to int32. Used for Λ̄ ⊙ x.
 * The two products of each part are summed before the one rounding.
 */
export function complexMulQ15(a: number, b: number, c: number, d: number): [number, number] {
  return [cmulReQ15(a, b, c, d), cmulImQ15(a, b, c, d)];
}

/** The real part of complexMulQ15 (hot loops use the two parts apart: no array per call). */
export function cmulReQ15(a: number, b: number, c: number, d: number): number {
  return sat32(roundShift(a * c - b * d, 15));
}

/** The imaginary part of complexMulQ15. */
export function cmulImQ15(a: number, b: number, c: number, d: number): number {
  return sat32(roundShift(a * d + b * c, 15));
}

/** cmulReQ15, counting a part clamped to int32 in counts[site]. */
export function cmulReQ15Count(a: number, b: number, c: number, d: number, counts: Float64Array, site: number): number {
  return sat32Count(roundShift(a * c - b * d, 15), counts, site);
}

/** cmulImQ15, counting a part clamped to int32 in counts[site]. */
export function cmulImQ15Count(a: number, b: number, c: number, d: number, counts: Float64Array, site: number): number {
  return sat32Count(roundShift(a * d + b * c, 15), counts, site);
}

// ---- lookup tables ----

/**
 * An N-entry int16 table (N = 2^bits, bits in 8…12: the compile option lutBits) of f over [lo, lo + N·2^−stepLog2),
 * sampled at the left edge of each bin plus half a bin, for inputs in fixed point with `inFrac` fractional bits.
 * Index rule (exact, integer only; N is the table's own length):
 *   i = clamp(floor((x − lo·2^inFrac) / 2^(inFrac − stepLog2)), 0, N − 1)
 * i.e. an arithmetic right shift of the offset input; inputs below/above the range use the end entries.
 * Each table keeps its range whatever N: every bit above 8 halves the bin (stepLog2 = base + bits − 8).
 * Outputs have `outFrac` fractional bits, rounded to nearest (ties away from zero) and saturated to int16.
 */
export interface Lut {
  name: string;
  table: Int16Array;
  lo: number; // real value of the range start, a multiple of 2^−stepLog2
  stepLog2: number; // bin width 2^−stepLog2 (real units)
  inFrac: number;
  outFrac: number;
}

/** The default table length (lutBits 8), and the range of lutBits (tables of 256 … 4096 entries). */
export const LUT_SIZE = 256;
export const LUT_BITS_DEFAULT = 8;
export const LUT_BITS_MIN = 8;
export const LUT_BITS_MAX = 12;

export function makeLut(name: string, f: (x: number) => number, lo: number, stepLog2: number, inFrac: number, outFrac: number, size = LUT_SIZE): Lut {
  if (!Number.isInteger(Math.log2(size)) || size < 2 ** LUT_BITS_MIN || size > 2 ** LUT_BITS_MAX) {
    throw new RangeError(`LUT ${name}: ${size} entries, must be a power of two in ${2 ** LUT_BITS_MIN}…${2 ** LUT_BITS_MAX}`);
  }
  if (inFrac < stepLog2) throw new RangeError(`LUT ${name}: input needs at least ${stepLog2} fractional bits, has ${inFrac}`);
  const table = new Int16Array(size);
  const step = 2 ** -stepLog2;
  for (let i = 0; i < size; i++) {
    const v = f(lo + (i + 0.5) * step) * 2 ** outFrac;
    table[i] = sat16(v < 0 ? -Math.round(-v) : Math.round(v)); // ties away from zero, as roundShift
  }
  return { name, table, lo, stepLog2, inFrac, outFrac };
}

/** Looks x (fixed point with lut.inFrac fractional bits, |x| < 2^52) up: the exact index rule above. */
export function lutIndex(lut: Lut, x: number): number {
  return lutIndexAt(lutOrigin(lut), lutInvStep(lut), x, lut.table.length);
}

/**
 * The index rule's two constants, for hot loops that look many values up in one table (kernels compute them
 * once per call instead of two powers per lookup): the range start in input units, lo · 2^inFrac (an exact
 * integer: lo is a multiple of 2^−stepLog2 ≤ 2^−inFrac), and 1 / bin width in input units, 2^−(inFrac −
 * stepLog2). Multiplying by a power of two is exactly dividing by its reciprocal, so lutIndexAt(lutOrigin(l),
 * lutInvStep(l), x) is the index rule itself.
 */
export function lutOrigin(lut: Lut): number {
  return lut.lo * pow2(lut.inFrac);
}

export function lutInvStep(lut: Lut): number {
  return pow2(lut.stepLog2 - lut.inFrac);
}

/** 2^k for integer |k| < 64 from a table (the simulator computes the LUT constants per PE and tick), else 2 ** k: the same exact powers. */
function pow2(k: number): number {
  return (k | 0) === k && k > -64 && k < 64 ? POW2[k + 63] : 2 ** k;
}
const POW2 = Float64Array.from({ length: 127 }, (_, i) => 2 ** (i - 63));

/** The index rule with its constants precomputed: clamp(floor((x − origin) · invStep), 0, size − 1). */
export function lutIndexAt(origin: number, invStep: number, x: number, size: number): number {
  const i = Math.floor((x - origin) * invStep);
  return i < 0 ? 0 : i > size - 1 ? size - 1 : i;
}

/** lutIndexAt, counting an input beyond the table (an index clamped to 0 or size − 1: a clipping) in counts[site]. */
export function lutIndexAtCount(origin: number, invStep: number, x: number, size: number, counts: Float64Array, site: number): number {
  const i = Math.floor((x - origin) * invStep);
  if (i < 0) {
    counts[site]++;
    return 0;
  }
  if (i > size - 1) {
    counts[site]++;
    return size - 1;
  }
  return i;
}

export function lookup(lut: Lut, x: number): number {
  return lut.table[lutIndex(lut, x)];
}

const sigmoidF = (x: number) => 1 / (1 + Math.exp(-x));

/** A table of 2^bits entries, Q14 output, over the range its 256-entry form covers with bins of 2^−base. */
function lutOf(name: string, f: (x: number) => number, lo: number, base: number, inFrac: number, bits: number): Lut {
  if (!Number.isInteger(bits) || bits < LUT_BITS_MIN || bits > LUT_BITS_MAX) {
    throw new RangeError(`LUT ${name}: lut bits ${bits}, must be an integer in ${LUT_BITS_MIN}…${LUT_BITS_MAX}`);
  }
  return makeLut(name, f, lo, base + bits - LUT_BITS_MIN, inFrac, 14, 2 ** bits);
}

/** σ over [−8, 8) in bins of 1/16 at lutBits 8 (halved per extra bit), output Q14 (1.0 = 16384). */
export function sigmoidLut(inFrac: number, bits = LUT_BITS_DEFAULT): Lut {
  return lutOf("sigmoid", sigmoidF, -8, 4, inFrac, bits);
}

/** tanh over [−4, 4) in bins of 1/32 at lutBits 8 (halved per extra bit), output Q14. */
export function tanhLut(inFrac: number, bits = LUT_BITS_DEFAULT): Lut {
  return lutOf("tanh", Math.tanh, -4, 5, inFrac, bits);
}

/** exp over [−8, 0) in bins of 1/32 at lutBits 8, halved per extra bit (decays only: SSM discretization), output Q14. */
export function expLut(inFrac: number, bits = LUT_BITS_DEFAULT): Lut {
  return lutOf("exp", Math.exp, -8, 5, inFrac, bits);
}

// ---- integer division and the float → fixed boundary ----

/** a / n rounded to the nearest integer, ties away from zero (as roundShift), for |a| < 2^51, n ≥ 1. */
export function roundDiv(a: number, n: number): number {
  const q = Math.floor((2 * Math.abs(a) + n) / (2 * n));
  return a < 0 && q !== 0 ? -q : q;
}

/**
 * ⌊√N⌋, the exact integer square root, for 0 ≤ N < 2^52. Math.sqrt (correctly rounded) gives a guess within
 * one of it, which the two loops correct with exact integer products (below 2^53); C computes the same value
 * bit by bit (targets/cuda: nmc_isqrt), BigInt by Newton's iteration: the definition is ⌊√N⌋, not a method.
 */
export function isqrt(N: number): number {
  let s = Math.floor(Math.sqrt(N));
  while (s * s > N) s--;
  while ((s + 1) * (s + 1) <= N) s++;
  return s;
}


/** Q15 one: the weight 2^15 − p_q that the EGRU zoneout blend gives the new candidate is taken from it. */
export const ONE_Q15 = 1 << 15;

/**
 * EGRU zoneout p ∈ [0, 1) as the Q15 integer every engine blends with (QUANTIZATION.md, "EGRU"):
 * p_q = round_half_away(p · 2^15), in 0 … 2^15 (p ≥ 1 − 2^−16 rounds to 2^15: the state then keeps h).
 */
export function zoneoutQ15(p: number): number {
  if (!(p >= 0 && p < 1)) throw new RangeError(`zoneout ${p} is not in [0, 1)`);
  return roundHalfAway(p * ONE_Q15);
}

/**
 * EGRU zoneout blend of the previous state h and the candidate c (both Q14, int16): rs(p_q·h + (2^15 − p_q)·c, 15).
 * A convex combination of two int16 values, rounded once: it lies between them, so it needs no saturation;
 * |p_q·h + (2^15 − p_q)·c| ≤ 2^30 (exact in a double, in int32 and int64). p_q = 0 returns c itself.
 */
export function zoneoutBlend(pq: number, h: number, c: number): number {
  return roundShift(pq * h + (ONE_Q15 - pq) * c, 15);
}

/**
 * The only place a real value enters the integer world at run time (model inputs; the compiler uses it
 * for parameters): x · 2^frac rounded ties-away and saturated to `bits`. Scaling by a power of two is
 * exact in a double, so the result depends only on x's value, not on whether it was stored as f32 or f64.
 */
export function toFixed(x: number, frac: number, bits: number): number {
  if (Number.isNaN(x)) throw new RangeError("cannot convert NaN to fixed point");
  return saturate(roundHalfAway(x * pow2(frac)), bits);
}

/**
 * q[i] = toFixed(data[i], frac, 16) for a whole batch (the golden engine's quantizeInputs). Takes Float64Array only:
 * a loop whose reads stay of one array kind is fast, where the same loop fed several kinds in one process went
 * polymorphic and ran 5× slower (285 ms for 3M values, against ~50 ms here).
 */
export function toFixed16Batch(data: Float64Array, frac: number, q: Int32Array): void {
  for (let i = 0; i < data.length; i++) q[i] = toFixed(data[i], frac, 16);
}

/** The real value of a fixed-point integer with `frac` fractional bits (outputs, reports). */
export function fromFixed(q: number, frac: number): number {
  return q / 2 ** frac;
}

/** Φ, the standard normal CDF (GELU(x) = x · Φ(x)), over [−4, 4) in bins of 1/32 at lutBits 8 (halved per extra bit), output Q14. */
export function phiLut(inFrac: number, bits = LUT_BITS_DEFAULT): Lut {
  return lutOf("phi", (x) => 0.5 * (1 + erf(x / Math.SQRT2)), -4, 5, inFrac, bits);
}

/** Φ̃, the tanh approximation of Φ (GELU_NEW(x) = x · Φ̃(x)), over [−4, 4) in bins of 1/32 at lutBits 8 (halved per extra bit), output Q14. */
export function phiTanhLut(inFrac: number, bits = LUT_BITS_DEFAULT): Lut {
  return lutOf("phi_tanh", phiTanh, -4, 5, inFrac, bits);
}

/**
 * L(t) = log(1 + eᵗ) over [−8, 0) in bins of 1/32 at lutBits 8 (halved per extra bit), output Q14 (L ∈ (0, ln 2]): softplus(x) = relu(x) + L(−|x|).
 * Only t ≤ 0 is looked up, so the table's clamp at its upper end is never used, and below −8 it returns
 * L(−8 + 1/64) ≈ 3.4e−4 where L is smaller still.
 */
export function softplusLut(inFrac: number, bits = LUT_BITS_DEFAULT): Lut {
  return lutOf("softplus", (t) => Math.log1p(Math.exp(t)), -8, 5, inFrac, bits);
}

// The per-event complex decay exp(Λ·step·Δt) of an asynchronous SSM (exp, sin/cos; QUANTIZATION.md "Per-event decay").
export * from "./expq.js";
