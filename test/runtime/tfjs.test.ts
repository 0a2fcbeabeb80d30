import { describe, it, expect, beforeAll, afterAll } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type * as tfjs from "@tensorflow/tfjs";
import { NmcError } from "../../ir/errors.js";
import {
  diagonalSsmForward,
  discretizeLru,
  discretizeS5,
  egruForward,
  initBestBackend,
  loadFloatModel,
  makeHeaviside,
  predictFloat,
  predictFloatWithShape,
  registerNmcLayers,
  sampleThreshold,
  saveModelToDir,
  type NmcLayerClasses,
  type Tf,
} from "../../runtime/tfjs/index.js";

let tf: Tf;
let backend: string;
let L: NmcLayerClasses;
let tmp: string;

beforeAll(async () => {
  const info = await initBestBackend();
  tf = info.tf;
  backend = info.backend;
  L = registerNmcLayers(tf);
  tmp = mkdtempSync(path.join(os.tmpdir(), "nmc-tfjs-"));
  console.log(`tfjs backend: ${backend} (${info.packageName})`);
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// ---- plain-JS references, written from docs/model-math.md ----------------------------------------

const sig = (v: number) => 1 / (1 + Math.exp(-v));

/** EGRU over one sequence x [T][C]; W [C][3H], R [H][3H]; returns y and o as [T][H]. */
function egruRef(x: number[][], W: number[][], R: number[][], bx: number[], br: number[], thr: number[]) {
  const H = thr.length;
  const th = thr.map((v) => Math.min(1, Math.max(0, v)));
  let h = new Array<number>(H).fill(0);
  let y = new Array<number>(H).fill(0);
  const ys: number[][] = [];
  const os_: number[][] = [];
  for (const xt of x) {
    const vx = (k: number) => xt.reduce((a, xc, c) => a + xc * W[c]![k]!, 0) + bx[k]!;
    const vh = (k: number) => y.reduce((a, yi, i) => a + yi * R[i]![k]!, 0) + br[k]!;
    const yn: number[] = [];
    const hn: number[] = [];
    const on: number[] = [];
    for (let j = 0; j < H; j++) {
      const z = sig(vx(j) + vh(j));
      const r = sig(vx(H + j) + vh(H + j));
      const g = Math.tanh(vx(2 * H + j) + r * vh(2 * H + j));
      const c = z * h[j]! + (1 - z) * g;
      const o = c - th[j]! > 0 ? 1 : 0;
      on.push(o);
      yn.push(o * c);
      hn.push(c - o * th[j]!);
    }
    y = yn;
    h = hn;
    ys.push(yn);
    os_.push(on);
  }
  return { y: ys, o: os_ };
}

type C = [number, number];
const cmul = (a: C, b: C): C => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
const cadd = (a: C, b: C): C => [a[0] + b[0], a[1] + b[1]];
const cdiv = (a: C, b: C): C => {
  const d = b[0] * b[0] + b[1] * b[1];
  return [(a[0] * b[0] + a[1] * b[1]) / d, (a[1] * b[0] - a[0] * b[1]) / d];
};
const cexp = (a: C): C => [Math.exp(a[0]) * Math.cos(a[1]), Math.exp(a[0]) * Math.sin(a[1])];

/** Discrete diagonal SSM over u [T][H] with Λ̄ [P], B̄ [P][H] complex, C [H][P] complex, D [H]. */
function ssmRef(u: number[][], lam: C[], Bb: C[][], Cc: C[][], D: number[]) {
  const P = lam.length;
  let x: C[] = new Array(P).fill(0).map(() => [0, 0] as C);
  return u.map((uk) => {
    x = x.map((xp, p) => {
      let bu: C = [0, 0];
      uk.forEach((v, hIdx) => (bu = cadd(bu, [Bb[p]![hIdx]![0] * v, Bb[p]![hIdx]![1] * v])));
      return cadd(cmul(lam[p]!, xp), bu);
    });
    return uk.map((v, hIdx) => {
      let acc = 0;
      for (let p = 0; p < P; p++) acc += cmul(Cc[hIdx]![p]!, x[p]!)[0];
      return acc + D[hIdx]! * v;
    });
  });
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5) {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (Math.abs(actual[i]! - expected[i]!) > tol) {
      throw new Error(`index ${i}: got ${actual[i]}, expected ${expected[i]} (tol ${tol})`);
    }
  }
}

const flat = (a: number[][]) => a.flat();
const randArray = (n: number, seed: number, scale = 1) => {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
};

// ---- tests ---------------------------------------------------------------------------------------------

describe("backend", () => {
  it("selects a backend once and caches it", async () => {
    expect(["tensorflow", "wasm", "cpu"]).toContain(backend);
    const again = await initBestBackend();
    expect(again.backend).toBe(backend);
    expect(again.tf).toBe(tf);
    expect(tf.getBackend()).toBe(backend);
  });

  it("returns the same layer classes per tf instance", () => {
    const again = registerNmcLayers(tf);
    expect(again.EGRU).toBe(L.EGRU);
    expect(L.EGRU.className).toBe("EGRU");
    expect(L.DiagonalSSM.className).toBe("DiagonalSSM");
  });
});

describe("EGRU math", () => {
  // C = 2 inputs, H = 2 units, T = 3 ticks; gate blocks z | r | g along the last axis.
  const W = [
    [0.5, -0.3, 0.8, 0.1, 1.2, -0.7],
    [-0.2, 0.4, 0.3, -0.6, 0.9, 1.1],
  ];
  const R = [
    [0.3, 0.2, -0.4, 0.5, 0.6, -0.8],
    [-0.1, 0.7, 0.2, -0.3, -0.5, 0.4],
  ];
  const bx = [0.1, -0.2, 0.05, 0.0, 0.2, -0.1];
  const br = [0.0, 0.1, -0.05, 0.2, -0.1, 0.3];
  const thr = [0.3, 0.25];
  const x = [
    [1.0, 0.5],
    [0.2, -1.0],
    [0.8, 0.9],
  ];

  it("matches a hand-written 2-unit, 3-tick reference (egruForward and the layer)", () => {
    const ref = egruRef(x, W, R, bx, br, thr);
    const os = flat(ref.o);
    expect(os).toContain(0); // the example exercises both firing and silent units
    expect(os).toContain(1);

    const y = tf.tidy(() => {
      const r = egruForward(tf, tf.tensor3d([x]), {
        kernel: tf.tensor2d(W),
        recurrentKernel: tf.tensor2d(R),
        bias: tf.tensor1d(bx),
        recurrentBias: tf.tensor1d(br),
        thr: tf.tensor1d(thr),
      });
      return [r.y.dataSync().slice(), r.o.dataSync().slice()];
    });
    expectClose(y[0]!, flat(ref.y));
    expect(Array.from(y[1]!)).toEqual(os);

    // Batched: a second, different sequence alongside gives each its own reference result.
    const x2 = x.map((row) => row.map((v) => -0.7 * v + 0.4));
    const yb = tf.tidy(() =>
      egruForward(tf, tf.tensor3d([x, x2]), {
        kernel: tf.tensor2d(W),
        recurrentKernel: tf.tensor2d(R),
        bias: tf.tensor1d(bx),
        recurrentBias: tf.tensor1d(br),
        thr: tf.tensor1d(thr),
      }).y.dataSync(),
    );
    expectClose(yb, [...flat(ref.y), ...flat(egruRef(x2, W, R, bx, br, thr).y)]);

    // The same through the layer, with weights set in the documented order.
    const layer = new L.EGRU({ units: 2, inputShape: [3, 2] });
    const model = tf.sequential({ layers: [layer] });
    expect(layer.getWeights().map((w) => w.shape)).toEqual([[2, 6], [2, 6], [6], [6], [2]]);
    layer.setWeights([tf.tensor2d(W), tf.tensor2d(R), tf.tensor1d(bx), tf.tensor1d(br), tf.tensor1d(thr)]);
    const out = predictFloatWithShape(model as unknown as tfjs.LayersModel, Float32Array.from(flat(x)), [1, 3, 2], tf);
    expect(out.shape).toEqual([1, 3, 2]);
    expectClose(out.data, flat(ref.y));
  });

  it("clamps thr to [0, 1] and emits nothing at exact equality", () => {
    // Zero weights: g = tanh(0) = 0 and h stays 0, so c = 0 every tick. thr = −0.5 clamps to 0, and c − 0 = 0
    // must not fire (an unclamped −0.5 would). thr = 1.5 clamps to 1.
    const zeros = (r: number, c: number) => tf.zeros([r, c]);
    const run = (thrv: number[]) =>
      tf.tidy(() =>
        egruForward(tf, tf.ones([1, 3, 2]), {
          kernel: zeros(2, 6),
          recurrentKernel: zeros(2, 6),
          bias: tf.zeros([6]),
          recurrentBias: tf.zeros([6]),
          thr: tf.tensor1d(thrv),
        }).o.dataSync().slice(),
      );
    expect(Array.from(run([-0.5, 1.5]))).toEqual([0, 0, 0, 0, 0, 0]);

    // With driven units, thr = 1.5 and −0.2 behave exactly like 1 and 0.
    const w = { kernel: tf.tensor2d(W), recurrentKernel: tf.tensor2d(R), bias: tf.tensor1d(bx), recurrentBias: tf.tensor1d(br) };
    const xin = tf.tensor3d([x]);
    const a = tf.tidy(() => egruForward(tf, xin, { ...w, thr: tf.tensor1d([1.5, -0.2]) }).y.dataSync().slice());
    const b = tf.tidy(() => egruForward(tf, xin, { ...w, thr: tf.tensor1d([1, 0]) }).y.dataSync().slice());
    expect(Array.from(a)).toEqual(Array.from(b));
    const ref = egruRef(x, W, R, bx, br, [1.5, -0.2]);
    expectClose(a, flat(ref.y));
    // The gradient through the clamp is zero for a thr outside [0, 1].
    const g = tf.tidy(() =>
      tf
        .grad((t: tfjs.Tensor) => tf.sum(egruForward(tf, xin, { ...w, thr: t }).y))(tf.tensor1d([1.5, -0.2]))
        .dataSync()
        .slice(),
    );
    expect(Array.from(g)).toEqual([0, 0]);
    tf.dispose([...Object.values(w), xin]);
  });

  it("has the EvNN surrogate gradient: nonzero near threshold, zero far from it", () => {
    const H = makeHeaviside(tf, 0.7, 1.0);
    const xs = [-2, -0.5, 0, 0.3, 0.99, 1.5];
    const [value, grad] = tf.tidy(() => {
      const x = tf.tensor1d(xs);
      return [H(x).dataSync().slice(), tf.grad((v: tfjs.Tensor) => tf.sum(H(v)))(x).dataSync().slice()];
    });
    expect(Array.from(value!)).toEqual([0, 0, 0, 1, 1, 1]);
    expectClose(grad!, xs.map((v) => 0.7 * Math.max(0, 1 - Math.abs(v))), 1e-6);
    // Another support: max(0, 1 − 2|x|) · 0.5.
    const H2 = makeHeaviside(tf, 0.5, 2.0);
    const g2 = tf.tidy(() => tf.grad((v: tfjs.Tensor) => tf.sum(H2(v)))(tf.tensor1d([0.25, 0.6])).dataSync().slice());
    expectClose(g2, [0.25, 0], 1e-6);
  });

  it("passes gradients to the threshold of units near threshold only", () => {
    // One unit driven near its threshold, one far below it (strongly negative g).
    const kernel = tf.tensor2d([[0, 0, 0, 0, 3, -3]]); // C = 1, H = 2
    const w = {
      kernel,
      recurrentKernel: tf.zeros([2, 6]),
      bias: tf.tensor1d([-10, -10, 0, 0, 0, 0]), // z ≈ 0: c ≈ g
      recurrentBias: tf.zeros([6]),
    };
    const x = tf.tensor3d([[[0.1]]]); // g0 = tanh(0.3) ≈ 0.291, g1 ≈ −0.291
    const g = tf.tidy(() =>
      tf
        .grad((t: tfjs.Tensor) => tf.sum(egruForward(tf, x, { ...w, thr: t }).y))(tf.tensor1d([0.3, 0.9]))
        .dataSync()
        .slice(),
    );
    // Unit 0: c − thr ≈ −0.009, inside the support → nonzero (y = o·c, dy/dthr = −c · surrogate).
    expect(Math.abs(g[0]!)).toBeGreaterThan(0.05);
    // Unit 1: c − thr ≈ −1.19, outside the support → zero.
    expect(g[1] === 0).toBe(true);
    tf.dispose([...Object.values(w), x]);
  });

  it("reports the activity of the last call and trains with an activity loss", async () => {
    const layer = new L.EGRU({ units: 8, seed: 3, thrMean: 0.1, activityRegularization: 0.5, inputShape: [5, 3] });
    const model = tf.sequential({ layers: [layer, tf.layers.dense({ units: 2 })] });
    const x = tf.tensor3d(Array.from(randArray(4 * 5 * 3, 7, 2)), [4, 5, 3]);
    const y = layer.apply(x) as tfjs.Tensor;
    const act = layer.lastActivity;
    expect(act).not.toBeNull();
    const oFrac = tf.tidy(() => tf.mean(layer.forward(x).o).dataSync()[0]!);
    expect(act!).toBeCloseTo(oFrac, 6);
    expect(act!).toBeGreaterThan(0);
    y.dispose();
    expect(layer.losses.length).toBe(1);

    model.compile({ optimizer: tf.train.adam(0.01), loss: "meanSquaredError" });
    const before = layer.getWeights().map((w) => w.dataSync().slice());
    const h = await model.fit(x, tf.zeros([4, 5, 2]), { epochs: 2, batchSize: 4, verbose: 0 });
    expect(Number.isFinite(h.history.loss![1] as number)).toBe(true);
    const after = layer.getWeights().map((w) => w.dataSync().slice());
    // Every EGRU weight, thr included, received a gradient.
    before.forEach((b, i) => expect(Array.from(after[i]!)).not.toEqual(Array.from(b)));
    x.dispose();
  });

  it("samples thr in (0, 1) with mean ≈ thr_mean", () => {
    const thr = Array.from(tf.tidy(() => sampleThreshold(tf, [4000], 0.3, 11).dataSync()));
    const mean = thr.reduce((a, v) => a + v, 0) / thr.length;
    expect(Math.min(...thr)).toBeGreaterThan(0);
    expect(Math.max(...thr)).toBeLessThan(1);
    expect(Math.abs(mean - 0.3)).toBeLessThan(0.02);
    // The layer draws its thr the same way (snake_case config accepted too) and reproducibly with a seed.
    const draw = () => {
      const layer = new L.EGRU({ units: 50, thr_mean: 0.2, seed: 11, inputShape: [2, 1] });
      tf.sequential({ layers: [layer] });
      return Array.from(layer.getWeights()[4]!.dataSync());
    };
    const a = draw();
    expect(a).toEqual(draw());
    expect(a.every((v) => v > 0 && v < 1)).toBe(true);
  });

  it("rejects a bad config with an NmcError", () => {
    expect(() => new L.EGRU({ units: 0 })).toThrow(NmcError);
    expect(() => new L.EGRU({ units: 2, thrMean: 1 })).toThrow(NmcError);
  });
});

describe("DiagonalSSM math", () => {
  const P = 3;
  const H = 2;
  const T = 7;
  const u = Array.from({ length: T }, (_, k) => [Math.sin(k + 1), Math.cos(2 * k) - 0.3]);
  const BRe = [[0.5, -0.2], [0.1, 0.3], [-0.4, 0.6]];
  const BIm = [[0.2, 0.1], [-0.3, 0.05], [0.15, -0.25]];
  const CRe = [[0.3, -0.6, 0.2], [0.7, 0.1, -0.4]];
  const CIm = [[-0.2, 0.4, 0.5], [0.1, -0.3, 0.25]];
  const D = [0.5, -1.5];
  const cplx = (re: number[][], im: number[][]) => re.map((row, i) => row.map((v, j) => [v, im[i]![j]!] as C));

  function runTf(disc: (t: Tf) => ReturnType<typeof discretizeLru>, mode: "parallel" | "sequential") {
    return tf.tidy(() => diagonalSsmForward(tf, tf.tensor3d([u]), disc(tf), mode).dataSync().slice());
  }

  it("LRU: matches a complex reference, sequential and parallel scans agree", () => {
    const nu = [Math.log(0.05), Math.log(0.3), Math.log(0.01)];
    const theta = [Math.log(0.5), Math.log(2.0), Math.log(3.0)];
    const gamma = [Math.log(0.9), Math.log(0.5), Math.log(1.2)];
    const lam = nu.map((n, p) => cexp([-Math.exp(n), Math.exp(theta[p]!)]));
    const Bb = cplx(BRe, BIm).map((row, p) => row.map((b) => [b[0] * Math.exp(gamma[p]!), b[1] * Math.exp(gamma[p]!)] as C));
    const ref = flat(ssmRef(u, lam, Bb, cplx(CRe, CIm), D));
    const disc = (t: Tf) =>
      discretizeLru(t, {
        nuLog: t.tensor1d(nu),
        thetaLog: t.tensor1d(theta),
        gammaLog: t.tensor1d(gamma),
        bRe: t.tensor2d(BRe),
        bIm: t.tensor2d(BIm),
        cRe: t.tensor2d(CRe),
        cIm: t.tensor2d(CIm),
        d: t.tensor1d(D),
      });
    expectClose(runTf(disc, "sequential"), ref, 1e-5);
    expectClose(runTf(disc, "parallel"), ref, 1e-5);
    // Longer, batched, not a power of two: the two scans agree.
    const [a, b] = tf.tidy(() => {
      const x = tf.tensor3d(Array.from(randArray(2 * 37 * H, 5)), [2, 37, H]);
      const d = disc(tf);
      return [diagonalSsmForward(tf, x, d, "sequential").dataSync(), diagonalSsmForward(tf, x, d, "parallel").dataSync()];
    });
    expectClose(a!, b!, 1e-5);
  });

  it("S5 (ZOH): matches a complex reference", () => {
    const lre = [-0.5, -0.2, -1.0];
    const lim = [0, Math.PI, 2 * Math.PI];
    const logStep = [Math.log(0.01), Math.log(0.1), Math.log(0.05)];
    const lamC: C[] = lre.map((r, p) => [r, lim[p]!]);
    const lamBar = lamC.map((l, p) => {
      const d = Math.exp(logStep[p]!);
      return cexp([l[0] * d, l[1] * d]);
    });
    const gam = lamBar.map((lb, p) => cdiv([lb[0] - 1, lb[1]], lamC[p]!));
    const Bb = cplx(BRe, BIm).map((row, p) => row.map((b) => cmul(gam[p]!, b)));
    const ref = flat(ssmRef(u, lamBar, Bb, cplx(CRe, CIm), D));
    const disc = (t: Tf) =>
      discretizeS5(t, {
        lambdaRe: t.tensor1d(lre),
        lambdaIm: t.tensor1d(lim),
        bRe: t.tensor2d(BRe),
        bIm: t.tensor2d(BIm),
        cRe: t.tensor2d(CRe),
        cIm: t.tensor2d(CIm),
        d: t.tensor1d(D),
        logStep: t.tensor1d(logStep),
      });
    expectClose(runTf(disc, "sequential"), ref, 1e-5);
    expectClose(runTf(disc, "parallel"), ref, 1e-5);
  });

  it("LRU init lies on the ring and is differentiable end to end", () => {
    const layer = new L.DiagonalSSM({ stateSize: 64, rMin: 0.9, rMax: 0.99, seed: 5, inputShape: [6, 4] });
    const model = tf.sequential({ layers: [layer] });
    const w = Object.fromEntries(
      layer.weights.map((v) => [v.originalName.split("/").pop()!, Array.from(v.read().dataSync())]),
    );
    const mods = w.nu_log!.map((n) => Math.exp(-Math.exp(n)));
    expect(Math.min(...mods)).toBeGreaterThanOrEqual(0.9 - 1e-5);
    expect(Math.max(...mods)).toBeLessThanOrEqual(0.99 + 1e-5);
    mods.forEach((m, p) => expect(Math.exp(w.gamma_log![p]!)).toBeCloseTo(Math.sqrt(1 - m * m), 4));
    const x = tf.tensor3d(Array.from(randArray(2 * 6 * 4, 3)), [2, 6, 4]);
    const { grads } = tf.variableGrads(() => tf.sum(tf.square(model.apply(x) as tfjs.Tensor)) as tfjs.Scalar);
    for (const v of layer.trainableWeights) {
      const g = grads[v.name];
      expect(g, v.name).toBeDefined();
      const a = g!.dataSync();
      expect(a.every(Number.isFinite)).toBe(true);
      expect(a.some((e) => e !== 0)).toBe(true);
    }
    tf.dispose([x, ...Object.values(grads)]);
  });
});

describe("save and reload", () => {
  async function roundTrip(model: tfjs.LayersModel, name: string, x: Float32Array, shape: number[]) {
    const dir = path.join(tmp, name);
    await saveModelToDir(model, dir, { task: name });
    const json = JSON.parse(readFileSync(path.join(dir, "model.json"), "utf8"));
    expect(json.format).toBe("layers-model");
    expect(json.convertedBy).toBeNull();
    expect(json.userDefinedMetadata).toEqual({ task: name });
    expect(json.weightsManifest[0].paths).toEqual(["weights.bin"]);
    const { model: loaded, backend: b } = await loadFloatModel(path.join(dir, "model.json"));
    expect(b).toBe(backend);
    // loadFloatModel scans DiagonalSSMs step by step (the accurate reference); compare like with like.
    for (const l of model.layers) if (l.getClassName() === "DiagonalSSM") (l as unknown as { scanMode: string }).scanMode = "sequential";
    const a = predictFloat(model, x, shape, tf);
    const c = predictFloat(loaded, x, shape, tf);
    expect(Array.from(c)).toEqual(Array.from(a));
    expect(a.some((v) => v !== 0)).toBe(true);
    return json;
  }

  const names = (json: { weightsManifest: { weights: { name: string; shape: number[] }[] }[] }) =>
    json.weightsManifest[0]!.weights.map((w) => `${w.name} [${w.shape.join(",")}]`);

  it("EGRU model", async () => {
    const model = tf.sequential({
      layers: [
        new L.EGRU({ name: "egru", units: 5, seed: 1, thrMean: 0.05, inputShape: [4, 3] }),
        tf.layers.timeDistributed({ name: "td", layer: tf.layers.dense({ name: "readout", units: 2 }) }),
      ],
    });
    const json = await roundTrip(model, "egru", randArray(2 * 4 * 3, 1, 3), [2, 4, 3]);
    expect(names(json)).toEqual([
      "egru/kernel [3,15]",
      "egru/recurrent_kernel [5,15]",
      "egru/bias [15]",
      "egru/recurrent_bias [15]",
      "egru/thr [5]",
      "td/kernel [5,2]", // TimeDistributed(Dense) weights carry the wrapper's name, not the inner layer's
      "td/bias [2]",
    ]);
    const first = json.modelTopology.config.layers[0];
    expect(first.class_name).toBe("EGRU");
    expect(first.config.batch_input_shape).toEqual([null, 4, 3]);
    expect(first.config).toMatchObject({
      units: 5,
      dampening_factor: 0.7,
      pseudo_derivative_support: 1,
      thr_mean: 0.05,
      activity_regularization: 0,
    });
  });

  it("LRU and S5 models, with Embedding and Dense", async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.embedding({ name: "emb", inputDim: 10, outputDim: 4, inputShape: [6] }),
        new L.DiagonalSSM({ name: "lru", stateSize: 3, seed: 2 }),
        new L.DiagonalSSM({ name: "s5", stateSize: 3, parameterization: "s5", seed: 3 }),
        tf.layers.dense({ name: "head", units: 2 }),
      ],
    });
    const ids = Float32Array.from([1, 2, 3, 4, 5, 6, 9, 8, 7, 0, 0, 1]);
    const json = await roundTrip(model, "ssm", ids, [2, 6]);
    expect(names(json)).toEqual([
      "emb/embeddings [10,4]",
      "lru/nu_log [3]",
      "lru/theta_log [3]",
      "lru/gamma_log [3]",
      "lru/B_re [3,4]",
      "lru/B_im [3,4]",
      "lru/C_re [4,3]",
      "lru/C_im [4,3]",
      "lru/D [4]",
      "s5/Lambda_re [3]",
      "s5/Lambda_im [3]",
      "s5/B_re [3,4]",
      "s5/B_im [3,4]",
      "s5/C_re [4,3]",
      "s5/C_im [4,3]",
      "s5/D [4]",
      "s5/log_step [3]",
      "head/kernel [4,2]",
      "head/bias [2]",
    ]);
    const layers = json.modelTopology.config.layers;
    expect(layers[0].config.batch_input_shape).toEqual([null, 6]);
    expect(layers[1].config).toMatchObject({ state_size: 3, parameterization: "lru", r_min: 0.9, r_max: 0.999 });
    expect(layers[2].config).toMatchObject({ state_size: 3, parameterization: "s5", step_min: 0.001, step_max: 0.1 });
  });

  it("functional model", async () => {
    const inp = tf.input({ shape: [5, 2], name: "x" });
    const e = new L.EGRU({ name: "e1", units: 4, seed: 4, thrMean: 0.05 }).apply(inp) as tfjs.SymbolicTensor;
    const s = new L.DiagonalSSM({ name: "s1", stateSize: 2, seed: 5 }).apply(e) as tfjs.SymbolicTensor;
    const out = tf.layers.dense({ name: "d1", units: 3 }).apply(s) as tfjs.SymbolicTensor;
    const model = tf.model({ inputs: inp, outputs: out });
    const json = await roundTrip(model, "functional", randArray(3 * 5 * 2, 9, 3), [3, 5, 2]);
    expect(json.modelTopology.class_name).toBe("Model");
  });

  it("refuses missing, malformed and truncated files with NmcErrors", async () => {
    await expect(loadFloatModel(path.join(tmp, "nope", "model.json"))).rejects.toBeInstanceOf(NmcError);
    const bad = path.join(tmp, "bad.json");
    writeFileSync(bad, "{not json");
    await expect(loadFloatModel(bad)).rejects.toBeInstanceOf(NmcError);
    // Truncate the weights of the EGRU model saved above.
    const dir = path.join(tmp, "egru");
    const bin = readFileSync(path.join(dir, "weights.bin"));
    writeFileSync(path.join(dir, "weights.bin"), bin.subarray(0, bin.length - 4));
    const err = await loadFloatModel(path.join(dir, "model.json")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NmcError);
    expect((err as NmcError).format()).toMatch(/expected \d+ bytes, found \d+ bytes/);
  });
});
