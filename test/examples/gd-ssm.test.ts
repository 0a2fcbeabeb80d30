// The GD-SSM example (examples/gd-ssm, issue 23): a diagonal linear recurrence with multiplicative gating that
// computes one step of gradient descent on in-context linear regression. Nothing is trained here.
// 1. Float: the construction, built by the example's library with tfjs and saved as model.json, run by nmc's
//    float engine on random tasks, equals the one-step-GD prediction η Σ y_i x_iᵀ x_q within 1e−5 relative.
// 2. Quantized: the committed model compiles for golden and spinnaker2 and `nmc verify --against golden` is
//    bit-exact on a few committed inputs (the built CLI, as a user runs it).
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontend/index.js";
import { FloatEngine } from "../../runtime/float/interpreter.js";
import { batchFromShape } from "../../runtime/batch.js";
import { ndarray } from "../../runtime/io/ndarray.js";
import { readNpy, writeNpy } from "../../runtime/io/npy.js";
import { initBestBackend, registerNmcLayers, saveModelToDir, type NmcLayerClasses, type Tf } from "../../runtime/tfjs/index.js";
import { buildGdSsm, gdPredict, gdSsmMetadata, makeTasks, optimalEta, setAnalytic } from "../../examples/gd-ssm/lib.js";
import { distMain, repoRoot, runNmc } from "../support/cli.js";

let tf: Tf;
let L: NmcLayerClasses;
const tmp = mkdtempSync(path.join(os.tmpdir(), "nmc-gd-ssm-"));

beforeAll(async () => {
  tf = (await initBestBackend()).tf;
  L = registerNmcLayers(tf);
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("gd-ssm: the construction in float", () => {
  it("nmc's float engine equals one step of GD, η Σ y_i x_iᵀ x_q, within 1e−5 relative", async () => {
    const d = 3, eta = optimalEta(d, 8);
    const model = buildGdSsm(tf, L, d);
    setAnalytic(tf, model, d, eta);
    const dir = path.join(tmp, "float");
    await saveModelToDir(model, dir, gdSsmMetadata(d, eta));
    const { graph } = loadModel(path.join(dir, "model.json"));
    for (const N of [1, 5, 12]) {
      const tasks = makeTasks(100 + N, 20, d, N);
      const T = N + 1;
      const run = new FloatEngine(graph).run(batchFromShape(graph, tasks.x, [tasks.count, T, d + 1]));
      expect(run.outputShape).toEqual([tasks.count, 1]);
      const gd = gdPredict(tasks.x, tasks.count, d, T, eta);
      let num = 0, den = 0;
      for (let b = 0; b < tasks.count; b++) {
        num = Math.max(num, Math.abs(run.output[b] - gd[b]));
        den = Math.max(den, Math.abs(gd[b]));
      }
      expect(num / den).toBeLessThan(1e-5);
    }
  });
});

const exDir = path.join(repoRoot, "examples", "gd-ssm");

describe.skipIf(!existsSync(path.join(exDir, "results.json")))("gd-ssm: results.json", () => {
  it("records the float check within 1e−5 and bit-exact verdicts for spinnaker2 and cuda", () => {
    const r = JSON.parse(readFileSync(path.join(exDir, "results.json"), "utf8")) as {
      float: { max_rel_error_vs_gd: number; icl_loss_by_N: { model_float_loss: number; gd_loss: number }[] };
      quantized: { cli: Record<string, { verdict?: { ok: boolean } }> };
    };
    expect(r.float.max_rel_error_vs_gd).toBeLessThan(1e-5);
    for (const row of r.float.icl_loss_by_N) expect(Math.abs(row.model_float_loss - row.gd_loss)).toBeLessThan(1e-4 * row.gd_loss);
    expect(r.quantized.cli.spinnaker2.verdict?.ok).toBe(true);
    expect(r.quantized.cli.cuda.verdict?.ok).toBe(true);
  });
});
const built = existsSync(distMain);

describe.skipIf(!built || !existsSync(path.join(exDir, "model.json")))("gd-ssm: the committed model, quantized", () => {
  let input: string;
  beforeAll(() => {
    const x = readNpy(path.join(exDir, "inputs", "x.npy"));
    const [, T, C] = x.shape;
    const n = 4;
    input = path.join(tmp, "few.npy");
    writeNpy(input, ndarray("f4", [n, T, C], Float32Array.from(x.data as ArrayLike<number>).subarray(0, n * T * C)));
  });
  for (const target of ["golden", "spinnaker2"] as const) {
    it(`compiles for ${target} and verifies bit-exact against golden`, () => {
      const bundle = path.join(tmp, `gd.${target}.nmb`);
      const c = runNmc(["compile", path.join(exDir, "model.json"), "--target", target, "-o", bundle, "-q"], { timeoutMs: 120_000 });
      expect(c.code, c.stderr).toBe(0);
      const v = runNmc(["verify", bundle, "--input", input, "--against", "golden", "--json"], { timeoutMs: 120_000 });
      expect(v.code, v.stderr + v.stdout).toBe(0);
      const verdict = JSON.parse(v.stdout) as { ok: boolean; mismatch: unknown; values_compared: number };
      expect(verdict.ok).toBe(true);
      expect(verdict.mismatch).toBeNull();
      expect(verdict.values_compared).toBeGreaterThan(0);
    });
  }
});
