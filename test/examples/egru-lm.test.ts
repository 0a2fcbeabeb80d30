// The committed character-level EGRU language model (examples/egru-lm, made by `npm run train:egru-lm`) still is
// what its results.json says, re-measured on the committed test windows without training: bits per character of
// the float IR, the golden engine and the simulator (bit-exact with golden), the simulator's weight and activity
// sparsity and combined synaptic-op reduction, and the text `nmc generate` writes from the recorded prompt.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontend/index.js";
import { compileQuantized } from "../../compiler/pipeline.js";
import { FloatEngine } from "../../runtime/float/interpreter.js";
import { GoldenEngine } from "../../runtime/golden/interpreter.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
import { readNpy } from "../../runtime/io/npy.js";
import { mapGraph, report, simulate } from "../../targets/spinnaker2/index.js";
import { bitsPerChar, GENERATED, PROMPT } from "../../examples/egru-lm/measure.js";
import { ensureBuilt, repoRoot, runNmc } from "../support/cli.js";

const DIR = join(repoRoot, "examples", "egru-lm");
const rec = JSON.parse(readFileSync(join(DIR, "results.json"), "utf8"));

describe("examples/egru-lm", () => {
  const { graph } = loadModel(join(DIR, "model.json"));
  const cal = readNpy(join(DIR, "inputs", "calib.npy"));
  const r = compileQuantized(graph, { calibration: { data: toFloat64(cal), shape: cal.shape, label: "calib" } });
  const x = readNpy(join(DIR, "inputs", "x.npy"));
  const y = Int32Array.from(toFloat64(readNpy(join(DIR, "inputs", "y.npy"))));
  const batch = { data: toFloat64(x), batch: x.shape[0]!, ticks: x.shape[1]!, channels: 1 };
  const V = JSON.parse(graph.meta.vocabulary!).length;
  const want = rec.bits_per_character.committed_test_windows;

  it("carries its vocabulary into the IR: an Embedding input and a per-tick output over the same characters", () => {
    expect(V).toBe(rec.training.data.vocabulary_size);
    expect(r.quantized.meta.vocabulary).toBe(graph.meta.vocabulary);
    expect(graph.populations.find((p) => p.name === graph.outputs[0])!.size).toBe(V);
  });

  it("reproduces the recorded bits per character and sparsity on the committed test windows", () => {
    expect(bitsPerChar(new FloatEngine(r.float).run(batch).output, y, V)).toBeCloseTo(want.pruned_float_egru, 10);
    const g = new GoldenEngine(r.quantized).run(batch);
    expect(bitsPerChar(g.output, y, V)).toBeCloseTo(want.pruned_int8_golden, 10);
    const m = mapGraph(r.quantized);
    const run = simulate(r.quantized, m, batch);
    expect(Array.from(run.outputQ)).toEqual(Array.from(g.outputQ));
    const rep = report(r.quantized, m, run, "event");
    expect(rep.weightSparsityOverall).toBe(rec.weight_sparsity);
    expect(rep.gains.combined).toBe(rec.combined_reduction);
    expect(rep.activitySparsity).toEqual(rec.activity_sparsity_per_population);
    expect(rep.pes).toBe(rec.spinnaker2.pes);
  });

  it("the recorded figures are consistent with the targets block", () => {
    expect(rec.targets.weight_sparsity_at_least_0_90).toBe(rec.weight_sparsity >= 0.9);
    expect(rec.targets.combined_reduction_at_least_20).toBe(rec.combined_reduction >= 20);
    const rel = (want.pruned_int8_golden - want.pruned_float_egru) / want.pruned_float_egru;
    expect(rec.targets.int8_within_2_percent_of_pruned_float.relative).toBeCloseTo(rel, 12);
  });

  it("nmc generate writes the recorded text from the recorded prompt on the simulator", async () => {
    await ensureBuilt();
    const bundle = join(mkdtempSync(join(tmpdir(), "nmc-egru-lm-")), "lm.nmb");
    expect(runNmc(["compile", join(DIR, "model.json"), "--target", "spinnaker2", "-o", bundle, "--quiet"]).code).toBe(0);
    const out = runNmc(["generate", bundle, "--prompt", PROMPT, "-n", String(GENERATED), "--quiet"]);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toBe(rec.spinnaker2.generation.text + "\n");
  });
});
