// A minimal n-dimensional array: a dtype, a shape and a flat typed array holding the elements in C (row-major)
// order, as host values. This is what .npy files and model weights are read into.

import { NmcError } from "../../ir/errors.js";

/** True on a little-endian host (typed arrays use the host byte order). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export type DType = "f4" | "f8" | "i1" | "i2" | "i4" | "i8" | "u1" | "u2" | "u4" | "u8" | "b1";

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array;

/** Elements in C order, little-endian host values. A `b1` array holds 0 or 1 in a Uint8Array. */
export interface NdArray {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

interface TypedArrayCtor {
  new (length: number): TypedArray;
  new (buffer: ArrayBuffer, byteOffset?: number, length?: number): TypedArray;
  readonly BYTES_PER_ELEMENT: number;
  readonly name: string;
}

const CTORS: Record<DType, TypedArrayCtor> = {
  f4: Float32Array,
  f8: Float64Array,
  i1: Int8Array,
  i2: Int16Array,
  i4: Int32Array,
  i8: BigInt64Array,
  u1: Uint8Array,
  u2: Uint16Array,
  u4: Uint32Array,
  u8: BigUint64Array,
  b1: Uint8Array,
};

/** Every dtype, in a fixed order. */
export const DTYPES: readonly DType[] = Object.keys(CTORS) as DType[];

export function isDType(s: string): s is DType {
  return Object.prototype.hasOwnProperty.call(CTORS, s);
}

/** Bytes per element of a dtype. */
export function itemSize(dtype: DType): number {
  return CTORS[dtype].BYTES_PER_ELEMENT;
}

/** A typed array of the dtype's class viewing `length` elements of `buffer` from `byteOffset` (which must be aligned). */
export function typedArrayOf(dtype: DType, buffer: ArrayBuffer, byteOffset: number, length: number): TypedArray {
  return new CTORS[dtype](buffer, byteOffset, length);
}

function shapeText(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
}

function checkShape(shape: readonly number[]): void {
  shape.forEach((d, i) => {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new NmcError(`array shape entry ${i} is not a non-negative integer`, {
        path: `shape[${i}]`,
        expected: "a non-negative integer",
        found: String(d),
      });
    }
  });
}

/** Number of elements of an array of this shape (1 for the scalar shape `[]`). */
export function size(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A new array. Without `data` the elements are zero; with it, its class and length must match dtype and shape. */
export function ndarray(dtype: DType, shape: number[], data?: TypedArray): NdArray {
  if (!isDType(dtype)) {
    throw new NmcError(`unknown dtype ${JSON.stringify(dtype)}`, {
      expected: `one of ${DTYPES.join(", ")}`,
      found: String(dtype),
    });
  }
  checkShape(shape);
  const n = size(shape);
  if (!Number.isSafeInteger(n)) {
    throw new NmcError(`array of shape ${shapeText(shape)} has too many elements`, {
      expected: "at most 2^53 - 1 elements",
      found: `${n} elements`,
    });
  }
  const ctor = CTORS[dtype];
  if (data === undefined) return { dtype, shape, data: new ctor(n) };
  if (!(data instanceof ctor)) {
    throw new NmcError(`data for a ${dtype} array must be a ${ctor.name}`, {
      expected: ctor.name,
      found: (data as object)?.constructor?.name ?? typeof data,
    });
  }
  if (data.length !== n) {
    throw new NmcError(`data length does not match shape ${shapeText(shape)}`, {
      expected: `${n} elements`,
      found: `${data.length} elements`,
    });
  }
  return { dtype, shape, data };
}

/** The elements as float64, in C order. Booleans become 0/1; 64-bit integers must be exactly representable. */
export function toFloat64(a: NdArray): Float64Array {
  const d = a.data;
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
    const out = new Float64Array(d.length);
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      const x = Number(v);
      if (!Number.isSafeInteger(x) || BigInt(x) !== v) {
        throw new NmcError(`${a.dtype} element ${i} (${v}) cannot be represented exactly as a float64`, {
          path: `element ${i}`,
          expected: "an integer of magnitude at most 2^53 - 1",
          found: String(v),
        });
      }
      out[i] = x;
    }
    return out;
  }
  if (a.dtype === "b1") {
    const out = new Float64Array(d.length);
    for (let i = 0; i < d.length; i++) out[i] = d[i] ? 1 : 0;
    return out;
  }
  return Float64Array.from(d as ArrayLike<number>);
}
