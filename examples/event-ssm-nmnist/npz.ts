// A minimal .npz writer (a zip archive of .npy members, stored uncompressed) for the example's outputs: the
// Flax parameters `nmc import event-ssm` reads and the event-time input batches `nmc run` reads. Only
// little-endian float32 and int32 arrays, in C order (the .npy format, version 1.0:
// numpy.org/doc/stable/reference/generated/numpy.lib.format.html).
import { writeFileSync } from "node:fs";
import { crc32 } from "node:zlib";

export interface NpzArray {
  key: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** One .npy file's bytes. */
export function npyBytes(a: NpzArray): Uint8Array {
  const descr = a.data instanceof Float32Array ? "<f4" : "<i4";
  const n = a.shape.reduce((x, y) => x * y, 1);
  if (n !== a.data.length) throw new Error(`${a.key}: shape [${a.shape}] holds ${n} elements, the data ${a.data.length}`);
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + a.data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0); // \x93NUMPY v1.0
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength), 10 + header.length);
  return out;
}

/** The .npz archive of `arrays` (zip, method 0 = stored, no zip64). */
export function npzBytes(arrays: NpzArray[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const a of arrays) {
    const name = new TextEncoder().encode(`${a.key}.npy`);
    const data = npyBytes(a);
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
  const all = [...parts, ...central, end];
  const out = new Uint8Array(all.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of all) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function writeNpz(path: string, arrays: NpzArray[]): void {
  writeFileSync(path, npzBytes(arrays));
}
