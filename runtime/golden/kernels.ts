// The golden arithmetic as kernels over a contiguous range of units, so that the golden interpreter (one
// range: the whole population) and the SpiNNaker 2 simulator (one range per PE slice) execute the very same
// code. Every formula is runtime/fixed/QUANTIZATION.md's, through runtime/fixed's primitives only.
//
// Local layouts: an EGRU slice of n units holds its port columns as [z (n), r (n), g (n)]; a DiagonalSSM
// slice holds the whole state (P complex values) and the rows [lo, lo + n) of C.
import type { Lut } from "../../ir/types.js";
import { cmulImQ15, cmulReQ15, lookup, requantizeMS, roundDiv, roundShift, sat16, sat32, saturate } from "../fixed/index.js";

const ONE_Q14 = 1 << 14;

/** acc[col] += x · w over the stored entries of row i; returns how many entries it touched. */
export function accumulateRow(i: number, x: number, rowPtr: Uint32Array, colIdx: Uint32Array, w: ArrayLike<number>, acc: Float64Array): number {
  const end = rowPtr[i + 1];
  for (let k = rowPtr[i]; k < end; k++) acc[colIdx[k]] += x * w[k];
  return end - rowPtr[i];
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
  let events = 0;
  for (let i = 0; i < n; i++) {
    const z = lookup(sig, vx[i] + vh[i]);
    const r = lookup(sig, vx[n + i] + vh[n + i]);
    const g = lookup(tanh, vx[2 * n + i] + roundShift(r * vh[2 * n + i], 14));
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

export type DenseActivation = "linear" | "relu" | "sigmoid" | "tanh" | "gelu";

/** Dense activation of n units from their port (bias included). `lut` is the activation's table, if any. */
export function denseUnits(act: DenseActivation, n: number, v: Float64Array, lut: Lut | undefined, down: number, out: Int32Array): void {
  switch (act) {
    case "linear": for (let i = 0; i < n; i++) out[i] = sat16(roundShift(v[i], down)); break;
    case "relu": for (let i = 0; i < n; i++) out[i] = v[i] > 0 ? sat16(roundShift(v[i], down)) : 0; break;
    case "sigmoid":
    case "tanh": for (let i = 0; i < n; i++) out[i] = lookup(lut!, v[i]); break;
    case "gelu": for (let i = 0; i < n; i++) out[i] = sat16(roundShift(roundShift(v[i] * lookup(lut!, v[i]), 14), down)); break;
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
