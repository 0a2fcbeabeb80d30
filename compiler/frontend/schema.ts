// The model.json format nmc accepts (TensorFlow.js LayersModel), as zod schemas. Validation failures
// become NmcErrors carrying the JSON path, what was expected and what was found.
import { z } from "zod";
import { NmcError } from "../../ir/errors.js";

export const WeightEntrySchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  dtype: z.enum(["float32", "int32", "bool"]),
  quantization: z.object({
    dtype: z.enum(["uint8", "uint16", "int8", "float16"]),
    scale: z.number().optional(),
    min: z.number().optional(),
    original_dtype: z.string().optional(),
  }).optional(),
});
export type WeightEntry = z.infer<typeof WeightEntrySchema>;

export const ManifestGroupSchema = z.object({
  paths: z.array(z.string().min(1)).min(1),
  weights: z.array(WeightEntrySchema),
});
export type ManifestGroup = z.infer<typeof ManifestGroupSchema>;

export const LayerSchema = z.looseObject({
  class_name: z.string().min(1),
  config: z.looseObject({}),
  name: z.string().optional(),
  inbound_nodes: z.array(z.unknown()).optional(),
});
export type LayerJson = z.infer<typeof LayerSchema>;

export const NmcMetaSchema = z.object({
  readout: z.enum(["last", "mean", "sum"]).optional(),
}).loose();

export const ModelJsonSchema = z.looseObject({
  format: z.string().optional(),
  modelTopology: z.looseObject({
    class_name: z.string(),
    config: z.union([z.looseObject({}), z.array(z.unknown())]),
  }),
  weightsManifest: z.array(ManifestGroupSchema),
  userDefinedMetadata: z.looseObject({ nmc: NmcMetaSchema.optional() }).optional(),
  nmc: NmcMetaSchema.optional(),
});
export type ModelJson = z.infer<typeof ModelJsonSchema>;

// ---- layer configs, one schema per supported class ----

const positiveInt = z.number().int().positive();
const shape = z.array(z.number().int().positive().nullable());

export const LayerConfigSchemas = {
  InputLayer: z.looseObject({ batch_input_shape: shape.optional(), batch_shape: shape.optional(), name: z.string().optional() }),
  EGRU: z.looseObject({ units: positiveInt }),
  DiagonalSSM: z.looseObject({ state_size: positiveInt, parameterization: z.enum(["lru", "s5"]) }),
  Dense: z.looseObject({
    units: positiveInt,
    activation: z.enum(["linear", "relu", "sigmoid", "tanh", "gelu", "softmax"]).default("linear"),
    use_bias: z.boolean().default(true),
  }),
  Embedding: z.looseObject({ input_dim: positiveInt, output_dim: positiveInt }),
  Dropout: z.looseObject({ rate: z.number().min(0).max(1).optional() }),
  Activation: z.looseObject({ activation: z.enum(["linear", "relu", "sigmoid", "tanh", "gelu", "softmax"]) }),
  TimeDistributed: z.looseObject({ layer: LayerSchema.omit({ inbound_nodes: true }) }),
} as const;
export type SupportedClass = keyof typeof LayerConfigSchemas;

// ---- zod issue → NmcError ----

export function jsonPath(parts: readonly PropertyKey[]): string {
  let s = "";
  for (const p of parts) s += typeof p === "number" ? `[${p}]` : s ? `.${String(p)}` : String(p);
  return s;
}

function describe(v: unknown): string {
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
