// Per-PE, per-tick DVFS and power gating (issue 22 item 2; docs/hardware.md "DVFS and power gating").
//
// The policy, per charged mode, per PE and tick, for a nominal level N (the run's --level):
// - the tick's deadline is its compute time without DVFS: the slowest PE's cycles at N (waits of a split
//   LayerNorm included), so the tick, the latency and every output are exactly those without DVFS;
// - a PE with work (c cycles) may leave N for this tick for a level j when c / f_j + 2·switch ≤ deadline
//   (a switch down when the tick starts, one back to N before it ends: the PE is at N whenever a tick begins,
//   so no tick ever waits for a switch); among the levels that fit, and N itself, it takes the one with the
//   least energy, c·pJ_j + static_j·(tick − 2·switch) + static_N·2·switch (ties: N). For the default
//   description that is the slowest level that finishes in time, the policy of the SpiNNaker 2 papers;
// - a PE with nothing to do in a tick (a multi-rate population between its steps) is gated (power off:
//   dvfs.gated_mw_per_pe) when gating is on, else it sleeps at the level of least static power, in both cases
//   only when the tick is long enough for the two switches;
// - the slices of a LayerNorm cut over several PEs stay at N (their partial sums set each other's barrier).
// The simulator only counts (DvfsAccount: PE-ticks, cycles and PE time per level, in nominal cycles, for
// every level as nominal); dvfsFigures prices them. Energy with DVFS per PE-tick is never above the same
// PE-tick at N (N is always a choice), so the run's energy with DVFS is never above the one without.
import type { HardwareDescription } from "./chip.js";
import type { ModeTotals } from "./sim/results.js";

export const DVFS_MODES = ["event", "dense", "activityOnly", "weightOnly"] as const;
export type DvfsMode = (typeof DVFS_MODES)[number];

/** What a run spent at one level: PE-ticks, cycles executed, PE time (in cycles of the nominal level). */
export interface LevelTally {
  peTicks: number;
  cycles: number;
  time: number;
}

/** One mode's DVFS counts for one nominal level. */
export interface DvfsTally {
  /** Per level name: PE-ticks with work run at it (the nominal level also holds PE-ticks too short to leave it). */
  levels: Record<string, LevelTally>;
  /** PE-ticks without work that left the nominal level (gated, or asleep at the least-static level), their time there and their switches' time. */
  idle: { peTicks: number; time: number; switchTime: number };
  /** Level changes of PE-ticks with work (two per PE-tick below the nominal level) and their time (nominal cycles). */
  switches: number;
  switchTime: number;
}

/** A run's DVFS counts: per charged mode, per level taken as nominal (SimRun.dvfs; summed when runs merge). */
export type DvfsCounts = Record<DvfsMode, Record<string, DvfsTally>>;

interface Nominal {
  name: string;
  /** Per level j: f_N / f_j, pJ per cycle, static pJ per nominal cycle. */
  ratio: Float64Array;
  pj: Float64Array;
  stat: Float64Array;
  /** Index of N, and one switch in nominal cycles. */
  n: number;
  sw: number;
}

/** A PE's static power as pJ per cycle of a clock of `mhz`: mW / MHz = nJ per cycle. */
const pjPerCycle = (mw: number, mhz: number) => (mw / mhz) * 1e3;

/**
 * The simulator's DVFS counting: each PE's cycles of the tick per mode (add), then at the tick's end every
 * PE's level for every nominal level (endTick). Flat arrays, nothing allocated per tick.
 */
export class DvfsAccount {
  private readonly P: number;
  private readonly L: number;
  private readonly index = new Map<object, number>();
  private readonly pinned: Uint8Array;
  private readonly cyc: Float64Array;
  private readonly nominals: Nominal[];
  /** Per mode, per nominal: [per level: peTicks, cycles, time] then idle peTicks, time, switchTime, then switches, switchTime. */
  private readonly acc: Float64Array;
  private readonly stride: number;
  private readonly hop: number;

  constructor(private readonly hw: HardwareDescription, pes: readonly { split: unknown }[]) {
    this.P = pes.length;
    this.L = hw.levels.length;
    pes.forEach((pe, i) => this.index.set(pe, i));
    this.pinned = Uint8Array.from(pes, (pe) => (pe.split ? 1 : 0));
    this.cyc = new Float64Array(4 * this.P);
    this.hop = hw.noc.hop_cycles.value;
    this.nominals = hw.levels.map((N, n) => ({
      name: N.name, n,
      ratio: Float64Array.from(hw.levels, (l) => N.mhz.value / l.mhz.value),
      pj: Float64Array.from(hw.levels, (l) => l.pj_per_cycle.value),
      stat: Float64Array.from(hw.levels, (l) => pjPerCycle(l.static_mw_per_pe.value, N.mhz.value)),
      sw: hw.dvfs.switch_ns.value * 1e-3 * N.mhz.value,
    }));
    this.stride = 3 * this.L + 5;
    this.acc = new Float64Array(4 * this.L * this.stride);
  }

  /** A PE's cycles of this tick in each mode (the simulator charges a PE at most once per tick). */
  add(pe: object, event: number, dense: number, activity: number, weight: number): void {
    const i = this.index.get(pe);
    if (i === undefined) return;
    const P = this.P;
    this.cyc[i] += event;
    this.cyc[P + i] += dense;
    this.cyc[2 * P + i] += activity;
    this.cyc[3 * P + i] += weight;
  }

  /** A pipelined run's worker (sim/pipeline.ts): this tick's per-PE cycles copied to dst[off …] (4 · PEs) and cleared here. */
  exportTick(dst: Float64Array, off: number): void {
    dst.set(this.cyc, off);
    this.cyc.fill(0);
  }

  /** The worker that counts a pipelined run's ticks: another worker's per-PE cycles of this tick (exportTick) added. */
  importTick(src: Float64Array, off: number): void {
    const cyc = this.cyc;
    for (let i = 0; i < cyc.length; i++) cyc[i] += src[off + i];
  }

  /** The end of a tick: the slowest PE's cycles (waits included) and the NoC depth in hops, per mode. */
  endTick(max: ArrayLike<number>, depth: ArrayLike<number>): void {
    const { P, L, stride, acc, cyc } = this;
    for (let m = 0; m < 4; m++) {
      const deadline = max[m], d = deadline + depth[m] * this.hop;
      for (let k = 0; k < L; k++) {
        const N = this.nominals[k], n = N.n, base = (m * L + k) * stride, sw2 = 2 * N.sw;
        for (let i = 0; i < P; i++) {
          const c = cyc[m * P + i];
          if (c === 0 && !this.pinned[i]) {
            if (sw2 <= d && d > 0) {
              acc[base + 3 * L] += 1;
              acc[base + 3 * L + 1] += d - sw2;
              acc[base + 3 * L + 2] += sw2;
            } else {
              acc[base + 3 * n] += 1;
              acc[base + 3 * n + 2] += d;
            }
            continue;
          }
          let best = n, bestE = c * N.pj[n] + N.stat[n] * d;
          if (!this.pinned[i]) {
            for (let j = 0; j < L; j++) {
              if (j === n || c * N.ratio[j] + sw2 > deadline) continue;
              const e = c * N.pj[j] + N.stat[j] * (d - sw2) + N.stat[n] * sw2;
              if (e < bestE) {
                bestE = e;
                best = j;
              }
            }
          }
          acc[base + 3 * best] += 1;
          acc[base + 3 * best + 1] += c;
          if (best === n) acc[base + 3 * n + 2] += d;
          else {
            acc[base + 3 * best + 2] += d - sw2;
            acc[base + 3 * L + 3] += 2;
            acc[base + 3 * L + 4] += sw2;
          }
        }
      }
    }
    cyc.fill(0);
  }

  /** The counts as plain records (SimRun.dvfs). */
  counts(): DvfsCounts {
    const { L, stride, acc } = this;
    const out = {} as DvfsCounts;
    DVFS_MODES.forEach((mode, m) => {
      const per: Record<string, DvfsTally> = {};
      this.nominals.forEach((N, k) => {
        const base = (m * L + k) * stride;
        const levels: Record<string, LevelTally> = {};
        this.hw.levels.forEach((l, j) => (levels[l.name] = { peTicks: acc[base + 3 * j], cycles: acc[base + 3 * j + 1], time: acc[base + 3 * j + 2] }));
        per[N.name] = {
          levels, idle: { peTicks: acc[base + 3 * L], time: acc[base + 3 * L + 1], switchTime: acc[base + 3 * L + 2] },
          switches: acc[base + 3 * L + 3], switchTime: acc[base + 3 * L + 4],
        };
      });
      out[mode] = per;
    });
    return out;
  }
}

/** One mode's energy per inference with DVFS, what it saves, and where the PE-ticks ran. */
export interface DvfsModeFigures {
  energyJoules: { dynamic: number; static: number; noc: number; total: number };
  /** 1 − energy with DVFS ÷ energy without. */
  saved: number;
  /** PE-ticks per level over the whole run ("off": gated PE-ticks); they sum to PEs × ticks × samples. */
  histogram: Record<string, number>;
  switchesPerInference: number;
}

/** What dvfsFigures needs of the mapping and the run. */
export interface DvfsContext {
  hw: HardwareDescription;
  pes: number;
  chips: number;
  samples: number;
}

/**
 * Prices one mode's DVFS counts (nominal level N, gating on or off) against the same mode without DVFS
 * (`off`: its latency and NoC energy are unchanged). Static: each PE-tick's time at its level's static
 * power (gated: gated_mw_per_pe; switches at N's), stretched by latency ÷ busy time as the figure without
 * DVFS is (the pipeline fill), plus the chips' floor over the latency.
 */
export function dvfsFigures(
  ctx: DvfsContext, t: ModeTotals, tally: DvfsTally, N: HardwareDescription["levels"][number], gating: boolean,
  off: { latencySeconds: number; energyJoules: { dynamic: number; static: number; noc: number; total: number } },
): DvfsModeFigures {
  const hw = ctx.hw, n = Math.max(1, ctx.samples), mhz = N.mhz.value;
  const statN = pjPerCycle(N.static_mw_per_pe.value, mhz);
  let cyclesPj = 0, peStaticPj = 0;
  const histogram: Record<string, number> = {};
  for (const l of hw.levels) {
    const x = tally.levels[l.name] ?? { peTicks: 0, cycles: 0, time: 0 };
    cyclesPj += x.cycles * l.pj_per_cycle.value;
    peStaticPj += x.time * pjPerCycle(l.static_mw_per_pe.value, mhz);
    histogram[l.name] = x.peTicks;
  }
  // An idle PE-tick: gated, or asleep at the level of least static power; never above N (else it stays at N).
  const sleep = hw.levels.reduce((a, l) => (l.static_mw_per_pe.value < a.static_mw_per_pe.value ? l : a));
  const idleMw = gating ? hw.dvfs.gated_mw_per_pe.value : sleep.static_mw_per_pe.value;
  const leaves = idleMw < N.static_mw_per_pe.value;
  const idleBin = !leaves ? N.name : gating ? "off" : sleep.name;
  histogram[idleBin] = (histogram[idleBin] ?? 0) + tally.idle.peTicks;
  peStaticPj += tally.idle.time * (leaves ? pjPerCycle(idleMw, mhz) : statN) + (tally.idle.switchTime + tally.switchTime) * statN;
  const dynamic = (cyclesPj + t.sramBytes * hw.energy.pj_per_sram_byte.value) * 1e-12 / n;
  const busySeconds = (t.criticalCycles + t.nocDepthHops * hw.noc.hop_cycles.value) / (mhz * 1e6);
  const pe = busySeconds > 0 ? peStaticPj * 1e-12 * off.latencySeconds / busySeconds : 0;
  const stat = pe + ctx.chips * hw.chip.static_mw_baseline.value * 1e-3 * off.latencySeconds;
  const noc = off.energyJoules.noc, total = dynamic + stat + noc;
  return {
    energyJoules: { dynamic, static: stat, noc, total },
    saved: off.energyJoules.total > 0 ? 1 - total / off.energyJoules.total : 0,
    histogram,
    switchesPerInference: (tally.switches + (leaves ? 2 * tally.idle.peTicks : 0)) / n,
  };
}

/** `--dvfs`: which energy the report's figures carry (both: without DVFS, with the DVFS figures beside them). */
export const DVFS_CHOICES = ["both", "on", "off"] as const;
export type DvfsChoice = (typeof DVFS_CHOICES)[number];
export const GATING_CHOICES = ["on", "off"] as const;
