// The float interpreter: executes the float IR tick by tick with the time semantics of docs/architecture.md
// (a delay-0 projection delivers within the tick, a delay-1 projection the previous tick's output;
// populations run in graph order, which the verifier guarantees is topological for delay-0 edges).
// Events are graded (state.ts deliver). What each kind keeps and computes in a tick is its row of the op
// table FLOAT_OPS (ops.ts; the math is docs/model-math.md); Float64 by default, Float32 storage on request.
import { NmcError } from "../../ir/errors.js";
import { irKindOf } from "../../ir/kinds.js";
import { graphTiming, isEventTime } from "../../ir/timing.js";
import type { Graph, PopulationKind } from "../../ir/types.js";
import { populationCounters, projectionCounters, type RunCounters } from "../counters.js";
import type { SequenceBatch } from "../batch.js";
import { type FloatOp, floatOpOf } from "./ops.js";
import type { Buf, FloatPop } from "./state.js";

export type Precision = "f64" | "f32";

/** What an observer sees after a population's step: its output, port accumulators and state vectors. */
export interface StepView {
  out: ArrayLike<number>;
  ports: Record<string, ArrayLike<number>>;
  state: ArrayLike<number>[];
}

/**
 * Called after every population step that emits (calibration records value ranges through it): every tick for
 * a single-rate graph; a population of rate R, or a pooling population, only at the ticks it emits.
 */
export type StepObserver = (popIndex: number, view: StepView, sample: number, tick: number) => void;

export interface FloatRunOptions {
  precision?: Precision;
  observer?: StepObserver;
}

export interface FloatRun {
  /**
   * [B, T, K] per-tick output of the output population, or [B, K] for a per-sequence output (a Readout, or a
   * population fed by one). An output emitting once every R ticks gives [B, floor(T / R), K], one row per emission.
   */
  output: Float64Array;
  outputShape: number[];
  counters: RunCounters;
}

/** A population with its row of FLOAT_OPS, looked up once, and when it steps (ir/timing.ts). */
interface PopState extends FloatPop {
  op: FloatOp<PopulationKind>;
  rate: number;
  outRate: number;
}

export class FloatEngine {
  private readonly pops: PopState[];
  readonly counters: RunCounters;
  private readonly outIndex: number;
  private readonly observer?: StepObserver;
  private readonly f32: boolean;
  private readonly eventTime: boolean;
  private readonly perSequence: boolean;
  /** Every population steps every tick (no pooling): the loop of a single-rate graph, unchanged. */
  private readonly singleRate: boolean;

  constructor(private readonly graph: Graph, opts: FloatRunOptions = {}) {
    this.observer = opts.observer;
    this.f32 = opts.precision === "f32";
    const Buf = this.f32 ? Float32Array : Float64Array;
    this.counters = { samples: 0, ticks: 0, populations: {}, projections: {} };
    const index = new Map(graph.populations.map((p, i) => [p.name, i]));
    const timing = graphTiming(graph).byName;
    this.eventTime = isEventTime(graph);
    this.pops = graph.populations.map((pop) => {
      const ports: Record<string, Buf> = {};
      for (const q of pop.ports) ports[q.name] = new Buf(q.width);
      const counters = populationCounters(pop);
      this.counters.populations[pop.name] = counters;
      const op = floatOpOf(pop.kind);
      const t = timing.get(pop.name)!;
      return {
        pop, op, out: new Buf(pop.size), prev: new Buf(pop.size), ports, incoming: [], state: op.state(pop, Buf), read: new Buf(0), counters,
        dt: 0, valid: 0, rate: t.rate, outRate: t.outRate,
      };
    });
    this.singleRate = this.pops.every((s) => s.outRate === 1);
    // Outputs are allocated once and never replaced, so a reader may hold the array itself.
    for (const s of this.pops) {
      const source = irKindOf(s.pop).reads(s.pop);
      if (source !== null) s.read = this.pops[index.get(source)!].out;
    }
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
      const src = this.pops[index.get(proj.source)!];
      t.incoming.push({
        proj, v: proj.delay === 0 ? src.out : src.prev, rowPtr: proj.weights.rowPtr, colIdx: proj.weights.colIdx,
        w: opts.precision === "f32" ? Float32Array.from(values.data as Float64Array) : values.data as Float64Array,
        acc: t.ports[proj.port], counters,
      });
    }
    this.outIndex = index.get(graph.outputs[0])!;
    this.perSequence = timing.get(graph.outputs[0])!.perSequence;
  }

  private reset(): void {
    for (const s of this.pops) {
      s.out.fill(0);
      s.prev.fill(0);
      for (const v of s.state) v.fill(0);
    }
  }

  private step(s: PopState, x: ArrayLike<number>, xOff: number, t: number): void {
    s.op.step(s, x, xOff, t);
    const out = s.out;
    let nz = 0;
    for (let i = 0; i < out.length; i++) if (out[i] !== 0) nz++;
    s.counters.events += nz;
    s.counters.unitTicks += out.length;
  }

  /** Runs a whole batch; returns the output population's values per tick (or the readout's final value). */
  run(batch: SequenceBatch): FloatRun {
    const { batch: B, ticks: T } = batch;
    if (this.eventTime && !batch.timesteps) {
      throw new NmcError("this model runs in event time: its input needs the time step of every step (SequenceBatch.timesteps)", {
        hint: "give an .npz with tokens and timesteps, or an event list (nmc run --input events.csv)",
      });
    }
    const outPop = this.pops[this.outIndex];
    const readout = this.perSequence;
    const K = outPop.pop.size;
    const rows = readout ? 1 : Math.floor(T / outPop.outRate);
    const output = new Float64Array(B * rows * K);
    for (let b = 0; b < B; b++) {
      this.reset();
      if (this.singleRate) this.runSingleRate(batch, b, output, rows);
      else this.runMultiRate(batch, b, output, rows);
      if (readout) for (let k = 0; k < K; k++) output[b * K + k] = T >= outPop.outRate ? outPop.out[k] : 0;
      this.counters.samples++;
      this.counters.ticks += T;
    }
    return { output, outputShape: readout ? [B, K] : [B, rows, K], counters: this.counters };
  }

  /** One sequence of a graph whose populations all step every tick. */
  private runSingleRate(batch: SequenceBatch, b: number, output: Float64Array, rows: number): void {
    const { ticks: T, channels: C, data } = batch;
    const outPop = this.pops[this.outIndex];
    const K = outPop.pop.size;
    const readout = this.perSequence;
    const length = batch.lengths ? batch.lengths[b] : T;
    for (const s of this.pops) s.valid = length;
    for (let t = 0; t < T; t++) {
      const xOff = (b * T + t) * C;
      if (this.eventTime) {
        const dt = this.f32 ? Math.fround(batch.timesteps![b * T + t]) : batch.timesteps![b * T + t];
        for (const s of this.pops) s.dt = dt;
      }
      for (const s of this.pops) this.step(s, data, xOff, t);
      if (this.observer) for (let p = 0; p < this.pops.length; p++) this.observer(p, this.pops[p], b, t);
      if (!readout) for (let k = 0; k < K; k++) output[(b * rows + t) * K + k] = outPop.out[k];
      for (const s of this.pops) s.prev.set(s.out);
    }
  }

  /**
   * One sequence of a multi-rate graph (ir/timing.ts): a population of rate R steps at the ticks t with
   * (t + 1) % R = 0, with Δt summed over its group and its own step index; it counts, is observed and keeps its
   * previous output only at the ticks it emits (every outRate ticks).
   */
  private runMultiRate(batch: SequenceBatch, b: number, output: Float64Array, rows: number): void {
    const { ticks: T, channels: C, data } = batch;
    const outPop = this.pops[this.outIndex];
    const K = outPop.pop.size;
    const readout = this.perSequence;
    const length = batch.lengths ? batch.lengths[b] : T;
    const ts = batch.timesteps;
    for (const s of this.pops) s.valid = Math.floor(length / s.rate);
    for (let t = 0; t < T; t++) {
      const xOff = (b * T + t) * C;
      for (let p = 0; p < this.pops.length; p++) {
        const s = this.pops[p];
        if ((t + 1) % s.rate !== 0) continue;
        if (this.eventTime) {
          let dt = 0;
          for (let u = t + 1 - s.rate; u <= t; u++) dt += this.f32 ? Math.fround(ts![b * T + u]) : ts![b * T + u];
          s.dt = this.f32 ? Math.fround(dt) : dt;
        }
        const emits = (t + 1) % s.outRate === 0;
        s.op.step(s, data, xOff, (t + 1) / s.rate - 1);
        if (!emits) continue;
        const out = s.out;
        let nz = 0;
        for (let i = 0; i < out.length; i++) if (out[i] !== 0) nz++;
        s.counters.events += nz;
        s.counters.unitTicks += out.length;
        this.observer?.(p, s, b, t);
      }
      if (!readout && (t + 1) % outPop.outRate === 0) {
        const row = (t + 1) / outPop.outRate - 1;
        for (let k = 0; k < K; k++) output[(b * rows + row) * K + k] = outPop.out[k];
      }
      for (const s of this.pops) if ((t + 1) % s.outRate === 0) s.prev.set(s.out);
    }
  }
}

/** Runs the float IR on a batch of sequences. */
export function runFloat(graph: Graph, batch: SequenceBatch, opts: FloatRunOptions = {}): FloatRun {
  return new FloatEngine(graph, opts).run(batch);
}
