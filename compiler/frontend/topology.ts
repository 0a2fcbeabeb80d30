// Turns a LayersModel topology (Sequential or functional) into the chain of layers nmc compiles, each
// with its JSON path for error messages. nmc supports chains: a functional model whose output is reached
// from its input through layers with one inbound tensor each.
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
}

export interface Chain {
  /** Shape of the model input without the batch axis, e.g. [T, C] or [T] (token ids), T may be null. */
  inputShape: (number | null)[];
  inputName: string;
  layers: LayerRef[];
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
  return { lj, ref: { className: lj.class_name, name: layerName(lj, `layer_${i}`), config, path: jsonPath(base), base } };
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
  return { inputShape: inputShape.slice(1), inputName, layers };
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
  const byName = new Map<string, { ref: LayerRef; inbound: string[] }>();
  layersJson.forEach((l, i) => {
    const { lj, ref } = layerRef(file, l, [...base, "layers", i], i);
    const { name, path } = ref;
    const nodes = lj.inbound_nodes ?? [];
    if (nodes.length > 1) {
      throw new NmcError(`layer ${name} is called ${nodes.length} times (shared layer); nmc supports each layer once`, { file, path, node: name });
    }
    const inbound = nodes.length ? inboundNames(file, nodes[0], [...ref.base, "inbound_nodes", 0], name) : [];
    if (inbound.length > 1) {
      throw new NmcError(`layer ${name} (${lj.class_name}) merges ${inbound.length} inputs; nmc supports chains of single-input layers`, {
        file, path, node: name, hint: "residual and concatenating models are not supported yet",
      });
    }
    byName.set(name, { ref, inbound });
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
  const chain: LayerRef[] = [];
  let cur = first(outs[0]);
  const seen = new Set<string>();
  while (cur !== inName) {
    const l = byName.get(cur);
    if (!l || seen.has(cur)) {
      throw new NmcError(`the output is not reached from the input through a chain of layers (stuck at ${cur})`, {
        file, path: jsonPath([...base, "output_layers"]), node: cur,
      });
    }
    seen.add(cur);
    chain.unshift(l.ref);
    if (l.inbound.length !== 1) throw new NmcError(`layer ${cur} has no inbound layer`, { file, path: l.ref.path, node: cur });
    cur = l.inbound[0];
  }
  const input = byName.get(inName);
  if (!input || input.ref.className !== "InputLayer") {
    throw new NmcError(`input layer ${inName} is missing or not an InputLayer`, { file, path: jsonPath([...base, "input_layers"]) });
  }
  checkInputLayer(file, input.ref);
  const shape = batchShape(file, input.ref);
  if (!shape) {
    throw new NmcError("the InputLayer does not say the input shape", {
      file, path: `${input.ref.path}.config.batch_input_shape`, expected: "[null, T, C]", found: "nothing",
    });
  }
  return { inputShape: shape.slice(1), inputName: inName, layers: chain };
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
