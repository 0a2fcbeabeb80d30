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
import { NmcError } from "../../ir/errors.js";
import type { Graph, Lut, Population, Projection } from "../../ir/types.js";
import { fromFixed, toFixed } from "../fixed/index.js";
import {
  accumulateNonZero, denseUnits, egruUnits, loadBias, readoutUnits, requantizeColumns, saturatePort, ssmOutputs, ssmStates,
} from "./kernels.js";
import { populationCounters, projectionCounters, type RunCounters } from "../counters.js";
import type { SequenceBatch } from "../batch.js";

const ONE_Q14 = 1 << 14;

export interface GoldenRun {
  /** The output as real numbers (fromFixed of outputQ): [B, T, K], or [B, K] for a Readout output. */
  output: Float64Array;
  /** The output integers. */
  outputQ: Int32Array;
  outputShape: number[];
  /** Fractional bits of outputQ. */
  outFrac: number;
  counters: RunCounters;
}

/** Called after every tick with each population's integer output (what the verify command compares). */
export type GoldenObserver = (popIndex: number, out: Int32Array, sample: number, tick: number) => void;

export interface GoldenOptions {
  observer?: GoldenObserver;
}

interface Incoming {
  proj: Projection;
  src: number;
  delay: 0 | 1;
  rowPtr: Uint32Array;
  colIdx: Uint32Array;
  w: Int8Array | Int16Array;
  mult: Int32Array;
  shift: Int32Array;
  acc: Float64Array; // exact per-projection column sums
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
  bias: (Int32Array | null)[]; // per port in portList order
  incoming: Incoming[];
  state: Int32Array[];
  readoutSource: number;
  luts: Record<string, Lut>;
  counters: RunCounters["populations"][string];
}

function intData(p: Population, name: string): Int32Array {
  const t = p.tensors[name];
  if (!t) throw new NmcError(`population ${p.name} lacks quantized tensor ${name}`, { node: p.name });
  return Int32Array.from(t.data as ArrayLike<number>);
}

/** The model inputs as integers in the input population's format (tokens stay token ids). */
export function quantizeInputs(graph: Graph, batch: SequenceBatch): Int32Array {
  const input = graph.populations.find((p) => p.name === graph.inputs[0]);
  if (!input || input.kind !== "Input" || !input.fixed) throw new NmcError("graph has no quantized input population");
  const n = batch.data.length;
  const q = new Int32Array(n);
  if (input.encoding === "tokens") for (let i = 0; i < n; i++) q[i] = batch.data[i];
  else for (let i = 0; i < n; i++) q[i] = toFixed(batch.data[i], input.fixed.outFrac, 16);
  return q;
}

export class GoldenEngine {
  private readonly pops: PopState[];
  readonly counters: RunCounters;
  private readonly outIndex: number;
  private readonly observer?: GoldenObserver;
  /** Raw sums of int16 weights are rounding-shifted by weight_bits − 8 before saturating to int32. */
  private readonly pre: number;

  constructor(private readonly graph: Graph, opts: GoldenOptions = {}) {
    if (!graph.quant) {
      throw new NmcError("the golden engine runs quantized IR only; this graph is float", {
        hint: "compile it first (nmc compile model.json -o m.nmb), or run the float engine",
      });
    }
    this.observer = opts.observer;
    this.pre = graph.quant.weightBits - 8;
    this.counters = { samples: 0, ticks: 0, populations: {}, projections: {} };
    const index = new Map(graph.populations.map((p, i) => [p.name, i]));
    this.pops = graph.populations.map((pop) => {
      const ports: Record<string, Float64Array> = {};
      for (const q of pop.ports) ports[q.name] = new Float64Array(q.width);
      const counters = populationCounters(pop);
      this.counters.populations[pop.name] = counters;
      const portList = pop.ports.map((q) => ports[q.name]);
      const biasFor = (port: string): Int32Array | null => {
        if (pop.kind === "EGRU") return intData(pop, port === "input" ? "bias_x" : "bias_h");
        if (pop.kind === "Dense") return intData(pop, "bias");
        return null;
      };
      const luts: Record<string, Lut> = {};
      for (const l of pop.luts ?? []) luts[l.name] = l;
      return {
        pop, out: new Int32Array(pop.size), prev: new Int32Array(pop.size), nz: 0, prevNz: 0, ports, portList,
        bias: pop.ports.map((q) => biasFor(q.name)), incoming: [], state: this.stateFor(pop),
        readoutSource: pop.kind === "Readout" ? index.get(pop.source)! : -1, luts, counters,
      };
    });
    for (const proj of graph.projections) {
      const t = this.pops[index.get(proj.target)!];
      const counters = projectionCounters(proj);
      this.counters.projections[proj.name] = counters;
      const values = proj.weights.values;
      if ((values.dtype !== "i8" && values.dtype !== "i16") || !proj.requant) {
        throw new NmcError(`projection ${proj.name} is not quantized`, { node: proj.name });
      }
      t.incoming.push({
        proj, src: index.get(proj.source)!, delay: proj.delay, rowPtr: proj.weights.rowPtr, colIdx: proj.weights.colIdx,
        w: values.data as Int8Array | Int16Array, mult: proj.requant.multiplier, shift: proj.requant.shift,
        acc: new Float64Array(proj.cols), port: t.ports[proj.port], counters,
      });
    }
    this.outIndex = index.get(graph.outputs[0])!;
  }

  private stateFor(pop: Population): Int32Array[] {
    switch (pop.kind) {
      case "EGRU": return [new Int32Array(pop.size)]; // h, Q14
      case "DiagonalSSM": return [new Int32Array(pop.stateSize), new Int32Array(pop.stateSize), new Int32Array(pop.stateSize), new Int32Array(pop.stateSize)]; // x re, im; read re, im
      case "Readout": return [new Int32Array(pop.size)]; // running sum
      default: return [];
    }
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
        acc.fill(0);
        touched = accumulateNonZero(v, inc.rowPtr, inc.colIdx, inc.w, acc);
        requantizeColumns(acc, inc.mult, inc.shift, this.pre, inc.port);
      }
      counters.dense += inc.proj.rows * inc.proj.cols;
      counters.effective += touched;
      counters.activityOnly += active * inc.proj.cols;
      counters.weightOnly += counters.nnz;
    }
    for (const port of s.portList) saturatePort(port);
  }

  private step(s: PopState, x: Int32Array, xOff: number, t: number): void {
    const pop = s.pop;
    const out = s.out;
    const fx = pop.fixed!;
    switch (pop.kind) {
      case "Input": {
        if (pop.encoding === "tokens") {
          out.fill(0);
          out[x[xOff]] = ONE_Q14;
        } else for (let i = 0; i < pop.size; i++) out[i] = x[xOff + i];
        break;
      }
      case "EGRU": {
        this.deliver(s);
        egruUnits(pop.size, s.ports.input, s.ports.recurrent, s.luts.sigmoid, s.luts.tanh, pop.tensors.thr.data, s.state[0], out);
        break;
      }
      case "DiagonalSSM": {
        this.deliver(s);
        const xr = s.state[0], xi = s.state[1], rr = s.state[2], ri = s.state[3];
        const tn = pop.tensors;
        ssmStates(pop.stateSize, fx.stateBits, xr, xi, rr, ri, tn.lambda_re.data, tn.lambda_im.data, s.ports.u);
        ssmOutputs(pop.size, 0, pop.stateSize, tn.c_re.data, tn.c_im.data, rr, ri, tn.c_mult.data, tn.c_shift.data, s.ports.skip, this.pre, fx.accFrac - fx.outFrac, out);
        break;
      }
      case "Dense": {
        this.deliver(s);
        const act = pop.activation;
        if (act === "softmax") throw new NmcError(`population ${pop.name}: softmax has no quantized form`, { node: pop.name });
        const lut = act === "sigmoid" ? s.luts.sigmoid : act === "tanh" ? s.luts.tanh : act === "gelu" ? s.luts.phi : undefined;
        denseUnits(act, pop.size, s.ports.x, lut, fx.accFrac - fx.outFrac, out);
        break;
      }
      case "Readout": {
        readoutUnits(pop.mode, pop.size, this.pops[s.readoutSource].out, s.state[0], out, t);
        break;
      }
    }
    let nz = 0;
    for (let i = 0; i < out.length; i++) if (out[i] !== 0) nz++;
    s.nz = nz;
    s.counters.events += nz;
    s.counters.unitTicks += out.length;
  }

  /** Runs a batch; inputs are converted to the input format first (the one real → integer step). */
  run(batch: SequenceBatch): GoldenRun {
    const { batch: B, ticks: T, channels: C } = batch;
    const xq = quantizeInputs(this.graph, batch);
    const outPop = this.pops[this.outIndex];
    const readout = outPop.pop.kind === "Readout";
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
    const outFrac = outPop.pop.fixed!.outFrac;
    const output = new Float64Array(outputQ.length);
    for (let i = 0; i < output.length; i++) output[i] = fromFixed(outputQ[i], outFrac);
    return { output, outputQ, outputShape: readout ? [B, K] : [B, T, K], outFrac, counters: this.counters };
  }
}

/** Runs quantized IR on a batch of sequences. */
export function runGolden(graph: Graph, batch: SequenceBatch, opts: GoldenOptions = {}): GoldenRun {
  return new GoldenEngine(graph, opts).run(batch);
}
