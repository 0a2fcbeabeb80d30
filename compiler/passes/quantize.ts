// Quantization: float IR + calibrated ranges → fixed-point IR, following runtime/fixed/QUANTIZATION.md.
// Every number the golden engine needs at run time is computed here once and stored as an integer
// (weights, biases, thresholds, Λ̄, C, requantization multipliers and shifts, lookup tables), so no target
// ever re-derives a float. What the choices cost (clipping on the calibration data) goes into the report.
// What differs by population kind (its formats, its tensors) is its row of QUANT_OPS (formats.ts); this file
// is the driver, the weights and the report.
import { NmcError } from "../../ir/errors.js";
import { type LutName, requiredLuts } from "../../ir/kinds.js";
import type { FixedFormat, Graph, Population, Projection } from "../../ir/types.js";
import { type Lut as FixedLut, LUT_BITS_DEFAULT, LUT_BITS_MAX, LUT_BITS_MIN, phiLut, phiTanhLut, roundHalfAway, sigmoidLut, softplusLut, tanhLut } from "../../runtime/fixed/index.js";
import type { CalibrationReport } from "./calibrate.js";
import { ACC_BITS, intTensor, lutMinFrac, MAX_FRAC, multiplierFor, OUT_BITS, Q14, fracFor, rangeLog2, toIrLut, weightArray } from "./fixed.js";
import { type Formats, quantOpOf } from "./formats.js";
import type { Pass } from "./pass.js";
import { type RangeMode, chooseRange, clipFraction } from "./ranges.js";

export interface QuantizeOptions {
  calibration: CalibrationReport;
  /** Weight width: 8 (default) or 16. */
  weightBits?: 8 | 16;
  /** DiagonalSSM state width: 16 (default) or 32. */
  stateBits?: 16 | 32;
  /** Lookup tables of 2^lutBits entries over their fixed ranges, 8 (default) … 12 (QUANTIZATION.md). */
  lutBits?: number;
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
  /** Every lookup table has 2^lutBits entries. */
  lutBits: number;
  rangeMode: string;
  populations: PopulationQuantReport[];
  projections: ProjectionQuantReport[];
}

export function rangeModeLabel(m: RangeMode): string {
  return m.kind === "max" ? "max" : `percentile:${m.percentile}`;
}

/** The lookup tables by name; every kind's tables read its accumulator, so their input format is acc_frac. */
const LUT_MAKERS: Record<LutName, (inFrac: number, bits: number) => FixedLut> = {
  sigmoid: sigmoidLut, tanh: tanhLut, phi: phiLut, phi_tanh: phiTanhLut, softplus: softplusLut,
};

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

/** The pass's settings and the per-projection weight scales, fixed before any population is quantized. */
interface Setup {
  graph: Graph;
  cal: CalibrationReport;
  weightBits: 8 | 16;
  stateBits: 16 | 32;
  lutBits: number;
  mode: RangeMode;
  qmax: number;
  pre: number;
  scales: Map<string, Float64Array>;
}

function setup(graph: Graph, opts: QuantizeOptions): Setup {
  const weightBits = opts.weightBits ?? 8;
  const qmax = 2 ** (weightBits - 1) - 1;
  const lutBits = opts.lutBits ?? LUT_BITS_DEFAULT;
  if (!Number.isInteger(lutBits) || lutBits < LUT_BITS_MIN || lutBits > LUT_BITS_MAX) {
    throw new NmcError(`lut bits must be an integer in ${LUT_BITS_MIN}…${LUT_BITS_MAX}, is ${lutBits}`, { expected: `${LUT_BITS_MIN}…${LUT_BITS_MAX}` });
  }
  return {
    graph, cal: opts.calibration, weightBits, stateBits: opts.stateBits ?? 16, lutBits, mode: opts.range ?? { kind: "max" }, qmax,
    // Raw sums of int16 weights are rounding-shifted by `pre` bits before they are saturated to int32
    // (QUANTIZATION.md), so every multiplier carries the factor 2^pre back.
    pre: weightBits - 8,
    scales: new Map(graph.projections.map((j) => [j.name, columnScales(j, qmax)])),
  };
}

/** Every population's formats, in graph order (a Readout takes its source's), by its row of QUANT_OPS. */
function chooseFormats(c: Setup): Map<string, Formats> {
  const { graph, cal, mode, scales, pre } = c;
  const formats = new Map<string, Formats>();
  const incoming = (p: Population) => graph.projections.filter((j) => j.target === p.name);
  // A first guess of every output format, so that recurrent (delay-1) sources that come later in the
  // list can bound the accumulator formats below; the final one can only be the same or coarser by
  // the min with acc_frac, which the 2 bits of slack in maxFracFor absorb (multiplierFor says if not).
  const outGuess = new Map(graph.populations.map((p) => {
    const r = cal.populations[p.name];
    return [p.name, quantOpOf(p.kind).q14Out(p) || !r ? Q14 : fracFor(chooseRange(r.out, mode), OUT_BITS, 0, Q14)];
  }));
  const srcOutFrac = (name: string) => formats.get(name)?.fixed.outFrac ?? outGuess.get(name)!;

  for (const p of graph.populations) {
    const node = `population ${p.name}`;
    const op = quantOpOf(p.kind);
    op.check(p, node);
    const r = cal.populations[p.name];
    if (!r) throw new NmcError(`no calibration ranges for ${node}`, { node });
    const R = { out: chooseRange(r.out, mode), acc: chooseRange(r.acc, mode), state: chooseRange(r.state, mode) };
    // The finest accumulator format whose requantization multipliers stay below 2^15 for every
    // incoming projection: scale_j · 2^(frac − src_out_frac) < 2^14.
    const maxFracFor = (port: string | null) => {
      let m = MAX_FRAC;
      for (const j of incoming(p)) {
        if (port !== null && j.port !== port) continue;
        let smax = 0;
        for (const s of scales.get(j.name)!) if (s > smax) smax = s;
        if (smax > 0) m = Math.min(m, srcOutFrac(j.source) + 13 - pre - Math.ceil(Math.log2(smax)));
      }
      return m;
    };
    const range = (st: Parameters<typeof chooseRange>[0]) => chooseRange(st, mode);
    formats.set(p.name, op.formats(p, { node, r, R, range, maxFracFor, formats, stateBits: c.stateBits, lutMinFrac: lutMinFrac(c.lutBits), qmax: c.qmax, pre }));
  }
  return formats;
}

/** A population's integer tensors (its row of QUANT_OPS) and lookup tables (those IR_KINDS names). */
function quantizePopulation(p: Population, f: Formats, c: Setup): Population {
  const fx = f.fixed;
  const tensors = quantOpOf(p.kind).tensors(p, fx, { weightBits: c.weightBits, qmax: c.qmax, pre: c.pre, formats: f });
  const luts = requiredLuts(p).map((name) => LUT_MAKERS[name](fx.accFrac, c.lutBits));
  return { ...p, tensors, fixed: fx, ...(luts.length ? { luts: luts.map(toIrLut) } : {}) };
}

/** Integer weights (zeros dropped) and the per-column multipliers into the target port's format. */
function quantizeProjection(j: Projection, formats: Map<string, Formats>, byName: Map<string, Population>, c: Setup): {
  projection: Projection; report: ProjectionQuantReport;
} {
  const s = c.scales.get(j.name)!;
  const { rowPtr, colIdx, values } = j.weights;
  const q = new Int32Array(colIdx.length);
  const n = quantizeWeights(values.data, colIdx, s, q);
  // Keep only the non-zero integers: a weight that rounds to 0 costs nothing on event-driven hardware.
  const newPtr = new Uint32Array(j.rows + 1);
  const newIdx = new Uint32Array(n);
  const newVal = weightArray(c.weightBits, n);
  compactWeights(rowPtr, colIdx, q, newPtr, newIdx, newVal);
  const tgt = byName.get(j.target)!;
  const srcFrac = formats.get(j.source)!.fixed.outFrac;
  const shiftBy = quantOpOf(tgt.kind).portFrac(formats.get(tgt.name)!.fixed, j.port, tgt) - srcFrac;
  const mult = new Int32Array(j.cols), sh = new Int32Array(j.cols);
  for (let col = 0; col < j.cols; col++) {
    const M = multiplierFor(s[col] * 2 ** (shiftBy + c.pre), `projection ${j.name} (column ${col})`);
    mult[col] = M.multiplier;
    sh[col] = M.shift;
  }
  return {
    projection: {
      ...j,
      weights: { rowPtr: newPtr, colIdx: newIdx, values: intTensor(newVal, [n], 0, Array.from(s), 0) },
      requant: { multiplier: mult, shift: sh },
    },
    report: { name: j.name, nnzFloat: colIdx.length, nnz: n, dense: j.rows * j.cols },
  };
}

/** The formats and what they clip on the calibration data (a format the kind lacks is null). */
function populationReport(p: Population, f: Formats): PopulationQuantReport {
  const fx = f.fixed;
  const hasAcc = f.stats.acc !== null;
  const hasState = f.stats.state !== null;
  return {
    name: p.name, kind: p.kind, layer: p.loc.layer, outFrac: fx.outFrac,
    accFrac: hasAcc ? fx.accFrac : null,
    stateFrac: hasState ? fx.stateFrac : null,
    stateBits: hasState ? fx.stateBits : null,
    range: f.ranges,
    clipping: {
      out: quantOpOf(p.kind).outClips ? clipFraction(f.stats.out, rangeLog2(OUT_BITS, fx.outFrac)) : 0,
      acc: hasAcc ? clipFraction(f.stats.acc!, rangeLog2(ACC_BITS, fx.accFrac)) : null,
      state: hasState ? clipFraction(f.stats.state!, rangeLog2(fx.stateBits, fx.stateFrac)) : null,
    },
  };
}

export const quantizePass: Pass<QuantizeOptions, QuantizeReport> = {
  name: "quantize",
  run(graph: Graph, opts: QuantizeOptions) {
    if (graph.quant) throw new NmcError("this graph is already quantized");
    const c = setup(graph, opts);
    const { weightBits, stateBits, lutBits, mode } = c;
    const formats = chooseFormats(c);
    const populations = graph.populations.map((p) => quantizePopulation(p, formats.get(p.name)!, c));
    const byName = new Map(graph.populations.map((p) => [p.name, p]));
    const projReports: ProjectionQuantReport[] = [];
    const projections = graph.projections.map((j) => {
      const { projection, report } = quantizeProjection(j, formats, byName, c);
      projReports.push(report);
      return projection;
    });
    const popReports = graph.populations.map((p) => populationReport(p, formats.get(p.name)!));
    const out: Graph = {
      ...graph, populations, projections,
      quant: { weightBits, stateBits, calibration: opts.calibrationLabel ?? `${c.cal.samples} sequences`, rangeMode: rangeModeLabel(mode) },
    };
    return { graph: out, report: { weightBits, stateBits, lutBits, rangeMode: rangeModeLabel(mode), populations: popReports, projections: projReports } };
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
