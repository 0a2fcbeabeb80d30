// The SpiNNaker 2 hardware description as data: every number the partitioner, router and simulator use,
// each with its unit and where it comes from (targets/spinnaker2/SOURCES.md has the citations and the
// derivations). Every figure of the default description carries its grade (issue 22): primary = read in the
// source's own text (a paper's reachable part, a datasheet page, a code repository), secondary = quoted by
// another source (named), derived = computed or inferred from graded figures (the source says how), assumed = no
// source gave it (nominal). A user's description (--hw) may leave grades out; `nmc hw` prints them as ungraded.
// Users explore other designs with `--hw my.json` (validated by hwSchema; `nmc hw` prints the active one).
import { z } from "zod";
import { NmcError } from "../../ir/errors.js";

export const GRADES = ["primary", "secondary", "derived", "assumed"] as const;
export type Grade = (typeof GRADES)[number];

export const figure = z.object({
  value: z.number().finite().nonnegative(),
  unit: z.string(),
  source: z.string().min(1),
  grade: z.enum(GRADES).optional(),
});
/** A count (PEs, QPEs, mesh positions, chips, table entries): a figure whose value is a whole number ≥ 1. */
export const count = figure.extend({ value: z.number().int().min(1) });
export type Figure = z.infer<typeof figure>;
/** A routing entry's core field has one bit per PE of its QPE: a QPE holds at most this many PEs. */
export const ROUTE_CORE_BITS = 32;

/** The split-LayerNorm cycle figures (nominal: no measurement exists), also the defaults of a description without them. */
export const LAYERNORM_SPLIT_DEFAULTS: Record<"layernorm_pass1" | "layernorm_combine" | "layernorm_split", Figure> = {
  layernorm_pass1: {
    value: 8, unit: "cycles",
    source: "nominal, the first pass of layernorm_unit (20) on a split LayerNorm, before its partial sums are sent: load x, rounding shift + saturate (SSAT), add to Σx', one MAC into Σx'² (SMLAL, 1 cycle on the M4F, SOURCES.md §6), store x' ≈ 8; the rest of layernorm_unit runs after the exchange",
    grade: "assumed",
  },
  layernorm_combine: {
    value: 10, unit: "cycles",
    source: "nominal, per partial sum received from another slice of a split LayerNorm (beside packet_receive): read three payload words (LDR, 2 cycles each, SOURCES.md §6) and add them into the 64-bit totals Σx' and Σx'² (ADDS + ADC each) ≈ 10",
    grade: "assumed",
  },
  layernorm_split: {
    value: 24, unit: "cycles",
    source: "nominal, per tick on each slice of a split LayerNorm (beside layernorm_tick): Σd² = Σx'² − 2m·Σx' + n·m² from the totals (three 32×64-bit products by UMULL/UMLAL pairs and 64-bit adds, ≈ 16), and packing its own partial into the payload registers (≈ 8)",
    grade: "assumed",
  },
};

/**
 * The per-event complex decay of an asynchronous SSM (runtime/fixed/expq.ts; cost: cost-exp.ts), per complex
 * state: nothing charges these yet. The exp/log accelerator's latency is sourced (S); the ARM work is nominal,
 * counted from the Cortex-M4F instruction timings (SOURCES.md §6, §11). Also the defaults of a description
 * without them.
 */
export const EXP_DECAY_DEFAULTS: Record<"exp_accel_latency" | "exp_accel_issue" | "expq_exp_soft" | "expq_sincos" | "expq_combine" | "expq_zoh_gain", Figure> = {
  exp_accel_latency: {
    value: 22, unit: "cycles",
    source: "S: SpiNNaker 2 exp/log accelerator, iterative, 1–16 iterations = 7–22 cycles per exp, 1–2 ulp (Scholze et al. arXiv 2607.24396 via N1, SOURCES.md §1, §11); 16 iterations (full s0.31 precision) taken; one operation in flight (not pipelined: assumed, no source states it)",
    grade: "secondary",
  },
  exp_accel_issue: {
    value: 18, unit: "cycles",
    source: "nominal (SOURCES.md §11): the accelerator's argument −α·ln2·dt in s16.15 from the 64-bit product (UMULL pair, rounding shift, clamp, negate ≈ 13), STR to the memory-mapped operand register (1), LDR of the s0.31 result (2), rounding it to Q26 (2)",
    grade: "assumed",
  },
  expq_exp_soft: {
    value: 45, unit: "cycles",
    source: "nominal (SOURCES.md §11), the magnitude 2^(−f) of runtime/fixed/expq.ts in ARM code: product and octave split (UMULL, 64-bit rounding shift ≈ 11), table index and load (LDR, ≈ 4), five multiply + rounding shifts (SMULL, ADDS/ADC, shift-or ≈ 5 each), three subtractions (3), M26 (2)",
    grade: "assumed",
  },
  expq_sincos: {
    value: 72, unit: "cycles",
    source: "nominal (SOURCES.md §11), no accelerator for sin/cos: phase product and split (≈ 9), two quarter-table loads (≈ 5), h, h², sin h, 1 − cos h (six multiply + rounding shifts ≈ 32), the rotation (two SMULL + SMLAL pairs with rounding ≈ 14), quadrant and sign (≈ 8), C26/S26 (4)",
    grade: "assumed",
  },
  expq_combine: {
    value: 18, unit: "cycles",
    source: "nominal (SOURCES.md §11): M26·C26 and M26·S26 (SMULL each), rounding shifts by 52 − frac + n on 64 bits (≈ 7 each), the n ≥ frac + 2 test and two stores",
    grade: "assumed",
  },
  expq_zoh_gain: {
    value: 21, unit: "cycles",
    source: "nominal (SOURCES.md §11), the zoh gain (Λ̄ − 1)·κ only: Λ̄ − 1 (1), two SMULL + SMLAL pairs, two 64-bit rounding shifts and saturations to int32 (≈ 10 each)",
    grade: "assumed",
  },
};

/** The exp/log accelerator's energy per exp (derived, low confidence: SOURCES.md D10), the default of a description without it. */
export const EXP_ACCEL_PJ_DEFAULT: Figure = {
  value: 85, unit: "pJ",
  source: "derived, low confidence (SOURCES.md D10): P17's 0.21 nJ/exp at 0.7 V in 28 nm scaled by (22/28) · (0.5/0.7)² ≈ 85 pJ; an upper bound 22 cycles × 8.3 pJ ≈ 180 pJ",
  grade: "derived",
};

/**
 * Per-PE, per-tick DVFS and power gating (targets/spinnaker2/dvfs.ts; SOURCES.md §2, §12): the time a PE's
 * change of performance level takes, and a gated PE's power. Also the defaults of a description without them.
 */
export const DVFS_DEFAULTS: Record<"switch_ns" | "gated_mw_per_pe", Figure> = {
  switch_ns: {
    value: 100, unit: "ns",
    source: "P (abstracts): a PE changes supply voltage and clock \"within less than 100 ns\" (Höppner et al., Dynamic Power Management for Neuromorphic Many-Core Systems, TCAS-I 2019, arXiv 1903.08941, 28 nm test chip; and the ISCAS 2017 DVFS paper); the same bound assumed for the 22 nm product (SOURCES.md §12); nmc charges it twice per tick a PE spends below its nominal level, at the nominal level's static power, with no work done",
    grade: "derived",
  },
  gated_mw_per_pe: {
    value: 0, unit: "mW",
    source: "S + assumed (SOURCES.md §12): each PE is its own switchable power domain and the chip measures 75.2 mW with all PEs off (N1 quoting the chip paper), so a PE switched off adds 0 above the chip floor (as D1 counts an unused PE); assumed: its SRAM keeps the PE's state meanwhile (no retention figure found); set it to a level's static_mw_per_pe for sleep without power-off",
    grade: "derived",
  },
};

/**
 * The PE's MAC array (targets/spinnaker2/accel.ts: `nmc compile --mac-array`; SOURCES.md §4, §13): its rates, the
 * share of it a batch-1 matrix–vector product uses, its accumulator, and the ARM work around it. Also the
 * defaults of a description without them (so older --hw files and bundles load unchanged).
 */
export const MAC_DEFAULTS: Record<"macs_per_cycle_8" | "macs_per_cycle_16" | "batch1_fraction" | "fc_efficiency" | "accumulator_bits" | "cells_per_mac_16" | "setup_cycles" | "drain_column_cycles" | "clear_row_cycles", Figure> = {
  macs_per_cycle_8: {
    value: 64, unit: "MAC/cycle",
    source: "P: TU Dresden SpiNNaker2 FAQ, \"Details about MAC accelerator\" (64 MACs per PE, 8-bit multipliers, 64 MAC/cycle); S: the chip paper (Scholze et al. arXiv 2607.24396) via N1, a 16×4 output-stationary array",
    grade: "primary",
  },
  macs_per_cycle_16: {
    value: 16, unit: "MAC/cycle",
    source: "P: FAQ (4 units combine into one 16-bit MAC: 16 MAC/cycle); N1 (S) says 2 neighbouring cells fuse (a conflict, SOURCES.md §10); the FAQ's figure taken",
    grade: "primary",
  },
  batch1_fraction: {
    value: 0.25, unit: "",
    source: "S: the chip paper via N1 (FC layers use only 1 of the 4 rows of the 16×4 output-stationary array: a batch-1 matrix–vector product has one input row); assumed the same quarter in 16-bit mode",
    grade: "secondary",
  },
  fc_efficiency: {
    value: 0.7, unit: "",
    source: "derived (SOURCES.md D11): measured utilisation on FC layers 16–19 % (mid 17.5 %; chip paper via N1, S) ÷ the 25 % one array row of four allows = 0.70, the share of the array's row cycles that do MACs (operand fetch, tile switches)",
    grade: "derived",
  },
  accumulator_bits: {
    value: 24, unit: "bit",
    source: "S: the chip paper via N1 (24-bit accumulator, product chip); the FAQ (P) gives 29 bits for the prototype (SOURCES.md §10); assumed the same width for a fused 16-bit MAC (none published)",
    grade: "secondary",
  },
  cells_per_mac_16: {
    value: 4, unit: "cells",
    source: "P: FAQ (4 units combine into one 16-bit MAC); nmc charges a 16-bit MAC as that many 8-bit MACs' energy (assumed: no 16-bit energy figure found)",
    grade: "assumed",
  },
  setup_cycles: {
    value: 40, unit: "cycles",
    source: "nominal (SOURCES.md §13): per pass of the array, the ARM writes its descriptor (operand and result addresses, sizes, mode: ≈ 6 STR to memory-mapped registers), starts it and returns from the wait for its interrupt (≈ 12 interrupt entry/exit on the M4F); no measurement found",
    grade: "assumed",
  },
  drain_column_cycles: {
    value: 4, unit: "cycles",
    source: "nominal (SOURCES.md §13): per column and pass, the ARM reads the array's accumulator (LDR 2) and adds it into its exact sum (ADDS + ADC 2, M4F timings §6)",
    grade: "assumed",
  },
  clear_row_cycles: {
    value: 0.5, unit: "cycles",
    source: "nominal (SOURCES.md §13): per row and tick, zeroing the dense input vector the received events are written into (STRD of four int16 zeros ≈ 2 cycles)",
    grade: "assumed",
  },
};

/** The MAC array's energy per 8-bit MAC at the default levels (derived, SOURCES.md D3), by level name. */
export const PJ_PER_MAC_DEFAULTS: Record<string, Figure> = {
  PL1: {
    value: 0.52, unit: "pJ/MAC",
    source: "derived (SOURCES.md D3): (825 − 235.4) mW / 1.1405 T MAC/s, the array's measured 2.281 TOPS at 0.825 W, 0.5 V / 150 MHz, operands on chip (chip paper via N1, S), above all PEs asleep; 0.72 pJ all-in",
    grade: "derived",
  },
  PL2: {
    value: 0.73, unit: "pJ/MAC",
    source: "derived (SOURCES.md D3): (2219 − 564.7) mW / 2.2815 T MAC/s, the array's measured 4.563 TOPS at 2.219 W, 0.8 V / 300 MHz (chip paper via N1, S), above all PEs asleep; 0.97 pJ all-in",
    grade: "derived",
  },
};

/**
 * The chip's LPDDR4 DRAM (targets/spinnaker2/accel.ts: `nmc compile --dram`; SOURCES.md §13): bandwidth shared by
 * the chip's PEs, transfer granularity, energy per byte, the ARM's work per fetch. Also the defaults of a
 * description without them.
 */
export const DRAM_DEFAULTS: Record<"bytes_per_s" | "burst_bytes" | "pj_per_byte" | "fetch_cycles", Figure> = {
  bytes_per_s: {
    value: 6.4e9, unit: "B/s",
    source: "P: SpiNNaker2 datasheet v0.03 p.1 (2 × LPDDR4, \"up to 6.4 GB/s sustained block transfer\"), per chip, shared by its PEs; N1 (S) calls 6.4 GB/s the raw rate (2 × 16 bit × 1.6 Gbit/s) and says the sustained rate is not disclosed (SOURCES.md §10): the datasheet's word taken, so DRAM time is a lower bound",
    grade: "primary",
  },
  burst_bytes: {
    value: 16, unit: "B",
    source: "S: DMA transfers 16-byte aligned (N1, RESEARCH-22 (f)): every fetch is rounded up to whole 16-byte units; an LPDDR4 burst on a 16-bit channel is 32 B (BL16, assumed here), so short rows may cost up to 2× more",
    grade: "secondary",
  },
  pj_per_byte: {
    value: 40, unit: "pJ/B",
    source: "assumed (SOURCES.md §9, §13): 5 pJ/bit, a typical LPDDR4 interface figure; no published SpiNNaker 2 figure; a loose upper bound 55–190 pJ/B (7–24 pJ/bit) derived from the chip paper's DNN-layer power with DRAM (Tab. 5, via N1, S) in RESEARCH-22 (f)",
    grade: "assumed",
  },
  fetch_cycles: {
    value: 10, unit: "cycles",
    source: "nominal (SOURCES.md §13): per row fetched, the ARM writes a DMA descriptor (source, destination, length: ≈ 4 STR) and checks its completion (≈ 4), ≈ 10",
    grade: "assumed",
  },
};

const level = z.object({ name: z.string(), mhz: figure, volts: figure, pj_per_cycle: figure, static_mw_per_pe: figure,
  /** The MAC array's energy per 8-bit MAC at this level (accel.ts); optional: --mac-array refuses a level without it. */
  pj_per_mac: figure.optional() });

function macDefaults(): Record<keyof typeof MAC_DEFAULTS, Figure> {
  return Object.fromEntries(Object.entries(MAC_DEFAULTS).map(([k, v]) => [k, { ...v }])) as Record<keyof typeof MAC_DEFAULTS, Figure>;
}
function dramDefaults(): Record<keyof typeof DRAM_DEFAULTS, Figure> {
  return Object.fromEntries(Object.entries(DRAM_DEFAULTS).map(([k, v]) => [k, { ...v }])) as Record<keyof typeof DRAM_DEFAULTS, Figure>;
}

export const hwSchema = z.object({
  name: z.string(),
  chip: z.object({
    pes: count,
    qpes: count,
    pes_per_qpe: count.extend({ value: z.number().int().min(1).max(ROUTE_CORE_BITS, `at most ${ROUTE_CORE_BITS} PEs per QPE: a routing entry's core field has one bit per PE`) }),
    /** The QPE routers form a grid_width × grid_height mesh (some positions may be empty). */
    grid_width: count,
    grid_height: count,
    sram_bytes_per_pe: figure,
    code_reserve_bytes: figure,
    /** Per PE: packet queues, stack and the run-time's own data. */
    buffer_bytes: figure,
    static_mw_baseline: figure,
  }),
  board: z.object({ chips: count, grid_width: count, grid_height: count }),
  /** DVFS performance levels; `default_level` names the one used unless --level says otherwise. */
  levels: z.array(level).min(1),
  default_level: z.string(),
  /** DVFS and power gating (dvfs.ts). Defaults (so that a description written before it existed still loads): DVFS_DEFAULTS. */
  dvfs: z.object({
    switch_ns: figure.default(() => ({ ...DVFS_DEFAULTS.switch_ns })),
    gated_mw_per_pe: figure.default(() => ({ ...DVFS_DEFAULTS.gated_mw_per_pe })),
  }).default(() => ({ switch_ns: { ...DVFS_DEFAULTS.switch_ns }, gated_mw_per_pe: { ...DVFS_DEFAULTS.gated_mw_per_pe } })),
  /** The MAC array (accel.ts). Defaults (so that a description written before it existed still loads): MAC_DEFAULTS. */
  mac: z.object(Object.fromEntries(Object.keys(MAC_DEFAULTS).map((k) => [k, figure.default(() => ({ ...MAC_DEFAULTS[k as keyof typeof MAC_DEFAULTS] }))])) as Record<keyof typeof MAC_DEFAULTS, z.ZodDefault<typeof figure>>)
    .default(() => macDefaults()),
  /** The LPDDR4 DRAM (accel.ts). Defaults (so that a description written before it existed still loads): DRAM_DEFAULTS. */
  dram: z.object(Object.fromEntries(Object.keys(DRAM_DEFAULTS).map((k) => [k, figure.default(() => ({ ...DRAM_DEFAULTS[k as keyof typeof DRAM_DEFAULTS] }))])) as Record<keyof typeof DRAM_DEFAULTS, z.ZodDefault<typeof figure>>)
    .default(() => dramDefaults()),
  noc: z.object({
    hop_cycles: figure,
    chip_link_cycles: figure,
    pj_per_hop: figure,
    pj_per_chip_link: figure,
    qpe_router_entries: count,
    chip_router_entries: count,
  }),
  /** Cycles on the Cortex-M4F per operation of the event-driven kernels. */
  cycles: z.object({
    packet_receive: figure,
    packet_send: figure,
    synapse: figure,
    requantize_column: figure,
    egru_unit: figure,
    /** Per EGRU unit and tick beyond egru_unit, for a population with zoneout ≠ 0 (the blend with h). */
    egru_zoneout: figure,
    ssm_state: figure,
    ssm_output_mac: figure,
    dense_unit: figure,
    readout_unit: figure,
    multiply_unit: figure,
    layernorm_unit: figure,
    layernorm_tick: figure,
    /**
     * A LayerNorm cut over several PEs (a cross-PE reduction of its sums): the part of layernorm_unit before
     * the exchange, per partial received from another slice, and per tick on each slice. Defaults (so that a
     * description written before they existed still loads): LAYERNORM_SPLIT_DEFAULTS.
     */
    layernorm_pass1: figure.default(() => ({ ...LAYERNORM_SPLIT_DEFAULTS.layernorm_pass1 })),
    layernorm_combine: figure.default(() => ({ ...LAYERNORM_SPLIT_DEFAULTS.layernorm_combine })),
    layernorm_split: figure.default(() => ({ ...LAYERNORM_SPLIT_DEFAULTS.layernorm_split })),
    tick_overhead: figure,
    /**
     * The per-event complex decay of an asynchronous SSM, per state (cost-exp.ts; not charged by any op yet).
     * Defaults (so that a description written before they existed still loads): EXP_DECAY_DEFAULTS.
     */
    exp_accel_latency: figure.default(() => ({ ...EXP_DECAY_DEFAULTS.exp_accel_latency })),
    exp_accel_issue: figure.default(() => ({ ...EXP_DECAY_DEFAULTS.exp_accel_issue })),
    expq_exp_soft: figure.default(() => ({ ...EXP_DECAY_DEFAULTS.expq_exp_soft })),
    expq_sincos: figure.default(() => ({ ...EXP_DECAY_DEFAULTS.expq_sincos })),
    expq_combine: figure.default(() => ({ ...EXP_DECAY_DEFAULTS.expq_combine })),
    expq_zoh_gain: figure.default(() => ({ ...EXP_DECAY_DEFAULTS.expq_zoh_gain })),
  }),
  /** Dynamic energy beyond the core's per-cycle energy (memory traffic of the synaptic rows). */
  energy: z.object({
    pj_per_sram_byte: figure,
    /** The exp/log accelerator's own energy per exp, beyond the ARM cycles (cost-exp.ts; not charged yet). Default: EXP_ACCEL_PJ_DEFAULT. */
    pj_per_exp_accel: figure.default(() => ({ ...EXP_ACCEL_PJ_DEFAULT })),
  }),
});
export type HardwareDescription = z.infer<typeof hwSchema>;

const f = (value: number, unit: string, source: string, grade: Grade): Figure => ({ value, unit, source, grade });

/** The default: one SpiNNaker 2 chip generation as published (see SOURCES.md). */
export const SPINNAKER2: HardwareDescription = {
  name: "SpiNNaker 2 (22 nm FDSOI), figures as published; see targets/spinnaker2/SOURCES.md",
  chip: {
    pes: f(152, "PE", "P: SpiNNaker2 datasheet v0.03 (2021) p.1; SpiNNMachine version_spin2.py QUAD_MAP (PE ids 1–152; id 0 is the management core). Mayr et al. 2019, cited here before, is the roadmap brief and gives no 152 (the 2018 plan was 144 cores)", "primary"),
    qpes: f(38, "QPE", "P: SpiNNMachine version_spin2.py QUAD_MAP (the 152 PE ids on 38 QPE positions (qx, qy)); S: the chip paper (Scholze et al. arXiv 2607.24396) via N1, 38 × 4. Höppner et al. 2021, cited here before, describes the 8-PE test chip and its abstract has no 38", "primary"),
    pes_per_qpe: f(4, "PE", "P: SpiNNMachine version_spin2.py QUAD_MAP (qp ∈ 0..3); S: the chip paper via N1", "primary"),
    grid_width: f(7, "QPE", "P: SpiNNMachine version_spin2.py QUAD_MAP: 38 QPEs on a 7 × 6 grid (4 slots empty); nmc fills the first 38 slots of a snake over it (which 4 are empty: nominal)", "primary"),
    grid_height: f(6, "QPE", "P: see grid_width", "primary"),
    sram_bytes_per_pe: f(131072, "B", "P: SpiNNaker2 datasheet v0.03 §1 (128 KB local SRAM per PE)", "primary"),
    code_reserve_bytes: f(32768, "B", "S: ~32 KB code / 96 KB data split of the PE SRAM (SOURCES.md §1)", "secondary"),
    buffer_bytes: f(4096, "B", "nominal: packet queues, stack and run-time data per PE", "assumed"),
    static_mw_baseline: f(75.2, "mW", "S: 75.2 mW chip power with all PEs off (chip paper as quoted, SOURCES.md §3)", "secondary"),
  },
  board: {
    chips: f(48, "chip", "P: SpiNNMachine version_48_chips.py", "primary"),
    grid_width: f(8, "chip", "nominal: 48 chips as an 8 × 6 grid of chip-to-chip links (the real board is a hexagonal torus of 48 chips: N1, S)", "assumed"),
    grid_height: f(6, "chip", "nominal: see grid_width", "assumed"),
  },
  levels: [
    {
      name: "PL1",
      mhz: f(150, "MHz", "P: SpiNNMachine version_spin2.py clock_speeds_hz", "primary"),
      volts: f(0.5, "V", "S: 0.5 V at 150 MHz, the chip paper (Scholze et al. arXiv 2607.24396) via N1 §1, §8", "secondary"),
      pj_per_cycle: f(8.3, "pJ/cycle", "derived (SOURCES.md D2): (424.6 mW all PEs running − 235.4 mW all asleep) / 152 PEs / 150 MHz, S inputs; cross-check: SENECA (Tang et al. 2023, Table 8, P) measures 11.6 pJ per RISC-V instruction in the same 22 nm process", "derived"),
      static_mw_per_pe: f(1.05, "mW", "derived (SOURCES.md D1): (235.4 mW all PEs asleep − 75.2 mW all off) / 152, S inputs", "derived"),
      pj_per_mac: { ...PJ_PER_MAC_DEFAULTS.PL1 },
    },
    {
      name: "PL2",
      mhz: f(300, "MHz", "P: SpiNNMachine version_spin2.py clock_speeds_hz", "primary"),
      volts: f(0.8, "V", "S: 0.8 V at 300 MHz, the chip paper via N1 §1, §8", "secondary"),
      pj_per_cycle: f(15.0, "pJ/cycle", "derived (SOURCES.md D2): (1247.9 mW all PEs running − 564.7 mW all asleep) / 152 PEs / 300 MHz, S inputs", "derived"),
      static_mw_per_pe: f(3.22, "mW", "derived (SOURCES.md D1): (564.7 mW all PEs asleep − 75.2 mW all off) / 152, S inputs", "derived"),
      pj_per_mac: { ...PJ_PER_MAC_DEFAULTS.PL2 },
    },
  ],
  default_level: "PL2",
  dvfs: { switch_ns: { ...DVFS_DEFAULTS.switch_ns }, gated_mw_per_pe: { ...DVFS_DEFAULTS.gated_mw_per_pe } },
  mac: macDefaults(),
  dram: dramDefaults(),
  noc: {
    hop_cycles: f(5, "cycles", "S: 5 NoC cycles per QPE router hop (SOURCES.md §5)", "secondary"),
    chip_link_cycles: f(100, "cycles", "nominal: chip-to-chip link traversal incl. serialization", "assumed"),
    pj_per_hop: f(17.5, "pJ", "derived, low confidence (SOURCES.md D9): 15–20 pJ per NoC hop scaled from SpiNNaker 1", "derived"),
    pj_per_chip_link: f(75, "pJ", "derived, low confidence (SOURCES.md D9): ≈75 pJ per packet through the chip router", "derived"),
    qpe_router_entries: f(1024, "entries", "nominal: key/mask entries per QPE router (the only published QPE-router table is an optional 64-entry LUT beside XY routing: N1, S)", "assumed"),
    chip_router_entries: f(16384, "entries", "P: SpiNNaker2 datasheet v0.03 p.1; SpiNNMachine version_spin2.py n_router_entries = 16384", "primary"),
  },
  cycles: {
    packet_receive: f(20, "cycles", "assumed (SOURCES.md §9): FIFO pop + key → row lookup; no measurement found", "assumed"),
    packet_send: f(10, "cycles", "assumed (SOURCES.md §9): key + payload to the NoC registers; no measurement found", "assumed"),
    synapse: f(10, "cycles", "derived (SOURCES.md §9) from Cortex-M4 timings (TI): load weight and column index, multiply-accumulate, store; all-in anchor ≤ 25 cycles per synaptic event (D4)", "derived"),
    requantize_column: f(8, "cycles", "nominal: 32×16 multiply (SMULL), rounding shift, saturate per touched column", "assumed"),
    egru_unit: f(40, "cycles", "derived (SOURCES.md §9): 3 LUT lookups × 5 cycles + 4 multiplies, rounding shifts, threshold test (3) and event flag", "derived"),
    egru_zoneout: f(4, "cycles", "derived (SOURCES.md §6, M4F MUL/MLA 1 cycle, ALU/shift 1): the zoneout blend p_q·h + (2^15 − p_q)·c as MUL + MLA (h and c already in registers, both weights per-population constants), then its rounding shift (ADD, ASR)", "derived"),
    ssm_state: f(16, "cycles", "nominal: complex multiply by Λ̄ (4 MACs) + add u, saturate, per complex state", "assumed"),
    ssm_output_mac: f(2, "cycles", "nominal: per C entry (real and imaginary MAC)", "assumed"),
    dense_unit: f(12, "cycles", "nominal: bias, shift, activation per unit", "assumed"),
    readout_unit: f(6, "cycles", "nominal: accumulate and round per unit", "assumed"),
    multiply_unit: f(16, "cycles", "nominal, derived from dense_unit (12: load, rounding shift, saturate, store per unit): a second port load and operand shift + saturate (SSAT), one 16×16 multiply (SMULBB, 1 cycle on the M4F) and its rounding shift + saturate, ≈ 4 more", "assumed"),
    layernorm_unit: f(20, "cycles", "nominal, derived from dense_unit (12) and multiply_unit (16): per unit two passes, (1) load, rounding shift + saturate (SSAT), add to Σx'; (2) subtract the mean, one MAC into Σd² (SMLAL); then d·r (SMULL), rounding shift, γ·t, rounding shift, add β, saturate, store, ≈ 20", "assumed"),
    layernorm_tick: f(400, "cycles", "nominal: once per tick, two 64-bit divisions (roundDiv of Σx' and Σd² by n; no 64-bit divider on the M4F, ≈ 60 cycles each in software), the 26-step bit-by-bit integer square root (≈ 5 cycles a step), and the reciprocal division (≈ 60): ≈ 310, rounded up", "assumed"),
    ...LAYERNORM_SPLIT_DEFAULTS,
    tick_overhead: f(200, "cycles", "nominal: timer interrupt and bookkeeping per PE per tick", "assumed"),
    ...EXP_DECAY_DEFAULTS,
  },
  energy: {
    pj_per_sram_byte: f(0, "pJ/B", "SOURCES.md §9: SRAM reads by the ARM core are inside its per-cycle energy (D2); not charged twice", "assumed"),
    pj_per_exp_accel: { ...EXP_ACCEL_PJ_DEFAULT },
  },
};

/** Validates a user hardware description (--hw), naming the JSON path of every problem. */
export function parseHardware(json: unknown, file?: string): HardwareDescription {
  const r = hwSchema.safeParse(json);
  if (r.success) {
    const hw = r.data;
    if (!hw.levels.some((l) => l.name === hw.default_level)) {
      throw new NmcError("default_level names no level", { file, path: "default_level", expected: hw.levels.map((l) => l.name).join(" | "), found: JSON.stringify(hw.default_level) });
    }
    if (hw.chip.pes.value !== hw.chip.qpes.value * hw.chip.pes_per_qpe.value) {
      throw new NmcError("chip.pes must equal chip.qpes × chip.pes_per_qpe", { file, path: "chip.pes", expected: String(hw.chip.qpes.value * hw.chip.pes_per_qpe.value), found: String(hw.chip.pes.value) });
    }
    if (hw.chip.qpes.value > hw.chip.grid_width.value * hw.chip.grid_height.value) {
      throw new NmcError("the QPE mesh is too small for chip.qpes", { file, path: "chip.grid_width", expected: `grid_width × grid_height ≥ ${hw.chip.qpes.value}`, found: `${hw.chip.grid_width.value} × ${hw.chip.grid_height.value}` });
    }
    const usable = hw.chip.sram_bytes_per_pe.value - hw.chip.code_reserve_bytes.value - hw.chip.buffer_bytes.value;
    if (usable <= 0) throw new NmcError("no SRAM is left for data", { file, path: "chip.sram_bytes_per_pe", expected: "more than code_reserve_bytes + buffer_bytes", found: String(hw.chip.sram_bytes_per_pe.value) });
    return hw;
  }
  const issue = r.error.issues[0];
  const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "");
  throw new NmcError(`invalid hardware description: ${issue.message}`, {
    file, path: path || "(top level)",
    expected: "a description shaped like the default (nmc hw --json prints it); every number as {value, unit, source}",
    found: r.error.issues.length > 1 ? `${r.error.issues.length} problems, the first shown` : undefined,
  });
}

export function levelOf(hw: HardwareDescription, name?: string) {
  const n = name ?? hw.default_level;
  const l = hw.levels.find((x) => x.name === n);
  if (!l) throw new NmcError(`unknown performance level ${n}`, { expected: hw.levels.map((x) => x.name).join(" | "), found: n });
  return l;
}

/** SRAM a PE has for model data: total − code reserve − buffers. */
export function usableSram(hw: HardwareDescription): number {
  return hw.chip.sram_bytes_per_pe.value - hw.chip.code_reserve_bytes.value - hw.chip.buffer_bytes.value;
}
