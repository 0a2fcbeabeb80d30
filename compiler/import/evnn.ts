// `nmc import evnn`: an EvNN checkpoint (github.com/Efficient-Scalable-Machine-Learning/EvNN, the EGRU
// authors' PyTorch code) into the TensorFlow.js LayersModel the model.json frontend compiles.
//
// EvNN's EGRU module (frameworks/pytorch/egru.py:294-311) holds kernel [C, 3H], recurrent_kernel [H, 3H],
// bias [3H], recurrent_bias [3H] and thr [H], gate blocks z, r, g: exactly nmc's EGRU layout, so those copy
// untransposed. torch.nn.Linear weights are [out, in] and become Dense kernels [in, out]. The forward pass
// clamps thr into [0, 1] (egru.py:409), so the importer does too and says when that changed a value. Zoneout
// is a constructor argument, not in the state_dict: --zoneout gives it, written as the EGRU layer's `zoneout`.
// dampening_factor, pseudo_derivative_support (the surrogate gradient) and _max_norm (gradient clipping,
// egru.py:375-378) are in every state_dict and used only in training: named as ignored.
//
// Two layouts, those of EvNN's benchmarks (the fixtures in test/fixtures/evnn/ are checked against EvNN):
//  - row-by-row MNIST (benchmarks/egru/models.py RNNReadoutWrapper over RNNMultiLayerWrapper): layers
//    rnn.rnns.{l}.* (or rnn.rnns.{l}.rnn.*: smnist.py wraps each EGRU in RNNWrapper), then hidden2out.{weight,
//    bias} on the last step (smnist.py:159): readout `last`.
//  - the language model (benchmarks/lm/models.py LanguageModel): embeddings.weight, rnns.{l}.*, optional
//    decoder.projection.{weight, bias}, decoder.decoder.{weight, bias} (the weight tied to the embedding,
//    lm/models.py:122, so a file may hold only one of the two): logits at every step, readout `none`.
// Any other key is refused by name; so are missing layers, wrong shapes and non-finite values.
import { basename } from "node:path";
import { NmcError } from "../../ir/errors.js";
import type { Checkpoint, CheckpointTensor } from "./checkpoint.js";
import { layersModel, type LayerSpec, type LayersModel, type NamedWeight } from "./layers-model.js";

export type EvnnLayout = "smnist" | "lm";
export type EvnnReadout = "last" | "mean" | "none";
export const EVNN_READOUTS: readonly EvnnReadout[] = ["last", "mean", "none"];
/** The EvNN commit whose code this importer and its fixtures follow. */
export const EVNN_COMMIT = "b1d23e726390aa566448a3874002fbe3c22ecd37";

export interface EvnnImportOptions {
  /** EGRU(zoneout=p) of the trained model; 0 when not given. */
  zoneout?: number;
  /** Default: last (MNIST layout), none (language model). */
  readout?: EvnnReadout;
}

export interface ImportedLayer {
  name: string;
  className: string;
  inputs: number;
  units: number;
  /** The checkpoint keys it came from, as a pattern. */
  from: string;
}

export interface EvnnImport {
  layout: EvnnLayout;
  model: LayersModel;
  layers: ImportedLayer[];
  readout: EvnnReadout;
  zoneout: number;
  zoneoutGiven: boolean;
  /** Training-only tensors, not imported. */
  ignored: string[];
  /** thr tensors with values outside [0, 1], clamped as EvNN's forward pass does. */
  thrClamped: { key: string; clamped: number; of: number }[];
  /** Other facts the user should know (tied weights, state carried across batches). */
  notes: string[];
}

const EGRU_USED = ["kernel", "recurrent_kernel", "bias", "recurrent_bias", "thr"] as const;
type EgruParam = (typeof EGRU_USED)[number];
const EGRU_TRAINING = ["dampening_factor", "pseudo_derivative_support", "_max_norm"];
const INDEX = "(0|[1-9][0-9]*)";
const SMNIST_LAYER = new RegExp(`^rnn\\.rnns\\.${INDEX}\\.(rnn\\.)?([^.]+)$`);
const LM_LAYER = new RegExp(`^rnns\\.${INDEX}\\.([^.]+)$`);
const SMNIST_OTHER = ["hidden2out.weight", "hidden2out.bias"];
const LM_OTHER = ["embeddings.weight", "decoder.projection.weight", "decoder.projection.bias", "decoder.decoder.weight", "decoder.decoder.bias"];
const KNOWN_TEXT = {
  smnist: `rnn.rnns.N.{${[...EGRU_USED, ...EGRU_TRAINING].join(", ")}} (or rnn.rnns.N.rnn.*), hidden2out.{weight, bias}`,
  lm: `embeddings.weight, rnns.N.{${[...EGRU_USED, ...EGRU_TRAINING].join(", ")}}, decoder.projection.{weight, bias}, decoder.decoder.{weight, bias}`,
};
const F32_MAX = 3.4028234663852886e38;
const fmt = (s: readonly number[]) => `[${s.join(", ")}]`;

interface LayerKeys {
  /** e.g. "rnn.rnns.0." or "rnn.rnns.0.rnn." */
  prefix: string;
  params: Map<string, string>;
}

class Reader {
  constructor(readonly ckpt: Checkpoint) {}

  err(key: string, message: string, expected?: string, found?: string, hint?: string): NmcError {
    return new NmcError(message, { file: this.ckpt.file, path: key, expected, found, hint });
  }

  has(key: string): boolean {
    return this.ckpt.tensors.has(key);
  }

  /** The tensor `key` with exactly `shape`, finite, as float32; `why` explains the expected shape. */
  get(key: string, shape: number[], why = ""): Float32Array {
    const t = this.tensor(key);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw this.err(key, `tensor ${key} has the wrong shape`, `${fmt(shape)}${why ? ` (${why})` : ""}`, fmt(t.shape));
    }
    return this.finite(t);
  }

  tensor(key: string): CheckpointTensor {
    const t = this.ckpt.tensors.get(key);
    if (!t) throw this.err(key, `tensor ${key} is missing`, `a tensor named ${key}`, "none");
    return t;
  }

  finite(t: CheckpointTensor): Float32Array {
    const v = t.values;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      if (!Number.isFinite(x) || Math.abs(x) > F32_MAX) {
        const at = unravel(i, t.shape);
        throw this.err(t.key, `tensor ${t.key} element ${fmt(at)} is ${Number.isNaN(x) ? "NaN" : Number.isFinite(x) ? "too large for float32" : x > 0 ? "+Inf" : "-Inf"}`,
          "finite weights", String(x), "a diverged training run leaves NaN or Inf weights; export a checkpoint from before it diverged");
      }
    }
    return v instanceof Float32Array ? v : Float32Array.from(v);
  }

  /** A 2-D tensor's shape (for sizes the checkpoint defines), or an error. */
  shape2(key: string, what: string): [number, number] {
    const t = this.tensor(key);
    if (t.shape.length !== 2 || t.shape[0] === 0 || t.shape[1] === 0) throw this.err(key, `tensor ${key} has the wrong shape`, what, fmt(t.shape));
    return [t.shape[0]!, t.shape[1]!];
  }
}

function unravel(i: number, shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length).fill(0);
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = i % shape[d]!;
    i = Math.floor(i / shape[d]!);
  }
  return out;
}

function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c]!;
  return out;
}

function detectLayout(r: Reader): EvnnLayout {
  const keys = [...r.ckpt.tensors.keys()];
  const sm = keys.find((k) => k.startsWith("rnn.rnns.") || SMNIST_OTHER.includes(k));
  const lm = keys.find((k) => k.startsWith("rnns.") || LM_OTHER.includes(k));
  if (sm && lm) {
    throw r.err(lm, `the checkpoint mixes EvNN's MNIST layout (${sm}) and its language-model layout (${lm})`, "one model's state_dict");
  }
  if (!sm && !lm) {
    throw new NmcError("the checkpoint holds no EvNN EGRU model", {
      file: r.ckpt.file, expected: `EvNN's keys: ${KNOWN_TEXT.smnist}; or ${KNOWN_TEXT.lm}`,
      found: keys.length ? keys.slice(0, 5).join(", ") + (keys.length > 5 ? `, … (${keys.length} tensors)` : "") : "no tensors",
    });
  }
  return sm ? "smnist" : "lm";
}

/** Sorts every key into an EGRU layer, a known other tensor, or an error naming it. */
function classify(r: Reader, layout: EvnnLayout): { layers: LayerKeys[]; ignored: string[] } {
  const re = layout === "smnist" ? SMNIST_LAYER : LM_LAYER;
  const others = layout === "smnist" ? SMNIST_OTHER : LM_OTHER;
  const byIndex = new Map<number, LayerKeys>();
  const ignored: string[] = [];
  for (const key of r.ckpt.tensors.keys()) {
    if (others.includes(key)) continue;
    const m = re.exec(key);
    const param = m ? m[m.length - 1]! : "";
    if (!m || !(EGRU_USED.includes(param as EgruParam) || EGRU_TRAINING.includes(param))) {
      throw r.err(key, `unknown tensor ${key} in an EvNN ${layout === "smnist" ? "MNIST" : "language"} model`, KNOWN_TEXT[layout], key,
        "nmc imports EvNN's EGRU benchmark models only; a tensor it does not know could change the outputs");
    }
    const l = Number(m[1]);
    const prefix = key.slice(0, key.length - param.length);
    const layer = byIndex.get(l) ?? { prefix, params: new Map<string, string>() };
    if (layer.prefix !== prefix) throw r.err(key, `layer ${l} has tensors under two prefixes, ${layer.prefix}* and ${prefix}*`, "one prefix per layer", key);
    byIndex.set(l, layer);
    layer.params.set(param, key);
    if (EGRU_TRAINING.includes(param)) ignored.push(key);
  }
  const n = byIndex.size === 0 ? 0 : Math.max(...byIndex.keys()) + 1;
  const base = layout === "smnist" ? "rnn.rnns." : "rnns.";
  if (n === 0) throw r.err(`${base}0`, "the checkpoint has no EGRU layers", `${base}0.kernel and the rest of layer 0`, "none");
  const layers: LayerKeys[] = [];
  for (let l = 0; l < n; l++) {
    const layer = byIndex.get(l);
    if (!layer) {
      const present = [...byIndex.keys()].sort((a, b) => a - b).map((i) => `${base}${i}`).join(", ");
      throw r.err(`${base}${l}`, `EGRU layer ${base}${l} is missing`, `layers ${base}0 … ${base}${n - 1} without gaps`, `only ${present}`);
    }
    for (const p of EGRU_USED) if (!layer.params.has(p)) throw r.err(`${layer.prefix}${p}`, `tensor ${layer.prefix}${p} is missing`, `${EGRU_USED.map((x) => layer.prefix + x).join(", ")}`, "none");
    layers.push(layer);
  }
  return { layers, ignored };
}

interface EgruOut {
  spec: LayerSpec;
  weights: NamedWeight[];
  units: number;
  clamped?: { key: string; clamped: number; of: number };
}

function egruLayer(r: Reader, keys: LayerKeys, l: number, C: number, inputFrom: string, zoneout: number, inputShape?: (number | null)[]): EgruOut {
  const k = (p: EgruParam) => keys.params.get(p)!;
  const [H, H3] = r.shape2(k("recurrent_kernel"), "[H, 3H]: H units, three gate blocks z, r, g");
  if (H3 !== 3 * H) throw r.err(k("recurrent_kernel"), `tensor ${k("recurrent_kernel")} has the wrong shape`, `[H, 3H] = ${fmt([H, 3 * H])}`, fmt([H, H3]));
  const kernel = r.get(k("kernel"), [C, 3 * H], `${C} inputs from ${inputFrom}, 3 × ${H} gate columns`);
  const recurrent = r.get(k("recurrent_kernel"), [H, 3 * H]);
  const bias = r.get(k("bias"), [3 * H], "3 × H");
  const recurrentBias = r.get(k("recurrent_bias"), [3 * H], "3 × H");
  const thrRaw = r.get(k("thr"), [H], "one threshold per unit");
  // egru.py:409: EvNN clamps the thresholds into [0, 1] in every forward pass.
  let clamped = 0;
  const thr = Float32Array.from(thrRaw, (v) => {
    const c = Math.min(1, Math.max(0, v));
    if (c !== v) clamped++;
    return c;
  });
  const name = `egru_${l}`;
  const config: Record<string, unknown> = { name, units: H, zoneout };
  if (inputShape) config.batch_input_shape = inputShape;
  return {
    spec: { class_name: "EGRU", config },
    weights: [
      { name: `${name}/kernel`, shape: [C, 3 * H], values: kernel },
      { name: `${name}/recurrent_kernel`, shape: [H, 3 * H], values: recurrent },
      { name: `${name}/bias`, shape: [3 * H], values: bias },
      { name: `${name}/recurrent_bias`, shape: [3 * H], values: recurrentBias },
      { name: `${name}/thr`, shape: [H], values: thr },
    ],
    units: H,
    clamped: clamped ? { key: k("thr"), clamped, of: H } : undefined,
  };
}

/** torch.nn.Linear `prefix`.{weight [out, in], bias [out]} as a Dense layer (kernel [in, out]). */
function linearLayer(r: Reader, prefix: string, name: string, inputs: number, inputFrom: string, out?: number, weightKey = `${prefix}.weight`): { spec: LayerSpec; weights: NamedWeight[]; units: number } {
  const [K, I] = r.shape2(weightKey, `[out, ${inputs}] (torch.nn.Linear: [out_features, in_features])`);
  // The output count: given, else the bias's length (so a transposed weight is reported as such).
  const bias = r.has(`${prefix}.bias`) ? r.tensor(`${prefix}.bias`) : undefined;
  const want = out ?? (bias?.shape.length === 1 && bias.shape[0]! > 0 ? bias.shape[0]! : K);
  if (I !== inputs || K !== want) {
    throw r.err(weightKey, `tensor ${weightKey} has the wrong shape`,
      `${fmt([want, inputs])} (torch.nn.Linear [out, in]; ${inputs} inputs from ${inputFrom}, ${want} outputs)`, fmt([K, I]));
  }
  const w = r.get(weightKey, [K, I]);
  const b = r.get(`${prefix}.bias`, [K], `one per output of ${weightKey}`);
  return {
    spec: { class_name: "Dense", config: { name, units: K, activation: "linear", use_bias: true } },
    weights: [{ name: `${name}/kernel`, shape: [I, K], values: transpose(w, K, I) }, { name: `${name}/bias`, shape: [K], values: b }],
    units: K,
  };
}

export function importEvnn(ckpt: Checkpoint, opts: EvnnImportOptions = {}): EvnnImport {
  const zoneout = opts.zoneout ?? 0;
  if (!(Number.isFinite(zoneout) && zoneout >= 0 && Math.fround(zoneout) < 1)) {
    throw new NmcError("invalid zoneout", { expected: "a probability in [0, 1)", found: String(zoneout) });
  }
  const r = new Reader(ckpt);
  const layout = detectLayout(r);
  const { layers: keys, ignored } = classify(r, layout);
  const readout = opts.readout ?? (layout === "smnist" ? "last" : "none");
  const specs: LayerSpec[] = [];
  const weights: NamedWeight[] = [];
  const summary: ImportedLayer[] = [];
  const thrClamped: EvnnImport["thrClamped"] = [];
  const notes: string[] = [];
  const add = (x: { spec: LayerSpec; weights: NamedWeight[] }, s: ImportedLayer) => {
    specs.push(x.spec);
    weights.push(...x.weights);
    summary.push(s);
  };

  let width: number;
  let from: string;
  if (layout === "smnist") {
    [width] = r.shape2(keys[0]!.params.get("kernel")!, "[C, 3H]: C inputs per step, three gate blocks of H");
    from = "the input";
  } else {
    // lm/models.py:113,122: the embedding and the decoder share one [vocab, emb] matrix.
    const tableKey = r.has("embeddings.weight") ? "embeddings.weight" : "decoder.decoder.weight";
    if (!r.has(tableKey)) throw r.err("embeddings.weight", "tensor embeddings.weight is missing", "the embedding table [vocab, emb]", "none");
    if (tableKey !== "embeddings.weight") notes.push("embeddings.weight is absent: the embedding is decoder.decoder.weight, the tensor EvNN ties it to (lm/models.py:122)");
    const [V, E] = r.shape2(tableKey, "[vocab, emb]");
    add({
      spec: { class_name: "Embedding", config: { name: "embeddings", input_dim: V, output_dim: E, batch_input_shape: [null, null] } },
      weights: [{ name: "embeddings/embeddings", shape: [V, E], values: r.get(tableKey, [V, E]) }],
    }, { name: "embeddings", className: "Embedding", inputs: V, units: E, from: tableKey });
    width = E;
    from = tableKey;
    notes.push("EvNN's language-model evaluation carries each batch's last outputs into the next (lm/models.py:207); nmc starts every sequence from zero");
  }

  keys.forEach((k, l) => {
    const inputShape = layout === "smnist" && l === 0 ? [null, null, width] : undefined;
    const e = egruLayer(r, k, l, width, from, zoneout, inputShape);
    add(e, { name: `egru_${l}`, className: "EGRU", inputs: width, units: e.units, from: `${k.prefix}*` });
    if (e.clamped) thrClamped.push(e.clamped);
    width = e.units;
    from = k.prefix.slice(0, -1);
  });

  if (layout === "smnist") {
    const d = linearLayer(r, "hidden2out", "hidden2out", width, from);
    add(d, { name: "hidden2out", className: "Dense", inputs: width, units: d.units, from: "hidden2out.*" });
  } else {
    const hasW = r.has("decoder.projection.weight"), hasB = r.has("decoder.projection.bias");
    if (hasW !== hasB) {
      const missing = hasW ? "decoder.projection.bias" : "decoder.projection.weight";
      throw r.err(missing, `tensor ${missing} is missing`, "both decoder.projection.weight and .bias, or neither", "only one");
    }
    if (hasW) {
      const p = linearLayer(r, "decoder.projection", "projection", width, from);
      add(p, { name: "projection", className: "Dense", inputs: width, units: p.units, from: "decoder.projection.*" });
      width = p.units;
      from = "decoder.projection";
    }
    let weightKey = "decoder.decoder.weight";
    if (!r.has(weightKey)) {
      weightKey = "embeddings.weight";
      notes.push("decoder.decoder.weight is absent: the decoder uses embeddings.weight, the tensor EvNN ties it to (lm/models.py:122)");
      const [, E] = r.shape2(weightKey, "[vocab, emb]");
      if (E !== width) {
        throw r.err("decoder.decoder.weight", "tensor decoder.decoder.weight is missing, and embeddings.weight cannot stand in for it",
          `a decoder [vocab, ${width}] (${width} inputs from ${from}), or an embedding of width ${width} to tie it to`, `embeddings.weight of width ${E}`);
      }
    }
    const d = linearLayer(r, "decoder.decoder", "decoder", width, from, undefined, weightKey);
    add(d, { name: "decoder", className: "Dense", inputs: width, units: d.units, from: weightKey === "embeddings.weight" ? "embeddings.weight (tied), decoder.decoder.bias" : "decoder.decoder.*" });
  }

  const meta: Record<string, unknown> = {
    evnn: {
      imported_by: "nmc import evnn", checkpoint: basename(ckpt.file), sha256: ckpt.sha256, layout, evnn_commit: EVNN_COMMIT,
      zoneout, ignored, thr_clamped: thrClamped,
    },
  };
  if (readout !== "none") meta.nmc = { readout };
  const model = layersModel(layout === "smnist" ? "evnn_smnist" : "evnn_lm", specs, weights, { generatedBy: "nmc import evnn", userDefinedMetadata: meta });
  return { layout, model, layers: summary, readout, zoneout, zoneoutGiven: opts.zoneout !== undefined, ignored, thrClamped, notes };
}
