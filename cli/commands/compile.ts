// `nmc compile`: the compile driver (targets/compile.ts) with the command line's options, its text report,
// and --print-after (the text IR after a pass, MLIR's -print-ir-after). Targets and their options come from
// the registry.
import { statSync } from "node:fs";
import type { Command } from "commander";
import { Option } from "commander";
import type { RangeMode } from "../../compiler/passes/calibrate.js";
import { PIPELINE_PASSES, type CompileReport } from "../../compiler/pipeline.js";
import { NmcError } from "../../ir/errors.js";
import { IR_KINDS } from "../../ir/kinds.js";
import { printGraph } from "../../ir/print.js";
import type { Graph } from "../../ir/types.js";
import { bytes, pct, renderTable, sig } from "../../runtime/table.js";
import { compileToBundle, FRONTEND_PASS, type CompileStageSeconds } from "../../targets/compile.js";
import { getTarget } from "../../targets/registry.js";
import { INPUT_FORMATS_HELP, timeUnitOption } from "../input.js";
import type { TimeUnit } from "../../runtime/io/event-time.js";
import { addTargetOptions, numberOption, parseReadout, readoutOption, targetOption, targetOptionValues } from "../options.js";

export interface CompileCliOptions {
  out: string;
  target: string;
  printAfter?: string;
  weightSparsity?: string;
  pruneScope: "projection" | "global";
  calibrate?: string;
  timeUnit?: string;
  calibrateSamples?: string;
  range: string;
  bits: string;
  stateBits: string;
  lutBits: string;
  readout?: string;
  json?: boolean;
  quiet?: boolean;
}

function parseRange(v: string): RangeMode {
  if (v === "max") return { kind: "max" };
  const m = /^percentile:(\d+(\.\d+)?)$/.exec(v);
  const p = m ? Number(m[1]) : NaN;
  if (!(p > 50 && p <= 100)) {
    throw new NmcError("invalid --range", { expected: "max, or percentile:P with 50 < P ≤ 100 (e.g. percentile:99.99)", found: JSON.stringify(v) });
  }
  return { kind: "percentile", percentile: p };
}

function fmt(frac: number | null, bits: number): string | null {
  return frac === null ? null : `i${bits} f${frac}`;
}

function printReport(model: string, out: string, size: number, g: Graph, r: CompileReport, target: string): string {
  const q = r.quantize;
  const lines = [
    `compiled ${model} -> ${out} (target ${target}${getTarget(target).compiledNote ? `: ${getTarget(target).compiledNote}` : ""}, ${bytes(size)})`,
    `calibration  ${r.calibration.source}, ranges by ${r.calibration.range}`,
    `weights      int${q.weightBits}, one scale per target neuron; accumulators int32; SSM state int${q.stateBits}; LUTs ${2 ** q.lutBits} × int16`,
  ];
  if (r.prune) lines.push(`pruning      magnitude, ${r.prune.scope} scope, target ${pct(r.prune.target)}: achieved ${pct(r.prune.overall, 2)}`);
  lines.push("", "populations (formats: iBITS fFRACTIONAL-BITS; clip = calibration values beyond the format; error = float vs golden, real units)");
  const err = new Map(r.error.populations.map((e) => [e.name, e]));
  lines.push(renderTable(
    ["population", "kind", "layer", "output", "accum", "state", "clip out", "clip acc", "clip state", "err max", "err rms", "of max", "zero/event agree"],
    q.populations.map((p) => {
      const e = err.get(p.name)!;
      return [p.name, p.kind, p.layer || null, fmt(p.outFrac, IR_KINDS[p.kind].outBits), fmt(p.accFrac, 32), fmt(p.stateFrac, p.stateBits ?? 16),
        pct(p.clipping.out, 3), pct(p.clipping.acc, 3), pct(p.clipping.state, 3), sig(e.maxAbs), sig(e.rms), sig(e.maxRef), pct(e.eventAgreement, 2)];
    }),
  ));
  lines.push("", "projections");
  lines.push(renderTable(
    ["projection", "source -> target", "shape", "stored", "weight sparsity", "dropped by rounding"],
    g.projections.map((j) => {
      const pr = q.projections.find((x) => x.name === j.name)!;
      return [j.name, `${j.source} -> ${j.target}.${j.port}${j.delay ? " (t-1)" : ""}`, `${j.rows}x${j.cols}`, pr.nnz, pct(1 - pr.nnz / pr.dense, 2), pr.nnzFloat - pr.nnz];
    }),
  ));
  const o = r.error.output;
  lines.push("", `output: max |float - golden| ${sig(o.maxAbs)} (values up to ${sig(o.maxRef)}), RMS ${sig(o.rms)}, ` +
    `argmax agreement ${pct(o.argmaxAgreement, 2)} over ${r.error.samples} calibration sequences`);
  return lines.join("\n") + "\n";
}

/** The passes --print-after takes: the frontend's graph, then the pipeline's passes in order. */
const PRINTABLE_PASSES = [FRONTEND_PASS, ...PIPELINE_PASSES];

/** --print-after PASS[,PASS] | all: the passes whose output graph is printed. */
function parsePrintAfter(v: string | undefined): Set<string> | undefined {
  if (v === undefined) return undefined;
  const names = v.split(",").map((x) => x.trim()).filter((x) => x !== "");
  const chosen = new Set(names.includes("all") ? PRINTABLE_PASSES : names);
  for (const n of chosen) {
    if (!PRINTABLE_PASSES.includes(n as (typeof PRINTABLE_PASSES)[number])) {
      throw new NmcError("invalid --print-after", { expected: `all, or one or more of ${PRINTABLE_PASSES.join(", ")} (comma-separated)`, found: JSON.stringify(v) });
    }
  }
  return chosen;
}

/** `nmc compile` with its command-line options: parsed, then the library driver. */
export function compileFromCli(model: string, opts: CompileCliOptions, seconds?: CompileStageSeconds) {
  const printAfter = parsePrintAfter(opts.printAfter);
  const target = getTarget(opts.target);
  return compileToBundle(model, {
    out: opts.out, target: target.name, targetOptions: targetOptionValues(opts, "compileOptions"),
    weightSparsity: numberOption("--weight-sparsity", opts.weightSparsity, 0, 0.9999),
    pruneScope: opts.pruneScope,
    calibrate: opts.calibrate,
    timeUnit: opts.timeUnit as TimeUnit | undefined,
    calibrateSamples: numberOption("--calibrate-samples", opts.calibrateSamples, 1, 2 ** 31, true),
    range: parseRange(opts.range),
    weightBits: Number(opts.bits) as 8 | 16, stateBits: Number(opts.stateBits) as 16 | 32, lutBits: Number(opts.lutBits),
    readout: parseReadout(opts.readout),
    afterPass: printAfter && ((pass, g) => {
      // With --json, stdout carries the report alone: the IR goes to stderr (where MLIR prints it too).
      if (printAfter.has(pass)) (opts.json ? process.stderr : process.stdout).write(`// ----- IR after ${pass} -----\n${printGraph(g).replace(/\n?$/, "\n")}`);
    }),
  }, seconds);
}

export function registerCompile(program: Command): void {
  const cmd = program
    .command("compile")
    .description("compile a model: prune, calibrate, quantize to fixed point, and write a bundle (.nmb)")
    .argument("<model>", "model.json (TensorFlow.js LayersModel) with its weight shards beside it")
    .requiredOption("-o, --out <file>", "the bundle to write (.nmb); written atomically")
    .addOption(targetOption("the target to lower for").default("golden"))
    .option("--weight-sparsity <S>", "magnitude-prune weights to this fraction of zeros first, 0 ≤ S < 1 (no fine-tuning)")
    .addOption(new Option("--prune-scope <scope>", "prune each projection to S, or with one threshold over all").choices(["projection", "global"]).default("projection"))
    .option("--calibrate <file>", "calibration inputs, shaped like `nmc run --input` (default: inputs/calib.npy beside the model, else synthetic). Formats: " + INPUT_FORMATS_HELP + "; event files with t in ticks")
    .addOption(timeUnitOption())
    .option("--calibrate-samples <n>", "use only the first n calibration sequences (default: all)")
    .option("--range <mode>", "how a range is read from calibration: max | percentile:P (e.g. percentile:99.99)", "max")
    .addOption(new Option("--bits <n>", "weight width").choices(["8", "16"]).default("8"))
    .addOption(new Option("--state-bits <n>", "DiagonalSSM state width").choices(["16", "32"]).default("16"))
    .addOption(new Option("--lut-bits <k>", "lookup tables (sigmoid, tanh, GELU, softplus) of 2^k int16 entries over fixed ranges: the bin halves per extra bit").choices(["8", "9", "10", "11", "12"]).default("8"))
    .addOption(readoutOption())
    .option("--json", "print the compile report as JSON on stdout")
    .option("-q, --quiet", "print nothing but errors and warnings")
    .option("--print-after <pass>", `print the text IR after a pass (comma-separated, or all): ${PRINTABLE_PASSES.join(", ")}`)
    .addHelpText("after", `
The bundle holds the quantized IR (section "ir"), the float IR it approximates ("ir.float") and this report
("report"); --target spinnaker2 adds the mapping ("spinnaker2.mapping", per-core descriptors, the hardware
description), --target cuda the generated sources ("cuda.source", "cuda.source.float"). Run it with \`nmc run m.nmb --input x.npy\`, look inside with \`nmc inspect m.nmb\`.

Examples:
  $ nmc compile examples/egru-smnist/model.json -o m.nmb
  $ nmc compile model.json --calibrate calib.npy --weight-sparsity 0.8 --bits 8 -o m.nmb --json
  $ nmc compile model.json --print-after quantize -o m.nmb     # the quantized IR as text, then the report`)
    .action((model: string, opts: CompileCliOptions) => {
      const { result, lowered, report } = compileFromCli(model, opts);
      if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
      else if (!opts.quiet) {
        process.stdout.write(printReport(model, opts.out, statSync(opts.out).size, result.quantized, result.report, opts.target));
        if (lowered.text) process.stdout.write(lowered.text);
      }
    });
  addTargetOptions(cmd, "compileOptions");
}
