// Quantization: float IR + calibrated ranges → fixed-point IR, following runtime/fixed/QUANTIZATION.md.
// Every number the golden engine needs at run time is computed here once and stored as an integer
// (weights, biases, thresholds, Λ̄, C, requantization multipliers and shifts, lookup tables), so no target
// ever re-derives a float. What the choices cost (clipping on the calibration data) goes into the report.
import { NmcError } from "../../ir/errors.js";
import type { FixedFormat, Graph, Lut, Population, Projection, Tensor } from "../../ir/types.js";
import {
  type Multiplier, makeLut, phiLut, quantizeMultiplier, roundHalfAway, sigmoidLut, tanhLut, toFixed,
} from "../../runtime/fixed/index.js";
import { type CalibrationReport, type RangeMode, type RangeStats, chooseRange, clipFraction } from "./calibrate.js";
import type { Pass } from "./pass.js";

export interface QuantizeOptions {
  calibration: CalibrationReport;
  /** Weight width: 8 (default) or 16. */
  weightBits?: 8 | 16;
  /** DiagonalSSM state width: 16 (default) or 32. */
  stateBits?: 16 | 32;
  /** How a range is read off the calibration statistics (default: max). */
  range?: RangeMode;
  /** Where the calibration data came from, recorded in the IR. */
  calibrationLabel?: string;
}

export interface PopulationQuantReport {
  name: string;
  kind: Population["kind"];
  layer: string;
  outFrac: number;
  accFrac: number | null;
  stateFrac: number | null;
  stateBits: number | null;
  /** Calibrated ranges (real units) the formats were fitted to. */
  range: { out: number; acc: number | null; state: number | null };
  /** Fraction of calibration values beyond each format's range (they saturate). */
  clipping: { out: number; acc: number | null; state: number | null };
}

export interface ProjectionQuantReport {
  name: string;
  /** Stored weights before and after quantization (weights that round to 0 are dropped). */
  nnzFloat: number;
  nnz: number;
  dense: number;
}

export interface QuantizeReport {
  weightBits: number;
  stateBits: number;
  rangeMode: string;
  populations: PopulationQuantReport[];
  projections: ProjectionQuantReport[];
}

const OUT_BITS = 16;
const ACC_BITS = 32;
/** Bits of headroom kept in the int32 accumulators above the calibrated range (sums of ports, biases). */
const ACC_HEADROOM = 1;
const MAX_FRAC = 40;
/** EGRU gates and LUT outputs are Q14: 1.0 = 2^14. */
const Q14 = 14;
/** The LUTs' bins are at most 2^−5 wide, so their input needs at least 5 fractional bits. */
const LUT_MIN_FRAC = 5;

export function rangeModeLabel(m: RangeMode): string {
  return m.kind === "max" ? "max" : `percentile:${m.percentile}`;
}

/** Fractional bits so that a signed `bits`-bit integer covers ±r (default when nothing was seen). */
function fracFor(r: number, bits: number, headroom: number, dflt: number): number {
  if (!(r > 0)) return dflt;
  const f = Math.floor(Math.log2((2 ** (bits - 1) - 1) / r)) - headroom;
  return Math.max(0, Math.min(MAX_FRAC, f));
}

/** log2 of the real range a `bits`-bit format with `frac` fractional bits covers (what clipFraction takes). */
const rangeLog2 = (bits: number, frac: number) => bits - 1 - frac;

function intTensor(data: Int8Array | Int16Array | Int32Array, shape: number[], fracBits = 0, scale: number[] = [], axis = 0): Tensor {
  const dtype = data instanceof Int8Array ? "i8" : data instanceof Int16Array ? "i16" : "i32";
  return { dtype, shape, data, quant: { scale, axis, fracBits } };
}

function fixedVector(t: Tensor, frac: number, bits: 16 | 32): Tensor {
  const q = bits === 16 ? new Int16Array(t.data.length) : new Int32Array(t.data.length);
  for (let i = 0; i < q.length; i++) q[i] = toFixed(t.data[i], frac, bits);
  return intTensor(q, t.shape, frac);
}

/** The Q15 multiplier for `scale`; a scale too small to matter (below 2^−37) becomes 0. */
function multiplierFor(scale: number, node: string): Multiplier {
  if (scale === 0 || scale < 2 ** -37) return { multiplier: 0, shift: 0 };
  try {
    return quantizeMultiplier(scale);
  } catch (e) {
    throw new NmcError(`cannot represent the requantization scale ${scale} of ${node}`, {
      node, hint: "the weights are too large for the chosen formats; try --bits 16 or check the model",
      expected: "a scale below 2^14", found: String(scale),
    });
  }
}

/** Per-column symmetric scales of a CSR projection: max |w| of the column ÷ qmax. */
function columnScales(j: Projection, qmax: number): Float64Array {
  const colMax = new Float64Array(j.cols);
  const { colIdx, values } = j.weights;
  for (let k = 0; k < colIdx.length; k++) {
    const a = Math.abs(values.data[k]);
    if (a > colMax[colIdx[k]]) colMax[colIdx[k]] = a;
  }
  return colMax.map((m) => m / qmax);
}

interface Formats {
  fixed: FixedFormat;
  ranges: { out: number; acc: number | null; state: number | null };
  stats: { out: RangeStats; acc: RangeStats | null; state: RangeStats | null };
}

export const quantizePass: Pass<QuantizeOptions, QuantizeReport> = {
  name: "quantize",
  run(graph: Graph, opts: QuantizeOptions) {
    if (graph.quant) throw new NmcError("this graph is already quantized");
    const weightBits = opts.weightBits ?? 8;
    const stateBits = opts.stateBits ?? 16;
    const mode = opts.range ?? { kind: "max" };
    const qmax = 2 ** (weightBits - 1) - 1;
    // Raw sums of int16 weights are rounding-shifted by `pre` bits before they are saturated to int32
    // (QUANTIZATION.md), so every multiplier carries the factor 2^pre back.
    const pre = weightBits - 8;
    const cal = opts.calibration;
    const byName = new Map(graph.populations.map((p) => [p.name, p]));
    const incoming = (p: Population) => graph.projections.filter((j) => j.target === p.name);
    const scales = new Map(graph.projections.map((j) => [j.name, columnScales(j, qmax)]));
    const formats = new Map<string, Formats>();
    // A first guess of every output format, so that recurrent (delay-1) sources that come later in the
    // list can bound the accumulator formats below; the final one can only be the same or coarser by
    // the min with acc_frac, which the 2 bits of slack in maxFracFor absorb (multiplierFor says if not).
    const outGuess = new Map(graph.populations.map((p) => {
      const fixedQ14 = p.kind === "EGRU" || (p.kind === "Input" && p.encoding === "tokens") ||
        (p.kind === "Dense" && (p.activation === "sigmoid" || p.activation === "tanh"));
      const r = cal.populations[p.name];
      return [p.name, fixedQ14 || !r ? Q14 : fracFor(chooseRange(r.out, mode), OUT_BITS, 0, Q14)];
    }));
    const srcOutFrac = (name: string) => formats.get(name)?.fixed.outFrac ?? outGuess.get(name)!;

    for (const p of graph.populations) {
      const node = `population ${p.name}`;
      if (p.kind === "Dense" && p.activation === "softmax") {
        throw new NmcError(`${node} ends in softmax, which has no quantized form`, {
          node, hint: "give the layer a linear activation (the logits: argmax and a mean readout of them are what classification needs)",
        });
      }
      const r = cal.populations[p.name];
      if (!r) throw new NmcError(`no calibration ranges for ${node}`, { node });
      const R = { out: chooseRange(r.out, mode), acc: chooseRange(r.acc, mode), state: chooseRange(r.state, mode) };
      // The finest accumulator format whose requantization multipliers stay below 2^15 for every
      // incoming projection: scale_j · 2^(frac − src_out_frac) < 2^14.
      const maxFracFor = (port: string | null) => {
        let m = MAX_FRAC;
        for (const j of incoming(p)) {
          if (port !== null && j.port !== port) continue;
          if (port === null && p.kind === "DiagonalSSM" && j.port === "u") continue;
          let smax = 0;
          for (const s of scales.get(j.name)!) if (s > smax) smax = s;
          if (smax > 0) m = Math.min(m, srcOutFrac(j.source) + 13 - pre - Math.ceil(Math.log2(smax)));
        }
        return m;
      };
      const fixed: FixedFormat = { outFrac: 0, accFrac: 0, stateFrac: 0, stateBits: 0, readFrac: 0 };
      let f: Formats;
      switch (p.kind) {
        case "Input": {
          fixed.outFrac = p.encoding === "tokens" ? Q14 : fracFor(R.out, OUT_BITS, 0, Q14);
          fixed.accFrac = fixed.outFrac;
          f = { fixed, ranges: { out: R.out, acc: null, state: null }, stats: { out: r.out, acc: null, state: null } };
          break;
        }
        case "EGRU": {
          fixed.outFrac = Q14;
          fixed.accFrac = Math.max(LUT_MIN_FRAC, Math.min(maxFracFor(null), fracFor(R.acc, ACC_BITS, ACC_HEADROOM, 24)));
          f = { fixed, ranges: { out: R.out, acc: R.acc, state: null }, stats: { out: r.out, acc: r.acc, state: null } };
          break;
        }
        case "Dense": {
          const lut = p.activation === "sigmoid" || p.activation === "tanh" || p.activation === "gelu";
          fixed.accFrac = Math.min(maxFracFor(null), fracFor(R.acc, ACC_BITS, ACC_HEADROOM, 24));
          if (lut) fixed.accFrac = Math.max(LUT_MIN_FRAC, fixed.accFrac);
          fixed.outFrac = p.activation === "sigmoid" || p.activation === "tanh" ? Q14 : Math.min(fixed.accFrac, fracFor(R.out, OUT_BITS, 0, Q14));
          f = { fixed, ranges: { out: R.out, acc: R.acc, state: null }, stats: { out: r.out, acc: r.acc, state: null } };
          break;
        }
        case "DiagonalSSM": {
          fixed.stateBits = stateBits;
          fixed.stateFrac = Math.min(maxFracFor("u"), fracFor(R.state, stateBits, 0, 14 + (stateBits - 16)));
          fixed.readFrac = fixed.stateFrac - (stateBits - 16);
          // C's requantization scale, scale_C[h] · 2^(acc_frac − read_frac + pre), must stay below 2^14 too.
          let cmax = 0;
          for (const t of [p.tensors.c_re.data, p.tensors.c_im.data]) for (let i = 0; i < t.length; i++) cmax = Math.max(cmax, Math.abs(t[i]));
          const cCap = cmax > 0 ? fixed.readFrac + 13 - pre - Math.ceil(Math.log2(cmax / qmax)) : MAX_FRAC;
          fixed.accFrac = Math.max(0, Math.min(maxFracFor("skip"), cCap, fracFor(R.acc, ACC_BITS, ACC_HEADROOM, 24)));
          fixed.outFrac = Math.min(fixed.accFrac, fracFor(R.out, OUT_BITS, 0, Q14));
          f = { fixed, ranges: { out: R.out, acc: R.acc, state: R.state }, stats: { out: r.out, acc: r.acc, state: r.state } };
          break;
        }
        case "Readout": {
          const src = formats.get(p.source);
          if (!src) throw new NmcError(`readout ${p.name} reads ${p.source}, which is not quantized before it`, { node });
          fixed.outFrac = src.fixed.outFrac;
          fixed.accFrac = src.fixed.outFrac;
          f = { fixed, ranges: { out: R.out, acc: null, state: null }, stats: { out: r.out, acc: null, state: null } };
          break;
        }
      }
      formats.set(p.name, f);
    }

    const portFrac = (p: Population, port: string) => {
      const fx = formats.get(p.name)!.fixed;
      return p.kind === "DiagonalSSM" && port === "u" ? fx.stateFrac : fx.accFrac;
    };

    const populations: Population[] = graph.populations.map((p) => {
      const fx = formats.get(p.name)!.fixed;
      const t = p.tensors;
      const luts: Lut[] = [];
      let tensors: Record<string, Tensor> = {};
      switch (p.kind) {
        case "EGRU": {
          const thr = t.thr.data.map((v) => Math.min(1, Math.max(0, v)));
          tensors = {
            bias_x: fixedVector(t.bias_x, fx.accFrac, 32),
            bias_h: fixedVector(t.bias_h, fx.accFrac, 32),
            thr: fixedVector({ ...t.thr, data: thr }, Q14, 16),
          };
          luts.push(sigmoidLut(fx.accFrac), tanhLut(fx.accFrac));
          break;
        }
        case "Dense": {
          tensors = { bias: fixedVector(t.bias, fx.accFrac, 32) };
          if (p.activation === "sigmoid") luts.push(sigmoidLut(fx.accFrac));
          if (p.activation === "tanh") luts.push(tanhLut(fx.accFrac));
          if (p.activation === "gelu") luts.push(phiLut(fx.accFrac));
          break;
        }
        case "DiagonalSSM": {
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
          tensors = {
            lambda_re: fixedVector(t.lambda_re, 15, 16),
            lambda_im: fixedVector(t.lambda_im, 15, 16),
            c_re: intTensor(cq.re, [H, P], 0, rowScales, 0),
            c_im: intTensor(cq.im, [H, P], 0, rowScales, 0),
            c_mult: intTensor(mult, [H]),
            c_shift: intTensor(shift, [H]),
          };
          break;
        }
        default:
          break;
      }
      return { ...p, tensors, fixed: fx, ...(luts.length ? { luts: luts.map(toIrLut) } : {}) };
    });

    const projReports: ProjectionQuantReport[] = [];
    const projections: Projection[] = graph.projections.map((j) => {
      const s = scales.get(j.name)!;
      const { rowPtr, colIdx, values } = j.weights;
      const q = new Int32Array(colIdx.length);
      const n = quantizeWeights(values.data, colIdx, s, q);
      // Keep only the non-zero integers: a weight that rounds to 0 costs nothing on event-driven hardware.
      const newPtr = new Uint32Array(j.rows + 1);
      const newIdx = new Uint32Array(n);
      const newVal = weightArray(weightBits, n);
      compactWeights(rowPtr, colIdx, q, newPtr, newIdx, newVal);
      const tgt = byName.get(j.target)!;
      const srcFrac = formats.get(j.source)!.fixed.outFrac;
      const shiftBy = portFrac(tgt, j.port) - srcFrac;
      const mult = new Int32Array(j.cols), sh = new Int32Array(j.cols);
      for (let c = 0; c < j.cols; c++) {
        const M = multiplierFor(s[c] * 2 ** (shiftBy + pre), `projection ${j.name} (column ${c})`);
        mult[c] = M.multiplier;
        sh[c] = M.shift;
      }
      projReports.push({ name: j.name, nnzFloat: colIdx.length, nnz: n, dense: j.rows * j.cols });
      return {
        ...j,
        weights: { rowPtr: newPtr, colIdx: newIdx, values: intTensor(newVal, [n], 0, Array.from(s), 0) },
        requant: { multiplier: mult, shift: sh },
      };
    });

    const popReports: PopulationQuantReport[] = graph.populations.map((p) => {
      const f = formats.get(p.name)!;
      const fx = f.fixed;
      const hasAcc = f.stats.acc !== null;
      const isSsm = p.kind === "DiagonalSSM";
      return {
        name: p.name, kind: p.kind, layer: p.loc.layer, outFrac: fx.outFrac,
        accFrac: hasAcc ? fx.accFrac : null,
        stateFrac: isSsm ? fx.stateFrac : null,
        stateBits: isSsm ? fx.stateBits : null,
        range: f.ranges,
        clipping: {
          out: p.kind === "Readout" ? 0 : clipFraction(f.stats.out, rangeLog2(OUT_BITS, fx.outFrac)),
          acc: hasAcc ? clipFraction(f.stats.acc!, rangeLog2(ACC_BITS, fx.accFrac)) : null,
          state: isSsm ? clipFraction(f.stats.state!, rangeLog2(fx.stateBits, fx.stateFrac)) : null,
        },
      };
    });

    const out: Graph = {
      ...graph, populations, projections,
      quant: { weightBits, stateBits, calibration: opts.calibrationLabel ?? `${cal.samples} sequences`, rangeMode: rangeModeLabel(mode) },
    };
    return { graph: out, report: { weightBits, stateBits, rangeMode: rangeModeLabel(mode), populations: popReports, projections: projReports } };
  },
};

/** q[k] = round-half-away(w[k] ÷ scale of its column) (0 where the column's scale is 0); returns the non-zeros. */
function quantizeWeights(w: ArrayLike<number>, colIdx: Uint32Array, s: Float64Array, q: Int32Array): number {
  let n = 0;
  for (let k = 0; k < colIdx.length; k++) {
    const sc = s[colIdx[k]];
    const v = sc === 0 ? 0 : roundHalfAway(w[k] / sc);
    q[k] = v;
    if (v !== 0) n++;
  }
  return n;
}

/** Copies the non-zero q (CSR rows of rowPtr/colIdx) into the compacted CSR newPtr/newIdx/newVal. */
function compactWeights(rowPtr: Uint32Array, colIdx: Uint32Array, q: Int32Array, newPtr: Uint32Array, newIdx: Uint32Array, newVal: Int8Array | Int16Array): void {
  let o = 0;
  for (let r = 0; r + 1 < rowPtr.length; r++) {
    const end = rowPtr[r + 1];
    for (let k = rowPtr[r]; k < end; k++) {
      const v = q[k];
      if (v === 0) continue;
      newIdx[o] = colIdx[k];
      newVal[o] = v;
      o++;
    }
    newPtr[r + 1] = o;
  }
}

function weightArray(bits: number, n: number): Int8Array | Int16Array {
  return bits === 16 ? new Int16Array(n) : new Int8Array(n);
}

function toIrLut(l: ReturnType<typeof makeLut>): Lut {
  return { name: l.name, lo: l.lo, stepLog2: l.stepLog2, inFrac: l.inFrac, outFrac: l.outFrac, table: l.table };
}
