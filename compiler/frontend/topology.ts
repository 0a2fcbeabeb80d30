// Turns a LayersModel topology (Sequential or functional) into the chain of layers nmc compiles, each
// with its JSON path for error messages. nmc supports chains: a functional model whose output is reached
// from its input through layers with one inbound tensor each.
import { NmcError } from "../../ir/errors.js";
import type { LayerJson, ModelJson } from "./schema.js";
import { LayerSchema, jsonPath, parseWith } from "./schema.js";

export interface LayerRef {
  className: string;
  name: string;
  config: Record<string, unknown>;
  /** JSON path of the layer object in model.json. */
  path: string;
}

export interface Chain {
  /** Shape of the model input without the batch axis, e.g. [T, C] or [T] (token ids), T may be null. */
  inputShape: (number | null)[];
  inputName: string;
  layers: LayerRef[];
}

function batchShape(config: Record<string, unknown>): (number | null)[] | undefined {
  const s = config.batch_input_shape ?? config.batch_shape;
  return Array.isArray(s) ? (s as (number | null)[]) : undefined;
}

function layerName(l: LayerJson, fallback: string): string {
  const n = l.name ?? (l.config as { name?: unknown }).name;
  return typeof n === "string" && n ? n : fallback;
}

function sequential(file: string, config: unknown): Chain {
  const layersJson = Array.isArray(config) ? config : (config as { layers?: unknown }).layers;
  const base = Array.isArray(config) ? ["modelTopology", "config"] : ["modelTopology", "config", "layers"];
  if (!Array.isArray(layersJson) || layersJson.length === 0) {
    throw new NmcError("Sequential model has no layers", { file, path: jsonPath(base), expected: "a non-empty array of layers" });
  }
  const layers: LayerRef[] = layersJson.map((l, i) => {
    const lj = parseWith(LayerSchema, l, file, [...base, i], "layer");
    return { className: lj.class_name, name: layerName(lj, `layer_${i}`), config: lj.config, path: jsonPath([...base, i]) };
  });
  let inputShape: (number | null)[] | undefined;
  let inputName = "input";
  if (layers[0].className === "InputLayer") {
    inputShape = batchShape(layers[0].config);
    inputName = layers[0].name;
    layers.shift();
  } else {
    inputShape = batchShape(layers[0].config);
  }
  if (!inputShape) {
    throw new NmcError("the first layer does not say the input shape", {
      file, path: `${layers[0]?.path ?? jsonPath(base)}.config.batch_input_shape`, expected: "[null, T, C] (as model.save writes it)",
      found: "nothing", hint: "give the first layer an inputShape when building the model",
    });
  }
  return { inputShape: inputShape.slice(1), inputName, layers };
}

/** The names of the layers feeding one inbound node, in tfjs/Keras 2 or Keras 3 form. */
function inboundNames(node: unknown): string[] {
  if (Array.isArray(node)) return node.map((t) => (Array.isArray(t) ? String(t[0]) : "")).filter(Boolean);
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

function functional(file: string, config: Record<string, unknown>): Chain {
  const base = ["modelTopology", "config"];
  const layersJson = config.layers;
  if (!Array.isArray(layersJson)) throw new NmcError("functional model has no layers array", { file, path: jsonPath([...base, "layers"]) });
  const byName = new Map<string, { ref: LayerRef; inbound: string[] }>();
  layersJson.forEach((l, i) => {
    const lj = parseWith(LayerSchema, l, file, [...base, "layers", i], "layer");
    const name = layerName(lj, `layer_${i}`);
    const path = jsonPath([...base, "layers", i]);
    const nodes = lj.inbound_nodes ?? [];
    if (nodes.length > 1) {
      throw new NmcError(`layer ${name} is called ${nodes.length} times (shared layer); nmc supports each layer once`, { file, path, node: name });
    }
    const inbound = nodes.length ? inboundNames(nodes[0]) : [];
    if (inbound.length > 1) {
      throw new NmcError(`layer ${name} (${lj.class_name}) merges ${inbound.length} inputs; nmc supports chains of single-input layers`, {
        file, path, node: name, hint: "residual and concatenating models are not supported yet",
      });
    }
    byName.set(name, { ref: { className: lj.class_name, name, config: lj.config, path }, inbound });
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
  const shape = batchShape(input.ref.config);
  if (!shape) {
    throw new NmcError("the InputLayer does not say the input shape", {
      file, path: `${input.ref.path}.config.batch_input_shape`, expected: "[null, T, C]", found: "nothing",
    });
  }
  return { inputShape: shape.slice(1), inputName: inName, layers: chain };
}

export function layerChain(file: string, model: ModelJson): Chain {
  const topo = model.modelTopology;
  // tfjs writes {class_name, config, keras_version, backend}; some writers nest it under model_config.
  const cls = topo.class_name;
  if (cls === "Sequential") return sequential(file, topo.config);
  if (cls === "Model" || cls === "Functional") return functional(file, topo.config as Record<string, unknown>);
  throw new NmcError(`unsupported model class ${cls}`, {
    file, path: "modelTopology.class_name", expected: '"Sequential", "Model" or "Functional"', found: JSON.stringify(cls),
  });
}
