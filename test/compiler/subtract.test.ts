// Keras's Subtract merge (a − b of exactly two inputs). tfjs has no Subtract layer, so tfjs cannot make or run
// such a model; a model.json converted from Keras can hold one. The check uses tfjs's own code all the same:
// a − Dense_lin(x; W, c) equals a + Dense_lin(x; −W, −c) exactly, so a tfjs model with Add whose second
// branch's weights are negated gives the outputs the Subtract model must give. The model.json under test is
// the Add model saved with the original weights and the merge's class renamed to Subtract.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type * as tfjs from "@tensorflow/tfjs";
import { loadModel } from "../../compiler/frontend/index.js";
import { compileQuantized, syntheticCalibration } from "../../compiler/pipeline.js";
import { NmcError } from "../../ir/errors.js";
import { FloatEngine } from "../../runtime/float/interpreter.js";
import { initBestBackend, predictFloat, saveModelToDir, type Tf } from "../../runtime/tfjs/index.js";
import { runCuda } from "../../targets/cuda/index.js";
import { mapGraph } from "../../targets/spinnaker2/index.js";
import { firstDifference, goldenTrace, simTrace } from "../support/spinnaker2.js";
import { fuzzParams } from "../support/fuzz.js";

let tf: Tf;
let tmp: string;
beforeAll(async () => {
  tf = (await initBestBackend()).tf;
  tmp = mkdtempSync(path.join(os.tmpdir(), "nmc-subtract-"));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

interface Case { ticks: number; channels: number; width: number; seed: number; act: "relu" | "tanh" | "linear" }
const caseArb = fc.record({
  ticks: fc.integer({ min: 1, max: 6 }),
  channels: fc.integer({ min: 1, max: 5 }),
  width: fc.integer({ min: 1, max: 8 }),
  seed: fc.nat(1_000_000),
  act: fc.constantFrom("relu" as const, "tanh" as const, "linear" as const),
});

/** x → Dense a (act), Dense b (linear) → Add(a, b) → Dense out; returns the model and the b layer. */
function build(c: Case): { model: tfjs.LayersModel; b: tfjs.layers.Layer } {
  const init = (k: number) => tf.initializers.randomUniform({ minval: -0.8, maxval: 0.8, seed: c.seed + k });
  const x = tf.input({ shape: [c.ticks, c.channels], name: "x" });
  const a = tf.layers.dense({ units: c.width, activation: c.act, name: "a", kernelInitializer: init(1), biasInitializer: init(2) }).apply(x) as tfjs.SymbolicTensor;
  const bLayer = tf.layers.dense({ units: c.width, name: "b", kernelInitializer: init(3), biasInitializer: init(4) });
  const b = bLayer.apply(x) as tfjs.SymbolicTensor;
  const m = tf.layers.add({ name: "diff" }).apply([a, b]) as tfjs.SymbolicTensor;
  const y = tf.layers.dense({ units: 3, name: "out", kernelInitializer: init(5), biasInitializer: init(6) }).apply(m) as tfjs.SymbolicTensor;
  return { model: tf.model({ inputs: x, outputs: y }), b: bLayer };
}

function inputs(c: Case, batch: number): Float32Array {
  let s = c.seed + 17;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  return Float32Array.from({ length: batch * c.ticks * c.channels }, rnd);
}

/** Saves the model, renames the Add merge to Subtract; returns the model.json path. */
async function saveAsSubtract(model: tfjs.LayersModel, dir: string): Promise<string> {
  await saveModelToDir(model, dir);
  const file = path.join(dir, "model.json");
  const json = JSON.parse(readFileSync(file, "utf8")) as { modelTopology: { config: { layers: { class_name: string; name: string }[] } } };
  const merge = json.modelTopology.config.layers.find((l) => l.name === "diff")!;
  expect(merge.class_name).toBe("Add");
  merge.class_name = "Subtract";
  writeFileSync(file, JSON.stringify(json));
  return file;
}

describe("Subtract merge (Keras a − b)", () => {
  it("float: equals tfjs's Add with the subtrahend's weights negated; quantized: simulator = CUDA = golden", async () => {
    let n = 0;
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      const { model, b } = build(c);
      const file = await saveAsSubtract(model, path.join(tmp, `s${n++}`));
      const { graph, warnings } = loadModel(file);
      expect(warnings).toEqual([]);
      b.setWeights(b.getWeights().map((w) => tf.neg(w)));
      const B = 2;
      const x = inputs(c, B);
      const want = predictFloat(model, x, [B, c.ticks, c.channels], tf);
      const got = new FloatEngine(graph).run({ data: Float64Array.from(x), batch: B, ticks: c.ticks, channels: c.channels }).output;
      expect(got.length).toBe(want.length);
      let scale = 1e-6, err = 0;
      for (let i = 0; i < want.length; i++) {
        scale = Math.max(scale, Math.abs(want[i]));
        err = Math.max(err, Math.abs(got[i] - want[i]));
      }
      expect(err / scale).toBeLessThan(1e-4);

      const q = compileQuantized(graph, { calibration: syntheticCalibration(graph, 8, c.ticks, c.seed) }).quantized;
      const batch = { data: Float64Array.from(inputs(c, 3)), batch: 3, ticks: c.ticks, channels: c.channels };
      const golden = goldenTrace(q, batch);
      expect(firstDifference(q, batch, golden, simTrace(q, mapGraph(q), batch))).toBeNull();
      const cuda = runCuda(q, batch, { precision: "int", mode: "emulation" });
      expect(Array.from(cuda.outputQ!)).toEqual(Array.from(golden.outputQ));
    }), fuzzParams(6));
  }, 300_000);

  it("a Subtract of three inputs is refused, naming the layer and its inbound nodes", async () => {
    const x = tf.input({ shape: [2, 3], name: "x" });
    const d = (k: number) => tf.layers.dense({ units: 4, name: `d${k}` }).apply(x) as tfjs.SymbolicTensor;
    const m = tf.layers.add({ name: "diff" }).apply([d(1), d(2), d(3)]) as tfjs.SymbolicTensor;
    const file = await saveAsSubtract(tf.model({ inputs: x, outputs: m }), path.join(tmp, "three"));
    let err: unknown;
    try {
      loadModel(file);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NmcError);
    expect(String((err as Error).message)).toMatch(/Subtract diff takes exactly two inputs/);
    expect((err as NmcError).path).toMatch(/inbound_nodes$/);
    expect((err as NmcError).found).toBe("3");
  });
});
