// The hydra model configuration of an event-ssm model (github.com/Efficient-Scalable-Machine-Learning/
// event-ssm, configs/model/*/*.yaml): `model.ssm_init` (the arguments of init_S5SSM) and `model.ssm` (those of
// ClassificationModel), plus num_embeddings and num_classes, which event-ssm takes from the dataset. Read from
// YAML with the `yaml` package. Every key is read, on a list of keys that cannot change inference outputs, or
// refused by name (exit 2).
import { composeHydra, hasDefaults, parseYamlText, readConfigText } from "./hydra.js";
import { NmcError } from "../../ir/errors.js";
import type { Discretization, PoolMode } from "../../ir/types.js";

export type ClassificationMode = "pool" | "timepool" | "last";

/** An event-ssm model's configuration, as nmc honours it. */
export interface EventSsmConfig {
  file: string;
  /** ssm_init */
  cInit: string;
  conjSym: boolean;
  clipEigs: boolean;
  /** ssm */
  discretization: Discretization;
  dModel: number;
  dSsm: number;
  ssmBlockSize: number;
  numStages: number;
  numLayersPerStage: number;
  classificationMode: ClassificationMode;
  prenorm: boolean;
  batchnorm: boolean;
  stepRescale: number;
  poolingStride: number;
  poolingMode: PoolMode;
  stateExpansionFactor: number;
  /** From the config when given (else from the parameters' shapes). */
  numEmbeddings?: number;
  numClasses?: number;
  /** Keys read and not used at inference, with the reason (for the import summary). */
  ignored: string[];
  /** The files hydra's defaults list composed, in merge order (absent: one file, no defaults list). */
  composedFrom?: string[];
}

/** C_init values event-ssm's S5SSM knows (ssm.py); the trained C is a parameter whatever the init was. */
export const C_INITS = ["trunc_standard_normal", "lecun_normal", "complex_normal"];

/** Top-level keys of a full hydra run config that are not the model and cannot change its outputs. */
const RUN_KEYS: Record<string, string> = {
  task: "the task's name", training: "training settings and augmentations (training only)", optimizer: "the optimizer (training only)",
  system: "where data and outputs live", logging: "logging", seed: "the training seed", checkpoint: "where a checkpoint is loaded from",
  hydra: "hydra's own settings", defaults: "hydra's config composition", output_dir: "where outputs are written", data_dir: "where data lives",
  checkpoint_dir: "where checkpoints are written",
};

type Raw = Record<string, unknown>;

const isObj = (v: unknown): v is Raw => v !== null && typeof v === "object" && !Array.isArray(v);

class Reader {
  constructor(readonly file: string) {}

  err(path: string, message: string, expected?: string, found?: unknown, hint?: string): NmcError {
    return new NmcError(message, { file: this.file, path, expected, found: found === undefined ? "nothing" : JSON.stringify(found), hint });
  }

  obj(v: unknown, path: string): Raw {
    if (!isObj(v)) throw this.err(path, `${path} must be a mapping`, "a YAML mapping", v);
    return v;
  }

  /** Refuses keys of `o` outside `known`. */
  keys(o: Raw, path: string, known: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!known.includes(k)) {
        throw this.err(`${path}.${k}`, `the event-ssm config has a key nmc does not read: ${path}.${k}`, `only ${known.join(", ")}`, o[k],
          "nmc refuses settings it does not honour rather than ignore them");
      }
    }
  }

  bool(o: Raw, path: string, key: string, def?: boolean): boolean {
    const v = o[key];
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== "boolean") throw this.err(`${path}.${key}`, `${path}.${key} must be true or false`, "a boolean", v);
    return v;
  }

  int(o: Raw, path: string, key: string, min: number, def?: number): number {
    const v = o[key];
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) throw this.err(`${path}.${key}`, `${path}.${key} must be an integer ≥ ${min}`, `an integer ≥ ${min}`, v);
    return v;
  }

  num(o: Raw, path: string, key: string, def?: number, positive = false): number {
    const v = o[key];
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== "number" || !Number.isFinite(v) || (positive && !(v > 0))) throw this.err(`${path}.${key}`, `${path}.${key} must be a ${positive ? "positive " : ""}number`, positive ? "a number > 0" : "a number", v);
    return v;
  }

  choice<T extends string>(o: Raw, path: string, key: string, choices: readonly T[], def?: T, hint?: string): T {
    const v = o[key];
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== "string" || !choices.includes(v as T)) {
      throw this.err(`${path}.${key}`, `${path}.${key} is not one nmc implements`, `one of ${choices.join(", ")}`, v, hint);
    }
    return v as T;
  }
}

/** Parses the config's YAML text (`file` names it in errors). */
export function parseEventSsmConfig(text: string, file: string): EventSsmConfig {
  return eventSsmConfigOf(parseYamlText(text, file), file);
}

/** The config from its parsed YAML (a model section, or a run config with one). */
function eventSsmConfigOf(js: unknown, file: string, composedFrom?: string[]): EventSsmConfig {
  const r = new Reader(file);
  const top = r.obj(js, "config");
  const ignored: string[] = [];
  let model: Raw;
  let mpath: string;
  if ("model" in top) {
    // A hydra config with its model section: other keys are the run's (training, task, ...), never the model's.
    r.keys(top, "config", ["model", "num_embeddings", "num_classes", ...Object.keys(RUN_KEYS)]);
    for (const k of Object.keys(top)) if (RUN_KEYS[k]) ignored.push(`${k}: ${RUN_KEYS[k]}`);
    model = r.obj(top.model, "model");
    mpath = "model";
  } else {
    model = top;
    mpath = "config";
  }
  r.keys(model, mpath, ["ssm_init", "ssm", "num_embeddings", "num_classes"]);
  const init = r.obj(model.ssm_init, `${mpath}.ssm_init`);
  const ssm = r.obj(model.ssm, `${mpath}.ssm`);
  const ip = `${mpath}.ssm_init`, sp = `${mpath}.ssm`;
  r.keys(init, ip, ["C_init", "dt_min", "dt_max", "conj_sym", "clip_eigs"]);
  r.keys(ssm, sp, [
    "discretization", "d_model", "d_ssm", "ssm_block_size", "num_stages", "num_layers_per_stage", "dropout", "classification_mode",
    "prenorm", "batchnorm", "bn_momentum", "step_rescale", "pooling_stride", "pooling_every_n_layers", "pooling_mode", "state_expansion_factor",
  ]);
  const cInit = r.choice(init, ip, "C_init", C_INITS, undefined, "event-ssm's S5SSM raises NotImplementedError for any other C_init");
  r.num(init, ip, "dt_min", 0.001, true);
  r.num(init, ip, "dt_max", 0.1, true);
  ignored.push("ssm_init.C_init, dt_min, dt_max: initialization only (the trained C and log_step are parameters)");
  if (ssm.dropout !== undefined) {
    r.num(ssm, sp, "dropout");
    ignored.push("ssm.dropout: inactive at inference");
  }
  if (ssm.bn_momentum !== undefined) {
    r.num(ssm, sp, "bn_momentum");
    ignored.push("ssm.bn_momentum: the running statistics' update rate in training");
  }
  if (ssm.pooling_every_n_layers !== undefined) {
    r.int(ssm, sp, "pooling_every_n_layers", 1);
    ignored.push("ssm.pooling_every_n_layers: event-ssm passes it on and never reads it (the first layer of every stage pools)");
  }
  const cfg: EventSsmConfig = {
    file,
    cInit,
    conjSym: r.bool(init, ip, "conj_sym"),
    clipEigs: r.bool(init, ip, "clip_eigs"),
    discretization: r.choice(ssm, sp, "discretization", ["async", "zoh", "dirac"] as const, undefined, "event-ssm's S5SSM raises NotImplementedError for any other discretization"),
    dModel: r.int(ssm, sp, "d_model", 1),
    dSsm: r.int(ssm, sp, "d_ssm", 1),
    ssmBlockSize: r.int(ssm, sp, "ssm_block_size", 1),
    numStages: r.int(ssm, sp, "num_stages", 1),
    numLayersPerStage: r.int(ssm, sp, "num_layers_per_stage", 1),
    // Defaults: ClassificationModel's (seq_model.py).
    classificationMode: r.choice(ssm, sp, "classification_mode", ["pool", "timepool", "last"] as const, "pool"),
    prenorm: r.bool(ssm, sp, "prenorm", false),
    batchnorm: r.bool(ssm, sp, "batchnorm", false),
    stepRescale: r.num(ssm, sp, "step_rescale", 1, true),
    poolingStride: r.int(ssm, sp, "pooling_stride", 1, 1),
    poolingMode: r.choice(ssm, sp, "pooling_mode", ["last", "avgpool", "timepool"] as const, "last"),
    stateExpansionFactor: r.int(ssm, sp, "state_expansion_factor", 1, 1),
    ignored,
    ...(composedFrom ? { composedFrom } : {}),
  };
  for (const [o, path] of [[top, "config"], [model, mpath]] as const) {
    if (o.num_embeddings !== undefined) cfg.numEmbeddings = r.int(o, path, "num_embeddings", 1);
    if (o.num_classes !== undefined) cfg.numClasses = r.int(o, path, "num_classes", 1);
  }
  return cfg;
}

export function readEventSsmConfig(file: string): EventSsmConfig {
  const text = readConfigText(file);
  const js = parseYamlText(text, file);
  if (!hasDefaults(js)) return eventSsmConfigOf(js, file);
  // A hydra config with a defaults list (configs/base.yaml, configs/task/*.yaml): composed first, then read.
  const c = composeHydra(file, text);
  const cfg = eventSsmConfigOf(c.config, file, c.files);
  cfg.ignored.push(`defaults: composed from ${c.files.length} files`);
  return cfg;
}
