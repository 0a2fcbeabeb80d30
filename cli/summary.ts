// JSON views of graphs and runs for `--json` output.
import type { Graph } from "../ir/types.js";

export function graphSummary(g: Graph) {
  return {
    name: g.name,
    inputs: g.inputs,
    outputs: g.outputs,
    populations: g.populations.map((p) => ({
      name: p.name, kind: p.kind, size: p.size, emission: p.emission, layer: p.loc.layer || undefined,
      ports: p.ports, ...(p.kind === "DiagonalSSM" ? { state_size: p.stateSize, parameterization: p.parameterization } : {}),
      ...(p.kind === "Dense" ? { activation: p.activation } : {}), ...(p.kind === "Readout" ? { mode: p.mode, source: p.source } : {}),
      // Event time (issue 19): printed only where set, so that other graphs print as before.
      ...(p.kind === "DiagonalSSM" && p.discretization ? { discretization: p.discretization, stride: p.stride ?? 1, ...(p.pool ? { pool: p.pool } : {}) } : {}),
      ...(p.kind === "EventPooling" ? { stride: p.stride, mode: p.mode } : {}),
      ...(p.kind === "Input" && p.eventTime ? { event_time: true } : {}),
      ...(p.rate !== undefined && p.rate !== 1 ? { rate: p.rate } : {}),
    })),
    projections: g.projections.map((j) => ({
      name: j.name, source: j.source, target: `${j.target}.${j.port}`, delay: j.delay, rows: j.rows, cols: j.cols,
      nnz: j.weights.colIdx.length, dtype: j.weights.values.dtype,
    })),
    parameter_count: g.projections.reduce((a, j) => a + j.rows * j.cols, 0) +
      g.populations.reduce((a, p) => a + Object.values(p.tensors).reduce((b, t) => b + t.data.length, 0), 0),
  };
}
