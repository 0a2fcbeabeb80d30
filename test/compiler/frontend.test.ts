import { describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontend/index.js";
import { csrToDense } from "../../ir/builder.js";
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
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
