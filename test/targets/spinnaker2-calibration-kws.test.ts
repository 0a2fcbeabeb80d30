// The keyword-spotting calibration check (targets/spinnaker2/calibration/kws.ts; issue 22 item 5):
//  1. the published side is Yan et al. 2021's T_mm formula, hand-computed: 23,790 / 16,115 / 7,339 cycles for
//     the three layers and 47,245 in total (each rounded once to whole cycles);
//  2. the committed kws.json is what the code computes today (published and predicted side, every figure);
//  3. every entry has a source and a grade; compared figures carry model ÷ paper, the others none;
//  4. nmc's terms add up to its T_mm-equivalent and its total, and no cost constant was changed for the check;
//  5. CALIBRATION.md is the LM section (unchanged) followed by the KWS section, both from their JSON files.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { kwsCalibration, type KwsOut, LAYERS, publishedTmm, YAN_TMM } from "../../targets/spinnaker2/calibration/kws.js";
import { kwsMarkdown } from "../../targets/spinnaker2/calibration/kws-markdown.js";
import { calibrationMarkdown, type CalibrationOut } from "../../targets/spinnaker2/calibration/markdown.js";
import { SPINNAKER2 } from "../../targets/spinnaker2/chip.js";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "targets", "spinnaker2", "calibration");
const committed = JSON.parse(readFileSync(join(dir, "kws.json"), "utf8")) as KwsOut;
const fresh = JSON.parse(JSON.stringify(kwsCalibration())) as Omit<KwsOut, "script" | "date">;

/** a and b equal, numbers to 1e-9 relative (the JSON round trip and summation order), at every path. */
function expectSame(a: unknown, b: unknown, at = "$"): void {
  if (typeof a === "number" && typeof b === "number") {
    expect(Math.abs(a - b), `${at}: ${a} vs ${b}`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(b)));
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    expect(a.length, `${at}.length`).toBe(b.length);
    a.forEach((x, i) => expectSame(x, b[i], `${at}[${i}]`));
    return;
  }
  if (a && b && typeof a === "object" && typeof b === "object") {
    expect(Object.keys(a).sort(), `${at} keys`).toEqual(Object.keys(b).sort());
    for (const k of Object.keys(a)) expectSame((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${at}.${k}`);
    return;
  }
  expect(a, at).toEqual(b);
}

describe("spinnaker2 calibration, keyword spotting (Yan et al. 2021)", () => {
  it("the published T_mm: 0.13·N·D + 24.0·D + 5.38·N + 74.0, hand-computed per layer and in total", () => {
    expect(YAN_TMM).toEqual({ mac: 0.13, input: 24.0, output: 5.38, constant: 74.0 });
    expect(LAYERS.map((l) => [l.N, l.D])).toEqual([[256, 390], [256, 256], [29, 256]]);
    // 12,979.2 + 9,360 + 1,377.28 + 74; 8,519.68 + 6,144 + 1,377.28 + 74; 965.12 + 6,144 + 156.02 + 74.
    expect(LAYERS.map((l) => Math.round(publishedTmm(l.N, l.D)))).toEqual([23790, 16115, 7339]);
    const byId = Object.fromEntries(committed.figures.map((f) => [f.id, f]));
    expect([byId.t_mm_h1.published, byId.t_mm_h2.published, byId.t_mm_out.published, byId.t_mm_total.published]).toEqual([23790, 16115, 7339, 47245]);
    expect(byId.array_cycles_per_mac.published).toBe(0.13);
    committed.layers.forEach((l, i) => {
      expect(l.published).toBe([23790, 16115, 7339][i]);
      expect(l.published_terms.mac + l.published_terms.input + l.published_terms.output + l.published_terms.constant).toBeCloseTo(publishedTmm(l.N, l.D), 9);
    });
  });

  it("the committed kws.json is what kws.ts computes now (published and predicted side)", () => {
    const { script, date, ...rest } = committed;
    expect(script).toMatch(/kws\.ts/);
    expect(Number.isNaN(Date.parse(date))).toBe(false);
    expectSame(rest, fresh);
  });

  it("every entry has a source and a grade; compared figures carry model ÷ paper, reported ones none", () => {
    for (const f of committed.figures) {
      expect(f.source.length, f.id).toBeGreaterThan(0);
      expect(f.grade.length, f.id).toBeGreaterThan(0);
      expect(f.assumptions.length, f.id).toBeGreaterThan(0);
      expect(f.model_over_paper).toBeCloseTo(f.predicted / f.published, 12);
    }
    for (const f of committed.reported) {
      expect(f.source.length, f.id).toBeGreaterThan(0);
      expect(f.grade.length, f.id).toBeGreaterThan(0);
      expect(f.published).toBeNull();
      expect(f.model_over_paper).toBeNull();
      expect(f.predicted).toBeGreaterThan(0);
    }
    for (const c of committed.context) {
      expect(c.source.length, c.id).toBeGreaterThan(0);
      expect(c.grade.length, c.id).toBeGreaterThan(0);
      expect(c).not.toHaveProperty("model_over_paper");
    }
    expect(committed.paper.grade).toMatch(/S-verbatim/);
    expect(committed.limits.length).toBeGreaterThan(0);
  });

  it("nmc's terms add up to its T_mm-equivalent and total; the default description is unchanged by the check", () => {
    for (const l of fresh.layers) {
      expect(l.t_mm).toBeCloseTo(l.terms.mac + l.terms.input + l.terms.output + l.terms.constant, 6);
      expect(l.total).toBeCloseTo(l.t_mm + l.unit_and_tick, 6);
      expect(l.slices.reduce((a, s) => a + s.units, 0)).toBe(l.N);
      expect(l.pes).toBe(l.slices.length);
    }
    const total = fresh.figures.find((f) => f.id === "t_mm_total")!;
    expect(total.predicted).toBeCloseTo(fresh.layers.reduce((a, l) => a + l.t_mm, 0), 6);
    expect(fresh.setup.hardware).toBe(SPINNAKER2.name);
    expect(SPINNAKER2.mac.accumulator_bits.value).toBe(24);
    expect(fresh.setup.accumulator_bits).toBe(24);
  });

  it("CALIBRATION.md: the LM section from lm.json, then the KWS section from kws.json", () => {
    const md = readFileSync(join(dir, "..", "CALIBRATION.md"), "utf8");
    const lm = JSON.parse(readFileSync(join(dir, "lm.json"), "utf8")) as CalibrationOut;
    expect(md).toBe(`${calibrationMarkdown(lm)}\n${kwsMarkdown(committed)}`);
  });
});
