// What one simulator run works with (simulator.ts makes it once per run in startRun: nothing per tick).
import type { Population } from "../../../ir/types.js";
import type { UnitUpdate } from "../../../runtime/golden/ops.js";
import type { Charges } from "./charge.js";
import type { Mirror, Pe } from "./pe.js";
import type { SimObserver, SimRun } from "./results.js";

/** The x argument of a PE's unit update (only the host's Input reads the model inputs). */
export const NO_INPUTS = new Int32Array(0);

/** What one run works with, made once per run (nothing per tick). */
export interface RunContext {
  xq: Int32Array;
  T: number;
  C: number;
  dense: boolean;
  charges: Charges;
  /** Per projection: this run's counters (each PE's LocalProjection.stat points into it). */
  projections: SimRun["projections"];
  /** The input population, its index, the host's copy of its values and its kernel (GOLDEN_OPS.Input). */
  input: Population;
  inputPop: number;
  tokens: boolean;
  hostOut: Int32Array;
  hostUpdate: UnitUpdate;
  /** Every population's output of the tick, for the observer (null without one). */
  popOut: Int32Array[] | null;
  observer?: SimObserver;
  /** The output integers ([B, K] for a per-sequence output, ir/kinds.ts perSequence; else [B, T, K]). */
  outputQ: Int32Array;
  K: number;
  perSequence: boolean;
  /**
   * The PEs that hold the output (a Readout output: its source's PEs, and its slot on each). A per-sequence
   * output that is no Readout (a decoder fed by one) is read from its own PEs after the last tick, as golden.
   */
  outPes: Pe[];
  readoutPes: Pe[];
  readoutSlot: Mirror[];
  /** Event time: every tick's Δt in quanta ([B·T], golden's quantizeTime), else null; the sequence's length. */
  dtq: Float64Array | null;
  lengths: Int32Array | null;
  /** The output's emission period (rows: floor(T / outRate)). */
  outRate: number;
  rows: number;
}
