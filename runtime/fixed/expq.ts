// The per-event complex decay of an asynchronous (event-by-event) diagonal SSM, in integers:
//   Λ̄_k = exp(Λ·step·Δt_k) = 2^(−α·dt) · (cos + i·sin)(2π·β·dt)
// with dt the event's time gap in quanta and, per state, α = −Re(Λ)·step·quantum / ln 2 (octaves per quantum,
// ≥ 0) and β = Im(Λ)·step·quantum / 2π (turns per quantum). Storing the rates in octaves and turns makes both
// range reductions exact integer operations (the integer part of α·dt is a shift, the integer part of β·dt is
// dropped). Also the zoh input gain γ_k = (Λ̄_k − 1)·(1/Λ). QUANTIZATION.md, "Per-event decay", states the
// formats, every rounding, the error bound and the measured error; targets/cuda/fixed-exp.ts writes the same
// functions in C; targets/spinnaker2/cost-exp.ts prices them on SpiNNaker 2.
//
// Arithmetic: every value is an integer held in a double, and every product and sum stays at or below 2^52,
// so each step is exact (the same integers as int64 in C). Its rounding (roundShift, roundHalfAway) and
// saturation (sat32) are the ones every definition uses (./core.js; not ./index.js, which re-exports this module).
import { roundHalfAway, roundShift, sat32 } from "./core.js";

/** dt, the time gap in quanta: an integer in [0, 2^28 − 1] (quantizeDt saturates there). */
export const EXPQ_DT_BITS = 28;
export const EXPQ_DT_MAX = 2 ** EXPQ_DT_BITS - 1;
/** Rate mantissas: |m| < 2^24 (2^23 ≤ |m| unless the shift is at its maximum), so |m|·dt < 2^52. */
export const EXPQ_RATE_BITS = 24;
/** Rate shifts: 0 ≤ s ≤ 62. */
export const EXPQ_SHIFT_MAX = 62;
/** The zoh constant 1/Λ: both parts |re|, |im| < 2^20 (the larger ≥ 2^19 unless its shift is at the maximum). */
export const EXPQ_KAPPA_BITS = 20;
/** Output fractional bits: Q15 by default; any 1 … 30 (values lie in [−2^frac, 2^frac]). */
export const EXPQ_FRAC_DEFAULT = 15;
export const EXPQ_FRAC_MAX = 30;

/** A rate per time quantum, m · 2^−s (|m| < 2^24, 0 ≤ s ≤ 62). */
export interface RateQ {
  m: number;
  s: number;
}

/** A complex constant (re + i·im) · 2^−s (|re|, |im| < 2^20, 0 ≤ s ≤ 62): the zoh gain's 1/Λ. */
export interface ComplexConstQ {
  re: number;
  im: number;
  s: number;
}

// ---- the constant tables: the definition is these integers (the generator and its check: QUANTIZATION.md) ----

/** T[i] = round(2^29 · 2^(−i/128)), i = 0 … 127 (Q29, ties away from zero; none is within 0.002 of a tie). */
export const EXPQ_POW2_Q29: readonly number[] = Object.freeze([
  536870912, 533971500, 531087746, 528219566, 525366875, 522529591, 519707630, 516900910, 514109347, 511332860,
  508571368, 505824789, 503093043, 500376051, 497673732, 494986007, 492312797, 489654024, 487009610, 484379477,
  481763549, 479161748, 476573998, 474000224, 471440350, 468894300, 466362000, 463843377, 461338355, 458846862,
  456368824, 453904170, 451452825, 449014720, 446589781, 444177939, 441779122, 439393260, 437020283, 434660122,
  432312707, 429977969, 427655840, 425346252, 423049137, 420764428, 418492057, 416231959, 413984066, 411748314,
  409524635, 407312966, 405113241, 402925396, 400749367, 398585089, 396432500, 394291536, 392162134, 390044233,
  387937769, 385842681, 383758908, 381686389, 379625062, 377574868, 375535746, 373507637, 371490480, 369484217,
  367488790, 365504138, 363530205, 361566933, 359614263, 357672138, 355740503, 353819299, 351908471, 350007962,
  348117717, 346237681, 344367798, 342508013, 340658272, 338818521, 336988706, 335168773, 333358668, 331558339,
  329767733, 327986797, 326215479, 324453728, 322701490, 320958716, 319225354, 317501353, 315786663, 314081233,
  312385013, 310697954, 309020006, 307351120, 305691246, 304040337, 302398344, 300765219, 299140913, 297525380,
  295918571, 294320441, 292730940, 291150025, 289577647, 288013760, 286458320, 284911280, 283372595, 281842219,
  280320109, 278806219, 277300504, 275802922, 274313427, 272831976, 271358526, 269893034,
]);

/** S[j] = round(2^29 · sin(j·π/256)), j = 0 … 128: a quarter turn in 128 bins (Q29; S[128] = 2^29). */
export const EXPQ_SIN_Q29: readonly number[] = Object.freeze([
  0, 6588232, 13175472, 19760727, 26343007, 32921320, 39494674, 46062081, 52622552, 59175097, 65718731, 72252468,
  78775324, 85286316, 91784465, 98268792, 104738319, 111192073, 117629083, 124048377, 130448991, 136829959,
  143190321, 149529120, 155845399, 162138209, 168406602, 174649633, 180866363, 187055855, 193217176, 199349401,
  205451603, 211522866, 217562274, 223568918, 229541893, 235480300, 241383245, 247249838, 253079196, 258870441,
  264622702, 270335111, 276006809, 281636941, 287224660, 292769124, 298269498, 303724953, 309134669, 314497830,
  319813629, 325081265, 330299945, 335468883, 340587301, 345654428, 350669500, 355631763, 360540469, 365394878,
  370194261, 374937894, 379625062, 384255061, 388827192, 393340767, 397795106, 402189539, 406523404, 410796048,
  415006827, 419155108, 423240266, 427261685, 431218760, 435110895, 438937504, 442698011, 446391849, 450018462,
  453577304, 457067839, 460489541, 463841895, 467124396, 470336550, 473477874, 476547893, 479546145, 482472180,
  485325556, 488105844, 490812625, 493445492, 496004047, 498487906, 500896695, 503230050, 505487621, 507669067,
  509774060, 511802283, 513753431, 515627209, 517423335, 519141540, 520781564, 522343159, 523826092, 525230139,
  526555088, 527800740, 528966906, 530053413, 531060095, 531986802, 532833393, 533599741, 534285732, 534891261,
  535416237, 535860582, 536224227, 536507120, 536709217, 536830487, 536870912,
]);

/** round(ln 2 · 2^29). */
export const EXPQ_LN2_Q29 = 372130559;
/** round(π/2 · 2^28). */
export const EXPQ_HALFPI_Q28 = 421657428;
/** round(2^30 / 6), round(2^29 / 6), round(2^29 / 24). */
export const EXPQ_C6_Q30 = 178956971;
export const EXPQ_C6_Q29 = 89478485;
export const EXPQ_C24_Q29 = 22369621;

const POW2 = Float64Array.from({ length: 64 }, (_, s) => 2 ** s);
const T_POW2 = Int32Array.from(EXPQ_POW2_Q29);
const T_SIN = Int32Array.from(EXPQ_SIN_Q29);
const TWO30 = 2 ** 30;
const TWO32 = 2 ** 32;

function checkRate(m: number, s: number, what: string): void {
  if (!(Number.isInteger(m) && Math.abs(m) < 2 ** EXPQ_RATE_BITS && Number.isInteger(s) && s >= 0 && s <= EXPQ_SHIFT_MAX)) {
    throw new RangeError(`${what} rate ${m}·2^−${s}: needs an integer |m| < 2^${EXPQ_RATE_BITS} and 0 ≤ s ≤ ${EXPQ_SHIFT_MAX}`);
  }
}

function checkDt(dt: number): void {
  if (!(Number.isInteger(dt) && dt >= 0 && dt <= EXPQ_DT_MAX)) throw new RangeError(`dt ${dt} is not an integer in [0, 2^${EXPQ_DT_BITS} − 1]`);
}

function checkFrac(frac: number): void {
  if (!(Number.isInteger(frac) && frac >= 1 && frac <= EXPQ_FRAC_MAX)) throw new RangeError(`output frac ${frac} is not an integer in 1 … ${EXPQ_FRAC_MAX}`);
}

// ---- quantization of the constants (compile time) ----


/**
 * A real rate x (per quantum, either sign) as m · 2^−s: the largest s ≤ 62 with |m| = round(|x|·2^s) < 2^24
 * (so 2^23 ≤ |m| whenever s < 62: relative error ≤ 2^−24), ties away from zero. |x| ≥ 2^24 − 1/2 is refused:
 * choose a finer time quantum.
 */
export function quantizeRate(x: number): RateQ {
  if (!Number.isFinite(x)) throw new RangeError(`rate ${x} is not finite`);
  if (x === 0) return { m: 0, s: 0 };
  const lim = 2 ** EXPQ_RATE_BITS;
  let s = Math.min(EXPQ_SHIFT_MAX, Math.max(0, EXPQ_RATE_BITS - 1 - Math.floor(Math.log2(Math.abs(x)))));
  let m = roundHalfAway(x * 2 ** s);
  while (Math.abs(m) >= lim && s > 0) m = roundHalfAway(x * 2 ** --s);
  while (Math.abs(m) < lim / 2 && s < EXPQ_SHIFT_MAX && Math.abs(roundHalfAway(x * 2 ** (s + 1))) < lim) m = roundHalfAway(x * 2 ** ++s);
  if (Math.abs(m) >= lim) throw new RangeError(`rate ${x} per quantum is too large for m·2^−s with |m| < 2^${EXPQ_RATE_BITS}: use a finer time quantum`);
  return { m: m === 0 ? 0 : m, s };
}

/**
 * The zoh constant 1/Λ = (re + i·im) as (m_re + i·m_im)·2^−s with one shift: the largest s ≤ 62 with both
 * |m| = round(|part|·2^s) < 2^20, ties away from zero (relative error of the larger part ≤ 2^−20).
 */
export function quantizeComplexConst(re: number, im: number): ComplexConstQ {
  if (!Number.isFinite(re) || !Number.isFinite(im)) throw new RangeError(`complex constant ${re} + ${im}i is not finite`);
  const big = Math.max(Math.abs(re), Math.abs(im));
  if (big === 0) return { re: 0, im: 0, s: 0 };
  const lim = 2 ** EXPQ_KAPPA_BITS;
  const fits = (s: number) => Math.abs(roundHalfAway(re * 2 ** s)) < lim && Math.abs(roundHalfAway(im * 2 ** s)) < lim;
  let s = Math.min(EXPQ_SHIFT_MAX, Math.max(0, EXPQ_KAPPA_BITS - 1 - Math.floor(Math.log2(big))));
  while (!fits(s) && s > 0) s--;
  while (s < EXPQ_SHIFT_MAX && fits(s + 1)) s++;
  if (!fits(s)) throw new RangeError(`complex constant ${re} + ${im}i is too large for parts below 2^${EXPQ_KAPPA_BITS}`);
  const r = roundHalfAway(re * 2 ** s), i = roundHalfAway(im * 2 ** s);
  return { re: r === 0 ? 0 : r, im: i === 0 ? 0 : i, s };
}

/** The per-state constants of exp(Λ·step·Δt) with Δt in quanta of 2^−dtFrac (Δt's own unit, e.g. ms). */
export interface DecayConstantsQ {
  /** α = −Re(Λ)·step·2^−dtFrac / ln 2, octaves per quantum (≥ 0). */
  alpha: RateQ;
  /** β = Im(Λ)·step·2^−dtFrac / 2π, turns per quantum (either sign). */
  beta: RateQ;
}

/**
 * α and β from the float parameters (Λ = lambdaRe + i·lambdaIm with lambdaRe ≤ 0, step > 0). A growing mode
 * (lambdaRe > 0) is refused: the definition covers decays, |Λ̄| ≤ 1.
 */
export function decayConstants(lambdaRe: number, lambdaIm: number, step: number, dtFrac: number): DecayConstantsQ {
  if (!(lambdaRe <= 0)) throw new RangeError(`Re(Λ) = ${lambdaRe}: only decaying modes (Re(Λ) ≤ 0) have an integer per-event decay`);
  if (!(step > 0) || !Number.isFinite(step)) throw new RangeError(`step ${step} must be a positive finite number`);
  if (!Number.isInteger(dtFrac)) throw new RangeError(`dtFrac ${dtFrac} must be an integer`);
  const q = step * 2 ** -dtFrac;
  return { alpha: quantizeRate((-lambdaRe * q) / Math.LN2), beta: quantizeRate((lambdaIm * q) / (2 * Math.PI)) };
}

/** 1/Λ for the zoh gain, quantized (Λ ≠ 0). */
export function zohKappa(lambdaRe: number, lambdaIm: number): ComplexConstQ {
  const d = lambdaRe * lambdaRe + lambdaIm * lambdaIm;
  if (!(d > 0) || !Number.isFinite(d)) throw new RangeError(`Λ = ${lambdaRe} + ${lambdaIm}i has no usable inverse`);
  return quantizeComplexConst(lambdaRe / d, -lambdaIm / d);
}

/** A real gap Δt ≥ 0 as dt = round(Δt · 2^dtFrac) (ties away from zero), saturated to 2^28 − 1. */
export function quantizeDt(dtReal: number, dtFrac: number): number {
  if (!(dtReal >= 0)) throw new RangeError(`time gap ${dtReal} must be ≥ 0`);
  const q = roundHalfAway(dtReal * 2 ** dtFrac);
  return q > EXPQ_DT_MAX ? EXPQ_DT_MAX : q;
}

// ---- the kernels (run time) ----

/**
 * 2^(−f) for f = fq / 2^30 ∈ [0, 1), in Q29 (result in (2^28, 2^29]). With i = fq >> 23, r = fq mod 2^23:
 *   y  = roundShift(r · LN2_Q29, 29)                       (x·ln 2 in Q30, x = r / 2^30 < 2^−7)
 *   D  = y − roundShift(y · roundShift(y · (2^29 − roundShift(y · C6_Q30, 30)), 30), 30)     (1 − e^−y = y − y²/2 + y³/6, Q30)
 *   M  = T[i] − roundShift(T[i] · D, 30)
 */
export function pow2NegQ29(fq: number): number {
  const i = fq >>> 23;
  const r = fq & 0x7fffff;
  const y = roundShift(r * EXPQ_LN2_Q29, 29);
  const t2 = 536870912 - roundShift(y * EXPQ_C6_Q30, 30);
  const d = y - roundShift(y * roundShift(y * t2, 30), 30);
  const t = T_POW2[i];
  return t - roundShift(t * d, 30);
}

const CS = new Float64Array(2);

/** cos and sin of 2π·φ/2^32 (φ an integer in [0, 2^32)) in Q29, written to CS[0], CS[1]. */
function cosSinInto(phi: number): void {
  const q = phi >>> 30;
  const w = phi & 0x3fffffff;
  const j = w >>> 23;
  const rho = w & 0x7fffff;
  const ca = T_SIN[128 - j], sa = T_SIN[j];
  const h = roundShift(rho * EXPQ_HALFPI_Q28, 29); // the angle within the bin, rad in Q29 (< π/256)
  const h2 = roundShift(h * h, 29);
  const sh = h - roundShift(h * roundShift(h2 * EXPQ_C6_Q29, 29), 29); // sin h = h − h³/6
  const omc = roundShift(h2 * (268435456 - roundShift(h2 * EXPQ_C24_Q29, 29)), 29); // 1 − cos h = h²/2 − h⁴/24
  const c = ca - roundShift(ca * omc + sa * sh, 29);
  const s = sa + roundShift(ca * sh - sa * omc, 29);
  if (q === 0) {
    CS[0] = c;
    CS[1] = s;
  } else if (q === 1) {
    CS[0] = s === 0 ? 0 : -s;
    CS[1] = c;
  } else if (q === 2) {
    CS[0] = c === 0 ? 0 : -c;
    CS[1] = s === 0 ? 0 : -s;
  } else {
    CS[0] = s;
    CS[1] = c === 0 ? 0 : -c;
  }
}

/** [cos, sin] of 2π·φ/2^32 in Q29, φ an integer in [0, 2^32): the rotation's definition (QUANTIZATION.md). */
export function cosSinTurnQ29(phi: number): [number, number] {
  if (!(Number.isInteger(phi) && phi >= 0 && phi < TWO32)) throw new RangeError(`phase ${phi} is not an integer in [0, 2^32)`);
  cosSinInto(phi);
  return [CS[0], CS[1]];
}

/** The phase of |m|·dt·2^−s turns as φ ∈ [0, 2^32) (2^−32 turn units): round(P·2^(32−s)) mod 2^32, P = |m|·dt. */
export function phaseQ32(dt: number, m: number, s: number): number {
  const p = Math.abs(m) * dt;
  if (s >= 32) {
    const t = roundShift(p, s - 32);
    return t - Math.floor(t / TWO32) * TWO32;
  }
  return (p % POW2[s]) * POW2[32 - s];
}

// The octave split of P = m·dt (m ≥ 0): n = ⌊T / 2^30⌋ and fq = T mod 2^30 with T = round(P·2^(30−s)) (one
// rounding, s ≥ 30; exact for s < 30). Written to SPLIT[0], SPLIT[1].
const SPLIT = new Float64Array(2);
function octaveSplit(dt: number, m: number, s: number): void {
  const p = m * dt;
  if (s >= 30) {
    const t = roundShift(p, s - 30);
    const n = Math.floor(t / TWO30);
    SPLIT[0] = n;
    SPLIT[1] = t - n * TWO30;
  } else {
    const n = Math.floor(p / POW2[s]);
    SPLIT[0] = n;
    SPLIT[1] = (p - n * POW2[s]) * POW2[30 - s];
  }
}

/**
 * The real decay 2^(−α·dt) = exp(Re(Λ)·step·Δt) rounded to `frac` fractional bits (default Q15; in [0, 2^frac],
 * dt = 0 gives exactly 2^frac): roundShift(M, 29 − frac + n) with n, M the octave split and 2^(−f) above (a shift of −1,
 * frac 30 and n 0, doubles M exactly); 0 when n ≥ frac + 2 (what the rounding gives: M / 2^(31) ≤ 1/4).
 */
export function expDecayQ(dt: number, alpha: RateQ, frac = EXPQ_FRAC_DEFAULT): number {
  checkDt(dt);
  checkRate(alpha.m, alpha.s, "α");
  checkFrac(frac);
  if (alpha.m < 0) throw new RangeError(`α mantissa ${alpha.m} must be ≥ 0 (a decay)`);
  octaveSplit(dt, alpha.m, alpha.s);
  const n = SPLIT[0];
  if (n >= frac + 2) return 0;
  const sh = 29 - frac + n; // −1 only for frac 30 and n 0: an exact doubling
  return sh < 0 ? pow2NegQ29(SPLIT[1]) * 2 : roundShift(pow2NegQ29(SPLIT[1]), sh);
}

/**
 * Λ̄ = 2^(−α·dt)·(cos + i·sin)(2π·β·dt) into out[o] (real part) and out[o + 1] (imaginary part), each rounded
 * to `frac` fractional bits (1 … 30) and in [−2^frac, 2^frac]; dt = 0 gives exactly (2^frac, 0). Arguments as
 * the IR would hold them: α = am·2^−as (am ≥ 0), β = bm·2^−bs; no argument checks (see complexDecayQ).
 *   (n, fq) = octave split of am·dt;  φ = phaseQ32(dt, bm, bs);  (c, s) = cosSin(φ) in Q29
 *   M26 = roundShift(pow2NegQ29(fq), 3);  C26 = roundShift(c, 3);  S26 = roundShift(s, 3)
 *   re = roundShift(M26·C26, 52 − frac + n);  im = sign(bm)·roundShift(M26·S26, 52 − frac + n)    (both 0 when n ≥ frac + 2)
 */
export function complexDecayInto(out: { [i: number]: number }, o: number, dt: number, am: number, as: number, bm: number, bs: number, frac = EXPQ_FRAC_DEFAULT): void {
  octaveSplit(dt, am, as);
  const n = SPLIT[0];
  if (n >= frac + 2) {
    out[o] = 0;
    out[o + 1] = 0;
    return;
  }
  const m26 = roundShift(pow2NegQ29(SPLIT[1]), 3);
  cosSinInto(phaseQ32(dt, bm, bs));
  const sh = 52 - frac + n;
  const re = roundShift(m26 * roundShift(CS[0], 3), sh);
  const im = roundShift(m26 * roundShift(CS[1], 3), sh);
  out[o] = re;
  out[o + 1] = bm < 0 && im !== 0 ? -im : im;
}

/** complexDecayInto with checked arguments, returning [re, im] (Q`frac`, default Q15). */
export function complexDecayQ(dt: number, alpha: RateQ, beta: RateQ, frac = EXPQ_FRAC_DEFAULT): [number, number] {
  checkDt(dt);
  checkRate(alpha.m, alpha.s, "α");
  checkRate(beta.m, beta.s, "β");
  checkFrac(frac);
  if (alpha.m < 0) throw new RangeError(`α mantissa ${alpha.m} must be ≥ 0 (a decay)`);
  const out: [number, number] = [0, 0];
  complexDecayInto(out, 0, dt, alpha.m, alpha.s, beta.m, beta.s, frac);
  return out;
}

const L30 = new Float64Array(2);

/**
 * The zoh input gain γ = (Λ̄ − 1)·κ, κ = (kre + i·kim)·2^−ks ≈ 1/Λ, into out[o], out[o + 1] with `gFrac`
 * fractional bits: Λ̄ is taken in Q30 (complexDecayInto with frac 30), then with S = 30 + ks − gFrac
 * (0 ≤ S ≤ 62) γ_re = sat32(roundShift((L_re − 2^30)·kre − L_im·kim, S)), γ_im = sat32(roundShift((L_re − 2^30)·kim + L_im·kre, S)).
 * |Λ̄ − 1| ≤ 2 and |κ parts| < 2^20 keep each sum below 2^52. dt = 0 gives exactly 0. No argument checks.
 */
export function zohGainInto(out: { [i: number]: number }, o: number, dt: number, am: number, as: number, bm: number, bs: number, kre: number, kim: number, ks: number, gFrac: number): void {
  complexDecayInto(L30, 0, dt, am, as, bm, bs, 30);
  const dre = L30[0] - TWO30, dim = L30[1];
  const S = 30 + ks - gFrac;
  out[o] = sat32(roundShift(dre * kre - dim * kim, S));
  out[o + 1] = sat32(roundShift(dre * kim + dim * kre, S));
}

/** zohGainInto with checked arguments, returning [re, im] with gFrac fractional bits. */
export function zohGainQ(dt: number, alpha: RateQ, beta: RateQ, kappa: ComplexConstQ, gFrac: number): [number, number] {
  checkDt(dt);
  checkRate(alpha.m, alpha.s, "α");
  checkRate(beta.m, beta.s, "β");
  if (alpha.m < 0) throw new RangeError(`α mantissa ${alpha.m} must be ≥ 0 (a decay)`);
  const lim = 2 ** EXPQ_KAPPA_BITS;
  if (!(Number.isInteger(kappa.re) && Number.isInteger(kappa.im) && Math.abs(kappa.re) < lim && Math.abs(kappa.im) < lim)) {
    throw new RangeError(`κ parts ${kappa.re}, ${kappa.im} must be integers below 2^${EXPQ_KAPPA_BITS} in magnitude`);
  }
  const S = 30 + kappa.s - gFrac;
  if (!(Number.isInteger(S) && S >= 0 && S <= EXPQ_SHIFT_MAX)) throw new RangeError(`zoh gain shift 30 + ${kappa.s} − ${gFrac} = ${S} is outside 0 … ${EXPQ_SHIFT_MAX}`);
  const out: [number, number] = [0, 0];
  zohGainInto(out, 0, dt, alpha.m, alpha.s, beta.m, beta.s, kappa.re, kappa.im, kappa.s, gFrac);
  return out;
}
