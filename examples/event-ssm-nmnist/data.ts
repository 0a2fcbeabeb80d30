// The example's data: every MNIST digit of the split recorded by the simulated saccade sensor (saccades.ts),
// turned into event-ssm sequences and padded batches.
import type { Digits } from "../common/mnist.js";
import type { EventBatch } from "./model.js";
import { record, type Recording, type Sensor, toSequence } from "./saccades.js";

export interface Sequence {
  tokens: Int32Array;
  dt: Float32Array;
}

export function recordAll(s: Sensor, d: Digits): Recording[] {
  return Array.from({ length: d.count }, (_, i) => record(s, d.images, i));
}

/** Sequences padded with token −1 and Δt 0 to a common length: the batch max rounded up to a multiple of `unit`. */
export function padBatch(seqs: Sequence[], unit: number, minLength = 0): EventBatch {
  const B = seqs.length;
  const longest = Math.max(minLength, ...seqs.map((q) => q.tokens.length));
  const L = Math.max(unit, Math.ceil(longest / unit) * unit);
  const tokens = new Int32Array(B * L).fill(-1);
  const dt = new Float32Array(B * L);
  const lengths = new Int32Array(B);
  seqs.forEach((q, b) => {
    tokens.set(q.tokens, b * L);
    dt.set(q.dt, b * L);
    lengths[b] = q.tokens.length;
  });
  return { B, L, tokens, dt, lengths };
}

/** Recordings `from … from + n − 1` as one padded batch (no augmentation). */
export function batchOf(s: Sensor, recs: Recording[], from: number, n: number, unit: number, minLength = 0): EventBatch {
  return padBatch(recs.slice(from, from + n).map((r) => toSequence(s, r)), unit, minLength);
}

export interface EventStats {
  digits: number;
  mean: number;
  min: number;
  median: number;
  p95: number;
  max: number;
  on_fraction: number;
  mean_duration_ms: number;
}

/** Events per recording (before event-ssm's collate drops the last one). */
export function eventStats(recs: Recording[]): EventStats {
  const c = recs.map((r) => r.count).sort((a, b) => a - b);
  const n = c.length;
  let on = 0, all = 0, dur = 0;
  for (const r of recs) {
    for (let i = 0; i < r.count; i++) on += r.p[i]!;
    all += r.count;
    if (r.count > 0) dur += (r.t[r.count - 1]! - r.t[0]!) / 1000;
  }
  return {
    digits: n, mean: all / n, min: c[0]!, median: c[Math.floor(n / 2)]!, p95: c[Math.floor(n * 0.95)]!, max: c[n - 1]!,
    on_fraction: on / Math.max(1, all), mean_duration_ms: dur / n,
  };
}
