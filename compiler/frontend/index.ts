// The model.json frontend: a TensorFlow.js LayersModel (model.json + weight shards) into the float IR.
import { readJsonFile } from "../../ir/files.js";
import { GraphBuilder } from "../../ir/builder.js";
import { NmcError } from "../../ir/errors.js";
import { type Graph, MAX_UNITS, type Population, type ReadoutMode } from "../../ir/types.js";
import { assertValidGraph } from "../../ir/verify.js";
import { LAYER_TABLE, type LowerContext } from "./layers.js";
import { checkKeys, parseChecked } from "./allow.js";
import {
  LayerConfigSchemas, ManifestGroupSchema, ModelJsonSchema, NmcMetaSchema, QuantizationSchema, TopologySchema, WeightEntrySchema,
  describe, parseWith, type ModelJson,
} from "./schema.js";
import { type LayerRef, layerChain } from "./topology.js";
import { isMergeClass, MERGE_TABLE } from "./merge.js";
import { readWeights } from "./weights.js";

export interface LoadOptions {
  /** Overrides the model's `nmc.readout` metadata; "none" drops it. */
  readout?: ReadoutMode | "none";
}

export interface LoadedModel {
  graph: Graph;
  warnings: string[];
}

const GRAPH_MODEL_HINT = "export the Keras or tfjs LayersModel instead (tfjs model.save, or tensorflowjs_converter --input_format keras on an .h5/.keras file)";

/** tfjs's loadLayersModel never reads `format`, so a file without one loads there and here; any other value is refused. */
function checkFormat(file: string, json: Record<string, unknown>): void {
  const format = json.format;
  const topo = json.modelTopology as Record<string, unknown> | undefined;
  const graphDef = format === undefined && topo && typeof topo === "object" && Array.isArray(topo.node) && topo.class_name === undefined;
  if (format === "graph-model" || graphDef) {
    throw new NmcError("model.json is a TensorFlow.js graph model (e.g. converted from a SavedModel or a frozen graph): an op graph with no layer topology nmc can read", {
      file, path: graphDef ? "modelTopology" : "format", expected: '"layers-model"', found: graphDef ? "a GraphDef (modelTopology.node)" : '"graph-model"', hint: GRAPH_MODEL_HINT,
    });
  }
  if (format !== undefined && format !== "layers-model") {
    throw new NmcError("model.json is not a TensorFlow.js layers model", {
      file, path: "format", expected: '"layers-model" (or no format, as tfjs accepts)', found: describe(format), hint: GRAPH_MODEL_HINT,
    });
  }
}

/** Keys below the top level that zod would drop silently: the metadata and the manifest entries. */
function checkNestedKeys(file: string, json: Record<string, unknown>): void {
  const meta = json.userDefinedMetadata as Record<string, unknown> | undefined;
  checkKeys(meta, { file, base: ["userDefinedMetadata"], honoured: ["nmc"], scopes: ["userDefinedMetadata"], what: "userDefinedMetadata" });
  for (const [base, v] of [[["userDefinedMetadata", "nmc"], meta?.nmc], [["nmc"], json.nmc]] as const) {
    checkKeys(v, { file, base, honoured: Object.keys(NmcMetaSchema.shape), scopes: [], what: "nmc metadata" });
  }
  (json.weightsManifest as Record<string, unknown>[]).forEach((g, gi) => {
    checkKeys(g, { file, base: ["weightsManifest", gi], honoured: Object.keys(ManifestGroupSchema.shape), scopes: [], what: "weight group" });
    (g.weights as unknown[]).forEach((w, wi) => {
      const base = ["weightsManifest", gi, "weights", wi];
      checkKeys(w, { file, base, honoured: Object.keys(WeightEntrySchema.shape), scopes: [], what: "weight entry" });
      const q = (w as { quantization?: unknown }).quantization;
      checkKeys(q, { file, base: [...base, "quantization"], honoured: Object.keys(QuantizationSchema.shape), scopes: ["quantization"], what: "weight quantization" });
    });
  });
}

/** Parses model.json (text already read) into the validated LayersModel object. */
export function parseModelJson(file: string, json: unknown): ModelJson {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new NmcError("model.json must be a JSON object", { file, expected: "a TensorFlow.js LayersModel object", found: Array.isArray(json) ? "an array" : typeof json });
  }
  const rec = json as Record<string, unknown>;
  checkFormat(file, rec);
  const top = parseChecked(ModelJsonSchema, json, { file, base: [], scopes: ["model"], what: "model.json" });
  // tfjs and Keras's converter may wrap the topology: {keras_version, backend, model_config: {class_name, config}}.
  const wrapped = top.modelTopology.model_config != null; // as tfjs: a null model_config is no wrapper
  const topoBase = wrapped ? ["modelTopology", "model_config"] : ["modelTopology"];
  if (wrapped) checkKeys(rec.modelTopology, { file, base: ["modelTopology"], honoured: ["model_config"], scopes: ["modelTopology"], what: "modelTopology" });
  // The raw objects from here on: zod's copies drop a "__proto__" key, which must be refused like any other.
  const rawTopo = rec.modelTopology as Record<string, unknown>;
  const topoJson = (wrapped ? rawTopo.model_config : rawTopo) as Record<string, unknown>;
  const parsed = parseChecked(TopologySchema, topoJson, { file, base: topoBase, scopes: ["modelTopology"], what: "modelTopology", honoured: wrapped ? [] : ["model_config"] });
  const modelTopology = { ...parsed, config: topoJson.config as typeof parsed.config };
  checkNestedKeys(file, rec);
  return { ...top, modelTopology, topologyBase: topoBase };
}

/** Anchors a config error (reported relative to the layer's config object) in the file. */
function anchored<T>(file: string, layer: LayerRef, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof NmcError && e.file === file && e.path !== undefined && !e.path.startsWith("modelTopology") && !e.path.startsWith("weightsManifest")) {
      throw new NmcError(e.message, { ...e.fields(), path: `${layer.path}.config${e.path ? "." + e.path : ""}` });
    }
    throw e;
  }
}

/** Lowers one layer from the populations of its inbound layers; returns the population it produces. */
function lowerLayer(ctx: LowerContext, layer: LayerRef, inputs: Population[], onlyReader: boolean): Population {
  const file = ctx.file;
  if (isMergeClass(layer.className)) {
    if (inputs.length < 2) {
      throw new NmcError(`${layer.className} ${layer.name} merges ${inputs.length} input${inputs.length === 1 ? "" : "s"}`, {
        file, path: `${layer.path}.inbound_nodes`, node: layer.name, expected: "2 or more inbound layers",
      });
    }
    const merge = MERGE_TABLE[layer.className];
    ctx.lastDense = undefined;
    return anchored(file, layer, () => merge(ctx, layer, layer.config, inputs));
  }
  // Own properties only: "constructor", "__proto__", "toString" are not layer classes.
  const lower = Object.hasOwn(LAYER_TABLE, layer.className) ? (LAYER_TABLE as Record<string, (typeof LAYER_TABLE)["Dense"]>)[layer.className] : undefined;
  if (!lower) {
    throw new NmcError(`layer ${layer.name} has unsupported class ${layer.className}`, {
      file, path: `${layer.path}.class_name`, node: layer.name,
      expected: `one of InputLayer, ${[...Object.keys(LAYER_TABLE), ...Object.keys(MERGE_TABLE)].join(", ")}`, found: JSON.stringify(layer.className),
    });
  }
  if (inputs.length !== 1) {
    throw new NmcError(`layer ${layer.name} (${layer.className}) reads ${inputs.length} inputs; only merge layers (${Object.keys(MERGE_TABLE).join(", ")}) read several`, {
      file, path: `${layer.path}.inbound_nodes`, node: layer.name,
    });
  }
  // The Dense a following Activation or BatchNormalization may fold into: only the one just built from this very
  // input, read by it alone.
  if (ctx.current !== inputs[0] || !onlyReader) ctx.lastDense = undefined;
  ctx.current = inputs[0];
  anchored(file, layer, () => lower(ctx, layer, layer.config));
  return ctx.current;
}

/** nmc.vocabulary as Graph.meta.vocabulary (a JSON array): one distinct string per token id of an Embedding input. */
function checkedVocabulary(file: string, vocabulary: string[], tokens: number | null, topLevel: boolean): string {
  const path = `${topLevel ? "" : "userDefinedMetadata."}nmc.vocabulary`;
  if (tokens === null) {
    throw new NmcError("nmc.vocabulary names the token ids of an Embedding input; this model's input is a sequence of feature vectors", {
      file, path, expected: "no vocabulary, or an Embedding as the first layer",
    });
  }
  if (vocabulary.length !== tokens) {
    throw new NmcError("nmc.vocabulary must name every token id of the Embedding", { file, path, expected: `${tokens} entries (the Embedding's input_dim)`, found: `${vocabulary.length}` });
  }
  const seen = new Map<string, number>();
  vocabulary.forEach((v, i) => {
    const j = seen.get(v);
    if (j !== undefined) throw new NmcError("nmc.vocabulary has a token twice", { file, path: `${path}[${i}]`, expected: "distinct strings", found: `${JSON.stringify(v)} again (first at ${j})` });
    seen.set(v, i);
  });
  return JSON.stringify(vocabulary);
}

export function loadModel(file: string, opts: LoadOptions = {}): LoadedModel {
  const model = parseModelJson(file, readJsonFile(file, "the model file", "a TensorFlow.js LayersModel (JSON)"));
  const chain = layerChain(file, model);
  const weights = readWeights(file, model.weightsManifest);
  const b = new GraphBuilder(String((model.modelTopology.config as { name?: unknown }).name ?? "model"));
  b.meta.source = file;

  const meta = model.userDefinedMetadata?.nmc ?? model.nmc;
  // nmc.time "events": every step is an event with its own Δt (event.ts; ir/types.ts InputPopulation.eventTime).
  const time = { eventTime: meta?.time === "events" };
  const first = chain.layers[0];
  const tokens = first?.className === "Embedding";
  let input;
  if (tokens) {
    const V = parseWith(LayerConfigSchemas.Embedding, first.config, file, [], "Embedding config", first.name).input_dim;
    input = b.input(chain.inputName, V, "tokens", { file, layer: chain.inputName, className: "InputLayer" }, time);
  } else {
    const C = chain.inputShape[chain.inputShape.length - 1];
    if (chain.inputShape.length !== 2 || typeof C !== "number") {
      throw new NmcError("the model input must be a sequence of feature vectors", {
        file, path: "batch_input_shape", expected: "[null, T, C] with C a number", found: JSON.stringify([null, ...chain.inputShape]),
      });
    }
    if (C > MAX_UNITS) {
      throw new NmcError(`the model input has ${C} features, more than nmc's widest population`, {
        file, path: "batch_input_shape", expected: `[null, T, C] with C ≤ ${MAX_UNITS}`, found: JSON.stringify([null, ...chain.inputShape]),
      });
    }
    input = b.input(chain.inputName, C, "values", { file, layer: chain.inputName, className: "InputLayer" }, time);
  }

  if (meta?.vocabulary) b.meta.vocabulary = checkedVocabulary(file, meta.vocabulary, tokens ? input.size : null, model.nmc !== undefined && !model.userDefinedMetadata?.nmc);

  const ctx: LowerContext = { file, builder: b, weights, used: new Set(), current: input };
  // What each layer produced, by layer name; and how many layers read it (an Activation folds into the
  // Dense before it only when it is that Dense's one reader).
  const produced = new Map<string, Population>([[chain.inputName, input]]);
  const readers = new Map<string, number>([[chain.output, 1]]);
  for (const l of chain.layers) for (const n of l.inbound) readers.set(n, (readers.get(n) ?? 0) + 1);
  for (const layer of chain.layers) {
    const inputs = layer.inbound.map((n) => produced.get(n)!);
    produced.set(layer.name, lowerLayer(ctx, layer, inputs, (readers.get(layer.inbound[0]) ?? 0) === 1));
  }
  ctx.current = produced.get(chain.output)!;
  if (ctx.current === input) throw new NmcError("the model has no layers after its input", { file, path: "modelTopology" });

  const readout = opts.readout ?? meta?.readout ?? "none";
  const eventReadout = chain.layers.find((l) => l.className === "EventReadout");
  if (readout !== "none" && eventReadout) {
    throw new NmcError(`the model has its readout as a layer (EventReadout ${eventReadout.name}); a ${readout} readout after its output would be a second one`, {
      file, path: opts.readout ? undefined : "userDefinedMetadata.nmc.readout", expected: "no readout metadata (and no --readout)", found: JSON.stringify(readout),
    });
  }
  if (readout !== "none") {
    const r = b.readout("readout", ctx.current, readout, { file, layer: "", className: "Readout" });
    b.outputs.push(r.name);
  } else {
    b.outputs.push(ctx.current.name);
  }
  const graph = b.build();
  assertValidGraph(graph, `IR built from ${file}`);
  const warnings = [
    ...chain.unused.map((n) => `layer ${n} does not lead to the model's output; it is not compiled`),
    ...[...weights.keys()].filter((n) => !ctx.used.has(n)).map((n) => `weight ${n} is not used by any supported layer`),
  ];
  return { graph, warnings };
}
