// The SpiNNaker 2 many-core simulator: transaction level. Each PE holds its slice (local CSR rows for its
// columns, its units' states, biases, tables) and, per model tick, drains the packets that arrived for it,
// accumulates their rows, updates its units with the golden kernels (runtime/golden/kernels.ts: the same
// code the golden engine runs, so no arithmetic of its own), and sends one multicast packet per event, which
// the routing tables deliver (targets/spinnaker2/route.ts). Cycles are charged per operation from the
// hardware description; the NoC counts packets, hops and chip crossings.
//
// Four modes are charged in the same run, so every gain is a measured ratio on the same input: "event" (what
// the chip does: only events travel, only their stored weights are read), "dense" (as if every unit sent a
// value every tick and every weight were stored), "activityOnly" (events travel, every weight stored) and
// "weightOnly" (every unit sends every tick, only stored weights read). Time semantics are the golden
// engine's: a delay-0 projection reads this tick's events, a delay-1 projection the previous tick's (each PE
// keeps two event queues per source population, by tick parity).
//
// Execution (`execution` option) is separate from charging: "event" runs event-driven, "dense" really does
// the dense work (every value sent, every weight of a dense expansion visited); both produce the same outputs
// and the same charged figures, so their wall times compare event-driven and dense execution honestly.
//
// Host-side layout, for speed only (the modelled chip is unchanged): the chunks of one projection row held
// by the PEs of a population lie side by side in one array (splitBySlice), the PEs' column sums too, and the
// PEs of a population that receive the same multicast stream share one event queue (shareQueues), so that a
// tick's work for a whole population streams through memory as the golden engine's does. No object is
// allocated per event or per tick.
import { NmcError } from "../../../ir/errors.js";
import type { Graph, Lut, Population, Projection } from "../../../ir/types.js";
import type { SequenceBatch } from "../../../runtime/batch.js";
import {
  accumulateDense, accumulateQueues, accumulateSharedQueue, denseUnits, denseWeights, egruUnits, loadBias, readoutUnits, requantizeColumns, saturatePort,
  ssmOutputs, ssmStates, type ColumnArray, type DenseActivation, type WeightArray,
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
  /** Row r's local entries are colIdx / w [rowPtr[r · stride + slot] … rowPtr[r · stride + slot + 1]) (SlicedProjection). */
  rowPtr: Uint32Array;
  stride: number;
  slot: number;
  /** Stored entries on this PE. */
  nnz: number;
  /** colBase + the local column of each entry (an index into `sums`). */
  colIdx: ColumnArray;
  colBase: number;
  w: WeightArray;
  mult: Int32Array;
  shift: Int32Array;
  /** This PE's exact column sums: sums[colBase … colBase + cols), the sums of all slices of the projection side by side. */
  acc: Float64Array;
  sums: Float64Array;
  port: Float64Array;
  cols: number;
  /** The queue of the source population's events on this PE. */
  queue: Queue;
  srcSize: number;
  /** The first projection on this PE of its (source, delay): its queue's packets are charged as received. */
  countsReceive: boolean;
  /** Counts the model's synaptic operations (a replicated projection only on the first slice). */
  countsOps: boolean;
  /** Dense execution: the [rows × cols] expansion of the local CSR rows (built on first use). */
  dense: WeightArray | null;
  /** This run's counters of the projection (set at the start of each run). */
  stat: ProjectionCounts;
}

/** One incoming projection of a population, across its PEs (the shared chunked CSR; each PE's queue and sums). */
interface GroupLink {
  rowPtr: Uint32Array;
  colIdx: ColumnArray;
  w: WeightArray;
  idxs: Int32Array[];
  vals: Int32Array[];
  sums: Float64Array;
  /** Every PE reads the same (shared) queue. */
  shared: boolean;
}

/** The PEs of one population (slice order) and scratch for their tick. */
class Group {
  readonly S: number;
  readonly links: GroupLink[];
  readonly ns: Int32Array;
  readonly offs: Int32Array;
  readonly events: Int32Array;
  readonly touched: Float64Array;
  constructor(readonly pes: Pe[]) {
    const S = (this.S = pes.length);
    this.ns = new Int32Array(S);
    this.offs = new Int32Array(S);
    this.events = new Int32Array(S);
    this.touched = new Float64Array(S);
    this.links = pes[0].incoming.map((lp0, k) => {
      for (let s = 0; s < S; s++) {
        const lp = pes[s].incoming[k];
        if (!lp || lp.name !== lp0.name || lp.rowPtr !== lp0.rowPtr || lp.sums !== lp0.sums || lp.slot !== s || lp.stride !== S) {
          throw new NmcError(`internal: the slices of ${pes[0].pop.name} do not share projection ${lp0.name}'s layout`);
        }
      }
      return {
        rowPtr: lp0.rowPtr, colIdx: lp0.colIdx, w: lp0.w,
        idxs: pes.map((pe) => pe.incoming[k].queue.idx), vals: pes.map((pe) => pe.incoming[k].queue.val), sums: lp0.sums,
        shared: pes.every((pe) => pe.incoming[k].queue === lp0.queue),
      };
    });
  }
}

/** Events from one source population, two ticks deep (by tick parity): entries [parity · cap, parity · cap + len[parity]). */
class Queue {
  readonly idx: Int32Array;
  readonly val: Int32Array;
  readonly len = new Int32Array(2);
  /** Shared by every PE of a population (Simulator.shareQueues). */
  shared = false;
  constructor(readonly cap: number) {
    this.idx = new Int32Array(2 * cap);
    this.val = new Int32Array(2 * cap);
  }
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
  /** Source population → its event queue on this PE. */
  readonly queues = new Map<number, Queue>();
  /** The queues of the PEs this PE's events go to (its emitter's destinations). */
  emitQueues: Queue[] = [];
  readonly out: Int32Array;
  readonly state: Int32Array[] = [];
  readonly luts: Record<string, Lut> = {};
  /** The thresholds of this slice's units (EGRU). */
  readonly thr: ArrayLike<number> | null;
  /** Port indices of a DiagonalSSM's `u` and `skip`. */
  readonly uPort: number;
  readonly skipPort: number;
  /** The Readouts of this population that live on this PE (a population may have several). */
  readonly readouts: { pop: Population & { kind: "Readout" }; sum: Int32Array; out: Int32Array; popIndex: number }[];
  readonly counters: PeCounters;
  emitter: Emitter | null = null;
  /** This tick's counts (set by Simulator.deliverGroup; no object per tick). */
  received = 0;
  receivedDense = 0;
  syn = 0;
  synDense = 0;
  cols = 0;
  colsDense = 0;
  synAct = 0;
  colsAct = 0;
  synWeight = 0;
  /** This tick's cycles in each charged mode (set by Simulator.finishPe). */
  cEvent = 0;
  cDense = 0;
  cActivity = 0;
  cWeight = 0;

  constructor(g: Graph, readonly slice: Slice, readonly pop: Population, readoutPops: { pop: Population; popIndex: number }[],
    split: (j: Projection, slice: Slice) => SlicedProjection) {
    const n = slice.hi - slice.lo;
    this.n = n;
    this.out = new Int32Array(n);
    const lo = slice.lo;
    for (const l of pop.luts ?? []) this.luts[l.name] = l;
    const localCols = (port: string): number => sliceCols(pop, port, n);
    const localCol = (port: string, col: number): number => sliceCol(pop, port, col, lo, n);
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
    this.uPort = pop.ports.findIndex((q) => q.name === "u");
    this.skipPort = pop.ports.findIndex((q) => q.name === "skip");
    this.thr = pop.kind === "EGRU" ? pop.tensors.thr.data.subarray(slice.lo, slice.hi) : null;
    const index = new Map(g.populations.map((p, i) => [p.name, i]));
    const receiving = new Set<number>();
    for (const j of g.projections) {
      if (j.target !== pop.name) continue;
      const cols = localCols(j.port);
      // This slice's chunk of every row (SlicedProjection) and its part of the projection's sums.
      const { S, rowStart, colIdx, w, slotOf, colOwner, toLocal, bases, sums } = split(j, slice);
      const slot = slotOf.get(slice.id)!;
      const mult = new Int32Array(cols), shift = new Int32Array(cols);
      for (let c = 0; c < j.cols; c++) {
        if (colOwner[c] !== slot && colOwner[c] >= 0) continue;
        mult[toLocal[c]] = j.requant!.multiplier[c];
        shift[toLocal[c]] = j.requant!.shift[c];
      }
      let nnz = 0;
      for (let r = 0; r < j.rows; r++) nnz += rowStart[r * S + slot + 1] - rowStart[r * S + slot];
      const srcPop = index.get(j.source)!;
      const srcSize = g.populations[srcPop].size;
      let queue = this.queues.get(srcPop);
      if (!queue) this.queues.set(srcPop, (queue = new Queue(srcSize)));
      const replicated = pop.kind === "DiagonalSSM" && j.port === "u";
      const key = srcPop * 2 + j.delay;
      this.incoming.push({
        name: j.name, srcPop, delay: j.delay, rows: j.rows, rowPtr: rowStart, stride: S, slot, nnz, colIdx, colBase: bases[slot], w, mult, shift,
        acc: sums.subarray(bases[slot], bases[slot] + cols), sums,
        port: this.ports[portIndex.get(j.port)!], cols, queue, srcSize,
        // Every slice of a DiagonalSSM holds all of its `u` columns: the first slice alone counts their ops.
        countsReceive: !receiving.has(key), countsOps: !replicated || slice.lo === 0, dense: null, stat: emptyProjectionCounts(),
      });
      receiving.add(key);
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
  /**
   * Activity sparsity only: events skip (only non-zero units send, as in event mode) but every weight is
   * stored, so each received event reads its whole dense row of the PE's columns and every column is
   * requantized once an event arrived.
   */
  activityOnly: ModeTotals;
  /**
   * Weight sparsity only: every unit sends its value every tick (zero or not, as in dense mode) and only the
   * stored weights are read (every stored entry every tick); every column is requantized every tick.
   */
  weightOnly: ModeTotals;
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

/**
 * How the simulator executes (the charged cycles and energies of every mode are the same either way, and so
 * are the outputs, bit for bit):
 * - "event" (default): only events travel (non-zero values), and a PE reads only the stored weights of the
 *   rows of the events it received;
 * - "dense": every unit sends its value every tick (zero or not), and every PE visits every weight of the
 *   dense expansion of its CSR rows (zeros included; built once, on the first dense run), i.e. it really
 *   does the work of an accelerator without event or weight skipping (`nmc run --mode dense`).
 */
export type Execution = "event" | "dense";

export interface SimOptions {
  execution?: Execution;
  /**
   * Let the PEs of a population share one queue per source when the routing multicasts every event of that
   * source to all of them (default true; false keeps one queue per PE everywhere, for tests of that path).
   */
  shareQueues?: boolean;
}

/** Options of one run: `execution` overrides the Simulator's (queue sharing is fixed when it is built). */
export interface RunOptions {
  execution?: Execution;
  observer?: SimObserver;
  onSample?: (b: number) => void;
}

interface ProjectionCounts {
  nnz: number;
  dense: number;
  effective: number;
  activityOnly: number;
  weightOnly: number;
  denseOps: number;
}

function emptyProjectionCounts(): ProjectionCounts {
  return { nnz: 0, dense: 0, effective: 0, activityOnly: 0, weightOnly: 0, denseOps: 0 };
}

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
  projections: Record<string, ProjectionCounts>;
}

const emptyTotals = (): ModeTotals => ({ cycles: 0, criticalCycles: 0, nocDepthHops: 0, packets: 0, hops: 0, chipHops: 0, synops: 0, sramBytes: 0 });

/** The number of local columns of a port on a slice of n units (an EGRU's gates z, r, g: 3n; an SSM's `u`: all 2P). */
function sliceCols(pop: Population, port: string, n: number): number {
  return pop.kind === "EGRU" ? 3 * n : pop.kind === "DiagonalSSM" && port === "u" ? 2 * pop.stateSize : n;
}

/** The local column of a port's column on the slice [lo, lo + n) that holds it (layouts: kernels.ts). */
function sliceCol(pop: Population, port: string, col: number, lo: number, n: number): number {
  if (pop.kind === "EGRU") return Math.floor(col / pop.size) * n + (col % pop.size) - lo;
  if (pop.kind === "DiagonalSSM" && port === "u") return col;
  return col - lo;
}

/**
 * A projection's stored entries split by target slice. Row r's entries held by the slice in position p are
 * [rowStart[r · S + p], rowStart[r · S + p + 1]) of colIdx / w (S = the number of slices); each entry's colIdx
 * is bases[p] + its local column on that slice, an index into `sums`, where the exact column sums of all
 * slices lie side by side (slice p's: sums[bases[p] … bases[p + 1])). Each PE reads only its own chunks and
 * sums, but the chunks of one row lie next to each other in host memory, so that a tick's active rows are
 * read in memory order for all PEs together (accumulateQueues): this is the simulator's wall time, not the
 * modelled chip, where each PE holds its own rows.
 */
interface SlicedProjection {
  S: number;
  rowStart: Uint32Array;
  colIdx: ColumnArray;
  w: WeightArray;
  slotOf: Map<number, number>;
  /** Per column of the projection: the slice position holding it (−1: every slice), and its local column. */
  colOwner: Int32Array;
  toLocal: Int32Array;
  bases: Int32Array;
  sums: Float64Array;
}

function splitBySlice(j: Projection, pop: Population, slices: Slice[]): SlicedProjection {
  const { rowPtr, colIdx } = j.weights;
  const values = j.weights.values.data;
  const S = slices.length, rows = j.rows;
  const sliceOf = new Int32Array(pop.size);
  slices.forEach((s, i) => sliceOf.fill(i, s.lo, s.hi));
  const colOwner = new Int32Array(j.cols), toLocal = new Int32Array(j.cols);
  for (let c = 0; c < j.cols; c++) {
    const u = unitOfColumn(pop, j.port, c);
    const o = (colOwner[c] = u < 0 ? -1 : sliceOf[u]);
    const sl = slices[o < 0 ? 0 : o];
    toLocal[c] = sliceCol(pop, j.port, c, sl.lo, sl.hi - sl.lo);
  }
  const bases = new Int32Array(S + 1);
  for (let p = 0; p < S; p++) bases[p + 1] = bases[p] + sliceCols(pop, j.port, slices[p].hi - slices[p].lo);
  // Column c's index into the sums of all slices (slice o's sums start at bases[o]); replicated columns have
  // one per slice, bases[p] + toLocal[c].
  const at = new Int32Array(j.cols);
  let replicated = 0;
  for (let c = 0; c < j.cols; c++) at[c] = colOwner[c] < 0 ? toLocal[c] : bases[colOwner[c]] + toLocal[c];
  for (let k = 0; k < colIdx.length; k++) if (colOwner[colIdx[k]] < 0) replicated++;
  const total = colIdx.length + replicated * (S - 1);
  const rowStart = new Uint32Array(rows * S + 1);
  // Local column indices are u16 on chip (partition.ts's memory model); here they index the sums of all the
  // slices, u16 while those fit.
  const outCol = bases[S] <= 0x10000 ? new Uint16Array(total) : new Uint32Array(total);
  const w = j.weights.values.dtype === "i16" ? new Int16Array(total) : new Int8Array(total);
  const fill = new Uint32Array(S);
  // Row by row (its entries read twice while in cache): count each slice's chunk, then place the entries.
  for (let r = 0; r < rows; r++) {
    const base = r * S, k0 = rowPtr[r], k1 = rowPtr[r + 1];
    fill.fill(0);
    for (let k = k0; k < k1; k++) {
      const o = colOwner[colIdx[k]];
      if (o >= 0) fill[o]++;
      else for (let p = 0; p < S; p++) fill[p]++;
    }
    for (let p = 0; p < S; p++) {
      const start = rowStart[base + p];
      rowStart[base + p + 1] = start + fill[p];
      fill[p] = start;
    }
    for (let k = k0; k < k1; k++) {
      const c = colIdx[k], o = colOwner[c];
      if (o >= 0) {
        const pos = fill[o]++;
        outCol[pos] = at[c];
        w[pos] = values[k];
      } else {
        for (let p = 0; p < S; p++) {
          const pos = fill[p]++;
          outCol[pos] = bases[p] + at[c];
          w[pos] = values[k];
        }
      }
    }
  }
  return { S, rowStart, colIdx: outCol, w, slotOf: new Map(slices.map((s, i) => [s.id, i])), colOwner, toLocal, bases, sums: new Float64Array(bases[S]) };
}

/** Scratch for sendEvents: one tick's events of one PE (or of the host). */
let evRow = new Int32Array(1024), evVal = new Int32Array(1024);

/** Writes the non-zero values out[0 … n) as events (row lo + i) into each queue at this parity; returns how many. */
function sendEvents(queues: Queue[], out: Int32Array, n: number, lo: number, par: number): number {
  if (evRow.length < n) {
    evRow = new Int32Array(n);
    evVal = new Int32Array(n);
  }
  const rows = evRow, vals = evVal;
  let ev = 0;
  for (let i = 0; i < n; i++) {
    const v = out[i];
    if (v === 0) continue;
    rows[ev] = lo + i;
    vals[ev++] = v;
  }
  if (ev === 0) return 0;
  for (let d = 0; d < queues.length; d++) {
    const q = queues[d];
    const idx = q.idx, val = q.val;
    const k = par * q.cap + q.len[par];
    for (let e = 0; e < ev; e++) {
      idx[k + e] = rows[e];
      val[k + e] = vals[e];
    }
    q.len[par] += ev;
  }
  return ev;
}

/** Dense execution: writes every value out[0 … n) (zeros included) into each queue at this parity. */
function sendAll(queues: Queue[], out: Int32Array, n: number, lo: number, par: number): void {
  for (let d = 0; d < queues.length; d++) {
    const q = queues[d];
    const idx = q.idx, val = q.val;
    let k = par * q.cap + q.len[par];
    for (let i = 0; i < n; i++, k++) {
      idx[k] = lo + i;
      val[k] = out[i];
    }
    q.len[par] += n;
  }
}

export class Simulator {
  private readonly pes: Pe[] = [];
  private readonly byPop: Pe[][];
  private readonly groups: (Group | null)[];
  private readonly hostEmitter: Emitter;
  private readonly hostQueues: Queue[];
  private readonly allQueues: Queue[] = [];
  private readonly pePos: number[];
  private readonly wbytes: number;
  private readonly pre: number;
  /** The deepest multicast path of any emitter with destinations (dense mode's NoC depth every tick). */
  private readonly maxDepth: number;
  private readonly execution: Execution;
  private denseReady = false;
  observer?: SimObserver;

  constructor(private readonly g: Graph, part: Partition, placement: Placement, routing: Routing,
    private readonly hw: HardwareDescription, opts: SimOptions = {}) {
    if (!g.quant) throw new NmcError("the spinnaker2 simulator runs quantized IR only");
    this.execution = opts.execution ?? "event";
    this.wbytes = g.quant.weightBits === 16 ? 2 : 1;
    this.pre = g.quant.weightBits - 8;
    this.byPop = g.populations.map(() => []);
    // Each projection's stored entries split by target slice in one pass (not one pass per slice).
    const splits = new Map<string, SlicedProjection>();
    const split = (j: Projection, slice: Slice) => {
      let m = splits.get(j.name);
      if (!m) splits.set(j.name, (m = splitBySlice(j, g.populations[slice.popIndex], part.slices.filter((x) => x.popIndex === slice.popIndex && x.mirrors < 0))));
      return m;
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
    if (opts.shareQueues ?? true) this.shareQueues(routing);
    for (const pe of this.pes) for (const q of pe.queues.values()) if (!this.allQueues.includes(q)) this.allQueues.push(q);
    this.groups = this.byPop.map((pes) => (pes.length ? new Group(pes) : null));
    // Where an emitter's packets land: the queue of its population on each destination PE (resolved once; a
    // queue shared by several destinations takes each packet once).
    const destQueues = (e: Emitter): Queue[] => {
      const qs: Queue[] = [];
      for (const d of e.dests) {
        const q = this.pes[this.pePos[d]]?.queues.get(e.popIndex);
        if (q && !(q.shared && qs.includes(q))) qs.push(q);
      }
      return qs;
    };
    for (const e of routing.emitters) {
      if (e.slice < 0) continue;
      const pe = this.pes[this.pePos[part.slices[e.slice].pe]];
      pe.emitter = e;
      pe.emitQueues = destQueues(e);
    }
    this.hostEmitter = routing.emitters.find((e) => e.slice === -1)!;
    this.hostQueues = destQueues(this.hostEmitter);
    let d = 0;
    for (const e of routing.emitters) if (e.dests.length && e.depth > d) d = e.depth;
    this.maxDepth = d;
  }

  /**
   * The PEs of one population receive the same event stream from a source when every emitter of that source
   * reaches all of them once or none of them (multicast to the whole population, as route.ts builds it). They
   * then share one queue for it: the very contents each PE's own queue would hold, stored once, so that an
   * event is written once and read once for all the population's slices (accumulateSharedQueue). Any other
   * routing keeps one queue per PE, filled packet by packet from the routing tables' destinations.
   */
  private shareQueues(routing: Routing): void {
    for (const pes of this.byPop) {
      if (pes.length < 2) continue;
      const ids = new Set(pes.map((pe) => pe.slice.pe));
      for (const src of pes[0].queues.keys()) {
        if (!pes.every((pe) => pe.queues.has(src))) continue;
        const whole = routing.emitters.filter((e) => e.popIndex === src).every((e) => {
          const hit = Array.from(e.dests).filter((d) => ids.has(d));
          return hit.length === 0 || (hit.length === pes.length && new Set(hit).size === pes.length);
        });
        if (!whole) continue;
        const q = pes[0].queues.get(src)!;
        q.shared = true;
        for (const pe of pes) {
          pe.queues.set(src, q);
          for (const lp of pe.incoming) if (lp.srcPop === src) lp.queue = q;
        }
      }
    }
  }

  /** Dense execution's weights: every PE's local CSR rows expanded to [rows × cols], once. */
  private prepareDense(): void {
    if (this.denseReady) return;
    for (const pe of this.pes) for (const lp of pe.incoming) lp.dense = denseWeights(lp.rows, lp.cols, lp.rowPtr, lp.stride, lp.slot, lp.colIdx, lp.colBase, lp.w);
    this.denseReady = true;
  }

  /**
   * Runs a batch. `execution` (default: the constructor's, else "event") chooses event-driven or dense
   * execution; outputs, events and every charged figure are identical either way, only the wall time differs.
   */
  run(batch: SequenceBatch, opts: RunOptions = {}): SimRun {
    const g = this.g, hw = this.hw, c = hw.cycles;
    const execution = opts.execution ?? this.execution;
    const dense = execution === "dense";
    if (dense) this.prepareDense();
    const { batch: B, ticks: T, channels: C } = batch;
    const xq = quantizeInputs(g, batch);
    const inputPop = g.populations.findIndex((p) => p.name === g.inputs[0]);
    const input = g.populations[inputPop];
    const outIndex = g.populations.findIndex((p) => p.name === g.outputs[0]);
    const outPop = g.populations[outIndex];
    const isReadout = outPop.kind === "Readout";
    const K = outPop.size;
    const outputQ = new Int32Array(isReadout ? B * K : B * T * K);
    const totals: SimTotals = { event: emptyTotals(), dense: emptyTotals(), activityOnly: emptyTotals(), weightOnly: emptyTotals() };
    const ev = totals.event, de = totals.dense, ao = totals.activityOnly, wo = totals.weightOnly;
    const P = g.populations.length;
    const eventCount = new Float64Array(P), unitTickCount = new Float64Array(P);
    const projections: SimRun["projections"] = {};
    for (const j of g.projections) projections[j.name] = { nnz: j.weights.colIdx.length, dense: j.rows * j.cols, effective: 0, activityOnly: 0, weightOnly: 0, denseOps: 0 };
    for (const pe of this.pes) for (const lp of pe.incoming) lp.stat = projections[lp.name];
    const popOut = opts.observer ? g.populations.map((p) => new Int32Array(p.size)) : null;
    const host = this.hostEmitter, hostQueues = this.hostQueues;
    const perTick = { eventCycles: new Float64Array(T), denseCycles: new Float64Array(T) };
    const hostDense = { hops: host.hops * input.size, chip: host.chipHops * input.size };
    const tokens = input.kind === "Input" && input.encoding === "tokens";
    const hostOut = new Int32Array(input.size);
    const sendCycles = c.packet_send.value, readoutCycles = c.readout_unit.value;
    const outPes = isReadout ? [] : this.byPop[outIndex];
    const readoutPes = isReadout ? this.byPop[g.populations.findIndex((p) => p.name === (outPop as { source: string }).source)] : [];
    const readoutSlot = readoutPes.map((pe) => pe.readouts.find((r) => r.popIndex === outIndex)!);
    for (let b = 0; b < B; b++) {
      for (const pe of this.pes) pe.reset();
      for (let t = 0; t < T; t++) {
        const par = t & 1, prevPar = par ^ 1;
        for (let k = 0; k < this.allQueues.length; k++) this.allQueues[k].len[par] = 0;
        let tickMax = 0, tickMaxDense = 0, tickMaxAct = 0, tickMaxWeight = 0, depth = 0;
        // Host: the input population's non-zero values as events (dense execution: every value).
        const xOff = (b * T + t) * C;
        let hostEvents: number;
        if (tokens) {
          const tok = xq[xOff];
          if (dense || popOut) {
            hostOut.fill(0);
            hostOut[tok] = 1 << 14;
          }
          if (dense) sendAll(hostQueues, hostOut, input.size, 0, par);
          else for (const q of hostQueues) {
            const k = par * q.cap + q.len[par]++;
            q.idx[k] = tok;
            q.val[k] = 1 << 14;
          }
          hostEvents = 1;
        } else {
          for (let i = 0; i < input.size; i++) hostOut[i] = xq[xOff + i];
          if (dense) {
            hostEvents = 0;
            for (let i = 0; i < input.size; i++) if (hostOut[i] !== 0) hostEvents++;
            sendAll(hostQueues, hostOut, input.size, 0, par);
          } else hostEvents = sendEvents(hostQueues, hostOut, input.size, 0, par);
        }
        if (popOut) popOut[inputPop].set(hostOut);
        ev.packets += hostEvents; ev.hops += hostEvents * host.hops; ev.chipHops += hostEvents * host.chipHops;
        ao.packets += hostEvents; ao.hops += hostEvents * host.hops; ao.chipHops += hostEvents * host.chipHops;
        eventCount[inputPop] += hostEvents;
        if (host.dests.length) depth = host.depth;
        unitTickCount[inputPop] += input.size;
        de.packets += input.size; de.hops += hostDense.hops; de.chipHops += hostDense.chip;
        wo.packets += input.size; wo.hops += hostDense.hops; wo.chipHops += hostDense.chip;
        for (let pi = 0; pi < P; pi++) {
          const grp = this.groups[pi];
          if (!grp) continue;
          const pes = grp.pes;
          const pop = g.populations[pi];
          this.deliverGroup(grp, t, par, prevPar, dense);
          for (let s = 0; s < pes.length; s++) {
            const pe = pes[s];
            this.finishPe(pe, pop, totals);
            // Events out: one multicast packet each (dense execution: every value).
            const e = pe.emitter, lo = pe.slice.lo, n = pe.n;
            let nev: number;
            if (!dense) nev = sendEvents(pe.emitQueues, pe.out, n, lo, par);
            else {
              nev = 0;
              for (let i = 0; i < n; i++) if (pe.out[i] !== 0) nev++;
              sendAll(pe.emitQueues, pe.out, n, lo, par);
            }
            eventCount[pi] += nev;
            unitTickCount[pi] += n;
            let cycles = pe.cEvent, dcycles = pe.cDense, acycles = pe.cActivity, wcycles = pe.cWeight;
            if (e) {
              cycles += nev * sendCycles;
              dcycles += n * sendCycles;
              acycles += nev * sendCycles;
              wcycles += n * sendCycles;
              ev.packets += nev; ev.hops += nev * e.hops; ev.chipHops += nev * e.chipHops;
              ao.packets += nev; ao.hops += nev * e.hops; ao.chipHops += nev * e.chipHops;
              de.packets += n; de.hops += n * e.hops; de.chipHops += n * e.chipHops;
              wo.packets += n; wo.hops += n * e.hops; wo.chipHops += n * e.chipHops;
              pe.counters.packetsOut += nev;
              if (nev > 0 && e.depth > depth) depth = e.depth;
            }
            for (let k = 0; k < pe.readouts.length; k++) {
              const r = pe.readouts[k];
              readoutUnits(r.pop.mode, n, pe.out, r.sum, r.out, t);
              const rc = n * readoutCycles;
              cycles += rc; dcycles += rc; acycles += rc; wcycles += rc;
              let nz = 0;
              for (let i = 0; i < n; i++) if (r.out[i] !== 0) nz++;
              eventCount[r.popIndex] += nz;
              unitTickCount[r.popIndex] += n;
            }
            pe.counters.cycles += cycles;
            pe.counters.denseCycles += dcycles;
            ev.cycles += cycles;
            de.cycles += dcycles;
            ao.cycles += acycles;
            wo.cycles += wcycles;
            if (cycles > tickMax) tickMax = cycles;
            if (dcycles > tickMaxDense) tickMaxDense = dcycles;
            if (acycles > tickMaxAct) tickMaxAct = acycles;
            if (wcycles > tickMaxWeight) tickMaxWeight = wcycles;
            if (popOut) {
              popOut[pi].set(pe.out, lo);
              for (const r of pe.readouts) popOut[r.popIndex].set(r.out, lo);
            }
          }
        }
        ev.criticalCycles += tickMax;
        de.criticalCycles += tickMaxDense;
        ao.criticalCycles += tickMaxAct;
        wo.criticalCycles += tickMaxWeight;
        perTick.eventCycles[t] += tickMax;
        perTick.denseCycles[t] += tickMaxDense;
        ev.nocDepthHops += depth;
        ao.nocDepthHops += depth;
        de.nocDepthHops += this.maxDepth;
        wo.nocDepthHops += this.maxDepth;
        if (popOut && opts.observer) for (let p = 0; p < popOut.length; p++) opts.observer(p, popOut[p], b, t);
        if (!isReadout) for (const pe of outPes) outputQ.set(pe.out, (b * T + t) * K + pe.slice.lo);
      }
      if (isReadout && T > 0) readoutPes.forEach((pe, k) => outputQ.set(readoutSlot[k].out, b * K + pe.slice.lo));
      opts.onSample?.(b);
    }
    const outFrac = outPop.fixed!.outFrac;
    const output = new Float64Array(outputQ.length);
    for (let i = 0; i < output.length; i++) output[i] = fromFixed(outputQ[i], outFrac);
    const events: Record<string, number> = {}, unitTicks: Record<string, number> = {};
    g.populations.forEach((p, i) => {
      events[p.name] = eventCount[i];
      unitTicks[p.name] = unitTickCount[i];
    });
    return {
      outputQ, output, outputShape: isReadout ? [B, K] : [B, T, K], outFrac, samples: B, ticks: T, totals,
      pes: this.pes.map((p) => p.counters), events, unitTicks, projections, perTick,
    };
  }

  /**
   * The delivery part of one tick for every PE of a population: each PE drains its queues into its
   * projections' exact column sums and requantizes them into its ports. The PEs are independent (no delay-0
   * edge leads from a population to itself), so they are gone through together, event by event
   * (accumulateQueues), which is only a matter of host cache locality. Records each PE's counts of this tick
   * for finishPe.
   */
  private deliverGroup(grp: Group, t: number, par: number, prevPar: number, dense: boolean): void {
    const pes = grp.pes, S = grp.S;
    for (let s = 0; s < S; s++) {
      const pe = pes[s];
      for (let q = 0; q < pe.ports.length; q++) loadBias(pe.ports[q], pe.bias[q]);
      pe.received = pe.receivedDense = pe.syn = pe.synDense = pe.cols = pe.colsDense = pe.synAct = pe.colsAct = pe.synWeight = 0;
    }
    const ns = grp.ns, offs = grp.offs, touched = grp.touched, events = grp.events;
    for (let k = 0; k < grp.links.length; k++) {
      const L = grp.links[k];
      let maxN = 0;
      for (let s = 0; s < S; s++) {
        const lp = pes[s].incoming[k];
        const q = lp.queue;
        const p = lp.delay === 0 ? par : prevPar;
        const n = lp.delay === 1 && t === 0 ? 0 : q.len[p];
        ns[s] = n;
        offs[s] = p * q.cap;
        touched[s] = 0;
        events[s] = n;
        if (n > 0) lp.acc.fill(0);
        if (n > maxN) maxN = n;
      }
      if (maxN > 0) {
        if (!dense && L.shared) accumulateSharedQueue(S, L.idxs[0], L.vals[0], offs[0], ns[0], L.rowPtr, L.colIdx, L.w, L.sums, touched);
        else if (!dense) accumulateQueues(S, L.idxs, L.vals, offs, ns, maxN, L.rowPtr, L.colIdx, L.w, L.sums, touched);
        else {
          for (let s = 0; s < S; s++) {
            const n = ns[s];
            if (n === 0) continue;
            // The event-mode figures of this queue (its non-zero values and their stored entries), then the
            // dense work: every queued value times every weight of its dense row.
            const lp = pes[s].incoming[k];
            const idx = L.idxs[s], val = L.vals[s], rowPtr = L.rowPtr, off = offs[s];
            let ev = 0, tc = 0;
            for (let e = off; e < off + n; e++) {
              if (val[e] === 0) continue;
              ev++;
              const r = idx[e] * S + s;
              tc += rowPtr[r + 1] - rowPtr[r];
            }
            events[s] = ev;
            touched[s] = tc;
            accumulateDense(idx, val, off, n, lp.dense!, lp.cols, lp.acc);
          }
        }
      }
      for (let s = 0; s < S; s++) {
        const pe = pes[s], lp = pe.incoming[k];
        const ev = events[s], tc = touched[s];
        const nc = ns[s] > 0 ? requantizeColumns(lp.acc, lp.mult, lp.shift, this.pre, lp.port) : 0;
        if (lp.countsReceive) {
          pe.received += ev;
          pe.receivedDense += lp.srcSize;
        }
        pe.syn += tc;
        pe.cols += nc;
        pe.synDense += lp.rows * lp.cols;
        pe.colsDense += lp.cols;
        pe.synAct += ev * lp.cols;
        if (ev > 0) pe.colsAct += lp.cols;
        pe.synWeight += lp.nnz;
        // A DiagonalSSM's `u` projection is replicated on every slice (each keeps the whole state): its work
        // is charged to every PE, but the model's synaptic operations are counted once, on the first slice.
        if (!lp.countsOps) continue;
        const pr = lp.stat;
        pr.effective += tc;
        pr.activityOnly += ev * lp.cols;
        pr.weightOnly += lp.nnz;
        pr.denseOps += lp.rows * lp.cols;
      }
    }
  }

  /**
   * The rest of one PE's tick after delivery: saturate the ports, update the units. Sets the PE's cycles of
   * this tick in each charged mode (event, dense, activity only, weight only), which depend only on the
   * events, never on how the tick was executed.
   */
  private finishPe(pe: Pe, pop: Population, totals: SimTotals): void {
    const c = this.hw.cycles;
    const { received, receivedDense, syn, synDense, cols, colsDense, synAct, colsAct, synWeight } = pe;
    for (let q = 0; q < pe.ports.length; q++) saturatePort(pe.ports[q]);
    let units = 0;
    const fx = pop.fixed!;
    switch (pop.kind) {
      case "EGRU":
        egruUnits(pe.n, pe.ports[0], pe.ports[1], pe.luts.sigmoid, pe.luts.tanh, pe.thr!, pe.state[0], pe.out);
        units = pe.n * c.egru_unit.value;
        break;
      case "DiagonalSSM": {
        const xr = pe.state[0], xi = pe.state[1], rr = pe.state[2], ri = pe.state[3];
        ssmStates(pop.stateSize, fx.stateBits, xr, xi, rr, ri, pop.tensors.lambda_re.data, pop.tensors.lambda_im.data, pe.ports[pe.uPort]);
        ssmOutputs(pe.n, pe.slice.lo, pop.stateSize, pop.tensors.c_re.data, pop.tensors.c_im.data, rr, ri, pop.tensors.c_mult.data, pop.tensors.c_shift.data, pe.ports[pe.skipPort], this.pre, fx.accFrac - fx.outFrac, pe.out);
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
    const bytes = this.wbytes + 2;
    totals.event.synops += syn;
    totals.dense.synops += synDense;
    totals.activityOnly.synops += synAct;
    totals.weightOnly.synops += synWeight;
    totals.event.sramBytes += syn * bytes;
    totals.dense.sramBytes += synDense * bytes;
    totals.activityOnly.sramBytes += synAct * bytes;
    totals.weightOnly.sramBytes += synWeight * bytes;
    const base = c.tick_overhead.value + units;
    const recv = c.packet_receive.value, synapse = c.synapse.value, rq = c.requantize_column.value;
    pe.cEvent = base + received * recv + syn * synapse + cols * rq;
    pe.cDense = base + receivedDense * recv + synDense * synapse + colsDense * rq;
    pe.cActivity = base + received * recv + synAct * synapse + colsAct * rq;
    pe.cWeight = base + receivedDense * recv + synWeight * synapse + colsDense * rq;
  }
}

export { levelOf };
