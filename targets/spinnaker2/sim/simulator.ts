// The SpiNNaker 2 many-core simulator: transaction level. Each PE holds its slice (local CSR rows for its
// columns, its units' states, biases, tables) and, per model tick, drains the packets that arrived for it,
// accumulates their rows, updates its units with the golden kernels (runtime/golden/kernels.ts: the same
// code the golden engine runs, so no arithmetic of its own), and sends one multicast packet per event, which
// the routing tables deliver (targets/spinnaker2/route.ts). Cycles are charged per operation from the
// hardware description; the NoC counts packets, hops and chip crossings.
//
// Both modes are charged in the same run: "event" (what the chip does: only events travel, only their
// stored weights are read) and "dense" (as if every unit sent a value every tick and every weight were
// stored), so the gain is a measured ratio on the same input. Time semantics are the golden engine's: a
// delay-0 projection reads this tick's events, a delay-1 projection the previous tick's (each PE keeps two
// event queues per source population, by tick parity).
import { NmcError } from "../../../ir/errors.js";
import type { Graph, Lut, Population, Projection } from "../../../ir/types.js";
import type { SequenceBatch } from "../../../runtime/float/interpreter.js";
import {
  accumulateRow, denseUnits, egruUnits, loadBias, readoutUnits, requantizeColumns, saturatePort, ssmOutputs, ssmStates,
  type DenseActivation,
} from "../../../runtime/golden/kernels.js";
import { quantizeInputs } from "../../../runtime/golden/interpreter.js";
import { fromFixed } from "../../../runtime/fixed/index.js";
import { type HardwareDescription, levelOf } from "../chip.js";
import type { Partition, Slice } from "../partition.js";
import { unitOfColumn } from "../partition.js";
import type { Placement } from "../place.js";
import type { Emitter, Routing } from "../route.js";

interface LocalProjection {
  name: string;
  srcPop: number;
  delay: 0 | 1;
  rows: number;
  rowPtr: Uint32Array;
  colIdx: Uint32Array;
  w: Int8Array | Int16Array;
  mult: Int32Array;
  shift: Int32Array;
  acc: Float64Array;
  port: Float64Array;
  cols: number;
  /** Every slice holds all of this projection's columns (a DiagonalSSM's `u`). */
  replicated: boolean;
}

interface Queue {
  idx: [Int32Array, Int32Array];
  val: [Int32Array, Int32Array];
  len: [number, number];
}

export interface PeCounters {
  pe: number;
  slice: string;
  cycles: number;
  denseCycles: number;
  packetsIn: number;
  packetsOut: number;
  synops: number;
  sramBytes: number;
}

class Pe {
  readonly n: number;
  readonly ports: Float64Array[] = [];
  readonly bias: (Int32Array | null)[] = [];
  readonly incoming: LocalProjection[] = [];
  readonly queues = new Map<number, Queue>();
  readonly out: Int32Array;
  readonly state: Int32Array[] = [];
  readonly luts: Record<string, Lut> = {};
  /** The Readouts of this population that live on this PE (a population may have several). */
  readonly readouts: { pop: Population & { kind: "Readout" }; sum: Int32Array; out: Int32Array; popIndex: number }[];
  readonly counters: PeCounters;
  emitter: Emitter | null = null;
  /** Per tick: receive, synapse, requantize counts of this tick. */
  tickCycles = 0;

  constructor(readonly g: Graph, readonly slice: Slice, readonly pop: Population, readoutPops: { pop: Population; popIndex: number }[],
    split: (j: Projection, slice: Slice) => { rowPtr: Uint32Array; keep: Uint32Array }) {
    const n = slice.hi - slice.lo;
    this.n = n;
    this.out = new Int32Array(n);
    const lo = slice.lo, H = pop.size;
    for (const l of pop.luts ?? []) this.luts[l.name] = l;
    const localCols = (port: string): number => (pop.kind === "EGRU" ? 3 * n : pop.kind === "DiagonalSSM" && port === "u" ? 2 * (pop as { stateSize: number }).stateSize : n);
    const localCol = (port: string, col: number): number => {
      if (pop.kind === "EGRU") return Math.floor(col / H) * n + (col % H) - lo;
      if (pop.kind === "DiagonalSSM" && port === "u") return col;
      return col - lo;
    };
    const portIndex = new Map<string, number>();
    for (const q of pop.ports) {
      portIndex.set(q.name, this.ports.length);
      this.ports.push(new Float64Array(localCols(q.name)));
      let b: Int32Array | null = null;
      const t = pop.kind === "EGRU" ? pop.tensors[q.name === "input" ? "bias_x" : "bias_h"] : pop.kind === "Dense" ? pop.tensors.bias : undefined;
      if (t) {
        b = new Int32Array(localCols(q.name));
        for (let c = 0; c < t.data.length; c++) {
          const u = unitOfColumn(pop, q.name, c);
          if (u < 0 || (u >= lo && u < slice.hi)) b[localCol(q.name, c)] = t.data[c];
        }
      }
      this.bias.push(b);
    }
    const index = new Map(g.populations.map((p, i) => [p.name, i]));
    for (const j of g.projections) {
      if (j.target !== pop.name) continue;
      const cols = localCols(j.port);
      const { rowPtr, keep } = split(j, slice);
      const colIdx = new Uint32Array(keep.length);
      const w = j.weights.values.dtype === "i16" ? new Int16Array(keep.length) : new Int8Array(keep.length);
      keep.forEach((k, o) => {
        colIdx[o] = localCol(j.port, j.weights.colIdx[k]);
        w[o] = j.weights.values.data[k];
      });
      const mult = new Int32Array(cols), shift = new Int32Array(cols);
      for (let c = 0; c < j.cols; c++) {
        const u = unitOfColumn(pop, j.port, c);
        if (u >= 0 && (u < lo || u >= slice.hi)) continue;
        mult[localCol(j.port, c)] = j.requant!.multiplier[c];
        shift[localCol(j.port, c)] = j.requant!.shift[c];
      }
      const srcPop = index.get(j.source)!;
      this.incoming.push({
        name: j.name, srcPop, delay: j.delay, rows: j.rows, rowPtr, colIdx, w, mult, shift, acc: new Float64Array(cols),
        port: this.ports[portIndex.get(j.port)!], cols, replicated: pop.kind === "DiagonalSSM" && j.port === "u",
      });
      if (!this.queues.has(srcPop)) {
        const size = g.populations[srcPop].size;
        this.queues.set(srcPop, { idx: [new Int32Array(size), new Int32Array(size)], val: [new Int32Array(size), new Int32Array(size)], len: [0, 0] });
      }
    }
    if (pop.kind === "EGRU") this.state.push(new Int32Array(n));
    if (pop.kind === "DiagonalSSM") for (let i = 0; i < 4; i++) this.state.push(new Int32Array(pop.stateSize));
    this.readouts = readoutPops.map((r) => ({ pop: r.pop as Population & { kind: "Readout" }, sum: new Int32Array(n), out: new Int32Array(n), popIndex: r.popIndex }));
    this.counters = { pe: slice.pe, slice: `${pop.name}[${slice.lo}:${slice.hi}]`, cycles: 0, denseCycles: 0, packetsIn: 0, packetsOut: 0, synops: 0, sramBytes: slice.bytes };
  }

  reset(): void {
    this.out.fill(0);
    for (const s of this.state) s.fill(0);
    for (const r of this.readouts) r.sum.fill(0);
    for (const q of this.queues.values()) q.len[0] = q.len[1] = 0;
  }
}

export interface SimTotals {
  /** Event mode (what the chip does) and dense mode (nothing skipped), summed over the run. */
  event: ModeTotals;
  dense: ModeTotals;
}

export interface ModeTotals {
  cycles: number;
  /** Σ over ticks of the slowest PE's cycles. */
  criticalCycles: number;
  /** Σ over ticks of the deepest multicast path that carried a packet, in router hops. */
  nocDepthHops: number;
  packets: number;
  hops: number;
  chipHops: number;
  synops: number;
  sramBytes: number;
}

export type SimObserver = (popIndex: number, out: Int32Array, sample: number, tick: number) => void;

export interface SimRun {
  outputQ: Int32Array;
  output: Float64Array;
  outputShape: number[];
  outFrac: number;
  samples: number;
  ticks: number;
  totals: SimTotals;
  pes: PeCounters[];
  /** Events per population (non-zero outputs), for activity sparsity. */
  events: Record<string, number>;
  unitTicks: Record<string, number>;
  /** Per tick index, summed over the samples: the slowest PE's cycles in event and in dense mode. */
  perTick: { eventCycles: Float64Array; denseCycles: Float64Array };
  /** Per projection: stored entries (for weight sparsity) and dense size. */
  projections: Record<string, { nnz: number; dense: number; effective: number; activityOnly: number; weightOnly: number; denseOps: number }>;
}

const emptyTotals = (): ModeTotals => ({ cycles: 0, criticalCycles: 0, nocDepthHops: 0, packets: 0, hops: 0, chipHops: 0, synops: 0, sramBytes: 0 });

/** Per slice of the target: the row pointers and the indices of the stored entries whose column it holds. */
function splitBySlice(j: Projection, pop: Population, slices: Slice[]): Map<number, { rowPtr: Uint32Array; keep: Uint32Array }> {
  const out = new Map<number, { rowPtr: Uint32Array; keep: Uint32Array }>();
  const { rowPtr, colIdx } = j.weights;
  const n = colIdx.length;
  const sliceOf = new Int32Array(pop.size);
  slices.forEach((s, i) => sliceOf.fill(i, s.lo, s.hi));
  const owner = new Int32Array(n); // slice position, or −1: every slice (a replicated column)
  const counts = new Int32Array(slices.length);
  let shared = 0;
  for (let k = 0; k < n; k++) {
    const u = unitOfColumn(pop, j.port, colIdx[k]);
    owner[k] = u < 0 ? -1 : sliceOf[u];
    if (u < 0) shared++;
    else counts[owner[k]]++;
  }
  const parts = slices.map((_, i) => ({ rowPtr: new Uint32Array(j.rows + 1), keep: new Uint32Array(counts[i] + shared), fill: 0 }));
  for (let r = 0; r < j.rows; r++) {
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
      const o = owner[k];
      if (o < 0) for (const p of parts) p.keep[p.fill++] = k;
      else parts[o].keep[parts[o].fill++] = k;
    }
    for (const p of parts) p.rowPtr[r + 1] = p.fill;
  }
  slices.forEach((s, i) => out.set(s.id, { rowPtr: parts[i].rowPtr, keep: parts[i].keep }));
  return out;
}

export class Simulator {
  private readonly pes: Pe[] = [];
  private readonly byPop: Pe[][];
  private readonly hostEmitter: Emitter;
  private readonly pePos: number[];
  private readonly wbytes: number;
  private readonly pre: number;
  observer?: SimObserver;

  constructor(private readonly g: Graph, private readonly part: Partition, private readonly placement: Placement,
    private readonly routing: Routing, private readonly hw: HardwareDescription) {
    if (!g.quant) throw new NmcError("the spinnaker2 simulator runs quantized IR only");
    this.wbytes = g.quant.weightBits === 16 ? 2 : 1;
    this.pre = g.quant.weightBits - 8;
    this.byPop = g.populations.map(() => []);
    // Each projection's stored entries split by target slice in one pass (not one pass per slice).
    const splits = new Map<string, Map<number, { rowPtr: Uint32Array; keep: Uint32Array }>>();
    const split = (j: Projection, slice: Slice) => {
      let m = splits.get(j.name);
      if (!m) splits.set(j.name, (m = splitBySlice(j, g.populations[slice.popIndex], part.slices.filter((x) => x.popIndex === slice.popIndex && x.mirrors < 0))));
      return m.get(slice.id)!;
    };
    const readoutOf = new Map<number, { pop: Population; popIndex: number }[]>();
    g.populations.forEach((p, i) => {
      if (p.kind !== "Readout") return;
      const src = g.populations.findIndex((q) => q.name === p.source);
      readoutOf.set(src, [...(readoutOf.get(src) ?? []), { pop: p, popIndex: i }]);
    });
    for (const s of part.slices) {
      if (s.mirrors >= 0) continue;
      const pe = new Pe(g, s, g.populations[s.popIndex], readoutOf.get(s.popIndex) ?? [], split);
      this.pes.push(pe);
      this.byPop[s.popIndex].push(pe);
    }
    this.pePos = [];
    this.pes.forEach((pe, i) => (this.pePos[pe.slice.pe] = i));
    for (const e of routing.emitters) if (e.slice >= 0) this.pes[this.pePos[part.slices[e.slice].pe]].emitter = e;
    this.hostEmitter = routing.emitters.find((e) => e.slice === -1)!;
  }

  /** Sends one event (row = index in the source population) along the emitter's resolved multicast tree. */
  private send(e: Emitter, row: number, value: number, parity: number): void {
    const d = e.dests;
    for (let k = 0; k < d.length; k++) {
      const q = this.pes[this.pePos[d[k]]].queues.get(e.popIndex)!;
      const n = q.len[parity];
      q.idx[parity][n] = row;
      q.val[parity][n] = value;
      q.len[parity] = n + 1;
    }
  }

  run(batch: SequenceBatch, opts: { observer?: SimObserver; onSample?: (b: number) => void } = {}): SimRun {
    const g = this.g, hw = this.hw, c = hw.cycles;
    const { batch: B, ticks: T, channels: C } = batch;
    const xq = quantizeInputs(g, batch);
    const inputPop = g.populations.findIndex((p) => p.name === g.inputs[0]);
    const input = g.populations[inputPop];
    const outIndex = g.populations.findIndex((p) => p.name === g.outputs[0]);
    const outPop = g.populations[outIndex];
    const isReadout = outPop.kind === "Readout";
    const K = outPop.size;
    const outputQ = new Int32Array(isReadout ? B * K : B * T * K);
    const totals: SimTotals = { event: emptyTotals(), dense: emptyTotals() };
    const events: Record<string, number> = {}, unitTicks: Record<string, number> = {};
    for (const p of g.populations) events[p.name] = unitTicks[p.name] = 0;
    const projections: SimRun["projections"] = {};
    for (const j of g.projections) projections[j.name] = { nnz: j.weights.colIdx.length, dense: j.rows * j.cols, effective: 0, activityOnly: 0, weightOnly: 0, denseOps: 0 };
    const popOut = opts.observer ? g.populations.map((p) => new Int32Array(p.size)) : null;
    const host = this.hostEmitter;
    const perTick = { eventCycles: new Float64Array(T), denseCycles: new Float64Array(T) };
    const hostDense = { hops: host.hops * input.size, chip: host.chipHops * input.size };
    for (let b = 0; b < B; b++) {
      for (const pe of this.pes) pe.reset();
      for (let t = 0; t < T; t++) {
        const par = t & 1, prevPar = par ^ 1;
        for (const pe of this.pes) for (const q of pe.queues.values()) q.len[par] = 0;
        let tickMax = 0, tickMaxDense = 0, depth = 0;
        // Host: the input population's non-zero values as events.
        const xOff = (b * T + t) * C;
        if (input.kind === "Input" && input.encoding === "tokens") {
          this.send(host, xq[xOff], 1 << 14, par);
          if (popOut) { popOut[inputPop].fill(0); popOut[inputPop][xq[xOff]] = 1 << 14; }
          totals.event.packets++; totals.event.hops += host.hops; totals.event.chipHops += host.chipHops;
          events[input.name]++;
        } else {
          for (let i = 0; i < input.size; i++) {
            const v = xq[xOff + i];
            if (popOut) popOut[inputPop][i] = v;
            if (v === 0) continue;
            this.send(host, i, v, par);
            totals.event.packets++; totals.event.hops += host.hops; totals.event.chipHops += host.chipHops;
            events[input.name]++;
          }
        }
        if (host.dests.length) depth = host.depth;
        unitTicks[input.name] += input.size;
        totals.dense.packets += input.size; totals.dense.hops += hostDense.hops; totals.dense.chipHops += hostDense.chip;
        for (let pi = 0; pi < g.populations.length; pi++) {
          const pes = this.byPop[pi];
          if (pes.length === 0) continue;
          const pop = g.populations[pi];
          for (const pe of pes) {
            const cyc = this.stepPe(pe, pop, t, par, prevPar, projections, totals);
            // Events out: one multicast packet each.
            let ev = 0;
            const e = pe.emitter, lo = pe.slice.lo;
            for (let i = 0; i < pe.n; i++) {
              const v = pe.out[i];
              if (v === 0) continue;
              ev++;
              if (e) this.send(e, lo + i, v, par);
            }
            events[pop.name] += ev;
            unitTicks[pop.name] += pe.n;
            let cycles = cyc.event, dcycles = cyc.dense;
            if (e) {
              cycles += ev * c.packet_send.value;
              dcycles += pe.n * c.packet_send.value;
              totals.event.packets += ev; totals.event.hops += ev * e.hops; totals.event.chipHops += ev * e.chipHops;
              totals.dense.packets += pe.n; totals.dense.hops += pe.n * e.hops; totals.dense.chipHops += pe.n * e.chipHops;
              pe.counters.packetsOut += ev;
              if (ev > 0 && e.depth > depth) depth = e.depth;
            }
            for (const r of pe.readouts) {
              readoutUnits(r.pop.mode, pe.n, pe.out, r.sum, r.out, t);
              cycles += pe.n * c.readout_unit.value;
              dcycles += pe.n * c.readout_unit.value;
              let nz = 0;
              for (let i = 0; i < pe.n; i++) if (r.out[i] !== 0) nz++;
              events[r.pop.name] += nz;
              unitTicks[r.pop.name] += pe.n;
            }
            pe.counters.cycles += cycles;
            pe.counters.denseCycles += dcycles;
            totals.event.cycles += cycles;
            totals.dense.cycles += dcycles;
            if (cycles > tickMax) tickMax = cycles;
            if (dcycles > tickMaxDense) tickMaxDense = dcycles;
            if (popOut) popOut[pi].set(pe.out, lo);
            if (popOut) for (const r of pe.readouts) popOut[r.popIndex].set(r.out, lo);
          }
        }
        totals.event.criticalCycles += tickMax;
        perTick.eventCycles[t] += tickMax;
        perTick.denseCycles[t] += tickMaxDense;
        totals.dense.criticalCycles += tickMaxDense;
        totals.event.nocDepthHops += depth;
        totals.dense.nocDepthHops += this.maxDepth();
        if (popOut && opts.observer) for (let p = 0; p < popOut.length; p++) opts.observer(p, popOut[p], b, t);
        if (!isReadout) this.collect(outIndex, outputQ, (b * T + t) * K, false);
      }
      if (isReadout && T > 0) this.collect(outIndex, outputQ, b * K, true);
      opts.onSample?.(b);
    }
    const outFrac = outPop.fixed!.outFrac;
    const output = new Float64Array(outputQ.length);
    for (let i = 0; i < output.length; i++) output[i] = fromFixed(outputQ[i], outFrac);
    return {
      outputQ, output, outputShape: isReadout ? [B, K] : [B, T, K], outFrac, samples: B, ticks: T, totals,
      pes: this.pes.map((p) => p.counters), events, unitTicks, projections, perTick,
    };
  }

  private maxDepth(): number {
    let d = 0;
    for (const e of this.routing.emitters) if (e.dests.length && e.depth > d) d = e.depth;
    return d;
  }

  private collect(outIndex: number, outputQ: Int32Array, off: number, readout: boolean): void {
    if (readout) {
      const src = this.g.populations.findIndex((p) => p.name === (this.g.populations[outIndex] as { source: string }).source);
      for (const pe of this.byPop[src]) outputQ.set(pe.readouts.find((r) => r.popIndex === outIndex)!.out, off + pe.slice.lo);
    } else {
      for (const pe of this.byPop[outIndex]) outputQ.set(pe.out, off + pe.slice.lo);
    }
  }

  /** One PE's work for one tick: drain queues, accumulate, requantize, update units. Returns cycles. */
  private stepPe(pe: Pe, pop: Population, t: number, par: number, prevPar: number, projections: SimRun["projections"], totals: SimTotals): { event: number; dense: number } {
    const c = this.hw.cycles;
    for (let q = 0; q < pe.ports.length; q++) loadBias(pe.ports[q], pe.bias[q]);
    let received = 0, receivedDense = 0, syn = 0, synDense = 0, cols = 0, colsDense = 0;
    const counted = new Set<number>();
    for (const lp of pe.incoming) {
      const q = pe.queues.get(lp.srcPop)!;
      const p = lp.delay === 0 ? par : prevPar;
      const n = lp.delay === 1 && t === 0 ? 0 : q.len[p];
      if (!counted.has(lp.srcPop * 2 + lp.delay)) {
        counted.add(lp.srcPop * 2 + lp.delay);
        received += n;
        receivedDense += this.g.populations[lp.srcPop].size;
      }
      lp.acc.fill(0);
      const idx = q.idx[p], val = q.val[p];
      let touched = 0;
      for (let k = 0; k < n; k++) touched += accumulateRow(idx[k], val[k], lp.rowPtr, lp.colIdx, lp.w, lp.acc);
      cols += n > 0 ? requantizeColumns(lp.acc, lp.mult, lp.shift, this.pre, lp.port) : 0;
      colsDense += lp.cols;
      syn += touched;
      synDense += lp.rows * lp.cols;
      // A DiagonalSSM's `u` projection is replicated on every slice (each keeps the whole state): its work
      // is charged to every PE, but the model's synaptic operations are counted once, on the first slice.
      if (lp.replicated && pe.slice.lo !== 0) continue;
      const pr = projections[lp.name];
      pr.effective += touched;
      pr.activityOnly += n * lp.cols;
      pr.weightOnly += lp.colIdx.length;
      pr.denseOps += lp.rows * lp.cols;
    }
    for (const port of pe.ports) saturatePort(port);
    let units = 0;
    const fx = pop.fixed!;
    switch (pop.kind) {
      case "EGRU":
        egruUnits(pe.n, pe.ports[0], pe.ports[1], pe.luts.sigmoid, pe.luts.tanh, pop.tensors.thr.data.subarray(pe.slice.lo, pe.slice.hi), pe.state[0], pe.out);
        units = pe.n * c.egru_unit.value;
        break;
      case "DiagonalSSM": {
        const [xr, xi, rr, ri] = pe.state;
        const u = pe.ports[pop.ports.findIndex((q) => q.name === "u")];
        const skip = pe.ports[pop.ports.findIndex((q) => q.name === "skip")];
        ssmStates(pop.stateSize, fx.stateBits, xr, xi, rr, ri, pop.tensors.lambda_re.data, pop.tensors.lambda_im.data, u);
        ssmOutputs(pe.n, pe.slice.lo, pop.stateSize, pop.tensors.c_re.data, pop.tensors.c_im.data, rr, ri, pop.tensors.c_mult.data, pop.tensors.c_shift.data, skip, this.pre, fx.accFrac - fx.outFrac, pe.out);
        units = pop.stateSize * c.ssm_state.value + pe.n * pop.stateSize * c.ssm_output_mac.value + pe.n * c.dense_unit.value;
        break;
      }
      case "Dense": {
        const act = pop.activation as DenseActivation;
        const lut = act === "sigmoid" ? pe.luts.sigmoid : act === "tanh" ? pe.luts.tanh : act === "gelu" ? pe.luts.phi : undefined;
        denseUnits(act, pe.n, pe.ports[0], lut, fx.accFrac - fx.outFrac, pe.out);
        units = pe.n * c.dense_unit.value;
        break;
      }
      default:
        throw new NmcError(`population ${pop.name} (${pop.kind}) cannot run on a PE`);
    }
    pe.counters.packetsIn += received;
    pe.counters.synops += syn;
    totals.event.synops += syn;
    totals.dense.synops += synDense;
    totals.event.sramBytes += syn * (this.wbytes + 2);
    totals.dense.sramBytes += synDense * (this.wbytes + 2);
    const base = c.tick_overhead.value + units;
    return {
      event: base + received * c.packet_receive.value + syn * c.synapse.value + cols * c.requantize_column.value,
      dense: base + receivedDense * c.packet_receive.value + synDense * c.synapse.value + colsDense * c.requantize_column.value,
    };
  }
}

export { levelOf };
