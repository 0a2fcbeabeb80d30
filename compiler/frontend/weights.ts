// Reads the weight shards of a TensorFlow.js LayersModel (`weightsManifest`): each group's shard files are
// concatenated in order and its weights laid out back to back in manifest order, as tfjs writes them.
// float32 and int32 are read as is; the manifest's `quantization` field (uint8/uint16/int8 affine,
// float16) is dequantized to float32 here, so later stages only ever see float weights.
import { readFileSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { NmcError } from "../../ir/errors.js";
import { HOST_LITTLE_ENDIAN } from "../../runtime/io/ndarray.js";
import type { ManifestGroup, WeightEntry } from "./schema.js";

export interface NamedWeight {
  name: string;
  shape: number[];
  values: Float32Array;
  /** Where in model.json the manifest entry is, for error messages. */
  manifestPath: string;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, float16: 2, uint8: 1, int8: 1, uint16: 2, bool: 1 };

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

function storedDtype(w: WeightEntry): string {
  return w.quantization?.dtype ?? w.dtype;
}

function decode(w: WeightEntry, view: DataView, offset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const q = w.quantization;
  switch (storedDtype(w)) {
    case "float32":
      // The shard's little-endian bytes are the host's float32s: copy them (a bytewise copy, as offsets need
      // not be 4-aligned), else read value by value.
      if (HOST_LITTLE_ENDIAN) new Uint8Array(out.buffer).set(new Uint8Array(view.buffer, view.byteOffset + offset, 4 * count));
      else for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, true);
      break;
    case "int32": for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, true); break;
    case "bool": for (let i = 0; i < count; i++) out[i] = view.getUint8(offset + i) ? 1 : 0; break;
    case "float16": for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(offset + 2 * i, true)); break;
    case "uint8": for (let i = 0; i < count; i++) out[i] = view.getUint8(offset + i) * (q?.scale ?? 1) + (q?.min ?? 0); break;
    case "int8": for (let i = 0; i < count; i++) out[i] = view.getInt8(offset + i) * (q?.scale ?? 1) + (q?.min ?? 0); break;
    case "uint16": for (let i = 0; i < count; i++) out[i] = view.getUint16(offset + 2 * i, true) * (q?.scale ?? 1) + (q?.min ?? 0); break;
  }
  return out;
}

function readShards(modelFile: string, group: ManifestGroup, g: number): Uint8Array {
  const dir = dirname(modelFile);
  const parts: Uint8Array[] = [];
  group.paths.forEach((p, i) => {
    const file = resolve(dir, p);
    try {
      if (!statSync(file).isFile()) throw new Error("not a file");
      parts.push(readFileSync(file));
    } catch {
      throw new NmcError(`weight shard not found`, {
        file: modelFile, path: `weightsManifest[${g}].paths[${i}]`, expected: `a file ${file}`, found: "nothing there",
        hint: "keep the .bin shards beside model.json, as model.save writes them",
      });
    }
  });
  const total = parts.reduce((a, b) => a + b.byteLength, 0);
  const all = new Uint8Array(total);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.byteLength;
  }
  return all;
}

/** Every weight of every manifest group, dequantized to float32 and checked finite. */
export function readWeights(modelFile: string, manifest: ManifestGroup[]): Map<string, NamedWeight> {
  const out = new Map<string, NamedWeight>();
  manifest.forEach((group, g) => {
    const bytes = readShards(modelFile, group, g);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = 0;
    group.weights.forEach((w, i) => {
      const manifestPath = `weightsManifest[${g}].weights[${i}]`;
      const count = w.shape.reduce((a, b) => a * b, 1);
      const nbytes = count * BYTES[storedDtype(w)];
      if (offset + nbytes > bytes.byteLength) {
        throw new NmcError(`weight shard is truncated: weight ${w.name} does not fit`, {
          file: resolve(dirname(modelFile), group.paths[group.paths.length - 1]), path: `byte ${bytes.byteLength}`,
          expected: `${offset + nbytes} bytes in group ${g} (${w.name} spans bytes ${offset}..${offset + nbytes})`,
          found: `${bytes.byteLength} bytes`,
          node: w.name,
        });
      }
      const values = decode(w, view, offset, count);
      for (let k = 0; k < values.length; k++) {
        if (!Number.isFinite(values[k])) {
          throw new NmcError(`weight ${w.name} has a non-finite value`, {
            file: modelFile, path: manifestPath, expected: "finite numbers", found: `${values[k]} at flat index ${k}`, node: w.name,
          });
        }
      }
      if (out.has(w.name)) {
        throw new NmcError(`weight name ${w.name} appears twice in the manifest`, { file: modelFile, path: manifestPath });
      }
      // Optimizer state (group "optimizer") fills its bytes but is no weight of the model.
      if (w.group !== "optimizer") out.set(w.name, { name: w.name, shape: w.shape, values, manifestPath });
      offset += nbytes;
    });
    if (offset !== bytes.byteLength) {
      throw new NmcError(`weight shards of group ${g} are longer than the manifest describes`, {
        file: modelFile, path: `weightsManifest[${g}]`, expected: `${offset} bytes`, found: `${bytes.byteLength} bytes`,
        hint: "the shards and model.json do not belong together",
      });
    }
  });
  return out;
}
