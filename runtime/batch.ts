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
}

/** Samples [start, end) of a batch, as a batch: a view on the same data for typed arrays (no copy). */
export function sliceBatch(b: SequenceBatch, start: number, end: number): SequenceBatch {
  if (start === 0 && end === b.batch) return b;
  const per = b.ticks * b.channels;
  const data = b.data instanceof Float64Array || b.data instanceof Float32Array || b.data instanceof Int32Array
    ? b.data.subarray(start * per, end * per)
    : Float64Array.from(Array.prototype.slice.call(b.data, start * per, end * per) as number[]);
  return { data, batch: end - start, ticks: b.ticks, channels: b.channels };
}

/** Splits a flat token/value batch into the shapes the engine needs, with errors naming the mismatch. */
export function batchFromShape(g: Graph, data: ArrayLike<number>, shape: readonly number[], file?: string): SequenceBatch {
  const input = g.populations.find((p) => p.name === g.inputs[0]);
  if (!input || input.kind !== "Input") throw new NmcError("graph has no input population");
  if (input.encoding === "tokens") {
    const s = shape.length === 3 && shape[2] === 1 ? shape.slice(0, 2) : shape;
    if (s.length !== 1 && s.length !== 2) {
      throw new NmcError("token input has the wrong rank", { file, expected: "[T] or [B, T] token ids", found: `[${shape.join(", ")}]` });
    }
    const [B, T] = s.length === 1 ? [1, s[0]] : [s[0], s[1]];
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!Number.isInteger(v) || v < 0 || v >= input.size) {
        throw new NmcError("token id out of range", { file, path: `element ${i}`, expected: `an integer in [0, ${input.size})`, found: String(v) });
      }
    }
    return { data, batch: B, ticks: T, channels: 1 };
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
  return { data, batch: B, ticks: T, channels: C };
}

