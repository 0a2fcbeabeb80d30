// The per-event complex decay of runtime/fixed/expq.ts (QUANTIZATION.md, "Per-event decay"):
//  - its constant tables are the correctly rounded values they claim to be;
//  - the double arithmetic is exact: equal to a BigInt transcription of the definition on random inputs;
//  - its error against Math.exp/cos/sin stays within the bounds QUANTIZATION.md states (dense sweeps and
//    random draws): a regression of the kernels fails here;
//  - exact values where the definition promises them (dt = 0 → 1, sign symmetry, quarter turns, underflow);
//  - the C rendering (targets/cuda/fixed-exp.ts) equals it bit for bit in the emulation build (g++), and nvcc
//    compiles it as device code where nvcc is installed;
//  - the SpiNNaker 2 figures load with defaults and price one event as cost-exp.ts states.
// Random draws use fuzzParams (NMC_FUZZ_SEED reproduces a failure; NMC_FUZZ_RUNS sets their number).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  complexDecayInto, complexDecayQ, cosSinTurnQ29, decayConstants, EXPQ_C24_Q29, EXPQ_C6_Q29, EXPQ_C6_Q30, EXPQ_DT_MAX,
  EXPQ_HALFPI_Q28, EXPQ_LN2_Q29, EXPQ_POW2_Q29, EXPQ_SIN_Q29, expDecayQ, phaseQ32, pow2NegQ29, quantizeComplexConst,
  quantizeDt, quantizeRate, type RateQ, zohGainQ, zohKappa, cmulReQ15, cmulImQ15,
} from "../../runtime/fixed/index.js";
import { buildCuda, compilerAvailable, CUDA_PRELUDE } from "../../targets/cuda/index.js";
import { renderExpDecayCuda } from "../../targets/cuda/fixed-exp.js";
import { EXP_DECAY_DEFAULTS, parseHardware, SPINNAKER2 } from "../../targets/spinnaker2/chip.js";
import { expDecayCost, expDecayCycles } from "../../targets/spinnaker2/cost-exp.js";
import { fuzzParams } from "../support/fuzz.js";

// ---- the stated bounds (QUANTIZATION.md "Per-event decay", measured figures rounded up) ----
/** 2^(−f) in Q29, max |M − 2^29·2^(−f)| over all 2^30 inputs (measured exhaustively: 1.4553). */
const POW2_MAX_ERR_Q29 = 1.46;
/** cos/sin in Q29, max error (measured over all 2^30 phases of a quarter: 2.1517; analytic ≤ 2.27). */
const COSSIN_MAX_ERR_Q29 = 2.16;
/** Every part of Λ̄ with `frac` bits: |q/2^frac − exact| ≤ 2^−(frac+1) + ε (ε analytic: intermediates, phase and fraction rounding). */
const DECAY_EPS = 2.31e-8;
/** The real decay expDecayQ: ≤ 2^−(frac+1) + ε_exp. */
const EXP_EPS = 3.2e-9;

let cacheDir = "";
let savedCache: string | undefined;
beforeAll(() => {
  savedCache = process.env.NMC_CUDA_CACHE;
  cacheDir = mkdtempSync(join(tmpdir(), "nmc-expq-test-cache-"));
  process.env.NMC_CUDA_CACHE = cacheDir;
});
afterAll(() => {
  if (savedCache === undefined) delete process.env.NMC_CUDA_CACHE;
  else process.env.NMC_CUDA_CACHE = savedCache;
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
});

// ---- the definition again, in BigInt (a transcription of QUANTIZATION.md, independent of the doubles) ----

const B = BigInt;
function rsB(x: bigint, s: number): bigint {
  if (s === 0) return x;
  if (s < 0) return x << B(-s);
  const half = 1n << B(s - 1);
  return x >= 0n ? (x + half) >> B(s) : -((-x + half) >> B(s));
}
const mask = (bits: number) => (1n << B(bits)) - 1n;
function octB(dt: bigint, m: bigint, s: number): [bigint, bigint] {
  const p = m * dt;
  if (s >= 30) {
    const t = rsB(p, s - 30);
    return [t >> 30n, t & mask(30)];
  }
  return [p >> B(s), (p & mask(s)) << B(30 - s)];
}
function pow2B(fq: bigint): bigint {
  const i = Number(fq >> 23n), r = fq & mask(23);
  const y = rsB(r * B(EXPQ_LN2_Q29), 29);
  const t2 = (1n << 29n) - rsB(y * B(EXPQ_C6_Q30), 30);
  const d = y - rsB(y * rsB(y * t2, 30), 30);
  const t = B(EXPQ_POW2_Q29[i]);
  return t - rsB(t * d, 30);
}
function phaseB(dt: bigint, m: bigint, s: number): bigint {
  const p = (m < 0n ? -m : m) * dt;
  return s >= 32 ? rsB(p, s - 32) & mask(32) : (p & mask(s)) << B(32 - s);
}
function cosSinB(phi: bigint): [bigint, bigint] {
  const q = Number(phi >> 30n), w = phi & mask(30), j = Number(w >> 23n), rho = w & mask(23);
  const ca = B(EXPQ_SIN_Q29[128 - j]), sa = B(EXPQ_SIN_Q29[j]);
  const h = rsB(rho * B(EXPQ_HALFPI_Q28), 29);
  const h2 = rsB(h * h, 29);
  const sh = h - rsB(h * rsB(h2 * B(EXPQ_C6_Q29), 29), 29);
  const omc = rsB(h2 * ((1n << 28n) - rsB(h2 * B(EXPQ_C24_Q29), 29)), 29);
  const c = ca - rsB(ca * omc + sa * sh, 29);
  const s = sa + rsB(ca * sh - sa * omc, 29);
  return q === 0 ? [c, s] : q === 1 ? [-s, c] : q === 2 ? [-c, -s] : [s, -c];
}
function decayB(dt: number, am: number, as: number, bm: number, bs: number, frac: number): [number, number] {
  const [n, fq] = octB(B(dt), B(am), as);
  if (n >= B(frac + 2)) return [0, 0];
  const m26 = rsB(pow2B(fq), 3);
  const [c, s] = cosSinB(phaseB(B(dt), B(bm), bs));
  const sh = 52 - frac + Number(n);
  const im = rsB(m26 * rsB(s, 3), sh);
  return [Number(rsB(m26 * rsB(c, 3), sh)), Number(bm < 0 ? -im : im) + 0];
}
function expB(dt: number, am: number, as: number, frac: number): number {
  const [n, fq] = octB(B(dt), B(am), as);
  if (n >= B(frac + 2)) return 0;
  return Number(rsB(pow2B(fq), 29 - frac + Number(n)));
}
const sat32B = (x: bigint) => (x > 2147483647n ? 2147483647n : x < -2147483648n ? -2147483648n : x);
function zohB(dt: number, am: number, as: number, bm: number, bs: number, kre: number, kim: number, ks: number, g: number): [number, number] {
  const [lre, lim] = decayB(dt, am, as, bm, bs, 30);
  const dre = B(lre) - (1n << 30n), S = 30 + ks - g;
  return [Number(sat32B(rsB(dre * B(kre) - B(lim) * B(kim), S))) + 0, Number(sat32B(rsB(dre * B(kim) + B(lim) * B(kre), S))) + 0];
}

// ---- float references (from the quantized constants: the kernels' own error) ----

/** Exact octaves am·dt·2^−as and the exact fractional turn of |bm|·dt·2^−bs (both exact in a double). */
function reference(dt: number, am: number, as: number, bm: number, bs: number): [number, number] {
  const oct = (am * dt) / 2 ** as;
  const p = Math.abs(bm) * dt;
  const turn = bs <= 52 ? (p % 2 ** bs) / 2 ** bs : p / 2 ** bs;
  const mag = 2 ** -oct;
  const th = 2 * Math.PI * turn;
  return [mag * Math.cos(th), (bm < 0 ? -1 : 1) * mag * Math.sin(th)];
}

// ---- input generators ----

const bitLength = (x: number) => (x <= 0 ? 0 : Math.floor(Math.log2(x)) + 1);
const clampShift = (s: number) => Math.max(0, Math.min(62, s));

interface Case {
  dt: number;
  am: number;
  as: number;
  bm: number;
  bs: number;
  frac: number;
}

/** Random (dt, α, β, frac): shifts either anywhere or placed so that α·dt lands near 2^e octaves (e ≤ 5). */
const caseArb: fc.Arbitrary<Case> = fc.record({
  dt: fc.oneof(fc.integer({ min: 0, max: EXPQ_DT_MAX }), fc.integer({ min: 0, max: 300 }), fc.constantFrom(0, 1, 2, EXPQ_DT_MAX - 1, EXPQ_DT_MAX)),
  am: fc.oneof(fc.integer({ min: 0, max: 2 ** 24 - 1 }), fc.integer({ min: 2 ** 23, max: 2 ** 24 - 1 }), fc.constantFrom(0, 1, 2 ** 24 - 1)),
  bm: fc.oneof(fc.integer({ min: -(2 ** 24 - 1), max: 2 ** 24 - 1 }), fc.constantFrom(0, 1, -1, 2 ** 24 - 1, -(2 ** 24 - 1))),
  ea: fc.oneof(fc.integer({ min: -30, max: 5 }), fc.constant(999)),
  eb: fc.oneof(fc.integer({ min: -40, max: 30 }), fc.constant(999)),
  asAny: fc.integer({ min: 0, max: 62 }),
  bsAny: fc.integer({ min: 0, max: 62 }),
  frac: fc.oneof(fc.constant(15), fc.integer({ min: 1, max: 30 })),
}).map((r) => ({
  dt: r.dt, am: r.am, bm: r.bm, frac: r.frac,
  as: r.ea === 999 ? r.asAny : clampShift(bitLength(r.am * r.dt) - r.ea),
  bs: r.eb === 999 ? r.bsAny : clampShift(bitLength(Math.abs(r.bm) * r.dt) - r.eb),
}));

/**
 * The dense sweep: N events whose octaves run evenly over [0, 18] and whose turns run over [−40, 40) (a
 * low-discrepancy sequence), each with its own dt in [1, 2^28) and rates quantized by quantizeRate for it.
 */
function sweep(N: number): Case[] {
  const out: Case[] = [];
  for (let k = 0; k < N; k++) {
    const dt = 1 + Math.floor(((k * 0.6180339887498949) % 1) * (EXPQ_DT_MAX - 1));
    const a = quantizeRate((18 * k) / N / dt);
    const b = quantizeRate((((k * 0.7548776662466927) % 1) * 80 - 40) / dt);
    out.push({ dt, am: a.m, as: a.s, bm: b.m, bs: b.s, frac: 15 });
  }
  return out;
}

function decayErr(c: Case, frac = c.frac): number {
  const out = [0, 0];
  complexDecayInto(out, 0, c.dt, c.am, c.as, c.bm, c.bs, frac);
  const [re, im] = reference(c.dt, c.am, c.as, c.bm, c.bs);
  return Math.max(Math.abs(out[0] / 2 ** frac - re), Math.abs(out[1] / 2 ** frac - im));
}

// ---------------------------------------------------------------------------------------------------------

describe("fixed exp: constant tables are correctly rounded", () => {
  it("2^(−i/128) and sin(jπ/256) in Q29, ln 2, π/2 and the series constants (no value within 0.002 of a tie)", () => {
    expect(EXPQ_POW2_Q29).toHaveLength(128);
    expect(EXPQ_SIN_Q29).toHaveLength(129);
    for (let i = 0; i < 128; i++) {
      const v = 2 ** (29 - i / 128);
      expect(Math.abs((v % 1) - 0.5)).toBeGreaterThan(0.002);
      expect(EXPQ_POW2_Q29[i]).toBe(Math.round(v));
    }
    for (let j = 0; j <= 128; j++) {
      const v = Math.sin((j * Math.PI) / 256) * 2 ** 29;
      if (j > 0 && j < 128) expect(Math.abs((v % 1) - 0.5)).toBeGreaterThan(0.002);
      expect(EXPQ_SIN_Q29[j]).toBe(Math.round(v));
    }
    expect(EXPQ_SIN_Q29[128]).toBe(2 ** 29);
    expect(EXPQ_LN2_Q29).toBe(Math.round(Math.LN2 * 2 ** 29));
    expect(EXPQ_HALFPI_Q28).toBe(Math.round((Math.PI / 2) * 2 ** 28));
    expect([EXPQ_C6_Q30, EXPQ_C6_Q29, EXPQ_C24_Q29]).toEqual([Math.round(2 ** 30 / 6), Math.round(2 ** 29 / 6), Math.round(2 ** 29 / 24)]);
  });
});

describe("fixed exp: the double arithmetic is exact (= a BigInt transcription of the definition)", () => {
  it("Λ̄ (every frac), the real decay, the phase and the parts, on random inputs", () => {
    fc.assert(fc.property(caseArb, (c) => {
      const out = [0, 0];
      complexDecayInto(out, 0, c.dt, c.am, c.as, c.bm, c.bs, c.frac);
      expect(out).toEqual(decayB(c.dt, c.am, c.as, c.bm, c.bs, c.frac));
      expect(expDecayQ(c.dt, { m: c.am, s: c.as }, c.frac)).toBe(expB(c.dt, c.am, c.as, c.frac));
      expect(phaseQ32(c.dt, c.bm, c.bs)).toBe(Number(phaseB(B(c.dt), B(c.bm), c.bs)));
      const fq = Number(octB(B(c.dt), B(c.am), c.as)[1]);
      expect(pow2NegQ29(fq)).toBe(Number(pow2B(B(fq))));
      const phi = phaseQ32(c.dt, c.bm, c.bs);
      expect(cosSinTurnQ29(phi)).toEqual(cosSinB(B(phi)).map((v) => Number(v) + 0));
    }), fuzzParams());
  });

  it("the zoh gain, on random inputs and constants", () => {
    const arb = fc.record({
      c: caseArb,
      kre: fc.integer({ min: -(2 ** 20 - 1), max: 2 ** 20 - 1 }),
      kim: fc.integer({ min: -(2 ** 20 - 1), max: 2 ** 20 - 1 }),
      ks: fc.integer({ min: 0, max: 40 }),
      g: fc.integer({ min: 0, max: 40 }),
    }).filter((r) => 30 + r.ks - r.g >= 0 && 30 + r.ks - r.g <= 62);
    fc.assert(fc.property(arb, ({ c, kre, kim, ks, g }) => {
      const got = zohGainQ(c.dt, { m: c.am, s: c.as }, { m: c.bm, s: c.bs }, { re: kre, im: kim, s: ks }, g);
      expect(got).toEqual(zohB(c.dt, c.am, c.as, c.bm, c.bs, kre, kim, ks, g));
    }), fuzzParams());
  });
});

describe("fixed exp: error against Math.exp / cos / sin within the stated bounds", () => {
  it(`2^(−f) in Q29: ≤ ${POW2_MAX_ERR_Q29} units over a dense sweep of f (every 1021st of 2^30, and the bin ends)`, () => {
    let worst = 0;
    const check = (fq: number) => {
      worst = Math.max(worst, Math.abs(pow2NegQ29(fq) - 2 ** (29 - fq / 2 ** 30)));
    };
    for (let fq = 0; fq < 2 ** 30; fq += 1021) check(fq);
    for (let i = 0; i < 128; i++) for (const d of [0, 1, 2 ** 23 - 2, 2 ** 23 - 1]) check(i * 2 ** 23 + d);
    expect(worst).toBeLessThanOrEqual(POW2_MAX_ERR_Q29);
  });

  it(`cos, sin in Q29: ≤ ${COSSIN_MAX_ERR_Q29} units over a dense sweep of the phase; |parts| ≤ 2^29 + 1 (every φ of the last bin before each quarter)`, () => {
    let worst = 0;
    const check = (phi: number) => {
      const [c, s] = cosSinTurnQ29(phi);
      const a = (2 * Math.PI * phi) / 2 ** 32;
      worst = Math.max(worst, Math.abs(c - Math.cos(a) * 2 ** 29), Math.abs(s - Math.sin(a) * 2 ** 29));
    };
    for (let phi = 0; phi < 2 ** 32; phi += 7919) check(phi);
    for (let b = 0; b < 512; b++) for (const d of [0, 1, 2 ** 23 - 1]) check(b * 2 ** 23 + d);
    expect(worst).toBeLessThanOrEqual(COSSIN_MAX_ERR_Q29);
    // the only place a part comes near 2^29 from the rotation is the last bin of the quarter (j = 127): all of it
    let big = 0;
    for (let w = 127 * 2 ** 23; w < 2 ** 30; w++) {
      const [c, s] = cosSinTurnQ29(w);
      big = Math.max(big, Math.abs(c), Math.abs(s));
    }
    expect(big).toBeLessThanOrEqual(2 ** 29 + 1);
  });

  it("Λ̄ in Q15: ≤ 2^−16 + 2.31e−8 per part over a dense sweep (2^17 events: octaves 0 … 18, turns −40 … 40) and in Q30 ≤ 2^−31 + 2.31e−8", () => {
    let w15 = 0, w30 = 0;
    for (const c of sweep(2 ** 17)) {
      w15 = Math.max(w15, decayErr(c, 15));
      w30 = Math.max(w30, decayErr(c, 30));
    }
    expect(w15).toBeLessThanOrEqual(2 ** -16 + DECAY_EPS);
    expect(w30).toBeLessThanOrEqual(2 ** -31 + DECAY_EPS);
    expect(w15).toBeGreaterThan(0.45 * 2 ** -15); // the sweep does reach the final rounding's half LSB
  });

  it("Λ̄ at any frac, the real decay, random draws: ≤ 2^−(frac+1) + ε", () => {
    fc.assert(fc.property(caseArb, (c) => {
      expect(decayErr(c)).toBeLessThanOrEqual(2 ** -(c.frac + 1) + DECAY_EPS);
      const e = expDecayQ(c.dt, { m: c.am, s: c.as }, c.frac) / 2 ** c.frac - 2 ** -((c.am * c.dt) / 2 ** c.as);
      expect(Math.abs(e)).toBeLessThanOrEqual(2 ** -(c.frac + 1) + EXP_EPS);
    }), fuzzParams());
  });

  it("end to end from float Λ, step, Δt (rates quantized to 24 bits): ≤ 2^−16 + 2.31e−8 + 2^−24·(1/e + |θ|·e^ρ) + the Δt rounding's share", () => {
    fc.assert(fc.property(
      fc.double({ min: -4, max: -1e-4, noNaN: true }), fc.double({ min: -200, max: 200, noNaN: true }),
      fc.double({ min: 1e-3, max: 0.1, noNaN: true }), fc.double({ min: 0, max: 1000, noNaN: true }),
      (lre, lim, step, dtReal) => {
        const dtFrac = 10;
        const { alpha, beta } = decayConstants(lre, lim, step, dtFrac);
        const dt = quantizeDt(dtReal, dtFrac);
        const [re, im] = complexDecayQ(dt, alpha, beta);
        // the quantized Δt is the event's gap as the engines see it: compare with exp(Λ·step·dt·2^−dtFrac)
        const rho = lre * step * dt * 2 ** -dtFrac, th = lim * step * dt * 2 ** -dtFrac;
        const bound = 2 ** -16 + DECAY_EPS + 2 ** -24 * (1 / Math.E + Math.abs(th) * Math.exp(rho)) + 1e-12;
        expect(Math.abs(re / 2 ** 15 - Math.exp(rho) * Math.cos(th))).toBeLessThanOrEqual(bound);
        expect(Math.abs(im / 2 ** 15 - Math.exp(rho) * Math.sin(th))).toBeLessThanOrEqual(bound);
      },
    ), fuzzParams(500));
  });

  it("the zoh gain (Λ̄ − 1)/Λ: ≤ 2^−(g+1) + |κ|·(2^−30.5 + 3.3e−8) + the κ rounding's share, from float Λ, step, Δt", () => {
    fc.assert(fc.property(
      fc.double({ min: -4, max: -1e-3, noNaN: true }), fc.double({ min: -50, max: 50, noNaN: true }),
      fc.double({ min: 1e-3, max: 0.1, noNaN: true }), fc.double({ min: 0, max: 500, noNaN: true }),
      (lre, lim, step, dtReal) => {
        const dtFrac = 10, g = 20;
        const { alpha, beta } = decayConstants(lre, lim, step, dtFrac);
        const kappa = zohKappa(lre, lim);
        const dt = quantizeDt(dtReal, dtFrac);
        const [gre, gim] = zohGainQ(dt, alpha, beta, kappa, g);
        const [lr, li] = reference(dt, alpha.m, alpha.s, beta.m, beta.s);
        const kr = kappa.re / 2 ** kappa.s, ki = kappa.im / 2 ** kappa.s;
        const ere = (lr - 1) * kr - li * ki, eim = (lr - 1) * ki + li * kr;
        const bound = 2 ** -(g + 1) + Math.hypot(kr, ki) * (2 ** -30.5 + 3.3e-8) + 1e-12;
        expect(Math.abs(gre / 2 ** g - ere)).toBeLessThanOrEqual(bound);
        expect(Math.abs(gim / 2 ** g - eim)).toBeLessThanOrEqual(bound);
        // and the quantized κ is 1/Λ to 2^−20 of its larger part
        const d = lre * lre + lim * lim;
        expect(Math.abs(kr - lre / d)).toBeLessThanOrEqual(2 ** -(kappa.s + 1));
        expect(Math.abs(ki + lim / d)).toBeLessThanOrEqual(2 ** -(kappa.s + 1));
      },
    ), fuzzParams(500));
  });
});

describe("fixed exp: exact values", () => {
  const rates: RateQ[] = [{ m: 0, s: 0 }, { m: 1, s: 62 }, { m: 2 ** 24 - 1, s: 0 }, { m: 12582912, s: 40 }, { m: -(2 ** 24 - 1), s: 17 }];
  it("dt = 0 gives exactly (2^frac, 0) for every α, β and frac; the zoh gain is exactly 0", () => {
    for (const a of rates.filter((r) => r.m >= 0)) {
      for (const b of rates) {
        for (let frac = 1; frac <= 30; frac++) expect(complexDecayQ(0, a, b, frac)).toEqual([2 ** frac, 0]);
        expect(expDecayQ(0, a)).toBe(2 ** 15);
        expect(zohGainQ(0, a, b, { re: 12345, im: -54321, s: 20 }, 25)).toEqual([0, 0]);
      }
    }
  });

  it("Δt = 0 leaves a state unchanged: cmulQ15 by (2^15, 0) is the identity", () => {
    fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (x, y) => {
      const [c, d] = complexDecayQ(0, { m: 5, s: 3 }, { m: 7, s: 2 });
      expect([cmulReQ15(x, y, c, d), cmulImQ15(x, y, c, d)]).toEqual([x, y]);
    }), fuzzParams(200));
  });

  it("no decay and no rotation (α = β = 0) is 1 at every dt; −β mirrors the imaginary part exactly", () => {
    fc.assert(fc.property(caseArb, (c) => {
      expect(complexDecayQ(c.dt, { m: 0, s: c.as }, { m: 0, s: c.bs }, c.frac)).toEqual([2 ** c.frac, 0]);
      const [re, im] = complexDecayQ(c.dt, { m: c.am, s: c.as }, { m: c.bm, s: c.bs }, c.frac);
      expect(complexDecayQ(c.dt, { m: c.am, s: c.as }, { m: -c.bm, s: c.bs }, c.frac)).toEqual([re, im === 0 ? 0 : -im]);
    }), fuzzParams());
  });

  it("whole and quarter turns, whole octaves: exact powers of two and exact zeros", () => {
    const one = { m: 2 ** 23, s: 23 }; // 1 per quantum
    const quarter = { m: 2 ** 23, s: 25 }; // 1/4 turn per quantum
    expect(complexDecayQ(3, one, one)).toEqual([2 ** 12, 0]); // 2^−3, 3 whole turns
    expect(complexDecayQ(1, { m: 0, s: 0 }, quarter)).toEqual([0, 2 ** 15]);
    expect(complexDecayQ(2, { m: 0, s: 0 }, quarter)).toEqual([-(2 ** 15), 0]);
    expect(complexDecayQ(3, { m: 0, s: 0 }, quarter)).toEqual([0, -(2 ** 15)]);
    expect(complexDecayQ(1, one, { m: -(2 ** 23), s: 25 })).toEqual([0, -(2 ** 14)]);
    expect(cosSinTurnQ29(0)).toEqual([2 ** 29, 0]);
    expect(cosSinTurnQ29(2 ** 30)).toEqual([0, 2 ** 29]);
    expect(cosSinTurnQ29(2 ** 31)).toEqual([-(2 ** 29), 0]);
    expect(cosSinTurnQ29(3 * 2 ** 30)).toEqual([0, -(2 ** 29)]);
    expect(expDecayQ(16, one)).toBe(1); // 2^−16 in Q15 is half an LSB: rounds away from zero
    expect(expDecayQ(17, one)).toBe(0); // n = frac + 2: zero
    expect(complexDecayQ(17, one, { m: 0, s: 0 })).toEqual([0, 0]);
    expect(complexDecayQ(EXPQ_DT_MAX, { m: 2 ** 24 - 1, s: 0 }, { m: 2 ** 24 - 1, s: 0 })).toEqual([0, 0]);
  });

  it("magnitudes never exceed 2^frac and the decay is monotone in dt for a real mode", () => {
    const a = quantizeRate(0.001);
    let prev = Infinity;
    for (let dt = 0; dt < 20000; dt += 7) {
      const v = expDecayQ(dt, a);
      expect(v).toBeLessThanOrEqual(Math.min(prev, 2 ** 15));
      prev = v;
    }
  });
});

describe("fixed exp: quantizing the constants", () => {
  it("quantizeRate: 24-bit mantissas, relative error ≤ 2^−24, shifts in 0 … 62, refusals", () => {
    fc.assert(fc.property(fc.double({ min: 2 ** -38, max: 2 ** 23, noNaN: true }), fc.boolean(), (x, neg) => {
      const v = neg ? -x : x;
      const r = quantizeRate(v);
      expect(Math.abs(r.m)).toBeLessThan(2 ** 24);
      expect(Math.abs(r.m)).toBeGreaterThanOrEqual(2 ** 23);
      expect(r.s).toBeGreaterThanOrEqual(0);
      expect(r.s).toBeLessThanOrEqual(62);
      expect(Math.abs(r.m / 2 ** r.s - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -24);
    }), fuzzParams(500));
    expect(quantizeRate(0)).toEqual({ m: 0, s: 0 });
    expect(quantizeRate(2 ** -70).s).toBe(62);
    expect(() => quantizeRate(2 ** 24)).toThrow(RangeError);
    expect(() => quantizeRate(Number.NaN)).toThrow(RangeError);
    expect(() => decayConstants(0.1, 1, 0.01, 10)).toThrow(/decaying/);
    expect(quantizeComplexConst(0.5, -0.25)).toEqual({ re: 2 ** 19, im: -(2 ** 18), s: 20 });
    expect(() => zohKappa(0, 0)).toThrow(RangeError);
  });

  it("quantizeDt rounds ties away from zero and saturates at 2^28 − 1; the checked entry points refuse bad ranges", () => {
    expect(quantizeDt(2.5 / 1024, 10)).toBe(3);
    expect(quantizeDt(1e12, 10)).toBe(EXPQ_DT_MAX);
    expect(() => quantizeDt(-1, 10)).toThrow(RangeError);
    const a = { m: 3, s: 4 };
    expect(() => complexDecayQ(EXPQ_DT_MAX + 1, a, a)).toThrow(RangeError);
    expect(() => complexDecayQ(1, { m: -3, s: 4 }, a)).toThrow(RangeError);
    expect(() => complexDecayQ(1, { m: 2 ** 24, s: 4 }, a)).toThrow(RangeError);
    expect(() => complexDecayQ(1, a, { m: 3, s: 63 })).toThrow(RangeError);
    expect(() => complexDecayQ(1, a, a, 31)).toThrow(RangeError);
    expect(() => zohGainQ(1, a, a, { re: 2 ** 20, im: 0, s: 3 }, 10)).toThrow(RangeError);
    expect(() => zohGainQ(1, a, a, { re: 1, im: 0, s: 3 }, 40)).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------------------
// The C rendering
// ---------------------------------------------------------------------------------------------------------

const HAVE_CC = compilerAvailable("emulation");
const HAVE_NVCC = compilerAvailable("gpu");
const cc = (name: string) => (HAVE_CC ? name : `${name} — SKIPPED: neither g++ nor nvcc is installed`);

const HARNESS = String.raw`
int main(void) {
  char op[8];
  while (scanf("%7s", op) == 1) {
    if (op[0] == 'd') {
      long long dt, am, bm; int as, bs, frac; nmc_i64 re, im;
      if (scanf("%lld %lld %d %lld %d %d", &dt, &am, &as, &bm, &bs, &frac) != 6) return 2;
      nmc_expq_decay(dt, am, as, bm, bs, frac, &re, &im);
      printf("%lld %lld\n", (long long)re, (long long)im);
    } else if (op[0] == 'e') {
      long long dt, am; int as, frac;
      if (scanf("%lld %lld %d %d", &dt, &am, &as, &frac) != 4) return 2;
      printf("%lld\n", (long long)nmc_expq_exp(dt, am, as, frac));
    } else if (op[0] == 'z') {
      long long dt, am, bm, kre, kim; int as, bs, ks, g; nmc_i64 gre, gim;
      if (scanf("%lld %lld %d %lld %d %lld %lld %d %d", &dt, &am, &as, &bm, &bs, &kre, &kim, &ks, &g) != 9) return 2;
      nmc_expq_zoh_gain(dt, am, as, bm, bs, kre, kim, ks, g, &gre, &gim);
      printf("%lld %lld\n", (long long)gre, (long long)gim);
    } else if (op[0] == 'p') {
      long long fq;
      if (scanf("%lld", &fq) != 1) return 2;
      printf("%lld\n", (long long)nmc_expq_pow2_q29(fq));
    } else if (op[0] == 'c') {
      long long phi; nmc_i64 c, s;
      if (scanf("%lld", &phi) != 1) return 2;
      nmc_expq_cossin_q29(phi, &c, &s);
      printf("%lld %lld\n", (long long)c, (long long)s);
    } else return 2;
  }
  return 0;
}
`;

interface ZCase { c: Case; kre: number; kim: number; ks: number; g: number }
const zArb: fc.Arbitrary<ZCase> = fc.record({
  c: caseArb,
  kre: fc.integer({ min: -(2 ** 20 - 1), max: 2 ** 20 - 1 }),
  kim: fc.integer({ min: -(2 ** 20 - 1), max: 2 ** 20 - 1 }),
  ks: fc.integer({ min: 0, max: 40 }),
  g: fc.integer({ min: 0, max: 40 }),
}).filter((r) => 30 + r.ks - r.g >= 0 && 30 + r.ks - r.g <= 62);

/** Lines for the harness and what runtime/fixed says for each. */
function linesFor(cases: Case[], zs: ZCase[]): { input: string[]; want: string[] } {
  const input: string[] = [], want: string[] = [];
  const out = [0, 0];
  for (const c of cases) {
    input.push(`d ${c.dt} ${c.am} ${c.as} ${c.bm} ${c.bs} ${c.frac}`);
    complexDecayInto(out, 0, c.dt, c.am, c.as, c.bm, c.bs, c.frac);
    want.push(`${out[0]} ${out[1]}`);
    input.push(`e ${c.dt} ${c.am} ${c.as} ${c.frac}`);
    want.push(`${expDecayQ(c.dt, { m: c.am, s: c.as }, c.frac)}`);
    const fq = Number(octB(B(c.dt), B(c.am), c.as)[1]);
    input.push(`p ${fq}`);
    want.push(`${pow2NegQ29(fq)}`);
    const phi = phaseQ32(c.dt, c.bm, c.bs);
    input.push(`c ${phi}`);
    want.push(cosSinTurnQ29(phi).join(" "));
  }
  for (const z of zs) {
    const { c } = z;
    input.push(`z ${c.dt} ${c.am} ${c.as} ${c.bm} ${c.bs} ${z.kre} ${z.kim} ${z.ks} ${z.g}`);
    want.push(zohGainQ(c.dt, { m: c.am, s: c.as }, { m: c.bm, s: c.bs }, { re: z.kre, im: z.kim, s: z.ks }, z.g).join(" "));
  }
  return { input, want };
}

describe("fixed exp: the C rendering (targets/cuda/fixed-exp.ts) = runtime/fixed, bit for bit", () => {
  it.skipIf(!HAVE_CC)(cc("emulation build: the sweep, edge inputs and random draws (fast-check), in one process per batch"), () => {
    const exe = buildCuda(`${CUDA_PRELUDE}\n${renderExpDecayCuda()}\n${HARNESS}`, "emulation").exe;
    const run = (cases: Case[], zs: ZCase[]) => {
      const { input, want } = linesFor(cases, zs);
      const r = spawnSync(exe, [], { input: input.join("\n") + "\n", encoding: "utf8", maxBuffer: 256 << 20 });
      expect(r.status, r.stderr).toBe(0);
      const got = r.stdout.split("\n");
      for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) return `${input[i]}: C ${got[i]}, runtime/fixed ${want[i]}`;
      return null;
    };
    const edges: Case[] = [];
    for (const dt of [0, 1, 3, EXPQ_DT_MAX]) {
      for (const [am, as] of [[0, 0], [1, 62], [2 ** 24 - 1, 0], [2 ** 23, 23], [12582912, 40], [2 ** 24 - 1, 62]]) {
        for (const [bm, bs] of [[0, 0], [2 ** 23, 25], [-(2 ** 23), 25], [2 ** 24 - 1, 62], [-(2 ** 24 - 1), 0], [5, 31], [5, 32], [5, 33]]) {
          for (const frac of [1, 15, 30]) edges.push({ dt, am, as, bm, bs, frac });
        }
      }
    }
    expect(run([...edges, ...sweep(4096)], [])).toBeNull();
    let checked = 0;
    fc.assert(fc.property(fc.array(caseArb, { minLength: 200, maxLength: 400 }), fc.array(zArb, { minLength: 50, maxLength: 100 }), (cases, zs) => {
      checked += cases.length + zs.length;
      const m = run(cases, zs);
      if (m !== null) throw new Error(m);
    }), fuzzParams(10));
    expect(checked).toBeGreaterThan(2000);
  }, 240_000);

  it.skipIf(!HAVE_NVCC)(HAVE_NVCC ? "nvcc compiles it as device code (a kernel calling every function)" : "nvcc compiles it as device code — SKIPPED: nvcc is not installed", () => {
    const kernel = String.raw`
__global__ void nmc_expq_probe(const long long* in, long long* out) {
  nmc_i64 re, im, g0, g1, c, s;
  nmc_expq_decay(in[0], in[1], (int)in[2], in[3], (int)in[4], 15, &re, &im);
  nmc_expq_zoh_gain(in[0], in[1], (int)in[2], in[3], (int)in[4], in[5], in[6], 20, 24, &g0, &g1);
  nmc_expq_cossin_q29(in[7], &c, &s);
  out[0] = re; out[1] = im; out[2] = g0; out[3] = g1; out[4] = c + s + nmc_expq_exp(in[0], in[1], (int)in[2], 15) + nmc_expq_pow2_q29(in[8]);
}
int main(int argc, char** argv) {
  // host side: the same functions from host code (the static table copies)
  nmc_i64 re, im;
  nmc_expq_decay(argc, 3, 2, 5, 4, 15, &re, &im);
  if (argc > 99) { long long* d = 0; NMC_LAUNCH(nmc_expq_probe, dim3(1), dim3(1), d, d); }
  printf("%lld %lld\n", (long long)re, (long long)im);
  return 0;
}
`;
    const b = buildCuda(`${CUDA_PRELUDE}\n${renderExpDecayCuda()}\n${kernel}`, "gpu");
    const r = spawnSync(b.exe, [], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(complexDecayQ(1, { m: 3, s: 2 }, { m: 5, s: 4 }).join(" "));
  }, 240_000);
});

// ---------------------------------------------------------------------------------------------------------
// SpiNNaker 2 figures
// ---------------------------------------------------------------------------------------------------------

describe("fixed exp: SpiNNaker 2 cost of one per-event decay", () => {
  it("the figures are in the default description, and a description without them loads with the defaults", () => {
    for (const [k, f] of Object.entries(EXP_DECAY_DEFAULTS)) expect(SPINNAKER2.cycles[k as keyof typeof EXP_DECAY_DEFAULTS]).toEqual(f);
    const old = JSON.parse(JSON.stringify(SPINNAKER2));
    for (const k of Object.keys(EXP_DECAY_DEFAULTS)) delete old.cycles[k];
    delete old.energy.pj_per_exp_accel;
    const parsed = parseHardware(old);
    expect(parsed.cycles.exp_accel_latency).toEqual(SPINNAKER2.cycles.exp_accel_latency);
    expect(parsed.cycles.expq_sincos).toEqual(SPINNAKER2.cycles.expq_sincos);
    expect(parsed.energy.pj_per_exp_accel).toEqual(SPINNAKER2.energy.pj_per_exp_accel);
    expect(parseHardware(JSON.parse(JSON.stringify(SPINNAKER2)))).toEqual(SPINNAKER2);
  });

  it("per state: accelerator issue + max(latency, sin/cos) + combine; software: exp + sin/cos + combine; zoh adds its gain", () => {
    const c = SPINNAKER2.cycles;
    const acc = c.exp_accel_issue.value + Math.max(c.exp_accel_latency.value, c.expq_sincos.value) + c.expq_combine.value;
    const soft = c.expq_exp_soft.value + c.expq_sincos.value + c.expq_combine.value;
    expect(expDecayCost(SPINNAKER2, 64, { exp: "accelerator" })).toEqual({ cycles: 64 * acc, perState: acc, accelExps: 64, accelPj: 64 * SPINNAKER2.energy.pj_per_exp_accel.value });
    expect(expDecayCost(SPINNAKER2, 64)).toEqual(expDecayCost(SPINNAKER2, 64, { exp: "software" })); // the default: bit-exact
    expect(expDecayCycles(SPINNAKER2, 64, { exp: "software" })).toBe(64 * soft);
    expect(expDecayCycles(SPINNAKER2, 64, { exp: "software", zoh: true })).toBe(64 * (soft + c.expq_zoh_gain.value));
    expect(expDecayCost(SPINNAKER2, 3, { exp: "software" }).accelExps).toBe(0);
    expect(expDecayCycles(SPINNAKER2, 0)).toBe(0);
    expect([acc, soft]).toEqual([108, 135]); // the default figures (docs/hardware.md quotes them)
    // a slower accelerator than the ARM's sin/cos work shows on the critical path
    const slow = { ...SPINNAKER2, cycles: { ...c, exp_accel_latency: { ...c.exp_accel_latency, value: 100 } } };
    expect(expDecayCost(slow, 1, { exp: "accelerator" }).perState).toBe(c.exp_accel_issue.value + 100 + c.expq_combine.value);
    expect(() => expDecayCycles(SPINNAKER2, -1)).toThrow(RangeError);
  });
});
