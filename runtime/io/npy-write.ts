// Writing .npy files: exactly the bytes NumPy's np.save writes for a C-order little-endian array
// (version 1.0, or 2.0 when the header would not fit a u16 length).
import { crc32 } from "node:zlib";
import { writeFileAtomic } from "../../ir/files.js";
import { MAGIC, descrOf, shapeRepr, swapBytes } from "./npy-format.js";
import { type NdArray, HOST_LITTLE_ENDIAN, itemSize, ndarray } from "./ndarray.js";

const ARRAY_ALIGN = 64;
const GROWTH_AXIS_MAX_DIGITS = 21; // NumPy leaves this much room after the header so shapes can grow in place

/** The bytes of a .npy file holding `a`: version 1.0 (2.0 only if the header would not fit), C order, '<'. */
export function encodeNpy(a: NdArray): Uint8Array {
  const arr = ndarray(a.dtype, a.shape, a.data); // validates dtype, shape and data
  const shape = arr.shape;
  let header = `{'descr': '${descrOf(arr.dtype)}', 'fortran_order': False, 'shape': ${shapeRepr(shape)}, }`;
  if (shape.length > 0) header += " ".repeat(Math.max(0, GROWTH_AXIS_MAX_DIGITS - String(shape[0]).length));
  const hlen = header.length + 1; // + the final newline
  let lengthBytes = 2;
  let padlen = ARRAY_ALIGN - ((6 + 2 + 2 + hlen) % ARRAY_ALIGN);
  if (hlen + padlen > 0xffff) {
    lengthBytes = 4;
    padlen = ARRAY_ALIGN - ((6 + 2 + 4 + hlen) % ARRAY_ALIGN);
  }
  header += " ".repeat(padlen) + "\n";
  const dataStart = 8 + lengthBytes + header.length;
  const src = new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  const out = new Uint8Array(dataStart + src.length);
  out.set(MAGIC, 0);
  out[6] = lengthBytes === 2 ? 1 : 2;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (lengthBytes === 2) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[8 + lengthBytes + i] = header.charCodeAt(i);
  const body = out.subarray(dataStart);
  body.set(src);
  if (arr.dtype === "b1") for (let i = 0; i < body.length; i++) body[i] = body[i] ? 1 : 0;
  if (!HOST_LITTLE_ENDIAN && itemSize(arr.dtype) > 1) swapBytes(body, itemSize(arr.dtype));
  return out;
}

/** Writes `a` to `path` atomically: the bytes go to a temporary file in the same directory, which is renamed. */
export function writeNpy(path: string, a: NdArray): void {
  const bytes = encodeNpy(a);
  writeFileAtomic(path, bytes, ".npy file");
}

/**
 * The bytes of an .npz archive of `arrays` (name → array, each stored as `name.npy` by encodeNpy), as np.savez
 * writes it: a zip of stored (uncompressed) members, no zip64. runtime/io/npz.ts reads it back.
 */
export function encodeNpz(arrays: readonly (readonly [string, NdArray])[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [key, a] of arrays) {
    const name = new TextEncoder().encode(`${key}.npy`);
    const data = encodeNpy(a);
    const crc = crc32(data) >>> 0;
    const local = new Uint8Array(30 + name.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 20, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, data.length, true);
    lv.setUint32(22, data.length, true);
    lv.setUint16(26, name.length, true);
    local.set(name, 30);
    const dir = new Uint8Array(46 + name.length);
    const dv = new DataView(dir.buffer);
    dv.setUint32(0, 0x02014b50, true);
    dv.setUint16(4, 20, true);
    dv.setUint16(6, 20, true);
    dv.setUint32(16, crc, true);
    dv.setUint32(20, data.length, true);
    dv.setUint32(24, data.length, true);
    dv.setUint16(28, name.length, true);
    dv.setUint32(42, offset, true);
    dir.set(name, 46);
    parts.push(local, data);
    central.push(dir);
    offset += local.length + data.length;
  }
  const dirSize = central.reduce((s, c) => s + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, arrays.length, true);
  ev.setUint16(10, arrays.length, true);
  ev.setUint32(12, dirSize, true);
  ev.setUint32(16, offset, true);
  const out = new Uint8Array([...parts, ...central, end].reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of [...parts, ...central, end]) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Writes an .npz of `arrays` to `path` atomically. */
export function writeNpz(path: string, arrays: readonly (readonly [string, NdArray])[]): void {
  writeFileAtomic(path, encodeNpz(arrays), ".npz file");
}
