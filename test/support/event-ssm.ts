// The event-ssm fixtures (test/fixtures/event-ssm, made by event-ssm's own code: scripts/fixtures/event-ssm):
// reading them, writing a fixture's parameters as the .npz `nmc import event-ssm` takes, and the error measure
// of scripts/fixtures/event-ssm/check_fixtures.py, max |got − want| / (1 + |want|).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { NdArray } from "../../runtime/io/ndarray.js";
import { readNpz } from "../../runtime/io/npz.js";
import { encodeNpy } from "../../runtime/io/npy-write.js";
import { zip } from "./input-files.js";

export const FIXTURES = "test/fixtures/event-ssm";
export const MODEL_FIXTURES = ["model_pool", "model_timepool", "model_last", "model_pool_batchnorm"] as const;

const cache = new Map<string, Map<string, NdArray>>();

/** Every array of fixture `name` (without .npz), by member key. */
export function fixture(name: string): Map<string, NdArray> {
  let f = cache.get(name);
  if (!f) {
    f = readNpz(join(FIXTURES, `${name}.npz`));
    cache.set(name, f);
  }
  return f;
}

/** An .npz of `arrays` (key → array) at `path`. */
export function writeNpz(path: string, arrays: [string, NdArray][]): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, zip(arrays.map(([k, a]) => ({ name: `${k}.npy`, data: encodeNpy(a) }))));
  return path;
}

/**
 * The fixture's Flax variables (its params/ and batch_stats/ members) as an .npz in `dir`; `bare` writes the
 * params tree alone, without the params/ prefix.
 */
export function paramsNpz(name: string, dir: string, opts: { bare?: boolean; drop?: string; extra?: [string, NdArray] } = {}): string {
  const members: [string, NdArray][] = [];
  for (const [k, a] of fixture(name)) {
    if (!(k.startsWith("params/") || k.startsWith("batch_stats/")) || k === opts.drop) continue;
    members.push([opts.bare ? k.replace(/^params\//, "") : k, a]);
  }
  if (opts.extra) members.push(opts.extra);
  return writeNpz(join(dir, `${name}.params.npz`), members);
}

/** The model fixture's inputs as the .npz `nmc run` takes: tokens, timesteps, lengths. */
export function inputsNpz(name: string, dir: string, withLengths = true): string {
  const f = fixture(name);
  const members: [string, NdArray][] = [["tokens", f.get("inputs/tokens")!], ["timesteps", f.get("inputs/integration_timesteps")!]];
  if (withLengths) members.push(["lengths", f.get("inputs/lengths")!]);
  return writeNpz(join(dir, `${name}.inputs.npz`), members);
}

/** check_fixtures.py's error: max over elements of |got − want| / (1 + |want|). */
export function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let e = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(Number(got[i]) - Number(want[i])) / (1 + Math.abs(Number(want[i])));
    if (!(d <= e)) e = Number.isNaN(d) ? Infinity : Math.max(e, d);
  }
  return e;
}
