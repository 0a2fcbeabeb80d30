// The compile-time optimizations of issue #8 change no result: each fast path against the straightforward
// computation it replaced.
//  - compareFloatGolden with the float run kept by calibration = compareFloatGolden running the float engine
//  - writeBundle (header, manifest and sections written piece by piece) = encodeBundle's bytes
//  - memoryModel (weights counted per column) = a per-weight reference count
//  - calibration's ⌈log2 |v|⌉ from the float's bits = Math.ceil(Math.log2(|v|))
//  - float32 weights copied from the shard (at any byte offset) = read value by value
//  - compileToBundle reports the seconds of every stage
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { type CompileStageSeconds, compileToBundle } from "../../targets/compile.js";
import { compareFloatGolden } from "../../compiler/compare.js";
import { loadModel } from "../../compiler/frontend/index.js";
import { calibratePass, ceilLog2 } from "../../compiler/passes/calibrate.js";
import { runPass } from "../../compiler/passes/pass.js";
import { quantizePass } from "../../compiler/passes/quantize.js";
import { encodeBundle, irSection, writeBundle } from "../../ir/bundle.js";
import type { Graph, Population } from "../../ir/types.js";
import { memoryModel, unitOfColumn } from "../../targets/spinnaker2/partition.js";
import { writeModel } from "../support/model-files.js";
import { makeRng } from "../support/random-model.js";
import { buildModel, makeBatch, modelArb, quantOptsArb } from "../support/quant-models.js";

const dir = mkdtempSync(join(tmpdir(), "nmc-compile-speed-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The memory model as it was written first: one unitOfColumn call per stored weight. */
function referenceMemoryModel(g: Graph, p: Population): { fixed: number; perUnit: Float64Array } {
  const wb = g.quant?.weightBits === 16 ? 2 : 1;
  // The parts that do not depend on stored weights: memoryModel of the graph without any.
  const noWeights: Graph = { ...g, projections: g.projections.map((j) => ({ ...j, weights: { ...j.weights, colIdx: new Uint32Array(0) } })) };
  const base = memoryModel(noWeights, p);
  let f = base.fixed;
  const u = Float64Array.from(base.perUnit);
  for (const j of g.projections) {
    if (j.target !== p.name) continue;
    for (let k = 0; k < j.weights.colIdx.length; k++) {
      const unit = unitOfColumn(p, j.port, j.weights.colIdx[k]);
      if (unit < 0) f += wb + 2;
      else u[unit] += wb + 2;
    }
  }
  return { fixed: f, perUnit: u };
}

describe("compile fast paths give the same results", () => {
  it("compareFloatGolden with the calibration's float run = with its own float run (random models, every readout, tokens)", () => {
    fc.assert(
      fc.property(modelArb(), quantOptsArb(), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), (spec, o, B, T) => {
        const g = buildModel(spec);
        const batch = makeBatch(g, spec.seed + 1, B, T, 1.5);
        const cal = runPass(calibratePass, g, { batch, keepFloatRun: 1 << 20 }).report;
        expect(cal.floatRun).toBeDefined();
        // Keeping the run changes nothing else in the calibration report.
        const plain = runPass(calibratePass, g, { batch }).report;
        expect(plain.floatRun).toBeUndefined();
        expect({ ...cal, floatRun: undefined }).toEqual({ ...plain, floatRun: undefined });
        const q = runPass(quantizePass, g, { calibration: plain, weightBits: o.weightBits, stateBits: o.stateBits, lutBits: o.lutBits, range: o.range }).graph;
        expect(compareFloatGolden(g, q, batch, cal.floatRun)).toEqual(compareFloatGolden(g, q, batch));
      }),
      { numRuns: 60, seed: 11 },
    );
  });

  it("ceilLog2 = Math.ceil(Math.log2(a)): powers of two and their neighbours (±1…±2^20 ulps), subnormals, random values", () => {
    const bits = new Float64Array(1), word = new BigUint64Array(bits.buffer);
    const check = (a: number) => {
      if (a > 0 && ceilLog2(a) !== Math.ceil(Math.log2(a))) throw new Error(`ceilLog2(${a}) = ${ceilLog2(a)}, Math.ceil(Math.log2) ${Math.ceil(Math.log2(a))}`);
    };
    for (let k = -1074; k <= 1023; k++) {
      check(2 ** k);
      for (const d of [1n, 2n, 3n, 4095n, 4096n, 4097n, 1n << 20n]) {
        bits[0] = 2 ** k;
        const w = word[0];
        word[0] = w + d;
        check(bits[0]);
        if (w > d) {
          word[0] = w - d;
          check(bits[0]);
        }
      }
    }
    const r = makeRng(9);
    for (let i = 0; i < 200_000; i++) check(r() * 2 ** Math.floor(r() * 300 - 150));
    expect(ceilLog2(Infinity)).toBe(Infinity);
    expect(ceilLog2(Number.MAX_VALUE)).toBe(1024);
    expect(ceilLog2(Number.MIN_VALUE)).toBe(-1074);
  });

  it("the float run is not kept beyond the limit", () => {
    const g = buildModel({ seed: 3, encoding: "values", inputs: 3, layers: [{ kind: "egru", size: 4, state: 1, act: "relu" }], skip: false, feedback: false, readout: "mean", weightScale: 1, pruneFraction: 0 });
    const batch = makeBatch(g, 4, 2, 3, 1);
    const values = g.populations.reduce((a, p) => a + 2 * 3 * p.size, 0);
    expect(calibratePass.run(g, { batch, keepFloatRun: values }).report.floatRun).toBeDefined();
    expect(calibratePass.run(g, { batch, keepFloatRun: values - 1 }).report.floatRun).toBeUndefined();
  });

  it("memoryModel = the per-weight reference on random quantized models (EGRU, SSM, Dense; int8 and int16)", () => {
    fc.assert(
      fc.property(modelArb({ maxSize: 12 }), quantOptsArb(), (spec, o) => {
        const g = buildModel(spec);
        const cal = runPass(calibratePass, g, { batch: makeBatch(g, 1, 2, 3, 1) }).report;
        const q = runPass(quantizePass, g, { calibration: cal, weightBits: o.weightBits, stateBits: o.stateBits, lutBits: o.lutBits, range: o.range }).graph;
        for (const p of q.populations) {
          if (p.kind === "Input" || p.kind === "Readout") continue;
          const a = memoryModel(q, p), b = referenceMemoryModel(q, p);
          expect(a.fixed).toBe(b.fixed);
          expect(Array.from(a.perUnit)).toEqual(Array.from(b.perUnit));
        }
      }),
      { numRuns: 60, seed: 12 },
    );
  });

  it("writeBundle writes exactly encodeBundle's bytes (sections of every alignment, none)", () => {
    const g = buildModel({ seed: 5, encoding: "values", inputs: 2, layers: [{ kind: "dense", size: 3, state: 1, act: "relu" }], skip: false, feedback: false, readout: "none", weightScale: 1, pruneFraction: 0 });
    const lengths = [0, 1, 63, 64, 65, 200];
    const input = {
      modelName: "m", target: "golden", createdAt: "2025-01-01T00:00:00Z", nmcVersion: "0",
      sections: [irSection(g), ...lengths.map((n, i) => ({ name: `s${i}`, kind: "bytes", data: Uint8Array.from({ length: n }, (_, k) => (k * 7 + i) & 255) }))],
    };
    const file = join(dir, "b.nmb");
    writeBundle(file, input);
    expect(Buffer.compare(readFileSync(file), Buffer.from(encodeBundle(input)))).toBe(0);
  });

  it("float32 weights after an odd number of uint8 bytes load as the float32 values", () => {
    const kernel = Array.from({ length: 6 }, (_, i) => (i - 2.5) / 3);
    const file = writeModel(
      { class_name: "Sequential", config: { name: "m", layers: [{ class_name: "Dense", config: { name: "d", units: 3, batch_input_shape: [null, 2, 2] } }] } },
      [{ name: "pad", shape: [3], values: [0, 1, 2], store: "uint8" }, { name: "d/kernel", shape: [2, 3], values: kernel }, { name: "d/bias", shape: [3], values: [0.1, -0.2, 0.3] }],
    );
    const { graph } = loadModel(file);
    const j = graph.projections[0];
    expect(Array.from(j.weights.values.data)).toEqual(Array.from(Float32Array.from(kernel)).filter((v) => v !== 0));
    expect(Array.from(graph.populations[1].tensors.bias.data)).toEqual(Array.from(Float32Array.from([0.1, -0.2, 0.3])));
  });

  it("compileToBundle fills the seconds of every stage", () => {
    const seconds = {} as CompileStageSeconds;
    const model = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples", "egru-smnist", "model.json");
    compileToBundle(model, { out: join(dir, "e.nmb"), target: "spinnaker2", calibrateSamples: 4 }, seconds);
    const stages: (keyof CompileStageSeconds)[] = ["load", "calibrationInput", "prune", "calibrate", "quantize", "compare", "target", "sections", "write"];
    for (const s of stages) expect(seconds[s], s).toBeGreaterThanOrEqual(0);
    expect(Object.keys(seconds).sort()).toEqual([...stages].sort());
  });
});
