// The quantization op table: per population kind, what calibration records (beyond every population's
// output), how the kind's fixed-point formats are chosen from the calibrated ranges, and the integer tensors
// its quantized form holds (named and typed as IR_KINDS[kind].quantTensors says; the lookup tables are the
// ones requiredLuts names, built in quantize.ts). The rules are runtime/fixed/QUANTIZATION.md's.
import { activationLut, type PopOf } from "../../ir/kinds.js";
import { NmcError } from "../../ir/errors.js";
import type { FixedFormat, Population, PopulationKind, Tensor } from "../../ir/types.js";
import { roundHalfAway, toFixed } from "../../runtime/fixed/index.js";
import { decayConstants, EXPQ_DT_MAX, EXPQ_SHIFT_MAX, zohKappa } from "../../runtime/fixed/expq.js";
import { DT_FRAC_MAX, DT_FRAC_MIN, poolEpsQ } from "../../runtime/golden/event-kernels.js";
import type { StepView } from "../../runtime/float/interpreter.js";
import { sigmoid } from "../../runtime/float/math.js";
import {
  ACC_BITS, ACC_HEADROOM, fixedVector, fracFor, intTensor, MAX_FRAC, multiplierFor, OUT_BITS, Q14, weightArray,
} from "./fixed.js";
import { add, addAll, emptyStats, type PopulationRanges, type RangeStats } from "./ranges.js";

/** The formats chosen for a population, and the ranges and statistics they were fitted to (for the report). */
export interface Formats {
  fixed: FixedFormat;
  ranges: { out: number; acc: number | null; state: number | null };
  stats: { out: RangeStats; acc: RangeStats | null; state: RangeStats | null };
  /** Binary points a kind chooses per port beyond its FixedFormat (Multiply: its int16 operands `a`, `b`). */
  portFracs?: Record<string, number>;
}

/** What a kind's formats are chosen from. */
export interface FormatInputs {
  node: string;
  /** The calibration statistics, and the ranges read off them (the range mode applied). */
  r: PopulationRanges;
  R: { out: number; acc: number; state: number };
  /** The range of any other statistics (r.ports), read with the same range mode. */
  range(st: RangeStats): number;
  /**
   * The finest accumulator format whose requantization multipliers stay below 2^15 for every projection
   * into `port` (null: into any port).
   */
  maxFracFor(port: string | null): number;
  /** The formats of the populations before this one (graph order). */
  formats: ReadonlyMap<string, Formats>;
  stateBits: 16 | 32;
  /** The fewest fractional bits a lookup table's input may have (fixed.ts lutMinFrac of the lutBits option). */
  lutMinFrac: number;
  /** The largest weight integer, and the rounding shift of raw int16-weight sums (weight_bits − 8). */
  qmax: number;
  pre: number;
}

export interface TensorInputs {
  weightBits: 8 | 16;
  qmax: number;
  pre: number;
  /** The formats chosen for the population (QuantOp.formats). */
  formats: Formats;
}

export interface QuantOp<K extends PopulationKind> {
  /** Calibration: records what the kind's integers will hold beyond its output (accumulators, state). */
  observe(p: PopOf<K>, r: PopulationRanges, v: StepView): void;
  /** Its output is Q14 whatever the calibration says (gate and table outputs, one-hot tokens). */
  q14Out(p: PopOf<K>): boolean;
  /** Throws when the population has no quantized form. */
  check(p: PopOf<K>, node: string): void;
  formats(p: PopOf<K>, c: FormatInputs): Formats;
  /** The fractional bits of a port's accumulator: the projections into it are requantized to it. */
  portFrac(fx: FixedFormat, port: string, p: PopOf<K>): number;
  /** The quantized tensors, in the order they are stored. */
  tensors(p: PopOf<K>, fx: FixedFormat, c: TensorInputs): Record<string, Tensor>;
  /**
   * Whether its output can clip its int16 format (reported): not a Readout's, whose value is an int32
   * running sum of its source's outputs in the source's format.
   */
  outClips: boolean;
}

const newFixed = (): FixedFormat => ({ outFrac: 0, accFrac: 0, stateFrac: 0, stateBits: 0, readFrac: 0 });
const noCheck = (_p: Population): void => {};
/** Event time: the Δt quanta's dt_frac and the largest sequence duration (ms) calibrated, from the input's formats. */
function timeFormat(formats: ReadonlyMap<string, Formats>): { dtFrac: number; dtMax: number } {
  for (const f of formats.values()) if (f.portFracs?.dt !== undefined) return { dtFrac: f.portFracs.dt, dtMax: f.portFracs.dt_max ?? 0 };
  throw new NmcError("internal: an event-time population is quantized before its event-time input");
}
/**
 * dt_frac (QUANTIZATION.md "Event time"): the finest quantum 2^−dt_frac (0 … 24) at which the longest calibrated
 * sequence, Σ Δt, still fits 2^28 − 1 quanta, so that every group sum and the timepool total stay below it.
 */
export function chooseDtFrac(maxTotalMs: number): number {
  if (!(maxTotalMs > 0)) return DT_FRAC_MAX;
  return Math.max(DT_FRAC_MIN, Math.min(DT_FRAC_MAX, Math.floor(Math.log2(EXPQ_DT_MAX / maxTotalMs))));
}
const accPorts = (fx: FixedFormat): number => fx.accFrac;
const q14Dense = (p: PopOf<"Dense">): boolean => p.activation === "sigmoid" || p.activation === "tanh";
/** A Dense that reads a lookup table needs lutMinFrac bits in its accumulator. */
const lutDense = (p: PopOf<"Dense">): boolean => activationLut(p.activation) !== undefined;

export const QUANT_OPS: { [K in PopulationKind]: QuantOp<K> } = {
  Input: {
    observe: () => {},
    q14Out: (p) => p.encoding === "tokens",
    check: noCheck,
    formats(p, { R, r }) {
      const fixed = newFixed();
      fixed.outFrac = p.encoding === "tokens" ? Q14 : fracFor(R.out, OUT_BITS, 0, Q14);
      fixed.accFrac = fixed.outFrac;
      // Event time: calibrate.ts records each sequence's total Σ Δt (ms) as r.ports.dt.
      const time = p.eventTime ? { portFracs: { dt: chooseDtFrac(r.ports?.dt?.max ?? 0), dt_max: r.ports?.dt?.max ?? 0 } } : {};
      return { fixed, ranges: { out: R.out, acc: null, state: null }, stats: { out: r.out, acc: null, state: null }, ...time };
    },
    portFrac: accPorts,
    tensors: (p, _fx, { formats }): Record<string, Tensor> => (p.eventTime ? { dt_frac: intTensor(Int32Array.of(formats.portFracs!.dt), [1]) } : {}),
    outClips: true,
  },
  EGRU: {
    observe(p, r, v) {
      const H = p.size;
      const vx = v.ports.input, vh = v.ports.recurrent;
      addAll(r.acc, vx);
      addAll(r.acc, vh);
      for (let i = 0; i < H; i++) {
        add(r.acc, vx[i] + vh[i]);
        add(r.acc, vx[H + i] + vh[H + i]);
        add(r.acc, vx[2 * H + i] + sigmoid(vx[H + i] + vh[H + i]) * vh[2 * H + i]);
      }
    },
    q14Out: () => true,
    check: noCheck,
    formats(_p, { R, r, maxFracFor, lutMinFrac }) {
      const fixed = newFixed();
      fixed.outFrac = Q14;
      fixed.accFrac = Math.max(lutMinFrac, Math.min(maxFracFor(null), fracFor(R.acc, ACC_BITS, ACC_HEADROOM, 24)));
      return { fixed, ranges: { out: R.out, acc: R.acc, state: null }, stats: { out: r.out, acc: r.acc, state: null } };
    },
    portFrac: accPorts,
    tensors(p, fx) {
      const t = p.tensors;
      const thr = t.thr.data.map((v) => Math.min(1, Math.max(0, v)));
      return {
        bias_x: fixedVector(t.bias_x, fx.accFrac, 32),
        bias_h: fixedVector(t.bias_h, fx.accFrac, 32),
        thr: fixedVector({ ...t.thr, data: thr }, Q14, 16),
      };
    },
    outClips: true,
  },
  DiagonalSSM: {
    observe(p, r, v) {
      if (p.discretization !== undefined) {
        eventSsmObserve(r, v);
        return;
      }
      const skip = v.ports.skip;
      addAll(r.acc, v.out);
      addAll(r.acc, skip);
      for (let i = 0; i < skip.length; i++) add(r.acc, v.out[i] - skip[i]);
      for (const x of v.state) addAll(r.state, x);
      addAll(r.state, v.ports.u);
    },
    q14Out: () => false,
    check: noCheck,
    formats: (p, c) => (p.discretization !== undefined ? eventSsmFormats(p, c) : ssmFormats(p, c)),
    // The state is fed directly: B̄u arrives in the state's own format (event time: B̃u in acc_frac, as skip).
    portFrac: (fx, port, p) => (port === "u" && p.discretization === undefined ? fx.stateFrac : fx.accFrac),
    tensors: (p, fx, c) => (p.discretization !== undefined ? eventSsmTensors(p, fx, c) : ssmTensors(p, fx, c)),
    outClips: true,
  },
  Dense: {
    observe: (_p, r, v) => addAll(r.acc, v.ports.x),
    q14Out: q14Dense,
    check(p, node) {
      noCheck(p);
      if (p.activation === "softmax") {
        throw new NmcError(`${node} ends in softmax, which has no quantized form`, {
          node, hint: "give the layer a linear activation (the logits: argmax and a mean readout of them are what classification needs)",
        });
      }
    },
    formats(p, { R, r, maxFracFor, lutMinFrac }) {
      const fixed = newFixed();
      fixed.accFrac = Math.min(maxFracFor(null), fracFor(R.acc, ACC_BITS, ACC_HEADROOM, 24));
      if (lutDense(p)) fixed.accFrac = Math.max(lutMinFrac, fixed.accFrac);
      fixed.outFrac = q14Dense(p) ? Q14 : Math.min(fixed.accFrac, fracFor(R.out, OUT_BITS, 0, Q14));
      return { fixed, ranges: { out: R.out, acc: R.acc, state: null }, stats: { out: r.out, acc: r.acc, state: null } };
    },
    portFrac: accPorts,
    tensors: (p, fx) => ({ bias: fixedVector(p.tensors.bias, fx.accFrac, 32) }),
    outClips: true,
  },
  Readout: {
    observe: () => {},
    q14Out: () => false,
    check: noCheck,
    formats(p, { R, r, formats, node }) {
      const src = formats.get(p.source);
      if (!src) throw new NmcError(`readout ${p.name} reads ${p.source}, which is not quantized before it`, { node });
      const fixed = newFixed();
      fixed.outFrac = src.fixed.outFrac;
      fixed.accFrac = src.fixed.outFrac;
      const time = p.mode === "timepool" ? { portFracs: { dt: timeFormat(formats).dtFrac } } : {};
      return { fixed, ranges: { out: R.out, acc: null, state: null }, stats: { out: r.out, acc: null, state: null }, ...time };
    },
    portFrac: accPorts,
    // timepool: ε = 1e−6 ms in Δt quanta (event-kernels.ts poolEpsQ).
    tensors: (p, _fx, { formats }): Record<string, Tensor> => (p.mode === "timepool" ? { eps_q: intTensor(Int32Array.of(poolEpsQ(formats.portFracs!.dt)), [1]) } : {}),
    outClips: false,
  },
  // Calibration records each operand's port sums apart (r.ports.a, r.ports.b) and both in acc.
  Multiply: {
    observe(_p, r, v) {
      const st = (r.ports ??= { a: emptyStats(), b: emptyStats() });
      const a = v.ports.a, b = v.ports.b;
      addAll(st.a, a);
      addAll(st.b, b);
      addAll(r.acc, a);
      addAll(r.acc, b);
    },
    q14Out: () => false,
    check: noCheck,
    formats: multiplyFormats,
    portFrac: accPorts,
    tensors: (_p, _fx, { formats }) => ({
      frac_a: intTensor(Int32Array.of(formats.portFracs!.a), [1]),
      frac_b: intTensor(Int32Array.of(formats.portFracs!.b), [1]),
    }),
    outClips: true,
  },
  // Calibration records the port sums x (r.ports.x, and in acc): x is brought to int16 at its own binary point.
  LayerNorm: {
    observe(_p, r, v) {
      const st = (r.ports ??= { x: emptyStats() });
      addAll(st.x, v.ports.x);
      addAll(r.acc, v.ports.x);
    },
    q14Out: () => false,
    check: noCheck,
    formats: layerNormFormats,
    portFrac: accPorts,
    tensors: (p, fx, { formats }) => {
      const fg = formats.portFracs!.g, fxq = formats.portFracs!.x;
      const g = p.tensors.gamma.data;
      return {
        gamma: intTensor(Int32Array.from({ length: p.size }, (_, i) => toFixed(Number(g[i]), fg, 16)), [p.size], fg),
        beta: fixedVector(p.tensors.beta, fx.outFrac, 32),
        frac_x: intTensor(Int32Array.of(fxq), [1]),
        frac_g: intTensor(Int32Array.of(fg), [1]),
        eps_q: intTensor(Int32Array.of(layerNormEpsQ(p.epsilon, fxq)), [1]),
      };
    },
    outClips: true,
  },
  // Port x in acc_frac; the output (the pooled values) in out_frac ≤ acc_frac (event-kernels.ts eventPoolUnits).
  EventPooling: {
    observe: (_p, r, v) => addAll(r.acc, v.ports.x),
    q14Out: () => false,
    check: noCheck,
    formats(p, { R, r, maxFracFor, formats }) {
      const fixed = newFixed();
      fixed.accFrac = Math.min(maxFracFor(null), fracFor(Math.max(R.acc, R.out), ACC_BITS, ACC_HEADROOM, 24));
      fixed.outFrac = Math.min(fixed.accFrac, fracFor(Math.max(R.out, R.acc), OUT_BITS, 0, Q14));
      const time = p.mode === "timepool" ? { portFracs: { dt: timeFormat(formats).dtFrac } } : {};
      return { fixed, ranges: { out: R.out, acc: R.acc, state: null }, stats: { out: r.out, acc: r.acc, state: null }, ...time };
    },
    portFrac: accPorts,
    tensors: (p, _fx, { formats }): Record<string, Tensor> => (p.mode === "timepool" ? { eps_q: intTensor(Int32Array.of(poolEpsQ(formats.portFracs!.dt)), [1]) } : {}),
    outClips: true,
  },
};

/** ε in the variance's format (2·frac_x fractional bits), at least 1 so that the square root is never of 0. */
export function layerNormEpsQ(epsilon: number, fracX: number): number {
  return Math.max(1, roundHalfAway(epsilon * 4 ** fracX));
}

/**
 * LayerNorm (QUANTIZATION.md): the port in acc_frac (int32); x to int16 at frac_x, the finest binary point
 * covering its range (≤ acc_frac, and coarse enough that eps_q = ε·4^frac_x stays below 2^31); γ to int16 at
 * frac_g ≤ 14, the finest that holds max |γ|; the output format covers the output's range, at most frac_g + 14.
 */
function layerNormFormats(p: PopOf<"LayerNorm">, { R, r, maxFracFor, range }: FormatInputs): Formats {
  const fixed = newFixed();
  fixed.accFrac = Math.min(maxFracFor(null), fracFor(R.acc, ACC_BITS, ACC_HEADROOM, 24));
  let fx = Math.max(0, Math.min(fixed.accFrac, fracFor(r.ports?.x ? range(r.ports.x) : 0, OUT_BITS, 0, Q14)));
  while (fx > 0 && layerNormEpsQ(p.epsilon, fx) > 0x7fffffff) fx--;
  if (layerNormEpsQ(p.epsilon, fx) > 0x7fffffff) {
    throw new NmcError(`LayerNorm ${p.name}: epsilon ${p.epsilon} is beyond its integer form`, {
      node: p.name, expected: "epsilon < 2^31 (eps_q = round(ε · 4^frac_x) must fit an int32)", found: String(p.epsilon),
    });
  }
  let gmax = 0;
  for (const v of p.tensors.gamma.data) gmax = Math.max(gmax, Math.abs(Number(v)));
  const fg = Math.min(Q14, fracFor(gmax, OUT_BITS, 0, Q14));
  fixed.outFrac = Math.min(fg + Q14, fracFor(R.out, OUT_BITS, 0, Q14));
  return { fixed, ranges: { out: R.out, acc: R.acc, state: null }, stats: { out: r.out, acc: r.acc, state: null }, portFracs: { x: fx, g: fg } };
}

/**
 * Multiply (QUANTIZATION.md): both ports in one int32 format acc_frac (covering both operands' sums); each
 * operand then to int16 with the finest binary point that covers its own range, frac_a and frac_b (≤ acc_frac,
 * so that a' = sat16(rs(a, acc_frac − frac_a)) shifts right); the output format covers the product's range and
 * is at most frac_a + frac_b (and at least frac_a + frac_b − 52), so the product is rounded by a right shift.
 */
function multiplyFormats(_p: PopOf<"Multiply">, { R, r, maxFracFor, range }: FormatInputs): Formats {
  const fixed = newFixed();
  fixed.accFrac = Math.min(maxFracFor(null), fracFor(R.acc, ACC_BITS, ACC_HEADROOM, 24));
  const operand = (port: string) => Math.max(0, Math.min(fixed.accFrac, fracFor(r.ports?.[port] ? range(r.ports[port]) : 0, OUT_BITS, 0, Q14)));
  const fa = operand("a"), fb = operand("b");
  fixed.outFrac = Math.max(fa + fb - 52, Math.min(fa + fb, fracFor(R.out, OUT_BITS, 0, Q14)));
  return { fixed, ranges: { out: R.out, acc: R.acc, state: null }, stats: { out: r.out, acc: r.acc, state: null }, portFracs: { a: fa, b: fb } };
}

function ssmFormats(p: PopOf<"DiagonalSSM">, { R, r, maxFracFor, stateBits, qmax, pre }: FormatInputs): Formats {
  const fixed = newFixed();
  fixed.stateBits = stateBits;
  fixed.stateFrac = Math.min(maxFracFor("u"), fracFor(R.state, stateBits, 0, 14 + (stateBits - 16)));
  fixed.readFrac = fixed.stateFrac - (stateBits - 16);
  // C's requantization scale, scale_C[h] · 2^(acc_frac − read_frac + pre), must stay below 2^14 too.
  let cmax = 0;
  for (const t of [p.tensors.c_re.data, p.tensors.c_im.data]) for (let i = 0; i < t.length; i++) cmax = Math.max(cmax, Math.abs(t[i]));
  const cCap = cmax > 0 ? fixed.readFrac + 13 - pre - Math.ceil(Math.log2(cmax / qmax)) : MAX_FRAC;
  fixed.accFrac = Math.max(0, Math.min(maxFracFor("skip"), cCap, fracFor(R.acc, ACC_BITS, ACC_HEADROOM, 24)));
  fixed.outFrac = Math.min(fixed.accFrac, fracFor(R.out, OUT_BITS, 0, Q14));
  return { fixed, ranges: { out: R.out, acc: R.acc, state: R.state }, stats: { out: r.out, acc: r.acc, state: r.state } };
}

/** Λ̄ in Q15; C per output row h scaled to the weight integers, with the multiplier that requantizes its sum. */
function ssmTensors(p: PopOf<"DiagonalSSM">, fx: FixedFormat, { weightBits, qmax, pre }: TensorInputs): Record<string, Tensor> {
  const t = p.tensors;
  const H = p.size, P = p.stateSize;
  const cq = { re: weightArray(weightBits, H * P), im: weightArray(weightBits, H * P) };
  const mult = new Int32Array(H), shift = new Int32Array(H);
  const rowScales: number[] = [];
  for (let h = 0; h < H; h++) {
    let m = 0;
    for (let q = 0; q < P; q++) m = Math.max(m, Math.abs(t.c_re.data[h * P + q]), Math.abs(t.c_im.data[h * P + q]));
    const s = m / qmax;
    rowScales.push(s);
    for (let q = 0; q < P; q++) {
      cq.re[h * P + q] = s === 0 ? 0 : roundHalfAway(t.c_re.data[h * P + q] / s);
      cq.im[h * P + q] = s === 0 ? 0 : roundHalfAway(t.c_im.data[h * P + q] / s);
    }
    const M = multiplierFor(s * 2 ** (fx.accFrac - fx.readFrac + pre), `population ${p.name} (C row ${h})`);
    mult[h] = M.multiplier;
    shift[h] = M.shift;
  }
  return {
    lambda_re: fixedVector(t.lambda_re, 15, 16),
    lambda_im: fixedVector(t.lambda_im, 15, 16),
    c_re: intTensor(cq.re, [H, P], 0, rowScales, 0),
    c_im: intTensor(cq.im, [H, P], 0, rowScales, 0),
    c_mult: intTensor(mult, [H]),
    c_shift: intTensor(shift, [H]),
  };
}

/** Event-time DiagonalSSM calibration: its output, skip and B̃u in acc (u also apart, r.ports.u), its state. */
function eventSsmObserve(r: PopulationRanges, v: StepView): void {
  const st = (r.ports ??= { u: emptyStats() });
  addAll(r.acc, v.out);
  addAll(r.acc, v.ports.skip);
  addAll(r.acc, v.ports.u);
  addAll(st.u, v.ports.u);
  addAll(r.state, v.state[0]);
  addAll(r.state, v.state[1]);
}

/** γ per state in double, as the float engine forms it: async (exp(Λs) − 1)/Λ, dirac 1 (zoh: per event). */
function asyncGamma(lre: number, lim: number, s: number): [number, number] {
  const a = lre * s, b = lim * s;
  const hs = Math.sin(b / 2);
  const nr = Math.expm1(a) * Math.cos(b) - 2 * hs * hs, ni = Math.exp(a) * Math.sin(b);
  const den = lre * lre + lim * lim;
  if (den === 0) return [s, 0];
  return [(nr * lre + ni * lim) / den, (ni * lre - nr * lim) / den];
}

/** The largest |γ| part the population's discretization can give (zoh: min(2/|Λ|, s·Δt_max) with the calibrated longest sequence). */
function gammaBound(p: PopOf<"DiagonalSSM">, dtMax: number): number {
  const t = p.tensors;
  let g = 0;
  for (let q = 0; q < p.stateSize; q++) {
    const lre = Number(t.lambda_re.data[q]), lim = Number(t.lambda_im.data[q]), s = Number(t.step.data[q]);
    if (p.discretization === "dirac") g = Math.max(g, 1);
    else if (p.discretization === "async") {
      const [gr, gi] = asyncGamma(lre, lim, s);
      g = Math.max(g, Math.abs(gr), Math.abs(gi));
    } else {
      const mag = Math.hypot(lre, lim);
      g = Math.max(g, Math.min(mag > 0 ? 2 / mag : Infinity, s * Math.max(dtMax, 2 ** -DT_FRAC_MAX)));
    }
  }
  return g;
}

/**
 * Event-time DiagonalSSM formats (QUANTIZATION.md "Event time"): state as the fixed-step SSM's; both ports (B̃u
 * and skip) and the output sum in acc_frac; B̃u to int16 at u_frac (its own range); γ at g_frac ≤ 30, the finest
 * holding its bound in int32; g_frac + u_frac ≥ state_frac (γ·u′ is shifted right into the state).
 */
function eventSsmFormats(p: PopOf<"DiagonalSSM">, c: FormatInputs): Formats {
  const { R, r, maxFracFor, stateBits, qmax, pre, range, formats, node } = c;
  const fixed = newFixed();
  fixed.stateBits = stateBits;
  fixed.stateFrac = fracFor(R.state, stateBits, 0, 14 + (stateBits - 16));
  fixed.readFrac = fixed.stateFrac - (stateBits - 16);
  let cmax = 0;
  for (const t of [p.tensors.c_re.data, p.tensors.c_im.data]) for (let i = 0; i < t.length; i++) cmax = Math.max(cmax, Math.abs(t[i]));
  const cCap = cmax > 0 ? fixed.readFrac + 13 - pre - Math.ceil(Math.log2(cmax / qmax)) : MAX_FRAC;
  fixed.accFrac = Math.max(0, Math.min(maxFracFor(null), cCap, fracFor(R.acc, ACC_BITS, ACC_HEADROOM, 24)));
  fixed.outFrac = Math.min(fixed.accFrac, fracFor(R.out, OUT_BITS, 0, Q14));
  const uFrac = Math.max(0, Math.min(fixed.accFrac, fracFor(r.ports?.u ? range(r.ports.u) : 0, OUT_BITS, 0, Q14)));
  const { dtFrac, dtMax } = timeFormat(formats);
  const G = gammaBound(p, dtMax);
  let gFrac = G > 0 ? Math.min(30, Math.floor(Math.log2(2147483647 / G))) : 30;
  if (gFrac + uFrac < fixed.stateFrac) gFrac = fixed.stateFrac - uFrac;
  if (gFrac > 30 || gFrac < 0) {
    throw new NmcError(`${node}: the input gain γ (bound ${G}) has no int32 format with g_frac + u_frac ≥ state_frac`, { node, expected: "0 ≤ g_frac ≤ 30", found: String(gFrac) });
  }
  return {
    fixed, ranges: { out: R.out, acc: R.acc, state: R.state }, stats: { out: r.out, acc: r.acc, state: r.state },
    portFracs: { u: uFrac, g: gFrac, dt: dtFrac },
  };
}

/**
 * Event-time DiagonalSSM tensors: per state α, β (expq decayConstants, rates per Δt quantum) as mantissas and
 * shifts; γ (async, dirac) or κ = 1/Λ (zoh, expq zohKappa); C as the fixed-step SSM's; u_frac, g_frac; eps_q
 * for a timepool stride.
 */
function eventSsmTensors(p: PopOf<"DiagonalSSM">, fx: FixedFormat, c: TensorInputs): Record<string, Tensor> {
  const P = p.stateSize, t = p.tensors, pf = c.formats.portFracs!;
  const am = new Int32Array(P), as = new Int32Array(P), bm = new Int32Array(P), bs = new Int32Array(P);
  const gr = new Int32Array(P), gi = new Int32Array(P), ks = new Int32Array(P);
  for (let q = 0; q < P; q++) {
    const lre = Number(t.lambda_re.data[q]), lim = Number(t.lambda_im.data[q]), s = Number(t.step.data[q]);
    let k;
    try {
      k = decayConstants(lre, lim, s, pf.dt);
    } catch (e) {
      throw new NmcError(`population ${p.name}, state ${q}: ${(e as Error).message}`, { node: p.name, hint: "the integer per-event decay covers decaying modes, Re(Λ) ≤ 0 (event-ssm's clip_eigs keeps them so)" });
    }
    am[q] = k.alpha.m; as[q] = k.alpha.s; bm[q] = k.beta.m; bs[q] = k.beta.s;
    if (p.discretization === "zoh") {
      const kap = zohKappa(lre, lim);
      const S = 30 + kap.s - pf.g;
      if (S < 0 || S > EXPQ_SHIFT_MAX) throw new NmcError(`population ${p.name}, state ${q}: zoh gain shift ${S} outside 0 … ${EXPQ_SHIFT_MAX}`, { node: p.name });
      gr[q] = kap.re; gi[q] = kap.im; ks[q] = kap.s;
    } else {
      const [a, b] = p.discretization === "dirac" ? [1, 0] : asyncGamma(lre, lim, s);
      gr[q] = roundHalfAway(a * 2 ** pf.g);
      gi[q] = roundHalfAway(b * 2 ** pf.g);
    }
  }
  const base = ssmTensors(p, fx, c);
  const i32 = (a: Int32Array) => intTensor(a, [P]);
  // lambda_re, lambda_im (the continuous Λ in Q15) and step (float) are kept as the IR's record of the model;
  // the integer engines read α, β, γ / κ only.
  return {
    lambda_re: base.lambda_re, lambda_im: base.lambda_im, step: t.step, c_re: base.c_re, c_im: base.c_im, c_mult: base.c_mult, c_shift: base.c_shift,
    alpha_m: i32(am), alpha_s: i32(as), beta_m: i32(bm), beta_s: i32(bs), gamma_re: i32(gr), gamma_im: i32(gi),
    ...(p.discretization === "zoh" ? { kappa_s: i32(ks) } : {}),
    u_frac: intTensor(Int32Array.of(pf.u), [1]), g_frac: intTensor(Int32Array.of(pf.g), [1]),
    ...((p.stride ?? 1) > 1 && p.pool === "timepool" ? { eps_q: intTensor(Int32Array.of(poolEpsQ(pf.dt)), [1]) } : {}),
  };
}

/** A population's row with its kind erased, for the passes' loops over every population. */
export function quantOpOf(kind: PopulationKind): QuantOp<PopulationKind> {
  return QUANT_OPS[kind] as unknown as QuantOp<PopulationKind>;
}
