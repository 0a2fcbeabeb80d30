// `nmc import event-ssm`: an event-ssm model (Schöne et al. 2024, github.com/Efficient-Scalable-Machine-Learning/
// event-ssm; nmc follows commit d9ceb07) into the TensorFlow.js LayersModel the model.json frontend compiles, as
// a functional graph of nmc's layer classes (docs/model-math.md, "Event-time SSMs"):
//
//   tokens ─ Embedding (negative_ids wrap) ─ per stage s, layer l (seq_model.py StackedEncoderModel, layers.py
//   SequenceStage / SequenceLayer):
//     x ─[LayerNorm | BatchNorm (prenorm)]─ DiagonalSSM (event time; stride on layer 0 of a stage) ─ s
//     s ─ Activation(gelu_new) ─ Dense_0 (sigmoid) ─ Multiply(s, ·) ─ g
//     x ─[EventPooling (layer 0 of a stage)]─[Dense_1 if the width changes]─ Add(·, g) ─[norm (postnorm)]─ x'
//   ─ EventReadout (pool | timepool | last) ─ decoder Dense ─ logits
//
// PARAMS is the Flax variable tree flattened with "/": keys `params/<path>` and `batch_stats/<path>` (the
// variables dict), or bare `<path>` (the params tree alone). Shapes are checked against event-ssm's own
// arithmetic for the config's widths; any key that is not a parameter of this architecture is refused by name.
import { basename } from "node:path";
import { NmcError } from "../../ir/errors.js";
import type { EventSsmConfig } from "./event-ssm-config.js";
import { layersModel, type LayersModel, type NamedWeight } from "./layers-model.js";

/** The event-ssm commit whose code this importer and its fixtures (test/fixtures/event-ssm) follow. */
export const EVENT_SSM_COMMIT = "d9ceb07c6f669086537e279dfbe3d8cdb5a70fbe";

export interface ParamTensor {
  key: string;
  shape: number[];
  values: Float32Array | Float64Array;
}

export interface ImportedLayer {
  name: string;
  className: string;
  inputs: number;
  units: number;
}

export interface EventSsmImport {
  model: LayersModel;
  layers: ImportedLayer[];
  /** The layout of the parameter file: the variables dict (params/, batch_stats/) or the params tree. */
  layout: "variables" | "params";
  readout: string;
  totalDownsampling: number;
  /** Facts the user should know (Embedding wrap, BatchNorm in evaluation mode, ignored config keys). */
  notes: string[];
}

interface Layer {
  class_name: string;
  name: string;
  config: Record<string, unknown>;
  inbound_nodes: unknown[];
}

const fmt = (s: readonly number[]) => `[${s.join(", ")}]`;
const F32_MAX = 3.4028234663852886e38;

/** The parameters by path (without params/), the batch statistics by path, each key used at most once. */
class Params {
  readonly params = new Map<string, ParamTensor>();
  readonly stats = new Map<string, ParamTensor>();
  readonly used = new Set<string>();
  layout: "variables" | "params" = "params";

  constructor(readonly file: string, tensors: Map<string, ParamTensor>) {
    const keys = [...tensors.keys()];
    const prefixed = keys.filter((k) => k.startsWith("params/") || k.startsWith("batch_stats/"));
    if (prefixed.length > 0 && prefixed.length < keys.length) {
      const bare = keys.find((k) => !prefixed.includes(k))!;
      throw this.err(bare, `the parameter file mixes the variables layout (params/…, batch_stats/…) with a bare key: ${bare}`,
        "every key under params/ or batch_stats/ (the flattened variables dict), or none (the flattened params tree)", bare);
    }
    if (prefixed.length > 0) this.layout = "variables";
    for (const [k, t] of tensors) {
      if (k.startsWith("batch_stats/")) this.stats.set(k.slice("batch_stats/".length), t);
      else this.params.set(this.layout === "variables" ? k.slice("params/".length) : k, t);
    }
  }

  err(key: string, message: string, expected?: string, found?: string, hint?: string): NmcError {
    return new NmcError(message, { file: this.file, path: key, expected, found, hint });
  }

  /** The stored key of a parameter (or batch statistic) path, for messages. */
  keyOf(path: string, stats = false): string {
    return stats ? `batch_stats/${path}` : this.layout === "variables" ? `params/${path}` : path;
  }

  has(path: string): boolean {
    return this.params.has(path);
  }

  /** A parameter of the expected shape, as float32; refused by key when missing, misshapen or not finite. */
  get(path: string, shape: number[], stats = false, what = "parameter"): ParamTensor & { f32: Float32Array } {
    const map = stats ? this.stats : this.params;
    const key = this.keyOf(path, stats);
    const t = map.get(path);
    if (!t) {
      const hint = stats ? "BatchNorm at inference reads the running statistics: flatten the whole variables dict {'params': …, 'batch_stats': …}, not the params alone" : undefined;
      throw this.err(key, `the parameter file lacks ${key}`, `a ${what} ${key} of shape ${fmt(shape)}`, "nothing", hint);
    }
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw this.err(key, `${key} has the wrong shape for this config`, fmt(shape), fmt(t.shape));
    }
    const f32 = t.values instanceof Float32Array ? t.values : Float32Array.from(t.values);
    for (let i = 0; i < f32.length; i++) {
      if (!Number.isFinite(f32[i]) || Math.abs(t.values[i]!) > F32_MAX) {
        throw this.err(key, `${key} has a non-finite value`, "finite float32 numbers", `${t.values[i]} at flat index ${i}`);
      }
    }
    this.used.add(key);
    return { ...t, f32 };
  }

  /** Keys not used by the architecture: refused. */
  checkAllUsed(expected: string): void {
    for (const k of [...this.params.keys()].map((p) => this.keyOf(p)).concat([...this.stats.keys()].map((p) => this.keyOf(p, true)))) {
      if (!this.used.has(k)) throw this.err(k, `the parameter file holds ${k}, which this event-ssm architecture does not have`, expected, k);
    }
  }
}

/** Widths of one SequenceLayer, as event-ssm computes them (seq_model.py StackedEncoderModel.setup). */
interface LayerPlan {
  path: string;
  hIn: number;
  hOut: number;
  /** P of the layer, and P_local = P / 2 under conj_sym (ssm.py). */
  p: number;
  pLocal: number;
  stride: number;
}

/**
 * The layers in order, one at a time (a generator: the importer reads each layer's parameters before the next
 * is planned, so a config claiming 10^12 stages fails at the first stage the parameters lack instead of
 * building a 10^12-entry plan).
 */
function* plan(cfg: EventSsmConfig): Generator<LayerPlan> {
  let dIn = cfg.dModel, dOut = cfg.dModel, dSsm = cfg.dSsm;
  const f = cfg.stateExpansionFactor;
  for (let s = 0; s < cfg.numStages; s++) {
    for (let l = 0; l < cfg.numLayersPerStage; l++) {
      const pLocal = cfg.conjSym ? Math.floor(dSsm / 2) : dSsm;
      yield { path: `encoder/stages_${s}/SequenceLayer_${l}`, hIn: l === 0 ? dIn : dOut, hOut: dOut, p: dSsm, pLocal, stride: l === 0 ? cfg.poolingStride : 1 };
    }
    dSsm = f * dSsm;
    dOut = f * dIn;
    if (s > 0) dIn = f * dIn;
  }
}

/** Converts the parameters of an event-ssm ClassificationModel with config `cfg`. */
export function importEventSsm(file: string, tensors: Map<string, ParamTensor>, cfg: EventSsmConfig): EventSsmImport {
  const P = new Params(file, tensors);
  const notes: string[] = [];
  const weights: NamedWeight[] = [];
  const layers: Layer[] = [];
  const summary: ImportedLayer[] = [];
  const add = (name: string, param: string, t: { f32: Float32Array }, shape: number[]) => weights.push({ name: `${name}/${param}`, shape, values: t.f32 });
  const layer = (class_name: string, name: string, config: Record<string, unknown>, inbound: string[]) => {
    layers.push({ class_name, name, config: { name, ...config }, inbound_nodes: inbound.length ? [inbound.map((n) => [n, 0, 0, {}])] : [] });
    return name;
  };

  // Embedding (nn.Embed): jnp.take wraps the padding token −1 to the LAST row (not a zero vector).
  const embPath = "encoder/encoder/embedding";
  const embT = P.params.get(embPath);
  const V = cfg.numEmbeddings ?? embT?.shape[0] ?? 0;
  const emb = P.get(embPath, [V, cfg.dModel]);
  const input = layer("InputLayer", "tokens", { batch_input_shape: [null, null] }, []);
  let x = layer("Embedding", "encoder/encoder", { input_dim: V, output_dim: cfg.dModel, negative_ids: "wrap" }, [input]);
  add(x, "embeddings", emb, [V, cfg.dModel]);
  summary.push({ name: x, className: "Embedding", inputs: V, units: cfg.dModel });
  notes.push("Embedding: a token id −1 (event-ssm's padding) reads the LAST row of the table, as jnp.take wraps it; padded steps run through the model as event-ssm runs them");

  let width = cfg.dModel;
  const norm = (where: string, name: string, n: number, src: string): string => {
    if (cfg.batchnorm) {
      const scale = P.get(`${name}/BatchNorm_0/scale`, [n]), bias = P.get(`${name}/BatchNorm_0/bias`, [n]);
      const mean = P.get(`${name}/BatchNorm_0/mean`, [n], true, "batch statistic"), variance = P.get(`${name}/BatchNorm_0/var`, [n], true, "batch statistic");
      const l = layer("BatchNormalization", `${name}/BatchNorm_0`, { axis: -1, epsilon: 1e-5, center: true, scale: true }, [src]);
      add(l, "gamma", scale, [n]);
      add(l, "beta", bias, [n]);
      add(l, "moving_mean", mean, [n]);
      add(l, "moving_variance", variance, [n]);
      summary.push({ name: l, className: `BatchNormalization (${where})`, inputs: n, units: n });
      return l;
    }
    const scale = P.get(`${name}/LayerNorm_0/scale`, [n]), bias = P.get(`${name}/LayerNorm_0/bias`, [n]);
    const l = layer("LayerNormalization", `${name}/LayerNorm_0`, { axis: -1, epsilon: 1e-6, center: true, scale: true }, [src]);
    add(l, "gamma", scale, [n]);
    add(l, "beta", bias, [n]);
    summary.push({ name: l, className: `LayerNormalization (${where})`, inputs: n, units: n });
    return l;
  };

  let down = 1;
  for (const lp of plan(cfg)) {
    const name = lp.path;
    if (lp.hIn !== width) {
      throw new NmcError(`event-ssm's widths do not chain at ${name}: it takes ${lp.hIn} features where the layer before gives ${width}`, {
        file: cfg.file, path: "model.ssm.state_expansion_factor", expected: "a configuration event-ssm itself can run", found: `num_stages ${cfg.numStages}, state_expansion_factor ${cfg.stateExpansionFactor}`,
      });
    }
    const skipIn = x;
    let h = cfg.prenorm ? norm("prenorm", name, lp.hIn, x) : x;
    // S5SSM_0 (ssm.py): B [P_local, H_in, 2], C [H_out, P_local, 2], D [H_out] or [H_out, H_in], log_step [P_local, 1].
    const s5 = `${name}/S5SSM_0`;
    const Pl = lp.pLocal;
    const lre = P.get(`${s5}/Lambda_re`, [Pl]), lim = P.get(`${s5}/Lambda_im`, [Pl]);
    const B = P.get(`${s5}/B`, [Pl, lp.hIn, 2]), C = P.get(`${s5}/C`, [lp.hOut, Pl, 2]);
    const D = P.get(`${s5}/D`, lp.hIn === lp.hOut ? [lp.hOut] : [lp.hOut, lp.hIn]);
    const logStep = P.get(`${s5}/log_step`, [Pl, 1]);
    const split = (t: Float32Array, part: 0 | 1) => Float32Array.from({ length: t.length / 2 }, (_, i) => t[2 * i + part]!);
    const ssm = layer("DiagonalSSM", s5, {
      state_size: Pl, parameterization: "s5", discretization: cfg.discretization, conj_sym: cfg.conjSym, clip_eigs: cfg.clipEigs,
      step_rescale: cfg.stepRescale, ...(lp.stride > 1 ? { stride: lp.stride, pool: cfg.poolingMode } : {}), ...(lp.hOut !== lp.hIn ? { units: lp.hOut } : {}),
    }, [h]);
    add(ssm, "Lambda_re", lre, [Pl]);
    add(ssm, "Lambda_im", lim, [Pl]);
    add(ssm, "log_step", logStep, [Pl]);
    add(ssm, "B_re", { f32: split(B.f32, 0) }, [Pl, lp.hIn]);
    add(ssm, "B_im", { f32: split(B.f32, 1) }, [Pl, lp.hIn]);
    add(ssm, "C_re", { f32: split(C.f32, 0) }, [lp.hOut, Pl]);
    add(ssm, "C_im", { f32: split(C.f32, 1) }, [lp.hOut, Pl]);
    add(ssm, "D", D, D.shape);
    summary.push({ name: ssm, className: `DiagonalSSM (${cfg.discretization}, P ${Pl}${lp.stride > 1 ? `, stride ${lp.stride} ${cfg.poolingMode}` : ""})`, inputs: lp.hIn, units: lp.hOut });
    // x · σ(Dense_0(gelu(x))), gelu the tanh form (Flax nn.gelu's default).
    const gelu = layer("Activation", `${name}/gelu`, { activation: "gelu_new" }, [ssm]);
    const k0 = P.get(`${name}/Dense_0/kernel`, [lp.hOut, lp.hOut]), b0 = P.get(`${name}/Dense_0/bias`, [lp.hOut]);
    const d0 = layer("Dense", `${name}/Dense_0`, { units: lp.hOut, activation: "sigmoid", use_bias: true }, [gelu]);
    add(d0, "kernel", k0, [lp.hOut, lp.hOut]);
    add(d0, "bias", b0, [lp.hOut]);
    const gate = layer("Multiply", `${name}/gate`, {}, [ssm, d0]);
    // The skip: pooled as the SSM's input is (layers.py), projected by Dense_1 when the width changes.
    let skip = skipIn;
    if (lp.stride > 1) skip = layer("EventPooling", `${name}/EventPooling`, { stride: lp.stride, mode: cfg.poolingMode }, [skip]);
    if (lp.hIn !== lp.hOut) {
      const k1 = P.get(`${name}/Dense_1/kernel`, [lp.hIn, lp.hOut]), b1 = P.get(`${name}/Dense_1/bias`, [lp.hOut]);
      skip = layer("Dense", `${name}/Dense_1`, { units: lp.hOut, activation: "linear", use_bias: true }, [skip]);
      add(skip, "kernel", k1, [lp.hIn, lp.hOut]);
      add(skip, "bias", b1, [lp.hOut]);
    }
    h = layer("Add", `${name}/add`, {}, [skip, gate]);
    if (!cfg.prenorm) h = norm("postnorm", name, lp.hOut, h);
    x = h;
    width = lp.hOut;
    down *= lp.stride;
  }

  const readout = layer("EventReadout", "readout", { mode: cfg.classificationMode }, [x]);
  summary.push({ name: readout, className: `EventReadout (${cfg.classificationMode})`, inputs: width, units: width });
  const decT = P.params.get("decoder/kernel");
  const K = cfg.numClasses ?? decT?.shape[1] ?? 0;
  const dk = P.get("decoder/kernel", [width, K]), db = P.get("decoder/bias", [K]);
  const out = layer("Dense", "decoder", { units: K, activation: "linear", use_bias: true }, [readout]);
  add(out, "kernel", dk, [width, K]);
  add(out, "bias", db, [K]);
  summary.push({ name: out, className: "Dense", inputs: width, units: K });
  P.checkAllUsed(`only the parameters of a ${cfg.numStages}-stage × ${cfg.numLayersPerStage}-layer ${cfg.prenorm ? "prenorm" : "postnorm"} ${cfg.batchnorm ? "BatchNorm" : "LayerNorm"} model`);

  if (cfg.batchnorm) notes.push("BatchNorm: evaluation mode (the running statistics in batch_stats), as event-ssm evaluates; nmc has no training-mode batch statistics");
  notes.push(`readout ${cfg.classificationMode}: over the first length // ${down} pooled steps${cfg.classificationMode === "last" ? " (last: the last PADDED step, as seq_model.py takes x[-1])" : ""}`);
  for (const i of cfg.ignored) notes.push(`config ${i}`);

  const modelName = basename(cfg.file).replace(/\.[^.]*$/, "") || "event-ssm";
  const m = layersModel(modelName, [], weights, {
    userDefinedMetadata: {
      nmc: { time: "events" },
      event_ssm: { commit: EVENT_SSM_COMMIT, params: basename(file), config: basename(cfg.file), total_downsampling: down },
    },
  });
  m.json.modelTopology = { class_name: "Model", config: { name: modelName, layers, input_layers: [[input, 0, 0]], output_layers: [[out, 0, 0]] } };
  return { model: m, layers: summary, layout: P.layout, readout: cfg.classificationMode, totalDownsampling: down, notes };
}
