// nmc generate: a tiny random-weight character LM (Embedding → EGRU → Dense over its vocabulary), built here,
// compiled for spinnaker2, generates the same tokens on the simulator and the golden engine; the stepping
// session gives the tokens the prefix re-run gives; models that cannot generate are refused by name (exit 2).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, runNmc } from "../support/cli.js";
import { seq, writeModel, type WeightSpec } from "../support/model-files.js";
import { seededRandom } from "../../runtime/random.js";
import { prepareJob } from "../../targets/run/job.js";
import { generate, generativeVocabulary, sampleToken, tokenize } from "../../targets/run/generate.js";
import { loadModel } from "../../compiler/frontend/index.js";

const VOCAB = [" ", "T", "a", "d", "e", "h", "i", "j", "l", "r", "s", "u", "y"];
const V = VOCAB.length, E = 6, H = 16;

function rnd(n: number, scale: number, seed: number): number[] {
  const r = seededRandom(seed);
  return Array.from({ length: n }, () => scale * (2 * r() - 1));
}

/** Embedding(V, E) → EGRU(H) → Dense(V), random weights; `meta` false: no vocabulary; `valuesInput`: EGRU first. */
function tinyLm(opts: { meta?: boolean; valuesInput?: boolean; readout?: boolean } = {}): string {
  const layers: unknown[] = [];
  const w: WeightSpec[] = [];
  if (!opts.valuesInput) {
    layers.push({ class_name: "Embedding", config: { name: "emb", input_dim: V, output_dim: E, batch_input_shape: [null, null] } });
    w.push({ name: "emb/embeddings", shape: [V, E], values: rnd(V * E, 1, 1) });
  }
  layers.push({ class_name: "EGRU", config: { name: "egru", units: H, ...(opts.valuesInput ? { batch_input_shape: [null, null, E] } : {}) } });
  w.push(
    { name: "egru/kernel", shape: [E, 3 * H], values: rnd(E * 3 * H, 0.8, 2) },
    { name: "egru/recurrent_kernel", shape: [H, 3 * H], values: rnd(H * 3 * H, 0.8, 3) },
    { name: "egru/bias", shape: [3 * H], values: rnd(3 * H, 0.1, 4) },
    { name: "egru/recurrent_bias", shape: [3 * H], values: rnd(3 * H, 0.1, 5) },
    { name: "egru/thr", shape: [H], values: rnd(H, 0.1, 6).map((x) => 0.2 + x) },
  );
  layers.push({ class_name: "Dense", config: { name: "head", units: V, activation: "linear" } });
  w.push({ name: "head/kernel", shape: [H, V], values: rnd(H * V, 2, 7) }, { name: "head/bias", shape: [V], values: rnd(V, 0.5, 8) });
  const nmc = { ...(opts.meta === false || opts.valuesInput ? {} : { vocabulary: VOCAB }), ...(opts.readout ? { readout: "mean" } : {}) };
  return writeModel(seq(layers), w, { userDefinedMetadata: { nmc } });
}

const dir = mkdtempSync(join(tmpdir(), "nmc-generate-"));
const compile = (model: string, out: string) => {
  const r = runNmc(["compile", model, "--target", "spinnaker2", "-o", join(dir, out), "--quiet"]);
  expect(r.code, r.stderr).toBe(0);
  return join(dir, out);
};

describe("nmc generate", () => {
  let lm: string;
  let bundle: string;
  beforeAll(async () => {
    await ensureBuilt();
    lm = tinyLm();
    bundle = compile(lm, "lm.nmb");
  });

  it("generates the same tokens on the spinnaker2 simulator and the golden engine, with per-token figures", () => {
    const args = ["generate", bundle, "--prompt", "The jury said", "-n", "12", "--temperature", "0.9", "--seed", "3", "--json"];
    const s2 = runNmc(args);
    expect(s2.code, s2.stderr).toBe(0);
    const g = runNmc([...args, "--engine", "golden"]);
    expect(g.code, g.stderr).toBe(0);
    const a = JSON.parse(s2.stdout), b = JSON.parse(g.stdout);
    expect(a.tokens).toHaveLength(12);
    expect(a.tokens).toEqual(b.tokens);
    expect(a.text).toBe(b.text);
    expect(a.text).toBe(a.token_strings.join(""));
    expect(a.prompt_tokens).toEqual([..."The jury said"].map((c) => VOCAB.indexOf(c)));
    expect(a.model_steps).toBe(13 + 12 - 1);
    expect(a.stepping).toBe("session");
    expect(a.vocabulary_mode).toBe("characters");
    // The simulator's figures: PEs, per-token latency and energy with its split, dense beside it.
    expect(a.chip.pes).toBeGreaterThanOrEqual(1);
    const e = a.chip.per_token.energy_joules;
    expect(e.total).toBeGreaterThan(0);
    expect(e.dynamic + e.static + e.noc).toBeCloseTo(e.total, 15);
    expect(a.chip.per_token.latency_seconds).toBeGreaterThanOrEqual(a.chip.per_token.tick_seconds);
    expect(a.chip.per_token_dense.energy_joules.total).toBeGreaterThanOrEqual(e.total);
    expect(a.chip.generated_tick_seconds).toHaveLength(12);
    expect(Object.keys(a.activity_sparsity.per_population)).toContain("egru");
    expect(b.chip).toBeNull();
    // Activity is counted identically by both engines.
    expect(b.activity_sparsity.per_population.egru).toBe(a.activity_sparsity.per_population.egru);
  });

  it("prints the prompt and its continuation, then the figures; argmax at temperature 0 is deterministic", () => {
    const r = runNmc(["generate", bundle, "--prompt", "The jury said", "-n", "6"]);
    expect(r.code, r.stderr).toBe(0);
    const first = r.stdout.split("\n")[0]!;
    expect(first.startsWith("The jury said")).toBe(true);
    expect(first.length).toBe("The jury said".length + 6);
    expect(r.stdout).toMatch(/per token\s+latency .* µs .*energy .* µJ = dynamic/);
    expect(r.stdout).toMatch(/chip\s+\d+ PEs/);
    expect(runNmc(["generate", bundle, "--prompt", "The jury said", "-n", "6"]).stdout).toBe(r.stdout);
    const q = runNmc(["generate", bundle, "--prompt", "The jury said", "-n", "6", "--quiet"]);
    expect(q.stdout).toBe(first + "\n");
  });

  it("the stepping session gives the tokens the prefix re-run gives", async () => {
    const job = await prepareJob({ model: bundle, engine: "golden" });
    const opts = { prompt: "Tha", count: 9, temperature: 0.7, seed: 11 };
    const stepped = generate(job, bundle, opts);
    const plain = generate({ ...job, loaded: { ...job.loaded!, session: undefined } }, bundle, opts);
    expect(stepped.stepping).toBe("session");
    expect(plain.stepping).toBe("prefix re-run");
    expect(stepped.tokens).toEqual(plain.tokens);
    const sim = await prepareJob({ model: bundle });
    expect(generate(sim, bundle, opts).tokens).toEqual(stepped.tokens);
  });

  it("samples: argmax at T = 0 (lowest index on ties), a softmax draw otherwise", () => {
    expect(sampleToken([1, 3, 3, 0], 0, 0.99)).toBe(1);
    expect(sampleToken([0, 0, 0, 0], 1, 0.6)).toBe(2);
    expect(sampleToken([-50, 0, -50], 1, 0.5)).toBe(1);
  });

  it("refuses models that cannot generate, naming why (exit 2)", () => {
    const values = tinyLm({ valuesInput: true });
    const r1 = runNmc(["generate", values, "--prompt", "Th"]);
    expect(r1.code).toBe(2);
    expect(r1.stderr).toMatch(/Embedding/);
    const refused = (file: string) => () => generativeVocabulary(loadModel(file).graph, file);
    expect(refused(tinyLm({ meta: false }))).toThrow(/carries no vocabulary/);
    expect(refused(tinyLm({ readout: true }))).toThrow(/one value per sequence \(a readout\)/);
    const v = generativeVocabulary(loadModel(lm).graph, lm);
    expect(() => tokenize(v, "The jury said!")).toThrow(/"!"/);
    expect(() => tokenize(v, "")).toThrow(/empty/);
    expect(runNmc(["generate", bundle, "--prompt", "Th", "-n", "0"]).code).toBe(2);
    expect(runNmc(["generate", bundle, "--prompt", "Th", "--bogus"]).code).toBe(2);
  });

  it("the vocabulary must name every token id (model.json is refused otherwise)", () => {
    const file = writeModel(seq([
      { class_name: "Embedding", config: { name: "emb", input_dim: 3, output_dim: 2, batch_input_shape: [null, null] } },
      { class_name: "Dense", config: { name: "head", units: 3 } },
    ]), [
      { name: "emb/embeddings", shape: [3, 2], values: rnd(6, 1, 1) },
      { name: "head/kernel", shape: [2, 3], values: rnd(6, 1, 2) }, { name: "head/bias", shape: [3], values: [0, 0, 0] },
    ], { userDefinedMetadata: { nmc: { vocabulary: ["a", "b"] } } });
    const r = runNmc(["ir", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/userDefinedMetadata\.nmc\.vocabulary/);
  });
});
