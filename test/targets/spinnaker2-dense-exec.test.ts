// The spinnaker2 simulator's two executions (targets/spinnaker2/sim/simulator.ts, `execution` option):
//  1. dense execution (every unit sends every tick, every PE visits every weight of its dense matrix) gives
//     the same outputs and every population's outputs every tick as event execution and as the golden
//     engine, bit for bit, on random quantized models, with one PE per population and with populations cut
//     into many slices (multicast to many PEs);
//  2. every charged figure (cycles, packets, hops, synaptic ops, SRAM bytes of the event, dense,
//     activity-only and weight-only modes; per PE, per tick, per projection) is the same whichever
//     execution ran, and whether the PEs of a population share their event queues or not;
//  3. the activity-only and weight-only modes are charged consistently: event ≤ each ≤ dense in cycles and
//     modelled energy, packets as event (activity only) or as dense (weight only), weight-only synaptic ops
//     = stored entries × ticks, and the report's sparsity gains are dense ÷ mode.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Graph } from "../../ir/types.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import { SPINNAKER2 } from "../../targets/spinnaker2/chip.js";
import { type Execution, mapGraph, type Mapping, report, simulate } from "../../targets/spinnaker2/index.js";
import { Simulator } from "../../targets/spinnaker2/sim/simulator.js";
import { buildModel, makeBatch, modelArb, quantOptsArb, quantizeFor } from "../support/quant-models.js";
import { firstDifference, goldenTrace, hwWithUsable, minimumUsableBytes, type Trace } from "../support/spinnaker2.js";

/** Every population's output every tick, from the simulator run with the given execution. */
function trace(g: Graph, m: Mapping, batch: SequenceBatch, execution: Execution) {
  const perTick = g.populations.map((p) => new Int32Array(batch.batch * batch.ticks * p.size));
  const calls = new Int32Array(g.populations.length);
  const run = simulate(g, m, batch, {
    execution,
    observer: (pi, out, b, t) => {
      perTick[pi].set(out, (b * batch.ticks + t) * out.length);
      calls[pi]++;
    },
  });
  const t: Trace & { calls: Int32Array; run: typeof run } = { outputQ: run.outputQ, perTick, calls, run };
  return t;
}

/** Checks 1–3 for one model and mapping. */
function checkExecutions(g: Graph, m: Mapping, batch: SequenceBatch): void {
  const golden = goldenTrace(g, batch);
  const ev = trace(g, m, batch, "event");
  const de = trace(g, m, batch, "dense");
  expect(firstDifference(g, batch, golden, ev)).toBeNull();
  expect(firstDifference(g, batch, golden, de)).toBeNull();
  // 2: nothing charged depends on the execution.
  expect(de.run.totals).toEqual(ev.run.totals);
  expect(de.run.pes).toEqual(ev.run.pes);
  expect(de.run.perTick).toEqual(ev.run.perTick);
  expect(de.run.projections).toEqual(ev.run.projections);
  expect(de.run.events).toEqual(ev.run.events);
  expect(de.run.unitTicks).toEqual(ev.run.unitTicks);
  expect(de.run.output).toEqual(ev.run.output);
  // One queue per PE everywhere (the PEs of a population otherwise share one per source): the same run.
  const own = new Simulator(g, m.partition, m.placement, m.routing, m.hw, { shareQueues: false }).run(batch);
  expect(own.outputQ).toEqual(ev.run.outputQ);
  expect(own.totals).toEqual(ev.run.totals);
  expect(own.pes).toEqual(ev.run.pes);
  expect(own.projections).toEqual(ev.run.projections);
  // 3: the four modes.
  const { event, dense, activityOnly, weightOnly } = ev.run.totals;
  for (const mode of [activityOnly, weightOnly]) {
    expect(mode.cycles).toBeGreaterThanOrEqual(event.cycles);
    expect(mode.cycles).toBeLessThanOrEqual(dense.cycles);
    expect(mode.criticalCycles).toBeGreaterThanOrEqual(event.criticalCycles);
    expect(mode.criticalCycles).toBeLessThanOrEqual(dense.criticalCycles);
    expect(mode.synops).toBeGreaterThanOrEqual(event.synops);
    expect(mode.synops).toBeLessThanOrEqual(dense.synops);
  }
  expect([activityOnly.packets, activityOnly.hops, activityOnly.nocDepthHops]).toEqual([event.packets, event.hops, event.nocDepthHops]);
  expect([weightOnly.packets, weightOnly.hops, weightOnly.nocDepthHops]).toEqual([dense.packets, dense.hops, dense.nocDepthHops]);
  const replicated = g.projections.some((j) => j.port === "u" && m.partition.populations.find((p) => p.pop === j.target)!.slices.length > 1);
  if (!replicated) {
    // Weight only: every stored entry, every tick; activity only: the NeuroBench count (non-zero rows × cols).
    expect(weightOnly.synops).toBe(g.projections.reduce((a, j) => a + j.weights.colIdx.length, 0) * batch.batch * batch.ticks);
    expect(activityOnly.synops).toBe(Object.values(ev.run.projections).reduce((a, p) => a + p.activityOnly, 0));
  }
  const r = report(g, m, ev.run, "event");
  const e = (f: { energyJoules: { total: number } }) => f.energyJoules.total;
  for (const f of [r.activityOnlyMode, r.weightOnlyMode]) {
    expect(e(f)).toBeGreaterThanOrEqual(e(r.eventMode) * (1 - 1e-12));
    expect(e(f)).toBeLessThanOrEqual(e(r.denseMode) * (1 + 1e-12));
  }
  expect(r.sparsityGains.combined).toEqual({ synops: r.gains.combined, energy: r.gains.energy });
  expect(r.sparsityGains.activityOnly.synops).toBe(r.gains.activity);
  expect(r.sparsityGains.weightOnly.synops).toBe(r.gains.weight);
  expect(r.sparsityGains.activityOnly.energy).toBeCloseTo(e(r.denseMode) / e(r.activityOnlyMode), 10);
  expect(r.sparsityGains.weightOnly.energy).toBeCloseTo(e(r.denseMode) / e(r.weightOnlyMode), 10);
  expect(report(g, m, de.run, "dense").sparsityGains).toEqual(r.sparsityGains);
}

describe("spinnaker2 simulator: dense execution = event execution = golden", () => {
  it("random quantized models, one PE per population and many slices per population", () => {
    let sliced = 0;
    fc.assert(
      fc.property(
        modelArb({ maxSize: 9, maxState: 5 }), quantOptsArb(), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.constantFrom(0.5, 1, 3),
        (spec, quant, B, T, seed, amp) => {
          const g = buildModel(spec);
          const q = quantizeFor(g, makeBatch(g, spec.seed ^ 0x2545f491, 4, 6, 1), quant);
          const batch = makeBatch(q, seed, B, T, amp);
          checkExecutions(q, mapGraph(q, SPINNAKER2), batch);
          const m = mapGraph(q, hwWithUsable(minimumUsableBytes(q)));
          if (m.partition.populations.some((p) => p.slices.length > 1 && p.kind !== "Readout")) sliced++;
          checkExecutions(q, m, batch);
        },
      ),
      { numRuns: 60 },
    );
    expect(sliced).toBeGreaterThan(5);
  });

  it("the execution is an option of the Simulator and of each run (a run's option wins)", () => {
    const g = buildModel({ seed: 3, encoding: "tokens", inputs: 5, layers: [{ kind: "egru", size: 7, state: 1, act: "relu" }, { kind: "dense", size: 4, state: 1, act: "tanh" }], skip: true, feedback: true, readout: "mean", weightScale: 1, pruneFraction: 0.5 });
    const q = quantizeFor(g, makeBatch(g, 4, 4, 6, 1), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    const batch = makeBatch(q, 9, 2, 6, 1);
    const m = mapGraph(q, hwWithUsable(minimumUsableBytes(q)));
    const sim = new Simulator(q, m.partition, m.placement, m.routing, m.hw, { execution: "dense" });
    const a = sim.run(batch);
    const b = new Simulator(q, m.partition, m.placement, m.routing, m.hw).run(batch, { execution: "dense" });
    const c = simulate(q, m, batch);
    expect(a.outputQ).toEqual(c.outputQ);
    expect(b.outputQ).toEqual(c.outputQ);
    expect(a.totals).toEqual(c.totals);
    expect(b.totals).toEqual(c.totals);
    expect(Array.from(c.outputQ)).toEqual(Array.from(goldenTrace(q, batch).outputQ));
  });
});
