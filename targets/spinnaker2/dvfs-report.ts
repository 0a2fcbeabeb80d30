// The DVFS part of the spinnaker2 run report (`nmc run --dvfs both|on|off`, `--gating on|off`): energy per
// inference with and without per-PE, per-tick DVFS and power gating in each charged mode, and the histogram of
// PE-ticks per performance level. The policy and the counting are in dvfs.ts.
import { NmcError } from "../../ir/errors.js";
import type { HardwareDescription } from "./chip.js";
import { type DvfsChoice, DVFS_MODES, dvfsFigures, type DvfsMode, type DvfsModeFigures } from "./dvfs.js";
import type { SimRun } from "./sim/simulator.js";

export interface DvfsModeReport extends DvfsModeFigures {
  /** The same mode's energy per inference without DVFS (J). */
  offJoules: number;
}

export interface DvfsReport {
  /** Which energy the report's mode figures (eventMode, denseMode, …, gains) carry: "off" unless --dvfs on. */
  shown: "off" | "on";
  gating: boolean;
  /** The nominal level (the run's --level): every tick keeps its length at it. */
  nominal: string;
  switchNs: number;
  gatedMwPerPe: number;
  /** PEs × ticks × samples: what each histogram sums to. */
  peTicks: number;
  modes: Record<DvfsMode, DvfsModeReport>;
}

interface ModeEnergy {
  latencySeconds: number;
  energyJoules: { dynamic: number; static: number; noc: number; total: number };
}

/**
 * The DVFS figures of a run (null with --dvfs off, or for a run saved before nmc counted them unless --dvfs on
 * asks for them: then an error).
 */
export function dvfsReport(
  hw: HardwareDescription, run: SimRun, level: HardwareDescription["levels"][number], chips: number,
  modes: Record<DvfsMode, ModeEnergy>, choice: DvfsChoice = "both", gating = true,
): DvfsReport | null {
  if (choice === "off") return null;
  const tallies = run.dvfs;
  if (!tallies || !tallies.event[level.name]) {
    if (choice === "on") {
      throw new NmcError("--dvfs on: this run has no DVFS counts", {
        expected: "a run of this nmc version (or part files written by it)", found: "a run saved before nmc counted per-PE, per-tick levels", hint: "run it again, or use --dvfs off",
      });
    }
    return null;
  }
  const ctx = { hw, pes: run.pes.length, chips, samples: run.samples };
  const out = {} as Record<DvfsMode, DvfsModeReport>;
  for (const mode of DVFS_MODES) {
    const f = dvfsFigures(ctx, run.totals[mode], tallies[mode][level.name], level, gating, modes[mode]);
    out[mode] = { ...f, offJoules: modes[mode].energyJoules.total };
  }
  return {
    shown: choice === "on" ? "on" : "off", gating, nominal: level.name, switchNs: hw.dvfs.switch_ns.value, gatedMwPerPe: hw.dvfs.gated_mw_per_pe.value,
    peTicks: run.pes.length * run.ticks * run.samples, modes: out,
  };
}

const si = (x: number): string => {
  const a = Math.abs(x);
  const [m, p] = a >= 1 ? [1, ""] : a >= 1e-3 ? [1e3, "m"] : a >= 1e-6 ? [1e6, "µ"] : a >= 1e-9 ? [1e9, "n"] : [1e12, "p"];
  return `${Number((x * m).toPrecision(4))} ${p}J`;
};
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

/** The report's DVFS lines (none without DVFS figures). */
export function printDvfs(d: DvfsReport | null | undefined): string[] {
  if (!d) return [];
  const ev = d.modes.event, de = d.modes.dense;
  const hist = (h: Record<string, number>) => Object.entries(h).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v} (${pct(d.peTicks ? v / d.peTicks : 0)})`).join(", ");
  return [
    `DVFS     per PE and tick, the slowest level that finishes within the tick (nominal ${d.nominal}, switch ${d.switchNs} ns, idle PEs ${d.gating ? `gated at ${d.gatedMwPerPe} mW` : "asleep, not gated"}; outputs and latency unchanged)` +
      (d.shown === "on" ? "; the energies above are with DVFS (--dvfs on)" : "; the energies above are without (--dvfs on shows them with)"),
    `         energy per inference without → with DVFS: event-driven ${si(ev.offJoules)} → ${si(ev.energyJoules.total)} (−${pct(ev.saved)}), dense ${si(de.offJoules)} → ${si(de.energyJoules.total)} (−${pct(de.saved)})`,
    `         PE-ticks per level (${d.peTicks} in all), event-driven: ${hist(ev.histogram)}; dense: ${hist(de.histogram)}`,
  ];
}
