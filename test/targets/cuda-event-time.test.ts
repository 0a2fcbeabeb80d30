// The CUDA target on event-time and multi-rate models (issue 19 items 3-4): the generated program's emulation build
// (the same .cu source compiled as C++ with -DNMC_EMULATE) against the golden engine, bit for bit: the model output,
// every population's output at each of its emissions, and the counters. On every event-ssm model fixture
// (imported, calibrated on their own inputs, quantized: test/support/event-time.ts) and on random event-time graphs
// (the property arbitrary of test/targets/event-time-quantized.test.ts); nvcc compiles the real-CUDA source of one
// when it is installed; one CLI run (nmc compile --target cuda, nmc verify --against golden) on a fixture. The float
// variant against the float engine (1e-9 relative) on the same random graphs and on the fixtures (and their logits).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { compileQuantized } from "../../compiler/pipeline.js";
import type { Graph } from "../../ir/types.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import { GoldenEngine } from "../../runtime/golden/interpreter.js";
import { compilerAvailable, emitCuda, findCompiler, runCuda } from "../../targets/cuda/index.js";
import { runFloat } from "../../runtime/float/interpreter.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
import { readNpy } from "../../runtime/io/npy.js";
import { cudaRunner } from "../../targets/cuda/target.js";
import { ensureBuilt, runNmcAsync } from "../support/cli.js";
import { MODEL_FIXTURES, fixture, paramsNpz, inputsNpz } from "../support/event-ssm.js";
import { eventBatch, eventModel, quantizedFixture, specArb, quantizeEventModel } from "../support/event-time.js";
import { fuzzParams } from "../support/fuzz.js";

const HAVE_CC = compilerAvailable("emulation");
const HAVE_NVCC = findCompiler("gpu") !== null;
const cc = (name: string) => (HAVE_CC ? name : `${name} — SKIPPED: neither g++ nor nvcc is installed`);

let cacheDir = "";
let savedCache: string | undefined;
const report: string[] = [];
beforeAll(() => {
  savedCache = process.env.NMC_CUDA_CACHE;
  cacheDir = mkdtempSync(join(tmpdir(), "nmc-cuda-event-cache-"));
  process.env.NMC_CUDA_CACHE = cacheDir;
});
afterAll(() => {
  if (savedCache === undefined) delete process.env.NMC_CUDA_CACHE;
  else process.env.NMC_CUDA_CACHE = savedCache;
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  console.log(`CUDA emulation vs golden on event-time models:\n  ${report.join("\n  ")}`);
});

interface Trace {
  outputQ: Int32Array;
  shape: number[];
  /** `pop b t` → the population's output at that emission. */
  events: Map<string, string>;
  counters: unknown;
}

function goldenRun(g: Graph, batch: SequenceBatch): Trace {
  const events = new Map<string, string>();
  const r = new GoldenEngine(g, { countSaturation: false, observer: (p, out, b, t) => events.set(`${g.populations[p].name} ${b} ${t}`, out.join(",")) }).run(batch);
  return { outputQ: r.outputQ, shape: r.outputShape, events, counters: r.counters };
}

function cudaRun(g: Graph, batch: SequenceBatch): Trace {
  const events = new Map<string, string>();
  const runner = cudaRunner(g, undefined, "emulation");
  const r = runner.run(batch, (p, out, b, t) => events.set(`${g.populations[p].name} ${b} ${t}`, Array.from(out).join(",")));
  return { outputQ: r.outputQ as Int32Array, shape: r.outputShape, events, counters: runner.last!.counters };
}

/** The first difference of two traces, or null. */
function difference(gold: Trace, cuda: Trace): string | null {
  if (gold.shape.join() !== cuda.shape.join()) return `output shape ${cuda.shape} ≠ golden ${gold.shape}`;
  for (let i = 0; i < gold.outputQ.length; i++) if (gold.outputQ[i] !== cuda.outputQ[i]) return `output[${i}] ${cuda.outputQ[i]} ≠ golden ${gold.outputQ[i]}`;
  if (gold.events.size !== cuda.events.size) return `${cuda.events.size} emissions observed ≠ golden ${gold.events.size}`;
  for (const [k, v] of gold.events) if (cuda.events.get(k) !== v) return `${k}: ${cuda.events.get(k)} ≠ golden ${v}`;
  if (JSON.stringify(gold.counters) !== JSON.stringify(cuda.counters)) return `counters ${JSON.stringify(cuda.counters)} ≠ golden ${JSON.stringify(gold.counters)}`;
  return null;
}

describe("event-ssm model fixtures: CUDA emulation = golden, bit for bit", () => {
  for (const name of MODEL_FIXTURES) {
    test.skipIf(!HAVE_CC)(cc(name), () => {
      const { q, batch } = quantizedFixture(name);
      const gold = goldenRun(q, batch), cuda = cudaRun(q, batch);
      expect(difference(gold, cuda)).toBeNull();
      expect(gold.outputQ.some((v) => v !== 0)).toBe(true);
      report.push(`${name}: ${gold.events.size} emissions, output ${gold.shape.join("×")}: bit-exact`);
    }, 240_000);
  }
});

describe("random event-time models: CUDA emulation = golden, bit for bit", () => {
  test.skipIf(!HAVE_CC)(cc("strides, pooling modes, discretizations, readouts, Δt of 0 and long gaps, lengths"), () => {
    let runs = 0, nonZero = 0;
    fc.assert(
      fc.property(specArb, fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 14 }), (spec, seed, B, T) => {
        const g = eventModel(spec);
        const q = quantizeEventModel(g, seed);
        const batch = eventBatch(q, seed, B, T);
        const gold = goldenRun(q, batch);
        expect(difference(gold, cudaRun(q, batch))).toBeNull();
        if (gold.outputQ.some((v) => v !== 0)) nonZero++;
        runs++;
      }),
      fuzzParams(Number(process.env.NMC_CUDA_EVENT_RUNS ?? 6)),
    );
    report.push(`random event-time models: ${runs} runs, ${nonZero} with a non-zero output`);
  }, 600_000);
});

/** max |a − b| / max(1, |b|) (the float variant's tolerance, as test/targets/cuda.test.ts for tick models). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < b.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return a.length === b.length ? e : Infinity;
}

describe("the float variant on event-time models: CUDA emulation = the float engine (1e-9 relative)", () => {
  // runtime/float's event ops in double, operation for operation; only libm's exp, expm1, sin and cos may differ
  // from V8's by an ulp, which the recurrences carry: 1e-9 leaves room for that and none for a wrong formula.
  test.skipIf(!HAVE_CC)(cc("random event-time models: strides, pooling modes, discretizations, readouts, Δt of 0 and long gaps, lengths"), () => {
    let runs = 0, worst = 0;
    fc.assert(
      fc.property(specArb, fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 14 }), (spec, seed, B, T) => {
        const g = eventModel(spec);
        const batch = eventBatch(g, seed, B, T);
        const want = runFloat(g, batch);
        const got = runCuda(g, batch, { precision: "float", mode: "emulation" });
        expect(got.outputShape).toEqual(want.outputShape);
        const e = relErr(got.output, want.output);
        expect(e, JSON.stringify(spec)).toBeLessThanOrEqual(1e-9);
        worst = Math.max(worst, e);
        runs++;
      }),
      fuzzParams(Number(process.env.NMC_CUDA_EVENT_RUNS ?? 6)),
    );
    report.push(`float variant, random event-time models: ${runs} runs, max relative error ${worst.toExponential(2)}`);
  }, 600_000);

  for (const name of MODEL_FIXTURES) {
    test.skipIf(!HAVE_CC)(cc(`${name}: the float variant of the imported model near event-ssm's own logits`), () => {
      const { float, batch } = quantizedFixture(name);
      const want = runFloat(float, batch);
      const got = runCuda(float, batch, { precision: "float", mode: "emulation" });
      const e = relErr(got.output, want.output);
      expect(e).toBeLessThanOrEqual(1e-9);
      const logits = toFloat64(fixture(name).get("outputs/logits")!);
      const vs = relErr(got.output, logits);
      expect(vs).toBeLessThanOrEqual(2e-3);
      report.push(`${name}, float variant: max relative error ${e.toExponential(2)} against the float engine, ${vs.toExponential(2)} against event-ssm's logits`);
    }, 240_000);
  }
});

describe("refusals and sources", () => {
  test("the per-event decay is in the source only with an event-time DiagonalSSM", () => {
    const spec = { seed: 3, C: 2, H: 3, P: 2, recurrent: false, second: null, readout: "pool" as const, ticks: false };
    const quant = (g: Graph) => {
      const cal = eventBatch(g, 11, 4, 12);
      return compileQuantized(g, { calibration: { data: cal.data, shape: [4, 12, cal.channels], label: "random", time: { timesteps: cal.timesteps!, lengths: cal.lengths } } }).quantized;
    };
    const withSsm = emitCuda(quant(eventModel({ ...spec, first: { kind: "ssm", disc: "async", stride: 2, pool: "avgpool" } })), { precision: "int" });
    const pooling = emitCuda(quant(eventModel({ ...spec, first: { kind: "pool", stride: 2, mode: "timepool" } })), { precision: "int" });
    expect(withSsm).toContain("nmc_expq_decay(");
    expect(pooling).not.toContain("nmc_expq_decay");
    expect(pooling).toContain("nmc_group_time(");
  });

  test.skipIf(!HAVE_NVCC)(HAVE_NVCC ? "nvcc compiles the real-CUDA sources (int and float) of an event-time model (zoh SSM, strides, timepool)" : "nvcc build — SKIPPED: nvcc is not installed", () => {
    const g = eventModel({ seed: 5, C: 2, H: 3, P: 2, first: { kind: "ssm", disc: "zoh", stride: 2, pool: "timepool" }, recurrent: true, second: { stride: 2, mode: "timepool" }, readout: "timepool", ticks: false });
    const cal = eventBatch(g, 9, 4, 12);
    const q = compileQuantized(g, { calibration: { data: cal.data, shape: [4, 12, cal.channels], label: "random", time: { timesteps: cal.timesteps!, lengths: cal.lengths } } }).quantized;
    const dir = mkdtempSync(join(tmpdir(), "nmc-cuda-event-nvcc-"));
    try {
      for (const [graph, precision] of [[q, "int"], [g, "float"]] as const) {
        const src = join(dir, `${precision}.cu`);
        writeFileSync(src, emitCuda(graph, { precision }));
        const r = spawnSync(process.env.NMC_NVCC || "nvcc", ["-O2", "-x", "cu", "-o", join(dir, precision), src], { encoding: "utf8" });
        expect(r.status, `${precision}: ${r.stderr}${r.stdout}`).toBe(0);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);
});

describe.skipIf(!HAVE_CC)(`nmc compile --target cuda + nmc verify --against golden on an imported event-ssm model${HAVE_CC ? "" : " — SKIPPED: no C++ compiler"}`, () => {
  test("model_timepool: compiles, verifies bit-exact; its float variant runs", async () => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), "nmc-cuda-event-cli-"));
    const nmc = (args: string[]) => runNmcAsync(args, { timeoutMs: 240_000, env: { NMC_CUDA_CACHE: join(dir, "cache") } });
    try {
      const name = "model_timepool";
      const params = paramsNpz(name, dir), inputs = inputsNpz(name, dir);
      const imp = await nmc(["import", "event-ssm", params, "--config", `test/fixtures/event-ssm/${name}.yaml`, "-o", join(dir, "model")]);
      expect(imp.code, imp.stderr).toBe(0);
      const bundle = join(dir, "m.nmb");
      const comp = await nmc(["compile", join(dir, "model", "model.json"), "--target", "cuda", "--calibrate", inputs, "-o", bundle, "-q"]);
      expect(comp.code, comp.stderr).toBe(0);
      const v = await nmc(["verify", bundle, "--input", inputs, "--against", "golden"]);
      expect(v.code, v.stdout + v.stderr).toBe(0);
      expect(v.stdout).toMatch(/^bit-exact: CUDA reference/);
      // The float variant (the float engine's event ops in double) meets event-ssm's own float32 logits.
      const y = join(dir, "float.npy");
      const fl = await nmc(["run", bundle, "--precision", "float", "--input", inputs, "--out", y, "-q"]);
      expect(fl.code, fl.stderr).toBe(0);
      expect(relErr(toFloat64(readNpy(y)), toFloat64(fixture(name).get("outputs/logits")!))).toBeLessThanOrEqual(2e-3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 600_000);
});
