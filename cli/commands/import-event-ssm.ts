// `nmc import event-ssm PARAMS --config CONFIG.yaml -o DIR`: an event-ssm model (Flax parameters flattened to
// .npz, and its hydra model config) into DIR/model.json + DIR/weights.bin. The conversion is
// compiler/import/event-ssm.ts; this file is arguments and printing.
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import type { Command } from "commander";
import { readCheckpoint } from "../../compiler/import/checkpoint.js";
import { readEventSsmConfig } from "../../compiler/import/event-ssm-config.js";
import { EVENT_SSM_COMMIT, importEventSsm, type EventSsmImport } from "../../compiler/import/event-ssm.js";
import { writeLayersModel } from "../../compiler/import/layers-model.js";
import { NmcError } from "../../ir/errors.js";

interface Options {
  config: string;
  out: string;
  json?: boolean;
  quiet?: boolean;
}

/** The one line that flattens a Flax checkpoint (msgpack, or the variables in Python) into the .npz nmc reads. */
export const FLATTEN_LINE =
  "python -c \"import numpy as np, flax.serialization as s, flax.traverse_util as t; " +
  "v = s.msgpack_restore(open('CKPT', 'rb').read()); " +
  "np.savez('params.npz', **{k: np.asarray(a, np.float32) for k, a in t.flatten_dict(v, sep='/').items()})\"";

/** Flax msgpack (flax.serialization.to_bytes) is not read: refused with the conversion. */
function refuseMsgpack(file: string): void {
  let head: Uint8Array;
  try {
    head = readFileSync(file).subarray(0, 1);
  } catch {
    return; // readCheckpoint reports the unreadable file
  }
  const b = head[0];
  const msgpackMap = b !== undefined && ((b >= 0x80 && b <= 0x8f) || b === 0xde || b === 0xdf);
  if (extname(file).toLowerCase() === ".msgpack" || msgpackMap) {
    throw new NmcError("Flax msgpack checkpoints (flax.serialization.to_bytes) are not read yet", {
      file, expected: "the variables flattened with '/' as .npz (keys params/encoder/…, batch_stats/…)", found: "a msgpack file",
      hint: `flatten it in Python: ${FLATTEN_LINE.replace("CKPT", file)}`,
    });
  }
}

function text(paramsFile: string, imp: EventSsmImport, files: { model: string; weights: string }): string {
  const lines = [`imported ${paramsFile} (event-ssm ${imp.layout === "variables" ? "variables" : "params tree"}, commit ${EVENT_SSM_COMMIT.slice(0, 7)})`];
  const w = Math.max(...imp.layers.map((l) => l.name.length));
  for (const l of imp.layers) lines.push(`  ${l.name.padEnd(w)}  ${l.className}  ${l.inputs} → ${l.units}`);
  lines.push(`  total downsampling ${imp.totalDownsampling}; input: tokens [B, L] with time steps [B, L] (ms) and lengths [B]`);
  lines.push(`wrote ${files.model} and ${files.weights} (${imp.model.bin.length} bytes of float32 weights)`);
  lines.push(`next: nmc run ${files.model} --input events.npz   (tokens, timesteps[, lengths]; or an event list .csv t,channel)`);
  return lines.join("\n") + "\n";
}

function importCommand(paramsFile: string, opts: Options): void {
  refuseMsgpack(paramsFile);
  const cfg = readEventSsmConfig(opts.config);
  const ckpt = readCheckpoint(paramsFile);
  if (ckpt.format !== "npz") {
    throw new NmcError("an event-ssm parameter file is an .npz", { file: paramsFile, expected: "the Flax variables flattened with '/' as .npz", found: ckpt.format, hint: `flatten them in Python: ${FLATTEN_LINE}` });
  }
  const imp = importEventSsm(paramsFile, ckpt.tensors, cfg);
  const files = writeLayersModel(opts.out, imp.model);
  if (opts.json) {
    process.stdout.write(JSON.stringify({
      command: "import event-ssm", event_ssm_commit: EVENT_SSM_COMMIT,
      params: { file: paramsFile, sha256: ckpt.sha256, tensors: ckpt.tensors.size, layout: imp.layout }, config: opts.config,
      ...(cfg.composedFrom ? { config_composed_from: cfg.composedFrom } : {}),
      out: { dir: opts.out, model: files.model, weights: files.weights, weight_bytes: imp.model.bin.length },
      layers: imp.layers, readout: imp.readout, total_downsampling: imp.totalDownsampling, notes: imp.notes,
    }, null, 2) + "\n");
    return;
  }
  if (opts.quiet) return;
  process.stdout.write(text(paramsFile, imp, files));
  if (cfg.composedFrom) process.stdout.write(`config: hydra's defaults list composed ${cfg.composedFrom.join(", ")}\n`);
  for (const n of imp.notes) process.stdout.write(`note: ${n}\n`);
}

/** Adds `event-ssm` to the `nmc import` command. */
export function registerImportEventSsm(imp: Command): void {
  imp
    .command("event-ssm")
    .description("an event-ssm (Flax/JAX) model: its parameters flattened to .npz and its hydra model config, into DIR/model.json + DIR/weights.bin")
    .argument("<params>", ".npz of the Flax variables flattened with '/' (params/encoder/encoder/embedding, …, batch_stats/… for BatchNorm), or of the params tree alone")
    .requiredOption("--config <yaml>", "the hydra config's model section: model.ssm_init and model.ssm (configs/model/*/*.yaml), plus num_embeddings and num_classes (else from the parameters' shapes); a whole run config is read too, and a hydra config with a defaults list (configs/base.yaml, configs/task/*.yaml) is composed first")
    .requiredOption("-o, --out <dir>", "the directory to write model.json and weights.bin into (created if missing; those two files are replaced)")
    .option("--json", "print a JSON summary (layers, readout, notes) on stdout")
    .option("--quiet", "print nothing but errors")
    .addHelpText("after", `
event-ssm (Schöne et al. 2024) is github.com/Efficient-Scalable-Machine-Learning/event-ssm; nmc follows its commit
${EVENT_SSM_COMMIT.slice(0, 12)}. The model is its ClassificationModel: an Embedding of the event tokens, stages
of SequenceLayers (S5 with async / zoh / dirac discretization per event, gated GELU, pooled residual, LayerNorm or
BatchNorm), a pool / timepool / last readout and a Dense decoder. It runs in event time: every input step is an
event with its own time step. Flatten the parameters in Python:
  python -c "import numpy as np, flax.traverse_util as t; np.savez('params.npz', **{k: np.asarray(a) for k, a in t.flatten_dict(variables, sep='/').items()})"
(variables = {'params': state.params, 'batch_stats': state.batch_stats}). A Flax msgpack file is refused with
the line that converts it. Unknown parameters or config keys, C_init or discretizations event-ssm lacks, and
widths that do not chain are refused by name.

Examples:
  $ nmc import event-ssm params.npz --config configs/model/shd/tiny.yaml -o shd/
  $ nmc run shd/model.json --input batch.npz             # tokens [B, L], timesteps [B, L] (ms), lengths [B]
  $ nmc run shd/model.json --input events.csv --time-unit us   # one recording: t,channel (step i: t[i+1] − t[i])`)
    .action((params: string, opts: Options) => importCommand(params, opts));
}
