// The TypeScript side of examples/egru-lm's JAX trainer (examples/egru-lm/jax.ts): the schedules it hands to
// train_jax.py are nmc tune's, and the weights it writes and reads back go into nmc's EGRU layer unchanged, by
// name, refusing a missing or a left-over array. (train_jax.py itself needs JAX and is not run by npm test; each
// training run cross-checks its figures against nmc's EGRU layer on the same weights: train.ts crossCheck.)
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { isMaskStep, sparsityAt } from "../../compiler/tune/schedule.js";
import { cosineSteps, loadJaxWeights, maskPlan, saveJaxWeights, writeJaxWork } from "../../examples/egru-lm/jax.js";
import { initBestBackend, registerNmcLayers, type Tf } from "../../runtime/tfjs/index.js";
import { writeNpz } from "../../runtime/io/npy.js";
import { readNpz } from "../../runtime/io/npz.js";

let tf: Tf;
beforeAll(async () => {
  tf = (await initBestBackend()).tf;
});

function tinyLm(seed: number) {
  const { EGRU } = registerNmcLayers(tf);
  return tf.sequential({
    layers: [
      tf.layers.embedding({ name: "embedding", inputDim: 7, outputDim: 3, batchInputShape: [null, null], embeddingsInitializer: tf.initializers.randomNormal({ seed }) }),
      new EGRU({ name: "egru1", units: 4, seed: seed + 1 }) as unknown as import("@tensorflow/tfjs").layers.Layer,
      tf.layers.dense({ name: "decoder", units: 7, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 2 }) }),
    ],
  });
}

const weightsOf = (m: import("@tensorflow/tfjs").LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));

describe("examples/egru-lm JAX trainer, TypeScript side", () => {
  it("hands over nmc tune's pruning schedule: mask steps and sparsities as sparsityAt / isMaskStep give them", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 1, max: 30 }), fc.double({ min: 0, max: 0.99, noNaN: true }), (steps, every, s) => {
      const plan = maskPlan({ sparsity: s, maskEvery: every }, steps);
      const schedule = { initialSparsity: 0, finalSparsity: s, startStep: 0, endStep: Math.floor(0.6 * steps), every };
      const keys = Object.keys(plan).map(Number);
      const want = Array.from({ length: steps }, (_, i) => i).filter((i) => isMaskStep(schedule, i));
      expect(keys).toEqual(want);
      for (const k of keys) expect(plan[k]).toBe(sparsityAt(schedule, k));
      expect(plan[keys[keys.length - 1]!]).toBe(s); // the last mask step reaches the target
    }));
  });

  it("hands over the cosine learning rate of every step", () => {
    const lr = cosineSteps(4e-3, 3e-4, 9);
    expect(lr).toHaveLength(9);
    expect(lr[0]).toBeCloseTo(4e-3, 15);
    expect(lr[8]).toBeCloseTo(3e-4, 15);
    for (let i = 1; i < 9; i++) expect(lr[i]!).toBeLessThan(lr[i - 1]!);
  });

  it("writes the trainer's folder and refuses a vocabulary that does not fit in a byte", () => {
    const dir = mkdtempSync(join(tmpdir(), "nmc-jax-"));
    const streams = { train: Int32Array.of(1, 2, 3), validation: Int32Array.of(4), test: Int32Array.of(5, 6) };
    writeJaxWork(dir, { units: 4 }, 7, streams, { dense: { seed: 1, lr: [1e-3] } });
    expect(Array.from(readFileSync(join(dir, "test.u8")))).toEqual([5, 6]);
    expect(JSON.parse(readFileSync(join(dir, "config.json"), "utf8"))).toEqual({ hp: { units: 4 }, vocabularySize: 7, stages: { dense: { seed: 1, lr: [1e-3] } } });
    expect(() => writeJaxWork(dir, {}, 300, streams, {})).toThrow(/one byte per character/);
  });

  it("saves and loads every weight by layer and name, and refuses missing or left-over arrays", () => {
    const dir = mkdtempSync(join(tmpdir(), "nmc-jax-"));
    const a = tinyLm(1), b = tinyLm(50);
    const file = join(dir, "w.npz");
    saveJaxWeights(a, file);
    expect([...readNpz(file).keys()]).toEqual([
      "embedding/embeddings", "egru1/kernel", "egru1/recurrent_kernel", "egru1/bias", "egru1/recurrent_bias", "egru1/thr", "decoder/kernel", "decoder/bias",
    ]);
    expect(weightsOf(b)).not.toEqual(weightsOf(a));
    loadJaxWeights(tf, b, file);
    expect(weightsOf(b)).toEqual(weightsOf(a));

    // A GRU baseline's file has no thresholds: filled only where the caller says so.
    const c = tinyLm(3);
    const noThr = join(dir, "nothr.npz");
    saveJaxWeights(a, noThr);
    const arrays = [...readNpz(noThr)].filter(([k]) => k !== "egru1/thr");
    writeNpz(noThr, arrays);
    expect(() => loadJaxWeights(tf, c, noThr)).toThrow(/no array 'egru1\/thr'/);
    loadJaxWeights(tf, c, noThr, { "egru1/thr": 0 });
    expect(Array.from((c.layers[1]!.getWeights()[4]!).dataSync())).toEqual([0, 0, 0, 0]);

    const extra = join(dir, "extra.npz");
    writeNpz(extra, [...readNpz(file), ["egru2/kernel", { dtype: "f4", shape: [1], data: Float32Array.of(1) }]]);
    expect(() => loadJaxWeights(tf, c, extra)).toThrow(/no weight for: egru2\/kernel/);
    const wrong = join(dir, "wrong.npz");
    writeNpz(wrong, [...readNpz(file)].map(([k, v]) => (k === "decoder/bias" ? [k, { dtype: "f4", shape: [3], data: new Float32Array(3) }] : [k, v])));
    expect(() => loadJaxWeights(tf, c, wrong)).toThrow(/'decoder\/bias' has shape \[3\]/);
  });
});
