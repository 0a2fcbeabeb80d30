// Random functional TensorFlow.js models, built by tfjs's own code: tf.model over tfjs's merge layers (Add,
// Average, Multiply, Concatenate), Dense, Activation, BatchNormalization, LayerNormalization and nmc's EGRU and DiagonalSSM layer classes. Used by the
// frontend's property test (test/compiler/functional.test.ts) and as seeds of the model.json fuzzer.
import type * as tfjs from "@tensorflow/tfjs";
import fc from "fast-check";
import type { NmcLayerClasses, Tf } from "../../runtime/tfjs/index.js";

/** One step of building a graph: what to add and from which existing nodes (indices taken modulo). */
export type Step =
  | { op: "dense"; from: number; units: number; activation: "linear" | "relu" | "tanh" | "sigmoid" | WideActivation }
  // zoneout: EvNN's zoneout p (inference: c = p·h + (1 − p)·c̃); drawn by referenceCaseArb only.
  | { op: "egru"; from: number; units: number; zoneout?: number }
  | { op: "ssm"; from: number; state: number; parameterization: "lru" | "s5" }
  | { op: "activation"; from: number; activation: "relu" | "tanh" | "sigmoid" | "gelu" | "swish" | "softplus" | "gelu_new" }
  | { op: "merge"; kind: "add" | "average" | "multiply"; from: number[] }
  // fold: a linear Dense read by nothing else goes just before the BN (nmc folds BN into it); otherwise the BN
  // reads whatever node `from` picks (mostly one it cannot fold into: an SSM, EGRU, merge, non-linear Dense).
  | { op: "bn"; from: number; fold: boolean; center: boolean; scale: boolean; epsilon: number }
  | { op: "concat"; from: number[] }
  // LayerNormalization (axis −1) with random γ / β (tfjs initializes them to 1 / 0).
  | { op: "ln"; from: number; center: boolean; scale: boolean; epsilon: number }
  // event-ssm's gated residual block (docs/model-math.md, "The block around an SSM"): v = LN(u) if prenorm,
  // s = SSM(v), w = s ⊙ σ(Dense(GELU(s))), out = u + w, then LN(out) if not prenorm. Drawn by referenceCaseArb only.
  | { op: "block"; from: number; state: number; parameterization: "lru" | "s5"; prenorm: boolean; gelu: "gelu" | "gelu_new" };

/**
 * Dense activations beyond the four functionalCaseArb draws (referenceCaseArb draws them). Not softmax: nmc
 * accepts it on the output population only (ir/verify.ts), and every generated model ends in a linear head.
 */
export type WideActivation = "gelu" | "gelu_new" | "swish" | "softplus";

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant("dense" as const), from: fc.nat(), units: fc.integer({ min: 2, max: 5 }), activation: fc.constantFrom("linear" as const, "relu" as const, "tanh" as const, "sigmoid" as const) }),
  fc.record({ op: fc.constant("egru" as const), from: fc.nat(), units: fc.integer({ min: 2, max: 5 }) }),
  fc.record({ op: fc.constant("ssm" as const), from: fc.nat(), state: fc.integer({ min: 1, max: 3 }), parameterization: fc.constantFrom("lru" as const, "s5" as const) }),
  fc.record({ op: fc.constant("activation" as const), from: fc.nat(), activation: fc.constantFrom("relu" as const, "tanh" as const, "sigmoid" as const, "gelu" as const, "swish" as const, "softplus" as const) }),
  fc.record({ op: fc.constant("merge" as const), kind: fc.constantFrom("add" as const, "average" as const, "multiply" as const), from: fc.array(fc.nat(), { minLength: 2, maxLength: 3 }) }),
  fc.record({ op: fc.constant("concat" as const), from: fc.array(fc.nat(), { minLength: 2, maxLength: 3 }) }),
  fc.record({ op: fc.constant("bn" as const), from: fc.nat(), fold: fc.boolean(), center: fc.boolean(), scale: fc.boolean(), epsilon: fc.constantFrom(1e-3, 0.1) }),
  fc.record({ op: fc.constant("ln" as const), from: fc.nat(), center: fc.boolean(), scale: fc.boolean(), epsilon: fc.constantFrom(1e-3, 0.1) }),
);

/**
 * A fixed case run first by both properties so that each sees LayerNormalization whatever fast-check draws:
 * after an SSM, after a Dense, center or scale false, and feeding a merge (a pre-norm residual block).
 */
export const layerNormCase: GraphCase = {
  channels: 4, ticks: 5, seed: 777, steps: [
    { op: "ln", from: 0, center: true, scale: true, epsilon: 1e-3 },
    { op: "ssm", from: 1, state: 2, parameterization: "s5" },
    { op: "dense", from: 2, units: 4, activation: "tanh" },
    { op: "ln", from: 3, center: false, scale: true, epsilon: 0.1 },
    { op: "merge", kind: "add", from: [4, 0] },
    { op: "ln", from: 5, center: true, scale: false, epsilon: 1e-3 },
  ],
};

/**
 * A fixed case run first by both properties, so that each sees every BatchNormalization lowering whatever
 * fast-check draws: BN after an SSM (own population), BN folded into the Dense before it and an Activation
 * folded after that, BN after a merge (own population), center or scale false.
 */
export const batchNormCase: GraphCase = {
  channels: 3, ticks: 4, seed: 4242, steps: [
    { op: "ssm", from: 0, state: 2, parameterization: "lru" },
    { op: "bn", from: 1, fold: false, center: true, scale: true, epsilon: 1e-3 },
    { op: "bn", from: 2, fold: true, center: false, scale: true, epsilon: 0.1 },
    { op: "activation", from: 3, activation: "relu" },
    { op: "merge", kind: "add", from: [2, 4] },
    { op: "bn", from: 5, fold: false, center: true, scale: false, epsilon: 1e-3 },
  ],
};

/** Uniform numbers in [lo, hi) from a seed (xorshift32): the BN layers' trained statistics. */
function uniforms(seed: number, n: number, lo: number, hi: number): Float32Array {
  let s = seed >>> 0 || 1;
  return Float32Array.from({ length: n }, () => {
    s ^= s << 13; s >>>= 0; s ^= s >> 17; s ^= s << 5; s >>>= 0;
    return lo + (hi - lo) * (s / 2 ** 32);
  });
}

export interface GraphCase {
  channels: number;
  ticks: number;
  steps: Step[];
  seed: number;
  /**
   * Replace tfjs's initial values that would hide bugs (zero biases, LayerNorm's γ = 1 and β = 0, S5's one
   * Re Λ = −0.5 and tiny steps) by random ones, and clamp some EGRU thresholds (perturbWeights). Off unless set.
   */
  perturb?: boolean;
}

export const functionalCaseArb: fc.Arbitrary<GraphCase> = fc.record({
  channels: fc.integer({ min: 2, max: 4 }),
  ticks: fc.integer({ min: 2, max: 6 }),
  steps: fc.array(stepArb, { minLength: 2, maxLength: 7 }),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});

/**
 * Builds the tfjs model of a case; merges take existing nodes of one width (a Dense aligns one when needed).
 * `batchNorms`: the names of its BatchNormalization layers (a test counts which of them nmc folded).
 */
export function buildFunctional(tf: Tf, L: NmcLayerClasses, c: GraphCase): { model: tfjs.LayersModel; merges: number; batchNorms: string[] } {
  const inp = tf.input({ shape: [c.ticks, c.channels], name: "x" }) as tfjs.SymbolicTensor;
  const nodes: tfjs.SymbolicTensor[] = [inp];
  let k = 0, merges = 0;
  const batchNorms: string[] = [];
  const name = (p: string) => `${p}${k++}`;
  const width = (t: tfjs.SymbolicTensor) => t.shape[t.shape.length - 1] as number;
  const apply = (layer: tfjs.layers.Layer, x: tfjs.SymbolicTensor | tfjs.SymbolicTensor[]) => layer.apply(x) as tfjs.SymbolicTensor;
  const seed = () => c.seed + k;
  for (const s of c.steps) {
    const pick = (i: number) => nodes[i % nodes.length];
    if (s.op === "dense") nodes.push(apply(tf.layers.dense({ name: name("dense"), units: s.units, activation: s.activation }), pick(s.from)));
    else if (s.op === "egru") nodes.push(apply(new L.EGRU({ name: name("egru"), units: s.units, seed: seed(), thrMean: 0.05, ...(s.zoneout ? { zoneout: s.zoneout } : {}) }), pick(s.from)));
    else if (s.op === "ssm") nodes.push(apply(new L.DiagonalSSM({ name: name("ssm"), stateSize: s.state, parameterization: s.parameterization, seed: seed() }), pick(s.from)));
    else if (s.op === "activation") nodes.push(apply(tf.layers.activation({ name: name("act"), activation: s.activation }), pick(s.from)));
    else if (s.op === "bn") {
      let x = pick(s.from);
      if (s.fold) x = apply(tf.layers.dense({ name: name("pre"), units: width(x) + 1 }), x);
      const bn = tf.layers.batchNormalization({ name: name("bn"), center: s.center, scale: s.scale, epsilon: s.epsilon });
      nodes.push(apply(bn, x));
      // tfjs initializes γ, β, μ, σ² to 1, 0, 0, 1 (the identity); trained values are anything but: set random
      // ones, in tfjs's weight order (gamma if scale, beta if center, moving_mean, moving_variance > 0).
      const n = width(x), sd = seed() * 7919;
      const w = [
        ...(s.scale ? [uniforms(sd + 1, n, -1.5, 1.5)] : []), ...(s.center ? [uniforms(sd + 2, n, -0.5, 0.5)] : []),
        uniforms(sd + 3, n, -0.5, 0.5), uniforms(sd + 4, n, 0.2, 2),
      ];
      const ts = w.map((v) => tf.tensor1d(v));
      bn.setWeights(ts);
      tf.dispose(ts);
      batchNorms.push(bn.name);
    } else if (s.op === "ln") {
      const x = pick(s.from);
      const ln = tf.layers.layerNormalization({ name: name("ln"), axis: -1, center: s.center, scale: s.scale, epsilon: s.epsilon });
      nodes.push(apply(ln, x));
      // tfjs's weight order: gamma if scale, beta if center.
      const n = width(x), sd = seed() * 7919;
      const ts = [...(s.scale ? [uniforms(sd + 5, n, -1.5, 1.5)] : []), ...(s.center ? [uniforms(sd + 6, n, -0.5, 0.5)] : [])].map((v) => tf.tensor1d(v));
      if (ts.length) ln.setWeights(ts);
      tf.dispose(ts);
    }
    else if (s.op === "block") {
      const u = pick(s.from);
      const v = s.prenorm ? apply(tf.layers.layerNormalization({ name: name("ln"), axis: -1 }), u) : u;
      const ssm = apply(new L.DiagonalSSM({ name: name("ssm"), stateSize: s.state, parameterization: s.parameterization, seed: seed() }), v);
      const g = apply(tf.layers.activation({ name: name("act"), activation: s.gelu as "gelu" }), ssm);
      const gate = apply(tf.layers.dense({ name: name("gate"), units: width(u), activation: "sigmoid" }), g);
      let out = apply(tf.layers.add({ name: name("add") }), [u, apply(tf.layers.multiply({ name: name("mul") }), [ssm, gate])]);
      if (!s.prenorm) out = apply(tf.layers.layerNormalization({ name: name("ln"), axis: -1 }), out);
      nodes.push(out);
      merges += 2;
    }
    else {
      const first = pick(s.from[0]);
      const seen = new Set<tfjs.SymbolicTensor>([first]);
      // A tensor given twice to one merge makes tfjs's executor dispose it early ("Tensor is disposed" in
      // Add.mergeFunction), so a repeated operand goes through a Dense first, as one that needs aligning does.
      const ins = [first, ...s.from.slice(1).map((i) => {
        const t = pick(i);
        const fits = s.op === "concat" || width(t) === width(first);
        if (fits && !seen.has(t)) return seen.add(t), t;
        const a = apply(tf.layers.dense({ name: name("align"), units: s.op === "concat" ? width(t) : width(first) }), t);
        seen.add(a);
        return a;
      })];
      const layer = s.op === "concat" ? tf.layers.concatenate({ name: name("concat") })
        : s.kind === "add" ? tf.layers.add({ name: name("add") })
        : s.kind === "average" ? tf.layers.average({ name: name("avg") })
        : tf.layers.multiply({ name: name("mul") });
      nodes.push(apply(layer, ins));
      merges++;
    }
  }
  // The output reads the last node; a final Dense keeps outputs of a fixed small width.
  const out = apply(tf.layers.dense({ name: "head", units: 3 }), nodes[nodes.length - 1]);
  const model = tf.model({ inputs: inp, outputs: out });
  if (c.perturb) perturbWeights(tf, model, c.seed);
  return { model, merges, batchNorms };
}

/**
 * Sets random values where tfjs's initializers leave ones that would hide a bug (a swapped bias, a lost β,
 * a dropped B̄ gain): every bias, recurrent_bias, LayerNorm / BatchNorm γ and β uniform in a range; S5's
 * Re Λ in [−1, −0.05] and step in [0.01, 1]; EGRU thresholds in [−0.1, 0.4] (a fifth below 0, which EvNN and
 * nmc clamp to 0). Kernels, LRU parameters, B, C, D and the BN statistics keep their (random) values.
 */
export function perturbWeights(tf: Tf, model: tfjs.LayersModel, seed: number): void {
  let k = 0;
  const ranges: [RegExp, number, number][] = [
    [/\/(recurrent_)?bias$/, -0.5, 0.5], [/\/beta$/, -0.5, 0.5], [/\/gamma$/, -1.5, 1.5],
    [/\/Lambda_re$/, -1, -0.05], [/\/log_step$/, Math.log(0.01), 0], [/\/thr$/, -0.1, 0.4],
  ];
  for (const layer of model.layers) {
    const vars = layer.weights;
    if (!vars.length) continue;
    const values = layer.getWeights();
    let changed = false;
    const next = values.map((v, i) => {
      const r = ranges.find(([re]) => re.test(vars[i].originalName));
      if (!r) return v;
      changed = true;
      return tf.tensor(uniforms(seed * 31 + 977 * ++k, v.size, r[1], r[2]), v.shape);
    });
    if (changed) layer.setWeights(next);
    // getWeights returns the variables' own tensors: only the new ones are ours to dispose.
    tf.dispose(next.filter((t) => !values.includes(t)));
  }
}

const wideDenseArb = fc.record({
  op: fc.constant("dense" as const), from: fc.nat(), units: fc.integer({ min: 2, max: 5 }),
  activation: fc.constantFrom("linear" as const, "relu" as const, "tanh" as const, "sigmoid" as const, "gelu" as const, "gelu_new" as const, "swish" as const, "softplus" as const),
});

/**
 * Steps weighted toward what the float64 reference test needs most (EGRU, DiagonalSSM S5 and LRU, Dense of
 * every activation, LayerNormalization, GELU, Multiply, Add, residual skips, the gated block); the merge
 * and concat steps read earlier nodes, so skips come with them.
 */
const referenceStepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: wideDenseArb },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("egru" as const), from: fc.nat(), units: fc.integer({ min: 2, max: 5 }), zoneout: fc.constantFrom(0, 0, 0.25, 0.5) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("ssm" as const), from: fc.nat(), state: fc.integer({ min: 1, max: 3 }), parameterization: fc.constantFrom("lru" as const, "s5" as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("activation" as const), from: fc.nat(), activation: fc.constantFrom("relu" as const, "tanh" as const, "sigmoid" as const, "gelu" as const, "gelu_new" as const, "swish" as const, "softplus" as const) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("merge" as const), kind: fc.constantFrom("add" as const, "average" as const, "multiply" as const), from: fc.array(fc.nat(), { minLength: 2, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("concat" as const), from: fc.array(fc.nat(), { minLength: 2, maxLength: 3 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("bn" as const), from: fc.nat(), fold: fc.boolean(), center: fc.boolean(), scale: fc.boolean(), epsilon: fc.constantFrom(1e-3, 0.1) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("ln" as const), from: fc.nat(), center: fc.boolean(), scale: fc.boolean(), epsilon: fc.constantFrom(1e-3, 0.1) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant("block" as const), from: fc.nat(), state: fc.integer({ min: 1, max: 4 }), parameterization: fc.constantFrom("lru" as const, "s5" as const), prenorm: fc.boolean(), gelu: fc.constantFrom("gelu" as const, "gelu_new" as const) }) },
);

/** Random functional models for test/runtime/float64-reference.test.ts: the wider steps, perturbed weights. */
export const referenceCaseArb: fc.Arbitrary<GraphCase> = fc.record({
  channels: fc.integer({ min: 2, max: 4 }),
  ticks: fc.integer({ min: 2, max: 8 }),
  steps: fc.array(referenceStepArb, { minLength: 2, maxLength: 7 }),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  perturb: fc.constant(true),
});

/**
 * A fixed case with every layer of the float64 reference's acceptance list: EGRU, S5 and LRU, Dense with
 * GELU, LayerNormalization, Multiply, Add and residual skips (two gated blocks, pre- and post-norm).
 */
export const mixedReferenceCase: GraphCase = {
  channels: 3, ticks: 7, seed: 9090, perturb: true, steps: [
    { op: "egru", from: 0, units: 4 },
    { op: "block", from: 1, state: 3, parameterization: "s5", prenorm: true, gelu: "gelu" },
    { op: "block", from: 2, state: 2, parameterization: "lru", prenorm: false, gelu: "gelu_new" },
    { op: "dense", from: 3, units: 4, activation: "gelu" },
    { op: "merge", kind: "multiply", from: [4, 1] },
    { op: "merge", kind: "add", from: [5, 2, 3] },
    { op: "ln", from: 6, center: true, scale: true, epsilon: 1e-3 },
  ],
};

export function functionalInputs(c: GraphCase, batch: number): Float32Array {
  let s = c.seed >>> 0 || 1;
  return Float32Array.from({ length: batch * c.ticks * c.channels }, () => {
    s ^= s << 13; s >>>= 0; s ^= s >> 17; s ^= s << 5; s >>>= 0;
    return Math.fround(2 * (s / 2 ** 32) - 1);
  });
}

