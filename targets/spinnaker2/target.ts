// The spinnaker2 target as the rest of nmc sees it (targets/target.ts): lowering maps the quantized graph
// onto the PEs of the described machine (partition → place → route) and stores the mapping; loading
// decodes and verifies the stored mapping and runs the simulator from it; the report is the cycle, energy
// and sparsity report of targets/spinnaker2/report.ts, as text (print.ts) and as HTML (html.ts).
import type { Bundle } from "../../ir/bundle.js";
import { readJsonFile } from "../../ir/files.js";
import type { Graph } from "../../ir/types.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import type { SimResult } from "../run/result.js";
import type { LoadedBundle, Target, TargetReport } from "../target.js";
import { parseHardware, SPINNAKER2, type HardwareDescription } from "./chip.js";
import { rasterOf, renderHtml, type RasterPoint } from "./html.js";
import { type Mapping, mapGraph, mappingSection, report as runReport, type RunReport, simulate } from "./index.js";
import { loadMapping, recheckMapping } from "./mapping.js";
import { Simulator } from "./sim/simulator.js";
import { DVFS_CHOICES, type DvfsChoice, GATING_CHOICES } from "./dvfs.js";
import type { DvfsOptions } from "./report.js";
import { locationName } from "./place.js";
import { mappingSummary, printHardware, printMapping, printS2Report } from "./print.js";
import { DRAM_CHOICES, type DramChoice, MAC_CHOICES, macProjections } from "./accel.js";
import { NmcError } from "../../ir/errors.js";

/** `--dram`'s value (none given: off), or an NmcError naming the choices. */
function dramChoice(v: string | undefined): DramChoice {
  if (v === undefined) return "off";
  if (!(DRAM_CHOICES as readonly string[]).includes(v)) throw new NmcError("invalid value for --dram", { expected: DRAM_CHOICES.join(" | "), found: JSON.stringify(v) });
  return v as DramChoice;
}

/** The built-in description, or one from a JSON file (`--hw`), checked field by field. */
export function loadHardware(file: string | undefined): HardwareDescription {
  if (!file) return SPINNAKER2;
  return parseHardware(readJsonFile(file, "the hardware description"), file);
}

/** Per-core descriptors of the manifest: each PE's slice, place and memory. */
function coreDescriptors(m: Mapping) {
  return m.partition.slices.filter((s) => s.mirrors < 0).map((s) => {
    const readouts = m.partition.slices.filter((r) => r.mirrors === s.id).map((r) => r.pop);
    return {
      id: s.pe, placement: locationName(m.hw, s.pe), sectionNames: [mappingSection(m).name],
      attrs: { population: s.pop, units: `${s.lo}:${s.hi}`, sram_bytes: String(s.bytes), ...(readouts.length ? { readout: readouts.join(",") } : {}) },
    };
  });
}

function loaded(g: Graph, m: Mapping): LoadedBundle {
  return {
    runner: { name: `spinnaker2 simulator (${m.partition.pes} PEs)`, run: (batch, observer) => simulate(g, m, batch, { observer }) },
    execute(batch: SequenceBatch, opts): SimResult {
      const execution = opts.options.mode === "dense" ? "dense" : "event";
      const onProgress = opts.onProgress;
      return { kind: "sim", run: simulate(g, m, batch, { execution, ...(onProgress ? { onSample: (b: number) => onProgress(b + 1) } : {}) }) };
    },
    session(ticks, opts) {
      const input = g.populations.find((p) => p.name === g.inputs[0]);
      const channels = !input || (input.kind === "Input" && input.encoding === "tokens") ? 1 : input.size;
      const s = new Simulator(g, m.partition, m.placement, m.routing, m.hw, { execution: opts.options.mode === "dense" ? "dense" : "event" }).stepper(ticks, channels);
      const outFrac = g.populations.find((p) => p.name === g.outputs[0])!.fixed!.outFrac;
      return { input: s.xq, outFrac, step: s.step, finish: () => ({ kind: "sim", run: s.finish() }) };
    },
    report(result, options, brief) {
      if (result.kind !== "sim") throw new Error("internal: a spinnaker2 report of a run that is not the simulator's");
      return s2Report(g, m, result.run, options.mode === "dense" ? "dense" : "event", options.level, brief, dvfsOptions(options));
    },
  };
}

/** The run report of a simulator run, with its text, HTML page and raster. */
function s2Report(g: Graph, m: Mapping, run: SimResult["run"], mode: "event" | "dense", level?: string, brief = false, dvfs: DvfsOptions = {}): TargetReport {
  const rep = runReport(g, m, run, mode, level, dvfs);
  return {
    backend: "nmc spinnaker2 simulator (transaction level, golden kernels per PE)",
    engineLine: "nmc spinnaker2 simulator (bit-exact with the golden engine; cycles and energy from the hardware description)",
    json: rep as unknown as Record<string, unknown>,
    text: printS2Report(brief ? { ...rep, perPe: rep.perPe.slice(0, 12) } : rep),
    html: (h) => {
      const raster = h.raster?.();
      return renderHtml({
        title: h.title, report: rep, raster: (raster?.points ?? []) as RasterPoint[], rasterSample: raster?.sample ?? 0, accuracy: h.accuracy,
        notes: [...(raster ? [] : ["The activity raster needs the run itself: nmc run <bundle> --html report.html draws it."]), ...(h.notes ?? [])],
      });
    },
    raster: (batch, sample) => ({ points: rasterOf(g, m, batch, sample), sample }),
  };
}

/** The DVFS options of a run's report (unset: both, gating on). */
function dvfsOptions(options: Record<string, string | undefined>): DvfsOptions {
  return { dvfs: (options.dvfs ?? "both") as DvfsChoice, gating: (options.gating ?? "on") === "on" };
}

/** Whether a saved run JSON (nmc run --json, or the demo's report.json) holds a spinnaker2 report. */
function findSavedReport(json: Record<string, unknown>): RunReport | undefined {
  const rep = (json.spinnaker2 ?? json) as RunReport;
  return rep && typeof rep === "object" && rep.eventMode && rep.perPe && rep.tickSeconds ? rep : undefined;
}

export const SPINNAKER2_TARGET: Target = {
  name: "spinnaker2",
  displayName: "SpiNNaker 2 (simulated)",
  description: "spinnaker2: partition, place and route onto SpiNNaker 2 PEs, run on the bundled simulator",
  progressVerb: "simulating",
  compileOptions: [
    { flags: "--hw <file>", key: "hw", description: "spinnaker2: a hardware description JSON (default: the built-in SpiNNaker 2; nmc hw --json prints it)" },
    {
      flags: "--mac-array <which>", key: "macArray",
      description: `spinnaker2: run projections on the PEs' MAC arrays instead of the ARM's event loop: ${MAC_CHOICES.join(" | ")} (none: default; input: those from an input population; dense: those whose dense weights take no more memory than their sparse rows, i.e. at least a third of the weights stored at 8 bits; all) or projection names, comma-separated. The array multiplies the whole source vector every step (zeros included), with dense weights stored; outputs are unchanged (a projection whose sums could overflow the array's accumulator is refused by name). The report lists them with their cycles and energy (docs/hardware.md "MAC array and DRAM")`,
    },
    {
      flags: "--dram <policy>", key: "dram",
      description: `spinnaker2: keep weights in the chip's LPDDR4 DRAM and fetch the rows each step needs: ${DRAM_CHOICES.join(" | ")} (off: default, a population that does not fit a PE's SRAM is refused; on: only such populations go to DRAM; all: every population with weights). Fetches are charged in bytes (whole 16-B bursts), time from the chip's shared 6.4 GB/s and energy per byte (assumed)`,
    },
  ],
  runOptions: [
    {
      flags: "--mode <mode>", key: "mode", choices: ["event", "dense"], defaultValue: "event",
      description: "spinnaker2: execute event-driven (only events travel), or densely (every value sent every tick, every weight visited; same outputs, slower); the report shows that mode's charged figures, and the gains compare both",
    },
    { flags: "--level <name>", key: "level", description: "spinnaker2: the nominal performance level, every PE's without DVFS (nmc hw lists them; default: the description's)" },
    {
      flags: "--dvfs <which>", key: "dvfs", choices: [...DVFS_CHOICES], defaultValue: "both",
      description: "spinnaker2: per-PE, per-tick DVFS (each PE at the slowest level that still finishes within the tick; outputs and latency unchanged): both = energies without DVFS, and with it beside them; on = every energy with DVFS; off = no DVFS figures",
    },
    {
      flags: "--gating <on|off>", key: "gating", choices: [...GATING_CHOICES], defaultValue: "on",
      description: "spinnaker2, with --dvfs: a PE with nothing to do in a tick is switched off (on), or sleeps at the lowest level (off)",
    },
  ],
  workers: true,
  lower({ quantized, options }) {
    const hw = loadHardware(options.hw);
    const dram = dramChoice(options.dram);
    const m = mapGraph(quantized, hw, { mac: macProjections(quantized, hw, options.macArray), dramPolicy: dram });
    const none = dram === "on" && !m.partition.accel?.dram.length ? "--dram on: every population fits the PE SRAM, no weights are kept in DRAM\n" : "";
    return {
      sections: [mappingSection(m)], cores: coreDescriptors(m), hardwareJson: JSON.stringify(hw),
      report: { mapping: mappingSummary(m) }, text: printMapping(m) + none,
    };
  },
  load: (b, g, file) => loaded(g, loadMapping(b, g, file)),
  inspect(b, g, file) {
    const m = loadMapping(b, g, file);
    return { json: { mapping: mappingSummary(m) }, text: printMapping(m) };
  },
  recheck: (b, g, file) => recheckMapping(g, loadMapping(b, g, file)),
  savedReport: {
    find: findSavedReport,
    text: (rep) => printS2Report(rep as RunReport),
    html: (rep, h) => renderHtml({ title: h.title, report: rep as RunReport, raster: [], rasterSample: 0, accuracy: h.accuracy, notes: h.notes }),
  },
  hardware: {
    load: loadHardware,
    json: (hw) => hw,
    text: (hw) => printHardware(hw as HardwareDescription),
  },
};
