// Fuzz: .npy bytes (runtime/io/npy.ts parseNpy). Two properties of FUZZ_RUNS cases each:
//  1. byte mutations (flip, set, truncate, insert, delete, extend, duplicate) of valid files written by
//     encodeNpy: the parser returns an array whose data length is the product of its shape (and the original
//     array when the bytes did not change), or throws an NmcError; never another exception, never a hang.
//  2. headers rebuilt from fuzzed parts (dtype strings, fortran_order, shapes with negative / huge / non-int
//     dims, missing / extra / duplicated keys, data too short or too long), judged by an independent oracle:
//     a well-formed header whose data has exactly the right length must parse to exactly the expected
//     values; everything else must be refused with an NmcError.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DTYPES, type DType, type NdArray, itemSize } from "../../runtime/io/ndarray.js";
import { encodeNpy, parseNpy } from "../../runtime/io/npy.js";
import { FUZZ_TEST_TIMEOUT_MS, FuzzBug, applyByteOps, attemptClean, byteOpsArb, fuzzParams, sameBytes } from "../support/fuzz.js";

const FILE = "fuzz.npy";
const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

function randomData(dtype: DType, n: number, seed: number): NdArray["data"] {
  let s = seed >>> 0 || 1;
  const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0), s / 2 ** 32);
  switch (dtype) {
    case "f4": return Float32Array.from({ length: n }, () => (r() - 0.5) * 100);
    case "f8": return Float64Array.from({ length: n }, () => (r() - 0.5) * 1e6);
    case "i1": return Int8Array.from({ length: n }, () => Math.floor(r() * 256) - 128);
    case "i2": return Int16Array.from({ length: n }, () => Math.floor(r() * 65536) - 32768);
    case "i4": return Int32Array.from({ length: n }, () => Math.floor(r() * 2 ** 32) - 2 ** 31);
    case "i8": return BigInt64Array.from({ length: n }, () => BigInt(Math.floor(r() * 2 ** 40)) - 2n ** 39n);
    case "u1": return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
    case "u2": return Uint16Array.from({ length: n }, () => Math.floor(r() * 65536));
    case "u4": return Uint32Array.from({ length: n }, () => Math.floor(r() * 2 ** 32));
    case "u8": return BigUint64Array.from({ length: n }, () => BigInt(Math.floor(r() * 2 ** 40)));
    case "b1": return Uint8Array.from({ length: n }, () => (r() < 0.5 ? 1 : 0));
  }
}

const arrayArb: fc.Arbitrary<NdArray> = fc
  .record({
    dtype: fc.constantFrom(...DTYPES),
    shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
    seed: fc.nat(),
  })
  .map(({ dtype, shape, seed }) => ({ dtype, shape, data: randomData(dtype, product(shape), seed) }));

/** The outcome must be an NmcError or a self-consistent array; returns the array when there is one. */
function checkParsed(bytes: Uint8Array): NdArray | undefined {
  const r = attemptClean("parseNpy", () => parseNpy(bytes, FILE));
  if (!r.ok) {
    if (r.error.file !== FILE) throw new FuzzBug(`NmcError without the file name: ${r.error.format()}`);
    return undefined;
  }
  const a = r.value;
  if (!a.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new FuzzBug(`parsed shape ${JSON.stringify(a.shape)} is not all non-negative integers`);
  if (a.data.length !== product(a.shape)) throw new FuzzBug(`data length ${a.data.length} ≠ product of shape [${a.shape}]`);
  if (!DTYPES.includes(a.dtype)) throw new FuzzBug(`unknown dtype ${a.dtype}`);
  return a;
}

function sameArray(a: NdArray, b: NdArray): boolean {
  if (a.dtype !== b.dtype || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) return false;
  return true;
}

describe("fuzz: .npy parser", () => {
  it(`byte mutations of valid files: NmcError or a consistent array (${fuzzParams().numRuns} cases)`, () => {
    let parsed = 0, refused = 0;
    fc.assert(
      fc.property(arrayArb, byteOpsArb, (arr, ops) => {
        const good = encodeNpy(arr);
        const bad = applyByteOps(good, ops);
        const a = checkParsed(bad);
        if (a) parsed++;
        else refused++;
        if (sameBytes(good, bad)) {
          if (!a || !sameArray(a, arr)) throw new FuzzBug("unchanged bytes did not round-trip");
        }
      }),
      fuzzParams(),
    );
    expect(parsed + refused).toBe(fuzzParams().numRuns);
    expect(refused).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  // ---------------------------------------------------------------------------------------------------
  // Header rebuilt from fuzzed parts, with an independent oracle.

  const VALID_KINDS = ["f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1", "?"] as const;
  const ORDERS = ["", "<", ">", "|", "="] as const;
  const INVALID_DESCRS = ["<f2", "<c8", "<c16", "<U3", "|S4", "O", "<M8[ns]", "f", "", "<f4 ", " <f4", "float32", "<f 4", "<f04", "<i3", "<b2", "?1", "<V8", "<<f4"];

  type DescrCase = { text: string; dtype?: DType; bigEndian: boolean };
  const descrArb: fc.Arbitrary<DescrCase> = fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom(...ORDERS), fc.constantFrom(...VALID_KINDS)).map(([o, k]) => {
      const dtype: DType = k === "?" ? "b1" : k;
      return { text: `${o}${k}`, dtype, bigEndian: o === ">" && itemSize(dtype) > 1 };
    }) },
    { weight: 1, arbitrary: fc.constantFrom(...INVALID_DESCRS).map((text) => ({ text, bigEndian: false })) },
  );

  type Dim = { text: string; value?: number };
  const dimArb: fc.Arbitrary<Dim> = fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 5 }).map((v) => ({ text: String(v), value: v })) },
    { weight: 1, arbitrary: fc.constantFrom<Dim>(
      { text: "-1" }, { text: "2.0" }, { text: "1e3" }, { text: "True" }, { text: "'3'" }, { text: "None" }, { text: "99999999999999999999" },
      { text: "9007199254740992" }, { text: "0x10" }, { text: "(2,)" }, { text: "[]" },
      { text: String(2 ** 40), value: 2 ** 40 }, { text: String(Number.MAX_SAFE_INTEGER), value: Number.MAX_SAFE_INTEGER }, { text: "4294967296", value: 4294967296 },
      { text: " 3 ", value: 3 },
    ) },
  );
  type ShapeCase = { text: string; dims?: number[] };
  const shapeArb: fc.Arbitrary<ShapeCase> = fc.oneof(
    { weight: 6, arbitrary: fc.array(dimArb, { maxLength: 4 }).map((ds) => {
      const text = ds.length === 1 ? `(${ds[0]!.text},)` : `(${ds.map((d) => d.text).join(", ")})`;
      return { text, dims: ds.every((d) => d.value !== undefined) ? ds.map((d) => d.value!) : undefined };
    }) },
    { weight: 1, arbitrary: fc.constantFrom<ShapeCase>({ text: "[2, 3]" }, { text: "3" }, { text: "'(3,)'" }, { text: "(" }, { text: "(3,,)" }, { text: "((2, 3),)" }, { text: "None" }, { text: "{}" }) },
  );
  const fortranArb = fc.constantFrom(
    { text: "False", value: false as boolean | undefined }, { text: "True", value: true }, { text: "0", value: undefined },
    { text: "'False'", value: undefined }, { text: "None", value: undefined },
  );
  const keyStyleArb = fc.constantFrom("plain", "plain", "plain", "shuffled", "missing", "extra", "duplicate", "double-quotes", "no-trailing-comma");
  const dataDeltaArb = fc.constantFrom(0, 0, 0, 0, -1, 1, -8, 8, "random" as const);

  interface HeaderCase {
    descr: DescrCase;
    shape: ShapeCase;
    fortran: { text: string; value: boolean | undefined };
    keyStyle: string;
    version: 1 | 2 | 3;
    dataDelta: number | "random";
    seed: number;
  }
  const headerCaseArb: fc.Arbitrary<HeaderCase> = fc.record({
    descr: descrArb, shape: shapeArb, fortran: fortranArb, keyStyle: keyStyleArb,
    version: fc.constantFrom(1 as const, 1 as const, 2 as const, 3 as const), dataDelta: dataDeltaArb, seed: fc.nat(),
  });

  function headerText(c: HeaderCase): string {
    const q = c.keyStyle === "double-quotes" ? '"' : "'";
    let items: [string, string][] = [["descr", `${q}${c.descr.text}${q}`], ["fortran_order", c.fortran.text], ["shape", c.shape.text]];
    if (c.keyStyle === "shuffled") items = [items[2]!, items[0]!, items[1]!];
    if (c.keyStyle === "missing") items = items.filter((_, i) => i !== c.seed % 3);
    if (c.keyStyle === "extra") items.push(["extra", "1"]);
    if (c.keyStyle === "duplicate") items.push(items[c.seed % 3]!);
    const body = items.map(([k, v]) => `${q}${k}${q}: ${v}`).join(", ");
    return c.keyStyle === "no-trailing-comma" ? `{${body}}` : `{${body}, }`;
  }

  /** What the reader must do: the exact array, or refuse. */
  function oracle(c: HeaderCase, data: Uint8Array): NdArray | "refuse" {
    const keysOk = ["plain", "shuffled", "double-quotes", "no-trailing-comma"].includes(c.keyStyle);
    const { dtype } = c.descr;
    const dims = c.shape.dims;
    if (!keysOk || !dtype || !dims || c.fortran.value === undefined) return "refuse";
    const n = dims.reduce((a, b) => a * b, 1);
    if (data.length !== n * itemSize(dtype)) return "refuse";
    // Decode the expected elements independently (DataView, explicit endianness, Fortran → C order by hand).
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const le = !c.descr.bigEndian;
    const isz = itemSize(dtype);
    const read = (k: number): number | bigint => {
      const o = k * isz;
      switch (dtype) {
        case "f4": return dv.getFloat32(o, le);
        case "f8": return dv.getFloat64(o, le);
        case "i1": return dv.getInt8(o);
        case "i2": return dv.getInt16(o, le);
        case "i4": return dv.getInt32(o, le);
        case "i8": return dv.getBigInt64(o, le);
        case "u1": return dv.getUint8(o);
        case "u2": return dv.getUint16(o, le);
        case "u4": return dv.getUint32(o, le);
        case "u8": return dv.getBigUint64(o, le);
        case "b1": return dv.getUint8(o) ? 1 : 0;
      }
    };
    const values: (number | bigint)[] = [];
    const idx = new Array(dims.length).fill(0);
    for (let i = 0; i < n; i++) {
      // C index i → multi-index → source position (C or Fortran strides).
      let rem = i;
      for (let d = dims.length - 1; d >= 0; d--) {
        idx[d] = rem % dims[d]!;
        rem = Math.floor(rem / dims[d]!);
      }
      let src = 0;
      if (c.fortran.value) {
        let stride = 1;
        for (let d = 0; d < dims.length; d++) {
          src += idx[d] * stride;
          stride *= dims[d]!;
        }
      } else src = i;
      values.push(read(src));
    }
    return { dtype, shape: dims, data: values as unknown as NdArray["data"] };
  }

  function buildFile(c: HeaderCase): { bytes: Uint8Array; data: Uint8Array } {
    let header = headerText(c);
    const lengthBytes = c.version === 1 ? 2 : 4;
    const unpadded = 8 + lengthBytes + header.length + 1;
    header += " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
    const enc = c.version === 3 ? new TextEncoder().encode(header) : Uint8Array.from(header, (ch) => ch.charCodeAt(0));
    const dims = c.shape.dims;
    const isz = c.descr.dtype ? itemSize(c.descr.dtype) : 4;
    const n = dims ? dims.reduce((a, b) => a * b, 1) : 6;
    let len: number;
    if (c.dataDelta === "random" || n > 256) len = c.seed % 64;
    else len = Math.max(0, n * isz + c.dataDelta);
    let s = c.seed >>> 0 || 7;
    const data = Uint8Array.from({ length: len }, () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0), s >>> 24));
    const out = new Uint8Array(8 + lengthBytes + enc.length + data.length);
    out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, c.version, 0]);
    const dv = new DataView(out.buffer);
    if (lengthBytes === 2) dv.setUint16(8, enc.length, true);
    else dv.setUint32(8, enc.length, true);
    out.set(enc, 8 + lengthBytes);
    out.set(data, 8 + lengthBytes + enc.length);
    return { bytes: out, data };
  }

  it(`fuzzed headers: exactly the expected array or an NmcError (${fuzzParams().numRuns} cases)`, () => {
    let parsed = 0;
    fc.assert(
      fc.property(headerCaseArb, (c) => {
        const { bytes, data } = buildFile(c);
        const want = oracle(c, data);
        const got = checkParsed(bytes);
        if (want === "refuse") {
          if (got) throw new FuzzBug(`accepted an invalid file (header ${JSON.stringify(headerText(c))}, ${data.length} data bytes) as ${got.dtype}[${got.shape}]`);
          return;
        }
        if (!got) {
          const r = attemptClean("parseNpy", () => parseNpy(bytes, FILE));
          throw new FuzzBug(`refused a valid file (header ${JSON.stringify(headerText(c))}): ${r.ok ? "" : r.error.format()}`);
        }
        parsed++;
        if (!sameArray(got, want)) throw new FuzzBug(`wrong values for header ${JSON.stringify(headerText(c))}: got ${got.dtype}[${got.shape}] ${Array.from(got.data as ArrayLike<unknown>).slice(0, 8)}; want ${(want.data as unknown as unknown[]).slice(0, 8)}`);
      }),
      fuzzParams(),
    );
    expect(parsed).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);
});
