// The bench's whole-tick C baseline (bench/c/tick.cpp via bench/c-tick.ts) must compute what the golden engine
// computes, or its timing says nothing about nmc: on random quantized chains of the kinds it implements (EGRU,
// Dense linear/relu, readouts; skip and feedback edges; 8- and 16-bit weights, pruned or not) its output integers
// equal golden's (cTickBaseline compares them and returns why not), and models it does not implement are refused
// by name rather than run wrongly. g++ is on every machine nmc builds on (the CUDA host emulation needs it too).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cTickBaseline } from "../../bench/c-tick.js";
import { buildModel, makeBatch, modelArb, quantOptsArb, quantizeFor } from "../support/quant-models.js";
import { fuzzParams } from "../support/fuzz.js";

const chain = modelArb({ kinds: ["egru", "dense"], encodings: ["values"], norm: false, maxSize: 12 })
  .map((s) => ({ ...s, layers: s.layers.map((l) => ({ ...l, gate: "none" as const, act: l.act === "relu" ? "relu" as const : "linear" as const })) }));

describe("whole-tick C baseline (bench/c/tick.cpp)", () => {
  it("gives the golden engine's output integers on random EGRU / Dense / Readout chains", () => {
    let ran = 0;
    fc.assert(fc.property(chain, quantOptsArb(), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 1e9 }), (spec, quant, B, T, seed) => {
      const g = buildModel(spec);
      const q = quantizeFor(g, makeBatch(g, spec.seed ^ 0x5bd1e995, 4, 6, 1), quant);
      const r = cTickBaseline(q, makeBatch(q, seed, B, T, 1), () => {});
      if (typeof r === "string") expect(r).toMatch(/^tick\.cpp does not implement this model: /);
      else ran++;
    }), fuzzParams(25));
    console.log(`whole-tick C: ${ran} models run`);
    expect(ran).toBeGreaterThan(15);
  }, 120_000);

  it("refuses a model with a kind it does not implement, by name", () => {
    const [spec] = fc.sample(modelArb({ kinds: ["ssm"], encodings: ["values"], norm: false }), { seed: 7, numRuns: 1 });
    const g = buildModel(spec);
    const q = quantizeFor(g, makeBatch(g, 3, 2, 4, 1), {});
    expect(cTickBaseline(q, makeBatch(q, 4, 1, 3, 1), () => {})).toMatch(/does not implement this model: population \S+ is a DiagonalSSM/);
  });
});
