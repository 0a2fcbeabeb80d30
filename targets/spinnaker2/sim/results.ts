// What a simulator run reports: the charged totals of the four modes, per-PE and per-projection counters,
// and the options of a run. Plain data, shared by the run loop (simulator.ts) and the cost charging (charge.ts).
import type { KernelChoice } from "../../../runtime/wasm/index.js";
import type { SaturationCounts } from "../../../runtime/golden/saturation.js";
import type { DvfsCounts } from "../dvfs.js";
import type { AccelCounts } from "./accel.js";
import type { PipelinePlan } from "./pipeline.js";

export interface PeCounters {
  pe: number;
  slice: string;
  cycles: number;
  denseCycles: number;
  packetsIn: number;
  packetsOut: number;
  synops: number;
  sramBytes: number;
}

export interface SimTotals {
  /** Event mode (what the chip does) and dense mode (nothing skipped), summed over the run. */
  event: ModeTotals;
  dense: ModeTotals;
  /**
   * Activity sparsity only: events skip (only non-zero units send, as in event mode) but every weight is
   * stored, so each received event reads its whole dense row of the PE's columns and every column is
   * requantized once an event arrived.
   */
  activityOnly: ModeTotals;
  /**
   * Weight sparsity only: every unit sends its value every tick (zero or not, as in dense mode) and only the
   * stored weights are read (every stored entry every tick); every column is requantized every tick.
   */
  weightOnly: ModeTotals;
}

export interface ModeTotals {
  cycles: number;
  /** Σ over ticks of the slowest PE's cycles. */
  criticalCycles: number;
  /** Σ over ticks of the deepest multicast path that carried a packet, in router hops. */
  nocDepthHops: number;
  packets: number;
  hops: number;
  chipHops: number;
  synops: number;
  sramBytes: number;
  /**
   * The cross-PE reductions' share of packets, hops and chipHops (included in those), and their router
   * traversals and chip crossings weighted by packet bits (Σ hops · bits of the packet), for the NoC energy.
   */
  reductionPackets: number;
  reductionHops: number;
  reductionChipHops: number;
  reductionHopBits: number;
  reductionChipHopBits: number;
}

export type SimObserver = (popIndex: number, out: Int32Array, sample: number, tick: number) => void;

/**
 * How the simulator executes (the charged cycles and energies of every mode are the same either way, and so
 * are the outputs, bit for bit):
 * - "event" (default): only events travel (non-zero values), and a PE reads only the stored weights of the
 *   rows of the events it received;
 * - "dense": every unit sends its value every tick (zero or not), and every PE visits every weight of the
 *   dense expansion of its CSR rows (zeros included; built once, on the first dense run), i.e. it really
 *   does the work of an accelerator without event or weight skipping (`nmc run --mode dense`).
 */
export type Execution = "event" | "dense";

export interface SimOptions {
  execution?: Execution;
  /**
   * Let the PEs of a population share one queue per source when the routing multicasts every event of that
   * source to all of them (default true; false keeps one queue per PE everywhere, for tests of that path).
   */
  shareQueues?: boolean;
  /** The accumulation kernels (runtime/wasm): auto (default: WebAssembly when it loads), wasm, js; else NMC_KERNELS. */
  kernels?: KernelChoice;
  /** Count per-PE, per-tick DVFS levels (targets/spinnaker2/dvfs.ts; default true). Accounting only: outputs and every other figure are the same either way. */
  dvfs?: boolean;
  /** Run as one worker of a pipelined simulation (sim/pipeline.ts, planned and started by targets/run/pipeline.ts). */
  pipeline?: PipelinePlan;
}

/** Options of one run: `execution` overrides the Simulator's (queue sharing is fixed when it is built). */
export interface RunOptions {
  execution?: Execution;
  observer?: SimObserver;
  onSample?: (b: number) => void;
  /**
   * The batch's inputs already quantized (runtime/golden quantizeInputs of this graph and batch; the batch's
   * data is then not read): a pipelined run quantizes them once for all its workers.
   */
  xq?: Int32Array;
}

export interface ProjectionCounts {
  nnz: number;
  dense: number;
  effective: number;
  activityOnly: number;
  weightOnly: number;
  denseOps: number;
}

export function emptyProjectionCounts(): ProjectionCounts {
  return { nnz: 0, dense: 0, effective: 0, activityOnly: 0, weightOnly: 0, denseOps: 0 };
}

export interface SimRun {
  outputQ: Int32Array;
  output: Float64Array;
  outputShape: number[];
  outFrac: number;
  samples: number;
  ticks: number;
  totals: SimTotals;
  pes: PeCounters[];
  /** Events per population (non-zero outputs), for activity sparsity. */
  events: Record<string, number>;
  unitTicks: Record<string, number>;
  /** Per tick index, summed over the samples: the slowest PE's cycles in event and in dense mode. */
  perTick: { eventCycles: Float64Array; denseCycles: Float64Array };
  /** Per projection: stored entries (for weight sparsity) and dense size. */
  projections: Record<string, ProjectionCounts>;
  /**
   * Values clamped to their format and lookup inputs clipped, per population (runtime/golden/saturation.ts;
   * replicated work counted once). Absent only in a part file written before nmc counted them.
   */
  saturation?: SaturationCounts;
  /**
   * Per-PE, per-tick DVFS and power gating counts (targets/spinnaker2/dvfs.ts): per charged mode and nominal
   * level, PE-ticks, cycles and PE time per level. Absent only in a part file written before nmc counted them.
   */
  dvfs?: DvfsCounts;
  /**
   * The MAC-array and DRAM counts (sim/accel.ts), only for a mapping with such paths (--mac-array, --dram):
   * MACs, array cycles, DRAM bytes and rows per mode, the critical path per level with DRAM time, per projection
   * and population. A run with them counts no DVFS (not modelled together).
   */
  accel?: AccelCounts;
}

export const emptyTotals = (): ModeTotals => ({
  cycles: 0, criticalCycles: 0, nocDepthHops: 0, packets: 0, hops: 0, chipHops: 0, synops: 0, sramBytes: 0,
  reductionPackets: 0, reductionHops: 0, reductionChipHops: 0, reductionHopBits: 0, reductionChipHopBits: 0,
});
