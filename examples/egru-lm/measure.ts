// The nmc measurements of examples/egru-lm (the "measure" stage of train.ts; STAGES=measure runs it alone on
// the saved models and training.json): writes the committed test inputs, compiles the pruned model for
// SpiNNaker 2 (int8 weights, int16 states, calibrated on inputs/calib.npy), and on the committed test windows
// measures bits per character with the float IR, the golden engine and the simulator, the sparsity and the
// synaptic operations the simulator counts, and `nmc generate`'s per-token figures; then results.json.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compileToBundle, ndarray, prepareJob, type RawResult, readNpy, seededRandom, toFloat64, writeNpy } from "../../index.js";
import { windows } from "./data.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..", "..");

/** How many test windows are committed (inputs/x.npy) and how many training windows calibrate. */
export const COMMITTED_WINDOWS = 64;
export const CALIBRATION_WINDOWS = 128;
export const PROMPT = "The jury said";
export const GENERATED = 40;
/** The sampled generation results.json records beside the greedy one. */
export const SAMPLED = { temperature: 0.8, seed: 1 };

export interface MeasureInput {
  outDir: string;
  data: { V: number; vocabulary: string[]; train: Int32Array; validation: Int32Array; test: Int32Array };
  seqLen: number;
  seed: number;
  training: Record<string, unknown>;
  log: (s: string) => void;
}

/** Bits per character of logits [B·T, V] (real numbers) against next-character targets [B·T]. */
export function bitsPerChar(logits: ArrayLike<number>, targets: ArrayLike<number>, V: number): number {
  let nats = 0;
  const n = targets.length;
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let k = 0; k < V; k++) max = Math.max(max, logits[i * V + k]!);
    let sum = 0;
    for (let k = 0; k < V; k++) sum += Math.exp(logits[i * V + k]! - max);
    nats += Math.log(sum) + max - logits[i * V + targets[i]!]!;
  }
  return nats / n / Math.LN2;
}

const outputOf = (r: RawResult): Float64Array => (r.kind === "sim" ? r.run.output : r.output);

/** Bundle figures on the committed windows: float IR, golden, simulator (with its report). */
async function bundleFigures(bundle: string, x: Float64Array, y: Int32Array, B: number, L: number, V: number) {
  const batch = { data: x, batch: B, ticks: L, channels: 1 };
  const float = await prepareJob({ model: bundle, engine: "float" });
  const golden = await prepareJob({ model: bundle, engine: "golden" });
  const sim = await prepareJob({ model: bundle, engine: "spinnaker2" });
  const f = float.run(batch), g = golden.run(batch), s = sim.run(batch);
  const rep = sim.loaded!.report!(s, {}).json as Record<string, any>;
  const gOut = outputOf(g), sOut = outputOf(s);
  let same = gOut.length === sOut.length;
  for (let i = 0; same && i < gOut.length; i++) same = gOut[i] === sOut[i];
  const egru = Object.entries(rep.activitySparsity as Record<string, number>).filter(([k]) => k.startsWith("egru"));
  return {
    float_bpc: bitsPerChar(outputOf(f), y, V),
    golden_bpc: bitsPerChar(gOut, y, V),
    simulator_bpc: bitsPerChar(sOut, y, V),
    simulator_equals_golden: same,
    activity_sparsity_egru: egru.reduce((a, [, v]) => a + v, 0) / egru.length,
    activity_sparsity_per_population: rep.activitySparsity as Record<string, number>,
    activity_sparsity_all_populations: rep.activitySparsityOverall as number,
    weight_sparsity: rep.weightSparsityOverall as number,
    weight_sparsity_per_projection: rep.weightSparsity as Record<string, number>,
    synaptic_ops_per_window: rep.synapticOpsPerInference,
    combined_reduction: rep.gains.combined as number,
    gains: rep.gains,
    sparsity_gains: rep.sparsityGains,
    pes: rep.pes as number,
    pe_lower_bound: rep.peLowerBound as number,
    per_window: { event: rep.eventMode, dense: rep.denseMode },
  };
}

function compile(model: string, out: string, log: (s: string) => void): void {
  const t0 = performance.now();
  compileToBundle(model, { out, target: "spinnaker2", warn: (w) => log(`compile: warning: ${w}`) });
  log(`compiled ${path.relative(REPO, model)} for spinnaker2 in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

function generateJson(bundle: string, extra: string[]): Record<string, any> {
  const args = [path.join(REPO, "dist", "cli", "main.js"), "generate", bundle, "--prompt", PROMPT, "-n", String(GENERATED), "--json", ...extra];
  const r = spawnSync(process.execPath, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`nmc generate exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, any>;
}

export async function measure(m: MeasureInput): Promise<void> {
  const { outDir, data, seqLen: L, log } = m;
  const V = data.V;
  const inputs = path.join(outDir, "inputs");
  // The committed inputs: the first test windows, and calibration windows at seeded offsets of the training stream.
  const w = windows(data.test, L, COMMITTED_WINDOWS);
  writeNpy(path.join(inputs, "x.npy"), ndarray("i4", [w.count, L], w.x));
  writeNpy(path.join(inputs, "y.npy"), ndarray("i4", [w.count, L], w.y));
  const rand = seededRandom(m.seed + 7);
  const cal = new Int32Array(CALIBRATION_WINDOWS * L);
  for (let b = 0; b < CALIBRATION_WINDOWS; b++) {
    const s = Math.floor(rand() * (data.train.length - L));
    cal.set(data.train.subarray(s, s + L), b * L);
  }
  writeNpy(path.join(inputs, "calib.npy"), ndarray("i4", [CALIBRATION_WINDOWS, L], cal));
  const x = toFloat64(readNpy(path.join(inputs, "x.npy")));
  const y = Int32Array.from(toFloat64(readNpy(path.join(inputs, "y.npy"))));

  const tmp = mkdtempSync(path.join(tmpdir(), "egru-lm-"));
  try {
    const prunedBundle = path.join(tmp, "lm.nmb"), denseBundle = path.join(tmp, "dense.nmb");
    compile(path.join(outDir, "model.json"), prunedBundle, log);
    const pruned = await bundleFigures(prunedBundle, x, y, w.count, L, V);
    log(`pruned int8 (committed ${w.count} windows): float ${pruned.float_bpc.toFixed(4)} bpc, golden ${pruned.golden_bpc.toFixed(4)}, simulator = golden: ${pruned.simulator_equals_golden}; ` +
      `weight sparsity ${(100 * pruned.weight_sparsity).toFixed(2)}%, EGRU activity sparsity ${(100 * pruned.activity_sparsity_egru).toFixed(2)}%, combined ×${pruned.combined_reduction.toFixed(2)}, ${pruned.pes} PEs`);
    // The dense model needs calibration inputs beside it: the same file.
    mkdirSync(path.join(outDir, "dense", "inputs"), { recursive: true });
    writeNpy(path.join(outDir, "dense", "inputs", "calib.npy"), ndarray("i4", [CALIBRATION_WINDOWS, L], cal));
    compile(path.join(outDir, "dense", "model.json"), denseBundle, log);
    const dense = await bundleFigures(denseBundle, x, y, w.count, L, V);
    log(`dense int8: golden ${dense.golden_bpc.toFixed(4)} bpc, combined ×${dense.combined_reduction.toFixed(2)}, ${dense.pes} PEs`);
    const gen = generateJson(prunedBundle, []);
    const genSampled = generateJson(prunedBundle, ["--temperature", String(SAMPLED.temperature), "--seed", String(SAMPLED.seed)]);
    const genGolden = generateJson(prunedBundle, ["--engine", "golden"]);
    log(`generate: ${JSON.stringify(PROMPT + gen.text)}; per token ${(gen.chip.per_token.latency_seconds * 1e6).toFixed(2)} µs, ${(gen.chip.per_token.energy_joules.total * 1e6).toFixed(3)} µJ`);

    const t = m.training as Record<string, any>;
    const denseBpc = t.dense?.test?.bpc as number, prunedBpc = t.pruned?.test?.bpc as number, baseBpc = t.baseline?.test?.bpc as number | undefined;
    const int8Rel = (pruned.golden_bpc - pruned.float_bpc) / pruned.float_bpc;
    const baseRel = baseBpc !== undefined ? (prunedBpc - baseBpc) / baseBpc : null;
    const perToken = gen.chip.per_token, perTokenDense = gen.chip.per_token_dense;
    const results = {
      task: "character-level language modelling of the Brown corpus (78 characters), next-character prediction",
      architecture: t.architecture,
      script: "examples/egru-lm/train.ts (npm run train:egru-lm): data.ts, train.ts, measure.ts",
      date: new Date().toISOString(),
      weight_sparsity: pruned.weight_sparsity,
      activity_sparsity: pruned.activity_sparsity_egru,
      combined_reduction: pruned.combined_reduction,
      definitions: {
        weight_sparsity: "zeros ÷ entries over every projection of the compiled pruned model (embedding, EGRU input and recurrent, decoder), from the simulator's report",
        activity_sparsity: "fraction of (unit, tick) with no event in the EGRU layers (EvNN's definition), the simulator on the committed test windows; all populations (with the dense embedding and decoder): activity_sparsity_all_populations",
        combined_reduction: "dense ÷ effective synaptic operations (docs/metrics.md), counted by the SpiNNaker 2 simulator on the committed test windows, int8 pruned model",
        bpc: "bits per character: mean −log2 p(next character); every window starts from zero state",
      },
      bits_per_character: {
        test_split: {
          windows: t.pruned?.test?.windows, characters: t.pruned?.test?.characters, measured_with: "TensorFlow.js (float32), train.ts",
          dense_float_egru: denseBpc, pruned_float_egru: prunedBpc, baseline_gru: baseBpc ?? null,
        },
        committed_test_windows: {
          windows: w.count, characters: w.count * L, inputs: "inputs/x.npy", targets: "inputs/y.npy", measured_with: "nmc: float IR interpreter, golden engine, SpiNNaker 2 simulator",
          dense_float_egru: dense.float_bpc, dense_int8_golden: dense.golden_bpc,
          pruned_float_egru: pruned.float_bpc, pruned_int8_golden: pruned.golden_bpc, pruned_int8_simulator: pruned.simulator_bpc,
        },
      },
      perplexity_per_character: {
        test_split: { dense_float_egru: 2 ** denseBpc, pruned_float_egru: 2 ** prunedBpc, baseline_gru: baseBpc !== undefined ? 2 ** baseBpc : null },
        committed_test_windows: { pruned_float_egru: 2 ** pruned.float_bpc, pruned_int8_golden: 2 ** pruned.golden_bpc },
      },
      activity_sparsity_per_layer: Object.fromEntries(Object.entries(pruned.activity_sparsity_per_population).filter(([k]) => k.startsWith("egru"))),
      activity_sparsity_per_population: pruned.activity_sparsity_per_population,
      activity_sparsity_all_populations: pruned.activity_sparsity_all_populations,
      weight_sparsity_per_projection: pruned.weight_sparsity_per_projection,
      targets: {
        weight_sparsity_at_least_0_90: pruned.weight_sparsity >= 0.9,
        activity_sparsity_at_least_0_85: pruned.activity_sparsity_egru >= 0.85,
        combined_reduction_at_least_20: pruned.combined_reduction >= 20,
        int8_within_2_percent_of_pruned_float: { relative: int8Rel, met: Math.abs(int8Rel) <= 0.02, compared_on: "committed test windows, the same inputs" },
        pruned_within_10_percent_of_baseline: { relative: baseRel, met: baseRel !== null && baseRel <= 0.1, compared_on: "test split, TensorFlow.js" },
      },
      spinnaker2: {
        pes: pruned.pes, pe_lower_bound: pruned.pe_lower_bound, simulator_equals_golden: pruned.simulator_equals_golden,
        synaptic_ops_per_window: pruned.synaptic_ops_per_window, gains: pruned.gains, sparsity_gains: pruned.sparsity_gains,
        generation: {
          command: `nmc generate lm.nmb --prompt ${JSON.stringify(PROMPT)} -n ${GENERATED}`, text: PROMPT + gen.text, golden_text: PROMPT + genGolden.text,
          sampled: { temperature: SAMPLED.temperature, seed: SAMPLED.seed, text: PROMPT + genSampled.text },
          model_steps: gen.model_steps, per_token_event: perToken, per_token_dense: perTokenDense,
          energy_gain_vs_dense: gen.chip.energy_gain_vs_dense, activity_sparsity: gen.activity_sparsity,
        },
        dense_unpruned_model: { pes: dense.pes, combined_reduction: dense.combined_reduction, activity_sparsity_egru: dense.activity_sparsity_egru, weight_sparsity: dense.weight_sparsity, per_window: dense.per_window },
        per_window_pruned: pruned.per_window,
      },
      training: t,
    };
    writeFileSync(path.join(outDir, "results.json"), JSON.stringify(results, null, 2) + "\n");
    log(`wrote ${path.join(outDir, "results.json")}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
