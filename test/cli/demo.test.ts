// `nmc demo`, the README's main command, end to end through the built CLI.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, runNmcAsync } from "../support/cli.js";

let dir = "";
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), "nmc-demo-"));
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("nmc demo", () => {
  it("compiles, simulates, verifies and writes the bundle and the report (run from another directory)", async () => {
    const out = join(dir, "demo");
    const r = await runNmcAsync(["demo", "--out", out], { cwd: dir, timeoutMs: 240_000, env: { NMC_CUDA_CACHE: join(dir, "cache") } });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/VERDICT: PASS/);
    expect(r.stdout).toMatch(/energy per inference/);
    expect(existsSync(join(out, "model.nmb"))).toBe(true);
    const rep = JSON.parse(readFileSync(join(out, "report.json"), "utf8"));
    expect(rep.verification.golden.bit_exact).toBe(true);
    expect(rep.verification.golden.events).toBeGreaterThan(0);
    // The CUDA comparison runs wherever a C++ compiler exists (always, on this project's machines).
    expect(rep.verification.cuda.bit_exact ?? rep.verification.cuda.skipped).toBeTruthy();
    expect(rep.accuracy.samples).toBe(300);
    expect(Math.abs(rep.accuracy.float - rep.accuracy.spinnaker2)).toBeLessThanOrEqual(0.01);
    expect(rep.spinnaker2.gains.energy).toBeGreaterThan(1);
  }, 300_000);
});
