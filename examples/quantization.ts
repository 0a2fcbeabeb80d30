// Measures what quantization and pruning cost each bundled example, and writes the figures the example
// READMEs quote to examples/<name>/quantization.json. For each configuration it compiles the model exactly
// as `nmc compile` does (calibrating on inputs/calib.npy, training digits), then runs the golden integer
// engine and the float IR (after the same pruning) on
//   - the committed test inputs (inputs/x.npy, 300 digits: what `nmc run` reproduces), and
//   - the whole 2,000-digit test split (examples/common/mnist.ts, seed 1234), for a less noisy estimate.
//   npm run examples:quantization
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadModel, compileQuantized, type CompileOptions, type Graph, summarize, FloatEngine, type SequenceBatch, GoldenEngine, toFloat64, readNpy, argmaxRows, countEqual } from "../index.js";
import { loadMnistSplit, SIDE } from "./common/mnist.js";
import { encodeBatch, makeEncoder } from "./ssm-events/encoder.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.basename(path.dirname(here)) === "dist" ? path.join(here, "..", "..", "examples") : here;

interface Config {
  name: string;
  flags: string;
  options: Partial<CompileOptions>;
}

const CONFIGS: Config[] = [
  { name: "int8 weights, int16 states (default)", flags: "", options: {} },
  { name: "int16 weights", flags: "--bits 16", options: { weightBits: 16 } },
  { name: "int32 SSM state", flags: "--state-bits 32", options: { stateBits: 32 } },
  { name: "50% weight sparsity", flags: "--weight-sparsity 0.5", options: { weightSparsity: 0.5 } },
  { name: "80% weight sparsity, per projection", flags: "--weight-sparsity 0.8", options: { weightSparsity: 0.8 } },
  { name: "80% weight sparsity, global threshold", flags: "--weight-sparsity 0.8 --prune-scope global", options: { weightSparsity: 0.8, pruneScope: "global" } },
];

function accuracy(out: Float64Array, labels: ArrayLike<number>, n: number): number {
  return countEqual(argmaxRows(out, n, out.length / n), labels, n) / n;
}

function evaluate(float: Graph, quant: Graph, batch: SequenceBatch, labels: ArrayLike<number>) {
  const f = new FloatEngine(float).run(batch);
  const g = new GoldenEngine(quant).run(batch);
  const s = summarize(g.counters);
  const fa = accuracy(f.output, labels, batch.batch), ga = accuracy(g.output, labels, batch.batch);
  return {
    samples: batch.batch,
    float_accuracy: fa,
    golden_accuracy: ga,
    drop_points: Number((100 * (fa - ga)).toFixed(4)),
    golden_activation_sparsity: s.activation_sparsity,
    golden_weight_sparsity: s.connection_sparsity,
    synaptic_operations_per_sample: s.synaptic_operations,
    gains: s.gains,
  };
}

function run(example: "egru-smnist" | "ssm-events"): void {
  const dir = path.join(root, example);
  const t0 = Date.now();
  const { graph } = loadModel(path.join(dir, "model.json"));
  const calX = readNpy(path.join(dir, "inputs", "calib.npy"));
  const x = readNpy(path.join(dir, "inputs", "x.npy"));
  const y = toFloat64(readNpy(path.join(dir, "inputs", "y.npy")));
  const [, T, C] = x.shape;
  const committed: SequenceBatch = { data: toFloat64(x), batch: x.shape[0], ticks: T, channels: C };
  const { test } = loadMnistSplit(1234);
  let full: Float32Array;
  if (example === "egru-smnist") full = test.images.slice(0, test.count * SIDE * SIDE);
  else {
    const meta = JSON.parse(readFileSync(path.join(dir, "model.json"), "utf8")).userDefinedMetadata.encoder;
    full = encodeBatch(makeEncoder({ ticksPerRow: meta.ticks_per_row, threshold: meta.threshold }), test.images, 0, test.count);
  }
  const fullBatch: SequenceBatch = { data: full, batch: test.count, ticks: T, channels: C };
  const results = CONFIGS.map((c) => {
    const r = compileQuantized(graph, {
      calibration: { data: toFloat64(calX), shape: calX.shape, label: "inputs/calib.npy" }, ...c.options,
    });
    const entry = {
      config: c.name,
      command: `nmc compile examples/${example}/model.json ${c.flags}`.trim() + " -o m.nmb",
      committed_test_inputs: evaluate(r.float, r.quantized, committed, y),
      full_test_split: evaluate(r.float, r.quantized, fullBatch, test.labels),
      calibration_argmax_agreement: r.report.error.output.argmaxAgreement,
      pruning: r.report.prune ? { scope: r.report.prune.scope, achieved: r.report.prune.overall } : null,
    };
    process.stderr.write(`[${example}] ${c.name}: committed ${(100 * entry.committed_test_inputs.float_accuracy).toFixed(2)}% float → ` +
      `${(100 * entry.committed_test_inputs.golden_accuracy).toFixed(2)}% golden; full split ${(100 * entry.full_test_split.float_accuracy).toFixed(2)}% → ` +
      `${(100 * entry.full_test_split.golden_accuracy).toFixed(2)}%\n`);
    return entry;
  });
  const out = {
    example,
    script: "examples/quantization.ts (npm run examples:quantization)",
    date: new Date().toISOString(),
    calibration: `inputs/calib.npy: the first ${calX.shape[0]} digits of the training split`,
    seconds: (Date.now() - t0) / 1000,
    results,
  };
  writeFileSync(path.join(dir, "quantization.json"), JSON.stringify(out, null, 2) + "\n");
}

run("egru-smnist");
run("ssm-events");
