// The compile driver: model.json → float IR → prune → calibrate → quantize → the target's lowering → the
// bundle file. `nmc compile`, `nmc demo`, the bench and the public API all compile through here; the
// target is found in the registry by name, so the driver knows no target by itself.
import { existsSync } from "node:fs";
import path from "node:path";
import { FLOAT_IR_SECTION, IR_SECTION, IR_SECTION_KIND, writeBundle } from "../ir/bundle.js";
import { encodeGraph } from "../ir/codec.js";
import { NmcError } from "../ir/errors.js";
import type { Graph, ReadoutMode } from "../ir/types.js";
import { readInput } from "../runtime/io/inputs.js";
import { readEventTimeInput, type TimeUnit } from "../runtime/io/event-time.js";
import { loadModel } from "../compiler/frontend/index.js";
import type { RangeMode } from "../compiler/passes/calibrate.js";
import { checkQuantizable, compileQuantized, syntheticCalibration, type CalibrationData, type CompileResult } from "../compiler/pipeline.js";
import { getTarget } from "./registry.js";
import type { Lowered, Target } from "./target.js";

/** Bundle section holding the compile report as JSON (what `nmc inspect` shows). */
export const REPORT_SECTION = "report";

/** The pass name `afterPass` receives for the graph the frontend built, before any pass. */
export const FRONTEND_PASS = "frontend";

export interface CompileBundleOptions {
  /** The bundle to write (.nmb), atomically. */
  out: string;
  /** A registered target's name (targets/registry.ts). */
  target: string;
  /** Values of the target's compileOptions, by key. */
  targetOptions?: Record<string, string | undefined>;
  weightSparsity?: number;
  pruneScope?: "projection" | "global";
  /** Calibration inputs (any input format); default: inputs/calib.npy beside the model, else synthetic. */
  calibrate?: string;
  /** Event-time models, event-list calibration inputs: the unit of t (default us; runtime/io/event-time.ts). */
  timeUnit?: TimeUnit;
  calibrateSamples?: number;
  range?: RangeMode;
  weightBits?: 8 | 16;
  stateBits?: 16 | 32;
  /** Lookup tables of 2^lutBits entries, 8 (default) … 12. */
  lutBits?: number;
  readout?: ReadoutMode | "none";
  /** Warnings (model fields nmc does not honour, synthetic calibration); default: stderr. */
  warn?: (message: string) => void;
  /** Called with each pass's name and output graph, the frontend's first (`nmc compile --print-after`). */
  afterPass?: (pass: string, graph: Graph) => void;
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
  /** The target's lowering (spinnaker2: partition, place and route; cuda: source emission). */
  target: number;
  /** The bundle's sections: the quantized and float IR (protobuf), the report and the target's sections. */
  sections: number;
  /** Bundle layout, checksums and the atomic file write. */
  write: number;
}

export interface CompiledBundle {
  result: CompileResult;
  target: Target;
  lowered: Lowered;
  /** The compile report stored in the bundle (and printed by `nmc compile --json`). */
  report: Record<string, unknown> & CompileResult["report"];
}

/** --calibrate, else the model's inputs/calib.npy, else synthetic inputs (with a warning). */
function calibrationData(model: string, graph: Graph, file: string | undefined, warn: (s: string) => void, timeUnit?: TimeUnit): CalibrationData {
  const beside = path.join(path.dirname(model), "inputs", "calib.npy");
  const chosen = file ?? (existsSync(beside) ? beside : undefined);
  if (chosen) {
    const input = graph.populations.find((p) => p.name === graph.inputs[0]);
    // An event-time model's calibration inputs are read as its run inputs are (runtime/io/event-time.ts).
    if (input?.kind === "Input" && input.eventTime) {
      const x = readEventTimeInput(chosen, { channels: input.size, tokens: input.encoding === "tokens", timeUnit });
      return { data: x.data, shape: x.shape, label: x.label, file: chosen, time: { timesteps: x.timesteps!, lengths: x.lengths } };
    }
    if (timeUnit !== undefined) throw new NmcError("--time-unit applies to event-time models (nmc import event-ssm); this model steps in fixed ticks", { file: chosen });
    const x = readInput(chosen, { channels: input?.size ?? 0 });
    return { data: x.data, shape: x.shape, label: x.label, file: chosen };
  }
  const s = syntheticCalibration(graph);
  warn(`no calibration data (--calibrate x.npy, or ${beside}): ranges come from ${s.label}; real inputs may clip or lose precision`);
  return s;
}

/** Refuses options of other targets (`--hw` with `--target cuda`): nothing given is silently dropped. */
function checkTargetOptions(target: Target, given: Record<string, string | undefined>): void {
  const own = new Set(target.compileOptions.map((o) => o.key));
  for (const [key, v] of Object.entries(given)) {
    if (v !== undefined && !own.has(key)) {
      throw new NmcError(`--${key.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())} does not apply to --target ${target.name}`, {
        hint: `it is an option of another target; drop it, or choose that target`,
      });
    }
  }
}

/** The whole of `nmc compile`: load, prune, calibrate, quantize, lower for the target, write the bundle. */
export function compileToBundle(model: string, opts: CompileBundleOptions, seconds?: CompileStageSeconds): CompiledBundle {
  let lap = performance.now();
  const stage = (name: keyof CompileStageSeconds) => {
    const now = performance.now();
    if (seconds) seconds[name] = (now - lap) / 1000;
    lap = now;
  };
  const warn = opts.warn ?? ((s: string) => process.stderr.write(`nmc: warning: ${s}\n`));
  const target = getTarget(opts.target);
  const targetOptions = opts.targetOptions ?? {};
  checkTargetOptions(target, targetOptions);
  const { graph, warnings } = loadModel(model, { readout: opts.readout });
  warnings.forEach(warn);
  opts.afterPass?.(FRONTEND_PASS, graph);
  checkQuantizable(graph, target.name); // a target without event time refuses before any calibration data is read
  stage("load");
  const cal = calibrationData(model, graph, opts.calibrate, warn, opts.timeUnit);
  stage("calibrationInput");
  const result = compileQuantized(graph, {
    weightSparsity: opts.weightSparsity, pruneScope: opts.pruneScope ?? "projection", calibration: cal,
    calibrationSamples: opts.calibrateSamples, range: opts.range, weightBits: opts.weightBits, stateBits: opts.stateBits, lutBits: opts.lutBits,
    afterPass: opts.afterPass,
  });
  if (seconds) Object.assign(seconds, result.report.seconds);
  lap = performance.now();
  const lowered = target.lower({ quantized: result.quantized, float: result.float, options: targetOptions });
  stage("target");
  const report = { model, bundle: opts.out, target: target.name, ...result.report, ...lowered.report };
  const q = result.report.quantize;
  const sections = [
    { name: IR_SECTION, kind: IR_SECTION_KIND, data: encodeGraph(result.quantized) },
    { name: FLOAT_IR_SECTION, kind: IR_SECTION_KIND, data: encodeGraph(result.float) },
    { name: REPORT_SECTION, kind: "application/json; nmc compile report", data: new TextEncoder().encode(JSON.stringify(report)) },
    ...lowered.sections,
  ];
  stage("sections");
  writeBundle(opts.out, {
    modelName: graph.name, modelSource: model, target: target.name,
    hardwareJson: lowered.hardwareJson,
    cores: lowered.cores,
    meta: {
      weight_bits: String(q.weightBits), state_bits: String(q.stateBits), lut_bits: String(q.lutBits), range: q.rangeMode,
      calibration: result.report.calibration.source, weight_sparsity: String(opts.weightSparsity ?? 0),
    },
    sections,
  });
  stage("write");
  return { result, target, lowered, report };
}
