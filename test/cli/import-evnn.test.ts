// `nmc import evnn`, black-box: every EvNN fixture (test/fixtures/evnn, made by EvNN's own code and by a numpy
// transcription of it that agrees to 1e-15) goes through `nmc import evnn` and `nmc run --engine float`, and the
// outputs must equal EvNN's within 1e-4 relative. Malformed checkpoints exit 2 naming the tensor or byte.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseSafetensors } from "../../runtime/io/safetensors.js";
import { readNpy } from "../../runtime/io/npy.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
import { type CliResult, ensureBuilt, repoRoot, runNmc } from "../support/cli.js";
import { encodeSafetensors, raw, type StTensor } from "../support/safetensors.js";

const FIX = join(repoRoot, "test", "fixtures", "evnn");
interface FixtureEntry {
  name: string;
  layout: "smnist" | "lm";
  dtype: string;
  zoneout: number;
  readout: string;
  layers: number;
  keys: string[];
  ignored: string[];
  thr_clamped: string[];
  files: string[];
}
const manifest = JSON.parse(readFileSync(join(FIX, "manifest.json"), "utf8")) as { fixtures: FixtureEntry[]; evnn_checked: boolean };

let scratch = "";
let n = 0;
const dir = () => join(scratch, `case-${n++}`);
beforeAll(async () => {
  await ensureBuilt();
  scratch = mkdtempSync(join(tmpdir(), "nmc-import-evnn-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Largest |a − b| over the largest |b|, after checking shapes. */
function relErr(got: { shape: number[]; data: Float64Array }, want: { shape: number[]; data: Float64Array }): number {
  expect(got.shape).toEqual(want.shape);
  let d = 0, m = 0;
  for (let i = 0; i < want.data.length; i++) {
    d = Math.max(d, Math.abs(got.data[i]! - want.data[i]!));
    m = Math.max(m, Math.abs(want.data[i]!));
  }
  return d / m;
}
const load = (f: string) => {
  const a = readNpy(f);
  return { shape: a.shape, data: toFloat64(a) };
};

function importOk(ckpt: string, out: string, extra: string[] = []): CliResult {
  const r = runNmc(["import", "evnn", ckpt, "-o", out, ...extra]);
  if (r.code !== 0) throw new Error(`nmc import evnn exited ${r.code}: ${r.stderr}`);
  return r;
}
function runFloat(model: string, x: string, out: string, extra: string[] = []): void {
  const r = runNmc(["run", model, "--engine", "float", "--input", x, "--out", out, "--quiet", ...extra]);
  if (r.code !== 0) throw new Error(`nmc run exited ${r.code}: ${r.stderr}`);
}

const measured: { fixture: string; format: string; vsTranscription: number; vsEvnn?: number }[] = [];

describe("nmc import evnn: every fixture equals EvNN's outputs on the float engine", () => {
  it("the fixtures were checked against EvNN itself", () => {
    expect(manifest.evnn_checked).toBe(true);
    expect(manifest.fixtures.length).toBeGreaterThanOrEqual(6);
    for (const f of manifest.fixtures) expect(f.files).toContain("y_evnn.npy");
  });

  for (const f of manifest.fixtures) {
    for (const format of ["safetensors", "npz"] as const) {
      const label = `${f.name} (.${format}, ${f.layers} layer${f.layers > 1 ? "s" : ""}, zoneout ${f.zoneout})`;
      it(label, () => {
        const out = dir();
        const zo = f.zoneout ? ["--zoneout", String(f.zoneout)] : [];
        const r = importOk(join(FIX, f.name, `ckpt.${format}`), out, [...zo, "--json"]);
        const summary = JSON.parse(r.stdout);
        expect(summary.layout).toBe(f.layout);
        expect(summary.readout).toBe(f.readout);
        expect(summary.zoneout).toBe(f.zoneout);
        expect([...summary.ignored].sort()).toEqual(f.ignored);
        expect(summary.thr_clamped.map((c: { key: string }) => c.key)).toEqual(f.thr_clamped);
        const y = join(out, "y.npy");
        runFloat(join(out, "model.json"), join(FIX, f.name, "x.npy"), y);
        const got = load(y);
        const e1 = relErr(got, load(join(FIX, f.name, "y.npy")));
        const e2 = relErr(got, load(join(FIX, f.name, "y_evnn.npy")));
        measured.push({ fixture: f.name, format, vsTranscription: e1, vsEvnn: e2 });
        expect(e1).toBeLessThan(1e-4);
        expect(e2).toBeLessThan(1e-4);
      });
    }
  }

  it("MNIST layout: --readout none gives every step's logits, --readout mean their mean", () => {
    const f = "smnist-2layer-wrapped-f16";
    const steps = load(join(FIX, f, "y_steps.npy"));
    const [B, T, K] = steps.shape as [number, number, number];
    const out = dir();
    importOk(join(FIX, f, "ckpt.safetensors"), out, ["--readout", "none", "--quiet"]);
    runFloat(join(out, "model.json"), join(FIX, f, "x.npy"), join(out, "y.npy"));
    expect(relErr(load(join(out, "y.npy")), steps)).toBeLessThan(1e-4);
    const out2 = dir();
    importOk(join(FIX, f, "ckpt.safetensors"), out2, ["--readout", "mean", "--quiet"]);
    runFloat(join(out2, "model.json"), join(FIX, f, "x.npy"), join(out2, "y.npy"));
    const mean = new Float64Array(B * K);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) mean[b * K + k] += steps.data[(b * T + t) * K + k]! / T;
    expect(relErr(load(join(out2, "y.npy")), { shape: [B, K], data: mean })).toBeLessThan(1e-4);
  });

  it("zoneout matters: the zoneout fixture imported without --zoneout does not match, and the output says to pass it", () => {
    const f = manifest.fixtures.find((x) => x.zoneout > 0 && x.layout === "smnist")!;
    const out = dir();
    const r = importOk(join(FIX, f.name, "ckpt.safetensors"), out);
    expect(r.stdout).toMatch(/zoneout\s+0 \(not stored in a checkpoint: .*--zoneout p\)/);
    runFloat(join(out, "model.json"), join(FIX, f.name, "x.npy"), join(out, "y.npy"));
    expect(relErr(load(join(out, "y.npy")), load(join(FIX, f.name, "y.npy")))).toBeGreaterThan(1e-3);
    const model = JSON.parse(readFileSync(join(out, "model.json"), "utf8"));
    expect(model.modelTopology.config.layers[0].config.zoneout).toBe(0);
  });

  it("text output: layers, ignored training-only tensors, clamped thresholds, the next command", () => {
    const out = dir();
    const r = importOk(join(FIX, "smnist-3layer-zoneout-f64", "ckpt.safetensors"), out, ["--zoneout", "0.25"]);
    expect(r.stdout).toMatch(/EvNN row-by-row MNIST model, safetensors/);
    expect(r.stdout).toMatch(/egru_2\s+EGRU\s+6 → 5\s+from rnn\.rnns\.2\.\*/);
    expect(r.stdout).toMatch(/hidden2out\s+Dense\s+5 → 3/);
    expect(r.stdout).toMatch(/next: nmc compile .*model\.json/);
    expect(r.stderr).toMatch(/warning: ignored training-only tensors .*rnn\.rnns\.0\.dampening_factor.*rnn\.rnns\.2\._max_norm/);
    expect(r.stderr).toMatch(/warning: rnn\.rnns\.1\.thr: 2 of 6 thresholds were outside \[0, 1\] and were clamped/);
    const model = JSON.parse(readFileSync(join(out, "model.json"), "utf8"));
    expect(model.userDefinedMetadata.nmc).toEqual({ readout: "last" });
    expect(model.modelTopology.config.layers.map((l: { config: { zoneout?: number } }) => l.config.zoneout)).toEqual([0.25, 0.25, 0.25, undefined]);
    const q = runNmc(["import", "evnn", join(FIX, "lm-1layer", "ckpt.npz"), "-o", dir(), "--quiet"]);
    expect(q.code).toBe(0);
    expect(q.stdout).toBe("");
  });

  it("the imported model compiles and runs on the golden engine", () => {
    const out = dir();
    importOk(join(FIX, "lm-3layer-tied", "ckpt.safetensors"), out, ["--quiet"]);
    const c = runNmc(["compile", join(out, "model.json"), "--calibrate", join(FIX, "lm-3layer-tied", "x.npy"), "-o", join(out, "m.nmb"), "--quiet"]);
    expect(c.code, c.stderr).toBe(0);
    const g = runNmc(["run", join(out, "m.nmb"), "--input", join(FIX, "lm-3layer-tied", "x.npy"), "--quiet"]);
    expect(g.code, g.stderr).toBe(0);
  });

  it("--help teaches: layouts, the PyTorch export line, examples", () => {
    const r = runNmc(["import", "evnn", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/save_file\(\{k: v\.contiguous\(\)\.clone\(\) for k, v in model\.state_dict\(\)\.items\(\)\}, "m\.safetensors"\)/);
    expect(r.stdout).toMatch(/\$ nmc import evnn .*--zoneout/);
    expect(r.stdout).toMatch(/hidden2out/);
    expect(runNmc(["--help"]).stdout).toMatch(/nmc import evnn/);
  });

  afterAll(() => {
    if (measured.length) {
      const worst = measured.reduce((a, b) => (b.vsTranscription > a.vsTranscription ? b : a));
      console.log(`import-evnn: ${measured.length} runs, max relative error vs transcription ${worst.vsTranscription.toExponential(2)} (${worst.fixture} .${worst.format}), ` +
        `vs EvNN ${Math.max(...measured.map((m) => m.vsEvnn ?? 0)).toExponential(2)}`);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Malformed checkpoints: exit 2, one paragraph naming the tensor or the byte.

/** The tensors of a fixture's safetensors file, as the test writer's input. */
function fixtureTensors(name: string): StTensor[] {
  const st = parseSafetensors(readFileSync(join(FIX, name, "ckpt.safetensors")));
  return [...st.tensors.values()].map((t) => ({ name: t.name, dtype: "F32", shape: t.array.shape, values: t.array.data as Float32Array }));
}

function refused(bytes: Uint8Array | string, ext: string, re: RegExp): string {
  const f = join(scratch, `bad-${n++}.${ext}`);
  writeFileSync(f, bytes);
  const r = runNmc(["import", "evnn", f, "-o", dir()]);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toContain(f);
  expect(r.stderr).toMatch(re);
  expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
  expect(r.stderr.trim().split("\n")).toHaveLength(1);
  return r.stderr;
}

describe("nmc import evnn: malformed checkpoints exit 2 naming the tensor or byte", () => {
  it("a truncated safetensors header", () => {
    const good = readFileSync(join(FIX, "smnist-1layer", "ckpt.safetensors"));
    refused(good.subarray(0, 40), "safetensors", /byte 0: the safetensors header runs past the end of the file \(expected a header of at most 32 bytes/);
    refused(good.subarray(0, 5), "safetensors", /byte 0: not a safetensors file: shorter than its 8-byte header length/);
    refused(good.subarray(0, good.length - 3), "safetensors", /byte \d+: tensor ".*": data_offsets \[\d+, \d+\] run past the end of the file/);
  });

  it("a wrong shape names the tensor, the expected and the found shape", () => {
    const t = fixtureTensors("smnist-3layer-zoneout-f64");
    const k = t.find((x) => x.name === "rnn.rnns.1.kernel")!;
    k.shape = [5, 18];
    k.values = new Float32Array(90);
    refused(encodeSafetensors(t), "safetensors", /rnn\.rnns\.1\.kernel: tensor rnn\.rnns\.1\.kernel has the wrong shape \(expected \[6, 18\] \(6 inputs from rnn\.rnns\.0, 3 × 6 gate columns\), found \[5, 18\]\)/);
    const t2 = fixtureTensors("smnist-1layer");
    const w = t2.find((x) => x.name === "hidden2out.weight")!;
    w.shape = [8, 10]; // transposed: torch Linear weights are [out, in]
    refused(encodeSafetensors(t2), "safetensors", /hidden2out\.weight: tensor hidden2out\.weight has the wrong shape \(expected \[10, 8\] \(torch\.nn\.Linear \[out, in\]; 8 inputs from rnn\.rnns\.0, 10 outputs\), found \[8, 10\]\)/);
  });

  it("a missing layer names it", () => {
    const t = fixtureTensors("lm-3layer-tied").filter((x) => !x.name.startsWith("rnns.1."));
    refused(encodeSafetensors(t), "safetensors", /rnns\.1: EGRU layer rnns\.1 is missing \(expected layers rnns\.0 … rnns\.2 without gaps, found only rnns\.0, rnns\.2\)/);
    const t2 = fixtureTensors("smnist-1layer").filter((x) => x.name !== "rnn.rnns.0.thr");
    refused(encodeSafetensors(t2), "safetensors", /rnn\.rnns\.0\.thr: tensor rnn\.rnns\.0\.thr is missing/);
  });

  it("NaN and Inf weights name the tensor and the element", () => {
    const t = fixtureTensors("smnist-1layer");
    const k = t.find((x) => x.name === "rnn.rnns.0.recurrent_kernel")!;
    const v = Float32Array.from(k.values);
    v[2 * 24 + 5] = NaN;
    k.values = v;
    refused(encodeSafetensors(t), "safetensors", /rnn\.rnns\.0\.recurrent_kernel: tensor rnn\.rnns\.0\.recurrent_kernel element \[2, 5\] is NaN/);
    const t2 = fixtureTensors("lm-1layer");
    const e = t2.find((x) => x.name === "embeddings.weight")!;
    e.values = Float32Array.from(e.values, (x, i) => (i === 7 ? -Infinity : x));
    refused(encodeSafetensors(t2), "safetensors", /embeddings\.weight element \[1, 2\] is -Inf/);
  });

  it("an unknown key is refused by name", () => {
    const t = fixtureTensors("smnist-1layer");
    t.push({ name: "rnn.rnns.0.weight_ih", dtype: "F32", shape: [2], values: [1, 2] });
    refused(encodeSafetensors(t), "safetensors", /rnn\.rnns\.0\.weight_ih: unknown tensor rnn\.rnns\.0\.weight_ih in an EvNN MNIST model/);
    const t2 = fixtureTensors("lm-1layer");
    t2.push({ name: "encoder.weight", dtype: "F32", shape: [1], values: [0] });
    refused(encodeSafetensors(t2), "safetensors", /encoder\.weight: unknown tensor encoder\.weight in an EvNN language model/);
    refused(encodeSafetensors([{ name: "fc.weight", dtype: "F32", shape: [1], values: [0] }]), "safetensors", /the checkpoint holds no EvNN EGRU model .*found fc\.weight/);
  });

  it("a PyTorch pickle (.pt) is refused with the one-line export", () => {
    const zip = Buffer.concat([Buffer.from("PK\x03\x04", "latin1"), Buffer.alloc(26), Buffer.from("archive/data.pkl")]);
    const e = refused(zip, "pt", /\.pt is a PyTorch checkpoint \(torch\.save\): nmc does not read PyTorch pickles/);
    expect(e).toMatch(/save_file\(\{k: v\.contiguous\(\)\.clone\(\) for k, v in torch\.load\('.*\.pt', map_location='cpu'\)\.items\(\)\}, 'm\.safetensors'\)/);
    refused(Buffer.from([0x80, 0x02, 0x7d, 0x71, 0x00]), "bin", /this is a PyTorch checkpoint \(torch\.save\)/);
  });

  it("overlapping data offsets name the tensor and the byte", () => {
    const data = new Uint8Array(16);
    const bytes = raw({ "rnns.0.thr": { dtype: "F32", shape: [2], data_offsets: [0, 8] }, "rnns.0.bias": { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, data);
    refused(bytes, "safetensors", /byte \d+: tensor "rnns\.0\.bias": data_offsets \[4, 12\] overlaps tensor "rnns\.0\.thr", which ends at 8/);
  });

  it("bad options: --zoneout out of range, an unknown --readout", () => {
    const ck = join(FIX, "smnist-1layer", "ckpt.safetensors");
    const r = runNmc(["import", "evnn", ck, "-o", dir(), "--zoneout", "1"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/invalid value for --zoneout \(expected the EGRU's zoneout probability, a number in \[0, 1\), found "1"\)/);
    expect(runNmc(["import", "evnn", ck, "-o", dir(), "--readout", "sum2"]).code).toBe(2);
    expect(runNmc(["import", "evnn", ck]).code).toBe(2); // -o is required
  });

  it("a missing file", () => {
    const r = runNmc(["import", "evnn", join(scratch, "nope.safetensors"), "-o", dir()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nope\.safetensors: cannot read the checkpoint: no such file/);
  });
});

