// A processing element of the simulator: its slice's local ports, biases, incoming projections (its chunks
// of the CSR rows, SlicedProjection), event queues, unit state and the golden kernel bound to them
// (runtime/golden/ops.ts), and a Group: the PEs of one population, which deliver a tick together.
import { type Shared32, shared32, sharedQueueKernel, simArena, type SimWasm } from "./wasm.js";
import { type KernelChoice, requantizeFits, type SharedQueueKernel } from "../../../runtime/wasm/index.js";
import { irKindOf } from "../../../ir/kinds.js";
import { NmcError } from "../../../ir/errors.js";
import type { Graph, Population, Projection } from "../../../ir/types.js";
import { goldenOp, type SplitUpdate, type UnitUpdate } from "../../../runtime/golden/ops.js";
import { type ColumnArray, egruManyWasm, type WeightArray } from "../../../runtime/golden/kernels.js";
import { NO_COUNTS } from "../../../runtime/golden/saturation.js";
import type { HardwareDescription } from "../chip.js";
import { KEY_BITS, s2Op } from "../ops.js";
import type { Partition, Slice } from "../partition.js";
import type { Emitter, Routing } from "../route.js";
import { Queue } from "./queues.js";
import { emptyProjectionCounts, type PeCounters, type ProjectionCounts } from "./results.js";
import { type SlicedProjection, splitAll } from "./slices.js";
import type { DramLink, MacLink, PeAccel } from "./accel.js";

export interface LocalProjection {
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
  /** Requantized by the WebAssembly kernel (acc, mult, shift and port in the arena, requantizeFits). */
  rq: boolean;
  /** colBase + the local column of each entry (an index into `sums`). */
  colIdx: ColumnArray;
  colBase: number;
  w: WeightArray;
  mult: Int32Array;
  shift: Int32Array;
  /** This PE's exact column sums: sums[colBase … colBase + cols), the sums of all slices of the projection side by side. */
  acc: Float64Array;
  sums: Float64Array;
  /** The same sums in int32 (SlicedProjection.sums32) where the kernels add in int32, requantized by the int32 kernel; else null. */
  acc32: Int32Array | null;
  /** The projection's split over the population's slices (slices.ts), whose arrays the fields above view. */
  sliced: SlicedProjection;
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
  /** The target population's saturation counters (NO_COUNTS where countsOps is false: counted on the first slice). */
  sat: Float64Array;
  /** On the MAC array, or with its weights in DRAM (sim/accel.ts wireAccel; absent: the ARM's event loop from SRAM). */
  mac?: MacLink;
  dram?: DramLink;
}

/** One incoming projection of a population, across its PEs (the shared chunked CSR; each PE's queue and sums). */
export interface GroupLink {
  rowPtr: Uint32Array;
  colIdx: ColumnArray;
  w: WeightArray;
  idxs: Int32Array[];
  vals: Int32Array[];
  sums: Float64Array;
  /** Every PE reads the same (shared) queue. */
  shared: boolean;
  /** The WebAssembly kernel of a shared queue over arena arrays (sim/wasm.ts), or null. */
  wasm: SharedQueueKernel | null;
  /**
   * The int32 accumulation of a shared queue (sim/wasm.ts shared32: the split's int32 sums, in dense form where
   * chosen), where every PE of the link requantizes in WebAssembly; else null. Event execution only.
   */
  int32: Shared32 | null;
  /**
   * With int32: the requantizeMany32 table of the group's PEs (per PE: acc32, cols, mult, shift, port) and its
   * results (per PE: columns requantized, clamps of each sat32), in the arena.
   */
  rqMany: { desc: Uint32Array; out: Float64Array } | null;
  /** The row layout's slices per row, and the slot of this group's first PE in it (a pipeline worker may hold part of a population). */
  stride: number;
  first: number;
}

/**
 * The cross-PE reduction of a population cut into several slices (S2_OPS reduction): per slot (slice order)
 * its reduction emitter (the routing tables' walk: destinations, hops, depth), the slots whose partial sums
 * the tables deliver to it, and its totals of the tick; the packet size in bits.
 */
export interface GroupReduction {
  emitters: Emitter[];
  sources: Int32Array[];
  totals: Float64Array[];
  packetBits: number;
  /** Scratch: per slot, the tick's arrival time of its partial sums (one charged mode at a time). */
  arrival: Float64Array;
  order: Int32Array;
}

/** The PEs of one population (slice order), or a consecutive run of them (a pipeline worker's share), and scratch for their tick. */
export class Group {
  readonly S: number;
  /** Set by the simulator for a population whose slices exchange partial sums (else null). */
  reduction: GroupReduction | null = null;
  readonly links: GroupLink[];
  readonly ns: Int32Array;
  readonly offs: Int32Array;
  readonly events: Int32Array;
  readonly touched: Float64Array;
  /**
   * Every port of the group's PEs, for the one-call kernels (loadMany, saturateMany): per port its byte offset,
   * its bias's (0: none) and its length; its offset and length; its clamps. Null without the kernels.
   */
  readonly portTable: { load: Uint32Array; sat: Uint32Array; out: Float64Array } | null;
  /**
   * Every PE's unit update as one kernel call (runtime/golden/kernels.ts egruManyWasm: an EGRU population's PEs
   * with the kernels), or null: each PE's own update.
   */
  readonly updateAll: (() => number) | null;
  constructor(readonly pes: Pe[], readonly wasm: SimWasm | null = null) {
    const S = (this.S = pes.length);
    this.portTable = wasm ? portTable(wasm, pes) : null;
    this.updateAll = wasm && S > 1 ? egruManyWasm(pes.map((pe) => pe.update), (k) => wasm.arena.alloc(Uint32Array, k)) : null;
    this.ns = new Int32Array(S);
    this.offs = new Int32Array(S);
    this.events = new Int32Array(S);
    this.touched = new Float64Array(S);
    this.links = pes[0].incoming.map((lp0, k) => {
      for (let s = 0; s < S; s++) {
        const lp = pes[s].incoming[k];
        if (!lp || lp.name !== lp0.name || lp.rowPtr !== lp0.rowPtr || lp.sums !== lp0.sums || lp.slot !== lp0.slot + s || lp.stride !== lp0.stride || lp0.slot + S > lp0.stride) {
          throw new NmcError(`internal: the slices of ${pes[0].pop.name} do not share projection ${lp0.name}'s layout`);
        }
      }
      const shared = pes.every((pe) => pe.incoming[k].queue === lp0.queue);
      const int32 = shared && pes.every((pe) => pe.incoming[k].rq && pe.incoming[k].acc32) ? shared32(wasm, lp0.sliced) : null;
      return {
        rowPtr: lp0.rowPtr, colIdx: lp0.colIdx, w: lp0.w,
        idxs: pes.map((pe) => pe.incoming[k].queue.idx), vals: pes.map((pe) => pe.incoming[k].queue.val), sums: lp0.sums,
        shared,
        wasm: sharedQueueKernel(wasm, lp0.rowPtr, lp0.colIdx, lp0.w, lp0.sums), stride: lp0.stride, first: lp0.slot,
        int32, rqMany: int32 && wasm ? requantizeTable(wasm, pes.map((pe) => pe.incoming[k])) : null,
      };
    });
  }
}

/** A population that lives on this PE's slice beside its own (a Readout of it), with its bound kernel. */
export interface Mirror {
  popIndex: number;
  out: Int32Array;
  state: Int32Array[];
  update: UnitUpdate;
  /** Its cycles per tick (S2_OPS unitCycles). */
  cycles: number;
  /** A Readout that feeds a projection (a decoder after it): its slice's emitter and where its packets land; else null, []. */
  emitter: Emitter | null;
  emitQueues: Queue[];
}

/** How the simulator builds a PE: the graph, weight_bits − 8, the hardware and the projection splitter. */
export interface PeContext {
  g: Graph;
  pre: number;
  hw: HardwareDescription;
  split: (j: Projection, slice: Slice) => SlicedProjection;
  /** Per population (graph order): its saturation counters, shared by its PEs (runtime/golden/saturation.ts). */
  sat?: Float64Array[];
  /** Per population: its step's [Δt, valid steps] (UnitRange.time), written by the simulator before each step. */
  time?: Float64Array[];
  /** The WebAssembly kernels' arena (sim/wasm.ts), or null. */
  wasm?: SimWasm | null;
}

export class Pe {
  readonly n: number;
  readonly ports: Float64Array[] = [];
  /** Per port, its bias (int32 values held as doubles: loading a port is a copy), or null. */
  readonly bias: (Float64Array | null)[] = [];
  /** Per port: the counters its int32 saturation counts in (a replicated port: the first slice only). */
  readonly portSat: Float64Array[];
  readonly incoming: LocalProjection[] = [];
  /** Source population → its event queue on this PE. */
  readonly queues = new Map<number, Queue>();
  /** The queues of the PEs this PE's events go to (its emitter's destinations). */
  emitQueues: Queue[] = [];
  readonly out: Int32Array;
  readonly state: Int32Array[];
  /** The population's golden kernel (GOLDEN_OPS) bound to this slice. */
  readonly update: UnitUpdate;
  /**
   * A slice of a population cut over several PEs whose update needs sums over all units (a LayerNorm): its
   * kernel in two halves around the exchange of partial sums (GOLDEN_OPS bindSplit), else null.
   */
  readonly split: SplitUpdate | null;
  /** The cycles of the unit update per tick (S2_OPS unitCycles; a split slice: its reduction's before + after). */
  readonly unitCycles: number;
  /** A split slice's cycles (S2_OPS reduction): the unit work after the exchange, and per partial received (combine). */
  readonly splitAfter: number;
  readonly splitCombine: number;
  /** The Readouts of this population that live on this PE (a population may have several). */
  readonly readouts: Mirror[];
  readonly counters: PeCounters;
  emitter: Emitter | null = null;
  /** The MAC-array and DRAM work of this PE (sim/accel.ts), null when it has none. */
  accel: PeAccel | null = null;
  /** This tick's counts (set by deliverGroup; no object per tick). */
  received = 0;
  receivedDense = 0;
  syn = 0;
  synDense = 0;
  cols = 0;
  colsDense = 0;
  synAct = 0;
  colsAct = 0;
  synWeight = 0;
  /** This tick's cycles in each charged mode (set by Charges.work). */
  cEvent = 0;
  cDense = 0;
  cActivity = 0;
  cWeight = 0;
  /** A split slice: this tick's cycles spent waiting for the last partial sums, per mode (Charges.reduce). */
  wEvent = 0;
  wDense = 0;
  wActivity = 0;
  wWeight = 0;

  /**
   * `shell`: a PE another pipeline worker runs (sim/pipeline.ts): built without its incoming projections (no
   * weights split or copied, no queues), so it only stands for its place in the routing and the counts.
   */
  constructor(ctx: PeContext, readonly slice: Slice, readonly pop: Population, readoutPops: { pop: Population; popIndex: number }[], readonly shell = false) {
    const n = (this.n = slice.hi - slice.lo);
    const wasm = ctx.wasm ?? null;
    this.out = wasm ? wasm.arena.alloc(Int32Array, n) : new Int32Array(n);
    const portIndex = this.makePorts(wasm);
    const index = new Map(ctx.g.populations.map((p, i) => [p.name, i]));
    const receiving = new Set<number>();
    for (const j of ctx.g.projections) {
      if (j.target !== pop.name || shell) continue;
      const lp = this.localProjection(ctx, j, index.get(j.source)!, portIndex.get(j.port)!, !receiving.has(index.get(j.source)! * 2 + j.delay));
      this.incoming.push(lp);
      receiving.add(lp.srcPop * 2 + j.delay);
    }
    const op = goldenOp(pop), s2 = s2Op(pop);
    this.state = op.state(pop, n, wasm ? (k) => wasm.arena.alloc(Int32Array, k) : undefined);
    const sat = ctx.sat?.[slice.popIndex] ?? NO_COUNTS;
    this.portSat = pop.ports.map((q) => (s2.replicated(pop, q.name) && slice.lo !== 0 ? NO_COUNTS : sat));
    const range = {
      lo: slice.lo, n, ports: this.ports, state: this.state, out: this.out, pre: ctx.pre, sat, time: ctx.time?.[slice.popIndex],
      wasm: wasm ? { arena: wasm.arena, counts: wasm.counts } : undefined,
    };
    const red = s2.reduction;
    if (red && n < pop.size) {
      if (!op.bindSplit) throw new NmcError(`internal: ${pop.kind} has a cross-PE reduction but no split kernel`);
      this.split = op.bindSplit(pop, range);
      this.update = () => {
        throw new Error(`internal: slice ${slice.id} of ${pop.name} runs in two halves (split), not whole`);
      };
      const c = ctx.hw.cycles;
      this.splitAfter = red.after(pop, n, c);
      this.splitCombine = red.combine(pop, c);
      this.unitCycles = red.before(pop, n, c) + this.splitAfter;
    } else {
      this.split = null;
      this.update = op.bind(pop, range);
      this.splitAfter = this.splitCombine = 0;
      this.unitCycles = s2.unitCycles(pop, n, ctx.hw.cycles);
    }
    this.readouts = readoutPops.map((r) => {
      const ro = goldenOp(r.pop), state = ro.state(r.pop, n), out = new Int32Array(n);
      const update = ro.bind(r.pop, { lo: slice.lo, n, ports: [], state, out, pre: ctx.pre, source: this.out, sat: ctx.sat?.[r.popIndex], time: ctx.time?.[r.popIndex] });
      return { popIndex: r.popIndex, out, state, update, cycles: s2Op(r.pop).unitCycles(r.pop, n, ctx.hw.cycles), emitter: null, emitQueues: [] };
    });
    this.counters = { pe: slice.pe, slice: `${pop.name}[${slice.lo}:${slice.hi}]`, cycles: 0, denseCycles: 0, packetsIn: 0, packetsOut: 0, synops: 0, sramBytes: slice.bytes };
  }

  /** The local ports (S2_OPS layout) and their biases (the tensors GOLDEN_OPS names); returns port name → index. */
  private makePorts(wasm: SimWasm | null): Map<string, number> {
    const { pop, slice, n } = this;
    const layout = s2Op(pop), op = goldenOp(pop);
    const portIndex = new Map<string, number>();
    for (const q of pop.ports) {
      portIndex.set(q.name, this.ports.length);
      const cols = layout.localCols(pop, q.name, n);
      this.ports.push(wasm ? wasm.arena.alloc(Float64Array, cols) : new Float64Array(cols));
      const name = irKindOf(pop).portBias(pop, q.name);
      const t = name === null ? undefined : pop.tensors[name];
      let b: Float64Array | null = null;
      if (t) {
        const local = sliceBias(pop, q.name, slice, n, cols, t.data);
        b = wasm ? wasm.arena.copy(local) : local; // read only: the cached array itself where it need not move
      }
      this.bias.push(b);
    }
    return portIndex;
  }

  /** This slice's part of projection j: its chunk of every row (SlicedProjection), requantization and queue. */
  private localProjection(ctx: PeContext, j: Projection, srcPop: number, port: number, countsReceive: boolean): LocalProjection {
    const { pop, slice } = this;
    const cols = s2Op(pop).localCols(pop, j.port, this.n);
    const sliced = ctx.split(j, slice);
    const { S, rowStart, colIdx, w, slotOf, toLocal, slotCols, bases, sums, sums32 } = sliced;
    const slot = slotOf.get(slice.id)!;
    const wasm = ctx.wasm ?? null;
    const mult = wasm ? wasm.arena.alloc(Int32Array, cols) : new Int32Array(cols), shift = wasm ? wasm.arena.alloc(Int32Array, cols) : new Int32Array(cols);
    const own = slotCols[slot], jm = j.requant!.multiplier, js = j.requant!.shift;
    for (let k = 0; k < own.length; k++) {
      const c = own[k];
      mult[toLocal[c]] = jm[c];
      shift[toLocal[c]] = js[c];
    }
    const nnz = sliced.slotNnz[slot];
    const srcSize = ctx.g.populations[srcPop].size;
    let queue = this.queues.get(srcPop);
    if (!queue) this.queues.set(srcPop, (queue = new Queue(srcSize)));
    return {
      name: j.name, srcPop, delay: j.delay, rows: j.rows, rowPtr: rowStart, stride: S, slot, nnz, colIdx, colBase: bases[slot], w, mult, shift,
      acc: sums.subarray(bases[slot], bases[slot] + cols), sums, port: this.ports[port], cols, queue, srcSize, countsReceive,
      acc32: sums32 ? sums32.subarray(bases[slot], bases[slot] + cols) : null, sliced,
      rq: wasm !== null && wasm.arena.holds(sums, this.ports[port]) && requantizeFits(ctx.pre, mult, shift),
      // Every slice holds all the columns of a replicated port (a DiagonalSSM's `u`): the first slice alone counts their ops.
      countsOps: !s2Op(pop).replicated(pop, j.port) || slice.lo === 0, dense: null, stat: emptyProjectionCounts(),
      sat: !s2Op(pop).replicated(pop, j.port) || slice.lo === 0 ? ctx.sat?.[slice.popIndex] ?? NO_COUNTS : NO_COUNTS,
    };
  }

  reset(): void {
    this.out.fill(0);
    for (const s of this.state) s.fill(0);
    for (const r of this.readouts) for (const s of r.state) s.fill(0);
    for (const q of this.queues.values()) q.len[0] = q.len[1] = 0;
  }
}

/** Group.portTable (simArena reserves it per slice). */
function portTable(w: SimWasm, pes: Pe[]): { load: Uint32Array; sat: Uint32Array; out: Float64Array } {
  const P = pes.reduce((a, pe) => a + pe.ports.length, 0);
  const load = w.arena.alloc(Uint32Array, 3 * P), sat = w.arena.alloc(Uint32Array, 2 * P), out = w.arena.alloc(Float64Array, P);
  let q = 0;
  for (const pe of pes) {
    pe.ports.forEach((port, i) => {
      const b = pe.bias[i];
      load.set([port.byteOffset, b ? b.byteOffset : 0, port.length], 3 * q);
      sat.set([port.byteOffset, port.length], 2 * q);
      q++;
    });
  }
  return { load, sat, out };
}

/** The requantizeMany32 table of a link's PEs (GroupLink.rqMany), in the arena (simArena reserves it per split). */
function requantizeTable(w: SimWasm, lps: LocalProjection[]): { desc: Uint32Array; out: Float64Array } {
  const desc = w.arena.alloc(Uint32Array, 5 * lps.length), out = w.arena.alloc(Float64Array, 3 * lps.length);
  lps.forEach((lp, s) => desc.set([lp.acc32!.byteOffset, lp.cols, lp.mult.byteOffset, lp.shift.byteOffset, lp.port.byteOffset], 5 * s));
  return { desc, out };
}

/**
 * A slice's local bias of a port (S2_OPS layout; int32 values as doubles), computed once per slice of a partition
 * and kept (read only) for the simulators built later from the same mapping.
 */
function sliceBias(pop: Population, port: string, slice: Slice, n: number, cols: number, data: ArrayLike<number>): Float64Array {
  let byPort = biasCache.get(slice);
  if (!byPort) biasCache.set(slice, (byPort = new Map()));
  const hit = byPort.get(port);
  if (hit && hit.data === data && hit.bias.length === cols) return hit.bias;
  const layout = s2Op(pop), units = unitsOfColumns(pop, port, data.length), b = new Float64Array(cols);
  for (let c = 0; c < data.length; c++) {
    const u = units[c];
    if (u < 0 || (u >= slice.lo && u < slice.hi)) b[layout.localCol(pop, port, c, slice.lo, n)] = data[c];
  }
  byPort.set(port, { data, bias: b });
  return b;
}
const biasCache = new WeakMap<Slice, Map<string, { data: ArrayLike<number>; bias: Float64Array }>>();

/** The unit of every column of a port (S2_OPS layout), computed once per population and port, not once per PE. */
function unitsOfColumns(pop: Population, port: string, cols: number): Int32Array {
  let byPort = unitsCache.get(pop);
  if (!byPort) unitsCache.set(pop, (byPort = new Map()));
  let u = byPort.get(port);
  if (!u || u.length !== cols) {
    const layout = s2Op(pop);
    u = Int32Array.from({ length: cols }, (_, c) => layout.unitOfColumn(pop, port, c));
    byPort.set(port, u);
  }
  return u;
}
const unitsCache = new WeakMap<Population, Map<string, Int32Array>>();

/**
 * One PE per slice that does not mirror another; a mirroring population (a Readout) rides on its source's PEs.
 * Every projection into a population with PEs is split first (slices.ts sharedSplit: once per partition in a
 * process), then copied into the kernels' arena (sim/wasm.ts; null: the TypeScript kernels).
 */
export function buildPes(
  g: Graph, part: Partition, base: Omit<PeContext, "g" | "split" | "wasm">, kernels: KernelChoice | undefined, owns: (s: Slice) => boolean = () => true,
): { pes: Pe[]; wasm: SimWasm | null } {
  // A pipeline worker splits only the projections into populations it runs some PEs of (the others are shells).
  const busy = new Set(part.slices.filter((s) => s.mirrors < 0 && owns(s)).map((s) => s.popIndex));
  const splits = splitAll(g, part.slices.filter((s) => busy.has(s.popIndex)));
  const wasm = simArena(kernels, g, splits, part.slices);
  const split = (j: Projection) => {
    const m = splits.get(j.name);
    if (!m) throw new NmcError(`internal: projection ${j.name} was not split`);
    return m;
  };
  const mirrorsOf = new Map<number, { pop: Population; popIndex: number }[]>();
  g.populations.forEach((p, i) => {
    const source = s2Op(p).mirrors(p);
    if (source === null) return;
    const src = g.populations.findIndex((q) => q.name === source);
    mirrorsOf.set(src, [...(mirrorsOf.get(src) ?? []), { pop: p, popIndex: i }]);
  });
  const ctx: PeContext = { ...base, g, split, wasm };
  const pes: Pe[] = [];
  for (const s of part.slices) if (s.mirrors < 0) pes.push(new Pe(ctx, s, g.populations[s.popIndex], mirrorsOf.get(s.popIndex) ?? [], !owns(s)));
  return { pes, wasm };
}

/**
 * The cross-PE reductions: for each group whose slices run split (Pe.split), each slot's reduction emitter
 * and the slots whose partial sums the routing tables deliver to it (the walk's destinations), so that a
 * wrong table gives a PE wrong totals, hence outputs that differ from golden.
 */
export function wireReductions(groups: readonly (Group | null)[], routing: Routing): void {
  for (const grp of groups) {
    if (!grp || !grp.pes[0].split) continue;
    const S = grp.S, slot = new Map<number, number>();
    grp.pes.forEach((pe, s) => slot.set(pe.slice.pe, s));
    const emitters = grp.pes.map((pe) => {
      const e = routing.reductions.find((x) => x.slice === pe.slice.id);
      if (!e) throw new NmcError(`internal: slice ${pe.slice.id} of ${pe.pop.name} has no reduction key`);
      return e;
    });
    const sources = grp.pes.map(() => [] as number[]);
    emitters.forEach((e, j) => {
      for (const d of e.dests) {
        const s = slot.get(d);
        if (s !== undefined && s !== j) sources[s].push(j);
      }
    });
    const op = s2Op(grp.pes[0].pop).reduction!;
    grp.reduction = {
      emitters, sources: sources.map((x) => Int32Array.from(x)), totals: grp.pes.map((pe) => new Float64Array(pe.split!.sums.length)),
      packetBits: KEY_BITS + op.payloadBits, arrival: new Float64Array(S), order: new Int32Array(S),
    };
  }
}
