// The simulator's use of the WebAssembly kernels (runtime/wasm): the projections' chunked CSR arrays and column
// sums (slices.ts) and the PEs' ports, outputs, states and requantization multipliers live in one arena; a shared
// queue's events pass through small scratch arrays there. The TypeScript kernels stay the definition and the
// fallback (a queue longer than the scratch, a projection requantizeFits refuses).
import type { Graph, Projection } from "../../../ir/types.js";
import { accumulationForm, type AccumulationForm, denseExpansion } from "../../../runtime/golden/accumulation.js";
import { accumulateSharedQueue } from "./accumulate.js";
import {
  Arena, ArenaPlan, DENSE_ROWS_MIN, type KernelChoice, kernelChoice, type LoadManyKernel, type RequantizeKernel, type RequantizeManyKernel, type SaturateKernel, type SaturateManyKernel, type SharedQueueKernel, useWasm,
} from "../../../runtime/wasm/index.js";
import type { SlicedProjection } from "./slices.js";
import type { Slice } from "../partition.js";
import { s2Op } from "../ops.js";
import { goldenOp } from "../../../runtime/golden/ops.js";
import type { ColumnArray, WeightArray } from "../../../runtime/golden/kernels.js";

/** A simulator's arena and its scratch arrays. */
export interface SimWasm {
  arena: Arena;
  /** A queue segment's events (as many as the largest population). */
  idx: Int32Array;
  val: Int32Array;
  /** Per slice of a group: the entries its chunks read (f64; int32 for the int32 kernels; u16 lanes for the dense kernel). */
  touched: Float64Array;
  touched32: Int32Array;
  touched16: Uint16Array;
  /** The kernels' saturation counts (4 slots). */
  counts: Float64Array;
  rq: RequantizeKernel;
  /** The requantization of int32 sums (SlicedProjection.sums32). */
  rq32: RequantizeKernel;
  /** requantize32 over all PEs of a shared int32 link in one call (GroupLink.rqMany). */
  rqMany32: RequantizeManyKernel;
  saturate: SaturateKernel;
  loadMany: LoadManyKernel;
  saturateMany: SaturateManyKernel;
}

/**
 * The arena for a simulator whose projections are split as `splits`, or null (TypeScript kernels): sizes it,
 * then replaces each split's rowStart, colIdx and w (csr forms) and sums by copies in it (before any PE takes a view of them;
 * the split objects are this simulator's own, their arrays possibly shared: slices.ts sharedSplit).
 */
export function simArena(choice: KernelChoice | undefined, g: Graph, splitsByName: Map<string, SlicedProjection>, slices: Slice[]): SimWasm | null {
  const splits = [...splitsByName.values()], pre = g.quant ? g.quant.weightBits - 8 : 0;
  const forms = new Map([...splitsByName].map(([name, m]) => [m, splitForm(g.projections.find((j) => j.name === name)!, m, pre)]));
  const maxPop = Math.max(1, ...g.populations.map((p) => p.size));
  let maxS = 1;
  const plan = new ArenaPlan().add(4, maxPop).add(4, maxPop).add(8, 4);
  for (const s of slices) {
    if (s.mirrors >= 0) continue;
    const pop = g.populations[s.popIndex], n = s.hi - s.lo, op = goldenOp(pop);
    for (const q of pop.ports) plan.add(8, s2Op(pop).localCols(pop, q.name, n)).add(8, s2Op(pop).localCols(pop, q.name, n)); // the PE's ports and biases
    const P = pop.ports.length;
    plan.add(4, 3 * P).add(4, 2 * P).add(8, P); // its share of its group's port tables (Group.portTable)
    plan.add(4, n).add(4, 6); // its out; its entry in its group's egruMany table
    for (const v of op.state(pop, n)) plan.add(4, v.length); // its state
    plan.add(1, op.arenaBytes?.(pop, n) ?? 0); // what its update's kernel copies
  }
  for (const m of splits) {
    maxS = Math.max(maxS, m.S);
    for (let p = 0; p < m.S; p++) plan.add(4, m.bases[p + 1] - m.bases[p]).add(4, m.bases[p + 1] - m.bases[p]); // its PEs' mult and shift
    const f = forms.get(m)!;
    plan.add(4, m.rowStart.length).add(8, m.sums.length);
    if (f !== "dense32") plan.add(m.colIdx.BYTES_PER_ELEMENT, m.colIdx.length).add(m.w.BYTES_PER_ELEMENT, m.w.length);
    if (f !== "csr") plan.add(4, m.sums.length).add(4, 5 * m.S).add(8, 3 * m.S); // the int32 sums, a group's requantizeMany32 table and results
    if (f === "dense32") plan.add(1, denseBytes(m)).add(2, m.rowStart.length - 1);
  }
  plan.add(8, maxS).add(4, maxS).add(2, maxS);
  if (!useWasm(kernelChoice(choice), plan.bytes)) return null;
  const arena = new Arena(plan);
  for (const m of splits) {
    const f = forms.get(m)!;
    const dense = f === "dense32" ? denseRows(m) : null; // from the split's own arrays, before they are copied
    m.rowStart = arena.copy(m.rowStart);
    // A dense split's kernels read its dense rows, not its CSR entries (only the TypeScript paths do: the queue
    // longer than the scratch, dense execution), which then stay where they are.
    if (!dense) {
      m.colIdx = arena.copy(m.colIdx);
      m.w = arena.copy(m.w);
    }
    m.sums = arena.alloc(Float64Array, m.sums.length);
    if (f !== "csr") m.sums32 = arena.alloc(Int32Array, m.sums.length);
    if (dense) {
      m.dense32 = arena.copy(dense.wd);
      m.chunks16 = dense.chunks16 && arena.copy(dense.chunks16);
      m.every = dense.every;
    }
  }
  return {
    arena, idx: arena.alloc(Int32Array, maxPop), val: arena.alloc(Int32Array, maxPop), counts: arena.alloc(Float64Array, 4),
    touched: arena.alloc(Float64Array, maxS), touched32: arena.alloc(Int32Array, maxS), touched16: arena.alloc(Uint16Array, maxS), rq: arena.requantize(), rq32: arena.requantize32(), rqMany32: arena.requantizeMany32(), saturate: arena.saturate(), loadMany: arena.loadMany(), saturateMany: arena.saturateMany(),
  };
}

/**
 * The golden engine's choice (runtime/golden/accumulation.ts) for a split projection: the int32 sums where its
 * weights allow, in dense form where at least DENSE_ROWS_MIN of the split's row-by-sums grid is stored.
 */
function splitForm(j: Projection, m: SlicedProjection, pre: number): AccumulationForm {
  const f = accumulationForm(j, pre);
  return f === "csr" ? f : m.colIdx.length >= DENSE_ROWS_MIN * j.rows * m.sums.length ? "dense32" : "csr32";
}

function denseBytes(m: SlicedProjection): number {
  return (m.rowStart.length - 1) / m.S * m.sums.length;
}

/**
 * The rows of a split in dense form over the sums' columns (row r: wd[r · width …], width = the sums' length) and
 * its chunk lengths as u16 (null where one passes 65535; `every`: events the kernel may count in u16 lanes before
 * it flushes them), kept per split weight array (slices.ts sharedSplit shares those between the simulators of
 * one partition).
 */
function denseRows(m: SlicedProjection): DenseSplit {
  let d = denseCache.get(m.w);
  if (d) return d;
  const wd = denseExpansion((m.rowStart.length - 1) / m.S, m.sums.length, m.rowStart, m.S, m.colIdx, m.w);
  const chunks = new Uint16Array(m.rowStart.length - 1);
  let longest = 1;
  for (let i = 0; i < chunks.length; i++) longest = Math.max(longest, m.rowStart[i + 1] - m.rowStart[i]);
  const fits = longest <= 0xffff;
  if (fits) for (let i = 0; i < chunks.length; i++) chunks[i] = m.rowStart[i + 1] - m.rowStart[i];
  d = { wd, chunks16: fits ? chunks : null, every: Math.floor(0xffff / longest) };
  denseCache.set(m.w, d);
  return d;
}
interface DenseSplit {
  wd: Int8Array;
  chunks16: Uint16Array | null;
  every: number;
}
const denseCache = new WeakMap<ArrayBufferView, DenseSplit>();

/**
 * The int32 accumulation of a shared queue (sim/deliver.ts), bound to a split's arrays in the arena: the queue's
 * events copied into the scratch, the slices' counts added to touched; or null where the split has only f64 sums
 * or its queue is too long for the scratch.
 */
export type Shared32 = (S: number, idx: Int32Array, val: Int32Array, off: number, n: number, touched: Float64Array, first: number) => boolean;

export function shared32(w: SimWasm | null, m: SlicedProjection): Shared32 | null {
  if (!w || !m.sums32) return null;
  const si = w.idx, sv = w.val, st = w.touched32, stride = m.S, width = m.sums.length;
  const rp = m.rowStart.byteOffset, sums = m.sums32.byteOffset;
  const dense = m.dense32, kd = w.arena.sharedDense32(), kc = w.arena.sharedQueue32(m.colIdx);
  const pc = m.colIdx.byteOffset, pw = m.w.byteOffset, acc16 = w.touched16.byteOffset;
  const ch = m.chunks16 ? m.chunks16.byteOffset : 0;
  return (S, idx, val, off, n, touched, first) => {
    if (n > si.length || S > st.length) return false;
    toScratch(w, idx, val, off, n);
    st.fill(0, 0, S);
    if (dense) {
      const c0 = m.bases[first], c1 = m.bases[first + S];
      kd(S, stride, si.byteOffset, sv.byteOffset, 0, n, rp + 4 * first, dense.byteOffset + c0, width, c1 - c0, sums + 4 * c0, st.byteOffset, ch && ch + 2 * first, acc16, m.every);
    } else kc(S, stride, si.byteOffset, sv.byteOffset, 0, n, rp + 4 * first, pc, pw, sums, st.byteOffset);
    for (let s = 0; s < S; s++) touched[s] += st[s];
    return true;
  };
}

/** A queue segment's events (idx, val [off, off + n)) into the arena's scratch, where the kernels read them (n fits: checked by the caller). */
function toScratch(w: SimWasm, idx: Int32Array, val: Int32Array, off: number, n: number): void {
  const si = w.idx, sv = w.val;
  for (let e = 0; e < n; e++) {
    si[e] = idx[off + e];
    sv[e] = val[off + e];
  }
}

/** The shared-queue kernel for a link whose arrays lie in the arena, else null. */
export function sharedQueueKernel(w: SimWasm | null, rowPtr: Uint32Array, colIdx: ColumnArray, wt: WeightArray, sums: Float64Array): SharedQueueKernel | null {
  return w && w.arena.holds(rowPtr, colIdx, wt, sums) ? w.arena.sharedQueue(colIdx, wt) : null;
}

/** accumulateSharedQueue by the kernel k: the queue's events copied into the scratch, the slices' counts added to touched. */
export function accumulateSharedQueueWasm(
  w: SimWasm, k: SharedQueueKernel, S: number, idx: Int32Array, val: Int32Array, off: number, n: number,
  rowPtr: Uint32Array, colIdx: ColumnArray, wt: WeightArray, sums: Float64Array, touched: Float64Array, stride: number, first: number,
): void {
  const si = w.idx, sv = w.val, st = w.touched;
  if (n > si.length || S > st.length) {
    accumulateSharedQueue(S, idx, val, off, n, rowPtr, colIdx, wt, sums, touched, stride, first);
    return;
  }
  toScratch(w, idx, val, off, n);
  st.fill(0, 0, S);
  k(S, stride, si.byteOffset, sv.byteOffset, 0, n, rowPtr.byteOffset + 4 * first, colIdx.byteOffset, wt.byteOffset, sums.byteOffset, st.byteOffset);
  for (let s = 0; s < S; s++) touched[s] += st[s];
}
