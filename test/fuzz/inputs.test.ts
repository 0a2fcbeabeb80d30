// Fuzz: model inputs beyond plain .npy (runtime/io/inputs.ts readInput, the reader `nmc run` uses): .npz
// archives, JSON arrays, CSV event lists and structured .npy event lists. Every case writes one file and reads
// it through readInput, as the CLI does. FUZZ_RUNS cases per property:
//  1. .npz: byte mutations of archives (NumPy's own fixtures and stored / deflated ones we write, with a
//     structured event member). Oracle: an NmcError naming the file, or exactly one of the archive's
//     original arrays (the zip CRC-32 guards every member's bytes, so anything else is silent garbage).
//  2. JSON: structural mutations (NaN / Infinity literals, strings, nulls, ragged rows, deleted and duplicated
//     elements) and 3. byte mutations of valid nested arrays. Oracle: an independent rectangularity check on
//     JSON.parse's value: the exact array when it is rectangular and all finite numbers, else an NmcError
//     (a syntax error names a line and column).
//  4. CSV events generated from a grammar whose every token the generator knows the meaning of (valid
//     spellings of numbers, and junk), with random headers, comments, blank lines, CRLF and long lines that
//     cross the streaming reader's chunk boundary. Oracle: the dense tensor computed from those meanings, or
//     an NmcError naming the line of the first bad row; the in-memory and streaming readers agree.
//  5. CSV byte mutations of valid files: an NmcError naming file and line, or a consistent tensor that both
//     CSV readers agree on.
//  6. Structured .npy event lists generated with random field dtypes (ints, floats, either byte order), field
//     order, padding fields and bad values (NaN, negative, fractional channels, huge times). Oracle: the dense
//     tensor computed from the stored values, or an NmcError naming the first bad record.
//  7. Structured .npy byte mutations: an NmcError naming the file, or a consistent tensor.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { NmcError } from "../../ir/errors.js";
import { CSV_CHUNK_BYTES, MAX_DENSE_ELEMENTS, parseEventsCsv } from "../../runtime/io/events.js";
import { type ModelInput, readInput } from "../../runtime/io/inputs.js";
import { ndarray } from "../../runtime/io/ndarray.js";
import { encodeNpy } from "../../runtime/io/npy.js";
import { rawNpy, zip } from "../support/input-files.js";
import { FUZZ_TEST_TIMEOUT_MS, FuzzBug, applyByteOps, attemptClean, byteOpsArb, fuzzParams, jsonOpsArb, mutateJson, sameBytes } from "../support/fuzz.js";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "inputs");
const dir = mkdtempSync(join(tmpdir(), "nmc-fuzz-inputs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ReadOpts { channels: number; dt?: number; ticks?: number }

/** readInput on `bytes` written to a file named `name`; a clean NmcError must name that file. */
function readCase(name: string, bytes: Uint8Array | string, spec: (path: string) => string, opts: ReadOpts) {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const r = attemptClean("readInput", () => readInput(spec(path), opts));
  if (!r.ok && r.error.file !== path) throw new FuzzBug(`NmcError without the file name: ${r.error.format()}`);
  return r;
}

/** A successful read must be a well-formed tensor. */
function checkConsistent(x: ModelInput, what: string): void {
  if (!x.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new FuzzBug(`${what}: shape [${x.shape}] is not all non-negative integers`);
  if (x.data.length !== x.shape.reduce((a, b) => a * b, 1)) throw new FuzzBug(`${what}: ${x.data.length} elements for shape [${x.shape}]`);
}

function checkEvents(x: ModelInput, channels: number, what: string): void {
  checkConsistent(x, what);
  if (x.shape.length !== 3 || x.shape[0] !== 1 || x.shape[1]! < 1 || x.shape[2] !== channels) throw new FuzzBug(`${what}: event tensor of shape [${x.shape}], expected [1, T ≥ 1, ${channels}]`);
  if (!x.data.every(Number.isFinite)) throw new FuzzBug(`${what}: event tensor holds a non-finite value`);
}

function sameTensor(a: { data: Float64Array; shape: readonly number[] }, b: { data: Float64Array; shape: readonly number[] }): boolean {
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]) &&
    a.data.length === b.data.length && a.data.every((v, i) => Object.is(v, b.data[i]));
}

const tensorText = (t: { data: Float64Array; shape: readonly number[] }) => `[${t.shape}] ${JSON.stringify(Array.from(t.data.slice(0, 12)))}`;

// ---------------------------------------------------------------------------------------------------------
// 1. .npz

const CHANNELS = 4;
const eventRecords = (() => {
  // [('t','<f8'), ('channel','<i4'), ('value','<f4')] × 3: (0, 1, 2.5), (2, 3, −1), (2, 3, 0.5)
  const rec = new DataView(new ArrayBuffer(3 * 16));
  [[0, 1, 2.5], [2, 3, -1], [2, 3, 0.5]].forEach(([t, c, v], i) => {
    rec.setFloat64(i * 16, t!, true);
    rec.setInt32(i * 16 + 8, c!, true);
    rec.setFloat32(i * 16 + 12, v!, true);
  });
  return rawNpy("{'descr': [('t', '<f8'), ('channel', '<i4'), ('value', '<f4')], 'fortran_order': False, 'shape': (3,), }", new Uint8Array(rec.buffer));
})();
const npzBases: { name: string; bytes: Uint8Array }[] = [
  { name: "numpy-savez", bytes: new Uint8Array(readFileSync(join(FIXTURES, "numpy-savez.npz"))) },
  { name: "numpy-savez-compressed", bytes: new Uint8Array(readFileSync(join(FIXTURES, "numpy-savez-compressed.npz"))) },
  ...[false, true].map((deflate) => ({
    name: deflate ? "deflated" : "stored",
    bytes: zip([
      { name: "w.npy", data: encodeNpy(ndarray("i2", [2, 2], Int16Array.from([1, -2, 300, 4]))), deflate },
      { name: "x.npy", data: encodeNpy(ndarray("f4", [1, 3, 2], Float32Array.from([0.5, 1, -1, 2, 3.25, 0]))), deflate },
      { name: "ev.npy", data: eventRecords, deflate },
    ]),
  })),
];
/** Every original member, read through readInput: what a successful read of a mutated archive may return. */
const npzOriginals = npzBases.map(({ name, bytes }) => {
  const path = join(dir, `${name}-original.npz`);
  writeFileSync(path, bytes);
  const keys = name === "numpy-savez" ? ["x", "y"] : name === "numpy-savez-compressed" ? ["arr_0", "x2"] : ["w", "x", "ev"];
  return keys.map((k) => readInput(`${path}:${k}`, { channels: CHANNELS }));
});

describe("fuzz: .npz inputs", () => {
  it(`byte mutations of archives: NmcError naming the file, or one of the original arrays (${fuzzParams().numRuns} cases)`, () => {
    let read = 0, refused = 0;
    fc.assert(
      fc.property(fc.nat({ max: npzBases.length - 1 }), byteOpsArb, fc.constantFrom(undefined, "x", "ev", "arr_0", "nope"), (bi, ops, member) => {
        const bad = applyByteOps(npzBases[bi]!.bytes, ops);
        const r = readCase("in.npz", bad, (p) => (member === undefined ? p : `${p}:${member}`), { channels: CHANNELS });
        if (!r.ok) {
          refused++;
          return;
        }
        read++;
        checkConsistent(r.value, "npz");
        if (!npzOriginals[bi]!.some((o) => sameTensor(o, r.value))) {
          throw new FuzzBug(`a mutated archive read as ${tensorText(r.value)}, none of its original arrays`);
        }
      }),
      fuzzParams(),
    );
    expect(refused).toBeGreaterThan(0);
    expect(read).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);
});

// ---------------------------------------------------------------------------------------------------------
// 2, 3. JSON arrays

/** The reference: nested arrays of finite numbers, every array at one depth the same length, rank ≥ 1. */
function referenceJson(v: unknown): { data: Float64Array; shape: number[] } | undefined {
  const out: number[] = [];
  const shapeOf = (x: unknown): number[] | undefined => {
    if (typeof x === "number") {
      if (!Number.isFinite(x)) return undefined;
      out.push(x);
      return [];
    }
    if (!Array.isArray(x)) return undefined;
    let inner: number[] | undefined;
    for (const e of x) {
      const s = shapeOf(e);
      if (!s || (inner && (s.length !== inner.length || s.some((d, i) => d !== inner![i])))) return undefined;
      inner = s;
    }
    return [x.length, ...(inner ?? [])];
  };
  const shape = shapeOf(v);
  // An empty array stops the shape there ([] → [0], [[], []] → [2, 0]): nothing deeper is known.
  if (!shape || shape.length === 0) return undefined;
  return { data: Float64Array.from(out), shape };
}

function judgeJson(bytes: Uint8Array | string): "read" | "refused" {
  const r = readCase("in.json", bytes, (p) => p, { channels: CHANNELS });
  const text = readFileSync(join(dir, "in.json"), "utf8");
  let parsed: { ok: true; v: unknown } | { ok: false };
  try {
    parsed = { ok: true, v: JSON.parse(text) };
  } catch {
    parsed = { ok: false };
  }
  const want = parsed.ok ? referenceJson(parsed.v) : undefined;
  if (r.ok) {
    if (!want) throw new FuzzBug(`accepted ${JSON.stringify(text.slice(0, 80))}, which is not a rectangular array of finite numbers`);
    if (!sameTensor(r.value, want)) throw new FuzzBug(`read ${tensorText(r.value)}, expected ${tensorText(want)}`);
    return "read";
  }
  if (want) throw new FuzzBug(`refused a valid array ${JSON.stringify(text.slice(0, 80))}: ${r.error.format()}`);
  if (!parsed.ok && !/line \d+, column \d+/.test(r.error.path ?? "")) throw new FuzzBug(`a syntax error without line and column: ${r.error.format()}`);
  if (parsed.ok && !(r.error.path ?? "").startsWith("$")) throw new FuzzBug(`a bad array without its JSON path: ${r.error.format()}`);
  return "refused";
}

const numberArb = fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.double({ min: -1e6, max: 1e6, noNaN: true }));
const jsonArrayArb = fc.oneof(
  fc.array(numberArb, { minLength: 1, maxLength: 6 }),
  fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 })).chain(([T, C]) => fc.array(fc.array(numberArb, { minLength: C, maxLength: C }), { minLength: T, maxLength: T })),
  fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })).chain(([B, T, C]) =>
    fc.array(fc.array(fc.array(numberArb, { minLength: C, maxLength: C }), { minLength: T, maxLength: T }), { minLength: B, maxLength: B })),
);

describe("fuzz: JSON inputs", () => {
  it(`structural mutations of nested arrays: the exact array or an NmcError with its JSON path (${fuzzParams().numRuns} cases)`, () => {
    const seen = { read: 0, refused: 0 };
    fc.assert(
      fc.property(jsonArrayArb, jsonOpsArb, (arr, ops) => {
        seen[judgeJson(mutateJson(arr, ops).text)]++;
      }),
      fuzzParams(),
    );
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.read).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  it(`byte mutations of valid JSON text (${fuzzParams().numRuns} cases)`, () => {
    const seen = { read: 0, refused: 0 };
    fc.assert(
      fc.property(jsonArrayArb, fc.boolean(), byteOpsArb, (arr, pretty, ops) => {
        const text = new TextEncoder().encode(pretty ? JSON.stringify(arr, null, 2) : JSON.stringify(arr));
        seen[judgeJson(applyByteOps(text, ops))]++;
      }),
      fuzzParams(),
    );
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.read).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);
});

// ---------------------------------------------------------------------------------------------------------
// 4, 5. CSV events

/** A token and what it means: a number (finite or not), or junk that is not a number at all. */
interface Token { text: string; value: number | "junk" }

/** Spellings of n that a CSV reader must accept as n. */
const spell = (n: number): fc.Arbitrary<Token> =>
  fc.constantFrom(String(n), `+${n}`, Number.isInteger(n) ? `${n}.0` : `${n}0`, `${n}e0`, ` ${n} `, `${n * 10}e-1`, n >= 0 && Number.isInteger(n) ? `0${n}` : String(n))
    .filter((s) => !s.startsWith("+-"))
    .map((text) => ({ text, value: n }));
const junkArb: fc.Arbitrary<Token> = fc.constantFrom("", "nan", "NaN", "inf", "Infinity", "0x10", "3a", "--1", "1e", ".", "1.2.3", "t", "\"1\"", "1 2")
  .map((text) => ({ text, value: "junk" as const }));
const timeArb = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 9 }).chain(spell) },
  { weight: 3, arbitrary: fc.constantFrom(0.25, 0.5, 1.75, 2.5, 7.25).chain(spell) },
  { weight: 1, arbitrary: fc.constantFrom<Token>({ text: "-1", value: -1 }, { text: "1e999", value: Infinity }, { text: "1e300", value: 1e300 }, { text: "100000", value: 1e5 }) },
  { weight: 1, arbitrary: junkArb },
);
const channelArb = (C: number) => fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: C - 1 }).chain(spell) },
  { weight: 1, arbitrary: fc.constantFrom<Token>({ text: String(C), value: C }, { text: "-1", value: -1 }, { text: "1.5", value: 1.5 }, { text: "1e999", value: Infinity }) },
  { weight: 1, arbitrary: junkArb },
);
const valueArb = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom(1, -1, 0.5, 2, -3.25, 0, 100).chain(spell) },
  { weight: 1, arbitrary: fc.constantFrom<Token>({ text: "1e999", value: Infinity }, { text: "-1e999", value: -Infinity }) },
  { weight: 1, arbitrary: junkArb },
);

type Column = "t" | "channel" | "value";
type Line = { kind: "row"; cells: Token[]; extra: number } | { kind: "comment" | "blank"; text: string };

const csvCaseArb = fc.record({
  C: fc.integer({ min: 1, max: 5 }),
  dt: fc.constantFrom<number | undefined>(undefined, undefined, 1, 0.5, 0.25),
  ticks: fc.constantFrom<number | undefined>(undefined, undefined, 4, 12),
  columns: fc.constantFrom<Column[]>(["t", "channel", "value"], ["t", "channel"], ["channel", "t"], ["value", "channel", "t"], ["channel", "value", "t"]),
  headerSpelling: fc.constantFrom("plain", "upper", "spaced", "bom"),
  badHeader: fc.constantFrom<string | undefined>(...Array(12).fill(undefined), "t,chan", "t,t,channel", "channel,value", "0,1,2", "t;channel", ""),
  crlf: fc.boolean(),
  finalNewline: fc.boolean(),
}).chain((c) => fc.record({
  c: fc.constant(c),
  lines: fc.array(fc.oneof(
    { weight: 10, arbitrary: fc.record({ cells: fc.tuple(timeArb, channelArb(c.C), valueArb), extra: fc.constantFrom(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, -1) }).map(({ cells: [t, ch, v], extra }): Line => ({
      kind: "row", extra,
      cells: c.columns.map((col) => (col === "t" ? t : col === "channel" ? ch : v)),
    })) },
    { weight: 1, arbitrary: fc.constantFrom<Line>({ kind: "blank", text: "" }, { kind: "blank", text: "   " }, { kind: "comment", text: "# a comment, with commas" }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: CSV_CHUNK_BYTES + 4096 }).map((n): Line => ({ kind: "comment", text: `#${"x".repeat(n)}` })) },
  ), { maxLength: 12 }),
}));

function headerText(c: { columns: Column[]; headerSpelling: string; badHeader?: string }): string {
  if (c.badHeader !== undefined) return c.badHeader;
  const names = c.columns.map((n) => (c.headerSpelling === "upper" ? n.toUpperCase() : n));
  return (c.headerSpelling === "bom" ? "\ufeff" : "") + names.join(c.headerSpelling === "spaced" ? " , " : ",");
}

/** The CSV text and the reference outcome: the dense tensor, or the line of the first bad row. */
function csvCase(k: fc.ValueType<typeof csvCaseArb>): { text: string; want: { data: Float64Array; shape: number[] } | { badLine: number | undefined } } {
  const { c, lines } = k;
  const header = headerText(c);
  const all: string[] = [header];
  const nl = c.crlf ? "\r\n" : "\n";
  let badLine: number | undefined;
  let maxTick = -1;
  const events: [number, number, number][] = [];
  const fail = (line: number | undefined) => {
    if (badLine === undefined) badLine = line;
  };
  const rendered = lines.map((l) => {
    if (l.kind !== "row") return l.text;
    const cells = l.cells.map((t) => t.text);
    if (l.extra > 0) cells.push("1");
    if (l.extra < 0) cells.pop();
    return cells.join(",");
  });
  all.push(...rendered);
  const skipped = (text: string) => text.trim() === "" || text.trim().startsWith("#");
  if (c.badHeader !== undefined) {
    // Refused at the header. A blank one ("") is skipped, so the first row is taken for the header, and no row
    // (numbers and junk, never the name "channel") makes a valid one; with no rows the file is empty.
    const first = rendered.findIndex((t) => !skipped(t));
    fail(c.badHeader !== "" ? 1 : first < 0 ? undefined : first + 2);
  }
  lines.forEach((l, i) => {
    const lineNo = i + 2;
    if (c.badHeader !== undefined || badLine !== undefined || l.kind !== "row" || skipped(rendered[i]!)) return;
    if (l.extra !== 0) return fail(lineNo); // junk tokens hold no comma: only `extra` changes the field count
    const [t, ch, v] = (["t", "channel", "value"] as const).map((col) => {
      const at = c.columns.indexOf(col);
      return at < 0 ? 1 : l.cells[at]!.value;
    });
    if (t === "junk" || ch === "junk" || v === "junk") return fail(lineNo);
    if (!Number.isFinite(t) || t < 0) return fail(lineNo);
    if (c.dt === undefined && !Number.isInteger(t)) return fail(lineNo);
    const tick = Math.floor(t / (c.dt ?? 1)); // t is a multiple of 0.25 and dt a power of two: exact
    if (!Number.isInteger(ch) || ch < 0 || ch >= c.C) return fail(lineNo);
    if (!Number.isFinite(v)) return fail(lineNo);
    if (c.ticks !== undefined && tick >= c.ticks) return fail(lineNo);
    if ((tick + 1) * c.C > MAX_DENSE_ELEMENTS) return fail(lineNo);
    events.push([tick, ch, v]);
    maxTick = Math.max(maxTick, tick);
  });
  const refused = c.badHeader !== undefined || badLine !== undefined;
  const text = all.join(nl) + (c.finalNewline ? nl : "");
  if (refused) return { text, want: { badLine } };
  const T = c.ticks ?? maxTick + 1;
  if (T === 0) return { text, want: { badLine: undefined } };
  const data = new Float64Array(T * c.C);
  for (const [tick, ch, v] of events) data[tick * c.C + ch] += v;
  return { text, want: { data, shape: [1, T, c.C] } };
}

/** Both CSV readers (streaming from the file, and in memory) must give the same outcome. */
function sameCsvOutcome(file: ReturnType<typeof readCase>, text: string, opts: ReadOpts, path: string): void {
  const mem = attemptClean("parseEventsCsv", () => parseEventsCsv(text, opts, path));
  if (file.ok !== mem.ok) throw new FuzzBug(`the streaming reader ${file.ok ? "read" : "refused"} what the in-memory reader ${mem.ok ? "read" : "refused"}`);
  if (file.ok && mem.ok && !sameTensor(file.value, mem.value)) throw new FuzzBug(`the two CSV readers disagree: ${tensorText(file.value)} vs ${tensorText(mem.value)}`);
  if (!file.ok && !mem.ok && (file.error as NmcError).path !== (mem.error as NmcError).path) {
    throw new FuzzBug(`the two CSV readers name different places: ${file.error.path} vs ${mem.error.path}`);
  }
}

describe("fuzz: CSV event inputs", () => {
  it(`generated event lists with valid and bad tokens: the reference tensor, or an NmcError at the first bad line (${fuzzParams().numRuns} cases)`, () => {
    const seen = { read: 0, refused: 0, longLines: 0 };
    fc.assert(
      fc.property(csvCaseArb, (k) => {
        const { text, want } = csvCase(k);
        const opts: ReadOpts = { channels: k.c.C, dt: k.c.dt, ticks: k.c.ticks };
        const r = readCase("in.csv", text, (p) => p, opts);
        sameCsvOutcome(r, text, opts, join(dir, "in.csv"));
        if (text.length > CSV_CHUNK_BYTES) seen.longLines++;
        if ("data" in want) {
          if (!r.ok) throw new FuzzBug(`refused a valid event list: ${r.error.format()}\n${text.slice(0, 300)}`);
          if (!sameTensor(r.value, want)) throw new FuzzBug(`read ${tensorText(r.value)}, expected ${tensorText(want)}\n${text.slice(0, 300)}`);
          if (r.value.events !== undefined && r.value.events > k.lines.length) throw new FuzzBug(`${r.value.events} events from ${k.lines.length} lines`);
          seen.read++;
          return;
        }
        if (r.ok) throw new FuzzBug(`accepted a bad event list (line ${want.badLine}) as ${tensorText(r.value)}\n${text.slice(0, 300)}`);
        if (want.badLine !== undefined && r.error.path !== `line ${want.badLine}` && !(r.error.path ?? "").startsWith(`line ${want.badLine},`)) {
          throw new FuzzBug(`the error names ${r.error.path}, the first bad line is ${want.badLine}: ${r.error.format()}`);
        }
        seen.refused++;
      }),
      fuzzParams(),
    );
    expect(seen.read).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
    expect(seen.longLines).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  it(`byte mutations of valid CSV files: an NmcError naming file and line, or a tensor both readers agree on (${fuzzParams().numRuns} cases)`, () => {
    const seen = { read: 0, refused: 0 };
    // Well-formed files: a good header, no junk tokens, no wrong field counts (bad values may remain).
    const wellFormed = csvCaseArb.map((k) => ({
      c: { ...k.c, badHeader: undefined },
      lines: k.lines.filter((l) => l.kind !== "row" || (l.extra === 0 && l.cells.every((t) => t.value !== "junk"))),
    }));
    fc.assert(
      fc.property(wellFormed, byteOpsArb, (k, ops) => {
        const bytes = applyByteOps(new TextEncoder().encode(csvCase(k).text), ops);
        const opts: ReadOpts = { channels: k.c.C, dt: k.c.dt, ticks: k.c.ticks };
        const r = readCase("in.csv", bytes, (p) => p, opts);
        sameCsvOutcome(r, Buffer.from(bytes).toString("utf8"), opts, join(dir, "in.csv"));
        if (r.ok) {
          checkEvents(r.value, k.c.C, "csv");
          seen.read++;
        } else {
          const e = r.error;
          if (e.path !== undefined && !/^line \d+/.test(e.path)) throw new FuzzBug(`a CSV error whose place is not a line: ${e.format()}`);
          seen.refused++;
        }
      }),
      fuzzParams(),
    );
    expect(seen.read).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);
});

// ---------------------------------------------------------------------------------------------------------
// 6, 7. Structured .npy event lists

type FieldType = "<f8" | "<f4" | ">f8" | "<i8" | "<i4" | ">i4" | "<i2" | "<u2" | "|u1" | "|i1";
const SIZE: Record<FieldType, number> = { "<f8": 8, "<f4": 4, ">f8": 8, "<i8": 8, "<i4": 4, ">i4": 4, "<i2": 2, "<u2": 2, "|u1": 1, "|i1": 1 };

/** Stores v in the field's type (C casts: truncation, wrap-around) and returns what is stored. */
function store(dv: DataView, at: number, ty: FieldType, v: number): number {
  const le = ty[0] === "<";
  const int = Number.isFinite(v) ? Math.trunc(v) : 0;
  switch (ty) {
    case "<f8": case ">f8": dv.setFloat64(at, v, le); return dv.getFloat64(at, le);
    case "<f4": dv.setFloat32(at, v, le); return dv.getFloat32(at, le);
    case "<i8": dv.setBigInt64(at, BigInt(int), le); return Number(dv.getBigInt64(at, le));
    case "<i4": case ">i4": dv.setInt32(at, int, le); return dv.getInt32(at, le);
    case "<i2": dv.setInt16(at, int, le); return dv.getInt16(at, le);
    case "<u2": dv.setUint16(at, int, le); return dv.getUint16(at, le);
    case "|u1": dv.setUint8(at, int); return dv.getUint8(at);
    case "|i1": dv.setInt8(at, int); return dv.getInt8(at);
  }
}

const recordsCaseArb = fc.record({
  C: fc.integer({ min: 1, max: 6 }),
  dt: fc.constantFrom<number | undefined>(undefined, undefined, 1, 0.5),
  ticks: fc.constantFrom<number | undefined>(undefined, undefined, 5),
  tType: fc.constantFrom<FieldType>("<f8", "<f4", ">f8", "<i8", "<i4", ">i4", "<u2", "|u1"),
  cType: fc.constantFrom<FieldType>("<i4", ">i4", "<i8", "<i2", "<u2", "|u1", "|i1", "<f4", "<f8"),
  vType: fc.constantFrom<FieldType | undefined>(undefined, "<f4", "<f8", ">f8", "<i2", "|i1"),
  pad: fc.boolean(),
  order: fc.nat(),
  records: fc.array(fc.record({
    t: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: 8 }) }, { weight: 2, arbitrary: fc.constantFrom(0.5, 2.5, 6.5) },
      { weight: 1, arbitrary: fc.constantFrom(-1, NaN, Infinity, 1e300) }),
    channel: fc.oneof({ weight: 12, arbitrary: fc.integer({ min: 0, max: 5 }) }, { weight: 1, arbitrary: fc.constantFrom(-1, 1.5, NaN, 300) }),
    value: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(1, -2, 0.5, 3, 0, 100) }, { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -0.25) }),
  }), { maxLength: 10 }),
});

function recordsCase(k: fc.ValueType<typeof recordsCaseArb>): { bytes: Uint8Array; want: { data: Float64Array; shape: number[] } | { badRecord: number | undefined } } {
  const fields: [string, FieldType][] = [["t", k.tType], ["channel", k.cType]];
  if (k.vType) fields.push(["value", k.vType]);
  if (k.pad) fields.push(["pad", "|u1"]);
  for (let i = fields.length - 1; i > 0; i--) {
    const j = (k.order >> i) % (i + 1);
    [fields[i], fields[j]] = [fields[j]!, fields[i]!];
  }
  const itemSize = fields.reduce((n, [, ty]) => n + SIZE[ty], 0);
  const dv = new DataView(new ArrayBuffer(k.records.length * itemSize));
  let badRecord: number | undefined;
  const events: [number, number, number][] = [];
  let maxTick = -1;
  k.records.forEach((r, i) => {
    let at = i * itemSize;
    const stored: Record<string, number> = {};
    for (const [name, ty] of fields) {
      stored[name] = store(dv, at, ty, name === "pad" ? 0xab : r[name as "t" | "channel" | "value"]);
      at += SIZE[ty];
    }
    if (badRecord !== undefined) return;
    const t = stored.t!, ch = stored.channel!, v = k.vType ? stored.value! : 1;
    const bad = () => {
      badRecord = i;
    };
    if (!Number.isFinite(t) || t < 0 || (k.dt === undefined && !Number.isInteger(t))) return bad();
    const tick = Math.floor(t / (k.dt ?? 1));
    if (!Number.isInteger(ch) || ch < 0 || ch >= k.C || !Number.isFinite(v)) return bad();
    if (k.ticks !== undefined && tick >= k.ticks) return bad();
    if ((tick + 1) * k.C > MAX_DENSE_ELEMENTS) return bad();
    events.push([tick, ch, v]);
    maxTick = Math.max(maxTick, tick);
  });
  const descr = fields.map(([n, ty]) => `('${n}', '${ty}')`).join(", ");
  const bytes = rawNpy(`{'descr': [${descr}], 'fortran_order': False, 'shape': (${k.records.length},), }`, new Uint8Array(dv.buffer));
  if (badRecord !== undefined) return { bytes, want: { badRecord } };
  const T = k.ticks ?? maxTick + 1;
  if (T === 0) return { bytes, want: { badRecord: undefined } };
  const data = new Float64Array(T * k.C);
  for (const [tick, ch, v] of events) data[tick * k.C + ch] += v;
  return { bytes, want: { data, shape: [1, T, k.C] } };
}

describe("fuzz: structured .npy event inputs", () => {
  it(`generated event records (any field dtypes, order, padding, bad values): the reference tensor or an NmcError at the first bad record (${fuzzParams().numRuns} cases)`, () => {
    const seen = { read: 0, refused: 0 };
    fc.assert(
      fc.property(recordsCaseArb, (k) => {
        const { bytes, want } = recordsCase(k);
        const r = readCase("ev.npy", bytes, (p) => p, { channels: k.C, dt: k.dt, ticks: k.ticks });
        if ("data" in want) {
          if (!r.ok) throw new FuzzBug(`refused valid records: ${r.error.format()}`);
          if (!sameTensor(r.value, want)) throw new FuzzBug(`read ${tensorText(r.value)}, expected ${tensorText(want)}`);
          seen.read++;
          return;
        }
        if (r.ok) throw new FuzzBug(`accepted records with a bad record ${want.badRecord} as ${tensorText(r.value)}`);
        if (want.badRecord !== undefined && !(r.error.path ?? "").startsWith(`record ${want.badRecord} `)) {
          throw new FuzzBug(`the error names ${r.error.path}, the first bad record is ${want.badRecord}: ${r.error.format()}`);
        }
        seen.refused++;
      }),
      fuzzParams(),
    );
    expect(seen.read).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);

  it(`byte mutations of event-record files: an NmcError naming the file, or a consistent tensor (${fuzzParams().numRuns} cases)`, () => {
    const seen = { read: 0, refused: 0 };
    const fixture = new Uint8Array(readFileSync(join(FIXTURES, "numpy-events.npy")));
    const base = fc.oneof(
      fc.constant({ bytes: fixture, C: 3 }),
      // Valid lists only, so that mutations that miss the values (padding, a value field) still read.
      recordsCaseArb.map((k) => ({ k, c: recordsCase(k) })).filter(({ c }) => "data" in c.want).map(({ k, c }) => ({ bytes: c.bytes, C: k.C })),
    );
    fc.assert(
      fc.property(base, byteOpsArb, ({ bytes, C }, ops) => {
        const bad = applyByteOps(bytes, ops);
        const r = readCase("ev.npy", bad, (p) => p, { channels: C });
        if (r.ok) {
          // A mutated header can make the file a plain numeric array, which reads as one.
          if (r.value.dtype === "events") checkEvents(r.value, C, "events");
          else checkConsistent(r.value, "npy");
          if (sameBytes(bad, bytes) && r.value.dtype !== "events") throw new FuzzBug("an unmutated event file did not read as events");
          seen.read++;
        } else seen.refused++;
      }),
      fuzzParams(),
    );
    expect(seen.read).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  }, FUZZ_TEST_TIMEOUT_MS);
});
