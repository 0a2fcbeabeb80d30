// CLI glue for the spinnaker2 target: hardware descriptions from files, running a bundle on the simulator
// (with a progress bar on long runs), and the report table.
import { readJsonFile } from "../ir/files.js";
import { sampleProgress } from "./batch/progress.js";
import type { Bundle } from "../ir/bundle.js";
import { NmcError } from "../ir/errors.js";
import type { Graph } from "../ir/types.js";
import type { SequenceBatch } from "../runtime/batch.js";
import {
  MAPPING_SECTION, type Mapping, mappingFromSection, parseHardware, report, type RunReport, simulate, SPINNAKER2,
  type HardwareDescription,
} from "../targets/spinnaker2/index.js";
import type { SimObserver, SimRun } from "../targets/spinnaker2/sim/simulator.js";
import { pct, renderTable, sig } from "./table.js";

export function loadHardware(file: string | undefined): HardwareDescription {
  if (!file) return SPINNAKER2;
  const json = readJsonFile(file, "the hardware description");
  return parseHardware(json, file);
}

/** The hardware description and mapping a spinnaker2 bundle was compiled with. */
export function bundleMapping(b: Bundle, g: Graph, file: string): Mapping {
  if (b.manifest.target !== "spinnaker2") {
    throw new NmcError(`this bundle was compiled for target ${b.manifest.target}, not spinnaker2`, {
      file, hint: "compile with nmc compile <model.json> --target spinnaker2 -o m.nmb, or run it with --engine golden",
    });
  }
  let hw: HardwareDescription;
  try {
    hw = parseHardware(JSON.parse(b.manifest.hardwareJson), file);
  } catch (e) {
    if (e instanceof NmcError) throw new NmcError(`the bundle's hardware description is invalid: ${e.message}`, { ...e.fields(), file, node: "manifest" });
    throw new NmcError("the bundle's hardware description is not valid JSON", { file, node: "manifest" });
  }
  const s = b.sections.get(MAPPING_SECTION);
  if (!s) throw new NmcError(`the bundle has no ${MAPPING_SECTION} section`, { file, node: "manifest" });
  return mappingFromSection(g, hw, s.data, file);
}

/** Runs the simulator; shows a progress bar on stderr once a run has taken 2 s (TTY only, never with --json). */
export function simulateWithProgress(g: Graph, m: Mapping, batch: SequenceBatch, quiet: boolean, observer?: SimObserver): SimRun {
  const progress = sampleProgress("simulating", quiet);
  const run = simulate(g, m, batch, { observer, onSample: progress && ((b) => progress.update(b + 1, batch.batch)) });
  progress?.stop();
  return run;
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
    ]),
    `synaptic-op gains: activity ×${r.gains.activity.toFixed(2)}, weights ×${r.gains.weight.toFixed(2)}, combined ×${r.gains.combined.toFixed(2)}`,
    `this run (${r.mode} mode): ${si(e.latencySeconds, "s")} and ${si(e.energyJoules.total, "J")} per inference`,
    "",
    "per PE",
    renderTable(["PE", "location", "slice", "SRAM bytes", "cycles", "packets in", "packets out"],
      r.perPe.map((p) => [p.pe, p.location, p.slice, p.sramBytes, sig(p.cycles), p.packetsIn, p.packetsOut])),
  ];
  return lines.join("\n") + "\n";
}
