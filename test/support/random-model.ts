// Random small models for the acceptance tests: fast-check arbitraries that yield a plain ModelSpec (run by
// test/support/reference.ts) plus an input, and a writer that saves the spec in the TensorFlow.js
// LayersModel format (model.json + float32 little-endian .bin shards) that `nmc run` reads.
//
// fast-check draws the *structure* (layer kinds, widths, T, batch, form, readout); the weight and input
// values come from a seeded PRNG so that shrinking works on structure instead of on hundreds of floats
// (every run spawns the CLI, so a long shrink over floats would take minutes).
import fc from "fast-check";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeNpyF32 } from "./npy-lite.js";
import type { Activation, LayerSpec, ModelSpec, ReadoutMode } from "./reference.js";
import { modelOutWidth } from "./reference.js";
import { seededRandom } from "../../examples/common/mnist.js";

export type ModelForm = "sequential" | "functional";
export type EgruRegime = "firing" | "silent" | "wild-thr";
export type InputKind = "dense" | "events" | "binary-events";

export interface InputCase {
  /** Batch size; 1 when `single`. */
  B: number;
  T: number;
  C: number;
  /** [B*T*C], float32-exact values. */
  data: Float64Array;
  /** Written as a [T, C] array instead of [B, T, C]. */
  single: boolean;
  kind: InputKind;
}

export interface ModelCase {
  family: string;
  spec: ModelSpec;
  form: ModelForm;
  /** `userDefinedMetadata.nmc.readout` in model.json. */
  metaReadout?: ReadoutMode;
  /** `--readout` on the command line (overrides the metadata). */
  flagReadout?: ReadoutMode;
  /** Number of .bin shards the weights are split into. */
  shards: number;
  /** Manifest entries in reverse order (the loader must look weights up by name, not by position). */
  reverseManifest: boolean;
  input: InputCase;
}

export function effectiveReadout(c: ModelCase): ReadoutMode | undefined {
  return c.flagReadout ?? c.metaReadout;
}

// ---------------------------------------------------------------------------------------------------
// Seeded values

/** mulberry32, the seeded generator the examples use (examples/common/mnist.ts); deterministic per seed. */
export const makeRng: (seed: number) => () => number = seededRandom;

type Rng = () => number;

/** n float32-exact values uniform in [lo, hi). */
function uniform(rng: Rng, n: number, lo: number, hi: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.fround(lo + (hi - lo) * rng());
  return out;
}

function egruLayer(rng: Rng, name: string, C: number, H: number, regime: EgruRegime): LayerSpec {
  const G = 3 * H;
  if (regime === "silent") {
    // g < 0 at every tick for inputs of magnitude ≤ 2 (|x·W_g| ≤ 12·2·0.05), so c < 0 ≤ θ: nothing fires.
    const kernel = uniform(rng, C * G, -1, 1);
    for (let c = 0; c < C; c++) for (let i = 0; i < H; i++) kernel[c * G + 2 * H + i] = Math.fround(kernel[c * G + 2 * H + i]! * 0.05);
    const bias = uniform(rng, G, -1, 1);
    for (let i = 0; i < H; i++) bias[2 * H + i] = -3;
    const recurrent_bias = uniform(rng, G, -0.3, 0.3);
    return {
      kind: "EGRU",
      name,
      inWidth: C,
      units: H,
      params: { kernel, recurrent_kernel: uniform(rng, H * G, -1.5, 1.5), bias, recurrent_bias, thr: uniform(rng, H, 0, 0.6) },
    };
  }
  const thr = regime === "wild-thr" ? uniform(rng, H, -0.5, 1.5) : uniform(rng, H, 0, 0.6);
  return {
    kind: "EGRU",
    name,
    inWidth: C,
    units: H,
    params: {
      kernel: uniform(rng, C * G, -1.5, 1.5),
      recurrent_kernel: uniform(rng, H * G, -1.5, 1.5),
      bias: uniform(rng, G, -1.5, 1.5),
      recurrent_bias: uniform(rng, G, -1.5, 1.5),
      thr,
    },
  };
}

function lruLayer(rng: Rng, name: string, H: number, P: number): LayerSpec {
  return {
    kind: "LRU",
    name,
    width: H,
    stateSize: P,
    params: {
      nu_log: uniform(rng, P, Math.log(0.02), Math.log(1.5)), // |Λ̄| = exp(−exp(ν)) in (0.22, 0.98)
      theta_log: uniform(rng, P, Math.log(0.05), Math.log(3)),
      gamma_log: uniform(rng, P, -1.5, 0.3),
      B_re: uniform(rng, P * H, -1, 1),
      B_im: uniform(rng, P * H, -1, 1),
      C_re: uniform(rng, H * P, -1, 1),
      C_im: uniform(rng, H * P, -1, 1),
      D: uniform(rng, H, -1, 1),
    },
  };
}

function s5Layer(rng: Rng, name: string, H: number, P: number): LayerSpec {
  return {
    kind: "S5",
    name,
    width: H,
    stateSize: P,
    params: {
      Lambda_re: uniform(rng, P, -1.5, -0.05), // Re Λ < 0 keeps |Λ̄| = exp(Re Λ · Δ) < 1
      Lambda_im: uniform(rng, P, -3, 3),
      log_step: uniform(rng, P, Math.log(0.01), Math.log(1)),
      B_re: uniform(rng, P * H, -1, 1),
      B_im: uniform(rng, P * H, -1, 1),
      C_re: uniform(rng, H * P, -1, 1),
      C_im: uniform(rng, H * P, -1, 1),
      D: uniform(rng, H, -1, 1),
    },
  };
}

function denseLayer(rng: Rng, name: string, I: number, K: number, activation: Activation): LayerSpec {
  return { kind: "Dense", name, inWidth: I, units: K, activation, kernel: uniform(rng, I * K, -1, 1), bias: uniform(rng, K, -1, 1) };
}

function makeInput(rng: Rng, B: number, T: number, C: number, kind: InputKind, single: boolean): InputCase {
  const n = B * T * C;
  const data = new Float64Array(n);
  const zeroFraction = kind === "dense" ? 0 : 0.5 + 0.45 * rng();
  for (let i = 0; i < n; i++) {
    if (rng() < zeroFraction) continue; // exact zeros: an event sensor that was silent
    data[i] = kind === "binary-events" ? 1 : Math.fround(-2 + 4 * rng());
  }
  return { B, T, C, data, single, kind };
}

// ---------------------------------------------------------------------------------------------------
// Arbitraries

const widthArb = fc.integer({ min: 1, max: 12 });
const activationArb = fc.constantFrom<Activation>("linear", "relu", "sigmoid", "tanh", "swish", "softplus", "gelu_new");
const readoutArb = fc.constantFrom<ReadoutMode>("last", "mean", "sum");

/** Names layers like Keras does: egru_1, egru_2, ssm_1, dense_1, dropout_1. */
class Namer {
  private counts = new Map<string, number>();
  next(prefix: string): string {
    const n = (this.counts.get(prefix) ?? 0) + 1;
    this.counts.set(prefix, n);
    return `${prefix}_${n}`;
  }
}

type LayerPlan =
  | { kind: "EGRU"; units: number; regime: EgruRegime }
  | { kind: "LRU" | "S5"; stateSize: number }
  | { kind: "Dense"; units: number; activation: Activation }
  | { kind: "Dropout" };

const egruPlanArb: fc.Arbitrary<LayerPlan> = fc.record({
  kind: fc.constant("EGRU" as const),
  units: widthArb,
  regime: fc.constantFrom<EgruRegime>("firing", "firing", "firing", "silent", "wild-thr"),
});
const densePlanArb: fc.Arbitrary<LayerPlan> = fc.record({ kind: fc.constant("Dense" as const), units: widthArb, activation: activationArb });
const ssmPlanArb = (kind: "LRU" | "S5"): fc.Arbitrary<LayerPlan> => fc.record({ kind: fc.constant(kind), stateSize: widthArb });

function buildSpec(seed: number, C: number, plans: LayerPlan[]): ModelSpec {
  const rng = makeRng(seed);
  const namer = new Namer();
  const layers: LayerSpec[] = [];
  let width = C;
  for (const plan of plans) {
    switch (plan.kind) {
      case "EGRU":
        layers.push(egruLayer(rng, namer.next("egru"), width, plan.units, plan.regime));
        width = plan.units;
        break;
      case "LRU":
        layers.push(lruLayer(rng, namer.next("ssm"), width, plan.stateSize));
        break;
      case "S5":
        layers.push(s5Layer(rng, namer.next("ssm"), width, plan.stateSize));
        break;
      case "Dense":
        layers.push(denseLayer(rng, namer.next("dense"), width, plan.units, plan.activation));
        width = plan.units;
        break;
      case "Dropout":
        layers.push({ kind: "Dropout", name: namer.next("dropout"), width, rate: 0.2 });
        break;
    }
  }
  return { inputWidth: C, layers };
}

/** Inserts a Dropout after some layer (never first: the first layer carries the input shape). */
function withOptionalDropout(plans: fc.Arbitrary<LayerPlan[]>): fc.Arbitrary<LayerPlan[]> {
  return fc.tuple(plans, fc.option(fc.nat(), { freq: 4 })).map(([ps, at]) => {
    if (at === null) return ps;
    const i = 1 + (at % ps.length);
    return [...ps.slice(0, i), { kind: "Dropout" as const }, ...ps.slice(i)];
  });
}

export type Family = "egru" | "lru" | "s5" | "dense" | "mixed";

function plansFor(family: Family): fc.Arbitrary<LayerPlan[]> {
  switch (family) {
    case "egru":
      return fc
        .tuple(fc.array(egruPlanArb, { minLength: 1, maxLength: 3 }), fc.option(densePlanArb, { nil: undefined }))
        .map(([egrus, head]) => (head ? [...egrus, head] : egrus).slice(0, 3));
    case "lru":
    case "s5":
      return fc
        .tuple(fc.array(ssmPlanArb(family === "lru" ? "LRU" : "S5"), { minLength: 1, maxLength: 2 }), fc.option(densePlanArb, { nil: undefined }))
        .map(([ssms, head]) => (head ? [...ssms, head] : ssms));
    case "dense":
      return fc.array(densePlanArb, { minLength: 1, maxLength: 3 });
    case "mixed":
      // EGRU → LRU|S5 → Dense: events from the EGRU drive the SSM's B̄ · u.
      return fc.tuple(egruPlanArb, fc.oneof(ssmPlanArb("LRU"), ssmPlanArb("S5")), densePlanArb).map((t) => [...t]);
  }
}

export interface CaseOptions {
  form?: ModelForm | "any";
  input?: InputKind | "any";
  /** "none": no readout anywhere; "any": sometimes flag, sometimes metadata, sometimes both. */
  readout?: "none" | "any";
  single?: boolean | "any";
  shards?: "one" | "any";
}

/** A random model of `family` with a random input, ready to write and compare. */
export function modelCaseArb(family: Family, opts: CaseOptions = {}): fc.Arbitrary<ModelCase> {
  const formArb = opts.form === undefined || opts.form === "any" ? fc.constantFrom<ModelForm>("sequential", "functional") : fc.constant(opts.form);
  const inputArb = opts.input === undefined || opts.input === "any" ? fc.constantFrom<InputKind>("dense", "events", "binary-events") : fc.constant(opts.input);
  const singleArb = opts.single === undefined || opts.single === "any" ? fc.boolean() : fc.constant(opts.single);
  const readoutsArb =
    opts.readout === "any"
      ? fc.record({ meta: fc.option(readoutArb, { nil: undefined }), flag: fc.option(readoutArb, { nil: undefined }) })
      : fc.constant({ meta: undefined, flag: undefined });
  const shardsArb = opts.shards === "any" ? fc.integer({ min: 1, max: 3 }) : fc.constant(1);
  return fc
    .record({
      seed: fc.integer({ min: 0, max: 0x7fffffff }),
      C: widthArb,
      plans: withOptionalDropout(plansFor(family)),
      form: formArb,
      inputKind: inputArb,
      single: singleArb,
      B: fc.integer({ min: 1, max: 3 }),
      T: fc.integer({ min: 1, max: 10 }),
      readouts: readoutsArb,
      shards: shardsArb,
      reverseManifest: opts.shards === "any" ? fc.boolean() : fc.constant(false),
    })
    .map((r) => {
      const spec = buildSpec(r.seed, r.C, r.plans);
      const B = r.single ? 1 : r.B;
      const input = makeInput(makeRng(r.seed ^ 0x5eed), B, r.T, r.C, r.inputKind, r.single);
      const c: ModelCase = {
        family,
        spec,
        form: r.form,
        metaReadout: r.readouts.meta,
        flagReadout: r.readouts.flag,
        shards: r.shards,
        reverseManifest: r.reverseManifest,
        input,
      };
      Object.defineProperty(c, fc.toStringMethod, { value: () => describeCase(c), enumerable: false });
      return c;
    });
}

/** One line a person can read in a counterexample report. */
export function describeCase(c: ModelCase): string {
  const layers = c.spec.layers
    .map((l) => {
      switch (l.kind) {
        case "EGRU":
          return `EGRU(${l.inWidth}→${l.units})`;
        case "LRU":
        case "S5":
          return `${l.kind}(H=${l.width},P=${l.stateSize})`;
        case "Dense":
          return `Dense(${l.inWidth}→${l.units},${l.activation})`;
        case "Dropout":
          return "Dropout";
      }
    })
    .join(" → ");
  const shape = c.input.single ? `[${c.input.T},${c.input.C}]` : `[${c.input.B},${c.input.T},${c.input.C}]`;
  return (
    `${c.family} ${c.form}: C=${c.spec.inputWidth} ${layers}; input ${shape} ${c.input.kind}` +
    `; readout meta=${c.metaReadout ?? "-"} flag=${c.flagReadout ?? "-"}; shards=${c.shards}${c.reverseManifest ? " reversed" : ""}`
  );
}

// ---------------------------------------------------------------------------------------------------
// TensorFlow.js LayersModel files

interface ParamEntry {
  name: string;
  shape: number[];
  values: Float64Array;
}

function layerParams(l: LayerSpec): ParamEntry[] {
  const e = (param: string, shape: number[], values: Float64Array): ParamEntry => ({ name: `${l.name}/${param}`, shape, values });
  switch (l.kind) {
    case "EGRU": {
      const { inWidth: C, units: H, params: p } = l;
      return [
        e("kernel", [C, 3 * H], p.kernel),
        e("recurrent_kernel", [H, 3 * H], p.recurrent_kernel),
        e("bias", [3 * H], p.bias),
        e("recurrent_bias", [3 * H], p.recurrent_bias),
        e("thr", [H], p.thr),
      ];
    }
    case "LRU": {
      const { width: H, stateSize: P, params: p } = l;
      return [
        e("nu_log", [P], p.nu_log),
        e("theta_log", [P], p.theta_log),
        e("gamma_log", [P], p.gamma_log),
        e("B_re", [P, H], p.B_re),
        e("B_im", [P, H], p.B_im),
        e("C_re", [H, P], p.C_re),
        e("C_im", [H, P], p.C_im),
        e("D", [H], p.D),
      ];
    }
    case "S5": {
      const { width: H, stateSize: P, params: p } = l;
      return [
        e("Lambda_re", [P], p.Lambda_re),
        e("Lambda_im", [P], p.Lambda_im),
        e("B_re", [P, H], p.B_re),
        e("B_im", [P, H], p.B_im),
        e("C_re", [H, P], p.C_re),
        e("C_im", [H, P], p.C_im),
        e("D", [H], p.D),
        e("log_step", [P], p.log_step),
      ];
    }
    case "Dense":
      return [e("kernel", [l.inWidth, l.units], l.kernel), e("bias", [l.units], l.bias)];
    case "Dropout":
      return [];
  }
}

function layerClassAndConfig(l: LayerSpec): { class_name: string; config: Record<string, unknown> } {
  switch (l.kind) {
    case "EGRU":
      return { class_name: "EGRU", config: { name: l.name, units: l.units, trainable: true, dtype: "float32" } };
    case "LRU":
      return { class_name: "DiagonalSSM", config: { name: l.name, state_size: l.stateSize, parameterization: "lru" } };
    case "S5":
      return { class_name: "DiagonalSSM", config: { name: l.name, state_size: l.stateSize, parameterization: "s5" } };
    case "Dense":
      return { class_name: "Dense", config: { name: l.name, units: l.units, activation: l.activation, use_bias: true } };
    case "Dropout":
      return { class_name: "Dropout", config: { name: l.name, rate: l.rate } };
  }
}

function topology(spec: ModelSpec, form: ModelForm): Record<string, unknown> {
  const C = spec.inputWidth;
  if (form === "sequential") {
    const layers = spec.layers.map((l, i) => {
      const lc = layerClassAndConfig(l);
      return i === 0 ? { ...lc, config: { ...lc.config, batch_input_shape: [null, null, C] } } : lc;
    });
    return { class_name: "Sequential", config: { name: "m", layers } };
  }
  const layers: Record<string, unknown>[] = [
    {
      class_name: "InputLayer",
      name: "input_1",
      config: { batch_input_shape: [null, null, C], dtype: "float32", name: "input_1" },
      inbound_nodes: [],
    },
  ];
  let prev = "input_1";
  for (const l of spec.layers) {
    const lc = layerClassAndConfig(l);
    layers.push({ class_name: lc.class_name, name: l.name, config: lc.config, inbound_nodes: [[[prev, 0, 0, {}]]] });
    prev = l.name;
  }
  return {
    class_name: "Model",
    config: { name: "m", layers, input_layers: [["input_1", 0, 0]], output_layers: [[prev, 0, 0]] },
  };
}

export interface ModelArtifacts {
  /** The model.json object (mutable: the error tests edit it). */
  json: Record<string, any>;
  /** Shard file name → bytes. */
  shards: Map<string, Uint8Array>;
  /** Manifest entries in byte order with their byte offset into the concatenated shards. */
  entries: { name: string; shape: number[]; offset: number; bytes: number }[];
}

export interface ArtifactOptions {
  form?: ModelForm;
  metaReadout?: ReadoutMode;
  shards?: number;
  reverseManifest?: boolean;
}

/** The model.json object and .bin shard bytes for a spec. */
export function modelArtifacts(spec: ModelSpec, opts: ArtifactOptions = {}): ModelArtifacts {
  let params = spec.layers.flatMap(layerParams);
  if (opts.reverseManifest) params = [...params].reverse();
  const total = params.reduce((n, p) => n + p.values.length, 0);
  const all = new Uint8Array(4 * total);
  const dv = new DataView(all.buffer);
  const entries: ModelArtifacts["entries"] = [];
  let at = 0;
  for (const p of params) {
    entries.push({ name: p.name, shape: p.shape, offset: 4 * at, bytes: 4 * p.values.length });
    for (let i = 0; i < p.values.length; i++) dv.setFloat32(4 * (at + i), p.values[i]!, true);
    at += p.values.length;
  }
  const nShards = Math.max(1, Math.min(opts.shards ?? 1, total));
  const shards = new Map<string, Uint8Array>();
  if (nShards === 1) {
    shards.set("weights.bin", all);
  } else {
    // Shard boundaries fall on float boundaries but anywhere inside a tensor, as tfjs' 4 MB shards do.
    const per = Math.ceil(total / nShards);
    for (let s = 0; s < nShards; s++) {
      shards.set(`group1-shard${s + 1}of${nShards}.bin`, all.slice(4 * s * per, 4 * Math.min(total, (s + 1) * per)));
    }
  }
  const json: Record<string, any> = {
    format: "layers-model",
    generatedBy: "nmc-test",
    convertedBy: null,
    modelTopology: topology(spec, opts.form ?? "sequential"),
    weightsManifest: [{ paths: [...shards.keys()], weights: params.map((p) => ({ name: p.name, shape: p.shape, dtype: "float32" })) }],
  };
  if (opts.metaReadout) json.userDefinedMetadata = { nmc: { readout: opts.metaReadout } };
  return { json, shards, entries };
}

/** Writes model.json and its shards into dir; returns the model.json path. */
export function writeArtifacts(dir: string, a: ModelArtifacts): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of a.shards) writeFileSync(join(dir, name), bytes);
  const path = join(dir, "model.json");
  writeFileSync(path, JSON.stringify(a.json, null, 1));
  return path;
}

export function writeModel(dir: string, spec: ModelSpec, opts: ArtifactOptions = {}): string {
  return writeArtifacts(dir, modelArtifacts(spec, opts));
}

/** Writes a case's model and input into dir; returns the paths. */
export function writeCase(dir: string, c: ModelCase): { model: string; input: string; out: string } {
  const model = writeModel(dir, c.spec, {
    form: c.form,
    metaReadout: c.metaReadout,
    shards: c.shards,
    reverseManifest: c.reverseManifest,
  });
  const { B, T, C, data, single } = c.input;
  const input = join(dir, "x.npy");
  writeNpyF32(input, data, single ? [T, C] : [B, T, C]);
  return { model, input, out: join(dir, "y.npy") };
}

export { modelOutWidth };
