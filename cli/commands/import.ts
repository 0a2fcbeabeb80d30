// `nmc import evnn`: an EvNN PyTorch checkpoint (.safetensors / .npz state_dict) into model.json + weights.bin,
// which `nmc compile` then compiles. The conversion is compiler/import/evnn.ts; this file is arguments and
// printing.
import type { Command } from "commander";
import { Option } from "commander";
import { readCheckpoint, SAVE_LINE } from "../../compiler/import/checkpoint.js";
import { EVNN_COMMIT, EVNN_READOUTS, type EvnnImport, type EvnnReadout, importEvnn } from "../../compiler/import/evnn.js";
import { writeLayersModel } from "../../compiler/import/layers-model.js";
import { NmcError } from "../../ir/errors.js";
import { registerImportEventSsm } from "./import-event-ssm.js";

interface ImportOptions {
  out: string;
  zoneout?: string;
  readout?: string;
  json?: boolean;
  quiet?: boolean;
}

function parseZoneout(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const p = Number(v);
  // EvNN reads p as a C float (frameworks/pytorch/egru.cc:242), so the bound applies to the float32 value.
  if (v.trim() === "" || !Number.isFinite(p) || p < 0 || Math.fround(p) >= 1) {
    throw new NmcError("invalid value for --zoneout", { expected: "the EGRU's zoneout probability, a number in [0, 1)", found: JSON.stringify(v) });
  }
  return p;
}

const LAYOUT_TEXT = { smnist: "EvNN row-by-row MNIST model", lm: "EvNN language model" };

function text(ckptFile: string, format: string, tensors: number, imp: EvnnImport, files: { model: string; weights: string }, bytes: number): string {
  const lines = [`imported ${ckptFile} (${LAYOUT_TEXT[imp.layout]}, ${format}, ${tensors} tensors)`];
  const w = Math.max(...imp.layers.map((l) => l.name.length));
  for (const l of imp.layers) {
    lines.push(`  ${l.name.padEnd(w)}  ${l.className.padEnd(9)} ${`${l.inputs} → ${l.units}`.padEnd(12)} from ${l.from}`);
  }
  const ro = imp.readout === "none" ? "none: outputs at every step" : `${imp.readout}${imp.readout === "last" ? ": the last step's outputs" : ": the mean over the steps"}`;
  lines.push(`  readout   ${ro}`);
  lines.push(`  zoneout   ${imp.zoneout}${imp.zoneoutGiven ? "" : " (not stored in a checkpoint: if the model was trained with EGRU(zoneout=p), pass --zoneout p)"}`);
  lines.push(`wrote ${files.model} and ${files.weights} (${bytes} bytes of float32 weights)`);
  lines.push(`next: nmc compile ${files.model} -o model.nmb`);
  return lines.join("\n") + "\n";
}

function warnings(imp: EvnnImport): string[] {
  const out: string[] = [];
  if (imp.ignored.length) out.push(`ignored training-only tensors (surrogate gradient, gradient clipping): ${imp.ignored.join(", ")}`);
  for (const c of imp.thrClamped) out.push(`${c.key}: ${c.clamped} of ${c.of} thresholds were outside [0, 1] and were clamped, as EvNN's forward pass does (egru.py:409)`);
  return out;
}

async function importEvnnCommand(ckptPath: string, opts: ImportOptions): Promise<void> {
  const zoneout = parseZoneout(opts.zoneout);
  const ckpt = readCheckpoint(ckptPath);
  const imp = importEvnn(ckpt, { zoneout, readout: opts.readout as EvnnReadout | undefined });
  const files = writeLayersModel(opts.out, imp.model);
  const bytes = imp.model.bin.length;
  const warn = warnings(imp);
  if (opts.json) {
    process.stdout.write(JSON.stringify({
      command: "import evnn",
      checkpoint: { file: ckptPath, format: ckpt.format, sha256: ckpt.sha256, tensors: ckpt.tensors.size },
      layout: imp.layout, evnn_commit: EVNN_COMMIT,
      out: { dir: opts.out, model: files.model, weights: files.weights, weight_bytes: bytes },
      layers: imp.layers, readout: imp.readout, zoneout: imp.zoneout, zoneout_given: imp.zoneoutGiven,
      ignored: imp.ignored, thr_clamped: imp.thrClamped, notes: imp.notes, warnings: warn,
      next: `nmc compile ${files.model} -o model.nmb`,
    }, null, 2) + "\n");
    return;
  }
  for (const w of warn) process.stderr.write(`nmc: warning: ${w}\n`);
  if (opts.quiet) return;
  process.stdout.write(text(ckptPath, ckpt.format, ckpt.tensors.size, imp, files, bytes));
  for (const n of imp.notes) process.stdout.write(`note: ${n}\n`);
}

export function registerImport(program: Command): void {
  const imp = program
    .command("import")
    .description("convert a model trained elsewhere into a model.json nmc compiles (EvNN checkpoints, event-ssm models)")
    .addHelpText("after", `
Examples:
  $ nmc import evnn m.safetensors -o out/ && nmc compile out/model.json -o m.nmb`);
  imp
    .command("evnn")
    .description("an EvNN (PyTorch EGRU) state_dict, saved as .safetensors or .npz, into DIR/model.json + DIR/weights.bin")
    .argument("<checkpoint>", "the state_dict: .safetensors (F32, F16, BF16, F64) or .npz (float32/float64 members named as the state_dict's keys)")
    .requiredOption("-o, --out <dir>", "the directory to write model.json and weights.bin into (created if missing; those two files are replaced)")
    .option("--zoneout <p>", "the zoneout probability the model was trained with, EGRU(zoneout=p); it changes inference, and a state_dict does not store it (default 0)")
    .addOption(new Option("--readout <mode>", "the output: last (the last step, EvNN's MNIST classifier; its default), mean (over the steps), none (every step: the language model's default)").choices([...EVNN_READOUTS]))
    .option("--json", "print a JSON summary (layers, ignored tensors, clamped thresholds) on stdout")
    .option("--quiet", "print nothing but warnings and errors")
    .addHelpText("after", `
EvNN is the EGRU authors' PyTorch code (github.com/Efficient-Scalable-Machine-Learning/EvNN); nmc follows its
commit ${EVNN_COMMIT.slice(0, 12)}. Two layouts are read, those of its benchmarks:
  MNIST (benchmarks/egru/models.py): rnn.rnns.N.{kernel, recurrent_kernel, bias, recurrent_bias, thr}
     (or rnn.rnns.N.rnn.*, as smnist.py wraps each layer), hidden2out.{weight, bias}  -> readout last
  language model (benchmarks/lm/models.py): embeddings.weight, rnns.N.*, decoder.projection.{weight, bias}
     (optional), decoder.decoder.{weight, bias} (the weight may be left out: it is the embedding)  -> readout none
Any number of layers. dampening_factor, pseudo_derivative_support and _max_norm (training only) are ignored and
named; thresholds are clamped to [0, 1] as EvNN's forward pass does. Any other tensor is refused by name.

Save the checkpoint in PyTorch (.contiguous().clone(): EvNN's thr is a strided view and the language model's
decoder shares the embedding's memory, and save_file refuses both as they are):
  ${SAVE_LINE}
A torch.save file (.pt, .pth) is refused: convert it with
  python -c "import torch; from safetensors.torch import save_file; save_file({k: v.contiguous().clone() for k, v in torch.load('m.pt', map_location='cpu').items()}, 'm.safetensors')"

Examples:
  $ nmc import evnn smnist.safetensors -o smnist/               # 3 EGRU layers + hidden2out: logits of the last step
  $ nmc import evnn smnist.safetensors -o smnist/ --zoneout 0.1 # trained with EGRU(..., zoneout=0.1)
  $ nmc import evnn lm.safetensors -o lm/                       # logits at every step; token ids [B, T] as input
  $ nmc import evnn smnist.npz -o smnist/ --readout mean --json
  $ nmc run smnist/model.json --input x.npy --out y.npy         # the float model: compare with PyTorch
  $ nmc compile smnist/model.json --target spinnaker2 -o s.nmb  # then: nmc run s.nmb --input x.npy`)
    .action((ckpt: string, opts: ImportOptions) => importEvnnCommand(ckpt, opts));
  registerImportEventSsm(imp);
  // main.ts sets exitOverride on the top-level commands only; a subcommand needs its own.
  imp.exitOverride();
  for (const c of imp.commands) c.exitOverride();
}
