// Discretization of the DiagonalSSM parameterizations into Λ̄ and B̄ (specs/models.md), in float64 so
// that the float IR carries them without a second rounding. Complex numbers as (re, im) pairs.

export interface Discretized {
  lambdaRe: Float64Array; // Λ̄ [P]
  lambdaIm: Float64Array;
  bRe: Float64Array; // B̄ [P, H]
  bIm: Float64Array;
}

interface BParams { B_re: Float32Array; B_im: Float32Array }

/** LRU (Orvieto et al. 2023): Λ̄ = exp(−exp(ν) + i·exp(θ)), B̄ = diag(exp(γ))·(B_re + i·B_im). */
export function discretizeLru(p: BParams & { nu_log: Float32Array; theta_log: Float32Array; gamma_log: Float32Array }, P: number, H: number): Discretized {
  const out = alloc(P, H);
  for (let k = 0; k < P; k++) {
    const mag = Math.exp(-Math.exp(p.nu_log[k]));
    const phase = Math.exp(p.theta_log[k]);
    out.lambdaRe[k] = mag * Math.cos(phase);
    out.lambdaIm[k] = mag * Math.sin(phase);
    const gamma = Math.exp(p.gamma_log[k]);
    for (let h = 0; h < H; h++) {
      out.bRe[k * H + h] = gamma * p.B_re[k * H + h];
      out.bIm[k * H + h] = gamma * p.B_im[k * H + h];
    }
  }
  return out;
}

/** S5 with zero-order hold (Smith et al. 2023): Δ = exp(log_step), Λ̄ = exp(ΛΔ), B̄ = ((Λ̄ − 1)/Λ) ⊙ B. */
export function discretizeS5(p: BParams & { Lambda_re: Float32Array; Lambda_im: Float32Array; log_step: Float32Array }, P: number, H: number): Discretized {
  const out = alloc(P, H);
  for (let k = 0; k < P; k++) {
    const a = p.Lambda_re[k];
    const b = p.Lambda_im[k];
    const step = Math.exp(p.log_step[k]);
    const mag = Math.exp(a * step);
    const lr = mag * Math.cos(b * step);
    const li = mag * Math.sin(b * step);
    out.lambdaRe[k] = lr;
    out.lambdaIm[k] = li;
    // (Λ̄ − 1) / Λ; its limit as Λ → 0 is Δ.
    const den = a * a + b * b;
    const cr = den === 0 ? step : ((lr - 1) * a + li * b) / den;
    const ci = den === 0 ? 0 : (li * a - (lr - 1) * b) / den;
    for (let h = 0; h < H; h++) {
      const br = p.B_re[k * H + h];
      const bi = p.B_im[k * H + h];
      out.bRe[k * H + h] = cr * br - ci * bi;
      out.bIm[k * H + h] = cr * bi + ci * br;
    }
  }
  return out;
}

function alloc(P: number, H: number): Discretized {
  return { lambdaRe: new Float64Array(P), lambdaIm: new Float64Array(P), bRe: new Float64Array(P * H), bIm: new Float64Array(P * H) };
}
