// A deliberately tiny .npy reader/writer for the tests, written from the NumPy format description
// (numpy/lib/format.py docstring: magic "\x93NUMPY", version, little-endian header length, a Python dict
// literal header padded with spaces to a multiple of 64 bytes and ended by "\n"). It shares no code with
// runtime/io so that a bug in the project's reader cannot hide behind the same bug in the test's writer.
import { readFileSync, writeFileSync } from "node:fs";

export interface NpyArray {
  /** "<f4" or "<f8" (big-endian ">f4"/">f8" are read too). */
  descr: string;
  shape: number[];
  /** Values widened to float64, C order. */
  data: Float64Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93 N U M P Y

function shapeLiteral(shape: readonly number[]): string {
  if (shape.length === 0) return "()";
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(", ")})`;
}

/** Encodes float32 little-endian .npy (version 1.0) bytes. `values` are rounded to float32. */
export function encodeNpyF32(values: ArrayLike<number>, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== values.length) {
    throw new Error(`npy-lite: ${values.length} values do not fill shape [${shape.join(", ")}]`);
  }
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeLiteral(shape)}, }`;
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1;
  header += " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  const headerBytes = Buffer.from(header, "latin1");
  const out = new Uint8Array(MAGIC.length + 4 + headerBytes.length + 4 * count);
  out.set(MAGIC, 0);
  out[6] = 1; // major version
  out[7] = 0; // minor version
  new DataView(out.buffer).setUint16(8, headerBytes.length, true);
  out.set(headerBytes, 10);
  const view = new DataView(out.buffer, 10 + headerBytes.length);
  for (let i = 0; i < count; i++) view.setFloat32(4 * i, values[i]!, true);
  return out;
}

export function writeNpyF32(path: string, values: ArrayLike<number>, shape: readonly number[]): void {
  writeFileSync(path, encodeNpyF32(values, shape));
}

/** Decodes a float32 or float64 .npy (versions 1.x, 2.x, 3.x). Throws on anything else. */
export function decodeNpy(bytes: Uint8Array): NpyArray {
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new Error("npy-lite: not a .npy file (bad magic)");
  }
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = dv.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    headerLen = dv.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new Error(`npy-lite: unsupported .npy version ${major}`);
  }
  const header = Buffer.from(bytes.subarray(headerStart, headerStart + headerLen)).toString("latin1");
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`npy-lite: malformed header ${JSON.stringify(header)}`);
  }
  if (fortran === "True") throw new Error("npy-lite: fortran_order arrays are not supported");
  const shape = shapeText
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => Number.parseInt(s, 10));
  const count = shape.reduce((a, b) => a * b, 1);
  const little = descr[0] === "<" || descr[0] === "|";
  const kind = descr.slice(1);
  const width = kind === "f4" ? 4 : kind === "f8" ? 8 : 0;
  if (width === 0) throw new Error(`npy-lite: unsupported dtype ${descr}`);
  const dataStart = headerStart + headerLen;
  if (bytes.byteLength - dataStart !== width * count) {
    throw new Error(
      `npy-lite: data is ${bytes.byteLength - dataStart} bytes, shape [${shape.join(", ")}] of ${descr} needs ${width * count}`,
    );
  }
  const data = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const at = dataStart + width * i;
    data[i] = width === 4 ? dv.getFloat32(at, little) : dv.getFloat64(at, little);
  }
  return { descr, shape, data };
}

export function readNpy(path: string): NpyArray {
  return decodeNpy(new Uint8Array(readFileSync(path)));
}
