// One model simulated by several worker threads, each running the PEs of a contiguous run of populations (a
// pipeline over the graph's order: sim/parallel.ts plans it and starts the workers). Every worker builds the
// whole simulator from the same bundle sections, so every PE, queue and routing table is the one-thread run's;
// it runs only its own populations' PEs and charges only them. What crosses from one worker to another is a
// source population's output vector per tick (the values its PEs send), written into a ring of ticks in shared
// memory; the receiving worker replays the sending (sendEvents / sendAll) into the queues of its own PEs, so
// they hold exactly what they hold in one thread, in the same order. A delay-0 projection from another worker
// waits for that worker's tick; one read only at delay 1 takes the previous tick's vector. Delay-0 projections
// always run forward in graph order, so a worker only ever waits for an earlier one within a tick: worker 1
// runs tick t while worker 0 runs tick t + 1 (up to the ring's depth ahead).
//
// Charging: every figure summed over PEs is summed over the workers' runs (sim/parallel.ts). The tick's critical
// path (the slowest PE, the NoC depth) and the per-PE DVFS choice need every PE of the tick, so each worker but
// the last writes its tick figures (Charges.writeTick) into a ring too, and the last worker merges them into
// its own (Charges.mergeTick) before it counts the tick. Deterministic: nothing depends on timing.
import { NmcError } from "../../../ir/errors.js";
import type { Graph } from "../../../ir/types.js";
import type { Partition } from "../partition.js";
import type { Pe } from "./pe.js";
import { type Queue, sendAll, sendEvents } from "./queues.js";
import type { Charges } from "./charge.js";

/** What a worker of a pipelined run is given (structured-clonable: shared buffers and numbers). */
export interface PipelinePlan {
  workers: number;
  /** This worker's index, 0 … workers − 1. */
  index: number;
  /** Per population (graph order): the worker that runs its PEs (a Readout: its source's; the Input: 0). */
  owner: number[];
  /** Ticks the rings hold; a worker runs at most ring − 2 ticks ahead of the slowest. */
  ring: number;
  /** Int32 per worker: ticks completed (over the whole run, sample by sample). */
  progress: SharedArrayBuffer;
  /** Per population whose output another worker reads: [ring × size] int32, keyed by population index. */
  channels: Record<number, SharedArrayBuffer>;
  /** Per worker but the last: [ring × (5 + 4 · PEs)] float64 tick figures (Charges.writeTick). */
  figures: SharedArrayBuffer[];
  /** Whether a worker spins briefly before it sleeps on a wait (default true). */
  spin?: boolean;
}

/** Float64 entries of one worker's figures of one tick (Charges.writeTick). */
export const tickFigures = (pes: number): number => 5 + 4 * pes;

interface Sender {
  lo: number;
  n: number;
  out: Int32Array;
  /** The emitter's destination queues that belong to this worker's PEs (the importing side). */
  queues: Queue[];
}

interface Channel {
  pop: number;
  owner: number;
  size: number;
  ring: Int32Array;
  senders: Sender[];
  /** Read by one of this worker's PEs at delay 0 (else only at delay 1). */
  delay0: boolean;
}

export class PipelineLink {
  readonly index: number;
  readonly last: boolean;
  private readonly progress: Int32Array;
  /** Channels this worker writes, and those it reads. */
  private readonly out: Channel[] = [];
  private readonly in: Channel[] = [];
  private readonly figures: Float64Array[];
  private readonly stride: number;
  private readonly ring: number;
  private readonly spin: boolean;
  /** The global tick (sample · T + t) the worker is in. */
  private gt = 0;

  constructor(private readonly plan: PipelinePlan, pes: readonly Pe[], populations: number) {
    if (plan.owner.length !== populations) throw new NmcError(`internal: a pipeline plan for ${plan.owner.length} populations, the graph has ${populations}`);
    this.index = plan.index;
    this.last = plan.index === plan.workers - 1;
    this.ring = plan.ring;
    this.spin = plan.spin ?? true;
    this.progress = new Int32Array(plan.progress);
    this.stride = tickFigures(pes.length);
    this.figures = plan.figures.map((b) => new Float64Array(b));
    const mine = (p: number) => plan.owner[p] === plan.index;
    const myQueues = new Set<Queue>();
    const reads = new Map<number, boolean>(); // source population → read at delay 0 by one of my PEs
    for (const pe of pes) {
      if (!mine(pe.slice.popIndex)) continue;
      for (const q of pe.queues.values()) myQueues.add(q);
      for (const lp of pe.incoming) reads.set(lp.srcPop, (reads.get(lp.srcPop) ?? false) || lp.delay === 0);
    }
    for (const [popText, buf] of Object.entries(plan.channels)) {
      const pop = Number(popText), owner = plan.owner[pop];
      const senders: Sender[] = [];
      for (const pe of pes) {
        if (pe.slice.popIndex === pop && pe.emitter) senders.push({ lo: pe.slice.lo, n: pe.n, out: pe.out, queues: pe.emitQueues.filter((q) => myQueues.has(q)) });
        for (const r of pe.readouts) if (r.popIndex === pop && r.emitter) senders.push({ lo: pe.slice.lo, n: pe.n, out: r.out, queues: r.emitQueues.filter((q) => myQueues.has(q)) });
      }
      const ring = new Int32Array(buf);
      const size = ring.length / plan.ring;
      const ch: Channel = { pop, owner, size, ring, senders, delay0: reads.get(pop) ?? false };
      if (owner === plan.index) this.out.push(ch);
      else if (reads.has(pop)) this.in.push(ch);
    }
  }

  /** Whether this worker runs population p's PEs. */
  owns(p: number): boolean {
    return this.plan.owner[p] === this.index;
  }

  /** Waits until worker w has completed `ticks` ticks. */
  private waitFor(w: number, ticks: number): void {
    const p = this.progress;
    if (Atomics.load(p, w) >= ticks) return;
    if (this.spin) for (let i = 0; i < 2000; i++) if (Atomics.load(p, w) >= ticks) return;
    for (;;) {
      const v = Atomics.load(p, w);
      if (v >= ticks) return;
      Atomics.wait(p, w, v, 10_000);
    }
  }

  /**
   * The start of global tick gt (tick t of its sample), after this tick's queues were cleared: wait until no
   * worker lags so far behind that this tick's ring slots are still being read, then fill this worker's
   * queues from the other workers' channels: tick gt's vectors for delay-0 readers (waiting for them), tick
   * gt − 1's for delay-1-only readers (none at a sample's first tick: the queues start empty).
   */
  begin(gt: number, t: number, dense: boolean, par: number): void {
    this.gt = gt;
    const W = this.plan.workers, lag = gt - this.ring + 2;
    if (lag > 0) for (let w = 0; w < W; w++) if (w !== this.index) this.waitFor(w, lag);
    for (let c = 0; c < this.in.length; c++) {
      const ch = this.in[c];
      let tick = gt, into = par;
      if (!ch.delay0) {
        if (t === 0) continue;
        tick = gt - 1;
        into = par ^ 1;
      }
      this.waitFor(ch.owner, tick + 1);
      const base = (tick % this.ring) * ch.size;
      for (let s = 0; s < ch.senders.length; s++) {
        const x = ch.senders[s];
        if (x.queues.length === 0) continue;
        const v = ch.ring.subarray(base + x.lo, base + x.lo + x.n);
        if (dense) sendAll(x.queues, v, x.n, x.lo, into);
        else sendEvents(x.queues, v, x.n, x.lo, into);
      }
    }
  }

  /** After this worker's populations ran tick gt: their output vectors into the channels other workers read. */
  publish(): void {
    const slot = this.gt % this.ring;
    for (let c = 0; c < this.out.length; c++) {
      const ch = this.out[c], base = slot * ch.size;
      for (let s = 0; s < ch.senders.length; s++) ch.ring.set(ch.senders[s].out.subarray(0, ch.senders[s].n), base + ch.senders[s].lo);
    }
  }

  /** Charges.endTick's hook: the last worker merges every other worker's tick figures and counts the tick. */
  endTick(c: Charges): boolean {
    const off = (this.gt % this.ring) * this.stride;
    if (!this.last) {
      c.writeTick(this.figures[this.index], off);
      return false;
    }
    for (let w = 0; w < this.plan.workers - 1; w++) {
      this.waitFor(w, this.gt + 1);
      c.mergeTick(this.figures[w], off);
    }
    return true;
  }

  /** Tick gt is complete here: the other workers may read its channels and figures. */
  done(): void {
    Atomics.store(this.progress, this.index, this.gt + 1);
    Atomics.notify(this.progress, this.index);
  }
}

/** How a model's populations are shared among the workers of a pipelined run, before any buffer is made. */
export interface PipelineSplit {
  workers: number;
  /** Per population (graph order): its worker. */
  owner: number[];
  /** Per worker: the populations whose PEs it runs (graph order), and their estimated work per tick. */
  populations: string[][];
  work: number[];
  /** Populations whose output vector crosses to another worker (by index), and their sizes. */
  channels: { pop: number; size: number }[];
}

/** Assumed fraction of units with an event per tick, for the work estimate of a projection from an event population. */
const ASSUMED_ACTIVITY = 0.25;
/** Work of one unit update per tick, in synaptic operations (the estimate's unit). */
const UNIT_WORK = 30;

/**
 * Shares the populations that have PEs among up to `workers` workers as contiguous runs in graph order (so that
 * every delay-0 projection runs from a worker to the same or a later one), balancing an estimate of each
 * population's work per tick: Σ over its incoming projections of stored weights × the source's expected
 * activity (1 for a value input, one event per tick for a token input, ASSUMED_ACTIVITY for the rest) plus
 * UNIT_WORK per unit; the split minimizes the largest worker's estimate. `cuts` (the names of the populations
 * that start workers 1, 2, …) overrides the estimate. A Readout goes with the PEs it rides on, the host's
 * Input with worker 0.
 */
export function planPipeline(g: Graph, part: Partition, workers: number, cuts?: readonly string[]): PipelineSplit {
  const index = new Map(g.populations.map((p, i) => [p.name, i]));
  const steps: number[] = [];
  for (const pp of part.populations) {
    const i = index.get(pp.pop)!;
    if (pp.slices.some((s) => part.slices[s].mirrors < 0) && !steps.includes(i)) steps.push(i);
  }
  steps.sort((a, b) => a - b);
  if (steps.length === 0) throw new NmcError("the model has no population on a PE to share among workers");
  const work = steps.map((i) => {
    const p = g.populations[i];
    let w = UNIT_WORK * p.size;
    for (const j of g.projections) {
      if (j.target !== p.name) continue;
      const s = g.populations[index.get(j.source)!];
      const act = s.kind === "Input" ? (s.encoding === "tokens" ? 1 / s.size : 1) : ASSUMED_ACTIVITY;
      w += j.weights.colIdx.length * act;
    }
    return w;
  });
  let starts: number[];
  if (cuts && cuts.length) {
    starts = [0, ...cuts.map((name) => {
      const k = steps.indexOf(index.get(name) ?? -1);
      if (k <= 0) throw new NmcError(`a pipeline cut must name a population on PEs after the first (${steps.map((i) => g.populations[i].name).join(", ")})`, { found: name });
      return k;
    })];
    if (starts.some((k, i) => i > 0 && k <= starts[i - 1])) throw new NmcError("pipeline cuts must follow the graph's order", { found: cuts.join(", ") });
  } else starts = balance(work, Math.min(workers, steps.length));
  const W = starts.length;
  const owner = new Array<number>(g.populations.length).fill(0);
  starts.forEach((k, w) => {
    for (let s = k; s < (starts[w + 1] ?? steps.length); s++) owner[steps[s]] = w;
  });
  // Readouts and other mirrors: the worker of the population whose PE they share.
  for (const s of part.slices) {
    if (s.mirrors < 0) continue;
    owner[s.popIndex] = owner[part.slices[s.mirrors].popIndex];
  }
  const channels: PipelineSplit["channels"] = [];
  for (const j of g.projections) {
    const s = index.get(j.source)!, d = index.get(j.target)!;
    if (g.populations[s].kind === "Input" || owner[s] === owner[d] || channels.some((c) => c.pop === s)) continue;
    channels.push({ pop: s, size: g.populations[s].size });
  }
  return {
    workers: W, owner, channels,
    populations: starts.map((k, w) => steps.slice(k, starts[w + 1] ?? steps.length).map((i) => g.populations[i].name)),
    work: starts.map((k, w) => work.slice(k, starts[w + 1] ?? steps.length).reduce((a, b) => a + b, 0)),
  };
}

/** The starts of W contiguous runs of `work` minimizing the largest run's sum (dynamic programming; a few dozen populations). */
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
