// What SpiNNaker 2 needs to know about each population kind, as one table: where its units live (PE slices,
// the host, or the slices of the population a Readout mirrors), how a slice lays out a port's columns, the
// per-kind part of a slice's memory (partition.ts's memory model) and the cycles a PE charges per tick to
// update its units (the simulator's cost model, from the hardware description's cycle figures).
//
// Slice layouts (the golden kernels' local ports, runtime/golden/ops.ts): an EGRU slice of n units holds each
// port's columns as [z (n), r (n), g (n)]; a DiagonalSSM slice holds all 2P columns of `u` (every slice keeps
// the whole state, so `u` is replicated on every slice) and its own units' `skip`; otherwise column = unit.
import { NmcError } from "../../ir/errors.js";
import type { PopOf } from "../../ir/kinds.js";
import type { Population, PopulationKind } from "../../ir/types.js";
import { zoneoutQ15 } from "../../runtime/fixed/index.js";
import type { HardwareDescription } from "./chip.js";
import { EXPQ_TABLE_BYTES, expDecaySoftwarePerState } from "./cost-exp.js";

/** Per column: requantization multiplier and shift (5 B), exact sum (8 B), port (4 B). */
export const COL_BYTES = 5 + 8 + 4;

export type CycleCosts = HardwareDescription["cycles"];

export interface S2Op<K extends PopulationKind> {
  /** "slices": cut into PE slices; "host": the host computes it; "mirror": on the slices of `mirrors`'s population. */
  residence: "slices" | "host" | "mirror";
  /** The population whose slices (and PEs) a mirror shares, or null. */
  mirrors(p: PopOf<K>): string | null;
  /** Whether every slice holds all columns of the port (unitOfColumn −1 for each). */
  replicated(p: PopOf<K>, port: string): boolean;
  /** The unit a column of a port belongs to (−1: a replicated port's column, on every slice). */
  unitOfColumn(p: PopOf<K>, port: string, col: number): number;
  /** The number of local columns of a port on a slice of n units. */
  localCols(p: PopOf<K>, port: string, n: number): number;
  /** The local column of a port's column on the slice [lo, lo + n) that holds it. */
  localCol(p: PopOf<K>, port: string, col: number, lo: number, n: number): number;
  /**
   * The kind's own bytes of a slice (beside the stored weights, row pointers, queues and tables every kind
   * has): fixed per slice, and per unit. wb: bytes per stored weight value (and index bytes beyond u16). A
   * mirror's bytes lie on the slices it mirrors.
   */
  memory(p: PopOf<K>, wb: number): { fixed: number; perUnit: number };
  /** What every slice holds whole, for the message of a population that does not fit ("" if nothing special). */
  sharedNote: string;
  /**
   * Present when the update reads sums over every unit of the tick (a LayerNorm's mean and variance): a
   * population cut over several PEs then exchanges its slices' partial sums every tick (the cross-PE
   * reduction, see S2Reduction); absent: the units are independent.
   */
  reduction?: S2Reduction<K>;
  /** The cycles a PE spends per tick updating n units of the population (a mirror: on its source's PE). */
  unitCycles(p: PopOf<K>, n: number, c: CycleCosts): number;
}

/**
 * Packet sizes, for the NoC energy (docs/hardware.md, "NoC and packets"): a multicast packet has a 32-bit key and
 * a payload of 0, 32, 64 or 128 bits (SOURCES.md §5, S); an event carries its int16 value in a 32-bit payload
 * word, so an event packet is 64 bits, the size noc.pj_per_hop is derived for (SOURCES.md D9: 0.2–0.3 pJ/bit).
 */
export const KEY_BITS = 32;
export const EVENT_PACKET_BITS = KEY_BITS + 32;

/**
 * The cross-PE reduction of a population cut into k > 1 slices, all-to-all by multicast: every tick each
 * slice computes its partial sums, sends them in one multicast packet (its own routing key, a tree to the
 * other k − 1 slices' PEs), adds the k − 1 partials it receives into its totals, and then finishes its units
 * from the totals (every slice computes the same statistics). Per tick: k packets sent, k(k − 1) received.
 */
export interface S2Reduction<K extends PopulationKind> {
  /** Payload bits of one slice's partial-sum packet (one of the packet payload sizes 32, 64, 128). */
  payloadBits: number;
  /** The payload bits the sums occupy (≤ payloadBits). */
  usedBits: number;
  /** SRAM each slice of a split population adds to its fixed part. */
  bytes: number;
  /** Cycles of n units' work before the slice sends its partial sums. */
  before(p: PopOf<K>, n: number, c: CycleCosts): number;
  /** Cycles per partial received (beside packet_receive): adding it into the totals. */
  combine(p: PopOf<K>, c: CycleCosts): number;
  /** Cycles of n units' work once the totals are complete (the statistics, then the units' outputs). */
  after(p: PopOf<K>, n: number, c: CycleCosts): number;
}

const plainColumns = {
  replicated: () => false,
  unitOfColumn: (_p: Population, _port: string, col: number) => col,
  localCols: (_p: Population, _port: string, n: number) => n,
  localCol: (_p: Population, _port: string, col: number, lo: number) => col - lo,
};

export const S2_OPS: { [K in PopulationKind]: S2Op<K> } = {
  Input: {
    residence: "host",
    mirrors: () => null,
    ...plainColumns,
    memory: () => ({ fixed: 0, perUnit: 0 }),
    sharedNote: "",
    unitCycles: (p) => {
      throw new NmcError(`population ${p.name} (${p.kind}) cannot run on a PE`);
    },
  },
  EGRU: {
    residence: "slices",
    mirrors: () => null,
    replicated: () => false,
    // Columns are the [z | r | g] gates of the units.
    unitOfColumn: (p, _port, col) => col % p.size,
    localCols: (_p, _port, n) => 3 * n,
    localCol: (p, _port, col, lo, n) => Math.floor(col / p.size) * n + (col % p.size) - lo,
    // Per unit: 3 columns of each port with their int32 biases, then its threshold, state and outputs; per
    // slice, with zoneout, its two Q15 weights p_q and 2^15 − p_q (2 B each).
    memory: (p) => ({ fixed: zoneoutQ15(p.zoneout ?? 0) !== 0 ? 4 : 0, perUnit: 2 * 3 * COL_BYTES + 2 * 3 * 4 + 2 + 2 + 4 }),
    sharedNote: "",
    // Zoneout adds its blend (two multiply-adds and a rounding shift) to every unit, every tick, wherever the
    // kernel computes it: p_q ≠ 0 (a p below 2^−16 rounds to 0 and is no blend).
    unitCycles: (p, n, c) => n * (c.egru_unit.value + (zoneoutQ15(p.zoneout ?? 0) !== 0 ? c.egru_zoneout.value : 0)),
  },
  DiagonalSSM: {
    residence: "slices",
    mirrors: () => null,
    replicated: (_p, port) => port === "u",
    unitOfColumn: (_p, port, col) => (port === "u" ? -1 : col),
    localCols: (p, port, n) => (port === "u" ? 2 * p.stateSize : n),
    localCol: (_p, port, col, lo) => (port === "u" ? col : col - lo),
    // Fixed: the whole state (P complex, state_bits) with its 16-bit read copy, Λ̄ (P × 4 B) and the columns of
    // `u`; per unit: its row of C (P complex weights), c_mult and c_shift, its `skip` column and output.
    // Event time: instead of Λ̄, per state α and β (mantissa and shift, 4 × 4 B), γ (async, dirac: 2 × 4 B) or κ
    // (zoh: 3 × 4 B), u_frac, g_frac, eps_q (12 B) and the expq tables (1,028 B, once per PE); per unit the
    // group's latched C x (4 B) and pooled skip (8 B), and the group's weight sum (8 B).
    memory: (p, wb) => {
      const P = p.stateSize;
      const sb = (p.fixed?.stateBits ?? 16) / 8;
      if (p.discretization !== undefined) {
        const perState = 16 + (p.discretization === "zoh" ? 12 : 8);
        return { fixed: P * 2 * sb + P * 2 * 2 + P * perState + 12 + 8 + EXPQ_TABLE_BYTES + 2 * P * COL_BYTES, perUnit: P * 2 * wb + 5 + COL_BYTES + 4 + 12 };
      }
      return { fixed: P * 2 * sb + P * 2 * 2 + P * 4 + 2 * P * COL_BYTES, perUnit: P * 2 * wb + 5 + COL_BYTES + 4 };
    },
    sharedNote: ", the whole state and B",
    // Event time, per step: every slice decays the whole state (expq "software", the bit-exact program: per state
    // exp + sin/cos + combine, + the zoh gain), then the state update as the fixed-step SSM's; the C read happens
    // once per group of `stride` steps, charged as ⌈n·P·mac / stride⌉ per step; the output (or pooling) per unit.
    unitCycles: (p, n, c) => {
      const P = p.stateSize;
      if (p.discretization === undefined) return P * c.ssm_state.value + n * P * c.ssm_output_mac.value + n * c.dense_unit.value;
      const k = p.stride ?? 1;
      return P * (expDecaySoftwarePerState(c, p.discretization === "zoh") + c.ssm_state.value) + Math.ceil((n * P * c.ssm_output_mac.value) / k) + n * c.dense_unit.value;
    },
  },
  Dense: {
    residence: "slices",
    mirrors: () => null,
    ...plainColumns,
    // Per unit: its bias, its column, its output.
    memory: () => ({ fixed: 0, perUnit: 4 + COL_BYTES + 4 }),
    sharedNote: "",
    unitCycles: (_p, n, c) => n * c.dense_unit.value,
  },
  Readout: {
    residence: "mirror",
    mirrors: (p) => p.source,
    ...plainColumns,
    // On its source's slices: running sum and output, int32 each.
    // pool / timepool: a 64-bit running sum and the output per unit; timepool also Σ Δt and eps_q (12 B).
    memory: (p) => (p.mode === "pool" || p.mode === "timepool" ? { fixed: p.mode === "timepool" ? 12 : 0, perUnit: 12 } : { fixed: 0, perUnit: 8 }),
    sharedNote: "",
    unitCycles: (_p, n, c) => n * c.readout_unit.value,
  },
  Multiply: {
    residence: "slices",
    mirrors: () => null,
    ...plainColumns,
    // Per unit: its column of each port (a and b), its output.
    memory: () => ({ fixed: 0, perUnit: 2 * COL_BYTES + 4 }),
    sharedNote: "",
    unitCycles: (_p, n, c) => n * c.multiply_unit.value,
  },
  // Its mean and variance need all n units of the tick. On one PE it sums them itself; cut over k PEs (a
  // population larger than a PE's SRAM), each slice sends its partial sums [Σx' (int32), Σx'² (int64)] to the
  // other slices in one multicast packet and finishes from the totals (runtime/golden/ops.ts bindSplit).
  LayerNorm: {
    residence: "slices",
    reduction: {
      // 96 bits of sums in the 128-bit payload (a 32-bit and a 64-bit word; no payload size holds 96).
      payloadBits: 128,
      usedBits: 32 + 64,
      // Two tick-parity sets (a fast slice's next-tick partial may arrive before this tick ends) of the
      // running totals Σx' and Σx'² (int64 each) and the count of partials received (int32): 2 · 20 B.
      bytes: 40,
      before: (_p, n, c) => n * Math.min(c.layernorm_pass1.value, c.layernorm_unit.value),
      combine: (_p, c) => c.layernorm_combine.value,
      after: (_p, n, c) => n * Math.max(0, c.layernorm_unit.value - c.layernorm_pass1.value) + c.layernorm_split.value + c.layernorm_tick.value,
    },
    mirrors: () => null,
    ...plainColumns,
    // Per unit: its column of x, γ and β (int32 each), its int16 scratch x' and its output.
    memory: () => ({ fixed: 0, perUnit: COL_BYTES + 4 + 4 + 4 + 4 }),
    sharedNote: "",
    unitCycles: (_p, n, c) => n * c.layernorm_unit.value + c.layernorm_tick.value,
  },
  // Per unit: its column of x, the group's sum (8 B) and its output; per slice the weight sum and eps_q (12 B).
  // Per step and unit one dense_unit (the int16 conversion and the add or multiply-add; the division at the
  // group's end is assumed to fit the same figure, amortized over the group).
  EventPooling: {
    residence: "slices",
    mirrors: () => null,
    ...plainColumns,
    memory: () => ({ fixed: 12, perUnit: COL_BYTES + 8 + 4 }),
    sharedNote: "",
    unitCycles: (_p, n, c) => n * c.dense_unit.value,
  },
};

/** A population's row of S2_OPS, typed for any population. */
export function s2Op(p: Population): S2Op<PopulationKind> {
  return S2_OPS[p.kind] as unknown as S2Op<PopulationKind>;
}
