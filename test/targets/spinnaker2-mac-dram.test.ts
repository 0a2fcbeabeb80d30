// The MAC-array and DRAM mapping choices of the spinnaker2 target (targets/spinnaker2/accel.ts, sim/accel.ts;
// issue 22 item 3):
//  1. outputs, every population every tick, are the golden engine's bit for bit with projections on the MAC
//     array and with weights in DRAM, on random quantized models (one PE per population and many slices);
//  2. every pass of the MAC array keeps each column's worst-case partial sum within the accumulator; a
//     projection that cannot is refused by name;
//  3. the MAC path's charged work does not depend on activity (dense), the event path's does;
//  4. a population too large for the PE SRAM is refused without DRAM (naming it; exit 2 from the CLI) and maps
//     with --dram on; DRAM energy is linear in the fetched bytes and DRAM time never shortens a tick;
//  5. default options (no MAC array, DRAM off) leave the mapping, the run and the report as they were.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import { SPINNAKER2 } from "../../targets/spinnaker2/chip.js";
import { macChunks, macColumnLimit, macProjections, macRefusal } from "../../targets/spinnaker2/accel.js";
import { mapGraph, mappingFromSection, mappingSection, report, simulate } from "../../targets/spinnaker2/index.js";
import { buildModel, makeBatch, modelArb, quantOptsArb, quantizeFor, scaled } from "../support/quant-models.js";
import { firstDifference, goldenTrace, hwWithUsable, minimumUsableBytes, simTrace, withFigures } from "../support/spinnaker2.js";
import { fuzzParams } from "../support/fuzz.js";
import { memoryModel, type StorageOptions } from "../../targets/spinnaker2/partition.js";
import { ensureBuilt, runNmcAsync } from "../support/cli.js";
import { ramp, seq, writeModel } from "../support/model-files.js";

/** The least usable SRAM every population fits one unit per PE (a LayerNorm whole) with these storage options. */
function leastUsable(g: Graph, storage: StorageOptions): number {
  let need = 1;
  for (const p of g.populations) {
    if (p.kind === "Input" || p.kind === "Readout") continue;
    const { fixed, perUnit } = memoryModel(g, p, storage);
    need = Math.max(need, p.kind === "LayerNorm" ? fixed + perUnit.reduce((a, b) => a + b, 0) : fixed + Math.max(...perUnit));
  }
  return need;
}

/** The projections of g the MAC array can run. */
const eligible = (g: Graph, hw = SPINNAKER2) => g.projections.filter((j) => macRefusal(g, hw, j) === null).map((j) => j.name);

const quantModel = fc.tuple(modelArb({ maxSize: 8, maxState: 4 }), quantOptsArb()).map(([spec, quant]) => {
  const g = buildModel(spec);
  return { spec, q: quantizeFor(g, makeBatch(g, spec.seed ^ 0x2545f491, 4, 6, 1), quant) };
});

describe("spinnaker2 MAC array and DRAM: outputs are golden's", () => {
  it("random quantized models: MAC array (every projection it can run), DRAM on every population, both sliced and not", () => {
    fc.assert(
      fc.property(quantModel, fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 5 }), (x, seed, T) => {
        const { q } = x;
        const batch = makeBatch(q, seed, 2, T, 1);
        const golden = goldenTrace(q, batch);
        const mac = eligible(q);
        const dram = q.populations.filter((p) => q.projections.some((j) => j.target === p.name)).map((p) => p.name);
        const small = (st: StorageOptions) => hwWithUsable(Math.max(minimumUsableBytes(q), leastUsable(q, { ...st, dramBurst: 16 })));
        for (const [hw, storage] of [
          [SPINNAKER2, { mac }], [SPINNAKER2, { dramPolicy: "all" as const }], [small({ mac }), { mac }], [small({ dram }), { dramPolicy: "all" as const }],
        ] as const) {
          const m = mapGraph(q, hw, storage);
          const sim = simTrace(q, m, batch);
          expect(firstDifference(q, batch, golden, sim)).toBeNull();
          if (m.partition.accel) {
            expect(sim.run.accel).toBeDefined();
            expect(sim.run.dvfs).toBeUndefined();
            // The stored mapping reloads to the same plan and runs the same.
            const back = mappingFromSection(q, hw, mappingSection(m).data);
            expect(back.partition.accel).toEqual(m.partition.accel);
            expect(simulate(q, back, batch).totals).toEqual(sim.run.totals);
          }
        }
      }),
      fuzzParams(25),
    );
  });
});

describe("spinnaker2 MAC array: the accumulator", () => {
  it("every pass keeps each column's Σ|w| · 2^15 within the accumulator; the passes cover every row", () => {
    fc.assert(
      fc.property(quantModel, fc.constantFrom(16, 20, 24, 29), ({ q }, bits) => {
        const hw = withFigures({ "mac.accumulator_bits": bits });
        const limit = macColumnLimit(hw);
        expect(limit * 2 ** 15).toBeLessThanOrEqual(2 ** (bits - 1) - 1);
        for (const j of q.projections) {
          const w = j.weights.values.data, rp = j.weights.rowPtr, ci = j.weights.colIdx;
          if (macRefusal(q, hw, j) !== null) {
            expect(Math.max(...Array.from(w, Math.abs))).toBeGreaterThan(limit);
            continue;
          }
          const passes = macChunks(j.rows, j.cols, rp, 1, 0, ci, 0, w, limit);
          expect(passes.reduce((a, b) => a + b, 0)).toBe(j.rows);
          let r = 0;
          for (const n of passes) {
            const sum = new Float64Array(j.cols);
            for (let i = r; i < r + n; i++) for (let k = rp[i]; k < rp[i + 1]; k++) sum[ci[k]] += Math.abs(w[k]);
            expect(Math.max(0, ...sum)).toBeLessThanOrEqual(limit);
            r += n;
          }
        }
      }),
      fuzzParams(40),
    );
  });

  it("a projection whose single product can exceed the accumulator is refused by name", () => {
    const g = buildModel({ seed: 5, encoding: "values", inputs: 4, layers: [{ kind: "dense", size: 3, state: 1, act: "relu" }], skip: false, feedback: false, readout: "none", weightScale: 1, pruneFraction: 0 });
    const q = quantizeFor(g, makeBatch(g, 4, 4, 6, 1), { weightBits: 16, stateBits: 16, range: { kind: "max" } });
    const j = q.projections[0];
    expect(macRefusal(q, SPINNAKER2, j)).toMatch(/24-bit accumulator/);
    expect(() => macProjections(q, SPINNAKER2, "all")).toThrow(new RegExp(`projection ${j.name} cannot run on the MAC array`));
    expect(() => macProjections(q, SPINNAKER2, "nosuch")).toThrow(NmcError);
    // "dense": dense weights no larger than the CSR (density ≥ 1/3 at 8 bits); a keyword selecting nothing is refused.
    const q8 = quantizeFor(g, makeBatch(g, 4, 4, 6, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    expect(macProjections(q8, SPINNAKER2, "dense")).toEqual([q8.projections[0].name]);
    const sparse = buildModel({ seed: 5, encoding: "values", inputs: 8, layers: [{ kind: "dense", size: 8, state: 1, act: "relu" }], skip: false, feedback: false, readout: "none", weightScale: 1, pruneFraction: 0.9 });
    const qs = quantizeFor(sparse, makeBatch(sparse, 4, 4, 6, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    expect(qs.projections[0].weights.colIdx.length * 3).toBeLessThan(qs.projections[0].rows * qs.projections[0].cols);
    expect(() => macProjections(qs, SPINNAKER2, "dense")).toThrow(/no projection of this model is one/);
  });
});

describe("spinnaker2 MAC array: dense, activity-independent costs", () => {
  it("the MAC path's MACs, array and ARM cycles are the same for silent and busy inputs; the event path's synaptic work is not", () => {
    const g = buildModel({ seed: 11, encoding: "values", inputs: 6, layers: [{ kind: "dense", size: 8, state: 1, act: "relu" }, { kind: "egru", size: 6, state: 1, act: "relu" }], skip: false, feedback: false, readout: "none", weightScale: 1, pruneFraction: 0.5 });
    const q = quantizeFor(g, makeBatch(g, 3, 4, 6, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    const busy = makeBatch(q, 7, 2, 6, 1), silent = scaled(busy, 0, q);
    const mac = macProjections(q, SPINNAKER2, "input");
    expect(mac.length).toBeGreaterThan(0);
    const m = mapGraph(q, SPINNAKER2, { mac });
    const a = simulate(q, m, busy).accel!, b = simulate(q, m, silent).accel!;
    for (const name of mac) expect(a.projections[name]).toEqual(b.projections[name]);
    for (const mode of ["event", "dense", "activityOnly", "weightOnly"] as const) {
      expect(a.modes[mode].macs8).toBe(b.modes[mode].macs8);
      expect(a.modes[mode].macArray).toBe(b.modes[mode].macArray);
    }
    // The same projection on the ARM's event path: its synaptic work follows the events.
    const plain = mapGraph(q, SPINNAKER2);
    const pb = simulate(q, plain, busy), ps = simulate(q, plain, silent);
    expect(ps.projections[mac[0]].effective).toBe(0);
    expect(pb.projections[mac[0]].effective).toBeGreaterThan(0);
    expect(pb.totals.event.cycles).toBeGreaterThan(ps.totals.event.cycles);
  });
});

/** A Dense layer of H units on C inputs, whose one unit's C weights do not fit `usable` bytes of SRAM. */
function wideModel(C: number, H: number): Graph {
  const g = buildModel({ seed: 21, encoding: "values", inputs: C, layers: [{ kind: "dense", size: H, state: 1, act: "relu" }], skip: false, feedback: false, readout: "none", weightScale: 1, pruneFraction: 0 });
  return quantizeFor(g, makeBatch(g, 2, 3, 4, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
}

describe("spinnaker2 DRAM: models larger than the SRAM", () => {
  it("refused without DRAM (naming the population), mapped with --dram on, outputs golden's; DRAM energy linear in bytes, DRAM time never shortens a tick", () => {
    const q = wideModel(400, 6);
    const dense = q.populations.find((p) => p.kind === "Dense")!;
    // 400 inputs × 3 B per stored weight (and 3.2 KB of event queues): one unit needs more than 5,600 B.
    const hw = hwWithUsable(5600);
    expect(() => mapGraph(q, hw)).toThrow(new RegExp(`population ${dense.name} does not fit a PE`));
    const m = mapGraph(q, hw, { dramPolicy: "on" });
    expect(m.partition.accel).toEqual({ mac: [], dram: [dense.name] });
    const batch = makeBatch(q, 9, 2, 5, 1);
    const sim = simTrace(q, m, batch);
    expect(firstDifference(q, batch, goldenTrace(q, batch), sim)).toBeNull();
    const run = sim.run, a = run.accel!;
    expect(a.modes.event.dramBytes).toBeGreaterThan(0);
    expect(a.modes.event.dramBytes).toBeLessThanOrEqual(a.modes.dense.dramBytes);
    const rep = report(q, m, run, "event");
    for (const f of [rep.eventMode, rep.denseMode, rep.activityOnlyMode, rep.weightOnlyMode]) {
      expect(f.accel!.dramJoules).toBeCloseTo(f.accel!.dramBytes * hw.dram.pj_per_byte.value * 1e-12, 18);
    }
    expect(rep.eventMode.accel!.dramJoules).toBeLessThanOrEqual(rep.denseMode.accel!.dramJoules);
    for (const mode of ["event", "dense", "activityOnly", "weightOnly"] as const) {
      for (const l of hw.levels) expect(a.modes[mode].critical[l.name]).toBeGreaterThanOrEqual(run.totals[mode].criticalCycles);
    }
    // Less bandwidth, never a shorter run; more pJ per byte, never less energy.
    const slow = withFigures({ "chip.sram_bytes_per_pe": hw.chip.sram_bytes_per_pe.value, "dram.bytes_per_s": 1e9, "dram.pj_per_byte": 80 });
    const ms = mapGraph(q, slow, { dramPolicy: "on" });
    const rs = report(q, ms, simulate(q, ms, batch), "event");
    expect(rs.eventMode.latencySeconds).toBeGreaterThan(rep.eventMode.latencySeconds);
    expect(rs.eventMode.energyJoules.total).toBeGreaterThan(rep.eventMode.energyJoules.total);
  });

  it("random models: fetched bytes follow the events (event ≤ activity-only ≤ dense), energy is bytes × pJ/B in every mode", () => {
    fc.assert(
      fc.property(quantModel, fc.integer({ min: 1, max: 2 ** 31 - 1 }), ({ q }, seed) => {
        const m = mapGraph(q, SPINNAKER2, { dramPolicy: "all" });
        const run = simulate(q, m, makeBatch(q, seed, 2, 4, 1));
        if (!run.accel) return;
        const d = run.accel.modes;
        expect(d.event.dramBytes).toBeLessThanOrEqual(d.activityOnly.dramBytes);
        expect(d.activityOnly.dramBytes).toBeLessThanOrEqual(d.dense.dramBytes);
        expect(d.event.dramBytes % SPINNAKER2.dram.burst_bytes.value).toBe(0);
        const rep = report(q, m, run, "event");
        expect(rep.eventMode.accel!.dramJoules).toBeCloseTo(d.event.dramBytes * 40e-12 / 2, 18);
      }),
      fuzzParams(25),
    );
  });
});

describe("spinnaker2 MAC array and DRAM: defaults change nothing", () => {
  it("no MAC array, DRAM off: the same mapping section, run and report as the plain mapping; no accel fields", () => {
    fc.assert(
      fc.property(quantModel, fc.integer({ min: 1, max: 2 ** 31 - 1 }), ({ q }, seed) => {
        const plain = mapGraph(q, SPINNAKER2);
        const off = mapGraph(q, SPINNAKER2, { mac: macProjections(q, SPINNAKER2, undefined), dramPolicy: "off" });
        expect(off.partition.accel).toBeUndefined();
        expect(Buffer.from(mappingSection(off).data).equals(Buffer.from(mappingSection(plain).data))).toBe(true);
        const batch = makeBatch(q, seed, 2, 4, 1);
        const a = simulate(q, plain, batch), b = simulate(q, off, batch);
        expect(a.accel).toBeUndefined();
        expect(a.dvfs).toBeDefined();
        expect(b).toEqual(a);
        const ra = report(q, plain, a, "event");
        expect(ra.accel).toBeUndefined();
        expect(ra.eventMode.accel).toBeUndefined();
        expect(report(q, off, b, "event")).toEqual(ra);
      }),
      fuzzParams(25),
    );
  });
});

describe("nmc compile --mac-array / --dram", () => {
  const dir = mkdtempSync(join(tmpdir(), "nmc-s2-accel-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const show = (r: { code: number | null; stdout: string; stderr: string }) => `exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

  it("a model too large for the SRAM: exit 2 naming the population without DRAM, exit 0 with --dram on; --mac-array input runs; bad values exit 2", async () => {
    await ensureBuilt();
    const C = 400, H = 4;
    const model = writeModel(seq([{ class_name: "Dense", config: { name: "wide", units: H, activation: "relu", batch_input_shape: [null, null, C] } }]), [
      { name: "wide/kernel", shape: [C, H], values: ramp(C * H, 0.05) }, { name: "wide/bias", shape: [H], values: ramp(H, 0.01) },
    ]);
    const hwFile = join(dir, "hw.json"), bundle = join(dir, "m.nmb"), input = join(dir, "x.json");
    writeFileSync(hwFile, JSON.stringify(hwWithUsable(5600)));
    writeFileSync(input, JSON.stringify([Array.from({ length: 3 }, (_, t) => Array.from({ length: C }, (_, c) => Math.sin(0.37 * t + 1.3 * c)))]));
    const refused = await runNmcAsync(["compile", model, "--target", "spinnaker2", "--hw", hwFile, "-o", bundle]);
    expect(refused.code, show(refused)).toBe(2);
    expect(refused.stderr).toMatch(/population wide does not fit a PE/);
    expect(refused.stderr).toMatch(/--dram on/);
    const ok = await runNmcAsync(["compile", model, "--target", "spinnaker2", "--hw", hwFile, "--dram", "on", "-o", bundle]);
    expect(ok.code, show(ok)).toBe(0);
    expect(ok.stdout).toMatch(/weights in DRAM \(--dram\): wide/);
    const run = await runNmcAsync(["run", bundle, "--input", input]);
    expect(run.code, show(run)).toBe(0);
    expect(run.stdout).toMatch(/weights in DRAM/);
    const verify = await runNmcAsync(["verify", bundle, "--input", input, "--against", "golden"]);
    expect(verify.code, show(verify)).toBe(0);
    const mac = await runNmcAsync(["compile", model, "--target", "spinnaker2", "--mac-array", "input", "-o", bundle]);
    expect(mac.code, show(mac)).toBe(0);
    expect(mac.stdout).toMatch(/MAC array \(--mac-array\): /);
    const macRun = await runNmcAsync(["run", bundle, "--input", input]);
    expect(macRun.code, show(macRun)).toBe(0);
    expect(macRun.stdout).toMatch(/MAC array \(16-bit mode/);
    for (const bad of [["--dram", "sometimes"], ["--mac-array", "nosuch"]]) {
      const r = await runNmcAsync(["compile", model, "--target", "spinnaker2", ...bad, "-o", bundle]);
      expect(r.code, show(r)).toBe(2);
    }
    const help = await runNmcAsync(["compile", "--help"]);
    expect(help.stdout).toMatch(/--mac-array/);
    expect(help.stdout).toMatch(/--dram/);
  }, 120_000);
});
