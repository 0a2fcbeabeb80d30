// The integer primitives every quantized definition builds on: int32 saturation, the rounding right shift and
// round-half-away-from-zero. One copy, imported by runtime/fixed/index.ts (which re-exports them) and by
// expq.ts (which index.ts itself re-exports, so it cannot import index.ts without a cycle).

export function sat32(x: number): number {
  return x > 2147483647 ? 2147483647 : x < -2147483648 ? -2147483648 : x;
}

/**
 * Rounding right shift: x / 2^s rounded to the nearest integer, **ties away from zero**
 * (2.5 → 3, −2.5 → −3), for |x| < 2^52 and 0 ≤ s ≤ 52. s = 0 returns x. In C:
 * `(x >= 0 ? (x + half) >> s : -((-x + half) >> s))` with half = 1 << (s − 1), on int64.
 */
export function roundShift(x: number, s: number): number {
  if (s === 0) return x === 0 ? 0 : x; // a −0 product (−5 · 0) comes back as +0
  // (|x| + 2^(s−1)) / 2^s, with the power and its reciprocal from tables (this is the golden engine's hottest
  // primitive; `2 ** s` per call dominated it). Multiplying by 2^−s is the same exact operation as dividing
  // by 2^s (both are exact in a double: |x| + 2^(s−1) < 2^53 and nothing underflows), so the result is
  // identical; shifts outside the tables take the general formula.
  if (s > 0 && s < POW2_TABLE && (s | 0) === s) {
    const q = Math.floor((Math.abs(x) + HALF_POW2[s]) * INV_POW2[s]);
    return x < 0 && q !== 0 ? -q : q; // never −0: integer results compare with Object.is too
  }
  const d = 2 ** s;
  const q = Math.floor((Math.abs(x) + d / 2) / d);
  return x < 0 && q !== 0 ? -q : q;
}

const POW2_TABLE = 64;
/** 2^(s−1) and 2^−s for s = 0 … 63 (roundShift's constants; exact powers of two). */
const HALF_POW2 = Float64Array.from({ length: POW2_TABLE }, (_, s) => 2 ** s / 2);
const INV_POW2 = Float64Array.from({ length: POW2_TABLE }, (_, s) => 2 ** -s);

/** A real number rounded to the nearest integer, ties away from zero, never −0. */
export function roundHalfAway(x: number): number {
  // Math.round on |x| rounds ties up, i.e. away from zero, and never rounds in an intermediate addition
  // (floor(|x| + 0.5) turns 0.49999999999999994 into 1).
  const q = Math.round(Math.abs(x));
  return x < 0 && q !== 0 ? -q : q;
}
