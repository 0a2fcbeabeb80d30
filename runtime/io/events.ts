// Event lists → dense tick tensors [B = 1, T, C], the input an event-stream model takes.
//
// An event is (t, channel, value): value is added at tick floor(t / dt) of the channel (duplicates sum;
// value defaults to 1). t is in the units of dt (seconds, say); without dt, t counts ticks and must be an
// integer. T is the largest tick + 1, or `ticks` when given (then every event must fall before it). Two
// sources: CSV text with a header naming the columns `t,channel[,value]` (any order), read in fixed-size
// chunks so that the memory used beyond the output tensor stays bounded whatever the number of events; and
// structured .npy arrays with fields t, channel[, value] (dtype like [('t','<f8'),('channel','<i4')]).

import { closeSync, openSync, readSync } from "node:fs";
import { StringDecoder } from "node:string_decoder";
import { NmcError } from "../../ir/errors.js";
import type { NpyRecords, RecordField } from "./npy.js";

export interface EventOptions {
  /** Channels C: the model's input width; every channel must be below it. */
  channels: number;
  /** Time per tick, in the units of t. Default: t counts ticks (and must be an integer). */
  dt?: number;
  /** Number of ticks T. Default: the largest tick + 1. */
  ticks?: number;
}

export interface DenseEvents {
  /** [1, T, C] in C order. */
  data: Float64Array;
  shape: [number, number, number];
  /** Number of events read (before duplicates were summed). */
  events: number;
}

/** The most elements a dense event tensor may have (1 GiB of float64). */
export const MAX_DENSE_ELEMENTS = 2 ** 27;

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Tick of time t: floor(t / dt), forgiving the rounding error of t / dt landing just below an integer. */
export function tickOf(t: number, dt: number): number {
  const q = t / dt;
  const r = Math.round(q);
  return Math.abs(q - r) <= 1e-9 * Math.max(1, Math.abs(q)) ? r : Math.floor(q);
}

/** Where parsed events go: binned into ticks (EventAccumulator) or kept one by one (EventList, event time). */
export interface EventSink<R> {
  /** Adds one event; `where` names its location (line, record) for errors. */
  add(t: number, channel: number, value: number, where: () => string): void;
  finish(): R;
}

/** Accumulates events into a dense [T, C] buffer that grows by doubling (exact when `ticks` is given). */
export class EventAccumulator implements EventSink<DenseEvents> {
  private buf: Float64Array;
  private capTicks: number;
  private maxTick = -1;
  count = 0;
  private readonly C: number;

  constructor(private readonly opts: EventOptions, private readonly file?: string) {
    const { channels, dt, ticks } = opts;
    if (!Number.isSafeInteger(channels) || channels < 1) {
      throw new NmcError("event input needs the model's input width", { file, expected: "a positive number of channels", found: String(channels) });
    }
    if (dt !== undefined && !(Number.isFinite(dt) && dt > 0)) {
      throw new NmcError("invalid dt for event input", { file, expected: "a positive number (time per tick, in the units of t)", found: String(dt) });
    }
    if (ticks !== undefined && !(Number.isSafeInteger(ticks) && ticks >= 1)) {
      throw new NmcError("invalid number of ticks for event input", { file, expected: "a positive integer", found: String(ticks) });
    }
    this.C = channels;
    if (ticks !== undefined && ticks * channels > MAX_DENSE_ELEMENTS) {
      throw new NmcError("event input would be too large", { file, expected: `at most ${MAX_DENSE_ELEMENTS} elements (ticks × channels)`, found: `${ticks} × ${channels}` });
    }
    this.capTicks = ticks ?? Math.max(1, Math.min(1024, Math.floor(MAX_DENSE_ELEMENTS / channels)));
    this.buf = new Float64Array(this.capTicks * channels);
  }

  /** Adds one event; `where` names its location (line, record) for errors. */
  add(t: number, channel: number, value: number, where: () => string): void {
    const { dt, ticks } = this.opts;
    const file = this.file;
    if (!Number.isFinite(t) || t < 0) throw new NmcError("event time is not a non-negative number", { file, path: where(), expected: "t ≥ 0", found: String(t) });
    let tick: number;
    if (dt === undefined) {
      if (!Number.isInteger(t)) {
        throw new NmcError("event time is not a whole tick", { file, path: where(), expected: "an integer tick (no dt given)", found: String(t), hint: "pass --dt <time per tick> when t is in seconds or other units" });
      }
      tick = t;
    } else tick = tickOf(t, dt);
    if (!Number.isInteger(channel) || channel < 0 || channel >= this.C) {
      throw new NmcError(`event channel out of range for a model input of ${this.C} channels`, { file, path: where(), expected: `an integer in [0, ${this.C})`, found: String(channel) });
    }
    if (!Number.isFinite(value)) throw new NmcError("event value is not a finite number", { file, path: where(), expected: "a finite number", found: String(value) });
    if (ticks !== undefined && tick >= ticks) {
      throw new NmcError(`event falls after the last of ${ticks} ticks`, { file, path: where(), expected: `a tick below ${ticks}${dt !== undefined ? ` (t < ${ticks * dt})` : ""}`, found: `tick ${tick} (t = ${t})`, hint: "raise --ticks, or leave it out to size T from the events" });
    }
    if (tick >= this.capTicks) this.grow(tick, where);
    this.buf[tick * this.C + channel] += value;
    if (tick > this.maxTick) this.maxTick = tick;
    this.count++;
  }

  private grow(tick: number, where: () => string): void {
    if ((tick + 1) * this.C > MAX_DENSE_ELEMENTS) {
      throw new NmcError("event input would be too large", {
        file: this.file, path: where(), expected: `at most ${Math.floor(MAX_DENSE_ELEMENTS / this.C)} ticks of ${this.C} channels`, found: `tick ${tick}`,
        hint: "check dt: t / dt gives the tick",
      });
    }
    const cap = Math.min(Math.max(this.capTicks * 2, tick + 1), Math.floor(MAX_DENSE_ELEMENTS / this.C));
    const next = new Float64Array(cap * this.C);
    next.set(this.buf);
    this.buf = next;
    this.capTicks = cap;
  }

  finish(): DenseEvents {
    const T = this.opts.ticks ?? this.maxTick + 1;
    if (T === 0) {
      throw new NmcError("event input has no events", { file: this.file, expected: "at least one event, or a number of ticks (--ticks)", found: "none" });
    }
    const n = T * this.C;
    const data = this.buf.length === n ? this.buf : this.buf.slice(0, n);
    return { data, shape: [1, T, this.C], events: this.count };
  }
}

// ---------------------------------------------------------------------------------------------------------
// CSV

type Column = "t" | "channel" | "value";

/** Consumes CSV lines: the header, then one event per line. Blank lines and lines starting with # are skipped. */
class CsvEvents<R> {
  private columns: Column[] | undefined;
  private ti = -1;
  private ci = -1;
  private vi = -1;

  constructor(readonly acc: EventSink<R>, private readonly file?: string) {}

  line(raw: string, lineNo: number): void {
    const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const trimmed = text.trim();
    if (trimmed === "" || trimmed.startsWith("#")) return;
    const cells = text.split(",");
    if (!this.columns) {
      this.header(cells.map((c) => c.trim().replace(/^\ufeff/, "").toLowerCase()), trimmed, lineNo);
      return;
    }
    if (cells.length !== this.columns.length) {
      throw new NmcError("CSV row has the wrong number of fields", {
        file: this.file, path: `line ${lineNo}`, expected: `${this.columns.length} fields (${this.columns.join(",")})`, found: `${cells.length}: ${JSON.stringify(trimmed.slice(0, 60))}`,
      });
    }
    const num = (i: number): number => {
      const s = cells[i]!.trim();
      if (!NUMBER.test(s)) {
        throw new NmcError(`CSV field ${this.columns![i]} is not a number`, { file: this.file, path: `line ${lineNo}, column ${this.columns![i]}`, expected: "a decimal number", found: JSON.stringify(s) });
      }
      return Number(s);
    };
    const t = num(this.ti), c = num(this.ci), v = this.vi >= 0 ? num(this.vi) : 1;
    this.acc.add(t, c, v, () => `line ${lineNo}`);
  }

  private header(names: string[], text: string, lineNo: number): void {
    const expected = "a header line t,channel[,value] (columns in any order)";
    if (names.every((n) => NUMBER.test(n))) {
      throw new NmcError("CSV event file has no header", { file: this.file, path: `line ${lineNo}`, expected, found: JSON.stringify(text.slice(0, 60)) });
    }
    for (const n of names) {
      if (n !== "t" && n !== "channel" && n !== "value") {
        throw new NmcError(`CSV event file has an unknown column ${JSON.stringify(n)}`, { file: this.file, path: `line ${lineNo}`, expected, found: JSON.stringify(text.slice(0, 60)) });
      }
    }
    const cols = names as Column[];
    if (new Set(cols).size !== cols.length || !cols.includes("t") || !cols.includes("channel")) {
      throw new NmcError("CSV event file header must name t and channel once each", { file: this.file, path: `line ${lineNo}`, expected, found: JSON.stringify(text.slice(0, 60)) });
    }
    this.columns = cols;
    this.ti = cols.indexOf("t");
    this.ci = cols.indexOf("channel");
    this.vi = cols.indexOf("value");
  }

  finish(lastLine: number): R {
    if (!this.columns) {
      throw new NmcError("CSV event file is empty", { file: this.file, path: `line ${lastLine}`, expected: "a header line t,channel[,value] and events", found: "no lines" });
    }
    return this.acc.finish();
  }
}

/** Converts CSV text (header t,channel[,value]) to a dense [1, T, C] tensor. */
export function parseEventsCsv(text: string, opts: EventOptions, file?: string): DenseEvents {
  const csv = new CsvEvents(new EventAccumulator(opts, file), file);
  const lines = text.split("\n");
  // A final newline does not start another line.
  const n = lines.length > 0 && lines[lines.length - 1] === "" ? lines.length - 1 : lines.length;
  for (let i = 0; i < n; i++) csv.line(lines[i]!, i + 1);
  return csv.finish(n);
}

/** Chunk size of the streaming CSV reader. */
export const CSV_CHUNK_BYTES = 1 << 16;

/**
 * Reads a CSV event file in fixed-size chunks (fs.readSync into one buffer), so memory beyond the output
 * tensor is bounded by the chunk and the longest line.
 */
export function readEventsCsv(path: string, opts: EventOptions): DenseEvents {
  return readCsvInto(path, () => new EventAccumulator(opts, path));
}

/** Reads a CSV event file into a sink, made once the file is open (see readEventsCsv). */
export function readCsvInto<R>(path: string, makeSink: () => EventSink<R>): R {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException)?.code ?? String(e);
    throw new NmcError(`cannot read CSV event file: ${code}`, { file: path, found: (e as Error)?.message });
  }
  try {
    const csv = new CsvEvents(makeSink(), path);
    const chunk = Buffer.allocUnsafe(CSV_CHUNK_BYTES);
    const decoder = new StringDecoder("utf8");
    let rest = "";
    let lineNo = 0;
    for (;;) {
      let got: number;
      try {
        got = readSync(fd, chunk, 0, chunk.length, null);
      } catch (e) {
        throw new NmcError(`cannot read CSV event file: ${(e as NodeJS.ErrnoException)?.code ?? String(e)}`, { file: path, path: `line ${lineNo + 1}` });
      }
      if (got === 0) break;
      const text = rest + decoder.write(chunk.subarray(0, got));
      let start = 0;
      for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", start)) {
        csv.line(text.slice(start, nl), ++lineNo);
        start = nl + 1;
      }
      rest = text.slice(start);
    }
    rest += decoder.end();
    if (rest !== "") csv.line(rest, ++lineNo);
    return csv.finish(lineNo);
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Structured .npy

function readField(dv: DataView, at: number, f: RecordField): number {
  const le = f.littleEndian;
  switch (f.dtype) {
    case "f4": return dv.getFloat32(at, le);
    case "f8": return dv.getFloat64(at, le);
    case "i1": return dv.getInt8(at);
    case "u1": return dv.getUint8(at);
    case "b1": return dv.getUint8(at) ? 1 : 0;
    case "i2": return dv.getInt16(at, le);
    case "u2": return dv.getUint16(at, le);
    case "i4": return dv.getInt32(at, le);
    case "u4": return dv.getUint32(at, le);
    case "i8": return Number(dv.getBigInt64(at, le));
    case "u8": return Number(dv.getBigUint64(at, le));
  }
}

/** True when a structured array has the fields of an event list. */
export function isEventRecords(r: NpyRecords): boolean {
  const names = r.fields.map((f) => f.name);
  return names.includes("t") && names.includes("channel");
}

/** Converts a structured array with fields t, channel[, value] to a dense [1, T, C] tensor. */
export function eventsFromRecords(r: NpyRecords, opts: EventOptions, file?: string, where = ""): DenseEvents {
  return recordsInto(r, new EventAccumulator(opts, file), file, where);
}

/** Feeds the events of a structured array with fields t, channel[, value] into any sink. */
export function recordsInto<R>(r: NpyRecords, acc: EventSink<R>, file?: string, where = ""): R {
  const field = (name: string) => r.fields.find((f) => f.name === name);
  const t = field("t"), c = field("channel"), v = field("value");
  if (!t || !c) {
    throw new NmcError("structured .npy is not an event list", {
      file, path: where || undefined, expected: "fields t, channel and optionally value", found: `fields ${r.fields.map((f) => f.name).join(", ") || "(none)"}`,
    });
  }
  const dv = new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
  for (let i = 0; i < r.count; i++) {
    const base = i * r.itemSize;
    acc.add(readField(dv, base + t.offset, t), readField(dv, base + c.offset, c), v ? readField(dv, base + v.offset, v) : 1,
      () => `${where}record ${i} (byte ${r.dataStart + base})`);
  }
  return acc.finish();
}
