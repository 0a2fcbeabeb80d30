// Two mapping choices beside the ARM's event-driven loop (issue 22 item 3), chosen at compile time and stored in
// the mapping (mapping.ts, version 4):
//
// MAC array (`--mac-array`): a projection's accumulation runs on its target PEs' MAC arrays as a dense
// matrix–vector product of the whole source vector every step (zeros included: the array skips nothing). The
// arithmetic is unchanged: the array's sums are the golden engine's exact integers, as long as no partial sum
// leaves the array's accumulator; nmc checks that statically (macChunks) and splits a projection's rows into
// passes whose worst-case partial sums fit, drained by the ARM into its exact sums, or refuses it by name.
// Only the cost and memory model change: dense weights stored (rows × cols, no column indices), array cycles and
// energy per MAC (chip.ts MAC_DEFAULTS, the level's pj_per_mac), ARM cycles around it.
//
// DRAM (`--dram`): a population's incoming weights live in the chip's LPDDR4 and the rows its events select are
// fetched every step (at burst granularity), sharing the chip's bandwidth (chip.ts DRAM_DEFAULTS). Policy `on`:
// only a population that does not fit the PE SRAM even one unit per PE (what is refused without it) goes to
// DRAM; one that fits by taking more PEs keeps SRAM (faster). `all`: every population with weights.
//
// Formulas and grades: docs/hardware.md "MAC array and DRAM"; sources: SOURCES.md §4, §13.
import { NmcError } from "../../ir/errors.js";
import type { Graph, Projection } from "../../ir/types.js";
import type { HardwareDescription } from "./chip.js";

export const MAC_CHOICES = ["none", "input", "dense", "all"] as const;
export const DRAM_CHOICES = ["off", "on", "all"] as const;
export type DramChoice = (typeof DRAM_CHOICES)[number];

/** nmc's events and unit outputs are int16 (runtime/fixed/QUANTIZATION.md): the array's activation operand. */
export const ACTIVATION_BITS = 16;

/** The accelerated paths of a mapping: projections on the MAC array, populations whose weights live in DRAM. */
export interface AccelPlan {
  mac: string[];
  dram: string[];
}

export const NO_ACCEL: AccelPlan = { mac: [], dram: [] };

export function accelActive(a: AccelPlan | undefined): boolean {
  return !!a && (a.mac.length > 0 || a.dram.length > 0);
}

/** The array's operand width for a projection: 16-bit mode when either operand is wider than 8 bits. */
export function macBits(g: Graph): 8 | 16 {
  return Math.max(g.quant?.weightBits ?? 8, ACTIVATION_BITS) > 8 ? 16 : 8;
}

/** The largest |event value| the array is fed (int16). */
const X_MAX = 2 ** (ACTIVATION_BITS - 1);

/** The largest Σ|w| a column may gather in one pass so that |partial| ≤ 2^(bits−1) − 1 for any input. */
export function macColumnLimit(hw: HardwareDescription): number {
  return Math.floor((2 ** (hw.mac.accumulator_bits.value - 1) - 1) / X_MAX);
}

/**
 * The projections `--mac-array` names: none | input (from an Input population) | dense (dense storage no larger
 * than the CSR: at least a third of the weights stored for int8, half for int16) |
 * all, or a comma-separated list of projection names. Each must be one the array can run (macRefusal), else
 * an NmcError naming it.
 */
export function macProjections(g: Graph, hw: HardwareDescription, choice: string | undefined): string[] {
  const c = choice ?? "none";
  if (c === "none") return [];
  const kinds = new Map(g.populations.map((p) => [p.name, p.kind]));
  let picked: Projection[];
  if (c === "input") picked = g.projections.filter((j) => kinds.get(j.source) === "Input");
  else if (c === "dense") {
    // Dense enough that dense storage (no indices) is no larger than the CSR's: density ≥ w / (w + 2) (⅓ for int8).
    const wb = g.quant?.weightBits === 16 ? 2 : 1;
    picked = g.projections.filter((j) => j.weights.colIdx.length * (wb + 2) >= j.rows * j.cols * wb);
  }
  else if (c === "all") picked = [...g.projections];
  else {
    const names = c.split(",").map((x) => x.trim()).filter((x) => x.length);
    picked = names.map((n) => {
      const j = g.projections.find((x) => x.name === n);
      if (!j) {
        throw new NmcError(`--mac-array: no projection ${n}`, {
          expected: `${MAC_CHOICES.join(" | ")} or projection names (${g.projections.map((x) => x.name).join(", ")})`, found: n,
        });
      }
      return j;
    });
  }
  if (!picked.length) {
    throw new NmcError(`--mac-array ${c}: no projection of this model is one (${c === "input" ? "none comes from an input population" : c === "dense" ? "none is dense enough that its dense weights take no more memory than its CSR" : "the model has none"})`, {
      hint: `name projections (${g.projections.map((x) => x.name).join(", ")}), or use --mac-array none`,
    });
  }
  for (const j of picked) {
    const why = macRefusal(g, hw, j);
    if (why) {
      throw new NmcError(`--mac-array ${c}: projection ${j.name} cannot run on the MAC array: ${why}`, {
        node: j.name, hint: "name the projections it can run (--mac-array p1,p2), or leave it on the ARM core (--mac-array none)",
      });
    }
  }
  return picked.map((j) => j.name);
}

/** Why the MAC array cannot run projection j exactly (null: it can). */
export function macRefusal(g: Graph, hw: HardwareDescription, j: Projection): string | null {
  const wbits = g.quant?.weightBits ?? 8;
  if (wbits !== 8 && wbits !== 16) return `its weights are ${wbits}-bit; the array takes 8-bit operands (16-bit by fusing cells)`;
  const limit = macColumnLimit(hw);
  let wmax = 0;
  const wv = j.weights.values.data;
  for (let k = 0; k < wv.length; k++) wmax = Math.max(wmax, Math.abs(wv[k]));
  if (wmax > limit) {
    return `one product |w| · |x| (up to ${wmax} · ${X_MAX}) can exceed the ${hw.mac.accumulator_bits.value}-bit accumulator (|sum| ≤ ${2 ** (hw.mac.accumulator_bits.value - 1) - 1}), so no split into passes keeps the golden sums`;
  }
  return null;
}

/**
 * A slice's passes over the rows of one projection: greedy runs of rows such that every column's Σ|w| stays
 * within macColumnLimit (each pass's partial sums fit the accumulator for any int16 input). Returns the number
 * of rows in each pass. Row i's entries: colIdx / w [rowPtr[i · stride + slot], rowPtr[i · stride + slot + 1]),
 * local column colIdx − colBase (the simulator's layout, sim/slices.ts).
 */
export function macChunks(rows: number, cols: number, rowPtr: Uint32Array, stride: number, slot: number, colIdx: ArrayLike<number>, colBase: number,
  w: ArrayLike<number>, limit: number): number[] {
  const sum = new Float64Array(cols);
  const chunks: number[] = [];
  let n = 0;
  for (let i = 0; i < rows; i++) {
    const r = i * stride + slot;
    let fits = true;
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) if (sum[colIdx[k] - colBase] + Math.abs(w[k]) > limit) fits = false;
    if (!fits) {
      chunks.push(n);
      sum.fill(0);
      n = 0;
    }
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) sum[colIdx[k] - colBase] += Math.abs(w[k]);
    n++;
  }
  if (n > 0 || chunks.length === 0) chunks.push(n);
  return chunks;
}

/** Per step of one PE's slice of a MAC-array projection: ARM cycles, array cycles, 8-bit-equivalent MACs. */
export interface MacStep {
  arm: number;
  array: number;
  macs8: number;
  passes: number;
}

/**
 * The costs of one step of a MAC-array projection on a slice with `cols` local columns and the given passes
 * (macChunks): per pass ceil(cols / lanes) · rows_k row cycles at the array's batch-1 lanes, stretched by the
 * FC efficiency; the ARM's descriptor and drain per pass, the input vector's clearing and every column's
 * requantization; MACs = rows · cols (zeros included), 16-bit ones at cells_per_mac_16 8-bit MACs each.
 */
export function macStep(hw: HardwareDescription, bits: 8 | 16, rows: number, cols: number, passes: number[]): MacStep {
  const m = hw.mac;
  const lanes = Math.max(1, (bits === 8 ? m.macs_per_cycle_8.value : m.macs_per_cycle_16.value) * m.batch1_fraction.value);
  const eff = m.fc_efficiency.value > 0 ? m.fc_efficiency.value : 1;
  let array = 0;
  for (const r of passes) array += Math.ceil((Math.ceil(cols / lanes) * r) / eff);
  const arm = passes.length * (m.setup_cycles.value + cols * m.drain_column_cycles.value) + rows * m.clear_row_cycles.value
    + cols * hw.cycles.requantize_column.value;
  return { arm, array, macs8: rows * cols * (bits === 8 ? 1 : m.cells_per_mac_16.value), passes: passes.length };
}

/** Bytes one fetch of `bytes` moves from DRAM: whole bursts (0 for an empty row: nothing is fetched). */
export function burstBytes(hw: HardwareDescription, bytes: number): number {
  const b = hw.dram.burst_bytes.value;
  return bytes <= 0 ? 0 : b > 0 ? Math.ceil(bytes / b) * b : bytes;
}

/** The level's energy per 8-bit MAC, or an NmcError when the description has none for it. */
export function pjPerMac(hw: HardwareDescription, level: HardwareDescription["levels"][number]): number {
  if (!level.pj_per_mac) {
    throw new NmcError(`level ${level.name} has no pj_per_mac: the MAC array's energy at it is unknown`, {
      path: `levels[${hw.levels.indexOf(level)}].pj_per_mac`, hint: "add it to the hardware description (--hw; nmc hw --json prints the default's), or compile with --mac-array none",
    });
  }
  return level.pj_per_mac.value;
}
