// The host-side layout of a projection's stored entries over the PE slices of its target population (for
// the simulator's speed only; the modelled chip, where each PE holds its own rows, is unchanged). Which
// slice holds a column, and at which local column, is S2_OPS's slice layout (targets/spinnaker2/ops.ts), the
// one partition.ts's memory model counts with.
import type { Graph, Population, Projection } from "../../../ir/types.js";
import type { ColumnArray, WeightArray } from "../../../runtime/golden/kernels.js";
import { s2Op } from "../ops.js";
import type { Slice } from "../partition.js";

/**
 * A projection's stored entries split by target slice. Row r's entries held by the slice in position p are
 * [rowStart[r · S + p], rowStart[r · S + p + 1]) of colIdx / w (S = the number of slices); each entry's colIdx
 * is bases[p] + its local column on that slice, an index into `sums`, where the exact column sums of all
 * slices lie side by side (slice p's: sums[bases[p] … bases[p + 1])). Each PE reads only its own chunks and
 * sums, but the chunks of one row lie next to each other in host memory, so that a tick's active rows are
 * read in memory order for all PEs together (accumulateQueues): this is the simulator's wall time, not the
 * modelled chip, where each PE holds its own rows.
 */
export interface SlicedProjection {
  S: number;
  rowStart: Uint32Array;
  colIdx: ColumnArray;
  w: WeightArray;
  slotOf: Map<number, number>;
  /** Per column of the projection: the slice position holding it (−1: every slice), and its local column. */
  colOwner: Int32Array;
  toLocal: Int32Array;
  /** Per slice position: the columns it holds (its own and the replicated ones), ascending. */
  slotCols: Int32Array[];
  /** Per slice position: its stored entries (over all rows). */
  slotNnz: Float64Array;
  bases: Int32Array;
  sums: Float64Array;
  /**
   * The WebAssembly kernels' int32 form of the sums (runtime/golden/accumulation.ts: int8 weights whose every
   * column sum fits int32), and the rows in dense form over the sums' columns where enough entries are stored
   * (sim/wasm.ts simArena sets them; null: the f64 sums only).
   */
  sums32: Int32Array | null;
  dense32: Int8Array | null;
  /**
   * With dense32: each (row, slot) chunk's length as u16 (the kernel counts in u16 lanes, flushed every `every`
   * events), or null where a chunk is longer than 65535 entries (the counts then come from the row pointers).
   */
  chunks16: Uint16Array | null;
  every: number;
}

/** Per column: the slice position that holds it (−1: every slice) and its local column there. */
function columnOwners(j: Projection, pop: Population, slices: Slice[]): { colOwner: Int32Array; toLocal: Int32Array } {
  const layout = s2Op(pop);
  const sliceOf = new Int32Array(pop.size);
  slices.forEach((s, i) => sliceOf.fill(i, s.lo, s.hi));
  const colOwner = new Int32Array(j.cols), toLocal = new Int32Array(j.cols);
  for (let c = 0; c < j.cols; c++) {
    const u = layout.unitOfColumn(pop, j.port, c);
    const o = (colOwner[c] = u < 0 ? -1 : sliceOf[u]);
    const sl = slices[o < 0 ? 0 : o];
    toLocal[c] = layout.localCol(pop, j.port, c, sl.lo, sl.hi - sl.lo);
  }
  return { colOwner, toLocal };
}

/** Calls f for every projection into a population with PEs among `slices`, with that population and its own slices (once each). */
function eachSplitProjection(g: Graph, slices: Slice[], f: (j: Projection, pop: Population, own: Slice[]) => void): void {
  const own = new Map<number, Slice[]>();
  for (const s of slices) {
    if (s.mirrors >= 0) continue;
    const l = own.get(s.popIndex);
    if (l) l.push(s);
    else own.set(s.popIndex, [s]);
  }
  for (const [popIndex, list] of own) {
    const pop = g.populations[popIndex];
    for (const j of g.projections) if (j.target === pop.name) f(j, pop, list);
  }
}

/** Every projection into a population that has PEs, split over its slices (sharedSplit), by projection name. */
export function splitAll(g: Graph, slices: Slice[]): Map<string, SlicedProjection> {
  const out = new Map<string, SlicedProjection>();
  eachSplitProjection(g, slices, (j, pop, own) => out.set(j.name, sharedSplit(j, pop, own)));
  return out;
}

/** Splits made by one thread, for another thread's copy of the same graph and partition (seedSplits). */
export type SplitHandover = { name: string; split: SlicedProjection }[];

/**
 * Puts another thread's splits of this graph's projections (splitAll's, made from the same graph and partition
 * and given as copies) into this thread's cache, so that sharedSplit finds them instead of splitting again: a
 * pipeline worker (targets/run/pipeline.ts) builds its simulator without redoing the main thread's work. A split
 * whose slice count differs from this partition's is not taken.
 */
export function seedSplits(g: Graph, slices: Slice[], given: SplitHandover): void {
  const byName = new Map(given.map((x) => [x.name, x.split]));
  eachSplitProjection(g, slices, (j, _pop, own) => {
    const m = byName.get(j.name), wt = j.weights;
    if (m && m.S === own.length) splitCache.set(j, { first: own[0], S: own.length, rowPtr: wt.rowPtr, colIdx: wt.colIdx, values: wt.values.data, split: m });
  });
}

/**
 * The split of a projection over these slices, made once per (projection, partition) in a process and shared by
 * every simulator built from them: its arrays are read only (the column sums, written by a run, are each
 * caller's own, fresh). A partition is recognised by its first slice object and the number of slices, the
 * weights by their arrays' identity (a compiled graph's weights are never changed in place).
 */
export function sharedSplit(j: Projection, pop: Population, slices: Slice[]): SlicedProjection {
  const c = splitCache.get(j), wt = j.weights;
  const hit = c && c.first === slices[0] && c.S === slices.length && c.rowPtr === wt.rowPtr && c.colIdx === wt.colIdx && c.values === wt.values.data;
  let m = hit ? c.split : null;
  if (!m) {
    m = splitBySlice(j, pop, slices);
    splitCache.set(j, { first: slices[0], S: slices.length, rowPtr: wt.rowPtr, colIdx: wt.colIdx, values: wt.values.data, split: m });
  }
  return { ...m, sums: new Float64Array(m.sums.length), sums32: null, dense32: null, chunks16: null, every: 0 };
}
const splitCache = new WeakMap<Projection, { first: Slice; S: number; rowPtr: unknown; colIdx: unknown; values: unknown; split: SlicedProjection }>();

export function splitBySlice(j: Projection, pop: Population, slices: Slice[]): SlicedProjection {
  const { rowPtr, colIdx } = j.weights;
  const values = j.weights.values.data;
  const S = slices.length, rows = j.rows;
  const { colOwner, toLocal } = columnOwners(j, pop, slices);
  const bases = new Int32Array(S + 1);
  const layout = s2Op(pop);
  for (let p = 0; p < S; p++) bases[p + 1] = bases[p] + layout.localCols(pop, j.port, slices[p].hi - slices[p].lo);
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
  const held = new Int32Array(S + 1); // columns per slot, then a running position
  let shared = 0;
  for (let c = 0; c < j.cols; c++) if (colOwner[c] < 0) shared++; else held[colOwner[c]]++;
  const slotCols = Array.from({ length: S }, (_, p) => new Int32Array(held[p] + shared));
  held.fill(0);
  for (let c = 0; c < j.cols; c++) {
    const o = colOwner[c];
    if (o >= 0) slotCols[o][held[o]++] = c;
    else for (let p = 0; p < S; p++) slotCols[p][held[p]++] = c;
  }
  const slotNnz = new Float64Array(S);
  for (let r = 0; r < rows; r++) for (let p = 0; p < S; p++) slotNnz[p] += rowStart[r * S + p + 1] - rowStart[r * S + p];
  return {
    S, rowStart, colIdx: outCol, w, slotOf: new Map(slices.map((s, i) => [s.id, i])), colOwner, toLocal, slotCols, slotNnz, bases,
    sums: new Float64Array(bases[S]), sums32: null, dense32: null, chunks16: null, every: 0,
  };
}
