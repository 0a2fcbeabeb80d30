// The fixed facts of the NumPy .npy format that the reader and the writer share: the magic string, the
// dtype descriptors (`descr`), the shape's repr, byte swapping, and the shape of every read error.
// See docs/ and https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html.
import { NmcError } from "../../ir/errors.js";
import { type DType, DTYPES, HOST_LITTLE_ENDIAN, itemSize } from "./ndarray.js";

export const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
export const MAGIC_TEXT = "\\x93NUMPY";

// ---------------------------------------------------------------------------------------------------------
// Errors: every malformed input names the file and the byte offset (`path: "byte N"`).

export interface Ctx {
  file?: string;
}

export function err(ctx: Ctx, offset: number, message: string, expected?: string, found?: string, hint?: string): NmcError {
  return new NmcError(message, { file: ctx.file, path: `byte ${offset}`, expected, found, hint });
}

export function escapeBytes(b: Uint8Array): string {
  let s = "";
  for (const x of b) {
    s += x >= 0x20 && x < 0x7f && x !== 0x5c && x !== 0x22 ? String.fromCharCode(x) : `\\x${x.toString(16).padStart(2, "0")}`;
  }
  return `"${s}"`;
}

export function snippet(text: string, max = 60): string {
  const t = text.length > max ? `${text.slice(0, max)}...` : text;
  return JSON.stringify(t);
}

export function plural(n: number | bigint, word: string): string {
  return `${n} ${word}${n === 1 || n === 1n ? "" : "s"}`;
}

// ---------------------------------------------------------------------------------------------------------
// dtype descriptors

export interface Descr {
  dtype: DType;
  /** Whether the file's bytes must be reversed per element to become host values. */
  swap: boolean;
}

export const SUPPORTED_DESCRS = "one of <f4 <f8 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 |b1 (or '>' big-endian variants)";

export function parseDescr(s: string): Descr | undefined {
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

export function descrOf(dtype: DType): string {
  return `${itemSize(dtype) === 1 ? "|" : "<"}${dtype}`;
}

// ---------------------------------------------------------------------------------------------------------
// Shapes and bytes

/** A shape as Python writes a tuple: `(3,)`, `(2, 3)`, `()`. */
export function shapeRepr(shape: readonly (number | bigint)[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

/** Reverses the bytes of each `width`-byte element of `b`, in place. */
export function swapBytes(b: Uint8Array, width: number): void {
  for (let i = 0; i + width <= b.length; i += width) {
    for (let j = 0, k = width - 1; j < k; j++, k--) {
      const t = b[i + j]!;
      b[i + j] = b[i + k]!;
      b[i + k] = t;
    }
  }
}
