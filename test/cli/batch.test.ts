// Batch throughput through the built `nmc` command: `nmc run --workers N` (worker threads) gives exactly the
// one-thread result, and `nmc run --shard i/n --save` + `nmc merge` gives exactly the unsharded result — on
// the spinnaker2 simulator (outputs, accuracy, cycles, energy, per-PE counters, per-tick arrays, events),
// the golden engine and the float interpreter. Misuse (bad --workers / --shard, missing or duplicate
// shards, parts of another input) exits 2 with one clean paragraph; so does a failure inside a worker.
// 12 samples of egru-smnist keep it fast.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeTyped, encodeTyped } from "../../targets/run/result.js";
import { parseShard, parseWorkers, splitRange } from "../../targets/run/shard.js";
import { ndarray } from "../../runtime/io/ndarray.js";
import { readNpy, writeNpy } from "../../runtime/io/npy.js";
import { type CliResult, ensureBuilt, runNmcAsync } from "../support/cli.js";

const EX = "examples/egru-smnist";
const MODEL = `${EX}/model.json`;
const N = 12;

let dir = "";
let s2 = "";
let golden = "";
let x = "";
let y = "";
let x2 = "";

const show = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const ok = (r: CliResult): CliResult => {
  expect(r.code, show(r)).toBe(0);
  return r;
};
/** The JSON summary without the fields that say how it was run (timing, threads, shards, --out's name). */
const figures = (r: CliResult): Record<string, unknown> => {
  const j = JSON.parse(ok(r).stdout) as Record<string, unknown>;
  for (const k of ["seconds", "workers", "shard", "merged"]) delete j[k];
  delete (j.output as { file?: string }).file;
  return j;
};
const nmc = (...args: string[]) => runNmcAsync(args, { timeoutMs: 90_000 });
const noStack = (r: CliResult) => expect(r.stderr, show(r)).not.toMatch(/\n\s+at /);

beforeAll(async () => {
  await ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "nmc-batch-"));
  const xs = readNpy(`${EX}/inputs/x.npy`);
  const per = xs.shape[1] * xs.shape[2];
  x = join(dir, "x.npy");
  writeNpy(x, ndarray("f4", [N, xs.shape[1], xs.shape[2]], (xs.data as Float32Array).slice(0, N * per)));
  // Another input of the same shape (samples 12..23), for parts that must not merge.
  x2 = join(dir, "x2.npy");
  writeNpy(x2, ndarray("f4", [N, xs.shape[1], xs.shape[2]], (xs.data as Float32Array).slice(N * per, 2 * N * per)));
  const ys = readNpy(`${EX}/inputs/y.npy`);
  y = join(dir, "y.npy");
  writeNpy(y, ndarray(ys.dtype, [N], (ys.data as Int32Array).slice(0, N)));
  s2 = join(dir, "s.nmb");
  golden = join(dir, "g.nmb");
  const [a, b] = await Promise.all([
    nmc("compile", MODEL, "--target", "spinnaker2", "-o", s2, "--quiet"),
    nmc("compile", MODEL, "-o", golden, "--quiet"),
  ]);
  ok(a);
  ok(b);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("splitting and part encoding", () => {
  it("splitRange: contiguous, in order, covering every sample once, sizes differing by at most one", () => {
    for (const total of [0, 1, 2, 7, 12, 300]) {
      for (const parts of [1, 2, 3, 5, 13]) {
        const r = splitRange(total, parts);
        expect(r.length).toBe(parts);
        expect(r[0].start).toBe(0);
        expect(r[parts - 1].end).toBe(total);
        for (let i = 1; i < parts; i++) expect(r[i].start).toBe(r[i - 1].end);
        const sizes = r.map((x) => x.end - x.start);
        expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
        expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
      }
    }
  });

  it("parses --shard (1-based) and --workers", () => {
    expect(parseShard("2/3")).toEqual({ index: 2, count: 3 });
    expect(parseShard(" 1 / 1 ")).toEqual({ index: 1, count: 1 });
    for (const v of ["0/3", "4/3", "1/0", "x", "1/2/3", ""]) expect(() => parseShard(v)).toThrow(/invalid value for --shard/);
    expect(parseWorkers("3")).toBe(3);
    expect(parseWorkers("auto")).toBeGreaterThanOrEqual(1);
    expect(parseWorkers("0")).toBe(parseWorkers("auto"));
    for (const v of ["-1", "1.5", "two", "", "2000"]) expect(() => parseWorkers(v)).toThrow(/invalid value for --workers/);
  });

  it("typed arrays round-trip through part-file JSON bit for bit", () => {
    const v = { a: new Float64Array([0.1, -0, NaN, 1e308, -Infinity]), b: new Int32Array([-(2 ** 31), 7]), n: 3, s: "x", l: [new Float32Array([1.5])] };
    const back = decodeTyped(JSON.parse(JSON.stringify(encodeTyped(v)))) as typeof v;
    expect(back.a).toBeInstanceOf(Float64Array);
    expect(Buffer.from(back.a.buffer).equals(Buffer.from(v.a.buffer))).toBe(true);
    expect(Array.from(back.b)).toEqual(Array.from(v.b));
    expect(back.l[0]).toBeInstanceOf(Float32Array);
    expect(back.n).toBe(3);
    expect(back.s).toBe("x");
  });
});

describe("nmc run --workers", () => {
  it("spinnaker2: the report with 1, 2 and 5 workers is the one-thread report, outputs byte for byte", async () => {
    const base = ["run", s2, "--input", x, "--labels", y, "--json"];
    const [one, w1, w2, w5] = await Promise.all([
      nmc(...base, "--out", join(dir, "o.npy")),
      nmc(...base, "--workers", "1"),
      nmc(...base, "--workers", "2", "--out", join(dir, "o2.npy")),
      nmc(...base, "--workers", "5"),
    ]);
    const ref = figures(one);
    expect(ref.samples).toBe(N);
    expect(typeof ref.accuracy).toBe("number");
    expect((ref.perPe as unknown[]).length).toBeGreaterThan(1);
    expect((ref.tickSeconds as { event: number[] }).event.length).toBe(28);
    expect(figures(w1)).toEqual(ref);
    expect(figures(w2)).toEqual(ref);
    expect(figures(w5)).toEqual(ref);
    expect(JSON.parse(w2.stdout).workers).toBe(2);
    expect(readFileSync(join(dir, "o2.npy")).equals(readFileSync(join(dir, "o.npy")))).toBe(true);
  });

  it("golden and float engines: identical summaries; --workers auto and 0 use the available cores", async () => {
    const g = ["run", golden, "--input", x, "--labels", y, "--json"];
    const f = ["run", MODEL, "--input", x, "--labels", y, "--json"];
    const [g1, g3, gAuto, f1, f2, f0] = await Promise.all([
      nmc(...g), nmc(...g, "--workers", "3"), nmc(...g, "--workers", "auto"),
      nmc(...f), nmc(...f, "--workers", "2", "--precision", "f64"), nmc(...f, "--workers", "0"),
    ]);
    const ref = figures(g1);
    expect(ref.engine).toBe("golden");
    expect(figures(g3)).toEqual(ref);
    expect(figures(gAuto)).toEqual(ref);
    expect(JSON.parse(gAuto.stdout).workers).toBeGreaterThanOrEqual(1);
    const fref = figures(f1);
    expect(fref.engine).toBe("float");
    expect(figures(f2)).toEqual(fref);
    expect(figures(f0)).toEqual(fref);
  });

  it("the plain summary names the worker threads", async () => {
    const r = ok(await nmc("run", golden, "--input", x, "--workers", "2"));
    expect(r.stdout).toMatch(/^workers {2}2 worker threads$/m);
    expect(r.stdout).toMatch(/synaptic ops per sample/);
  });

  it("refuses bad --workers values, and --workers on the cuda engine, with exit 2", async () => {
    const cuda = join(dir, "c.nmb");
    const [bad1, bad2, compiled] = await Promise.all([
      nmc("run", golden, "--input", x, "--workers", "-1"),
      nmc("run", golden, "--input", x, "--workers", "two"),
      nmc("compile", MODEL, "--target", "cuda", "-o", cuda, "--quiet"),
    ]);
    for (const r of [bad1, bad2]) {
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toMatch(/^nmc: error: invalid value for --workers \(expected a number of worker threads in \[1, 1024\], or 0 \/ auto/);
    }
    ok(compiled);
    const c = await nmc("run", cuda, "--input", x, "--workers", "2");
    expect(c.code, show(c)).toBe(2);
    expect(c.stderr).toMatch(/--workers applies to the engines that run in nmc's own process/);
    noStack(c);
  });

  it("a failure inside a worker is the usual one-paragraph error (exit 2), or an internal error (exit 3), never a stack", async () => {
    const [e2, e3] = await Promise.all([
      runNmcAsync(["run", golden, "--input", x, "--workers", "2"], { env: { NMC_TEST_WORKER_FAULT: "nmc" } }),
      runNmcAsync(["run", s2, "--input", x, "--workers", "2"], { env: { NMC_TEST_WORKER_FAULT: "internal" } }),
    ]);
    expect(e2.code, show(e2)).toBe(2);
    expect(e2.stderr).toMatch(/^nmc: error: .*g\.nmb: injected worker failure \(NMC_TEST_WORKER_FAULT=nmc\)\. unset NMC_TEST_WORKER_FAULT\n$/);
    expect(e2.stdout).toBe("");
    expect(e3.code, show(e3)).toBe(3);
    expect(e3.stderr).toMatch(/^nmc: internal error: in a worker thread: injected internal failure/);
    noStack(e2);
    noStack(e3);
  });
});

describe("nmc run --shard and nmc merge", () => {
  it("spinnaker2: shards 1/3, 2/3, 3/3 merged (in any order) are the unsharded run, figures and outputs", async () => {
    const parts = [1, 2, 3].map((i) => join(dir, `s2-part-${i}.json`));
    const runs = await Promise.all([
      nmc("run", s2, "--input", x, "--labels", y, "--json", "--out", join(dir, "whole.npy")),
      ...parts.map((p, i) => nmc("run", s2, "--input", x, "--labels", y, "--shard", `${i + 1}/3`, "--save", p, "--json", ...(i === 1 ? ["--workers", "2"] : []))),
    ]);
    const whole = figures(runs[0]);
    const shard2 = JSON.parse(ok(runs[2]).stdout);
    expect(shard2.shard).toMatchObject({ index: 2, count: 3, start: 4, end: 8 });
    expect(shard2.samples).toBe(4);
    const merged = await nmc("merge", parts[2], parts[0], parts[1], "--json", "-o", join(dir, "merged.json"), "--out", join(dir, "merged.npy"));
    expect(figures(merged)).toEqual(whole);
    expect(JSON.parse(merged.stdout).merged).toMatchObject({ shards: 3, files: parts });
    expect(JSON.parse(readFileSync(join(dir, "merged.json"), "utf8"))).toEqual(JSON.parse(merged.stdout));
    expect(readFileSync(join(dir, "merged.npy")).equals(readFileSync(join(dir, "whole.npy")))).toBe(true);
    // The plain report too, line for line but for the merge line.
    const [plainRun, plainMerge, report] = await Promise.all([
      nmc("run", s2, "--input", x, "--labels", y),
      nmc("merge", ...parts),
      nmc("report", join(dir, "merged.json")),
    ]);
    const lines = ok(plainMerge).stdout.split("\n");
    expect(lines.find((l) => l.startsWith("merged   3 shards: "))).toBeDefined();
    expect(lines.filter((l) => !l.startsWith("merged   ")).join("\n")).toBe(ok(plainRun).stdout);
    expect(ok(report).stdout).toMatch(/per PE/);
  });

  it("golden: 5 uneven shards (3, 3, 2, 2, 2 samples) merge to the unsharded summary; labels from --labels", async () => {
    const parts = [1, 2, 3, 4, 5].map((i) => join(dir, `g-part-${i}.json`));
    const runs = await Promise.all([
      nmc("run", golden, "--input", x, "--labels", y, "--json"),
      ...parts.map((p, i) => nmc("run", golden, "--input", x, "--shard", `${i + 1}/5`, "--save", p, "--quiet")),
    ]);
    runs.forEach(ok);
    expect(runs[1].stdout).toMatch(/^shard {4}1\/5: samples 0\.\.2 of 12 -> /m);
    expect(runs[5].stdout).toMatch(/^shard {4}5\/5: samples 10\.\.11 of 12 -> /m);
    const merged = await nmc("merge", ...parts, "--labels", y, "--json");
    expect(figures(merged)).toEqual(figures(runs[0]));
  });

  it("refuses a missing shard, a duplicate, parts of another input, and files that are not parts (exit 2)", async () => {
    const a = [1, 2, 3].map((i) => join(dir, `s2-part-${i}.json`));
    const other = join(dir, "other-3.json");
    ok(await nmc("run", s2, "--input", x2, "--shard", "3/3", "--save", other, "--quiet"));
    const [missing, dup, mixed, notPart, garbage] = await Promise.all([
      nmc("merge", a[0], a[2]),
      nmc("merge", a[0], a[1], a[1], a[2]),
      nmc("merge", a[0], a[1], other),
      nmc("merge", a[0], a[1], y),
      nmc("merge", a[0], a[1], join(dir, "merged.json")),
    ]);
    for (const r of [missing, dup, mixed, notPart, garbage]) {
      expect(r.code, show(r)).toBe(2);
      expect(r.stdout).toBe("");
      noStack(r);
    }
    expect(missing.stderr).toMatch(/shard 2\/3 is missing \(expected all 3 shards of the run, each once, found 1\/3 from .*s2-part-1\.json, 3\/3 from .*s2-part-3\.json\)/);
    expect(dup.stderr).toMatch(/shard 2\/3 is given twice: .*s2-part-2\.json and .*s2-part-2\.json/);
    expect(mixed.stderr).toMatch(/other-3\.json.* is not a part of the same run as .*s2-part-1\.json: the inputs differ/);
    expect(notPart.stderr).toMatch(/y\.npy: line 1, column 1 \(character 0\): the part file is not valid JSON \(expected a file written by nmc run --shard i\/n --save part\.json/);
    expect(garbage.stderr).toMatch(/merged\.json: format: this is not a valid nmc part file \(expected "nmc-run-part"/);
  });

  // Regression (was a bug): readPart checked only that the result was an object of the right kind, so a part
  // file with a field deleted or mistyped crashed merge or the report (exit 3, "internal error").
  it("refuses hand-edited part files (a result field deleted or mistyped) with exit 2 naming the JSON path", async () => {
    const edit = (from: string, name: string, change: (result: Record<string, any>) => void) => {
      const j = JSON.parse(readFileSync(join(dir, from), "utf8"));
      change(j.result);
      const p = join(dir, name);
      writeFileSync(p, JSON.stringify(j));
      return p;
    };
    const s2parts = [1, 2, 3].map((i) => `s2-part-${i}.json`);
    const cases: [string[], RegExp][] = [
      [[edit(s2parts[0], "e-pes.json", (r) => delete r.run.pes), join(dir, s2parts[1]), join(dir, s2parts[2])], /e-pes\.json: result\.run\.pes: this is not a valid nmc part file/],
      [[edit(s2parts[0], "e-shape.json", (r) => (r.run.outputShape = null)), join(dir, s2parts[1]), join(dir, s2parts[2])], /e-shape\.json: result\.run\.outputShape:/],
      [[edit(s2parts[0], "e-out.json", (r) => delete r.run.output), join(dir, s2parts[1]), join(dir, s2parts[2])], /e-out\.json: result\.run\.output:/],
      [[edit(s2parts[0], "e-extra.json", (r) => (r.run.surprise = 1)), join(dir, s2parts[1]), join(dir, s2parts[2])], /e-extra\.json: result\.run:/],
      [[edit("g-part-1.json", "e-pops.json", (r) => delete r.counters.populations), ...[2, 3, 4, 5].map((i) => join(dir, `g-part-${i}.json`))], /e-pops\.json: result\.counters\.populations:/],
      [[edit("g-part-1.json", "e-len.json", (r) => (r.outputShape = [r.outputShape[0] + 1, ...r.outputShape.slice(1)])), ...[2, 3, 4, 5].map((i) => join(dir, `g-part-${i}.json`))], /e-len\.json: result\.output: .*values for shape/],
    ];
    const runs = await Promise.all(cases.map(([files]) => nmc("merge", ...files)));
    runs.forEach((r, i) => {
      expect(r.code, show(r)).toBe(2);
      noStack(r);
      expect(r.stderr).toMatch(cases[i]![1]);
    });
  });

  it("refuses bad --shard values and --shard without --save (exit 2)", async () => {
    const rs = await Promise.all([
      ...["0/3", "4/3", "3", "1/0"].map((v) => nmc("run", golden, "--input", x, "--shard", v, "--save", join(dir, "never.json"))),
      nmc("run", golden, "--input", x, "--shard", "1/2"),
      nmc("run", s2, "--input", x, "--shard", "1/2", "--save", join(dir, "never.json"), "--html", join(dir, "never.html")),
    ]);
    for (const r of rs.slice(0, 4)) {
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toMatch(/^nmc: error: invalid value for --shard \(expected i\/n with 1 ≤ i ≤ n \(1-based/);
    }
    expect(rs[4].code, show(rs[4])).toBe(2);
    expect(rs[4].stderr).toMatch(/--shard runs part of the samples .*add --save part-1\.json/);
    expect(rs[5].code, show(rs[5])).toBe(2);
    expect(rs[5].stderr).toMatch(/--html reports a whole run/);
  });
});

describe("help", () => {
  it("run --help and merge --help show the options with examples", async () => {
    const [run, merge] = await Promise.all([nmc("run", "--help"), nmc("merge", "--help")]);
    expect(ok(run).stdout).toMatch(/--workers <n>/);
    expect(run.stdout).toMatch(/--shard <i\/n>/);
    expect(run.stdout).toMatch(/\$ nmc run s\.nmb --input x\.npy --labels y\.npy --shard 2\/4 --save part-2\.json/);
    expect(ok(merge).stdout).toMatch(/Usage: nmc merge \[options\] <parts\.\.\.>/);
    expect(merge.stdout).toMatch(/Exit codes: 0 merged, 2/);
    expect(merge.stdout).toMatch(/\$ nmc merge part-1\.json part-2\.json part-3\.json/);
  });
});
