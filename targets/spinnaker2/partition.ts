// Partition: slice every population into contiguous unit ranges, one slice per PE, so that each PE's SRAM
// holds what its slice needs (the memory model below, in bytes, as the PE would store it). Slices are cut
// greedily: a slice takes units while they fit, which gives the fewest PEs any contiguous split can (the
// per-unit costs are additive on top of a fixed per-slice part). Input populations live on the host; a
// Readout lives on the PEs of the population it reads (same ranges).
//
// Memory model of a slice (n units, units [lo, hi)):
//   fixed part   per incoming projection the CSR row pointers (rows + 1) × 4 B; the event queues, two ticks
//                × source size × 4 B per source population; LUTs entries × 2 B each (256 … 4096 entries); DiagonalSSM: the whole
//                state (P complex, state_bits) with its 16-bit read copy, Λ̄ (P × 4 B), and the whole `u`
//                projection (each slice keeps the full state, so it needs all of B). A LayerNorm cut into
//                several slices: the totals of its cross-PE reduction (S2_OPS reduction.bytes, splitFixedBytes).
//   per unit     stored weights whose column belongs to the unit (weight + u16 local column index), per
//                column the requantization multiplier and shift (5 B), exact sum (8 B) and port (4 B);
//                biases, thresholds, states, the output and previous output (int16); SSM C rows.
// The per-kind parts (where a kind lives, its column layout, its own bytes) are S2_OPS's rows (ops.ts).
import { NmcError } from "../../ir/errors.js";
import type { Graph, Population, Projection } from "../../ir/types.js";
import { type HardwareDescription, usableSram } from "./chip.js";
import { S2_OPS, s2Op } from "./ops.js";
import type { AccelPlan, DramChoice } from "./accel.js";

export interface Slice {
  /** Index in Partition.slices; also the routing key's slice field. */
  id: number;
  pop: string;
  popIndex: number;
  lo: number;
  hi: number;
  /** Global PE index (set by place). */
  pe: number;
  bytes: number;
  fixedBytes: number;
  /** Readout slices: the slice of the source population whose PE it shares (−1 otherwise). */
  mirrors: number;
}

export interface PopulationPartition {
  pop: string;
  kind: Population["kind"];
  slices: number[];
  bytes: number;
  /** ceil(Σ per-unit bytes ÷ (usable SRAM − the fixed part every slice carries)): no split can use fewer PEs. */
  lowerBound: number;
}

export interface Partition {
  slices: Slice[];
  populations: PopulationPartition[];
  usableBytes: number;
  pes: number;
  lowerBound: number;
  /** The projections on the MAC array and the populations whose weights live in DRAM (accel.ts); absent: none. */
  accel?: AccelPlan;
}

/** The target unit of a projection column (−1: the column belongs to every slice, as an SSM's `u`): S2_OPS's layout. */
export function unitOfColumn(p: Population, port: string, col: number): number {
  return s2Op(p).unitOfColumn(p, port, col);
}

function weightBytes(g: Graph): number {
  return g.quant?.weightBits === 16 ? 2 : 1;
}

/**
 * How stored weights are laid out: bytes per value and per column index. The default is the quantized IR's
 * (int8/int16 values, u16 local columns); the LM-paper calibration models float32 values with 32-bit indices.
 */
export interface StorageOptions {
  weightBytes?: number;
  indexBytes?: number;
  /** Projections on the MAC array (accel.ts): dense weights, no indices, a dense input vector instead of row pointers. */
  mac?: readonly string[];
  /** Populations whose incoming weights live in DRAM (accel.ts): only a fetch buffer stays in SRAM. */
  dram?: readonly string[];
  /** The DRAM transfer granularity in bytes (chip.ts dram.burst_bytes; default 16). */
  dramBurst?: number;
  /** partition(): which populations to put in DRAM (accel.ts DRAM_CHOICES; default off, or exactly `dram`). */
  dramPolicy?: DramChoice;
}

/** The most entries any row of projection j stores. */
function maxRowEntries(j: Projection): number {
  const rp = j.weights.rowPtr;
  let m = 0;
  for (let r = 0; r < j.rows; r++) m = Math.max(m, rp[r + 1] - rp[r]);
  return m;
}

const roundUp = (x: number, b: number) => (x <= 0 ? 0 : b > 0 ? Math.ceil(x / b) * b : x);

/** Fixed and per-unit bytes of a population's slices (a Readout's: added to its source's). */
export function memoryModel(g: Graph, p: Population, storage: StorageOptions = {}): { fixed: number; perUnit: Float64Array } {
  const op = s2Op(p);
  const wb = (storage.weightBytes ?? weightBytes(g)) + (storage.indexBytes ?? 2) - 2;
  const perUnit = new Float64Array(p.size);
  let fixed = 0;
  const incoming = g.projections.filter((j) => j.target === p.name);
  const sources = new Set<string>();
  const inDram = storage.dram?.includes(p.name) ?? false;
  for (const j of incoming) {
    sources.add(j.source);
    const colIdx = j.weights.colIdx;
    // Stored weights per column first (integers), then bytes per unit: unitOfColumn says whose each column is
    // (EGRU columns are [z | r | n] gates of the units; an SSM's `u` columns belong to every slice, the fixed part).
    // On the MAC array (accel.ts): a dense column of rows weights, no indices; the rows' int16 input vector.
    const mac = storage.mac?.includes(j.name) ?? false;
    fixed += mac ? j.rows * 2 : (j.rows + 1) * 4;
    const perCol = new Float64Array(j.cols);
    if (mac) perCol.fill(j.rows);
    else for (let k = 0; k < colIdx.length; k++) perCol[colIdx[k]]++;
    const entry = mac ? storage.weightBytes ?? weightBytes(g) : wb + 2;
    // Weights in DRAM (accel.ts): none in SRAM; a double buffer of the longest row (whole bursts) instead.
    if (inDram) {
      fixed += 2 * roundUp((mac ? j.cols : maxRowEntries(j)) * entry, storage.dramBurst ?? 16);
      continue;
    }
    for (let c = 0; c < j.cols; c++) {
      if (perCol[c] === 0) continue;
      const u = op.unitOfColumn(p, j.port, c);
      if (u < 0) fixed += perCol[c] * entry;
      else perUnit[u] += perCol[c] * entry;
    }
  }
  for (const s of sources) fixed += 2 * 4 * g.populations.find((q) => q.name === s)!.size;
  for (const l of p.luts ?? []) fixed += l.table.length * 2; // int16 entries
  if (op.residence === "slices") {
    const own = op.memory(p, wb);
    fixed += own.fixed;
    for (let u = 0; u < p.size; u++) perUnit[u] += own.perUnit;
  }
  // A population that mirrors this one (a Readout) lives on its slices.
  for (const r of g.populations) {
    const ro = s2Op(r);
    if (ro.mirrors(r) !== p.name) continue;
    const bytes = ro.memory(r, wb).perUnit;
    for (let u = 0; u < p.size; u++) perUnit[u] += bytes;
  }
  return { fixed, perUnit };
}

export function partition(g: Graph, hw: HardwareDescription, storage: StorageOptions = {}): Partition {
  const usable = usableSram(hw);
  const slices: Slice[] = [];
  const populations: PopulationPartition[] = [];
  const dram: string[] = [];
  g.populations.forEach((p, popIndex) => {
    const op = s2Op(p);
    if (op.residence === "host") return;
    if (op.residence === "mirror") {
      populations.push(mirrorSlices(p, popIndex, op.mirrors(p)!, slices, populations));
      return;
    }
    const st = dramStorage(g, p, storage, usable, hw);
    if (st.dram?.includes(p.name)) dram.push(p.name);
    const { fixed, perUnit } = memoryModel(g, p, st);
    let units = 0;
    for (const b of perUnit) units += b;
    let ends = cutSlices(p, fixed, perUnit, usable, hw, op.sharedNote, st);
    // A population cut into several slices whose update needs sums over all its units (a LayerNorm) keeps
    // the cross-PE reduction's totals on every slice: cut again with them in the fixed part.
    const sliceFixed = splitFixedBytes(p, fixed, ends.length);
    if (sliceFixed !== fixed) ends = cutSlices(p, sliceFixed, perUnit, usable, hw, `${op.sharedNote}, the cross-PE reduction's totals`, st);
    const total = sliceFixed + units;
    const ids: number[] = [];
    let start = 0;
    for (const end of ends) {
      let bytes = sliceFixed;
      for (let u = start; u < end; u++) bytes += perUnit[u];
      ids.push(slices.length);
      slices.push({ id: slices.length, pop: p.name, popIndex, lo: start, hi: end, pe: -1, bytes, fixedBytes: sliceFixed, mirrors: -1 });
      start = end;
    }
    populations.push({ pop: p.name, kind: p.kind, slices: ids, bytes: total, lowerBound: memoryLowerBound(p, fixed, units, usable) });
  });
  const pes = populations.reduce((a, p) => a + (S2_OPS[p.kind].residence === "mirror" ? 0 : p.slices.length), 0);
  const lowerBound = populations.reduce((a, p) => a + p.lowerBound, 0);
  const mac = storage.mac ? [...storage.mac] : [];
  return { slices, populations, usableBytes: usable, pes, lowerBound, ...(mac.length || dram.length ? { accel: { mac, dram } } : {}) };
}

/**
 * The storage options of population p under the DRAM policy (accel.ts): `all` puts every population with
 * incoming weights in DRAM; `on` only one that does not fit a PE's SRAM even one unit per PE (what is refused
 * without DRAM); otherwise the `dram` list as given. A population in DRAM with a projection on the MAC array is
 * refused (not modelled).
 */
function dramStorage(g: Graph, p: Population, storage: StorageOptions, usable: number, hw: HardwareDescription): StorageOptions {
  const policy = storage.dramPolicy;
  const base: StorageOptions = { ...storage, dramBurst: storage.dramBurst ?? hw.dram.burst_bytes.value };
  const incoming = g.projections.filter((j) => j.target === p.name);
  let inDram = base.dram?.includes(p.name) ?? false;
  if (!inDram && incoming.length && policy && policy !== "off") {
    if (policy === "all") inDram = true;
    else {
      const { fixed, perUnit } = memoryModel(g, p, base);
      inDram = perUnit.some((b) => fixed + b > usable) || (perUnit.length === 0 && fixed > usable);
    }
  }
  if (!inDram) return base;
  const mac = incoming.find((j) => storage.mac?.includes(j.name));
  if (mac) {
    throw new NmcError(`population ${p.name} would keep its weights in DRAM, but projection ${mac.name} into it is on the MAC array: the two together are not modelled`, {
      node: p.name, hint: "leave that projection on the ARM core (--mac-array naming the others), or turn DRAM off (--dram off)",
    });
  }
  return { ...base, dram: [...(base.dram ?? []), p.name] };
}

/**
 * The fixed bytes of every slice of a population cut into k slices: memoryModel's fixed part, plus, when k > 1
 * and its update needs sums over all units (S2_OPS reduction), the reduction's totals.
 */
export function splitFixedBytes(p: Population, fixed: number, k: number): number {
  const r = s2Op(p).reduction;
  return k > 1 && r ? fixed + r.bytes : fixed;
}

/**
 * The fewest PEs any contiguous split of a population can use (its memory lower bound), from its fixed part
 * and the sum of its per-unit bytes: one if it fits one PE; else every one of k ≥ 2 slices carries the fixed
 * part (with the reduction's totals, splitFixedBytes), so k · (usable − fixed₂) ≥ Σ per-unit bytes.
 */
export function memoryLowerBound(p: Population, fixed: number, units: number, usable: number): number {
  if (units <= usable - fixed) return 1;
  return Math.max(2, Math.ceil(units / (usable - splitFixedBytes(p, fixed, 2))));
}

/** A mirroring population (a Readout): one slice on each slice of its source; memory already counted there. */
function mirrorSlices(p: Population, popIndex: number, source: string, slices: Slice[], populations: PopulationPartition[]): PopulationPartition {
  const src = populations.find((x) => x.pop === source);
  if (!src) {
    throw new NmcError(`readout ${p.name} reads population ${source}, which has no PE (an Input lives on the host)`, {
      node: p.name, hint: "read out a population the model computes, or run this graph with --engine golden",
    });
  }
  const ids: number[] = [];
  for (const sid of src.slices) {
    const s = slices[sid];
    ids.push(slices.length);
    slices.push({ id: slices.length, pop: p.name, popIndex, lo: s.lo, hi: s.hi, pe: -1, bytes: 0, fixedBytes: 0, mirrors: sid });
  }
  return { pop: p.name, kind: p.kind, slices: ids, bytes: 0, lowerBound: 0 };
}

/**
 * The slice ends of a population. Greedy cuts under a budget give the fewest contiguous slices for it; the
 * smallest budget that keeps that count balances the slices (the slowest PE sets the tick period).
 */
function cutSlices(p: Population, fixed: number, perUnit: Float64Array, usable: number, hw: HardwareDescription, sharedNote: string, st: StorageOptions = {}): number[] {
  const cut = (budget: number): number[] | null => {
    const ends: number[] = [];
    let lo = 0;
    while (lo < p.size) {
      let bytes = fixed, hi = lo;
      while (hi < p.size && bytes + perUnit[hi] <= budget) bytes += perUnit[hi++];
      if (hi === lo) return null;
      ends.push(hi);
      lo = hi;
    }
    return ends;
  };
  const ends = cut(usable);
  if (!ends) {
    const worst = perUnit.reduce((a, b, i) => (b > perUnit[a] ? i : a), 0);
    throw new NmcError(`population ${p.name} does not fit a PE even one unit per PE`, {
      node: p.name,
      expected: `at most ${usable} bytes of data per PE (SRAM ${hw.chip.sram_bytes_per_pe.value} − code ${hw.chip.code_reserve_bytes.value} − buffers ${hw.chip.buffer_bytes.value})`,
      found: `${fixed + perUnit[worst]} bytes for unit ${worst} (${fixed} bytes shared by every slice: row pointers, event queues, LUTs${sharedNote})`,
      hint: st.dram?.includes(p.name)
        ? "its weights are already in DRAM (--dram): what is left does not fit; describe a PE with more SRAM (--hw)"
        : "prune the weights (--weight-sparsity), put its weights in DRAM (nmc compile --dram on), or describe a PE with more SRAM (--hw)",
    });
  }
  let lo = fixed, hi = usable;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const e = cut(mid);
    if (e && e.length <= ends.length) hi = mid;
    else lo = mid + 1;
  }
  return cut(hi)!;
}

/** Which slices of `target` hold columns of projection j (all of them for an SSM's `u`). */
export function projectionTargets(j: Projection, tgt: Population, part: Partition): number[] {
  const pp = part.populations.find((x) => x.pop === tgt.name);
  return pp ? pp.slices : [];
}
