// A .safetensors writer for tests (nmc itself only reads the format): the layout safetensors' own writer
// produces (u64le header length, JSON header padded with spaces to 8 bytes, tensors back to back).
// `raw` lets a test write any header and bytes, including malformed ones.

export type StDtype = "F64" | "F32" | "F16" | "BF16";

export interface StTensor {
  name: string;
  dtype: StDtype;
  shape: number[];
  /** The values; F16/BF16 are rounded from these. */
  values: ArrayLike<number>;
}

const SIZE: Record<StDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

/** float → IEEE half bits, round to nearest even (finite inputs in range; tests pick such values). */
export function toHalfBits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  let mant = u & 0x7fffff;
  if ((u & 0x7fffffff) === 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    // subnormal half: value / 2^-24, rounded half to even
    const v = Math.abs(x) / 2 ** -24;
    const t = Math.trunc(v);
    return sign | (v - t > 0.5 || (v - t === 0.5 && t & 1) ? t + 1 : t);
  }
  const round = mant & 0x1fff;
  mant >>>= 13;
  let bits = sign | (exp << 10) | mant;
  if (round > 0x1000 || (round === 0x1000 && (mant & 1))) bits++;
  return bits;
}

export function toBf16Bits(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0]!;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

export function tensorBytes(t: StTensor): Uint8Array {
  const n = t.values.length;
  const out = new Uint8Array(n * SIZE[t.dtype]);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) {
    const v = t.values[i]!;
    if (t.dtype === "F64") dv.setFloat64(i * 8, v, true);
    else if (t.dtype === "F32") dv.setFloat32(i * 4, v, true);
    else if (t.dtype === "F16") dv.setUint16(i * 2, toHalfBits(v), true);
    else dv.setUint16(i * 2, toBf16Bits(v), true);
  }
  return out;
}

/** A file from a header object (written as given) and a data section. */
export function raw(header: unknown, data: Uint8Array, pad = true): Uint8Array {
  return rawText(JSON.stringify(header), data, pad);
}

/** A file from the header's JSON text and a data section; `pad` pads the header with spaces to 8 bytes. */
export function rawText(json: string, data: Uint8Array, pad = true): Uint8Array {
  let text = new TextEncoder().encode(json);
  if (pad && text.length % 8) {
    const p = new Uint8Array(text.length + (8 - (text.length % 8))).fill(0x20);
    p.set(text);
    text = p;
  }
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

/** A valid file holding `tensors` in order, with optional __metadata__. */
export function encodeSafetensors(tensors: readonly StTensor[], metadata?: Record<string, string>): Uint8Array {
  // Entries as text: an object would turn a tensor named "__proto__" into a prototype.
  const entries: string[] = [];
  if (metadata) entries.push(`"__metadata__":${JSON.stringify(metadata)}`);
  const chunks: Uint8Array[] = [];
  let at = 0;
  for (const t of tensors) {
    const b = tensorBytes(t);
    entries.push(`${JSON.stringify(t.name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [at, at + b.length] })}`);
    chunks.push(b);
    at += b.length;
  }
  const data = new Uint8Array(at);
  let p = 0;
  for (const c of chunks) {
    data.set(c, p);
    p += c.length;
  }
  return rawText(`{${entries.join(",")}}`, data);
}
