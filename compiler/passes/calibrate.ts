// Calibration: runs the float interpreter on calibration inputs and records the magnitude of every value
// the quantized model will hold: each population's output, its port accumulators (pre-activations, with the
// EGRU gate sums), and the DiagonalSSM state. Only binary points are chosen from these ranges, so a
// histogram of magnitudes by power of two (bucket e holds 2^(e−1) < |v| ≤ 2^e) answers every question the
// quantize pass asks (percentile range, clipping rate) exactly at that granularity, in constant memory.
// The graph is returned unchanged; the ranges are the report.
import { NmcError } from "../../ir/errors.js";
import type { Graph, Population } from "../../ir/types.js";
import { FloatEngine, type StepView } from "../../runtime/float/interpreter.js";
import { type SequenceBatch } from "../../runtime/batch.js";
import { sigmoid } from "../../runtime/float/math.js";
import { HOST_LITTLE_ENDIAN } from "../../runtime/io/ndarray.js";
import type { Pass } from "./pass.js";
import { type FloatReference, floatRecorder } from "../compare.js";

const E_MIN = -64;
const E_MAX = 64;

/** Magnitude statistics of one kind of value. */
export interface RangeStats {
  /** Values seen (zeros included). */
  count: number;
  /** Largest |v| seen. */
  max: number;
  /** hist[e − E_MIN]: values with 2^(e−1) < |v| ≤ 2^e (e clamped to [E_MIN, E_MAX]). */
  hist: number[];
}

export interface PopulationRanges {
  kind: Population["kind"];
  out: RangeStats;
  /** Port accumulators and the pre-activations built from them. */
  acc: RangeStats;
  /** DiagonalSSM state (real and imaginary parts). */
  state: RangeStats;
}

export interface CalibrationReport {
  samples: number;
  ticks: number;
  populations: Record<string, PopulationRanges>;
  /** The float run on the calibration batch, when kept (CalibrateOptions.keepFloatRun). */
  floatRun?: FloatReference;
}

export type RangeMode = { kind: "max" } | { kind: "percentile"; percentile: number };

export interface CalibrateOptions {
  batch: SequenceBatch;
  /**
   * Also keep the float run on the calibration batch (every population's output at every tick, and the
   * model output) when that is at most this many values, so that compareFloatGolden need not run the
   * float engine on the same batch again (default 0: never).
   */
  keepFloatRun?: number;
}

export function emptyStats(): RangeStats {
  return { count: 0, max: 0, hist: new Array(E_MAX - E_MIN + 1).fill(0) };
}

const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
/** The index of a float64's high 32-bit word in a Uint32Array view of it. */
const HI = HOST_LITTLE_ENDIAN ? 1 : 0;

/**
 * ⌈log2 a⌉ for a > 0, as Math.ceil(Math.log2(a)) gives it. Fast path from the bits: a = 2^E · (1 + f) with
 * f ≥ 2^−40 has log2 a ≥ E + 2^−40·log2(e), more than 4 ulps of E for every |E| ≤ 2^11, so Math.log2 (error
 * below 1 ulp) lies above E and its ceiling is E + 1. Exact powers of two, f < 2^−40, subnormals, Infinity and
 * NaN take Math.log2 itself.
 */
export function ceilLog2(a: number): number {
  F64[0] = a;
  const hi = U32[HI], lo = U32[1 - HI];
  const biased = (hi >>> 20) & 0x7ff;
  if (biased !== 0 && biased !== 0x7ff && ((hi & 0xfffff) !== 0 || lo >>> 12 !== 0)) return biased - 1022;
  return Math.ceil(Math.log2(a));
}

function add(st: RangeStats, v: number): void {
  st.count++;
  const a = Math.abs(v);
  if (a === 0) return;
  if (a > st.max) st.max = a;
  let e = ceilLog2(a);
  if (e < E_MIN) e = E_MIN;
  else if (e > E_MAX) e = E_MAX;
  st.hist[e - E_MIN]++;
}

function addAll(st: RangeStats, v: ArrayLike<number>): void {
  for (let i = 0; i < v.length; i++) add(st, v[i]);
}

/**
 * The range R to fit: the max, or the smallest power of two covering the percentile of the non-zero
 * magnitudes (never above the max). Zeros are left out: they fit any format, and counting them would let a
 * sparse population (mostly zero ReLU or EGRU outputs) choose a range that clips every value it emits.
 */
export function chooseRange(st: RangeStats, mode: RangeMode): number {
  if (mode.kind === "max" || st.count === 0) return st.max;
  let nonzero = 0;
  for (const h of st.hist) nonzero += h;
  const need = (mode.percentile / 100) * nonzero;
  let cum = 0;
  for (let i = 0; i < st.hist.length; i++) {
    cum += st.hist[i];
    if (cum >= need) return Math.min(st.max, 2 ** (i + E_MIN));
  }
  return st.max;
}

/** Fraction of the recorded values whose magnitude exceeds 2^k (what a format with range 2^k clips). */
export function clipFraction(st: RangeStats, k: number): number {
  if (st.count === 0) return 0;
  let n = 0;
  for (let i = 0; i < st.hist.length; i++) if (i + E_MIN > k) n += st.hist[i];
  return n / st.count;
}

function observe(pop: Population, r: PopulationRanges, v: StepView): void {
  addAll(r.out, v.out);
  switch (pop.kind) {
    case "EGRU": {
      const H = pop.size;
      const vx = v.ports.input, vh = v.ports.recurrent;
      addAll(r.acc, vx);
      addAll(r.acc, vh);
      for (let i = 0; i < H; i++) {
        add(r.acc, vx[i] + vh[i]);
        add(r.acc, vx[H + i] + vh[H + i]);
        add(r.acc, vx[2 * H + i] + sigmoid(vx[H + i] + vh[H + i]) * vh[2 * H + i]);
      }
      break;
    }
    case "DiagonalSSM": {
      const skip = v.ports.skip;
      addAll(r.acc, v.out);
      addAll(r.acc, skip);
      for (let i = 0; i < skip.length; i++) add(r.acc, v.out[i] - skip[i]);
      for (const x of v.state) addAll(r.state, x);
      addAll(r.state, v.ports.u);
      break;
    }
    case "Dense":
      addAll(r.acc, v.ports.x);
      break;
    default:
      break;
  }
}

export const calibratePass: Pass<CalibrateOptions, CalibrationReport> = {
  name: "calibrate",
  run(graph: Graph, opts: CalibrateOptions) {
    if (graph.quant) throw new NmcError("calibrate runs on the float IR; this graph is already quantized");
    const ranges: Record<string, PopulationRanges> = {};
    const list = graph.populations.map((p) => {
      const r = { kind: p.kind, out: emptyStats(), acc: emptyStats(), state: emptyStats() };
      ranges[p.name] = r;
      return r;
    });
    const recorder = floatRecorder(graph, opts.batch, opts.keepFloatRun ?? 0);
    const engine = new FloatEngine(graph, {
      observer: recorder
        ? (i, view, b, t) => {
          observe(graph.populations[i], list[i], view);
          recorder.observer(i, view, b, t);
        }
        : (i, view) => observe(graph.populations[i], list[i], view),
    });
    const run = engine.run(opts.batch);
    const floatRun = recorder ? { floatRun: recorder.finish(run) } : {};
    return { graph, report: { samples: opts.batch.batch, ticks: opts.batch.ticks, populations: ranges, ...floatRun } };
  },
};
