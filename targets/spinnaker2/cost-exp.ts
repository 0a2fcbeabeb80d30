// What one event's per-event complex decay costs a SpiNNaker 2 PE: Λ̄_k = exp(Λ·step·Δt_k) for each of the P
// complex states a slice holds (runtime/fixed/expq.ts), optionally with the zoh input gain γ_k. The figures
// are the hardware description's (chip.ts EXP_DECAY_DEFAULTS, SOURCES.md §11); no op charges this yet, the
// asynchronous SSM kernel will call it once per event (or per pooled step) of a population's slice.
//
// Two ways to get the magnitude 2^(−α·dt):
//  - "accelerator": the PE's exp/log accelerator (iterative, 7–22 cycles, S). The ARM issues the state's exp,
//    computes its cos/sin while the unit iterates (no accelerator exists for sin/cos), then reads the result:
//    per state  exp_accel_issue + max(exp_accel_latency, expq_sincos) + expq_combine.
//    The accelerator computes e^x to 1–2 ulp of its own format, not the integers of runtime/fixed/expq.ts, so
//    a program using it is not bit-exact with the golden engine (its Λ̄ may differ in the last bit); this is
//    the figure for a deployment that accepts that, reported beside the default.
//  - "software" (the default): the definition itself in ARM code (bit-exact with golden, the simulator's
//    outputs): per state  expq_exp_soft + expq_sincos + expq_combine. The simulator charges what computes the
//    numbers it outputs, and it outputs golden's numbers, so this is what it charges.
// The zoh discretization adds expq_zoh_gain per state; async and dirac have a constant gain (nothing per event).
import type { HardwareDescription } from "./chip.js";

export type ExpDecayMode = "accelerator" | "software";

export interface ExpDecayCostOptions {
  /** How the magnitude is computed (default "software", the bit-exact program; see above). */
  exp?: ExpDecayMode;
  /** Also the zoh input gain γ = (Λ̄ − 1)/Λ per state (default false: async and dirac). */
  zoh?: boolean;
}

export interface ExpDecayCost {
  /** ARM cycles for all P states of one event. */
  cycles: number;
  /** The same per state. */
  perState: number;
  /** Accelerator operations (P with "accelerator", else 0): the caller charges energy.pj_per_exp_accel for each. */
  accelExps: number;
  /** Their energy beyond the ARM cycles, pJ (accelExps × energy.pj_per_exp_accel). */
  accelPj: number;
}

/** The cycles (and accelerator work) of one per-event complex decay of `P` states on one PE. */
export function expDecayCost(hw: HardwareDescription, P: number, opts: ExpDecayCostOptions = {}): ExpDecayCost {
  if (!(Number.isInteger(P) && P >= 0)) throw new RangeError(`state count ${P} must be a non-negative integer`);
  const c = hw.cycles;
  const mode = opts.exp ?? "software";
  const magnitudeAndRotation = mode === "accelerator"
    ? c.exp_accel_issue.value + Math.max(c.exp_accel_latency.value, c.expq_sincos.value)
    : c.expq_exp_soft.value + c.expq_sincos.value;
  const perState = magnitudeAndRotation + c.expq_combine.value + (opts.zoh ? c.expq_zoh_gain.value : 0);
  const accelExps = mode === "accelerator" ? P : 0;
  return { cycles: P * perState, perState, accelExps, accelPj: accelExps * hw.energy.pj_per_exp_accel.value };
}

/** The per-state cycles of the "software" (bit-exact) decay from the cycle figures alone (S2_OPS's unitCycles). */
export function expDecaySoftwarePerState(c: HardwareDescription["cycles"], zoh: boolean): number {
  return c.expq_exp_soft.value + c.expq_sincos.value + c.expq_combine.value + (zoh ? c.expq_zoh_gain.value : 0);
}

/** Bytes of the expq tables a PE holds once for all its states (QUANTIZATION.md: 257 int32 words). */
export const EXPQ_TABLE_BYTES = 1028;

/** Cycles only: expDecayCost(hw, P, opts).cycles. */
export function expDecayCycles(hw: HardwareDescription, P: number, opts: ExpDecayCostOptions = {}): number {
  return expDecayCost(hw, P, opts).cycles;
}
