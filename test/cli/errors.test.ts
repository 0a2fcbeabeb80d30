// Black-box: every malformed input a user can hand `nmc run` ends with exit code 2 and one paragraph on
// stderr that names the file and the layer or weight concerned — never a stack trace.
import { mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, ensureBuilt, runNmc } from "../support/cli.js";
import { encodeNpyF32 } from "../support/npy-lite.js";
import { makeRng, type ModelArtifacts, modelArtifacts, writeArtifacts } from "../support/random-model.js";
import type { ModelSpec } from "../support/reference.js";

let scratch = ""; // made in beforeAll
let caseNo = 0;

const C = 3;
const H = 4;
const K = 2;

/** EGRU(3 → 4) → Dense(4 → 2): the valid model every case below breaks in one place. */
function baseSpec(): ModelSpec {
  const rng = makeRng(11);
  const u = (n: number) => Float64Array.from({ length: n }, () => Math.fround(2 * rng() - 1));
  return {
    inputWidth: C,
    layers: [
      {
        kind: "EGRU",
        name: "egru_1",
        inWidth: C,
        units: H,
        params: { kernel: u(C * 3 * H), recurrent_kernel: u(H * 3 * H), bias: u(3 * H), recurrent_bias: u(3 * H), thr: u(H).map(Math.abs) },
      },
      { kind: "Dense", name: "dense_1", inWidth: H, units: K, activation: "linear", kernel: u(H * K), bias: u(K) },
    ],
  };
}

interface Fixture {
  dir: string;
  model: string;
  input: string;
  out: string;
}

/** Writes the base model (after `edit`) and a valid [2, 5, C] input into a fresh directory. */
function fixture(edit: (a: ModelArtifacts) => void = () => {}, inputName = "x.npy"): Fixture {
  const dir = join(scratch, `case-${++caseNo}`);
  const a = modelArtifacts(baseSpec());
  edit(a);
  const model = writeArtifacts(dir, a);
  const input = join(dir, inputName);
  writeFileSync(input, encodeNpyF32(new Array(2 * 5 * C).fill(0).map((_, i) => Math.sin(i)), [2, 5, C]));
  return { dir, model, input, out: join(dir, "y.npy") };
}

function run(f: Fixture, extra: string[] = []): CliResult {
  return runNmc(["run", f.model, "--engine", "float", "--input", f.input, "--out", f.out, ...extra]);
}

/** Byte range of one manifest entry in the single weights.bin shard. */
function entry(a: ModelArtifacts, name: string): { offset: number; bytes: number } {
  const e = a.entries.find((x) => x.name === name);
  if (!e) throw new Error(`no weight ${name} in the fixture`);
  return e;
}

function manifestWeights(a: ModelArtifacts): { name: string; shape: number[] }[] {
  return a.json.weightsManifest[0].weights;
}

function setBin(a: ModelArtifacts, bytes: Uint8Array): void {
  a.shards.set("weights.bin", bytes);
}

/** A shape written as "[3, 13]", "[3,13]", "(3, 13)" or "3x13". */
function shapePattern(shape: number[]): RegExp {
  return new RegExp(`(^|\\D)${shape.join("\\s*[,x×]\\s*")}(\\D|$)`);
}

/**
 * Exit code 2, one paragraph, no stack; every `mentions` entry (a string, a pattern, or a list meaning
 * "one of these") appears in stderr after the scratch directory is blanked out of it (its random name
 * could otherwise satisfy a digit check).
 */
function expectUserError(r: CliResult, mentions: (string | RegExp | (string | RegExp)[])[]): void {
  const err = r.stderr.split(scratch).join("<dir>");
  const ctx = `exit ${r.code}\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout}`;
  expect(r.code, ctx).toBe(2);
  expect(err.trim().length, ctx).toBeGreaterThan(0);
  expect(err, `stack trace on stderr:\n${ctx}`).not.toMatch(/^\s+at /m);
  expect(err, `uncaught error name on stderr:\n${ctx}`).not.toMatch(/^\s*[A-Z]\w*Error(\s\[\w+\])?: /m);
  expect(err.trim(), `more than one paragraph:\n${ctx}`).not.toMatch(/\n\s*\n/);
  for (const m of mentions) {
    const options = Array.isArray(m) ? m : [m];
    const hit = options.some((o) => (typeof o === "string" ? err.includes(o) : o.test(err)));
    expect(hit, `stderr should mention ${options.map(String).join(" or ")}:\n${ctx}`).toBe(true);
  }
}

describe("nmc run refuses malformed inputs with exit code 2 and a one-paragraph message", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "nmc-errors-"));
    await ensureBuilt();
  }, 300_000);
  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("the valid base fixture runs (so the cases below fail for their one defect)", () => {
    const r = run(fixture());
    expect(r.code, r.stderr).toBe(0);
  });

  it("model.json that is not JSON", () => {
    const f = fixture();
    writeFileSync(f.model, "{ \"format\": \"layers-model\", modelTopology: oops");
    expectUserError(run(f), ["model.json"]);
  });

  it("model.json without modelTopology", () => {
    const f = fixture((a) => delete a.json.modelTopology);
    expectUserError(run(f), ["model.json", "modelTopology"]);
  });

  it("an unknown layer class names the layer", () => {
    const f = fixture((a) => (a.json.modelTopology.config.layers[1].class_name = "Conv9D"));
    expectUserError(run(f), ["model.json", ["Conv9D", "dense_1"]]);
  });

  it("a weight missing from the manifest is named", () => {
    const f = fixture((a) => {
      const e = entry(a, "egru_1/thr");
      const bin = a.shards.get("weights.bin")!;
      setBin(a, new Uint8Array([...bin.subarray(0, e.offset), ...bin.subarray(e.offset + e.bytes)]));
      a.json.weightsManifest[0].weights = manifestWeights(a).filter((w) => w.name !== "egru_1/thr");
    });
    expectUserError(run(f), [["model.json", "weights.bin"], [/egru_1\/thr/, /egru_1.*\bthr\b/, /\bthr\b.*egru_1/]]);
  });

  it("a mis-shaped weight names the weight, the expected and the found shape", () => {
    const f = fixture((a) => {
      // egru_1/kernel stored as [3, 13] instead of [3, 12]; the shard stays consistent with the manifest.
      const e = entry(a, "egru_1/kernel");
      const bin = a.shards.get("weights.bin")!;
      const extra = new Uint8Array(4 * C);
      setBin(a, new Uint8Array([...bin.subarray(0, e.offset + e.bytes), ...extra, ...bin.subarray(e.offset + e.bytes)]));
      manifestWeights(a).find((w) => w.name === "egru_1/kernel")!.shape = [C, 3 * H + 1];
    });
    expectUserError(run(f), [
      ["model.json", "weights.bin"],
      [/egru_1\/kernel/, /egru_1.*\bkernel\b/, /\bkernel\b.*egru_1/],
      shapePattern([C, 3 * H]),
      shapePattern([C, 3 * H + 1]),
    ]);
  });

  it("a NaN weight is named", () => {
    const f = fixture((a) => {
      const e = entry(a, "egru_1/recurrent_kernel");
      const bin = a.shards.get("weights.bin")!.slice();
      new DataView(bin.buffer).setFloat32(e.offset + 4 * 5, Number.NaN, true);
      setBin(a, bin);
    });
    expectUserError(run(f), [
      ["model.json", "weights.bin"],
      [/egru_1\/recurrent_kernel/, /egru_1.*recurrent_kernel/, /recurrent_kernel.*egru_1/],
      /nan|finite/i,
    ]);
  });

  it("a truncated weights.bin", () => {
    const f = fixture((a) => setBin(a, a.shards.get("weights.bin")!.slice(0, -10)));
    expectUserError(run(f), ["weights.bin"]);
  });

  it("a missing shard file", () => {
    const f = fixture();
    unlinkSync(join(f.dir, "weights.bin"));
    expectUserError(run(f), ["weights.bin"]);
  });

  it("an input that is not a .npy file", () => {
    const f = fixture(undefined, "garbage-input.npy");
    writeFileSync(f.input, "this is not numpy\n");
    expectUserError(run(f), ["garbage-input.npy"]);
  });

  it("a .npy input whose data is shorter than its header says", () => {
    const f = fixture(undefined, "short-input.npy");
    const good = encodeNpyF32(new Array(2 * 5 * C).fill(0.5), [2, 5, C]);
    writeFileSync(f.input, good.subarray(0, good.length - 8));
    expectUserError(run(f), ["short-input.npy"]);
  });

  it("an input whose width does not match the model's (expected C, found C')", () => {
    const f = fixture(undefined, "wide-input.npy");
    writeFileSync(f.input, encodeNpyF32(new Array(2 * 5 * (C + 1)).fill(0.5), [2, 5, C + 1]));
    expectUserError(run(f), ["wide-input.npy", new RegExp(`(^|\\D)${C}(\\D|$)`), new RegExp(`(^|\\D)${C + 1}(\\D|$)`)]);
  });

  it("a model path that does not exist", () => {
    const f = fixture();
    const missing = join(f.dir, "no-such-model.json");
    const r = runNmc(["run", missing, "--engine", "float", "--input", f.input, "--out", f.out]);
    expectUserError(r, ["no-such-model.json"]);
  });

  it("an unknown --readout mode is a usage error", () => {
    expectUserError(run(fixture(), ["--readout", "median"]), [/readout/, /median/]);
  });
});
