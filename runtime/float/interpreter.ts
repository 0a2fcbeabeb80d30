// The float interpreter: executes the float IR tick by tick with the time semantics of docs/architecture.md
// (a delay-0 projection delivers within the tick, a delay-1 projection the previous tick's output;
// populations run in graph order, which the verifier guarantees is topological for delay-0 edges).
// Events are graded: a source row is touched only when the source's value is non-zero, which is both
// how event-driven hardware computes and what the counters count. The math of each kind is
// docs/model-math.md; Float64 by default, Float32 storage on request.
import { NmcError } from "../../ir/errors.js";
import type { Graph, Population, Projection } from "../../ir/types.js";
import { populationCounters, projectionCounters, type RunCounters } from "../counters.js";
import type { SequenceBatch } from "../batch.js";
import { gelu, sigmoid } from "./math.js";

export type Precision = "f64" | "f32";
type Buf = Float64Array | Float32Array;

/** What an observer sees after a population's step: its output, port accumulators and state vectors. */
export interface StepView {
  out: ArrayLike<number>;
  ports: Record<string, ArrayLike<number>>;
  state: ArrayLike<number>[];
}

/** Called after every population step (calibration records value ranges through it). */
export type StepObserver = (popIndex: number, view: StepView, sample: number, tick: number) => void;

export interface FloatRunOptions {
  precision?: Precision;
  observer?: StepObserver;
}

export interface FloatRun {
  /** [B, T, K] per-tick output of the output population, or [B, K] for a Readout output. */
  output: Float64Array;
  outputShape: number[];
  counters: RunCounters;
}

interface Incoming {
  proj: Projection;
  src: number; // population index
  delay: 0 | 1;
  rowPtr: Uint32Array;
  colIdx: Uint32Array;
  w: ArrayLike<number>;
  acc: Buf; // the target port's accumulator
  counters: RunCounters["projections"][string];
}

interface PopState {
  pop: Population;
  out: Buf;
  prev: Buf;
  ports: Record<string, Buf>;
  incoming: Incoming[];
  state: Buf[]; // kind-specific state vectors
  readoutSource: number; // Readout: index of the population it reads
  counters: RunCounters["populations"][string];
}

export class FloatEngine {
  private readonly pops: PopState[];
  private readonly Buf: Float64ArrayConstructor | Float32ArrayConstructor;
  readonly counters: RunCounters;
  private readonly outIndex: number;
  private readonly observer?: StepObserver;

  constructor(private readonly graph: Graph, opts: FloatRunOptions = {}) {
    this.observer = opts.observer;
    this.Buf = opts.precision === "f32" ? Float32Array : Float64Array;
    const Buf = this.Buf;
    this.counters = { samples: 0, ticks: 0, populations: {}, projections: {} };
    const index = new Map(graph.populations.map((p, i) => [p.name, i]));
    this.pops = graph.populations.map((pop) => {
      const ports: Record<string, Buf> = {};
      for (const q of pop.ports) ports[q.name] = new Buf(q.width);
      const counters = populationCounters(pop);
      this.counters.populations[pop.name] = counters;
      const readoutSource = pop.kind === "Readout" ? index.get(pop.source)! : -1;
      return { pop, out: new Buf(pop.size), prev: new Buf(pop.size), ports, incoming: [], state: this.stateFor(pop), readoutSource, counters };
    });
    for (const proj of graph.projections) {
      const t = this.pops[index.get(proj.target)!];
      const counters = projectionCounters(proj);
      this.counters.projections[proj.name] = counters;
      const values = proj.weights.values;
      if (values.dtype !== "f32" && values.dtype !== "f64") {
        throw new NmcError(`projection ${proj.name} holds ${values.dtype} weights: the float interpreter runs float IR only`, {
          node: proj.name, hint: "run a quantized bundle with --engine golden",
        });
      }
      t.incoming.push({
        proj, src: index.get(proj.source)!, delay: proj.delay, rowPtr: proj.weights.rowPtr, colIdx: proj.weights.colIdx,
        w: opts.precision === "f32" ? Float32Array.from(values.data as Float64Array) : values.data as Float64Array,
        acc: t.ports[proj.port], counters,
      });
    }
    this.outIndex = index.get(graph.outputs[0])!;
  }

  private stateFor(pop: Population): Buf[] {
    switch (pop.kind) {
      case "EGRU": return [new this.Buf(pop.size)]; // h
      case "DiagonalSSM": return [new this.Buf(pop.stateSize), new this.Buf(pop.stateSize)]; // x re, im
      case "Readout": return [new this.Buf(pop.size)]; // running sum
      default: return [];
    }
  }

  private reset(): void {
    for (const s of this.pops) {
      s.out.fill(0);
      s.prev.fill(0);
      for (const v of s.state) v.fill(0);
    }
  }

  /** Sums every incoming projection into its port accumulator (which the caller pre-loads). */
  private deliver(s: PopState): void {
    for (const inc of s.incoming) {
      const src = this.pops[inc.src];
      const v = inc.delay === 0 ? src.out : src.prev;
      const { rowPtr, colIdx, w, acc, counters } = inc;
      let active = 0, touched = 0;
      for (let i = 0; i < v.length; i++) {
        const x = v[i];
        if (x === 0) continue;
        active++;
        const end = rowPtr[i + 1];
        touched += end - rowPtr[i];
        for (let k = rowPtr[i]; k < end; k++) acc[colIdx[k]] += x * w[k];
      }
      counters.dense += inc.proj.rows * inc.proj.cols;
      counters.effective += touched;
      counters.activityOnly += active * inc.proj.cols;
      counters.weightOnly += counters.nnz;
    }
  }

  private loadBias(acc: Buf, bias: ArrayLike<number> | undefined): void {
    if (bias) for (let i = 0; i < acc.length; i++) acc[i] = bias[i];
    else acc.fill(0);
  }

  private step(s: PopState, x: ArrayLike<number>, xOff: number, t: number): void {
    const pop = s.pop;
    const out = s.out;
    switch (pop.kind) {
      case "Input": {
        if (pop.encoding === "tokens") {
          out.fill(0);
          out[x[xOff]] = 1;
        } else for (let i = 0; i < pop.size; i++) out[i] = x[xOff + i];
        break;
      }
      case "EGRU": {
        const H = pop.size;
        const vx = s.ports.input, vh = s.ports.recurrent;
        this.loadBias(vx, pop.tensors.bias_x.data);
        this.loadBias(vh, pop.tensors.bias_h.data);
        this.deliver(s);
        const thr = pop.tensors.thr.data;
        const h = s.state[0];
        for (let i = 0; i < H; i++) {
          const z = sigmoid(vx[i] + vh[i]);
          const r = sigmoid(vx[H + i] + vh[H + i]);
          const g = Math.tanh(vx[2 * H + i] + r * vh[2 * H + i]);
          const c = z * h[i] + (1 - z) * g;
          // Store c first so that Float32 mode compares the stored (rounded) value with the threshold.
          out[i] = c;
          const fire = out[i] - thr[i] > 0;
          h[i] = fire ? out[i] - thr[i] : out[i];
          if (!fire) out[i] = 0;
        }
        break;
      }
      case "DiagonalSSM": {
        const P = pop.stateSize, H = pop.size;
        const u = s.ports.u, skip = s.ports.skip;
        u.fill(0);
        skip.fill(0);
        this.deliver(s);
        const [xr, xi] = s.state;
        const lr = pop.tensors.lambda_re.data, li = pop.tensors.lambda_im.data;
        for (let p = 0; p < P; p++) {
          const a = xr[p], b = xi[p];
          xr[p] = lr[p] * a - li[p] * b + u[p];
          xi[p] = lr[p] * b + li[p] * a + u[P + p];
        }
        const cr = pop.tensors.c_re.data, ci = pop.tensors.c_im.data;
        for (let hh = 0; hh < H; hh++) {
          let y = skip[hh];
          const row = hh * P;
          for (let p = 0; p < P; p++) y += cr[row + p] * xr[p] - ci[row + p] * xi[p];
          out[hh] = y;
        }
        break;
      }
      case "Dense": {
        const acc = s.ports.x;
        this.loadBias(acc, pop.tensors.bias.data);
        this.deliver(s);
        applyActivation(pop.activation, acc, out);
        break;
      }
      case "Readout": {
        const src = this.pops[s.readoutSource].out;
        const sum = s.state[0];
        for (let i = 0; i < pop.size; i++) {
          if (pop.mode === "last") sum[i] = src[i];
          else sum[i] += src[i];
          out[i] = pop.mode === "mean" ? sum[i] / (t + 1) : sum[i];
        }
        break;
      }
    }
    let nz = 0;
    for (let i = 0; i < out.length; i++) if (out[i] !== 0) nz++;
    s.counters.events += nz;
    s.counters.unitTicks += out.length;
  }

  /** Runs a whole batch; returns the output population's values per tick (or the readout's final value). */
  run(batch: SequenceBatch): FloatRun {
    const { batch: B, ticks: T, channels: C, data } = batch;
    const outPop = this.pops[this.outIndex];
    const readout = outPop.pop.kind === "Readout";
    const K = outPop.pop.size;
    const output = new Float64Array(readout ? B * K : B * T * K);
    for (let b = 0; b < B; b++) {
      this.reset();
      for (let t = 0; t < T; t++) {
        const xOff = (b * T + t) * C;
        for (const s of this.pops) this.step(s, data, xOff, t);
        if (this.observer) for (let p = 0; p < this.pops.length; p++) this.observer(p, this.pops[p], b, t);
        if (!readout) for (let k = 0; k < K; k++) output[(b * T + t) * K + k] = outPop.out[k];
        for (const s of this.pops) s.prev.set(s.out);
      }
      if (readout) for (let k = 0; k < K; k++) output[b * K + k] = T > 0 ? outPop.out[k] : 0;
      this.counters.samples++;
      this.counters.ticks += T;
    }
    return { output, outputShape: readout ? [B, K] : [B, T, K], counters: this.counters };
  }
}

function applyActivation(act: string, acc: Buf, out: Buf): void {
  const n = acc.length;
  switch (act) {
    case "linear": for (let i = 0; i < n; i++) out[i] = acc[i]; break;
    case "relu": for (let i = 0; i < n; i++) out[i] = acc[i] > 0 ? acc[i] : 0; break;
    case "sigmoid": for (let i = 0; i < n; i++) out[i] = sigmoid(acc[i]); break;
    case "tanh": for (let i = 0; i < n; i++) out[i] = Math.tanh(acc[i]); break;
    case "gelu": for (let i = 0; i < n; i++) out[i] = gelu(acc[i]); break;
    case "softmax": {
      let m = -Infinity;
      for (let i = 0; i < n; i++) if (acc[i] > m) m = acc[i];
      let z = 0;
      for (let i = 0; i < n; i++) z += Math.exp(acc[i] - m);
      for (let i = 0; i < n; i++) out[i] = Math.exp(acc[i] - m) / z;
      break;
    }
    default: throw new NmcError(`unknown activation ${act}`);
  }
}

/** Runs the float IR on a batch of sequences. */
export function runFloat(graph: Graph, batch: SequenceBatch, opts: FloatRunOptions = {}): FloatRun {
  return new FloatEngine(graph, opts).run(batch);
}
