// Turns a LayersModel topology (Sequential or functional) into the layers nmc compiles, in an order where
// every layer comes after the layers it reads (each with its JSON path for error messages). A functional
// model is a graph: a layer's output may feed several layers, and merge layers (merge.ts) read several.
// Layers that do not lead to the model's output are reported, not compiled.
import { NmcError } from "../../ir/errors.js";
import { checkKeys, parseChecked } from "./allow.js";
import type { LayerJson, ModelJson } from "./schema.js";
import { LayerConfigSchemas, LayerSchema, ShapeSchema, jsonPath, parseWith } from "./schema.js";

export interface LayerRef {
  className: string;
  name: string;
  config: Record<string, unknown>;
  /** JSON path of the layer object in model.json, as text and as parts. */
  path: string;
  base: readonly PropertyKey[];
  /** The layers (or the model's input) this layer reads, in argument order. */
  inbound: string[];
}

export interface Chain {
  /** Shape of the model input without the batch axis, e.g. [T, C] or [T] (token ids), T may be null. */
  inputShape: (number | null)[];
  inputName: string;
  /** Every layer that leads to the output, each after the layers it reads. */
  layers: LayerRef[];
  /** The layer whose output is the model's. */
  output: string;
  /** Layers of the file that do not lead to the output (not compiled). */
  unused: string[];
}

/** The input shape a layer's config declares (checked), or undefined. */
function batchShape(file: string, ref: LayerRef): (number | null)[] | undefined {
  const key = ref.config.batch_input_shape != null ? "batch_input_shape" : "batch_shape";
  const s = ref.config[key];
  return s == null ? undefined : parseWith(ShapeSchema, s, file, [...ref.base, "config", key], "input shape", ref.name);
}

/** An InputLayer's config: the shape and name are read; sparse, dtype and the like are checked against the allow-list. */
function checkInputLayer(file: string, ref: LayerRef): void {
  parseChecked(LayerConfigSchemas.InputLayer, ref.config, {
    file, base: [...ref.base, "config"], honoured: ["name"], scopes: ["InputLayer", "config"], what: "InputLayer config", node: ref.name,
  });
}

/** A layer object of layers[]: class_name, config, name, inbound_nodes, and allow-listed keys. */
function layerRef(file: string, l: unknown, base: readonly PropertyKey[], i: number): { lj: LayerJson; ref: LayerRef } {
  const lj = parseChecked(LayerSchema, l, { file, base, scopes: ["layer"], what: "layer" });
  // The raw config, not zod's copy (which drops a "__proto__" key): the layer's lowering checks every key.
  const config = (l as { config: Record<string, unknown> }).config;
  return { lj, ref: { className: lj.class_name, name: layerName(lj, `layer_${i}`), config, path: jsonPath(base), base, inbound: [] } };
}

const SEQUENTIAL_KEYS = ["name", "layers"];
const FUNCTIONAL_KEYS = ["name", "layers", "input_layers", "output_layers"];

function layerName(l: LayerJson, fallback: string): string {
  const n = l.name ?? (l.config as { name?: unknown }).name;
  return typeof n === "string" && n ? n : fallback;
}

function sequential(file: string, config: unknown, topo: readonly string[]): Chain {
  const layersJson = Array.isArray(config) ? config : (config as { layers?: unknown }).layers;
  const base = Array.isArray(config) ? [...topo, "config"] : [...topo, "config", "layers"];
  checkKeys(config, { file, base: [...topo, "config"], honoured: SEQUENTIAL_KEYS, scopes: ["topologyConfig"], what: "Sequential config" });
  if (!Array.isArray(layersJson) || layersJson.length === 0) {
    throw new NmcError("Sequential model has no layers", { file, path: jsonPath(base), expected: "a non-empty array of layers" });
  }
  const layers: LayerRef[] = layersJson.map((l, i) => layerRef(file, l, [...base, i], i).ref);
  let inputShape: (number | null)[] | undefined;
  let inputName = "input";
  if (layers[0].className === "InputLayer") checkInputLayer(file, layers[0]);
  inputShape = batchShape(file, layers[0]);
  if (layers[0].className === "InputLayer") {
    inputName = layers[0].name;
    layers.shift();
  }
  if (!inputShape) {
    throw new NmcError("the first layer does not say the input shape", {
      file, path: `${layers[0]?.path ?? jsonPath(base)}.config.batch_input_shape`, expected: "[null, T, C] (as model.save writes it)",
      found: "nothing", hint: "give the first layer an inputShape when building the model",
    });
  }
  layers.forEach((l, i) => (l.inbound = [i === 0 ? inputName : layers[i - 1].name]));
  return { inputShape: inputShape.slice(1), inputName, layers, output: layers[layers.length - 1]?.name ?? inputName, unused: [] };
}

/** The names of the layers feeding one inbound node, in tfjs/Keras 2 or Keras 3 form; call kwargs checked. */
function inboundNames(file: string, node: unknown, base: readonly PropertyKey[], name: string): string[] {
  const kwargs = (v: unknown, at: readonly PropertyKey[]) =>
    checkKeys(v, { file, base: at, honoured: [], scopes: ["inboundKwargs"], what: `the call of layer ${name}`, node: name });
  if (Array.isArray(node)) {
    node.forEach((t, i) => Array.isArray(t) && kwargs(t[3], [...base, i, 3]));
    return node.map((t) => (Array.isArray(t) ? String(t[0]) : "")).filter(Boolean);
  }
  kwargs((node as { kwargs?: unknown })?.kwargs, [...base, "kwargs"]);
  const args = (node as { args?: unknown[] })?.args ?? [];
  const out: string[] = [];
  const visit = (a: unknown): void => {
    if (Array.isArray(a)) a.forEach(visit);
    else if (a && typeof a === "object") {
      const hist = (a as { config?: { keras_history?: unknown[] } }).config?.keras_history;
      if (Array.isArray(hist)) out.push(String(hist[0]));
    }
  };
  visit(args);
  return out;
}

function functional(file: string, config: Record<string, unknown>, topo: readonly string[]): Chain {
  const base = [...topo, "config"];
  checkKeys(config, { file, base, honoured: FUNCTIONAL_KEYS, scopes: ["topologyConfig"], what: "functional model config" });
  const layersJson = config.layers;
  if (!Array.isArray(layersJson)) throw new NmcError("functional model has no layers array", { file, path: jsonPath([...base, "layers"]) });
  const byName = new Map<string, LayerRef>();
  layersJson.forEach((l, i) => {
    const { lj, ref } = layerRef(file, l, [...base, "layers", i], i);
    const { name, path } = ref;
    const nodes = lj.inbound_nodes ?? [];
    if (nodes.length > 1) {
      throw new NmcError(`layer ${name} is called ${nodes.length} times (shared layer); nmc supports each layer once`, { file, path, node: name });
    }
    if (byName.has(name)) throw new NmcError(`two layers are named ${name}`, { file, path, node: name, expected: "unique layer names" });
    ref.inbound = nodes.length ? inboundNames(file, nodes[0], [...ref.base, "inbound_nodes", 0], name) : [];
    byName.set(name, ref);
  });
  const outs = config.output_layers as unknown[] | undefined;
  const ins = config.input_layers as unknown[] | undefined;
  if (!Array.isArray(outs) || outs.length !== 1 || !Array.isArray(ins) || ins.length !== 1) {
    throw new NmcError("nmc compiles models with exactly one input and one output", {
      file, path: jsonPath([...base]), expected: "input_layers and output_layers of length 1",
      found: `${Array.isArray(ins) ? ins.length : "no"} inputs, ${Array.isArray(outs) ? outs.length : "no"} outputs`,
    });
  }
  const first = (x: unknown): string => String(Array.isArray(x) ? x[0] : x);
  const inName = first(ins[0]);
  const outName = first(outs[0]);
  const order = inputOrder(file, byName, inName, outName, jsonPath([...base, "output_layers"]));
  const input = byName.get(inName);
  if (!input || input.className !== "InputLayer") {
    throw new NmcError(`input layer ${inName} is missing or not an InputLayer`, { file, path: jsonPath([...base, "input_layers"]) });
  }
  checkInputLayer(file, input);
  const shape = batchShape(file, input);
  if (!shape) {
    throw new NmcError("the InputLayer does not say the input shape", {
      file, path: `${input.path}.config.batch_input_shape`, expected: "[null, T, C]", found: "nothing",
    });
  }
  const used = new Set(order.map((l) => l.name));
  const unused = [...byName.keys()].filter((n) => n !== inName && !used.has(n));
  return { inputShape: shape.slice(1), inputName: inName, layers: order, output: outName, unused };
}

/**
 * The layers the output depends on, each after its inbound layers (depth first from the output), ending at
 * the model input. A name no layer has, a layer with no inbound layer that is not the input, or a cycle (a
 * functional graph has none: recurrence lives inside recurrent layers) is a malformed file.
 */
function inputOrder(file: string, byName: Map<string, LayerRef>, inName: string, outName: string, outPath: string): LayerRef[] {
  const order: LayerRef[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, from: LayerRef | null): void => {
    if (name === inName) return;
    const l = byName.get(name);
    if (!l) {
      throw new NmcError(`${from ? `layer ${from.name} reads` : "the output is"} layer ${name}, which the model does not have`, {
        file, path: from ? `${from.path}.inbound_nodes` : outPath, node: from?.name ?? name, expected: `one of ${[...byName.keys()].join(", ")}`, found: JSON.stringify(name),
      });
    }
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      throw new NmcError(`layer ${name} reads its own output through ${from?.name ?? "the graph"}: a cycle outside a recurrent layer`, {
        file, path: `${l.path}.inbound_nodes`, node: name, hint: "recurrence belongs inside a recurrent layer (EGRU, DiagonalSSM); a functional graph has no cycles",
      });
    }
    if (l.inbound.length === 0) {
      throw new NmcError(`layer ${name} has no inbound layer and is not the model input ${inName}`, { file, path: l.path, node: name });
    }
    state.set(name, "visiting");
    for (const n of l.inbound) visit(n, l);
    state.set(name, "done");
    order.push(l);
  };
  visit(outName, null);
  return order;
}

export function layerChain(file: string, model: ModelJson): Chain {
  const topo = model.modelTopology;
  // tfjs writes {class_name, config, keras_version, backend}; a model_config wrapper is removed in index.ts.
  const cls = topo.class_name;
  if (cls === "Sequential") return sequential(file, topo.config, model.topologyBase);
  if (cls === "Model" || cls === "Functional") return functional(file, topo.config as Record<string, unknown>, model.topologyBase);
  throw new NmcError(`unsupported model class ${cls}`, {
    file, path: jsonPath([...model.topologyBase, "class_name"]), expected: '"Sequential", "Model" or "Functional"', found: JSON.stringify(cls),
  });
}
