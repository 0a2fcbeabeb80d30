// NumPy .npz files: a zip archive of .npy members, as np.savez (stored) and np.savez_compressed (deflated)
// write them. The zip structure is read from its central directory (end-of-central-directory record, with the
// zip64 variants NumPy's `force_zip64` can produce); members are inflated with node:zlib and their CRC-32
// checked. Every malformed archive is an NmcError naming the file, the member and the byte offset.

import { readFileSync } from "node:fs";
import { crc32, inflateRawSync } from "node:zlib";
import { NmcError } from "../../ir/errors.js";
import type { NdArray } from "./ndarray.js";
import { parseNpyAny, type NpyRecords } from "./npy.js";

const EOCD_SIG = 0x06054b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

/** One member of the archive, as its central directory describes it. */
export interface NpzEntry {
  /** The member's name in the archive, e.g. "x.npy". */
  name: string;
  /** The array's name: the member's name without ".npy" (what np.load(...)[key] uses). */
  key: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
  /** Byte offset of the member's central directory record. */
  centralOffset: number;
}

function fail(file: string | undefined, offset: number, message: string, expected?: string, found?: string, member?: string, hint?: string): NmcError {
  return new NmcError(member !== undefined ? `${message} (member ${JSON.stringify(member)})` : message, {
    file, path: `byte ${offset}`, expected, found, hint
  });
}

/** The members of a zip archive, in central directory order. */
export function listNpz(bytes: Uint8Array, file?: string): NpzEntry[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.length;
  if (len < 4 || dv.getUint32(0, true) !== LOCAL_SIG) {
    if (len >= 4 && dv.getUint32(0, true) === EOCD_SIG) return []; // an empty archive
    throw fail(file, 0, "not a .npz file: no zip signature", '"PK\\x03\\x04"', len < 4 ? `${len} bytes` : JSON.stringify(Buffer.from(bytes.subarray(0, 4)).toString("latin1")));
  }
  // The end-of-central-directory record: 22 bytes plus a comment of at most 65535 bytes, at the very end.
  let eocd = -1;
  for (let i = len - 22; i >= Math.max(0, len - 22 - 0xffff); i--) {
    if (dv.getUint32(i, true) === EOCD_SIG && i + 22 + dv.getUint16(i + 20, true) === len) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    throw fail(file, len, "zip end-of-central-directory record not found", "a complete zip archive", `${len} bytes without one`, undefined, "the file is probably truncated");
  }
  let entries = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  if (entries === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== ZIP64_LOCATOR_SIG) {
      throw fail(file, Math.max(0, loc), "zip64 end-of-central-directory locator missing", "a zip64 locator", "other bytes");
    }
    const z = Number(dv.getBigUint64(loc + 8, true));
    if (z + 56 > len || dv.getUint32(z, true) !== ZIP64_EOCD_SIG) {
      throw fail(file, loc + 8, "bad zip64 end-of-central-directory offset", `an offset below ${len - 56}`, String(z));
    }
    entries = Number(dv.getBigUint64(z + 32, true));
    cdSize = Number(dv.getBigUint64(z + 40, true));
    cdOffset = Number(dv.getBigUint64(z + 48, true));
  }
  if (cdOffset + cdSize > len) {
    throw fail(file, eocd + 16, "zip central directory runs past the end of the file", `offset + size ≤ ${len}`, `offset ${cdOffset}, size ${cdSize}`);
  }
  const out: NpzEntry[] = [];
  let p = cdOffset;
  for (let k = 0; k < entries; k++) {
    if (p + 46 > len || dv.getUint32(p, true) !== CENTRAL_SIG) {
      throw fail(file, p, `bad zip central directory record ${k}`, "signature PK\\x01\\x02", p + 4 > len ? "the end of the file" : `0x${dv.getUint32(p, true).toString(16)}`);
    }
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    const crc = dv.getUint32(p + 16, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localOffset = dv.getUint32(p + 42, true);
    if (p + 46 + nameLen + extraLen + commentLen > len) throw fail(file, p, `zip central directory record ${k} runs past the end of the file`);
    const name = new TextDecoder().decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // zip64 extended information: the 64-bit values of the fields that hold 0xffffffff, in this order.
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    while (e + 4 <= eEnd) {
      const id = dv.getUint16(e, true), sz = dv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        const next = () => {
          if (q + 8 > e + 4 + sz) throw fail(file, q, "zip64 extra field too short", "8 more bytes", `${e + 4 + sz - q}`, name);
          const v = Number(dv.getBigUint64(q, true));
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localOffset === 0xffffffff) localOffset = next();
      }
      e += 4 + sz;
    }
    out.push({ name, key: name.endsWith(".npy") ? name.slice(0, -4) : name, method, flags, crc, compressedSize, size, localOffset, centralOffset: p });
    p = eEnd + commentLen;
  }
  return out;
}

/** The uncompressed bytes of one member, CRC-checked. */
export function memberBytes(bytes: Uint8Array, entry: NpzEntry, file?: string): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = bytes.length;
  const lo = entry.localOffset;
  if (lo + 30 > len || dv.getUint32(lo, true) !== LOCAL_SIG) {
    throw fail(file, lo, "bad zip local file header", "signature PK\\x03\\x04", lo + 4 > len ? "the end of the file" : `0x${dv.getUint32(lo, true).toString(16)}`, entry.name);
  }
  if (entry.flags & 1) throw fail(file, lo + 6, "encrypted zip members are not supported", "an unencrypted member", "the encryption flag", entry.name);
  const start = lo + 30 + dv.getUint16(lo + 26, true) + dv.getUint16(lo + 28, true);
  if (start + entry.compressedSize > len) {
    throw fail(file, len, "zip member data runs past the end of the file", `${entry.compressedSize} bytes from byte ${start}`, `${Math.max(0, len - start)} bytes`, entry.name, "the file is probably truncated");
  }
  const raw = bytes.subarray(start, start + entry.compressedSize);
  let data: Uint8Array;
  if (entry.method === 0) data = raw;
  else if (entry.method === 8) {
    try {
      data = inflateRawSync(raw);
    } catch (e) {
      throw fail(file, start, `cannot inflate zip member: ${(e as Error)?.message ?? String(e)}`, "valid deflate data", "corrupt data", entry.name);
    }
  } else {
    throw fail(file, lo + 8, `unsupported zip compression method ${entry.method}`, "0 (stored) or 8 (deflated)", String(entry.method), entry.name);
  }
  if (data.length !== entry.size) {
    throw fail(file, start, "zip member has the wrong uncompressed size", `${entry.size} bytes`, `${data.length} bytes`, entry.name);
  }
  const crc = crc32(data) >>> 0;
  if (crc !== entry.crc >>> 0) {
    throw fail(file, start, "zip member fails its CRC-32 check", `0x${(entry.crc >>> 0).toString(16).padStart(8, "0")}`, `0x${crc.toString(16).padStart(8, "0")}`, entry.name, "the file is corrupt");
  }
  return data;
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code ?? String(e);
    throw new NmcError(`cannot read .npz file: ${code}`, { file: path, found: (e as Error)?.message });
  }
}

/** Parses one member as .npy, errors naming the archive, the member and the byte offset inside the member. */
function parseMember(bytes: Uint8Array, entry: NpzEntry, file: string | undefined, allowRecords: boolean): NdArray | NpyRecords {
  const data = memberBytes(bytes, entry, file);
  try {
    return parseNpyAny(data, undefined, allowRecords);
  } catch (e) {
    if (e instanceof NmcError) {
      // The byte offset is inside the (uncompressed) member.
      const where = `member ${JSON.stringify(entry.name)}`;
      throw new NmcError(e.message, { ...e.fields(), file, path: e.path ? `${where}: ${e.path}` : where });
    }
    throw e;
  }
}

/** Every array of a .npz file, by key (member name without ".npy"), in archive order. */
export function readNpz(path: string): Map<string, NdArray> {
  const bytes = readBytes(path);
  const out = new Map<string, NdArray>();
  for (const entry of listNpz(bytes, path)) out.set(entry.key, parseMember(bytes, entry, path, false) as NdArray);
  return out;
}

/**
 * One member of a .npz file: `member` by key or full name; without it the member keyed "x", else the first.
 * Structured (record) members come back as NpyRecords.
 */
export function readNpzMember(path: string, member?: string): { key: string; array: NdArray | NpyRecords } {
  const bytes = readBytes(path);
  const entries = listNpz(bytes, path);
  if (entries.length === 0) throw new NmcError(".npz file has no arrays", { file: path, expected: "at least one .npy member", found: "an empty archive" });
  const keys = entries.map((e) => e.key).join(", ");
  let entry: NpzEntry | undefined;
  if (member !== undefined) {
    entry = entries.find((e) => e.key === member) ?? entries.find((e) => e.name === member);
    if (!entry) throw new NmcError(`.npz file has no array ${JSON.stringify(member)}`, { file: path, expected: `one of ${keys}`, found: member });
  } else {
    entry = entries.find((e) => e.key === "x") ?? entries[0]!;
  }
  return { key: entry.key, array: parseMember(bytes, entry, path, true) };
}
