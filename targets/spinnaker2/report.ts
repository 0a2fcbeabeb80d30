// The spinnaker2 run report: what a simulator run means on the described machine. Latency and energy per
// inference in each execution mode (event-driven, dense, and each kind of sparsity exploited alone), the
// sparsity measured on the way, SRAM use and every PE's load. The simulator counts; this file prices.
import type { Graph } from "../../ir/types.js";
import { NmcError } from "../../ir/errors.js";
import { levelOf, usableSram } from "./chip.js";
import type { Mapping } from "./mapping.js";
import type { Slice } from "./partition.js";
import { EVENT_PACKET_BITS } from "./ops.js";
import { locate, locationName } from "./place.js";
import type { SimRun } from "./sim/simulator.js";
import type { DvfsChoice } from "./dvfs.js";
import { type DvfsReport, dvfsReport } from "./dvfs-report.js";
import { pjPerMac } from "./accel.js";
import { type AccelReport, accelReport } from "./accel-report.js";

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
  /**
   * Per-PE, per-tick DVFS and power gating (dvfs.ts): energy with and without in each mode, PE-ticks per level;
   * null with --dvfs off (absent in a report saved before nmc counted them).
   */
  dvfs?: DvfsReport | null;
  /** The MAC-array and DRAM paths (accel.ts): only for a mapping with them (nmc compile --mac-array, --dram). */
  accel?: AccelReport;
}

/** How a report prices DVFS (`nmc run --dvfs both|on|off --gating on|off`). */
export interface DvfsOptions {
  dvfs?: DvfsChoice;
  gating?: boolean;
}

export interface ModeFigures {
  latencySeconds: number;
  tickSeconds: number;
  energyJoules: { dynamic: number; static: number; noc: number; total: number };
  packets: number;
  hops: number;
  /** Of packets: those of cross-PE reductions (a split LayerNorm's partial sums). */
  reductionPackets: number;
  /** With MAC-array or DRAM paths: their share of dynamic energy (J), the array's cycles and the DRAM bytes, per inference. */
  accel?: { macJoules: number; dramJoules: number; macArrayCycles: number; dramBytes: number };
}

/**
 * One execution mode's figures per inference from its totals: the tick is the slowest PE's compute plus the
 * NoC depth; latency adds a tick per further population on the delay-0 pipeline; energy is dynamic (cycles,
 * SRAM bytes), NoC (hops, chip crossings) and static (the PEs and chips in use, over the latency).
 */
export function figures(m: Mapping, t: SimRun["totals"]["event"], run: SimRun, level: ReturnType<typeof levelOf>, depth: number,
  mode?: keyof SimRun["totals"]): ModeFigures {
  const hz = level.mhz.value * 1e6;
  const n = Math.max(1, run.samples);
  const T = Math.max(1, run.ticks);
  const hop = m.hw.noc.hop_cycles.value;
  // With MAC-array or DRAM paths (sim/accel.ts): the critical path with the chips' DRAM time at this level, and
  // the array's and DRAM's energy beside the ARM cycles'.
  const ac = mode && run.accel ? run.accel.modes[mode] : undefined;
  const critical = ac ? ac.critical[level.name] : t.criticalCycles;
  const busy = critical / n + (t.nocDepthHops / n) * hop;
  const tick = busy / T / hz;
  const latency = busy / hz + Math.max(0, depth - 1) * tick;
  const pj = 1e-12;
  const macJ = ac && ac.macs8 > 0 ? ac.macs8 * pjPerMac(m.hw, level) * pj / n : 0;
  const dramJ = ac ? ac.dramBytes * m.hw.dram.pj_per_byte.value * pj / n : 0;
  const dynamic = (t.cycles * level.pj_per_cycle.value + t.sramBytes * m.hw.energy.pj_per_sram_byte.value) * pj / n + macJ + dramJ;
  // pj_per_hop and pj_per_chip_link are per event packet (EVENT_PACKET_BITS; SOURCES.md D9 derives them from
  // pJ per bit): a reduction packet's traversals are charged in proportion to its bits.
  const hops = t.hops - t.reductionHops + t.reductionHopBits / EVENT_PACKET_BITS;
  const chipHops = t.chipHops - t.reductionChipHops + t.reductionChipHopBits / EVENT_PACKET_BITS;
  const noc = (hops * m.hw.noc.pj_per_hop.value + chipHops * m.hw.noc.pj_per_chip_link.value) * pj / n;
  const staticW = (m.partition.pes * level.static_mw_per_pe.value + m.placement.chips * m.hw.chip.static_mw_baseline.value) * 1e-3;
  const stat = staticW * latency;
  return {
    latencySeconds: latency, tickSeconds: tick,
    energyJoules: { dynamic, static: stat, noc, total: dynamic + stat + noc },
    packets: t.packets / n, hops: t.hops / n, reductionPackets: t.reductionPackets / n,
    ...(ac ? { accel: { macJoules: macJ, dramJoules: dramJ, macArrayCycles: ac.macArray / n, dramBytes: ac.dramBytes / n } } : {}),
  };
}

/** Populations on the longest delay-0 chain (the pipeline depth). */
export function pipelineDepth(g: Graph): number {
  const depth = new Map<string, number>();
  for (const p of g.populations) {
    let d = p.kind === "Input" ? 0 : 1;
    for (const j of g.projections) if (j.target === p.name && j.delay === 0) d = Math.max(d, (depth.get(j.source) ?? 0) + 1);
    if (p.kind === "Readout") d = depth.get(p.source) ?? d;
    depth.set(p.name, d);
  }
  return Math.max(1, ...depth.values());
}

export function report(g: Graph, m: Mapping, run: SimRun, mode: "event" | "dense", levelName?: string, opts: DvfsOptions = {}): RunReport {
  const level = levelOf(m.hw, levelName);
  const depth = pipelineDepth(g);
  if (run.accel && opts.dvfs === "on") {
    throw new NmcError("--dvfs on: DVFS is not modelled with the MAC array or DRAM paths this bundle was compiled with", {
      hint: "use --dvfs off or both (the report then has no DVFS figures), or compile with --mac-array none --dram off",
    });
  }
  let ev = figures(m, run.totals.event, run, level, depth, "event");
  let de = figures(m, run.totals.dense, run, level, depth, "dense");
  let ao = figures(m, run.totals.activityOnly, run, level, depth, "activityOnly");
  let wo = figures(m, run.totals.weightOnly, run, level, depth, "weightOnly");
  const dvfs = dvfsReport(m.hw, run, level, m.placement.chips, { event: ev, dense: de, activityOnly: ao, weightOnly: wo }, opts.dvfs, opts.gating ?? true);
  if (dvfs?.shown === "on") {
    // --dvfs on: every mode's energy is the one with DVFS (latency and NoC energy are the same either way).
    const on = (f: ModeFigures, k: keyof DvfsReport["modes"]): ModeFigures => ({ ...f, energyJoules: dvfs.modes[k].energyJoules });
    [ev, de, ao, wo] = [on(ev, "event"), on(de, "dense"), on(ao, "activityOnly"), on(wo, "weightOnly")];
  }
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
        pe: p.pe, slice: p.slice, location: locationName(m.hw, p.pe), sramBytes: p.sramBytes,
        cycles: mode === "dense" ? p.denseCycles : p.cycles, packetsIn: p.packetsIn, packetsOut: p.packetsOut,
        chip: loc.chip, qpe: loc.qpe, core: loc.core, x: loc.x, y: loc.y,
      };
    }),
    tickSeconds: {
      event: Array.from(run.perTick.eventCycles, (c) => c / n / (level.mhz.value * 1e6)),
      dense: Array.from(run.perTick.denseCycles, (c) => c / n / (level.mhz.value * 1e6)),
    },
    dvfs,
    ...(run.accel && m.partition.accel ? { accel: accelReport(g, m, run, level) } : {}),
  };
}
