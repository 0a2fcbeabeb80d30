import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  INT32_MAX, INT32_MIN, addSat32, complexMulQ15, lookup, lutIndex, quantizeMultiplier, requantize, roundShift,
  sat16, sat8, saturate, sigmoidLut, tanhLut,
} from "../../runtime/fixed/index.js";

/** Round half away from zero of x / 2^s, in BigInt: the reference the double arithmetic must match. */
function roundShiftBig(x: bigint, s: number): bigint {
  if (s === 0) return x;
  const half = 1n << BigInt(s - 1);
  return x >= 0n ? (x + half) >> BigInt(s) : -((-x + half) >> BigInt(s));
}

describe("fixed: rounding right shift (ties away from zero)", () => {
  it("hand-computed cases", () => {
    expect(roundShift(5, 1)).toBe(3); // 2.5 → 3
    expect(roundShift(-5, 1)).toBe(-3); // −2.5 → −3
    expect(roundShift(3, 1)).toBe(2); // 1.5 → 2
    expect(roundShift(-3, 1)).toBe(-2);
    expect(roundShift(7, 2)).toBe(2); // 1.75 → 2
    expect(roundShift(5, 2)).toBe(1); // 1.25 → 1
    expect(roundShift(-6, 2)).toBe(-2); // −1.5 → −2
    expect(roundShift(-1, 4)).toBe(0); // −0.0625 → 0
    expect(roundShift(12345, 0)).toBe(12345);
    expect(roundShift(2 ** 51 + 1, 1)).toBe(2 ** 50 + 1); // 2^50 + 0.5 → away from zero
  });

  it("matches a BigInt reference for every |x| < 2^52 and shift", () => {
    fc.assert(fc.property(fc.integer({ min: -(2 ** 30), max: 2 ** 30 }), fc.integer({ min: 0, max: 2 ** 21 }), fc.integer({ min: 0, max: 52 }), (hi, lo, s) => {
      const x = hi * 2 ** 21 + (hi < 0 ? -lo : lo);
      expect(roundShift(x, s)).toBe(Number(roundShiftBig(BigInt(x), s)));
    }), { numRuns: 2000 });
  });
});

describe("fixed: saturation", () => {
  it("clamps at the type edges", () => {
    expect(addSat32(INT32_MAX, 1)).toBe(INT32_MAX);
    expect(addSat32(INT32_MIN, -1)).toBe(INT32_MIN);
    expect(addSat32(INT32_MAX, INT32_MIN)).toBe(-1);
    expect(addSat32(INT32_MAX, INT32_MAX)).toBe(INT32_MAX);
    expect(sat16(32768)).toBe(32767);
    expect(sat16(-32769)).toBe(-32768);
    expect(sat8(-129)).toBe(-128);
    expect(sat8(127)).toBe(127);
    expect(saturate(1000, 10)).toBe(511);
    expect(saturate(-1000, 10)).toBe(-512);
  });
});

describe("fixed: requantize with Q15 multipliers", () => {
  it("hand-computed multipliers and products", () => {
    expect(quantizeMultiplier(0.5)).toEqual({ multiplier: 16384, shift: 15 });
    expect(quantizeMultiplier(1)).toEqual({ multiplier: 16384, shift: 14 });
    expect(quantizeMultiplier(0.75)).toEqual({ multiplier: 24576, shift: 15 });
    expect(quantizeMultiplier(0.99999)).toEqual({ multiplier: 16384, shift: 14 }); // rounds up to 2^15: renormalized
    expect(requantize(100, quantizeMultiplier(0.75))).toBe(75);
    expect(requantize(-3, quantizeMultiplier(0.5))).toBe(-2); // −1.5 → −2
    expect(requantize(3, quantizeMultiplier(0.5))).toBe(2);
    expect(requantize(INT32_MAX, quantizeMultiplier(1.5))).toBe(INT32_MAX);
    expect(requantize(INT32_MIN, quantizeMultiplier(1.5))).toBe(INT32_MIN);
    expect(() => quantizeMultiplier(0)).toThrow(RangeError);
  });

  it("x · scale within one part in 2^14 plus half a unit, for every int32 x", () => {
    fc.assert(fc.property(fc.integer({ min: INT32_MIN, max: INT32_MAX }), fc.double({ min: 1e-6, max: 4, noNaN: true }), (x, scale) => {
      const m = quantizeMultiplier(scale);
      expect(Math.abs(m.multiplier)).toBeGreaterThanOrEqual(2 ** 14);
      expect(Math.abs(m.multiplier)).toBeLessThan(2 ** 15);
      const exact = x * scale;
      if (Math.abs(exact) < INT32_MAX) {
        expect(Math.abs(requantize(x, m) - exact)).toBeLessThanOrEqual(Math.abs(exact) * 2 ** -14 + 0.5);
      }
      expect(Number(roundShiftBig(BigInt(x) * BigInt(m.multiplier), m.shift))).toBe(roundShift(x * m.multiplier, m.shift));
    }), { numRuns: 2000 });
  });
});

describe("fixed: complex multiply", () => {
  it("(1000 + 2000i)(0.5 + 0.25i) = 0 + 1250i in Q15", () => {
    expect(complexMulQ15(1000, 2000, 16384, 8192)).toEqual([0, 1250]);
    // rounding of each part after the sum: (3 + 0i)(0.5 + 0.5i) = 1.5 + 1.5i → 2 + 2i
    expect(complexMulQ15(3, 0, 16384, 16384)).toEqual([2, 2]);
    expect(complexMulQ15(-3, 0, 16384, 16384)).toEqual([-2, -2]);
    expect(complexMulQ15(INT32_MAX, INT32_MAX, 32767, 32767)).toEqual([0, INT32_MAX]);
  });
});

describe("fixed: lookup tables", () => {
  it("the index rule is an exact floor of the offset input, clamped to the table", () => {
    const lut = sigmoidLut(8); // input Q8, bins of 1/16 = 16 input units, range starts at −8 = −2048
    expect(lutIndex(lut, -2048)).toBe(0);
    expect(lutIndex(lut, -2048 + 15)).toBe(0);
    expect(lutIndex(lut, -2048 + 16)).toBe(1);
    expect(lutIndex(lut, -2049)).toBe(0);
    expect(lutIndex(lut, -1e9)).toBe(0);
    expect(lutIndex(lut, 0)).toBe(128);
    expect(lutIndex(lut, 2047)).toBe(255);
    expect(lutIndex(lut, 1e9)).toBe(255);
  });

  it("entries are f at bin centres in Q14, rounded", () => {
    const s = sigmoidLut(8);
    expect(s.table[128]).toBe(Math.round(16384 / (1 + Math.exp(-1 / 32))));
    expect(lookup(s, 0)).toBe(8320); // σ(1/32) · 16384 = 8319.99…
    const t = tanhLut(10);
    expect(t.table[0]).toBe(-Math.round(16384 * Math.tanh(4 - 1 / 64)));
    expect(lookup(t, -1e6)).toBe(t.table[0]);
  });

  it("refuses an input format too coarse for the bins", () => {
    expect(() => sigmoidLut(2)).toThrow(RangeError);
  });
});
