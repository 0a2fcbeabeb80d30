// Writes a tuned model: the source model.json with its topology and metadata untouched and the weights
// replaced by the tuned ones, as one float32 shard `weights.bin` (manifest entries in the source's order).
import { mkdirSync } from "node:fs";
import path from "node:path";
import type * as tfjs from "@tensorflow/tfjs";
import { NmcError } from "../../ir/errors.js";
import { readJsonFile, writeFileAtomic } from "../../ir/files.js";

export interface WrittenModel {
  model: string;
  weights: string;
  bytes: number;
}

interface ManifestEntry {
  name: string;
  shape: number[];
  dtype?: string;
}

/** The source model.json with the weights of `model` (matched by name), written to `dir`. */
export function writeTunedModel(sourceModelJson: string, model: tfjs.LayersModel, dir: string): WrittenModel {
  const json = readJsonFile(sourceModelJson, "model file") as Record<string, unknown>;
  const groups = (json.weightsManifest ?? []) as { paths: string[]; weights: ManifestEntry[] }[];
  const byName = new Map<string, tfjs.LayerVariable>();
  for (const w of model.weights) byName.set(w.originalName ?? w.name, w);
  const entries: ManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (const g of groups) {
    for (const e of g.weights) {
      const w = byName.get(e.name);
      if (!w) throw new NmcError(`the tuned model has no weight ${e.name}`, { file: sourceModelJson, path: "weightsManifest" });
      const v = Float32Array.from(w.read().dataSync() as Float32Array);
      const n = e.shape.reduce((a, b) => a * b, 1);
      if (v.length !== n) throw new NmcError(`weight ${e.name} changed size`, { file: sourceModelJson, expected: `${n} values`, found: `${v.length}` });
      entries.push({ name: e.name, shape: e.shape, dtype: "float32" });
      chunks.push(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
      bytes += v.byteLength;
    }
  }
  const out = { ...json, weightsManifest: [{ paths: ["weights.bin"], weights: entries }] };
  mkdirSync(dir, { recursive: true });
  const weights = path.join(dir, "weights.bin");
  const modelFile = path.join(dir, "model.json");
  writeFileAtomic(weights, chunks, "weight file");
  writeFileAtomic(modelFile, new TextEncoder().encode(JSON.stringify(out) + "\n"), "model file");
  return { model: modelFile, weights, bytes };
}
