// What one engine run over some samples produced, in a form that merges: the outputs (in sample order) and
// the raw counters and simulator totals, before any ratio or per-inference figure is taken. Merging the
// runs of consecutive sample ranges gives exactly the run over the whole range: outputs are concatenated,
// counters are sums of integers (exact in float64 below 2^53, so the order of addition does not matter),
// per-tick arrays are summed element by element, and the constants (sizes, stored weights) are checked equal.
import { z } from "zod";
import type { RunCounters } from "../../runtime/counters.js";
import { mergeSaturation, SATURATION_SITES, type SaturationCounts } from "../../runtime/golden/saturation.js";
import type { SimRun } from "../spinnaker2/sim/simulator.js";
import { fromFixed } from "../../runtime/fixed/index.js";

/** A run that gives the common counters: the float interpreter, the golden engine, the CUDA program. */
export interface CountersResult {
  kind: "counters";
  /** The float interpreter, or the registered target that ran. */
  engine: string;
  /** [B, T, K] per tick, or [B, K] with a readout, as real numbers. */
  output: Float64Array;
  /** The output integers (golden, cuda int). */
  outputQ?: Int32Array;
  outFrac?: number;
  outputShape: number[];
  counters: RunCounters;
  /** Values clamped and lookups clipped per population, from the engines that count them (golden); absent otherwise. */
  saturation?: SaturationCounts;
  /** What ran (golden: the integer engine; cuda: the program, GPU or host emulation), and why it fell back if it did. */
  backend?: string;
  fallback?: string;
}

/** A run of the spinnaker2 simulator: everything the report is computed from. */
export interface SimResult {
  kind: "sim";
  run: SimRun;
}

export type RawResult = CountersResult | SimResult;

/** Number of samples a result covers. */
export function resultSamples(r: RawResult): number {
  return r.kind === "sim" ? r.run.samples : r.counters.samples;
}

// ── The shape of a raw result read back from a part file (anything else is refused before merging) ─────

const count = z.number().int().nonnegative();
const num = z.number().finite();
const shape = z.array(count).min(1);
const f64 = z.instanceof(Float64Array);
const i32 = z.instanceof(Int32Array);
const countersSchema = z.object({
  samples: count,
  ticks: count,
  populations: z.record(z.string(), z.object({ kind: z.string(), size: count, events: num, unitTicks: num })),
  projections: z.record(z.string(), z.object({
    source: z.string(), target: z.string(), rows: count, cols: count, nnz: count, dense: num, effective: num, activityOnly: num, weightOnly: num,
  })),
});
// The reduction fields came with the split LayerNorm: a part written before them has none (0 each).
const modeTotals = z.object({
  cycles: num, criticalCycles: num, nocDepthHops: num, packets: num, hops: num, chipHops: num, synops: num, sramBytes: num,
  reductionPackets: num.default(0), reductionHops: num.default(0), reductionChipHops: num.default(0), reductionHopBits: num.default(0), reductionChipHopBits: num.default(0),
});
const siteCount = z.object({ hits: num, values: num }).strict();
const saturationSchema = z.record(z.string(), z.object({
  kind: z.string(),
  sites: z.object(Object.fromEntries(SATURATION_SITES.map((s) => [s.key, siteCount.optional()]))).strict(),
}).strict());
// The DVFS counts (targets/spinnaker2/dvfs.ts) came with issue 22: a part written before them has none.
const levelTally = z.object({ peTicks: num, cycles: num, time: num }).strict();
const dvfsTally = z.object({
  levels: z.record(z.string(), levelTally), idle: z.object({ peTicks: num, time: num, switchTime: num }).strict(), switches: num, switchTime: num,
}).strict();
const dvfsPerNominal = z.record(z.string(), dvfsTally);
const dvfsSchema = z.object({ event: dvfsPerNominal, dense: dvfsPerNominal, activityOnly: dvfsPerNominal, weightOnly: dvfsPerNominal }).strict();
// The MAC-array and DRAM counts (targets/spinnaker2/sim/accel.ts): only a run of a mapping with such paths has them.
const accelMode = z.object({ macs8: num, macArray: num, dramBytes: num, dramRows: num, critical: z.record(z.string(), num) }).strict();
const accelSchema = z.object({
  modes: z.object({ event: accelMode, dense: accelMode, activityOnly: accelMode, weightOnly: accelMode }).strict(),
  projections: z.record(z.string(), z.object({ macs8: num, macArray: num, macArm: num }).strict()),
  populations: z.record(z.string(), z.object({ dramBytes: num, dramRows: num }).strict()),
}).strict();
/** Every field of SimRun, and no other (a field merge does not know how to combine is refused, not guessed). */
const simRunSchema = z.object({
  outputQ: i32, output: f64, outputShape: shape, outFrac: z.number().int(), samples: count, ticks: count,
  totals: z.object({ event: modeTotals, dense: modeTotals, activityOnly: modeTotals, weightOnly: modeTotals }),
  pes: z.array(z.object({ pe: count, slice: z.string(), cycles: num, denseCycles: num, packetsIn: num, packetsOut: num, synops: num, sramBytes: num })),
  events: z.record(z.string(), num),
  unitTicks: z.record(z.string(), num),
  perTick: z.object({ eventCycles: f64, denseCycles: f64 }),
  projections: z.record(z.string(), z.object({ nnz: count, dense: num, effective: num, activityOnly: num, weightOnly: num, denseOps: num })),
  saturation: saturationSchema.optional(),
  dvfs: dvfsSchema.optional(),
  accel: accelSchema.optional(),
}).strict();
const rawResultSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal("sim"), run: simRunSchema }),
  z.object({
    kind: z.literal("counters"), engine: z.string(), output: f64, outputQ: i32.optional(), outFrac: z.number().int().optional(),
    outputShape: shape, counters: countersSchema, saturation: saturationSchema.optional(), backend: z.string().optional(), fallback: z.string().optional(),
  }),
]);

/**
 * A raw result decoded from a part file, checked field by field (types, and outputs as long as their shape
 * says, one per sample), so that merging and reporting never meet a missing or mistyped field. Returns the
 * result, or the JSON path and the problem of the first thing wrong.
 */
export function checkRawResult(v: unknown): { ok: true; result: RawResult } | { ok: false; path: string; problem: string } {
  const r = rawResultSchema.safeParse(v);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    return { ok: false, path: issue.path.map((k) => (typeof k === "number" ? `[${k}]` : `.${String(k)}`)).join(""), problem: issue.message };
  }
  const res = r.data as RawResult;
  const body = res.kind === "sim" ? res.run : res;
  const where = res.kind === "sim" ? ".run" : "";
  const n = body.outputShape.reduce((a, d) => a * d, 1);
  if (body.output.length !== n) return { ok: false, path: `${where}.output`, problem: `${body.output.length} values for shape [${body.outputShape.join(", ")}]` };
  if (body.outputQ && body.outputQ.length !== n) return { ok: false, path: `${where}.outputQ`, problem: `${body.outputQ.length} values for shape [${body.outputShape.join(", ")}]` };
  if (body.outputShape[0] !== resultSamples(res)) return { ok: false, path: `${where}.outputShape`, problem: `${body.outputShape[0]} samples, the counters say ${resultSamples(res)}` };
  return { ok: true, result: res };
}

class MergeError extends Error {}

function fail(what: string): never {
  throw new MergeError(`cannot merge runs: ${what}`);
}

function concat<T extends Float64Array | Int32Array>(parts: T[], make: (n: number) => T): T {
  const out = make(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function mergeShapes(shapes: number[][]): number[] {
  const rest = shapes[0].slice(1);
  for (const s of shapes) if (s.length !== shapes[0].length || s.slice(1).some((d, i) => d !== rest[i])) fail(`output shapes [${shapes[0].join(", ")}] and [${s.join(", ")}] differ beyond the sample axis`);
  return [shapes.reduce((a, s) => a + s[0], 0), ...rest];
}

/**
 * Merges records of counters field by field: numbers are summed unless their key is in `constant` (then all
 * parts must agree), strings must agree, nested objects merge the same way.
 */
function mergeRecords<T extends object>(parts: T[], constant: ReadonlySet<string>, where: string): T {
  const first = parts[0] as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(first)) {
    const values = parts.map((p) => (p as Record<string, unknown>)[key]);
    const v0 = values[0];
    if (typeof v0 === "number" && !constant.has(key)) {
      let s = 0;
      for (const v of values) {
        if (typeof v !== "number") fail(`${where}.${key} is not a number in every part`);
        s += v;
      }
      out[key] = s;
    } else if (typeof v0 === "object" && v0 !== null && !Array.isArray(v0) && !ArrayBuffer.isView(v0)) {
      out[key] = mergeRecords(values as object[], constant, `${where}.${key}`);
    } else {
      for (const v of values) if (v !== v0) fail(`${where}.${key} differs between parts (${String(v0)} vs ${String(v)})`);
      out[key] = v0;
    }
  }
  for (const p of parts) if (Object.keys(p).length !== Object.keys(first).length) fail(`${where} has different fields in different parts`);
  return out as T;
}

const COUNTER_CONSTANTS = new Set(["kind", "size", "source", "target", "rows", "cols", "nnz"]);

export function mergeCounters(parts: RunCounters[]): RunCounters {
  return mergeRecords(parts, COUNTER_CONSTANTS, "counters");
}

const SIM_PROJECTION_CONSTANTS = new Set(["nnz", "dense"]);
const SIM_PE_CONSTANTS = new Set(["pe", "slice", "sramBytes"]);
/** Every field of SimRun (mergeSim says how each merges); a field it does not know is refused, not guessed. */
const SIM_FIELDS = new Set(Object.keys(simRunSchema.shape));

function sumArrays(parts: Float64Array[], where: string): Float64Array {
  const n = parts[0].length;
  const out = new Float64Array(n);
  for (const p of parts) {
    if (p.length !== n) fail(`${where} has ${n} entries in one part and ${p.length} in another`);
    for (let i = 0; i < n; i++) out[i] += p[i];
  }
  return out;
}

/** The counts of sim runs that merge by summing, in both merges (sample ranges, pipeline workers). */
function summedCounts(runs: SimRun[]): Pick<SimRun, "totals" | "pes" | "events" | "unitTicks" | "perTick" | "projections" | "saturation"> {
  const r0 = runs[0];
  const perTick: Record<string, Float64Array> = {};
  for (const k of Object.keys(r0.perTick)) perTick[k] = sumArrays(runs.map((r) => (r.perTick as unknown as Record<string, Float64Array>)[k]), `perTick.${k}`);
  return {
    totals: mergeRecords(runs.map((r) => r.totals), new Set(), "totals"),
    pes: r0.pes.map((_, i) => mergeRecords(runs.map((r) => r.pes[i]), SIM_PE_CONSTANTS, `pes[${i}]`)),
    events: mergeRecords(runs.map((r) => r.events), new Set(), "events"),
    unitTicks: mergeRecords(runs.map((r) => r.unitTicks), new Set(), "unitTicks"),
    perTick: perTick as unknown as SimRun["perTick"],
    projections: mergeRecords(runs.map((r) => r.projections), SIM_PROJECTION_CONSTANTS, "projections"),
    saturation: mergeSaturationOf(runs.map((r) => r.saturation)),
  };
}

function mergeSim(runs: SimRun[]): SimRun {
  for (const r of runs) for (const k of Object.keys(r)) if (!SIM_FIELDS.has(k)) fail(`the simulator's run has a field ${k} that nmc merge does not know how to combine`);
  const r0 = runs[0];
  for (const r of runs) {
    if (r.ticks !== r0.ticks) fail(`runs of ${r0.ticks} and ${r.ticks} ticks`);
    if (r.outFrac !== r0.outFrac) fail("output formats differ");
    if (r.pes.length !== r0.pes.length) fail("PE counts differ");
  }
  const merged: SimRun = {
    outputQ: concat(runs.map((r) => r.outputQ), (n) => new Int32Array(n)),
    output: concat(runs.map((r) => r.output), (n) => new Float64Array(n)),
    outputShape: mergeShapes(runs.map((r) => r.outputShape)),
    outFrac: r0.outFrac,
    samples: runs.reduce((a, r) => a + r.samples, 0),
    ticks: r0.ticks,
    ...summedCounts(runs),
    // Summed (every count is additive); none when a part has none (then they would not cover the run).
    dvfs: runs.every((r) => r.dvfs) ? mergeRecords(runs.map((r) => r.dvfs!), new Set(), "dvfs") : undefined,
    // Summed; parts of one bundle all have them or none (a mix is refused by mergeRecords' field check).
    accel: runs.some((r) => r.accel) ? mergeRecords(runs.map((r) => r.accel ?? ({} as NonNullable<SimRun["accel"]>)), new Set(), "accel") : undefined,
  };
  // The simulator's own field order, so the merged run prints like an unmerged one.
  return Object.fromEntries(Object.keys(r0).map((k) => [k, merged[k as keyof SimRun]])) as unknown as SimRun;
}

/**
 * The run of one model simulated by several pipeline workers over the same samples (sim/pipeline.ts): each
 * worker ran and charged only its own PEs, so every count is the sum of the workers' (a PE's, a population's,
 * a projection's counts are zero except on its worker; the outputs too, except on the output's worker); the
 * per-tick critical path and the DVFS counts were counted by the last worker alone, the others' are zero.
 */
export function mergePipelined(runs: SimRun[]): SimRun {
  const r0 = runs[0];
  for (const r of runs) {
    if (r.samples !== r0.samples || r.ticks !== r0.ticks || r.outputQ.length !== r0.outputQ.length) fail("pipeline workers ran different batches");
    if (r.accel) fail("a pipelined run has no MAC array or DRAM counts");
  }
  const outputQ = new Int32Array(r0.outputQ.length);
  for (const r of runs) for (let i = 0; i < outputQ.length; i++) outputQ[i] += r.outputQ[i];
  const output = new Float64Array(outputQ.length);
  for (let i = 0; i < output.length; i++) output[i] = fromFixed(outputQ[i], r0.outFrac);
  const merged: SimRun = { ...r0, outputQ, output, ...summedCounts(runs), dvfs: runs[runs.length - 1].dvfs };
  return Object.fromEntries(Object.keys(r0).map((k) => [k, merged[k as keyof SimRun]])) as unknown as SimRun;
}

/** Saturation counts summed over the parts (none when a part has none: then they would not cover the run). */
function mergeSaturationOf(parts: (SaturationCounts | undefined)[]): SaturationCounts | undefined {
  try {
    return mergeSaturation(parts);
  } catch (e) {
    return fail((e as Error).message);
  }
}

/** The run over the concatenation of the parts' samples (parts in sample order). */
export function mergeResults(parts: RawResult[]): RawResult {
  if (parts.length === 0) fail("no parts");
  if (parts.length === 1) return parts[0];
  const k = parts[0].kind;
  if (parts.some((p) => p.kind !== k)) fail("simulator and engine runs mixed");
  if (k === "sim") return { kind: "sim", run: mergeSim(parts.map((p) => (p as SimResult).run)) };
  const cs = parts as CountersResult[];
  const c0 = cs[0];
  if (cs.some((c) => c.engine !== c0.engine)) fail("runs of different engines");
  if (cs.some((c) => c.outFrac !== c0.outFrac || (c.outputQ === undefined) !== (c0.outputQ === undefined))) fail("output formats differ");
  const out: CountersResult = {
    kind: "counters", engine: c0.engine,
    output: concat(cs.map((c) => c.output), (n) => new Float64Array(n)),
    ...(c0.outputQ ? { outputQ: concat(cs.map((c) => c.outputQ!), (n) => new Int32Array(n)) } : {}),
    ...(c0.outFrac !== undefined ? { outFrac: c0.outFrac } : {}),
    outputShape: mergeShapes(cs.map((c) => c.outputShape)),
    counters: mergeCounters(cs.map((c) => c.counters)),
  };
  const saturation = mergeSaturationOf(cs.map((c) => c.saturation));
  if (saturation) out.saturation = saturation;
  const backends = [...new Set(cs.map((c) => c.backend).filter((b): b is string => b !== undefined))];
  if (backends.length) out.backend = backends.join("; ");
  const fallbacks = [...new Set(cs.map((c) => c.fallback).filter((b): b is string => b !== undefined))];
  if (fallbacks.length) out.fallback = fallbacks.join("; ");
  return out;
}

// ── JSON with typed arrays (part files) ──────────────────────────────────────────────────────────────────
// A typed array is written as {"$typed": "Float64Array", "base64": <its bytes, little-endian>}; numbers stay
// JSON numbers (JavaScript prints the shortest text that reads back to the same double, so counters
// round-trip exactly).

const TYPED = {
  Float64Array, Float32Array, Int32Array, Uint32Array, Int16Array, Uint16Array, Int8Array, Uint8Array,
} as const;
type TypedName = keyof typeof TYPED;

export function encodeTyped(v: unknown): unknown {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const name = v.constructor.name as TypedName;
    if (!(name in TYPED)) throw new Error(`cannot encode a ${name}`);
    return { $typed: name, base64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  }
  if (Array.isArray(v)) return v.map(encodeTyped);
  if (v !== null && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = encodeTyped(x);
    return o;
  }
  return v;
}

/** Inverse of encodeTyped; throws a plain Error on malformed input (the caller names the file). */
export function decodeTyped(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decodeTyped);
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (typeof o.$typed === "string") {
      const name = o.$typed as TypedName;
      if (!(name in TYPED) || typeof o.base64 !== "string") throw new Error(`bad typed array ${JSON.stringify(o.$typed)}`);
      const bytes = Buffer.from(o.base64, "base64");
      const C = TYPED[name];
      if (bytes.length % C.BYTES_PER_ELEMENT !== 0) throw new Error(`${name} of ${bytes.length} bytes`);
      const copy = new Uint8Array(bytes.length);
      copy.set(bytes);
      return new C(copy.buffer, 0, bytes.length / C.BYTES_PER_ELEMENT);
    }
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(o)) out[k] = decodeTyped(x);
    return out;
  }
  return v;
}

/** The buffers of a result's typed arrays (to transfer them from a worker instead of copying). */
export function transferables(v: unknown, out: ArrayBuffer[] = []): ArrayBuffer[] {
  if (ArrayBuffer.isView(v)) {
    const b = v.buffer;
    if (b instanceof ArrayBuffer && !out.includes(b) && v.byteOffset === 0 && v.byteLength === b.byteLength) out.push(b);
  } else if (Array.isArray(v)) {
    for (const x of v) transferables(x, out);
  } else if (v !== null && typeof v === "object") {
    for (const x of Object.values(v)) transferables(x, out);
  }
  return out;
}

export { MergeError };
