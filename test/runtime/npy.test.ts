// Tests for runtime/io/npy.ts and runtime/io/ndarray.ts.
//
// The files under test/fixtures/npy/ were written by NumPy 2.4.6, running this snippet in that folder:
//
//   import numpy as np
//   from numpy.lib import format as fmt
//
//   def values(code, n):
//       k = np.arange(n)
//       if code == "b1": return k % 3 == 0
//       if code[0] == "f": return ((k - 3) * 0.25).astype(code)
//       if code[0] == "i": return (k - 3).astype(code)
//       return k.astype(code)
//
//   for code in ["f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"]:
//       a = values(code, 6).reshape(2, 3)
//       np.save(f"{code}_2x3.npy", a)
//       if code[1] != "1":
//           np.save(f"{code}_2x3_be.npy", a.astype(a.dtype.newbyteorder(">")))
//   np.save("f8_2x3_fortran.npy", np.asfortranarray(values("f8", 6).reshape(2, 3)))
//   np.save("i4_2x3x4_fortran.npy", np.asfortranarray(values("i4", 24).reshape(2, 3, 4)))
//   np.save("u2_2x3x4_fortran_be.npy", np.asfortranarray(values(">u2", 24).reshape(2, 3, 4)))
//   np.save("f8_scalar.npy", np.array(3.5))
//   np.save("f4_0x3.npy", np.zeros((0, 3), np.float32))
//   np.save("i4_5.npy", values("i4", 5))
//   with open("i2_2x3_v2.npy", "wb") as f:
//       fmt.write_array(f, values("i2", 6).reshape(2, 3), version=(2, 0))
//   with open("u1_2x3_v3.npy", "wb") as f:
//       fmt.write_array(f, values("u1", 6).reshape(2, 3), version=(3, 0))
//   np.save("i8_extremes.npy", np.array([-2**63, 2**63 - 1, 0, -1], np.int64))
//   np.save("u8_extremes.npy", np.array([0, 2**64 - 1, 2**53 + 1], np.uint64))
//   np.save("f4_special.npy", np.array([np.nan, np.inf, -np.inf, -0.0, 1e-45, 3.4028235e38], np.float32))

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { NmcError } from "../../ir/errors.js";
import { type DType, type NdArray, type TypedArray, DTYPES, itemSize, ndarray, size, toFloat64 } from "../../runtime/io/ndarray.js";
import { encodeNpy, parseNpy, readNpy, writeNpy } from "../../runtime/io/npy.js";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "npy");
const fixture = (name: string) => join(FIXTURES, name);

// ---------------------------------------------------------------------------------------------------------
// helpers

/** The values the fixture snippet's `values(code, n)` produces, as numbers or bigints. */
function fixtureValues(code: DType, n: number): (number | bigint)[] {
  return Array.from({ length: n }, (_, k) => {
    if (code === "b1") return k % 3 === 0 ? 1 : 0;
    if (code[0] === "f") return (k - 3) * 0.25;
    if (code === "i8") return BigInt(k - 3);
    if (code === "u8") return BigInt(k);
    if (code[0] === "i") return k - 3;
    return k;
  });
}

/** The elements of a typed array of any class as a plain array. */
const vals = (d: TypedArray): (number | bigint)[] => Array.from(d as ArrayLike<number | bigint>);

function bytesOf(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function latin1(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** A .npy file from parts, with no padding rules applied (so tests control every byte). */
function rawNpy(
  header: string,
  data: ArrayLike<number> = [],
  opts: { major?: number; minor?: number; headerLength?: number } = {},
): Uint8Array {
  const major = opts.major ?? 1;
  const h = major === 3 ? new TextEncoder().encode(header) : latin1(header);
  const lenBytes = major === 1 ? 2 : 4;
  const out = new Uint8Array(8 + lenBytes + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, opts.minor ?? 0]);
  const dv = new DataView(out.buffer);
  const hl = opts.headerLength ?? h.length;
  if (lenBytes === 2) dv.setUint16(8, hl, true);
  else dv.setUint32(8, hl, true);
  out.set(h, 8 + lenBytes);
  out.set(Array.from(data), 8 + lenBytes + h.length);
  return out;
}

const hdr = (descr: string, shape: string, fortran = "False") =>
  `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;

/** Runs fn, asserts it throws an NmcError with these fields, returns the error. */
function expectNmc(
  fn: () => unknown,
  want: { path?: string; message?: RegExp; expected?: RegExp; found?: RegExp; file?: string },
): NmcError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, "expected an NmcError to be thrown").toBeInstanceOf(NmcError);
  const e = caught as NmcError;
  if (want.path !== undefined) expect(e.path).toBe(want.path);
  if (want.message) expect(e.message).toMatch(want.message);
  if (want.expected) expect(e.expected).toMatch(want.expected);
  if (want.found) expect(e.found).toMatch(want.found);
  if (want.file !== undefined) expect(e.file).toBe(want.file);
  return e;
}

/** The offset in a version 1.0 rawNpy file of the first occurrence of `needle` in its header. */
const at1 = (header: string, needle: string) => `byte ${10 + header.indexOf(needle)}`;

function sampleData(dtype: DType, n: number): TypedArray {
  const a = ndarray(dtype, [n]).data;
  for (let i = 0; i < n; i++) {
    const v = (i * 37) % 101;
    if (a instanceof BigInt64Array) a[i] = BigInt(v - 50) * 123456789012345n;
    else if (a instanceof BigUint64Array) a[i] = BigInt(v) * 987654321098765n;
    else if (dtype === "b1") a[i] = v % 2;
    else if (a instanceof Float32Array || a instanceof Float64Array) a[i] = (v - 50) / 7;
    else if (dtype[0] === "i") (a as Int8Array)[i] = v - 50;
    else (a as Uint8Array)[i] = v;
  }
  return a;
}

function expectSameArray(got: NdArray, want: NdArray): void {
  expect(got.dtype).toBe(want.dtype);
  expect(got.shape).toEqual(want.shape);
  expect(got.data.constructor).toBe(want.data.constructor);
  expect(got.data.length).toBe(want.data.length);
  expect(Buffer.from(bytesOf(got.data)).equals(Buffer.from(bytesOf(want.data)))).toBe(true);
}

const tmpDirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "nmc-npy-"));
  tmpDirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------
// ndarray.ts

describe("ndarray", () => {
  it("size() multiplies the shape; a scalar has one element", () => {
    expect(size([])).toBe(1);
    expect(size([5])).toBe(5);
    expect(size([2, 3, 4])).toBe(24);
    expect(size([3, 0, 2])).toBe(0);
  });

  it("ndarray() allocates zeros of the right class and validates given data", () => {
    const a = ndarray("i8", [2, 2]);
    expect(a.data).toBeInstanceOf(BigInt64Array);
    expect(a.data.length).toBe(4);
    expect(ndarray("b1", [3]).data).toBeInstanceOf(Uint8Array);
    expect(ndarray("f4", [2], new Float32Array([1, 2])).data[1]).toBe(2);
    expectNmc(() => ndarray("f4", [2, 3], new Float32Array(5)), { message: /does not match shape \(2, 3\)/, expected: /6 elements/, found: /5 elements/ });
    expectNmc(() => ndarray("f4", [2], new Float64Array(2)), { message: /must be a Float32Array/, found: /Float64Array/ });
    expectNmc(() => ndarray("f4", [-1]), { path: "shape[0]", found: /-1/ });
    expectNmc(() => ndarray("f4", [1.5]), { path: "shape[0]" });
    expectNmc(() => ndarray("c8" as DType, [1]), { message: /unknown dtype/ });
  });

  it("toFloat64() converts every dtype, bools to 0/1, and refuses unsafe int64", () => {
    expect(Array.from(toFloat64(ndarray("i2", [3], new Int16Array([-2, 0, 7]))))).toEqual([-2, 0, 7]);
    expect(Array.from(toFloat64(ndarray("b1", [3], new Uint8Array([0, 1, 2]))))).toEqual([0, 1, 1]);
    expect(Array.from(toFloat64(ndarray("u8", [2], new BigUint64Array([5n, 2n ** 53n - 1n]))))).toEqual([5, 2 ** 53 - 1]);
    expect(Array.from(toFloat64(ndarray("i8", [1], new BigInt64Array([-(2n ** 53n) + 1n]))))).toEqual([-(2 ** 53) + 1]);
    const src = new Float64Array([1.5]);
    const out = toFloat64(ndarray("f8", [1], src));
    expect(out).not.toBe(src);
    expectNmc(() => toFloat64(ndarray("i8", [2], new BigInt64Array([0n, 2n ** 53n + 1n]))), { path: "element 1", found: /9007199254740993/ });
  });
});

// ---------------------------------------------------------------------------------------------------------
// round trips

describe("encodeNpy / parseNpy round trip", () => {
  const shapes: number[][] = [[], [1], [7], [2, 3, 4], [0], [3, 0, 2]];
  for (const dtype of DTYPES) {
    it(`round-trips ${dtype} for shapes ${shapes.map((s) => `[${s}]`).join(" ")}`, () => {
      for (const shape of shapes) {
        const a = ndarray(dtype, shape, sampleData(dtype, size(shape)));
        const bytes = encodeNpy(a);
        // NumPy's layout: version 1.0, header padded so the data starts at a multiple of 64.
        expect(bytes[6]).toBe(1);
        expect(bytes[7]).toBe(0);
        const dataStart = 10 + (bytes[8]! | (bytes[9]! << 8));
        expect(dataStart % 64).toBe(0);
        expect(bytes.length - dataStart).toBe(size(shape) * itemSize(dtype));
        expect(bytes[dataStart - 1]).toBe(0x0a);
        const header = Buffer.from(bytes.subarray(10, dataStart)).toString("latin1");
        expect(header).toContain(`'descr': '${itemSize(dtype) === 1 ? "|" : "<"}${dtype}'`);
        expect(header).toContain("'fortran_order': False");
        expectSameArray(parseNpy(bytes), a);
      }
    });
  }

  it("writes bools as 0/1 whatever the bytes held", () => {
    const a = ndarray("b1", [3], new Uint8Array([0, 5, 255]));
    expect(vals(parseNpy(encodeNpy(a)).data)).toEqual([0, 1, 1]);
  });

  it("encodes subarray views (non-zero byteOffset) correctly", () => {
    const big = new Float64Array([9, 1, 2, 3, 9]);
    const a = ndarray("f8", [3], big.subarray(1, 4));
    expect(vals(parseNpy(encodeNpy(a)).data)).toEqual([1, 2, 3]);
  });

  it("parses data at an unaligned offset (copying into aligned memory)", () => {
    const a = ndarray("f8", [2, 2], new Float64Array([1.25, -2, 3, 4e300]));
    const bytes = encodeNpy(a);
    for (const shift of [1, 3, 5, 7]) {
      const holder = new Uint8Array(bytes.length + shift);
      holder.set(bytes, shift);
      const got = parseNpy(holder.subarray(shift));
      expectSameArray(got, a);
      expect(got.data.byteOffset % 8).toBe(0);
    }
  });

  it("returns data that does not alias the input bytes", () => {
    const bytes = encodeNpy(ndarray("u1", [2], new Uint8Array([1, 2])));
    const got = parseNpy(bytes);
    bytes[bytes.length - 1] = 99;
    expect(vals(got.data)).toEqual([1, 2]);
  });

  it("writeNpy writes atomically and readNpy reads it back", () => {
    const dir = tmp();
    const p = join(dir, "w.npy");
    const a = ndarray("i4", [2, 3], new Int32Array([1, -2, 3, -4, 5, -6]));
    writeNpy(p, a);
    expectSameArray(readNpy(p), a);
    const b = ndarray("f4", [0]);
    writeNpy(p, b); // overwrites in place
    expectSameArray(readNpy(p), b);
    expect(readdirSync(dir)).toEqual(["w.npy"]); // no temporary files left behind
  });

  it("writeNpy reports an unwritable path as an NmcError naming it and leaves nothing behind", () => {
    const dir = tmp();
    const p = join(dir, "missing-dir", "x.npy");
    expectNmc(() => writeNpy(p, ndarray("f4", [1])), { file: p, message: /cannot write/ });
    expect(existsSync(join(dir, "missing-dir"))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------------------
// NumPy-written files

describe("reading files written by NumPy", () => {
  for (const dtype of DTYPES) {
    it(`reads ${dtype} (2, 3), and encodes it back byte for byte`, () => {
      const file = fixture(`${dtype}_2x3.npy`);
      const a = readNpy(file);
      expect(a.dtype).toBe(dtype);
      expect(a.shape).toEqual([2, 3]);
      expect(Array.from(a.data as ArrayLike<number | bigint>)).toEqual(fixtureValues(dtype, 6));
      expect(Buffer.from(encodeNpy(a)).equals(readFileSync(file))).toBe(true);
      if (itemSize(dtype) > 1) {
        expectSameArray(readNpy(fixture(`${dtype}_2x3_be.npy`)), a);
      }
    });
  }

  it("transposes Fortran-order arrays into C order", () => {
    const f8 = readNpy(fixture("f8_2x3_fortran.npy"));
    expect(f8.shape).toEqual([2, 3]);
    expect(vals(f8.data)).toEqual(fixtureValues("f8", 6));
    const i4 = readNpy(fixture("i4_2x3x4_fortran.npy"));
    expect(i4.shape).toEqual([2, 3, 4]);
    expect(vals(i4.data)).toEqual(fixtureValues("i4", 24));
    const u2 = readNpy(fixture("u2_2x3x4_fortran_be.npy"));
    expect(u2.dtype).toBe("u2");
    expect(vals(u2.data)).toEqual(fixtureValues("u2", 24));
  });

  it("reads scalars, zero-size and 1-D arrays, byte-identical on re-encoding", () => {
    const s = readNpy(fixture("f8_scalar.npy"));
    expect(s.shape).toEqual([]);
    expect(vals(s.data)).toEqual([3.5]);
    const z = readNpy(fixture("f4_0x3.npy"));
    expect(z.shape).toEqual([0, 3]);
    expect(z.data.length).toBe(0);
    const v = readNpy(fixture("i4_5.npy"));
    expect(v.shape).toEqual([5]);
    expect(vals(v.data)).toEqual([-3, -2, -1, 0, 1]);
    for (const name of ["f8_scalar.npy", "f4_0x3.npy", "i4_5.npy"]) {
      expect(Buffer.from(encodeNpy(readNpy(fixture(name)))).equals(readFileSync(fixture(name)))).toBe(true);
    }
  });

  it("reads format versions 2.0 and 3.0", () => {
    const v2 = readNpy(fixture("i2_2x3_v2.npy"));
    expect(readFileSync(fixture("i2_2x3_v2.npy"))[6]).toBe(2);
    expect(vals(v2.data)).toEqual(fixtureValues("i2", 6));
    const v3 = readNpy(fixture("u1_2x3_v3.npy"));
    expect(readFileSync(fixture("u1_2x3_v3.npy"))[6]).toBe(3);
    expect(vals(v3.data)).toEqual(fixtureValues("u1", 6));
  });

  it("keeps 64-bit extremes and float specials exact", () => {
    expect(vals(readNpy(fixture("i8_extremes.npy")).data)).toEqual([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n]);
    expect(vals(readNpy(fixture("u8_extremes.npy")).data)).toEqual([0n, 2n ** 64n - 1n, 2n ** 53n + 1n]);
    const f = Array.from(readNpy(fixture("f4_special.npy")).data as Float32Array);
    expect(Number.isNaN(f[0])).toBe(true);
    expect(f.slice(1, 3)).toEqual([Infinity, -Infinity]);
    expect(Object.is(f[3], -0)).toBe(true);
    expect(f[4]).toBe(Math.fround(1e-45));
    expect(f[5]).toBe(Math.fround(3.4028235e38));
    for (const name of ["i8_extremes.npy", "u8_extremes.npy", "f4_special.npy"]) {
      expect(Buffer.from(encodeNpy(readNpy(fixture(name)))).equals(readFileSync(fixture(name)))).toBe(true);
    }
  });

  it("accepts the header variations NumPy and Python 2 wrote", () => {
    const data = [1, 0, 2, 0, 3, 0];
    const variants = [
      `{"descr": "<i2", "fortran_order": False, "shape": (3,)}`, // double quotes, no trailing comma
      `{'shape': (3,), 'fortran_order': False, 'descr': '<i2'}      \n`, // other key order, padding
      `{'descr':'<i2','fortran_order':False,'shape':(3L,),}\n`, // Python 2 long, no spaces
      ` {\n 'descr' : '<i2' ,\t'fortran_order' : False , 'shape' : ( 3 , ) , } \n`, // whitespace everywhere
      `{'descr': '<i2', 'fortran_order': True, 'shape': (3,), }\n`, // 1-D Fortran order is C order
      `{'descr': '=i2', 'fortran_order': False, 'shape': (3,), }\n`,
      `{'descr': 'i2', 'fortran_order': False, 'shape': (3,), }\n`,
    ];
    for (const h of variants) {
      const a = parseNpy(rawNpy(h, data));
      expect(a.dtype).toBe("i2");
      expect(a.shape).toEqual([3]);
      expect(vals(a.data)).toEqual([1, 2, 3]);
    }
    expect(parseNpy(rawNpy(`{'descr': '<?', 'fortran_order': False, 'shape': (2,), }`, [1, 0])).dtype).toBe("b1");
    expect(parseNpy(rawNpy(`{'descr': '>u1', 'fortran_order': False, 'shape': (), }`, [7])).data[0]).toBe(7);
    expect(parseNpy(rawNpy(`{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (), }`, [0, 0, 0x80, 0x3f])).data[0]).toBe(1);
  });
});

// ---------------------------------------------------------------------------------------------------------
// errors

describe("malformed files give precise NmcErrors", () => {
  const F = "bad.npy";

  it("bad magic string", () => {
    expectNmc(() => parseNpy(latin1("PK\x03\x04 this is a zip"), F), {
      file: F,
      path: "byte 0",
      message: /not a NumPy \.npy file: bad magic/,
      expected: /\\x93NUMPY/,
      found: /PK\\x03\\x04/,
    });
    expectNmc(() => parseNpy(latin1("\x93NUMPZ\x01\x00"), F), { path: "byte 0", found: /NUMPZ/ });
    expectNmc(() => parseNpy(latin1("x"), F), { path: "byte 0", message: /bad magic/ });
  });

  it("file shorter than the fixed header", () => {
    expectNmc(() => parseNpy(new Uint8Array(0), F), { file: F, path: "byte 0", message: /ends inside the fixed \.npy header/, found: /^0 bytes$/ });
    expectNmc(() => parseNpy(latin1("\x93NUMPY"), F), { path: "byte 6", expected: /at least 8 bytes/, found: /6 bytes/ });
    expectNmc(() => parseNpy(latin1("\x93NUMPY\x01\x00\x10"), F), { path: "byte 9", expected: /at least 10 bytes/, found: /9 bytes/ });
    expectNmc(() => parseNpy(latin1("\x93NUMPY\x02\x00\x10\x00\x00"), F), { path: "byte 11", expected: /at least 12 bytes/, found: /11 bytes/ });
  });

  it("unsupported version", () => {
    expectNmc(() => parseNpy(rawNpy(hdr("<f4", "()"), [0, 0, 0, 0], { major: 4 }), F), {
      path: "byte 6",
      message: /unsupported \.npy format version 4\.0/,
      expected: /1\.0, 2\.0 or 3\.0/,
      found: /^4\.0$/,
    });
    expectNmc(() => parseNpy(rawNpy(hdr("<f4", "()"), [0, 0, 0, 0], { minor: 1 }), F), { path: "byte 6", found: /^1\.1$/ });
    expectNmc(() => parseNpy(rawNpy(hdr("<f4", "()"), [0, 0, 0, 0], { major: 0 }), F), { path: "byte 6", found: /^0\.0$/ });
  });

  it("header length beyond the file", () => {
    const h = hdr("<f4", "()");
    expectNmc(() => parseNpy(rawNpy(h, [0, 0, 0, 0], { headerLength: 0xffff }), F), {
      path: "byte 8",
      message: /header length runs past the end of the file/,
      expected: new RegExp(`at most ${h.length + 4} bytes`),
      found: /header length 65535/,
    });
    expectNmc(() => parseNpy(rawNpy(h, [], { major: 2, headerLength: 0xffffffff }), F), { path: "byte 8", found: /4294967295/ });
  });

  it("header that is not a dict, or is not a valid literal", () => {
    const notDict = "[1, 2]\n";
    expectNmc(() => parseNpy(rawNpy(notDict), F), { file: F, path: "byte 10", message: /header is not a dict/, found: /a list "\[1, 2\]"/ });
    expectNmc(() => parseNpy(rawNpy("   \n"), F), { path: "byte 14", message: /header ends where a value was expected/ });
    const cases: [string, string, RegExp][] = [
      ["{'descr': '<f4, 'fortran_order': False, 'shape': (), }", "fortran", /bad dict/],
      ["{'descr' '<f4', 'fortran_order': False, 'shape': (), }", "'<f4'", /bad dict entry/],
      ["{'descr': '<f4', 'fortran_order': false, 'shape': (), }", "false", /unexpected name "false"/],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (), } junk", "junk", /unexpected text after the header dict/],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }", "3)", /bad tuple/],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (), ", "", /header ends where a value was expected/],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (), @}", "@", /unexpected character "@"/],
      ["{'descr': '<f4', 'fortran_order': False, 'shape': (01,), }", "01", /leading zero/],
      ["{'descr': '\\xZZ', 'fortran_order': False, 'shape': (), }", "\\xZZ", /bad \\x escape/],
    ];
    for (const [h, needle, message] of cases) {
      const path = needle === "" ? `byte ${10 + h.length}` : at1(h, needle);
      expectNmc(() => parseNpy(rawNpy(h), F), { file: F, path, message: /malformed \.npy header/ });
      expectNmc(() => parseNpy(rawNpy(h), F), { message });
    }
    const unterminated = "{'descr': '<f4, }";
    expectNmc(() => parseNpy(rawNpy(unterminated), F), { path: "byte 20", message: /unterminated string/ });
    const deep = "(".repeat(5000) + ")".repeat(5000);
    expectNmc(() => parseNpy(rawNpy(deep, [], { major: 2 }), F), { path: `byte ${12 + 33}`, message: /too deeply nested/ });
  });

  it("header of a version 3.0 file that is not UTF-8; UTF-8 offsets are byte offsets", () => {
    const bytes = rawNpy(hdr("<f4", "()"), [0, 0, 0, 0], { major: 3 });
    bytes[14] = 0xff;
    expectNmc(() => parseNpy(bytes, F), { path: "byte 12", message: /not valid UTF-8/ });
    const h = "{'é': 1, 'descr': '<f4', 'fortran_order': False, 'shape': (), }";
    // 'é' is two bytes in UTF-8, so the key starts at byte 12 + 1 and later offsets shift by one.
    expectNmc(() => parseNpy(rawNpy(h, [], { major: 3 }), F), { path: "byte 13", message: /unexpected key 'é'/ });
    const h2 = "{'descr': 'é', 'fortran_order': False, 'shape': (), }";
    expectNmc(() => parseNpy(rawNpy(h2, [], { major: 3 }), F), { path: `byte ${12 + h2.indexOf("'é'")}`, message: /unsupported dtype/ });
    const h3 = "{'descr': 'é', 'fortran_order': nope, 'shape': (), }";
    expectNmc(() => parseNpy(rawNpy(h3, [], { major: 3 }), F), { path: `byte ${12 + h3.indexOf("nope") + 1}` });
  });

  it("missing, unexpected, duplicate and non-string keys", () => {
    const missing = "{'descr': '<f4', 'shape': (), }";
    expectNmc(() => parseNpy(rawNpy(missing), F), {
      path: "byte 10",
      message: /missing 'fortran_order'/,
      expected: /'descr', 'fortran_order' and 'shape'/,
      found: /keys 'descr', 'shape'/,
    });
    expectNmc(() => parseNpy(rawNpy("{}"), F), { path: "byte 10", message: /missing 'descr', 'fortran_order', 'shape'/, found: /empty dict/ });
    const extra = "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'order': 'C'}";
    expectNmc(() => parseNpy(rawNpy(extra), F), { path: at1(extra, "'order'"), message: /unexpected key 'order'/ });
    const dup = "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'descr': '<f4'}";
    expectNmc(() => parseNpy(rawNpy(dup), F), { path: `byte ${10 + dup.lastIndexOf("'descr'")}`, message: /key 'descr' twice/ });
    const nonStr = "{'descr': '<f4', 'fortran_order': False, 'shape': (), 3: 4}";
    expectNmc(() => parseNpy(rawNpy(nonStr), F), { path: at1(nonStr, "3:"), message: /key that is not a string/ });
  });

  it("structured and unsupported dtypes", () => {
    const structured = "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (2,), }";
    expectNmc(() => parseNpy(rawNpy(structured), F), {
      path: at1(structured, "["),
      message: /^structured arrays are not supported yet$/,
      found: /descr "\[\('a', '<f4'\), \('b', '<i4'\)\]"/,
    });
    for (const d of ["<c8", "<f2", "<U5", "|O", "<M8[ns]", "float32", "<i3", ""]) {
      const h = hdr(d, "(1,)");
      expectNmc(() => parseNpy(rawNpy(h, [0, 0, 0, 0, 0, 0, 0, 0]), F), {
        path: at1(h, `'${d}'`),
        message: /unsupported dtype/,
        expected: /<f4 <f8 \|i1/,
        found: new RegExp(`'${d.replace(/[[\]|]/g, "\\$&")}'`),
      });
    }
    const num = "{'descr': 4, 'fortran_order': False, 'shape': (), }";
    expectNmc(() => parseNpy(rawNpy(num), F), { path: at1(num, "4"), message: /'descr' is not a dtype string/, found: /an integer "4"/ });
  });

  it("fortran_order that is not a bool", () => {
    const h = hdr("<f4", "()", "0");
    expectNmc(() => parseNpy(rawNpy(h, [0, 0, 0, 0]), F), { path: at1(h, "0,"), message: /'fortran_order' is not a bool/, expected: /True or False/, found: /an integer "0"/ });
  });

  it("bad shapes: not a tuple, negative, non-integer, too large", () => {
    for (const [shape, found] of [
      ["[2, 3]", /a list/],
      ["(3)", /an integer "\(3\)"/],
      ["'3'", /a string/],
      ["None", /None/],
    ] as const) {
      const h = hdr("<f4", shape);
      expectNmc(() => parseNpy(rawNpy(h), F), { path: at1(h, shape), message: /'shape' is not a tuple/, found });
    }
    const neg = hdr("<f4", "(2, -3)");
    expectNmc(() => parseNpy(rawNpy(neg), F), { path: at1(neg, "-3"), message: /shape entry 1 is negative/, found: /^-3$/ });
    const flt = hdr("<f4", "(2.5,)");
    expectNmc(() => parseNpy(rawNpy(flt), F), { path: at1(flt, "2.5"), message: /shape entry 0 is not an integer/, found: /a float "2\.5"/ });
    const exp = hdr("<f4", "(1e12,)");
    expectNmc(() => parseNpy(rawNpy(exp), F), { path: at1(exp, "1e12"), message: /not an integer/ });
    const nested = hdr("<f4", "((2,), 3)");
    expectNmc(() => parseNpy(rawNpy(nested), F), { path: at1(nested, "(2,)"), found: /a tuple/ });
    const big = hdr("<f4", "(123456789012345678901234567890,)");
    expectNmc(() => parseNpy(rawNpy(big), F), { path: at1(big, "1234"), message: /shape entry 0 is too large/, found: /123456789012345678901234567890/ });
  });

  it("huge declared shapes fail cleanly without allocating", () => {
    const h = hdr("<f8", "(1000000000000,)");
    const bytes = rawNpy(h, [0, 0, 0, 0, 0, 0, 0, 0]);
    expectNmc(() => parseNpy(bytes, F), { path: `byte ${bytes.length}`, message: /data section is shorter/, expected: /^8000000000000 bytes/, found: /^8 bytes$/ });
    const h2 = hdr("<i8", "(4294967296, 4294967296, 4294967296)");
    expectNmc(() => parseNpy(rawNpy(h2), F), { expected: /^633825300114114700748351602688 bytes/, found: /^0 bytes$/ });
  });

  it("data section shorter or longer than shape × itemsize", () => {
    const h = hdr("<i4", "(2, 3)");
    const short = rawNpy(h, new Array(20).fill(1));
    const dataStart = 10 + h.length;
    const e = expectNmc(() => parseNpy(short, F), {
      file: F,
      path: `byte ${short.length}`,
      message: /data section is shorter than shape \(2, 3\) of <i4 \(6 elements × 4 bytes\) requires; data starts at byte/,
      expected: /^24 bytes/,
      found: /^20 bytes$/,
    });
    expect(e.message).toContain(`byte ${dataStart}`);
    const long = rawNpy(h, new Array(25).fill(1));
    expectNmc(() => parseNpy(long, F), { path: `byte ${dataStart + 24}`, message: /data section is longer/, expected: /^24 bytes/, found: /^25 bytes$/ });
    const zero = hdr("<f4", "(0, 5)");
    expectNmc(() => parseNpy(rawNpy(zero, [1]), F), { path: `byte ${10 + zero.length}`, message: /longer/, expected: /^0 bytes/ });
    expect(parseNpy(rawNpy(zero)).shape).toEqual([0, 5]);
  });

  it("readNpy names the path in every error, including a missing file", () => {
    const dir = tmp();
    const p = join(dir, "trunc.npy");
    const good = encodeNpy(ndarray("f4", [4]));
    writeFileSync(p, good.subarray(0, good.length - 1));
    const e = expectNmc(() => readNpy(p), { file: p, message: /shorter/ });
    expect(e.format()).toContain(p);
    expectNmc(() => readNpy(join(dir, "nope.npy")), { file: join(dir, "nope.npy"), message: /cannot read \.npy file: ENOENT/ });
    expectNmc(() => readNpy(dir), { file: dir, message: /cannot read/ });
  });
});

// ---------------------------------------------------------------------------------------------------------
// properties

const arbDType = fc.constantFrom(...DTYPES);
const arbShape = fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 0, maxLength: 4 });
const arbArray = fc
  .tuple(arbDType, arbShape)
  .chain(([dtype, shape]) =>
    fc.uint8Array({ minLength: size(shape) * itemSize(dtype), maxLength: size(shape) * itemSize(dtype) }).map((raw) => {
      if (dtype === "b1") raw = raw.map((b) => b & 1);
      const data = ndarray(dtype, shape).data;
      bytesOf(data).set(raw);
      return ndarray(dtype, shape, data);
    }),
  );

/** Parses and checks the outcome is a valid array or an NmcError; anything else fails the property. */
function parseOrNmc(bytes: Uint8Array): NdArray | NmcError {
  try {
    const a = parseNpy(bytes, "prop.npy");
    expect(a.data.length).toBe(size(a.shape));
    expect(a.data.byteLength).toBe(size(a.shape) * itemSize(a.dtype));
    return a;
  } catch (e) {
    if (e instanceof NmcError) {
      expect(e.file).toBe("prop.npy");
      expect(e.path).toMatch(/^byte \d+$/);
      return e;
    }
    throw e;
  }
}

describe("properties", () => {
  it("encode → parse is the identity", () => {
    fc.assert(
      fc.property(arbArray, (a) => {
        expectSameArray(parseNpy(encodeNpy(a)), a);
      }),
      { numRuns: 300 },
    );
  });

  it("a valid file truncated at any byte gives an NmcError", () => {
    fc.assert(
      fc.property(arbArray, (a) => {
        const bytes = encodeNpy(a);
        for (let cut = 0; cut < bytes.length; cut++) {
          const r = parseOrNmc(bytes.subarray(0, cut));
          expect(r).toBeInstanceOf(NmcError);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("flipping any header byte gives an NmcError or a valid parse", () => {
    fc.assert(
      fc.property(arbArray, fc.nat(), fc.integer({ min: 1, max: 255 }), (a, pos, mask) => {
        const bytes = encodeNpy(a);
        const dataStart = 10 + (bytes[8]! | (bytes[9]! << 8));
        const flipped = bytes.slice();
        flipped[pos % dataStart] ^= mask;
        parseOrNmc(flipped);
      }),
      { numRuns: 3000 },
    );
  });

  it("every single-bit flip of every header byte gives an NmcError or a valid parse", () => {
    const bytes = encodeNpy(ndarray("i2", [2, 3], sampleData("i2", 6)));
    const dataStart = 10 + (bytes[8]! | (bytes[9]! << 8));
    for (let pos = 0; pos < dataStart; pos++) {
      for (let bit = 0; bit < 8; bit++) {
        const flipped = bytes.slice();
        flipped[pos] ^= 1 << bit;
        parseOrNmc(flipped);
      }
    }
  });

  it("random headers and random bytes give an NmcError or a valid parse", () => {
    const headerChars = fc.constantFrom(..."{}()[],:'\" -0123456789.eLTrueFalsNoTdcpfhi<>|=\\x\n".split(""));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(headerChars, { maxLength: 80 }).map((cs) => cs.join("")),
          fc.constantFrom(hdr("<f4", "(2,)"), hdr("|b1", "()"), hdr(">i8", "(1, 1)", "True")),
        ),
        fc.uint8Array({ maxLength: 24 }),
        fc.constantFrom(1, 2, 3),
        (header, data, major) => {
          parseOrNmc(rawNpy(header, data, { major }));
        },
      ),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (junk) => {
        parseOrNmc(junk);
        const withMagic = new Uint8Array(junk.length + 6);
        withMagic.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
        withMagic.set(junk, 6);
        parseOrNmc(withMagic);
      }),
      { numRuns: 2000 },
    );
  });
});
