// BatchNormalization at inference in the model.json frontend (compiler/frontend/batchnorm.ts): folded into the
// linear Dense before it where nothing else reads that Dense, its own linear population fed by a diagonal
// projection elsewhere. Models are built and saved by TensorFlow.js itself and compared with tfjs's predict.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type * as tfjs from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel } from "../../compiler/frontend/index.js";
import { csrToDense } from "../../ir/builder.js";
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import { FloatEngine } from "../../runtime/float/interpreter.js";
import { initBestBackend, type NmcLayerClasses, predictFloat, registerNmcLayers, saveModelToDir, type Tf } from "../../runtime/tfjs/index.js";

let tf: Tf;
let L: NmcLayerClasses;
let tmp: string;
let dirs = 0;

beforeAll(async () => {
  tf = (await initBestBackend()).tf;
  L = registerNmcLayers(tf);
  tmp = mkdtempSync(path.join(os.tmpdir(), "nmc-bn-"));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const kinds = (g: Graph) => g.populations.map((p) => `${p.kind}:${p.name}:${p.size}`);

/** Trained-looking statistics (tfjs initializes the identity 1, 0, 0, 1): in tfjs's weight order. */
function setStats(layer: tfjs.layers.Layer, n: number, opts: { center?: boolean; scale?: boolean } = {}): void {
  const f = (k: number, a: number, b: number) => Float32Array.from({ length: n }, (_, i) => a + b * Math.sin(1.7 * i + k));
  const w = [
    ...(opts.scale === false ? [] : [f(1, 0.2, 1.3)]), ...(opts.center === false ? [] : [f(2, 0.1, 0.6)]),
    f(3, -0.2, 0.5), f(4, 1.1, 0.9), // variance in [0.2, 2]
  ];
  const ts = w.map((v) => tf.tensor1d(v));
  layer.setWeights(ts);
  tf.dispose(ts);
}

async function save(model: tfjs.LayersModel): Promise<string> {
  const d = path.join(tmp, `m${dirs++}`);
  await saveModelToDir(model, d);
  return path.join(d, "model.json");
}

/** Loads the saved model and checks nmc's float engine against tfjs's predict on [2, T, C] inputs. */
function loadAndCompare(file: string, model: tfjs.LayersModel, T: number, C: number): Graph {
  const { graph, warnings } = loadModel(file);
  expect(warnings).toEqual([]);
  const x = Float32Array.from({ length: 2 * T * C }, (_, i) => Math.fround(Math.cos(0.9 * i) * 1.5));
  const want = predictFloat(model, x, [2, T, C], tf);
  const got = new FloatEngine(graph).run({ data: Float64Array.from(x), batch: 2, ticks: T, channels: C }).output;
  expect(got.length).toBe(want.length);
  const scale = Math.max(...Array.from(want, Math.abs));
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i]) / scale, `output ${i}`).toBeLessThan(1e-5);
  return graph;
}

function error(f: () => unknown): NmcError {
  try {
    f();
  } catch (e) {
    if (e instanceof NmcError) return e;
    throw e;
  }
  throw new Error("expected an NmcError");
}

describe("BatchNormalization at inference", () => {
  it("folds into the linear Dense before it (no population of its own), and an Activation after it folds too", async () => {
    const inp = tf.input({ shape: [4, 2] });
    const bn = tf.layers.batchNormalization({ name: "bn", epsilon: 0.01 });
    const h = bn.apply(tf.layers.dense({ name: "d", units: 3 }).apply(inp)) as tfjs.SymbolicTensor;
    const out = tf.layers.dense({ name: "head", units: 2 }).apply(tf.layers.activation({ name: "a", activation: "tanh" }).apply(h));
    const model = tf.model({ inputs: inp, outputs: out as tfjs.SymbolicTensor });
    setStats(bn, 3);
    const graph = loadAndCompare(await save(model), model, 4, 2);
    expect(kinds(graph).slice(1)).toEqual(["Dense:d:3", "Dense:head:2"]);
    const d = graph.populations[1];
    expect(d.kind === "Dense" && d.activation).toBe("tanh");
    expect(d.tensors.bias.dtype).toBe("f64"); // a·(b − μ) + β computed in float64
  });

  it("folds into TimeDistributed(Dense) and into the Dense an Embedding made", async () => {
    const s = tf.sequential();
    s.add(tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 3 }), inputShape: [3, 2], name: "td" }));
    const bn = tf.layers.batchNormalization({ name: "bn" });
    s.add(bn);
    setStats(bn, 3);
    expect(kinds(loadAndCompare(await save(s), s, 3, 2)).slice(1)).toEqual(["Dense:td:3"]);

    const e = tf.sequential();
    e.add(tf.layers.embedding({ inputDim: 5, outputDim: 3, inputShape: [3], name: "emb" }));
    const bn2 = tf.layers.batchNormalization({ name: "bn2" });
    e.add(bn2);
    setStats(bn2, 3);
    const { graph, warnings } = loadModel(await save(e));
    expect(warnings).toEqual([]);
    expect(kinds(graph)).toEqual(["Input:input:5", "Dense:emb:3"]);
    const tokens = Float32Array.from([4, 1, 0, 2, 3, 3]);
    const want = predictFloat(e, tokens, [2, 3], tf);
    const got = new FloatEngine(graph).run({ data: Float64Array.from(tokens), batch: 2, ticks: 3, channels: 1 }).output;
    want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
  });

  it("after an SSM, a non-linear Dense or a Dense another layer reads: a linear population fed by diag(γ/√(σ² + ε)), bias β − aμ", async () => {
    const inp = tf.input({ shape: [5, 3] });
    const bnSsm = tf.layers.batchNormalization({ name: "bn_ssm" });
    const a = bnSsm.apply(new L.DiagonalSSM({ name: "ssm", stateSize: 2, parameterization: "lru", seed: 7 }).apply(inp)) as tfjs.SymbolicTensor;
    const bnRelu = tf.layers.batchNormalization({ name: "bn_relu" });
    const b = bnRelu.apply(tf.layers.dense({ name: "relu", units: 3, activation: "relu" }).apply(inp)) as tfjs.SymbolicTensor;
    const shared = tf.layers.dense({ name: "shared", units: 3 }).apply(inp) as tfjs.SymbolicTensor;
    const bnShared = tf.layers.batchNormalization({ name: "bn_shared" });
    const c = bnShared.apply(shared) as tfjs.SymbolicTensor;
    const sum = tf.layers.add({ name: "sum" }).apply([a, b, c, shared]) as tfjs.SymbolicTensor;
    const model = tf.model({ inputs: inp, outputs: tf.layers.dense({ name: "head", units: 2 }).apply(sum) as tfjs.SymbolicTensor });
    for (const l of [bnSsm, bnRelu, bnShared]) setStats(l, 3);
    const graph = loadAndCompare(await save(model), model, 5, 3);
    for (const n of ["bn_ssm", "bn_relu", "bn_shared"]) {
      const p = graph.populations.find((q) => q.name === n)!;
      expect(p.kind === "Dense" && p.activation, n).toBe("linear");
      const into = graph.projections.filter((j) => j.target === n);
      expect(into.map((j) => j.name)).toEqual([`${n}.scale`]);
    }
    // The coefficients, from the saved weights (float32) in float64.
    const [g, beta, mu, v] = bnSsm.getWeights().map((t) => Array.from(t.dataSync()));
    const A = g.map((gi, i) => gi / Math.sqrt(v[i] + 1e-3));
    const diag = csrToDense(graph.projections.find((j) => j.name === "bn_ssm.scale")!.weights, 3, 3);
    expect([0, 4, 8].map((k) => diag[k])).toEqual(A);
    expect([1, 2, 3, 5, 6, 7].map((k) => diag[k])).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(graph.populations.find((q) => q.name === "bn_ssm")!.tensors.bias.data)).toEqual(A.map((ai, i) => beta[i] - ai * mu[i]));
  });

  it("center: false and scale: false read no beta / gamma weight (β = 0, γ = 1), folded or not", async () => {
    for (const [center, scale] of [[false, true], [true, false], [false, false]]) {
      const inp = tf.input({ shape: [3, 2] });
      const bn1 = tf.layers.batchNormalization({ name: "bn1", center, scale });
      const bn2 = tf.layers.batchNormalization({ name: "bn2", center, scale });
      const h = bn1.apply(tf.layers.dense({ name: "d", units: 4 }).apply(inp)) as tfjs.SymbolicTensor;
      const out = bn2.apply(new L.EGRU({ name: "e", units: 3, seed: 3, thrMean: 0.05 }).apply(h)) as tfjs.SymbolicTensor;
      const model = tf.model({ inputs: inp, outputs: out });
      setStats(bn1, 4, { center, scale });
      setStats(bn2, 3, { center, scale });
      const file = await save(model);
      const names = JSON.parse(readFileSync(file, "utf8")).weightsManifest[0].weights.map((w: { name: string }) => w.name);
      expect(names.some((n: string) => n.endsWith("/beta"))).toBe(center);
      expect(names.some((n: string) => n.endsWith("/gamma"))).toBe(scale);
      const graph = loadAndCompare(file, model, 3, 2);
      expect(graph.populations.map((p) => p.name).slice(1)).toEqual(["d", "e", "bn2"]);
    }
  });

  it("refuses a normalization axis other than the features, naming the path; accepts Keras 2's [2]", async () => {
    const s = tf.sequential();
    s.add(tf.layers.dense({ units: 3, inputShape: [4, 2], name: "d" }));
    s.add(tf.layers.batchNormalization({ axis: 1, name: "bn" }));
    const file = await save(s);
    const e = error(() => loadModel(file));
    expect(e.file).toBe(file);
    expect(e.path).toBe("modelTopology.config.layers[1].config.axis");
    expect(e.format()).toMatch(/BatchNormalization bn normalizes along axis 1; nmc normalizes features only.*expected -1/);
    // The feature axis in its other spellings, on a model normalizing features (weights of the feature width).
    const f = tf.sequential();
    f.add(tf.layers.dense({ units: 3, inputShape: [4, 2], name: "d" }));
    f.add(tf.layers.batchNormalization({ name: "bn" }));
    const ffile = await save(f);
    const json = JSON.parse(readFileSync(ffile, "utf8"));
    const layer = json.modelTopology.config.layers.find((l: { class_name: string }) => l.class_name === "BatchNormalization");
    for (const [axis, ok] of [[[2], true], [2, true], [-1, true], [[1], false], [[1, 2], false], [0, false]] as const) {
      layer.config.axis = axis;
      writeFileSync(ffile, JSON.stringify(json));
      if (ok) expect(() => loadModel(ffile), JSON.stringify(axis)).not.toThrow();
      else expect(error(() => loadModel(ffile)).path, JSON.stringify(axis)).toMatch(/\.config\.axis$/);
    }
  });

  it("momentum and initializers are allow-listed; an unknown key, a missing weight and a negative variance are refused; an unread beta is reported", async () => {
    const s = tf.sequential();
    s.add(tf.layers.dense({ units: 2, inputShape: [3, 2], name: "d" }));
    const bn = tf.layers.batchNormalization({ name: "bn", momentum: 0.9 });
    s.add(bn);
    const file = await save(s);
    const json = JSON.parse(readFileSync(file, "utf8"));
    const layer = json.modelTopology.config.layers.find((l: { class_name: string }) => l.class_name === "BatchNormalization");
    expect(Object.keys(layer.config)).toEqual(expect.arrayContaining(["momentum", "moving_mean_initializer", "gamma_regularizer", "beta_constraint"]));
    expect(loadModel(file).warnings).toEqual([]);
    layer.config.foo = 1;
    writeFileSync(file, JSON.stringify(json));
    expect(error(() => loadModel(file)).path).toMatch(/\.config\.foo$/);
    delete layer.config.foo;
    layer.config.center = false; // the file still has bn/beta: it is reported unused, not silently read
    writeFileSync(file, JSON.stringify(json));
    expect(loadModel(file).warnings).toEqual(["weight bn/beta is not used by any supported layer"]);
    layer.config.center = true;
    json.weightsManifest[0].weights = json.weightsManifest[0].weights.map((w: { name: string }) => (w.name === "bn/beta" ? { ...w, name: "bn/b" } : w));
    writeFileSync(file, JSON.stringify(json));
    expect(error(() => loadModel(file)).format()).toMatch(/missing weight bn\/beta/);

    const t = tf.sequential();
    t.add(tf.layers.dense({ units: 2, inputShape: [3, 2], name: "d" }));
    const bad = tf.layers.batchNormalization({ name: "bn" });
    t.add(bad);
    const ts = [[1, 1], [0, 0], [0, 0], [1, -5]].map((v) => tf.tensor1d(v));
    bad.setWeights(ts);
    tf.dispose(ts);
    const badFile = await save(t);
    const e = error(() => loadModel(badFile));
    expect(e.path).toBe("weightsManifest[0].weights[5]");
    expect(e.format()).toMatch(/moving_variance \+ epsilon is not positive.*-5 \+ 0.001 at index 1/);
  });
});
