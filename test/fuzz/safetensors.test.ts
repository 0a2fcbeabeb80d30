// Fuzz: .safetensors bytes (runtime/io/safetensors.ts parseSafetensors) and EvNN checkpoints through
// `nmc import evnn`'s reader (compiler/import: parseCheckpoint + importEvnn). FUZZ_RUNS cases per property:
//  1. byte mutations (flip, set, truncate, insert, delete, extend, duplicate) of valid files with random
//     tensors: an NmcError naming the file, or tensors whose data length is the product of their shape (and
//     exactly the original values when the bytes did not change); never another exception, never a hang.
//  2. headers rebuilt from fuzzed parts (valid and invalid dtypes, shapes, offsets that tile, overlap, leave
//     gaps or disagree with shape × dtype, trailing bytes, metadata), judged by an independent oracle: a file
//     whose entries are well formed and tile the data section exactly parses to exactly the values written;
//     anything else is an NmcError.
//  3. byte mutations of the committed EvNN checkpoints (safetensors and npz), then the importer: an NmcError
//     naming the file, or a model.json whose weights are all finite float32.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCheckpoint } from "../../compiler/import/checkpoint.js";
import { importEvnn } from "../../compiler/import/evnn.js";
import { parseSafetensors } from "../../runtime/io/safetensors.js";
import { repoRoot } from "../support/cli.js";
import { FUZZ_TEST_TIMEOUT_MS, FuzzBug, applyByteOps, attemptClean, byteOpsArb, fuzzParams, sameBytes } from "../support/fuzz.js";
import { encodeSafetensors, rawText, type StDtype, type StTensor, tensorBytes } from "../support/safetensors.js";

const FILE = "fuzz.safetensors";
const SIZE: Record<StDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };
const product = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Values every dtype holds exactly (multiples of 1/8 below 16), so the oracle needs no rounding rules. */
const exactValue = fc.integer({ min: -128, max: 128 }).map((k) => k / 8);
const nameArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("rnn.rnns.0.kernel", "hidden2out.bias", "w", "a.b.c", "embeddings.weight") },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.constantFrom("__proto__", "constructor", "toString", "", "ü", "__metadata") },
);
const tensorArb: fc.Arbitrary<StTensor> = fc
  .record({ name: nameArb, dtype: fc.constantFrom<StDtype>("F64", "F32", "F16", "BF16"), shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) })
  .chain((t) => fc.array(exactValue, { minLength: product(t.shape), maxLength: product(t.shape) }).map((values) => ({ ...t, values })));
const tensorsArb = fc.uniqueArray(tensorArb, { minLength: 0, maxLength: 5, selector: (t) => t.name });
const metaArb = fc.option(fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }), { nil: undefined });

/** The parse must be an NmcError naming FILE, or self-consistent tensors. */
function check(bytes: Uint8Array) {
  const r = attemptClean("parseSafetensors", () => parseSafetensors(bytes, FILE));
  if (!r.ok) {
    if (r.error.file !== FILE) throw new FuzzBug(`NmcError without the file name: ${r.error.format()}`);
    if (!/^byte \d+$/.test(r.error.path ?? "")) throw new FuzzBug(`NmcError without a byte offset: ${r.error.format()}`);
    return undefined;
  }
  for (const t of r.value.tensors.values()) {
    if (t.array.data.length !== product(t.array.shape)) throw new FuzzBug(`${t.name}: ${t.array.data.length} values for shape [${t.array.shape}]`);
    if ((t.dtype === "F64") !== (t.array.dtype === "f8")) throw new FuzzBug(`${t.name}: ${t.dtype} decoded as ${t.array.dtype}`);
    if (t.end - t.begin !== t.array.data.length * SIZE[t.dtype]) throw new FuzzBug(`${t.name}: byte range ${t.begin}..${t.end} for ${t.array.data.length} values`);
  }
  return r.value;
}

function sameTensors(got: ReturnType<typeof parseSafetensors>, want: readonly StTensor[]): boolean {
  if (got.tensors.size !== want.length) return false;
  return want.every((w) => {
    const t = got.tensors.get(w.name);
    return !!t && t.dtype === w.dtype && t.array.shape.join() === w.shape.join() && Array.from(t.array.data as Float32Array).every((v, i) => Object.is(v, w.values[i]));
  });
}

describe("fuzz: .safetensors reader", () => {
  it(`byte mutations of valid files: NmcError or consistent tensors (${fuzzParams().numRuns} cases)`, () => {
    let parsed = 0, refused = 0;
    fc.assert(
      fc.property(tensorsArb, metaArb, byteOpsArb, (tensors, meta, ops) => {
        const good = encodeSafetensors(tensors, meta);
        const bad = applyByteOps(good, ops);
        const st = check(bad);
        if (st) parsed++;
        else refused++;
        if (sameBytes(good, bad) && (!st || !sameTensors(st, tensors))) throw new FuzzBug("unchanged bytes did not round-trip");
      }),
      fuzzParams(),
    );
    expect(parsed + refused).toBe(fuzzParams().numRuns);
    expect(refused).toBeGreaterThan(0);
    expect(parsed).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  // ---------------------------------------------------------------------------------------------------
  // Headers rebuilt from parts, with an independent oracle.

  type Fault = { kind: "none" | "shift" | "overlap" | "size" | "dtype" | "shape" | "extra-field" | "missing-field" | "offsets"; dtype?: unknown };
  const faultArb: fc.Arbitrary<Fault> = fc.oneof(
    { weight: 6, arbitrary: fc.constant<Fault>({ kind: "none" }) },
    { weight: 1, arbitrary: fc.constantFrom<Fault>(...(["shift", "overlap", "size", "shape", "extra-field", "missing-field", "offsets"] as const).map((kind) => ({ kind }))) },
    { weight: 1, arbitrary: fc.constantFrom<unknown>("I64", "U8", "BOOL", "f32", "F8_E4M3", "C64", 7, null).map((dtype): Fault => ({ kind: "dtype", dtype })) },
  );
  const caseArb = fc.record({
    tensors: fc.uniqueArray(fc.record({ t: tensorArb, fault: faultArb }), { minLength: 1, maxLength: 4, selector: (x) => x.t.name }),
    trailing: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -3, max: 5 }) }),
    order: fc.constantFrom("as-is", "reversed"),
    meta: fc.oneof({ weight: 4, arbitrary: fc.constant<unknown>(undefined) }, { weight: 1, arbitrary: fc.constantFrom<unknown>({ a: "b" }, {}, { a: 1 }, [], "x", null) }),
    pad: fc.boolean(),
  });

  it(`headers rebuilt from fuzzed parts match an independent oracle (${fuzzParams().numRuns} cases)`, () => {
    let valid = 0;
    fc.assert(
      fc.property(caseArb, ({ tensors, trailing, order, meta, pad }) => {
        // Entries as [key, value] text pairs: an object would turn a "__proto__" key into a prototype.
        const entries: [string, unknown][] = [];
        const chunks: Uint8Array[] = [];
        let at = 0;
        let ok = meta === undefined || (typeof meta === "object" && meta !== null && !Array.isArray(meta) && Object.values(meta).every((v) => typeof v === "string"));
        for (const { t, fault } of tensors) {
          const b = tensorBytes(t);
          const begin = at, end = at + b.length;
          const e: Record<string, unknown> = { dtype: t.dtype, shape: t.shape, data_offsets: [begin, end] };
          switch (fault.kind) {
            case "none": break;
            case "shift": e.data_offsets = [begin + 1, end + 1]; ok = false; break;
            case "overlap": if (at > 0) { e.data_offsets = [begin - 1, end - 1]; ok = false; } break;
            case "size": e.data_offsets = [begin, end + SIZE[t.dtype]]; ok = false; break;
            case "dtype": e.dtype = fault.dtype; ok = false; break;
            case "shape": e.shape = [...t.shape, -1]; ok = false; break;
            case "extra-field": e.extra = 1; ok = false; break;
            case "missing-field": delete e.shape; ok = false; break;
            case "offsets": e.data_offsets = [begin]; ok = false; break;
          }
          entries.push([t.name, e]);
          chunks.push(b);
          at += b.length;
        }
        if (order === "reversed") entries.reverse();
        if (meta !== undefined) entries.unshift(["__metadata__", meta]);
        const data = new Uint8Array(Math.max(0, at + trailing));
        if (data.length !== at) ok = false;
        let p = 0;
        for (const c of chunks) {
          if (p >= data.length) break;
          data.set(c.subarray(0, Math.min(c.length, data.length - p)), p);
          p += c.length;
        }
        const text = "{" + entries.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(",") + "}";
        const bytes = rawText(text, data, pad);
        const st = check(bytes);
        if (ok) {
          if (!st) {
            const e = attemptClean("parse", () => parseSafetensors(bytes, FILE));
            throw new FuzzBug(`a well-formed file was refused: ${e.ok ? "" : e.error.format()}`);
          }
          if (!sameTensors(st, tensors.map((x) => x.t))) throw new FuzzBug("a well-formed file parsed to other values");
          valid++;
        } else if (st) {
          throw new FuzzBug(`a malformed file was accepted: ${text.slice(0, 200)} + ${data.length} data bytes`);
        }
      }),
      fuzzParams(),
    );
    expect(valid).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);
});

// ---------------------------------------------------------------------------------------------------------
// The importer on mutated EvNN checkpoints.

const FIX = join(repoRoot, "test", "fixtures", "evnn");
const bases = [
  { file: "mutated.safetensors", bytes: new Uint8Array(readFileSync(join(FIX, "smnist-2layer-wrapped-f16", "ckpt.safetensors"))) },
  { file: "mutated.safetensors", bytes: new Uint8Array(readFileSync(join(FIX, "lm-2layer-projection-bf16-zoneout", "ckpt.safetensors"))) },
  { file: "mutated.npz", bytes: new Uint8Array(readFileSync(join(FIX, "lm-3layer-tied", "ckpt.npz"))) },
];

describe("fuzz: nmc import evnn on mutated checkpoints", () => {
  it(`byte mutations: an NmcError naming the file, or a model with finite weights (${fuzzParams().numRuns} cases)`, () => {
    let imported = 0, refused = 0;
    fc.assert(
      fc.property(fc.nat({ max: bases.length - 1 }), byteOpsArb, fc.constantFrom(undefined, 0, 0.3), (bi, ops, zoneout) => {
        const base = bases[bi]!;
        const bytes = applyByteOps(base.bytes, ops);
        const r = attemptClean("import evnn", () => importEvnn(parseCheckpoint(bytes, base.file), { zoneout }));
        if (!r.ok) {
          if (r.error.file !== base.file && !r.known) throw new FuzzBug(`NmcError without the file name: ${r.error.format()}`);
          refused++;
          return;
        }
        imported++;
        const w = new Float32Array(r.value.model.bin.buffer.slice(0));
        if (!w.every(Number.isFinite)) throw new FuzzBug("an imported model holds a non-finite weight");
        const entries = (r.value.model.json.weightsManifest as { weights: { shape: number[] }[] }[])[0]!.weights;
        if (entries.reduce((n, e) => n + product(e.shape), 0) !== w.length) throw new FuzzBug("the manifest does not describe weights.bin");
      }),
      fuzzParams(),
    );
    expect(imported + refused).toBe(fuzzParams().numRuns);
    expect(refused).toBeGreaterThan(0);
    expect(imported).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);
});
