// The delivery part of one tick for every PE of a population: each PE drains its queues into its
// projections' exact column sums and requantizes them into its ports, and records its counts of the tick
// (packets received, synaptic operations and requantized columns in each charged mode) for the charging
// (charge.ts). The PEs are independent (no delay-0 edge leads from a population to itself), so they are gone
// through together, event by event (accumulateQueues), which is only a matter of host cache locality.
// Where the WebAssembly kernels run, a group's ports are loaded and saturated, and a shared int32 link's sums
// requantized, in one kernel call for all its PEs (the per-PE calls were most of the simulator's host overhead).
import { loadBias, requantizeColumns, requantizeColumnsWasm, saturatePort, saturatePortWasm } from "../../../runtime/golden/kernels.js";
import { accumulateDense, accumulateQueues, accumulateSharedQueue } from "./accumulate.js";
import type { Group, GroupLink, Pe } from "./pe.js";
import { countDram } from "./accel.js";
import { S_COLSUM, S_PORT, S_REQUANT, SITES } from "../../../runtime/golden/saturation.js";
import { accumulateSharedQueueWasm, type SimWasm } from "./wasm.js";

/** Delivers tick t (queues of parity par; a delay-1 projection reads prevPar) to every PE of the group. */
export function deliverGroup(grp: Group, t: number, par: number, prevPar: number, dense: boolean, pre: number): void {
  const pes = grp.pes, S = grp.S, table = grp.portTable;
  if (table) grp.wasm!.loadMany(table.load.byteOffset, table.out.length);
  for (let s = 0; s < S; s++) {
    const pe = pes[s];
    if (!table) for (let q = 0; q < pe.ports.length; q++) loadBias(pe.ports[q], pe.bias[q]);
    pe.received = pe.receivedDense = pe.syn = pe.synDense = pe.cols = pe.colsDense = pe.synAct = pe.colsAct = pe.synWeight = 0;
    if (pe.accel) {
      pe.accel.bytes.fill(0);
      pe.accel.rows.fill(0);
    }
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
      if (n > 0 && !lp.rq) lp.acc.fill(0); // the WebAssembly requantization leaves it zero
      if (n > maxN) maxN = n;
    }
    const int32 = !dense && L.int32 !== null;
    if (maxN > 0) {
      if (int32 && L.int32!(S, L.idxs[0], L.vals[0], offs[0], ns[0], touched, L.first)) { /* added in int32 */ }
      else if (int32) throw new Error(`internal: queue of ${grp.pes[0].pop.name} longer than the kernels' scratch`);
      else if (!dense && L.shared && L.wasm) accumulateSharedQueueWasm(grp.wasm!, L.wasm, S, L.idxs[0], L.vals[0], offs[0], ns[0], L.rowPtr, L.colIdx, L.w, L.sums, touched, L.stride, L.first);
      else if (!dense && L.shared) accumulateSharedQueue(S, L.idxs[0], L.vals[0], offs[0], ns[0], L.rowPtr, L.colIdx, L.w, L.sums, touched, L.stride, L.first);
      else if (!dense) accumulateQueues(S, L.idxs, L.vals, offs, ns, maxN, L.rowPtr, L.colIdx, L.w, L.sums, touched, L.stride, L.first);
      else accumulateLinkDense(grp, k, L);
    }
    countLink(grp, k, pre, L, int32);
  }
}

/**
 * Dense execution of link k: per PE, the event-mode figures of its queue (its non-zero values and their
 * stored entries), then the dense work: every queued value times every weight of its dense row.
 */
function accumulateLinkDense(grp: Group, k: number, L: GroupLink): void {
  const pes = grp.pes, S = grp.S, ns = grp.ns, offs = grp.offs, touched = grp.touched, events = grp.events;
  for (let s = 0; s < S; s++) {
    const n = ns[s];
    if (n === 0) continue;
    const lp = pes[s].incoming[k];
    const idx = L.idxs[s], val = L.vals[s], rowPtr = L.rowPtr, off = offs[s];
    let ev = 0, tc = 0;
    for (let e = off; e < off + n; e++) {
      if (val[e] === 0) continue;
      ev++;
      const r = idx[e] * L.stride + L.first + s;
      tc += rowPtr[r + 1] - rowPtr[r];
    }
    events[s] = ev;
    touched[s] = tc;
    accumulateDense(idx, val, off, n, lp.dense!, lp.cols, lp.acc);
  }
}

/** Requantizes link k's sums into each PE's port and adds its counts of the tick to the PE and the projection. */
function countLink(grp: Group, k: number, pre: number, L: GroupLink, int32: boolean): void {
  const pes = grp.pes, S = grp.S, ns = grp.ns, touched = grp.touched, events = grp.events, offs = grp.offs;
  // A shared int32 link: one queue, so every PE has the same events; all PEs requantized in one call.
  const many = int32 && ns[0] > 0 ? L.rqMany! : null;
  if (many) grp.wasm!.rqMany32(many.desc.byteOffset, S, pre, many.out.byteOffset);
  for (let s = 0; s < S; s++) {
    const pe = pes[s], lp = pe.incoming[k];
    const ev = events[s], tc = touched[s];
    const nc = ns[s] === 0 ? 0
      : many ? countRequantized(many.out, s, lp.sat)
      : lp.rq ? requantizeColumnsWasm(grp.wasm!.rq, lp.acc, lp.mult, lp.shift, pre, lp.port, grp.wasm!.counts, lp.sat)
      : requantizeColumns(lp.acc, lp.mult, lp.shift, pre, lp.port, lp.sat);
    if (lp.countsReceive) {
      pe.received += ev;
      pe.receivedDense += lp.srcSize;
    }
    // Its weights in DRAM: the rows it fetches (sim/accel.ts). On the MAC array: no ARM synapses, its columns
    // requantized every step; both are in the PE's constant MAC costs (Charges.work).
    if (lp.dram) countDram(pe.accel!, lp.dram, lp.rows, L.idxs[s], L.vals[s], offs[s], ns[s]);
    if (!lp.mac) {
      pe.syn += tc;
      pe.cols += nc;
      pe.synDense += lp.rows * lp.cols;
      pe.colsDense += lp.cols;
      pe.synAct += ev * lp.cols;
      if (ev > 0) pe.colsAct += lp.cols;
      pe.synWeight += lp.nnz;
    }
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

/** requantizeColumnsWasm's counting for PE s of a requantizeMany32 call: the clamps into sc; returns the columns. */
function countRequantized(out: Float64Array, s: number, sc: Float64Array): number {
  const n = out[3 * s];
  sc[S_COLSUM] += out[3 * s + 1];
  sc[S_REQUANT] += out[3 * s + 2];
  sc[SITES + S_COLSUM] += n;
  sc[SITES + S_REQUANT] += n;
  return n;
}

/** Saturates the ports of every PE of a group to int32 (one kernel call where the kernels run: Group.portTable). */
export function saturateGroup(grp: Group, w: SimWasm | null): void {
  const table = grp.portTable;
  if (!table || !w) {
    for (const pe of grp.pes) saturatePe(pe, w);
    return;
  }
  w.saturateMany(table.sat.byteOffset, table.out.length, table.out.byteOffset);
  let q = 0;
  for (const pe of grp.pes) {
    for (let i = 0; i < pe.ports.length; i++, q++) {
      const sc = pe.portSat[i];
      sc[S_PORT] += table.out[q];
      sc[SITES + S_PORT] += pe.ports[i].length;
    }
  }
}

/** Saturates a PE's ports to int32 (they lie in the arena when the kernels run: sim/wasm.ts). */
export function saturatePe(pe: Pe, w: SimWasm | null): void {
  if (w) for (let q = 0; q < pe.ports.length; q++) saturatePortWasm(w.saturate, pe.ports[q], w.counts, pe.portSat[q]);
  else for (let q = 0; q < pe.ports.length; q++) saturatePort(pe.ports[q], pe.portSat[q]);
}
