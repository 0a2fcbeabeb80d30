// The spinnaker2 target through the built `nmc` command, as a user runs it on the egru-smnist example:
// compile --target spinnaker2 (PE table), run on the simulator (accuracy = the golden engine's, the report's
// figures, event vs dense mode), verify against golden (bit-exact) and float (argmax agreement), and the
// hardware description commands (nmc hw, --hw files that are invalid or too small).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SPINNAKER2 } from "../../targets/spinnaker2/chip.js";
import { type CliResult, ensureBuilt, runNmcAsync } from "../support/cli.js";

const EX = "examples/egru-smnist";
const MODEL = `${EX}/model.json`;
const X = `${EX}/inputs/x.npy`;
const Y = `${EX}/inputs/y.npy`;

let dir = "";
let bundle = "";
let compiled: CliResult;

const show = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
const json = (r: CliResult): any => {
  expect(r.code, show(r)).toBe(0);
  return JSON.parse(r.stdout);
};

beforeAll(async () => {
  await ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "nmc-s2-cli-"));
  bundle = join(dir, "m.nmb");
  compiled = await runNmcAsync(["compile", MODEL, "--target", "spinnaker2", "-o", bundle]);
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("nmc compile --target spinnaker2", () => {
  it("exits 0 and prints the PE table", () => {
    expect(compiled.code, show(compiled)).toBe(0);
    const out = compiled.stdout;
    expect(out).toMatch(/spinnaker2: \d+ PEs on 1 chip\(s\); memory lower bound \d+ PEs/);
    expect(out).toMatch(/PE\s+location\s+population\s+units\s+SRAM bytes\s+of usable/);
    // One row per PE: the EGRU's slices cover its 128 units, then the head's 10.
    const rows = [...out.matchAll(/^\s*(\d+)\s+chip(\d+)\/qpe(\d+)\/core(\d+)\s+(\S+)\s+(\d+)\.\.(\d+)\s+(\d+)\s+([\d.]+)%$/gm)];
    expect(rows.length).toBeGreaterThanOrEqual(2);
    const pes = Number(/spinnaker2: (\d+) PEs/.exec(out)![1]);
    expect(rows.length).toBe(pes);
    rows.forEach((r, i) => expect(Number(r[1])).toBe(i));
    const cover = (pop: string) => rows.filter((r) => r[5] === pop).map((r) => [Number(r[6]), Number(r[7])]);
    const egru = cover("egru");
    expect(egru[0][0]).toBe(0);
    expect(egru[egru.length - 1][1]).toBe(127);
    for (let i = 1; i < egru.length; i++) expect(egru[i][0]).toBe(egru[i - 1][1] + 1);
    expect(cover("head")).toEqual([[0, 9]]);
    for (const r of rows) expect(Number(r[8])).toBeLessThanOrEqual(94208);
  });
});

describe("nmc run on a spinnaker2 bundle", () => {
  it("--json: engine spinnaker2, accuracy exactly the golden engine's, and the report's figures", async () => {
    const [s2, golden] = await Promise.all([
      runNmcAsync(["run", bundle, "--input", X, "--labels", Y, "--json"]),
      runNmcAsync(["run", bundle, "--input", X, "--labels", Y, "--engine", "golden", "--json"]),
    ]);
    const a = json(s2), b = json(golden);
    expect(a.engine).toBe("spinnaker2");
    expect(b.engine).toBe("golden");
    expect(a.accuracy).toBe(b.accuracy);
    expect(a.accuracy).toBeGreaterThan(0.9);
    expect(a.samples).toBe(300);
    expect(a.ticks).toBe(28);
    expect(a.mode).toBe("event");
    expect(a.activitySparsity.egru).toBeGreaterThan(0.5);
    expect(a.activitySparsity.egru).toBeLessThan(1);
    expect(a.activitySparsityOverall).toBeGreaterThan(0);
    for (const k of ["egru.kernel", "egru.recurrent_kernel", "head.kernel"]) {
      expect(a.weightSparsity[k]).toBeGreaterThanOrEqual(0);
      expect(a.weightSparsity[k]).toBeLessThan(1);
    }
    const ops = a.synapticOpsPerInference;
    // Dense operations per inference: Σ rows × cols × 28 ticks (28×384 + 128×384 + 128×10).
    expect(ops.dense).toBe((28 * 384 + 128 * 384 + 128 * 10) * 28);
    expect(ops.effective).toBeGreaterThan(0);
    expect(ops.effective).toBeLessThanOrEqual(Math.min(ops.activityOnly, ops.weightOnly));
    const e = a.perInference.energyJoules;
    expect(e.total).toBeGreaterThan(0);
    expect(e.total).toBeCloseTo(e.dynamic + e.static + e.noc, 15);
    expect(a.perInference).toEqual(a.eventMode);
    expect(a.gains.energy).toBeGreaterThan(1);
    expect(a.gains.energy).toBeLessThanOrEqual(a.gains.combined);
    expect(a.gains.combined).toBeCloseTo(ops.dense / ops.effective, 9);
    expect(a.pes).toBe(a.perPe.length);
  });

  it("the text report has the latency per tick and energy per inference", async () => {
    const r = await runNmcAsync(["run", bundle, "--input", X, "--labels", Y]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain("latency per tick");
    expect(r.stdout).toContain("energy per inference");
    expect(r.stdout).toMatch(/accuracy \d+\.\d+% \(300 samples\)/);
    expect(r.stdout).toMatch(/machine\s+\d+ PEs on 1 chip\(s\)/);
  });

  it("--mode dense reports more energy per inference than --mode event on the same bundle", async () => {
    const [ev, de] = await Promise.all([
      runNmcAsync(["run", bundle, "--input", X, "--mode", "event", "--json"]),
      runNmcAsync(["run", bundle, "--input", X, "--mode", "dense", "--json"]),
    ]);
    const a = json(ev), b = json(de);
    expect(a.mode).toBe("event");
    expect(b.mode).toBe("dense");
    expect(b.perInference.energyJoules.total).toBeGreaterThan(a.perInference.energyJoules.total);
    expect(b.perInference.latencySeconds).toBeGreaterThan(a.perInference.latencySeconds);
    // Both modes come from one measured run: the dense run's headline is the event run's dense column.
    expect(b.perInference).toEqual(a.denseMode);
    expect(b.gains).toEqual(a.gains);
  });
});

describe("nmc verify on a spinnaker2 bundle", () => {
  it("--against golden: bit-exact, exit 0", async () => {
    const r = await runNmcAsync(["verify", bundle, "--input", X, "--against", "golden"]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^bit-exact: spinnaker2 simulator \(\d+ PEs\) equals the golden engine on 300 sequences × 28 ticks/);
  });

  it("--against float: exit 0 with the argmax agreement", async () => {
    const r = await runNmcAsync(["verify", bundle, "--input", X, "--against", "float"]);
    expect(r.code, show(r)).toBe(0);
    const m = /argmax agreement (\d+\.\d+)%/.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThanOrEqual(98);
    const j = json(await runNmcAsync(["verify", bundle, "--input", X, "--against", "float", "--json"]));
    expect(j.ok).toBe(true);
    expect(j.argmax_agreement).toBeCloseTo(Number(m![1]) / 100, 4);
  });
});

describe("nmc hw", () => {
  it("prints the description with sources; --json prints one nmc accepts back", async () => {
    const [text, js] = await Promise.all([runNmcAsync(["hw"]), runNmcAsync(["hw", "--json"])]);
    expect(text.code, show(text)).toBe(0);
    expect(text.stdout).toContain("usable data SRAM per PE 94208 bytes");
    expect(text.stdout).toMatch(/chip\.pes\s+152\s+PE\s+primary\s+P: /);
    expect(text.stdout).toMatch(/grades: \d+ primary, \d+ secondary, \d+ derived, \d+ assumed/);
    // The per-synop energy in the literature's terms (issue 22 item 4): PL1 83 pJ dynamic = 10 cycles × 8.3 pJ.
    expect(text.stdout).toMatch(/PL1\s+83 pJ\s+153 pJ\s+186 pJ/);
    const hw = json(js);
    expect(hw).toEqual(JSON.parse(JSON.stringify(SPINNAKER2)));
    const file = join(dir, "same.json");
    writeFileSync(file, js.stdout);
    const again = await runNmcAsync(["hw", "--hw", file, "--json"]);
    expect(json(again)).toEqual(hw);
  });

  it("every figure of the default description has a grade that agrees with its source; --hw files may leave grades out", async () => {
    const figures: [string, { source: string; grade?: string }][] = [];
    const walk = (path: string, o: unknown): void => {
      if (o && typeof o === "object" && "source" in o) return void figures.push([path, o as { source: string; grade?: string }]);
      if (o && typeof o === "object") for (const [k, v] of Object.entries(o)) walk(`${path}.${k}`, v);
    };
    walk("hw", SPINNAKER2);
    expect(figures.length).toBeGreaterThan(40);
    for (const [path, f] of figures) {
      expect(f.grade, path).toBeDefined();
      // The source's own prefix says where it came from; the grade must not claim more.
      if (/^(nominal|assumed)/.test(f.source)) expect(f.grade, path).toBe("assumed");
      if (/^derived/.test(f.source)) expect(f.grade, path).toBe("derived");
      if (/^S:/.test(f.source)) expect(f.grade, path).toBe("secondary");
      if (f.grade === "primary") expect(f.source, path).toMatch(/^P: /);
    }
    const ungraded = JSON.parse(JSON.stringify(SPINNAKER2), (k, v) => (k === "grade" ? undefined : v));
    const file = join(dir, "ungraded.json");
    writeFileSync(file, JSON.stringify(ungraded));
    const r = await runNmcAsync(["hw", "--hw", file]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toMatch(/grades: \d+ ungraded/);
    const wrong = structuredClone(SPINNAKER2) as unknown as Record<string, any>;
    wrong.chip.pes.grade = "measured";
    writeFileSync(file, JSON.stringify(wrong));
    const r2 = await runNmcAsync(["hw", "--hw", file]);
    expect(r2.code, show(r2)).toBe(2);
    expect(r2.stderr).toContain(`${file}: chip.pes.grade: `);
  });

  it("--hw with an invalid description exits 2 naming the file and the JSON path", async () => {
    const bad = structuredClone(SPINNAKER2) as unknown as Record<string, any>;
    bad.noc.hop_cycles.value = -5;
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify(bad));
    const r = await runNmcAsync(["hw", "--hw", file]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toContain(`${file}: noc.hop_cycles.value: invalid hardware description`);
    const missing = structuredClone(SPINNAKER2) as unknown as Record<string, any>;
    delete missing.chip.pes_per_qpe;
    writeFileSync(file, JSON.stringify(missing));
    const r2 = await runNmcAsync(["hw", "--hw", file]);
    expect(r2.code, show(r2)).toBe(2);
    expect(r2.stderr).toContain(`${file}: chip.pes_per_qpe: `);
    writeFileSync(file, "{ not json");
    const r3 = await runNmcAsync(["hw", "--hw", file]);
    expect(r3.code, show(r3)).toBe(2);
    expect(r3.stderr).toContain(file);
  });

  it("compile --hw with an SRAM too small for one EGRU unit exits 2 naming the population", async () => {
    const tiny = structuredClone(SPINNAKER2);
    tiny.chip.sram_bytes_per_pe.value = tiny.chip.code_reserve_bytes.value + tiny.chip.buffer_bytes.value + 2000;
    const file = join(dir, "tiny.json");
    writeFileSync(file, JSON.stringify(tiny));
    const r = await runNmcAsync(["compile", MODEL, "--target", "spinnaker2", "--hw", file, "-o", join(dir, "tiny.nmb")]);
    expect(r.code, show(r)).toBe(2);
    expect(r.stderr).toMatch(/population egru does not fit a PE even one unit per PE/);
    expect(r.stderr).toContain("at most 2000 bytes of data per PE");
    expect(r.stderr).not.toContain("internal error");
  });

  it("a bundle compiled with a --hw description runs with it (more PEs with a smaller SRAM, same accuracy)", async () => {
    const small = structuredClone(SPINNAKER2);
    small.chip.sram_bytes_per_pe.value = small.chip.code_reserve_bytes.value + small.chip.buffer_bytes.value + 20000;
    const file = join(dir, "small.json");
    writeFileSync(file, JSON.stringify(small));
    const out = join(dir, "small.nmb");
    const c = await runNmcAsync(["compile", MODEL, "--target", "spinnaker2", "--hw", file, "-o", out]);
    expect(c.code, show(c)).toBe(0);
    const [a, b] = await Promise.all([
      runNmcAsync(["run", out, "--input", X, "--labels", Y, "--json"]),
      runNmcAsync(["run", bundle, "--input", X, "--labels", Y, "--json"]),
    ]);
    const ja = json(a), jb = json(b);
    expect(ja.pes).toBeGreaterThan(jb.pes);
    expect(ja.sram.maxBytes).toBeLessThanOrEqual(20000);
    expect(ja.accuracy).toBe(jb.accuracy);
    const v = await runNmcAsync(["verify", out, "--input", X, "--against", "golden"]);
    expect(v.code, show(v)).toBe(0);
    expect(v.stdout).toMatch(/^bit-exact/);
  });
});
