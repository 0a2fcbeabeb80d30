import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as tfjs from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { ALLOW_LIST } from "../../compiler/frontend/allow.js";
import { loadModel } from "../../compiler/frontend/index.js";
import { csrToDense } from "../../ir/builder.js";
import { NmcError } from "../../ir/errors.js";
import { type Graph, MAX_UNITS } from "../../ir/types.js";
import { runFloat } from "../../runtime/float/interpreter.js";
import { ramp, seq, writeModel } from "../support/model-files.js";

const egruWeights = (name: string, C: number, H: number) => [
  { name: `${name}/kernel`, shape: [C, 3 * H], values: ramp(C * 3 * H) },
  { name: `${name}/recurrent_kernel`, shape: [H, 3 * H], values: ramp(H * 3 * H, 0.2) },
  { name: `${name}/bias`, shape: [3 * H], values: ramp(3 * H, 0.05) },
  { name: `${name}/recurrent_bias`, shape: [3 * H], values: ramp(3 * H, 0.03) },
  { name: `${name}/thr`, shape: [H], values: ramp(H, 0.3).map(Math.abs) },
];

function error(f: () => unknown): NmcError {
  try {
    f();
  } catch (e) {
    if (e instanceof NmcError) return e;
    throw e;
  }
  throw new Error("expected an NmcError");
}

const kinds = (g: Graph) => g.populations.map((p) => `${p.kind}:${p.name}:${p.size}`);

describe("model.json frontend: layers", () => {
  it("lowers EGRU → TimeDistributed(Dense) with the inner layer's weight names and a readout from metadata", () => {
    const file = writeModel(seq([
      { class_name: "EGRU", config: { name: "egru", units: 3, batch_input_shape: [null, null, 2] } },
      { class_name: "TimeDistributed", config: { name: "td", layer: { class_name: "Dense", config: { name: "head", units: 2, activation: "linear" } } } },
    ]), [...egruWeights("egru", 2, 3), { name: "head/kernel", shape: [3, 2], values: ramp(6) }, { name: "head/bias", shape: [2], values: [0.1, -0.1] }],
    { userDefinedMetadata: { nmc: { readout: "sum" } } });
    const { graph, warnings } = loadModel(file);
    expect(warnings).toEqual([]);
    expect(kinds(graph)).toEqual(["Input:input:2", "EGRU:egru:3", "Dense:td:2", "Readout:readout:2"]);
    expect(graph.projections.map((j) => `${j.name} ${j.source}->${j.target}.${j.port} d${j.delay}`)).toEqual([
      "egru.kernel input->egru.input d0", "egru.recurrent_kernel egru->egru.recurrent d1", "td.kernel egru->td.x d0",
    ]);
    expect(loadModel(file, { readout: "none" }).graph.outputs).toEqual(["td"]);
  });

  it("clamps EGRU thresholds to [0, 1] as EvNN does", () => {
    const w = egruWeights("e", 1, 2);
    w[4].values = [-0.5, 1.7];
    const file = writeModel(seq([{ class_name: "EGRU", config: { name: "e", units: 2, batch_input_shape: [null, 4, 1] } }]), w);
    expect(Array.from(loadModel(file).graph.populations[1].tensors.thr.data)).toEqual([0, 1]);
  });

  it("lowers Embedding as a projection from one-hot token events, and folds a following Activation into it", () => {
    const file = writeModel(seq([
      { class_name: "Embedding", config: { name: "emb", input_dim: 5, output_dim: 2, batch_input_shape: [null, null] } },
      { class_name: "Dense", config: { name: "d", units: 2, activation: "linear" } },
      { class_name: "Activation", config: { name: "a", activation: "relu" } },
      { class_name: "Dropout", config: { name: "drop", rate: 0.5 } },
    ]), [{ name: "emb/embeddings", shape: [5, 2], values: ramp(10) }, { name: "d/kernel", shape: [2, 2], values: [1, -1, 1, 1] }, { name: "d/bias", shape: [2], values: [0, 0] }]);
    const { graph } = loadModel(file);
    expect(kinds(graph)).toEqual(["Input:input:5", "Dense:emb:2", "Dense:d:2"]);
    expect(graph.populations[2].kind === "Dense" && graph.populations[2].activation).toBe("relu");
    const out = runFloat(graph, { data: [4, 1], batch: 1, ticks: 2, channels: 1 }).output;
    const e = ramp(10);
    const f = (a: number, b: number) => [Math.max(0, a + b), Math.max(0, -a + b)];
    expect(Array.from(out)).toEqual([...f(Math.fround(e[8]), Math.fround(e[9])), ...f(Math.fround(e[2]), Math.fround(e[3]))].map((v) => expect.closeTo(v, 12)));
  });

  it("lowers LRU and S5 DiagonalSSM layers into Λ̄, B̄ (u port, re | im columns) and D (skip port)", () => {
    const P = 2, H = 3;
    const common = [
      { name: "s/B_re", shape: [P, H], values: ramp(P * H) }, { name: "s/B_im", shape: [P, H], values: ramp(P * H, 0.2) },
      { name: "s/C_re", shape: [H, P], values: ramp(H * P) }, { name: "s/C_im", shape: [H, P], values: ramp(H * P, 0.3) },
      { name: "s/D", shape: [H], values: [1, 0, -1] },
    ];
    const lru = writeModel(seq([{ class_name: "DiagonalSSM", config: { name: "s", state_size: P, parameterization: "lru", batch_input_shape: [null, null, H] } }]), [
      { name: "s/nu_log", shape: [P], values: [-1, 0.5] }, { name: "s/theta_log", shape: [P], values: [0, -2] }, { name: "s/gamma_log", shape: [P], values: [0.1, -0.1] }, ...common,
    ]);
    const g = loadModel(lru).graph;
    const pop = g.populations[1];
    expect(pop.kind === "DiagonalSSM" && pop.stateSize).toBe(P);
    const lam = Math.exp(-Math.exp(-1));
    expect(pop.tensors.lambda_re.data[0]).toBeCloseTo(lam * Math.cos(1), 12);
    expect(pop.tensors.lambda_im.data[0]).toBeCloseTo(lam * Math.sin(1), 12);
    const B = g.projections.find((j) => j.port === "u")!;
    const dense = csrToDense(B.weights, H, 2 * P);
    // row h, column p: γ_p · B_re[p, h]; column P + p: γ_p · B_im[p, h]
    expect(dense[1 * 2 * P + 1]).toBeCloseTo(Math.exp(-0.1) * Math.fround(ramp(P * H)[1 * H + 1]), 7);
    expect(dense[2 * 2 * P + P + 0]).toBeCloseTo(Math.exp(0.1) * Math.fround(ramp(P * H, 0.2)[0 * H + 2]), 7);
    const D = g.projections.find((j) => j.port === "skip")!;
    expect(D.weights.colIdx.length).toBe(2); // the zero on the diagonal is not stored

    const s5 = writeModel(seq([{ class_name: "DiagonalSSM", config: { name: "s", state_size: P, parameterization: "s5", batch_input_shape: [null, null, H] } }]), [
      { name: "s/Lambda_re", shape: [P], values: [-0.5, -0.1] }, { name: "s/Lambda_im", shape: [P], values: [1, 0] },
      { name: "s/log_step", shape: [P], values: [Math.log(0.1), Math.log(0.5)] }, ...common,
    ]);
    const p5 = loadModel(s5).graph.populations[1];
    const step = Math.fround(Math.log(0.1));
    expect(p5.tensors.lambda_re.data[0]).toBeCloseTo(Math.exp(-0.5 * Math.exp(step)) * Math.cos(Math.exp(step)), 7);
  });

  it("reads float16 and uint8-quantized weights from the manifest's quantization field", () => {
    const k = ramp(6, 0.25);
    const make = (store: "float16" | "uint8") => writeModel(seq([
      { class_name: "Dense", config: { name: "d", units: 3, activation: "linear", batch_input_shape: [null, null, 2] } },
    ]), [{ name: "d/kernel", shape: [2, 3], values: k, store }, { name: "d/bias", shape: [3], values: [0, 0.5, 1], store }]);
    for (const store of ["float16", "uint8"] as const) {
      const j = loadModel(make(store)).graph.projections[0];
      const dense = csrToDense(j.weights, 2, 3);
      k.forEach((v, i) => expect(Math.abs(dense[i] - v)).toBeLessThan(store === "uint8" ? 2.5 / 255 / 2 + 1e-6 : 0.001));
    }
  });

  it("accepts functional topologies in tfjs/Keras 2 and Keras 3 inbound-node forms", () => {
    const keras2 = (from: string) => [[[from, 0, 0, {}]]];
    const keras3 = (from: string) => [{ args: [{ class_name: "__keras_tensor__", config: { keras_history: [from, 0, 0] } }], kwargs: {} }];
    for (const inbound of [keras2, keras3]) {
      const file = writeModel({
        class_name: "Model", config: {
          name: "f", input_layers: [["in", 0, 0]], output_layers: [["d", 0, 0]],
          layers: [
            { class_name: "InputLayer", name: "in", config: { batch_input_shape: [null, null, 2], name: "in" }, inbound_nodes: [] },
            { class_name: "EGRU", name: "e", config: { name: "e", units: 2 }, inbound_nodes: inbound("in") },
            { class_name: "Dense", name: "d", config: { name: "d", units: 1 }, inbound_nodes: inbound("e") },
          ],
        },
      }, [...egruWeights("e", 2, 2), { name: "d/kernel", shape: [2, 1], values: [1, 1] }, { name: "d/bias", shape: [1], values: [0] }]);
      expect(kinds(loadModel(file).graph)).toEqual(["Input:in:2", "EGRU:e:2", "Dense:d:1"]);
    }
  });
});

describe("model.json frontend: errors name the file, the place and the mismatch", () => {
  const dense = (name = "d", inputs = 2) => ({ class_name: "Dense", config: { name, units: 3, batch_input_shape: [null, null, inputs] } });
  const denseW = [{ name: "d/kernel", shape: [2, 3], values: ramp(6) }, { name: "d/bias", shape: [3], values: [0, 0, 0] }];

  it("unsupported layer class", () => {
    const file = writeModel(seq([dense(), { class_name: "LSTM", config: { name: "lstm_1", units: 4 } }]), denseW);
    const e = error(() => loadModel(file));
    expect(e.file).toBe(file);
    expect(e.path).toBe("modelTopology.config.layers[1].class_name");
    expect(e.format()).toMatch(/lstm_1 has unsupported class LSTM/);
  });

  it("mis-shaped weight: expected vs found", () => {
    const file = writeModel(seq([dense()]), [{ name: "d/kernel", shape: [3, 2], values: ramp(6) }, denseW[1]]);
    const e = error(() => loadModel(file));
    expect(e.format()).toMatch(/weight d\/kernel of layer d \(Dense\) has the wrong shape.*expected \[2, 3\], found \[3, 2\]/);
    expect(e.path).toBe("weightsManifest[0].weights[0]");
  });

  it("missing weight lists what the layer has", () => {
    const file = writeModel(seq([dense()]), [denseW[0]]);
    expect(error(() => loadModel(file)).format()).toMatch(/missing weight d\/bias.*found only d\/kernel/);
  });

  it("bad config value gives the JSON path into the layer config", () => {
    const file = writeModel(seq([{ class_name: "Dense", config: { name: "d", units: -3, batch_input_shape: [null, null, 2] } }]), denseW);
    const e = error(() => loadModel(file));
    expect(e.path).toBe("modelTopology.config.layers[0].config.units");
    expect(e.format()).toMatch(/found number -3/);
  });

  it("widths beyond MAX_UNITS are refused before anything is allocated for them (units, input features)", () => {
    const units = writeModel(seq([{ class_name: "Dense", config: { name: "d", units: MAX_UNITS + 1, batch_input_shape: [null, null, 2] } }]), denseW);
    const e = error(() => loadModel(units));
    expect(e.path).toBe("modelTopology.config.layers[0].config.units");
    expect(e.format()).toMatch(/widest population/);
    // Fuzz finding (seed 1168040093): an input of 1e9 features before a BatchNormalization without gamma and
    // beta allocated 1e9-long defaults (seconds, gigabytes) before the moving_mean's shape was checked.
    const bn = { class_name: "BatchNormalization", config: { name: "bn", center: false, scale: false, batch_input_shape: [null, null, 1e9] } };
    const wide = writeModel(seq([bn]), [{ name: "bn/moving_mean", shape: [2], values: [0, 0] }, { name: "bn/moving_variance", shape: [2], values: [1, 1] }]);
    const f = error(() => loadModel(wide));
    expect(f.path).toBe("batch_input_shape");
    expect(f.format()).toMatch(/1000000000 features, more than nmc's widest population/);
  });

  it("NaN weight, truncated shard", () => {
    const nan = writeModel(seq([dense()]), [{ ...denseW[0], values: [0, 1, NaN, 0, 0, 0] }, denseW[1]]);
    expect(error(() => loadModel(nan)).format()).toMatch(/d\/kernel has a non-finite value.*NaN at flat index 2/);
    const short = writeModel(seq([dense()]), [denseW[0], { ...denseW[1], shape: [4], values: [0, 0, 0] }]);
    expect(error(() => loadModel(short)).format()).toMatch(/truncated/);
  });

  it("not JSON, not an object, wrong top level", () => {
    const file = writeModel(seq([dense()]), denseW);
    const fs = require("node:fs") as typeof import("node:fs");
    fs.writeFileSync(file, "{ \"format\": \"layers-model\", ");
    expect(error(() => loadModel(file)).format()).toMatch(/not valid JSON/);
    expect(error(() => loadModel(file)).path).toBe("line 1, column 29 (character 28)");
    fs.writeFileSync(file, "{\n  \"format\": \"layers-model\",\n  \"modelTopology\": [1,, 2]\n}");
    expect(error(() => loadModel(file)).path).toMatch(/^line 3, column 23 \(character \d+\)$/);
    fs.writeFileSync(file, "[1, 2]");
    expect(error(() => loadModel(file)).format()).toMatch(/must be a JSON object/);
    fs.writeFileSync(file, JSON.stringify({ format: "layers-model", weightsManifest: [] }));
    expect(error(() => loadModel(file)).path).toBe("modelTopology");
  });
});

describe("model.json frontend: nothing silent (keys nmc does not read are refused or allow-listed)", () => {
  const egru = (extra: Record<string, unknown> = {}) => ({ class_name: "EGRU", config: { name: "e", units: 2, batch_input_shape: [null, null, 2], ...extra } });
  const head = (extra: Record<string, unknown> = {}) => ({ class_name: "Dense", config: { name: "d", units: 1, ...extra } });
  const W = [...egruWeights("e", 2, 2), { name: "d/kernel", shape: [2, 1], values: [1, -1] }, { name: "d/bias", shape: [1], values: [0.5] }];
  const refused = (file: string, path: string, re: RegExp) => {
    const e = error(() => loadModel(file));
    expect(e.path).toBe(path);
    expect(e.file).toBe(file);
    expect(e.format()).toMatch(re);
    return e;
  };

  it("an unknown layer config key, top-level key, topology key, layer key, metadata or manifest key is refused with its JSON path", () => {
    refused(writeModel(seq([egru(), head({ foo: 1 })]), W), "modelTopology.config.layers[1].config.foo", /Dense config has a key nmc does not read: foo.*found "foo": number 1/);
    refused(writeModel(seq([egru(), head()]), W, { signature: {} }), "signature", /model.json has a key nmc does not read: signature/);
    refused(writeModel({ ...seq([egru(), head()]), extra: 1 }, W), "modelTopology.extra", /modelTopology has a key nmc does not read/);
    refused(writeModel({ class_name: "Sequential", config: { name: "m", layers: [egru(), head()], extra: 1 } }, W), "modelTopology.config.extra", /Sequential config/);
    refused(writeModel(seq([egru(), { ...head(), extra: 1 }]), W), "modelTopology.config.layers[1].extra", /layer has a key nmc does not read: extra/);
    refused(writeModel(seq([egru(), head()]), W, { userDefinedMetadata: { nmc: { readout: "sum", mode: "x" } } }), "userDefinedMetadata.nmc.mode", /nmc metadata/);
    const td = { class_name: "TimeDistributed", config: { name: "td", layer: { class_name: "Dense", config: { name: "d", units: 1, foo: 2 } } } };
    refused(writeModel(seq([egru(), td]), W), "modelTopology.config.layers[1].config.layer.config.foo", /Dense config has a key nmc does not read: foo/);
    const file = writeModel(seq([egru(), head()]), W);
    const fs = require("node:fs") as typeof import("node:fs");
    const json = JSON.parse(fs.readFileSync(file, "utf8"));
    json.weightsManifest[0].weights[1].foo = 1;
    fs.writeFileSync(file, JSON.stringify(json));
    refused(file, "weightsManifest[0].weights[1].foo", /weight entry has a key nmc does not read/);
    // "__proto__" is a key like any other (zod's copies of objects drop it, so the raw objects are checked).
    fs.writeFileSync(file, JSON.stringify(JSON.parse(fs.readFileSync(writeModel(seq([egru(), head()]), W), "utf8"))).replace('"units":1', '"units":1,"__proto__":{"units":9}'));
    refused(file, "modelTopology.config.layers[1].config.__proto__", /Dense config has a key nmc does not read: __proto__/);
  });

  it("values that change outputs are checked: EGRU zoneout range, dtype, activation, inbound call kwargs", () => {
    // zoneout is read (EvNN's inference blend, test/runtime/zoneout.test.ts): [0, 1) as a float32, else refused
    refused(writeModel(seq([egru({ zoneout: 1 }), head()]), W), "modelTopology.config.layers[0].config.zoneout", /zoneout must be in \[0, 1\).*found number 1/);
    refused(writeModel(seq([egru({ zoneout: -0.1 }), head()]), W), "modelTopology.config.layers[0].config.zoneout", /zoneout must be in \[0, 1\)/);
    refused(writeModel(seq([egru({ zoneout: 0.99999999 }), head()]), W), "modelTopology.config.layers[0].config.zoneout", /as the float32 EvNN reads/);
    refused(writeModel(seq([egru({ zoneout: "0.1" }), head()]), W), "modelTopology.config.layers[0].config.zoneout", /expected number/);
    const zo = loadModel(writeModel(seq([egru({ zoneout: 0.1 }), head()]), W));
    expect(zo.warnings).toEqual([]);
    expect(zo.graph.populations[1]).toMatchObject({ kind: "EGRU", zoneout: Math.fround(0.1) });
    for (const none of [0, null]) expect(loadModel(writeModel(seq([egru({ zoneout: none }), head()]), W)).graph.populations[1]).not.toHaveProperty("zoneout");
    refused(writeModel(seq([egru(), head({ dtype: "float16" })]), W), "modelTopology.config.layers[1].config.dtype", /expected "float32".*found string "float16"/);
    const policy = (name: string) => ({ module: "keras", class_name: "DTypePolicy", config: { name }, registered_name: null });
    refused(writeModel(seq([egru(), head({ dtype: policy("mixed_float16") })]), W), "modelTopology.config.layers[1].config.dtype", /found a DTypePolicy "mixed_float16"/);
    expect(() => loadModel(writeModel(seq([egru(), head({ dtype: policy("float32") })]), W))).not.toThrow();
    refused(writeModel(seq([egru(), head({ activation: "elu" })]), W), "modelTopology.config.layers[1].config.activation", /expected one of "linear", "relu", "sigmoid", "tanh", "gelu", .*found string "elu"/);
    refused(writeModel(seq([egru(), head(), { class_name: "Activation", config: { name: "a", activation: "selu" } }]), W), "modelTopology.config.layers[2].config.activation", /expected one of "linear", "relu".*found string "selu"/);
    refused(writeModel(seq([egru({ return_sequences: false }), head()]), W), "modelTopology.config.layers[0].config.return_sequences", /expected true, found boolean false/);
    const functional = (kwargs: Record<string, unknown>) => writeModel({
      class_name: "Model", config: {
        name: "f", input_layers: [["in", 0, 0]], output_layers: [["d", 0, 0]], layers: [
          { class_name: "InputLayer", name: "in", config: { batch_input_shape: [null, null, 2], name: "in", dtype: "float32", sparse: false }, inbound_nodes: [] },
          { class_name: "EGRU", name: "e", config: { name: "e", units: 2 }, inbound_nodes: [[["in", 0, 0, kwargs]]] },
          { class_name: "Dense", name: "d", config: { name: "d", units: 1 }, inbound_nodes: [[["e", 0, 0, {}]]] },
        ],
      },
    }, W);
    expect(() => loadModel(functional({ training: false }))).not.toThrow();
    refused(functional({ training: true }), "modelTopology.config.layers[1].inbound_nodes[0][0][3].training", /training boolean true changes the outputs/);
  });

  it("use_bias: false is honoured: no bias weight is read and the bias is zero", () => {
    const file = writeModel(seq([egru(), head({ use_bias: false })]), W.slice(0, -1));
    const { graph, warnings } = loadModel(file);
    expect(warnings).toEqual([]);
    expect(Array.from(graph.populations[2].tensors.bias.data)).toEqual([0]);
  });

  it("format: a graph model is refused and said to be one; another format is refused; no format loads, as in tfjs", () => {
    const e = refused(writeModel(seq([egru(), head()]), W, { format: "graph-model" }), "format", /TensorFlow.js graph model .*SavedModel.*no layer topology/);
    expect(e.hint).toMatch(/LayersModel/);
    refused(writeModel({ node: [{ name: "x", op: "Placeholder" }], versions: {} }, W, { format: undefined }), "modelTopology", /graph model/);
    refused(writeModel(seq([egru(), head()]), W, { format: "keras" }), "format", /not a TensorFlow.js layers model.*found string "keras"/);
    expect(loadModel(writeModel(seq([egru(), head()]), W, { format: undefined })).warnings).toEqual([]);
  });

  it("accepts the keys tfjs and Keras write that cannot change outputs, and Keras's model_config wrapper", () => {
    const init = { class_name: "VarianceScaling", config: { scale: 1, mode: "fan_avg", distribution: "normal", seed: null } };
    const dense = {
      units: 1, activation: "linear", use_bias: true, kernel_initializer: init, bias_initializer: { class_name: "Zeros", config: {} },
      kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null, name: "d", trainable: true,
    };
    const egruCfg = { name: "e", trainable: true, batch_input_shape: [null, null, 2], dtype: "float32", units: 2, dampening_factor: 0.7, pseudo_derivative_support: 1, thr_mean: 0.3, activity_regularization: 0, seed: 3 };
    const topo = { class_name: "Sequential", config: { name: "m", layers: [{ class_name: "EGRU", config: egruCfg }, { class_name: "Dropout", config: { rate: 0.2, noise_shape: null, seed: null, name: "drop", trainable: true } }, { class_name: "Dense", config: dense }] }, keras_version: "tfjs-layers 4.22.0", backend: "tensor_flow.js" };
    const extra = { trainingConfig: { loss: "meanSquaredError", optimizer_config: { class_name: "Adam", config: {} } }, userDefinedMetadata: { anything: { at: "all" }, nmc: { readout: "mean" } } };
    expect(loadModel(writeModel(topo, W, extra)).warnings).toEqual([]);
    const wrapped = writeModel({ keras_version: "2.15.0", backend: "tensorflow", model_config: { class_name: "Sequential", config: topo.config }, training_config: { loss: "mse" } }, W);
    expect(kinds(loadModel(wrapped).graph)).toEqual(["Input:input:2", "EGRU:e:2", "Dense:d:1"]);
    const bad = writeModel({ model_config: seq([egru({ zoneout: 1.5 }), head()]) }, W);
    refused(bad, "modelTopology.model_config.config.layers[0].config.zoneout", /zoneout/);
  });

  it("accepts every key of a model saved by tfjs's own model.save (Sequential and functional)", async () => {
    const { initBestBackend, registerNmcLayers, saveModelToDir } = await import("../../runtime/tfjs/index.js");
    const { tf } = await initBestBackend();
    const { EGRU, DiagonalSSM } = registerNmcLayers(tf);
    const dir = mkdtempSync(join(tmpdir(), "nmc-frontend-tfjs-"));
    const s = tf.sequential();
    s.add(tf.layers.dense({ units: 4, inputShape: [null, 3] }));
    s.add(tf.layers.activation({ activation: "relu" }));
    s.add(tf.layers.dropout({ rate: 0.2 }));
    s.add(new EGRU({ units: 3 }));
    s.add(new DiagonalSSM({ stateSize: 2, parameterization: "s5" }));
    s.add(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 2, activation: "tanh" }) }));
    await saveModelToDir(s, join(dir, "seq"), { nmc: { readout: "mean" }, note: "user data" });
    const inp = tf.input({ shape: [null, 3] });
    const e = tf.layers.embedding({ inputDim: 5, outputDim: 3, inputShape: [null] });
    const emb = tf.sequential({ layers: [e, tf.layers.dense({ units: 2, useBias: false })] });
    await saveModelToDir(emb, join(dir, "emb"));
    const out = tf.layers.dense({ units: 2 }).apply(new DiagonalSSM({ stateSize: 2, parameterization: "lru" }).apply(tf.layers.dense({ units: 4, activation: "relu" }).apply(inp)));
    await saveModelToDir(tf.model({ inputs: inp, outputs: out as tfjs.SymbolicTensor }), join(dir, "fun"));
    for (const m of ["seq", "emb", "fun"]) expect(loadModel(join(dir, m, "model.json")).warnings, m).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("every allow-list key is listed in docs/architecture.md with its reason", () => {
    const doc = readFileSync(new URL("../../docs/architecture.md", import.meta.url), "utf8");
    const section = doc.slice(doc.indexOf("## model.json: what is read, what is refused"));
    expect(section.length).toBeGreaterThan(100);
    for (const r of ALLOW_LIST) expect(section, r.key).toContain(`\`${r.key}\``);
  });
});
