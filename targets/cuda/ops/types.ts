// The shape of one row of the CUDA renderer table (ops/index.ts CUDA_OPS): everything the backend does
// differently per population kind, from the tensors of the parameter file to the kernels of one step and
// their launches in the tick. The rest of the generator (plan.ts, kernels.ts, host.ts) is kind-blind and
// reaches a kind's behaviour only through its row.
import type { PopOf } from "../../../ir/kinds.js";
import type { PopulationKind } from "../../../ir/types.js";
import type { Emission } from "../emission.js";
import type { CudaPrecision } from "../params.js";
import type { PopInfo } from "../plan.js";

/**
 * One tensor of a population in params.bin: IR tensor `role` with `count` elements, in the precision's
 * number kind (i32 or f64). `intOnly` tensors exist in the int variant only.
 */
export interface ParamSpec {
  role: string;
  count: number;
  intOnly?: boolean;
}

/** How one precision renders a step of a population of kind K. */
export interface StepRenderer<K extends PopulationKind> {
  /** The kernels of the step (after the shared port kernels of a kind that receives projections). */
  kernels(e: Emission, p: PopInfo<K>): void;
  /** Their launches in nmc_tick (after the port stage of a kind that receives projections). */
  launch(e: Emission, p: PopInfo<K>): void;
}

export interface CudaOp<K extends PopulationKind> {
  /**
   * Its tensors in params.bin, in file order; its lookup tables follow in the int variant (ir/kinds.ts
   * requiredLuts says which). Throws for a population the precision cannot run.
   */
  params(pop: PopOf<K>, precision: CudaPrecision): ParamSpec[];
  /** Its state buffers `<sym>_state_<name>`, of the value type (or `ctype`), with their elements per sequence. */
  state(pop: PopOf<K>, int: boolean): [name: string, perSeq: number, ctype?: string][];
  /**
   * Its step reads event time (int variant, multi-rate programs only): the group's Δt in quanta and the valid
   * steps, computed into `<sym>_time` ([Δt, valid] per sequence, nmc_group_time) before its step.
   */
  usesTime?(pop: PopOf<K>): boolean;
  /** Projections arrive in its ports: load_ports, accumulate (requantize) and saturate_ports run before its step. */
  receives: boolean;
  /** In the int variant the population must carry its fixed-point formats. */
  needsFixed: boolean;
  /** The kind that reads the program's input: the channels of the input file [B, T, C]; null for every other kind. */
  inputChannels: ((pop: PopOf<K>) => number) | null;
  /** A structural check against the populations it names, beyond what the IR verifier guarantees. */
  check?(p: PopInfo<K>, named: (name: string) => PopInfo | undefined): void;
  /** The words after the kind in kernel comments (an activation, a readout mode), or "". */
  detail(pop: PopOf<K>): string;
  int: StepRenderer<K>;
  float: StepRenderer<K>;
}
