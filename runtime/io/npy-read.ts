// Reading .npy files (format versions 1.0, 2.0 and 3.0) without NumPy.
//
// Layout: the magic string "\x93NUMPY", a major and a minor version byte, the header length (u16le for
// version 1.0, u32le for 2.0 and 3.0), then the header: the text of a Python dict literal (npy-literal.ts)
// padded with spaces and a newline, then the raw elements.
//
// Accepts the numeric and bool dtypes of ndarray.ts in either byte order (big-endian data is swapped into
// host order) and Fortran-order arrays (transposed into C order). Every malformed input is reported as an
// NmcError naming the file, the byte offset (`path: "byte N"`), what was expected and what was found; the
// checks run in file order, so the first fault in the file is the one reported.
import { readFileSync } from "node:fs";
// binary-parser ships no declarations for its ESM build ("binary-parser" resolves to an untyped .mjs under
// NodeNext), so import its CommonJS build, which is typed; the runtime class is the same.
import { Parser } from "binary-parser/dist/binary_parser.js";
import { NmcError } from "../../ir/errors.js";
import { KIND_NAMES, LiteralParser, type PyValue } from "./npy-literal.js";
import { type NpyRecords, type RecordField, recordDescr } from "./npy-records.js";
import {
  type Ctx, type Descr, MAGIC, MAGIC_TEXT, SUPPORTED_DESCRS, err, escapeBytes, parseDescr, plural, shapeRepr, snippet, swapBytes,
} from "./npy-format.js";
import { type DType, type NdArray, type TypedArray, itemSize, ndarray, typedArrayOf } from "./ndarray.js";

/** Magic string and version: the first 8 bytes of every .npy file. */
const PREAMBLE = new Parser().buffer("magic", { length: 6 }).uint8("major").uint8("minor");
/** The header length that follows the preamble: u16le in version 1.0, u32le in 2.0 and 3.0. */
const HEADER_LENGTH_V1 = new Parser().uint16le("headerLength");
const HEADER_LENGTH_V2 = new Parser().uint32le("headerLength");

interface Preamble {
  magic: Uint8Array;
  major: number;
  minor: number;
}

/** Parses the bytes of a .npy file. `file` names the file in errors. */
export function parseNpy(bytes: Uint8Array, file?: string): NdArray {
  return parseNpyAny(bytes, file, false) as NdArray;
}

/** Parses the bytes of a .npy file holding either a plain array or a structured (record) array. */
export function parseNpyAny(bytes: Uint8Array, file?: string, allowRecords = true): NdArray | NpyRecords {
  const ctx: Ctx = { file };
  const { headerStart, dataStart, major } = readPreamble(bytes, ctx);
  const h = headerText(bytes.subarray(headerStart, dataStart), major, headerStart, dataStart, ctx);
  const fields = headerFields(h, ctx);
  const descrV = fields.get("descr")!;
  const { descr, record } = headerDescr(descrV, allowRecords, h, ctx);
  const fortranV = fields.get("fortran_order")!;
  if (fortranV.kind !== "bool") {
    throw err(ctx, h.at(fortranV), "the .npy header's 'fortran_order' is not a bool", "True or False", `${KIND_NAMES[fortranV.kind]} ${h.src(fortranV)}`);
  }
  const { shape, count } = headerShape(fields.get("shape")!, h, ctx);

  // data
  const len = bytes.length;
  const isz = record ? record.size : itemSize(descr.dtype);
  const have = len - dataStart;
  const what = `shape ${shapeRepr(shape)} of ${record ? "records" : (descrV as { value: string }).value} (${plural(count, "element")} × ${plural(isz, "byte")})`;
  checkDataLength(count * BigInt(isz), have, len, dataStart, what, ctx);
  const n = Number(count);
  if (record) {
    return { shape, count: n, itemSize: isz, fields: record.fields, data: bytes.slice(dataStart), dataStart };
  }
  // Always copy: the result owns aligned memory whatever the alignment of the input.
  const buffer = new ArrayBuffer(have);
  const view = new Uint8Array(buffer);
  view.set(bytes.subarray(dataStart));
  if (descr.swap) swapBytes(view, isz);
  if (descr.dtype === "b1") for (let i = 0; i < n; i++) view[i] = view[i] ? 1 : 0;
  let data = typedArrayOf(descr.dtype, buffer, 0, n);
  if (fortranV.value && shape.length > 1) data = fortranToC(data, shape, descr.dtype);
  return ndarray(descr.dtype, shape, data);
}

/** Reads a .npy file; errors name `path`. */
export function readNpy(path: string): NdArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code ?? String(e);
    throw new NmcError(`cannot read .npy file: ${code}`, { file: path, found: (e as Error)?.message });
  }
  return parseNpy(bytes, path);
}

// ---------------------------------------------------------------------------------------------------------
// The fixed part: magic string, version, header length

/** Checks the fixed part of the file; returns where the header text and the data start. */
function readPreamble(bytes: Uint8Array, ctx: Ctx): { major: number; headerStart: number; dataStart: number } {
  const len = bytes.length;
  // Magic string, checked on what is there so that a short file of some other format is called that.
  const head = bytes.subarray(0, Math.min(6, len));
  if (head.some((b, i) => b !== MAGIC[i])) {
    throw err(ctx, 0, "not a NumPy .npy file: bad magic string", MAGIC_TEXT, escapeBytes(head));
  }
  if (len < 8) {
    throw err(ctx, len, "file ends inside the fixed .npy header", "at least 8 bytes (magic string and version)", plural(len, "byte"));
  }
  const pre = readFixed<Preamble>(PREAMBLE, bytes.subarray(0, 8), ctx, 0);
  if (!(pre.major >= 1 && pre.major <= 3 && pre.minor === 0)) {
    throw err(ctx, 6, `unsupported .npy format version ${pre.major}.${pre.minor}`, "version 1.0, 2.0 or 3.0", `${pre.major}.${pre.minor}`);
  }
  const lengthBytes = pre.major === 1 ? 2 : 4;
  const headerStart = 8 + lengthBytes;
  if (len < headerStart) {
    throw err(
      ctx,
      len,
      "file ends inside the fixed .npy header",
      `at least ${headerStart} bytes (magic string, version ${pre.major}.0 and a ${lengthBytes}-byte header length)`,
      plural(len, "byte"),
    );
  }
  const { headerLength } = readFixed<{ headerLength: number }>(
    pre.major === 1 ? HEADER_LENGTH_V1 : HEADER_LENGTH_V2,
    bytes.subarray(8, headerStart),
    ctx,
    8,
  );
  const dataStart = headerStart + headerLength;
  if (dataStart > len) {
    throw err(
      ctx,
      8,
      "header length runs past the end of the file",
      `a header length of at most ${len - headerStart} bytes (the file has ${plural(len, "byte")})`,
      `header length ${headerLength}, ending at byte ${dataStart}`,
    );
  }
  return { major: pre.major, headerStart, dataStart };
}

function readFixed<T>(parser: { parse(b: Uint8Array): unknown }, bytes: Uint8Array, ctx: Ctx, offset: number): T {
  try {
    return parser.parse(bytes) as T;
  } catch (e) {
    // Lengths are checked before every parse, so this is not expected; keep the promise of NmcError anyway.
    throw err(ctx, offset, `cannot parse the fixed .npy header: ${(e as Error)?.message ?? String(e)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The header dict

/** The header's text, and how to name in errors the file byte of a character or of a parsed value. */
interface HeaderText {
  text: string;
  /** Byte offset in the file of the character at index i of the text. */
  byteAt: (i: number) => number;
  /** The file byte where `v` starts. */
  at: (v: PyValue) => number;
  /** `v`'s source text, quoted and shortened, for `found`. */
  src: (v: PyValue) => string;
  /** `v`'s source text, shortened, for messages. */
  lit: (v: PyValue) => string;
}

/** Decodes the header bytes: latin-1 in versions 1.0 and 2.0, UTF-8 in 3.0. */
function headerText(raw: Uint8Array, major: number, headerStart: number, dataStart: number, ctx: Ctx): HeaderText {
  let text: string;
  let byteAt: (i: number) => number;
  if (major < 3) {
    text = "";
    for (let i = 0; i < raw.length; i += 8192) text += String.fromCharCode(...raw.subarray(i, i + 8192));
    byteAt = (i) => headerStart + i;
  } else {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      throw err(ctx, headerStart, "the header of a version 3.0 .npy file is not valid UTF-8", "UTF-8 text", "invalid UTF-8 bytes");
    }
    const offsets = utf8Offsets(text, headerStart);
    byteAt = (i) => (i < offsets.length ? offsets[i]! : dataStart);
  }
  return {
    text,
    byteAt,
    at: (v) => byteAt(v.start),
    src: (v) => snippet(text.slice(v.start, v.end)),
    lit: (v) => {
      const t = text.slice(v.start, v.end);
      return t.length > 40 ? `${t.slice(0, 40)}...` : t;
    },
  };
}

/** The file byte of each UTF-16 code unit of `text`, UTF-8 encoded from byte `start`. */
function utf8Offsets(text: string, start: number): number[] {
  const offsets: number[] = [];
  let b = start;
  for (let i = 0; i < text.length; i++) {
    offsets.push(b);
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      offsets.push(b); // low surrogate of the same 4-byte character
      i++;
      b += 4;
    } else b += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
  }
  return offsets;
}

const DICT_EXAMPLE = "a dict like {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
const HEADER_KEYS = ["descr", "fortran_order", "shape"];

/** Parses the header dict; it must have exactly the keys 'descr', 'fortran_order' and 'shape'. */
function headerFields(h: HeaderText, ctx: Ctx): Map<string, PyValue> {
  const { at, src, lit } = h;
  const dict = new LiteralParser(h.text, h.byteAt, ctx).parseAll();
  if (dict.kind !== "dict") {
    throw err(ctx, at(dict), "the .npy header is not a dict", DICT_EXAMPLE, `${KIND_NAMES[dict.kind]} ${src(dict)}`);
  }
  const fields = new Map<string, PyValue>();
  for (const { key, value } of dict.entries) {
    if (key.kind !== "str") {
      throw err(ctx, at(key), "the .npy header has a key that is not a string", "'descr', 'fortran_order' or 'shape'", src(key));
    }
    if (!HEADER_KEYS.includes(key.value)) {
      throw err(ctx, at(key), `the .npy header has an unexpected key ${lit(key)}`, "only 'descr', 'fortran_order' and 'shape'", src(key));
    }
    if (fields.has(key.value)) {
      throw err(ctx, at(key), `the .npy header has the key ${lit(key)} twice`, "each key once", src(key));
    }
    fields.set(key.value, value);
  }
  const missing = HEADER_KEYS.filter((k) => !fields.has(k));
  if (missing.length > 0) {
    const have = [...fields.keys()].map((k) => `'${k}'`).join(", ");
    throw err(
      ctx,
      at(dict),
      `the .npy header is missing ${missing.map((k) => `'${k}'`).join(", ")}`,
      "keys 'descr', 'fortran_order' and 'shape'",
      have ? `keys ${have}` : "an empty dict",
    );
  }
  return fields;
}

/** The header's 'descr': a dtype string, or (when records are allowed) a list of record fields. */
function headerDescr(
  descrV: PyValue, allowRecords: boolean, h: HeaderText, ctx: Ctx,
): { descr: Descr; record?: { fields: RecordField[]; size: number } } {
  const { at, src, lit } = h;
  if (descrV.kind === "list") {
    if (!allowRecords) {
      throw err(ctx, at(descrV), "structured arrays are not supported yet", "a plain dtype such as '<f4'", `descr ${src(descrV)}`);
    }
    return { descr: { dtype: "u1", swap: false }, record: recordDescr(descrV, ctx, at, src) };
  }
  if (descrV.kind !== "str") {
    throw err(ctx, at(descrV), "the .npy header's 'descr' is not a dtype string", "a dtype string such as '<f4'", `${KIND_NAMES[descrV.kind]} ${src(descrV)}`);
  }
  const d = parseDescr(descrV.value);
  if (!d) {
    throw err(ctx, at(descrV), `unsupported dtype ${lit(descrV)}`, SUPPORTED_DESCRS, src(descrV));
  }
  return { descr: d };
}

/** The header's 'shape': a tuple of non-negative integers; `count` is their product. */
function headerShape(shapeV: PyValue, h: HeaderText, ctx: Ctx): { shape: number[]; count: bigint } {
  const { at, src } = h;
  if (shapeV.kind !== "tuple") {
    throw err(ctx, at(shapeV), "the .npy header's 'shape' is not a tuple", "a tuple of non-negative integers such as (2, 3)", `${KIND_NAMES[shapeV.kind]} ${src(shapeV)}`);
  }
  const shape: number[] = [];
  let count = 1n;
  shapeV.items.forEach((d, i) => {
    if (d.kind !== "int") {
      throw err(ctx, at(d), `shape entry ${i} is not an integer`, "a non-negative integer", `${KIND_NAMES[d.kind]} ${src(d)}`);
    }
    if (d.value < 0n) {
      throw err(ctx, at(d), `shape entry ${i} is negative`, "a non-negative integer", String(d.value));
    }
    if (d.value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw err(ctx, at(d), `shape entry ${i} is too large`, `at most ${Number.MAX_SAFE_INTEGER}`, String(d.value));
    }
    shape.push(Number(d.value));
    count *= d.value;
  });
  return { shape, count };
}

// ---------------------------------------------------------------------------------------------------------
// The data

/** The data section must hold exactly `need` bytes; `what` describes the array for the message. */
function checkDataLength(need: bigint, have: number, len: number, dataStart: number, what: string, ctx: Ctx): void {
  if (BigInt(have) < need) {
    throw err(
      ctx,
      len,
      `data section is shorter than ${what} requires; data starts at byte ${dataStart}`,
      `${need} bytes of data`,
      `${have} bytes`,
      "the file is probably truncated",
    );
  }
  if (BigInt(have) > need) {
    throw err(
      ctx,
      dataStart + Number(need),
      `data section is longer than ${what} requires; data starts at byte ${dataStart}`,
      `${need} bytes of data`,
      `${have} bytes`,
    );
  }
}

type Indexable = { [i: number]: number | bigint; length: number };

/** Reorders elements stored in Fortran (column-major) order into C (row-major) order. */
function fortranToC(src: TypedArray, shape: readonly number[], dtype: DType): TypedArray {
  const n = src.length;
  const dst = typedArrayOf(dtype, new ArrayBuffer(n * itemSize(dtype)), 0, n);
  if (n === 0) return dst;
  const nd = shape.length;
  const stride: number[] = [];
  let s = 1;
  for (let k = 0; k < nd; k++) {
    stride.push(s);
    s *= shape[k]!;
  }
  const idx = new Array<number>(nd).fill(0);
  const from = src as unknown as Indexable;
  const to = dst as unknown as Indexable;
  let off = 0;
  for (let i = 0; i < n; i++) {
    to[i] = from[off]!;
    for (let k = nd - 1; k >= 0; k--) {
      idx[k]!++;
      off += stride[k]!;
      if (idx[k]! < shape[k]!) break;
      off -= stride[k]! * shape[k]!;
      idx[k] = 0;
    }
  }
  return dst;
}
