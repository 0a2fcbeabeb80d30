// The quantization figures the example READMEs quote (examples/<name>/quantization.json, written by
// `npm run examples:quantization`) must be what compiling the committed model gives today: this recompiles
// the default and the 80 %-pruned configurations in process and re-measures them on the committed inputs.
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontend/index.js";
import { compileQuantized, type CompileOptions } from "../../compiler/pipeline.js";
import { FloatEngine } from "../../runtime/float/interpreter.js";
import { GoldenEngine } from "../../runtime/golden/interpreter.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
import { readNpy } from "../../runtime/io/npy.js";
import { argmaxRows, countEqual } from "../../runtime/metrics.js";
import { repoRoot } from "../support/cli.js";

const CASES: [string, string, Partial<CompileOptions>][] = [
  ["egru-smnist", "int8 weights, int16 states (default)", {}],
  ["egru-smnist", "80% weight sparsity, per projection", { weightSparsity: 0.8 }],
  ["ssm-events", "int8 weights, int16 states (default)", {}],
  ["ssm-events", "80% weight sparsity, per projection", { weightSparsity: 0.8 }],
];

describe("examples: recorded quantization results", () => {
  for (const [ex, config, options] of CASES) {
    it(`${ex}: ${config} reproduces quantization.json on the committed inputs`, () => {
      const dir = path.join(repoRoot, "examples", ex);
      const rec = JSON.parse(readFileSync(path.join(dir, "quantization.json"), "utf8"));
      const entry = rec.results.find((r: { config: string }) => r.config === config);
      expect(entry, `no entry ${config}`).toBeDefined();
      const { graph } = loadModel(path.join(dir, "model.json"));
      const cal = readNpy(path.join(dir, "inputs", "calib.npy"));
      const r = compileQuantized(graph, { calibration: { data: toFloat64(cal), shape: cal.shape, label: "calib" }, ...options });
      const x = readNpy(path.join(dir, "inputs", "x.npy"));
      const y = toFloat64(readNpy(path.join(dir, "inputs", "y.npy")));
      const batch = { data: toFloat64(x), batch: x.shape[0], ticks: x.shape[1], channels: x.shape[2] };
      const n = batch.batch;
      const f = new FloatEngine(r.float).run(batch);
      const g = new GoldenEngine(r.quantized).run(batch);
      const fa = countEqual(argmaxRows(f.output, n, 10), y, n) / n;
      const ga = countEqual(argmaxRows(g.output, n, 10), y, n) / n;
      expect(fa).toBe(entry.committed_test_inputs.float_accuracy);
      expect(ga).toBe(entry.committed_test_inputs.golden_accuracy);
      if (config.includes("default")) expect(fa - ga).toBeLessThanOrEqual(0.01); // the ≤ 1-point acceptance bar
    });
  }
});
