// Saturation and clipping counts (runtime/golden/saturation.ts, docs/metrics.md "Saturation and clipping"):
// (a) a model built to saturate at one known population counts there and nowhere else; (b) the counts are
// the BigInt reference's clips site by site (every clamp of QUANTIZATION.md is counted, exactly), and the
// spinnaker2 simulator's equal the golden engine's, with one PE per population and with many; (c) counting
// changes no output (golden = the BigInt reference = golden with counting off = the simulator, every tick);
// (d) nmc run and nmc verify carry the `saturation` key, name the engine that counted, and warn in text.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FLOAT_IR_SECTION, IR_SECTION_KIND, irSection, writeBundle } from "../../ir/bundle.js";
import { encodeGraph } from "../../ir/codec.js";
import type { Graph, Population } from "../../ir/types.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import {
  cmulImQ15, cmulImQ15Count, cmulReQ15, cmulReQ15Count, lutIndexAt, lutIndexAtCount, requantizeMS, requantizeMSCount, roundShift, sat16, sat16Count, sat32,
  sat32Count, saturate, saturateCount,
} from "../../runtime/fixed/index.js";
import { GoldenEngine } from "../../runtime/golden/interpreter.js";
import {
  mergeSaturation, SATURATION_SITES, type SaturationCounts, saturationEntries, saturationLines, type SaturationSite,
} from "../../runtime/golden/saturation.js";
import { ndarray } from "../../runtime/io/ndarray.js";
import { writeNpy } from "../../runtime/io/npy.js";
import { getTarget } from "../../targets/registry.js";
import { mapGraph, mappingSection, simulate } from "../../targets/spinnaker2/index.js";
import { SPINNAKER2 } from "../../targets/spinnaker2/chip.js";
import { type CliResult, ensureBuilt, runNmcAsync } from "../support/cli.js";
import { fuzzParams } from "../support/fuzz.js";
import { type ClipSite, runBigIntReference } from "../support/golden-bigint.js";
import { buildModel, makeBatch, type ModelSpec, quantCaseFields, quantizeFor, scaled } from "../support/quant-models.js";
import { type ChipShape, hwWithUsable, minimumUsableBytes } from "../support/spinnaker2.js";

// ---------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------

/** The BigInt reference's name of each site (its EGRU cell value is "egru16", a DiagonalSSM's state "state"). */
function refSite(site: SaturationSite, kind: string): ClipSite {
  const m: Record<SaturationSite, ClipSite> = {
    colsum: "colsum32", requant: "requant32", port: "port32", cmul: "cmul32", state: kind === "EGRU" ? "egru16" : "state", read: "read16",
    sum: "ssmSum32", y: "ssmY32", operand: "operand16", output: "out16", running: "readout32", lookup: "lutIndex",
  };
  return m[site];
}

/** Counts summed over populations by the reference's site names (every reference site present, 0 if none). */
function byRefSite(c: SaturationCounts, ref: Record<ClipSite, number>): Record<string, number> {
  const out: Record<string, number> = Object.fromEntries(Object.keys(ref).filter((k) => k !== "input16").map((k) => [k, 0]));
  for (const p of Object.values(c)) {
    for (const [site, s] of Object.entries(p.sites) as [SaturationSite, { hits: number }][]) out[refSite(site, p.kind)] += s.hits;
  }
  return out;
}

/** Every population's integer output of every tick, [B, T, size] each, and the run. */
function goldenTrace(q: Graph, batch: SequenceBatch, countSaturation = true) {
  const T = batch.ticks;
  const perTick = q.populations.map((p) => new Int32Array(batch.batch * T * p.size));
  const run = new GoldenEngine(q, { countSaturation, observer: (k, out, b, t) => perTick[k].set(out, (b * T + t) * out.length) }).run(batch);
  return { run, perTick };
}

/** The values each site checks, from the model's structure alone (B · T ticks). Sites not listed are not checked here. */
function expectedValues(p: Population, BT: number): Partial<Record<SaturationSite, number>> {
  const e: Partial<Record<SaturationSite, number>> = {};
  const ports = p.ports.reduce((a, q) => a + q.width, 0);
  if (ports) e.port = ports * BT;
  const n = p.size;
  switch (p.kind) {
    case "EGRU": e.state = n * BT; e.lookup = 3 * n * BT; break;
    case "DiagonalSSM": {
      e.cmul = e.state = 2 * p.stateSize * BT;
      if (p.fixed!.stateBits === 32) e.read = 2 * p.stateSize * BT;
      e.sum = e.y = e.output = n * BT;
      break;
    }
    case "Dense":
      if (p.activation !== "sigmoid" && p.activation !== "tanh") e.output = n * BT;
      if (p.activation !== "linear" && p.activation !== "relu") e.lookup = n * BT;
      break;
    case "Multiply": e.operand = 2 * n * BT; e.output = n * BT; break;
    case "LayerNorm": e.operand = n * BT; e.output = n * BT; break;
    case "Readout": if (p.mode !== "last") e.running = n * BT; break;
    default: break;
  }
  return e;
}

/** The sites (population.site: hits) that clamped anything, but for the populations in `except`. */
function allZero(c: SaturationCounts, except: string[] = []): string[] {
  const bad: string[] = [];
  for (const [name, p] of Object.entries(c)) {
    if (except.includes(name)) continue;
    for (const [site, s] of Object.entries(p.sites)) if (s.hits !== 0) bad.push(`${name}.${site}: ${s.hits}`);
  }
  return bad;
}

// ---------------------------------------------------------------------------------------------------------
// The counted primitives
// ---------------------------------------------------------------------------------------------------------

describe("counted primitives: the plain result, and a count exactly when the clamp changed the value", () => {
  const big = fc.oneof(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.integer({ min: -70000, max: 70000 }), fc.constantFrom(0, -0, 32767, 32768, -32768, -32769, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1));
  it("sat16, sat32, saturate", () => {
    fc.assert(fc.property(big, fc.integer({ min: 2, max: 40 }), (x, bits) => {
      const c = new Float64Array(3);
      expect(Object.is(sat16Count(x, c, 0), sat16(x))).toBe(true);
      expect(Object.is(sat32Count(x, c, 1), sat32(x))).toBe(true);
      expect(Object.is(saturateCount(x, bits, c, 2), saturate(x, bits))).toBe(true);
      expect(Array.from(c)).toEqual([sat16(x) !== x ? 1 : 0, sat32(x) !== x ? 1 : 0, saturate(x, bits) !== x ? 1 : 0]);
    }), fuzzParams(500));
  });

  it("requantizeMS, the complex Q15 multiply, the lookup-table index", () => {
    const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    const q15 = fc.integer({ min: -(2 ** 15), max: 2 ** 15 });
    fc.assert(fc.property(i32, i32, q15, q15, fc.integer({ min: 2 ** 14, max: 2 ** 15 - 1 }), fc.integer({ min: 0, max: 40 }), (a, b, cr, ci, m, s) => {
      const c = new Float64Array(4);
      const rq = requantizeMSCount(a, m, s, c, 0), re = cmulReQ15Count(a, b, cr, ci, c, 1), im = cmulImQ15Count(a, b, cr, ci, c, 2);
      expect([rq, re, im]).toEqual([requantizeMS(a, m, s), cmulReQ15(a, b, cr, ci), cmulImQ15(a, b, cr, ci)]);
      // The unclamped values (each rounded once, as the primitives do): counted exactly when beyond int32.
      const raw = [roundShift(a * m, s), roundShift(a * cr - b * ci, 15), roundShift(a * ci + b * cr, 15)];
      expect(Array.from(c.subarray(0, 3))).toEqual(raw.map((v) => (sat32(v) !== v ? 1 : 0)));
    }), fuzzParams(500));
    fc.assert(fc.property(fc.integer({ min: -5000, max: 5000 }), fc.integer({ min: -100000, max: 100000 }), fc.constantFrom(256, 1024, 4096), fc.integer({ min: 0, max: 6 }), (origin, x, size, k) => {
      const c = new Float64Array(1), inv = 2 ** -k;
      expect(lutIndexAtCount(origin, inv, x, size, c, 0)).toBe(lutIndexAt(origin, inv, x, size));
      const raw = Math.floor((x - origin) * inv);
      expect(c[0]).toBe(raw < 0 || raw > size - 1 ? 1 : 0);
    }), fuzzParams(500));
  });
});

// ---------------------------------------------------------------------------------------------------------
// (a) A model that saturates at one known population
// ---------------------------------------------------------------------------------------------------------

/** Input → SSM → Dense (linear), the last layer the output; calibrated on `cal`. */
const chain: ModelSpec = {
  seed: 4242, encoding: "values", inputs: 4, skip: false, feedback: false, readout: "none", weightScale: 1, pruneFraction: 0,
  layers: [{ kind: "ssm", size: 5, state: 3, act: "linear" }, { kind: "dense", size: 3, state: 1, act: "linear" }],
};

/** The quantized chain, and the same with its output Dense's binary point moved 6 bits right (outputs × 64: they saturate). */
function forcedModels() {
  const g = buildModel(chain);
  const cal = makeBatch(g, 11, 3, 8, 1);
  const q = quantizeFor(g, cal, { weightBits: 8, stateBits: 16, range: { kind: "max" } });
  const hot = structuredClone(q);
  const d = hot.populations.find((p) => p.name === "dense1")!;
  d.fixed!.outFrac += 6;
  return { g, q, hot, cal };
}

describe("(a) a population driven beyond its format counts, and only it", () => {
  it("the output Dense with its outputs × 64: its outputs saturate, nothing else does; = the reference's count", () => {
    const { q, hot, cal } = forcedModels();
    const cold = new GoldenEngine(q).run(cal).saturation!;
    expect(allZero(cold), "the calibrated model on its calibration data").toEqual([]);
    const run = new GoldenEngine(hot).run(cal);
    const s = run.saturation!;
    const out = s.dense1.sites.output!;
    expect(out.hits).toBeGreaterThan(0);
    expect(out.values).toBe(3 * 8 * 3);
    expect(out.hits).toBe(runBigIntReference(hot, cal).clips.out16);
    expect(allZero(s, ["dense1"])).toEqual([]);
    expect(Object.keys(s)).toEqual(["ssm0", "dense1"]); // every population but the Input
    const [line] = saturationLines(saturationEntries(s));
    expect(line).toBe(`population dense1 (Dense): ${out.hits} of 72 outputs saturated (${(100 * out.hits / 72).toPrecision(3)}%)`);
    expect(saturationLines(saturationEntries(cold))).toEqual([]);
  });

  it("a DiagonalSSM whose input projection is 2^8 × too strong: its state saturates, reported as state values", () => {
    const g = buildModel({ ...chain, layers: [chain.layers[0]] }); // the SSM is the output
    const cal = makeBatch(g, 12, 2, 10, 1);
    const q = quantizeFor(g, cal, { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    const hot = structuredClone(q);
    const b = hot.projections.find((j) => j.name === "ssm0.B")!;
    b.requant!.shift = b.requant!.shift.map((s) => Math.max(0, s - 8));
    const s = new GoldenEngine(hot).run(cal).saturation!;
    expect(s.ssm0.sites.state!.hits).toBeGreaterThan(0);
    expect(s.ssm0.sites.state!.values).toBe(2 * 3 * 2 * 10);
    const ref = runBigIntReference(hot, cal).clips;
    expect(s.ssm0.sites.state!.hits).toBe(ref.state);
    expect(saturationLines(saturationEntries(s))[0]).toMatch(/^population ssm0 \(DiagonalSSM\): .*\d+ of 120 state values saturated \([\d.e-]+%\)/);
  });

  it("the text: one line per population, sites in order, clippings last; percentages to 3 digits", () => {
    const c: SaturationCounts = {
      ssm1: { kind: "DiagonalSSM", sites: { state: { hits: 12, values: 56000 }, port: { hits: 0, values: 100 } } },
      d: { kind: "Dense", sites: { port: { hits: 1, values: 10 }, output: { hits: 3, values: 6400 }, lookup: { hits: 7, values: 700 } } },
      quiet: { kind: "EGRU", sites: { state: { hits: 0, values: 5 } } },
      tiny: { kind: "Readout", sites: { running: { hits: 1, values: 3e7 } } },
    };
    expect(saturationLines(saturationEntries(c))).toEqual([
      "population ssm1 (DiagonalSSM): 12 of 56000 state values saturated (0.0214%)",
      "population d (Dense): 1 of 10 port sums saturated (10.0%), 3 of 6400 outputs saturated (0.0469%), 7 of 700 lookup-table inputs clipped to the table's range (1.00%)",
      "population tiny (Readout): 1 of 30000000 running sums saturated (3.33e-6%)",
    ]);
    expect(saturationEntries(c)[1]).toEqual({ population: "d", kind: "Dense", saturated: 4, clipped: 7, values: 6410, lookups: 700, sites: c.d.sites });
  });
});

// ---------------------------------------------------------------------------------------------------------
// (b) + (c) Random models: exact counts, the same on every engine that counts, and no output changed
// ---------------------------------------------------------------------------------------------------------

const caseArb = fc.record({
  ...quantCaseFields({ maxSize: 8, maxState: 4, maxT: 6 }),
  amp: fc.constantFrom(0.5, 1, 3),
  shape: fc.constantFrom<ChipShape>("default", "small", "wide"),
});

/** Hits summed over every population and site. */
const totalHits = (c: SaturationCounts) => Object.values(c).reduce((a, p) => a + Object.values(p.sites).reduce((x, s) => x + s.hits, 0), 0);

/**
 * (c) outputs: counting on = counting off = the BigInt reference = the simulator, every population every tick;
 * (b) counts: = the reference's clips site by site, the values checked as the structure says, the simulator's
 * (each mapping) = golden's, per-sample runs merged = the whole run. Returns golden's counts.
 */
function checkEngines(q: Graph, batch: SequenceBatch, maps: ReturnType<typeof mapGraph>[], seen: Set<string>): SaturationCounts {
  const { run, perTick } = goldenTrace(q, batch);
  const off = goldenTrace(q, batch, false);
  const ref = runBigIntReference(q, batch);
  const sat = run.saturation!;
  expect(off.run.saturation).toBeUndefined();
  expect(Array.from(run.outputQ)).toEqual(Array.from(ref.outputQ));
  q.populations.forEach((p, k) => {
    expect(Array.from(perTick[k]), p.name).toEqual(Array.from(ref.perTick[p.name]));
    expect(Array.from(off.perTick[k]), p.name).toEqual(Array.from(perTick[k]));
  });
  expect(byRefSite(sat, ref.clips)).toEqual(Object.fromEntries(Object.entries(ref.clips).filter(([k]) => k !== "input16")));
  const BT = batch.batch * batch.ticks;
  for (const p of q.populations) {
    if (p.kind === "Input") continue;
    for (const [site, v] of Object.entries(expectedValues(p, BT))) expect(sat[p.name].sites[site as SaturationSite]?.values ?? 0, `${p.name}.${site}`).toBe(v);
    for (const [site, s] of Object.entries(sat[p.name].sites)) {
      expect(s.hits).toBeLessThanOrEqual(s.values);
      if (s.hits) seen.add(`${p.kind}.${site}`);
    }
  }
  for (const m of maps) {
    const sim = simulate(q, m, batch);
    expect(Array.from(sim.outputQ)).toEqual(Array.from(run.outputQ));
    expect(sim.saturation).toEqual(sat);
  }
  const per = batch.ticks * batch.channels, all = Float64Array.from(batch.data);
  const parts = Array.from({ length: batch.batch }, (_, b) => new GoldenEngine(q).run({ ...batch, data: all.slice(b * per, (b + 1) * per), batch: 1 }).saturation);
  expect(mergeSaturation(parts)).toEqual(sat);
  return sat;
}

/**
 * A quantized graph pushed beyond its formats: every requantization 2^k × too strong, EGRU thresholds far
 * below zero (h = c − thr leaves int16, so the next c saturates), DiagonalSSM Λ̄ = (1 + i)·(1 − 2^−15)
 * (|Λ̄| > 1: the state grows until it saturates, and with 32-bit states its Λ̄ ⊙ x parts pass int32).
 */
function heat(q: Graph, k: number): Graph {
  const h = structuredClone(q);
  for (const j of h.projections) j.requant!.shift = j.requant!.shift.map((s) => Math.max(0, s - k));
  for (const p of h.populations) {
    if (p.kind === "EGRU") p.tensors.thr.data.fill(-20000);
    if (p.kind === "DiagonalSSM") {
      p.tensors.lambda_re.data.fill(32767);
      p.tensors.lambda_im.data.fill(32767);
    }
  }
  return h;
}

describe("(b, c) random models: counts = the reference's clips; simulator = golden; outputs unchanged", () => {
  it("golden, golden uncounted, the BigInt reference and the simulator (one PE and many per population)", () => {
    let hits = 0, cases = 0;
    const seen = new Map<string, number>();
    fc.assert(fc.property(caseArb, (c) => {
      const g = buildModel(c.spec);
      const q = quantizeFor(g, makeBatch(g, c.spec.seed ^ 0x5bd1e995, 4, 6, 1), c.quant);
      const maps = [mapGraph(q, SPINNAKER2), mapGraph(q, hwWithUsable(minimumUsableBytes(q), c.shape))];
      const fresh = makeBatch(q, c.inputSeed, c.B, c.T, c.amp);
      // The calibration's scale, and four times it: saturation and clipping everywhere.
      const here = new Set<string>();
      for (const batch of [fresh, scaled(fresh, 4, g)]) hits += totalHits(checkEngines(q, batch, maps, here));
      for (const s of here) seen.set(s, (seen.get(s) ?? 0) + 1);
      cases++;
      // 300 draws: a Dense output clamps at ×4 in ~5 % of draws (seeds 1-3 at 60: 2, 4, 3 cases), so 60 draws
      // missed it ~5 % of the time; 300 miss it with probability ~0.95^300 ≈ 2e-7 (EGRU.lookup: ~10 %, less still).
    }), fuzzParams(Number(process.env.NMC_RUNS ?? 300)));
    if (process.env.NMC_SAT_STATS) console.log(`${cases} cases; cases per site that clamped: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
    // The ×4 inputs did drive values beyond their formats, at several kinds of site.
    expect(hits).toBeGreaterThan(0);
    for (const s of ["Dense.output", "EGRU.lookup"]) expect(seen.has(s), `${s} in ${[...seen].join(", ")}`).toBe(true);
  });

  it("the same on models pushed beyond their formats (ports, requantization, EGRU and SSM states, Λ̄ ⊙ x, y)", () => {
    const seen = new Map<string, number>();
    fc.assert(fc.property(caseArb, fc.constantFrom(8, 16, 24), (c, k) => {
      const g = buildModel(c.spec);
      const q = heat(quantizeFor(g, makeBatch(g, c.spec.seed ^ 0x5bd1e995, 4, 6, 1), c.quant), k);
      const maps = [mapGraph(q, SPINNAKER2), mapGraph(q, hwWithUsable(minimumUsableBytes(q), c.shape))];
      const here = new Set<string>();
      checkEngines(q, makeBatch(q, c.inputSeed, c.B, c.T, c.amp), maps, here);
      for (const s of here) seen.set(s, (seen.get(s) ?? 0) + 1);
    }), fuzzParams(Number(process.env.NMC_RUNS ?? 60)));
    if (process.env.NMC_SAT_STATS) console.log(`heated: cases per site that clamped: ${JSON.stringify(Object.fromEntries([...seen].sort()))}`);
    for (const s of ["Dense.port", "Dense.requant", "EGRU.state", "DiagonalSSM.state", "DiagonalSSM.y"]) expect(seen.has(s), `${s} in ${[...seen].join(", ")}`).toBe(true);
  });

  it("sums random models do not reach: a projection column sum, a running sum and an SSM's C·x sum beyond int32", () => {
    const seen = new Set<string>();
    const wide = (inputs: number) => {
      const g = buildModel({
        seed: 7, encoding: "values", inputs, skip: false, feedback: false, readout: "sum", weightScale: 1, pruneFraction: 0,
        layers: [{ kind: "dense", size: 2, state: 1, act: "linear" }],
      });
      const q = structuredClone(quantizeFor(g, makeBatch(g, 3, 2, 3, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } }));
      const k = q.projections[0];
      k.weights.values.data = Int8Array.from(k.weights.values.data, (_w, i) => (k.weights.colIdx[i] === 0 ? 127 : -127));
      return q;
    };
    // Inputs of 1e6 saturate the input format: 32 767 each.
    const q = wide(600);
    const sat = checkEngines(q, { data: new Float64Array(600 * 3).fill(1e6), batch: 1, ticks: 3, channels: 600 }, [mapGraph(q, SPINNAKER2)], seen);
    expect(sat.dense0.sites.colsum!.hits).toBe(6); // both columns, every tick: ±600 · 32 767 · 127 ≈ ±2.5e9
    // One input: the Dense's outputs saturate at ±32 767, and the readout's running sum passes int32 after 65 537 ticks.
    const T = 65540, one = heat(wide(1), 16);
    const long = checkEngines(one, { data: new Float64Array(T).fill(1e6), batch: 1, ticks: T, channels: 1 }, [mapGraph(one, SPINNAKER2)], seen);
    expect(long.readout.sites.running!.hits).toBeGreaterThan(0);
    // A DiagonalSSM of 300 states, Λ̄ = 0, u = (+big, −big) through B at full scale: every state part saturates
    // (+32 767, −32 768), and C = 127 + 127i sums 300 · 127 · 65 535 ≈ 2.5e9 beyond int32.
    const gs = buildModel({ ...chain, inputs: 1, layers: [{ kind: "ssm", size: 1, state: 300, act: "linear" }] });
    const ssm = structuredClone(quantizeFor(gs, makeBatch(gs, 5, 2, 3, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } }));
    const sp = ssm.populations[1];
    for (const t of ["lambda_re", "lambda_im"]) sp.tensors[t].data.fill(0);
    for (const t of ["c_re", "c_im"]) sp.tensors[t].data.fill(127);
    const bj = ssm.projections.find((j) => j.name === "ssm0.B")!;
    bj.weights.values.data = Int8Array.from(bj.weights.values.data, (_w, i) => (bj.weights.colIdx[i] < 300 ? 127 : -127));
    bj.requant!.shift = bj.requant!.shift.map((x) => Math.max(0, x - 16));
    const ss = checkEngines(ssm, { data: new Float64Array(3).fill(1e6), batch: 1, ticks: 3, channels: 1 }, [mapGraph(ssm, SPINNAKER2)], seen);
    expect(ss.ssm0.sites.sum!.hits).toBe(3);
    expect(seen.has("DiagonalSSM.state")).toBe(true);
  }, 120_000);

  it("every site is documented (docs/metrics.md names each key)", async () => {
    const { readFileSync } = await import("node:fs");
    const doc = readFileSync(new URL("../../docs/metrics.md", import.meta.url), "utf8");
    for (const s of SATURATION_SITES) expect(doc, s.key).toContain(`\`${s.key}\``);
  });
});

// ---------------------------------------------------------------------------------------------------------
// (d) The CLI: nmc run, merge and verify
// ---------------------------------------------------------------------------------------------------------

describe("(d) nmc run and nmc verify report the counts", () => {
  let dir = "";
  const files = { golden: "", s2: "", cuda: "", clean: "", x: "" };
  let expected: SaturationCounts = {};
  const show = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout.slice(0, 3000)}\nstderr:\n${r.stderr}`;

  beforeAll(async () => {
    await ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "nmc-saturation-"));
    const { g, q, hot, cal } = forcedModels();
    const floatSection = { name: FLOAT_IR_SECTION, kind: IR_SECTION_KIND, data: encodeGraph(g) };
    files.golden = join(dir, "hot.nmb");
    writeBundle(files.golden, { modelName: "hot", target: "golden", sections: [irSection(hot), floatSection] });
    files.clean = join(dir, "clean.nmb");
    writeBundle(files.clean, { modelName: "clean", target: "golden", sections: [irSection(q), floatSection] });
    const hw = hwWithUsable(minimumUsableBytes(hot), "small"); // several PEs per population
    const m = mapGraph(hot, hw);
    files.s2 = join(dir, "hot-s2.nmb");
    writeBundle(files.s2, { modelName: "hot", target: "spinnaker2", hardwareJson: JSON.stringify(hw), sections: [irSection(hot), floatSection, mappingSection(m)] });
    const cuda = getTarget("cuda").lower({ quantized: hot, float: g, options: {} });
    files.cuda = join(dir, "hot-cuda.nmb");
    writeBundle(files.cuda, { modelName: "hot", target: "cuda", sections: [irSection(hot), floatSection, ...cuda.sections] });
    files.x = join(dir, "x.npy");
    writeNpy(files.x, ndarray("f4", [cal.batch, cal.ticks, cal.channels], Float32Array.from(cal.data as ArrayLike<number>)));
    expected = new GoldenEngine(hot).run(cal).saturation!;
  }, 240_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("nmc run --json: `saturation` per population and the engine that counted, for golden and the simulator", async () => {
    const [gold, s2, s2dense] = await Promise.all([
      runNmcAsync(["run", files.golden, "--input", files.x, "--json"]),
      runNmcAsync(["run", files.s2, "--input", files.x, "--json"]),
      runNmcAsync(["run", files.s2, "--input", files.x, "--json", "--mode", "dense"]),
    ]);
    for (const r of [gold, s2, s2dense]) expect(r.code, show(r)).toBe(0);
    const want = saturationEntries(expected);
    expect(want.find((e) => e.population === "dense1")!.saturated).toBeGreaterThan(0);
    const jg = JSON.parse(gold.stdout), js = JSON.parse(s2.stdout), jd = JSON.parse(s2dense.stdout);
    expect(jg.saturation).toEqual(want);
    expect(jg.saturation_counted_by).toBe("golden");
    expect(js.saturation).toEqual(want);
    expect(jd.saturation).toEqual(want);
    expect(js.saturation_counted_by).toBe("spinnaker2");
    for (const r of [gold, s2]) {
      expect(r.stderr).toMatch(/nmc: warning: population dense1 \(Dense\): \d+ of 72 outputs saturated \([\d.]+%\)\n/);
      expect(r.stderr).not.toMatch(/population ssm0/);
    }
    expect(gold.stderr).toMatch(/note: counted by the golden engine/);
    expect(s2.stderr).toMatch(/note: counted by the spinnaker2 simulator/);
  });

  it("lookup clippings alone are a note, not a warning (egru-smnist: its EGRU gates read beyond the tables)", async () => {
    const bundle = join(dir, "egru.nmb");
    const c = await runNmcAsync(["compile", "examples/egru-smnist/model.json", "--target", "golden", "-o", bundle]);
    expect(c.code, show(c)).toBe(0);
    const r = await runNmcAsync(["run", bundle, "--input", "examples/egru-smnist/inputs/x.npy"]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stderr).toMatch(/nmc: note: population egru \(EGRU\): \d+ of \d+ lookup-table inputs clipped/);
    expect(r.stderr).not.toMatch(/warning: population/);
  }, 120_000);

  it("text output warns; a model inside its formats says nothing (and its JSON counts are all zero)", async () => {
    const [text, clean, cleanText] = await Promise.all([
      runNmcAsync(["run", files.golden, "--input", files.x]),
      runNmcAsync(["run", files.clean, "--input", files.x, "--json"]),
      runNmcAsync(["run", files.clean, "--input", files.x]),
    ]);
    for (const r of [text, clean, cleanText]) expect(r.code, show(r)).toBe(0);
    expect(text.stderr).toMatch(/warning: population dense1 \(Dense\): \d+ of 72 outputs saturated/);
    expect(cleanText.stderr).not.toMatch(/saturated|clipped/);
    const j = JSON.parse(clean.stdout) as { saturation: { population: string; saturated: number; clipped: number; values: number }[] };
    expect(j.saturation.map((e) => e.population)).toEqual(["ssm0", "dense1"]);
    for (const e of j.saturation) {
      expect(e.saturated + e.clipped).toBe(0);
      expect(e.values).toBeGreaterThan(0);
    }
  });

  it("worker threads and shards merged give the same counts", async () => {
    const p1 = join(dir, "p1.json"), p2 = join(dir, "p2.json");
    const [w, a, b] = await Promise.all([
      runNmcAsync(["run", files.s2, "--input", files.x, "--json", "--workers", "2"]),
      runNmcAsync(["run", files.golden, "--input", files.x, "--shard", "1/2", "--save", p1, "--json"]),
      runNmcAsync(["run", files.golden, "--input", files.x, "--shard", "2/2", "--save", p2, "--json"]),
    ]);
    for (const r of [w, a, b]) expect(r.code, show(r)).toBe(0);
    const merged = await runNmcAsync(["merge", p1, p2, "--json"]);
    expect(merged.code, show(merged)).toBe(0);
    const want = saturationEntries(expected);
    expect(JSON.parse(w.stdout).saturation).toEqual(want);
    expect(JSON.parse(merged.stdout).saturation).toEqual(want);
    expect(merged.stderr).toMatch(/warning: population dense1/);
  });

  it("the cuda engine does not count (its source is unchanged) and says so; verify reports the golden run's counts", async () => {
    const run = await runNmcAsync(["run", files.cuda, "--input", files.x, "--json"], { timeoutMs: 180_000 });
    expect(run.code, show(run)).toBe(0);
    const j = JSON.parse(run.stdout);
    expect(j.saturation).toBeNull();
    expect(j.saturation_counted_by).toBeNull();
    expect(j.saturation_note).toMatch(/does not count/);
    expect(run.stderr).not.toMatch(/saturated/);
    const v = await runNmcAsync(["verify", files.cuda, "--input", files.x, "--against", "golden", "--json"], { timeoutMs: 180_000 });
    expect(v.code, show(v)).toBe(0);
    const jv = JSON.parse(v.stdout);
    expect(jv.ok).toBe(true);
    expect(jv.saturation).toEqual(saturationEntries(expected));
    expect(jv.saturation_counted_by).toBe("golden");
    expect(v.stderr).toMatch(/warning: population dense1 \(Dense\)[\s\S]*note: counted by the golden engine/);
  }, 240_000);

  it("nmc verify --json: the target's own counts (spinnaker2 against golden and against float)", async () => {
    const [v, f] = await Promise.all([
      runNmcAsync(["verify", files.s2, "--input", files.x, "--against", "golden", "--json"]),
      runNmcAsync(["verify", files.s2, "--input", files.x, "--against", "float", "--json", "--min-agreement", "0"]),
    ]);
    for (const r of [v, f]) expect(r.code, show(r)).toBe(0);
    for (const r of [v, f]) {
      const j = JSON.parse(r.stdout);
      expect(j.saturation).toEqual(saturationEntries(expected));
      expect(j.saturation_counted_by).toBe("spinnaker2");
      expect(r.stderr).toMatch(/warning: population dense1 \(Dense\): \d+ of 72 outputs saturated/);
    }
  });
});
