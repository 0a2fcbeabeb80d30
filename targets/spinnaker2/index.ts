// The spinnaker2 target: partition → place → route the quantized IR onto a SpiNNaker 2-style machine,
// store the mapping in the bundle, and run it on the bundled simulator with its cycle and energy model.
import type { BundleSection } from "../../ir/bundle.js";
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import { type HardwareDescription, levelOf, parseHardware, SPINNAKER2, usableSram } from "./chip.js";
import { partition, type Partition, type Slice, type StorageOptions } from "./partition.js";
import { locate, place, type Placement } from "./place.js";
import { route, type Routing } from "./route.js";
import { type RunOptions, type SimRun, Simulator } from "./sim/simulator.js";

export type { Execution, RunOptions, SimRun } from "./sim/simulator.js";

export { SPINNAKER2, parseHardware, levelOf, type HardwareDescription } from "./chip.js";

export const MAPPING_SECTION = "spinnaker2.mapping";

export interface Mapping {
  hw: HardwareDescription;
  partition: Partition;
  placement: Placement;
  routing: Routing;
}

export function mapGraph(g: Graph, hw: HardwareDescription = SPINNAKER2, storage: StorageOptions = {}): Mapping {
  if (!g.quant) throw new NmcError("the spinnaker2 target maps quantized IR; compile with nmc compile first");
  const part = partition(g, hw, storage);
  const placement = place(part, hw);
  const routing = route(g, part, placement, hw);
  return { hw, partition: part, placement, routing };
}

/** The JSON the bundle stores: slices with their PEs and bytes, and the routing tables. */
export function mappingSection(m: Mapping): BundleSection {
  const json = {
    usable_bytes: m.partition.usableBytes,
    pes: m.partition.pes,
    lower_bound: m.partition.lowerBound,
    chips: m.placement.chips,
    slices: m.partition.slices.map((s) => ({ id: s.id, pop: s.pop, lo: s.lo, hi: s.hi, pe: s.pe, bytes: s.bytes, mirrors: s.mirrors })),
    routes: [...m.routing.tables].map(([router, entries]) => ({ router, entries: entries.map((e) => [e.key, e.mask >>> 0, e.links, e.cores]) })),
  };
  return { name: MAPPING_SECTION, kind: "application/json; spinnaker2 mapping", data: new TextEncoder().encode(JSON.stringify(json)) };
}

/** Rebuilds the mapping of a bundle: its stored slices (checked against the graph), placement and routes. */
export function mappingFromSection(g: Graph, hw: HardwareDescription, data: Uint8Array, file?: string): Mapping {
  let json: { slices: { id: number; pop: string; lo: number; hi: number; pe: number; bytes: number; mirrors: number }[] };
  try {
    json = JSON.parse(new TextDecoder().decode(data));
  } catch (e) {
    throw new NmcError(`section ${MAPPING_SECTION} is not valid JSON`, { file, node: `section ${MAPPING_SECTION}`, found: String(e) });
  }
  const fresh = partition(g, hw);
  const slices: unknown = json && typeof json === "object" ? (json as { slices?: unknown }).slices : undefined;
  const same = Array.isArray(slices) && slices.length === fresh.slices.length &&
    slices.every((s, i) => s !== null && typeof s === "object" && s.pop === fresh.slices[i].pop && s.lo === fresh.slices[i].lo && s.hi === fresh.slices[i].hi);
  if (!same) {
    throw new NmcError(`section ${MAPPING_SECTION} does not match the bundle's IR and hardware description`, {
      file, node: `section ${MAPPING_SECTION}`, hint: "recompile the model with nmc compile --target spinnaker2",
    });
  }
  const placement = place(fresh, hw);
  const routing = route(g, fresh, placement, hw);
  return { hw, partition: fresh, placement, routing };
}

export interface RunReport {
  mode: "event" | "dense";
  level: string;
  clockMHz: number;
  samples: number;
  ticks: number;
  pes: number;
  chips: number;
  peLowerBound: number;
  sram: { usableBytesPerPe: number; maxBytes: number; meanUtilization: number };
  activitySparsity: Record<string, number>;
  activitySparsityOverall: number;
  weightSparsity: Record<string, number>;
  weightSparsityOverall: number;
  synapticOpsPerInference: { dense: number; effective: number; activityOnly: number; weightOnly: number };
  gains: { activity: number; weight: number; combined: number; energy: number; latency: number };
  perInference: ModeFigures;
  denseMode: ModeFigures;
  eventMode: ModeFigures;
  /** Activity sparsity only: events skip, but every weight is stored (each event reads its whole dense row). */
  activityOnlyMode: ModeFigures;
  /** Weight sparsity only: every unit sends every tick (zero or not), only the stored weights are read. */
  weightOnlyMode: ModeFigures;
  /**
   * Reductions relative to dense (dense ÷ mode), in synaptic operations (the NeuroBench counts above) and in
   * modelled energy per inference, for each kind of sparsity exploited alone and both together (= event mode).
   */
  sparsityGains: Record<"activityOnly" | "weightOnly" | "combined", { synops: number; energy: number }>;
  perPe: { pe: number; slice: string; location: string; sramBytes: number; cycles: number; packetsIn: number; packetsOut: number; chip: number; qpe: number; core: number; x: number; y: number }[];
  /** Compute time of each tick (slowest PE, mean over samples), seconds: event-driven and dense. */
  tickSeconds: { event: number[]; dense: number[] };
}

export interface ModeFigures {
  latencySeconds: number;
  tickSeconds: number;
  energyJoules: { dynamic: number; static: number; noc: number; total: number };
  packets: number;
  hops: number;
}

function figures(m: Mapping, t: SimRun["totals"]["event"], run: SimRun, level: ReturnType<typeof levelOf>, depth: number): ModeFigures {
  const hz = level.mhz.value * 1e6;
  const n = Math.max(1, run.samples);
  const T = Math.max(1, run.ticks);
  const hop = m.hw.noc.hop_cycles.value;
  const busy = t.criticalCycles / n + (t.nocDepthHops / n) * hop;
  const tick = busy / T / hz;
  const latency = busy / hz + Math.max(0, depth - 1) * tick;
  const pj = 1e-12;
  const dynamic = (t.cycles * level.pj_per_cycle.value + t.sramBytes * m.hw.energy.pj_per_sram_byte.value) * pj / n;
  const noc = (t.hops * m.hw.noc.pj_per_hop.value + t.chipHops * m.hw.noc.pj_per_chip_link.value) * pj / n;
  const staticW = (m.partition.pes * level.static_mw_per_pe.value + m.placement.chips * m.hw.chip.static_mw_baseline.value) * 1e-3;
  const stat = staticW * latency;
  return {
    latencySeconds: latency, tickSeconds: tick,
    energyJoules: { dynamic, static: stat, noc, total: dynamic + stat + noc },
    packets: t.packets / n, hops: t.hops / n,
  };
}

/** Populations on the longest delay-0 chain (the pipeline depth). */
function pipelineDepth(g: Graph): number {
  const depth = new Map<string, number>();
  for (const p of g.populations) {
    let d = p.kind === "Input" ? 0 : 1;
    for (const j of g.projections) if (j.target === p.name && j.delay === 0) d = Math.max(d, (depth.get(j.source) ?? 0) + 1);
    if (p.kind === "Readout") d = depth.get(p.source) ?? d;
    depth.set(p.name, d);
  }
  return Math.max(1, ...depth.values());
}

export function report(g: Graph, m: Mapping, run: SimRun, mode: "event" | "dense", levelName?: string): RunReport {
  const level = levelOf(m.hw, levelName);
  const depth = pipelineDepth(g);
  const ev = figures(m, run.totals.event, run, level, depth);
  const de = figures(m, run.totals.dense, run, level, depth);
  const ao = figures(m, run.totals.activityOnly, run, level, depth);
  const wo = figures(m, run.totals.weightOnly, run, level, depth);
  const act: Record<string, number> = {};
  let z = 0, all = 0;
  for (const p of g.populations) {
    if (p.kind === "Input" || p.kind === "Readout") continue;
    const u = run.unitTicks[p.name];
    act[p.name] = u ? 1 - run.events[p.name] / u : 0;
    z += u - run.events[p.name];
    all += u;
  }
  const ws: Record<string, number> = {};
  let wz = 0, wall = 0, dense = 0, eff = 0, actOps = 0, weightOps = 0;
  for (const [name, pr] of Object.entries(run.projections)) {
    ws[name] = 1 - pr.nnz / pr.dense;
    wz += pr.dense - pr.nnz;
    wall += pr.dense;
    dense += pr.denseOps;
    eff += pr.effective;
    actOps += pr.activityOnly;
    weightOps += pr.weightOnly;
  }
  const n = Math.max(1, run.samples);
  const ratio = (a: number, b: number) => (b === 0 ? 1 : a / b);
  const slicesByPe = new Map<number, Slice>();
  for (const s of m.partition.slices) if (s.mirrors < 0) slicesByPe.set(s.pe, s);
  const usable = usableSram(m.hw);
  const bytes = [...slicesByPe.values()].map((s) => s.bytes);
  return {
    mode, level: level.name, clockMHz: level.mhz.value, samples: run.samples, ticks: run.ticks,
    pes: m.partition.pes, chips: m.placement.chips, peLowerBound: m.partition.lowerBound,
    sram: { usableBytesPerPe: usable, maxBytes: Math.max(0, ...bytes), meanUtilization: bytes.length ? bytes.reduce((a, b) => a + b, 0) / bytes.length / usable : 0 },
    activitySparsity: act, activitySparsityOverall: all ? z / all : 0,
    weightSparsity: ws, weightSparsityOverall: wall ? wz / wall : 0,
    synapticOpsPerInference: { dense: dense / n, effective: eff / n, activityOnly: actOps / n, weightOnly: weightOps / n },
    gains: {
      activity: ratio(dense, actOps), weight: ratio(dense, weightOps), combined: ratio(dense, eff),
      energy: ratio(de.energyJoules.total, ev.energyJoules.total), latency: ratio(de.latencySeconds, ev.latencySeconds),
    },
    perInference: mode === "dense" ? de : ev, denseMode: de, eventMode: ev, activityOnlyMode: ao, weightOnlyMode: wo,
    sparsityGains: {
      activityOnly: { synops: ratio(dense, actOps), energy: ratio(de.energyJoules.total, ao.energyJoules.total) },
      weightOnly: { synops: ratio(dense, weightOps), energy: ratio(de.energyJoules.total, wo.energyJoules.total) },
      combined: { synops: ratio(dense, eff), energy: ratio(de.energyJoules.total, ev.energyJoules.total) },
    },
    perPe: run.pes.map((p) => {
      const loc = locate(m.hw, p.pe);
      return {
        pe: p.pe, slice: p.slice, location: `chip${loc.chip}/qpe${loc.qpe}/core${loc.core}`, sramBytes: p.sramBytes,
        cycles: mode === "dense" ? p.denseCycles : p.cycles, packetsIn: p.packetsIn, packetsOut: p.packetsOut,
        chip: loc.chip, qpe: loc.qpe, core: loc.core, x: loc.x, y: loc.y,
      };
    }),
    tickSeconds: {
      event: Array.from(run.perTick.eventCycles, (c) => c / n / (level.mhz.value * 1e6)),
      dense: Array.from(run.perTick.denseCycles, (c) => c / n / (level.mhz.value * 1e6)),
    },
  };
}

/**
 * Runs a batch on the simulator. `execution` chooses how it runs, not what it reports: "event" (default:
 * only events travel, only stored weights are read) or "dense" (every unit sends its value every tick and
 * every PE visits every weight of its dense matrix, zeros included: `nmc run --mode dense`). Outputs, events
 * and every charged figure (cycles and energy of the event, dense, activity-only and weight-only modes) are
 * the same either way; only the wall time differs.
 */
export function simulate(g: Graph, m: Mapping, batch: SequenceBatch, opts: RunOptions = {}): SimRun {
  return new Simulator(g, m.partition, m.placement, m.routing, m.hw).run(batch, opts);
}
