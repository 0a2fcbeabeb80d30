// Event time in integers (issue 19 items 3 and 4): every event-ssm model fixture (test/fixtures/event-ssm, made by
// event-ssm's own code) imported, calibrated on its own inputs and quantized; the golden engine's logits against the
// float engine's (the error is reported); multi-rate execution, EventPooling, the pool / timepool readouts and the
// event-time DiagonalSSM on every integer engine, bit for bit.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { layersModel, writeLayersModel } from "../../compiler/import/layers-model.js";
import { ndarray } from "../../runtime/io/ndarray.js";
import { ensureBuilt, runNmc } from "../support/cli.js";
import { afterAll, describe, expect, test } from "vitest";
import { fuzzParams } from "../support/fuzz.js";
import { compileQuantized } from "../../compiler/pipeline.js";
import type { Graph } from "../../ir/types.js";
import { batchFromShape } from "../../runtime/batch.js";
import { runFloat } from "../../runtime/float/interpreter.js";
import { runGolden } from "../../runtime/golden/interpreter.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
import { MANIFEST, SSM_FIXTURES, oneLayerModel, ssmWeights } from "../support/event-ssm.js";
import { MODEL_FIXTURES, fixture, relErr, writeNpz } from "../support/event-ssm.js";
import { counterDifferences, firstDifference, goldenTrace, hwWithUsable, minimumUsableBytes, simTrace } from "../support/spinnaker2.js";
import { SPINNAKER2 } from "../../targets/spinnaker2/chip.js";
import { mapGraph } from "../../targets/spinnaker2/index.js";

import { eventBatch, eventModel, quantizedFixture, specArb, quantizeEventModel } from "../support/event-time.js";

const report: string[] = [];
afterAll(() => console.log(`event-ssm fixtures, int8 golden vs float:\n  ${report.join("\n  ")}`));

describe("event-ssm model fixtures, quantized", () => {
  for (const name of MODEL_FIXTURES) {
    test(`${name}: golden logits near the float logits`, () => {
      const { q, float, batch } = quantizedFixture(name);
      const gold = runGolden(q, batch);
      const fl = runFloat(float, batch);
      expect(gold.outputShape).toEqual(fl.outputShape);
      const e = relErr(gold.output, fl.output);
      let agree = 0;
      const [B, K] = fl.outputShape;
      for (let b = 0; b < B; b++) {
        let ag = 0, af = 0;
        for (let k = 1; k < K; k++) {
          if (gold.output[b * K + k] > gold.output[b * K + ag]) ag = k;
          if (fl.output[b * K + k] > fl.output[b * K + af]) af = k;
        }
        if (ag === af) agree++;
      }
      let maxAbs = 0;
      for (let i = 0; i < fl.output.length; i++) maxAbs = Math.max(maxAbs, Math.abs(fl.output[i] - gold.output[i]));
      report.push(`${name}: max |Δ|/(1+|float|) ${e.toExponential(2)}, max |Δ| ${maxAbs.toExponential(2)}, argmax agreement ${agree}/${B}`);
      expect(e).toBeLessThan(0.25);
    });
  }
});

/** The quantized fixture ending at its readout (the simulator routes nothing out of a Readout yet): the decoder dropped. */
export function endAtReadout(q: Graph): Graph {
  const keep = q.populations.filter((p) => !q.projections.some((j) => j.target === p.name && q.populations.find((s) => s.name === j.source)?.kind === "Readout"));
  const names = new Set(keep.map((p) => p.name));
  const readout = keep.find((p) => p.kind === "Readout")!;
  return { ...q, populations: keep, projections: q.projections.filter((j) => names.has(j.source) && names.has(j.target)), outputs: [readout.name] };
}

describe("event-ssm model fixtures: simulator = golden, every population every step", () => {
  for (const name of MODEL_FIXTURES) {
    test(`${name} (ending at its readout)`, () => {
      const { q, batch } = quantizedFixture(name);
      const g = endAtReadout(q);
      const m = mapGraph(g, SPINNAKER2);
      const gold = goldenTrace(g, batch), sim = simTrace(g, m, batch);
      expect(firstDifference(g, batch, gold, sim)).toBeNull();
      expect(counterDifferences(g, gold.counters, sim.run)).toEqual([]);
    });
  }
});

// ---- random event-time models: golden = simulator, bit for bit ----

describe("random event-time models: simulator = golden, every population every step", () => {
  test("strides, pooling modes, discretizations, readouts, Δt of 0 and long gaps, lengths; one PE and many per population", () => {
    let runs = 0, nonZero = 0;
    fc.assert(
      fc.property(specArb, fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 14 }), (spec, seed, B, T) => {
        const g = eventModel(spec);
        const q = quantizeEventModel(g, seed);
        const batch = eventBatch(q, seed, B, T);
        const gold = goldenTrace(q, batch);
        // Default hardware (one PE per population), then an SRAM so small that populations are cut into slices.
        for (const hw of [SPINNAKER2, hwWithUsable(minimumUsableBytes(q), "small")]) {
          const sim = simTrace(q, mapGraph(q, hw), batch);
          expect(firstDifference(q, batch, gold, sim)).toBeNull();
          expect(counterDifferences(q, gold.counters, sim.run)).toEqual([]);
        }
        if (gold.outputQ.some((v) => v !== 0)) nonZero++;
        runs++;
      }),
      fuzzParams(300),
    );
    report.push(`random event-time models: ${runs} runs, ${nonZero} with a non-zero output`);
    // The outputs are not trivially zero. About 58 % of draws give a non-zero output (measured over seeds 1-3: 49, 44
    // and 48 of 80; zero-length sequences and outputs that quantize to 0 make the rest), so a quarter of 300 runs is
    // about 11 standard deviations below the mean: this fails only when the models go silent, not by chance.
    expect(nonZero).toBeGreaterThan(runs / 4);
  });
});

describe("event-ssm S5 layer fixtures, quantized: simulator = golden; golden vs event-ssm's outputs", () => {
  for (const name of SSM_FIXTURES) {
    test(name, () => {
      const c = MANIFEST.files[`${name}.npz`].config;
      const { weights, P, Hin, Hout } = ssmWeights(name);
      const stride = c.stride as number;
      const g = oneLayerModel(`q-${name}`, Hin, {
        class_name: "DiagonalSSM",
        config: {
          state_size: P, parameterization: "s5", discretization: c.discretization, conj_sym: c.conj_sym, clip_eigs: c.clip_eigs, step_rescale: c.step_rescale,
          ...(stride > 1 ? { stride, pool: c.pooling_mode } : {}), ...(Hout !== Hin ? { units: Hout } : {}),
        },
      }, weights);
      const f = fixture(name);
      const u = f.get("inputs/u")!;
      const ts = toFloat64(f.get("inputs/integration_timesteps")!);
      const shape = [1, ...u.shape];
      const batch = batchFromShape(g, toFloat64(u), shape, name, { timesteps: ts });
      let q: Graph;
      try {
        q = compileQuantized(g, { calibration: { data: toFloat64(u), shape, label: name, time: { timesteps: ts } } }).quantized;
      } catch (e) {
        // A growing mode (Re Λ > 0, possible without clip_eigs) has no integer per-event decay: refused by name.
        expect((e as Error).message).toMatch(/only decaying modes/);
        report.push(`${name}: refused (a mode with Re(Λ) > 0)`);
        return;
      }
      const gold = goldenTrace(q, batch), sim = simTrace(q, mapGraph(q, SPINNAKER2), batch);
      expect(firstDifference(q, batch, gold, sim)).toBeNull();
      const out = runGolden(q, batch).output;
      const e = relErr(out, toFloat64(f.get("outputs/y")!));
      report.push(`${name}: golden vs event-ssm max |Δ|/(1+|y|) ${e.toExponential(2)}`);
      expect(e).toBeLessThan(0.05);
    });
  }
});

describe("nmc compile --target spinnaker2 + nmc verify --against golden on an event-time model", () => {
  test("the strided S5 layer fixture (stride 3, timepool): bit-exact", async () => {
    await ensureBuilt();
    const name = "ssm_async_stride3_timepool";
    const c = MANIFEST.files[`${name}.npz`].config;
    const { weights, P, Hin } = ssmWeights(name);
    const dir = mkdtempSync(join(tmpdir(), "nmc-event-time-cli-"));
    try {
      const m = layersModel(name, [{
        class_name: "DiagonalSSM",
        config: { name: "layer", batch_input_shape: [null, null, Hin], state_size: P, parameterization: "s5", discretization: c.discretization, conj_sym: c.conj_sym, clip_eigs: c.clip_eigs, step_rescale: c.step_rescale, stride: c.stride, pool: c.pooling_mode },
      }], weights, { userDefinedMetadata: { nmc: { time: "events" } } });
      const model = writeLayersModel(join(dir, "model"), m).model;
      const f = fixture(name);
      const u = f.get("inputs/u")!, ts = f.get("inputs/integration_timesteps")!;
      const input = writeNpz(join(dir, "in.npz"), [["x", ndarray("f4", [1, ...u.shape], Float32Array.from(toFloat64(u)))], ["timesteps", ndarray("f4", [1, ts.shape[0]], Float32Array.from(toFloat64(ts)))]]);
      const bundle = join(dir, "m.nmb");
      const comp = runNmc(["compile", model, "--target", "spinnaker2", "--calibrate", input, "-o", bundle, "--quiet"]);
      expect(comp.code, comp.stderr).toBe(0);
      const v = runNmc(["verify", bundle, "--input", input, "--against", "golden"]);
      expect(v.code, v.stdout + v.stderr).toBe(0);
      expect(v.stdout).toMatch(/bit-exact|PASS/i);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
