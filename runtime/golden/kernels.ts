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
import type { Lut } from "../../ir/types.js";
import { cmulImQ15, cmulReQ15, isqrt, lutIndexAt, lutInvStep, lutOrigin, requantizeMS, roundDiv, roundShift, sat16, sat32, saturate } from "../fixed/index.js";

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
export function requantizeColumns(acc: Float64Array, mult: ArrayLike<number>, shift: ArrayLike<number>, pre: number, port: Float64Array): number {
  let n = 0;
  for (let c = 0; c < acc.length; c++) {
    const a = acc[c];
    if (a === 0) continue;
    port[c] += requantizeMS(sat32(roundShift(a, pre)), mult[c], shift[c]);
    n++;
  }
  return n;
}

export function saturatePort(port: Float64Array): void {
  for (let i = 0; i < port.length; i++) port[i] = sat32(port[i]);
}

/** Loads a port with its bias (int32), or zeros. */
export function loadBias(port: Float64Array, bias: ArrayLike<number> | null): void {
  if (bias) for (let i = 0; i < port.length; i++) port[i] = bias[i];
  else port.fill(0);
}

/** EGRU update of n units (Q14); returns the number of events (units that fired). */
export function egruUnits(n: number, vx: Float64Array, vh: Float64Array, sig: Lut, tanh: Lut, thr: ArrayLike<number>, h: Int32Array, out: Int32Array): number {
  // lookup(sig, v) = sigT[lutIndexAt(sigO, sigI, v, sigT.length)], its constants computed once per call.
  const sigT = sig.table, sigO = lutOrigin(sig), sigI = lutInvStep(sig);
  const tanT = tanh.table, tanO = lutOrigin(tanh), tanI = lutInvStep(tanh);
  let events = 0;
  for (let i = 0; i < n; i++) {
    const z = sigT[lutIndexAt(sigO, sigI, vx[i] + vh[i], sigT.length)];
    const r = sigT[lutIndexAt(sigO, sigI, vx[n + i] + vh[n + i], sigT.length)];
    const g = tanT[lutIndexAt(tanO, tanI, vx[2 * n + i] + roundShift(r * vh[2 * n + i], 14), tanT.length)];
    const c = sat16(roundShift(z * h[i] + (ONE_Q14 - z) * g, 14));
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
  return events;
}

/** x ← Λ̄ ⊙ x + u over P complex states (saturated to `bits`), and the 16-bit view C reads. */
export function ssmStates(
  P: number, bits: number, xr: Int32Array, xi: Int32Array, rr: Int32Array, ri: Int32Array,
  lr: ArrayLike<number>, li: ArrayLike<number>, u: Float64Array,
): void {
  const readShift = bits - 16;
  for (let p = 0; p < P; p++) {
    const a = xr[p], b = xi[p];
    xr[p] = saturate(cmulReQ15(a, b, lr[p], li[p]) + u[p], bits);
    xi[p] = saturate(cmulImQ15(a, b, lr[p], li[p]) + u[P + p], bits);
    rr[p] = readShift === 0 ? xr[p] : sat16(roundShift(xr[p], readShift));
    ri[p] = readShift === 0 ? xi[p] : sat16(roundShift(xi[p], readShift));
  }
}

/** Outputs lo … lo + n − 1 of a DiagonalSSM: out[k] for row h = lo + k of C; skip is local (n). */
export function ssmOutputs(
  n: number, lo: number, P: number, cr: ArrayLike<number>, ci: ArrayLike<number>, rr: Int32Array, ri: Int32Array,
  cm: ArrayLike<number>, cs: ArrayLike<number>, skip: Float64Array, pre: number, down: number, out: Int32Array,
): void {
  for (let k = 0; k < n; k++) {
    const h = lo + k;
    const row = h * P;
    let acc = 0;
    for (let p = 0; p < P; p++) acc += cr[row + p] * rr[p] - ci[row + p] * ri[p];
    const y = sat32(requantizeMS(sat32(roundShift(acc, pre)), cm[h], cs[h]) + skip[k]);
    out[k] = sat16(roundShift(y, down));
  }
}

export type DenseActivation = "linear" | "relu" | "sigmoid" | "tanh" | "gelu" | "gelu_new" | "swish" | "softplus";

/** Dense activation of n units from their port (bias included). `lut` is the activation's table, if any. */
export function denseUnits(act: DenseActivation, n: number, v: Float64Array, lut: Lut | undefined, down: number, out: Int32Array): void {
  switch (act) {
    case "linear": for (let i = 0; i < n; i++) out[i] = sat16(roundShift(v[i], down)); break;
    case "relu": for (let i = 0; i < n; i++) out[i] = v[i] > 0 ? sat16(roundShift(v[i], down)) : 0; break;
    case "sigmoid":
    case "tanh": {
      const t = lut!.table, o = lutOrigin(lut!), k = lutInvStep(lut!); // lookup(lut, x) = t[lutIndexAt(o, k, x, t.length)]
      for (let i = 0; i < n; i++) out[i] = t[lutIndexAt(o, k, v[i], t.length)];
      break;
    }
    case "gelu": // x · Φ(x), x · Φ̃(x), x · σ(x): the product in Q(acc_frac + 14), back to acc_frac, then to out_frac
    case "gelu_new":
    case "swish": {
      const t = lut!.table, o = lutOrigin(lut!), k = lutInvStep(lut!);
      for (let i = 0; i < n; i++) out[i] = sat16(roundShift(roundShift(v[i] * t[lutIndexAt(o, k, v[i], t.length)], 14), down));
      break;
    }
    case "softplus": {
      // relu(x) + L(−|x|), L (Q14) brought to acc_frac (lut.inFrac): exactly when acc_frac ≥ 14, else rounded
      const t = lut!.table, o = lutOrigin(lut!), k = lutInvStep(lut!), up = lut!.inFrac - 14, sc = 2 ** Math.max(0, up);
      for (let i = 0; i < n; i++) {
        const x = v[i], l = t[lutIndexAt(o, k, x < 0 ? x : -x, t.length)];
        out[i] = sat16(roundShift((x > 0 ? x : 0) + (up >= 0 ? l * sc : roundShift(l, -up)), down));
      }
      break;
    }
  }
}

/** Readout of n units at tick t (0-based): running int32 sum; mean rounds ties away from zero. */
export function readoutUnits(mode: "last" | "mean" | "sum", n: number, src: Int32Array, sum: Int32Array, out: Int32Array, t: number): void {
  for (let i = 0; i < n; i++) {
    if (mode === "last") sum[i] = src[i];
    else sum[i] = sat32(sum[i] + src[i]);
    out[i] = mode === "mean" ? roundDiv(sum[i], t + 1) : sum[i];
  }
}

/**
 * Multiply of n units from its ports a and b (int32, acc_frac): each operand to int16 with its own binary
 * point, a' = sat16(rs(a, sa)), b' = sat16(rs(b, sb)) (sa = acc_frac − frac_a, sb = acc_frac − frac_b), then
 * out = sat16(rs(a' · b', so)) with so = frac_a + frac_b − out_frac; |a' · b'| ≤ 2^30 is exact.
 */
export function multiplyUnits(n: number, a: Float64Array, b: Float64Array, sa: number, sb: number, so: number, out: Int32Array): void {
  for (let i = 0; i < n; i++) out[i] = sat16(roundShift(sat16(roundShift(a[i], sa)) * sat16(roundShift(b[i], sb)), so));
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
  xq: Float64Array, out: Int32Array,
): void {
  let sum = 0;
  for (let i = 0; i < n; i++) {
    xq[i] = sat16(roundShift(x[i], sx));
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
    out[i] = sat16(roundShift(gamma[i] * t, so) + beta[i]);
  }
}
