// The per-event complex decay of runtime/fixed/expq.ts (QUANTIZATION.md, "Per-event decay") written in C, for
// the generated .cu file: the same integer steps, the same constant tables (printed from the TypeScript
// arrays, so the two cannot drift apart), int64 arithmetic throughout. The source needs the prelude's
// nmc_i64, nmc_round_shift and nmc_sat32 (targets/cuda/prelude.ts), so it goes after CUDA_PRELUDE. Tested
// bit for bit against runtime/fixed on random inputs in the emulation build (test/runtime/fixed-exp.test.ts).
//
// The tables exist twice: a __device__ copy for device code and a static copy for host code (a __host__
// __device__ function may read only the copy of its own side; nmc_expq_pow2 / nmc_expq_sin pick it; the host
// copy is left out of nvcc's device pass). In the emulation build __device__ is empty and the host copy is read.
import {
  EXPQ_C24_Q29, EXPQ_C6_Q29, EXPQ_C6_Q30, EXPQ_HALFPI_Q28, EXPQ_LN2_Q29, EXPQ_POW2_Q29, EXPQ_SIN_Q29,
} from "../../runtime/fixed/expq.js";

function table(name: string, values: readonly number[], qualifier: string): string {
  const rows: string[] = [];
  for (let i = 0; i < values.length; i += 10) rows.push(`  ${values.slice(i, i + 10).join(", ")},`);
  return `${qualifier} const int32_t ${name}[${values.length}] = {\n${rows.join("\n")}\n};`;
}

/**
 * The C source of the per-event decay: nmc_expq_pow2_q29, nmc_expq_cossin_q29, nmc_expq_phase_q32,
 * nmc_expq_exp (the real decay), nmc_expq_decay (Λ̄) and nmc_expq_zoh_gain (γ), each the function of
 * runtime/fixed/expq.ts of the same name. No argument checks (the TypeScript *Q functions state the ranges).
 */
export function renderExpDecayCuda(): string {
  return `// ---- per-event complex decay: runtime/fixed/expq.ts, QUANTIZATION.md "Per-event decay" ----
${table("nmc_expq_pow2_d", EXPQ_POW2_Q29, "__device__")}
${table("nmc_expq_sin_d", EXPQ_SIN_Q29, "__device__")}
#ifndef __CUDA_ARCH__
${table("nmc_expq_pow2_h", EXPQ_POW2_Q29, "static")}
${table("nmc_expq_sin_h", EXPQ_SIN_Q29, "static")}
#endif
// round(2^29 * 2^(-i/128)) and round(2^29 * sin(j*pi/256)) from this side's copy.
__host__ __device__ inline nmc_i64 nmc_expq_pow2(int i) {
#ifdef __CUDA_ARCH__
  return nmc_expq_pow2_d[i];
#else
  return nmc_expq_pow2_h[i];
#endif
}
__host__ __device__ inline nmc_i64 nmc_expq_sin(int j) {
#ifdef __CUDA_ARCH__
  return nmc_expq_sin_d[j];
#else
  return nmc_expq_sin_h[j];
#endif
}
// 2^(-fq/2^30) in Q29 for 0 <= fq < 2^30: table entry times 1 - (1 - e^-y), y = (fq mod 2^23) * ln 2 / 2^30.
__host__ __device__ inline nmc_i64 nmc_expq_pow2_q29(nmc_i64 fq) {
  const nmc_i64 r = fq & 0x7FFFFF;
  const nmc_i64 y = nmc_round_shift(r * ${EXPQ_LN2_Q29}LL, 29);
  const nmc_i64 t2 = 536870912LL - nmc_round_shift(y * ${EXPQ_C6_Q30}LL, 30);
  const nmc_i64 d = y - nmc_round_shift(y * nmc_round_shift(y * t2, 30), 30);
  const nmc_i64 t = nmc_expq_pow2((int)(fq >> 23));
  return t - nmc_round_shift(t * d, 30);
}
// cos and sin of 2*pi*phi/2^32 (0 <= phi < 2^32) in Q29: quarter-turn table plus the rotation by the rest h.
__host__ __device__ inline void nmc_expq_cossin_q29(nmc_i64 phi, nmc_i64* cos_out, nmc_i64* sin_out) {
  const int q = (int)(phi >> 30);
  const nmc_i64 w = phi & 0x3FFFFFFF;
  const int j = (int)(w >> 23);
  const nmc_i64 rho = w & 0x7FFFFF;
  const nmc_i64 ca = nmc_expq_sin(128 - j), sa = nmc_expq_sin(j);
  const nmc_i64 h = nmc_round_shift(rho * ${EXPQ_HALFPI_Q28}LL, 29);
  const nmc_i64 h2 = nmc_round_shift(h * h, 29);
  const nmc_i64 sh = h - nmc_round_shift(h * nmc_round_shift(h2 * ${EXPQ_C6_Q29}LL, 29), 29);
  const nmc_i64 omc = nmc_round_shift(h2 * (268435456LL - nmc_round_shift(h2 * ${EXPQ_C24_Q29}LL, 29)), 29);
  const nmc_i64 c = ca - nmc_round_shift(ca * omc + sa * sh, 29);
  const nmc_i64 s = sa + nmc_round_shift(ca * sh - sa * omc, 29);
  if (q == 0) { *cos_out = c; *sin_out = s; }
  else if (q == 1) { *cos_out = -s; *sin_out = c; }
  else if (q == 2) { *cos_out = -c; *sin_out = -s; }
  else { *cos_out = s; *sin_out = -c; }
}
// round(|m| * dt * 2^(32 - s)) mod 2^32: the phase of |m| * dt * 2^-s turns in units of 2^-32 turn.
__host__ __device__ inline nmc_i64 nmc_expq_phase_q32(nmc_i64 dt, nmc_i64 m, int s) {
  const nmc_i64 p = (m < 0 ? -m : m) * dt;
  if (s >= 32) return nmc_round_shift(p, s - 32) & 0xFFFFFFFFLL;
  return (p & (((nmc_i64)1 << s) - 1)) << (32 - s);
}
// n = floor(T / 2^30), fq = T mod 2^30 with T = round(m * dt * 2^(30 - s)) (exact for s < 30).
__host__ __device__ inline void nmc_expq_octaves(nmc_i64 dt, nmc_i64 m, int s, nmc_i64* n, nmc_i64* fq) {
  const nmc_i64 p = m * dt;
  if (s >= 30) {
    const nmc_i64 t = nmc_round_shift(p, s - 30);
    *n = t >> 30; *fq = t & 0x3FFFFFFF;
  } else {
    *n = p >> s; *fq = (p & (((nmc_i64)1 << s) - 1)) << (30 - s);
  }
}
// The real decay 2^(-am * dt * 2^-as) with frac fractional bits (1 ... 30).
__host__ __device__ inline nmc_i64 nmc_expq_exp(nmc_i64 dt, nmc_i64 am, int as, int frac) {
  nmc_i64 n, fq;
  nmc_expq_octaves(dt, am, as, &n, &fq);
  if (n >= frac + 2) return 0;
  return nmc_round_shift(nmc_expq_pow2_q29(fq), 29 - frac + (int)n);
}
// Lambda_bar = 2^(-am dt 2^-as) * (cos + i sin)(2 pi bm dt 2^-bs), each part with frac fractional bits (1 ... 30).
__host__ __device__ inline void nmc_expq_decay(nmc_i64 dt, nmc_i64 am, int as, nmc_i64 bm, int bs, int frac, nmc_i64* re, nmc_i64* im) {
  nmc_i64 n, fq, c, s;
  nmc_expq_octaves(dt, am, as, &n, &fq);
  if (n >= frac + 2) { *re = 0; *im = 0; return; }
  const nmc_i64 m26 = nmc_round_shift(nmc_expq_pow2_q29(fq), 3);
  nmc_expq_cossin_q29(nmc_expq_phase_q32(dt, bm, bs), &c, &s);
  const int sh = 52 - frac + (int)n;
  *re = nmc_round_shift(m26 * nmc_round_shift(c, 3), sh);
  const nmc_i64 v = nmc_round_shift(m26 * nmc_round_shift(s, 3), sh);
  *im = bm < 0 ? -v : v;
}
// zoh gain (Lambda_bar - 1) * kappa, kappa = (kre + i kim) 2^-ks ~ 1/Lambda, with gfrac fractional bits
// (0 <= 30 + ks - gfrac <= 62).
__host__ __device__ inline void nmc_expq_zoh_gain(nmc_i64 dt, nmc_i64 am, int as, nmc_i64 bm, int bs, nmc_i64 kre, nmc_i64 kim, int ks, int gfrac, nmc_i64* gre, nmc_i64* gim) {
  nmc_i64 lre, lim;
  nmc_expq_decay(dt, am, as, bm, bs, 30, &lre, &lim);
  const nmc_i64 dre = lre - 1073741824LL;
  const int sh = 30 + ks - gfrac;
  *gre = nmc_sat32(nmc_round_shift(dre * kre - lim * kim, sh));
  *gim = nmc_sat32(nmc_round_shift(dre * kim + lim * kre, sh));
}
`;
}
