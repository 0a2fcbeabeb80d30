// Float vs golden on the same inputs: how far the quantized model is from the float model it came from,
// per population (every tick's output, golden dequantized) and at the output (agreement of the argmax).
// This is the "float-vs-golden error" of the quantization report; targets are compared with the golden
// engine bit for bit elsewhere (verify).
import type { Graph } from "../ir/types.js";
import { FloatEngine, type SequenceBatch } from "../runtime/float/interpreter.js";
import { GoldenEngine } from "../runtime/golden/interpreter.js";
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

/**
 * Runs both engines on `batch`, one sample at a time so that the per-population comparison needs only one
 * sample's float outputs in memory ([T, size] per population).
 */
export function compareFloatGolden(floatGraph: Graph, quantGraph: Graph, batch: SequenceBatch): CompareReport {
  const pops = floatGraph.populations;
  const accs = pops.map(() => new Acc());
  const outAcc = new Acc();
  let agree = 0, vectors = 0;
  const T = batch.ticks, per = T * batch.channels;
  const rec: Float64Array[] = pops.map((p) => new Float64Array(T * p.size));
  const ge = new GoldenEngine(quantGraph, {
    observer: (pi, out, _b, t) => {
      const frac = quantGraph.populations[pi].fixed!.outFrac;
      const r = rec[pi], n = out.length, a = accs[pi];
      for (let i = 0; i < n; i++) a.add(r[t * n + i], out[i] / 2 ** frac);
    },
  });
  const floatObserved = new FloatEngine(floatGraph, {
    observer: (pi, view, _b, t) => rec[pi].set(view.out as ArrayLike<number>, t * pops[pi].size),
  });
  for (let b = 0; b < batch.batch; b++) {
    const one: SequenceBatch = { data: sliceOf(batch.data, b * per, per), batch: 1, ticks: T, channels: batch.channels };
    const f = floatObserved.run(one);
    const g = ge.run(one);
    for (let i = 0; i < f.output.length; i++) outAcc.add(f.output[i], g.output[i]);
    const K = f.outputShape[f.outputShape.length - 1];
    const rows = f.output.length / K;
    agree += countEqual(argmaxRows(f.output, rows, K), argmaxRows(g.output, rows, K), rows);
    vectors += rows;
  }
  return {
    samples: batch.batch, ticks: T,
    populations: pops.map((p, i) => ({
      name: p.name, kind: p.kind, ...accs[i].stats(), eventAgreement: accs[i].n ? accs[i].same / accs[i].n : 1,
    })),
    output: { ...outAcc.stats(), argmaxAgreement: vectors ? agree / vectors : 1 },
  };
}

function sliceOf(data: ArrayLike<number>, start: number, n: number): ArrayLike<number> {
  if (ArrayBuffer.isView(data)) return (data as unknown as Float64Array).subarray(start, start + n);
  return Array.prototype.slice.call(data, start, start + n) as number[];
}
