// Functional models as researchers build them, made by TensorFlow.js's own code (tf.model over tfjs's merge
// layers Add, Average, Multiply, Concatenate, its Dense and Activation, and nmc's EGRU and
// DiagonalSSM layer classes; tfjs has no Subtract), saved by tfjs's serializer, loaded by nmc's model.json frontend: the float
// interpreter must give tfjs's outputs. fast-check draws the graph: branches, a layer's output read by
// several layers, residual skips, gates, merges of 2 or 3 inputs, concatenations.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontend/index.js";
import { compileQuantized, syntheticCalibration } from "../../compiler/pipeline.js";
import { FloatEngine } from "../../runtime/float/interpreter.js";
import { runCuda } from "../../targets/cuda/index.js";
import { mapGraph } from "../../targets/spinnaker2/index.js";
import { firstDifference, goldenTrace, simTrace } from "../support/spinnaker2.js";
import { initBestBackend, type NmcLayerClasses, predictFloat, registerNmcLayers, saveModelToDir, type Tf } from "../../runtime/tfjs/index.js";
import { buildFunctional, functionalCaseArb, functionalInputs } from "../support/functional-models.js";
import { fuzzParams } from "../support/fuzz.js";

let tf: Tf;
let L: NmcLayerClasses;
let tmp: string;

beforeAll(async () => {
  tf = (await initBestBackend()).tf;
  L = registerNmcLayers(tf);
  tmp = mkdtempSync(path.join(os.tmpdir(), "nmc-functional-"));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("functional tfjs models (graphs with merges) load and run as tfjs runs them", () => {
  it("random graphs: nmc's float interpreter equals tfjs's predict (float32) to 1e-4 of the output scale", async () => {
    let dir = 0, withMerges = 0;
    await fc.assert(fc.asyncProperty(functionalCaseArb, async (c) => {
      const { model, merges } = buildFunctional(tf, L, c);
      const d = path.join(tmp, `m${dir++}`);
      await saveModelToDir(model, d);
      const { graph, warnings } = loadModel(path.join(d, "model.json"));
      expect(warnings).toEqual([]);
      const B = 2;
      const x = functionalInputs(c, B);
      const want = predictFloat(model, x, [B, c.ticks, c.channels], tf);
      const got = new FloatEngine(graph).run({ data: Float64Array.from(x), batch: B, ticks: c.ticks, channels: c.channels }).output;
      expect(got.length).toBe(want.length);
      let scale = 1e-6, err = 0;
      for (let i = 0; i < want.length; i++) {
        scale = Math.max(scale, Math.abs(want[i]));
        err = Math.max(err, Math.abs(got[i] - want[i]));
      }
      if (merges > 0) withMerges++;
      expect(err / scale, `max |nmc − tfjs| ${err} at output scale ${scale}`).toBeLessThan(1e-4);
    }), fuzzParams(100));
    expect(withMerges).toBeGreaterThan(20);
  }, 240_000);

  it("quantized: the SpiNNaker 2 simulator and the CUDA program equal the golden engine bit for bit (every population, every tick)", async () => {
    let dir = 0;
    await fc.assert(fc.asyncProperty(functionalCaseArb, async (c) => {
      const { model } = buildFunctional(tf, L, c);
      const d = path.join(tmp, `q${dir++}`);
      await saveModelToDir(model, d);
      const { graph } = loadModel(path.join(d, "model.json"));
      const q = compileQuantized(graph, { calibration: syntheticCalibration(graph, 8, c.ticks, c.seed) }).quantized;
      const x = functionalInputs(c, 3);
      const batch = { data: Float64Array.from(x), batch: 3, ticks: c.ticks, channels: c.channels };
      const golden = goldenTrace(q, batch);
      expect(firstDifference(q, batch, golden, simTrace(q, mapGraph(q), batch))).toBeNull();
      const cuda = runCuda(q, batch, { precision: "int", mode: "emulation" });
      expect(Array.from(cuda.outputQ!)).toEqual(Array.from(golden.outputQ));
    }), fuzzParams(8));
  }, 600_000);
});
