// Calibration: runs the float interpreter on calibration inputs and records the magnitude of every value
// the quantized model will hold: each population's output, and what its kind's row of QUANT_OPS
// (formats.ts) observes: port accumulators (pre-activations, with the EGRU gate sums) and the DiagonalSSM
// state. Only binary points are chosen from these ranges, so a histogram of magnitudes by power of two
// (ranges.ts) answers every question the quantize pass asks, in constant memory.
// The graph is returned unchanged; the ranges are the report.
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import { FloatEngine, type StepView } from "../../runtime/float/interpreter.js";
import { type SequenceBatch } from "../../runtime/batch.js";
import type { Pass } from "./pass.js";
import { type FloatReference, floatRecorder } from "../compare.js";
import { quantOpOf } from "./formats.js";
import { add, addAll, emptyStats, type PopulationRanges } from "./ranges.js";
import { isEventTime } from "../../ir/timing.js";

export {
  ceilLog2, chooseRange, clipFraction, emptyStats, type PopulationRanges, type RangeMode, type RangeStats,
} from "./ranges.js";

export interface CalibrationReport {
  samples: number;
  ticks: number;
  populations: Record<string, PopulationRanges>;
  /** The float run on the calibration batch, when kept (CalibrateOptions.keepFloatRun). */
  floatRun?: FloatReference;
}

export interface CalibrateOptions {
  batch: SequenceBatch;
  /**
   * Also keep the float run on the calibration batch (every population's output at every tick, and the
   * model output) when that is at most this many values, so that compareFloatGolden need not run the
   * float engine on the same batch again (default 0: never).
   */
  keepFloatRun?: number;
}

/**
 * Event time: every sequence's total Σ Δt (ms, over all its steps, as the timepool readout's denominator), as
 * the input population's r.ports.dt; quantize chooses dt_frac from its largest (formats.ts chooseDtFrac).
 */
function recordTime(graph: Graph, batch: SequenceBatch, list: PopulationRanges[]): void {
  if (!isEventTime(graph) || !batch.timesteps) return;
  const i = graph.populations.findIndex((p) => p.name === graph.inputs[0]);
  const st = emptyStats();
  for (let b = 0; b < batch.batch; b++) {
    let total = 0;
    for (let t = 0; t < batch.ticks; t++) total += batch.timesteps[b * batch.ticks + t];
    add(st, total);
  }
  list[i].ports = { ...(list[i].ports ?? {}), dt: st };
}

export const calibratePass: Pass<CalibrateOptions, CalibrationReport> = {
  name: "calibrate",
  run(graph: Graph, opts: CalibrateOptions) {
    if (graph.quant) throw new NmcError("calibrate runs on the float IR; this graph is already quantized");
    const ranges: Record<string, PopulationRanges> = {};
    const list = graph.populations.map((p) => {
      const r = { kind: p.kind, out: emptyStats(), acc: emptyStats(), state: emptyStats() };
      ranges[p.name] = r;
      return r;
    });
    // Every population's output, then what its kind's integers hold (QUANT_OPS[kind].observe).
    const observers = graph.populations.map((p) => quantOpOf(p.kind).observe);
    const observe = (i: number, view: StepView) => {
      addAll(list[i].out, view.out);
      observers[i](graph.populations[i], list[i], view);
    };
    const recorder = floatRecorder(graph, opts.batch, opts.keepFloatRun ?? 0);
    const engine = new FloatEngine(graph, {
      observer: recorder
        ? (i, view, b, t) => {
          observe(i, view);
          recorder.observer(i, view, b, t);
        }
        : observe,
    });
    const run = engine.run(opts.batch);
    recordTime(graph, opts.batch, list);
    const floatRun = recorder ? { floatRun: recorder.finish(run) } : {};
    return { graph, report: { samples: opts.batch.batch, ticks: opts.batch.ticks, populations: ranges, ...floatRun } };
  },
};
