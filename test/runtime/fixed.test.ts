import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  INT16_MAX, INT16_MIN, INT32_MAX, INT32_MIN, LUT_SIZE, addSat32, cmulImQ15, cmulReQ15, complexMulQ15, fromFixed,
  lookup, lutIndex, phiLut, quantizeMultiplier, requantize, requantizeMS, roundDiv, roundHalfAway, roundShift,
  sat16, sat8, saturate, sigmoidLut, tanhLut, toFixed,
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

  it("lutBits 10: 1024 entries over the same range, bins a quarter as wide, clamped to the table's own length", () => {
    const lut = sigmoidLut(8, 10); // input Q8, bins of 1/64 = 4 input units, range still [−8, 8) = [−2048, 2048)
    expect([lut.table.length, lut.lo, lut.stepLog2, lut.inFrac]).toEqual([1024, -8, 6, 8]);
    expect(lutIndex(lut, -2049)).toBe(0);
    expect(lutIndex(lut, -2048)).toBe(0);
    expect(lutIndex(lut, -2048 + 3)).toBe(0);
    expect(lutIndex(lut, -2048 + 4)).toBe(1);
    expect(lutIndex(lut, -1)).toBe(511); // floor(2047 / 4)
    expect(lutIndex(lut, 0)).toBe(512);
    expect(lutIndex(lut, 5)).toBe(513);
    expect(lutIndex(lut, 2047)).toBe(1023);
    expect(lutIndex(lut, 2048)).toBe(1023);
    expect(lutIndex(lut, 1e9)).toBe(1023);
    expect(lutIndex(lut, -1e9)).toBe(0);
    // entry i is σ at the centre of bin i: −8 + (i + ½)/64; entry 4i + 1, 4i + 2 straddle the 256-entry bin i's centre
    expect(lut.table[512]).toBe(Math.round(16384 / (1 + Math.exp(-1 / 128))));
    expect(lookup(lut, 1e9)).toBe(Math.round(16384 / (1 + Math.exp(-(8 - 1 / 128)))));
    // every table's range is kept: tanh at 12 bits, 4096 bins of 2^−9 over [−4, 4), input needs ≥ 9 fractional bits
    const t = tanhLut(9, 12);
    expect([t.table.length, t.lo, t.stepLog2, 4096 * 2 ** -t.stepLog2]).toEqual([4096, -4, 9, 8]);
    expect(lutIndex(t, 0)).toBe(2048);
    expect(() => tanhLut(8, 12)).toThrow(RangeError);
    expect(() => sigmoidLut(8, 7)).toThrow(RangeError);
    expect(() => sigmoidLut(8, 13)).toThrow(RangeError);
  });
});

// ---- integer division, the float → fixed boundary, split complex multiply, Φ table ----

/** a / n rounded to nearest, ties away from zero, in BigInt (quotient and remainder, no division trick). */
function roundDivBig(a: bigint, n: bigint): bigint {
  const m = a < 0n ? -a : a;
  let q = m / n;
  if (2n * (m % n) >= n) q += 1n;
  return a < 0n ? -q : q;
}

/** The exact value of an f32 as m · 2^e (m an integer), from its bits. */
function f32Parts(x: number): { m: bigint; e: number } {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setFloat32(0, x);
  const bits = dv.getUint32(0);
  const sign = bits >>> 31 ? -1n : 1n;
  const exp = (bits >>> 23) & 0xff;
  const frac = BigInt(bits & 0x7fffff);
  return exp === 0 ? { m: sign * frac, e: -149 } : { m: sign * (frac | 0x800000n), e: exp - 150 };
}

/** toFixed of an f32 computed exactly in BigInt: round-half-away of m · 2^(e + frac), saturated. */
function toFixedBig(x: number, frac: number, bits: number): number {
  const { m, e } = f32Parts(x);
  const s = e + frac;
  const q = s >= 0 ? m << BigInt(s) : roundShiftBig(m, -s);
  const hi = (1n << BigInt(bits - 1)) - 1n, lo = -(1n << BigInt(bits - 1));
  return Number(q > hi ? hi : q < lo ? lo : q);
}

describe("fixed: roundDiv (ties away from zero)", () => {
  it("hand-computed cases", () => {
    expect(roundDiv(5, 2)).toBe(3); // 2.5 → 3
    expect(roundDiv(-5, 2)).toBe(-3); // −2.5 → −3
    expect(roundDiv(7, 3)).toBe(2); // 2.33 → 2
    expect(roundDiv(-7, 3)).toBe(-2);
    expect(roundDiv(8, 3)).toBe(3); // 2.67 → 3
    expect(roundDiv(-1, 2)).toBe(-1); // −0.5 → −1
    expect(roundDiv(1, 2)).toBe(1);
    expect(roundDiv(1, 3)).toBe(0);
    expect(roundDiv(12, 4)).toBe(3);
    expect(roundDiv(-12, 4)).toBe(-3);
    expect(roundDiv(INT32_MIN, 1)).toBe(INT32_MIN);
    expect(roundDiv(INT32_MAX, 2)).toBe(1073741824); // 1073741823.5 → away
    expect(roundDiv(INT32_MIN, 3)).toBe(-715827883); // −715827882.67
  });

  it("never returns −0", () => {
    expect(Object.is(roundDiv(0, 1), 0)).toBe(true);
    expect(Object.is(roundDiv(0, 7), 0)).toBe(true);
    expect(Object.is(roundDiv(-1, 3), 0)).toBe(true); // −0.33 → 0, not −0
    expect(Object.is(roundDiv(-2, 5), 0)).toBe(true);
  });

  it("matches a BigInt quotient-and-remainder reference for |a| < 2^51", () => {
    fc.assert(fc.property(
      fc.integer({ min: -(2 ** 21), max: 2 ** 21 }), fc.integer({ min: 0, max: 2 ** 30 - 1 }), fc.integer({ min: 1, max: 2 ** 20 }),
      (hi, lo, n) => {
        const a = hi * 2 ** 30 + (hi < 0 ? -lo : lo); // |a| < 2^51
        const q = roundDiv(a, n);
        expect(q).toBe(Number(roundDivBig(BigInt(a), BigInt(n))));
        if (q === 0) expect(Object.is(q, 0)).toBe(true);
      },
    ), { numRuns: 2000 });
  });
});

describe("fixed: roundHalfAway", () => {
  it("hand-computed cases", () => {
    expect(roundHalfAway(2.5)).toBe(3);
    expect(roundHalfAway(-2.5)).toBe(-3);
    expect(roundHalfAway(0.5)).toBe(1);
    expect(roundHalfAway(-0.5)).toBe(-1);
    expect(roundHalfAway(1.4999)).toBe(1);
    expect(roundHalfAway(-1.5001)).toBe(-2);
    expect(roundHalfAway(126.99999999999999)).toBe(127);
    expect(roundHalfAway(3)).toBe(3);
    expect(roundHalfAway(-3)).toBe(-3);
  });

  it("never returns −0", () => {
    expect(Object.is(roundHalfAway(-0.4), 0)).toBe(true);
    expect(Object.is(roundHalfAway(-0), 0)).toBe(true);
    expect(Object.is(roundHalfAway(0), 0)).toBe(true);
    expect(Object.is(roundHalfAway(-1e-300), 0)).toBe(true);
  });

  it("matches the exact rule on dyadic values k + f/2^20", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 30 }), fc.integer({ min: 0, max: 2 ** 20 - 1 }), fc.boolean(), (k, f, neg) => {
      const mag = k + f / 2 ** 20; // exact in a double
      const want = 2 * f >= 2 ** 20 ? k + 1 : k;
      expect(roundHalfAway(neg ? -mag : mag)).toBe(neg && want !== 0 ? -want : want);
    }), { numRuns: 1000 });
  });

  // Regression: floor(|x| + 0.5) rounded in the addition (0.5 − 2^−54 + 0.5 is 1 in a double), so the
  // largest double below 0.5 became 1 and odd integers ≥ 2^52 moved to the next even one.
  it("rounds the largest double below 0.5 to 0 and keeps integers ≥ 2^52", () => {
    expect(roundHalfAway(0.49999999999999994)).toBe(0);
    expect(roundHalfAway(-0.49999999999999994)).toBe(0);
    expect(roundHalfAway(2 ** 52 + 1)).toBe(2 ** 52 + 1);
    expect(toFixed(0.49999999999999994 / 2 ** 14, 14, 16)).toBe(0);
  });
});

describe("fixed: toFixed / fromFixed (the float boundary)", () => {
  it("hand-computed cases, ties away from zero", () => {
    expect(toFixed(0.5, 15, 16)).toBe(16384);
    expect(toFixed(-1, 15, 16)).toBe(-32768); // exactly INT16_MIN, no saturation needed
    expect(toFixed(3 / 2 ** 15, 14, 16)).toBe(2); // 1.5 → 2
    expect(toFixed(-3 / 2 ** 15, 14, 16)).toBe(-2); // −1.5 → −2
    expect(toFixed(2.5, 0, 8)).toBe(3);
    expect(toFixed(-0.25, 28, 32)).toBe(-67108864);
    expect(Object.is(toFixed(-0.4 / 2 ** 14, 14, 16), 0)).toBe(true);
    expect(Object.is(toFixed(-0, 10, 16), 0)).toBe(true);
  });

  it("saturates at the edges of the target width", () => {
    expect(toFixed(1, 15, 16)).toBe(INT16_MAX); // 32768 → 32767
    expect(toFixed(-1.5, 15, 16)).toBe(INT16_MIN);
    expect(toFixed(32767.4, 0, 16)).toBe(32767);
    expect(toFixed(32767.5, 0, 16)).toBe(32767);
    expect(toFixed(-32768.5, 0, 16)).toBe(-32768);
    expect(toFixed(127.5, 0, 8)).toBe(127);
    expect(toFixed(-128.4, 0, 8)).toBe(-128);
    expect(toFixed(1e10, 0, 32)).toBe(INT32_MAX);
    expect(toFixed(-1e10, 0, 32)).toBe(INT32_MIN);
    expect(toFixed(Infinity, 4, 16)).toBe(INT16_MAX);
    expect(toFixed(-Infinity, 4, 16)).toBe(INT16_MIN);
  });

  it("refuses NaN", () => {
    expect(() => toFixed(NaN, 14, 16)).toThrow(RangeError);
    expect(() => toFixed(NaN, 0, 32)).toThrow(/NaN/);
  });

  it("is exact for f32 values: depends only on the value, as a BigInt reference computes it", () => {
    // 0.1 as f32 is 13421773 · 2^−27: ×2^28 is the integer 26843546; ×2^14 is 1638.40002… → 1638.
    expect(toFixed(Math.fround(0.1), 28, 32)).toBe(26843546);
    expect(toFixed(Float32Array.of(0.1)[0], 14, 16)).toBe(1638);
    fc.assert(fc.property(
      fc.float({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 0, max: 40 }), fc.constantFrom(8, 16, 32),
      (x, frac, bits) => {
        const stored = Float32Array.of(x)[0];
        const q = toFixed(stored, frac, bits);
        expect(q).toBe(toFixedBig(stored, frac, bits));
        expect(Object.is(q, -0)).toBe(false);
        // the same value held in a Float64Array converts identically
        expect(toFixed(Float64Array.of(stored)[0], frac, bits)).toBe(q);
      },
    ), { numRuns: 3000 });
  });

  it("fromFixed is q / 2^frac and inverts toFixed to within half a step", () => {
    expect(fromFixed(16384, 14)).toBe(1);
    expect(fromFixed(-3, 1)).toBe(-1.5);
    expect(fromFixed(0, 20)).toBe(0);
    expect(fromFixed(INT32_MIN, 31)).toBe(-1);
    fc.assert(fc.property(fc.double({ min: -1000, max: 1000, noNaN: true }), fc.integer({ min: 0, max: 20 }), (x, frac) => {
      expect(Math.abs(fromFixed(toFixed(x, frac, 32), frac) - x)).toBeLessThanOrEqual(2 ** -(frac + 1));
    }), { numRuns: 1000 });
  });
});

describe("fixed: requantizeMS and the split complex multiply", () => {
  it("requantizeMS(x, m, s) is requantize(x, {m, s})", () => {
    expect(requantizeMS(100, 24576, 15)).toBe(75);
    expect(requantizeMS(-3, 16384, 15)).toBe(-2);
    expect(requantizeMS(3, 16384, 15)).toBe(2);
    expect(requantizeMS(INT32_MAX, 24576, 14)).toBe(INT32_MAX); // × 1.5 saturates
    expect(requantizeMS(INT32_MIN, 24576, 14)).toBe(INT32_MIN);
    expect(requantizeMS(7, 0, 0)).toBe(0); // an all-zero column's multiplier
    fc.assert(fc.property(fc.integer({ min: INT32_MIN, max: INT32_MAX }), fc.double({ min: 1e-9, max: 8000, noNaN: true }), (x, scale) => {
      const m = quantizeMultiplier(scale);
      expect(requantizeMS(x, m.multiplier, m.shift)).toBe(requantize(x, m));
    }), { numRuns: 2000 });
  });

  it("cmulReQ15 / cmulImQ15 are the parts of complexMulQ15, saturation included", () => {
    expect(cmulReQ15(1000, 2000, 16384, 8192)).toBe(0);
    expect(cmulImQ15(1000, 2000, 16384, 8192)).toBe(1250);
    expect(cmulReQ15(3, 0, 16384, 16384)).toBe(2); // 1.5 → 2
    expect(cmulImQ15(-3, 0, 16384, 16384)).toBe(-2); // −1.5 → −2
    expect(cmulReQ15(INT32_MAX, INT32_MAX, 32767, 32767)).toBe(0);
    expect(cmulImQ15(INT32_MAX, INT32_MAX, 32767, 32767)).toBe(INT32_MAX); // ≈ 2 · INT32_MAX
    expect(cmulImQ15(INT32_MIN, INT32_MIN, 32767, 32767)).toBe(INT32_MIN);
    expect(cmulReQ15(INT32_MIN, INT32_MAX, 32768, 32768)).toBe(INT32_MIN); // −(2^32 − 1)
    expect(cmulReQ15(INT32_MAX, INT32_MIN, 32768, 32768)).toBe(INT32_MAX);
    expect(cmulReQ15(INT32_MIN, 0, -32768, 0)).toBe(INT32_MAX); // (−2^31)(−1) = 2^31
    expect(Object.is(cmulReQ15(-1, 0, 1, 0), 0)).toBe(true); // −1/32768 → 0, not −0
    const big = (a: number, b: number, c: number, d: number, re: boolean) => {
      const v = re ? BigInt(a) * BigInt(c) - BigInt(b) * BigInt(d) : BigInt(a) * BigInt(d) + BigInt(b) * BigInt(c);
      const r = roundShiftBig(v, 15);
      return Number(r > BigInt(INT32_MAX) ? BigInt(INT32_MAX) : r < BigInt(INT32_MIN) ? BigInt(INT32_MIN) : r);
    };
    const i32 = fc.integer({ min: INT32_MIN, max: INT32_MAX });
    const q15 = fc.integer({ min: -32768, max: 32768 });
    fc.assert(fc.property(i32, i32, q15, q15, (a, b, c, d) => {
      const [re, im] = complexMulQ15(a, b, c, d);
      expect(cmulReQ15(a, b, c, d)).toBe(re);
      expect(cmulImQ15(a, b, c, d)).toBe(im);
      expect(re).toBe(big(a, b, c, d, true));
      expect(im).toBe(big(a, b, c, d, false));
    }), { numRuns: 2000 });
  });
});

describe("fixed: Φ lookup table (GELU)", () => {
  it("covers [−4, 4) in bins of 1/32, Q14 output, input format as given", () => {
    const l = phiLut(10);
    expect(l.name).toBe("phi");
    expect(l.table.length).toBe(LUT_SIZE);
    expect([l.lo, l.stepLog2, l.inFrac, l.outFrac]).toEqual([-4, 5, 10, 14]);
    expect(lutIndex(l, 0)).toBe(128);
    expect(lutIndex(l, -4 * 1024)).toBe(0);
    expect(lutIndex(l, 4 * 1024 - 1)).toBe(255);
  });

  it("around 0 it is ≈ 0.5 · 2^14 and symmetric: Φ(−x) + Φ(x) = 1", () => {
    const l = phiLut(10);
    // bins either side of 0 are centred at ∓1/64: Φ(1/64) · 2^14 = 8192 + 102.1…
    expect(l.table[128]).toBe(8294);
    expect(l.table[127]).toBe(8090);
    expect(Math.abs((l.table[127] + l.table[128]) / 2 - 8192)).toBeLessThanOrEqual(1);
    expect(Math.abs(lookup(l, 0) - 8192)).toBeLessThanOrEqual(103); // within Φ' · half a bin
    for (let i = 0; i < 128; i++) expect(Math.abs(l.table[i] + l.table[255 - i] - 16384)).toBeLessThanOrEqual(1);
  });

  it("is monotone and ends at ≈ 0 and ≈ 1", () => {
    const l = phiLut(8);
    for (let i = 1; i < LUT_SIZE; i++) expect(l.table[i]).toBeGreaterThanOrEqual(l.table[i - 1]);
    expect(l.table[0]).toBe(1); // Φ(−3.984) · 2^14 = 0.55 → 1
    expect(l.table[255]).toBe(16383); // Φ(3.984) · 2^14 = 16383.45
    expect(lookup(l, -1e9)).toBe(l.table[0]);
    expect(lookup(l, 1e9)).toBe(l.table[255]);
    // the table does not depend on the input format, only its index rule does
    expect(Array.from(phiLut(20).table)).toEqual(Array.from(l.table));
  });

  it("refuses an input format too coarse for the bins", () => {
    expect(() => phiLut(4)).toThrow(RangeError);
    expect(() => phiLut(5)).not.toThrow();
  });
});
