// Activity and synaptic-operation counters shared by every engine (float, golden, targets), named as
// NeuroBench names them (docs/metrics.md). Counts are summed over all samples of a run.

export interface PopulationCounters {
  kind: string;
  size: number;
  /** Non-zero outputs: events for an event-emitting population, non-zero values for a dense one. */
  events: number;
  /** size × ticks × samples. */
  unitTicks: number;
}

export interface ProjectionCounters {
  source: string;
  target: string;
  rows: number;
  cols: number;
  nnz: number;
  /** Every weight × input product, zeros included. */
  dense: number;
  /** Products performed: non-zero inputs × stored (non-zero) weights of their rows. */
  effective: number;
  /** Zero inputs skipped, zero weights not: non-zero inputs × cols. */
  activityOnly: number;
  /** Zero weights skipped, zero inputs not: nnz per tick. */
  weightOnly: number;
}

export interface RunCounters {
  samples: number;
  ticks: number;
  populations: Record<string, PopulationCounters>;
  projections: Record<string, ProjectionCounters>;
}

export interface SparsitySummary {
  activation_sparsity: number;
  activation_sparsity_per_population: Record<string, number>;
  connection_sparsity: number;
  connection_sparsity_per_projection: Record<string, number>;
  synaptic_operations: { Effective_MACs: number; Dense: number; activity_only: number; weight_only: number };
  gains: { activity: number; weight: number; combined: number };
}

/** Fresh counters for a population (every engine starts from these). */
export function populationCounters(pop: { kind: string; size: number }): PopulationCounters {
  return { kind: pop.kind, size: pop.size, events: 0, unitTicks: 0 };
}

/** Fresh counters for a projection. */
export function projectionCounters(j: { source: string; target: string; rows: number; cols: number; weights: { colIdx: Uint32Array } }): ProjectionCounters {
  return {
    source: j.source, target: j.target, rows: j.rows, cols: j.cols, nnz: j.weights.colIdx.length,
    dense: 0, effective: 0, activityOnly: 0, weightOnly: 0,
  };
}

const ratio = (a: number, b: number) => (b === 0 ? 1 : a / b);

/** NeuroBench-style summary; synaptic operations are per sample. Input populations are excluded from activation sparsity. */
export function summarize(c: RunCounters): SparsitySummary {
  const perPop: Record<string, number> = {};
  let zeros = 0, all = 0;
  for (const [name, p] of Object.entries(c.populations)) {
    if (p.kind === "Input" || p.kind === "Readout") continue;
    perPop[name] = 1 - ratio(p.events, p.unitTicks);
    zeros += p.unitTicks - p.events;
    all += p.unitTicks;
  }
  const perProj: Record<string, number> = {};
  let z = 0, w = 0, dense = 0, eff = 0, act = 0, wo = 0;
  for (const [name, j] of Object.entries(c.projections)) {
    perProj[name] = 1 - ratio(j.nnz, j.rows * j.cols);
    z += j.rows * j.cols - j.nnz;
    w += j.rows * j.cols;
    dense += j.dense;
    eff += j.effective;
    act += j.activityOnly;
    wo += j.weightOnly;
  }
  const s = Math.max(1, c.samples);
  return {
    activation_sparsity: all === 0 ? 0 : zeros / all,
    activation_sparsity_per_population: perPop,
    connection_sparsity: w === 0 ? 0 : z / w,
    connection_sparsity_per_projection: perProj,
    synaptic_operations: { Effective_MACs: eff / s, Dense: dense / s, activity_only: act / s, weight_only: wo / s },
    gains: { activity: ratio(dense, act), weight: ratio(dense, wo), combined: ratio(dense, eff) },
  };
}
