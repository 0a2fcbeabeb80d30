// The layer table: one entry per supported model.json layer class, each lowering the layer onto the IR
// (populations + projections) from the current population. Adding a layer class is one entry here.
// Parameter names and math: docs/model-math.md.
import type { GraphBuilder } from "../../ir/builder.js";
import { csrFromDense, csrFromDiagonal, identityCsr } from "../../ir/builder.js";
import { NmcError } from "../../ir/errors.js";
import type { Activation, DensePopulation, Population, SourceLoc } from "../../ir/types.js";
import type { LayerRef } from "./topology.js";
import type { NamedWeight } from "./weights.js";
import { checkKeys, parseChecked } from "./allow.js";
import type { SupportedClass } from "./schema.js";
import { LayerConfigSchemas } from "./schema.js";
import { discretizeLru, discretizeS5 } from "./ssm.js";
import { lowerBatchNorm } from "./batchnorm.js";
import { lowerLayerNorm } from "./layernorm.js";
import { lowerEventPooling, lowerEventReadout, lowerEventSsm, refuseEventKeys } from "./event.js";

export interface LowerContext {
  file: string;
  builder: GraphBuilder;
  weights: Map<string, NamedWeight>;
  used: Set<string>;
  /** The population whose output feeds the next layer. */
  current: Population;
  /** The linear-so-far Dense population the previous layer created, which a following Activation or BatchNormalization may fold into. */
  lastDense?: DensePopulation;
}

type Lower = (ctx: LowerContext, layer: LayerRef, config: Record<string, unknown>) => void;

const fmt = (s: readonly number[]) => `[${s.join(", ")}]`;

/** The weight `<layer>/<param>` with the expected shape, or an error naming layer, weight and shapes. */
export function weight(ctx: LowerContext, layer: LayerRef, param: string, shape: number[], owner = layer.name): Float32Array {
  const candidates = [`${owner}/${param}`, `${layer.name}/${owner}/${param}`, `${layer.name}/${param}`];
  const w = candidates.map((n) => ctx.weights.get(n)).find(Boolean);
  if (!w) {
    const near = [...ctx.weights.keys()].filter((n) => n.startsWith(`${owner}/`) || n.startsWith(`${layer.name}/`));
    throw new NmcError(`layer ${layer.name} (${layer.className}) is missing weight ${owner}/${param}`, {
      file: ctx.file, path: "weightsManifest", expected: `a weight named ${owner}/${param} of shape ${fmt(shape)}`,
      found: near.length ? `only ${near.join(", ")}` : "no weights for this layer", node: layer.name,
    });
  }
  if (w.shape.length !== shape.length || w.shape.some((d, i) => d !== shape[i])) {
    throw new NmcError(`weight ${w.name} of layer ${layer.name} (${layer.className}) has the wrong shape`, {
      file: ctx.file, path: w.manifestPath, expected: fmt(shape), found: fmt(w.shape), node: layer.name,
    });
  }
  ctx.used.add(w.name);
  return w.values;
}

type ConfigOf<C extends SupportedClass> = ReturnType<(typeof LayerConfigSchemas)[C]["parse"]>;

/**
 * A layer's config, checked: the keys its schema lists (and `name`) are read, any other key must be on the
 * allow-list (allow.ts). `base` is the config's path relative to the layer's config (index.ts anchors it).
 */
function parseConfig<C extends SupportedClass>(ctx: LowerContext, layer: LayerRef, cls: C, config: unknown, base: readonly PropertyKey[] = []): ConfigOf<C> {
  const schema = LayerConfigSchemas[cls];
  return parseChecked(schema, config, { file: ctx.file, base, honoured: ["name"], scopes: [cls, "config"], what: `${cls} config`, node: layer.name }) as ConfigOf<C>;
}

function loc(ctx: LowerContext, layer: LayerRef): SourceLoc {
  return { file: ctx.file, layer: layer.name, className: layer.className };
}

function lowerEgru(ctx: LowerContext, layer: LayerRef, config: Record<string, unknown>): void {
  const { units: H, zoneout } = parseConfig(ctx, layer, "EGRU", config);
  const C = ctx.current.size;
  const kernel = weight(ctx, layer, "kernel", [C, 3 * H]);
  const recurrent = weight(ctx, layer, "recurrent_kernel", [H, 3 * H]);
  const biasX = weight(ctx, layer, "bias", [3 * H]);
  const biasH = weight(ctx, layer, "recurrent_bias", [3 * H]);
  // EvNN clamps the threshold to [0, 1] in every forward pass (egru.py, EGRU.forward); so do we, once.
  const thr = Float32Array.from(weight(ctx, layer, "thr", [H]), (v) => Math.min(1, Math.max(0, v)));
  const b = ctx.builder;
  // EvNN hands zoneout_prob to its kernel as a C float (frameworks/pytorch/egru.cc, egru_forward): so does nmc.
  const pop = b.egru(layer.name, H, { biasX, biasH, thr }, loc(ctx, layer), { zoneout: Math.fround(zoneout ?? 0) });
  b.project(`${pop.name}.kernel`, ctx.current, pop, "input", csrFromDense(kernel, C, 3 * H), 0, loc(ctx, layer));
  b.project(`${pop.name}.recurrent_kernel`, pop, pop, "recurrent", csrFromDense(recurrent, H, 3 * H), 1, loc(ctx, layer));
  ctx.current = pop;
  ctx.lastDense = undefined;
}

function lowerDiagonalSsm(ctx: LowerContext, layer: LayerRef, config: Record<string, unknown>): void {
  const cfg = parseConfig(ctx, layer, "DiagonalSSM", config);
  // Event time (event-ssm's S5SSM): event.ts. The fixed-step form below refuses the event-time keys.
  if (cfg.discretization !== undefined) return lowerEventSsm(ctx, layer, cfg);
  refuseEventKeys(ctx, layer, cfg);
  const P = cfg.state_size;
  const H = ctx.current.size;
  const w = (param: string, shape: number[]) => weight(ctx, layer, param, shape);
  const common = { B_re: w("B_re", [P, H]), B_im: w("B_im", [P, H]), C_re: w("C_re", [H, P]), C_im: w("C_im", [H, P]) };
  const d = cfg.parameterization === "lru"
    ? discretizeLru({ ...common, nu_log: w("nu_log", [P]), theta_log: w("theta_log", [P]), gamma_log: w("gamma_log", [P]) }, P, H)
    : discretizeS5({ ...common, Lambda_re: w("Lambda_re", [P]), Lambda_im: w("Lambda_im", [P]), log_step: w("log_step", [P]) }, P, H);
  const D = w("D", [H]);
  const b = ctx.builder;
  const pop = b.diagonalSsm(layer.name, H, P, cfg.parameterization, {
    lambdaRe: d.lambdaRe, lambdaIm: d.lambdaIm, cRe: Float64Array.from(common.C_re), cIm: Float64Array.from(common.C_im),
  }, loc(ctx, layer));
  // B̄ as a projection from the H inputs onto the 2P state columns (real parts, then imaginary parts).
  const bDense = new Float64Array(H * 2 * P);
  for (let p = 0; p < P; p++) {
    for (let h = 0; h < H; h++) {
      bDense[h * 2 * P + p] = d.bRe[p * H + h];
      bDense[h * 2 * P + P + p] = d.bIm[p * H + h];
    }
  }
  b.project(`${pop.name}.B`, ctx.current, pop, "u", csrFromDense(bDense, H, 2 * P, "f64"), 0, loc(ctx, layer));
  b.project(`${pop.name}.D`, ctx.current, pop, "skip", csrFromDiagonal(D), 0, loc(ctx, layer));
  ctx.current = pop;
  ctx.lastDense = undefined;
}

function lowerDenseWith(ctx: LowerContext, layer: LayerRef, config: Record<string, unknown>, owner: string, base: readonly PropertyKey[] = []): void {
  const cfg = parseConfig(ctx, layer, "Dense", config, base);
  const I = ctx.current.size;
  const K = cfg.units;
  const kernel = weight(ctx, layer, "kernel", [I, K], owner);
  const bias = cfg.use_bias ? weight(ctx, layer, "bias", [K], owner) : new Float32Array(K);
  const pop = ctx.builder.dense(layer.name, K, cfg.activation as Activation, bias, loc(ctx, layer));
  ctx.builder.project(`${pop.name}.kernel`, ctx.current, pop, "x", csrFromDense(kernel, I, K), 0, loc(ctx, layer));
  ctx.current = pop;
  ctx.lastDense = pop;
}

const lowerDense: Lower = (ctx, layer, config) => lowerDenseWith(ctx, layer, config, layer.name);

function lowerTimeDistributed(ctx: LowerContext, layer: LayerRef, config: Record<string, unknown>): void {
  const cfg = parseConfig(ctx, layer, "TimeDistributed", config);
  checkKeys(config.layer, { file: ctx.file, base: ["layer"], honoured: ["class_name", "config", "name"], scopes: ["layer"], what: "TimeDistributed layer", node: layer.name });
  if (cfg.layer.class_name !== "Dense") {
    throw new NmcError(`TimeDistributed(${cfg.layer.class_name}) is not supported; only TimeDistributed(Dense)`, {
      file: ctx.file, path: `${layer.path}.config.layer.class_name`, node: layer.name,
    });
  }
  const inner = (config.layer as { config: Record<string, unknown> }).config; // raw, as for every layer
  const innerName = typeof inner.name === "string" ? inner.name : layer.name;
  lowerDenseWith(ctx, layer, inner, innerName, ["layer", "config"]);
}

function lowerEmbedding(ctx: LowerContext, layer: LayerRef, config: Record<string, unknown>): void {
  const cfg = parseConfig(ctx, layer, "Embedding", config);
  const cur = ctx.current;
  if (cur.kind !== "Input" || cur.encoding !== "tokens" || cur.size !== cfg.input_dim) {
    throw new NmcError(`Embedding ${layer.name} must be the first layer, fed token ids`, {
      file: ctx.file, path: layer.path, node: layer.name,
    });
  }
  const V = cfg.input_dim;
  const E = cfg.output_dim;
  const table = weight(ctx, layer, "embeddings", [V, E]);
  // negative_ids "wrap": the input takes ids −V…V − 1, −k selecting row V − k (jnp.take; event-ssm's padding −1).
  if (cfg.negative_ids === "wrap") cur.wrapTokens = true;
  // A token event (id, 1) selects one row: the embedding is a projection from the one-hot input.
  const pop = ctx.builder.dense(layer.name, E, "linear", new Float32Array(E), loc(ctx, layer));
  ctx.builder.project(`${pop.name}.embeddings`, cur, pop, "x", csrFromDense(table, V, E), 0, loc(ctx, layer));
  ctx.current = pop;
  ctx.lastDense = pop;
}

function lowerActivation(ctx: LowerContext, layer: LayerRef, config: Record<string, unknown>): void {
  const cfg = parseConfig(ctx, layer, "Activation", config);
  if (cfg.activation === "linear") return;
  const d = ctx.lastDense;
  if (d && d === ctx.current && d.activation === "linear") {
    // Folded into the linear Dense just before it, which nothing else reads.
    d.activation = cfg.activation as Activation;
    ctx.lastDense = undefined;
    return;
  }
  // Anywhere else (after an SSM or EGRU, or a Dense that other layers read too): a Dense population of that
  // activation fed by an identity projection, so that the activation's events travel like any layer's.
  const src = ctx.current;
  const pop = ctx.builder.dense(layer.name, src.size, cfg.activation as Activation, new Float32Array(src.size), loc(ctx, layer));
  ctx.builder.project(`${pop.name}.identity`, src, pop, "x", identityCsr(src.size), 0, loc(ctx, layer));
  ctx.current = pop;
  ctx.lastDense = undefined;
}

export const LAYER_TABLE: Record<Exclude<SupportedClass, "InputLayer">, Lower> = {
  EGRU: lowerEgru,
  DiagonalSSM: lowerDiagonalSsm,
  Dense: lowerDense,
  TimeDistributed: lowerTimeDistributed,
  Embedding: lowerEmbedding,
  // Identity at inference, whatever the rate; the config is still checked.
  Dropout: (ctx, layer, config) => void parseConfig(ctx, layer, "Dropout", config),
  Activation: lowerActivation,
  // Folded into the Dense before it where that is exact, else a linear population (batchnorm.ts).
  BatchNormalization: lowerBatchNorm,
  // A LayerNorm population fed by an identity projection (layernorm.ts).
  LayerNormalization: lowerLayerNorm,
  // Event time (event.ts): event-ssm's EventPooling, and its classification readouts as a layer that later
  // layers (the decoder) read.
  EventPooling: lowerEventPooling,
  EventReadout: lowerEventReadout,
};
