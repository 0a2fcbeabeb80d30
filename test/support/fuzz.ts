// Shared machinery for the fuzz suite (test/fuzz/*.test.ts, issue 7 "Hardening"): byte and JSON mutators
// as fast-check arbitraries, the run count, and `attempt`, which runs one parser call and classifies what
// happened: a result, a clean NmcError (what the CLI maps to exit 2), or a bug (any other exception).
//
// Every property calls the code under test in-process (spawning the CLI per case would take minutes); a few
// CLI smoke cases in test/fuzz/cli-smoke.test.ts check that the same kind of input gives exit 2 there.
import fc from "fast-check";
import { NmcError } from "../../ir/errors.js";

/** Cases per property: NMC_FUZZ_RUNS (default 2000; CI runs the default). */
export const FUZZ_RUNS = (() => {
  const n = Number(process.env.NMC_FUZZ_RUNS ?? 2000);
  return Number.isFinite(n) && n >= 1 ? Math.floor(n) : 2000;
})();

/** fast-check parameters shared by every fuzz property: a seed from NMC_FUZZ_SEED when set (reproduction). */
export function fuzzParams(runs = FUZZ_RUNS): fc.Parameters<unknown> {
  const seed = process.env.NMC_FUZZ_SEED === undefined ? undefined : Number(process.env.NMC_FUZZ_SEED);
  return { numRuns: runs, ...(seed === undefined ? {} : { seed }), endOnFailure: false };
}

/**
 * The hang detector. Every parser call of a case must finish within this many milliseconds. This is NOT a
 * performance assertion: a small input takes well under 50 ms; a case that takes 5 s is an (almost) endless
 * loop or an allocation sized by a corrupt length field, and the property fails with the input that did it.
 * Synchronous code cannot be interrupted, so a true endless loop still stops only at vitest's test timeout,
 * which the fuzz files set well above the expected runtime.
 */
export const HANG_MS = 5_000;

/** The timeout for one fuzz `it` (2000+ cases, on 2 slow cores, with headroom for the slowest machines). */
export const FUZZ_TEST_TIMEOUT_MS = 300_000;

export type Outcome<T> =
  | { ok: true; value: T; ms: number }
  | { ok: false; error: NmcError; ms: number; known?: undefined }
  /** A crash matching a KNOWN_BUGS entry: counted, not failed (each has an it.fails reproducer). */
  | { ok: false; error: NmcError; ms: number; known: string };

/**
 * Product bugs this suite found that are not fixed yet: a crash matching one of these is tallied under its
 * id instead of failing the property (so the fuzzers keep looking for other bugs). Each has a pinned
 * reproducer (`it.fails`) in the fuzz file named in `where`; when the product is fixed, that it.fails
 * starts failing, and the entry here must be removed with it.
 */
export const KNOWN_BUGS: { id: string; where: string; matches: (e: unknown) => boolean }[] = [
  // None open. Fixed bugs (a huge tensor shape in decodeGraph, a null spinnaker2 mapping section, layer class
  // names that are Object.prototype members, --hw meshes of billions of positions, fractional mesh counts, more
  // PEs per QPE than a routing entry has core bits) have plain regression tests.
];

export const knownTally = new Map<string, number>();

/** Thrown for a non-NmcError escape or a case past HANG_MS: the property fails with the case that did it. */
export class FuzzBug extends Error {
  constructor(message: string, override readonly cause?: unknown) {
    super(message);
    this.name = "FuzzBug";
  }
}

/**
 * Runs `fn` once. Returns its value or the NmcError it threw; any other exception, or a run longer than
 * HANG_MS, throws a FuzzBug that says which (with the original stack).
 */
export function attempt<T>(what: string, fn: () => T): Outcome<T> {
  const t0 = performance.now();
  let out: Outcome<T>;
  try {
    const value = fn();
    out = { ok: true, value, ms: performance.now() - t0 };
  } catch (e) {
    const ms = performance.now() - t0;
    const known = KNOWN_BUGS.find((k) => k.matches(e));
    if (known) {
      knownTally.set(known.id, (knownTally.get(known.id) ?? 0) + 1);
      return { ok: false, error: new NmcError(`known bug ${known.id}`), ms, known: known.id };
    }
    if (!(e instanceof NmcError)) {
      const desc = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e);
      throw new FuzzBug(`${what} threw a non-NmcError (a crash: the CLI would report an internal error): ${desc}`, e);
    }
    out = { ok: false, error: e, ms };
  }
  if (out.ms > HANG_MS) throw new FuzzBug(`${what} took ${out.ms.toFixed(0)} ms (> ${HANG_MS} ms hang guard)`);
  return out;
}

/** Like attempt, but the NmcError must also be well-formed: a non-empty message that formats. */
export function attemptClean<T>(what: string, fn: () => T): Outcome<T> {
  const r = attempt(what, fn);
  if (!r.ok && !r.known) {
    const text = r.error.format();
    if (!r.error.message || typeof text !== "string" || text.length === 0) throw new FuzzBug(`${what}: NmcError with an empty message`);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------------------
// Byte mutations

export type ByteOp =
  | { op: "flip"; at: number; mask: number }
  | { op: "set"; at: number; value: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; bytes: number[] }
  | { op: "delete"; at: number; count: number }
  | { op: "extend"; bytes: number[] }
  | { op: "dup"; at: number; count: number };

/**
 * Positions are fractions of the length at the time the op applies, so one op list fits any input. Uniform
 * over [0, 1): fc.double draws float bit patterns, half of them below 1e-154, so it would put nearly every
 * mutation at byte 0 (it did, until the .npz fuzzer's "some mutated archives still read" check showed it).
 * Ends of the file are still favoured a little on purpose (headers and trailers live there).
 */
const FRAC_STEPS = 2 ** 24;
const frac = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: FRAC_STEPS - 1 }).map((i) => i / FRAC_STEPS) },
  { weight: 1, arbitrary: fc.constantFrom(0, 0.5, 1 - 1 / FRAC_STEPS) },
);
const someBytes = fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 });

export const byteOpArb: fc.Arbitrary<ByteOp> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant("flip" as const), at: frac, mask: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("set" as const), at: frac, value: fc.constantFrom(0, 0xff, 0x7f, 0x80, 0x20, 0x0a, 0x27) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("truncate" as const), at: frac }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("insert" as const), at: frac, bytes: someBytes }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("delete" as const), at: frac, count: fc.integer({ min: 1, max: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("extend" as const), bytes: someBytes }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("dup" as const), at: frac, count: fc.integer({ min: 1, max: 64 }) }) },
);

export const byteOpsArb = fc.array(byteOpArb, { minLength: 1, maxLength: 4 });

function applyByteOp(b: Uint8Array, o: ByteOp): Uint8Array {
  const L = b.length;
  const pos = (f: number) => Math.min(L - 1, Math.floor(f * L));
  switch (o.op) {
    case "flip": {
      if (L === 0) return b;
      const c = new Uint8Array(b);
      c[pos(o.at)] ^= o.mask;
      return c;
    }
    case "set": {
      if (L === 0) return b;
      const c = new Uint8Array(b);
      c[pos(o.at)] = o.value;
      return c;
    }
    case "truncate":
      return new Uint8Array(b.subarray(0, Math.floor(o.at * L)));
    case "insert": {
      const i = Math.floor(o.at * (L + 1));
      return concat(b.subarray(0, i), Uint8Array.from(o.bytes), b.subarray(i));
    }
    case "delete": {
      if (L === 0) return b;
      const i = pos(o.at);
      return concat(b.subarray(0, i), b.subarray(i + o.count));
    }
    case "extend":
      return concat(b, Uint8Array.from(o.bytes));
    case "dup": {
      if (L === 0) return b;
      const i = pos(o.at);
      const piece = b.subarray(i, i + o.count);
      return concat(b.subarray(0, i + piece.length), piece, b.subarray(i + piece.length));
    }
  }
}

/**
 * The mutated copy; `b` is never changed. (Node Buffers, which encoders return, share memory on .slice(),
 * so the input is copied into a plain Uint8Array first.)
 */
export function applyByteOps(b: Uint8Array, ops: readonly ByteOp[]): Uint8Array {
  return ops.reduce(applyByteOp, new Uint8Array(b));
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// ---------------------------------------------------------------------------------------------------------
// JSON mutations

export type JsonPath = (string | number)[];

/** Every path in a JSON value (the root is []), objects and arrays included, in a fixed order. */
export function jsonPaths(v: unknown, prefix: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => jsonPaths(x, [...prefix, i], out));
  else if (v !== null && typeof v === "object") for (const [k, x] of Object.entries(v)) jsonPaths(x, [...prefix, k], out);
  return out;
}

export function getAt(v: unknown, p: JsonPath): unknown {
  let cur: any = v;
  for (const k of p) cur = cur?.[k];
  return cur;
}

/**
 * Raw-text tokens: a replacement value of one of these strings is written into the JSON text unquoted, so
 * that the file holds a NaN / Infinity literal or an overlong number that JSON.stringify cannot produce.
 */
export const RAW_TOKENS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "0x10", "01", "+1", "1.", "undefined"] as const;
const RAW_PREFIX = "\u0000raw:";

/** Values that are wrong for some field of every format: wrong types, huge / negative / fractional numbers. */
export const nastyValueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null, true, false, 0, -0, 1, -1, 2, 3, 0.5, -0.5, 1.5, 7, 65536, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, -(2 ** 31), 1e12, 1e308, -1e308,
    Number.MIN_VALUE, "", "NaN", "Infinity", "-1", "3", "x", "float32", "float64", "int32", "uint8", "float16", "string", "complex64",
    "linear", "relu", "softmax", "EGRU", "Dense", "DiagonalSSM", "InputLayer", "__proto__", "constructor", "toString",
    [], [null], [null, null], [null, null, 3], [null, 3], [0], [-1], [1, 2, 3, 4, 5], [2 ** 31, 2 ** 31], [1e9, 1e9, 1e9], {}, { a: 1 },
    { value: 1 }, { value: -1, unit: "x", source: "y" }, { value: 0, unit: "", source: "s" }, [[]], [{}],
  ),
  fc.integer({ min: -5, max: 5000 }),
  fc.double(),
  fc.string({ maxLength: 8 }),
  fc.constantFrom(...RAW_TOKENS).map((t) => `${RAW_PREFIX}${t}`),
);

export type JsonOp =
  | { op: "delete"; pick: number }
  | { op: "replace"; pick: number; value: unknown }
  | { op: "duplicate"; pick: number }
  | { op: "swap"; pick: number; other: number }
  | { op: "rename"; pick: number; name: string }
  | { op: "tweakNumber"; pick: number; delta: number }
  | { op: "dupKeyText"; pick: number; value: unknown };

const pickArb = fc.nat();
export const jsonOpArb: fc.Arbitrary<JsonOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant("delete" as const), pick: pickArb }) },
  { weight: 6, arbitrary: fc.record({ op: fc.constant("replace" as const), pick: pickArb, value: nastyValueArb }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("duplicate" as const), pick: pickArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("swap" as const), pick: pickArb, other: pickArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("rename" as const), pick: pickArb, name: fc.constantFrom("name", "units", "x", "", "__proto__", "shape", "dtype", "value") }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("tweakNumber" as const), pick: pickArb, delta: fc.constantFrom(-1, 1, -2, 2, 100, 1e6, -1e6, 0.5) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("dupKeyText" as const), pick: pickArb, value: nastyValueArb }) },
);

export const jsonOpsArb = fc.array(jsonOpArb, { minLength: 1, maxLength: 3 });

/** Duplicated keys cannot live in a JS object; they are written into the text (JSON.parse keeps the last). */
interface DupKey {
  path: JsonPath;
  key: string;
  value: unknown;
}

export interface MutatedJson {
  /** The JSON text to write (NaN literals, duplicate keys and all). */
  text: string;
  /** A readable list of what was done. */
  log: string[];
}

function clone<T>(v: T): T {
  return v === undefined ? v : JSON.parse(JSON.stringify(v));
}

/**
 * Applies the ops to a deep copy of `root` and renders the text. `keep` limits which paths an op may pick
 * (to keep big numeric arrays from soaking up most picks).
 */
export function mutateJson(root: unknown, ops: readonly JsonOp[], keep: (p: JsonPath) => boolean = () => true): MutatedJson {
  let doc: any = clone(root);
  const log: string[] = [];
  const dups: DupKey[] = [];
  for (const o of ops) {
    const all = jsonPaths(doc);
    const kept = all.filter(keep);
    const paths = kept.length ? kept : all;
    const p = paths[o.pick % paths.length]!;
    const parent = p.length ? getAt(doc, p.slice(0, -1)) : undefined;
    const key = p[p.length - 1];
    const at = JSON.stringify(p);
    const setHere = (v: unknown) => {
      if (p.length === 0) doc = v;
      else (parent as any)[key as any] = v;
    };
    switch (o.op) {
      case "delete":
        if (p.length === 0) break;
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete (parent as any)[key as string];
        log.push(`delete ${at}`);
        break;
      case "replace":
        setHere(clone(o.value));
        log.push(`replace ${at} with ${describeValue(o.value)}`);
        break;
      case "duplicate": {
        if (p.length === 0) break;
        const v = clone(getAt(doc, p));
        if (Array.isArray(parent)) parent.splice((key as number) + 1, 0, v);
        else (parent as any)[`${String(key)}_copy`] = v;
        log.push(`duplicate ${at}`);
        break;
      }
      case "swap": {
        const q = paths[o.other % paths.length]!;
        // Skip swaps where one path contains the other (that would build a cycle).
        const prefix = (a: JsonPath, b: JsonPath) => a.length <= b.length && a.every((x, i) => x === b[i]);
        if (prefix(p, q) || prefix(q, p)) break;
        const a = clone(getAt(doc, p)), b = clone(getAt(doc, q));
        setHere(b);
        const qParent = getAt(doc, q.slice(0, -1)) as any;
        qParent[q[q.length - 1] as any] = a;
        log.push(`swap ${at} <-> ${JSON.stringify(q)}`);
        break;
      }
      case "rename": {
        if (p.length === 0 || Array.isArray(parent) || typeof key !== "string") break;
        const v = (parent as any)[key];
        delete (parent as any)[key];
        Object.defineProperty(parent, o.name, { value: v, enumerable: true, writable: true, configurable: true });
        log.push(`rename ${at} to ${JSON.stringify(o.name)}`);
        break;
      }
      case "tweakNumber": {
        const v = getAt(doc, p);
        if (typeof v !== "number") break;
        setHere(v + o.delta);
        log.push(`add ${o.delta} to ${at} (${v})`);
        break;
      }
      case "dupKeyText": {
        if (p.length === 0 || Array.isArray(parent) || typeof key !== "string") break;
        dups.push({ path: p.slice(0, -1), key, value: clone(o.value) });
        log.push(`duplicate key ${at} in the text, second value ${describeValue(o.value)}`);
        break;
      }
    }
  }
  return { text: render(doc, dups), log };
}

function describeValue(v: unknown): string {
  if (typeof v === "string" && v.startsWith(RAW_PREFIX)) return `raw ${v.slice(RAW_PREFIX.length)}`;
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

/** JSON text with raw tokens unquoted and duplicate keys appended after the original key. */
function render(doc: unknown, dups: DupKey[], path: JsonPath = []): string {
  if (typeof doc === "string") return doc.startsWith(RAW_PREFIX) ? doc.slice(RAW_PREFIX.length) : JSON.stringify(doc);
  if (Array.isArray(doc)) return `[${doc.map((x, i) => render(x ?? null, dups, [...path, i])).join(",")}]`;
  if (doc !== null && typeof doc === "object") {
    const here = dups.filter((d) => d.path.length === path.length && d.path.every((x, i) => x === path[i]));
    const parts: string[] = [];
    for (const [k, v] of Object.entries(doc)) {
      if (v === undefined) continue;
      parts.push(`${JSON.stringify(k)}:${render(v, dups, [...path, k])}`);
      for (const d of here) if (d.key === k) parts.push(`${JSON.stringify(k)}:${render(d.value, [], [])}`);
    }
    return `{${parts.join(",")}}`;
  }
  const s = JSON.stringify(doc);
  return s === undefined ? "null" : s;
}

/** Parses mutated JSON text the way the CLI does (JSON.parse); undefined when it is not JSON. */
export function tryParseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}
