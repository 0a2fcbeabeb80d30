// The SpiNNaker 2 many-core simulator: transaction level. Each PE holds its slice (local CSR rows for its
// columns, its units' states, biases, tables) and, per model tick, drains the packets that arrived for it,
// accumulates their rows, updates its units with the golden kernels (runtime/golden/ops.ts: the same code
// the golden engine runs, so no arithmetic of its own), and sends one multicast packet per event, which the
// routing tables deliver (targets/spinnaker2/route.ts). Cycles are charged per operation from the hardware
// description; the NoC counts packets, hops and chip crossings.
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
// by the PEs of a population lie side by side in one array (slices.ts), the PEs' column sums too, and the
// PEs of a population that receive the same multicast stream share one event queue (queue-wiring.ts
// shareQueues), so that a tick's work for a whole population streams through memory as the golden engine's
// does. No object is allocated per event or per tick.
//
// A LayerNorm cut over several PEs runs its slices in two halves around the exchange of their partial sums
// (splitTick): each PE's totals are its own partials plus those the reduction trees deliver to it, and
// Charges.reduce charges the packets, the receptions and the wait for the last partial (the barrier).
//
// The parts: slices.ts (that layout), queues.ts (event queues and sending), pe.ts (a PE and a population's
// group of PEs), deliver.ts (a tick's delivery), accumulate.ts (its kernels), charge.ts (the cost charging),
// results.ts (what a run reports), context.ts (what one run works with); this file builds the PEs and runs the ticks.
import { NmcError } from "../../../ir/errors.js";
import { graphTiming } from "../../../ir/timing.js";
import type { Graph } from "../../../ir/types.js";
import type { SequenceBatch } from "../../../runtime/batch.js";
import { saturationCounters, saturationCounts } from "../../../runtime/golden/saturation.js";
import { denseWeights } from "./accumulate.js";
import { quantizeInputs, quantizeTime } from "../../../runtime/golden/interpreter.js";
import { goldenOp } from "../../../runtime/golden/ops.js";
import { fromFixed } from "../../../runtime/fixed/index.js";
import type { HardwareDescription } from "../chip.js";
import { s2Op } from "../ops.js";
import type { Partition } from "../partition.js";
import type { Placement } from "../place.js";
import type { Emitter, Routing } from "../route.js";
import { Charges } from "./charge.js";
import { deliverGroup, saturateGroup, saturatePe } from "./deliver.js";
import { buildPes, Group, Pe, wireReductions } from "./pe.js";
import { type Queue, sendAll, sendEvents } from "./queues.js";
import { destQueues, shareQueues } from "./queue-wiring.js";
import type { Execution, RunOptions, SimObserver, SimOptions, SimRun } from "./results.js";
import { NO_INPUTS, type RunContext } from "./context.js";
import { DvfsAccount } from "../dvfs.js";
import { accelActive } from "../accel.js";
import { AccelAccount, wireAccel } from "./accel.js";
import type { SimWasm } from "./wasm.js";
import { PipelineLink } from "./pipeline.js";

export type { Execution, ModeTotals, PeCounters, RunOptions, SimObserver, SimOptions, SimRun, SimTotals } from "./results.js";

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
  /** Per population: its saturation counters, shared by its PEs (zeroed at the start of each run). */
  private readonly sat: Float64Array[];
  /** The deepest multicast path of any emitter with destinations (dense mode's NoC depth every tick). */
  private readonly maxDepth: number;
  private readonly execution: Execution;
  /** Per population (graph order): its rate and output rate (ir/timing.ts), and its step's [Δt, valid] (UnitRange.time). */
  private readonly rate: number[];
  private readonly outRate: number[];
  private readonly time: Float64Array[];
  /** Per queue of allQueues: the population whose events it holds. */
  private readonly queueSrc: number[] = [];
  /** Every population steps and emits every tick, and no Δt is read: the single-rate tick. */
  private readonly singleRate: boolean;
  private denseReady = false;
  /** The WebAssembly kernels' arena and scratch (sim/wasm.ts), or null: the TypeScript kernels. */
  private readonly wasm: SimWasm | null;
  /** Which accumulation kernels this simulator runs (SimOptions.kernels). */
  readonly kernels: "wasm" | "js";
  private readonly countDvfs: boolean;
  /** A worker of a pipelined run (sim/pipeline.ts): which populations it runs and its exchange with the others; else null. */
  readonly link: PipelineLink | null;
  observer?: SimObserver;

  constructor(private readonly g: Graph, part: Partition, placement: Placement, routing: Routing,
    private readonly hw: HardwareDescription, opts: SimOptions = {}) {
    if (!g.quant) throw new NmcError("the spinnaker2 simulator runs quantized IR only");
    this.execution = opts.execution ?? "event";
    // DVFS is not modelled with the MAC array or DRAM (their time is not ARM cycles): no DVFS counts then.
    this.countDvfs = (opts.dvfs ?? true) && !accelActive(part.accel);
    this.wbytes = g.quant.weightBits === 16 ? 2 : 1;
    this.pre = g.quant.weightBits - 8;
    this.byPop = g.populations.map(() => []);
    this.sat = g.populations.map(() => saturationCounters());
    const timing = graphTiming(g).byName;
    this.rate = g.populations.map((p) => timing.get(p.name)!.rate);
    this.outRate = g.populations.map((p) => timing.get(p.name)!.outRate);
    this.time = g.populations.map(() => new Float64Array(2));
    this.singleRate = this.outRate.every((r) => r === 1) &&
      !g.populations.some((p) => (p.kind === "Input" && p.eventTime) || (p.kind === "Readout" && (p.mode === "pool" || p.mode === "timepool")));
    const plan = opts.pipeline;
    if (plan && accelActive(part.accel)) throw new NmcError("a pipelined simulation does not take a mapping with the MAC array or DRAM");
    const built = buildPes(g, part, { pre: this.pre, hw, sat: this.sat, time: this.time }, opts.kernels, plan && ((s) => plan.peOwner[s.pe] === plan.index));
    this.wasm = built.wasm;
    for (const pe of built.pes) {
      this.pes.push(pe);
      this.byPop[pe.slice.popIndex].push(pe);
    }
    this.kernels = this.wasm ? "wasm" : "js";
    if (accelActive(part.accel)) wireAccel(g, hw, part.accel!, this.pes);
    this.pePos = [];
    this.pes.forEach((pe, i) => (this.pePos[pe.slice.pe] = i));
    if (opts.shareQueues ?? true) shareQueues(this.byPop, this.pePos.length, routing);
    const kept = new Set<Queue>();
    for (const pe of this.pes) {
      for (const [src, q] of pe.queues) {
        if (kept.has(q)) continue;
        kept.add(q);
        q.allocate();
        this.allQueues.push(q);
        this.queueSrc.push(src);
      }
    }
    // A pipeline worker's groups hold only its own PEs (a consecutive run of each population's: sim/pipeline.ts).
    this.groups = this.byPop.map((pes) => {
      const live = pes.filter((pe) => !pe.shell);
      return live.length ? new Group(live, this.wasm) : null;
    });
    wireReductions(this.groups, routing);
    for (const e of routing.emitters) {
      if (e.slice < 0) continue;
      const s = part.slices[e.slice];
      const pe = this.pes[this.pePos[s.pe]];
      if (s.mirrors >= 0) {
        // A Readout feeding a projection: its slice sends from its source's PE, on its own key.
        const r = pe.readouts.find((x) => x.popIndex === e.popIndex);
        if (!r) throw new NmcError(`internal: slice ${s.id} of ${s.pop} emits but PE ${s.pe} holds no copy of it`);
        r.emitter = e;
        r.emitQueues = destQueues(this.pes, this.pePos, e);
        continue;
      }
      pe.emitter = e;
      pe.emitQueues = destQueues(this.pes, this.pePos, e);
    }
    this.hostEmitter = routing.emitters.find((e) => e.slice === -1)!;
    this.hostQueues = destQueues(this.pes, this.pePos, this.hostEmitter);
    let d = 0;
    for (const e of routing.emitters) if (e.dests.length && e.depth > d) d = e.depth;
    this.maxDepth = d;
    this.link = opts.pipeline ? new PipelineLink(opts.pipeline, this.pes, g.populations.length) : null;
    if (this.link && (!this.singleRate || this.groups.some((grp, i) => grp?.pes[0].split && grp.S < this.byPop[i].length))) {
      throw new NmcError("a pipelined simulation (several workers on one model) takes a model whose populations all step every tick (no pooling, no event time), with a population that exchanges partial sums on one worker");
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
    const ctx = this.startRun(batch, opts);
    const { batch: B, ticks: T } = batch;
    for (let b = 0; b < B; b++) {
      for (const pe of this.pes) pe.reset();
      for (let t = 0; t < T; t++) {
        if (this.singleRate) this.tick(ctx, b, t);
        else this.multiRateTick(ctx, b, t);
      }
      if (ctx.perSequence && T >= ctx.outRate) {
        ctx.readoutPes.forEach((pe, k) => ctx.outputQ.set(ctx.readoutSlot[k].out, b * ctx.K + pe.slice.lo));
        for (const pe of ctx.outPes) ctx.outputQ.set(pe.out, b * ctx.K + pe.slice.lo);
      }
      opts.onSample?.(b);
    }
    return this.finishRun(ctx, B);
  }

  /**
   * Gives the kernels' memory back for the next simulator or engine (runtime/wasm Arena.release). Optional; a
   * disposed simulator must not run again, and the runs it returned stay valid (their arrays are copies).
   */
  dispose(): void {
    this.disposed = true;
    this.wasm?.arena.release();
  }
  private disposed = false;

  /**
   * One sequence of `ticks` ticks stepped by the caller (nmc generate feeds each output back as the next input):
   * write tick t's quantized input into `xq` (token ids for an Embedding model), then `step(t)` gives the output
   * row of tick t (valid until the next step). `finish()` is the run over the ticks stepped, as `run` reports it.
   */
  stepper(ticks: number, channels: number, opts: RunOptions = {}): { xq: Int32Array; step(t: number): Int32Array; finish(): SimRun } {
    if (!this.singleRate) throw new NmcError("stepping tick by tick takes a model whose populations all step every tick (no pooling, no event time)");
    const ctx = this.startRun({ data: new Float64Array(ticks * channels), batch: 1, ticks, channels }, opts);
    for (const pe of this.pes) pe.reset();
    const K = ctx.K;
    return { xq: ctx.xq, step: (t) => (this.tick(ctx, 0, t), ctx.outputQ.subarray(t * K, (t + 1) * K)), finish: () => this.finishRun(ctx, 1) };
  }

  private startRun(batch: SequenceBatch, opts: RunOptions): RunContext {
    if (this.disposed) throw new NmcError("internal: this simulator was disposed and cannot run again");
    const g = this.g;
    const dense = (opts.execution ?? this.execution) === "dense";
    if (dense) this.prepareDense();
    const { batch: B, ticks: T, channels: C } = batch;
    const inputPop = g.populations.findIndex((p) => p.name === g.inputs[0]);
    const input = g.populations[inputPop];
    const outIndex = g.populations.findIndex((p) => p.name === g.outputs[0]);
    const outPop = g.populations[outIndex];
    const tm = graphTiming(g).byName.get(outPop.name)!;
    const perSequence = tm.perSequence;
    const K = outPop.size;
    const rows = perSequence ? 1 : Math.floor(T / tm.outRate);
    if (this.link && opts.observer) throw new NmcError("a pipelined simulation has no observer (each worker sees only its own populations)");
    if (opts.xq && opts.xq.length !== B * T * C) throw new NmcError(`internal: ${opts.xq.length} quantized inputs for a batch of ${B} × ${T} × ${C}`);
    for (const c of this.sat) c.fill(0);
    const projections: SimRun["projections"] = {};
    for (const j of g.projections) projections[j.name] = { nnz: j.weights.colIdx.length, dense: j.rows * j.cols, effective: 0, activityOnly: 0, weightOnly: 0, denseOps: 0 };
    for (const pe of this.pes) for (const lp of pe.incoming) lp.stat = projections[lp.name];
    const hostOut = new Int32Array(input.size);
    const source = s2Op(outPop).mirrors(outPop);
    const readoutOut = perSequence && outPop.kind === "Readout";
    const readoutPes = readoutOut ? this.byPop[g.populations.findIndex((p) => p.name === source)] : [];
    const charges = new Charges(this.hw, this.wbytes, g.populations.length, T, this.countDvfs ? new DvfsAccount(this.hw, this.pes) : undefined,
      this.pes.some((pe) => pe.accel) ? new AccelAccount(this.hw, this.pes) : undefined);
    if (this.link) charges.link = this.link;
    return {
      xq: opts.xq ?? quantizeInputs(g, batch), T, C, dense, projections, charges,
      input, inputPop, tokens: input.kind === "Input" && input.encoding === "tokens", hostOut,
      hostUpdate: goldenOp(input).bind(input, { lo: 0, n: input.size, ports: [], state: [], out: hostOut, pre: this.pre }),
      popOut: opts.observer ? g.populations.map((p) => new Int32Array(p.size)) : null, observer: opts.observer,
      outputQ: new Int32Array(B * rows * K), K, perSequence, dtq: quantizeTime(g, batch)?.dtq ?? null, lengths: batch.lengths ?? null, outRate: tm.outRate, rows,
      outPes: readoutOut ? [] : this.byPop[outIndex], readoutPes, readoutSlot: readoutPes.map((pe) => pe.readouts.find((r) => r.popIndex === outIndex)!),
    };
  }

  /** Tick t of sample b: the host's inputs, then every population's PEs (delivery, update, events out). */
  private tick(ctx: RunContext, b: number, t: number): void {
    const par = t & 1, prevPar = par ^ 1;
    for (let k = 0; k < this.allQueues.length; k++) this.allQueues[k].len[par] = 0;
    ctx.charges.startTick();
    const link = this.link;
    link?.begin(b * ctx.T + t, t);
    this.hostTick(ctx, (b * ctx.T + t) * ctx.C, t, par);
    for (let pi = 0; pi < this.groups.length; pi++) {
      const grp = this.groups[pi];
      if (!grp) continue;
      link?.beforeGroup(pi, ctx.dense, par);
      deliverGroup(grp, t, par, prevPar, ctx.dense, this.pre);
      if (grp.reduction) this.splitTick(ctx, grp, pi, t, par);
      else {
        saturateGroup(grp, this.wasm);
        // The units of every PE, in one kernel call where the group has one (their ranges are disjoint, and a PE's
        // charges and sending read only its own): the same as each PE's update in turn.
        const all = grp.updateAll;
        if (all) all();
        for (let s = 0; s < grp.pes.length; s++) this.peTick(ctx, grp.pes[s], pi, t, par, all !== null);
      }
      link?.afterGroup(pi);
    }
    ctx.charges.endTick(t, this.maxDepth);
    link?.done();
    const popOut = ctx.popOut;
    if (popOut && ctx.observer) for (let p = 0; p < popOut.length; p++) ctx.observer(p, popOut[p], b, t);
    if (!ctx.perSequence) for (const pe of ctx.outPes) ctx.outputQ.set(pe.out, (b * ctx.T + t) * ctx.K + pe.slice.lo);
  }

  /**
   * Tick t of sample b in a multi-rate or event-time graph (ir/timing.ts; the golden engine's runMultiRate): a
   * population of rate R steps only at the ticks (t + 1) % R = 0, as its step (t + 1) / R − 1 with Δt summed over
   * its group, and sends events only at its emissions ((t + 1) % outRate = 0). Each source population's queues
   * alternate by the parity of its emission index, so a delay-1 projection reads the previous emission. A PE
   * between its steps does nothing and is charged nothing (its timer runs at its own period, R ticks).
   */
  private multiRateTick(ctx: RunContext, b: number, t: number): void {
    const T = ctx.T;
    for (let k = 0; k < this.allQueues.length; k++) {
      const o = this.outRate[this.queueSrc[k]];
      if ((t + 1) % o === 0) this.allQueues[k].len[((t + 1) / o - 1) & 1] = 0;
    }
    ctx.charges.startTick();
    this.hostTick(ctx, (b * T + t) * ctx.C, t, t & 1);
    const length = ctx.lengths ? ctx.lengths[b] : T;
    const setTime = (pi: number, rate: number) => {
      this.time[pi][1] = Math.floor(length / rate);
      if (!ctx.dtq) return;
      let dt = 0;
      for (let u = t + 1 - rate; u <= t; u++) dt += ctx.dtq[b * T + u];
      this.time[pi][0] = dt;
    };
    for (let pi = 0; pi < this.groups.length; pi++) {
      const grp = this.groups[pi];
      if (!grp) continue;
      const rate = this.rate[pi], out = this.outRate[pi];
      if ((t + 1) % rate !== 0) continue;
      const step = (t + 1) / rate - 1, par = step & 1;
      setTime(pi, rate);
      deliverGroup(grp, step, par, par ^ 1, ctx.dense, this.pre);
      const emits = (t + 1) % out === 0;
      const epar = ((t + 1) / out - 1) & 1;
      for (const pe of grp.pes) for (const r of pe.readouts) setTime(r.popIndex, out);
      if (grp.reduction) {
        if (!emits) throw new NmcError(`internal: ${grp.pes[0].pop.name} is split around a reduction and pools`);
        this.splitTick(ctx, grp, pi, step, epar);
      } else {
        for (let s = 0; s < grp.pes.length; s++) {
          const pe = grp.pes[s];
          saturatePe(pe, this.wasm);
          pe.update(step, NO_INPUTS, 0);
          ctx.charges.work(pe);
          if (emits) this.peSend(ctx, pe, pi, (t + 1) / out - 1, epar);
          else ctx.charges.stepOnly(pe);
        }
      }
    }
    ctx.charges.endTick(t, this.maxDepth);
    const popOut = ctx.popOut;
    if (popOut && ctx.observer) {
      for (let p = 0; p < popOut.length; p++) if ((t + 1) % this.outRate[p] === 0) ctx.observer(p, popOut[p], b, t);
    }
    if (!ctx.perSequence && (t + 1) % ctx.outRate === 0) {
      const row = (t + 1) / ctx.outRate - 1;
      for (const pe of ctx.outPes) ctx.outputQ.set(pe.out, (b * ctx.rows + row) * ctx.K + pe.slice.lo);
    }
  }

  /** The host: the input population's non-zero values as events (dense execution: every value). */
  private hostTick(ctx: RunContext, xOff: number, t: number, par: number): void {
    const { xq, dense, input, hostOut, popOut } = ctx, hostQueues = this.hostQueues;
    let hostEvents: number;
    // A token input is one event, written straight into the queues; its one-hot vector only where it is read.
    if (!ctx.tokens || dense || popOut) ctx.hostUpdate(t, xq, xOff);
    if (ctx.tokens) {
      const id = xq[xOff], tok = id < 0 ? input.size + id : id; // a wrapping input's −k is unit V − k
      if (dense) sendAll(hostQueues, hostOut, input.size, 0, par);
      else for (const q of hostQueues) {
        const k = par * q.cap + q.len[par]++;
        q.idx[k] = tok;
        q.val[k] = 1 << 14;
      }
      hostEvents = 1;
    } else if (dense) {
      hostEvents = 0;
      for (let i = 0; i < input.size; i++) if (hostOut[i] !== 0) hostEvents++;
      sendAll(hostQueues, hostOut, input.size, 0, par);
    } else hostEvents = sendEvents(hostQueues, hostOut, input.size, 0, par);
    if (popOut) popOut[ctx.inputPop].set(hostOut);
    if (!this.link || this.link.index === 0) ctx.charges.host(ctx.inputPop, input.size, hostEvents, this.hostEmitter);
  }

  /** The rest of a PE's tick after delivery and saturation: update the units (unless its group did: Group.updateAll), send the events, charge. */
  private peTick(ctx: RunContext, pe: Pe, pi: number, t: number, par: number, updated = false): void {
    if (!updated) pe.update(t, NO_INPUTS, 0);
    ctx.charges.work(pe);
    this.peSend(ctx, pe, pi, t, par);
  }

  /**
   * The tick of a population whose slices exchange partial sums: every slice's pass 1 (its partial sums),
   * then each PE's totals, its own partials plus those the routing tables deliver to it (exact integers, so
   * the order does not matter), then every slice's pass 2 from its totals; charged by Charges.reduce.
   */
  private splitTick(ctx: RunContext, grp: Group, pi: number, t: number, par: number): void {
    const pes = grp.pes, red = grp.reduction!;
    for (let s = 0; s < pes.length; s++) {
      const pe = pes[s];
      saturatePe(pe, this.wasm);
      pe.split!.partial();
      ctx.charges.work(pe);
    }
    for (let s = 0; s < pes.length; s++) {
      const tot = red.totals[s], src = red.sources[s];
      tot.set(pes[s].split!.sums);
      for (let i = 0; i < src.length; i++) {
        const part = pes[src[i]].split!.sums;
        for (let w = 0; w < tot.length; w++) tot[w] += part[w];
      }
    }
    ctx.charges.reduce(grp);
    for (let s = 0; s < pes.length; s++) {
      pes[s].split!.finish(red.totals[s]);
      this.peSend(ctx, pes[s], pi, t, par);
    }
  }

  /** A PE's events out after its update, its readouts, the charging of the rest of its tick, the observer's copy. */
  private peSend(ctx: RunContext, pe: Pe, pi: number, t: number, par: number): void {
    // Events out: one multicast packet each (dense execution: every value).
    const lo = pe.slice.lo, n = pe.n;
    let nev: number;
    if (!ctx.dense) nev = sendEvents(pe.emitQueues, pe.out, n, lo, par);
    else {
      nev = 0;
      for (let i = 0; i < n; i++) if (pe.out[i] !== 0) nev++;
      sendAll(pe.emitQueues, pe.out, n, lo, par);
    }
    for (let k = 0; k < pe.readouts.length; k++) {
      const r = pe.readouts[k];
      r.update(t, NO_INPUTS, 0);
      // A Readout feeding a decoder sends its value at every emission of its source, as golden delivers it
      // (delay 0: this step's value, delay 1: the previous one): its non-zero units as events, every unit dense.
      // Charges.emitted counts its packets.
      if (r.emitter) {
        if (!ctx.dense) sendEvents(r.emitQueues, r.out, n, lo, par);
        else sendAll(r.emitQueues, r.out, n, lo, par);
      }
    }
    ctx.charges.emitted(pe, pi, nev);
    const popOut = ctx.popOut;
    if (popOut) {
      popOut[pi].set(pe.out, lo);
      for (const r of pe.readouts) popOut[r.popIndex].set(r.out, lo);
    }
  }

  private finishRun(ctx: RunContext, B: number): SimRun {
    const g = this.g, { outputQ, charges } = ctx;
    const outPop = g.populations.find((p) => p.name === g.outputs[0])!;
    const outFrac = outPop.fixed!.outFrac;
    const output = new Float64Array(outputQ.length);
    for (let i = 0; i < output.length; i++) output[i] = fromFixed(outputQ[i], outFrac);
    const events: Record<string, number> = {}, unitTicks: Record<string, number> = {};
    g.populations.forEach((p, i) => {
      events[p.name] = charges.eventCount[i];
      unitTicks[p.name] = charges.unitTickCount[i];
    });
    return {
      outputQ, output, outputShape: ctx.perSequence ? [B, ctx.K] : [B, ctx.rows, ctx.K], outFrac, samples: B, ticks: ctx.T, totals: charges.totals,
      pes: this.pes.map((p) => p.counters), events, unitTicks, projections: ctx.projections, perTick: charges.perTick,
      saturation: saturationCounts(g.populations, this.sat), ...(this.countDvfs ? { dvfs: charges.dvfsCounts() } : {}),
      ...(charges.accelCounts() ? { accel: charges.accelCounts() } : {}),
    };
  }
}

