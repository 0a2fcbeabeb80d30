import { existsSync, statSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { Option } from "commander";
import { loadModel } from "../../compiler/frontend/index.js";
import type { RangeMode } from "../../compiler/passes/calibrate.js";
import { compileQuantized, syntheticCalibration, type CalibrationData, type CompileReport } from "../../compiler/pipeline.js";
import { FLOAT_IR_SECTION, IR_SECTION, IR_SECTION_KIND, writeBundle } from "../../ir/bundle.js";
import { encodeGraph } from "../../ir/codec.js";
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import { INPUT_FORMATS_HELP, readModelInput } from "../input.js";
import { numberOption, parseReadout, readoutOption } from "../options.js";
import { loadHardware } from "../spinnaker2.js";
import { MAPPING_SECTION, type Mapping, mapGraph, mappingSection } from "../../targets/spinnaker2/index.js";
import { locate } from "../../targets/spinnaker2/place.js";
import { emitCuda } from "../../targets/cuda/index.js";
import { CUDA_FLOAT_SOURCE_SECTION, CUDA_SOURCE_SECTION } from "../engines.js";
import { bytes, pct, renderTable, sig } from "../table.js";

/** Bundle section holding the compile report as JSON (what `nmc inspect` shows). */
export const REPORT_SECTION = "report";

export interface CompileCliOptions {
  out: string;
  target: "golden" | "spinnaker2" | "cuda";
  hw?: string;
  weightSparsity?: string;
  pruneScope: "projection" | "global";
  calibrate?: string;
  calibrateSamples?: string;
  range: string;
  bits: string;
  stateBits: string;
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

/** --calibrate, else the model's inputs/calib.npy, else synthetic inputs (with a warning). */
function calibrationData(model: string, graph: Graph, file: string | undefined, warn: (s: string) => void): CalibrationData {
  const beside = path.join(path.dirname(model), "inputs", "calib.npy");
  const chosen = file ?? (existsSync(beside) ? beside : undefined);
  if (chosen) {
    const x = readModelInput(graph, chosen);
    return { data: x.data, shape: x.shape, label: x.label, file: chosen };
  }
  const s = syntheticCalibration(graph);
  warn(`no calibration data (--calibrate x.npy, or ${beside}): ranges come from ${s.label}; real inputs may clip or lose precision`);
  return s;
}

function fmt(frac: number | null, bits: number): string | null {
  return frac === null ? null : `i${bits} f${frac}`;
}

export function mappingSummary(m: Mapping) {
  const p = m.partition;
  return {
    pes: p.pes, memory_lower_bound_pes: p.lowerBound, chips: m.placement.chips, usable_bytes_per_pe: p.usableBytes,
    slices: p.slices.filter((s) => s.mirrors < 0).map((s) => {
      const loc = locate(m.hw, s.pe);
      return { population: s.pop, units: [s.lo, s.hi], pe: s.pe, location: `chip${loc.chip}/qpe${loc.qpe}/core${loc.core}`, bytes: s.bytes };
    }),
    routing: { routers: m.routing.tables.size, max_entries_per_router: m.routing.maxEntries, total_entries: m.routing.totalEntries },
  };
}

function coreDescriptors(m: Mapping) {
  return m.partition.slices.filter((s) => s.mirrors < 0).map((s) => {
    const loc = locate(m.hw, s.pe);
    const readouts = m.partition.slices.filter((r) => r.mirrors === s.id).map((r) => r.pop);
    return {
      id: s.pe, placement: `chip${loc.chip}/qpe${loc.qpe}/core${loc.core}`, sectionNames: [MAPPING_SECTION],
      attrs: { population: s.pop, units: `${s.lo}:${s.hi}`, sram_bytes: String(s.bytes), ...(readouts.length ? { readout: readouts.join(",") } : {}) },
    };
  });
}

function printMapping(m: Mapping): string {
  const s = mappingSummary(m);
  const lines = [
    "",
    `spinnaker2: ${s.pes} PEs on ${s.chips} chip(s); memory lower bound ${s.memory_lower_bound_pes} PEs (ratio ${(s.pes / Math.max(1, s.memory_lower_bound_pes)).toFixed(2)}); ` +
      `${s.routing.total_entries} routing entries on ${s.routing.routers} routers (max ${s.routing.max_entries_per_router} per router)`,
  ];
  const shown = s.slices.length > 24 ? s.slices.slice(0, 24) : s.slices;
  lines.push(renderTable(["PE", "location", "population", "units", "SRAM bytes", "of usable"],
    shown.map((x) => [x.pe, x.location, x.population, `${x.units[0]}..${x.units[1] - 1}`, x.bytes, pct(x.bytes / s.usable_bytes_per_pe)])));
  if (shown.length < s.slices.length) lines.push(`  … ${s.slices.length - shown.length} more PEs (nmc inspect --json lists all)`);
  return lines.join("\n") + "\n";
}

function printReport(model: string, out: string, size: number, g: Graph, r: CompileReport, target: string): string {
  const q = r.quantize;
  const lines = [
    `compiled ${model} -> ${out} (target ${target}${target === "golden" ? ": the quantized reference" : ""}, ${bytes(size)})`,
    `calibration  ${r.calibration.source}, ranges by ${r.calibration.range}`,
    `weights      int${q.weightBits}, one scale per target neuron; accumulators int32; SSM state int${q.stateBits}; LUTs 256 × int16`,
  ];
  if (r.prune) lines.push(`pruning      magnitude, ${r.prune.scope} scope, target ${pct(r.prune.target)}: achieved ${pct(r.prune.overall, 2)}`);
  lines.push("", "populations (formats: iBITS fFRACTIONAL-BITS; clip = calibration values beyond the format; error = float vs golden, real units)");
  const err = new Map(r.error.populations.map((e) => [e.name, e]));
  lines.push(renderTable(
    ["population", "kind", "layer", "output", "accum", "state", "clip out", "clip acc", "clip state", "err max", "err rms", "of max", "zero/event agree"],
    q.populations.map((p) => {
      const e = err.get(p.name)!;
      return [p.name, p.kind, p.layer || null, fmt(p.outFrac, p.kind === "Readout" ? 32 : 16), fmt(p.accFrac, 32), fmt(p.stateFrac, p.stateBits ?? 16),
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

/** Seconds spent in each stage of compileToBundle (filled in when the caller passes an object). */
export interface CompileStageSeconds {
  /** model.json and weight shards read into the float IR. */
  load: number;
  /** Calibration inputs read (or synthesized). */
  calibrationInput: number;
  prune: number;
  calibrate: number;
  quantize: number;
  /** Float vs golden on the calibration inputs (the report's error figures). */
  compare: number;
  /** Partition, place and route (spinnaker2), CUDA source emission (cuda). */
  target: number;
  /** The bundle's sections: the quantized and float IR (protobuf), the report and mapping (JSON). */
  sections: number;
  /** Bundle layout, checksums and the atomic file write. */
  write: number;
}

/** The whole of `nmc compile`: load, prune, calibrate, quantize, lower for the target, write the bundle. */
export function compileToBundle(model: string, opts: CompileCliOptions, seconds?: CompileStageSeconds) {
  let lap = performance.now();
  const stage = (name: keyof CompileStageSeconds) => {
    const now = performance.now();
    if (seconds) seconds[name] = (now - lap) / 1000;
    lap = now;
  };
  const warn = (s: string) => process.stderr.write(`nmc: warning: ${s}\n`);
  const sparsity = numberOption("--weight-sparsity", opts.weightSparsity, 0, 0.9999);
  const samples = numberOption("--calibrate-samples", opts.calibrateSamples, 1, 2 ** 31, true);
  const range = parseRange(opts.range);
  const { graph, warnings } = loadModel(model, { readout: parseReadout(opts.readout) });
  warnings.forEach(warn);
  stage("load");
  const cal = calibrationData(model, graph, opts.calibrate, warn);
  stage("calibrationInput");
  const result = compileQuantized(graph, {
    weightSparsity: sparsity, pruneScope: opts.pruneScope, calibration: cal, calibrationSamples: samples, range,
    weightBits: Number(opts.bits) as 8 | 16, stateBits: Number(opts.stateBits) as 16 | 32,
  });
  if (seconds) Object.assign(seconds, result.report.seconds);
  lap = performance.now();
  if (opts.hw && opts.target !== "spinnaker2") throw new NmcError("--hw applies to --target spinnaker2", { hint: "add --target spinnaker2" });
  const hw = opts.target === "spinnaker2" ? loadHardware(opts.hw) : undefined;
  const mapping = hw ? mapGraph(result.quantized, hw) : undefined;
  const cuda = opts.target === "cuda" ? [
    { name: CUDA_SOURCE_SECTION, kind: "text/x-cuda; nmc int (bit-exact with golden)", data: new TextEncoder().encode(emitCuda(result.quantized, { precision: "int" })) },
    { name: CUDA_FLOAT_SOURCE_SECTION, kind: "text/x-cuda; nmc float reference", data: new TextEncoder().encode(emitCuda(result.float, { precision: "float" })) },
  ] : [];
  stage("target");
  const report = { model, bundle: opts.out, target: opts.target, ...result.report, ...(mapping ? { mapping: mappingSummary(mapping) } : {}) };
  const q = result.report.quantize;
  const sections = [
    { name: IR_SECTION, kind: IR_SECTION_KIND, data: encodeGraph(result.quantized) },
    { name: FLOAT_IR_SECTION, kind: IR_SECTION_KIND, data: encodeGraph(result.float) },
    { name: REPORT_SECTION, kind: "application/json; nmc compile report", data: new TextEncoder().encode(JSON.stringify(report)) },
    ...(mapping ? [mappingSection(mapping)] : []),
    ...cuda,
  ];
  const cores = mapping ? coreDescriptors(mapping) : undefined;
  stage("sections");
  writeBundle(opts.out, {
    modelName: graph.name, modelSource: model, target: opts.target,
    hardwareJson: hw ? JSON.stringify(hw) : undefined,
    cores,
    meta: {
      weight_bits: String(q.weightBits), state_bits: String(q.stateBits), range: q.rangeMode,
      calibration: result.report.calibration.source, weight_sparsity: String(sparsity ?? 0),
    },
    sections,
  });
  stage("write");
  return { result, mapping, report };
}

export function registerCompile(program: Command): void {
  program
    .command("compile")
    .description("compile a model: prune, calibrate, quantize to fixed point, and write a bundle (.nmb)")
    .argument("<model>", "model.json (TensorFlow.js LayersModel) with its weight shards beside it")
    .requiredOption("-o, --out <file>", "the bundle to write (.nmb); written atomically")
    .addOption(new Option("--target <target>", "spinnaker2: partition, place and route onto SpiNNaker 2 PEs; cuda: generated CUDA C++ (GPU, or host emulation of the same source); golden: the quantized reference only").choices(["spinnaker2", "cuda", "golden"]).default("golden"))
    .option("--hw <file>", "spinnaker2: a hardware description JSON (default: the built-in SpiNNaker 2; nmc hw --json prints it)")
    .option("--weight-sparsity <S>", "magnitude-prune weights to this fraction of zeros first, 0 ≤ S < 1 (no fine-tuning)")
    .addOption(new Option("--prune-scope <scope>", "prune each projection to S, or with one threshold over all").choices(["projection", "global"]).default("projection"))
    .option("--calibrate <file>", "calibration inputs, shaped like `nmc run --input` (default: inputs/calib.npy beside the model, else synthetic). Formats: " + INPUT_FORMATS_HELP + "; event files with t in ticks")
    .option("--calibrate-samples <n>", "use only the first n calibration sequences (default: all)")
    .option("--range <mode>", "how a range is read from calibration: max | percentile:P (e.g. percentile:99.99)", "max")
    .addOption(new Option("--bits <n>", "weight width").choices(["8", "16"]).default("8"))
    .addOption(new Option("--state-bits <n>", "DiagonalSSM state width").choices(["16", "32"]).default("16"))
    .addOption(readoutOption())
    .option("--json", "print the compile report as JSON on stdout")
    .option("-q, --quiet", "print nothing but errors and warnings")
    .addHelpText("after", `
The bundle holds the quantized IR (section "ir"), the float IR it approximates ("ir.float") and this report
("report"); --target spinnaker2 adds the mapping ("spinnaker2.mapping", per-core descriptors, the hardware
description), --target cuda the generated sources ("cuda.source", "cuda.source.float"). Run it with \`nmc run m.nmb --input x.npy\`, look inside with \`nmc inspect m.nmb\`.

Examples:
  $ nmc compile examples/egru-smnist/model.json -o m.nmb
  $ nmc compile model.json --calibrate calib.npy --weight-sparsity 0.8 --bits 8 -o m.nmb --json`)
    .action((model: string, opts: CompileCliOptions) => {
      const { result, mapping, report } = compileToBundle(model, opts);
      if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + "\n");
      else if (!opts.quiet) {
        process.stdout.write(printReport(model, opts.out, statSync(opts.out).size, result.quantized, result.report, opts.target));
        if (mapping) process.stdout.write(printMapping(mapping));
      }
    });
}
