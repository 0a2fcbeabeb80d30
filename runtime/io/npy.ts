// NumPy .npy files (format versions 1.0, 2.0 and 3.0), read and written without NumPy.
//
// Layout: the magic string "\x93NUMPY", a major and a minor version byte, the header length (u16le for
// version 1.0, u32le for 2.0 and 3.0), then the header: the text of a Python dict literal such as
// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with spaces and a newline, then the
// raw elements. See https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html.
//
// Reading accepts the numeric and bool dtypes of ndarray.ts in either byte order (big-endian data is swapped
// into host order) and Fortran-order arrays (transposed into C order). Every malformed input is reported as an
// NmcError naming the file, the byte offset (`path: "byte N"`), what was expected and what was found.
// Writing produces exactly what NumPy's np.save writes for a C-order little-endian array.

import { readFileSync } from "node:fs";
// binary-parser ships no declarations for its ESM build ("binary-parser" resolves to an untyped .mjs under
// NodeNext), so import its CommonJS build, which is typed; the runtime class is the same.
import { Parser } from "binary-parser/dist/binary_parser.js";
import { NmcError } from "../../ir/errors.js";
import { writeFileAtomic } from "../../ir/files.js";
import { type DType, type NdArray, type TypedArray, DTYPES, HOST_LITTLE_ENDIAN, itemSize, ndarray, typedArrayOf } from "./ndarray.js";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const MAGIC_TEXT = "\\x93NUMPY";
const ARRAY_ALIGN = 64;
const GROWTH_AXIS_MAX_DIGITS = 21; // NumPy leaves this much room after the header so shapes can grow in place
const MAX_NESTING = 32;


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

// ---------------------------------------------------------------------------------------------------------
// Errors

interface Ctx {
  file?: string;
}

function err(ctx: Ctx, offset: number, message: string, expected?: string, found?: string, hint?: string): NmcError {
  return new NmcError(message, { file: ctx.file, path: `byte ${offset}`, expected, found, hint });
}

function escapeBytes(b: Uint8Array): string {
  let s = "";
  for (const x of b) {
    s += x >= 0x20 && x < 0x7f && x !== 0x5c && x !== 0x22 ? String.fromCharCode(x) : `\\x${x.toString(16).padStart(2, "0")}`;
  }
  return `"${s}"`;
}

function snippet(text: string, max = 60): string {
  const t = text.length > max ? `${text.slice(0, max)}...` : text;
  return JSON.stringify(t);
}

function plural(n: number | bigint, word: string): string {
  return `${n} ${word}${n === 1 || n === 1n ? "" : "s"}`;
}

// ---------------------------------------------------------------------------------------------------------
// The header dict: a strict parser for the Python literals NumPy writes (no eval).

type PyValue =
  | { kind: "str"; value: string; start: number; end: number }
  | { kind: "int"; value: bigint; start: number; end: number }
  | { kind: "float"; value: number; start: number; end: number }
  | { kind: "bool"; value: boolean; start: number; end: number }
  | { kind: "none"; start: number; end: number }
  | { kind: "tuple"; items: PyValue[]; start: number; end: number }
  | { kind: "list"; items: PyValue[]; start: number; end: number }
  | { kind: "dict"; entries: { key: PyValue; value: PyValue }[]; start: number; end: number };

const KIND_NAMES: Record<PyValue["kind"], string> = {
  str: "a string",
  int: "an integer",
  float: "a float",
  bool: "a bool",
  none: "None",
  tuple: "a tuple",
  list: "a list",
  dict: "a dict",
};

class LiteralParser {
  private pos = 0;

  constructor(
    private readonly text: string,
    /** Byte offset in the file of the character at index i of the text. */
    private readonly byteAt: (i: number) => number,
    private readonly ctx: Ctx,
  ) {}

  parseAll(): PyValue {
    this.ws();
    const v = this.value(0);
    this.ws();
    if (this.pos < this.text.length) {
      throw this.fail("unexpected text after the header dict", "the end of the header", this.here());
    }
    return v;
  }

  private fail(message: string, expected: string, found: string, at = this.pos): NmcError {
    return err(this.ctx, this.byteAt(at), `malformed .npy header: ${message}`, expected, found);
  }

  private here(): string {
    if (this.pos >= this.text.length) return "the end of the header";
    return snippet(this.text.slice(this.pos, this.pos + 20), 20);
  }

  private ws(): void {
    while (this.pos < this.text.length && " \t\n\r\f\v".includes(this.text[this.pos]!)) this.pos++;
  }

  private value(depth: number): PyValue {
    if (depth > MAX_NESTING) {
      throw this.fail("too deeply nested", `at most ${MAX_NESTING} levels of brackets`, "deeper nesting");
    }
    const c = this.text[this.pos];
    if (c === undefined) throw this.fail("header ends where a value was expected", "a value", "the end of the header");
    if (c === "'" || c === '"') return this.string();
    if (c === "(") return this.sequence("tuple", ")", depth);
    if (c === "[") return this.sequence("list", "]", depth);
    if (c === "{") return this.dict(depth);
    if (/[0-9.+-]/.test(c)) return this.number();
    if (/[A-Za-z_]/.test(c)) return this.name();
    throw this.fail(`unexpected character ${JSON.stringify(c)}`, "a value", this.here());
  }

  private string(): PyValue {
    const start = this.pos;
    const quote = this.text[this.pos++]!;
    let out = "";
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === "\n") {
        throw this.fail("unterminated string", `a closing ${quote}`, c === undefined ? "the end of the header" : "a newline", start);
      }
      this.pos++;
      if (c === quote) break;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.text[this.pos];
      if (e === undefined) continue; // reported as unterminated on the next iteration
      const simple: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', n: "\n", t: "\t", r: "\r", "0": "\0" };
      if (e in simple) {
        out += simple[e];
        this.pos++;
      } else if (e === "x" || e === "u") {
        const n = e === "x" ? 2 : 4;
        const hex = this.text.slice(this.pos + 1, this.pos + 1 + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) {
          throw this.fail(`bad \\${e} escape in string`, `${n} hex digits`, snippet(hex), this.pos - 1);
        }
        out += String.fromCharCode(parseInt(hex, 16));
        this.pos += 1 + n;
      } else {
        out += "\\"; // Python keeps unknown escapes verbatim
      }
    }
    return { kind: "str", value: out, start, end: this.pos };
  }

  private number(): PyValue {
    const start = this.pos;
    let sign = "";
    while (this.text[this.pos] === "+" || this.text[this.pos] === "-") {
      if (this.text[this.pos] === "-") sign = sign === "-" ? "" : "-";
      this.pos++;
      this.ws();
    }
    const m = /^(?:(\d+)(?![.eE\d])[lL]?|(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))/.exec(this.text.slice(this.pos));
    if (!m) throw this.fail("bad number", "a number", this.here(), start);
    this.pos += m[0].length;
    if (m[1] !== undefined) {
      if (m[1].length > 1 && m[1].startsWith("0") && /[1-9]/.test(m[1])) {
        throw this.fail("integer with a leading zero", "a decimal integer", snippet(m[0]), start);
      }
      return { kind: "int", value: BigInt(sign + m[1]), start, end: this.pos };
    }
    return { kind: "float", value: Number(sign + m[2]!), start, end: this.pos };
  }

  private name(): PyValue {
    const start = this.pos;
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos))!;
    this.pos += m[0].length;
    if (m[0] === "True" || m[0] === "False") return { kind: "bool", value: m[0] === "True", start, end: this.pos };
    if (m[0] === "None") return { kind: "none", start, end: this.pos };
    throw this.fail(`unexpected name ${JSON.stringify(m[0])}`, "a literal (string, number, True, False, None)", snippet(m[0]), start);
  }

  private sequence(kind: "tuple" | "list", close: string, depth: number): PyValue {
    const start = this.pos++;
    const items: PyValue[] = [];
    let comma = false;
    for (;;) {
      this.ws();
      if (this.text[this.pos] === close) break;
      items.push(this.value(depth + 1));
      this.ws();
      const c = this.text[this.pos];
      if (c === ",") {
        comma = true;
        this.pos++;
      } else if (c !== close) {
        throw this.fail(`bad ${kind}`, `"," or "${close}"`, this.here());
      }
    }
    this.pos++;
    // `(x)` is just x in Python; only `()` and `(x,)` are tuples.
    if (kind === "tuple" && items.length === 1 && !comma) return { ...items[0]!, start, end: this.pos };
    return { kind, items, start, end: this.pos };
  }

  private dict(depth: number): PyValue {
    const start = this.pos++;
    const entries: { key: PyValue; value: PyValue }[] = [];
    for (;;) {
      this.ws();
      if (this.text[this.pos] === "}") break;
      const key = this.value(depth + 1);
      this.ws();
      if (this.text[this.pos] !== ":") throw this.fail("bad dict entry", '":"', this.here());
      this.pos++;
      this.ws();
      const value = this.value(depth + 1);
      entries.push({ key, value });
      this.ws();
      const c = this.text[this.pos];
      if (c === ",") this.pos++;
      else if (c !== "}") throw this.fail("bad dict", '"," or "}"', this.here());
    }
    this.pos++;
    return { kind: "dict", entries, start, end: this.pos };
  }
}

// ---------------------------------------------------------------------------------------------------------
// dtype descriptors

interface Descr {
  dtype: DType;
  /** Whether the file's bytes must be reversed per element to become host values. */
  swap: boolean;
}

const SUPPORTED_DESCRS = "one of <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1 (or '>' big-endian variants)";

function parseDescr(s: string): Descr | undefined {
  const m = /^([<>|=]?)([a-zA-Z?])(\d*)$/.exec(s);
  if (!m) return undefined;
  const [, order, kind, bytes] = m;
  let dtype: string;
  if (kind === "?" && bytes === "") dtype = "b1";
  else dtype = `${kind}${bytes}`;
  if (!(DTYPES as readonly string[]).includes(dtype)) return undefined;
  const d = dtype as DType;
  if (itemSize(d) === 1) return { dtype: d, swap: false };
  const little = order === "<" ? true : order === ">" ? false : HOST_LITTLE_ENDIAN;
  return { dtype: d, swap: little !== HOST_LITTLE_ENDIAN };
}

function descrOf(dtype: DType): string {
  return `${itemSize(dtype) === 1 ? "|" : "<"}${dtype}`;
}

/** The fields of a structured descr such as `[('t', '<f8'), ('channel', '<i4')]`; `('', '|V4')` is padding. */
function recordDescr(
  v: Extract<PyValue, { kind: "list" }>,
  ctx: Ctx,
  at: (v: PyValue) => number,
  src: (v: PyValue) => string,
): { fields: RecordField[]; size: number } {
  const fields: RecordField[] = [];
  let offset = 0;
  for (const item of v.items) {
    const shapeOk = item.kind === "tuple" && (item.items.length === 2 || (item.items.length === 3 && item.items[2]!.kind === "tuple" && (item.items[2] as { items: PyValue[] }).items.length === 0));
    if (!shapeOk || item.kind !== "tuple" || item.items[0]!.kind !== "str" || item.items[1]!.kind !== "str") {
      throw err(ctx, at(item), "unsupported structured dtype field", "a field like ('name', '<f8')", src(item));
    }
    const name = (item.items[0] as { value: string }).value;
    const typestr = (item.items[1] as { value: string }).value;
    const pad = /^\|V(\d+)$/.exec(typestr);
    if (pad && name === "") {
      offset += Number(pad[1]);
      continue;
    }
    const d = parseDescr(typestr);
    if (!d) throw err(ctx, at(item.items[1]!), `unsupported dtype ${JSON.stringify(typestr)} for field ${JSON.stringify(name)}`, SUPPORTED_DESCRS, src(item.items[1]!));
    if (fields.some((f) => f.name === name)) throw err(ctx, at(item), `structured dtype has the field ${JSON.stringify(name)} twice`, "each field name once", src(item));
    const little = d.swap ? !HOST_LITTLE_ENDIAN : HOST_LITTLE_ENDIAN;
    fields.push({ name, dtype: d.dtype, offset, littleEndian: little });
    offset += itemSize(d.dtype);
  }
  return { fields, size: offset };
}

// ---------------------------------------------------------------------------------------------------------
// Reading

function shapeRepr(shape: readonly (number | bigint)[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

function swapBytes(b: Uint8Array, width: number): void {
  for (let i = 0; i + width <= b.length; i += width) {
    for (let j = 0, k = width - 1; j < k; j++, k--) {
      const t = b[i + j]!;
      b[i + j] = b[i + k]!;
      b[i + k] = t;
    }
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

function readFixed<T>(parser: { parse(b: Uint8Array): unknown }, bytes: Uint8Array, ctx: Ctx, offset: number): T {
  try {
    return parser.parse(bytes) as T;
  } catch (e) {
    // Lengths are checked before every parse, so this is not expected; keep the promise of NmcError anyway.
    throw err(ctx, offset, `cannot parse the fixed .npy header: ${(e as Error)?.message ?? String(e)}`);
  }
}

/** One field of a structured (record) dtype, e.g. `('t', '<f8')`. */
export interface RecordField {
  name: string;
  dtype: DType;
  /** Byte offset of the field inside a record. */
  offset: number;
  /** Whether the field's bytes are little-endian in the file. */
  littleEndian: boolean;
}

/**
 * A structured .npy array (descr a list of `(name, typestr)`), left as raw records: `count` records of
 * `itemSize` bytes in `data` (C order as stored), which begins at byte `dataStart` of the file.
 */
export interface NpyRecords {
  shape: number[];
  count: number;
  itemSize: number;
  fields: RecordField[];
  data: Uint8Array;
  dataStart: number;
}

/** Parses the bytes of a .npy file. `file` names the file in errors. */
export function parseNpy(bytes: Uint8Array, file?: string): NdArray {
  return parseNpyAny(bytes, file, false) as NdArray;
}

/** Parses the bytes of a .npy file holding either a plain array or a structured (record) array. */
export function parseNpyAny(bytes: Uint8Array, file?: string, allowRecords = true): NdArray | NpyRecords {
  const ctx: Ctx = { file };
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

  // Header text: latin-1 in versions 1.0 and 2.0, UTF-8 in 3.0.
  const raw = bytes.subarray(headerStart, dataStart);
  let text: string;
  let byteAt: (i: number) => number;
  if (pre.major < 3) {
    text = "";
    for (let i = 0; i < raw.length; i += 8192) text += String.fromCharCode(...raw.subarray(i, i + 8192));
    byteAt = (i) => headerStart + i;
  } else {
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
    } catch {
      throw err(ctx, headerStart, "the header of a version 3.0 .npy file is not valid UTF-8", "UTF-8 text", "invalid UTF-8 bytes");
    }
    const offsets: number[] = [];
    let b = headerStart;
    for (let i = 0; i < text.length; i++) {
      offsets.push(b);
      const c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff) {
        offsets.push(b); // low surrogate of the same 4-byte character
        i++;
        b += 4;
      } else b += c < 0x80 ? 1 : c < 0x800 ? 2 : 3;
    }
    byteAt = (i) => (i < offsets.length ? offsets[i]! : dataStart);
  }

  const dict = new LiteralParser(text, byteAt, ctx).parseAll();
  const at = (v: PyValue) => byteAt(v.start);
  const src = (v: PyValue) => snippet(text.slice(v.start, v.end));
  const lit = (v: PyValue) => {
    const t = text.slice(v.start, v.end);
    return t.length > 40 ? `${t.slice(0, 40)}...` : t;
  };
  const DICT_EXAMPLE = "a dict like {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  if (dict.kind !== "dict") {
    throw err(ctx, at(dict), "the .npy header is not a dict", DICT_EXAMPLE, `${KIND_NAMES[dict.kind]} ${src(dict)}`);
  }
  const fields = new Map<string, PyValue>();
  for (const { key, value } of dict.entries) {
    if (key.kind !== "str") {
      throw err(ctx, at(key), "the .npy header has a key that is not a string", "'descr', 'fortran_order' or 'shape'", src(key));
    }
    if (!["descr", "fortran_order", "shape"].includes(key.value)) {
      throw err(ctx, at(key), `the .npy header has an unexpected key ${lit(key)}`, "only 'descr', 'fortran_order' and 'shape'", src(key));
    }
    if (fields.has(key.value)) {
      throw err(ctx, at(key), `the .npy header has the key ${lit(key)} twice`, "each key once", src(key));
    }
    fields.set(key.value, value);
  }
  const missing = ["descr", "fortran_order", "shape"].filter((k) => !fields.has(k));
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

  // descr
  const descrV = fields.get("descr")!;
  let descr: Descr = { dtype: "u1", swap: false };
  let record: { fields: RecordField[]; size: number } | undefined;
  if (descrV.kind === "list") {
    if (!allowRecords) {
      throw err(ctx, at(descrV), "structured arrays are not supported yet", "a plain dtype such as '<f4'", `descr ${src(descrV)}`);
    }
    record = recordDescr(descrV, ctx, at, src);
  } else {
    if (descrV.kind !== "str") {
      throw err(ctx, at(descrV), "the .npy header's 'descr' is not a dtype string", "a dtype string such as '<f4'", `${KIND_NAMES[descrV.kind]} ${src(descrV)}`);
    }
    const d = parseDescr(descrV.value);
    if (!d) {
      throw err(ctx, at(descrV), `unsupported dtype ${lit(descrV)}`, SUPPORTED_DESCRS, src(descrV));
    }
    descr = d;
  }

  // fortran_order
  const fortranV = fields.get("fortran_order")!;
  if (fortranV.kind !== "bool") {
    throw err(ctx, at(fortranV), "the .npy header's 'fortran_order' is not a bool", "True or False", `${KIND_NAMES[fortranV.kind]} ${src(fortranV)}`);
  }

  // shape
  const shapeV = fields.get("shape")!;
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

  // data
  const isz = record ? record.size : itemSize(descr.dtype);
  const need = count * BigInt(isz);
  const have = len - dataStart;
  const what = `shape ${shapeRepr(shape)} of ${record ? "records" : (descrV as { value: string }).value} (${plural(count, "element")} × ${plural(isz, "byte")})`;
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
// Writing

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
