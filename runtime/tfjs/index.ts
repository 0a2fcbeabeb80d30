// runtime/tfjs: the TensorFlow.js side of nmc — backend selection, the layer classes tfjs lacks (EGRU,
// DiagonalSSM), and reading / writing the LayersModel format (model.json + weights.bin) with node:fs, which
// plain @tensorflow/tfjs cannot do in Node (it has no file:// handler without tfjs-node).
//
// Typical use:
//   const { tf } = await initBestBackend();
//   const { EGRU } = registerNmcLayers(tf);       // classes bound to *this* tf module
//   const model = tf.sequential({ layers: [new EGRU({ units: 64, inputShape: [null, 16] }), ...] });
//   await saveModelToDir(model, "out/");
//   const { model: m } = await loadFloatModel("out/model.json");
//   const y = predictFloat(m, x, [B, T, C]);

import * as tfjs from "@tensorflow/tfjs";
import { promises as fs } from "node:fs";
import path from "node:path";
import { NmcError } from "../../ir/errors.js";
import { currentBackend, initBestBackend, type BackendInfo, type Tf } from "./backend.js";
import { makeDiagonalSsmClass, type DiagonalSsmClass } from "./diagonal_ssm.js";
import { makeEgruClass, type EgruClass } from "./egru.js";
import { makeEventLayerClasses, type EventLayerClasses } from "./event.js";

export { initBestBackend, currentBackend, untransposedMatMul, wasmBinaryDir, type BackendInfo, type Tf } from "./backend.js";
export {
  egruForward,
  makeHeaviside,
  sampleThreshold,
  type EgruWeights,
  type EgruForwardOptions,
  type EgruForwardResult,
  type EgruLayerArgs,
  type EgruClass,
  type EgruLayer,
} from "./egru.js";
export {
  diagonalSsmForward,
  discretizeLru,
  discretizeS5,
  type DiscreteDiagonalSsm,
  type LruParams,
  type S5Params,
  type ScanMode,
  type Parameterization,
  type DiagonalSsmLayerArgs,
  type DiagonalSsmClass,
  type DiagonalSsmLayer,
} from "./diagonal_ssm.js";

export interface NmcLayerClasses {
  EGRU: EgruClass;
  DiagonalSSM: DiagonalSsmClass;
  /** Event-time layers of `nmc import event-ssm` models (event.ts). */
  EventPooling: EventLayerClasses["EventPooling"];
  EventReadout: EventLayerClasses["EventReadout"];
}

// Keyed by the tfjs-layers Layer class: it identifies one tfjs-layers instance even when it is reached
// through different module namespaces (@tensorflow/tfjs vs @tensorflow/tfjs-node re-exporting it).
const classCache = new WeakMap<object, NmcLayerClasses>();
const registered = new WeakSet<object>();

/** The nmc layer classes built against `tf` (one set per tfjs-layers instance). */
export function makeLayerClasses(tf: Tf = tfjs): NmcLayerClasses {
  const key = tf.layers.Layer as unknown as object;
  let classes = classCache.get(key);
  if (!classes) {
    classes = { EGRU: makeEgruClass(tf), DiagonalSSM: makeDiagonalSsmClass(tf), ...makeEventLayerClasses(tf) };
    classCache.set(key, classes);
  }
  return classes;
}

/**
 * Registers EGRU and DiagonalSSM with `tf.serialization` so `tf.loadLayersModel` can rebuild them. Use the
 * tf module the model is loaded with. Idempotent per tf instance; returns the classes.
 */
export function registerNmcLayers(tf: Tf = tfjs): NmcLayerClasses {
  const classes = makeLayerClasses(tf);
  const key = tf.layers.Layer as unknown as object;
  if (!registered.has(key)) {
    tf.serialization.registerClass(classes.EGRU);
    tf.serialization.registerClass(classes.DiagonalSSM);
    tf.serialization.registerClass(classes.EventPooling);
    tf.serialization.registerClass(classes.EventReadout);
    aliasGeluNew(tf);
    registered.add(key);
  }
  return classes;
}

/**
 * tfjs 4.22 saves a Dense with the tanh-approximate GELU as activation "gelu_new" (its class name) but cannot
 * load it back: loading camel-cases string config values, and no activation is registered as "geluNew". The
 * deserializer of "gelu_new" is registered under that name too, so such a model.json loads (and saves again
 * as "gelu_new": the instances are tfjs' own GeluNew).
 */
function aliasGeluNew(tf: Tf): void {
  const map = tf.serialization.SerializationMap.getMap().classNameMap;
  if (map.gelu_new && !map.geluNew) map.geluNew = map.gelu_new;
}

// ---- model.json + weights.bin on the file system ------------------------------------------------------

const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2 };

function expectedBytes(entries: tfjs.io.WeightsManifestEntry[]): number | null {
  let total = 0;
  for (const e of entries) {
    const dtype = e.quantization?.dtype ?? e.dtype;
    const size = DTYPE_BYTES[dtype];
    if (size === undefined) return null; // strings etc.: let tfjs judge
    total += e.shape.reduce((a, b) => a * b, 1) * size;
  }
  return total;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function readModelJson(file: string): Promise<tfjs.io.ModelJSON> {
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch (e) {
    throw new NmcError("cannot read the model file", { file, found: errMessage(e) });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new NmcError("the model file is not valid JSON", { file, found: errMessage(e) });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new NmcError("the model file is not a JSON object", { file, expected: "a LayersModel model.json" });
  }
  const obj = json as Record<string, unknown>;
  if (typeof obj.modelTopology !== "object" || obj.modelTopology === null) {
    throw new NmcError("the model file has no modelTopology", {
      file,
      path: "modelTopology",
      expected: "an object (TensorFlow.js LayersModel format)",
      found: JSON.stringify(obj.modelTopology),
    });
  }
  if (obj.weightsManifest !== undefined && !Array.isArray(obj.weightsManifest)) {
    throw new NmcError("weightsManifest must be an array", { file, path: "weightsManifest", expected: "an array" });
  }
  return obj as unknown as tfjs.io.ModelJSON;
}

/** Reads every weight shard named by the manifest (paths relative to `dir`) and checks the total size. */
async function readWeights(
  file: string,
  dir: string,
  manifest: tfjs.io.WeightsManifestConfig,
): Promise<[tfjs.io.WeightsManifestEntry[], ArrayBuffer]> {
  const specs: tfjs.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  for (let g = 0; g < manifest.length; g++) {
    const group = manifest[g]!;
    if (!Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new NmcError("malformed weightsManifest group", {
        file,
        path: `weightsManifest[${g}]`,
        expected: "{paths: string[], weights: object[]}",
      });
    }
    specs.push(...group.weights);
    for (let i = 0; i < group.paths.length; i++) {
      const shard = path.resolve(dir, group.paths[i]!);
      try {
        parts.push(new Uint8Array(await fs.readFile(shard)));
      } catch (e) {
        throw new NmcError("cannot read a weight file named by the model", {
          file,
          path: `weightsManifest[${g}].paths[${i}]`,
          found: errMessage(e),
          hint: "keep the .bin files next to model.json",
        });
      }
    }
  }
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  const want = expectedBytes(specs);
  if (want !== null && want !== total) {
    throw new NmcError("weight files do not match the weightsManifest", {
      file,
      path: "weightsManifest",
      expected: `${want} bytes`,
      found: `${total} bytes`,
    });
  }
  const data = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    data.set(p, off);
    off += p.byteLength;
  }
  return [specs, data.buffer];
}

export interface FileIOHandlerOptions {
  /** Metadata to write as userDefinedMetadata (merged over what the model carries). */
  userDefinedMetadata?: Record<string, unknown>;
  /** Name of the weight file written by save() (default weights.bin). */
  weightsFileName?: string;
}

/**
 * A tf.io handler for a model on the local file system. `target` is a model.json path, or a directory (then
 * `<dir>/model.json`). load() reads model.json and its shards; save() writes model.json and one weights.bin.
 */
export function fileIOHandler(target: string, opts: FileIOHandlerOptions = {}): tfjs.io.IOHandler {
  const modelFile = target.endsWith(".json") ? target : path.join(target, "model.json");
  const dir = path.dirname(modelFile);
  const weightsName = opts.weightsFileName ?? "weights.bin";
  return {
    async load(): Promise<tfjs.io.ModelArtifacts> {
      const json = await readModelJson(modelFile);
      return tfjs.io.getModelArtifactsForJSON(json, (manifest) => readWeights(modelFile, dir, manifest));
    },
    async save(artifacts: tfjs.io.ModelArtifacts): Promise<tfjs.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) {
        throw new Error("fileIOHandler saves LayersModel JSON topologies only");
      }
      const weightData = artifacts.weightData ?? new ArrayBuffer(0);
      const weights = new tfjs.io.CompositeArrayBuffer(weightData).slice();
      const meta = { ...(artifacts.userDefinedMetadata ?? {}), ...(opts.userDefinedMetadata ?? {}) };
      const modelJson: Record<string, unknown> = {
        format: artifacts.format ?? "layers-model",
        generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tfjs.version_layers}`,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        weightsManifest: [{ paths: [weightsName], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) modelJson.trainingConfig = artifacts.trainingConfig;
      if (Object.keys(meta).length > 0) modelJson.userDefinedMetadata = meta;
      await fs.mkdir(dir, { recursive: true });
      await fs.writeFile(path.join(dir, weightsName), new Uint8Array(weights));
      await fs.writeFile(modelFile, JSON.stringify(modelJson));
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
          modelTopologyBytes: JSON.stringify(artifacts.modelTopology).length,
          weightSpecsBytes: JSON.stringify(artifacts.weightSpecs ?? []).length,
          weightDataBytes: weights.byteLength,
        },
      };
    },
  };
}

/** Makes sure a Sequential topology's first layer carries batch_input_shape (as tfjs writes it). */
function ensureSequentialInputShape(model: tfjs.LayersModel, topology: Record<string, unknown>): void {
  if (topology.class_name !== "Sequential") return;
  const config = topology.config as { layers?: Array<{ class_name?: string; config?: Record<string, unknown> }> };
  const first = config?.layers?.[0];
  if (!first?.config) return;
  if (first.config.batch_input_shape != null) return;
  const shape = model.inputs[0]?.shape;
  if (!shape) return;
  first.config.batch_input_shape = shape.map((d) => (d === undefined ? null : d));
}

/**
 * Saves `model` as `<dir>/model.json` + `<dir>/weights.bin` (TensorFlow.js LayersModel format, one shard),
 * with optional userDefinedMetadata. Registers the nmc layers first (needed for the topology to be complete).
 */
export async function saveModelToDir(
  model: tfjs.LayersModel,
  dir: string,
  userDefinedMetadata?: Record<string, unknown>,
): Promise<tfjs.io.SaveResult> {
  const inner = fileIOHandler(dir, { userDefinedMetadata });
  const handler: tfjs.io.IOHandler = {
    save: async (artifacts) => {
      if (artifacts.modelTopology && !(artifacts.modelTopology instanceof ArrayBuffer)) {
        ensureSequentialInputShape(model, artifacts.modelTopology as Record<string, unknown>);
      }
      return inner.save!(artifacts);
    },
  };
  return model.save(handler);
}

export interface LoadedFloatModel {
  model: tfjs.LayersModel;
  /** Active backend name (`tensorflow`, `wasm`, `cpu`). */
  backend: string;
  /** The tf module the model was loaded with. */
  tf: Tf;
}

/**
 * Loads a model.json (+ shards) as a tfjs LayersModel on the best backend, with the nmc layers registered.
 * Problems with the files are NmcErrors naming the file.
 */
export async function loadFloatModel(
  modelJsonPath: string,
  opts: { prefer?: string; strict?: boolean } = {},
): Promise<LoadedFloatModel> {
  const { tf, backend } = await initBestBackend(opts.prefer ? { prefer: opts.prefer } : {});
  registerNmcLayers(tf);
  try {
    const model = await tf.loadLayersModel(fileIOHandler(modelJsonPath), { strict: opts.strict ?? true });
    // As the float reference, accuracy beats speed: the doubling scan's repeated squaring of Λ̄ in
    // float32 drifts ~1e-5 from the exact recurrence within ten ticks; the step-by-step scan does not.
    for (const layer of model.layers) {
      if (layer.getClassName() === "DiagonalSSM") (layer as unknown as { scanMode: string }).scanMode = "sequential";
    }
    return { model, backend, tf };
  } catch (e) {
    if (e instanceof NmcError) throw e.inFile(modelJsonPath);
    throw new NmcError(`TensorFlow.js cannot build the model: ${errMessage(e)}`, {
      file: modelJsonPath,
      hint: "the model must be a TensorFlow.js LayersModel using standard layers or EGRU / DiagonalSSM",
    });
  }
}

export interface FloatPrediction {
  data: Float32Array;
  shape: number[];
}

/**
 * Runs `model` on one input given as a flat Float32Array of `shape` ([B, T, C], or [B, T] of token ids for
 * an Embedding model) and returns its first output with its shape (e.g. [B, T, K]).
 */
export function predictFloatWithShape(
  model: tfjs.LayersModel,
  x: Float32Array,
  shape: readonly number[],
  tf: Tf = tfjs,
): FloatPrediction {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n !== x.length) {
    throw new NmcError("input data does not match its shape", {
      expected: `${n} values for shape [${shape.join(", ")}]`,
      found: `${x.length} values`,
    });
  }
  return tf.tidy(() => {
    const input = tf.tensor(x, [...shape], "float32");
    const out = model.predict(input);
    const y = Array.isArray(out) ? out[0]! : out;
    return { data: Float32Array.from(y.dataSync() as ArrayLike<number>), shape: [...y.shape] };
  });
}

/** As predictFloatWithShape, returning the data only. */
export function predictFloat(
  model: tfjs.LayersModel,
  x: Float32Array,
  shape: readonly number[],
  tf: Tf = tfjs,
): Float32Array {
  return predictFloatWithShape(model, x, shape, tf).data;
}

/** The backend already selected, or selects one (for callers that only need the name). */
export async function activeBackend(): Promise<BackendInfo> {
  return (await currentBackend()) ?? initBestBackend();
}
