// Float vs golden on the same inputs: how far the quantized model is from the float model it came from,
// per population (every tick's output, golden dequantized) and at the output (agreement of the argmax).
// This is the "float-vs-golden error" of the quantization report; targets are compared with the golden
// engine bit for bit elsewhere (verify).
import type { Graph } from "../ir/types.js";
import { FloatEngine, type FloatRun, type StepObserver } from "../runtime/float/interpreter.js";
import { type SequenceBatch, sliceBatch } from "../runtime/batch.js";
import { GoldenEngine } from "../runtime/golden/interpreter.js";
import type { SaturationCounts } from "../runtime/golden/saturation.js";
import { argmaxRows, countEqual } from "../runtime/metrics.js";

export interface ErrorStats {
  maxAbs: number;
  rms: number;
  /** Largest |float| seen, so the error can be read relative to the scale of the values. */
  maxRef: number;
}

export interface PopulationError extends ErrorStats {
  name: string;
  kind: string;
  /** Fraction of unit-ticks where float and golden agree on zero vs non-zero (an event or not). */
  eventAgreement: number;
}

export interface CompareReport {
  samples: number;
  ticks: number;
  populations: PopulationError[];
  output: ErrorStats & {
    /** Fraction of output vectors (per sample with a readout, else per tick) with the same argmax. */
    argmaxAgreement: number;
  };
}

class Acc {
  maxAbs = 0;
  sq = 0;
  n = 0;
  maxRef = 0;
  same = 0;
  add(f: number, g: number): void {
    const d = Math.abs(f - g);
    if (d > this.maxAbs) this.maxAbs = d;
    this.sq += d * d;
    this.n++;
    const a = Math.abs(f);
    if (a > this.maxRef) this.maxRef = a;
    if ((f === 0) === (g === 0)) this.same++;
  }
  stats(): ErrorStats {
    return { maxAbs: this.maxAbs, rms: this.n ? Math.sqrt(this.sq / this.n) : 0, maxRef: this.maxRef };
  }
}

/** The float engine's run on a batch, kept whole: what compareFloatGolden compares the golden engine with. */
export interface FloatReference {
  /** Per population (graph order): its output at every tick of every sample, [B, T, size] row-major. */
  outputs: Float64Array[];
  /** The run's output (FloatRun.output) and its shape. */
  output: Float64Array;
  outputShape: number[];
}

/**
 * An observer for a FloatEngine run on `batch` that keeps its FloatReference (finish() takes the run's
 * result), or null when that would be more than `limit` values.
 */
export function floatRecorder(g: Graph, batch: SequenceBatch, limit: number): { observer: StepObserver; finish(run: FloatRun): FloatReference } | null {
  const BT = batch.batch * batch.ticks;
  const total = g.populations.reduce((a, p) => a + BT * p.size, 0);
  if (!(total <= limit)) return null;
  const outputs = g.populations.map((p) => new Float64Array(BT * p.size));
  const sizes = g.populations.map((p) => p.size);
  const T = batch.ticks;
  return {
    observer: (pi, view, b, t) => outputs[pi].set(view.out, (b * T + t) * sizes[pi]),
    finish: (run) => ({ outputs, output: run.output, outputShape: run.outputShape }),
  };
}

export interface CompareOptions {
  /** Receives the golden engine's saturation counts over the batch (runtime/golden/saturation.ts). */
  saturation?: (counts: SaturationCounts) => void;
}

/**
 * Runs both engines on `batch`, one sample at a time so that the per-population comparison needs only one
 * sample's float outputs in memory ([T, size] per population). With `ref` (the float engine's run on this
 * batch, e.g. kept by calibration) only the golden engine runs; the figures are the same.
 */
export function compareFloatGolden(floatGraph: Graph, quantGraph: Graph, batch: SequenceBatch, ref?: FloatReference, opts: CompareOptions = {}): CompareReport {
  const pops = floatGraph.populations;
  const accs = pops.map(() => new Acc());
  const outAcc = new Acc();
  let agree = 0, vectors = 0;
  const T = batch.ticks;
  // The float outputs of the current sample, [T, size] per population (views into `ref` when given).
  let rec: Float64Array[] = pops.map((p) => new Float64Array(ref ? 0 : T * p.size));
  const ge = new GoldenEngine(quantGraph, {
    observer: (pi, out, _b, t) => {
      const frac = quantGraph.populations[pi].fixed!.outFrac;
      const r = rec[pi], n = out.length, a = accs[pi];
      for (let i = 0; i < n; i++) a.add(r[t * n + i], out[i] / 2 ** frac);
    },
  });
  const floatObserved = ref ? null : new FloatEngine(floatGraph, {
    observer: (pi, view, _b, t) => rec[pi].set(view.out as ArrayLike<number>, t * pops[pi].size),
  });
  for (let b = 0; b < batch.batch; b++) {
    const one = sliceBatch(batch, b, b + 1);
    let fOut: Float64Array, fShape: number[];
    if (ref) {
      rec = ref.outputs.map((o, pi) => o.subarray(b * T * pops[pi].size, (b + 1) * T * pops[pi].size));
      const n = ref.output.length / batch.batch;
      fOut = ref.output.subarray(b * n, (b + 1) * n);
      fShape = ref.outputShape;
    } else {
      const f = floatObserved!.run(one);
      fOut = f.output;
      fShape = f.outputShape;
    }
    const g = ge.run(one);
    for (let i = 0; i < fOut.length; i++) outAcc.add(fOut[i], g.output[i]);
    const K = fShape[fShape.length - 1];
    const rows = fOut.length / K;
    agree += countEqual(argmaxRows(fOut, rows, K), argmaxRows(g.output, rows, K), rows);
    vectors += rows;
  }
  if (opts.saturation) opts.saturation(ge.saturation()!);
  return {
    samples: batch.batch, ticks: T,
    populations: pops.map((p, i) => ({
      name: p.name, kind: p.kind, ...accs[i].stats(), eventAgreement: accs[i].n ? accs[i].same / accs[i].n : 1,
    })),
    output: { ...outAcc.stats(), argmaxAgreement: vectors ? agree / vectors : 1 },
  };
}
