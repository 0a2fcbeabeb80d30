// The committed ssm-events example (examples/ssm-events): the trained DiagonalSSM model, its inputs and
// results.json agree with each other. Nothing is trained here: the committed model is loaded with the nmc
// frontend and with tfjs, run on the committed 300-digit subset, and the accuracies must equal the ones
// train.ts recorded; the event encoder must reproduce the committed inputs from the MNIST split.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontend/index.js";
import { FloatEngine, type FloatRun } from "../../runtime/float/interpreter.js";
import { batchFromShape } from "../../runtime/batch.js";
import { summarize } from "../../runtime/counters.js";
import { readNpy } from "../../runtime/io/npy.js";
import { loadFloatModel, predictFloat } from "../../runtime/tfjs/index.js";
import { loadMnistSplit, type MnistSplit } from "../../examples/common/mnist.js";
import {
  encodeBatch,
  encodeDigit,
  eventDensity,
  eventsCsv,
  listEvents,
  makeEncoder,
  type Encoder,
} from "../../examples/ssm-events/encoder.js";
import { tickMean } from "../../examples/ssm-events/evaluate.js";
import { argmaxRows, countEqual } from "../../runtime/metrics.js";

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "examples", "ssm-events");
const modelPath = path.join(dir, "model.json");

interface Results {
  seed: number;
  encoder: { ticks: number; channels: number; ticks_per_row: number; threshold: number };
  test: { samples: number; accuracy: number };
  subset: {
    samples: number;
    accuracy: number;
    tfjs_accuracy: number;
    agreement: number;
    input_event_density: number;
    activation_sparsity: number;
  };
}

let results: Results;
let x: Float32Array;
let y: Int32Array;
let N: number;
let T: number;
let C: number;
let enc: Encoder;
let nmcRun: FloatRun | undefined;

/** The nmc float interpreter on the committed subset (run once, shared by two tests). */
function runNmc(): FloatRun {
  if (!nmcRun) {
    const { graph } = loadModel(modelPath);
    nmcRun = new FloatEngine(graph).run(batchFromShape(graph, x, [N, T, C]));
  }
  return nmcRun;
}

beforeAll(() => {
  results = JSON.parse(readFileSync(path.join(dir, "results.json"), "utf8")) as Results;
  const xa = readNpy(path.join(dir, "inputs", "x.npy"));
  const ya = readNpy(path.join(dir, "inputs", "y.npy"));
  expect(xa.dtype).toBe("f4");
  expect(ya.dtype).toBe("i4");
  [N, T, C] = xa.shape as [number, number, number];
  x = xa.data as Float32Array;
  y = ya.data as Int32Array;
  enc = makeEncoder({ ticksPerRow: results.encoder.ticks_per_row, threshold: results.encoder.threshold });
});

describe("examples/ssm-events", () => {
  it("results.json describes the committed inputs and clears the bar", () => {
    expect([N, T, C]).toEqual([results.subset.samples, results.encoder.ticks, results.encoder.channels]);
    expect(y.length).toBe(N);
    expect(results.test.samples).toBe(2000);
    expect(results.test.accuracy).toBeGreaterThanOrEqual(0.9);
  });

  it("the encoder is deterministic, sparse, and reproduces the committed inputs", () => {
    const split: MnistSplit = loadMnistSplit(1234);
    const n = 8;
    const a = encodeBatch(enc, split.test.images, 0, n);
    const b = encodeBatch(enc, split.test.images, 0, n);
    expect(b).toEqual(a);
    expect(a).toEqual(x.subarray(0, n * T * C));
    for (let i = 0; i < n; i++) expect(split.test.labels[i]).toBe(y[i]);
    // One digit on its own gives the same block as in a batch.
    expect(encodeDigit(enc, split.test.images, 3 * 784)).toEqual(a.subarray(3 * T * C, 4 * T * C));
    // events.csv is the event list of the first digit.
    const csv = readFileSync(path.join(dir, "inputs", "events.csv"), "utf8");
    expect(csv).toBe(eventsCsv(listEvents(enc, x, 0)));
    // Sparse: the committed density, and well under one input in ten.
    const density = eventDensity(x);
    expect(density).toBeLessThan(0.1);
    expect(density).toBeCloseTo(results.subset.input_event_density, 5);
  });

  it("the nmc float interpreter reproduces the recorded subset accuracy", () => {
    const run = runNmc();
    expect(run.outputShape).toEqual([N, 10]);
    const pred = argmaxRows(run.output, N, 10);
    expect(countEqual(pred, y, N) / N).toBe(results.subset.accuracy);
    const s = summarize(run.counters);
    expect(s.activation_sparsity).toBeCloseTo(results.subset.activation_sparsity, 5);
  });

  it("tfjs reproduces the recorded subset accuracy and agrees with nmc", async () => {
    const { model, tf } = await loadFloatModel(modelPath);
    const scores = tickMean(predictFloat(model, x, [N, T, C], tf), N, T, 10);
    model.dispose();
    const tfjsPred = argmaxRows(scores, N, 10);
    expect(countEqual(tfjsPred, y, N) / N).toBe(results.subset.tfjs_accuracy);
    const nmcPred = argmaxRows(runNmc().output, N, 10);
    expect(countEqual(nmcPred, tfjsPred, N) / N).toBe(results.subset.agreement);
  });
});
