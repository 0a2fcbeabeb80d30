// Part files: what `nmc run --shard i/n --save part.json` writes and `nmc merge` reads. One JSON object:
//
//   format "nmc-run-part", version 1
//   model   {file (as given), path (absolute), sha256 (of the bundle file; of the encoded IR for model.json)}
//   engine, readout, precision              the run's options that change results
//   mode, level                             spinnaker2 report options (merge may override them)
//   input   {file, shape, dtype, samples, sha256 (of the whole decoded input: shape + float64 values)}
//   shard   {index (1-based), count, start, end}: samples [start, end) of the input
//   labels  {file, values (this shard's labels)} or null
//   seconds, workers                        how long this shard took, on how many worker threads
//   result  the raw result (targets/run/result.ts): outputs and counters or simulator totals, typed arrays
//           as {"$typed": "Int32Array", "base64": little-endian bytes}
import { createHash } from "node:crypto";
import { NmcError } from "../../ir/errors.js";
import { readJsonFile, writeFileAtomic } from "../../ir/files.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import { engineNames, type Engine } from "../../targets/run/job.js";
import { checkRawResult, decodeTyped, encodeTyped, type RawResult, resultSamples } from "../../targets/run/result.js";

export const PART_FORMAT = "nmc-run-part";
export const PART_VERSION = 1;

export interface PartFile {
  format: typeof PART_FORMAT;
  version: number;
  model: { file: string; path: string; sha256: string };
  engine: Engine;
  readout: string | null;
  precision: string | null;
  mode: "event" | "dense";
  level: string | null;
  input: { file: string; shape: number[]; dtype: string; samples: number; sha256: string };
  shard: { index: number; count: number; start: number; end: number };
  labels: { file: string; values: number[] } | null;
  seconds: number;
  workers: number | null;
  result: RawResult;
}

/** sha256 of a whole input batch as the engines see it: its shape and its values as float64. */
export function inputIdentity(b: SequenceBatch): string {
  const h = createHash("sha256").update(JSON.stringify([b.batch, b.ticks, b.channels]));
  const d = b.data instanceof Float64Array ? b.data : Float64Array.from(b.data as ArrayLike<number>);
  h.update(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  // Event-time inputs: their time steps and lengths are part of the input (absent: the hash is as before).
  if (b.timesteps) h.update(new Uint8Array(b.timesteps.buffer, b.timesteps.byteOffset, b.timesteps.byteLength));
  if (b.lengths) h.update(new Uint8Array(b.lengths.buffer, b.lengths.byteOffset, b.lengths.byteLength));
  return h.digest("hex");
}

export function writePart(file: string, part: PartFile): void {
  writeFileAtomic(file, new TextEncoder().encode(JSON.stringify({ ...part, result: encodeTyped(part.result) }) + "\n"), "part file");
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
const isInt = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

/** Reads and checks a part file; every problem is an NmcError naming the file and the field. */
export function readPart(file: string): PartFile {
  const j = readJsonFile(file, "the part file", "a file written by nmc run --shard i/n --save part.json");
  const bad = (path: string, expected: string, found?: unknown): never => {
    throw new NmcError("this is not a valid nmc part file", { file, path, expected, found: found === undefined ? "nothing" : JSON.stringify(found)?.slice(0, 80) });
  };
  if (!isObj(j) || j.format !== PART_FORMAT) bad("format", `"${PART_FORMAT}" (a file written by nmc run --shard i/n --save part.json)`, isObj(j) ? j.format : j);
  const o = j as Record<string, unknown>;
  if (o.version !== PART_VERSION) bad("version", String(PART_VERSION), o.version);
  const m = o.model;
  if (!isObj(m) || typeof m.file !== "string" || typeof m.path !== "string" || typeof m.sha256 !== "string") bad("model", "{file, path, sha256}", m);
  if (typeof o.engine !== "string" || !engineNames().includes(o.engine)) bad("engine", engineNames().join(" | "), o.engine);
  if (o.mode !== "event" && o.mode !== "dense") bad("mode", "event | dense", o.mode);
  const inp = o.input;
  if (!isObj(inp) || typeof inp.file !== "string" || !Array.isArray(inp.shape) || !inp.shape.every(isInt) || typeof inp.dtype !== "string" || !isInt(inp.samples) || typeof inp.sha256 !== "string") {
    bad("input", "{file, shape, dtype, samples, sha256}", inp);
  }
  const s = o.shard;
  if (!isObj(s) || !isInt(s.index) || !isInt(s.count) || !isInt(s.start) || !isInt(s.end) || s.index < 1 || s.index > s.count || s.end < s.start) {
    bad("shard", "{index, count, start, end} with 1 ≤ index ≤ count and start ≤ end", s);
  }
  const l = o.labels;
  if (l !== null && (!isObj(l) || typeof l.file !== "string" || !Array.isArray(l.values) || !l.values.every((v) => typeof v === "number"))) bad("labels", "null or {file, values}", l);
  let decoded: unknown;
  try {
    decoded = decodeTyped(o.result);
  } catch (e) {
    return bad("result", "the raw result nmc run wrote", (e as Error).message);
  }
  const checked = checkRawResult(decoded);
  if (!checked.ok) return bad(`result${checked.path}`, "the raw result nmc run wrote", checked.problem);
  const result = checked.result;
  const shard = s as PartFile["shard"];
  if (resultSamples(result) !== shard.end - shard.start) bad("result", `${shard.end - shard.start} samples (shard.start..shard.end)`, resultSamples(result));
  if (l !== null && (l as { values: unknown[] }).values.length !== shard.end - shard.start) bad("labels.values", `${shard.end - shard.start} labels`, (l as { values: unknown[] }).values.length);
  return {
    ...(o as unknown as PartFile),
    readout: typeof o.readout === "string" ? o.readout : null,
    precision: typeof o.precision === "string" ? o.precision : null,
    level: typeof o.level === "string" ? o.level : null,
    seconds: typeof o.seconds === "number" ? o.seconds : 0,
    workers: isInt(o.workers) ? o.workers : null,
    result,
  };
}
