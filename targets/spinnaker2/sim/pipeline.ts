// One model simulated by several worker threads, each running a contiguous run of its PEs in graph order (a
// pipeline: targets/run/pipeline.ts plans it with planPipeline and starts the workers). A run may end inside a
// population: its PEs are then shared by two workers. Every worker builds the whole simulator from the same
// graph and mapping, so every PE, queue and routing table is the one-thread run's; it runs and charges only its
// own PEs (a population's group holds only those). What crosses from one worker to another is the output of
// a sending PE per tick (the values it sends), written into a ring of ticks in shared memory; the receiving
// worker replays the sending (sendEvents / sendAll) into the queues of its own PEs, so they hold what they
// hold in one thread (their events possibly in another order; every sum is exact, so the order never matters).
// A delay-0 projection from another worker's PE waits for that worker to have run the sending population's
// tick; one read only at delay 1 takes the previous tick's values. Delay-0 projections run forward in graph
// order, so within a tick a worker only ever waits for an earlier one: worker 1 runs tick t while worker 0
// runs tick t + 1 (up to the ring's depth ahead), and a delay-1 projection back to an earlier worker waits
// for the tick before.
//
// Charging: every figure summed over PEs is summed over the workers' runs (targets/run/result.ts
// mergePipelined). The tick's critical path (the slowest PE, the NoC depth) and the per-PE DVFS choice need
// every PE of the tick, so each worker but the last writes its tick figures (Charges.writeTick) into a ring
// too, and the last worker merges them into its own (Charges.mergeTick) before it counts the tick.
// Deterministic: nothing depends on timing.
import { NmcError } from "../../../ir/errors.js";
import type { Graph } from "../../../ir/types.js";
import { s2Op } from "../ops.js";
import type { Partition } from "../partition.js";
import type { Pe } from "./pe.js";
import { type Queue, sendAll, sendEvents } from "./queues.js";
import type { Charges } from "./charge.js";

/** What a worker of a pipelined run is given (structured-clonable: shared buffers and numbers). */
export interface PipelinePlan {
  workers: number;
  /** This worker's index, 0 … workers − 1. */
  index: number;
  /** Per PE (global index): the worker that runs it (a Readout's slices ride on their source's PEs). */
  peOwner: number[];
  /** Ticks the rings hold; a worker runs at most ring − 2 ticks ahead of the slowest. */
  ring: number;
  /** Int32: per worker, ticks completed; then per (worker, population): ticks for which it ran its PEs of that population. */
  progress: SharedArrayBuffer;
  /** Per population whose output crosses between workers: [ring × size] int32, keyed by population index. */
  channels: Record<number, SharedArrayBuffer>;
  /** Per worker but the last: [ring × (5 + 4 · PEs)] float64 tick figures (Charges.writeTick). */
  figures: SharedArrayBuffer[];
}

/** Float64 entries of one worker's figures of one tick (Charges.writeTick). */
export const tickFigures = (pes: number): number => 5 + 4 * pes;

/** Int32 entries of a plan's progress buffer. */
export const progressEntries = (workers: number, populations: number): number => workers * (1 + populations);

/** How long a worker spins on a wait before it sleeps, in milliseconds. */
const SPIN_MS = 2;

/** One sending PE (or a Readout riding on it) of a population whose output crosses workers. */
interface Sender {
  lo: number;
  n: number;
  out: Int32Array;
  /** Its ring (the channel of its population), and the progress entry of its owner's run of its PE's population. */
  ring: Int32Array;
  size: number;
  progress: number;
  owner: number;
  /** The emitter's destination queues on this worker's PEs (what replaying it fills). */
  queues: Queue[];
}

export class PipelineLink {
  readonly index: number;
  readonly last: boolean;
  private readonly progress: Int32Array;
  private readonly W: number;
  private readonly P: number;
  /** Per population (graph order): this worker's senders to publish after running it. */
  private readonly publishAfter: Sender[][];
  /** Per population: the other workers' senders to replay before running it (read at delay 0). */
  private readonly importBefore: Sender[][];
  /** Per population: the other workers' senders it is the first to read, only at delay 1 here: the previous tick's values, replayed before running it. */
  private readonly importLate: Sender[][];
  private readonly figures: Float64Array[];
  private readonly stride: number;
  private readonly ring: number;
  /** The global tick (sample · T + t) the worker is in, and t. */
  private gt = 0;
  private t = 0;
  /** Milliseconds this worker spent waiting for the others (reported beside the run, never in it). */
  waitMs = 0;

  constructor(plan: PipelinePlan, pes: readonly Pe[], populations: number) {
    this.index = plan.index;
    this.W = plan.workers;
    this.P = populations;
    this.last = plan.index === plan.workers - 1;
    this.ring = plan.ring;
    this.progress = new Int32Array(plan.progress);
    if (this.progress.length !== progressEntries(this.W, populations)) throw new NmcError("internal: a pipeline plan for another graph");
    this.stride = tickFigures(pes.length);
    this.figures = plan.figures.map((b) => new Float64Array(b));
    this.publishAfter = Array.from({ length: populations }, () => []);
    this.importBefore = Array.from({ length: populations }, () => []);
    this.importLate = Array.from({ length: populations }, () => []);
    // This worker's PEs are those buildPes made whole (the others are shells).
    const mine = (pe: Pe) => !pe.shell;
    const myQueues = new Set<Queue>();
    // Per source population: the first of this worker's populations that reads it at delay 0, and at delay 1.
    const first: Map<number, number>[] = [new Map(), new Map()];
    for (const pe of pes) {
      if (!mine(pe)) continue;
      for (const q of pe.queues.values()) myQueues.add(q);
      for (const lp of pe.incoming) {
        const f = first[lp.delay], p = pe.slice.popIndex;
        if (!f.has(lp.srcPop) || p < f.get(lp.srcPop)!) f.set(lp.srcPop, p);
      }
    }
    for (const [popText, buf] of Object.entries(plan.channels)) {
      const pop = Number(popText), ring = new Int32Array(buf), size = ring.length / plan.ring;
      for (const pe of pes) {
        const owner = plan.peOwner[pe.slice.pe], group = pe.slice.popIndex;
        const make = (out: Int32Array, e: unknown, qs: Queue[]): Sender | null => e ? {
          lo: pe.slice.lo, n: pe.n, out, ring, size, owner, progress: this.W + owner * populations + group, queues: qs.filter((q) => myQueues.has(q)),
        } : null;
        const senders = [
          ...(group === pop ? [make(pe.out, pe.emitter, pe.emitQueues)] : []),
          ...pe.readouts.filter((r) => r.popIndex === pop).map((r) => make(r.out, r.emitter, r.emitQueues)),
        ].filter((x): x is Sender => x !== null);
        for (const x of senders) {
          // Read at delay 0: this tick's values before the first reader (they stay for delay-1 readers next tick);
          // only at delay 1: the previous tick's, before the first reader.
          if (owner === this.index) this.publishAfter[group].push(x);
          else if (x.queues.length && first[0].has(pop)) this.importBefore[first[0].get(pop)!].push(x);
          else if (x.queues.length && first[1].has(pop)) this.importLate[first[1].get(pop)!].push(x);
        }
      }
    }
  }

  /** Waits until progress entry i reaches `ticks`. */
  private waitFor(i: number, ticks: number): void {
    const p = this.progress;
    if (Atomics.load(p, i) >= ticks) return;
    const t0 = performance.now();
    // Spin first (a tick's share takes a few hundred microseconds; waking from Atomics.wait costs tens).
    for (let k = 0; ; k++) {
      if (Atomics.load(p, i) >= ticks) {
        this.waitMs += performance.now() - t0;
        return;
      }
      if ((k & 255) === 255 && performance.now() - t0 > SPIN_MS) break;
    }
    for (;;) {
      const v = Atomics.load(p, i);
      if (v >= ticks) break;
      Atomics.wait(p, i, v, 10_000);
    }
    this.waitMs += performance.now() - t0;
  }

  /** Replays senders' values of global tick `tick` into this worker's queues at parity `into`, each once its owner has run it. */
  private replay(xs: Sender[], tick: number, into: number, dense: boolean): void {
    const slot = tick % this.ring;
    for (let k = 0; k < xs.length; k++) {
      const x = xs[k];
      this.waitFor(x.progress, tick + 1);
      const base = slot * x.size + x.lo;
      const v = x.ring.subarray(base, base + x.n);
      if (dense) sendAll(x.queues, v, x.n, x.lo, into);
      else sendEvents(x.queues, v, x.n, x.lo, into);
    }
  }

  /**
   * The start of global tick gt (tick t of its sample), after this tick's queues were cleared: wait until no
   * worker lags so far behind that this tick's ring slots are still being read.
   */
  begin(gt: number, t: number): void {
    this.gt = gt;
    this.t = t;
    const lag = gt - this.ring + 2;
    if (lag > 0) for (let w = 0; w < this.W; w++) if (w !== this.index) this.waitFor(w, lag);
  }

  /**
   * Before this worker runs its PEs of population p: the other workers' values that p is the first here to
   * read, this tick's at delay 0, the previous tick's for a source read here only at delay 1 (none at a
   * sample's first tick: the queues start empty).
   */
  beforeGroup(p: number, dense: boolean, par: number): void {
    const xs = this.importBefore[p], late = this.importLate[p];
    if (xs.length) this.replay(xs, this.gt, par, dense);
    if (late.length && this.t > 0) this.replay(late, this.gt - 1, par ^ 1, dense);
  }

  /** After this worker ran its PEs of population p: their values into the rings, and p's progress. */
  afterGroup(p: number): void {
    const xs = this.publishAfter[p], slot = this.gt % this.ring;
    for (let k = 0; k < xs.length; k++) {
      const x = xs[k];
      x.ring.set(x.out.subarray(0, x.n), slot * x.size + x.lo);
    }
    const i = this.W + this.index * this.P + p;
    Atomics.store(this.progress, i, this.gt + 1);
    Atomics.notify(this.progress, i);
  }

  /** Charges.endTick's hook: the last worker merges every other worker's tick figures and counts the tick. */
  endTick(c: Charges): boolean {
    const off = (this.gt % this.ring) * this.stride;
    if (!this.last) {
      c.writeTick(this.figures[this.index], off);
      return false;
    }
    for (let w = 0; w < this.W - 1; w++) {
      this.waitFor(w, this.gt + 1);
      c.mergeTick(this.figures[w], off);
    }
    return true;
  }

  /** Tick gt is complete here: the other workers may read its figures, and reuse ring slots. */
  done(): void {
    Atomics.store(this.progress, this.index, this.gt + 1);
    Atomics.notify(this.progress, this.index);
  }
}

/** How a model's PEs are shared among the workers of a pipelined run, before any buffer is made. */
export interface PipelineSplit {
  workers: number;
  /** Per PE (global index): its worker. */
  peOwner: number[];
  /** Per worker: what it runs, in graph order ("egru1", or "egru1[0:640]" for part of a population's units). */
  populations: string[][];
  /** Per worker: the work estimate of its PEs (per tick; the unit is the estimate's). */
  work: number[];
  /** Populations whose output crosses between workers (by index), and their sizes. */
  channels: { pop: number; size: number }[];
}

/** Assumed fraction of units with an event per tick, for the work estimate of a projection from an event population. */
const ASSUMED_ACTIVITY = 0.25;
/**
 * A unit's host work per tick (its update, the requantization of its columns, its sending and charging), in
 * synaptic operations. Measured on the bench's 3 × EGRU 1350 model (bench/pipeline.ts, one thread, each
 * population's share of the tick timed, session 15): ~170 ns per unit and ~1.0 ns per synaptic operation, so
 * the input layer (750 values every tick) costs 1.29× a hidden layer. The earlier 500 (~155 and ~0.3 ns) made
 * the synaptic work too small beside the units, the layers nearly equal, and the cut ~90 units too far into
 * the second layer: the first worker got the larger share.
 */
const UNIT_WORK = 170;

/** A population's work per tick estimated from the graph: stored weights × the source's expected activity, plus its units. */
function estimatedWork(g: Graph, p: Graph["populations"][number]): number {
  let w = UNIT_WORK * p.size;
  for (const j of g.projections) {
    if (j.target !== p.name) continue;
    const s = g.populations.find((x) => x.name === j.source)!;
    const act = s.kind === "Input" ? (s.encoding === "tokens" ? 1 / s.size : 1) : ASSUMED_ACTIVITY;
    w += j.weights.colIdx.length * act;
  }
  return w;
}

export interface PlanOptions {
  /** Names of the populations that start workers 1, 2, … (whole populations; overrides the balance). */
  cuts?: readonly string[];
  /** Per population (graph order): its measured work per tick (e.g. milliseconds), instead of the graph's estimate. */
  work?: ArrayLike<number>;
}

/**
 * Shares the PEs among up to `workers` workers as contiguous runs in graph order, population by population and
 * slice by slice (so that every delay-0 projection runs from a worker to the same or a later one), balancing
 * the work: each population's (measured, `opts.work`, else estimated: Σ over its incoming projections of stored
 * weights × the source's expected activity, plus a cost per unit) spread over its slices by their units; the
 * split minimizes the largest worker's share. A population whose slices exchange partial sums (a LayerNorm cut
 * over PEs) stays on one worker. `opts.cuts` names the populations that start workers 1, 2, … instead. A
 * Readout rides on its source's PEs; the host's Input is every worker's (each fills its own queues from it).
 */
export function planPipeline(g: Graph, part: Partition, workers: number, opts: PlanOptions = {}): PipelineSplit {
  const index = new Map(g.populations.map((p, i) => [p.name, i]));
  // Blocks in graph order: one per slice, or one per population whose slices must stay together.
  const blocks: { pop: number; slices: number[]; work: number }[] = [];
  const order = [...part.populations].map((pp) => ({ pp, i: index.get(pp.pop)! })).sort((a, b) => a.i - b.i);
  for (const { pp, i } of order) {
    const own = pp.slices.filter((s) => part.slices[s].mirrors < 0).sort((a, b) => part.slices[a].lo - part.slices[b].lo);
    if (own.length === 0) continue;
    const pop = g.populations[i], total = opts.work ? opts.work[i] : estimatedWork(g, pop);
    const units = (s: number) => part.slices[s].hi - part.slices[s].lo;
    if (own.length > 1 && s2Op(pop).reduction) blocks.push({ pop: i, slices: own, work: total });
    else for (const s of own) blocks.push({ pop: i, slices: [s], work: (total * units(s)) / pop.size });
  }
  if (blocks.length === 0) throw new NmcError("the model has no population on a PE to share among workers");
  let starts: number[];
  if (opts.cuts && opts.cuts.length) {
    const names = [...new Set(blocks.map((b) => g.populations[b.pop].name))];
    starts = [0, ...opts.cuts.map((name) => {
      const k = blocks.findIndex((b) => g.populations[b.pop].name === name);
      if (k <= 0) throw new NmcError(`a pipeline cut must name a population on PEs after the first (${names.join(", ")})`, { found: name });
      return k;
    })];
    if (starts.some((k, i) => i > 0 && k <= starts[i - 1])) throw new NmcError("pipeline cuts must follow the graph's order", { found: opts.cuts.join(", ") });
  } else starts = balance(blocks.map((b) => b.work), Math.min(workers, blocks.length));
  const W = starts.length;
  const peOwner = new Array<number>(part.pes).fill(0);
  const populations: string[][] = [], work: number[] = [];
  starts.forEach((k, w) => {
    const end = starts[w + 1] ?? blocks.length, names: string[] = [];
    let sum = 0;
    for (let b = k; b < end; b++) {
      for (const s of blocks[b].slices) peOwner[part.slices[s].pe] = w;
      sum += blocks[b].work;
      const pop = g.populations[blocks[b].pop];
      if (b > k && blocks[b - 1].pop === blocks[b].pop) continue;
      let last = b;
      while (last + 1 < end && blocks[last + 1].pop === blocks[b].pop) last++;
      const lo = part.slices[blocks[b].slices[0]].lo, hi = part.slices[blocks[last].slices[blocks[last].slices.length - 1]].hi;
      names.push(lo === 0 && hi === pop.size ? pop.name : `${pop.name}[${lo}:${hi}]`);
    }
    populations.push(names);
    work.push(sum);
  });
  // The workers each population's PEs (and Readouts riding on them) belong to.
  const ownersOf = g.populations.map(() => new Set<number>());
  for (const s of part.slices) ownersOf[s.popIndex].add(peOwner[s.pe]);
  const channels: PipelineSplit["channels"] = [];
  for (const j of g.projections) {
    const e = index.get(j.source)!, d = index.get(j.target)!;
    if (g.populations[e].kind === "Input" || channels.some((c) => c.pop === e)) continue;
    if (new Set([...ownersOf[e], ...ownersOf[d]]).size > 1) channels.push({ pop: e, size: g.populations[e].size });
  }
  return { workers: W, peOwner, populations, work, channels };
}

/** The starts of W contiguous runs of `work` minimizing the largest run's sum (dynamic programming, O(W · blocks²): blocks are PEs, a few hundred). */
function balance(work: number[], W: number): number[] {
  const n = work.length, pre = [0];
  for (const w of work) pre.push(pre[pre.length - 1] + w);
  // best[k][i]: the smallest largest sum splitting the first i entries into k runs; from[k][i]: where the last run starts.
  const best = Array.from({ length: W + 1 }, () => new Float64Array(n + 1).fill(Infinity));
  const from = Array.from({ length: W + 1 }, () => new Int32Array(n + 1));
  best[0][0] = 0;
  for (let k = 1; k <= W; k++) {
    for (let i = k; i <= n; i++) {
      for (let s = k - 1; s < i; s++) {
        const v = Math.max(best[k - 1][s], pre[i] - pre[s]);
        if (v < best[k][i]) {
          best[k][i] = v;
          from[k][i] = s;
        }
      }
    }
  }
  const starts: number[] = [];
  for (let k = W, i = n; k > 0; k--) {
    starts.unshift(from[k][i]);
    i = from[k][i];
  }
  return starts;
}
