// Black-box tests of `nmc compile` and of what it writes, through the built CLI: the quantization report and
// the golden engine's accuracy on the EGRU sMNIST example, pruning, `nmc inspect`, a damaged bundle refused
// byte by byte, usage errors, synthetic calibration, and atomic writes.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliResult, ensureBuilt, runNmcAsync } from "../support/cli.js";
import { encodeNpyF32 } from "../support/npy-lite.js";
import { makeRng, modelArtifacts, type ModelArtifacts, writeArtifacts } from "../support/random-model.js";
import type { ModelSpec } from "../support/reference.js";

let scratch = ""; // made in beforeAll

const nmc = (args: string[]) => runNmcAsync(args, { timeoutMs: 120_000 });

function ctx(r: CliResult): string {
  return `exit ${r.code}\n--- stderr ---\n${r.stderr}\n--- stdout ---\n${r.stdout.slice(0, 4000)}`;
}

function expectOk(r: CliResult): void {
  expect(r.code, ctx(r)).toBe(0);
  expect(r.stderr, ctx(r)).not.toMatch(/^\s+at /m);
}

/**
 * Exit code 2, one paragraph, no stack trace; every `mentions` entry (a string, a pattern, or a list
 * meaning "one of these") appears in stderr once the scratch directory is blanked out of it.
 */
function expectUserError(r: CliResult, mentions: (string | RegExp | (string | RegExp)[])[] = []): string {
  const err = r.stderr.split(scratch).join("<dir>");
  expect(r.code, ctx(r)).toBe(2);
  expect(err.trim().length, ctx(r)).toBeGreaterThan(0);
  expect(err, `stack trace on stderr:\n${ctx(r)}`).not.toContain("    at ");
  expect(err, `stack trace on stderr:\n${ctx(r)}`).not.toMatch(/^\s+at /m);
  expect(err, `uncaught error name on stderr:\n${ctx(r)}`).not.toMatch(/^\s*[A-Z]\w*Error(\s\[\w+\])?: /m);
  expect(err.trim(), `more than one paragraph:\n${ctx(r)}`).not.toMatch(/\n\s*\n/);
  expect(err, `internal error reported:\n${ctx(r)}`).not.toMatch(/internal error/);
  for (const m of mentions) {
    const options = Array.isArray(m) ? m : [m];
    const hit = options.some((o) => (typeof o === "string" ? err.includes(o) : o.test(err)));
    expect(hit, `stderr should mention ${options.map(String).join(" or ")}:\n${ctx(r)}`).toBe(true);
  }
  return err;
}

function parseJson<T = any>(r: CliResult): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch (e) {
    throw new Error(`stdout is not JSON (${(e as Error).message}):\n${ctx(r)}`);
  }
}

/** Runs the thunks at most `width` at a time (two cores: more would only queue in the OS). */
async function pool<T>(jobs: (() => Promise<T>)[], width = 2): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, worker));
  return out;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

// ---------------------------------------------------------------------------------------------------------
// A tiny random model: EGRU(3 → 4) → Dense(4 → 2), mean readout

const C = 3;
const H = 4;
const K = 2;

function tinySpec(seed = 5): ModelSpec {
  const rng = makeRng(seed);
  const u = (n: number) => Float64Array.from({ length: n }, () => Math.fround(2 * rng() - 1));
  return {
    inputWidth: C,
    layers: [
      {
        kind: "EGRU",
        name: "egru_1",
        inWidth: C,
        units: H,
        params: { kernel: u(C * 3 * H), recurrent_kernel: u(H * 3 * H), bias: u(3 * H), recurrent_bias: u(3 * H), thr: u(H).map((v) => Math.abs(v) * 0.5) },
      },
      { kind: "Dense", name: "dense_1", inWidth: H, units: K, activation: "linear", kernel: u(H * K), bias: u(K) },
    ],
  };
}

let dirNo = 0;

/** Writes the tiny model (after `edit`) into a fresh directory with no inputs/ folder; returns model.json. */
function tinyModel(edit: (a: ModelArtifacts) => void = () => {}): string {
  const a = modelArtifacts(tinySpec(), { metaReadout: "mean" });
  edit(a);
  return writeArtifacts(join(scratch, `model-${++dirNo}`), a);
}

function sinNpy(path: string, shape: number[], phase = 0): string {
  const n = shape.reduce((x, y) => x * y, 1);
  writeFileSync(path, encodeNpyF32(Array.from({ length: n }, (_, i) => Math.fround(Math.sin(0.37 * i + phase))), shape));
  return path;
}

// ---------------------------------------------------------------------------------------------------------

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), "nmc-compile-"));
  await ensureBuilt();
}, 300_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("nmc compile on examples/egru-smnist", () => {
  const model = "examples/egru-smnist/model.json";
  const x = "examples/egru-smnist/inputs/x.npy";
  const y = "examples/egru-smnist/inputs/y.npy";
  let bundle = "";
  let sparse = "";
  let compiled: CliResult;
  let compiledSparse: CliResult;

  beforeAll(async () => {
    bundle = join(scratch, "smnist.nmb");
    sparse = join(scratch, "smnist-s80.nmb");
    [compiled, compiledSparse] = await Promise.all([
      nmc(["compile", model, "-o", bundle, "--json"]),
      nmc(["compile", model, "-o", sparse, "--weight-sparsity", "0.8"]),
    ]);
  }, 180_000);

  it("default options: exit 0, a bundle, a JSON report with formats, calib.npy as source and ≥ 95% argmax agreement", () => {
    expectOk(compiled);
    expect(existsSync(bundle)).toBe(true);
    expect(compiled.stderr, "inputs/calib.npy is beside the model: no synthetic-calibration warning").not.toMatch(/synthetic/);
    const r = parseJson(compiled);
    expect(r.target).toBe("golden");
    expect(r.calibration.source).toMatch(/calib\.npy/);
    expect(r.calibration.samples).toBeGreaterThan(0);
    const pops = r.quantize.populations as any[];
    expect(pops.map((p) => p.kind)).toEqual(expect.arrayContaining(["Input", "EGRU", "Dense", "Readout"]));
    for (const p of pops) {
      expect(Number.isInteger(p.outFrac), `population ${p.name} has an output format`).toBe(true);
      expect(p.clipping.out, `population ${p.name} clipping`).toBeGreaterThanOrEqual(0);
      if (p.kind === "EGRU" || p.kind === "Dense") expect(Number.isInteger(p.accFrac), `population ${p.name} has an accumulator format`).toBe(true);
    }
    expect(r.quantize.weightBits).toBe(8);
    expect(r.quantize.lutBits).toBe(8);
    expect(r.error.output.argmaxAgreement).toBeGreaterThanOrEqual(0.95);
    expect(r.error.output.argmaxAgreement).toBeLessThanOrEqual(1);
    expect(r.error.populations.map((p: any) => p.name)).toEqual(pops.map((p) => p.name));
    expect(r.prune).toBeNull();
  });

  it("the golden run matches the float model's accuracy within 0.01 and reports sparsity and synaptic operations", async () => {
    expectOk(compiled);
    const [golden, float, bundleFloat] = await Promise.all([
      nmc(["run", bundle, "--input", x, "--labels", y, "--json"]),
      nmc(["run", model, "--input", x, "--labels", y, "--json"]),
      nmc(["run", bundle, "--engine", "float", "--input", x, "--labels", y, "--json"]),
    ]);
    for (const r of [golden, float, bundleFloat]) expectOk(r);
    const g = parseJson(golden);
    const f = parseJson(float);
    const bf = parseJson(bundleFloat);
    expect(g.engine).toBe("golden");
    expect(f.engine).toBe("float");
    expect(bf.engine).toBe("float");
    expect(g.samples).toBe(300);
    expect(typeof g.accuracy).toBe("number");
    expect(Math.abs(g.accuracy - f.accuracy), `golden ${g.accuracy} vs float ${f.accuracy}`).toBeLessThanOrEqual(0.01 + 1e-12);
    expect(g.activation_sparsity).toBeGreaterThanOrEqual(0);
    expect(g.activation_sparsity).toBeLessThanOrEqual(1);
    expect(g.connection_sparsity).toBeGreaterThanOrEqual(0);
    expect(g.connection_sparsity).toBeLessThan(1);
    expect(g.synaptic_operations.Dense).toBeGreaterThan(0);
    expect(g.synaptic_operations.Effective_MACs).toBeGreaterThan(0);
    expect(g.synaptic_operations.Effective_MACs).toBeLessThan(g.synaptic_operations.Dense);
    // The bundle's float IR (no pruning) is the model.json's graph: exactly the same accuracy.
    expect(bf.accuracy).toBe(f.accuracy);
  });

  it("--weight-sparsity 0.8: every projection is ≥ 80% zeros in the bundle and at run time", async () => {
    expectOk(compiledSparse);
    expect(compiledSparse.stdout).toMatch(/argmax agreement/);
    const [ins, run] = await Promise.all([
      nmc(["inspect", sparse, "--json"]),
      nmc(["run", sparse, "--input", x, "--labels", y, "--json"]),
    ]);
    expectOk(ins);
    expectOk(run);
    const s = parseJson(ins);
    expect(s.projections.length).toBeGreaterThan(0);
    for (const j of s.projections) {
      expect(j.weight_sparsity, `projection ${j.name}`).toBeGreaterThanOrEqual(0.8 - 1e-9);
      expect(j.nnz).toBeLessThanOrEqual(Math.ceil(0.2 * j.rows * j.cols));
      expect(j.dtype).toBe("i8");
    }
    expect(s.report.prune).not.toBeNull();
    const r = parseJson(run);
    expect(r.engine).toBe("golden");
    expect(r.connection_sparsity).toBeGreaterThanOrEqual(0.8 - 1e-9);
    for (const [name, v] of Object.entries(r.connection_sparsity_per_projection as Record<string, number>)) {
      expect(v, `projection ${name}`).toBeGreaterThanOrEqual(0.8 - 1e-9);
    }
  });

  it("nmc inspect lists the sections ir, ir.float, report and the populations; --json parses", async () => {
    expectOk(compiled);
    const [text, json] = await Promise.all([nmc(["inspect", bundle]), nmc(["inspect", bundle, "--json"])]);
    expectOk(text);
    expectOk(json);
    for (const name of ["ir", "ir.float", "report"]) expect(text.stdout, text.stdout).toMatch(new RegExp(`^\\s*${escapeRe(name)}\\s`, "m"));
    for (const pop of ["input", "egru", "head", "readout"]) expect(text.stdout, text.stdout).toMatch(new RegExp(`^\\s*${pop}\\s`, "m"));
    const s = parseJson(json);
    expect(s.sections.map((x: any) => x.name)).toEqual(["ir", "ir.float", "report"]);
    for (const sec of s.sections) {
      expect(sec.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(sec.offset % 64).toBe(0);
      expect(sec.length).toBeGreaterThan(0);
    }
    expect(s.manifest.target).toBe("golden");
    expect(s.quantization).not.toBeNull();
    const egru = s.populations.find((p: any) => p.name === "egru");
    expect(egru.kind).toBe("EGRU");
    expect(egru.formats.output).toMatch(/^i16 f\d+$/);
    expect(egru.formats.accum).toMatch(/^i32 f\d+$/);
    expect(s.projections.every((j: any) => typeof j.nnz === "number" && typeof j.weight_sparsity === "number")).toBe(true);
    expect(s.report.error.output.argmaxAgreement).toBeGreaterThanOrEqual(0.95);
    const last = s.sections[s.sections.length - 1];
    expect(last.offset + last.length).toBe(readFileSync(bundle).length);
  });
});

describe("a tiny compiled bundle", () => {
  let model = "";
  let calib = "";
  let input = "";
  let bundle = "";
  let bytes: Buffer;
  let sections: { name: string; offset: number; length: number }[] = [];

  beforeAll(async () => {
    model = tinyModel();
    const dir = join(model, "..");
    calib = sinNpy(join(dir, "calib.npy"), [8, 6, C]);
    input = sinNpy(join(dir, "x.npy"), [2, 5, C], 1);
    bundle = join(dir, "tiny.nmb");
    const r = await nmc(["compile", model, "--calibrate", calib, "-o", bundle, "-q"]);
    expectOk(r);
    expect(r.stdout, "-q prints nothing").toBe("");
    bytes = readFileSync(bundle);
    const ins = await nmc(["inspect", bundle, "--json"]);
    expectOk(ins);
    sections = parseJson(ins).sections;
  }, 120_000);

  it("runs on the golden engine and on its float IR", async () => {
    const [g, f] = await Promise.all([
      nmc(["run", bundle, "--input", input, "--json"]),
      nmc(["run", bundle, "--engine", "float", "--input", input, "--json"]),
    ]);
    expectOk(g);
    expectOk(f);
    expect(parseJson(g).engine).toBe("golden");
    expect(parseJson(g).output.shape).toEqual([2, K]);
    expect(parseJson(f).engine).toBe("float");
  });

  /** What a flip of the byte at `o` must be reported as: the part and the byte offset (one of these). */
  function expectedFailure(o: number): { node: string; at: number }[] {
    const manifestLength = bytes.readUInt32LE(8);
    if (o < 4) return [{ node: "header", at: 0 }];
    if (o < 6) return [{ node: "header", at: 4 }];
    if (o < 8) return [{ node: "header", at: 6 }];
    // A changed manifest length either runs past the end of the file or no longer matches the checksum.
    if (o < 12) return [{ node: "header", at: 8 }, { node: "manifest", at: 48 }];
    if (o < 16) return [{ node: "header", at: 12 }];
    if (o < 48 + manifestLength) return [{ node: "manifest", at: 48 }]; // the checksum, or the manifest itself
    let end = 48 + manifestLength;
    for (const s of sections) {
      if (o < s.offset) return [{ node: `section ${s.name}`, at: o }]; // padding before s (must be zero)
      if (o < s.offset + s.length) return [{ node: `section ${s.name}`, at: s.offset }];
      end = s.offset + s.length;
    }
    throw new Error(`offset ${o} is past the end of the file (${end})`);
  }

  function flipOffsets(): number[] {
    const L = bytes.length;
    const manifestLength = bytes.readUInt32LE(8);
    const set = new Set<number>([0, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15, 16, 30, 47]);
    const mEnd = 48 + manifestLength;
    for (const o of [48, 49, Math.floor((48 + mEnd) / 2), mEnd - 1]) set.add(o);
    let end = mEnd;
    for (const s of sections) {
      if (s.offset > end) set.add(end).add(s.offset - 1); // padding
      for (const o of [s.offset, s.offset + 1, s.offset + Math.floor(s.length / 2), s.offset + s.length - 1]) set.add(o);
      end = s.offset + s.length;
    }
    set.add(L - 1);
    return [...set].filter((o) => o >= 0 && o < L).sort((a, b) => a - b);
  }

  it("refuses a flipped byte anywhere (header, manifest, padding, each section) naming the part and the byte", async () => {
    expect(sections.map((s) => s.name)).toEqual(["ir", "ir.float", "report"]);
    const offsets = flipOffsets();
    expect(offsets.length).toBeGreaterThanOrEqual(35);
    const flipDir = join(scratch, "flips");
    mkdirSync(flipDir, { recursive: true });
    const jobs = offsets.map((o, i) => async () => {
      const damaged = Buffer.from(bytes);
      damaged[o] = damaged[o]! ^ 0xff;
      const file = join(flipDir, `flip-${i}.nmb`);
      writeFileSync(file, damaged);
      const args = i % 2 === 0 ? ["inspect", file] : ["run", file, "--input", input];
      return { o, args, r: await nmc(args) };
    });
    const results = await pool(jobs);
    for (const { o, args, r } of results) {
      const err = expectUserError(r, [`flip-`]);
      const want = expectedFailure(o);
      const ok = want.some(
        ({ node, at }) => new RegExp(`${escapeRe(node)}(?![\\w.])`).test(err) && new RegExp(`\\bbyte ${at}(?!\\d)`).test(err),
      );
      expect(ok, `flip at byte ${o} (nmc ${args[0]}): stderr should name ${want.map((w) => `"${w.node}" and "byte ${w.at}"`).join(" or ")}\n${ctx(r)}`).toBe(true);
    }
  }, 120_000);

  it("refuses a truncated file", async () => {
    const L = bytes.length;
    const manifestLength = bytes.readUInt32LE(8);
    const cuts = [0, 3, 20, 47, 48 + Math.floor(manifestLength / 2), sections[0]!.offset + 10, sections[1]!.offset, L - 1];
    const dir = join(scratch, "cuts");
    mkdirSync(dir, { recursive: true });
    const results = await pool(
      cuts.map((n, i) => async () => {
        const file = join(dir, `cut-${i}.nmb`);
        writeFileSync(file, bytes.subarray(0, n));
        const args = i % 2 === 0 ? ["inspect", file] : ["run", file, "--input", input];
        return { n, r: await nmc(args) };
      }),
    );
    for (const { n, r } of results) {
      const err = expectUserError(r, ["cut-", /\bbyte \d+/, ["header", "manifest", "section "]]);
      expect(err, `truncated to ${n} bytes`).toMatch(/nmc: error:/);
    }
  }, 120_000);

  describe("usage errors exit 2 with a clear message", () => {
    it("--engine golden on a model.json points at nmc compile", async () => {
      expectUserError(await nmc(["run", model, "--engine", "golden", "--input", input]), ["golden", "model.json", "compile"]);
    });

    it("--readout on a bundle", async () => {
      expectUserError(await nmc(["run", bundle, "--readout", "mean", "--input", input]), ["--readout", "tiny.nmb"]);
    });

    it("bad --weight-sparsity, --range, --bits, --lut-bits; missing -o", async () => {
      const out = join(scratch, "usage.nmb");
      const [ws, range, bits, noOut, lutBits] = await Promise.all([
        nmc(["compile", model, "--calibrate", calib, "-o", out, "--weight-sparsity", "1.5"]),
        nmc(["compile", model, "--calibrate", calib, "-o", out, "--range", "percentile:20"]),
        nmc(["compile", model, "--calibrate", calib, "-o", out, "--bits", "4"]),
        nmc(["compile", model, "--calibrate", calib]),
        nmc(["compile", model, "--calibrate", calib, "-o", out, "--lut-bits", "13"]),
      ]);
      expectUserError(ws, ["--weight-sparsity", "1.5"]);
      expectUserError(range, ["--range", "percentile:20"]);
      expectUserError(bits, ["--bits", "4"]);
      expectUserError(noOut, [["-o", "--out"]]);
      expectUserError(lutBits, ["--lut-bits", "13"]);
      expect(existsSync(out)).toBe(false);
    });

    it("--calibrate with a missing file or the wrong channel count names the file (and the expected shape)", async () => {
      const dir = join(scratch, "bad-calib");
      mkdirSync(dir, { recursive: true });
      const wide = sinNpy(join(dir, "wide-calib.npy"), [4, 6, C + 4]);
      const out = join(dir, "m.nmb");
      const [missing, wrong] = await Promise.all([
        nmc(["compile", model, "--calibrate", join(dir, "no-such-calib.npy"), "-o", out]),
        nmc(["compile", model, "--calibrate", wide, "-o", out]),
      ]);
      expectUserError(missing, ["no-such-calib.npy"]);
      expectUserError(wrong, ["wide-calib.npy", new RegExp(`(^|\\D)${C}(\\D|$)`), new RegExp(`(^|\\D)${C + 4}(\\D|$)`)]);
      expect(readdirSync(dir).sort()).toEqual(["wide-calib.npy"]);
    });

    it("a model whose last Dense has softmax (no quantized form) names the layer", async () => {
      const soft = tinyModel((a) => (a.json.modelTopology.config.layers[1].config.activation = "softmax"));
      // The float model runs: softmax is a valid activation, it only has no quantized form.
      expectOk(await nmc(["run", soft, "--input", input]));
      const out = join(scratch, "soft.nmb");
      expectUserError(await nmc(["compile", soft, "--calibrate", calib, "-o", out]), ["softmax", "dense_1"]);
      expect(existsSync(out)).toBe(false);
    });
  });

  it("without calibration data it compiles from synthetic inputs, with a warning", async () => {
    const m = tinyModel();
    const out = join(scratch, "synthetic.nmb");
    const r = await nmc(["compile", m, "-o", out, "--json"]);
    expectOk(r);
    expect(r.stderr).toMatch(/warning/);
    expect(r.stderr).toMatch(/synthetic/);
    expect(parseJson(r).calibration.source).toMatch(/synthetic/);
    expect(existsSync(out)).toBe(true);
    expectOk(await nmc(["run", out, "--input", input]));
  });

  describe("the bundle is written atomically", () => {
    it("into a directory that does not exist: exit 2, nothing left behind", async () => {
      const dir = join(scratch, "atomic-1");
      mkdirSync(dir);
      const r = await nmc(["compile", model, "--calibrate", calib, "-o", join(dir, "missing", "m.nmb")]);
      expectUserError(r, ["m.nmb"]);
      expect(readdirSync(dir)).toEqual([]);
    });

    it("a failing compile leaves an existing file as it was", async () => {
      const dir = join(scratch, "atomic-2");
      mkdirSync(dir);
      const target = join(dir, "existing.nmb");
      writeFileSync(target, bytes);
      const soft = tinyModel((a) => (a.json.modelTopology.config.layers[1].config.activation = "softmax"));
      const wide = sinNpy(join(scratch, "wide-2.npy"), [3, 4, C + 1]);
      const [r1, r2] = await Promise.all([
        nmc(["compile", soft, "--calibrate", calib, "-o", target]),
        nmc(["compile", model, "--calibrate", wide, "-o", target]),
      ]);
      expectUserError(r1, ["softmax"]);
      expectUserError(r2, ["wide-2.npy"]);
      expect(readFileSync(target).equals(bytes), "existing.nmb changed").toBe(true);
      expect(readdirSync(dir)).toEqual(["existing.nmb"]);
    });

    it("a write that fails at the rename (the target is a directory) leaves no temporary file", async () => {
      const dir = join(scratch, "atomic-3");
      mkdirSync(join(dir, "m.nmb"), { recursive: true });
      const r = await nmc(["compile", model, "--calibrate", calib, "-o", join(dir, "m.nmb")]);
      expectUserError(r, ["m.nmb"]);
      expect(readdirSync(dir)).toEqual(["m.nmb"]);
      expect(readdirSync(join(dir, "m.nmb"))).toEqual([]);
    });

    it("a successful compile replaces an existing file and leaves no temporary file", async () => {
      const dir = join(scratch, "atomic-4");
      mkdirSync(dir);
      const target = join(dir, "m.nmb");
      writeFileSync(target, "not a bundle");
      expectOk(await nmc(["compile", model, "--calibrate", calib, "-o", target, "-q"]));
      expect(readdirSync(dir)).toEqual(["m.nmb"]);
      expectOk(await nmc(["inspect", target]));
    });
  });
});
