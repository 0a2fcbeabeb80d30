// The committed ssm-events example (examples/ssm-events): the trained DiagonalSSM model of gated residual
// blocks (event-ssm's SequenceLayer: LayerNorm, SSM, GELU, σ-gated Dense, Multiply, residual Add), its inputs
// and results.json agree with each other. Nothing is trained here: the committed model is loaded with the nmc
// frontend and with tfjs, run on the committed 300-digit subset, and the accuracies must equal the ones
// train.ts recorded, for the float model and for the int8 golden engine; the event encoder must reproduce
// the committed inputs (test digits and calibration digits) from the MNIST split.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontend/index.js";
import { compileQuantized } from "../../compiler/pipeline.js";
import { GoldenEngine } from "../../runtime/golden/interpreter.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
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
  block: { blocks: number; width: number; state_size: number };
  test: { samples: number; accuracy: number };
  subset: {
    samples: number;
    accuracy: number;
    tfjs_accuracy: number;
    agreement: number;
    input_event_density: number;
    activation_sparsity: number;
  };
  quantized: {
    subset: { samples: number; float_accuracy: number; golden_accuracy: number; argmax_agreement: number };
    test: { samples: number; float_accuracy: number; golden_accuracy: number };
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
    // The bar the gated-residual model had to clear: the 97.30 % of the plain-chain model it replaced.
    expect(results.test.accuracy).toBeGreaterThanOrEqual(0.973);
    // int8 golden within 0.5 points of float, on the subset and on the whole test split.
    expect(results.quantized.subset.samples).toBe(N);
    expect(results.quantized.subset.float_accuracy).toBe(results.subset.accuracy);
    expect(Math.abs(results.quantized.subset.float_accuracy - results.quantized.subset.golden_accuracy)).toBeLessThanOrEqual(0.005);
    expect(results.quantized.test.samples).toBe(2000);
    expect(Math.abs(results.quantized.test.float_accuracy - results.quantized.test.golden_accuracy)).toBeLessThanOrEqual(0.005);
  });

  it("the model is event-ssm's gated residual block, twice, and nmc lowers every op of it", () => {
    const json = JSON.parse(readFileSync(modelPath, "utf8"));
    const layers = json.modelTopology.config.layers as { class_name: string; name: string; config: Record<string, unknown> }[];
    const count = (cls: string, pred: (c: Record<string, unknown>) => boolean = () => true) =>
      layers.filter((l) => l.class_name === cls && pred(l.config)).length;
    const B = results.block.blocks;
    expect(B).toBe(2);
    expect(json.modelTopology.class_name).toBe("Model"); // functional
    expect(count("DiagonalSSM")).toBe(B);
    expect(count("LayerNormalization")).toBe(B);
    expect(count("Activation", (c) => c.activation === "gelu_new")).toBe(B);
    expect(count("Dense", (c) => c.activation === "sigmoid")).toBe(B);
    expect(count("Multiply")).toBe(B);
    expect(count("Add")).toBe(B);
    // The IR: every block (post-norm, event-ssm's default) is DiagonalSSM → GELU → σ-Dense → Multiply(ssm, gate)
    // → residual sum with the block's input → LayerNorm, and the logits read the last LayerNorm.
    const { graph } = loadModel(modelPath);
    const kinds = graph.populations.map((p) => p.kind);
    const n = (k: string) => kinds.filter((x) => x === k).length;
    expect(n("LayerNorm")).toBe(B);
    expect(n("DiagonalSSM")).toBe(B);
    expect(n("Multiply")).toBe(B);
    const proj = (src: string, dst: string, port?: string) =>
      graph.projections.some((p) => p.source === src && p.target === dst && (port === undefined || p.port === port));
    for (let k = 1; k <= B; k++) {
      const x = k === 1 ? "embed" : `norm${k - 1}`;
      expect(proj(x, `ssm${k}`) && proj(`ssm${k}`, `gelu${k}`) && proj(`gelu${k}`, `gate${k}`)).toBe(true);
      expect(proj(`ssm${k}`, `glu${k}`, "a") && proj(`gate${k}`, `glu${k}`, "b")).toBe(true);
      expect(proj(x, `res${k}`) && proj(`glu${k}`, `res${k}`) && proj(`res${k}`, `norm${k}`)).toBe(true);
    }
    expect(proj(`norm${B}`, "logits")).toBe(true);
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
    // calib.npy holds the first training digits, encoded the same way.
    const cal = readNpy(path.join(dir, "inputs", "calib.npy"));
    expect(cal.dtype).toBe("f4");
    expect(cal.shape.slice(1)).toEqual([T, C]);
    expect(cal.data).toEqual(encodeBatch(enc, split.train.images, 0, cal.shape[0]));
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

  it("the int8 golden engine reproduces the recorded subset accuracy, within 0.5 points of float", () => {
    const { graph } = loadModel(modelPath);
    const cal = readNpy(path.join(dir, "inputs", "calib.npy"));
    const r = compileQuantized(graph, { calibration: { data: toFloat64(cal), shape: cal.shape, label: "calib" } });
    const g = new GoldenEngine(r.quantized).run(batchFromShape(r.quantized, x, [N, T, C]));
    const goldenPred = argmaxRows(g.output, N, 10);
    const floatPred = argmaxRows(runNmc().output, N, 10);
    const ga = countEqual(goldenPred, y, N) / N;
    expect(ga).toBe(results.quantized.subset.golden_accuracy);
    expect(countEqual(goldenPred, floatPred, N) / N).toBe(results.quantized.subset.argmax_agreement);
    expect(Math.abs(countEqual(floatPred, y, N) / N - ga)).toBeLessThanOrEqual(0.005);
  }, 60_000);
});
