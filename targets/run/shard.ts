// Splitting a batch of input sequences by samples: into contiguous chunks for worker threads (`nmc run
// --workers N`) and into shards for separate machines (`nmc run --shard i/n`, gathered by `nmc merge`).
// Both use the same rule, so shard i of n holds the same samples whatever machine runs it.
import os from "node:os";
import { NmcError } from "../../ir/errors.js";
import { sliceBatch as sliceSamples, type SequenceBatch } from "../../runtime/batch.js";

/** Samples [start, end) of a batch. */
export interface SampleRange {
  start: number;
  end: number;
}

/**
 * `total` samples in `parts` contiguous ranges, in order: the first `total % parts` ranges hold one sample
 * more than the others. Ranges may be empty when there are fewer samples than parts.
 */
export function splitRange(total: number, parts: number): SampleRange[] {
  if (!Number.isInteger(total) || total < 0 || !Number.isInteger(parts) || parts < 1) {
    throw new Error(`splitRange: bad arguments ${total}, ${parts}`);
  }
  const base = Math.floor(total / parts), extra = total % parts;
  const out: SampleRange[] = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const end = start + base + (i < extra ? 1 : 0);
    out.push({ start, end });
    start = end;
  }
  return out;
}

/** Samples r of a batch, as a batch (a view on the same data; no copy). */
export function sliceBatch(b: SequenceBatch, r: SampleRange): SequenceBatch {
  return sliceSamples(b, r.start, r.end);
}

/** A shard: index is 1-based, 1 ≤ index ≤ count. */
export interface Shard {
  index: number;
  count: number;
}

export const SHARD_HELP = "i/n, 1-based (1/4 … 4/4): run only the i-th of n contiguous parts of the samples";

/** Parses `--shard i/n` (1-based i). */
export function parseShard(v: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(v);
  const index = m ? Number(m[1]) : NaN, count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count || count > 1_000_000) {
    throw new NmcError("invalid value for --shard", {
      expected: "i/n with 1 ≤ i ≤ n (1-based: the shards of a 4-way split are 1/4, 2/4, 3/4, 4/4; in a Slurm array job --array=1-4 and --shard $SLURM_ARRAY_TASK_ID/4)",
      found: JSON.stringify(v),
    });
  }
  return { index, count };
}

/** The cores this process may use (os.availableParallelism). */
export function availableCores(): number {
  return Math.max(1, typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length);
}

/** Parses `--workers N` (or `flag`'s N): a positive integer, or 0 / auto for the number of available cores. */
export function parseWorkers(v: string, flag = "--workers"): number {
  const s = v.trim().toLowerCase();
  if (s === "auto" || s === "0") return availableCores();
  const n = Number(s);
  if (s === "" || !Number.isInteger(n) || n < 1 || n > 1024) {
    throw new NmcError(`invalid value for ${flag}`, {
      expected: `a number of worker threads in [1, 1024], or 0 / auto for the available cores (${availableCores()} here)`, found: JSON.stringify(v),
    });
  }
  return n;
}
