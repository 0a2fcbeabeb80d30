// The figures of a (tuned) model as nmc itself measures them: the float IR on the float engine, and the int8
// model (compileQuantized's defaults: int8 weights, int16 states) on the golden engine, whose counters the
// SpiNNaker 2 simulator reproduces exactly (docs/metrics.md). Accuracy, activity sparsity, the weight sparsity
// of every IR projection, and synaptic operations with the combined reduction Dense ÷ Effective_MACs.
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import { batchFromShape, type SequenceBatch } from "../../runtime/batch.js";
import { summarize, type SparsitySummary } from "../../runtime/counters.js";
import { FloatEngine } from "../../runtime/float/interpreter.js";
import { GoldenEngine } from "../../runtime/golden/interpreter.js";
import { argmaxRows, countEqual } from "../../runtime/metrics.js";
import { loadModel } from "../frontend/index.js";
import { type CalibrationData, compileQuantized } from "../pipeline.js";

export interface EngineFigures {
  engine: "float" | "golden";
  samples: number;
  accuracy: number;
  activation_sparsity: number;
  activation_sparsity_per_population: Record<string, number>;
  connection_sparsity: number;
  connection_sparsity_per_projection: Record<string, number>;
  synaptic_operations: SparsitySummary["synaptic_operations"];
  /** Dense ÷ Effective_MACs per sample. */
  combined_reduction: number;
  gains: SparsitySummary["gains"];
}

export interface NmcFigures {
  float: EngineFigures;
  /** Null when the model has no integer form (nmc compile refuses it). */
  int8: EngineFigures | null;
  int8_note?: string;
}

function figures(engine: "float" | "golden", summary: SparsitySummary, output: Float64Array, labels: ArrayLike<number>, n: number): EngineFigures {
  const acc = countEqual(argmaxRows(output, n, output.length / n), labels, n) / n;
  return {
    engine, samples: n, accuracy: acc,
    activation_sparsity: summary.activation_sparsity,
    activation_sparsity_per_population: summary.activation_sparsity_per_population,
    connection_sparsity: summary.connection_sparsity,
    connection_sparsity_per_projection: summary.connection_sparsity_per_projection,
    synaptic_operations: summary.synaptic_operations,
    combined_reduction: summary.gains.combined,
    gains: summary.gains,
  };
}

/** Weight sparsity of every projection of the float IR: zeros ÷ rows·cols (what `nmc compile` reports as stored). */
export function projectionSparsity(graph: Graph): Record<string, number> {
  return Object.fromEntries(graph.projections.map((p) => [p.name, 1 - p.weights.colIdx.length / (p.rows * p.cols)]));
}

/**
 * Runs the model.json on `x` ([N, T, C], or [N, T] token ids) with the float engine and, compiled with
 * calibration data `calibration`, with the golden engine. Labels are class indices [N].
 */
export function measureWithNmc(modelJson: string, x: ArrayLike<number>, shape: number[], labels: ArrayLike<number>, calibration: CalibrationData): NmcFigures {
  const { graph } = loadModel(modelJson);
  const batch: SequenceBatch = batchFromShape(graph, x, shape, modelJson);
  const n = batch.batch;
  const f = new FloatEngine(graph).run(batch);
  const float = figures("float", summarize(f.counters), f.output, labels, n);
  let int8: EngineFigures | null = null;
  let note: string | undefined;
  try {
    const q = compileQuantized(graph, { calibration });
    const g = new GoldenEngine(q.quantized).run(batch);
    int8 = figures("golden", summarize(g.counters), g.output, labels, n);
  } catch (e) {
    if (!(e instanceof NmcError)) throw e;
    note = e.format();
  }
  return note === undefined ? { float, int8 } : { float, int8, int8_note: note };
}
