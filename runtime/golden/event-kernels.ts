// The integer definitions of event time (issue 19; runtime/fixed/QUANTIZATION.md, "Event time"): the event's
// time step Δt as an integer count of quanta 2^−dt_frac, EventPooling, the pool / timepool readouts, and the
// event-time DiagonalSSM (per-event Λ̄ from runtime/fixed/expq.ts, then the complex state update of the
// fixed-step SSM). The golden engine and the SpiNNaker 2 simulator call these kernels; the CUDA emitter writes
// the same formulas in C.
//
// Every sum is an exact integer held in a double (as int64 in C): the bounds are stated at each kernel.
import {
  cmulImQ15Count, cmulReQ15Count, requantizeMSCount, roundDiv, roundShift, sat16Count, sat32Count, saturateCount,
} from "../fixed/index.js";
import { complexDecayInto, EXPQ_DT_MAX, quantizeDt, zohGainInto } from "../fixed/expq.js";
import { NO_COUNTS, S_CMUL, S_OPERAND, S_OUTPUT, S_READ, S_REQUANT, S_RUNNING, S_STATE, S_SUM, S_Y, SITES } from "./saturation.js";

/** The fewest and most fractional bits of Δt's quanta (calibration chooses within). */
export const DT_FRAC_MIN = 0;
export const DT_FRAC_MAX = 24;

/**
 * Every step's Δt (ms) as quanta, dt = round(Δt · 2^dt_frac) (ties away from zero), saturated at 2^28 − 1
 * (expq quantizeDt); returns how many saturated.
 */
export function quantizeTimesteps(timesteps: ArrayLike<number>, dtFrac: number, out: Float64Array): number {
  let sat = 0;
  for (let i = 0; i < timesteps.length; i++) {
    const v = timesteps[i];
    const raw = Math.round(Math.abs(v) * 2 ** dtFrac);
    if (raw > EXPQ_DT_MAX) sat++;
    out[i] = quantizeDt(v, dtFrac);
  }
  return sat;
}

/** ε = 1e−6 ms (event-ssm's time-weighted means) in quanta: eps_q = round(1e−6 · 2^dt_frac), ties away. */
export function poolEpsQ(dtFrac: number): number {
  return Math.round(1e-6 * 2 ** dtFrac);
}

/**
 * One step of EventPooling over n units at position `pos` (0 … k − 1) of its group of k. Port x (int32,
 * acc_frac) is first brought to the output format: v = sat16(rs(x, down)), down = acc_frac − out_frac ≥ 0.
 *   last:     out = v of the group's first step
 *   avgpool:  out = roundDiv(Σ v, k)
 *   timepool: out = roundDiv(Σ v·w, Σ w), w = dt + eps_q (dt: the step's Δt in quanta); 0 when Σ w = 0
 * out is written at pos = k − 1 only (the emission); |Σ v·w| ≤ k·2^15·2^28·… < 2^53 for k < 2^9.
 * acc (n) and wsum (1) are the group's running sums, reset by pos 0.
 */
export function eventPoolUnits(
  mode: "last" | "avgpool" | "timepool", k: number, n: number, x: Float64Array, down: number, pos: number, w: number,
  acc: Float64Array, wsum: Float64Array, out: Int32Array, sc = NO_COUNTS,
): void {
  if (pos === 0) {
    wsum[0] = 0;
    acc.fill(0);
  }
  if (mode === "last") {
    if (pos === 0) for (let i = 0; i < n; i++) acc[i] = sat16Count(roundShift(x[i], down), sc, S_OPERAND);
    if (pos === 0) sc[SITES + S_OPERAND] += n;
  } else {
    for (let i = 0; i < n; i++) {
      const v = sat16Count(roundShift(x[i], down), sc, S_OPERAND);
      acc[i] += mode === "timepool" ? v * w : v;
    }
    sc[SITES + S_OPERAND] += n;
    wsum[0] += w;
  }
  if (pos !== k - 1) return;
  if (mode === "last") for (let i = 0; i < n; i++) out[i] = acc[i];
  else if (mode === "avgpool") for (let i = 0; i < n; i++) out[i] = roundDiv(acc[i], k);
  else for (let i = 0; i < n; i++) out[i] = wsum[0] > 0 ? roundDiv(acc[i], wsum[0]) : 0;
}

/**
 * The masked readouts at step `step` (0-based; `valid` = floor(length / rate) real steps), n units of an int16
 * source: `pool` sum = sat32(sum + x) over the valid steps, out = roundDiv(sum, valid) (0 when valid = 0);
 * `timepool` sum += x·(dt + eps_q) over the valid steps (exact: |x| ≤ 2^15, Σ w < 2^37), total += dt over every
 * step (padding too, as event-ssm's denominator), out = sat32(roundDiv(sum, total)) (0 when total = 0). The
 * running sums (sum: n, total: 1) restart at step 0. out is the running value after every step.
 */
export function maskedReadoutUnits(
  mode: "pool" | "timepool", n: number, src: Int32Array, sum: Float64Array, total: Float64Array, out: Int32Array,
  step: number, valid: number, dt: number, epsQ: number, sc = NO_COUNTS,
): void {
  if (step === 0) {
    sum.fill(0);
    total[0] = 0;
  }
  if (mode === "pool") {
    if (step < valid) {
      for (let i = 0; i < n; i++) sum[i] = sat32Count(sum[i] + src[i], sc, S_RUNNING);
      sc[SITES + S_RUNNING] += n;
    }
    for (let i = 0; i < n; i++) out[i] = valid > 0 ? roundDiv(sum[i], valid) : 0;
    return;
  }
  total[0] += dt;
  if (step < valid) {
    const w = dt + epsQ;
    for (let i = 0; i < n; i++) sum[i] += src[i] * w;
  }
  for (let i = 0; i < n; i++) out[i] = total[0] > 0 ? sat16Count(roundDiv(sum[i], total[0]), sc, S_OUTPUT) : 0;
  sc[SITES + S_OUTPUT] += n;
}

/** The per-state constants of an event-time DiagonalSSM, as its quantized tensors hold them. */
export interface EventSsmConsts {
  /** async | zoh | dirac. */
  disc: "async" | "zoh" | "dirac";
  am: ArrayLike<number>;
  as: ArrayLike<number>;
  bm: ArrayLike<number>;
  bs: ArrayLike<number>;
  /** async, dirac: γ per state (g_frac); zoh: κ ≈ 1/Λ per state (re, im, shift). */
  gr: ArrayLike<number>;
  gi: ArrayLike<number>;
  ks: ArrayLike<number>;
  gFrac: number;
  /** The port u (acc_frac) to int16 at u_frac: u′ = sat16(rs(u, uDown = acc_frac − u_frac)); γ·u′ to state_frac by rs(·, gShift = g_frac + u_frac − state_frac). */
  uDown: number;
  gShift: number;
}

const LG = new Float64Array(2);

/**
 * Event-time state update of P complex states with the step's dt (quanta, clamped to 2^28 − 1):
 *   Λ̄ = complexDecayInto(dt, α, β) in Q15 (int32: (2^15, 0) at dt = 0)
 *   γ  = async / dirac: the constant (gr, gi); zoh: zohGainInto(dt, α, β, κ, g_frac)
 *   u' = sat16(rs(u, uDown)) (re, im)
 *   x  = sat_bits(cmulQ15(x, Λ̄) + rs(γ_re·u'_re − γ_im·u'_im, gShift))  (imaginary likewise)
 * and the 16-bit read copy as the fixed-step SSM's. |γ| < 2^31, |u'| ≤ 2^15: each product sum < 2^47.
 */
export function eventSsmStates(
  P: number, bits: number, xr: Int32Array, xi: Int32Array, rr: Int32Array, ri: Int32Array, dtq: number,
  c: EventSsmConsts, u: Float64Array, sc = NO_COUNTS,
): void {
  const readShift = bits - 16;
  const dt = dtq > EXPQ_DT_MAX ? EXPQ_DT_MAX : dtq;
  for (let p = 0; p < P; p++) {
    complexDecayInto(LG, 0, dt, c.am[p], c.as[p], c.bm[p], c.bs[p], 15);
    const lr = LG[0], li = LG[1];
    let gr: number, gi: number;
    if (c.disc === "zoh") {
      zohGainInto(LG, 0, dt, c.am[p], c.as[p], c.bm[p], c.bs[p], c.gr[p], c.gi[p], c.ks[p], c.gFrac);
      gr = LG[0];
      gi = LG[1];
    } else {
      gr = c.gr[p];
      gi = c.gi[p];
    }
    const ur = sat16Count(roundShift(u[p], c.uDown), sc, S_OPERAND), ui = sat16Count(roundShift(u[P + p], c.uDown), sc, S_OPERAND);
    const a = xr[p], b = xi[p];
    xr[p] = saturateCount(cmulReQ15Count(a, b, lr, li, sc, S_CMUL) + roundShift(gr * ur - gi * ui, c.gShift), bits, sc, S_STATE);
    xi[p] = saturateCount(cmulImQ15Count(a, b, lr, li, sc, S_CMUL) + roundShift(gr * ui + gi * ur, c.gShift), bits, sc, S_STATE);
    rr[p] = readShift === 0 ? xr[p] : sat16Count(roundShift(xr[p], readShift), sc, S_READ);
    ri[p] = readShift === 0 ? xi[p] : sat16Count(roundShift(xi[p], readShift), sc, S_READ);
  }
  sc[SITES + S_OPERAND] += 2 * P;
  sc[SITES + S_CMUL] += 2 * P;
  sc[SITES + S_STATE] += 2 * P;
  if (readShift !== 0) sc[SITES + S_READ] += 2 * P;
}

/**
 * Outputs of an event-time DiagonalSSM with stride k at group position pos (k = 1: every step, pos 0):
 *   cx[h] = rq(sat32(rs(Σ_p C_re·x_re − C_im·x_im, pre)), c_mult, c_shift)      (int32, acc_frac; latched at pos 0)
 *   pooled skip (acc_frac): last: skip of pos 0; avgpool: roundDiv(Σ skip, k);
 *     timepool: roundDiv(Σ s'·w, Σ w)·2^down with s' = sat16(rs(skip, down)) (0 when Σ w = 0)
 *   at pos = k − 1: y = sat32(cx + pooled); out = sat16(rs(y, down)).
 * latch (n), pooled (n), wsum (1) restart at pos 0.
 */
export function eventSsmOutputs(
  n: number, lo: number, P: number, cr: ArrayLike<number>, ci: ArrayLike<number>, rr: Int32Array, ri: Int32Array,
  cm: ArrayLike<number>, cs: ArrayLike<number>, skip: Float64Array, pre: number, down: number, k: number, pos: number,
  mode: "last" | "avgpool" | "timepool", w: number, latch: Float64Array, pooled: Float64Array, wsum: Float64Array, out: Int32Array, sc = NO_COUNTS,
): void {
  if (pos === 0) {
    for (let i = 0; i < n; i++) {
      const h = lo + i, row = h * P;
      let acc = 0;
      for (let p = 0; p < P; p++) acc += cr[row + p] * rr[p] - ci[row + p] * ri[p];
      latch[i] = requantizeMSCount(sat32Count(roundShift(acc, pre), sc, S_SUM), cm[h], cs[h], sc, S_REQUANT);
    }
    sc[SITES + S_SUM] += n;
    sc[SITES + S_REQUANT] += n;
    pooled.fill(0);
    wsum[0] = 0;
  }
  if (k === 1 || mode === "last") {
    if (pos === 0) for (let i = 0; i < n; i++) pooled[i] = skip[i];
  } else if (mode === "avgpool") {
    for (let i = 0; i < n; i++) pooled[i] += skip[i];
  } else {
    for (let i = 0; i < n; i++) pooled[i] += sat16Count(roundShift(skip[i], down), sc, S_OPERAND) * w;
    sc[SITES + S_OPERAND] += n;
    wsum[0] += w;
  }
  if (pos !== k - 1) return;
  for (let i = 0; i < n; i++) {
    const d = k === 1 || mode === "last" ? pooled[i]
      : mode === "avgpool" ? roundDiv(pooled[i], k)
      : (wsum[0] > 0 ? roundDiv(pooled[i], wsum[0]) : 0) * 2 ** down;
    const y = sat32Count(latch[i] + d, sc, S_Y);
    out[i] = sat16Count(roundShift(y, down), sc, S_OUTPUT);
  }
  sc[SITES + S_Y] += n;
  sc[SITES + S_OUTPUT] += n;
}
