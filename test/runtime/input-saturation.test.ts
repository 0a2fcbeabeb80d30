// inputSaturation counts exactly the input values that toFixed saturates when the golden engine (and every
// target, through quantizeInputs) converts the inputs to the input population's format.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Graph } from "../../ir/types.js";
import { roundHalfAway, toFixed } from "../../runtime/fixed/index.js";
import { inputSaturation, quantizeInputs } from "../../runtime/golden/interpreter.js";
import { fuzzParams } from "../support/fuzz.js";

/** The smallest graph inputSaturation reads: a quantized Input population with `frac` fractional bits. */
function inputGraph(frac: number, encoding: "values" | "tokens" = "values"): Graph {
  return {
    name: "g", inputs: ["in"], outputs: ["in"], meta: {}, projections: [],
    quant: { weightBits: 8, stateBits: 16, calibration: "test", rangeMode: "max" },
    populations: [{
      name: "in", kind: "Input", encoding, size: 1, emission: "dense", ports: [], tensors: {},
      loc: { file: "", layer: "in", className: "InputLayer" },
      fixed: { outFrac: frac, accFrac: frac, stateFrac: 0, stateBits: 16, readFrac: 0 },
    }],
  };
}

describe("inputSaturation", () => {
  it("counts exactly the values toFixed saturates; reports the largest |x| and the format's limit", () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 20 }),
      fc.array(fc.oneof(fc.double({ min: -1e5, max: 1e5, noNaN: true }), fc.integer({ min: -40000, max: 40000 }).map((k) => k / 4)), { minLength: 1, maxLength: 60 }),
      (frac, xs) => {
        const s = inputSaturation(inputGraph(frac), { data: Float64Array.from(xs), batch: 1, ticks: xs.length, channels: 1 })!;
        const expected = xs.filter((x) => toFixed(x, frac, 16) !== roundHalfAway(x * 2 ** frac)).length;
        expect(s.saturated).toBe(expected);
        expect(s.values).toBe(xs.length);
        expect(s.maxAbs).toBe(Math.max(...xs.map(Math.abs)));
        expect(s.limit).toBe(32767 / 2 ** frac);
      },
    ), fuzzParams(500));
  });

  it("quantizeInputs gives toFixed(x, out_frac, 16) for every value (its batch loop is toFixed written out)", () => {
    const edge = fc.constantFrom(0, -0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994, Infinity, -Infinity, 32767.5, -32768.5, 1e300, -1e300, 5e-324);
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 30 }),
      fc.array(fc.oneof(edge, fc.double({ noNaN: true }), fc.integer({ min: -40000, max: 40000 }).map((k) => k / 4)), { minLength: 1, maxLength: 60 }),
      (frac, xs) => {
        const q = quantizeInputs(inputGraph(frac), { data: Float64Array.from(xs), batch: 1, ticks: xs.length, channels: 1 });
        expect(Array.from(q)).toEqual(xs.map((x) => toFixed(x, frac, 16) | 0));
      },
    ), fuzzParams(500));
    expect(() => quantizeInputs(inputGraph(4), { data: [1, NaN], batch: 1, ticks: 2, channels: 1 })).toThrow(/NaN/);
  });

  it("has nothing to say about token inputs or float graphs", () => {
    expect(inputSaturation(inputGraph(14, "tokens"), { data: [3], batch: 1, ticks: 1, channels: 1 })).toBeNull();
  });
});
