// The cost charging of a simulator run: cycles, packets, hops, synaptic operations and SRAM traffic in the
// four charged modes (event, dense, activity only, weight only), from each PE's counts of a tick and the
// hardware description's cycle figures; the unit update's cycles are S2_OPS's (targets/spinnaker2/ops.ts).
// The figures depend only on the events, never on how a tick was executed. One Charges per run; nothing is
// allocated per tick.
import type { HardwareDescription } from "../chip.js";
import type { DvfsAccount, DvfsCounts } from "../dvfs.js";
import type { Emitter } from "../route.js";
import type { Group, Pe } from "./pe.js";
import { emptyTotals, type SimTotals } from "./results.js";
import type { AccelAccount, AccelCounts } from "./accel.js";

export class Charges {
  readonly totals: SimTotals = { event: emptyTotals(), dense: emptyTotals(), activityOnly: emptyTotals(), weightOnly: emptyTotals() };
  /** Per population: events (non-zero outputs) and unit updates. */
  readonly eventCount: Float64Array;
  readonly unitTickCount: Float64Array;
  /** Per tick index, summed over the samples: the slowest PE's cycles in event and in dense mode. */
  readonly perTick: { eventCycles: Float64Array; denseCycles: Float64Array };
  /** This tick's slowest PE in each mode, and the deepest multicast path that carried a packet. */
  private tickMax = 0;
  private tickMaxDense = 0;
  private tickMaxAct = 0;
  private tickMaxWeight = 0;
  private depth = 0;
  /** The tick's slowest PE and NoC depth per mode, for the DVFS counting (dvfs.ts; no array per tick). */
  private readonly dvfsMax = new Float64Array(4);
  private readonly dvfsDepth = new Float64Array(4);
  /** Scratch: a PE's finish per mode before the chip's DRAM time (sim/accel.ts). */
  private readonly finish = new Float64Array(4);

  constructor(private readonly hw: HardwareDescription, private readonly wbytes: number, populations: number, ticks: number,
    private readonly dvfs?: DvfsAccount, private readonly accel?: AccelAccount) {
    this.eventCount = new Float64Array(populations);
    this.unitTickCount = new Float64Array(populations);
    this.perTick = { eventCycles: new Float64Array(ticks), denseCycles: new Float64Array(ticks) };
  }

  /** The run's MAC-array and DRAM counts (sim/accel.ts), when its mapping has such paths. */
  accelCounts(): AccelCounts | undefined {
    return this.accel?.counts;
  }

  /** The run's DVFS counts (dvfs.ts), when it counted them. */
  dvfsCounts(): DvfsCounts | undefined {
    return this.dvfs?.counts();
  }

  startTick(): void {
    this.tickMax = this.tickMaxDense = this.tickMaxAct = this.tickMaxWeight = this.depth = 0;
  }

  /** The host's tick: `events` packets of the input population (`size` units) from emitter e. */
  host(popIndex: number, size: number, events: number, e: Emitter): void {
    const { event: ev, dense: de, activityOnly: ao, weightOnly: wo } = this.totals;
    ev.packets += events; ev.hops += events * e.hops; ev.chipHops += events * e.chipHops;
    ao.packets += events; ao.hops += events * e.hops; ao.chipHops += events * e.chipHops;
    this.eventCount[popIndex] += events;
    if (e.dests.length) this.depth = e.depth;
    this.unitTickCount[popIndex] += size;
    const hops = e.hops * size, chip = e.chipHops * size;
    de.packets += size; de.hops += hops; de.chipHops += chip;
    wo.packets += size; wo.hops += hops; wo.chipHops += chip;
  }

  /** A PE's delivery and unit update: its synaptic work, and its cycles of the tick so far in each mode (pe.c…). */
  work(pe: Pe): void {
    const c = this.hw.cycles, t = this.totals;
    const { received, receivedDense, syn, synDense, cols, colsDense, synAct, colsAct, synWeight } = pe;
    pe.counters.packetsIn += received;
    pe.counters.synops += syn;
    const bytes = this.wbytes + 2;
    t.event.synops += syn;
    t.dense.synops += synDense;
    t.activityOnly.synops += synAct;
    t.weightOnly.synops += synWeight;
    t.event.sramBytes += syn * bytes;
    t.dense.sramBytes += synDense * bytes;
    t.activityOnly.sramBytes += synAct * bytes;
    t.weightOnly.sramBytes += synWeight * bytes;
    const base = c.tick_overhead.value + pe.unitCycles;
    const recv = c.packet_receive.value, synapse = c.synapse.value, rq = c.requantize_column.value;
    pe.cEvent = base + received * recv + syn * synapse + cols * rq;
    pe.cDense = base + receivedDense * recv + synDense * synapse + colsDense * rq;
    pe.cActivity = base + received * recv + synAct * synapse + colsAct * rq;
    pe.cWeight = base + receivedDense * recv + synWeight * synapse + colsDense * rq;
    if (pe.accel) this.accel!.work(pe);
  }

  /**
   * The cross-PE reduction of a split population's tick, after every slice's work() and before its
   * emitted(). Each slice, once its pass 1 is done (A = its cycles so far less the work after the exchange),
   * sends one packet of partial sums (packet_send); a packet reaches the other slices after its tree's depth
   * in router hops (hop_cycles each, counted in PE cycles as the tick's NoC depth is). Each PE takes the
   * partials in order of arrival, each as soon as it has arrived and the previous one is done (packet_receive
   * + combine), and starts its pass 2 after the last: the barrier. Charged: the send and the receives as
   * cycles (energy and time), the wait for late partials as time only (pe.w…: the PE idles, its static power
   * is in the latency), and the packets, router traversals and chip crossings in every mode (every slice sends
   * every tick, events or not). The reduction's NoC time is inside the PE's tick, so it is not also added to
   * the tick's NoC depth.
   */
  reduce(grp: Group): void {
    const red = grp.reduction!, pes = grp.pes, S = grp.S;
    const send = this.hw.cycles.packet_send.value, recv = this.hw.cycles.packet_receive.value, hop = this.hw.noc.hop_cycles.value;
    const t = this.totals, arrival = red.arrival, order = red.order;
    for (let mode = 0; mode < 4; mode++) {
      for (let j = 0; j < S; j++) {
        const pe = pes[j];
        const c = mode === 0 ? pe.cEvent : mode === 1 ? pe.cDense : mode === 2 ? pe.cActivity : pe.cWeight;
        arrival[j] = c - pe.splitAfter + send + red.emitters[j].depth * hop;
      }
      for (let s = 0; s < S; s++) {
        const pe = pes[s], src = red.sources[s], rc = recv + pe.splitCombine;
        let c = mode === 0 ? pe.cEvent : mode === 1 ? pe.cDense : mode === 2 ? pe.cActivity : pe.cWeight;
        const ready = c - pe.splitAfter + send;
        // The sources in order of arrival (insertion sort: a handful of slices).
        const k = src.length;
        for (let i = 0; i < k; i++) {
          let x = i;
          while (x > 0 && arrival[order[x - 1]] > arrival[src[i]]) {
            order[x] = order[x - 1];
            x--;
          }
          order[x] = src[i];
        }
        let at = ready;
        for (let i = 0; i < k; i++) at = Math.max(at, arrival[order[i]]) + rc;
        c += send + k * rc;
        const wait = at - (ready + k * rc);
        if (mode === 0) { pe.cEvent = c; pe.wEvent = wait; }
        else if (mode === 1) { pe.cDense = c; pe.wDense = wait; }
        else if (mode === 2) { pe.cActivity = c; pe.wActivity = wait; }
        else { pe.cWeight = c; pe.wWeight = wait; }
      }
    }
    let hops = 0, chipHops = 0;
    for (let j = 0; j < S; j++) {
      hops += red.emitters[j].hops;
      chipHops += red.emitters[j].chipHops;
      pes[j].counters.packetsOut += 1;
      pes[j].counters.packetsIn += red.sources[j].length;
    }
    for (const m of [t.event, t.dense, t.activityOnly, t.weightOnly]) {
      m.packets += S; m.hops += hops; m.chipHops += chipHops;
      m.reductionPackets += S; m.reductionHops += hops; m.reductionChipHops += chipHops;
      m.reductionHopBits += hops * red.packetBits; m.reductionChipHopBits += chipHops * red.packetBits;
    }
  }

  /** The rest of a PE's tick: its nev events sent (one multicast packet each), its readouts' updates and their packets (a readout feeding a decoder). */
  emitted(pe: Pe, popIndex: number, nev: number): void {
    const n = pe.n, e = pe.emitter, send = this.hw.cycles.packet_send.value;
    this.eventCount[popIndex] += nev;
    this.unitTickCount[popIndex] += n;
    let cycles = pe.cEvent, dcycles = pe.cDense, acycles = pe.cActivity, wcycles = pe.cWeight;
    if (e) {
      cycles += nev * send;
      dcycles += n * send;
      acycles += nev * send;
      wcycles += n * send;
      this.countPackets(pe, e, nev, n);
    }
    for (let k = 0; k < pe.readouts.length; k++) {
      const r = pe.readouts[k];
      const rc = r.cycles;
      cycles += rc; dcycles += rc; acycles += rc; wcycles += rc;
      let nz = 0;
      for (let i = 0; i < n; i++) if (r.out[i] !== 0) nz++;
      this.eventCount[r.popIndex] += nz;
      this.unitTickCount[r.popIndex] += n;
      // A Readout feeding a decoder: its non-zero units sent as packets on its own key (dense modes: every unit).
      const re = r.emitter;
      if (re) {
        cycles += nz * send;
        dcycles += n * send;
        acycles += nz * send;
        wcycles += n * send;
        this.countPackets(pe, re, nz, n);
      }
    }
    this.addCycles(pe, cycles, dcycles, acycles, wcycles);
  }

  /**
   * Packets a PE sends on emitter e: nev in the event-driven modes (event, activity-only), n (every unit) in the
   * dense ones, each crossing e's hops and chip hops; the PE's packets out and the tick's network depth.
   */
  private countPackets(pe: Pe, e: Emitter, nev: number, n: number): void {
    const { event: ev, dense: de, activityOnly: ao, weightOnly: wo } = this.totals;
    ev.packets += nev; ev.hops += nev * e.hops; ev.chipHops += nev * e.chipHops;
    ao.packets += nev; ao.hops += nev * e.hops; ao.chipHops += nev * e.chipHops;
    de.packets += n; de.hops += n * e.hops; de.chipHops += n * e.chipHops;
    wo.packets += n; wo.hops += n * e.hops; wo.chipHops += n * e.chipHops;
    pe.counters.packetsOut += nev;
    if (nev > 0 && e.depth > this.depth) this.depth = e.depth;
  }

  /** A PE's step that emits nothing (a pooling population within its group): its cycles only, no events or unit outputs. */
  stepOnly(pe: Pe): void {
    this.addCycles(pe, pe.cEvent, pe.cDense, pe.cActivity, pe.cWeight);
  }

  private addCycles(pe: Pe, cycles: number, dcycles: number, acycles: number, wcycles: number): void {
    const { event: ev, dense: de, activityOnly: ao, weightOnly: wo } = this.totals;
    pe.counters.cycles += cycles;
    pe.counters.denseCycles += dcycles;
    this.dvfs?.add(pe, cycles, dcycles, acycles, wcycles);
    ev.cycles += cycles;
    de.cycles += dcycles;
    ao.cycles += acycles;
    wo.cycles += wcycles;
    // The tick's critical path: a PE's cycles, and the time a split slice waited for partial sums (pe.w…, 0 else);
    // with a MAC array, its array cycles (the ARM waits for them); with DRAM, the chip's transfer (sim/accel.ts).
    const x = pe.accel ? this.accel!.stall(pe) : 0;
    if (cycles + pe.wEvent + x > this.tickMax) this.tickMax = cycles + pe.wEvent + x;
    if (dcycles + pe.wDense + x > this.tickMaxDense) this.tickMaxDense = dcycles + pe.wDense + x;
    if (acycles + pe.wActivity + x > this.tickMaxAct) this.tickMaxAct = acycles + pe.wActivity + x;
    if (wcycles + pe.wWeight + x > this.tickMaxWeight) this.tickMaxWeight = wcycles + pe.wWeight + x;
    if (pe.accel?.dram) {
      const f = this.finish;
      f[0] = cycles + pe.wEvent + x; f[1] = dcycles + pe.wDense + x; f[2] = acycles + pe.wActivity + x; f[3] = wcycles + pe.wWeight + x;
      this.accel!.fetched(pe, f);
    }
  }

  /**
   * A pipelined run (sim/pipeline.ts): every worker charges its own PEs, and one worker counts each tick's
   * critical path from all of theirs. `endTick` returns true where this worker counts the tick (after merging
   * the others' figures with mergeTick), false where it only passed its own on (writeTick).
   */
  link?: { endTick(c: Charges): boolean };

  /** This tick's figures for another worker (5 + 4 · PEs entries): the slowest PE per mode, the NoC depth, the PEs' DVFS cycles. */
  writeTick(buf: Float64Array, off: number): void {
    buf[off] = this.tickMax; buf[off + 1] = this.tickMaxDense; buf[off + 2] = this.tickMaxAct; buf[off + 3] = this.tickMaxWeight;
    buf[off + 4] = this.depth;
    this.dvfs?.exportTick(buf, off + 5);
  }

  /** Another worker's tick figures (writeTick) merged into this tick's: maxima of the critical paths and depths, DVFS cycles added. */
  mergeTick(buf: Float64Array, off: number): void {
    this.tickMax = Math.max(this.tickMax, buf[off]); this.tickMaxDense = Math.max(this.tickMaxDense, buf[off + 1]);
    this.tickMaxAct = Math.max(this.tickMaxAct, buf[off + 2]); this.tickMaxWeight = Math.max(this.tickMaxWeight, buf[off + 3]);
    this.depth = Math.max(this.depth, buf[off + 4]);
    this.dvfs?.importTick(buf, off + 5);
  }

  /** The end of tick t: the slowest PE of each mode and the NoC depth (dense modes: maxDepth every tick). */
  endTick(t: number, maxDepth: number): void {
    if (this.link && !this.link.endTick(this)) return;
    const { event: ev, dense: de, activityOnly: ao, weightOnly: wo } = this.totals;
    if (this.dvfs) {
      const mx = this.dvfsMax, dp = this.dvfsDepth;
      mx[0] = this.tickMax; mx[1] = this.tickMaxDense; mx[2] = this.tickMaxAct; mx[3] = this.tickMaxWeight;
      dp[0] = this.depth; dp[1] = maxDepth; dp[2] = this.depth; dp[3] = maxDepth;
      this.dvfs.endTick(mx, dp);
    }
    if (this.accel) {
      const mx = this.dvfsMax;
      mx[0] = this.tickMax; mx[1] = this.tickMaxDense; mx[2] = this.tickMaxAct; mx[3] = this.tickMaxWeight;
      this.accel.endTick(mx);
    }
    ev.criticalCycles += this.tickMax;
    de.criticalCycles += this.tickMaxDense;
    ao.criticalCycles += this.tickMaxAct;
    wo.criticalCycles += this.tickMaxWeight;
    this.perTick.eventCycles[t] += this.tickMax;
    this.perTick.denseCycles[t] += this.tickMaxDense;
    ev.nocDepthHops += this.depth;
    ao.nocDepthHops += this.depth;
    de.nocDepthHops += maxDepth;
    wo.nocDepthHops += maxDepth;
  }
}
