// The report's MAC-array and DRAM section (accel.ts, sim/accel.ts): which projections ran on the MAC array and
// which populations fetched their weights from DRAM, with their cycles, bytes and energy per inference (event
// mode), and what the figures leave out.
import type { Graph } from "../../ir/types.js";
import type { HardwareDescription } from "./chip.js";
import { macBits, macChunks, macColumnLimit, pjPerMac } from "./accel.js";
import type { Mapping } from "./mapping.js";
import type { SimRun } from "./sim/simulator.js";

export interface AccelReport {
  macArray: {
    /** Operand mode: 16-bit when weights or activations (int16 in nmc) are wider than 8 bits. */
    bits: 8 | 16;
    pjPerMac8: number | null;
    projections: {
      name: string; source: string; target: string; rows: number; cols: number;
      /** Passes over the rows so that every partial sum fits the accumulator (whole matrix; a slice may need fewer). */
      passes: number;
      macsPerInference: number; arrayCyclesPerInference: number; armCyclesPerInference: number; energyJoules: number;
    }[];
  };
  dram: {
    bytesPerSecondPerChip: number;
    pjPerByte: number;
    populations: { name: string; bytesPerInference: number; rowsPerInference: number; energyJoules: number; fetchCyclesPerInference: number }[];
  };
  notes: string[];
}

export function accelReport(g: Graph, m: Mapping, run: SimRun, level: HardwareDescription["levels"][number]): AccelReport {
  const hw = m.hw, a = run.accel!, plan = m.partition.accel!, n = Math.max(1, run.samples);
  const bits = macBits(g), limit = macColumnLimit(hw);
  const pjMac = plan.mac.length ? pjPerMac(hw, level) : level.pj_per_mac?.value ?? null;
  const projections = plan.mac.map((name) => {
    const j = g.projections.find((x) => x.name === name)!;
    const c = a.projections[name] ?? { macs8: 0, macArray: 0, macArm: 0 };
    const passes = macChunks(j.rows, j.cols, j.weights.rowPtr, 1, 0, j.weights.colIdx, 0, j.weights.values.data, limit).length;
    const macs = c.macs8 / (bits === 8 ? 1 : hw.mac.cells_per_mac_16.value);
    return {
      name, source: j.source, target: j.target, rows: j.rows, cols: j.cols, passes,
      macsPerInference: macs / n, arrayCyclesPerInference: c.macArray / n, armCyclesPerInference: c.macArm / n,
      energyJoules: (c.macs8 * (pjMac ?? 0) + c.macArm * level.pj_per_cycle.value) * 1e-12 / n,
    };
  });
  const populations = plan.dram.map((name) => {
    const c = a.populations[name] ?? { dramBytes: 0, dramRows: 0 };
    return {
      name, bytesPerInference: c.dramBytes / n, rowsPerInference: c.dramRows / n,
      energyJoules: c.dramBytes * hw.dram.pj_per_byte.value * 1e-12 / n, fetchCyclesPerInference: c.dramRows * hw.dram.fetch_cycles.value / n,
    };
  });
  const notes = ["DVFS is not modelled with the MAC array or DRAM paths: this run has no DVFS figures."];
  if (plan.mac.length) notes.push("Outputs are the golden engine's: the array's passes keep every partial sum within its accumulator, and the ARM adds them exactly.");
  if (plan.mac.length) notes.push(`The array runs in its ${bits}-bit mode (nmc's events are int16): ${bits === 8 ? hw.mac.macs_per_cycle_8.value : hw.mac.macs_per_cycle_16.value} MAC/cycle peak; a batch-1 product uses ${hw.mac.batch1_fraction.value} of it at ${hw.mac.fc_efficiency.value} efficiency.`);
  if (plan.dram.length) notes.push("DRAM time is in the latency but not in the per-tick series (tickSeconds: compute only).");
  return {
    macArray: { bits, pjPerMac8: pjMac, projections },
    dram: { bytesPerSecondPerChip: hw.dram.bytes_per_s.value, pjPerByte: hw.dram.pj_per_byte.value, populations },
    notes,
  };
}
