// Reading .safetensors files (https://github.com/huggingface/safetensors), the format PyTorch users export
// weights in (`safetensors.torch.save_file(model.state_dict(), "m.safetensors")`). No npm package reads local
// safetensors files and is kept up (checked: `safetensors` on npm is a 0.0.1 stub; @huggingface/hub parses
// hub metadata over HTTP), so this is a small strict reader.
//
// Layout: u64le N, then N bytes of UTF-8 JSON (`{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets":
// [begin, end]}, ..., "__metadata__": {"k": "v"}}`, possibly padded with spaces), then the data section, where
// each tensor's bytes lie at [begin, end) relative to the section's start, little-endian, in C order.
//
// The checks are the ones safetensors' own loader makes (safetensors/src/tensor.rs, `validate`): the header
// fits the file and is at most 100 MB; it is a JSON object starting with `{`; the tensors, sorted by offset,
// tile the data section exactly (each begins where the previous ended, the last ends at the end of the file:
// no gaps, no overlaps, no trailing bytes); each covers exactly shape × dtype size bytes. Every failure is an
// NmcError naming the file, the byte offset and, where there is one, the tensor.
//
// Float tensors are decoded: F32, F16 and BF16 into float32 (exactly), F64 into float64. Other dtypes the
// format defines are refused by name.
import { readFileSync } from "node:fs";
import { NmcError } from "../../ir/errors.js";
import { HOST_LITTLE_ENDIAN, type NdArray, ndarray } from "./ndarray.js";
import { swapBytes } from "./npy-format.js";

export type SafetensorsDtype = "F64" | "F32" | "F16" | "BF16";

const FLOAT_SIZES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };
/** The other dtypes of the format (safetensors/src/tensor.rs `Dtype`): known, but not weights nmc reads. */
const OTHER_DTYPES = ["BOOL", "U8", "I8", "I16", "U16", "I32", "U32", "I64", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64"];
/** safetensors' own limit on the header (MAX_HEADER_SIZE). */
export const MAX_HEADER_BYTES = 100_000_000;
const ENTRY_KEYS = ["dtype", "shape", "data_offsets"];

export interface SafetensorsTensor {
  name: string;
  /** The dtype in the file. */
  dtype: SafetensorsDtype;
  /** The values: f4 for F32/F16/BF16 (exact), f8 for F64. */
  array: NdArray;
  /** Absolute byte range of the data in the file. */
  begin: number;
  end: number;
}

export interface Safetensors {
  /** In header order. */
  tensors: Map<string, SafetensorsTensor>;
  /** The `__metadata__` string map, if any. */
  metadata?: Record<string, string>;
  /** Absolute offset of the data section (8 + header length). */
  dataStart: number;
}

function fail(file: string | undefined, offset: number, message: string, expected?: string, found?: string, hint?: string): NmcError {
  return new NmcError(message, { file, path: `byte ${offset}`, expected, found, hint });
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const show = (v: unknown) => {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
};

/** The JSON header's text, parsed; syntax errors name the byte in the file. */
function parseHeader(bytes: Uint8Array, n: number, file: string | undefined): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw fail(file, 8, "the safetensors header is not valid UTF-8", "a UTF-8 JSON object", `${n} bytes that do not decode`);
  }
  if (!text.startsWith("{")) {
    throw fail(file, 8, "the safetensors header does not start with '{'", "a JSON object", show(text.slice(0, 20)));
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const m = /position (\d+)/.exec(String((e as Error)?.message ?? e));
    const at = m ? 8 + new TextEncoder().encode(text.slice(0, Number(m[1]))).length : 8;
    throw fail(file, at, "the safetensors header is not valid JSON", "a JSON object", String((e as Error)?.message ?? e).split("\n")[0]);
  }
  if (!isObject(json)) throw fail(file, 8, "the safetensors header is not a JSON object", "an object of tensors", Array.isArray(json) ? "an array" : show(json));
  return json;
}

interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseEntry(name: string, v: unknown, file: string | undefined): Entry {
  const bad = (what: string, expected: string, found: unknown) =>
    fail(file, 8, `tensor ${JSON.stringify(name)} in the safetensors header: ${what}`, expected, show(found));
  if (!isObject(v)) throw bad("not an object", "{dtype, shape, data_offsets}", v);
  for (const k of Object.keys(v)) {
    if (!ENTRY_KEYS.includes(k)) throw bad(`unknown field ${JSON.stringify(k)}`, `only ${ENTRY_KEYS.join(", ")}`, k);
  }
  for (const k of ENTRY_KEYS) if (!(k in v)) throw bad(`no ${k}`, `a ${k} field`, "none");
  const dtype = v.dtype;
  if (typeof dtype !== "string" || !Object.hasOwn(FLOAT_SIZES, dtype)) {
    const known = typeof dtype === "string" && OTHER_DTYPES.includes(dtype);
    throw bad(known ? `dtype ${dtype} is not a float type; EvNN's weights are F32, F16, BF16 or F64` : "unknown dtype", "F32, F16, BF16 or F64", dtype);
  }
  const shape = v.shape;
  if (!Array.isArray(shape) || !shape.every(isCount)) throw bad("shape is not a list of non-negative integers", "e.g. [128, 384]", shape);
  const off = v.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every(isCount)) throw bad("data_offsets is not [begin, end]", "two non-negative integers", off);
  const [begin, end] = off as [number, number];
  if (end < begin) throw bad("data_offsets end before they begin", "begin ≤ end", off);
  return { name, dtype: dtype as SafetensorsDtype, shape: shape as number[], begin, end };
}

/** IEEE half → number (exact). */
function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function decode(bytes: Uint8Array, e: Entry, dataStart: number): NdArray {
  const n = e.shape.reduce((a, b) => a * b, 1);
  const raw = new Uint8Array(e.end - e.begin); // a copy: aligned, and owned by the result
  raw.set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
  const width = FLOAT_SIZES[e.dtype];
  if (!HOST_LITTLE_ENDIAN) swapBytes(raw, width);
  switch (e.dtype) {
    case "F64":
      return ndarray("f8", e.shape, new Float64Array(raw.buffer, 0, n));
    case "F32":
      return ndarray("f4", e.shape, new Float32Array(raw.buffer, 0, n));
    case "F16": {
      const h = new Uint16Array(raw.buffer, 0, n);
      return ndarray("f4", e.shape, Float32Array.from(h, halfToNumber));
    }
    case "BF16": {
      // bfloat16 is the top half of a float32
      const h = new Uint16Array(raw.buffer, 0, n);
      const u = Uint32Array.from(h, (x) => x << 16);
      return ndarray("f4", e.shape, new Float32Array(u.buffer));
    }
  }
}

/** Parses the bytes of a .safetensors file. `file` names the file in errors. */
export function parseSafetensors(bytes: Uint8Array, file?: string): Safetensors {
  const len = bytes.length;
  if (len < 8) throw fail(file, 0, "not a safetensors file: shorter than its 8-byte header length", "at least 8 bytes", `${len} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) {
    throw fail(file, 0, "the safetensors header length is too large", `at most ${MAX_HEADER_BYTES} bytes (and at most the ${len - 8} bytes after it)`, `${n64}`,
      n64 > BigInt(len) ? "the file is probably not a safetensors file" : undefined);
  }
  const n = Number(n64);
  if (8 + n > len) {
    throw fail(file, 0, "the safetensors header runs past the end of the file", `a header of at most ${len - 8} bytes`, `header length ${n}`, "the file is probably truncated");
  }
  if (n < 2) throw fail(file, 0, "the safetensors header is too short", "a JSON object of at least 2 bytes", `header length ${n}`);
  const json = parseHeader(bytes, n, file);
  const dataStart = 8 + n;
  let metadata: Record<string, string> | undefined;
  const entries: Entry[] = [];
  for (const [name, v] of Object.entries(json)) {
    if (name === "__metadata__") {
      if (!isObject(v) || !Object.values(v).every((x) => typeof x === "string")) {
        throw fail(file, 8, "the safetensors __metadata__ is not a map of strings", 'e.g. {"format": "pt"}', show(v));
      }
      metadata = v as Record<string, string>;
      continue;
    }
    entries.push(parseEntry(name, v, file));
  }
  // The tensors, in offset order, must tile the data section exactly.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  const dataLen = len - dataStart;
  let at = 0;
  let prev: Entry | undefined;
  for (const e of sorted) {
    if (e.begin !== at) {
      const what = e.begin < at ? `overlaps tensor ${JSON.stringify(prev!.name)}, which ends at ${at}` : `leaves a gap of ${e.begin - at} bytes after ${prev ? `tensor ${JSON.stringify(prev.name)}` : "the header"}`;
      throw fail(file, dataStart + Math.min(e.begin, dataLen), `tensor ${JSON.stringify(e.name)}: data_offsets [${e.begin}, ${e.end}] ${what}`,
        `data_offsets beginning at ${at}`, `${e.begin}`);
    }
    if (e.end > dataLen) {
      throw fail(file, dataStart + e.begin, `tensor ${JSON.stringify(e.name)}: data_offsets [${e.begin}, ${e.end}] run past the end of the file`,
        `an end of at most ${dataLen} (the data section's length)`, `${e.end}`, "the file is probably truncated");
    }
    const want = e.shape.reduce((a, d) => a * BigInt(d), 1n) * BigInt(FLOAT_SIZES[e.dtype]);
    if (want !== BigInt(e.end - e.begin)) {
      throw fail(file, dataStart + e.begin, `tensor ${JSON.stringify(e.name)}: ${e.end - e.begin} bytes of data for shape [${e.shape.join(", ")}] of ${e.dtype}`,
        `${want} bytes (elements × ${FLOAT_SIZES[e.dtype]})`, `${e.end - e.begin} bytes`);
    }
    at = e.end;
    prev = e;
  }
  if (at !== dataLen) {
    throw fail(file, dataStart + at, at < dataLen ? `${dataLen - at} bytes after the last tensor's data` : "the data section is shorter than its tensors",
      `the file to end at byte ${dataStart + at}`, `${len} bytes`);
  }
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    tensors.set(e.name, { name: e.name, dtype: e.dtype, array: decode(bytes, e, dataStart), begin: dataStart + e.begin, end: dataStart + e.end });
  }
  return { tensors, metadata, dataStart };
}

/** Reads a .safetensors file; errors name `path`. */
export function readSafetensors(path: string): Safetensors {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code ?? String(e);
    throw new NmcError(code === "ENOENT" ? "cannot read the checkpoint: no such file" : `cannot read the checkpoint (${code})`, { file: path });
  }
  return parseSafetensors(bytes, path);
}
