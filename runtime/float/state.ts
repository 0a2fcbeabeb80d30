// What the float engine holds per population while it runs, and the event delivery every kind with ports
// shares: a source row is touched only when the source's value is non-zero, which is both how event-driven
// hardware computes and what the counters count (docs/architecture.md).
import type { PopOf } from "../../ir/kinds.js";
import type { PopulationKind, Projection } from "../../ir/types.js";
import type { RunCounters } from "../counters.js";

export type Buf = Float64Array | Float32Array;
export type BufConstructor = Float64ArrayConstructor | Float32ArrayConstructor;

export interface Incoming {
  proj: Projection;
  /** The source's output of this tick (delay 0) or of the previous one (delay 1): the engine never replaces either array. */
  v: Buf;
  rowPtr: Uint32Array;
  colIdx: Uint32Array;
  w: ArrayLike<number>;
  acc: Buf; // the target port's accumulator
  counters: RunCounters["projections"][string];
}

/** One population as the engine runs it; its out, ports and state are also what an observer sees. */
export interface FloatPop<K extends PopulationKind = PopulationKind> {
  pop: PopOf<K>;
  out: Buf;
  prev: Buf;
  ports: Record<string, Buf>;
  incoming: Incoming[];
  state: Buf[]; // kind-specific state vectors (FloatOp.state)
  /** The output of the population it reads directly each tick (FloatOp.reads: a Readout's source), else empty. */
  read: Buf;
  counters: RunCounters["populations"][string];
  /** Event time: the time step of this step, Δt summed over the population's rate group (ms); else 0. */
  dt: number;
  /** How many of this sequence's steps of the population are real: floor(length / rate) (length: the batch's, else T). */
  valid: number;
}

/** Sums every incoming projection into its port accumulator (which the caller pre-loads). */
export function deliver(s: Pick<FloatPop, "incoming">): void {
  for (const inc of s.incoming) {
    const { v, rowPtr, colIdx, w, acc, counters } = inc;
    let active = 0, touched = 0;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x === 0) continue;
      active++;
      const end = rowPtr[i + 1];
      touched += end - rowPtr[i];
      for (let k = rowPtr[i]; k < end; k++) acc[colIdx[k]] += x * w[k];
    }
    counters.dense += inc.proj.rows * inc.proj.cols;
    counters.effective += touched;
    counters.activityOnly += active * inc.proj.cols;
    counters.weightOnly += counters.nnz;
  }
}

/** Pre-loads a port accumulator with its bias (or zeros). */
export function loadBias(acc: Buf, bias: ArrayLike<number> | undefined): void {
  if (bias) for (let i = 0; i < acc.length; i++) acc[i] = bias[i];
  else acc.fill(0);
}
