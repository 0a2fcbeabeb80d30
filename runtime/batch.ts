// Batches of input sequences, as every engine (float, golden, the targets) takes them: the shared shape of a
// run's input, owned by none of the engines.
import { NmcError } from "../ir/errors.js";
import type { Graph } from "../ir/types.js";

export interface SequenceBatch {
  /** Row-major values: [B, T, C] for value inputs, [B, T] token ids for token inputs. */
  data: ArrayLike<number>;
  batch: number;
  ticks: number;
  channels: number;
  /**
   * Event-time inputs (InputPopulation.eventTime): [B, T] the time step Δt of every step, in milliseconds
   * (event-ssm's integration time steps: step k's Δt is t_{k+1} − t_k).
   */
  timesteps?: Float64Array;
  /** Event-time inputs: [B] the number of real (unpadded) steps of each sequence; absent: every step is real. */
  lengths?: Int32Array;
}

/** What an event-time batch carries beside its values (SequenceBatch.timesteps, lengths). */
export interface BatchTime {
  timesteps: Float64Array;
  lengths?: Int32Array;
}

/** Samples [start, end) of a batch, as a batch: a view on the same data for typed arrays (no copy). */
export function sliceBatch(b: SequenceBatch, start: number, end: number): SequenceBatch {
  if (start === 0 && end === b.batch) return b;
  const per = b.ticks * b.channels;
  const data = b.data instanceof Float64Array || b.data instanceof Float32Array || b.data instanceof Int32Array
    ? b.data.subarray(start * per, end * per)
    : Float64Array.from(Array.prototype.slice.call(b.data, start * per, end * per) as number[]);
  const out: SequenceBatch = { data, batch: end - start, ticks: b.ticks, channels: b.channels };
  if (b.timesteps) out.timesteps = b.timesteps.subarray(start * b.ticks, end * b.ticks);
  if (b.lengths) out.lengths = b.lengths.subarray(start, end);
  return out;
}

/**
 * Splits a flat token/value batch into the shapes the engine needs, with errors naming the mismatch. An
 * event-time model (InputPopulation.eventTime) needs `time`: the time step of every step, and the lengths.
 */
export function batchFromShape(g: Graph, data: ArrayLike<number>, shape: readonly number[], file?: string, time?: BatchTime): SequenceBatch {
  const input = g.populations.find((p) => p.name === g.inputs[0]);
  if (!input || input.kind !== "Input") throw new NmcError("graph has no input population");
  if (input.encoding === "tokens") {
    const s = shape.length === 3 && shape[2] === 1 ? shape.slice(0, 2) : shape;
    if (s.length !== 1 && s.length !== 2) {
      throw new NmcError("token input has the wrong rank", { file, expected: "[T] or [B, T] token ids", found: `[${shape.join(", ")}]` });
    }
    const [B, T] = s.length === 1 ? [1, s[0]] : [s[0], s[1]];
    // A wrapping input (event-ssm's padding token −1 reads the last row) takes −V…V − 1.
    const lo = input.wrapTokens ? -input.size : 0;
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!Number.isInteger(v) || v < lo || v >= input.size) {
        throw new NmcError("token id out of range", { file, path: `element ${i}`, expected: `an integer in [${lo}, ${input.size})`, found: String(v) });
      }
    }
    return withTime({ data, batch: B, ticks: T, channels: 1 }, input.eventTime === true, time, file);
  }
  if (shape.length !== 2 && shape.length !== 3) {
    throw new NmcError("input has the wrong rank", { file, expected: `[T, ${input.size}] or [B, T, ${input.size}]`, found: `[${shape.join(", ")}]` });
  }
  const [B, T, C] = shape.length === 2 ? [1, shape[0], shape[1]] : [shape[0], shape[1], shape[2]];
  if (C !== input.size) {
    throw new NmcError(`input has ${C} channels but the model input (population ${input.name}) takes ${input.size}`, {
      file, expected: `last dimension ${input.size}`, found: `[${shape.join(", ")}]`,
    });
  }
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) throw new NmcError("input has a non-finite value", { file, path: `flat index ${i}`, expected: "finite numbers", found: String(data[i]) });
  }
  return withTime({ data, batch: B, ticks: T, channels: C }, input.eventTime === true, time, file);
}

/** Attaches an event-time model's time steps and lengths to its batch, checked; refuses them for any other model. */
function withTime(b: SequenceBatch, eventTime: boolean, time: BatchTime | undefined, file?: string): SequenceBatch {
  if (!eventTime) {
    if (time) throw new NmcError("the input carries per-event time steps, but the model steps in fixed ticks", { file, hint: "give the values alone (an event list is binned into ticks with --dt)" });
    return b;
  }
  if (!time) {
    throw new NmcError("this model runs in event time: its input needs the time step of every event", {
      file, expected: "an .npz with tokens [B, L] and timesteps [B, L] (ms) (optional lengths [B]), or an event list (.csv t,channel[,value], structured .npy)",
      found: "values without time steps",
    });
  }
  const { timesteps, lengths } = time;
  if (timesteps.length !== b.batch * b.ticks) {
    throw new NmcError("the time steps do not match the input", { file, path: "timesteps", expected: `[${b.batch}, ${b.ticks}] (one per step)`, found: `${timesteps.length} values` });
  }
  for (let i = 0; i < timesteps.length; i++) {
    if (!(Number.isFinite(timesteps[i]) && timesteps[i] >= 0)) {
      throw new NmcError("a time step is not a finite number ≥ 0", { file, path: `timesteps, flat index ${i}`, expected: "Δt ≥ 0 (ms)", found: String(timesteps[i]) });
    }
  }
  if (lengths) {
    if (lengths.length !== b.batch) throw new NmcError("the lengths do not match the input", { file, path: "lengths", expected: `${b.batch} lengths (one per sequence)`, found: `${lengths.length}` });
    for (let i = 0; i < lengths.length; i++) {
      if (!(Number.isInteger(lengths[i]) && lengths[i] >= 0 && lengths[i] <= b.ticks)) {
        throw new NmcError("a sequence length is out of range", { file, path: `lengths[${i}]`, expected: `an integer in [0, ${b.ticks}]`, found: String(lengths[i]) });
      }
    }
  }
  return { ...b, timesteps, ...(lengths ? { lengths } : {}) };
}

