// The golden arithmetic as kernels over a contiguous range of units, so that the golden interpreter (one
// range: the whole population) and the SpiNNaker 2 simulator (one range per PE slice) execute the very same
// code (bound per kind in ops.ts). Every formula is runtime/fixed/QUANTIZATION.md's, through runtime/fixed's
// primitives only. The simulator's own delivery kernels (its queues, its dense execution) build on
// accumulateEntries in targets/spinnaker2/sim/accumulate.ts.
//
// Local layouts: an EGRU slice of n units holds its port columns as [z (n), r (n), g (n)]; a DiagonalSSM
// slice holds the whole state (P complex values) and the rows [lo, lo + n) of C.
//
// Performance: these loops are the golden engine's and the simulator's hot paths. Each accumulation kernel
// walks a whole list of rows (no call per row or per entry), on typed arrays only; the column sums are exact
// integers in a Float64Array (|x| ≤ 2^15, |w| ≤ 2^15, fewer than 2^22 terms: below 2^53), so the order in which
// rows are added never changes a sum.
//
// Saturation counts: every clamp below is a counted form (runtime/fixed sat16Count, …) adding to `sc`, the
// population's counters (saturation.ts: sc[site] values clamped, sc[SITES + site] values checked, added once
// per call). The counted forms return exactly what the plain ones do; `sc` defaults to a sink.
import type { Lut } from "../../ir/types.js";
import {
  cmulImQ15Count, cmulReQ15Count, isqrt, lutIndexAtCount, lutInvStep, lutOrigin, requantizeMSCount, roundDiv, roundShift, sat16Count, sat32Count, saturateCount,
  zoneoutBlend,
} from "../fixed/index.js";
import {
  NO_COUNTS, S_CMUL, S_COLSUM, S_LOOKUP, S_OPERAND, S_OUTPUT, S_PORT, S_READ, S_REQUANT, S_RUNNING, S_STATE, S_SUM, S_Y, SITES,
} from "./saturation.js";

import { align8, type EgruKernel, type RequantizeKernel, requantizeFits, type SaturateKernel, type SsmOutKernel, type UnitArena } from "../wasm/index.js";

const ONE_Q14 = 1 << 14;

/** Stored weights as the kernels read them (int8 or int16 values of a CSR matrix, or its dense expansion). */
export type WeightArray = Int8Array | Int16Array;

/** Column indices of stored entries: the IR's u32, or u16 where they fit (the simulator's local columns, as on chip). */
export type ColumnArray = Uint16Array | Uint32Array;

/**
 * acc[colIdx[k]] += x · w[k] for k in [k0, end): one row (or chunk of a row) of stored entries, the innermost
 * loop of every sparse kernel below. Unrolled by four (about 1.5× faster in V8); the sums are exact integers,
 * so the order of the additions does not matter.
 */
export function accumulateEntries(x: number, k0: number, end: number, colIdx: ColumnArray, w: WeightArray, acc: Float64Array): void {
  let k = k0;
  for (const end4 = end - 3; k < end4; k += 4) {
    acc[colIdx[k]] += x * w[k];
    acc[colIdx[k + 1]] += x * w[k + 1];
    acc[colIdx[k + 2]] += x * w[k + 2];
    acc[colIdx[k + 3]] += x * w[k + 3];
  }
  for (; k < end; k++) acc[colIdx[k]] += x * w[k];
}

/**
 * Event-driven delivery of a whole source vector: acc[col] += v[i] · w over the stored entries of every row i
 * with v[i] ≠ 0 (rows of silent units are skipped). Returns the entries touched (effective synaptic ops).
 */
export function accumulateNonZero(v: Int32Array, rowPtr: Uint32Array, colIdx: Uint32Array, w: WeightArray, acc: Float64Array): number {
  let touched = 0;
  const rows = v.length;
  for (let i = 0; i < rows; i++) {
    const x = v[i];
    if (x === 0) continue;
    const k = rowPtr[i], end = rowPtr[i + 1];
    touched += end - k;
    accumulateEntries(x, k, end, colIdx, w, acc);
  }
  return touched;
}

/** port[c] += rq(sat32(rs(acc[c], pre)), mult[c], shift[c]) for every column with a non-zero sum; returns how many. */
export function requantizeColumns(acc: Float64Array, mult: ArrayLike<number>, shift: ArrayLike<number>, pre: number, port: Float64Array, sc = NO_COUNTS): number {
  let n = 0;
  for (let c = 0; c < acc.length; c++) {
    const a = acc[c];
    if (a === 0) continue;
    port[c] += requantizeMSCount(sat32Count(roundShift(a, pre), sc, S_COLSUM), mult[c], shift[c], sc, S_REQUANT);
    n++;
  }
  sc[SITES + S_COLSUM] += n;
  sc[SITES + S_REQUANT] += n;
  return n;
}

/**
 * requantizeColumns run by the WebAssembly kernel `rq` on arrays of its arena (counts: an f64 scratch of at least
 * 2 slots there): the same port values, the same saturation counts; acc is left all zero.
 */
export function requantizeColumnsWasm(
  rq: RequantizeKernel, acc: Float64Array | Int32Array, mult: Int32Array, shift: Int32Array, pre: number, port: Float64Array, counts: Float64Array, sc = NO_COUNTS,
): number {
  counts[0] = counts[1] = 0;
  const n = rq(acc.byteOffset, acc.length, mult.byteOffset, shift.byteOffset, pre, port.byteOffset, counts.byteOffset);
  sc[S_COLSUM] += counts[0];
  sc[S_REQUANT] += counts[1];
  sc[SITES + S_COLSUM] += n;
  sc[SITES + S_REQUANT] += n;
  return n;
}

export function saturatePort(port: Float64Array, sc = NO_COUNTS): void {
  for (let i = 0; i < port.length; i++) port[i] = sat32Count(port[i], sc, S_PORT);
  sc[SITES + S_PORT] += port.length;
}

/** saturatePort run by the WebAssembly kernel `k` on a port of its arena (counts: an f64 scratch slot there). */
export function saturatePortWasm(k: SaturateKernel, port: Float64Array, counts: Float64Array, sc = NO_COUNTS): void {
  counts[0] = 0;
  k(port.byteOffset, port.length, counts.byteOffset);
  sc[S_PORT] += counts[0];
  sc[SITES + S_PORT] += port.length;
}

/** Loads a port with its bias (int32 values; the engines keep them as doubles, so that this is a copy), or zeros. */
export function loadBias(port: Float64Array, bias: ArrayLike<number> | null): void {
  if (bias instanceof Float64Array && bias.length === port.length) port.set(bias); // the same values
  else if (bias) for (let i = 0; i < port.length; i++) port[i] = bias[i];
  else port.fill(0);
}

/**
 * egruUnits by the WebAssembly kernel, when vx, vh, h and out lie in the arena (else null): thr and the two tables
 * are copied into the arena once (the op's arenaBytes reserve the room). Returns the bound update; the same
 * outputs, states, events and saturation counts.
 */
export function egruUnitsWasm(
  w: UnitArena, n: number, vx: Float64Array, vh: Float64Array, sig: Lut, tanh: Lut, thr: ArrayLike<number>, h: Int32Array, out: Int32Array, pq: number, sc: Float64Array,
): (() => number) | null {
  if (!w.arena.holds(vx, vh, h, out)) return null;
  for (let i = 0; i < n; i++) if (!Number.isInteger(thr[i]) || Math.abs(thr[i]) > 2 ** 31 - 1) return null;
  const k: EgruKernel = w.arena.egru(), counts = w.counts;
  const t = w.arena.alloc(Int32Array, n), sigT = w.arena.copy(sig.table), tanT = w.arena.copy(tanh.table);
  for (let i = 0; i < n; i++) t[i] = thr[i];
  const sigO = lutOrigin(sig), sigI = lutInvStep(sig), tanO = lutOrigin(tanh), tanI = lutInvStep(tanh);
  const pvx = vx.byteOffset, pvh = vh.byteOffset, pt = t.byteOffset, ph = h.byteOffset, po = out.byteOffset, ps = sigT.byteOffset, pn = tanT.byteOffset;
  const update = () => {
    counts[0] = counts[1] = 0;
    const events = k(n, pvx, pvh, ps, sigT.length, sigO, sigI, pn, tanT.length, tanO, tanI, pt, ph, po, pq, counts.byteOffset);
    sc[S_LOOKUP] += counts[0];
    sc[S_STATE] += counts[1];
    sc[SITES + S_LOOKUP] += 3 * n;
    sc[SITES + S_STATE] += n;
    return events;
  };
  egruCalls.set(update, { w, sig, tanh, pq, sc, n, range: [n, pvx, pvh, pt, ph, po], tables: [ps, sigT.length, sigO, sigI, pn, tanT.length, tanO, tanI] });
  return update;
}

/** What an update of egruUnitsWasm calls the kernel with, so that several of one population can run as one egruMany call. */
interface EgruCall {
  w: UnitArena;
  sig: Lut;
  tanh: Lut;
  pq: number;
  sc: Float64Array;
  n: number;
  /** n and the byte offsets of vx, vh, thr, h, out (egruMany's desc entry). */
  range: number[];
  /** The σ table's offset, length, origin and inverse step, then the tanh table's. */
  tables: number[];
}
const egruCalls = new WeakMap<object, EgruCall>();

/**
 * The updates of egruUnitsWasm (the bound updates of several unit ranges of one EGRU population: the simulator's
 * PEs of a group) as one egruMany call, or null where any of them is not such an update or they do not share the
 * arena, tables, zoneout and counters. desc(k) allocates k u32 in the arena for the ranges' table. The same
 * outputs, states, events and counts as calling each update in turn: the ranges are disjoint, and the counts are
 * integer sums.
 */
export function egruManyWasm(updates: readonly object[], desc: (k: number) => Uint32Array): (() => number) | null {
  const calls = updates.map((u) => egruCalls.get(u));
  const c0 = calls[0];
  if (!c0 || calls.some((c) => !c || c.w.arena !== c0.w.arena || c.sig !== c0.sig || c.tanh !== c0.tanh || c.pq !== c0.pq || c.sc !== c0.sc)) return null;
  const table = desc(6 * calls.length);
  calls.forEach((c, i) => table.set(c!.range, 6 * i));
  const k = c0.w.arena.egruMany(), counts = c0.w.counts, sc = c0.sc, pq = c0.pq, [ps, sl, so, si, pn, tl, to, ti] = c0.tables;
  const N = calls.reduce((a, c) => a + c!.n, 0), R = calls.length, pd = table.byteOffset;
  return () => {
    counts[0] = counts[1] = 0;
    const events = k(pd, R, ps, sl, so, si, pn, tl, to, ti, pq, counts.byteOffset);
    sc[S_LOOKUP] += counts[0];
    sc[S_STATE] += counts[1];
    sc[SITES + S_LOOKUP] += 3 * N;
    sc[SITES + S_STATE] += N;
    return events;
  };
}

/** The arena bytes egruUnitsWasm allocates for n units (thr and the two tables, 8-byte aligned each). */
export function egruArenaBytes(n: number, sig: Lut, tanh: Lut): number {
  return align8(4 * n) + align8(2 * sig.table.length) + align8(2 * tanh.table.length);
}

/**
 * EGRU update of n units (Q14); returns the number of events (units that fired). pq: the zoneout p as Q15
 * (runtime/fixed zoneoutQ15; 0: none), blending the previous h into the candidate before the threshold.
 */
export function egruUnits(n: number, vx: Float64Array, vh: Float64Array, sig: Lut, tanh: Lut, thr: ArrayLike<number>, h: Int32Array, out: Int32Array, pq = 0, sc = NO_COUNTS): number {
  // lookup(sig, v) = sigT[lutIndexAt(sigO, sigI, v, sigT.length)], its constants computed once per call.
  const sigT = sig.table, sigO = lutOrigin(sig), sigI = lutInvStep(sig);
  const tanT = tanh.table, tanO = lutOrigin(tanh), tanI = lutInvStep(tanh);
  let events = 0;
  for (let i = 0; i < n; i++) {
    const z = sigT[lutIndexAtCount(sigO, sigI, vx[i] + vh[i], sigT.length, sc, S_LOOKUP)];
    const r = sigT[lutIndexAtCount(sigO, sigI, vx[n + i] + vh[n + i], sigT.length, sc, S_LOOKUP)];
    const g = tanT[lutIndexAtCount(tanO, tanI, vx[2 * n + i] + roundShift(r * vh[2 * n + i], 14), tanT.length, sc, S_LOOKUP)];
    const c0 = sat16Count(roundShift(z * h[i] + (ONE_Q14 - z) * g, 14), sc, S_STATE);
    const c = pq === 0 ? c0 : zoneoutBlend(pq, h[i], c0);
    const d = c - thr[i];
    if (d > 0) {
      out[i] = c;
      h[i] = d;
      events++;
    } else {
      out[i] = 0;
      h[i] = c;
    }
  }
  sc[SITES + S_LOOKUP] += 3 * n;
  sc[SITES + S_STATE] += n;
  return events;
}

/** x ← Λ̄ ⊙ x + u over P complex states (saturated to `bits`), and the 16-bit view C reads. */
export function ssmStates(
  P: number, bits: number, xr: Int32Array, xi: Int32Array, rr: Int32Array, ri: Int32Array,
  lr: ArrayLike<number>, li: ArrayLike<number>, u: Float64Array, sc = NO_COUNTS,
): void {
  const readShift = bits - 16;
  for (let p = 0; p < P; p++) {
    const a = xr[p], b = xi[p];
    xr[p] = saturateCount(cmulReQ15Count(a, b, lr[p], li[p], sc, S_CMUL) + u[p], bits, sc, S_STATE);
    xi[p] = saturateCount(cmulImQ15Count(a, b, lr[p], li[p], sc, S_CMUL) + u[P + p], bits, sc, S_STATE);
    rr[p] = readShift === 0 ? xr[p] : sat16Count(roundShift(xr[p], readShift), sc, S_READ);
    ri[p] = readShift === 0 ? xi[p] : sat16Count(roundShift(xi[p], readShift), sc, S_READ);
  }
  sc[SITES + S_CMUL] += 2 * P;
  sc[SITES + S_STATE] += 2 * P;
  if (readShift !== 0) sc[SITES + S_READ] += 2 * P;
}

/** Outputs lo … lo + n − 1 of a DiagonalSSM: out[k] for row h = lo + k of C; skip is local (n). */
export function ssmOutputs(
  n: number, lo: number, P: number, cr: ArrayLike<number>, ci: ArrayLike<number>, rr: Int32Array, ri: Int32Array,
  cm: ArrayLike<number>, cs: ArrayLike<number>, skip: Float64Array, pre: number, down: number, out: Int32Array, sc = NO_COUNTS,
): void {
  for (let k = 0; k < n; k++) {
    const h = lo + k;
    const row = h * P;
    let acc = 0;
    for (let p = 0; p < P; p++) acc += cr[row + p] * rr[p] - ci[row + p] * ri[p];
    const y = sat32Count(requantizeMSCount(sat32Count(roundShift(acc, pre), sc, S_SUM), cm[h], cs[h], sc, S_REQUANT) + skip[k], sc, S_Y);
    out[k] = sat16Count(roundShift(y, down), sc, S_OUTPUT);
  }
  sc[SITES + S_SUM] += n;
  sc[SITES + S_REQUANT] += n;
  sc[SITES + S_Y] += n;
  sc[SITES + S_OUTPUT] += n;
}

/**
 * ssmOutputs by the WebAssembly kernel (SIMD dot products), when rr, ri, skip and out lie in the arena and the
 * constants are in its range (|C| ≤ 2^15, Q15 multipliers, shifts in 0 … 62, 0 ≤ pre < 32, 0 ≤ down ≤ 62); else
 * null. Rows lo … lo + n − 1 of C and their multipliers are copied into the arena once (ssmArenaBytes).
 */
export function ssmOutputsWasm(
  w: UnitArena, n: number, lo: number, P: number, cr: ArrayLike<number>, ci: ArrayLike<number>, rr: Int32Array, ri: Int32Array,
  cm: ArrayLike<number>, cs: ArrayLike<number>, skip: Float64Array, pre: number, down: number, out: Int32Array, sc: Float64Array,
): (() => void) | null {
  if (!w.arena.holds(rr, ri, skip, out) || !(down >= 0 && down <= 62) || !requantizeFits(pre, cm, cs, lo, n)) return null;
  const a = w.arena, rows = n * P, off = lo * P;
  for (let i = 0; i < rows; i++) if (!(Math.abs(cr[off + i]) <= 2 ** 15 && Math.abs(ci[off + i]) <= 2 ** 15)) return null;
  const r = a.alloc(Int32Array, rows), i = a.alloc(Int32Array, rows), m = a.alloc(Int32Array, n), s = a.alloc(Int32Array, n);
  for (let q = 0; q < rows; q++) {
    r[q] = cr[off + q];
    i[q] = ci[off + q];
  }
  for (let k = 0; k < n; k++) {
    m[k] = cm[lo + k];
    s[k] = cs[lo + k];
  }
  const kern: SsmOutKernel = a.ssmOut(), counts = w.counts;
  return () => {
    counts[0] = counts[1] = counts[2] = counts[3] = 0;
    kern(n, P, r.byteOffset, i.byteOffset, rr.byteOffset, ri.byteOffset, m.byteOffset, s.byteOffset, skip.byteOffset, pre, down, out.byteOffset, counts.byteOffset);
    sc[S_SUM] += counts[0];
    sc[S_REQUANT] += counts[1];
    sc[S_Y] += counts[2];
    sc[S_OUTPUT] += counts[3];
    sc[SITES + S_SUM] += n;
    sc[SITES + S_REQUANT] += n;
    sc[SITES + S_Y] += n;
    sc[SITES + S_OUTPUT] += n;
  };
}

/** The arena bytes ssmOutputsWasm allocates for n rows of P states. */
export function ssmArenaBytes(n: number, P: number): number {
  return 2 * align8(4 * n * P) + 2 * align8(4 * n);
}

export type DenseActivation = "linear" | "relu" | "sigmoid" | "tanh" | "gelu" | "gelu_new" | "swish" | "softplus";

/** Dense activation of n units from their port (bias included). `lut` is the activation's table, if any. */
export function denseUnits(act: DenseActivation, n: number, v: Float64Array, lut: Lut | undefined, down: number, out: Int32Array, sc = NO_COUNTS): void {
  switch (act) {
    case "linear": for (let i = 0; i < n; i++) out[i] = sat16Count(roundShift(v[i], down), sc, S_OUTPUT); break;
    case "relu": for (let i = 0; i < n; i++) out[i] = v[i] > 0 ? sat16Count(roundShift(v[i], down), sc, S_OUTPUT) : 0; break;
    case "sigmoid":
    case "tanh": {
      const t = lut!.table, o = lutOrigin(lut!), k = lutInvStep(lut!); // lookup(lut, x) = t[lutIndexAt(o, k, x, t.length)]
      for (let i = 0; i < n; i++) out[i] = t[lutIndexAtCount(o, k, v[i], t.length, sc, S_LOOKUP)];
      break;
    }
    case "gelu": // x · Φ(x), x · Φ̃(x), x · σ(x): the product in Q(acc_frac + 14), back to acc_frac, then to out_frac
    case "gelu_new":
    case "swish": {
      const t = lut!.table, o = lutOrigin(lut!), k = lutInvStep(lut!);
      for (let i = 0; i < n; i++) out[i] = sat16Count(roundShift(roundShift(v[i] * t[lutIndexAtCount(o, k, v[i], t.length, sc, S_LOOKUP)], 14), down), sc, S_OUTPUT);
      break;
    }
    case "softplus": {
      // relu(x) + L(−|x|), L (Q14) brought to acc_frac (lut.inFrac): exactly when acc_frac ≥ 14, else rounded
      const t = lut!.table, o = lutOrigin(lut!), k = lutInvStep(lut!), up = lut!.inFrac - 14, scale = 2 ** Math.max(0, up);
      for (let i = 0; i < n; i++) {
        const x = v[i], l = t[lutIndexAtCount(o, k, x < 0 ? x : -x, t.length, sc, S_LOOKUP)];
        out[i] = sat16Count(roundShift((x > 0 ? x : 0) + (up >= 0 ? l * scale : roundShift(l, -up)), down), sc, S_OUTPUT);
      }
      break;
    }
  }
  if (act !== "sigmoid" && act !== "tanh") sc[SITES + S_OUTPUT] += n;
  if (act !== "linear" && act !== "relu") sc[SITES + S_LOOKUP] += n;
}

/** Readout of n units at tick t (0-based): running int32 sum; mean rounds ties away from zero. */
export function readoutUnits(mode: "last" | "mean" | "sum", n: number, src: Int32Array, sum: Int32Array, out: Int32Array, t: number, sc = NO_COUNTS): void {
  for (let i = 0; i < n; i++) {
    if (mode === "last") sum[i] = src[i];
    else sum[i] = sat32Count(sum[i] + src[i], sc, S_RUNNING);
    out[i] = mode === "mean" ? roundDiv(sum[i], t + 1) : sum[i];
  }
  if (mode !== "last") sc[SITES + S_RUNNING] += n;
}

/**
 * Multiply of n units from its ports a and b (int32, acc_frac): each operand to int16 with its own binary
 * point, a' = sat16(rs(a, sa)), b' = sat16(rs(b, sb)) (sa = acc_frac − frac_a, sb = acc_frac − frac_b), then
 * out = sat16(rs(a' · b', so)) with so = frac_a + frac_b − out_frac; |a' · b'| ≤ 2^30 is exact.
 */
export function multiplyUnits(n: number, a: Float64Array, b: Float64Array, sa: number, sb: number, so: number, out: Int32Array, sc = NO_COUNTS): void {
  for (let i = 0; i < n; i++) {
    out[i] = sat16Count(roundShift(sat16Count(roundShift(a[i], sa), sc, S_OPERAND) * sat16Count(roundShift(b[i], sb), sc, S_OPERAND), so), sc, S_OUTPUT);
  }
  sc[SITES + S_OPERAND] += 2 * n;
  sc[SITES + S_OUTPUT] += n;
}

/** LayerNorm's fixed scales (QUANTIZATION.md): s = ⌊√(V · 2^18)⌋, r = roundDiv(2^44, s), t = rs(d · r, 21) in Q14. */
export const LN_VAR_SHIFT = 18, LN_RECIP_LOG2 = 44, LN_NORM_SHIFT = 21;

/**
 * LayerNorm of all n units of a population from its port x (int32, acc_frac), into scratch xq (n):
 * x' = sat16(rs(x, sx)); m = roundDiv(Σx', n); d = x' − m; V = roundDiv(Σd², n) + eps_q;
 * s = ⌊√(V · 2^18)⌋; r = roundDiv(2^44, s); t = rs(d · r, 21); out = sat16(rs(γ · t, so) + β).
 * Exact in a double: |Σx'| ≤ n·2^15, Σd² < n·2^32 ≤ 2^50, V·2^18 < 2^51, |d · r| < 2^16 · 2^35, |γ · t| < 2^15 · 2^35.
 */
export function layerNormUnits(
  n: number, x: Float64Array, sx: number, gamma: ArrayLike<number>, beta: ArrayLike<number>, epsQ: number, so: number,
  xq: Float64Array, out: Int32Array, sc = NO_COUNTS,
): void {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    xq[i] = sat16Count(roundShift(x[i], sx), sc, S_OPERAND);
    sum += xq[i];
  }
  const m = roundDiv(sum, n);
  let q = 0;
  for (let i = 0; i < n; i++) {
    const d = xq[i] - m;
    q += d * d;
  }
  const v = roundDiv(q, n) + epsQ;
  const r = roundDiv(2 ** LN_RECIP_LOG2, isqrt(v * 2 ** LN_VAR_SHIFT));
  for (let i = 0; i < n; i++) {
    const t = roundShift((xq[i] - m) * r, LN_NORM_SHIFT);
    out[i] = sat16Count(roundShift(gamma[i] * t, so) + beta[i], sc, S_OUTPUT);
  }
  sc[SITES + S_OPERAND] += n;
  sc[SITES + S_OUTPUT] += n;
}

/**
 * The same LayerNorm split around an exchange of exact partial sums (the SpiNNaker 2 simulator's slices of a
 * population cut over several PEs; the golden engine keeps layerNormUnits). Pass 1 of a slice of n units:
 * x' into xq and its partial sums part = [Σx', Σx'²]. Totals over all N units are the sums of the slices'
 * partials (exact integers, so in any order). layerNormStats then gives m and r as layerNormUnits does, using
 * Σ(x' − m)² = Σx'² − 2m·Σx' + N·m² (an identity of integers, every term exact in a double: Σx'² ≤ N·2^30 ≤
 * 2^48, |2m·Σx'| ≤ N·2^31 ≤ 2^49, N·m² ≤ 2^48 for N ≤ 2^18), and layerNormApply normalizes the slice.
 * A slice's partials fit an int32 (|Σx'| ≤ 65535 · 2^15 < 2^31) and an int64 (Σx'² < 2^46).
 */
export function layerNormPartial(n: number, x: Float64Array, sx: number, xq: Float64Array, part: Float64Array, sc = NO_COUNTS): void {
  let s1 = 0, s2 = 0;
  for (let i = 0; i < n; i++) {
    const v = sat16Count(roundShift(x[i], sx), sc, S_OPERAND);
    xq[i] = v;
    s1 += v;
    s2 += v * v;
  }
  part[0] = s1;
  part[1] = s2;
  sc[SITES + S_OPERAND] += n;
}

/** m and r of N units from the totals S1 = Σx', S2 = Σx'² (see layerNormPartial): stats = [m, r]. */
export function layerNormStats(N: number, S1: number, S2: number, epsQ: number, stats: Float64Array): void {
  const m = roundDiv(S1, N);
  const q = S2 - 2 * m * S1 + N * m * m;
  const v = roundDiv(q, N) + epsQ;
  stats[0] = m;
  stats[1] = roundDiv(2 ** LN_RECIP_LOG2, isqrt(v * 2 ** LN_VAR_SHIFT));
}

/** Pass 2 of a slice: units [lo, lo + n) from their x' (xq), the mean m and the reciprocal r; γ, β of the population. */
export function layerNormApply(
  n: number, lo: number, xq: Float64Array, m: number, r: number, gamma: ArrayLike<number>, beta: ArrayLike<number>, so: number, out: Int32Array,
  sc = NO_COUNTS,
): void {
  for (let i = 0; i < n; i++) {
    const t = roundShift((xq[i] - m) * r, LN_NORM_SHIFT);
    out[i] = sat16Count(roundShift(gamma[lo + i] * t, so) + beta[lo + i], sc, S_OUTPUT);
  }
  sc[SITES + S_OUTPUT] += n;
}
