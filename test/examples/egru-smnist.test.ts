// The committed EGRU sequential-MNIST example (examples/egru-smnist) still is what its results.json says:
// the nmc float interpreter and TensorFlow.js, run on the committed 300-digit subset, reproduce the recorded
// accuracies and the EGRU activation sparsity. A retrained model without a refreshed results.json (or the
// reverse) fails here. Nothing is trained.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontend/index.js";
import { summarize } from "../../runtime/counters.js";
import { FloatEngine } from "../../runtime/float/interpreter.js";
import { batchFromShape } from "../../runtime/batch.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
import { readNpy } from "../../runtime/io/npy.js";
import { argmaxRows } from "../../runtime/metrics.js";
import type { NdArray } from "../../runtime/io/ndarray.js";
import { loadFloatModel, predictFloat } from "../../runtime/tfjs/index.js";

const DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples", "egru-smnist");
const MODEL = join(DIR, "model.json");

interface Results {
  test: { samples: number; accuracy: number; activity_sparsity: number };
  subset: {
    inputs: string;
    labels: string;
    samples: number;
    accuracy: number;
    activation_sparsity: { egru: number };
    tfjs_accuracy: number;
    tfjs_nmc_agreement: number;
  };
}

let results: Results;
let x: NdArray;
let labels: Float64Array;

beforeAll(() => {
  results = JSON.parse(readFileSync(join(DIR, "results.json"), "utf8")) as Results;
  x = readNpy(join(DIR, results.subset.inputs));
  labels = toFloat64(readNpy(join(DIR, results.subset.labels)));
});

describe("examples/egru-smnist", () => {
  it("has the committed subset and meets the acceptance bars on the test split", () => {
    expect(x.dtype).toBe("f4");
    expect(x.shape).toEqual([results.subset.samples, 28, 28]);
    expect(labels.length).toBe(results.subset.samples);
    expect(results.test.samples).toBe(2000);
    expect(results.test.accuracy).toBeGreaterThanOrEqual(0.94);
    expect(results.test.activity_sparsity).toBeGreaterThanOrEqual(0.7);
  });

  let nmcPred: number[] = [];

  it("nmc float interpreter reproduces the recorded subset accuracy and EGRU activation sparsity", () => {
    const { graph } = loadModel(MODEL);
    const run = new FloatEngine(graph).run(batchFromShape(graph, toFloat64(x), x.shape));
    const [B, K] = run.outputShape as [number, number];
    expect(run.outputShape).toEqual([results.subset.samples, 10]);
    nmcPred = Array.from(argmaxRows(run.output, B, K));
    const accuracy = nmcPred.filter((p, b) => p === labels[b]).length / B;
    expect(accuracy).toBe(results.subset.accuracy);
    const sparsity = summarize(run.counters).activation_sparsity_per_population["egru"];
    expect(sparsity).toBeDefined();
    expect(Math.abs(sparsity! - results.subset.activation_sparsity.egru)).toBeLessThanOrEqual(1e-12);
  });

  it("TensorFlow.js reproduces the recorded subset accuracy and agreement with nmc", async () => {
    const { model, tf } = await loadFloatModel(MODEL);
    const [B, T] = x.shape as [number, number, number];
    const perTick = predictFloat(model, x.data as Float32Array, x.shape, tf); // [B, T, 10]
    model.dispose();
    const K = perTick.length / (B * T);
    const scores = new Float64Array(B * K);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) scores[b * K + k] += perTick[(b * T + t) * K + k]!;
    }
    const pred = Array.from(argmaxRows(scores, B, K));
    expect(pred.filter((p, b) => p === labels[b]).length / B).toBe(results.subset.tfjs_accuracy);
    expect(nmcPred.length).toBe(B);
    expect(pred.filter((p, b) => p === nmcPred[b]).length / B).toBe(results.subset.tfjs_nmc_agreement);
  });
});
