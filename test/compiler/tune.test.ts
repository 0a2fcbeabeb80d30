// nmc tune (compiler/tune): the gradual pruning schedule and the magnitude masks; masked fine-tuning that keeps
// pruned weights at exactly zero; the sparsity reached and reported equal to the weights written; int8
// fake-quantization that the quantize pass reproduces exactly; determinism with a seed; and the CLI (a tiny
// run, its files, its errors). Everything trains a tiny random EGRU for a few steps: nothing here trains long.
// The committed examples/egru-smnist-sparse figures are reproduced by `npm run tune:egru-smnist`, not here.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontend/index.js";
import { compileQuantized } from "../../compiler/pipeline.js";
import { cosineRate, isMaskStep, magnitudeMasks, type PruneSchedule, sparsityAt } from "../../compiler/tune/schedule.js";
import { splitIndices } from "../../compiler/tune/data.js";
import { tuneModel, type TuneData, type TuneOptions } from "../../compiler/tune/tune.js";
import { writeTunedModel } from "../../compiler/tune/write.js";
import { csrToDense } from "../../ir/builder.js";
import { loadFloatModel, registerNmcLayers, saveModelToDir } from "../../runtime/tfjs/index.js";
import { initBestBackend } from "../../runtime/tfjs/backend.js";
import { ensureBuilt, runNmc, runNmcAsync } from "../support/cli.js";
import { writeNpyF32 } from "../support/npy-lite.js";
import { seededRandom } from "../../examples/common/mnist.js";

const N = 120, T = 6, C = 4, H = 8, K = 3;

let scratch = "";
let modelFile = "";
let xFile = "";
let yFile = "";
let data: TuneData;

/** A tiny EGRU(8) → Dense(3) classifier with random weights, readout mean, saved as model.json + weights.bin. */
async function writeTinyModel(dir: string): Promise<string> {
  const { tf } = await initBestBackend();
  const { EGRU } = registerNmcLayers(tf);
  const model = tf.sequential({
    name: "tiny",
    layers: [
      new EGRU({ name: "egru", units: H, thrMean: 0.2, seed: 7, batchInputShape: [null, T, C] }) as unknown as import("@tensorflow/tfjs").layers.Layer,
      tf.layers.dense({ name: "head", units: K, kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) }),
    ],
  });
  await saveModelToDir(model, dir, { nmc: { readout: "mean" } });
  model.dispose();
  return join(dir, "model.json");
}

/** Inputs uniform in [0, 1), label = the channel (of the first K) with the largest sum over time. */
function tinyData(): TuneData {
  const rand = seededRandom(42);
  const x = new Float32Array(N * T * C).map(() => rand());
  const labels = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    const s = new Float64Array(K);
    for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) s[k] += x[(n * T + t) * C + k]!;
    labels[n] = s.indexOf(Math.max(...s));
  }
  return { x, shape: [N, T, C], labels };
}

const BASE: TuneOptions = { weightSparsity: 0.75, epochs: 4, batchSize: 20, learningRate: 5e-3, maskEvery: 2, rampEnd: 0.5, validation: 0.2, seed: 3, evaluateTrain: false };

async function tuneTiny(opts: Partial<TuneOptions> = {}) {
  const { model, tf } = await loadFloatModel(modelFile);
  const r = await tuneModel(tf, model, data, { ...BASE, ...opts }, "mean");
  return { ...r, tf };
}

/** Float32 weights of a written model by manifest name. */
function readWeights(model: string): Map<string, Float32Array> {
  const json = JSON.parse(readFileSync(model, "utf8"));
  const bin = readFileSync(join(model, "..", "weights.bin"));
  const out = new Map<string, Float32Array>();
  let off = 0;
  for (const w of json.weightsManifest[0].weights) {
    const n = w.shape.reduce((a: number, b: number) => a * b, 1);
    out.set(w.name, new Float32Array(bin.buffer.slice(bin.byteOffset + off, bin.byteOffset + off + 4 * n)));
    off += 4 * n;
  }
  return out;
}

const zeros = (a: Float32Array) => a.reduce((z, v) => z + (v === 0 ? 1 : 0), 0);

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "nmc-tune-"));
  modelFile = await writeTinyModel(join(scratch, "tiny"));
  data = tinyData();
  xFile = join(scratch, "x.npy");
  yFile = join(scratch, "y.npy");
  writeNpyF32(xFile, data.x, data.shape);
  writeNpyF32(yFile, Float32Array.from(data.labels), [N]);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the pruning schedule (Zhu & Gupta) and the magnitude masks", () => {
  const s: PruneSchedule = { initialSparsity: 0.1, finalSparsity: 0.9, startStep: 10, endStep: 110, every: 10 };

  it("rises as a cubic from s_i at t0 to s_f at t1 and stays there", () => {
    expect(sparsityAt(s, 0)).toBe(0.1);
    expect(sparsityAt(s, 10)).toBe(0.1);
    expect(sparsityAt(s, 60)).toBeCloseTo(0.9 + (0.1 - 0.9) * 0.5 ** 3, 12);
    expect(sparsityAt(s, 110)).toBe(0.9);
    expect(sparsityAt(s, 500)).toBe(0.9);
    for (let t = 1; t < 200; t++) expect(sparsityAt(s, t)).toBeGreaterThanOrEqual(sparsityAt(s, t - 1));
    const steps = Array.from({ length: 200 }, (_, t) => t).filter((t) => isMaskStep(s, t));
    expect(steps).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110]);
    expect(isMaskStep({ ...s, endStep: 105 }, 105)).toBe(true);
    expect(cosineRate(1, 0.1, 0, 11)).toBe(1);
    expect(cosineRate(1, 0.1, 10, 11)).toBeCloseTo(0.1, 12);
  });

  it("per projection: each weight reaches ceil(s·n) zeros, dropping the smallest magnitudes, ties by position", () => {
    const a = [0.5, -0.1, 0.3, 0, 0.2, 0.1];
    const b = [2, 1, 3, 4];
    const [ma, mb] = magnitudeMasks([{ name: "a", magnitude: a.map(Math.abs) }, { name: "b", magnitude: b }], 0.5, "projection");
    expect(Array.from(ma!)).toEqual([1, 0, 1, 0, 1, 0]); // 0, then |−0.1| (index 1) before 0.1 (index 5)… 3 of 6 dropped
    expect(Array.from(mb!)).toEqual([0, 0, 1, 1]);
  });

  it("global: one threshold over all weights", () => {
    const [ma, mb] = magnitudeMasks([{ name: "a", magnitude: [5, 1, 6] }, { name: "b", magnitude: [2, 3, 4, 0.5] }], 0.5, "global");
    // 7 entries, drop ceil(3.5) = 4: 0.5, 1, 2, 3
    expect(Array.from(ma!)).toEqual([1, 0, 1]);
    expect(Array.from(mb!)).toEqual([0, 0, 1, 0]);
  });

  it("splits the samples into disjoint fine-tuning and validation sets, the same for a seed", () => {
    const a = splitIndices(100, 0.2, 5), b = splitIndices(100, 0.2, 5), c = splitIndices(100, 20, 6);
    expect(a.validation.length).toBe(20);
    expect(a.fineTune.length).toBe(80);
    expect(new Set([...a.validation, ...a.fineTune]).size).toBe(100);
    expect(Array.from(a.validation)).toEqual(Array.from(b.validation));
    expect(Array.from(a.validation)).not.toEqual(Array.from(c.validation));
    expect(() => splitIndices(10, 10, 1)).toThrow(/validation split/);
  });
});

describe("tuneModel on a tiny EGRU", () => {
  it("keeps pruned weights at exactly zero through fine-tuning, reaches the target, and reports the written weights' sparsity", async () => {
    const { model, report, masks } = await tuneTiny();
    expect(report.schedule.steps).toBe(4 * Math.floor(96 / 20));
    expect(report.schedule.end_step).toBe(Math.round(0.5 * report.schedule.steps));
    // every prunable weight reaches the target exactly (ceil(s·n) zeros), biases and thresholds untouched
    expect(report.prunable.sort()).toEqual(["egru/kernel", "egru/recurrent_kernel", "head/kernel"]);
    expect(report.not_pruned).toEqual(expect.arrayContaining(["egru/bias", "egru/recurrent_bias", "egru/thr", "head/bias"]));
    for (const w of report.weights) {
      expect(w.zeros).toBe(Math.ceil(0.75 * w.size));
      expect(w.sparsity).toBeCloseTo(w.zeros / w.size, 12);
    }
    // the masked entries are exactly zero in the model, the rest are not
    for (const w of model.weights) {
      const name = w.originalName ?? w.name;
      const m = masks[name];
      if (!m) continue;
      const v = w.read().dataSync() as Float32Array;
      for (let i = 0; i < v.length; i++) expect(m[i] === 0 ? v[i] === 0 : v[i] !== 0).toBe(true);
    }
    // written: the manifest's weights have the reported zeros, and the IR projections the same sparsity
    const out = join(scratch, "lib-written");
    const written = writeTunedModel(modelFile, model, out);
    const ws = readWeights(written.model);
    for (const w of report.weights) expect(zeros(ws.get(w.weight)!)).toBe(w.zeros);
    const { graph } = loadModel(written.model);
    const byProjection: Record<string, string> = { "egru.kernel": "egru/kernel", "egru.recurrent_kernel": "egru/recurrent_kernel", "head.kernel": "head/kernel" };
    for (const p of graph.projections) {
      const w = report.weights.find((x) => x.weight === byProjection[p.name])!;
      expect(1 - p.weights.colIdx.length / (p.rows * p.cols)).toBeCloseTo(w.sparsity, 12);
    }
    // biases and thresholds are written unchanged in count (none pruned): no zeros appear in them
    expect(zeros(ws.get("egru/thr")!)).toBe(0);
    model.dispose();
  });

  it("after the ramp, the mask holds: the model computes every step with the final zeros", async () => {
    const { model: m0, tf } = await loadFloatModel(modelFile);
    const rkVar = m0.weights.find((w) => (w.originalName ?? w.name) === "egru/recurrent_kernel")!;
    const seen: { step: number; zero: Uint8Array }[] = [];
    const r = await tuneModel(tf, m0, data, {
      ...BASE,
      onStep: (p) => seen.push({ step: p.step, zero: Uint8Array.from(rkVar.read().dataSync() as Float32Array, (x) => (x === 0 ? 1 : 0)) }),
    }, "mean");
    const final = r.masks["egru/recurrent_kernel"]!;
    const t1 = r.report.schedule.end_step;
    const after = seen.filter((s) => s.step > t1); // the weights the steps after t1 ran with
    expect(after.length).toBeGreaterThan(3);
    for (const s of after) for (let i = 0; i < final.length; i++) expect(s.zero[i]).toBe(final[i] === 0 ? 1 : 0);
    // and the unpruned weights did move: fine-tuning happened
    const first = seen[0]!.zero.reduce((a, v) => a + v, 0);
    expect(first).toBeLessThan(Math.ceil(0.75 * final.length));
    expect(r.report.history.length).toBe(4);
    m0.dispose();
  });

  it("with qat, the written weights are on nmc's int8 grid: the quantize pass stores them without loss", async () => {
    const { model, report } = await tuneTiny({ qat: true, weightSparsity: 0.5 });
    const out = join(scratch, "qat-written");
    const written = writeTunedModel(modelFile, model, out);
    model.dispose();
    expect(report.weights.every((w) => w.fake_quantized)).toBe(true);
    const { graph } = loadModel(written.model);
    const r = compileQuantized(graph, { calibration: { data: data.x, shape: data.shape, label: "tiny" } });
    for (const p of graph.projections) {
      const q = r.quantized.projections.find((j) => j.name === p.name)!;
      // no weight was dropped by rounding, and integer × scale gives the float weight back
      expect(q.weights.colIdx.length).toBe(p.weights.colIdx.length);
      const dense = csrToDense(p.weights, p.rows, p.cols);
      const qd = csrToDense(q.weights, q.rows, q.cols);
      const scales = q.weights.values.quant!.scale as number[];
      for (let i = 0; i < dense.length; i++) {
        const col = i % p.cols;
        expect(Math.abs(qd[i]! * scales[col]! - dense[i]!)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(dense[i]!)));
      }
    }
  });

  it("is deterministic for a seed, and the seed matters", async () => {
    const a = await tuneTiny({ seed: 11 });
    const b = await tuneTiny({ seed: 11 });
    const c = await tuneTiny({ seed: 12 });
    const w = (m: typeof a.model) => m.weights.map((v) => Array.from(v.read().dataSync() as Float32Array));
    expect(w(a.model)).toEqual(w(b.model));
    expect(w(a.model)).not.toEqual(w(c.model));
    expect(a.report.history).toEqual(b.report.history.map((r, i) => ({ ...r, seconds: a.report.history[i]!.seconds })));
    for (const r of [a, b, c]) r.model.dispose();
  });

  it("epochs 0 prunes once, without fine-tuning", async () => {
    const { model, report } = await tuneTiny({ epochs: 0, weightSparsity: 0.6 });
    expect(report.schedule.steps).toBe(0);
    expect(report.history).toEqual([]);
    for (const w of report.weights) expect(w.zeros).toBe(Math.ceil(0.6 * w.size));
    model.dispose();
  });
});

describe("nmc tune (CLI)", () => {
  beforeAll(async () => {
    await ensureBuilt();
  });

  it("tunes a tiny model: model.json, weights.bin, calibration inputs and a report whose sparsity is the written weights'", async () => {
    const out = join(scratch, "cli-a");
    const r = await runNmcAsync(["tune", modelFile, "--input", xFile, "--labels", yFile, "--weight-sparsity", "0.7", "--epochs", "3", "--batch", "20",
      "--mask-every", "2", "--lr", "0.005", "--validation", "0.2", "--seed", "5", "--qat", "--json", "-o", out], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    for (const f of ["model.json", "weights.bin", "tune-report.json", join("inputs", "calib.npy")]) expect(existsSync(join(out, f))).toBe(true);
    expect(JSON.parse(readFileSync(join(out, "tune-report.json"), "utf8"))).toEqual(doc);
    expect(doc.data).toMatchObject({ samples: N, fine_tune: 96, validation: 24, classes: K });
    expect(doc.options).toMatchObject({ weight_sparsity: 0.7, epochs: 3, qat: true, scope: "projection" });
    expect(doc.schedule.formula).toMatch(/\(1 - \(t - t_0\) \/ \(t_1 - t_0\)\)\^3/);
    expect(doc.history).toHaveLength(3);
    for (const k of ["before", "after"]) {
      expect(doc.nmc[k].float.samples).toBe(24);
      expect(doc.nmc[k].int8.samples).toBe(24);
      expect(doc.nmc[k].float.accuracy).toBeGreaterThanOrEqual(0);
    }
    // the per-projection sparsity reported is the written weights'
    const ws = readWeights(join(out, "model.json"));
    const map: Record<string, string> = { "egru.kernel": "egru/kernel", "egru.recurrent_kernel": "egru/recurrent_kernel", "head.kernel": "head/kernel" };
    for (const [proj, s] of Object.entries(doc.weight_sparsity_per_projection as Record<string, number>)) {
      const w = ws.get(map[proj]!)!;
      expect(s).toBeCloseTo(zeros(w) / w.length, 12);
      expect(s).toBeGreaterThanOrEqual(0.7);
    }
    for (const w of doc.weights) expect(zeros(ws.get(w.weight)!)).toBe(w.zeros);
    // the tuned model runs as any model does
    const run = runNmc(["run", join(out, "model.json"), "--input", xFile, "--labels", yFile, "--json"]);
    expect(run.code, run.stderr).toBe(0);
  }, 180_000);

  it("is deterministic through the CLI: the same seed writes the same weights", async () => {
    const args = (o: string, seed: string) => ["tune", modelFile, "--input", xFile, "--labels", yFile, "--epochs", "2", "--batch", "24", "--seed", seed, "--quiet", "-o", o];
    const a = await runNmcAsync(args(join(scratch, "det-a"), "9"), { timeoutMs: 120_000 });
    const b = await runNmcAsync(args(join(scratch, "det-b"), "9"), { timeoutMs: 120_000 });
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(a.stdout).toBe("");
    expect(readFileSync(join(scratch, "det-a", "weights.bin")).equals(readFileSync(join(scratch, "det-b", "weights.bin")))).toBe(true);
  }, 180_000);

  it("has help with an example", () => {
    const r = runNmc(["tune", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples:\n\s+\$ nmc tune /);
    expect(r.stdout).toMatch(/--weight-sparsity/);
  });

  it("refuses bad inputs with exit 2 and a message naming the problem", () => {
    const bad = join(scratch, "bad");
    const badLabels = join(scratch, "y-short.npy");
    writeNpyF32(badLabels, new Float32Array(N - 1), [N - 1]);
    const fracLabels = join(scratch, "y-frac.npy");
    writeNpyF32(fracLabels, new Float32Array(N).fill(0.5), [N]);
    const notJson = join(scratch, "not-a-model.json");
    writeFileSync(notJson, "{");
    const base = ["tune", modelFile, "--input", xFile, "--labels", yFile, "-o", bad];
    const cases: [string[], RegExp][] = [
      [[...base, "--weight-sparsity", "1"], /--weight-sparsity/],
      [[...base, "--weight-sparsity", "abc"], /--weight-sparsity/],
      [[...base, "--epochs", "-1"], /--epochs/],
      [[...base, "--ramp", "0.6:0.2"], /--ramp/],
      [[...base, "--validation", "0"], /--validation/],
      [[...base, "--validation", String(N)], /validation split/],
      [[...base, "--activity-target", "1.5"], /--activity-target/],
      [[...base, "--prune-scope", "layer"], /prune-scope/],
      [["tune", modelFile, "--input", xFile, "--labels", badLabels, "-o", bad], /labels do not match/],
      [["tune", modelFile, "--input", xFile, "--labels", fracLabels, "-o", bad], /class indices/],
      [["tune", join(scratch, "missing.json"), "--input", xFile, "--labels", yFile, "-o", bad], /missing\.json/],
      [["tune", notJson, "--input", xFile, "--labels", yFile, "-o", bad], /not-a-model\.json/],
      [["tune", modelFile, "--input", join(scratch, "nope.npy"), "--labels", yFile, "-o", bad], /nope\.npy/],
      [["tune", modelFile, "--input", xFile, "--labels", yFile, "-o", join(scratch, "tiny")], /overwrite/],
      [["tune", modelFile, "--input", xFile, "-o", bad], /--labels/],
    ];
    for (const [args, msg] of cases) {
      const r = runNmc(args);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(msg);
      expect(r.stderr).not.toMatch(/internal error/);
    }
    expect(existsSync(bad)).toBe(false);
  });
});
