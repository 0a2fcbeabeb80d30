// The integer encodings the quantize pass writes (runtime/fixed/QUANTIZATION.md): the format widths, the
// choice of a binary point from a calibrated range, integer tensors, and requantization multipliers. Shared
// by the pass (quantize.ts) and the per-kind formats table (formats.ts).
import { NmcError } from "../../ir/errors.js";
import type { Lut, Tensor } from "../../ir/types.js";
import { type Multiplier, makeLut, quantizeMultiplier, toFixed } from "../../runtime/fixed/index.js";

export const OUT_BITS = 16;
export const ACC_BITS = 32;
/** Bits of headroom kept in the int32 accumulators above the calibrated range (sums of ports, biases). */
export const ACC_HEADROOM = 1;
export const MAX_FRAC = 40;
/** EGRU gates and LUT outputs are Q14: 1.0 = 2^14. */
export const Q14 = 14;
/**
 * The LUTs' bins are at most 2^−5 wide at 256 entries, so their input needs at least 5 fractional bits; one more
 * per bit of lutBits above 8 (the bins halve): lutMinFrac(lutBits).
 */
export const LUT_MIN_FRAC = 5;
export const lutMinFrac = (lutBits: number): number => LUT_MIN_FRAC + lutBits - 8;

/** Fractional bits so that a signed `bits`-bit integer covers ±r (default when nothing was seen). */
export function fracFor(r: number, bits: number, headroom: number, dflt: number): number {
  if (!(r > 0)) return dflt;
  const f = Math.floor(Math.log2((2 ** (bits - 1) - 1) / r)) - headroom;
  return Math.max(0, Math.min(MAX_FRAC, f));
}

/** log2 of the real range a `bits`-bit format with `frac` fractional bits covers (what clipFraction takes). */
export const rangeLog2 = (bits: number, frac: number) => bits - 1 - frac;

export function intTensor(data: Int8Array | Int16Array | Int32Array, shape: number[], fracBits = 0, scale: number[] = [], axis = 0): Tensor {
  const dtype = data instanceof Int8Array ? "i8" : data instanceof Int16Array ? "i16" : "i32";
  return { dtype, shape, data, quant: { scale, axis, fracBits } };
}

export function fixedVector(t: Tensor, frac: number, bits: 16 | 32): Tensor {
  const q = bits === 16 ? new Int16Array(t.data.length) : new Int32Array(t.data.length);
  for (let i = 0; i < q.length; i++) q[i] = toFixed(t.data[i], frac, bits);
  return intTensor(q, t.shape, frac);
}

/** The Q15 multiplier for `scale`; a scale too small to matter (below 2^−37) becomes 0. */
export function multiplierFor(scale: number, node: string): Multiplier {
  if (scale === 0 || scale < 2 ** -37) return { multiplier: 0, shift: 0 };
  try {
    return quantizeMultiplier(scale);
  } catch (e) {
    throw new NmcError(`cannot represent the requantization scale ${scale} of ${node}`, {
      node, hint: "the weights are too large for the chosen formats; try --bits 16 or check the model",
      expected: "a scale below 2^14", found: String(scale),
    });
  }
}

export function weightArray(bits: number, n: number): Int8Array | Int16Array {
  return bits === 16 ? new Int16Array(n) : new Int8Array(n);
}

export function toIrLut(l: ReturnType<typeof makeLut>): Lut {
  return { name: l.name, lo: l.lo, stepLog2: l.stepLog2, inFrac: l.inFrac, outFrac: l.outFrac, table: l.table };
}
