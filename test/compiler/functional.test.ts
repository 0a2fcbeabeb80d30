// Functional models as researchers build them, made by TensorFlow.js's own code (tf.model over tfjs's merge
// layers Add, Average, Multiply, Concatenate, its Dense, Activation, BatchNormalization and LayerNormalization, and nmc's EGRU and
// DiagonalSSM layer classes; tfjs has no Subtract), saved by tfjs's serializer, loaded by nmc's model.json frontend: the float
// interpreter must give tfjs's outputs. fast-check draws the graph: branches, a layer's output read by
// several layers, residual skips, gates, merges of 2 or 3 inputs, concatenations, BatchNormalization folded into
// the Dense before it or lowered as its own population (both are counted: each must be drawn).
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontend/index.js";
import type { Graph } from "../../ir/types.js";
import { compileQuantized, syntheticCalibration } from "../../compiler/pipeline.js";
import { FloatEngine } from "../../runtime/float/interpreter.js";
import { runCuda } from "../../targets/cuda/index.js";
import { mapGraph } from "../../targets/spinnaker2/index.js";
import { firstDifference, goldenTrace, simTrace } from "../support/spinnaker2.js";
import { initBestBackend, type NmcLayerClasses, predictFloat, registerNmcLayers, saveModelToDir, type Tf } from "../../runtime/tfjs/index.js";
import { batchNormCase, buildFunctional, layerNormCase, functionalCaseArb, functionalInputs } from "../support/functional-models.js";
import { fuzzParams } from "../support/fuzz.js";

let tf: Tf;
let L: NmcLayerClasses;
let tmp: string;

beforeAll(async () => {
  tf = (await initBestBackend()).tf;
  L = registerNmcLayers(tf);
  tmp = mkdtempSync(path.join(os.tmpdir(), "nmc-functional-"));
});

/** A BN layer nmc folded leaves no population of its name; one it could not fold is a population. */
function countBatchNorms(bn: { folded: number; own: number }, graph: Graph, names: string[]): void {
  for (const n of names) graph.populations.some((p) => p.name === n) ? bn.own++ : bn.folded++;
}

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("functional tfjs models (graphs with merges) load and run as tfjs runs them", () => {
  it("random graphs: nmc's float interpreter equals tfjs's predict (float32) to 1e-4 of the output scale", async () => {
    let dir = 0, withMerges = 0, layerNorms = 0;
    const bn = { folded: 0, own: 0 };
    await fc.assert(fc.asyncProperty(functionalCaseArb, async (c) => {
      const { model, merges, batchNorms } = buildFunctional(tf, L, c);
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
      layerNorms += graph.populations.filter((p) => p.kind === "LayerNorm").length;
      countBatchNorms(bn, graph, batchNorms);
      expect(err / scale, `max |nmc − tfjs| ${err} at output scale ${scale}`).toBeLessThan(1e-4);
    }), { ...fuzzParams(100), examples: [[batchNormCase], [layerNormCase]] });
    expect(withMerges).toBeGreaterThan(20);
    expect(layerNorms, "LayerNorm populations").toBeGreaterThan(5);
    console.log(`float property: BatchNormalization folded ${bn.folded}, own population ${bn.own}`);
    expect(bn.folded, "BatchNormalization layers folded into a Dense").toBeGreaterThan(5);
    expect(bn.own, "BatchNormalization layers lowered as their own population").toBeGreaterThan(5);
  }, 240_000);

  it("quantized: the SpiNNaker 2 simulator and the CUDA program equal the golden engine bit for bit (every population, every tick)", async () => {
    let dir = 0, layerNorms = 0;
    const bn = { folded: 0, own: 0 };
    await fc.assert(fc.asyncProperty(functionalCaseArb, async (c) => {
      const { model, batchNorms } = buildFunctional(tf, L, c);
      const d = path.join(tmp, `q${dir++}`);
      await saveModelToDir(model, d);
      const { graph } = loadModel(path.join(d, "model.json"));
      countBatchNorms(bn, graph, batchNorms);
      layerNorms += graph.populations.filter((p) => p.kind === "LayerNorm").length;
      const q = compileQuantized(graph, { calibration: syntheticCalibration(graph, 8, c.ticks, c.seed) }).quantized;
      const x = functionalInputs(c, 3);
      const batch = { data: Float64Array.from(x), batch: 3, ticks: c.ticks, channels: c.channels };
      const golden = goldenTrace(q, batch);
      expect(firstDifference(q, batch, golden, simTrace(q, mapGraph(q), batch))).toBeNull();
      const cuda = runCuda(q, batch, { precision: "int", mode: "emulation" });
      expect(Array.from(cuda.outputQ!)).toEqual(Array.from(golden.outputQ));
    }), { ...fuzzParams(8), examples: [[batchNormCase], [layerNormCase]] });
    // batchNormCase has both kinds; the drawn cases add some (logged).
    expect(bn.folded).toBeGreaterThan(0);
    expect(bn.own).toBeGreaterThan(0);
    expect(layerNorms, "LayerNorm populations (layerNormCase has three)").toBeGreaterThanOrEqual(3);
    console.log(`quantized property: BatchNormalization folded ${bn.folded}, own population ${bn.own}`);
  }, 600_000);
});
