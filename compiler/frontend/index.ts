// The model.json frontend: a TensorFlow.js LayersModel (model.json + weight shards) into the float IR.
import { readJsonFile } from "../../ir/files.js";
import { GraphBuilder } from "../../ir/builder.js";
import { NmcError } from "../../ir/errors.js";
import type { Graph, ReadoutMode } from "../../ir/types.js";
import { assertValidGraph } from "../../ir/verify.js";
import { LAYER_TABLE, type LowerContext } from "./layers.js";
import { LayerConfigSchemas, ModelJsonSchema, parseWith, type ModelJson } from "./schema.js";
import { layerChain } from "./topology.js";
import { readWeights } from "./weights.js";

export interface LoadOptions {
  /** Overrides the model's `nmc.readout` metadata; "none" drops it. */
  readout?: ReadoutMode | "none";
}

export interface LoadedModel {
  graph: Graph;
  warnings: string[];
}

/** Parses model.json (text already read) into the validated LayersModel object. */
export function parseModelJson(file: string, json: unknown): ModelJson {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new NmcError("model.json must be a JSON object", { file, expected: "a TensorFlow.js LayersModel object", found: Array.isArray(json) ? "an array" : typeof json });
  }
  return parseWith(ModelJsonSchema, json, file, [], "model.json");
}

export function loadModel(file: string, opts: LoadOptions = {}): LoadedModel {
  const model = parseModelJson(file, readJsonFile(file, "the model file", "a TensorFlow.js LayersModel (JSON)"));
  const chain = layerChain(file, model);
  const weights = readWeights(file, model.weightsManifest);
  const b = new GraphBuilder(String((model.modelTopology.config as { name?: unknown }).name ?? "model"));
  b.meta.source = file;

  const first = chain.layers[0];
  const tokens = first?.className === "Embedding";
  let input;
  if (tokens) {
    const V = parseWith(LayerConfigSchemas.Embedding, first.config, file, [], "Embedding config", first.name).input_dim;
    input = b.input(chain.inputName, V, "tokens", { file, layer: chain.inputName, className: "InputLayer" });
  } else {
    const C = chain.inputShape[chain.inputShape.length - 1];
    if (chain.inputShape.length !== 2 || typeof C !== "number") {
      throw new NmcError("the model input must be a sequence of feature vectors", {
        file, path: "batch_input_shape", expected: "[null, T, C] with C a number", found: JSON.stringify([null, ...chain.inputShape]),
      });
    }
    input = b.input(chain.inputName, C, "values", { file, layer: chain.inputName, className: "InputLayer" });
  }

  const ctx: LowerContext = { file, builder: b, weights, used: new Set(), current: input };
  for (const layer of chain.layers) {
    // Own properties only: "constructor", "__proto__", "toString" are not layer classes.
    const lower = Object.hasOwn(LAYER_TABLE, layer.className) ? (LAYER_TABLE as Record<string, (typeof LAYER_TABLE)["Dense"]>)[layer.className] : undefined;
    if (!lower) {
      throw new NmcError(`layer ${layer.name} has unsupported class ${layer.className}`, {
        file, path: `${layer.path}.class_name`, node: layer.name,
        expected: `one of InputLayer, ${Object.keys(LAYER_TABLE).join(", ")}`, found: JSON.stringify(layer.className),
      });
    }
    try {
      lower(ctx, layer, layer.config);
    } catch (e) {
      // Config errors are reported relative to the layer's config object; anchor them in the file.
      if (e instanceof NmcError && e.file === file && e.path !== undefined && !e.path.startsWith("modelTopology") && !e.path.startsWith("weightsManifest")) {
        throw new NmcError(e.message, { ...e.fields(), path: `${layer.path}.config${e.path ? "." + e.path : ""}` });
      }
      throw e;
    }
  }
  if (ctx.current === input) throw new NmcError("the model has no layers after its input", { file, path: "modelTopology" });

  const meta = model.userDefinedMetadata?.nmc ?? model.nmc;
  const readout = opts.readout ?? meta?.readout ?? "none";
  if (readout !== "none") {
    const r = b.readout("readout", ctx.current, readout, { file, layer: "", className: "Readout" });
    b.outputs.push(r.name);
  } else {
    b.outputs.push(ctx.current.name);
  }
  const graph = b.build();
  assertValidGraph(graph, `IR built from ${file}`);
  const warnings = [...weights.keys()].filter((n) => !ctx.used.has(n)).map((n) => `weight ${n} is not used by any supported layer`);
  return { graph, warnings };
}
