// The float interpreter agrees with the tfjs layers (runtime/tfjs) on the same model.json, to 1e-5
// relative error, on random models (EGRU, LRU, S5, Dense stacks, mixed; event-like and dense inputs).
//
// tfjs computes in float32 and the interpreter in float64, so an EGRU unit whose c lands within float32
// rounding of its threshold can legitimately fire in one and not the other. Such draws (|c − θ| < 1e-4
// somewhere, measured by the independent reference) are discarded with fc.pre and counted; every other
// draw must agree at the full tolerance.
//
// The error is normwise per sample: ‖nmc − tfjs‖∞ ≤ 1e-5 · max(1, ‖nmc‖∞) over the sample's [T, K] output.
// An element-wise bound is not attainable by any float32 engine: an SSM output of −0.59 computed as a
// difference of terms of size ~40 carries ~1e-5 of float32 rounding in tfjs (found by this test, seed
// −869114638), while nmc matched the float64 reference there to 1e-14. nmc's own element-wise accuracy
// is pinned by test/cli/run-vs-reference.test.ts against the independent float64 reference.
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontend/index.js";
import { runFloat } from "../../runtime/float/interpreter.js";
import { initBestBackend, loadFloatModel, predictFloat } from "../../runtime/tfjs/index.js";
import { type Family, modelCaseArb, writeCase } from "../support/random-model.js";
import { forwardBatch, newEgruStats } from "../support/reference.js";

const MARGIN = 1e-4;
let root: string;
let backend = "";

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "nmc-float-tfjs-"));
  backend = (await initBestBackend()).backend;
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function agree(family: Family, runs: number): Promise<{ checked: number; discarded: number }> {
  let checked = 0, discarded = 0, n = 0;
  await fc.assert(fc.asyncProperty(modelCaseArb(family, { readout: "none", single: false }), async (c) => {
    const stats = newEgruStats();
    forwardBatch(c.spec, c.input.data, c.input.B, c.input.T, undefined, stats);
    if (stats.minMargin < MARGIN) {
      discarded++;
      fc.pre(false);
    }
    const dir = join(root, `${family}-${n++}`);
    const { model } = writeCase(dir, c);
    const { B, T, C, data } = c.input;
    const ours = runFloat(loadModel(model).graph, { data, batch: B, ticks: T, channels: C }).output;
    const { model: tfModel, tf } = await loadFloatModel(model);
    const theirs = predictFloat(tfModel, Float32Array.from(data), [B, T, C], tf);
    tfModel.dispose();
    expect(theirs.length).toBe(ours.length);
    const per = ours.length / B;
    for (let b = 0; b < B; b++) {
      let norm = 0, err = 0, at = b * per;
      for (let i = b * per; i < (b + 1) * per; i++) {
        norm = Math.max(norm, Math.abs(ours[i]));
        const d = Math.abs(ours[i] - theirs[i]);
        if (!(d <= err)) { err = d; at = i; }
      }
      if (!(err <= 1e-5 * Math.max(1, norm))) {
        expect.fail(`sample ${b}: max error ${err} at element ${at} (nmc ${ours[at]} vs tfjs ${theirs[at]}), ‖nmc‖∞ = ${norm}, backend ${backend}`);
      }
    }
    checked++;
  }), { numRuns: runs, maxSkipsPerRun: 10 });
  return { checked, discarded };
}

describe("float interpreter vs tfjs layers on the same model.json", () => {
  for (const family of ["egru", "lru", "s5", "dense", "mixed"] as const) {
    it(`${family} models agree to 1e-5`, async () => {
      const { checked, discarded } = await agree(family, 25);
      expect(checked).toBeGreaterThanOrEqual(20);
      if (discarded) console.log(`${family}: ${discarded} draw(s) within ${MARGIN} of an EGRU threshold discarded`);
    });
  }
});
