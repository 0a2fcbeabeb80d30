// Float fidelity of the quantized model is reported, not silent: inputs beyond the calibrated input format
// (nmc run and nmc verify warn with the count and the largest value, nmc run --json reports them; inputs
// inside the range say nothing), and nmc verify --against float's error per population.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ndarray, toFloat64 } from "../../runtime/io/ndarray.js";
import { readNpy, writeNpy } from "../../runtime/io/npy.js";
import { type CliResult, ensureBuilt, runNmcAsync } from "../support/cli.js";

const EX = "examples/egru-smnist";
let dir = "";
let bundle = "";
let scaled = "";
const show = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout.slice(0, 2000)}\nstderr:\n${r.stderr}`;

beforeAll(async () => {
  await ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "nmc-input-range-"));
  bundle = join(dir, "m.nmb");
  const c = await runNmcAsync(["compile", `${EX}/model.json`, "-o", bundle, "-q"]);
  expect(c.code, show(c)).toBe(0);
  // The first 20 digits, 4× brighter: pixels up to 4, beyond the ±2 the calibration (pixels in [0, 1]) chose.
  const x = readNpy(`${EX}/inputs/x.npy`);
  const per = x.shape[1] * x.shape[2];
  const v = toFloat64(x).subarray(0, 20 * per).map((p) => 4 * p);
  scaled = join(dir, "x4.npy");
  writeNpy(scaled, ndarray("f4", [20, x.shape[1], x.shape[2]], Float32Array.from(v)));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("inputs beyond the calibrated range", () => {
  it("nmc run warns with the count and the largest value, and --json reports them", async () => {
    const r = await runNmcAsync(["run", bundle, "--input", scaled, "--json"]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toMatch(/warning: \d+ of 15680 input values in .*x4\.npy .* lie beyond ±2(\.000)?, the input format \(int16, 14 fractional bits\).*saturate; the largest is \|x\| = 4/);
    const j = JSON.parse(r.stdout);
    expect(j.input_saturation.values).toBe(15680);
    expect(j.input_saturation.saturated).toBeGreaterThan(0);
    expect(j.input_saturation.max_abs).toBe(4);
  });

  it("nmc verify warns too; the committed inputs (inside the range) and the float engine say nothing", async () => {
    const [v, ok, fl] = await Promise.all([
      runNmcAsync(["verify", bundle, "--input", scaled]),
      runNmcAsync(["run", bundle, "--input", `${EX}/inputs/x.npy`, "--json"]),
      runNmcAsync(["run", `${EX}/model.json`, "--input", scaled, "--json"]),
    ]);
    expect(v.code, show(v)).toBe(0);
    expect(v.stderr).toMatch(/lie beyond ±2/);
    expect(ok.stderr).not.toMatch(/lie beyond/);
    expect(JSON.parse(ok.stdout).input_saturation).toBeUndefined();
    expect(fl.stderr).not.toMatch(/lie beyond/);
  });
});

describe("nmc verify --against float, per population", () => {
  it("reports every population's error against the float model; the input's is its rounding (≤ 2^-15)", async () => {
    const r = await runNmcAsync(["verify", bundle, "--input", `${EX}/inputs/x.npy`, "--against", "float", "--json"]);
    expect(r.code, show(r)).toBe(0);
    const j = JSON.parse(r.stdout) as { populations: { name: string; kind: string; max_abs_error: number; rms_error: number; event_agreement: number }[] };
    expect(j.populations.map((p) => p.name)).toEqual(["input", "egru", "head", "readout"]);
    for (const p of j.populations) {
      expect(p.rms_error).toBeLessThanOrEqual(p.max_abs_error);
      expect(p.event_agreement).toBeGreaterThan(0.9);
    }
    expect(j.populations[0].max_abs_error).toBeLessThanOrEqual(2 ** -15);
    const text = await runNmcAsync(["verify", bundle, "--input", `${EX}/inputs/x.npy`, "--against", "float"]);
    expect(text.stdout).toMatch(/per population[\s\S]*egru\s+EGRU/);
  });
});
