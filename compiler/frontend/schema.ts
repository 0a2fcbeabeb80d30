// The model.json format nmc accepts (TensorFlow.js LayersModel), as zod schemas. Validation failures
// become NmcErrors carrying the JSON path, what was expected and what was found.
import { z } from "zod";
import { NmcError } from "../../ir/errors.js";
import { ACTIVATIONS, type Activation, MAX_UNITS } from "../../ir/types.js";

// Every activation the IR has (one list, ir/types.ts); others are refused naming these.
const activation = z.enum(ACTIVATIONS as readonly Activation[] as [Activation, ...Activation[]]);

// Object schemas list the keys nmc reads (and check their values); any other key is refused or allowed by
// the allow-list in allow.ts, checked separately (zod would drop it silently).

export const QuantizationSchema = z.object({
  dtype: z.enum(["uint8", "uint16", "int8", "float16"]),
  scale: z.number().optional(),
  min: z.number().optional(),
});

export const WeightEntrySchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.enum(["float32", "int32", "bool"]),
  /** tfjs stores optimizer state beside the weights when asked to; nmc skips it. */
  group: z.enum(["model", "optimizer"]).optional(),
  quantization: QuantizationSchema.optional(),
});
export type WeightEntry = z.infer<typeof WeightEntrySchema>;

export const ManifestGroupSchema = z.object({
  paths: z.array(z.string().min(1)).min(1),
  weights: z.array(WeightEntrySchema),
});
export type ManifestGroup = z.infer<typeof ManifestGroupSchema>;

export const LayerSchema = z.object({
  class_name: z.string().min(1),
  config: z.looseObject({}),
  name: z.string().optional(),
  inbound_nodes: z.array(z.unknown()).optional(),
});
export type LayerJson = z.infer<typeof LayerSchema>;

export const NmcMetaSchema = z.object({
  readout: z.enum(["last", "mean", "sum"]).optional(),
  // "events": event time, every input step is one event with its own time step Δt (ms) and every sequence a
  // length (ir/types.ts InputPopulation.eventTime; nmc import event-ssm writes it). "ticks" (default): fixed steps.
  time: z.enum(["ticks", "events"]).optional(),
  // A token model's vocabulary: the string of every token id (entry i is token i), for nmc generate. It travels
  // into the IR's and the bundle's graph metadata (Graph.meta.vocabulary, a JSON array).
  vocabulary: z.array(z.string()).optional(),
});

export const UserMetaSchema = z.looseObject({ nmc: NmcMetaSchema.optional() });

export const TopologySchema = z.object({
  class_name: z.string(),
  config: z.union([z.looseObject({}), z.array(z.unknown())]),
});

/** The top level; `modelTopology` is checked with TopologySchema once a `model_config` wrapper is removed. */
export const ModelJsonSchema = z.object({
  format: z.string().optional(),
  modelTopology: z.looseObject({}),
  weightsManifest: z.array(ManifestGroupSchema),
  userDefinedMetadata: UserMetaSchema.optional(),
  nmc: NmcMetaSchema.optional(),
});
export type ModelJson = Omit<z.infer<typeof ModelJsonSchema>, "modelTopology"> & {
  modelTopology: z.infer<typeof TopologySchema>;
  /** JSON path of the topology: ["modelTopology"], or ["modelTopology", "model_config"] when wrapped. */
  topologyBase: readonly string[];
};

// ---- layer configs, one schema per supported class (`name` is read for every class) ----

const positiveInt = z.number().int().positive();
/** A width (units, state size, vocabulary): a positive integer no larger than MAX_UNITS (ir/types.ts). */
const width = positiveInt.max(MAX_UNITS, `at most ${MAX_UNITS} (nmc's widest population)`);
export const ShapeSchema = z.array(z.number().int().positive().nullable());

export const LayerConfigSchemas = {
  InputLayer: z.object({ batch_input_shape: ShapeSchema.optional(), batch_shape: ShapeSchema.optional(), name: z.string().optional() }),
  // zoneout: EvNN's zoneout probability p, honoured at inference as its compiled kernel does (layers.ts;
  // docs/model-math.md, "EGRU zoneout"); null or absent: 0. EvNN itself accepts p = 1 (the state never
  // changes); nmc takes [0, 1).
  EGRU: z.object({
    units: width,
    zoneout: z.number().min(0, "zoneout must be in [0, 1)").refine((v) => Math.fround(v) < 1, "zoneout must be in [0, 1) (as the float32 EvNN reads)").nullable().optional(),
  }),
  // Event time (event-ssm's S5SSM, compiler/frontend/event.ts): `discretization` async | zoh | dirac with the
  // S5 weights, conj_sym (factor 2 on Re(C x)), clip_eigs (Re Λ ≤ −1e−4), step_rescale, stride and pool (the
  // S5SSM's own subsampling), units (H_out, default the input width: D is then a [H_out, H_in] matrix). Without
  // discretization those keys are refused: the fixed-step form has none of them.
  DiagonalSSM: z.object({
    state_size: width,
    parameterization: z.enum(["lru", "s5"]),
    discretization: z.enum(["async", "zoh", "dirac"]).optional(),
    conj_sym: z.boolean().optional(),
    clip_eigs: z.boolean().optional(),
    step_rescale: z.number().positive().optional(),
    stride: positiveInt.optional(),
    pool: z.enum(["last", "avgpool", "timepool"]).optional(),
    units: width.optional(),
  }),
  Dense: z.object({
    units: width,
    activation: activation.default("linear"),
    // false: no bias weight is read and the bias is zero.
    use_bias: z.boolean().default(true),
  }),
  // negative_ids "wrap": a negative token id −k reads row V − k, as jnp.take does (event-ssm pads with −1, which
  // reads the LAST row); absent: ids must be in [0, V).
  Embedding: z.object({ input_dim: width, output_dim: width, negative_ids: z.enum(["wrap"]).optional() }),
  // Dropout is the identity at inference whatever the rate; the rate is still checked to be one.
  Dropout: z.object({ rate: z.number().min(0).max(1).optional() }),
  Activation: z.object({ activation }),
  TimeDistributed: z.object({ layer: LayerSchema.omit({ inbound_nodes: true }) }),
  // At inference: y = γ·(x − μ)/√(σ² + ε) + β per feature (batchnorm.ts). `axis` is an int or, as Keras 2
  // writes it after building, a list; only the feature axis is accepted there. center/scale false: no β / γ
  // weight is read (β = 0, γ = 1), as tfjs then saves none.
  BatchNormalization: z.object({
    axis: z.union([z.number().int(), z.array(z.number().int())]).default(-1),
    epsilon: z.number().nonnegative().default(1e-3),
    center: z.boolean().default(true),
    scale: z.boolean().default(true),
  }),
  // y = γ·(x − mean)/√(var + ε) + β over the features of one tick (layernorm.ts). `axis` as tfjs writes it
  // after building ([2] for [batch, time, features]); only the feature axis is accepted. center/scale false:
  // no β / γ weight is read (β = 0, γ = 1).
  LayerNormalization: z.object({
    axis: z.union([z.number().int(), z.array(z.number().int())]).default(-1),
    epsilon: z.number().nonnegative().default(1e-3),
    center: z.boolean().default(true),
    scale: z.boolean().default(true),
  }),
  // event-ssm's EventPooling (layers.py): groups of `stride` steps into one; later layers step once per group.
  EventPooling: z.object({ stride: z.number().int().min(2), mode: z.enum(["last", "avgpool", "timepool"]) }),
  // event-ssm's classification readouts (seq_model.py): one value per sequence, which later layers (the decoder
  // Dense) read. pool: masked mean; timepool: Δt-weighted masked sum over the total time; last: the last step.
  EventReadout: z.object({ mode: z.enum(["pool", "timepool", "last"]) }),
} as const;
export type SupportedClass = keyof typeof LayerConfigSchemas;

/** Merge layers of functional models (merge.ts): they read several inbound layers. */
export const MergeConfigSchemas = {
  Add: z.object({}),
  Average: z.object({}),
  Multiply: z.object({}),
  Subtract: z.object({}),
  Concatenate: z.object({ axis: z.number().int().optional() }),
} as const;
export type MergeClass = keyof typeof MergeConfigSchemas;

// ---- zod issue → NmcError ----

export function jsonPath(parts: readonly PropertyKey[]): string {
  let s = "";
  for (const p of parts) s += typeof p === "number" ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s;
}

export function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === "object") return "an object";
  const s = JSON.stringify(v);
  return `${typeof v} ${s.length > 40 ? s.slice(0, 40) + "…" : s}`;
}

function valueAt(root: unknown, parts: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const p of parts) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** Parses `value` (found at `basePath` in `file`) or throws an NmcError for the first problem. */
export function parseWith<T>(schema: z.ZodType<T>, value: unknown, file: string, basePath: readonly PropertyKey[], what: string, node?: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const parts = [...basePath, ...issue.path];
  const expected = issue.code === "invalid_type" ? issue.expected
    : issue.code === "invalid_value" ? `one of ${issue.values.map((x) => JSON.stringify(x)).join(", ")}`
    : undefined;
  throw new NmcError(`${what}: ${issue.message.replace(/^Invalid input: /, "")}`, {
    file, path: jsonPath(parts), expected, found: describe(valueAt(value, issue.path)), node,
  });
}
