// `nmc tune`: gradual magnitude pruning with masked fine-tuning, in TensorFlow.js, of a model nmc compiles
// (EGRU, DiagonalSSM, Dense, Embedding layers; the layer classes of runtime/tfjs).
//
// What it does, step by step (schedule.ts has the schedule and the masks):
//   - the samples are split once, by a seeded shuffle, into fine-tuning data and validation data held apart;
//   - the prunable weights are the ones nmc turns into projections: EGRU `kernel` and `recurrent_kernel`,
//     Dense `kernel`, Embedding `embeddings`, DiagonalSSM `B_re` + `B_im` (one mask for the pair, as the
//     discretization mixes them). Biases, thresholds, the SSM's Λ, C and D, normalization parameters are
//     fine-tuned but never pruned;
//   - each prunable weight has a float "master" copy that the optimizer updates; before every step the layer
//     uses master ⊙ mask (fake-quantized to int8 with `qat`), and after every step the master is multiplied by
//     its mask again, so pruned weights stay exactly zero;
//   - the masks are recomputed from the masters' magnitudes every `maskEvery` steps while the sparsity rises
//     (Zhu & Gupta), per weight tensor or with one global threshold;
//   - the loss is softmax cross-entropy on the model's readout (nmc.readout: mean, last or sum over the ticks)
//     plus EvNN's activity regularizer λ·mean(o) on every EGRU's output gates (as examples/egru-smnist/train.ts
//     trains), or λ·max(0, mean(o) − (1 − A)) with an activity-sparsity target A;
//   - with `qat`, each prunable weight is fake-quantized as nmc's quantize pass will quantize it: symmetric
//     int8, one scale per target neuron (column), max |w| ÷ 127, rounding half away from zero; the gradient
//     passes straight through (it is computed at the quantized weights and applied to the float master).
//     The weights written are the quantized ones, so the compiled int8 weights are exactly those trained.
//     (DiagonalSSM B is not fake-quantized: its int8 projection is B̄, formed after discretization.)
//
// Fine-tuning runs the model as at inference (no dropout; EGRU zoneout as its expectation): together with the
// seeded shuffle this makes a run deterministic for a given seed and TensorFlow.js backend.
import type * as tfjs from "@tensorflow/tfjs";
import { NmcError } from "../../ir/errors.js";
import type { Tf } from "../../runtime/tfjs/index.js";
import { checkData, gatherRows, numberIn, shuffleInPlace, splitIndices } from "./data.js";
import { fakeQuantize, findPrunable, magnitudes, overallMaskSparsity, type Prunable } from "./prunable.js";
import { seededRandom } from "../../runtime/random.js";
import { checkSchedule, cosineRate, isMaskStep, magnitudeMasks, type PruneSchedule, type PruneScope, sparsityAt } from "./schedule.js";

type Tensor = tfjs.Tensor;

export type TuneReadout = "mean" | "last" | "sum" | "none";

/** Samples and labels: x is [N, T, C] (or [N, T] token ids), labels [N] class indices. */
export interface TuneData {
  x: Float32Array;
  shape: number[];
  labels: Int32Array;
}

export interface TuneOptions {
  /** s_f, the weight sparsity to reach, in [0, 1). */
  weightSparsity: number;
  /** s_i (default 0). */
  initialSparsity?: number;
  /** One magnitude threshold per weight tensor (default) or over all of them. */
  scope?: PruneScope;
  /** Fine-tuning epochs (default 10). 0: prune once to s_f, no fine-tuning. */
  epochs?: number;
  /** Batch size (default 100, at most the fine-tuning samples). */
  batchSize?: number;
  /** Adam learning rate, on a cosine per step from `learningRate` to `learningRateFinal` (defaults 2e-3 → 1e-4). */
  learningRate?: number;
  learningRateFinal?: number;
  /** The sparsity ramp runs from this fraction of the steps (default 0) … */
  rampStart?: number;
  /** … to this fraction (default 0.5); the remaining steps fine-tune the final mask. */
  rampEnd?: number;
  /** Steps between mask updates during the ramp (default 10). */
  maskEvery?: number;
  /** λ of the EGRU activity regularizer (default 0.05, as examples/egru-smnist/train.ts; 0 turns it off). */
  activityRegularization?: number;
  /** A: activity sparsity target in [0, 1): the regularizer becomes λ·max(0, mean(o) − (1 − A)). */
  activityTarget?: number;
  /** Straight-through int8 fake-quantization of the prunable weights (default false). */
  qat?: boolean;
  /** Validation samples held apart: a fraction in (0, 1) or a count ≥ 1 (default 0.1). */
  validation?: number;
  /** Seeds the split and the batch order (default 1). */
  seed?: number;
  /** How the model's per-tick outputs [B, T, K] become class scores (default: the model's nmc.readout, else mean). */
  readout?: TuneReadout;
  /** Samples per forward pass when evaluating (default 500). */
  evalBatch?: number;
  /** Evaluate the fine-tuning data too before and after (default true). */
  evaluateTrain?: boolean;
  /** Called after every optimizer step. */
  onStep?: (p: StepProgress) => void;
  /** Called after every epoch with its history row. */
  onEpoch?: (row: EpochRow) => void;
}

export interface StepProgress {
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  stepsPerEpoch: number;
  sparsity: number;
  loss: number;
}

export interface EpochRow {
  epoch: number;
  /** Optimizer steps done at the end of the epoch. */
  steps: number;
  learning_rate: number;
  /** s_t of the schedule at the epoch's last step, and the sparsity of the masks then. */
  target_sparsity: number;
  mask_sparsity: number;
  loss: number;
  cross_entropy: number;
  activity_loss: number;
  train_accuracy: number;
  validation_accuracy: number;
  /** Fraction of (sample, unit, tick) with o = 0 over the EGRU layers (null without one). */
  validation_activity_sparsity: number | null;
  seconds: number;
}

export interface Evaluation {
  samples: number;
  accuracy: number;
  /** Over all EGRU layers: fraction of (sample, unit, tick) with o = 0; null without an EGRU. */
  activity_sparsity: number | null;
  activity_sparsity_per_layer: Record<string, number>;
}

export interface WeightSparsity {
  /** The model.json weight (`egru/kernel`), or `layer/B_re+B_im` for a DiagonalSSM pair. */
  weight: string;
  layer: string;
  class_name: string;
  shape: number[];
  /** Exact zeros ÷ all entries of the final weight(s). */
  sparsity: number;
  zeros: number;
  size: number;
  fake_quantized: boolean;
}

export interface TuneReport {
  seed: number;
  backend: string;
  data: { samples: number; fine_tune: number; validation: number; shape: number[]; classes: number };
  readout: TuneReadout;
  options: {
    weight_sparsity: number; initial_sparsity: number; scope: PruneScope; epochs: number; batch_size: number;
    learning_rate: number; learning_rate_final: number; optimizer: string; activity_regularization: number;
    activity_target: number | null; qat: boolean; validation: number;
  };
  schedule: {
    name: string; formula: string; initial_sparsity: number; final_sparsity: number; start_step: number; end_step: number;
    mask_every: number; steps: number; steps_per_epoch: number; scope: PruneScope; mask_updates: number;
  };
  prunable: string[];
  not_pruned: string[];
  before: { validation: Evaluation; fine_tune: Evaluation | null };
  after: { validation: Evaluation; fine_tune: Evaluation | null };
  weights: WeightSparsity[];
  /** Over every prunable weight. */
  weight_sparsity: number;
  history: EpochRow[];
  seconds: { total: number; training: number };
}

export interface TuneResult {
  /** The tuned model (its weights hold master ⊙ mask, fake-quantized with qat). */
  model: tfjs.LayersModel;
  report: TuneReport;
  /** Final masks by weight name (1 keep, 0 pruned). */
  masks: Record<string, Uint8Array>;
  /** Indices of the fine-tuning and validation samples in the data given. */
  split: { fineTune: Int32Array; validation: Int32Array };
}

let masterCount = 0;

// ---- the readout and the loss ------------------------------------------------------------------------

function applyReadout(tf: Tf, out: Tensor, readout: TuneReadout): Tensor {
  if (out.rank === 2) return out;
  if (out.rank !== 3) throw new NmcError("the model's output must be [batch, time, classes] or [batch, classes]", { found: `[${out.shape}]` });
  switch (readout) {
    case "mean": return tf.mean(out, 1);
    case "sum": return tf.sum(out, 1);
    case "last": return tf.squeeze(tf.slice(out, [0, out.shape[1]! - 1, 0], [-1, 1, -1]), [1]);
    case "none":
      throw new NmcError("nmc tune trains a classifier: the model's outputs at every tick need a readout", {
        expected: "userDefinedMetadata.nmc.readout (mean, last or sum), or --readout", found: "none",
      });
  }
}

interface EgruLike {
  name: string;
  lastActivityTensor: Tensor | null;
}

function egruLayers(model: tfjs.LayersModel): EgruLike[] {
  return model.layers.filter((l) => l.getClassName() === "EGRU") as unknown as EgruLike[];
}

// ---- the tuning loop -----------------------------------------------------------------------------------

/**
 * Prunes and fine-tunes `model` in place (see the file comment). `tf` is the module the model was loaded with
 * (loadFloatModel returns it). The model's readout comes from `opts.readout`, else `modelReadout`, else mean.
 */
export async function tuneModel(tf: Tf, model: tfjs.LayersModel, data: TuneData, opts: TuneOptions, modelReadout?: TuneReadout): Promise<TuneResult> {
  const t0 = performance.now();
  const labelClasses = checkData(data);
  const outShape = model.outputs[0]?.shape ?? [];
  const classes = outShape[outShape.length - 1] ?? 0;
  if (!(classes >= labelClasses)) {
    throw new NmcError("the labels name more classes than the model has outputs", { expected: `labels in 0…${classes - 1}`, found: `label ${labelClasses - 1}` });
  }
  const s = numberIn("weight sparsity", opts.weightSparsity, 0, 1, false, true);
  const si = numberIn("initial sparsity", opts.initialSparsity ?? 0, 0, s);
  const scope: PruneScope = opts.scope ?? "projection";
  const epochs = numberIn("epochs", opts.epochs ?? 10, 0, 1e6, false, false, true);
  const lr = numberIn("learning rate", opts.learningRate ?? 2e-3, 0, 10, true);
  const lrFinal = numberIn("final learning rate", opts.learningRateFinal ?? 1e-4, 0, lr);
  const rampStart = numberIn("ramp start", opts.rampStart ?? 0, 0, 1);
  const rampEnd = numberIn("ramp end", opts.rampEnd ?? 0.5, rampStart, 1);
  const maskEvery = numberIn("mask interval", opts.maskEvery ?? 10, 1, 1e9, false, false, true);
  const lambda = numberIn("activity regularization", opts.activityRegularization ?? 0.05, 0, 1e6);
  const target = opts.activityTarget === undefined ? null : numberIn("activity target", opts.activityTarget, 0, 1, false, true);
  const qat = opts.qat === true;
  const seed = numberIn("seed", opts.seed ?? 1, 0, 2 ** 32 - 1, false, false, true);
  const validation = numberIn("validation", opts.validation ?? 0.1, 0, data.shape[0]!, true);
  const readout: TuneReadout = opts.readout ?? modelReadout ?? "mean";
  const evalBatch = numberIn("evaluation batch", opts.evalBatch ?? 500, 1, 1e9, false, false, true);

  const split = splitIndices(data.shape[0]!, validation, seed);
  const nFt = split.fineTune.length;
  const batch = Math.min(numberIn("batch size", opts.batchSize ?? 100, 1, 1e9, false, false, true), nFt);
  const stepsPerEpoch = Math.floor(nFt / batch);
  const steps = epochs * stepsPerEpoch;
  const schedule: PruneSchedule = {
    initialSparsity: si, finalSparsity: s,
    // t_1 is a step that runs (≤ steps − 1), so the final mask is always fine-tuned for at least one step.
    startStep: Math.min(Math.round(rampStart * steps), Math.max(0, steps - 1)),
    endStep: Math.min(Math.round(rampEnd * steps), Math.max(0, steps - 1)),
    every: maskEvery,
  };
  checkSchedule(schedule);

  const found = findPrunable(model);
  if (found.prunable.length === 0) {
    throw new NmcError("the model has no weights nmc tune prunes", { expected: "an EGRU, Dense, Embedding or DiagonalSSM layer", hint: "nmc tune prunes the weights nmc turns into projections" });
  }
  const egrus = egruLayers(model);
  // loadFloatModel sets DiagonalSSM layers to the step-by-step scan (the float reference); training uses the
  // layer's default (the doubling scan on wasm: several times faster per step, equal up to float rounding).
  const ssms = model.layers.filter((l) => l.getClassName() === "DiagonalSSM") as unknown as { scanMode: string }[];
  const scanModes = ssms.map((l) => l.scanMode);
  for (const l of ssms) l.scanMode = "auto";
  const prunable: Prunable[] = found.prunable.map((p, j) => ({
    ...p,
    master: p.members.map((m, k) => tf.variable(m.read().clone(), true, `nmc_tune_master_${++masterCount}_${j}_${k}`)),
    maskData: new Uint8Array(p.shape.reduce((a, b) => a * b, 1)).fill(1),
    mask: null,
  }));
  const isPrunedVar = new Map<string, { p: Prunable; k: number }>();
  for (const p of prunable) p.members.forEach((m, k) => isPrunedVar.set((m.read() as tfjs.Variable).name, { p, k }));
  const trainVars = model.trainableWeights.map((w) => w.read() as tfjs.Variable);

  // The weight the layer computes with: master ⊙ mask, fake-quantized with qat.
  const effective = (p: Prunable, k: number): Tensor => tf.tidy(() => {
    const m = p.mask ? tf.mul(p.master[k]!, p.mask) : p.master[k]!.clone();
    return qat && p.qat ? fakeQuantize(tf, m) : m;
  });
  const pushWeights = () => {
    for (const p of prunable) p.members.forEach((m, k) => {
      const e = effective(p, k);
      (m.read() as tfjs.Variable).assign(e);
      e.dispose();
    });
  };
  let maskUpdates = 0;
  const updateMasks = (sparsity: number) => {
    const masks = magnitudeMasks(prunable.map((p) => ({ name: p.name, magnitude: magnitudes(p) })), sparsity, scope);
    prunable.forEach((p, j) => {
      p.maskData = masks[j]!;
      p.mask?.dispose();
      p.mask = tf.tensor(Float32Array.from(p.maskData), p.shape, "float32");
      for (const m of p.master) m.assign(tf.tidy(() => tf.mul(m, p.mask!)));
    });
    maskUpdates++;
  };

  const evaluate = (idx: Int32Array): Evaluation => {
    let correct = 0;
    const active = new Map<string, number>(egrus.map((l) => [l.name, 0]));
    const units = new Map<string, number>(egrus.map((l) => [l.name, 0]));
    for (let s0 = 0; s0 < idx.length; s0 += evalBatch) {
      const s1 = Math.min(idx.length, s0 + evalBatch);
      const b = gatherRows(data, idx, s0, s1);
      const pred = tf.tidy(() => {
        const out = model.apply(tf.tensor(b.x, b.shape, "float32"), { training: false }) as Tensor;
        return tf.argMax(applyReadout(tf, out, readout), 1).dataSync() as Int32Array;
      });
      for (let i = 0; i < pred.length; i++) if (pred[i] === b.y[i]) correct++;
      for (const l of egrus) {
        const a = l.lastActivityTensor;
        if (a && !a.isDisposed) {
          active.set(l.name, active.get(l.name)! + a.dataSync()[0]! * (s1 - s0));
          units.set(l.name, units.get(l.name)! + (s1 - s0));
        }
      }
    }
    const per: Record<string, number> = {};
    let sumA = 0, sumN = 0;
    for (const l of egrus) {
      const n = units.get(l.name)!;
      if (n === 0) continue;
      per[l.name] = 1 - active.get(l.name)! / n;
      const size = (l as unknown as { units: number }).units ?? 1;
      sumA += active.get(l.name)! * size;
      sumN += n * size;
    }
    return { samples: idx.length, accuracy: correct / idx.length, activity_sparsity: sumN > 0 ? 1 - sumA / sumN : null, activity_sparsity_per_layer: per };
  };

  const evalTrain = opts.evaluateTrain !== false;
  const before = { validation: evaluate(split.validation), fine_tune: evalTrain ? evaluate(split.fineTune) : null };

  // ---- training ----
  const optimizer = tf.train.adam(lr);
  const rand = seededRandom(seed);
  const order = Int32Array.from(split.fineTune);
  const history: EpochRow[] = [];
  const tTrain = performance.now();
  let step = 0;
  let currentTarget = si;
  if (si > 0 || steps === 0) {
    currentTarget = steps === 0 ? s : si;
    updateMasks(currentTarget);
  }
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const te = performance.now();
      shuffleInPlace(order, rand);
      let lossSum = 0, ceSum = 0, actSum = 0, correct = 0, seen = 0, lrNow = lr;
      for (let b0 = 0; b0 + batch <= nFt; b0 += batch) {
        if (isMaskStep(schedule, step)) {
          currentTarget = sparsityAt(schedule, step);
          updateMasks(currentTarget);
        }
        lrNow = cosineRate(lr, lrFinal, step, steps);
        (optimizer as unknown as { learningRate: number }).learningRate = lrNow;
        pushWeights();
        const b = gatherRows(data, order, b0, b0 + batch);
        const stats = tf.tidy(() => {
          const xt = tf.tensor(b.x, b.shape, "float32");
          const yt = tf.oneHot(tf.tensor1d(b.y, "int32"), classes);
          let kept: Tensor[] = [];
          const { grads, value } = tf.variableGrads(() => {
            const out = model.apply(xt, { training: false }) as Tensor;
            const logits = applyReadout(tf, out, readout);
            const ce = tf.losses.softmaxCrossEntropy(yt, logits);
            let act: Tensor = tf.scalar(0);
            for (const l of egrus) {
              const a = l.lastActivityTensor!;
              act = tf.add(act, target === null ? a : tf.relu(tf.sub(a, 1 - target)));
            }
            const actLoss = tf.mul(lambda, act);
            kept = [tf.keep(ce), tf.keep(actLoss), tf.keep(tf.argMax(logits, 1))];
            return tf.add(ce, actLoss) as tfjs.Scalar;
          }, trainVars);
          const named: tfjs.NamedTensorMap = {};
          for (const [name, g] of Object.entries(grads)) {
            const hit = isPrunedVar.get(name);
            if (!hit) named[name] = g;
            else named[hit.p.master[hit.k]!.name] = hit.p.mask ? tf.mul(g, hit.p.mask) : g;
          }
          optimizer.applyGradients(named as Parameters<typeof optimizer.applyGradients>[0]);
          const [ce, actLoss, pred] = kept as [Tensor, Tensor, Tensor];
          const out = { loss: value.dataSync()[0]!, ce: ce.dataSync()[0]!, act: actLoss.dataSync()[0]!, pred: pred.dataSync() as Int32Array };
          for (const k of kept) k.dispose();
          return out;
        });
        // Pruned weights stay exactly zero: the mask again after the optimizer's step.
        for (const p of prunable) if (p.mask) for (const m of p.master) m.assign(tf.tidy(() => tf.mul(m, p.mask!)));
        lossSum += stats.loss;
        ceSum += stats.ce;
        actSum += stats.act;
        for (let i = 0; i < batch; i++) if (stats.pred[i] === b.y[i]) correct++;
        seen += batch;
        step++;
        opts.onStep?.({ epoch: epoch + 1, epochs, step, steps, stepsPerEpoch, sparsity: currentTarget, loss: stats.loss });
      }
      pushWeights();
      const v = evaluate(split.validation);
      const n = Math.max(1, stepsPerEpoch);
      const row: EpochRow = {
        epoch: epoch + 1, steps: step, learning_rate: lrNow, target_sparsity: currentTarget,
        mask_sparsity: overallMaskSparsity(prunable), loss: lossSum / n, cross_entropy: ceSum / n, activity_loss: actSum / n,
        train_accuracy: seen ? correct / seen : 0, validation_accuracy: v.accuracy, validation_activity_sparsity: v.activity_sparsity,
        seconds: (performance.now() - te) / 1000,
      };
      history.push(row);
      opts.onEpoch?.(row);
    }
  } finally {
    optimizer.dispose();
  }
  if (steps > 0 && currentTarget !== s) updateMasks(s); // (only when the ramp ends after the last step)
  pushWeights();
  const training = (performance.now() - tTrain) / 1000;
  const after = { validation: evaluate(split.validation), fine_tune: evalTrain ? evaluate(split.fineTune) : null };

  // Sparsity of the weights as they now are (and will be written): exact zeros.
  const weights: WeightSparsity[] = prunable.map((p) => {
    const vals = p.members.map((m) => m.read().dataSync() as Float32Array);
    let zeros = 0, size = 0;
    for (const a of vals) {
      size += a.length;
      for (let i = 0; i < a.length; i++) if (a[i] === 0) zeros++;
    }
    return { weight: p.name, layer: p.layer, class_name: p.className, shape: p.shape, sparsity: zeros / size, zeros, size, fake_quantized: qat && p.qat };
  });
  const totZ = weights.reduce((a, w) => a + w.zeros, 0), totN = weights.reduce((a, w) => a + w.size, 0);
  const masks = Object.fromEntries(prunable.map((p) => [p.name, p.maskData]));
  ssms.forEach((l, i) => (l.scanMode = scanModes[i]!));
  for (const p of prunable) {
    p.mask?.dispose();
    for (const m of p.master) m.dispose();
  }

  const report: TuneReport = {
    seed, backend: tf.getBackend(),
    data: { samples: data.shape[0]!, fine_tune: nFt, validation: split.validation.length, shape: data.shape, classes },
    readout,
    options: {
      weight_sparsity: s, initial_sparsity: si, scope, epochs, batch_size: batch, learning_rate: lr, learning_rate_final: lrFinal,
      optimizer: "adam, learning rate on a cosine per step", activity_regularization: lambda, activity_target: target, qat, validation,
    },
    schedule: {
      name: "gradual magnitude pruning (Zhu & Gupta 2017, arXiv 1710.01878)",
      formula: "s_t = s_f + (s_i - s_f) * (1 - (t - t_0) / (t_1 - t_0))^3 for t_0 <= t <= t_1; masks recomputed every mask_every steps and at t_1; pruned weights re-zeroed after every optimizer step",
      initial_sparsity: si, final_sparsity: s, start_step: schedule.startStep, end_step: schedule.endStep, mask_every: maskEvery,
      steps, steps_per_epoch: stepsPerEpoch, scope, mask_updates: maskUpdates,
    },
    prunable: prunable.map((p) => p.name),
    not_pruned: found.notPruned,
    before, after, weights,
    weight_sparsity: totN ? totZ / totN : 0,
    history,
    seconds: { total: (performance.now() - t0) / 1000, training },
  };
  return { model, report, masks, split };
}
