// Black-box: nmc run / verify / compile --calibrate read inputs beyond .npy (.npz, .json, event CSV).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ndarray } from "../../runtime/io/ndarray.js";
import { encodeNpy, readNpy } from "../../runtime/io/npy.js";
import { ensureBuilt, runNmcAsync } from "../support/cli.js";

const MODEL = "examples/ssm-events/model.json";
const EVENTS = "examples/ssm-events/inputs/events.csv";
const X = "examples/ssm-events/inputs/x.npy";
let dir = "";

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "nmc-inputs-cli-"));
  await ensureBuilt();
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first n sequences of the example's x.npy, as .npy and as JSON. */
function firstSequences(n: number): { npy: string; json: string } {
  const x = readNpy(X);
  const [, T, C] = x.shape as [number, number, number];
  const data = (x.data as Float32Array).slice(0, n * T * C);
  const npy = join(dir, `x${n}.npy`);
  writeFileSync(npy, encodeNpy(ndarray("f4", [n, T, C], data)));
  const nested = Array.from({ length: n }, (_, b) => Array.from({ length: T }, (_, t) => Array.from(data.subarray((b * T + t) * C, (b * T + t + 1) * C))));
  const json = join(dir, `x${n}.json`);
  writeFileSync(json, JSON.stringify(nested));
  return { npy, json };
}

describe("nmc run with other input formats", () => {
  it("runs the ssm-events model on events.csv (--dt 1) and reports the input as events", async () => {
    const r = await runNmcAsync(["run", MODEL, "--input", EVENTS, "--dt", "1", "--json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.input).toEqual({ file: EVENTS, shape: [1, 52, 28], dtype: "events" });
    expect(s.output.shape).toEqual([1, 10]);
  });

  it("events.csv with --ticks 56 gives exactly the output of the first digit of x.npy as JSON", async () => {
    const { json } = firstSequences(1);
    const a = join(dir, "ev.npy"), b = join(dir, "js.npy");
    const r1 = await runNmcAsync(["run", MODEL, "--input", EVENTS, "--dt", "1", "--ticks", "56", "--out", a]);
    const r2 = await runNmcAsync(["run", MODEL, "--input", json, "--out", b, "--json"]);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r2.code, r2.stderr).toBe(0);
    expect(JSON.parse(r2.stdout).input).toEqual({ file: json, shape: [1, 56, 28], dtype: "json" });
    expect(readFileSync(a)).toEqual(readFileSync(b));
  });

  it("a .json input gives the same outputs as the .npy it was made from", async () => {
    const { npy, json } = firstSequences(3);
    const a = join(dir, "from-npy.npy"), b = join(dir, "from-json.npy");
    const r1 = await runNmcAsync(["run", MODEL, "--input", npy, "--out", a, "--json"]);
    const r2 = await runNmcAsync(["run", MODEL, "--input", json, "--out", b]);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r2.code, r2.stderr).toBe(0);
    expect(JSON.parse(r1.stdout).input).toEqual({ file: npy, shape: [3, 56, 28], dtype: "f4" });
    expect(readFileSync(a)).toEqual(readFileSync(b));
  });

  it("a malformed event file exits 2 naming the file and line", async () => {
    const bad = join(dir, "bad.csv");
    writeFileSync(bad, "t,channel,value\n0,1,1\n3,28,1\n");
    const r = await runNmcAsync(["run", MODEL, "--input", bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("bad.csv: line 3");
    expect(r.stderr).toContain("[0, 28)");
    const r2 = await runNmcAsync(["run", MODEL, "--input", EVENTS, "--dt", "0"]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toContain("--dt");
  });

  it("compile --calibrate takes JSON, and verify takes an event CSV", async () => {
    const { json } = firstSequences(4);
    const bundle = join(dir, "s.nmb");
    const c = await runNmcAsync(["compile", MODEL, "-o", bundle, "--calibrate", json, "--json"], { timeoutMs: 120_000 });
    expect(c.code, c.stderr).toBe(0);
    expect(JSON.parse(c.stdout).calibration.source).toContain(json);
    const v = await runNmcAsync(["verify", bundle, "--input", EVENTS, "--dt", "1", "--ticks", "56", "--json"]);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, samples: 1, ticks: 56 });
  }, 120_000);

  it("help lists the formats and --dt / --ticks", async () => {
    for (const cmd of ["run", "verify"]) {
      const r = await runNmcAsync([cmd, "--help"]);
      expect(r.stdout).toMatch(/\.npz\[:name\]/);
      expect(r.stdout).toMatch(/\.json/);
      expect(r.stdout).toMatch(/--dt <seconds>/);
      expect(r.stdout).toMatch(/--ticks <n>/);
    }
  });
});
