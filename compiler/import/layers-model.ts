// Writes a TensorFlow.js LayersModel (model.json + one weights.bin shard of float32) from layer configs and
// named weights: what an importer of a foreign checkpoint produces for the model.json frontend to compile.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../ir/files.js";
import { NmcError } from "../../ir/errors.js";

export interface LayerSpec {
  class_name: string;
  config: Record<string, unknown>;
}

export interface NamedWeight {
  /** `<layer name>/<param>`, as the frontend looks weights up. */
  name: string;
  shape: number[];
  values: Float32Array;
}

export interface LayersModel {
  json: Record<string, unknown>;
  /** The weights.bin shard: every weight in manifest order, float32 little-endian. */
  bin: Uint8Array;
}

export const WEIGHTS_FILE = "weights.bin";

export function layersModel(name: string, layers: LayerSpec[], weights: NamedWeight[], extra: Record<string, unknown> = {}): LayersModel {
  const total = weights.reduce((n, w) => n + w.values.length, 0);
  const bin = new Uint8Array(total * 4);
  const dv = new DataView(bin.buffer);
  let at = 0;
  for (const w of weights) {
    for (let i = 0; i < w.values.length; i++, at += 4) dv.setFloat32(at, w.values[i]!, true);
  }
  const json = {
    format: "layers-model",
    ...extra,
    modelTopology: { class_name: "Sequential", config: { name, layers } },
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: weights.map((w) => ({ name: w.name, shape: w.shape, dtype: "float32" })) }],
  };
  return { json, bin };
}

/** Writes dir/model.json and dir/weights.bin (each atomically); returns their paths. */
export function writeLayersModel(dir: string, m: LayersModel): { model: string; weights: string } {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new NmcError(`cannot create the output directory (${(e as NodeJS.ErrnoException)?.code ?? e})`, { file: dir });
  }
  const model = join(dir, "model.json");
  const weights = join(dir, WEIGHTS_FILE);
  writeFileAtomic(weights, m.bin, "the weights");
  writeFileAtomic(model, new TextEncoder().encode(JSON.stringify(m.json, null, 1) + "\n"), "model.json");
  return { model, weights };
}
