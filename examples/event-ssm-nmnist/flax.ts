// The trained parameters as event-ssm's files (params.npz: the Flax params tree flattened with "/";
// config.yaml: its hydra model config), read back, and imported by nmc's own importer (`nmc import event-ssm`).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { importEventSsm, readCheckpoint, readEventSsmConfig, writeLayersModel, type Tf } from "../../index.js";
import { flaxArrays, type NetConfig, type Params } from "./model.js";
import { writeNpz } from "./npz.js";

/** The hydra model config event-ssm would be run with for this network (configs/model/*\/*.yaml's layout). */
export function configYaml(c: NetConfig): string {
  return [
    "# The event-ssm model config of params.npz, written by examples/event-ssm-nmnist/train.ts.",
    "# ssm_init only shapes initialization in event-ssm; this example initializes its own way (README).",
    "model:",
    "  ssm_init:",
    "    C_init: complex_normal",
    `    dt_min: ${c.dtMin}`,
    `    dt_max: ${c.dtMax}`,
    "    conj_sym: false",
    "    clip_eigs: true",
    "  ssm:",
    "    discretization: async",
    `    d_model: ${c.dModel}`,
    `    d_ssm: ${c.dSsm}`,
    `    ssm_block_size: ${c.blockSize}`,
    `    num_stages: ${c.stages}`,
    `    num_layers_per_stage: ${c.layersPerStage}`,
    `    dropout: ${c.dropout}`,
    "    classification_mode: timepool",
    "    prenorm: true",
    "    batchnorm: false",
    "    step_rescale: 1",
    `    pooling_stride: ${c.stride}`,
    "    pooling_mode: timepool",
    "    state_expansion_factor: 1",
    `num_embeddings: ${c.vocabulary}`,
    `num_classes: ${c.classes}`,
    "",
  ].join("\n");
}

/** Writes dir/params.npz and dir/config.yaml; returns their paths. */
export function writeFlax(dir: string, c: NetConfig, p: Params): { params: string; config: string } {
  const params = path.join(dir, "params.npz");
  const config = path.join(dir, "config.yaml");
  writeNpz(params, flaxArrays(p).map((a) => ({ key: a.key, shape: a.shape, data: a.data })));
  writeFileSync(config, configYaml(c));
  return { params, config };
}

/** Sets the variables from a params.npz written by `writeFlax` (a checkpoint). */
export function loadFlax(tf: Tf, file: string, p: Params): void {
  const ck = readCheckpoint(file);
  for (const [name, v] of p) {
    const split = name.match(/^(.*\/(?:B|C))_(re|im)$/);
    const key = split ? split[1]! : name;
    const t = ck.tensors.get(key);
    if (!t) throw new Error(`${file} lacks ${key}`);
    let data = Float32Array.from(t.values);
    if (split) data = data.filter((_, i) => i % 2 === (split[2] === "re" ? 0 : 1));
    if (data.length !== v.size) throw new Error(`${file}: ${key} has ${data.length} values for ${name}, expected ${v.size}`);
    v.assign(tf.tensor(data, v.shape));
  }
}

/** `nmc import event-ssm params.npz --config config.yaml -o dir`, through the public API. */
export function importWithNmc(files: { params: string; config: string }, dir: string) {
  const cfg = readEventSsmConfig(files.config);
  const ck = readCheckpoint(files.params);
  const imp = importEventSsm(files.params, ck.tensors, cfg);
  const written = writeLayersModel(dir, imp.model);
  return { ...written, layers: imp.layers, notes: imp.notes, totalDownsampling: imp.totalDownsampling };
}
