// The simulator's use of the WebAssembly kernels (runtime/wasm): the projections' chunked CSR arrays and column
// sums (slices.ts) and the PEs' ports, outputs, states and requantization multipliers live in one arena; a shared
// queue's events pass through small scratch arrays there. The TypeScript kernels stay the definition and the
// fallback (a queue longer than the scratch, a projection requantizeFits refuses).
import type { Graph } from "../../../ir/types.js";
import { accumulateSharedQueue } from "./accumulate.js";
import {
  Arena, ArenaPlan, type KernelChoice, kernelChoice, type RequantizeKernel, type SharedQueueKernel, useWasm,
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
  /** Per slice of a group: the entries its chunks read. */
  touched: Float64Array;
  /** The kernels' saturation counts (4 slots). */
  counts: Float64Array;
  rq: RequantizeKernel;
}

/**
 * The arena for a simulator whose projections are split as `splits`, or null (TypeScript kernels): sizes it,
 * then replaces each split's rowStart, colIdx, w and sums by copies in it (before any PE takes a view of them;
 * the split objects are this simulator's own, their arrays possibly shared: slices.ts sharedSplit).
 */
export function simArena(choice: KernelChoice | undefined, g: Graph, splits: SlicedProjection[], slices: Slice[]): SimWasm | null {
  const maxPop = Math.max(1, ...g.populations.map((p) => p.size));
  let maxS = 1;
  const plan = new ArenaPlan().add(4, maxPop).add(4, maxPop).add(8, 4);
  for (const s of slices) {
    if (s.mirrors >= 0) continue;
    const pop = g.populations[s.popIndex], n = s.hi - s.lo, op = goldenOp(pop);
    for (const q of pop.ports) plan.add(8, s2Op(pop).localCols(pop, q.name, n)); // the PE's ports
    plan.add(4, n); // its out
    for (const v of op.state(pop, n)) plan.add(4, v.length); // its state
    plan.add(1, op.arenaBytes?.(pop, n) ?? 0); // what its update's kernel copies
  }
  for (const m of splits) {
    maxS = Math.max(maxS, m.S);
    for (let p = 0; p < m.S; p++) plan.add(4, m.bases[p + 1] - m.bases[p]).add(4, m.bases[p + 1] - m.bases[p]); // its PEs' mult and shift
    plan.add(4, m.rowStart.length).add(m.colIdx.BYTES_PER_ELEMENT, m.colIdx.length).add(m.w.BYTES_PER_ELEMENT, m.w.length).add(8, m.sums.length);
  }
  plan.add(8, maxS);
  if (!useWasm(kernelChoice(choice), plan.bytes)) return null;
  const arena = new Arena(plan);
  for (const m of splits) {
    m.rowStart = arena.copy(m.rowStart);
    m.colIdx = arena.copy(m.colIdx);
    m.w = arena.copy(m.w);
    m.sums = arena.alloc(Float64Array, m.sums.length);
  }
  return {
    arena, idx: arena.alloc(Int32Array, maxPop), val: arena.alloc(Int32Array, maxPop), counts: arena.alloc(Float64Array, 4),
    touched: arena.alloc(Float64Array, maxS), rq: arena.requantize(),
  };
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
  for (let e = 0; e < n; e++) {
    si[e] = idx[off + e];
    sv[e] = val[off + e];
  }
  st.fill(0, 0, S);
  k(S, stride, si.byteOffset, sv.byteOffset, 0, n, rowPtr.byteOffset + 4 * first, colIdx.byteOffset, wt.byteOffset, sums.byteOffset, st.byteOffset);
  for (let s = 0; s < S; s++) touched[s] += st[s];
}
