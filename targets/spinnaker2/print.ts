// The spinnaker2 run report as text (`nmc run` on a spinnaker2 bundle, `nmc merge`, `nmc report`, the demo),
// and the compile-time mapping summary (`nmc compile --target spinnaker2`, `nmc inspect`).
import type { Mapping } from "./index.js";
import { S2_OPS } from "./ops.js";
import { locationName } from "./place.js";
import { reductionGroups } from "./route.js";
import type { RunReport } from "./index.js";
import { pct, renderTable, sig } from "../../runtime/table.js";
import { type Figure, GRADES, type HardwareDescription, usableSram } from "./chip.js";
import { printDvfs } from "./dvfs-report.js";

/** The mapping as the compile report and `nmc inspect` show it: PEs, the memory bound, slices, routing. */
export function mappingSummary(m: Mapping) {
  const p = m.partition;
  return {
    pes: p.pes, memory_lower_bound_pes: p.lowerBound, chips: m.placement.chips, usable_bytes_per_pe: p.usableBytes,
    slices: p.slices.filter((s) => s.mirrors < 0).map((s) => ({
      population: s.pop, units: [s.lo, s.hi], pe: s.pe, location: locationName(m.hw, s.pe), bytes: s.bytes,
    })),
    routing: { routers: m.routing.tables.size, max_entries_per_router: m.routing.maxEntries, total_entries: m.routing.totalEntries },
    reductions: reductionSummary(m),
    ...(p.accel ? { mac_array: p.accel.mac, dram: p.accel.dram } : {}),
  };
}

/**
 * The cross-PE reductions of the mapping (a LayerNorm cut over several PEs), per tick: every slice sends one
 * multicast packet of partial sums to the others, so k packets, k(k − 1) receptions, and the router
 * traversals and chip crossings of the k trees.
 */
export function reductionSummary(m: Mapping) {
  return reductionGroups(m.partition).map((grp) => {
    const k = grp.slices.length;
    const es = grp.slices.map((sid) => m.routing.reductions.find((e) => e.slice === sid)!);
    const red = S2_OPS[m.partition.populations.find((x) => x.pop === grp.pop)!.kind].reduction!;
    return {
      population: grp.pop, slices: k, pes: grp.slices.map((sid) => m.partition.slices[sid].pe), keys: es.map((e) => e.key >>> 0),
      payload_bits: red.payloadBits, payload_bits_used: red.usedBits,
      packets_per_tick: k, receptions_per_tick: es.reduce((a, e) => a + e.dests.length, 0),
      router_traversals_per_tick: es.reduce((a, e) => a + e.hops, 0), chip_crossings_per_tick: es.reduce((a, e) => a + e.chipHops, 0),
      deepest_tree_routers: Math.max(...es.map((e) => e.depth)),
    };
  });
}

/** The mapping summary as the text `nmc compile` prints after its report. */
export function printMapping(m: Mapping): string {
  const s = mappingSummary(m);
  const lines = [
    "",
    `spinnaker2: ${s.pes} PEs on ${s.chips} chip(s); memory lower bound ${s.memory_lower_bound_pes} PEs (ratio ${(s.pes / Math.max(1, s.memory_lower_bound_pes)).toFixed(2)}); ` +
      `${s.routing.total_entries} routing entries on ${s.routing.routers} routers (max ${s.routing.max_entries_per_router} per router)`,
  ];
  const shown = s.slices.length > 24 ? s.slices.slice(0, 24) : s.slices;
  lines.push(renderTable(["PE", "location", "population", "units", "SRAM bytes", "of usable"],
    shown.map((x) => [x.pe, x.location, x.population, `${x.units[0]}..${x.units[1] - 1}`, x.bytes, pct(x.bytes / s.usable_bytes_per_pe)])));
  if (shown.length < s.slices.length) lines.push(`  … ${s.slices.length - shown.length} more PEs (nmc inspect --json lists all)`);
  for (const r of s.reductions) {
    lines.push(`cross-PE reduction of ${r.population} over ${r.slices} PEs (${r.pes.join(", ")}): per tick ${r.packets_per_tick} multicast packets of partial sums ` +
      `(${r.payload_bits}-bit payload, ${r.payload_bits_used} bits used), ${r.receptions_per_tick} receptions, ${r.router_traversals_per_tick} router traversals, ` +
      `${r.chip_crossings_per_tick} chip crossings; deepest tree ${r.deepest_tree_routers} routers`);
  }
  if (s.mac_array?.length) lines.push(`MAC array (--mac-array): ${s.mac_array.join(", ")} (dense weights stored, the whole source vector multiplied every step)`);
  if (s.dram?.length) lines.push(`weights in DRAM (--dram): ${s.dram.join(", ")} (each step fetches the rows of its events; SRAM keeps a row buffer)`);
  return lines.join("\n") + "\n";
}

const si = (x: number, unit: string): string => {
  const a = Math.abs(x);
  const [m, p] = a >= 1 ? [1, ""] : a >= 1e-3 ? [1e3, "m"] : a >= 1e-6 ? [1e6, "µ"] : a >= 1e-9 ? [1e9, "n"] : [1e12, "p"];
  return `${Number((x * m).toPrecision(4))} ${p}${unit}`;
};

export function printS2Report(r: RunReport): string {
  const e = r.perInference;
  const lines = [
    `machine  ${r.pes} PEs on ${r.chips} chip(s) (memory lower bound ${r.peLowerBound} PEs; ratio ${(r.pes / Math.max(1, r.peLowerBound)).toFixed(2)}), ${r.level} at ${r.clockMHz} MHz; SRAM per PE: max ${r.sram.maxBytes} of ${r.sram.usableBytesPerPe} usable bytes, mean ${pct(r.sram.meanUtilization)}`,
    `mode     ${r.mode}${r.mode === "dense" ? " (charged as if no event and no zero weight were skipped)" : " (only events travel, only stored weights are read)"}`,
    "",
    "activity sparsity per population (fraction of unit-ticks without an event)",
    renderTable(["population", "sparsity"], Object.entries(r.activitySparsity).map(([n, v]) => [n, pct(v, 2)])),
    `  overall ${pct(r.activitySparsityOverall, 2)}`,
    "weight sparsity per projection (zero weights, not stored)",
    renderTable(["projection", "sparsity"], Object.entries(r.weightSparsity).map(([n, v]) => [n, pct(v, 2)])),
    `  overall ${pct(r.weightSparsityOverall, 2)}`,
    "",
    `synaptic operations per inference: dense ${sig(r.synapticOpsPerInference.dense)}, effective ${sig(r.synapticOpsPerInference.effective)}`,
    renderTable(["", "event-driven", "dense", "gain"], [
      ["latency per tick", si(r.eventMode.tickSeconds, "s"), si(r.denseMode.tickSeconds, "s"), `×${r.gains.latency.toFixed(2)}`],
      ["latency per inference", si(r.eventMode.latencySeconds, "s"), si(r.denseMode.latencySeconds, "s"), `×${r.gains.latency.toFixed(2)}`],
      ["energy per inference", si(r.eventMode.energyJoules.total, "J"), si(r.denseMode.energyJoules.total, "J"), `×${r.gains.energy.toFixed(2)}`],
      ["  dynamic (cores, SRAM)", si(r.eventMode.energyJoules.dynamic, "J"), si(r.denseMode.energyJoules.dynamic, "J"), ""],
      ["  static", si(r.eventMode.energyJoules.static, "J"), si(r.denseMode.energyJoules.static, "J"), ""],
      ["  NoC", si(r.eventMode.energyJoules.noc, "J"), si(r.denseMode.energyJoules.noc, "J"), ""],
      ["packets per inference", sig(r.eventMode.packets), sig(r.denseMode.packets), ""],
      ...(r.eventMode.reductionPackets > 0 ? [["  cross-PE reduction (partial sums)", sig(r.eventMode.reductionPackets), sig(r.denseMode.reductionPackets), ""]] : []),
    ]),
    `synaptic-op gains: activity ×${r.gains.activity.toFixed(2)}, weights ×${r.gains.weight.toFixed(2)}, combined ×${r.gains.combined.toFixed(2)}`,
    `this run (${r.mode} mode): ${si(e.latencySeconds, "s")} and ${si(e.energyJoules.total, "J")} per inference`,
    ...printDvfs(r.dvfs),
    ...printAccel(r),
    "",
    "per PE",
    renderTable(["PE", "location", "slice", "SRAM bytes", "cycles", "packets in", "packets out"],
      r.perPe.map((p) => [p.pe, p.location, p.slice, p.sramBytes, sig(p.cycles), p.packetsIn, p.packetsOut])),
  ];
  return lines.join("\n") + "\n";
}

/** The MAC-array and DRAM section of a run report (accel-report.ts), nothing without those paths. */
function printAccel(r: RunReport): string[] {
  const a = r.accel;
  if (!a) return [];
  const ev = r.eventMode.accel, de = r.denseMode.accel;
  const out = [""];
  if (a.macArray.projections.length) {
    out.push(`MAC array (${a.macArray.bits}-bit mode, ${a.macArray.pjPerMac8 ?? "?"} pJ per 8-bit MAC at ${r.level}), per inference:`);
    out.push(renderTable(["projection", "rows × cols", "passes", "MACs", "array cycles", "ARM cycles", "energy"],
      a.macArray.projections.map((p) => [p.name, `${p.rows} × ${p.cols}`, p.passes, sig(p.macsPerInference), sig(p.arrayCyclesPerInference), sig(p.armCyclesPerInference), si(p.energyJoules, "J")])));
  }
  if (a.dram.populations.length) {
    out.push(`weights in DRAM (${sig(a.dram.bytesPerSecondPerChip / 1e9)} GB/s per chip, shared; ${a.dram.pjPerByte} pJ/B assumed), event mode, per inference:`);
    out.push(renderTable(["population", "bytes fetched", "rows", "ARM fetch cycles", "energy"],
      a.dram.populations.map((p) => [p.name, sig(p.bytesPerInference), sig(p.rowsPerInference), sig(p.fetchCyclesPerInference), si(p.energyJoules, "J")])));
  }
  if (ev && de) {
    out.push(`  in the totals above: MAC array ${si(ev.macJoules, "J")} event / ${si(de.macJoules, "J")} dense; DRAM ${si(ev.dramJoules, "J")} (${sig(ev.dramBytes)} B) event / ` +
      `${si(de.dramJoules, "J")} (${sig(de.dramBytes)} B) dense`);
  }
  for (const n of a.notes) out.push(`  ${n}`);
  return out;
}

/** The hardware description as a table: every figure with its unit, grade and source (`nmc hw`). */
export function printHardware(hw: HardwareDescription): string {
  const rows: (string | number)[][] = [];
  const tally = new Map<string, number>();
  const walk = (prefix: string, o: unknown) => {
    if (o && typeof o === "object" && "value" in o && "source" in o) {
      const f = o as Figure;
      const grade = f.grade ?? "ungraded";
      tally.set(grade, (tally.get(grade) ?? 0) + 1);
      rows.push([prefix, f.value, f.unit, grade, f.source]);
      return;
    }
    if (Array.isArray(o)) o.forEach((v, i) => walk(`${prefix}[${(v as { name?: string }).name ?? i}]`, v));
    else if (o && typeof o === "object") for (const [k, v] of Object.entries(o)) if (k !== "name") walk(prefix ? `${prefix}.${k}` : k, v);
  };
  walk("", { ...hw, default_level: undefined });
  const grades = [...GRADES, "ungraded"].filter((g) => tally.has(g)).map((g) => `${tally.get(g)} ${g}`).join(", ");
  return `${hw.name}\ndefault level ${hw.default_level}; usable data SRAM per PE ${usableSram(hw)} bytes\n` +
    `grades: ${grades} (primary: read in the source's own text; secondary: quoted by another source; derived: computed from graded figures; assumed: no source)\n\n` +
    renderTable(["figure", "value", "unit", "grade", "source"], rows) + "\n\n" + synopEnergy(hw) + "\n";
}

/**
 * Energy per synaptic operation in the terms the literature quotes it, per level: the dynamic energy nmc charges
 * (cycles.synapse × pJ/cycle), plus a busy PE's static power over those cycles, plus its share of the chip floor;
 * and the per-synop figures published for SpiNNaker 2 chips (targets/spinnaker2/RESEARCH-22.md (c), "Session 11").
 */
export function synopEnergy(hw: HardwareDescription): string {
  const cyc = hw.cycles.synapse.value, pes = hw.chip.pes.value, floor = hw.chip.static_mw_baseline.value;
  const rows = hw.levels.map((l) => {
    const dyn = cyc * l.pj_per_cycle.value;
    const stat = (cyc * l.static_mw_per_pe.value * 1e-3) / (l.mhz.value * 1e6) * 1e12;
    const share = (cyc * (floor / pes) * 1e-3) / (l.mhz.value * 1e6) * 1e12;
    return [l.name, `${sig(dyn)} pJ`, `${sig(dyn + stat)} pJ`, `${sig(dyn + stat + share)} pJ`];
  });
  return [
    `energy per synaptic operation on the ARM core (cycles.synapse = ${cyc} cycles), by what is counted:`,
    renderTable(["level", "dynamic (what nmc charges per synop)", "+ static of a busy PE", "+ its share of the chip floor"], rows),
    "published for comparison: 10 pJ/SOp, SpiNNaker 2 in SENECA's Table 3 (Tang et al. 2023, primary for the table), quoting",
    "Höppner et al. 2021 (secondary: its operation, voltage and counting boundary not reached; the paper's chip is the 8-PE",
    "test chip); and 450 pJ per synop (2.19 nJ per neuron update) for the 28 nm DVFS test chip of Höppner et al. 2019, in",
    "nengo keras-spiking's device table (primary for the table, secondary for the paper). The two bracket nmc's figures",
    "from different chips and counting boundaries. Not fitted: the product's own throughput (1.8 G synaptic events/s,",
    "secondary) implies ≈ 210–380 pJ dynamic per event; targets/spinnaker2/RESEARCH-22.md (c) and \"Session 11\" set the",
    "figures side by side.",
  ].join("\n");
}
