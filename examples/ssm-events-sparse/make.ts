// How much of examples/ssm-events (event-ssm's gated residual blocks of LRU DiagonalSSMs on DVS-like MNIST
// events) can be pruned at ≤ 1 point of accuracy loss: one gradual-pruning run of nmc's tune library (what
// `nmc tune` runs) up to SPARSITY, with the weights saved every CHECKPOINT steps along the ramp and at the end,
// each checkpoint then measured on all 2,000 test digits: the float engine, and the int8 model (nmc compile
// defaults, calibrated on examples/ssm-events/inputs/calib.npy) on the golden engine.
//
//   npm run build && node dist/examples/ssm-events-sparse/make.js      # writes results.json here
//
// A checkpoint on the ramp has been fine-tuned only while its sparsity was being reached (the cubic schedule
// slows down near the end, so later checkpoints had more time); the last one was fine-tuned at the final
// sparsity for the rest of the run. The reachable sparsity reported is the largest checkpoint whose int8 test
// accuracy is at most 1 point below the unpruned float model's.
//
// Data: the 8,000 training digits of loadMnistSplit(1234), encoded as the example encodes them (no
// augmentation), the first TRAIN of them used (4,000: a step takes ~8 s here), VALIDATION held apart by the tune
// library's seeded split.
// Environment overrides: SPARSITY, SCOPE, EPOCHS, BATCH, LR, LR_FINAL, RAMP_END, MASK_EVERY, CHECKPOINT, QAT,
// SEED, VALIDATION, TRAIN, SRC (the model folder, default examples/ssm-events), OUT_DIR (default this folder).
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  argmaxRows, compileQuantized, countEqual, FloatEngine, GoldenEngine, loadFloatModel, loadModel, readNpy, type SequenceBatch, summarize, toFloat64,
  tuneModel, type TuneOptions, writeTunedModel,
} from "../../index.js";
import { envNumber } from "../common/env.js";
import { loadMnistSplit } from "../common/mnist.js";
import { encodeBatch, makeEncoder } from "../ssm-events/encoder.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..", "..");
const SRC = path.resolve(process.env.SRC || path.join(REPO, "examples", "ssm-events"));
const OUT_DIR = path.resolve(process.env.OUT_DIR || path.join(REPO, "examples", "ssm-events-sparse"));

const DEFAULTS = {
  sparsity: 0.6, scope: "global", epochs: 3, batch: 100, lr: 5e-4, lrFinal: 5e-5, rampEnd: 0.5, maskEvery: 10, checkpoint: 15,
  qat: 1, seed: 1, validation: 500, train: 4000,
};
const HP = {
  sparsity: envNumber("SPARSITY", DEFAULTS.sparsity),
  scope: process.env.SCOPE || DEFAULTS.scope,
  epochs: envNumber("EPOCHS", DEFAULTS.epochs),
  batch: envNumber("BATCH", DEFAULTS.batch),
  lr: envNumber("LR", DEFAULTS.lr),
  lrFinal: envNumber("LR_FINAL", DEFAULTS.lrFinal),
  rampEnd: envNumber("RAMP_END", DEFAULTS.rampEnd),
  maskEvery: envNumber("MASK_EVERY", DEFAULTS.maskEvery),
  checkpoint: envNumber("CHECKPOINT", DEFAULTS.checkpoint),
  qat: envNumber("QAT", DEFAULTS.qat),
  seed: envNumber("SEED", DEFAULTS.seed),
  validation: envNumber("VALIDATION", DEFAULTS.validation),
  train: envNumber("TRAIN", DEFAULTS.train),
};

const log = (s: string) => process.stderr.write(s + "\n");
const accuracy = (out: Float64Array, labels: ArrayLike<number>, n: number) => countEqual(argmaxRows(out, n, out.length / n), labels, n) / n;

async function main(): Promise<void> {
  const t0 = performance.now();
  const source = path.join(SRC, "model.json");
  const modelJson = JSON.parse(readFileSync(source, "utf8"));
  const enc = modelJson.userDefinedMetadata.encoder as { ticks_per_row: number; threshold: number; ticks: number; channels: number };
  const encoder = makeEncoder({ ticksPerRow: enc.ticks_per_row, threshold: enc.threshold });
  const T = enc.ticks, C = enc.channels;
  const { train, test } = loadMnistSplit(1234);
  const nTrain = Math.min(HP.train, train.count);
  const x = encodeBatch(encoder, train.images, 0, nTrain);
  const xTest = encodeBatch(encoder, test.images, 0, test.count);
  log(`ssm-events-sparse: ${JSON.stringify(HP)}; ${nTrain} training digits encoded [${nTrain}, ${T}, ${C}]`);

  const { model, tf, backend } = await loadFloatModel(source);
  const ckDir = path.join(OUT_DIR, ".checkpoints");
  rmSync(ckDir, { recursive: true, force: true });
  const checkpoints: { step: number; sparsity: number; dir: string }[] = [];
  const save = (step: number, sparsity: number) => {
    const dir = path.join(ckDir, `step-${step}`);
    writeTunedModel(source, model, dir);
    checkpoints.push({ step, sparsity, dir });
  };
  const opts: TuneOptions = {
    weightSparsity: HP.sparsity, scope: HP.scope as "projection" | "global", epochs: HP.epochs, batchSize: HP.batch,
    learningRate: HP.lr, learningRateFinal: HP.lrFinal, rampEnd: HP.rampEnd, maskEvery: HP.maskEvery, qat: HP.qat !== 0,
    seed: HP.seed, validation: HP.validation, evaluateTrain: false, activityRegularization: 0,
    // The layer holds master ⊙ mask (fake-quantized) during a step: what the model computed with.
    onStep: (p) => {
      if (p.step % HP.checkpoint === 0 && p.step < p.steps) save(p.step, p.sparsity);
      if (p.step % 10 === 0) log(`step ${p.step}/${p.steps}  sparsity ${(100 * p.sparsity).toFixed(1)}%  loss ${p.loss.toFixed(4)}`);
    },
    onEpoch: (r) => log(`epoch ${r.epoch}  sparsity ${(100 * r.mask_sparsity).toFixed(1)}%  loss ${r.loss.toFixed(4)}  train ${(100 * r.train_accuracy).toFixed(2)}%  ` +
      `val ${(100 * r.validation_accuracy).toFixed(2)}%  (${r.seconds.toFixed(0)} s)`),
  };
  const tuned = await tuneModel(tf, model, { x, shape: [nTrain, T, C], labels: train.labels.subarray(0, nTrain) }, opts, "mean");
  save(tuned.report.schedule.steps, HP.sparsity);
  const tuneSeconds = tuned.report.seconds;

  // ---- every checkpoint on the 2,000 test digits ----
  const cal = readNpy(path.join(SRC, "inputs", "calib.npy"));
  const calibration = { data: toFloat64(cal), shape: cal.shape, label: "examples/ssm-events/inputs/calib.npy" };
  const batch: SequenceBatch = { data: xTest, batch: test.count, ticks: T, channels: C };
  const measure = (modelFile: string) => {
    const { graph } = loadModel(modelFile);
    const f = new FloatEngine(graph).run(batch);
    const r = compileQuantized(graph, { calibration });
    const g = new GoldenEngine(r.quantized).run(batch);
    const s = summarize(g.counters);
    return { float_accuracy: accuracy(f.output, test.labels, test.count), int8_accuracy: accuracy(g.output, test.labels, test.count),
      connection_sparsity: s.connection_sparsity, connection_sparsity_per_projection: s.connection_sparsity_per_projection,
      activation_sparsity: s.activation_sparsity, synaptic_operations: s.synaptic_operations, combined_reduction: s.gains.combined };
  };
  const dense = measure(source);
  log(`unpruned: float ${(100 * dense.float_accuracy).toFixed(2)}%, int8 ${(100 * dense.int8_accuracy).toFixed(2)}%`);
  const rows = checkpoints.map((c) => {
    const m = measure(path.join(c.dir, "model.json"));
    const loss = Number((100 * (dense.float_accuracy - m.int8_accuracy)).toFixed(4));
    log(`step ${c.step}: pruned-weight sparsity ${(100 * c.sparsity).toFixed(1)}% (all projections ${(100 * m.connection_sparsity).toFixed(1)}%): ` +
      `float ${(100 * m.float_accuracy).toFixed(2)}%, int8 ${(100 * m.int8_accuracy).toFixed(2)}%, loss ${loss.toFixed(2)} points, reduction ×${m.combined_reduction.toFixed(2)}`);
    return { step: c.step, final: c.step === tuned.report.schedule.steps, target_sparsity: c.sparsity, ...m, accuracy_loss_points: loss };
  });
  const ok = rows.filter((r) => r.accuracy_loss_points <= 1);
  const best = ok.length ? ok.reduce((a, b) => (b.target_sparsity > a.target_sparsity ? b : a)) : null;
  rmSync(ckDir, { recursive: true, force: true });
  const results = {
    source_model: path.relative(REPO, SRC),
    source_results_date: JSON.parse(readFileSync(path.join(SRC, "results.json"), "utf8")).date,
    script: "examples/ssm-events-sparse/make.ts",
    date: new Date().toISOString(),
    backend,
    question: "the weight sparsity reachable at ≤ 1 point of accuracy loss (float unpruned − int8 pruned, 2,000 test digits)",
    reachable_weight_sparsity: best ? best.target_sparsity : null,
    reachable_at: best,
    accuracy_loss_definition: "float accuracy of the unpruned model (nmc float engine) − int8 accuracy (golden engine) of the checkpoint, all 2,000 test digits, in points",
    weight_sparsity_definition: "target_sparsity: zeros among the pruned weights (Dense kernels, DiagonalSSM B pairs; global threshold); connection_sparsity: over every IR projection, identity and diagonal projections included",
    unpruned: dense,
    checkpoints: rows,
    hyperparameters: HP,
    overrides_of_defaults: Object.fromEntries(Object.entries(HP).filter(([k, v]) => (DEFAULTS as Record<string, number | string>)[k] !== v)),
    schedule: tuned.report.schedule,
    options: tuned.report.options,
    history: tuned.report.history,
    data: { fine_tune: tuned.report.data.fine_tune, validation: tuned.report.data.validation, test: test.count, encoding: "as examples/ssm-events (no augmentation)" },
    seconds: { tuning: tuneSeconds.training, script: (performance.now() - t0) / 1000 },
  };
  mkdirSync(OUT_DIR, { recursive: true });
  writeFileSync(path.join(OUT_DIR, "results.json"), JSON.stringify(results, null, 2) + "\n");
  log(`reachable at ≤ 1 point: ${best ? `${(100 * best.target_sparsity).toFixed(1)}% (step ${best.step}, loss ${best.accuracy_loss_points} points)` : "none of the checkpoints"}; ` +
    `wrote ${OUT_DIR}/results.json in ${results.seconds.script.toFixed(0)} s`);
}

main().catch((e: unknown) => {
  process.stderr.write(`ssm-events-sparse: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
