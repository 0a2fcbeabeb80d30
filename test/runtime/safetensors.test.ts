// The .safetensors reader (runtime/io/safetensors.ts): files written by safetensors' own writer
// (test/fixtures/evnn/dtypes.safetensors, safetensors.numpy) read to the values numpy wrote, and each check
// of the format refuses with the byte offset and the tensor.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { NmcError } from "../../ir/errors.js";
import { readNpy } from "../../runtime/io/npy.js";
import { readNpz } from "../../runtime/io/npz.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
import { parseSafetensors, readSafetensors } from "../../runtime/io/safetensors.js";
import { repoRoot } from "../support/cli.js";
import { encodeSafetensors, raw } from "../support/safetensors.js";

const FIX = join(repoRoot, "test", "fixtures", "evnn");

function refused(bytes: Uint8Array, path: string, re: RegExp): NmcError {
  let err: unknown;
  try {
    parseSafetensors(bytes, "t.safetensors");
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(NmcError);
  const e = err as NmcError;
  expect(e.file).toBe("t.safetensors");
  expect(e.path).toBe(path);
  expect(e.format()).toMatch(re);
  return e;
}

const f32 = (name: string, shape: number[], values: number[]) => ({ name, dtype: "F32" as const, shape, values });

describe("safetensors reader", () => {
  it("reads what safetensors.numpy wrote: F64, F32, F16 (subnormals, ±Inf, NaN), a scalar, an empty tensor, __metadata__", () => {
    const st = readSafetensors(join(FIX, "dtypes.safetensors"));
    const want = readNpz(join(FIX, "dtypes-expected.npz"));
    expect([...st.tensors.keys()].sort()).toEqual([...want.keys()].sort());
    expect(st.metadata).toEqual({ format: "np" });
    for (const [k, w] of want) {
      const t = st.tensors.get(k)!;
      expect(t.array.shape, k).toEqual(w.shape);
      const got = Array.from(toFloat64(t.array));
      const exp = Array.from(toFloat64(w));
      got.forEach((g, i) => expect(Object.is(g, exp[i]) || (Number.isNaN(g) && Number.isNaN(exp[i])), `${k}[${i}]: ${g} vs ${exp[i]}`).toBe(true));
    }
    expect(st.tensors.get("f64")!.dtype).toBe("F64");
    expect(st.tensors.get("f64")!.array.dtype).toBe("f8");
    expect(st.tensors.get("f16")!.array.dtype).toBe("f4");
  });

  it("reads BF16 as the top half of a float32", () => {
    const st = readSafetensors(join(FIX, "bf16.safetensors"));
    const want = toFloat64(readNpy(join(FIX, "bf16-expected.npy")));
    const got = toFloat64(st.tensors.get("bf16")!.array);
    expect(Array.from(got)).toEqual(Array.from(want));
    expect(Object.is(got[4], -0)).toBe(true);
  });

  it("round-trips the test writer, header order kept", () => {
    const bytes = encodeSafetensors([f32("b", [2], [1, 2]), { name: "a", dtype: "F64", shape: [1, 1], values: [0.1] }, { name: "h", dtype: "F16", shape: [2], values: [0.5, -3] }]);
    const st = parseSafetensors(bytes);
    expect([...st.tensors.keys()]).toEqual(["b", "a", "h"]);
    expect(Array.from(st.tensors.get("a")!.array.data as Float64Array)).toEqual([0.1]);
    expect(Array.from(st.tensors.get("h")!.array.data as Float32Array)).toEqual([0.5, -3]);
    expect(st.tensors.get("b")!.begin).toBe(st.dataStart);
  });

  it("refuses a header length past the end of the file, or beyond 100 MB", () => {
    const good = encodeSafetensors([f32("x", [1], [1])]);
    refused(good.subarray(0, 12), "byte 0", /header runs past the end of the file \(expected a header of at most 4 bytes, found header length \d+\)\. the file is probably truncated/);
    const big = new Uint8Array(good);
    new DataView(big.buffer).setBigUint64(0, 2n ** 63n, true);
    refused(big, "byte 0", /header length is too large/);
    refused(new Uint8Array(3), "byte 0", /shorter than its 8-byte header length/);
  });

  it("refuses headers that are not a JSON object of tensor entries", () => {
    refused(raw([1, 2], new Uint8Array(0)), "byte 8", /does not start with '\{'/);
    refused(raw({ x: 1 }, new Uint8Array(0)), "byte 8", /tensor "x" in the safetensors header: not an object/);
    const bad = raw({ x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4));
    bad[10] = 0xff; // inside the JSON text
    refused(bad, "byte 8", /not valid UTF-8/);
  });

  it("refuses unknown dtypes, integer dtypes, bad shapes and offsets, extra fields, bad __metadata__", () => {
    const d4 = new Uint8Array(8);
    refused(raw({ x: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, d4), "byte 8", /tensor "x" in the safetensors header: dtype I64 is not a float type/);
    refused(raw({ x: { dtype: "F17", shape: [1], data_offsets: [0, 8] } }, d4), "byte 8", /unknown dtype \(expected F32, F16, BF16 or F64, found "F17"\)/);
    refused(raw({ x: { dtype: "F32", shape: [-1], data_offsets: [0, 8] } }, d4), "byte 8", /shape is not a list of non-negative integers/);
    refused(raw({ x: { dtype: "F32", shape: [2], data_offsets: [8, 0] } }, d4), "byte 8", /data_offsets end before they begin/);
    refused(raw({ x: { dtype: "F32", shape: [2], data_offsets: [0, 8], extra: 1 } }, d4), "byte 8", /unknown field "extra"/);
    refused(raw({ __metadata__: { a: 1 }, x: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, d4), "byte 8", /__metadata__ is not a map of strings/);
  });

  it("refuses offsets that overlap, leave gaps, run past the end, or disagree with shape × dtype", () => {
    const d = new Uint8Array(16);
    // The data section is the last 16 bytes; offsets in errors are absolute.
    const check = (header: unknown, at: number, re: RegExp) => {
      const bytes = raw(header, d);
      refused(bytes, `byte ${bytes.length - 16 + at}`, re);
    };
    check({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, 4,
      /tensor "b": data_offsets \[4, 12\] overlaps tensor "a", which ends at 8/);
    check({ a: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, 4, /tensor "a": data_offsets \[4, 12\] leaves a gap of 4 bytes after the header/);
    check({ a: { dtype: "F32", shape: [6], data_offsets: [0, 24] } }, 0, /data_offsets \[0, 24\] run past the end of the file/);
    check({ a: { dtype: "F64", shape: [1], data_offsets: [0, 16] } }, 0, /tensor "a": 16 bytes of data for shape \[1\] of F64 \(expected 8 bytes/);
    check({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } }, 8, /8 bytes after the last tensor's data/);
  });

  it("a JSON syntax error names its byte", () => {
    const text = '{"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},}';
    const bytes = new Uint8Array(8 + text.length + 4);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(text.length), true);
    bytes.set(new TextEncoder().encode(text), 8);
    const e = refused(bytes, `byte ${8 + text.length - 1}`, /not valid JSON/);
    expect(e.expected).toBe("a JSON object");
  });

  it("parses the committed EvNN checkpoints", () => {
    for (const f of ["smnist-1layer", "lm-2layer-projection-bf16-zoneout"]) {
      const st = parseSafetensors(readFileSync(join(FIX, f, "ckpt.safetensors")));
      expect(st.tensors.size).toBeGreaterThan(5);
    }
  });
});
