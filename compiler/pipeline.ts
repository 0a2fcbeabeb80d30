// The compile pipeline: float IR → prune → calibrate → quantize, with the report of every step and the
// float-vs-golden comparison on the calibration inputs. Targets lower the result further; the quantized
// IR alone is the "golden" target (the reference every other target is checked against).
import type { Graph } from "../ir/types.js";
import { NmcError } from "../ir/errors.js";
import { eventTimeFeature, notQuantizedYet } from "../ir/timing.js";
import { batchFromShape, type BatchTime, sliceBatch, type SequenceBatch } from "../runtime/batch.js";
import { compareFloatGolden, type CompareReport } from "./compare.js";
import { calibratePass, type RangeMode } from "./passes/calibrate.js";
import { runPass } from "./passes/pass.js";
import { prunePass, type PruneReport } from "./passes/prune.js";
import { quantizePass, type QuantizeReport } from "./passes/quantize.js";

export interface CalibrationData {
  /** Row-major values as batchFromShape takes them. */
  data: ArrayLike<number>;
  shape: number[];
  /** What it is, for the report and the IR ("file x.npy", "synthetic ..."). */
  label: string;
  file?: string;
  /** Event-time models: the time steps and lengths (SequenceBatch.timesteps, lengths). */
  time?: BatchTime;
}

/** The targets whose integer engines run event-time models (multi-rate, Δt, the event-time kinds and modes). */
export const EVENT_TIME_TARGETS: ReadonlySet<string> = new Set(["golden", "spinnaker2", "cuda"]);

/**
 * Refuses, before anything is calibrated, a graph with an event-time feature (event-time input or
 * DiagonalSSM, EventPooling, the pool/timepool readouts, a rate > 1) for a target that does not implement them
 * yet (its op-table rows refuse them too). The quantize pass and the golden engine implement them.
 */
export function checkQuantizable(graph: Graph, target = "golden"): void {
  if (EVENT_TIME_TARGETS.has(target)) return;
  // The event-time DiagonalSSM first: it is the heart of such a model, and what the message should name.
  const ssm = graph.populations.find((p) => p.kind === "DiagonalSSM" && p.discretization !== undefined);
  const first = ssm ?? graph.populations.find((p) => eventTimeFeature(p) !== null);
  if (first) throw notQuantizedYet(first, "compile");
}

export interface CompileOptions {
  weightSparsity?: number;
  pruneScope?: "projection" | "global";
  calibration: CalibrationData;
  /** Use only the first N sequences of the calibration data (default: all). */
  calibrationSamples?: number;
  range?: RangeMode;
  weightBits?: 8 | 16;
  stateBits?: 16 | 32;
  /** Lookup tables of 2^lutBits entries, 8 (default) … 12: the quantize pass's option. */
  lutBits?: number;
  /** Called with each pass's name and output graph as the pipeline runs (`nmc compile --print-after`). */
  afterPass?: (pass: string, graph: Graph) => void;
}

/** The passes compileQuantized runs, in order (prune only with a weight sparsity). */
export const PIPELINE_PASSES = ["prune", "calibrate", "quantize"] as const;

export interface CompileReport {
  prune: PruneReport | null;
  calibration: { source: string; samples: number; ticks: number; range: string };
  quantize: QuantizeReport;
  /** Float (after pruning) vs golden on the calibration inputs. */
  error: CompareReport;
  seconds: { prune: number; calibrate: number; quantize: number; compare: number };
}

export interface CompileResult {
  /** The float graph after pruning: what the quantized graph approximates. */
  float: Graph;
  quantized: Graph;
  report: CompileReport;
}

/** At most this many float values (64 MiB) are kept from the calibration run for the comparison. */
const KEEP_FLOAT_RUN_VALUES = 2 ** 23;

function limitBatch(b: SequenceBatch, n: number | undefined): SequenceBatch {
  if (n === undefined || n >= b.batch) return b;
  if (!(n >= 1)) throw new NmcError("the number of calibration samples must be at least 1", { found: String(n) });
  return sliceBatch(b, 0, n);
}

/**
 * Synthetic calibration inputs for a model with no calibration file: `n` sequences of `ticks` ticks, uniform
 * in [−1, 1] per channel (token models: uniform token ids), from a fixed seed. The report says so.
 */
export function syntheticCalibration(graph: Graph, n = 64, ticks = 32, seed = 1): CalibrationData {
  const input = graph.populations.find((p) => p.name === graph.inputs[0]);
  if (!input || input.kind !== "Input") throw new NmcError("graph has no input population");
  let s = seed >>> 0 || 1;
  const rand = () => {
    s ^= s << 13; s >>>= 0; s ^= s >> 17; s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
  if (input.encoding === "tokens") {
    const data = Float64Array.from({ length: n * ticks }, () => Math.floor(rand() * input.size));
    return { data, shape: [n, ticks], label: `synthetic: ${n} sequences × ${ticks} uniform random tokens` };
  }
  const data = Float64Array.from({ length: n * ticks * input.size }, () => 2 * rand() - 1);
  return { data, shape: [n, ticks, input.size], label: `synthetic: ${n} sequences × ${ticks} ticks uniform in [-1, 1]` };
}

export function compileQuantized(floatGraph: Graph, opts: CompileOptions): CompileResult {
  const t0 = performance.now();
  let graph = floatGraph;
  let prune: PruneReport | null = null;
  if (opts.weightSparsity !== undefined && opts.weightSparsity > 0) {
    const r = runPass(prunePass, graph, { sparsity: opts.weightSparsity, scope: opts.pruneScope ?? "projection" });
    graph = r.graph;
    prune = r.report;
    opts.afterPass?.(prunePass.name, graph);
  }
  const t1 = performance.now();
  const cal = opts.calibration;
  const batch = limitBatch(batchFromShape(graph, cal.data, cal.shape, cal.file, cal.time), opts.calibrationSamples);
  if (batch.batch === 0 || batch.ticks === 0) {
    throw new NmcError("the calibration data is empty: ranges cannot be measured on it", {
      file: cal.file, expected: "at least one sequence of at least one tick", found: `shape [${cal.shape.join(", ")}]`,
    });
  }
  // Calibration keeps its float run (when it is small enough) for the float-vs-golden comparison below,
  // which would otherwise run the float engine on the same batch again.
  const calibration = runPass(calibratePass, graph, { batch, keepFloatRun: KEEP_FLOAT_RUN_VALUES }).report;
  opts.afterPass?.(calibratePass.name, graph);
  const t2 = performance.now();
  const range = opts.range ?? { kind: "max" };
  const label = `${cal.label} (${batch.batch} sequences × ${batch.ticks} ticks)`;
  const q = runPass(quantizePass, graph, {
    calibration, weightBits: opts.weightBits, stateBits: opts.stateBits, lutBits: opts.lutBits, range, calibrationLabel: label,
  });
  opts.afterPass?.(quantizePass.name, q.graph);
  const t3 = performance.now();
  const error = compareFloatGolden(graph, q.graph, batch, calibration.floatRun);
  const t4 = performance.now();
  return {
    float: graph,
    quantized: q.graph,
    report: {
      prune,
      calibration: { source: label, samples: batch.batch, ticks: batch.ticks, range: q.report.rangeMode },
      quantize: q.report,
      error,
      seconds: { prune: (t1 - t0) / 1000, calibrate: (t2 - t1) / 1000, quantize: (t3 - t2) / 1000, compare: (t4 - t3) / 1000 },
    },
  };
}
