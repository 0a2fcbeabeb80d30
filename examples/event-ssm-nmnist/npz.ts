// The example's .npz outputs (the Flax parameters `nmc import event-ssm` reads, the event-time input batches `nmc
// run` reads), written by nmc's own .npz writer (runtime/io encodeNpz): float32 and int32 arrays by key.
import { ndarray, writeNpz as writeArrays } from "../../index.js";

export interface NpzArray {
  key: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

export function writeNpz(path: string, arrays: NpzArray[]): void {
  writeArrays(path, arrays.map((a) => [a.key, ndarray(a.data instanceof Float32Array ? "f4" : "i4", a.shape, a.data)] as const));
}
