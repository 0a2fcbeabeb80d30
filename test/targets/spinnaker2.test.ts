// The spinnaker2 target (targets/spinnaker2) against its contract:
//  1. the simulator equals the golden engine bit for bit (model output and every population's output every
//     tick) on random quantized models, with the default chip (about one PE per population) and with a
//     shrunk SRAM (populations cut into many slices, on a small chip structure so mappings span chips);
//  2. the partition: slices fit the usable SRAM, cover every population contiguously, are as few as any
//     contiguous split allows, respect the memory lower bound; a unit too large for a PE is an NmcError;
//  3. scale: a synthetic quantized EGRU model ~10× one chip's usable SRAM maps onto many chips, routes,
//     and simulates two ticks bit-exact;
//  4. routing: every emitter reaches exactly the PEs holding its targets' slices (checked by our own walk
//     of the key/mask tables), tables within their limits, and too-small tables are an NmcError;
//  5. dense vs event mode on examples/egru-smnist: the energy gain lies in (1, combined synaptic-op gain],
//     dense synaptic operations are rows × cols × ticks × samples, activity counts match the golden events;
//  6. parseHardware names the JSON path of an invalid description.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileQuantized } from "../../compiler/pipeline.js";
import { loadModel } from "../../compiler/frontend/index.js";
import { csrFromDense, GraphBuilder } from "../../ir/builder.js";
import { NmcError } from "../../ir/errors.js";
import type { Graph, Population, Projection } from "../../ir/types.js";
import { verifyGraph } from "../../ir/verify.js";
import { batchFromShape, type SequenceBatch } from "../../runtime/batch.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
import { readNpy } from "../../runtime/io/npy.js";
import { hwSchema, levelOf, parseHardware, SPINNAKER2, usableSram } from "../../targets/spinnaker2/chip.js";
import { mapGraph, mappingFromSection, mappingSection, report } from "../../targets/spinnaker2/index.js";
import { memoryModel, partition } from "../../targets/spinnaker2/partition.js";
import { fuzzParams } from "../support/fuzz.js";
import { uniform } from "../support/graphs.js";
import { buildModel, makeBatch, modelArb, quantOptsArb, quantizeFor } from "../support/quant-models.js";
import {
  type ChipShape, counterDifferences, firstDifference, goldenTrace, hwWithUsable, leastUsableBytes, minimumUsableBytes, partitionViolations, placementViolations,
  routersWithoutQpe, routingViolations, simTrace, withFigures,
} from "../support/spinnaker2.js";

// ---------------------------------------------------------------------------------------------------------
// Random quantized models (test/support/quant-models.ts: EGRU, DiagonalSSM and Dense layers of every
// activation in a chain, skip and delay-1 feedback edges, value or token inputs, readouts, pruned weights,
// int8/int16 weights, 16/32-bit SSM state)
// ---------------------------------------------------------------------------------------------------------

/** This file's ranges: layers up to 9 units, SSM states up to 5 (inputs up to 6, the default). */
const s2ModelArb = modelArb({ maxSize: 9, maxState: 5 });

const caseArb = fc.record({
  spec: s2ModelArb,
  quant: quantOptsArb(),
  B: fc.integer({ min: 1, max: 3 }),
  T: fc.integer({ min: 1, max: 7 }),
  inputSeed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  amp: fc.constantFrom(0.5, 1, 3),
  /** Extra usable bytes on top of the least every population fits, as a fraction of it. */
  slack: fc.constantFrom(0, 0, 0.1, 0.5),
  shape: fc.constantFrom<ChipShape>("default", "small", "wide"),
});

/** Maps g on hw and checks partition, placement, routing and simulator = golden; returns the mapping. */
function checkAll(g: Graph, hw: typeof SPINNAKER2, batch: SequenceBatch, golden: ReturnType<typeof goldenTrace>) {
  const m = mapGraph(g, hw);
  expect(partitionViolations(g, hw, m.partition)).toEqual([]);
  expect(placementViolations(m)).toEqual([]);
  expect(routingViolations(g, m)).toEqual([]);
  const sim = simTrace(g, m, batch);
  expect(firstDifference(g, batch, golden, sim)).toBeNull();
  // Activity and synaptic-operation counts = the golden engine's, except an SSM's `u` projection when the
  // SSM is cut into several slices (each slice keeps the whole state; see the it.fails below).
  const sliced = new Set(m.partition.populations.filter((p) => p.slices.length > 1).map((p) => p.pop));
  const ssmU = (j: Projection) => j.port === "u" && sliced.has(j.target);
  expect(counterDifferences(g, golden.counters, sim.run, ssmU)).toEqual([]);
  if (!g.projections.some(ssmU)) {
    expect(sim.run.totals.dense.synops).toBe(g.projections.reduce((a, j) => a + j.rows * j.cols, 0) * batch.batch * batch.ticks);
  }
  const out = g.populations.find((p) => p.name === g.outputs[0])!;
  expect(sim.run.outputShape).toEqual(out.kind === "Readout" ? [batch.batch, out.size] : [batch.batch, batch.ticks, out.size]);
  return m;
}

// ---------------------------------------------------------------------------------------------------------
// 1 + 2 + 4: random models, default and shrunk hardware
// ---------------------------------------------------------------------------------------------------------

describe("spinnaker2 simulator = golden engine, bit for bit, on random quantized models", () => {
  it("default hardware and a shrunk SRAM (many slices per population); partition, placement and routing hold", () => {
    let runs = 0, multiSlice = 0, multiChip = 0, ssmSplit = 0, egruSplit = 0, denseSplit = 0, multiplySplit = 0, layerNormSplit = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const g = buildModel(c.spec);
        const cal = makeBatch(g, c.spec.seed ^ 0x5bd1e995, 4, 6, 1);
        const q = quantizeFor(g, cal, c.quant);
        expect(verifyGraph(q)).toEqual([]);
        const batch = makeBatch(q, c.inputSeed, c.B, c.T, c.amp);
        const golden = goldenTrace(q, batch);

        // Default SpiNNaker 2: these models are small, one slice per population.
        const m1 = checkAll(q, SPINNAKER2, batch, golden);
        expect(m1.placement.chips).toBe(1);

        // Shrunk: the usable SRAM is just what the largest unit (with its population's fixed part) needs.
        const need = minimumUsableBytes(q);
        const hw = hwWithUsable(need + Math.floor(c.slack * need), c.shape);
        const m2 = checkAll(q, hw, batch, golden);
        // The population that set `need` cannot hold two units on one PE at zero slack (unless it has a
        // cross-PE reduction, a LayerNorm: then `need` may be all of it, or one unit with the reduction's totals).
        const worst = q.populations.filter((p) => p.kind !== "Input" && p.kind !== "Readout").find((p) => leastUsableBytes(q, p) === need)!;
        const { fixed, perUnit } = memoryModel(q, worst);
        if (c.slack === 0 && worst.size >= 2 && fixed + Math.max(...perUnit) === need) expect(m2.partition.populations.find((p) => p.pop === worst.name)!.slices.length).toBeGreaterThan(1);
        runs++;
        const split = m2.partition.populations.filter((p) => p.slices.length > 1 && p.kind !== "Readout");
        if (split.length > 0) multiSlice++;
        if (m2.placement.chips > 1) multiChip++;
        if (split.some((p) => p.kind === "DiagonalSSM")) ssmSplit++;
        if (split.some((p) => p.kind === "EGRU")) egruSplit++;
        if (split.some((p) => p.kind === "Dense")) denseSplit++;
        if (split.some((p) => p.kind === "Multiply")) multiplySplit++;
        if (split.some((p) => p.kind === "LayerNorm")) layerNormSplit++;
      }),
      fuzzParams(600), // a Multiply split is drawn in ~2 % of cases (measured): 600 draws leave its coverage requirement ~2e−5 to fail by chance
    );
    console.log(`shrunk-SRAM property: ${runs} runs, ${multiSlice} with a split, splits: SSM ${ssmSplit}, EGRU ${egruSplit}, Dense ${denseSplit}, Multiply ${multiplySplit}, LayerNorm ${layerNormSplit}; multi-chip ${multiChip}`);
    // The shrunk case really exercised many-PE partitions (of every kind) and multi-chip routes.
    expect(multiSlice).toBeGreaterThan(runs / 2);
    expect(multiChip).toBeGreaterThan(0);
    expect(Math.min(ssmSplit, egruSplit, denseSplit, multiplySplit)).toBeGreaterThan(0);
    // A split LayerNorm is drawn here only now and then (its own file, spinnaker2-layernorm-split.test.ts, forces
    // k = 2..4 slices on every draw), so it is counted, not required: requiring it made this test fail by chance.
    console.log(`shrunk-SRAM property: LayerNorm split in ${layerNormSplit} of ${runs} runs`);
  });

  // Regression (was a bug in route.ts): the per-entry core bitmask was built with `1 << core`, a signed 32-bit
  // shift, so a description with more than 32 PEs per QPE wrapped (core 33 set core 1's bit); now a QPE holds at
  // most ROUTE_CORE_BITS = 32 PEs (parseHardware refuses more) and core 31 — the sign bit — is used unsigned.
  it("32 PEs per QPE with a population cut one unit per PE: packets reach core 31, simulator = golden", () => {
    const g = buildModel({ seed: 7, encoding: "values", inputs: 3, layers: [{ kind: "egru", size: 40, state: 1, act: "relu" }], skip: false, feedback: false, readout: "mean", weightScale: 1, pruneFraction: 0 });
    const q = quantizeFor(g, makeBatch(g, 5, 4, 6, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    const batch = makeBatch(q, 11, 2, 5, 1);
    const m = checkAll(q, hwWithUsable(minimumUsableBytes(q), "wide"), batch, goldenTrace(q, batch));
    expect(m.placement.pes.some((l) => l.core === 31)).toBe(true);
    expect([...m.routing.tables.values()].flat().some((e) => e.cores >= 2 ** 31)).toBe(true);
    expect(() => withFigures({ "chip.pes": 66, "chip.qpes": 2, "chip.pes_per_qpe": 33 })).toThrow(/at most 32 PEs per QPE/);
  });

  it("a bundle's mapping section round-trips (mappingFromSection rebuilds the same slices and routes)", () => {
    const g = buildModel({ seed: 99, encoding: "values", inputs: 4, layers: [{ kind: "egru", size: 9, state: 1, act: "relu" }, { kind: "ssm", size: 5, state: 3, act: "relu" }], skip: true, feedback: true, readout: "mean", weightScale: 1, pruneFraction: 0.5 });
    const q = quantizeFor(g, makeBatch(g, 5, 4, 6, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    const hw = hwWithUsable(minimumUsableBytes(q));
    const m = mapGraph(q, hw);
    const back = mappingFromSection(q, hw, mappingSection(m).data);
    expect(back.partition.slices).toEqual(m.partition.slices);
    expect([...back.routing.tables]).toEqual([...m.routing.tables]);
    const other = hwWithUsable(minimumUsableBytes(q) * 3);
    expect(() => mappingFromSection(q, other, mappingSection(m).data)).toThrow(NmcError);
  });
});

describe("spinnaker2 synaptic-operation counts do not depend on the partition", () => {
  // Regression (was a bug in simulator.ts stepPe): every slice of a DiagonalSSM receives the whole `u` projection (the state is
  // not split), and its per-projection counters (denseOps, effective, activityOnly, weightOnly) and
  // totals.dense.synops are added once per slice. So report().synapticOpsPerInference.dense is no longer
  // Σ rows × cols × ticks (nor equal to the golden engine's counters) once an SSM is cut: x(3) → SSM
  // (H = 6, P = 3) on 6 PEs reports 630 dense synaptic operations per 5-tick inference instead of
  // (3 · 2P + 3 · H) · 5 = 180.
  // (The replicated accumulation is real work for the cycle and energy model; the op counts and the
  // sparsity gains built on them should not change with the hardware description.)
  it("a DiagonalSSM cut into slices: dense synops = Σ rows × cols × ticks × samples; counters = golden's", () => {
    const r = uniform(9);
    const b = new GraphBuilder("ssm");
    const x = b.input("x", 3, "values");
    const H = 6, P = 3;
    const s = b.diagonalSsm("s", H, P, "lru", {
      lambdaRe: new Float64Array(P).fill(0.5), lambdaIm: new Float64Array(P).fill(0.2),
      cRe: Float64Array.from({ length: H * P }, r), cIm: Float64Array.from({ length: H * P }, r),
    });
    b.project("B", x, s, "u", csrFromDense(Float32Array.from({ length: 3 * 2 * P }, r), 3, 2 * P));
    b.project("D", x, s, "skip", csrFromDense(Float32Array.from({ length: 3 * H }, r), 3, H));
    b.outputs.push(s.name);
    const g = b.build();
    const q = quantizeFor(g, makeBatch(g, 2, 4, 5, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    const batch = makeBatch(q, 3, 2, 5, 1);
    const m = mapGraph(q, hwWithUsable(minimumUsableBytes(q)));
    expect(m.partition.pes).toBe(H);
    const golden = goldenTrace(q, batch);
    const sim = simTrace(q, m, batch);
    expect(firstDifference(q, batch, golden, sim)).toBeNull(); // the outputs are right
    const rep = report(q, m, sim.run, "event");
    expect(rep.synapticOpsPerInference.dense).toBe((3 * 2 * P + 3 * H) * batch.ticks);
    expect(counterDifferences(q, golden.counters, sim.run)).toEqual([]);
  });
});

// Two Readouts of one population (valid IR: verifyGraph accepts it) and a Readout of the Input population.
describe("spinnaker2 readouts beyond one per model", () => {
  const dense = (readouts: (b: GraphBuilder, x: Population, d: Population) => void) => {
    const r = uniform(7);
    const b = new GraphBuilder("m");
    const x = b.input("x", 3, "values");
    const d = b.dense("d", 4, "relu", new Float32Array(4).fill(0.1));
    b.project("k", x, d, "x", csrFromDense(Float32Array.from({ length: 12 }, r), 3, 4));
    readouts(b, x, d);
    const g = b.build();
    const q = quantizeFor(g, makeBatch(g, 3, 4, 5, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    expect(verifyGraph(q)).toEqual([]);
    return q;
  };
  const batchOf = (g: Graph) => makeBatch(g, 11, 2, 5, 1);

  // Regression (was a bug; simulator.ts: `readoutOf` is a Map from source population to ONE readout, so a second Readout of
  // the same source replaces the first): the first readout's outputs stay 0 on the simulator.
  it("two Readouts (mean, sum) of one population: both equal golden", () => {
    const q = dense((b, _x, d) => {
      b.outputs.push(b.readout("mean", d, "mean").name);
      b.readout("sum", d, "sum");
    });
    const batch = batchOf(q);
    const golden = goldenTrace(q, batch);
    const sim = simTrace(q, mapGraph(q), batch);
    expect(firstDifference(q, batch, golden, sim)).toBeNull();
  });

  // Regression (was a bug; partition.ts: a Readout looks up its source's partition with `populations.find(...)!`, and the Input
  // population has none): mapGraph throws a TypeError ("Cannot read properties of undefined (reading
  // 'slices')"), which the CLI reports as an internal error, instead of mapping it or raising an NmcError.
  it("a Readout of the Input population maps (or is refused with an NmcError)", () => {
    const q = dense((b, x, d) => {
      b.outputs.push(d.name);
      b.readout("xmean", x, "mean");
    });
    let err: unknown = null;
    try {
      const batch = batchOf(q);
      expect(firstDifference(q, batch, goldenTrace(q, batch), simTrace(q, mapGraph(q), batch))).toBeNull();
    } catch (e) {
      err = e;
    }
    expect(err === null || err instanceof NmcError, String(err)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------------
// 2: partition
// ---------------------------------------------------------------------------------------------------------

describe("spinnaker2 partition", () => {
  const tiny = () => {
    // x(3) → d(2) relu, then a readout: every byte of the memory model can be counted by hand.
    const b = new GraphBuilder("tiny");
    const x = b.input("x", 3, "values");
    const d = b.dense("d", 2, "relu", Float32Array.of(0.1, -0.1));
    b.project("k", x, d, "x", csrFromDense([0.5, 0, -0.25, 0.75, 0, 0.3], 3, 2)); // column 0: 2 weights, column 1: 2
    b.outputs.push(b.readout("out", d, "sum").name);
    const g = b.build();
    return (bits: 8 | 16) => quantizeFor(g, makeBatch(g, 1, 4, 4, 1), { weightBits: bits, stateBits: 16, range: { kind: "max" } });
  };

  it.each([8, 16] as const)("the memory model of a small Dense population, counted by hand (int%i weights)", (bits) => {
    const q = tiny()(bits);
    const d = q.populations.find((p) => p.name === "d")!;
    const k = q.projections.find((j) => j.name === "k")!;
    const perCol = [0, 0];
    for (const c of k.weights.colIdx) perCol[c]++;
    expect(perCol).toEqual([2, 2]);
    const { fixed, perUnit } = memoryModel(q, d);
    // Row pointers (3 + 1) × 4; event queues 2 ticks × 3 sources × 4 B; no LUT for relu.
    expect(fixed).toBe(16 + 24);
    // Per unit: stored weights × (value + u16 column) + bias 4 + (multiplier/shift 5 + exact sum 8 + port 4) +
    // output and previous output 4, + the readout's running sum and output 8.
    const wb = bits / 8;
    expect(Array.from(perUnit)).toEqual(perCol.map((n) => n * (wb + 2) + 4 + 17 + 4 + 8));
    const part = partition(q, SPINNAKER2);
    expect(part.slices.map((s) => [s.pop, s.lo, s.hi, s.bytes])).toEqual([["d", 0, 2, fixed + perUnit[0] + perUnit[1]], ["out", 0, 2, 0]]);
    // Usable SRAM for exactly one unit: two slices, the readout mirrors them on the same PEs.
    const one = partition(q, hwWithUsable(fixed + Math.max(...perUnit)));
    expect(one.slices.map((s) => [s.pop, s.lo, s.hi, s.mirrors])).toEqual([["d", 0, 1, -1], ["d", 1, 2, -1], ["out", 0, 1, 0], ["out", 1, 2, 1]]);
    expect(one.pes).toBe(2);
    expect(one.lowerBound).toBe(2);
  });

  it("usable SRAM = SRAM − code reserve − buffers (94 208 bytes on the default)", () => {
    expect(usableSram(SPINNAKER2)).toBe(131072 - 32768 - 4096);
    expect(levelOf(SPINNAKER2).name).toBe(SPINNAKER2.default_level);
    expect(() => levelOf(SPINNAKER2, "PL9")).toThrow(NmcError);
  });

  it("slices fit, cover contiguously, are the fewest possible and respect the lower bound, over many budgets", () => {
    fc.assert(
      fc.property(s2ModelArb, fc.double({ min: 0, max: 4, noNaN: true }), (spec, slack) => {
        const g = buildModel(spec);
        const q = quantizeFor(g, makeBatch(g, spec.seed, 3, 4, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
        const need = minimumUsableBytes(q);
        const hw = hwWithUsable(need + Math.floor(slack * need));
        const part = partition(q, hw);
        expect(partitionViolations(q, hw, part)).toEqual([]);
        // Balanced: the largest slice is no larger than a greedy split's largest (the budget only shrinks).
        for (const s of part.slices) expect(s.bytes).toBeLessThanOrEqual(usableSram(hw));
      }),
      { numRuns: 60 },
    );
  });

  it("a unit too large for a PE is an NmcError naming the population and the byte counts", () => {
    const q = tiny()(8);
    const d = q.populations.find((p) => p.name === "d")!;
    const { fixed, perUnit } = memoryModel(q, d);
    const worst = fixed + Math.max(...perUnit);
    const hw = hwWithUsable(worst - 1);
    let err: unknown;
    try {
      partition(q, hw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NmcError);
    const e = err as NmcError;
    expect(e.message).toContain("population d ");
    expect(e.node).toBe("d");
    expect(e.expected).toContain(`at most ${worst - 1} bytes`);
    expect(e.found).toContain(`${worst} bytes for unit`);
    expect(e.found).toContain(`${fixed} bytes shared by every slice`);
    expect(e.format()).toMatch(/population d does not fit a PE/);
    // The same through mapGraph, and a bigger SRAM by one byte maps.
    expect(() => mapGraph(q, hw)).toThrow(NmcError);
    expect(mapGraph(q, hwWithUsable(worst)).partition.pes).toBe(2);
  });
});

// ---------------------------------------------------------------------------------------------------------
// 3: scale — ~10× one chip's usable SRAM
// ---------------------------------------------------------------------------------------------------------

/**
 * A synthetic quantized chain x → e0 → e1 → e2 → … → eN → head → readout of 96-unit EGRUs (two PEs each).
 * x → e0 → e1 → head is compiled (calibrated and quantized) for real; e2 … eN repeat e1 (same tensors,
 * tables and formats: an EGRU's output is always Q14, so e1's input requantization fits every link),
 * sharing its weight arrays so that the ~150 MB model costs little memory in the test. (The simulator's
 * set-up scans a population's whole projections once per slice, which dominates this test's time.)
 */
function chainModel(targetBytes: number) {
  const H = 96, C = 64;
  const r = uniform(4242);
  const v = (n: number, s = 0.3) => Float32Array.from({ length: n }, () => r() * s);
  const b = new GraphBuilder("chain");
  const x = b.input("x", C, "values");
  const egru = (name: string, src: Population, rows: number) => {
    const e = b.egru(name, H, { biasX: v(3 * H), biasH: v(3 * H), thr: Float32Array.from({ length: H }, () => Math.abs(r()) * 0.3) });
    b.project(`${name}.kernel`, src, e, "input", csrFromDense(v(rows * 3 * H), rows, 3 * H));
    b.project(`${name}.recurrent`, e, e, "recurrent", csrFromDense(v(H * 3 * H), H, 3 * H), 1);
    return e;
  };
  const e0 = egru("e0", x, C);
  const e1 = egru("e1", e0, H);
  const head = b.dense("head", 10, "linear", v(10));
  b.project("head.kernel", e1, head, "x", csrFromDense(v(H * 10), H, 10));
  b.outputs.push(b.readout("readout", head, "mean").name);
  const g = b.build();
  const cal = uniform(17);
  const q = compileQuantized(g, { calibration: { data: Float64Array.from({ length: 4 * 4 * C }, cal), shape: [4, 4, C], label: "test" } }).quantized;
  const pop = (n: string) => q.populations.find((p) => p.name === n)!;
  const proj = (n: string) => q.projections.find((j) => j.name === n)!;
  const e1p = pop("e1"), k1 = proj("e1.kernel"), r1 = proj("e1.recurrent");
  const { fixed, perUnit } = memoryModel(q, e1p);
  const perLayer = fixed + perUnit.reduce((a, b2) => a + b2, 0);
  const N = Math.ceil(targetBytes / perLayer) + 1;
  const pops: Population[] = [pop("x"), pop("e0"), e1p];
  const projs: Projection[] = [proj("e0.kernel"), proj("e0.recurrent"), k1, r1];
  let prev = "e1";
  for (let k = 2; k <= N; k++) {
    const name = `e${k}`;
    pops.push({ ...e1p, name, loc: { ...e1p.loc, layer: name } });
    projs.push({ ...k1, name: `${name}.kernel`, source: prev, target: name });
    projs.push({ ...r1, name: `${name}.recurrent`, source: name, target: name });
    prev = name;
  }
  pops.push(pop("head"), pop("readout"));
  projs.push({ ...proj("head.kernel"), source: prev });
  return { graph: { ...q, populations: pops, projections: projs } as Graph, C };
}

describe("spinnaker2 at scale", () => {
  it("a quantized EGRU chain of ~10× one chip's usable SRAM maps onto many chips, routes, and simulates 2 ticks = golden", () => {
    const chipBytes = SPINNAKER2.chip.pes.value * usableSram(SPINNAKER2);
    const { graph: g, C } = chainModel(10 * chipBytes);
    expect(verifyGraph(g)).toEqual([]);
    const m = mapGraph(g, SPINNAKER2);
    const modelBytes = m.partition.populations.reduce((a, p) => a + p.bytes, 0);
    expect(modelBytes).toBeGreaterThanOrEqual(10 * chipBytes);
    expect(modelBytes).toBeLessThan(11 * chipBytes);
    expect(m.placement.chips).toBeGreaterThan(1);
    expect(m.placement.chips).toBeGreaterThanOrEqual(Math.ceil(m.partition.pes / SPINNAKER2.chip.pes.value));
    expect(m.partition.pes).toBeGreaterThanOrEqual(10 * SPINNAKER2.chip.pes.value);
    expect(partitionViolations(g, SPINNAKER2, m.partition)).toEqual([]);
    expect(placementViolations(m)).toEqual([]);
    expect(routingViolations(g, m)).toEqual([]);
    expect(m.routing.emitters.some((e) => e.chipHops > 0)).toBe(true);
    expect(m.partition.populations.find((p) => p.pop === "e7")!.slices.length).toBeGreaterThan(1);
    const r = uniform(23, -1, 1);
    const batch: SequenceBatch = { data: Float64Array.from({ length: 2 * C }, r), batch: 1, ticks: 2, channels: C };
    const golden = goldenTrace(g, batch);
    const sim = simTrace(g, m, batch);
    expect(firstDifference(g, batch, golden, sim)).toBeNull();
    // Events travelled through the whole chain (so the routes across chips carried packets).
    expect(sim.run.events[`e${g.populations.length - 5}`]).toBeGreaterThan(0);
    expect(sim.run.totals.event.chipHops).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------------------
// 4: routing limits
// ---------------------------------------------------------------------------------------------------------

describe("spinnaker2 routing", () => {
  const multiSlice = () => {
    const g = buildModel({ seed: 5, encoding: "values", inputs: 3, layers: [{ kind: "egru", size: 8, state: 1, act: "relu" }, { kind: "dense", size: 6, state: 1, act: "tanh" }], skip: true, feedback: true, readout: "last", weightScale: 1, pruneFraction: 0 });
    const q = quantizeFor(g, makeBatch(g, 5, 4, 6, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    return { q, hw: hwWithUsable(minimumUsableBytes(q)) };
  };

  it("the multi-slice model routes under the default limits; every emitter resolves to its targets' PEs", () => {
    const { q, hw } = multiSlice();
    const m = mapGraph(q, hw);
    expect(m.partition.pes).toBeGreaterThan(2);
    expect(routingViolations(q, m)).toEqual([]);
    expect(m.routing.maxEntries).toBeGreaterThan(1);
  });

  it("qpe_router_entries = 1 on a multi-slice model is an NmcError about routing entries", () => {
    const { q, hw } = multiSlice();
    const small = withFigures({ "noc.qpe_router_entries": 1 }, hw);
    expect(() => mapGraph(q, small)).toThrow(NmcError);
    expect(() => mapGraph(q, small)).toThrow(/routing entries/);
    try {
      mapGraph(q, small);
    } catch (e) {
      expect((e as NmcError).expected).toContain("at most 1 (noc.qpe_router_entries)");
    }
    // Exactly the maximum the mapping needs is enough.
    const need = mapGraph(q, hw).routing.maxEntries;
    expect(mapGraph(q, withFigures({ "noc.qpe_router_entries": need }, hw)).routing.maxEntries).toBe(need);
    expect(() => mapGraph(q, withFigures({ "noc.qpe_router_entries": need - 1 }, hw))).toThrow(/routing entries/);
  });

  it("chip_router_entries too small for the keys crossing chips is an NmcError", () => {
    const { q } = multiSlice();
    const hw = hwWithUsable(minimumUsableBytes(q), "small");
    const m = mapGraph(q, hw);
    expect(m.placement.chips).toBeGreaterThan(1);
    expect(() => mapGraph(q, withFigures({ "noc.chip_router_entries": 1 }, hw))).toThrow(NmcError);
  });

  // Regression (was a modelling bug): routes were X-then-Y paths over a full grid_width × grid_height mesh, but a chip has only
  // `qpes` routers (38 QPEs on the 7 × 6 mesh: 4 positions empty). Minimal case: 3 QPEs of 1 PE on a 2 × 2
  // mesh (snake: (0,0), (1,0), (1,1); (0,1) empty), x → d1 → d2 → d3 with a delay-1 edge d3 → d1: d3's
  // packets go west from (1,1) through the empty position (0,1), where route() puts a table entry for a
  // router that does not exist. (The 10×-chip model above has 30 such routers of ~500.)
  it("no routing table lies at a mesh position without a QPE", () => {
    const r = uniform(3);
    const b = new GraphBuilder("ring");
    const x = b.input("x", 2, "values");
    const d1 = b.dense("d1", 2, "relu", new Float32Array(2));
    const d2 = b.dense("d2", 2, "relu", new Float32Array(2));
    const d3 = b.dense("d3", 2, "relu", new Float32Array(2));
    b.project("a", x, d1, "x", csrFromDense(Float32Array.from({ length: 4 }, r), 2, 2));
    b.project("b", d1, d2, "x", csrFromDense(Float32Array.from({ length: 4 }, r), 2, 2));
    b.project("c", d2, d3, "x", csrFromDense(Float32Array.from({ length: 4 }, r), 2, 2));
    b.project("fb", d3, d1, "x", csrFromDense(Float32Array.from({ length: 4 }, r), 2, 2), 1);
    b.outputs.push(d3.name);
    const q = quantizeFor(b.build(), makeBatch(b.build(), 1, 3, 4, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    const hw = withFigures({ "chip.pes": 3, "chip.qpes": 3, "chip.pes_per_qpe": 1, "chip.grid_width": 2, "chip.grid_height": 2 });
    const m = mapGraph(q, hw);
    expect(m.partition.pes).toBe(3);
    expect(routersWithoutQpe(m)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------
// 5: dense vs event mode on examples/egru-smnist
// ---------------------------------------------------------------------------------------------------------

const EXAMPLE = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples", "egru-smnist");

describe("spinnaker2 dense vs event mode on examples/egru-smnist", () => {
  it("energy gain in (1, combined synaptic-op gain]; dense synops = Σ rows × cols × ticks × samples; activity from the events", () => {
    const { graph } = loadModel(join(EXAMPLE, "model.json"));
    const calib = readNpy(join(EXAMPLE, "inputs", "calib.npy"));
    const q = compileQuantized(graph, { calibration: { data: toFloat64(calib), shape: calib.shape, label: "calib.npy" } }).quantized;
    const x = readNpy(join(EXAMPLE, "inputs", "x.npy"));
    const N = 20;
    const [, T, C] = x.shape;
    const batch = batchFromShape(q, toFloat64(x).subarray(0, N * T * C), [N, T, C]);
    const m = mapGraph(q);
    const golden = goldenTrace(q, batch);
    const sim = simTrace(q, m, batch);
    expect(firstDifference(q, batch, golden, sim)).toBeNull();
    const run = sim.run;
    const ev = report(q, m, run, "event");
    const de = report(q, m, run, "dense");
    expect(ev.samples).toBe(N);
    expect(ev.ticks).toBe(T);
    // Both modes come from the same run: the reports agree on everything but the headline figures.
    expect(de.gains).toEqual(ev.gains);
    expect(de.perInference).toEqual(ev.denseMode);
    expect(ev.perInference).toEqual(ev.eventMode);
    // The energy gain is a real gain, bounded by the synaptic-op gain (fixed costs do not shrink with activity).
    expect(ev.gains.energy).toBeGreaterThan(1);
    expect(ev.gains.energy).toBeLessThanOrEqual(ev.gains.combined);
    expect(ev.gains.energy).toBeCloseTo(de.perInference.energyJoules.total / ev.perInference.energyJoules.total, 10);
    expect(de.perInference.energyJoules.total).toBeGreaterThan(ev.perInference.energyJoules.total);
    expect(ev.gains.latency).toBeGreaterThan(1);
    // Dense synaptic operations: every weight position of every projection, every tick of every sample.
    const denseOps = q.projections.reduce((a, j) => a + j.rows * j.cols, 0) * T * N;
    expect(run.totals.dense.synops).toBe(denseOps);
    expect(ev.synapticOpsPerInference.dense * N).toBe(denseOps);
    // Activity-only operations from the golden events: Σ_j Σ_t (non-zero source values at t − delay) × cols.
    let activityOnly = 0;
    const index = new Map(q.populations.map((p, i) => [p.name, i]));
    for (const j of q.projections) {
      const src = index.get(j.source)!, n = q.populations[src].size, rec = golden.perTick[src];
      for (let b = 0; b < N; b++) {
        for (let t = j.delay; t < T; t++) {
          const off = (b * T + t - j.delay) * n;
          let nz = 0;
          for (let i = 0; i < n; i++) if (rec[off + i] !== 0) nz++;
          activityOnly += nz * j.cols;
        }
      }
    }
    expect(ev.synapticOpsPerInference.activityOnly * N).toBeCloseTo(activityOnly, 6);
    expect(ev.gains.activity).toBeCloseTo(denseOps / activityOnly, 10);
    expect(ev.synapticOpsPerInference.effective).toBeLessThanOrEqual(ev.synapticOpsPerInference.activityOnly);
    expect(ev.gains.combined).toBeGreaterThanOrEqual(ev.gains.activity);
    // Activity sparsity per population = 1 − events ÷ unit-ticks, the events counted on the golden trace.
    for (const p of q.populations) {
      if (p.kind === "Input" || p.kind === "Readout") continue;
      const rec = golden.perTick[index.get(p.name)!];
      let nz = 0;
      for (const v of rec) if (v !== 0) nz++;
      expect(ev.activitySparsity[p.name]).toBeCloseTo(1 - nz / rec.length, 12);
    }
    // The EGRU is sparse (the example's point), so the activity gain is large.
    expect(ev.activitySparsity.egru).toBeGreaterThan(0.7);
    expect(ev.gains.activity).toBeGreaterThan(3);
    // Packets: dense mode sends every unit every tick.
    expect(ev.denseMode.packets).toBeGreaterThan(ev.eventMode.packets);
  });
});

// ---------------------------------------------------------------------------------------------------------
// 6: parseHardware
// ---------------------------------------------------------------------------------------------------------

describe("spinnaker2 parseHardware", () => {
  const errorOf = (mutate: (hw: Record<string, any>) => void): NmcError => {
    const hw = structuredClone(SPINNAKER2) as unknown as Record<string, any>;
    mutate(hw);
    try {
      parseHardware(JSON.parse(JSON.stringify(hw)), "my-chip.json");
    } catch (e) {
      expect(e).toBeInstanceOf(NmcError);
      return e as NmcError;
    }
    throw new Error("parseHardware accepted an invalid description");
  };

  it("accepts the default (and its JSON round trip) unchanged", () => {
    expect(parseHardware(JSON.parse(JSON.stringify(SPINNAKER2)))).toEqual(SPINNAKER2);
    expect(hwSchema.safeParse(SPINNAKER2).success).toBe(true);
  });

  it.each<[string, (hw: Record<string, any>) => void, string]>([
    ["a missing field", (hw) => delete hw.chip.sram_bytes_per_pe, "chip.sram_bytes_per_pe"],
    ["a missing section", (hw) => delete hw.noc, "noc"],
    ["a missing source", (hw) => delete hw.cycles.synapse.source, "cycles.synapse.source"],
    ["a description from before the Multiply kind (no multiply_unit)", (hw) => delete hw.cycles.multiply_unit, "cycles.multiply_unit"],
    ["a Multiply cost without its source", (hw) => (hw.cycles.multiply_unit.source = ""), "cycles.multiply_unit.source"],
    ["a negative value", (hw) => (hw.noc.hop_cycles.value = -5), "noc.hop_cycles.value"],
    ["a string value", (hw) => (hw.chip.buffer_bytes.value = "4096"), "chip.buffer_bytes.value"],
    ["a non-finite value", (hw) => (hw.energy.pj_per_sram_byte.value = 1e400), "energy.pj_per_sram_byte.value"],
    ["a negative value in a level", (hw) => (hw.levels[1].pj_per_cycle.value = -1), "levels[1].pj_per_cycle.value"],
    ["no levels", (hw) => (hw.levels = []), "levels"],
    ["default_level not among the levels", (hw) => (hw.default_level = "PL3"), "default_level"],
    ["pes ≠ qpes × pes_per_qpe", (hw) => (hw.chip.pes.value = 150), "chip.pes"],
    ["a mesh too small for the QPEs", (hw) => (hw.chip.grid_height.value = 5), "chip.grid_width"],
    ["no SRAM left for data", (hw) => (hw.chip.code_reserve_bytes.value = 131072 - 4096), "chip.sram_bytes_per_pe"],
  ])("%s is an NmcError with the JSON path", (_what, mutate, path) => {
    const e = errorOf(mutate);
    expect(e.path).toBe(path);
    expect(e.file).toBe("my-chip.json");
    expect(e.format()).toContain(`my-chip.json: ${path}: `);
  });

  it("the consistency errors say what was expected and found", () => {
    const lvl = errorOf((hw) => (hw.default_level = "PL3"));
    expect(lvl.expected).toBe("PL1 | PL2");
    expect(lvl.found).toBe('"PL3"');
    const pes = errorOf((hw) => (hw.chip.pes.value = 150));
    expect([pes.expected, pes.found]).toEqual(["152", "150"]);
    const grid = errorOf((hw) => (hw.chip.grid_height.value = 5));
    expect(grid.expected).toContain("≥ 38");
    expect(grid.found).toBe("7 × 5");
    expect(errorOf((hw) => (hw.chip.qpes.value = 43)).path).toBe("chip.pes"); // 43 × 4 ≠ 152 is caught first
  });

  it("a consistent custom chip is accepted and used (usable SRAM, levels)", () => {
    const hw = withFigures({ "chip.pes": 6, "chip.qpes": 3, "chip.pes_per_qpe": 2, "chip.grid_width": 2, "chip.grid_height": 2, "chip.sram_bytes_per_pe": 65536 });
    expect(usableSram(hw)).toBe(65536 - 32768 - 4096);
    expect(levelOf(hw, "PL1").mhz.value).toBe(150);
  });
});
