// EGRU zoneout at inference, as EvNN's compiled kernel computes it (docs/model-math.md, "EGRU zoneout"):
// c ← p·h + (1 − p)·c after the candidate and before the threshold, h the previous state after its reset.
//  1. quantized, on random models with random p (test/support/quant-models.ts): golden = SpiNNaker 2 simulator
//     (every population, every tick) = the BigInt reference = the CUDA program in host emulation (outputs, every
//     event, counters), bit for bit; the CUDA float variant = the float engine;
//  2. float: the float engine (f64) = a straightforward float64 transcription of the kernel's recurrence written
//     here from the raw weight arrays; f32 storage close to it;
//  3. p = 0 is the EGRU of before: an explicit 0 and no attribute give the same IR bytes, text, float and integer
//     outputs, and CUDA sources; the transcription and the BigInt reference at p = 0 are the old formulas;
//  4. the IR attribute: codec round trip, printer, verifier; a graph without the field decodes as p = 0;
//  5. SpiNNaker 2: the blend costs egru_zoneout cycles per unit per tick, exactly, and 4 B per slice;
//  6. model.json: nmc's tfjs EGRU layer saves zoneout, nmc reads it (float engine = tfjs predict); the CLI
//     refuses a p outside [0, 1) with exit 2 naming the JSON path.
// Properties take fuzzParams, so NMC_FUZZ_SEED reproduces a failure.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontend/index.js";
import { csrFromDense, GraphBuilder } from "../../ir/builder.js";
import { decodeGraph, encodeGraph, graphFromPbObject, graphToPbObject } from "../../ir/codec.js";
import { printGraph } from "../../ir/print.js";
import type { EgruPopulation, Graph, Population } from "../../ir/types.js";
import { verifyGraph } from "../../ir/verify.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import { zoneoutBlend, zoneoutQ15 } from "../../runtime/fixed/index.js";
import { runFloat } from "../../runtime/float/interpreter.js";
import { initBestBackend, predictFloat, registerNmcLayers, saveModelToDir } from "../../runtime/tfjs/index.js";
import { compilerAvailable, emitCuda, runCuda } from "../../targets/cuda/index.js";
import { SPINNAKER2 } from "../../targets/spinnaker2/chip.js";
import { mapGraph, simulate } from "../../targets/spinnaker2/index.js";
import { s2Op } from "../../targets/spinnaker2/ops.js";
import { ensureBuilt, runNmc } from "../support/cli.js";
import { fuzzParams } from "../support/fuzz.js";
import { runBigIntReference } from "../support/golden-bigint.js";
import { uniform } from "../support/graphs.js";
import { ramp, seq, writeModel } from "../support/model-files.js";
import { buildModel, makeBatch, type ModelSpec, modelArb, type QuantOpts, quantizeFor, quantOptsArb } from "../support/quant-models.js";
import { firstDifference, goldenTrace, simTrace, withFigures } from "../support/spinnaker2.js";

const HAVE_CC = compilerAvailable("emulation");
const cc = (name: string) => (HAVE_CC ? name : `${name} — SKIPPED: neither g++ nor nvcc is installed`);

let cacheDir = "";
let savedCache: string | undefined;
beforeAll(() => {
  // A private CUDA build cache: the tests compile from scratch and leave nothing behind.
  savedCache = process.env.NMC_CUDA_CACHE;
  cacheDir = mkdtempSync(join(tmpdir(), "nmc-zoneout-cache-"));
  process.env.NMC_CUDA_CACHE = cacheDir;
});
afterAll(() => {
  if (savedCache === undefined) delete process.env.NMC_CUDA_CACHE;
  else process.env.NMC_CUDA_CACHE = savedCache;
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------
// Random models with zoneout
// ---------------------------------------------------------------------------------------------------------

/**
 * p in [0, 1): round values, a p that rounds to p_q = 2^15 (0.99999), one that rounds to p_q = 0 (1e−6), and
 * any double in [0.001, 0.999) (fast-check's doubles from 0 are mostly tiny, which would test p = 0 again).
 */
const pArb = fc.oneof(
  fc.constantFrom(0.05, 0.25, 0.5, 0.9, 0.99, 0.99999, 1e-6),
  fc.double({ min: 0.001, max: 0.999, noNaN: true, maxExcluded: true }),
);

/** Chains of EGRU (twice as likely), Dense and DiagonalSSM layers whose first layer is an EGRU. */
const specArb: fc.Arbitrary<ModelSpec> = modelArb({ kinds: ["egru", "egru", "dense", "ssm"], maxSize: 7, maxInputs: 5 })
  .map((s) => ({ ...s, layers: [{ ...s.layers[0], kind: "egru" as const }, ...s.layers.slice(1)] }));

/** The graph with zoneout ps[k mod n] on its k-th EGRU (a 0 is set as an explicit 0, not left out). */
function withZoneout(g: Graph, ps: number[]): Graph {
  let k = 0;
  return { ...g, populations: g.populations.map((p) => (p.kind === "EGRU" ? { ...p, zoneout: ps[k++ % ps.length] } : p)) };
}

/** The graph without any zoneout attribute. */
function withoutZoneout(g: Graph): Graph {
  return {
    ...g, populations: g.populations.map((p) => {
      if (p.kind !== "EGRU") return p;
      const { zoneout: _, ...rest } = p;
      return rest;
    }),
  };
}

const egrus = (g: Graph) => g.populations.filter((p): p is EgruPopulation => p.kind === "EGRU");

/** Every population's integers, [B, T, Σ sizes] in graph order: the layout of the CUDA program's events. */
function flatEvents(g: Graph, batch: SequenceBatch, perTick: Int32Array[]): Int32Array {
  const U = g.populations.reduce((n, p) => n + p.size, 0), T = batch.ticks;
  const out = new Int32Array(batch.batch * T * U);
  let off = 0;
  g.populations.forEach((p, pi) => {
    for (let bt = 0; bt < batch.batch * T; bt++) out.set(perTick[pi].subarray(bt * p.size, (bt + 1) * p.size), bt * U + off);
    off += p.size;
  });
  return out;
}

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): string | null {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `[${i}]: ${a[i]} vs ${b[i]}`;
  return null;
}

interface QCase {
  q: Graph;
  batch: SequenceBatch;
  label: string;
}

/** Calibrates and quantizes the graph, and a fresh batch at 4× the calibration amplitude (saturation too). */
function quantCase(spec: ModelSpec, ps: number[], o: QuantOpts, seed: number, T: number): QCase {
  const g = withZoneout(buildModel(spec), ps);
  const q = quantizeFor(g, makeBatch(g, seed, 2, T, 1, { tokens: "float64" }), o);
  const batch = makeBatch(g, seed ^ 0x5bd1e995, 2, T, 4, { tokens: "float64" });
  return { q, batch, label: `${JSON.stringify(spec)} p ${JSON.stringify(ps)} ${JSON.stringify(o)} seed ${seed}` };
}

/** golden = simulator (every population, every tick) = BigInt reference; returns the golden trace. */
function expectGoldenSimReference(c: QCase): ReturnType<typeof goldenTrace> {
  const { q, batch, label } = c;
  const gold = goldenTrace(q, batch);
  expect(firstDifference(q, batch, gold, simTrace(q, mapGraph(q), batch)), `${label}: golden vs simulator`).toBeNull();
  const ref = runBigIntReference(q, batch);
  expect(firstDiff(gold.outputQ, ref.outputQ), `${label}: golden vs BigInt reference, output`).toBeNull();
  q.populations.forEach((p, pi) => expect(firstDiff(gold.perTick[pi], ref.perTick[p.name]), `${label}: golden vs BigInt reference, ${p.name}`).toBeNull());
  return gold;
}

describe("EGRU zoneout, quantized: every integer engine computes the one definition", () => {
  it("golden = SpiNNaker 2 simulator = BigInt reference, bit for bit, on random models with random p", () => {
    let mattered = 0, cases = 0;
    fc.assert(
      fc.property(specArb, fc.array(pArb, { minLength: 1, maxLength: 3 }), quantOptsArb(), fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 8 }), (spec, ps, o, seed, T) => {
        const c = quantCase(spec, ps, o, seed, T);
        for (const p of egrus(c.q)) expect(p.zoneout).toBeDefined();
        const gold = expectGoldenSimReference(c);
        // The same quantized model without zoneout: where an EGRU fires at all, p moves the integers (a silent
        // EGRU shows nothing either way).
        const none = goldenTrace(withoutZoneout(c.q), c.batch);
        const egruIdx = c.q.populations.flatMap((p, i) => (p.kind === "EGRU" ? [i] : []));
        if (!egruIdx.some((i) => gold.perTick[i].some((v) => v !== 0) || none.perTick[i].some((v) => v !== 0))) return;
        if (gold.perTick.some((v, i) => firstDiff(v, none.perTick[i]) !== null)) mattered++;
        cases++;
      }),
      fuzzParams(40),
    );
    console.log(`zoneout, quantized: changed the integers in ${mattered} of ${cases} cases with events`);
    expect(mattered, `zoneout changed the integers in ${mattered} of ${cases} cases with events`).toBeGreaterThan(cases / 2);
  }, 120_000);

  // Each case builds a program (about a second of g++), so fewer cases than above.
  it.skipIf(!HAVE_CC)(cc("CUDA host emulation = golden, bit for bit (outputs, every event, counters); the CUDA float variant = the float engine"), async () => {
    const yieldNow = () => new Promise<void>((r) => setImmediate(r));
    await fc.assert(
      fc.asyncProperty(specArb, fc.array(pArb, { minLength: 1, maxLength: 3 }), quantOptsArb(), fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 6 }), async (spec, ps, o, seed, T) => {
        await yieldNow();
        const c = quantCase(spec, ps, o, seed, T);
        const gold = goldenTrace(c.q, c.batch);
        const run = runCuda(c.q, c.batch, { precision: "int", mode: "emulation" });
        expect(firstDiff(run.outputQ!, gold.outputQ), `${c.label}: CUDA vs golden, output`).toBeNull();
        expect(firstDiff(run.events!, flatEvents(c.q, c.batch, gold.perTick)), `${c.label}: CUDA vs golden, events`).toBeNull();
        expect(run.counters, `${c.label}: counters`).toEqual(gold.counters);
      }),
      fuzzParams(6),
    );
    // The float variant: the zoneout blend in double, as the float engine (1e-5 relative, as test/targets/cuda.test.ts).
    const g = withZoneout(buildModel({ seed: 77, encoding: "values", inputs: 3, layers: [{ kind: "egru", size: 5, state: 1, act: "linear" }, { kind: "egru", size: 4, state: 1, act: "linear" }, { kind: "dense", size: 3, state: 1, act: "tanh" }], skip: true, feedback: true, readout: "none", weightScale: 1.5, pruneFraction: 0.3 }), [0.3, 0.75]);
    const batch = makeBatch(g, 5, 3, 9, 2, { tokens: "float64" });
    const want = runFloat(g, batch), got = runCuda(g, batch, { precision: "float", mode: "emulation" });
    expect(got.output.length).toBe(want.output.length);
    for (let i = 0; i < want.output.length; i++) expect(Math.abs(got.output[i] - want.output[i]), `[${i}]`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want.output[i])));
    expect(got.counters).toEqual(want.counters);
  }, 300_000);

  it("the integer blend: rs(p_q·h + (2^15 − p_q)·c, 15), p_q = round(p · 2^15), hand-computed", () => {
    expect(zoneoutQ15(0)).toBe(0);
    expect(zoneoutQ15(0.25)).toBe(8192);
    expect(zoneoutQ15(0.1)).toBe(3277); // 3276.8
    expect(zoneoutQ15(1 / 65536)).toBe(1); // 0.5: ties away from zero
    expect(zoneoutQ15(0.99999)).toBe(32768); // 32767.67: the state keeps h
    expect(() => zoneoutQ15(1)).toThrow(RangeError);
    expect(() => zoneoutQ15(-0.1)).toThrow(RangeError);
    // p = 0.25: (8192·h + 24576·c) / 32768
    expect(zoneoutBlend(8192, 16384, 0)).toBe(4096);
    expect(zoneoutBlend(8192, -3, 1)).toBe(0); // (−24576 + 24576) / 2^15
    expect(zoneoutBlend(8192, 1, 0)).toBe(0); // 0.25 rounds to 0
    expect(zoneoutBlend(16384, 1, 0)).toBe(1); // 0.5: away from zero
    expect(zoneoutBlend(16384, -1, 0)).toBe(-1);
    expect(zoneoutBlend(0, 12345, -777)).toBe(-777); // p_q = 0: c itself
    expect(zoneoutBlend(32768, 12345, -777)).toBe(12345);
    expect(zoneoutBlend(3277, -32768, -32768)).toBe(-32768); // a convex mix stays in int16
    expect(zoneoutBlend(3277, 32767, 32767)).toBe(32767);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Float: the float engine against a transcription of the kernel's recurrence
// ---------------------------------------------------------------------------------------------------------

interface RawEgru {
  H: number;
  W: Float32Array; // [C, 3H]
  R: Float32Array; // [H, 3H]
  bx: Float32Array; // [3H]
  br: Float32Array; // [3H]
  thr: Float32Array; // [H]
  p: number;
}

interface FloatCase {
  seed: number;
  C: number;
  sizes: number[];
  ps: number[];
  scale: number;
  prune: number;
  B: number;
  T: number;
}

const floatCaseArb: fc.Arbitrary<FloatCase> = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  C: fc.integer({ min: 1, max: 5 }),
  sizes: fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 3 }),
  ps: fc.array(fc.oneof({ arbitrary: pArb, weight: 4 }, { arbitrary: fc.constant(0), weight: 1 }), { minLength: 1, maxLength: 3 }),
  scale: fc.constantFrom(0.5, 1.5, 3),
  prune: fc.constantFrom(0, 0.5),
  B: fc.integer({ min: 1, max: 3 }),
  T: fc.integer({ min: 1, max: 10 }),
});

function rawLayers(c: FloatCase): RawEgru[] {
  const r = uniform(c.seed);
  const vec = (n: number, s: number, prune = 0) => Float32Array.from({ length: n }, () => (Math.abs(r()) < prune ? 0 : r() * s));
  let C = c.C;
  return c.sizes.map((H, k) => {
    const l: RawEgru = {
      H, W: vec(C * 3 * H, c.scale, c.prune), R: vec(H * 3 * H, c.scale, c.prune), bx: vec(3 * H, 0.5 * c.scale), br: vec(3 * H, 0.5 * c.scale),
      thr: Float32Array.from({ length: H }, () => Math.abs(r()) * 0.5), p: c.ps[k % c.ps.length],
    };
    C = H;
    return l;
  });
}

function floatGraph(c: FloatCase, layers: RawEgru[]): Graph {
  const b = new GraphBuilder("zoneout");
  let prev: Population = b.input("x", c.C, "values");
  let C = c.C;
  layers.forEach((l, k) => {
    const e = b.egru(`egru${k}`, l.H, { biasX: l.bx, biasH: l.br, thr: l.thr }, undefined, { zoneout: l.p });
    b.project(`egru${k}.kernel`, prev, e, "input", csrFromDense(l.W, C, 3 * l.H));
    b.project(`egru${k}.recurrent_kernel`, e, e, "recurrent", csrFromDense(l.R, l.H, 3 * l.H), 1);
    prev = e;
    C = l.H;
  });
  b.outputs.push(prev.name);
  return b.build();
}

const sigma = (v: number) => 1 / (1 + Math.exp(-v));

/**
 * EvNN's kernel (lib/egru_forward_cpu.cc, PointwiseOperations, inference with zoneout) transcribed for a chain
 * of EGRU layers, float64, dense loops, from zero state: returns the last layer's y [B, T, H] and the smallest
 * |c − θ| seen (how close any unit came to flipping).
 */
function transcription(layers: RawEgru[], x: Float64Array, B: number, T: number, C0: number): { y: Float64Array; margin: number } {
  let margin = Infinity;
  let input = x, C = C0;
  for (const l of layers) {
    const H = l.H;
    const out = new Float64Array(B * T * H);
    for (let b = 0; b < B; b++) {
      const h = new Float64Array(H), y = new Float64Array(H);
      for (let t = 0; t < T; t++) {
        const xt = input.subarray((b * T + t) * C, (b * T + t + 1) * C);
        const Wx = new Float64Array(3 * H), Rh = new Float64Array(3 * H);
        for (let j = 0; j < 3 * H; j++) {
          let s = 0;
          for (let i = 0; i < C; i++) s += xt[i] * l.W[i * 3 * H + j];
          Wx[j] = s;
          let u = 0;
          for (let i = 0; i < H; i++) u += y[i] * l.R[i * 3 * H + j];
          Rh[j] = u;
        }
        for (let k = 0; k < H; k++) {
          const z = sigma(Wx[k] + Rh[k] + l.bx[k] + l.br[k]);
          const r = sigma(Wx[H + k] + Rh[H + k] + l.bx[H + k] + l.br[H + k]);
          const g = Math.tanh(Wx[2 * H + k] + r * (Rh[2 * H + k] + l.br[2 * H + k]) + l.bx[2 * H + k]);
          let c = z * h[k] + (1 - z) * g;
          if (l.p !== 0) c = l.p * h[k] + (1 - l.p) * c;
          margin = Math.min(margin, Math.abs(c - l.thr[k]));
          const o = c - l.thr[k] > 0 ? 1 : 0;
          y[k] = c * o;
          h[k] = c - o * l.thr[k];
        }
        out.set(y, (b * T + t) * H);
      }
    }
    input = out;
    C = H;
  }
  return { y: input, margin };
}

function maxRelError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let e = 0;
  for (let i = 0; i < want.length; i++) e = Math.max(e, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  return e;
}

describe("EGRU zoneout, float: the float engine computes EvNN's kernel", () => {
  it("f64 equals a float64 transcription of the kernel's recurrence (1e-12); f32 storage within 1e-4 where no unit is near its threshold", () => {
    let f32Checked = 0, differs = 0, cases = 0;
    fc.assert(
      fc.property(floatCaseArb, (c) => {
        const layers = rawLayers(c);
        const g = floatGraph(c, layers);
        const x = Float64Array.from({ length: c.B * c.T * c.C }, uniform(c.seed ^ 0x2f1b, -2, 2));
        for (let i = 0; i < x.length; i += 3) x[i] = 0; // silent inputs: rows the event-driven engine skips
        const batch = { data: x, batch: c.B, ticks: c.T, channels: c.C };
        const want = transcription(layers, x, c.B, c.T, c.C);
        const got = runFloat(g, batch).output;
        expect(got.length).toBe(want.y.length);
        expect(maxRelError(got, want.y), JSON.stringify(c)).toBeLessThanOrEqual(1e-12);
        if (want.margin > 1e-3) {
          expect(maxRelError(runFloat(g, batch, { precision: "f32" }).output, want.y), `f32 ${JSON.stringify(c)}`).toBeLessThanOrEqual(1e-4);
          f32Checked++;
        }
        // Where the last layer fires at all (with or without zoneout), p changes its events in most cases.
        const plain = transcription(layers.map((l) => ({ ...l, p: 0 })), x, c.B, c.T, c.C).y;
        if (!plain.some((v) => v !== 0) && !want.y.some((v) => v !== 0)) return;
        if (maxRelError(plain, want.y) > 1e-9) differs++;
        cases++;
      }),
      fuzzParams(300),
    );
    console.log(`zoneout, float: f32 checked in ${f32Checked} of 300; changed the outputs in ${differs} of ${cases} cases with events`);
    expect(f32Checked, "cases far enough from every threshold for the f32 check").toBeGreaterThan(30);
    expect(differs, `zoneout changed the outputs in ${differs} of ${cases} cases with events`).toBeGreaterThan(cases / 2);
  });
});

// ---------------------------------------------------------------------------------------------------------
// p = 0 is the EGRU of before
// ---------------------------------------------------------------------------------------------------------

describe("EGRU zoneout p = 0: exactly the old EGRU", () => {
  it("an explicit 0 and no attribute: the same IR bytes and text, float (f64, f32) and integer outputs, CUDA sources", () => {
    fc.assert(
      fc.property(specArb, quantOptsArb(), fc.integer({ min: 1, max: 2 ** 30 }), (spec, o, seed) => {
        const g = buildModel(spec);
        const z = withZoneout(g, [0]);
        expect(egrus(g).every((p) => !("zoneout" in p))).toBe(true);
        expect(egrus(z).every((p) => p.zoneout === 0)).toBe(true);
        expect(Buffer.from(encodeGraph(z)).equals(Buffer.from(encodeGraph(g)))).toBe(true);
        expect(printGraph(z)).toBe(printGraph(g));
        expect(printGraph(g)).not.toMatch(/zoneout/);
        const batch = makeBatch(g, seed, 2, 6, 2, { tokens: "float64" });
        for (const precision of ["f64", "f32"] as const) {
          const a = runFloat(g, batch, { precision }).output, b = runFloat(z, batch, { precision }).output;
          expect(Array.from(a).every((v, i) => Object.is(v, b[i])), precision).toBe(true);
        }
        const qg = quantizeFor(g, batch, o), qz = quantizeFor(z, batch, o);
        expect(Buffer.from(encodeGraph(qz)).equals(Buffer.from(encodeGraph(qg)))).toBe(true);
        const gold = expectGoldenSimReference({ q: qz, batch, label: `p = 0 ${JSON.stringify(spec)}` });
        expect(firstDiff(gold.outputQ, goldenTrace(qg, batch).outputQ)).toBeNull();
        for (const precision of ["int", "float"] as const) {
          const src = emitCuda(precision === "int" ? qz : z, { precision });
          expect(src).toBe(emitCuda(precision === "int" ? qg : g, { precision }));
          expect(src).not.toMatch(/zoneout|const (nmc_i64|double) c0 /);
        }
      }),
      fuzzParams(25),
    );
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------------------
// The IR attribute
// ---------------------------------------------------------------------------------------------------------

describe("EGRU zoneout in the IR", () => {
  const c: FloatCase = { seed: 5, C: 2, sizes: [3], ps: [0.25], scale: 1, prune: 0, B: 1, T: 3 };
  const g = floatGraph(c, rawLayers(c));

  it("round-trips through the protobuf codec and prints after the size", () => {
    const back = decodeGraph(encodeGraph(g));
    expect(back.populations[1]).toMatchObject({ kind: "EGRU", zoneout: 0.25 });
    expect(back).toEqual(g);
    expect(printGraph(g)).toMatch(/population egru0: EGRU\[3\] emits events, zoneout 0\.25/);
  });

  it("a graph written without the field (an EgruConfig of before, or none at all) decodes as p = 0", () => {
    for (const edit of [(pop: Record<string, unknown>) => (pop.egru = {}), (pop: Record<string, unknown>) => delete pop.egru]) {
      const obj = graphToPbObject(g) as { populations: Record<string, unknown>[] };
      edit(obj.populations[1]);
      const back = decodeGraph(encodeGraph(graphFromPbObject(obj)));
      expect(back.populations[1]).not.toHaveProperty("zoneout");
      const x = { data: Float64Array.of(1, -1, 0.5, 0, 2, 1), batch: 1, ticks: 3, channels: 2 };
      expect(Array.from(runFloat(back, x).output)).toEqual(Array.from(runFloat(withoutZoneout(g), x).output));
    }
  });

  it("the verifier refuses p outside [0, 1) and NaN", () => {
    for (const p of [1, 1.5, -0.1, Number.NaN, Number.POSITIVE_INFINITY]) {
      const problems = verifyGraph(withZoneout(g, [p])).map((x) => x.message);
      expect(problems, String(p)).toEqual([`zoneout = ${p} must be a number in [0, 1)`]);
    }
    expect(verifyGraph(withZoneout(g, [0.999]))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// SpiNNaker 2 cost
// ---------------------------------------------------------------------------------------------------------

describe("EGRU zoneout on SpiNNaker 2: charged per unit per tick", () => {
  it("egru_zoneout cycles per unit and tick (none when p_q = 0), 4 B per slice for the two Q15 weights", () => {
    const pop = (p: number | undefined) => ({ ...egrus(buildModel({ seed: 1, encoding: "values", inputs: 2, layers: [{ kind: "egru", size: 6, state: 1, act: "linear" }], skip: false, feedback: false, readout: "none", weightScale: 1, pruneFraction: 0 }))[0], ...(p === undefined ? {} : { zoneout: p }) });
    const c = SPINNAKER2.cycles;
    expect(c.egru_zoneout.value).toBe(4);
    expect(s2Op(pop(undefined)).unitCycles(pop(undefined), 5, c)).toBe(5 * c.egru_unit.value);
    expect(s2Op(pop(0.3)).unitCycles(pop(0.3), 5, c)).toBe(5 * (c.egru_unit.value + c.egru_zoneout.value));
    expect(s2Op(pop(1e-6)).unitCycles(pop(1e-6), 5, c)).toBe(5 * c.egru_unit.value); // p_q = 0: no blend, no charge
    expect(s2Op(pop(0.3)).memory(pop(0.3), 1).fixed).toBe(4);
    expect(s2Op(pop(undefined)).memory(pop(undefined), 1)).toEqual(s2Op(pop(0)).memory(pop(0), 1));
  });

  it("a simulated run costs egru_zoneout × units × ticks × samples more in event mode, nothing else changes", () => {
    const spec: ModelSpec = { seed: 3, encoding: "values", inputs: 3, layers: [{ kind: "egru", size: 7, state: 1, act: "linear" }, { kind: "egru", size: 5, state: 1, act: "linear" }, { kind: "dense", size: 2, state: 1, act: "linear" }], skip: false, feedback: false, readout: "mean", weightScale: 1.5, pruneFraction: 0.2 };
    const g = withZoneout(buildModel(spec), [0.4, 0.8]);
    const q = quantizeFor(g, makeBatch(g, 1, 2, 8, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    const batch = makeBatch(g, 2, 3, 8, 2);
    const charged = simulate(q, mapGraph(q), batch), free = simulate(q, mapGraph(q, withFigures({ "cycles.egru_zoneout": 0 })), batch);
    expect(Array.from(charged.outputQ)).toEqual(Array.from(free.outputQ));
    expect(charged.totals.event.cycles - free.totals.event.cycles).toBe(4 * (7 + 5) * 8 * 3);
    expect(charged.totals.dense.cycles - free.totals.dense.cycles).toBe(4 * (7 + 5) * 8 * 3);
  });
});

// ---------------------------------------------------------------------------------------------------------
// model.json: nmc's tfjs layer and the frontend
// ---------------------------------------------------------------------------------------------------------

describe("EGRU zoneout from model.json", () => {
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "nmc-zoneout-"));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("nmc's tfjs EGRU saves zoneout (only when not 0); nmc reads it and its float engine equals tfjs predict", async () => {
    const { tf } = await initBestBackend();
    const L = registerNmcLayers(tf);
    expect(() => new L.EGRU({ units: 2, zoneout: 1 })).toThrow(/zoneout must be a number in \[0, 1\)/);
    const C = 3, T = 12, B = 2;
    for (const [p, seed] of [[0.3, 11], [0.85, 12], [0, 13]] as const) {
      const model = tf.sequential({ layers: [
        new L.EGRU({ units: 6, zoneout: p, seed, inputShape: [null, C] }),
        tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotNormal({ seed }) }),
      ] });
      // thresholds low enough that units fire (tfjs initializes them from Beta(mean 0.3))
      const egru = model.layers[0] as InstanceType<typeof L.EGRU>;
      egru.thr!.write(tf.mul(egru.thr!.read(), 0.5));
      const d = join(dir, `p${p}`);
      await saveModelToDir(model, d);
      const cfg = JSON.parse(readFileSync(join(d, "model.json"), "utf8")).modelTopology.config.layers[0].config;
      if (p === 0) expect(cfg).not.toHaveProperty("zoneout");
      else expect(cfg.zoneout).toBe(p);
      const { graph, warnings } = loadModel(join(d, "model.json"));
      expect(warnings).toEqual([]);
      const pop = egrus(graph)[0];
      if (p === 0) expect(pop).not.toHaveProperty("zoneout");
      else expect(pop.zoneout).toBe(Math.fround(p));
      const x = Float32Array.from({ length: B * T * C }, uniform(seed, -2, 2));
      const want = predictFloat(model, x, [B, T, C], tf);
      const got = runFloat(graph, { data: Float64Array.from(x), batch: B, ticks: T, channels: C }).output;
      let scale = 1e-6;
      for (const v of want) scale = Math.max(scale, Math.abs(v));
      expect(maxRelError(got, want) / scale, `p ${p}`).toBeLessThan(1e-4);
      // the same model with the layer's p as nmc computes it differs from p = 0 (zoneout is not ignored)
      if (p !== 0) expect(maxRelError(runFloat(withoutZoneout(graph), { data: Float64Array.from(x), batch: B, ticks: T, channels: C }).output, want)).toBeGreaterThan(1e-3);
      if (p !== 0) {
        // Training uses EvNN's random mask (c ← (c − h)·m + h, m ~ Bernoulli(1 − p)): fit runs and learns.
        model.compile({ optimizer: tf.train.adam(0.01), loss: "meanSquaredError" });
        const xs = tf.tensor3d(x, [B, T, C]), ys = tf.zeros([B, T, 2]);
        const h = await model.fit(xs, ys, { epochs: 2, batchSize: B, verbose: 0 });
        expect((h.history.loss as number[]).every(Number.isFinite)).toBe(true);
        tf.dispose([xs, ys]);
      }
      model.dispose();
    }
  }, 60_000);

  it("nmc (the built CLI) refuses zoneout outside [0, 1) with exit 2 naming the JSON path, and compiles one inside", async () => {
    await ensureBuilt();
    const egru = (zoneout: unknown) => ({ class_name: "EGRU", config: { name: "e", units: 2, batch_input_shape: [null, null, 2], zoneout } });
    const head = { class_name: "Dense", config: { name: "d", units: 1 } };
    const W = [
      { name: "e/kernel", shape: [2, 6], values: ramp(12) }, { name: "e/recurrent_kernel", shape: [2, 6], values: ramp(12, 0.2) },
      { name: "e/bias", shape: [6], values: ramp(6, 0.05) }, { name: "e/recurrent_bias", shape: [6], values: ramp(6, 0.03) },
      { name: "e/thr", shape: [2], values: ramp(2, 0.3).map(Math.abs) },
      { name: "d/kernel", shape: [2, 1], values: [1, -1] }, { name: "d/bias", shape: [1], values: [0.5] },
    ];
    for (const bad of [1, 1.5, -0.25]) {
      const r = runNmc(["ir", writeModel(seq([egru(bad), head]), W)]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/modelTopology\.config\.layers\[0\]\.config\.zoneout/);
      expect(r.stderr).toMatch(/zoneout must be in \[0, 1\)/);
    }
    const ok = writeModel(seq([egru(0.5), head]), W);
    const r = runNmc(["ir", ok]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/EGRU\[2\] emits events, zoneout 0\.5/);
    const out = join(dir, "z.nmb");
    const c = runNmc(["compile", ok, "--target", "spinnaker2", "-o", out, "--quiet"]);
    expect(c.code, c.stderr).toBe(0);
  }, 300_000);
});
