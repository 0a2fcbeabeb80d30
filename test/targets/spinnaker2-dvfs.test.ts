// Per-PE, per-tick DVFS and power gating of the spinnaker2 cost model (targets/spinnaker2/dvfs.ts,
// dvfs-report.ts; docs/hardware.md "DVFS and power gating"). The invariants, on random quantized models:
//  1. DVFS is accounting only: outputs, every population's outputs every tick, and every other counted figure
//     are identical whether the simulator counts levels or not, and equal to the golden engine's;
//  2. energy with DVFS ≤ energy without, in every charged mode, for every level as nominal, gating on or off;
//     latency and NoC energy are unchanged; with the slowest level as nominal and gating off nothing can
//     change, so the energy equals the one without DVFS (which checks the static accounting);
//  3. the level histogram sums to PEs × ticks × samples;
//  4. energy (the cost model's, without DVFS) is monotone in activity: adding input events to the same stream
//     of a fixed model never lowers it (a model where that is a real invariant: see the test);
// plus the policy's arithmetic on one hand-computed tick, gating on a multi-rate model, merging shards, and
// the CLI (--dvfs / --gating, refused values exit 2). NMC_FUZZ_SEED reproduces a property's draws.
import fc from "fast-check";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GraphBuilder, csrFromDense } from "../../ir/builder.js";
import type { Graph } from "../../ir/types.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import { sliceBatch } from "../../runtime/batch.js";
import { mergeResults } from "../../targets/run/result.js";
import { SPINNAKER2 } from "../../targets/spinnaker2/chip.js";
import { DvfsAccount, DVFS_MODES } from "../../targets/spinnaker2/dvfs.js";
import { mapGraph, type Mapping, report } from "../../targets/spinnaker2/index.js";
import { Simulator } from "../../targets/spinnaker2/sim/simulator.js";
import { type CliResult, ensureBuilt, runNmcAsync } from "../support/cli.js";
import { eventBatch, eventModel, quantizeEventModel, specArb, type EventSpec } from "../support/event-time.js";
import { fuzzParams } from "../support/fuzz.js";
import { uniform } from "../support/graphs.js";
import { buildModel, makeBatch, modelArb, quantOptsArb, quantizeFor } from "../support/quant-models.js";
import { firstDifference, goldenTrace, hwWithUsable, minimumUsableBytes, type Trace } from "../support/spinnaker2.js";

const MODE_KEY = { event: "eventMode", dense: "denseMode", activityOnly: "activityOnlyMode", weightOnly: "weightOnlyMode" } as const;

function traced(g: Graph, m: Mapping, batch: SequenceBatch, dvfs: boolean) {
  const perTick = g.populations.map((p) => new Int32Array(batch.batch * batch.ticks * p.size));
  const calls = new Int32Array(g.populations.length);
  const run = new Simulator(g, m.partition, m.placement, m.routing, m.hw, { dvfs }).run(batch, {
    observer: (pi, out, b, t) => {
      perTick[pi].set(out, (b * batch.ticks + t) * out.length);
      calls[pi]++;
    },
  });
  const t: Trace & { calls: Int32Array; run: typeof run } = { outputQ: run.outputQ, perTick, calls, run };
  return t;
}

/** Invariants 1–3 on one model, mapping and batch; returns the PE-ticks gated (nominal PL2, gating on). */
function checkDvfs(g: Graph, m: Mapping, batch: SequenceBatch): number {
  const golden = goldenTrace(g, batch);
  const on = traced(g, m, batch, true), off = traced(g, m, batch, false);
  expect(firstDifference(g, batch, golden, on)).toBeNull();
  expect(firstDifference(g, batch, on, off)).toBeNull();
  expect(off.run.dvfs).toBeUndefined();
  const { dvfs, ...rest } = on.run;
  expect(dvfs).toBeDefined();
  expect(rest).toEqual(off.run);
  const run = on.run, peTicks = m.partition.pes * batch.ticks * batch.batch;
  expect(run.pes.length).toBe(m.partition.pes);
  let gated = 0;
  for (const level of m.hw.levels) {
    const plain = report(g, m, run, "event", level.name, { dvfs: "off" });
    expect(plain.dvfs).toBeNull();
    for (const gating of [true, false]) {
      const both = report(g, m, run, "event", level.name, { dvfs: "both", gating });
      const withDvfs = report(g, m, run, "event", level.name, { dvfs: "on", gating });
      expect(both.dvfs!.peTicks).toBe(peTicks);
      for (const mode of DVFS_MODES) {
        const d = both.dvfs!.modes[mode], k = MODE_KEY[mode];
        // --dvfs both keeps today's figures; --dvfs on carries the DVFS energies and nothing else changes.
        expect(both[k]).toEqual(plain[k]);
        expect(withDvfs[k]).toEqual({ ...plain[k], energyJoules: d.energyJoules });
        expect(d.offJoules).toBe(plain[k].energyJoules.total);
        expect(d.energyJoules.noc).toBe(plain[k].energyJoules.noc);
        // 2: never more energy (1e-12: the two totals are summed in different orders).
        expect(d.energyJoules.total).toBeLessThanOrEqual(d.offJoules * (1 + 1e-12));
        expect(d.energyJoules.dynamic).toBeLessThanOrEqual(plain[k].energyJoules.dynamic * (1 + 1e-12));
        expect(d.saved).toBeGreaterThanOrEqual(-1e-12);
        // 3: every PE-tick in exactly one bin.
        expect(Object.values(d.histogram).reduce((a, b) => a + b, 0)).toBe(peTicks);
        if (level.name === "PL1" && !gating) {
          // The slowest, least-static level as nominal, no gating: nothing can change.
          expect(d.energyJoules.total).toBeCloseTo(d.offJoules, 15);
          expect(Math.abs(d.energyJoules.total - d.offJoules)).toBeLessThanOrEqual(1e-9 * d.offJoules);
          expect(d.histogram.PL1).toBe(peTicks);
        }
        if (level.name === "PL2" && gating && mode === "event") gated = d.histogram.off ?? 0;
      }
      for (const k of Object.values(MODE_KEY)) expect(withDvfs[k].latencySeconds).toBe(plain[k].latencySeconds);
      // Gating switches idle PEs off (0 mW) instead of letting them sleep at PL1: never more energy.
      if (gating) {
        const sleep = report(g, m, run, "event", level.name, { dvfs: "both", gating: false });
        for (const mode of DVFS_MODES) expect(both.dvfs!.modes[mode].energyJoules.total).toBeLessThanOrEqual(sleep.dvfs!.modes[mode].energyJoules.total * (1 + 1e-12));
      }
    }
  }
  return gated;
}

describe("spinnaker2 DVFS and power gating: invariants on random models", () => {
  it("random quantized models (EGRU, SSM, Dense chains): identical outputs, energy never higher, histogram = PE-ticks", () => {
    fc.assert(
      fc.property(
        modelArb({ maxSize: 9, maxState: 5 }), quantOptsArb(), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.constantFrom(0.5, 1, 3), fc.boolean(),
        (spec, quant, B, T, seed, amp, sliced) => {
          const g = buildModel(spec);
          const q = quantizeFor(g, makeBatch(g, spec.seed ^ 0x2545f491, 4, 6, 1), quant);
          const m = mapGraph(q, sliced ? hwWithUsable(minimumUsableBytes(q)) : SPINNAKER2);
          checkDvfs(q, m, makeBatch(q, seed, B, T, amp));
        },
      ),
      fuzzParams(100),
    );
  }, 240_000);

  it("random multi-rate and event-time models (strided SSMs, event pooling, readouts): the same invariants", () => {
    fc.assert(
      fc.property(specArb, fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 9 }), (spec, seed, B, T) => {
        const g = eventModel(spec);
        const q = quantizeEventModel(g, spec.seed);
        checkDvfs(q, mapGraph(q, SPINNAKER2), eventBatch(q, seed, B, T));
      }),
      fuzzParams(80),
    );
  }, 240_000);

  it("a PE with nothing to do in a tick is gated: a strided model's later populations between their steps", () => {
    // Deterministic: EventPooling of stride 3 feeds d2, which steps every third tick; its PE idles in between.
    const spec: EventSpec = { seed: 7, C: 2, H: 3, P: 2, first: { kind: "pool", stride: 3, mode: "avgpool" }, recurrent: false, second: null, readout: null, ticks: true };
    const q = quantizeEventModel(eventModel(spec), 7);
    const gated = checkDvfs(q, mapGraph(q, SPINNAKER2), eventBatch(q, 3, 2, 9));
    expect(gated).toBeGreaterThan(0);
  });
});

describe("spinnaker2 DVFS: the policy's arithmetic", () => {
  it("one tick of two PEs: the critical PE stays at PL2, the light one drops to PL1 with two switches", () => {
    const pes = [{ split: null }, { split: null }];
    const acc = new DvfsAccount(SPINNAKER2, pes);
    // PE 0: 1000 cycles (the tick's slowest), PE 1: 300; no NoC depth. At PL2 (300 MHz) a switch is 100 ns = 30
    // cycles; PE 1 at PL1 needs 300 × 2 + 2 × 30 = 660 ≤ 1000 PL2 cycles: it drops, and spends 1000 − 60 there.
    acc.add(pes[0], 1000, 1000, 1000, 1000);
    acc.add(pes[1], 300, 700, 300, 700);
    acc.endTick([1000, 1000, 1000, 1000], [0, 0, 0, 0]);
    const c = acc.counts();
    expect(c.event.PL2).toEqual({
      levels: { PL1: { peTicks: 1, cycles: 300, time: 940 }, PL2: { peTicks: 1, cycles: 1000, time: 1000 } },
      idle: { peTicks: 0, time: 0, switchTime: 0 }, switches: 2, switchTime: 60,
    });
    // Dense: PE 1 has 700 cycles, 700 × 2 + 60 > 1000: it stays at PL2.
    expect(c.dense.PL2.levels).toEqual({ PL1: { peTicks: 0, cycles: 0, time: 0 }, PL2: { peTicks: 2, cycles: 1700, time: 2000 } });
    // PL1 as nominal: PL2 would finish sooner but costs more energy; nothing moves.
    expect(c.event.PL1.levels).toEqual({ PL1: { peTicks: 2, cycles: 1300, time: 2000 }, PL2: { peTicks: 0, cycles: 0, time: 0 } });
    // An idle PE (not charged this tick) leaves PL2 when the tick holds its two switches, else stays.
    acc.add(pes[0], 100, 100, 50, 100);
    acc.endTick([100, 100, 50, 100], [0, 0, 0, 0]);
    const i = acc.counts();
    expect(i.event.PL2.idle).toEqual({ peTicks: 1, time: 40, switchTime: 60 });
    expect(i.activityOnly.PL2.idle).toEqual({ peTicks: 0, time: 0, switchTime: 0 });
    expect(i.activityOnly.PL2.levels.PL2.peTicks).toBe(3);
  });
});

/** Input → Dense(relu) → Dense(relu), every weight and bias ≥ 0 (some weights 0). */
function monotoneModel(seed: number, C: number, H1: number, H2: number): Graph {
  const r = uniform(seed, 0, 1);
  const mat = (rows: number, cols: number) => csrFromDense(Float32Array.from({ length: rows * cols }, () => (r() < 0.3 ? 0 : r())), rows, cols);
  const b = new GraphBuilder("monotone");
  const x = b.input("x", C, "values");
  const d1 = b.dense("d1", H1, "relu", Float32Array.from({ length: H1 }, () => 0.1 * r()));
  b.project("d1.kernel", x, d1, "x", mat(C, H1));
  const d2 = b.dense("d2", H2, "relu", Float32Array.from({ length: H2 }, () => 0.1 * r()));
  b.project("d2.kernel", d1, d2, "x", mat(H1, H2));
  b.outputs.push(d2.name);
  return b.build();
}

describe("spinnaker2 cost model: energy is monotone in activity", () => {
  it("adding input events to the same stream of a fixed model never lowers its energy", () => {
    // Why this is a real invariant here (and not for every model): with inputs and weights ≥ 0 every exact
    // column sum only grows when events are added, so every column touched stays touched and non-zero,
    // requantization and relu are monotone, so every unit that fired still fires and the events of every
    // population are a superset: each PE's received packets, synapses, columns and sends per tick do not
    // decrease, hence its cycles, the slowest PE per tick, the NoC depth, the latency, and all three energy
    // terms. A recurrent model, a negative weight or a non-monotone activation can fire less with more input.
    // The energy WITH DVFS is not monotone: more work on the slowest PE lengthens the tick and can let other
    // PEs drop a level, saving more than the extra work costs; so only the figure without DVFS is asserted.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 6 }), fc.double({ min: 0.1, max: 0.9, noNaN: true }), fc.boolean(),
        (seed, C, H1, H2, B, T, keep, sliced) => {
          const g = monotoneModel(seed, C, H1, H2);
          const r = uniform(seed ^ 0x9e3779b9, 0, 1);
          const cal = { data: Float64Array.from({ length: 4 * 6 * C }, () => r()), batch: 4, ticks: 6, channels: C };
          const q = quantizeFor(g, cal, { weightBits: 8, stateBits: 16, range: { kind: "max" } });
          const m = mapGraph(q, sliced ? hwWithUsable(minimumUsableBytes(q)) : SPINNAKER2);
          const full = Float64Array.from({ length: B * T * C }, () => r());
          const base = full.map((v) => (r() < keep ? v : 0));
          const sim = (data: Float64Array) => new Simulator(q, m.partition, m.placement, m.routing, m.hw).run({ data, batch: B, ticks: T, channels: C });
          const a = report(q, m, sim(base), "event", undefined, { dvfs: "off" }), b = report(q, m, sim(full), "event", undefined, { dvfs: "off" });
          for (const k of ["eventMode", "activityOnlyMode"] as const) {
            const ea = a[k].energyJoules, eb = b[k].energyJoules;
            expect(eb.total).toBeGreaterThanOrEqual(ea.total * (1 - 1e-12));
            expect(eb.dynamic).toBeGreaterThanOrEqual(ea.dynamic * (1 - 1e-12));
            expect(eb.noc).toBeGreaterThanOrEqual(ea.noc * (1 - 1e-12));
            expect(b[k].latencySeconds).toBeGreaterThanOrEqual(a[k].latencySeconds * (1 - 1e-12));
          }
        },
      ),
      fuzzParams(150),
    );
  }, 240_000);
});

describe("spinnaker2 DVFS counts merge like the run they come from", () => {
  it("shards of a run merge to the whole run's DVFS counts and report", () => {
    const g = buildModel({ seed: 5, encoding: "values", inputs: 4, layers: [{ kind: "egru", size: 9, state: 1, act: "relu" }, { kind: "dense", size: 3, state: 1, act: "tanh" }], skip: false, feedback: false, readout: "mean", weightScale: 1, pruneFraction: 0.3 });
    const q = quantizeFor(g, makeBatch(g, 4, 4, 6, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    const m = mapGraph(q, hwWithUsable(minimumUsableBytes(q)));
    const batch = makeBatch(q, 11, 5, 7, 1);
    const sim = () => new Simulator(q, m.partition, m.placement, m.routing, m.hw);
    const whole = sim().run(batch);
    const parts = [sim().run(sliceBatch(batch, 0, 2)), sim().run(sliceBatch(batch, 2, 5))];
    const merged = mergeResults(parts.map((run) => ({ kind: "sim" as const, run })));
    if (merged.kind !== "sim") throw new Error("not a sim result");
    expect(merged.run.dvfs).toEqual(whole.dvfs);
    expect(report(q, m, merged.run, "event").dvfs).toEqual(report(q, m, whole, "event").dvfs);
    // A part without DVFS counts (written before nmc counted them): the merged run has none, and --dvfs on refuses it.
    const old = mergeResults([{ kind: "sim", run: { ...parts[0], dvfs: undefined } }, { kind: "sim", run: parts[1] }]);
    if (old.kind !== "sim") throw new Error("not a sim result");
    expect(old.run.dvfs).toBeUndefined();
    expect(report(q, m, old.run, "event").dvfs).toBeNull();
    expect(() => report(q, m, old.run, "event", undefined, { dvfs: "on" })).toThrow(/no DVFS counts/);
  });
});

describe("nmc run --dvfs / --gating", () => {
  const EX = "examples/egru-smnist";
  let dir = "", bundle = "";
  const show = (r: CliResult) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
  beforeAll(async () => {
    await ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), "nmc-dvfs-"));
    bundle = join(dir, "m.nmb");
    const c = await runNmcAsync(["compile", `${EX}/model.json`, "--target", "spinnaker2", "-o", bundle]);
    expect(c.code, show(c)).toBe(0);
  }, 240_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reports energy with and without DVFS and the level histogram, in text and JSON; refuses unknown values", async () => {
    const [text, both, on, bad, badGating] = await Promise.all([
      runNmcAsync(["run", bundle, "--input", `${EX}/inputs/x.npy`, "--quiet"]),
      runNmcAsync(["run", bundle, "--input", `${EX}/inputs/x.npy`, "--json"]),
      runNmcAsync(["run", bundle, "--input", `${EX}/inputs/x.npy`, "--json", "--dvfs", "on", "--gating", "off"]),
      runNmcAsync(["run", bundle, "--input", `${EX}/inputs/x.npy`, "--dvfs", "sometimes"]),
      runNmcAsync(["run", bundle, "--input", `${EX}/inputs/x.npy`, "--gating", "maybe"]),
    ]);
    expect(text.code, show(text)).toBe(0);
    expect(text.stdout).toMatch(/DVFS {5}per PE and tick/);
    expect(text.stdout).toMatch(/energy per inference without → with DVFS: event-driven [\d.]+ .J → [\d.]+ .J \(−[\d.]+ %\)/);
    expect(text.stdout).toMatch(/PE-ticks per level \(\d+ in all\), event-driven: .*PL\d/);
    for (const r of [both, on]) expect(r.code, show(r)).toBe(0);
    const jb = JSON.parse(both.stdout), jo = JSON.parse(on.stdout);
    expect(jb.dvfs.shown).toBe("off");
    expect(jb.dvfs.gating).toBe(true);
    expect(jb.eventMode.energyJoules.total).toBe(jb.dvfs.modes.event.offJoules);
    expect(jb.dvfs.modes.event.energyJoules.total).toBeLessThanOrEqual(jb.dvfs.modes.event.offJoules);
    expect(jo.dvfs.shown).toBe("on");
    expect(jo.dvfs.gating).toBe(false);
    expect(jo.eventMode.energyJoules).toEqual(jo.dvfs.modes.event.energyJoules);
    expect(jo.eventMode.latencySeconds).toBe(jb.eventMode.latencySeconds);
    expect(jo.output).toEqual(jb.output);
    const sum = (h: Record<string, number>) => Object.values(h).reduce((a, b) => a + b, 0);
    expect(sum(jb.dvfs.modes.event.histogram)).toBe(jb.dvfs.peTicks);
    expect(jb.dvfs.peTicks).toBe(jb.pes * jb.ticks * jb.samples);
    for (const r of [bad, badGating]) {
      expect(r.code, show(r)).toBe(2);
      expect(r.stderr).toMatch(/invalid/);
    }
  }, 120_000);
});
