// The event-ssm fixtures (test/fixtures/event-ssm, made by event-ssm's own code: scripts/fixtures/event-ssm):
// reading them, writing a fixture's parameters as the .npz `nmc import event-ssm` takes, and the error measure
// of scripts/fixtures/event-ssm/check_fixtures.py, max |got − want| / (1 + |want|).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { NdArray } from "../../runtime/io/ndarray.js";
import { readNpz } from "../../runtime/io/npz.js";
import { encodeNpz } from "../../runtime/io/npy-write.js";
import { readCheckpoint } from "../../compiler/import/checkpoint.js";
import { readEventSsmConfig } from "../../compiler/import/event-ssm-config.js";
import { importEventSsm } from "../../compiler/import/event-ssm.js";
import { layersModel, type NamedWeight, writeLayersModel } from "../../compiler/import/layers-model.js";
import { loadModel } from "../../compiler/frontend/index.js";
import type { Graph } from "../../ir/types.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";

export const FIXTURES = "test/fixtures/event-ssm";
export const MODEL_FIXTURES = ["model_pool", "model_timepool", "model_last", "model_pool_batchnorm", "model_postnorm", "model_1stage"] as const;

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
  writeFileSync(path, encodeNpz(arrays));
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

// ---- fixtures as nmc graphs (shared by the float, quantized, simulator and CUDA tests) ----

let tmpDir = "";
/** One temporary directory per test process for the model.json files these helpers write. */
function tmp(): string {
  if (!tmpDir) tmpDir = mkdtempSync(join(tmpdir(), "nmc-event-ssm-"));
  return tmpDir;
}

/** Where importFixture writes fixture `name`'s model.json. */
export function importedModelJson(name: string): string {
  return join(tmp(), name, "model.json");
}

/** Imports a model fixture (its params and its generated config) and loads the model.json. */
export function importFixture(name: string): Graph {
  const params = paramsNpz(name, tmp());
  const cfg = readEventSsmConfig(join(FIXTURES, `${name}.yaml`));
  const imp = importEventSsm(params, readCheckpoint(params).tensors, cfg);
  const out = join(tmp(), name);
  const files = writeLayersModel(out, imp.model);
  return loadModel(files.model).graph;
}

export const MANIFEST = JSON.parse(readFileSync(join(FIXTURES, "manifest.json"), "utf8")) as { files: Record<string, { config: Record<string, unknown> }> };

/** A one-layer event-time model.json: values [B, L, C] in, `layer` out; written to `dir`/`name`. */
export function oneLayerModel(name: string, C: number, layer: { class_name: string; config: Record<string, unknown> }, weights: NamedWeight[]): Graph {
  const m = layersModel(name, [{ class_name: layer.class_name, config: { name: "layer", batch_input_shape: [null, null, C], ...layer.config } }], weights, {
    userDefinedMetadata: { nmc: { time: "events" } },
  });
  return loadModel(writeLayersModel(join(tmp(), name), m).model).graph;
}

/** event-ssm's S5SSM parameters of a layer fixture as the DiagonalSSM layer's weights (event.ts). */
export function ssmWeights(name: string): { weights: NamedWeight[]; P: number; Hin: number; Hout: number } {
  const f = fixture(name);
  const get = (k: string) => Float32Array.from(toFloat64(f.get(`params/${k}`)!));
  const B = f.get("params/B")!, C = f.get("params/C")!, D = f.get("params/D")!;
  const [P, Hin] = B.shape, Hout = C.shape[0];
  const part = (a: Float32Array, i: number) => Float32Array.from({ length: a.length / 2 }, (_, k) => a[2 * k + i]);
  const w = (param: string, shape: number[], values: Float32Array): NamedWeight => ({ name: `layer/${param}`, shape, values });
  return {
    P, Hin, Hout,
    weights: [
      w("Lambda_re", [P], get("Lambda_re")), w("Lambda_im", [P], get("Lambda_im")), w("log_step", [P], get("log_step")),
      w("B_re", [P, Hin], part(get("B"), 0)), w("B_im", [P, Hin], part(get("B"), 1)),
      w("C_re", [Hout, P], part(get("C"), 0)), w("C_im", [Hout, P], part(get("C"), 1)), w("D", D.shape, get("D")),
    ],
  };
}

export const SSM_FIXTURES = Object.keys(MANIFEST.files).filter((f) => f.startsWith("ssm_")).map((f) => f.replace(/\.npz$/, ""));
