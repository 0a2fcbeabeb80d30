// One entry point for model inputs, whatever the file format:
//
//   x.npy            a NumPy array (any numeric dtype), or a structured array of events (fields t, channel[, value])
//   x.npz[:name]     one array of a NumPy .npz archive (stored or deflated): `name`, else "x", else the first
//   x.json           nested arrays of numbers, rectangular
//   events.csv       events with a header t,channel[,value]
//
// Events become a dense [1, T, C] tick tensor (see events.ts). Other extensions are recognised by content
// (.npy magic, zip signature, a JSON array, a CSV header); anything else is reported as a malformed .npy,
// as before. Every error is an NmcError naming the file and the place (byte offset, JSON path, CSV line).

import { closeSync, openSync, readFileSync, readSync } from "node:fs";
import { eventsFromRecords, readEventsCsv, type DenseEvents } from "./events.js";
import { readJsonInput } from "./json-input.js";
import { type NdArray, toFloat64 } from "./ndarray.js";
import { parseNpyAny, readNpy, type NpyRecords } from "./npy.js";
import { readNpzMember } from "./npz.js";

export interface InputOptions {
  /** The model's input width: the C of event inputs. */
  channels: number;
  /** Event inputs: time per tick in the units of t (default: t counts ticks). */
  dt?: number;
  /** Event inputs: number of ticks T (default: the largest tick + 1). */
  ticks?: number;
}

export type InputFormat = "npy" | "npz" | "json" | "csv";

export interface ModelInput {
  /** Elements in C order, as float64. */
  data: Float64Array;
  shape: number[];
  /** The file (and .npz member) it came from, e.g. "x.npz:x". */
  label: string;
  /** The element type as stored ("f4", "i8", ...), or "json" / "events". */
  dtype: string;
  format: InputFormat;
  /** For event inputs: the number of events read. */
  events?: number;
  /** Event-time inputs (event-time.ts): [B, L] the time step of every step (ms), and [B] the sequence lengths. */
  timesteps?: Float64Array;
  lengths?: Int32Array;
}

/** Splits `file.npz:member` into the file and the member; other specs are a file name only. */
export function splitSpec(spec: string): { file: string; member?: string } {
  const m = /^(.*\.npz):([^/\\]*)$/i.exec(spec);
  if (m && m[2] !== "") return { file: m[1]!, member: m[2] };
  return { file: spec };
}

function extension(file: string): string {
  const m = /\.([A-Za-z0-9]+)$/.exec(file);
  return m ? m[1]!.toLowerCase() : "";
}

/** The format of a file with an unfamiliar extension, from its first bytes (undefined: treat as .npy). */
function sniff(file: string): InputFormat | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const head = Buffer.alloc(256);
    const n = readSync(fd, head, 0, head.length, 0);
    const b = head.subarray(0, n);
    if (n >= 6 && b[0] === 0x93 && b.subarray(1, 6).toString("latin1") === "NUMPY") return "npy";
    if (n >= 4 && b.readUInt32LE(0) === 0x04034b50) return "npz";
    const text = b.toString("utf8").replace(/^\ufeff/, "").trimStart();
    if (text.startsWith("[")) return "json";
    if (/^[a-z]+\s*,/i.test(text) && /(^|,)\s*t\s*(,|\r?\n|$)/i.test(text.split("\n")[0]!)) return "csv";
    return undefined;
  } catch {
    return undefined; // the reader that runs next reports the unreadable file
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The format a spec is read as. */
export function inputFormat(spec: string): InputFormat {
  const { file, member } = splitSpec(spec);
  if (member !== undefined) return "npz";
  const ext = extension(file);
  if (ext === "npy" || ext === "npz" || ext === "json" || ext === "csv") return ext;
  return sniff(file) ?? "npy";
}

function fromArray(a: NdArray, label: string, format: InputFormat, dtype: string = a.dtype): ModelInput {
  return { data: toFloat64(a), shape: a.shape, label, dtype, format };
}

function fromEvents(e: DenseEvents, label: string, format: InputFormat): ModelInput {
  return { data: e.data, shape: [...e.shape], label, dtype: "events", format, events: e.events };
}

function isRecords(x: NdArray | NpyRecords): x is NpyRecords {
  return (x as NpyRecords).fields !== undefined;
}

/** Reads a model input: see the formats at the top of this file. */
export function readInput(spec: string, opts: InputOptions): ModelInput {
  const { file, member } = splitSpec(spec);
  const format = inputFormat(spec);
  switch (format) {
    case "npz": {
      const { key, array } = readNpzMember(file, member);
      const label = `${file}:${key}`;
      if (isRecords(array)) return fromEvents(eventsFromRecords(array, opts, file, `member "${key}": `), label, format);
      return fromArray(array, label, format);
    }
    case "json":
      return fromArray(readJsonInput(file), file, format, "json");
    case "csv":
      return fromEvents(readEventsCsv(file, opts), file, format);
    case "npy": {
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(file);
      } catch {
        return fromArray(readNpy(file), file, format); // reports the unreadable file exactly as before
      }
      const x = parseNpyAny(bytes, file);
      if (isRecords(x)) return fromEvents(eventsFromRecords(x, opts, file), file, format);
      return fromArray(x, file, format);
    }
  }
}

/** Help text listing the input formats, for the CLI. */
export const INPUT_FORMATS_HELP =
  ".npy, .npz[:name] (default: member x, else the first), .json (nested arrays of numbers), " +
  "or events (.csv with header t,channel[,value], or a structured .npy with those fields) as one sequence [1, T, C]";
