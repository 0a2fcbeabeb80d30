// `nmc tune`: gradual magnitude pruning with masked fine-tuning (compiler/tune), then the figures nmc's own
// engines measure on the validation split before and after. This file is arguments, files and printing.
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { Option } from "commander";
import { measureWithNmc, type NmcFigures } from "../../compiler/tune/measure.js";
import { type TuneOptions, type TuneReadout, type TuneReport, tuneModel } from "../../compiler/tune/tune.js";
import { writeTunedModel } from "../../compiler/tune/write.js";
import { loadModel } from "../../compiler/frontend/index.js";
import type { CalibrationData } from "../../compiler/pipeline.js";
import { NmcError } from "../../ir/errors.js";
import { readJsonFile } from "../../ir/files.js";
import { ndarray, toFloat64 } from "../../runtime/io/ndarray.js";
import { readNpy, writeNpy } from "../../runtime/io/npy.js";
import { readInput } from "../../runtime/io/inputs.js";
import { pct, renderTable } from "../../runtime/table.js";
import { loadFloatModel } from "../../runtime/tfjs/index.js";
import { INPUT_FORMATS_HELP } from "../input.js";
import { numberOption, readoutOption } from "../options.js";

interface TuneCliOptions {
  input: string;
  labels: string;
  out: string;
  weightSparsity: string;
  initialSparsity: string;
  pruneScope: "projection" | "global";
  epochs: string;
  batch: string;
  lr: string;
  lrFinal: string;
  ramp: string;
  maskEvery: string;
  activityReg: string;
  activityTarget?: string;
  qat?: boolean;
  validation: string;
  seed: string;
  readout?: string;
  calibrateSamples: string;
  json?: boolean;
  quiet?: boolean;
}

/** Calibration samples written to DIR/inputs/calib.npy when the source model has none. */
const CALIB_DEFAULT = 200;

function parseRamp(v: string): [number, number] {
  const m = /^\s*([0-9.eE+-]+)\s*:\s*([0-9.eE+-]+)\s*$/.exec(v);
  const a = m ? Number(m[1]) : NaN, b = m ? Number(m[2]) : NaN;
  if (!(a >= 0 && b >= a && b <= 1)) {
    throw new NmcError("invalid value for --ramp", { expected: "START:END, fractions of the fine-tuning steps with 0 ≤ START ≤ END ≤ 1 (e.g. 0:0.5)", found: JSON.stringify(v) });
  }
  return [a, b];
}

function parseValidation(v: string): number {
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x) || x <= 0 || (x >= 1 && !Number.isInteger(x))) {
    throw new NmcError("invalid value for --validation", { expected: "a fraction in (0, 1) of the samples, or a whole number of samples ≥ 1", found: JSON.stringify(v) });
  }
  return x;
}

function modelReadout(modelJson: string): TuneReadout | undefined {
  const json = readJsonFile(modelJson, "model file") as { userDefinedMetadata?: { nmc?: { readout?: string } }; nmc?: { readout?: string } };
  const r = json.userDefinedMetadata?.nmc?.readout ?? json.nmc?.readout;
  return r === "mean" || r === "last" || r === "sum" || r === "none" ? r : undefined;
}

function readLabels(file: string, n: number): Int32Array {
  const y = toFloat64(readNpy(file));
  if (y.length !== n) throw new NmcError("labels do not match the inputs", { file, expected: `${n} labels, one per input sequence`, found: `${y.length}` });
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = y[i]!;
    if (!(Number.isInteger(v) && v >= 0 && v < 2 ** 31)) throw new NmcError("labels must be class indices (integers ≥ 0)", { file, path: `element ${i}`, found: String(v) });
    out[i] = v;
  }
  return out;
}

/** A step progress bar on stderr (TTY only), as the other commands show theirs. */
function stepBar(quiet: boolean) {
  if (quiet || process.stderr.isTTY !== true) return undefined;
  const bar = new cliProgress.SingleBar({
    stream: process.stderr, hideCursor: true,
    format: "tuning {bar} epoch {epoch}/{epochs} step {value}/{total}  sparsity {sparsity}  loss {loss}  eta {eta}s",
  }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update(step: number, steps: number, payload: Record<string, string>) {
      if (!started) {
        bar.start(steps, step, payload);
        started = true;
      } else bar.update(step, payload);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

function figuresRow(label: string, f: NmcFigures): (string | null)[] {
  return [
    label, pct(f.float.accuracy, 2), f.int8 ? pct(f.int8.accuracy, 2) : null, pct(f.float.connection_sparsity, 1),
    pct((f.int8 ?? f.float).activation_sparsity, 1), `×${(f.int8 ?? f.float).combined_reduction.toFixed(2)}`,
  ];
}

/** The IR projections the pruned weights became (`egru/kernel` → `egru.kernel`, `ssm1/B_re+B_im` → `ssm1.B`); all when none matches. */
function prunedProjections(r: TuneReport, perProjection: Record<string, number>): [string, number][] {
  const names = new Set(r.weights.map((w) => w.weight.replace(/\/B_re\+B_im$/, "/B").replace(/\/([^/]*)$/, ".$1")));
  const hit = Object.entries(perProjection).filter(([k]) => names.has(k));
  return hit.length ? hit : Object.entries(perProjection);
}

function text(model: string, out: string, r: TuneReport, before: NmcFigures, after: NmcFigures, perProjection: Record<string, number>): string {
  const lines = [
    `tuned ${model} -> ${out}/model.json (${r.options.epochs} epoch${r.options.epochs === 1 ? "" : "s"}, ${r.schedule.steps} steps, ${r.seconds.training.toFixed(1)} s on ${r.backend})`,
    `schedule     gradual magnitude pruning (Zhu & Gupta), ${r.options.scope} scope: ${pct(r.options.initial_sparsity)} -> ${pct(r.options.weight_sparsity)} ` +
      `over steps ${r.schedule.start_step}..${r.schedule.end_step}, masks every ${r.schedule.mask_every} steps${r.options.qat ? "; int8 fake-quantization (QAT)" : ""}`,
    `data         ${r.data.fine_tune} fine-tuning and ${r.data.validation} validation samples (seed ${r.seed}); fine-tuning accuracy ` +
      `${pct(r.before.fine_tune?.accuracy, 2) ?? "-"} -> ${pct(r.after.fine_tune?.accuracy, 2) ?? "-"}`,
    "",
    `validation split (${r.data.validation} samples), measured by nmc: float engine, and int8 on the golden engine (= the simulator's counts)`,
    renderTable(["model", "float acc", "int8 acc", "weight sparsity", "activation sparsity", "synaptic-op reduction"], [figuresRow("before", before), figuresRow("after", after)]),
    "",
    "weight sparsity of the pruned projections (the written model)",
    renderTable(["projection", "weight sparsity"], prunedProjections(r, perProjection).map(([k, v]) => [k, pct(v, 2)])),
  ];
  if (after.int8_note) lines.push("", `int8: not measured: ${after.int8_note}`);
  lines.push("", `wrote ${out}/model.json, ${out}/weights.bin, ${out}/inputs/calib.npy, ${out}/tune-report.json`, `next: nmc compile ${out}/model.json --target spinnaker2 -o tuned.nmb`);
  return lines.join("\n") + "\n";
}

async function tuneCommand(model: string, opts: TuneCliOptions): Promise<void> {
  const t0 = performance.now();
  // Options first: a bad flag is reported before anything is read or trained.
  const weightSparsity = numberOption("--weight-sparsity", opts.weightSparsity, 0, 0.999999)!;
  const initialSparsity = numberOption("--initial-sparsity", opts.initialSparsity, 0, weightSparsity)!;
  const epochs = numberOption("--epochs", opts.epochs, 0, 100000, true)!;
  const batchSize = numberOption("--batch", opts.batch, 1, 2 ** 20, true)!;
  const learningRate = numberOption("--lr", opts.lr, 1e-12, 10)!;
  const learningRateFinal = numberOption("--lr-final", opts.lrFinal, 0, learningRate)!;
  const [rampStart, rampEnd] = parseRamp(opts.ramp);
  const maskEvery = numberOption("--mask-every", opts.maskEvery, 1, 2 ** 31, true)!;
  const activityRegularization = numberOption("--activity-reg", opts.activityReg, 0, 1e6)!;
  const activityTarget = numberOption("--activity-target", opts.activityTarget, 0, 0.999999);
  const validation = parseValidation(opts.validation);
  const seed = numberOption("--seed", opts.seed, 0, 2 ** 32 - 1, true)!;
  const calibrateSamples = numberOption("--calibrate-samples", opts.calibrateSamples, 1, 2 ** 31, true)!;
  if (path.resolve(opts.out) === path.resolve(path.dirname(model))) {
    throw new NmcError("-o would overwrite the model being tuned", { path: "-o", found: opts.out, hint: "write the tuned model to another directory" });
  }

  // The model must be one nmc compiles (same errors as nmc compile), with fixed ticks.
  const { graph } = loadModel(model);
  const input = graph.populations.find((p) => p.name === graph.inputs[0]);
  if (input?.kind === "Input" && input.eventTime) {
    throw new NmcError("nmc tune fine-tunes models that step in fixed ticks; this one runs in event time (nmc import event-ssm)", { file: model });
  }
  const tokens = input?.kind === "Input" && input.encoding === "tokens";
  const x = readInput(opts.input, { channels: input?.kind === "Input" ? input.size : 0 });
  if (x.shape.length !== (tokens ? 2 : 3)) {
    throw new NmcError("nmc tune needs a batch of input sequences", { file: opts.input, expected: tokens ? "[N, T] token ids" : "[N, T, C]", found: `[${x.shape.join(", ")}]` });
  }
  const labels = readLabels(opts.labels, x.shape[0]!);
  const readout = (opts.readout as TuneReadout | undefined) ?? modelReadout(model);

  const { model: tfModel, tf } = await loadFloatModel(model);
  const bar = stepBar(opts.quiet === true || opts.json === true);
  const log = (s: string) => {
    if (opts.quiet) return;
    process.stderr.write(s + "\n");
  };
  const tuneOpts: TuneOptions = {
    weightSparsity, initialSparsity, scope: opts.pruneScope, epochs, batchSize, learningRate, learningRateFinal, rampStart, rampEnd, maskEvery,
    activityRegularization, activityTarget, qat: opts.qat === true, validation, seed,
    onStep: bar ? (p) => bar.update(p.step, p.steps, { epoch: String(p.epoch), epochs: String(p.epochs), sparsity: pct(p.sparsity, 1)!, loss: p.loss.toFixed(4) }) : undefined,
    onEpoch: (row) => {
      if (bar) return;
      log(`nmc tune: epoch ${row.epoch}/${epochs}  sparsity ${pct(row.mask_sparsity, 1)}  loss ${row.loss.toFixed(4)}  ` +
        `train acc ${pct(row.train_accuracy, 2)}  validation acc ${pct(row.validation_accuracy, 2)}` +
        `${row.validation_activity_sparsity === null ? "" : `  EGRU activity sparsity ${pct(row.validation_activity_sparsity, 1)}`}  (${row.seconds.toFixed(1)} s)`);
    },
  };
  const data = { x: Float32Array.from(x.data), shape: x.shape, labels };
  let result;
  try {
    result = await tuneModel(tf, tfModel, data, tuneOpts, readout);
  } finally {
    bar?.stop();
  }
  const r = result.report;

  // ---- write: model.json + weights.bin, calibration inputs, and the report ----
  const written = writeTunedModel(model, tfModel, opts.out);
  tfModel.dispose();
  mkdirSync(path.join(opts.out, "inputs"), { recursive: true });
  const calibOut = path.join(opts.out, "inputs", "calib.npy");
  const calibBeside = path.join(path.dirname(model), "inputs", "calib.npy");
  const per = x.shape.slice(1).reduce((a, b) => a * b, 1);
  let calibration: CalibrationData;
  let calibSource: string;
  if (existsSync(calibBeside)) {
    copyFileSync(calibBeside, calibOut);
    const c = readNpy(calibOut);
    calibration = { data: toFloat64(c), shape: c.shape, label: calibBeside, file: calibOut };
    calibSource = `copied from ${calibBeside}`;
  } else {
    // The first fine-tuning samples: never validation data.
    const idx = result.split.fineTune.subarray(0, Math.min(calibrateSamples, result.split.fineTune.length));
    const c = new Float32Array(idx.length * per);
    idx.forEach((i, k) => c.set(x.data.subarray(i * per, (i + 1) * per), k * per));
    writeNpy(calibOut, ndarray("f4", [idx.length, ...x.shape.slice(1)], c));
    calibration = { data: Float64Array.from(c), shape: [idx.length, ...x.shape.slice(1)], label: `${calibOut} (${idx.length} fine-tuning samples)`, file: calibOut };
    calibSource = `the first ${idx.length} fine-tuning samples of ${opts.input}`;
  }

  // ---- nmc's own figures on the validation split, before and after ----
  const val = result.split.validation;
  const vx = new Float64Array(val.length * per);
  const vy = new Int32Array(val.length);
  val.forEach((i, k) => {
    vx.set(x.data.subarray(i * per, (i + 1) * per), k * per);
    vy[k] = labels[i]!;
  });
  const vshape = [val.length, ...x.shape.slice(1)];
  const before = measureWithNmc(model, vx, vshape, vy, calibration);
  const after = measureWithNmc(written.model, vx, vshape, vy, calibration);
  const perProjection = after.float.connection_sparsity_per_projection;

  const doc = {
    command: "tune",
    model, input: opts.input, labels: opts.labels,
    out: { dir: opts.out, model: written.model, weights: written.weights, weight_bytes: written.bytes, calibration: calibOut, calibration_source: calibSource, report: path.join(opts.out, "tune-report.json") },
    ...r,
    validation_indices_note: "the validation split is a seeded shuffle of the samples (splitIndices(N, validation, seed) in compiler/tune/tune.ts)",
    weight_sparsity_per_projection: perProjection,
    nmc: {
      note: "measured on the validation split by nmc: the float IR on the float engine; int8 (nmc compile defaults, calibrated on out.calibration) on the golden engine, whose counters the SpiNNaker 2 simulator reproduces",
      before, after,
    },
    seconds: { ...r.seconds, command: (performance.now() - t0) / 1000 },
  };
  writeFileSync(doc.out.report, JSON.stringify(doc, null, 2) + "\n");
  if (opts.json) {
    process.stdout.write(JSON.stringify(doc, null, 2) + "\n");
    return;
  }
  if (opts.quiet) return;
  process.stdout.write(text(model, opts.out, r, before, after, perProjection));
}

export function registerTune(program: Command): void {
  program
    .command("tune")
    .description("prune a trained model gradually and fine-tune it with the masks (TensorFlow.js): DIR/model.json + weights, DIR/tune-report.json")
    .argument("<model>", "model.json (TensorFlow.js LayersModel with EGRU, DiagonalSSM, Dense, Embedding layers), as nmc compile takes it")
    .requiredOption("--input <file>", "training sequences [N, T, C] (or token ids [N, T]); a seeded part is held apart for validation. Formats: " + INPUT_FORMATS_HELP)
    .requiredOption("--labels <file>", ".npy of integer class labels [N]")
    .requiredOption("-o, --out <dir>", "the directory to write model.json, weights.bin, inputs/calib.npy and tune-report.json into")
    .option("--weight-sparsity <s>", "the fraction of prunable weights to zero, in [0, 1)", "0.9")
    .option("--initial-sparsity <s>", "the sparsity the schedule starts from", "0")
    .addOption(new Option("--prune-scope <scope>", "projection: every weight matrix reaches the sparsity; global: one magnitude threshold over all").choices(["projection", "global"]).default("projection"))
    .option("--epochs <n>", "fine-tuning epochs (0: prune once, no fine-tuning)", "10")
    .option("--batch <n>", "batch size", "100")
    .option("--lr <rate>", "Adam learning rate at the start; it follows a cosine down to --lr-final", "0.002")
    .option("--lr-final <rate>", "learning rate at the last step", "0.0001")
    .option("--ramp <start:end>", "the sparsity rises from --initial-sparsity to --weight-sparsity between these fractions of the steps; later steps fine-tune the final mask", "0:0.5")
    .option("--mask-every <steps>", "recompute the masks every this many steps during the ramp", "10")
    .option("--activity-reg <lambda>", "EGRU activity regularizer: lambda × mean(o) of every EGRU's output gates (EvNN's; 0: off)", "0.05")
    .option("--activity-target <A>", "EGRU activity sparsity target in [0, 1): the regularizer becomes lambda × max(0, mean(o) − (1 − A))")
    .option("--qat", "quantization-aware: fake-quantize the prunable weights to int8 as nmc compile will (per column, straight-through gradient)")
    .option("--validation <v>", "validation samples held apart from fine-tuning: a fraction in (0, 1) or a count", "0.1")
    .option("--seed <s>", "seeds the validation split and the batch order (a run is deterministic for a seed and TensorFlow.js backend)", "1")
    .addOption(readoutOption())
    .option("--calibrate-samples <n>", "when the model has no inputs/calib.npy beside it: how many fine-tuning samples to write to DIR/inputs/calib.npy", String(CALIB_DEFAULT))
    .option("--json", "print the report (also written to DIR/tune-report.json) as JSON on stdout")
    .option("-q, --quiet", "no progress and no summary")
    .addHelpText("after", `
What it does: Zhu & Gupta's gradual pruning, s_t = s_f + (s_i − s_f)(1 − (t − t0)/(t1 − t0))^3 over the ramp, with
magnitude masks recomputed every --mask-every steps; the optimizer (Adam) updates float copies of the weights and
the mask is applied again after every step, so pruned weights stay exactly zero. Pruned: the weights nmc turns into
projections (EGRU kernel and recurrent_kernel, Dense kernel, Embedding embeddings, DiagonalSSM B_re/B_im as pairs).
Never pruned (but fine-tuned): biases, EGRU thresholds, the SSM's Λ, C and D, normalization parameters. The loss is
cross-entropy on the model's readout (its nmc.readout metadata, or --readout) plus the EGRU activity regularizer.
Before and after, the validation split is run by nmc: the float engine, and the int8 model on the golden engine
(accuracy, weight and activity sparsity, synaptic-op reduction Dense ÷ Effective_MACs, docs/metrics.md).

Examples:
  $ nmc tune model.json --input x_train.npy --labels y_train.npy -o tuned/
  $ nmc tune examples/egru-smnist/model.json --input x.npy --labels y.npy --weight-sparsity 0.85 \\
        --prune-scope global --epochs 20 --qat --validation 1000 --seed 1 -o sparse/   # examples/egru-smnist-sparse
  $ nmc tune model.json --input x.npy --labels y.npy --epochs 0 -o pruned/       # prune once, no fine-tuning
  $ nmc compile tuned/model.json --target spinnaker2 -o t.nmb && nmc run t.nmb --input x_test.npy --labels y_test.npy`)
    .action((model: string, opts: TuneCliOptions) => tuneCommand(model, opts));
}
