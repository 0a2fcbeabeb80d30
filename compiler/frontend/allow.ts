// Nothing silent: every key of model.json is either read by nmc (the zod schemas in schema.ts and the
// topology reader say which) or on the one allow-list below, because ignoring it cannot change inference
// outputs. Any other key is refused with its JSON path. Where only some values are harmless (a dtype, a
// mask_zero flag), the rule says which and the rest are refused too. docs/architecture.md lists this table.
// (EGRU `zoneout` is no longer here: nmc reads it, schema.ts.)
import { NmcError } from "../../ir/errors.js";
import type { z } from "zod";
import { describe, jsonPath, parseWith } from "./schema.js";

/** Where in model.json a key sits: an object kind, or a layer class for its `config`. */
export type Scope =
  | "model" // the top-level object
  | "modelTopology"
  | "topologyConfig" // modelTopology.config of a Sequential / functional model
  | "layer" // one entry of layers[] (class_name, config, ...)
  | "config" // every layer's config, whatever its class
  | "userDefinedMetadata"
  | "quantization" // weightsManifest[g].weights[i].quantization
  | "inboundKwargs" // the call arguments of a functional layer's inbound node
  | "InputLayer" | "EGRU" | "DiagonalSSM" | "Dense" | "Embedding" | "Dropout" | "Activation" | "TimeDistributed" | "BatchNormalization" | "LayerNormalization"
  | "EventPooling" | "EventReadout"
  | "Add" | "Average" | "Multiply" | "Subtract" | "Concatenate";

export interface AllowRule {
  scopes: readonly Scope[];
  /** The key; "*_x" matches every key ending in "_x", "*" every key. */
  key: string;
  /** Why ignoring it cannot change inference outputs. */
  reason: string;
  /** When only some values are harmless: which, in words and as a test. The others are refused. */
  expected?: string;
  accepts?: (v: unknown) => boolean;
  /** What to do about a refused value. */
  hint?: string;
  /** How to show a refused value, when describe() would say only "an object". */
  show?: (v: unknown) => string;
}

const isFloat32 = (v: unknown): boolean =>
  v === "float32" || v === null ||
  // Keras 3 writes a DTypePolicy object; its compute and variable dtype is config.name.
  (typeof v === "object" && !Array.isArray(v) && (v as { config?: { name?: unknown } }).config?.name === "float32");
const falsy = (v: unknown): boolean => v === false || v === null;
const showDtype = (v: unknown): string => {
  const name = (v as { config?: { name?: unknown } } | null)?.config?.name;
  return typeof name === "string" ? `a DTypePolicy ${JSON.stringify(name)}` : describe(v);
};
const DTYPE = { expected: '"float32" (or null, or a float32 DTypePolicy)', accepts: isFloat32, show: showDtype, hint: "nmc computes in float32 (then its own quantized formats); re-export the model in float32" };
const ANY_LAYER_CONFIG: Scope[] = ["config"];
const RECURRENT: Scope[] = ["EGRU", "DiagonalSSM"];

export const ALLOW_LIST: readonly AllowRule[] = [
  // ---- the file, the topology ----
  { scopes: ["model"], key: "generatedBy", reason: "provenance: the library that wrote the file" },
  { scopes: ["model"], key: "convertedBy", reason: "provenance: the converter, if any" },
  { scopes: ["model"], key: "trainingConfig", reason: "loss, metrics and optimizer: used only to continue training" },
  { scopes: ["modelTopology"], key: "keras_version", reason: "provenance: the writer's version" },
  { scopes: ["modelTopology"], key: "backend", reason: "provenance: the backend the model was trained on" },
  { scopes: ["modelTopology"], key: "training_config", reason: "Keras's trainingConfig: used only to continue training" },
  { scopes: ["userDefinedMetadata"], key: "*", reason: "user data tfjs stores and never interprets (nmc reads only its own `nmc` entry)" },
  { scopes: ["quantization"], key: "original_dtype", reason: "the dtype before quantization; nmc dequantizes every weight to float32" },
  // ---- every layer object and config ----
  { scopes: ["layer"], key: "module", reason: "Keras 3: the Python module of the class; nmc dispatches on class_name" },
  { scopes: ["layer"], key: "registered_name", reason: "Keras 3: the registration name of the class; nmc dispatches on class_name" },
  { scopes: ["layer", "topologyConfig"], key: "build_config", reason: "Keras 3: the input shape the layer was built with; weight shapes are checked against the manifest" },
  { scopes: ["topologyConfig"], key: "build_input_shape", reason: "Keras 3 Sequential: the input shape it was built with; weight shapes are checked against the manifest" },
  { scopes: ["config", "topologyConfig"], key: "trainable", reason: "whether training updates the weights" },
  { scopes: ["config", "topologyConfig"], key: "dtype", reason: "the dtype the layer computes in, float32 as nmc's float engine", ...DTYPE },
  { scopes: ANY_LAYER_CONFIG, key: "batch_input_shape", reason: "the input shape: read from the model's first layer; tfjs ignores it elsewhere too" },
  { scopes: ANY_LAYER_CONFIG, key: "batch_shape", reason: "Keras 3's batch_input_shape: read from the model's first layer; ignored elsewhere" },
  { scopes: ANY_LAYER_CONFIG, key: "input_dtype", reason: "the dtype inputs are cast to, float32 as nmc reads inputs", ...DTYPE },
  { scopes: ANY_LAYER_CONFIG, key: "batch_size", reason: "a fixed batch size; nmc runs any batch, each sequence independently" },
  { scopes: ANY_LAYER_CONFIG, key: "*_initializer", reason: "initial weight values: the trained values are in the weight shards" },
  { scopes: ANY_LAYER_CONFIG, key: "*_regularizer", reason: "a training-loss term (activity_regularizer too)" },
  { scopes: ANY_LAYER_CONFIG, key: "*_constraint", reason: "a projection the optimizer applies after each training step" },
  { scopes: ANY_LAYER_CONFIG, key: "seed", reason: "the random seed of initializers and training-time dropout" },
  { scopes: ANY_LAYER_CONFIG, key: "dropout", reason: "a dropout rate: dropout is inactive at inference" },
  { scopes: ANY_LAYER_CONFIG, key: "recurrent_dropout", reason: "a dropout rate: dropout is inactive at inference" },
  // ---- per class ----
  { scopes: ["InputLayer"], key: "sparse", reason: "sparse input storage gives the same values", expected: "false or null", accepts: falsy, hint: "nmc reads dense inputs" },
  { scopes: ["InputLayer"], key: "ragged", reason: "ragged input storage", expected: "false or null", accepts: falsy, hint: "nmc reads one length per batch; pad ragged sequences" },
  { scopes: ["Dropout"], key: "noise_shape", reason: "the shape of the training-time dropout mask" },
  { scopes: RECURRENT, key: "return_sequences", reason: "nmc layers return the whole sequence, as true says", expected: "true", accepts: (v) => v === true, hint: "a readout (nmc.readout metadata or --readout last) gives the last step" },
  { scopes: RECURRENT, key: "stateful", reason: "state carried across batches; nmc starts each sequence from zero, as false says", expected: "false or null", accepts: falsy },
  { scopes: RECURRENT, key: "go_backwards", reason: "nmc runs forward in time, as false says", expected: "false or null", accepts: falsy },
  { scopes: RECURRENT, key: "unroll", reason: "how the training graph is scheduled; same outputs" },
  { scopes: ["EGRU"], key: "dampening_factor", reason: "EvNN's surrogate gradient of the spike step: backward pass only" },
  { scopes: ["EGRU"], key: "pseudo_derivative_support", reason: "EvNN's surrogate gradient support: backward pass only" },
  { scopes: ["EGRU"], key: "thr_mean", reason: "mean of the initial thresholds; the trained thresholds are the thr weight" },
  { scopes: ["EGRU"], key: "activity_regularization", reason: "weight of EvNN's activity loss term: training only" },
  { scopes: ["DiagonalSSM"], key: "r_min", reason: "LRU initialization range of the magnitude of Λ; the trained Λ is in the weights" },
  { scopes: ["DiagonalSSM"], key: "r_max", reason: "LRU initialization range of the magnitude of Λ; the trained Λ is in the weights" },
  { scopes: ["DiagonalSSM"], key: "max_phase", reason: "LRU initialization range of arg Λ; the trained Λ is in the weights" },
  { scopes: ["DiagonalSSM"], key: "step_min", reason: "S5 initialization range of the step Δ; the trained log_step is a weight" },
  { scopes: ["DiagonalSSM"], key: "step_max", reason: "S5 initialization range of the step Δ; the trained log_step is a weight" },
  { scopes: ["Dense"], key: "lora_rank", reason: "Keras 3 LoRA: null means none", expected: "null", accepts: (v) => v === null, hint: "merge the LoRA update into the kernel before exporting" },
  { scopes: ["Embedding"], key: "input_length", reason: "a fixed sequence length for shape inference; nmc runs any length" },
  { scopes: ["Embedding"], key: "mask_zero", reason: "false: token 0 is an ordinary token", expected: "false or null", accepts: falsy, hint: "masking skips time steps in later layers; nmc does not implement masks" },
  { scopes: ["Embedding"], key: "sparse", reason: "Keras 3: sparse gradients; the same forward values", expected: "false or null", accepts: falsy },
  { scopes: ["BatchNormalization"], key: "momentum", reason: "the update rate of the moving statistics in training; inference reads the moving_mean and moving_variance weights" },
  { scopes: ["BatchNormalization"], key: "synchronized", reason: "Keras 3: whether training syncs batch statistics across devices; inference uses the moving statistics" },
  { scopes: ["BatchNormalization"], key: "fused", reason: "Keras 2: which kernel computes the same normalization" },
  { scopes: ["BatchNormalization"], key: "renorm", reason: "Keras 2 batch renormalization changes training only; inference uses the moving statistics either way (its extra weights are reported unused)" },
  { scopes: ["BatchNormalization"], key: "renorm_clipping", reason: "Keras 2 batch renormalization: training only" },
  { scopes: ["BatchNormalization"], key: "renorm_momentum", reason: "Keras 2 batch renormalization: training only" },
  {
    scopes: ["LayerNormalization"], key: "rms_scaling", reason: "Keras 3: false is the ordinary layer normalization nmc computes", expected: "false or null", accepts: falsy,
    hint: "RMS normalization (no mean subtraction) is not implemented",
  },
  { scopes: ["inboundKwargs"], key: "training", reason: "false or null: inference mode, which nmc computes", expected: "false or null", accepts: falsy },
  { scopes: ["inboundKwargs"], key: "mask", reason: "null: no mask", expected: "null", accepts: (v) => v === null, hint: "nmc does not implement masks" },
];

function matches(rule: AllowRule, key: string): boolean {
  if (rule.key === "*") return true;
  if (rule.key.startsWith("*")) return key.endsWith(rule.key.slice(1)) && key.length > rule.key.length - 1;
  return rule.key === key;
}

/** The first rule for `key` in the first scope that has one (class scopes before "config"). */
export function allowRule(scopes: readonly Scope[], key: string): AllowRule | undefined {
  for (const s of scopes) {
    const r = ALLOW_LIST.find((rule) => rule.scopes.includes(s) && matches(rule, key));
    if (r) return r;
  }
  return undefined;
}

export interface KeyCheck {
  file: string;
  /** JSON path parts of the object. */
  base: readonly PropertyKey[];
  /** The keys nmc reads here. */
  honoured: readonly string[];
  scopes: readonly Scope[];
  /** What the object is, for the message ("EGRU config"). */
  what: string;
  node?: string;
}

/** Refuses the first key of `obj` that nmc neither reads nor allows, or an allowed key with a value that matters. */
export function checkKeys(obj: unknown, c: KeyCheck): void {
  if (obj === null || typeof obj !== "object" || Array.isArray(obj)) return; // the schema reports the type
  const rec = obj as Record<string, unknown>;
  for (const key of Object.keys(rec)) {
    if (c.honoured.includes(key)) continue;
    const path = jsonPath([...c.base, key]);
    const rule = allowRule(c.scopes, key);
    if (!rule) {
      throw new NmcError(`${c.what} has a key nmc does not read: ${key}`, {
        file: c.file, path, node: c.node, found: `${JSON.stringify(key)}: ${describe(rec[key])}`,
        expected: c.scopes.length ? `only ${c.honoured.length ? c.honoured.join(", ") + " or " : ""}keys on nmc's allow-list` : `only ${c.honoured.join(", ")}`,
        hint: "nmc refuses settings it does not honour rather than ignore them (docs/architecture.md, \"model.json: what is read, what is refused\")",
      });
    }
    if (rule.accepts && !rule.accepts(rec[key])) {
      const found = (rule.show ?? describe)(rec[key]);
      throw new NmcError(`${c.what}: ${key} ${found} changes the outputs and nmc does not implement it`, {
        file: c.file, path, node: c.node, expected: rule.expected, found, hint: rule.hint,
      });
    }
  }
}

/** Parses an object with its zod schema (the keys nmc reads, and their values), then checks its other keys. */
export function parseChecked<T>(schema: z.ZodObject & z.ZodType<T>, value: unknown, c: Omit<KeyCheck, "honoured"> & { honoured?: readonly string[] }): T {
  const out = parseWith(schema, value, c.file, c.base, c.what, c.node);
  checkKeys(value, { ...c, honoured: [...Object.keys(schema.shape), ...(c.honoured ?? [])] });
  return out;
}
