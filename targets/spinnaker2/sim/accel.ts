// The simulator's side of the MAC-array and DRAM paths (targets/spinnaker2/accel.ts): per PE, the constant
// costs of its MAC-array projections per step, and per tick the bytes and rows its DRAM projections fetch in
// each charged mode; per run, what the report prices (AccelCounts). Outputs are untouched: the accumulation is
// the golden kernels' whatever path is charged (accel.ts says why the sums are the same integers).
//
// Time: a PE's step is its ARM cycles plus its array cycles (the ARM waits for the array) plus, on a PE that
// fetches from DRAM in the tick, the chip's DRAM time: all PEs of a chip that fetch share its bandwidth and are
// taken to finish together, when the chip's bytes of the tick have moved (exact for equal loads, an upper bound
// for the lighter ones). DRAM time is in seconds, so the critical path is kept per performance level.
import type { HardwareDescription } from "../chip.js";
import { type AccelPlan, burstBytes, macBits, macChunks, macColumnLimit, macStep } from "../accel.js";
import type { Graph } from "../../../ir/types.js";
import { locate } from "../place.js";
import type { LocalProjection, Pe } from "./pe.js";

export const ACCEL_MODES = ["event", "dense", "activityOnly", "weightOnly"] as const;
type Mode = (typeof ACCEL_MODES)[number];

/** Per charged mode: 8-bit-equivalent MACs, array cycles, DRAM bytes and rows, and Σ_ticks the critical path per level (PE cycles). */
export interface AccelModeCounts {
  macs8: number;
  macArray: number;
  dramBytes: number;
  dramRows: number;
  critical: Record<string, number>;
}

/** What a run with accelerated paths counts (additive over samples and part files). */
export interface AccelCounts {
  modes: Record<Mode, AccelModeCounts>;
  /** Per MAC-array projection: MACs (8-bit equivalent), array cycles and ARM cycles, summed over its PEs and steps. */
  projections: Record<string, { macs8: number; macArray: number; macArm: number }>;
  /** Per population in DRAM, event mode: bytes and rows fetched. */
  populations: Record<string, { dramBytes: number; dramRows: number }>;
}

/** A MAC-array projection on one PE: its constant costs per step (accel.ts macStep). */
export interface MacLink {
  arm: number;
  array: number;
  macs8: number;
  passes: number;
}

/** A DRAM projection on one PE: per row, the bytes fetched for its chunk (whole bursts); a dense row's (every weight stored). */
export interface DramLink {
  rowBytes: Float64Array;
  denseRow: number;
  storedAll: number;
  storedRows: number;
}

/** A PE's accelerated work: constants per step and this tick's DRAM traffic per mode. */
export interface PeAccel {
  macArm: number;
  macArray: number;
  macs8: number;
  chip: number;
  dram: boolean;
  bytes: Float64Array;
  rows: Float64Array;
}

/** Sets up the PEs' accelerated links (lp.mac, lp.dram, pe.accel) for a mapping's plan. */
export function wireAccel(g: Graph, hw: HardwareDescription, plan: AccelPlan, pes: Pe[]): void {
  const wb = g.quant?.weightBits === 16 ? 2 : 1, bits = macBits(g), limit = macColumnLimit(hw);
  for (const pe of pes) {
    const dramPop = plan.dram.includes(pe.pop.name);
    let any = false;
    const a: PeAccel = { macArm: 0, macArray: 0, macs8: 0, chip: locate(hw, pe.slice.pe).chip, dram: dramPop, bytes: new Float64Array(4), rows: new Float64Array(4) };
    for (const lp of pe.incoming) {
      if (plan.mac.includes(lp.name)) {
        const passes = macChunks(lp.rows, lp.cols, lp.rowPtr, lp.stride, lp.slot, lp.colIdx, lp.colBase, lp.w, limit);
        const st = macStep(hw, bits, lp.rows, lp.cols, passes);
        lp.mac = st;
        a.macArm += st.arm;
        a.macArray += st.array;
        a.macs8 += st.macs8;
        any = true;
      }
      if (dramPop) {
        lp.dram = dramLink(hw, lp, wb);
        any = true;
      }
    }
    pe.accel = any ? a : null;
  }
}

function dramLink(hw: HardwareDescription, lp: LocalProjection, wb: number): DramLink {
  const rowBytes = new Float64Array(lp.rows);
  let storedAll = 0, storedRows = 0;
  for (let i = 0; i < lp.rows; i++) {
    const r = i * lp.stride + lp.slot;
    rowBytes[i] = burstBytes(hw, (lp.rowPtr[r + 1] - lp.rowPtr[r]) * (wb + 2));
    storedAll += rowBytes[i];
    if (rowBytes[i] > 0) storedRows++;
  }
  // The dense modes count every weight in the stored format (value + index), as their SRAM bytes do (charge.ts).
  return { rowBytes, denseRow: burstBytes(hw, lp.cols * (wb + 2)), storedAll, storedRows };
}

/**
 * A DRAM link's fetches of a tick, in the four modes: event, the rows of its non-zero events (idx/val from off,
 * n of them; zeros skipped, so both executions count alike); dense, every row densely; activity only, every
 * non-zero event's dense row; weight only, every stored row.
 */
export function countDram(a: PeAccel, d: DramLink, rows: number, idx: Int32Array, val: Int32Array, off: number, n: number): void {
  let bytes = 0, fetched = 0, ev = 0;
  for (let e = off; e < off + n; e++) {
    if (val[e] === 0) continue;
    ev++;
    const b = d.rowBytes[idx[e]];
    if (b > 0) {
      bytes += b;
      fetched++;
    }
  }
  a.bytes[0] += bytes; a.rows[0] += fetched;
  a.bytes[1] += rows * d.denseRow; a.rows[1] += rows;
  a.bytes[2] += ev * d.denseRow; a.rows[2] += ev;
  a.bytes[3] += d.storedAll; a.rows[3] += d.storedRows;
}

/** Per run: the accelerated work charged, and the critical path per level with the chips' DRAM time. */
export class AccelAccount {
  readonly counts: AccelCounts;
  private readonly hz: number[];
  private readonly names: string[];
  private readonly bw: number;
  /** Per chip and mode: this tick's DRAM bytes, and the latest finish of its fetching PEs before DRAM time. */
  private readonly chipBytes: Float64Array;
  private readonly chipMax: Float64Array;
  private readonly chips: number;
  private readonly used: Set<number> = new Set();

  constructor(private readonly hw: HardwareDescription, pes: Pe[]) {
    this.names = hw.levels.map((l) => l.name);
    this.hz = hw.levels.map((l) => l.mhz.value * 1e6);
    this.bw = hw.dram.bytes_per_s.value;
    const mode = (): AccelModeCounts => ({ macs8: 0, macArray: 0, dramBytes: 0, dramRows: 0, critical: Object.fromEntries(this.names.map((n) => [n, 0])) });
    this.counts = { modes: { event: mode(), dense: mode(), activityOnly: mode(), weightOnly: mode() }, projections: {}, populations: {} };
    for (const pe of pes) {
      for (const lp of pe.incoming) if (lp.mac) this.counts.projections[lp.name] = { macs8: 0, macArray: 0, macArm: 0 };
      if (pe.accel?.dram) this.counts.populations[pe.pop.name] = { dramBytes: 0, dramRows: 0 };
    }
    this.chips = Math.max(1, ...pes.map((pe) => (pe.accel?.chip ?? 0) + 1));
    this.chipBytes = new Float64Array(this.chips * 4);
    this.chipMax = new Float64Array(this.chips * 4);
  }

  /** Start of a PE's tick (before delivery): no DRAM traffic yet. */
  resetPe(a: PeAccel): void {
    a.bytes.fill(0);
    a.rows.fill(0);
  }

  /** A PE's accelerated costs of the tick, added to its ARM cycles in each mode (after Charges.work). */
  work(pe: Pe): void {
    const a = pe.accel!, fetch = this.hw.dram.fetch_cycles.value, c = this.counts;
    pe.cEvent += a.macArm + a.rows[0] * fetch;
    pe.cDense += a.macArm + a.rows[1] * fetch;
    pe.cActivity += a.macArm + a.rows[2] * fetch;
    pe.cWeight += a.macArm + a.rows[3] * fetch;
    ACCEL_MODES.forEach((m, k) => {
      const t = c.modes[m];
      t.macs8 += a.macs8;
      t.macArray += a.macArray;
      t.dramBytes += a.bytes[k];
      t.dramRows += a.rows[k];
    });
    for (const lp of pe.incoming) {
      if (!lp.mac) continue;
      const p = c.projections[lp.name];
      p.macs8 += lp.mac.macs8; p.macArray += lp.mac.array; p.macArm += lp.mac.arm;
    }
    if (a.dram) {
      const p = c.populations[pe.pop.name];
      p.dramBytes += a.bytes[0]; p.dramRows += a.rows[0];
    }
  }

  /** The PE's time beyond its ARM cycles that does not depend on the level: its array cycles. */
  stall(pe: Pe): number {
    return pe.accel ? pe.accel.macArray : 0;
  }

  /** A PE that fetched from DRAM in the tick: its finish before DRAM time (per mode), and its bytes, on its chip. */
  fetched(pe: Pe, finish: ArrayLike<number>): void {
    const a = pe.accel!;
    for (let k = 0; k < 4; k++) {
      if (a.bytes[k] <= 0) continue;
      const i = a.chip * 4 + k;
      this.chipBytes[i] += a.bytes[k];
      if (finish[k] > this.chipMax[i]) this.chipMax[i] = finish[k];
      this.used.add(a.chip);
    }
  }

  /** End of tick: per level and mode, the critical path with the chips' DRAM time (tickMax: without it). */
  endTick(tickMax: ArrayLike<number>): void {
    const modes = this.counts.modes;
    for (let l = 0; l < this.names.length; l++) {
      for (let k = 0; k < 4; k++) {
        let crit = tickMax[k];
        for (const chip of this.used) {
          const i = chip * 4 + k;
          if (this.chipBytes[i] > 0) crit = Math.max(crit, this.chipMax[i] + (this.chipBytes[i] / this.bw) * this.hz[l]);
        }
        modes[ACCEL_MODES[k]].critical[this.names[l]] += crit;
      }
    }
    for (const chip of this.used) for (let k = 0; k < 4; k++) this.chipBytes[chip * 4 + k] = this.chipMax[chip * 4 + k] = 0;
    this.used.clear();
  }
}
