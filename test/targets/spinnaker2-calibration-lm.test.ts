// The LM calibration's break-even table (targets/spinnaker2/calibration/lm.ts breakEven; issue 22 item 1): the
// committed lm.json is self-consistent. Every candidate closes the time gap it claims to (time ÷ paper 1 within the
// secant's 0.1 %), from the headline the figures table compares; each cause must grow from nmc's value (the model is
// faster than the paper); and the idle wait's energy is the headline's plus a wait at the run's static power, which
// the other entries bound. CALIBRATION.md shows the table (the kws test checks the whole file against both JSONs).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { CalibrationOut } from "../../targets/spinnaker2/calibration/markdown.js";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "targets", "spinnaker2", "calibration");
const lm = JSON.parse(readFileSync(join(dir, "lm.json"), "utf8")) as CalibrationOut;
const md = readFileSync(join(dir, "..", "CALIBRATION.md"), "utf8");

describe("spinnaker2 calibration, LM: what would close the time gap", () => {
  const b = lm.break_even!;
  it("starts from the headline the figures table compares", () => {
    expect(b).toBeDefined();
    const time = lm.figures.find((f) => f.id === "time_per_inference")!, energy = lm.figures.find((f) => f.id === "energy_per_inference")!;
    expect(b.headline_seconds).toBeCloseTo(time.predicted, 12);
    expect(b.headline_joules).toBeCloseTo(energy.predicted, 12);
    expect(b.headline_seconds).toBeLessThan(lm.paper.seconds);
  });
  it("every candidate closes the time gap, each by growing from nmc's value", () => {
    expect(b.candidates.map((c) => c.id)).toEqual(["synapse", "egru_unit", "tick_overhead", "idle_wait"]);
    for (const c of b.candidates) {
      expect(Math.abs(c.time_over_paper - 1), c.id).toBeLessThanOrEqual(1e-3);
      if (c.nominal !== undefined) {
        expect(c.break_even, c.id).toBeGreaterThan(c.nominal);
        expect(c.times_nominal!, c.id).toBeCloseTo(c.break_even / c.nominal, 9);
      }
    }
  });
  it("the idle wait is the missing time at static power: its energy lies between the headline's and the busiest candidate's", () => {
    const idle = b.candidates.find((c) => c.id === "idle_wait")!;
    const missing = lm.paper.seconds - b.headline_seconds;
    expect(idle.break_even).toBeCloseTo((1e6 * missing) / lm.headline.tokens, 6);
    const e = idle.energy_over_paper * lm.paper.joules;
    expect(e).toBeGreaterThan(b.headline_joules);
    for (const c of b.candidates) if (c.id !== "idle_wait") expect(e, c.id).toBeLessThan(c.energy_over_paper * lm.paper.joules);
  });
  it("CALIBRATION.md shows every candidate with its break-even value", () => {
    expect(md).toContain("## What would close the time gap (break-even values, not fits)");
    for (const c of b.candidates) expect(md).toContain(`| ${c.what} |`);
  });
});
