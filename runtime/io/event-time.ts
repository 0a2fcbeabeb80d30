// Inputs of event-time models (InputPopulation.eventTime: every step is one event with its own time step Δt):
//
//   x.npz            tokens [B, L] (token models; x [B, L, C] for value models), timesteps [B, L] in ms (or
//                    event-ssm's name integration_timesteps), optional lengths [B]: what event-ssm's
//                    event_stream_collate_fn returns (dataloading.py), padded with token −1 and Δt 0
//   events.csv       one recording: t,channel[,value], in time order; a structured .npy with those fields too
//
// An event list follows event-ssm's convention (dataloading.py event_stream_collate_fn): the time step of
// event i is t[i+1] − t[i], so the last event only closes the step before it and is dropped (L = N − 1); t is
// converted to milliseconds by the time unit (µs by default: event-ssm divides its microsecond time stamps
// by 1000). A token model reads the channel as the token (a value, if given, must be 1); a value model puts
// the value at its channel.
//
// Without `lengths`, a token sequence's length is the position after its last non-negative token (trailing
// negative ids are event-ssm's −1 padding); a value sequence's is L.
import { NmcError } from "../../ir/errors.js";
import { readCsvInto, type EventSink, recordsInto } from "./events.js";
import type { InputFormat, ModelInput } from "./inputs.js";
import { inputFormat, splitSpec } from "./inputs.js";
import { type NdArray, toFloat64 } from "./ndarray.js";
import { readNpy, type NpyRecords } from "./npy.js";
import { parseNpyAny } from "./npy.js";
import { readNpz } from "./npz.js";
import { readFileSync } from "node:fs";

/** Units of an event list's t: converted to milliseconds, the unit of event-ssm's time steps. */
export type TimeUnit = "us" | "ms" | "s";
export const TIME_UNITS: readonly TimeUnit[] = ["us", "ms", "s"];
export const MS_PER_UNIT: Record<TimeUnit, number> = { us: 1e-3, ms: 1, s: 1e3 };

export interface EventTimeOptions {
  /** The model's input width: the vocabulary V of a token model, the channels C of a value model. */
  channels: number;
  tokens: boolean;
  /** Event lists: the unit of t (default us). */
  timeUnit?: TimeUnit;
}

/** Events one by one, as parsed (an EventSink for the CSV and structured .npy readers). */
class EventList implements EventSink<EventList> {
  t: Float64Array = new Float64Array(1024);
  channel: Float64Array = new Float64Array(1024);
  value: Float64Array = new Float64Array(1024);
  where: (() => string)[] = [];
  count = 0;

  constructor(private readonly file: string) {}

  add(t: number, channel: number, value: number, where: () => string): void {
    if (!Number.isFinite(t)) throw new NmcError("event time is not a finite number", { file: this.file, path: where(), expected: "a finite t", found: String(t) });
    if (this.count > 0 && t < this.t[this.count - 1]) {
      throw new NmcError("event times decrease: an event list must be in time order", {
        file: this.file, path: where(), expected: `t ≥ ${this.t[this.count - 1]} (the event before)`, found: String(t), hint: "sort the events by t",
      });
    }
    if (this.count === this.t.length) {
      const grow = (a: Float64Array) => {
        const b = new Float64Array(a.length * 2);
        b.set(a);
        return b;
      };
      this.t = grow(this.t);
      this.channel = grow(this.channel);
      this.value = grow(this.value);
    }
    this.t[this.count] = t;
    this.channel[this.count] = channel;
    this.value[this.count] = value;
    // Kept for errors about an event found after parsing (channel, value): only the closures, no strings.
    this.where.push(where);
    this.count++;
  }

  finish(): EventList {
    return this;
  }
}

/** An event list as one event-time sequence: step i is event i with Δt = t[i+1] − t[i] (ms); the last event is dropped. */
function fromEventList(ev: EventList, opts: EventTimeOptions, file: string, label: string, format: InputFormat): ModelInput {
  const N = ev.count;
  if (N < 2) {
    throw new NmcError("an event list for an event-time model needs at least two events", {
      file, expected: "two or more events: the time step of event i is t[i+1] − t[i], so the last event is dropped (event-ssm's convention)", found: `${N} event${N === 1 ? "" : "s"}`,
    });
  }
  const L = N - 1, C = opts.channels;
  const scale = MS_PER_UNIT[opts.timeUnit ?? "us"];
  const timesteps = new Float64Array(L);
  const data = new Float64Array(opts.tokens ? L : L * C);
  for (let i = 0; i < L; i++) {
    const c = ev.channel[i], v = ev.value[i];
    if (!Number.isInteger(c) || c < 0 || c >= C) {
      throw new NmcError(`event channel out of range for a model input of ${C} ${opts.tokens ? "tokens" : "channels"}`, { file, path: ev.where[i]!(), expected: `an integer in [0, ${C})`, found: String(c) });
    }
    if (!Number.isFinite(v)) throw new NmcError("event value is not a finite number", { file, path: ev.where[i]!(), expected: "a finite number", found: String(v) });
    if (opts.tokens) {
      if (v !== 1) {
        throw new NmcError("an event of a token model carries no value: its channel is the token", {
          file, path: ev.where[i]!(), expected: "value 1 or no value column", found: String(v), hint: "encode polarity and position in the channel, as event-ssm's tokens do",
        });
      }
      data[i] = c;
    } else data[i * C + c] = v;
    timesteps[i] = (ev.t[i + 1] - ev.t[i]) * scale;
  }
  return {
    data, shape: opts.tokens ? [1, L] : [1, L, C], label, dtype: "events", format, events: N,
    timesteps, lengths: Int32Array.of(L),
  };
}

function member(arrays: Map<string, NdArray>, names: string[]): { key: string; a: NdArray } | undefined {
  for (const n of names) {
    const a = arrays.get(n);
    if (a) return { key: n, a };
  }
  return undefined;
}

/** An .npz batch: tokens (or x), timesteps (or integration_timesteps), optional lengths. */
function fromNpz(file: string, opts: EventTimeOptions): ModelInput {
  const arrays = readNpz(file);
  const keys = [...arrays.keys()].join(", ") || "none";
  const valuesName = opts.tokens ? "tokens" : "x";
  const x = member(arrays, [valuesName]);
  const ts = member(arrays, ["timesteps", "integration_timesteps"]);
  if (!x || !ts) {
    throw new NmcError(`an event-time ${opts.tokens ? "token " : ""}model reads an .npz with ${valuesName} and timesteps`, {
      file, expected: `members ${valuesName} [B, L${opts.tokens ? "" : ", C"}], timesteps [B, L] (ms) and optionally lengths [B]`, found: `members ${keys}`,
      hint: "event-ssm's event_stream_collate_fn returns them as (tokens, labels, timesteps, lengths): np.savez(f, tokens=…, timesteps=…, lengths=…)",
    });
  }
  const ls = member(arrays, ["lengths"]);
  const data = toFloat64(x.a);
  const timesteps = toFloat64(ts.a);
  // One sequence may come without its batch axis: tokens [L] (x [L, C]) with timesteps [L].
  const single = x.a.shape.length === (opts.tokens ? 1 : 2);
  const tshape = single ? [1, ...x.a.shape] : x.a.shape;
  const B = tshape[0] ?? 0, L = tshape[1] ?? 0;
  const tsShape = ts.a.shape;
  const tsOk = (tsShape.length === 2 && tsShape[0] === B && tsShape[1] === L) || (single && tsShape.length === 1 && tsShape[0] === L);
  if (!tsOk) {
    throw new NmcError(`${ts.key} does not match ${valuesName}`, {
      file, path: `member ${ts.key}`, expected: `[${B}, ${L}] (one time step per step of ${valuesName} [${x.a.shape.join(", ")}])`, found: `[${tsShape.join(", ")}]`,
    });
  }
  let lengths: Int32Array;
  if (ls) {
    const lv = toFloat64(ls.a);
    if (lv.length !== B) throw new NmcError("lengths does not match the batch", { file, path: "member lengths", expected: `${B} lengths`, found: `[${ls.a.shape.join(", ")}]` });
    lengths = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      if (!Number.isInteger(lv[b]) || lv[b] < 0 || lv[b] > L) {
        throw new NmcError("a sequence length is out of range", { file, path: `member lengths, element ${b}`, expected: `an integer in [0, ${L}]`, found: String(lv[b]) });
      }
      lengths[b] = lv[b];
    }
  } else {
    // No lengths: a token sequence ends after its last non-negative token (−1 is event-ssm's padding).
    lengths = new Int32Array(B).fill(L);
    if (opts.tokens) {
      for (let b = 0; b < B; b++) {
        let n = L;
        while (n > 0 && data[b * L + n - 1] < 0) n--;
        lengths[b] = n;
      }
    }
  }
  return { data, shape: tshape, label: `${file}:${x.key}`, dtype: x.a.dtype, format: "npz", timesteps, lengths };
}

/** Reads an event-time model's input: an .npz batch or an event list (see the top of this file). */
export function readEventTimeInput(spec: string, opts: EventTimeOptions): ModelInput {
  const { file, member: m } = splitSpec(spec);
  if (m !== undefined) {
    throw new NmcError("an event-time model reads several members of the .npz (tokens, timesteps, lengths), not one", {
      file, found: `member ${JSON.stringify(m)}`, hint: `pass the file alone: --input ${file}`,
    });
  }
  const format = inputFormat(spec);
  switch (format) {
    case "npz":
      return fromNpz(file, opts);
    case "csv":
      return fromEventList(readCsvInto(file, () => new EventList(file)), opts, file, file, format);
    case "npy": {
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(file);
      } catch {
        readNpy(file); // reports the unreadable file as every .npy reader does
        throw new NmcError("cannot read the input", { file });
      }
      const x = parseNpyAny(bytes, file);
      if ((x as NpyRecords).fields !== undefined) return fromEventList(recordsInto(x as NpyRecords, new EventList(file), file), opts, file, file, format);
      break;
    }
    default:
      break;
  }
  throw new NmcError("an event-time model needs the time step of every event, which this input does not carry", {
    file, expected: "an .npz with tokens (or x), timesteps and optionally lengths; or an event list (.csv t,channel[,value], structured .npy)",
    found: format === "npy" ? "a plain .npy array" : `a ${format} file`,
  });
}
