// The golden interpreter: THE definition of what a quantized nmc model computes. It executes quantized IR
// with integer arithmetic only, through the primitives of runtime/fixed (the formulas are written out in
// runtime/fixed/QUANTIZATION.md), with the float interpreter's time semantics: populations run in graph
// order within a tick, a delay-0 projection delivers this tick's output, a delay-1 projection the previous
// tick's. Every target (the SpiNNaker 2 simulator, the CUDA emitter) must reproduce its outputs and events
// bit for bit.
//
// Integers are held in JS numbers and typed arrays. Values that can exceed 32 bits before their defined
// saturation point (a projection's sum of products, a port's sum of requantized terms) live in Float64Array
// slots: every such sum is an exact integer below 2^53 (int16 × int16 products, at most 2^22 of them), so
// the double holds it exactly, as an int64 does in C. The only real-valued operations are at the boundary:
// inputs enter through toFixed before the tick loop, outputs leave through fromFixed after it.
//
// Every clamp of the kernels counts, per population, the values it changed (saturation.ts, docs/metrics.md
// "Saturation and clipping"); a run reports them beside its counters. Counting changes no value.
import { irKindOf } from "../../ir/kinds.js";
import { NmcError } from "../../ir/errors.js";
import { graphTiming, isEventTime } from "../../ir/timing.js";
import type { Graph, Population, Projection } from "../../ir/types.js";
import { fromFixed, roundHalfAway, toFixed16Batch } from "../fixed/index.js";
import { quantizeTimesteps } from "./event-kernels.js";
import { accumulateNonZero, loadBias, requantizeColumns, requantizeColumnsWasm, saturatePort, saturatePortWasm } from "./kernels.js";
import { goldenOp, type UnitUpdate } from "./ops.js";
import { accumulationBytes, accumulationForm, bindAccumulation, type BoundAccumulation } from "./accumulation.js";
import { NO_COUNTS, saturationCounters, saturationCounts, type SaturationCounts } from "./saturation.js";
import { populationCounters, projectionCounters, type RunCounters } from "../counters.js";
import type { SequenceBatch } from "../batch.js";
import { Arena, ArenaPlan, kernelChoice, type KernelChoice, type RequantizeKernel, requantizeFits, type SaturateKernel, useWasm } from "../wasm/index.js";

export interface GoldenRun {
  /** The output as real numbers (fromFixed of outputQ): [B, T, K], or [B, K] for a Readout output. */
  output: Float64Array;
  /** The output integers. */
  outputQ: Int32Array;
  outputShape: number[];
  /** Fractional bits of outputQ. */
  outFrac: number;
  counters: RunCounters;
  /** Values clamped to their format and lookup-table inputs clipped, per population (saturation.ts); absent when not counted. */
  saturation?: SaturationCounts;
}

/** Called after every tick with each population's integer output (what the verify command compares). */
export type GoldenObserver = (popIndex: number, out: Int32Array, sample: number, tick: number) => void;

export interface GoldenOptions {
  observer?: GoldenObserver;
  /** Count saturations and clippings (default true); false: the kernels count into a sink, and runs report none. */
  countSaturation?: boolean;
  /** The accumulation kernels (runtime/wasm): auto (default: WebAssembly when it loads), wasm, js; else NMC_KERNELS. */
  kernels?: KernelChoice;
}

interface Incoming {
  proj: Projection;
  src: number;
  delay: 0 | 1;
  /** The TypeScript accumulation's arrays (the IR's). */
  rowPtr: Uint32Array;
  colIdx: Uint32Array;
  w: Int8Array | Int16Array;
  /** The WebAssembly accumulation (accumulation.ts: the weights copied into the arena in its form), or null: TypeScript. */
  wasm: BoundAccumulation["add"] | null;
  /** The WebAssembly requantization of acc (mult, shift, acc and port in the arena), or null. */
  rq: RequantizeKernel | null;
  mult: Int32Array;
  shift: Int32Array;
  /** Exact per-projection column sums: f64, or int32 where the WebAssembly kernels provably may (accumulation.ts). */
  acc: Float64Array | Int32Array;
  port: Float64Array; // the target port: exact sum of requantized terms, saturated after delivery
  counters: RunCounters["projections"][string];
}

interface PopState {
  pop: Population;
  out: Int32Array;
  prev: Int32Array;
  /** Non-zero entries of out and of prev (the active rows of this population's projections). */
  nz: number;
  prevNz: number;
  ports: Record<string, Float64Array>;
  portList: Float64Array[];
  bias: (Float64Array | null)[]; // per port in portList order (int32 values)
  incoming: Incoming[];
  state: Int32Array[];
  /** The population's kernel (GOLDEN_OPS), bound to its whole unit range. */
  update: UnitUpdate;
  counters: RunCounters["populations"][string];
  /** Saturation counters (saturation.ts), filled by the kernels. */
  sat: Float64Array;
  /** Steps once every `rate` ticks, emits once every `outRate` (ir/timing.ts). */
  rate: number;
  outRate: number;
  /** Event time: [Δt of the step in quanta, valid steps] (UnitRange.time). */
  time: Float64Array;
}

function intData(p: Population, name: string): Int32Array {
  const t = p.tensors[name];
  if (!t) throw new NmcError(`population ${p.name} lacks quantized tensor ${name}`, { node: p.name });
  return Int32Array.from(t.data as ArrayLike<number>);
}

/** The fractional bits of an event-time graph's Δt quanta (the input's dt_frac tensor); null when not event time. */
export function dtFracOf(graph: Graph): number | null {
  const input = graph.populations.find((p) => p.name === graph.inputs[0]);
  if (!input || input.kind !== "Input" || !input.eventTime) return null;
  const t = input.tensors.dt_frac;
  if (!t) throw new NmcError(`event-time input ${input.name} lacks its quantized tensor dt_frac`, { node: input.name });
  return Number(t.data[0]);
}

/**
 * Every tick's Δt as quanta of 2^−dt_frac ([B·T]; event-kernels.ts quantizeTimesteps: ties away, saturated at
 * 2^28 − 1) and how many saturated; null for a graph not in event time.
 */
export function quantizeTime(graph: Graph, batch: SequenceBatch): { dtq: Float64Array; saturated: number } | null {
  const frac = dtFracOf(graph);
  if (frac === null) return null;
  if (!batch.timesteps) {
    throw new NmcError("this model runs in event time: its input needs the time step of every step (SequenceBatch.timesteps)", {
      hint: "give an .npz with tokens and timesteps, or an event list (nmc run --input events.csv)",
    });
  }
  const dtq = new Float64Array(batch.timesteps.length);
  return { dtq, saturated: quantizeTimesteps(batch.timesteps, frac, dtq) };
}

/** The model inputs as integers in the input population's format (tokens stay token ids), into `q` when given (its length: the batch's values). */
export function quantizeInputs(graph: Graph, batch: SequenceBatch, q: Int32Array = new Int32Array(batch.data.length)): Int32Array {
  const input = graph.populations.find((p) => p.name === graph.inputs[0]);
  if (!input || input.kind !== "Input" || !input.fixed) throw new NmcError("graph has no quantized input population");
  const n = batch.data.length;
  if (q.length !== n) throw new NmcError(`internal: ${q.length} slots for ${n} input values`);
  if (input.encoding === "tokens") for (let i = 0; i < n; i++) q[i] = batch.data[i];
  else {
    // A batch of another array type is copied to doubles first (exactly), so that the loop's reads stay of one kind.
    const data = batch.data instanceof Float64Array ? batch.data : Float64Array.from(batch.data);
    toFixed16Batch(data, input.fixed.outFrac, q);
  }
  return q;
}

/** How many input values lie beyond what the input population's format holds (they saturate when quantized). */
export interface InputSaturation {
  /** Values that saturate, of all values. */
  saturated: number;
  values: number;
  /** The largest |x| in the batch, and the largest the format holds (2^15 − 1) / 2^out_frac. */
  maxAbs: number;
  limit: number;
}

/**
 * The input values a quantized graph cannot represent: its input format was chosen by calibration, so an
 * input beyond the calibrated range saturates at int16 (QUANTIZATION.md, toFixed). Null for token inputs.
 */
export function inputSaturation(graph: Graph, batch: SequenceBatch): InputSaturation | null {
  const input = graph.populations.find((p) => p.name === graph.inputs[0]);
  if (!input || input.kind !== "Input" || !input.fixed || input.encoding === "tokens") return timeSaturation(graph, batch);
  const frac = input.fixed.outFrac, data = batch.data, n = data.length;
  let saturated = 0, maxAbs = 0;
  for (let i = 0; i < n; i++) {
    const x = data[i];
    const r = roundHalfAway(x * 2 ** frac); // exactly toFixed's rounding, before its saturation
    if (r > 32767 || r < -32768) saturated++;
    const a = Math.abs(x);
    if (a > maxAbs) maxAbs = a;
  }
  return { saturated, values: n, maxAbs, limit: 32767 / 2 ** frac };
}

/** An event-time graph's Δt values beyond 2^28 − 1 quanta of 2^−dt_frac (they saturate), as InputSaturation. */
export function timeSaturation(graph: Graph, batch: SequenceBatch): InputSaturation | null {
  const frac = dtFracOf(graph);
  if (frac === null || !batch.timesteps) return null;
  const q = quantizeTime(graph, batch)!;
  let maxAbs = 0;
  for (const v of batch.timesteps) maxAbs = Math.max(maxAbs, Math.abs(v));
  return { saturated: q.saturated, values: batch.timesteps.length, maxAbs, limit: (2 ** 28 - 1) / 2 ** frac };
}

export class GoldenEngine {
  private readonly pops: PopState[];
  readonly counters: RunCounters;
  private readonly outIndex: number;
  private readonly observer?: GoldenObserver;
  private readonly counting: boolean;
  /** Raw sums of int16 weights are rounding-shifted by weight_bits − 8 before saturating to int32. */
  private readonly pre: number;
  /** Every population steps and emits every tick and no Δt is read: the single-rate loop. */
  private readonly singleRate: boolean;
  private readonly perSequence: boolean;
  /** Which accumulation kernels this engine runs (GoldenOptions.kernels). */
  readonly kernels: "wasm" | "js";
  /** The WebAssembly kernels' saturation counts (4 slots in the arena). */
  private readonly kernelCounts: Float64Array;
  /** The WebAssembly port saturation, or null: TypeScript. */
  private readonly sat32: SaturateKernel | null;
  /** The kernels' memory (null: TypeScript kernels); given back by dispose(). */
  private readonly arena: Arena | null;
  private disposed = false;

  constructor(private readonly graph: Graph, opts: GoldenOptions = {}) {
    if (!graph.quant) {
      throw new NmcError("the golden engine runs quantized IR only; this graph is float", {
        hint: "compile it first (nmc compile model.json -o m.nmb), or run the float engine",
      });
    }
    this.observer = opts.observer;
    this.counting = opts.countSaturation !== false;
    this.pre = graph.quant.weightBits - 8;
    this.counters = { samples: 0, ticks: 0, populations: {}, projections: {} };
    const index = new Map(graph.populations.map((p, i) => [p.name, i]));
    const plan = new ArenaPlan();
    plan.add(8, 4);
    for (const p of graph.populations) {
      plan.add(4, p.size).add(4, p.size);
      for (const q of p.ports) plan.add(8, q.width);
      const op = goldenOp(p);
      for (const v of op.state(p, p.size)) plan.add(4, v.length);
      plan.add(1, op.arenaBytes?.(p, p.size) ?? 0);
    }
    const forms = graph.projections.map((j) => accumulationForm(j, this.pre));
    graph.projections.forEach((j, i) => plan.add(4, j.cols).add(4, j.cols).add(1, accumulationBytes(j, forms[i])));
    const arena = useWasm(kernelChoice(opts.kernels), plan.bytes) ? new Arena(plan) : null;
    this.arena = arena;
    this.kernels = arena ? "wasm" : "js";
    const i32 = (n: number) => (arena ? arena.alloc(Int32Array, n) : new Int32Array(n));
    this.kernelCounts = arena ? arena.alloc(Float64Array, 4) : new Float64Array(4);
    this.sat32 = arena ? arena.saturate() : null;
    const outs = graph.populations.map((p) => i32(p.size));
    const timing = graphTiming(graph).byName;
    this.pops = graph.populations.map((pop, i) => {
      const op = goldenOp(pop);
      const ports: Record<string, Float64Array> = {};
      for (const q of pop.ports) ports[q.name] = arena ? arena.alloc(Float64Array, q.width) : new Float64Array(q.width);
      const counters = populationCounters(pop);
      this.counters.populations[pop.name] = counters;
      const portList = pop.ports.map((q) => ports[q.name]);
      const biasFor = (port: string): Float64Array | null => {
        const t = irKindOf(pop).portBias(pop, port);
        return t ? Float64Array.from(intData(pop, t)) : null; // doubles: loading a port is a copy
      };
      const out = outs[i], state = op.state(pop, pop.size, arena ? i32 : undefined);
      const src = irKindOf(pop).reads(pop);
      const source = src === null ? undefined : outs[index.get(src)!];
      const sat = this.counting ? saturationCounters() : NO_COUNTS;
      const time = new Float64Array(2);
      const wasm = arena ? { arena, counts: this.kernelCounts } : undefined;
      const update = op.bind(pop, { lo: 0, n: pop.size, ports: portList, state, out, pre: this.pre, source, sat, time, wasm });
      const tm = timing.get(pop.name)!;
      return {
        pop, out, prev: i32(pop.size), nz: 0, prevNz: 0, ports, portList,
        bias: pop.ports.map((q) => biasFor(q.name)), incoming: [], state, update, counters, sat, rate: tm.rate, outRate: tm.outRate, time,
      };
    });
    graph.projections.forEach((proj, i) => {
      const t = this.pops[index.get(proj.target)!];
      const counters = projectionCounters(proj);
      this.counters.projections[proj.name] = counters;
      const values = proj.weights.values;
      if ((values.dtype !== "i8" && values.dtype !== "i16") || !proj.requant) {
        throw new NmcError(`projection ${proj.name} is not quantized`, { node: proj.name });
      }
      const w = values.data as Int8Array | Int16Array, { rowPtr, colIdx } = proj.weights;
      const bound = arena ? bindAccumulation(arena, proj, forms[i], this.pre) : null;
      t.incoming.push({
        proj, src: index.get(proj.source)!, delay: proj.delay, rowPtr, colIdx, w, wasm: bound ? bound.add : null, rq: bound ? bound.rq : null,
        mult: arena ? arena.copy(proj.requant.multiplier) : proj.requant.multiplier, shift: arena ? arena.copy(proj.requant.shift) : proj.requant.shift,
        acc: bound ? bound.acc : new Float64Array(proj.cols), port: t.ports[proj.port], counters,
      });
    });
    this.outIndex = index.get(graph.outputs[0])!;
    this.perSequence = timing.get(graph.outputs[0])!.perSequence;
    // The masked readouts (pool, timepool) read the valid steps, which the multi-rate loop provides.
    this.singleRate = !isEventTime(graph) && this.pops.every((s) => s.outRate === 1 && !(s.pop.kind === "Readout" && (s.pop.mode === "pool" || s.pop.mode === "timepool")));
  }

  private reset(): void {
    for (const s of this.pops) {
      s.out.fill(0);
      s.prev.fill(0);
      s.nz = s.prevNz = 0;
      for (const v of s.state) v.fill(0);
    }
  }

  /**
   * Loads every port with its bias, adds each incoming projection (event-driven: only non-zero source
   * values touch their rows; exact int sums per column, then sat32, then requantize into the port's
   * format), and saturates each port to int32 once all projections have arrived.
   */
  private deliver(s: PopState): void {
    for (let q = 0; q < s.portList.length; q++) loadBias(s.portList[q], s.bias[q]);
    for (const inc of s.incoming) {
      const src = this.pops[inc.src];
      const v = inc.delay === 0 ? src.out : src.prev;
      const active = inc.delay === 0 ? src.nz : src.prevNz;
      const { acc, counters } = inc;
      let touched = 0;
      if (active > 0) {
        if (!inc.rq) acc.fill(0); // the WebAssembly requantization leaves it zero
        // Without rq the sums are f64 (accumulation.ts: the int32 forms always requantize in WebAssembly).
        touched = inc.wasm ? inc.wasm(v.byteOffset) : accumulateNonZero(v, inc.rowPtr, inc.colIdx, inc.w, acc as Float64Array);
        if (inc.rq) requantizeColumnsWasm(inc.rq, acc, inc.mult, inc.shift, this.pre, inc.port, this.kernelCounts, s.sat);
        else requantizeColumns(acc as Float64Array, inc.mult, inc.shift, this.pre, inc.port, s.sat);
      }
      counters.dense += inc.proj.rows * inc.proj.cols;
      counters.effective += touched;
      counters.activityOnly += active * inc.proj.cols;
      counters.weightOnly += counters.nnz;
    }
    const k = this.sat32;
    if (k) for (const port of s.portList) saturatePortWasm(k, port, this.kernelCounts, s.sat);
    else for (const port of s.portList) saturatePort(port, s.sat);
  }

  /** One tick of a population: its projections delivered, then its kernel (GOLDEN_OPS) over all its units. */
  private step(s: PopState, x: Int32Array, xOff: number, t: number): void {
    const out = s.out;
    this.deliver(s);
    s.update(t, x, xOff);
    let nz = 0;
    for (let i = 0; i < out.length; i++) if (out[i] !== 0) nz++;
    s.nz = nz;
    s.counters.events += nz;
    s.counters.unitTicks += out.length;
  }

  /** The saturation counts of every run of this engine so far (summed, as its counters are); undefined when not counting. */
  saturation(): SaturationCounts | undefined {
    return this.counting ? saturationCounts(this.graph.populations, this.pops.map((s) => s.sat)) : undefined;
  }

  /**
   * Gives the kernels' memory back for the next engine or simulator (runtime/wasm Arena.release: a fresh memory's
   * first touch costs page faults). Optional: an engine never disposed is reclaimed by the garbage collector as
   * usual. A disposed engine refuses to run; its results already returned stay valid (they are copies).
   */
  dispose(): void {
    this.disposed = true;
    this.arena?.release();
  }

  private live(): void {
    if (this.disposed) throw new NmcError("internal: this golden engine was disposed and cannot run again");
  }

  /** Runs a batch; inputs are converted to the input format first (the one real → integer step). */
  run(batch: SequenceBatch): GoldenRun {
    this.live();
    if (!this.singleRate) return this.runMultiRate(batch);
    const { batch: B, ticks: T, channels: C } = batch;
    const xq = quantizeInputs(this.graph, batch);
    const outPop = this.pops[this.outIndex];
    const readout = irKindOf(outPop.pop).perSequence;
    const K = outPop.pop.size;
    const outputQ = new Int32Array(readout ? B * K : B * T * K);
    for (let b = 0; b < B; b++) {
      this.reset();
      for (let t = 0; t < T; t++) {
        const xOff = (b * T + t) * C;
        for (const s of this.pops) this.step(s, xq, xOff, t);
        if (this.observer) for (let p = 0; p < this.pops.length; p++) this.observer(p, this.pops[p].out, b, t);
        if (!readout) outputQ.set(outPop.out, (b * T + t) * K);
        for (const s of this.pops) {
          s.prev.set(s.out);
          s.prevNz = s.nz;
        }
      }
      if (readout && T > 0) outputQ.set(outPop.out, b * K);
      this.counters.samples++;
      this.counters.ticks += T;
    }
    return this.finish(outputQ, readout ? [B, K] : [B, T, K]);
  }

  private stepT = 0;

  /**
   * One sequence stepped by the caller, tick by tick (nmc generate feeds each output back as the next input):
   * `begin()` resets every state; `tick(xq, xOff)` runs the next tick on the quantized input at xq[xOff…] (a
   * token id for an Embedding model) and returns the output population's integers (valid until the next tick);
   * `end()` counts the sequence in the counters. Graphs whose populations all step every tick only.
   */
  begin(): void {
    this.live();
    if (!this.singleRate) throw new NmcError("stepping tick by tick takes a model whose populations all step every tick (no pooling, no event time)");
    this.reset();
    this.stepT = 0;
  }

  tick(xq: Int32Array, xOff: number): Int32Array {
    this.live();
    const t = this.stepT++;
    for (const s of this.pops) this.step(s, xq, xOff, t);
    if (this.observer) for (let p = 0; p < this.pops.length; p++) this.observer(p, this.pops[p].out, 0, t);
    for (const s of this.pops) {
      s.prev.set(s.out);
      s.prevNz = s.nz;
    }
    this.counters.ticks++;
    return this.pops[this.outIndex].out;
  }

  end(): void {
    this.counters.samples++;
  }

  /** The output's fractional bits. */
  get outFrac(): number {
    return this.pops[this.outIndex].pop.fixed!.outFrac;
  }

  private finish(outputQ: Int32Array, outputShape: number[]): GoldenRun {
    const outFrac = this.pops[this.outIndex].pop.fixed!.outFrac;
    const output = new Float64Array(outputQ.length);
    for (let i = 0; i < output.length; i++) output[i] = fromFixed(outputQ[i], outFrac);
    return { output, outputQ, outputShape, outFrac, counters: this.counters, ...(this.counting ? { saturation: this.saturation() } : {}) };
  }

  /**
   * Multi-rate and event-time execution (ir/timing.ts, docs/architecture.md "Rates"): a population of rate R
   * steps at the ticks t with (t + 1) % R = 0, with its own step index (t + 1) / R − 1 and Δt summed over its
   * group (exact integer quanta); it emits (counts, is observed, becomes its delay-1 "previous") only at the ticks
   * (t + 1) % outRate = 0. A per-tick output of rate R has floor(T / R) rows; a per-sequence output is its value
   * after the last tick (0 when the sequence is shorter than its rate).
   */
  private runMultiRate(batch: SequenceBatch): GoldenRun {
    const { batch: B, ticks: T, channels: C } = batch;
    const xq = quantizeInputs(this.graph, batch);
    const time = quantizeTime(this.graph, batch);
    const outPop = this.pops[this.outIndex];
    const readout = this.perSequence;
    const K = outPop.pop.size;
    const rows = readout ? 1 : Math.floor(T / outPop.outRate);
    const outputQ = new Int32Array(B * rows * K);
    for (let b = 0; b < B; b++) {
      this.reset();
      const length = batch.lengths ? batch.lengths[b] : T;
      for (let t = 0; t < T; t++) {
        const xOff = (b * T + t) * C;
        for (let p = 0; p < this.pops.length; p++) {
          const s = this.pops[p];
          if ((t + 1) % s.rate !== 0) continue;
          if (time) {
            let dt = 0;
            for (let u = t + 1 - s.rate; u <= t; u++) dt += time.dtq[b * T + u];
            s.time[0] = dt;
          }
          s.time[1] = Math.floor(length / s.rate);
          this.deliver(s);
          s.update((t + 1) / s.rate - 1, xq, xOff);
          if ((t + 1) % s.outRate !== 0) continue;
          const out = s.out;
          let nz = 0;
          for (let i = 0; i < out.length; i++) if (out[i] !== 0) nz++;
          s.nz = nz;
          s.counters.events += nz;
          s.counters.unitTicks += out.length;
          this.observer?.(p, out, b, t);
        }
        if (!readout && (t + 1) % outPop.outRate === 0) outputQ.set(outPop.out, (b * rows + (t + 1) / outPop.outRate - 1) * K);
        for (const s of this.pops) {
          if ((t + 1) % s.outRate !== 0) continue;
          s.prev.set(s.out);
          s.prevNz = s.nz;
        }
      }
      if (readout && T >= outPop.outRate) outputQ.set(outPop.out, b * K);
      this.counters.samples++;
      this.counters.ticks += T;
    }
    return this.finish(outputQ, readout ? [B, K] : [B, rows, K]);
  }
}

/** Runs quantized IR on a batch of sequences (an engine built for this run, disposed after it). */
export function runGolden(graph: Graph, batch: SequenceBatch, opts: GoldenOptions = {}): GoldenRun {
  const e = new GoldenEngine(graph, opts);
  try {
    return e.run(batch);
  } finally {
    e.dispose();
  }
}
