// TypeScript mirror of ir/nmc.proto. The in-memory IR uses typed arrays for every tensor so that the
// interpreters' hot loops index them directly; ir/codec.ts converts to and from the protobuf messages.

export type DType = "f32" | "f64" | "i8" | "i16" | "i32" | "u32";

export type TensorData = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array | Uint32Array;

export interface Quant {
  scale: number[];
  axis: number;
  fracBits: number;
}

export interface Tensor {
  dtype: DType;
  shape: number[];
  data: TensorData;
  quant?: Quant;
}

export interface SourceLoc {
  file: string;
  layer: string;
  className: string;
}

export type PopulationKind = "Input" | "EGRU" | "DiagonalSSM" | "Dense" | "Readout" | "Multiply" | "LayerNorm" | "EventPooling";
export type Emission = "dense" | "events";
/** Dense activations: `gelu` is the exact (erf) GELU, `gelu_new` the tanh approximation (docs/model-math.md). */
export type Activation = "linear" | "relu" | "sigmoid" | "tanh" | "gelu" | "softmax" | "swish" | "softplus" | "gelu_new";
/**
 * `last`, `mean`, `sum`: over the readout's steps. `pool` (a mean over the first n steps, n = the sequence's
 * length // the readout's rate) and `timepool` (Σ_{i<n} x_i (Δt_i + 1e−6) / Σ_i Δt_i): event-ssm's
 * classification readouts (docs/model-math.md, "Event-time SSMs").
 */
export type ReadoutMode = "last" | "mean" | "sum" | "pool" | "timepool";
export type InputEncoding = "values" | "tokens";
/** How an event-time DiagonalSSM discretizes its continuous Λ with each step's Δt (event-ssm ssm.py). */
export type Discretization = "async" | "zoh" | "dirac";
/** event-ssm's EventPooling modes: the first event of each group, the group mean, the Δt-weighted mean. */
export type PoolMode = "last" | "avgpool" | "timepool";

/** Every kind once, as a record so that a kind added to PopulationKind and missing here is a type error. */
const KINDS: Record<PopulationKind, true> = { Input: true, EGRU: true, DiagonalSSM: true, Dense: true, Readout: true, Multiply: true, LayerNorm: true, EventPooling: true };
export const POPULATION_KINDS = Object.keys(KINDS) as readonly PopulationKind[];
/**
 * The widest population (units, state size, vocabulary, input features) nmc takes: 2^20. Far beyond what a
 * chip holds (a SpiNNaker 2 chip's 152 PEs have 128 KiB of SRAM each), and it bounds what a corrupt or hostile
 * model.json can make the frontend allocate before any weight is checked (an input width of 1e9 followed by a
 * BatchNormalization without gamma and beta would allocate gigabytes of defaults).
 */
export const MAX_UNITS = 1 << 20;
export const ACTIVATIONS: readonly Activation[] = ["linear", "relu", "sigmoid", "tanh", "gelu", "softmax", "swish", "softplus", "gelu_new"];
export const READOUT_MODES: readonly ReadoutMode[] = ["last", "mean", "sum", "pool", "timepool"];
export const DISCRETIZATIONS: readonly Discretization[] = ["async", "zoh", "dirac"];
export const POOL_MODES: readonly PoolMode[] = ["last", "avgpool", "timepool"];

export interface Port {
  name: string;
  width: number;
}

/** Fixed-point formats of a quantized population (nmc.proto FixedFormat): fractional bits of each value. */
export interface FixedFormat {
  outFrac: number;
  accFrac: number;
  stateFrac: number;
  stateBits: number;
  readFrac: number;
}

/** A lookup table (nmc.proto Lut); the same shape as runtime/fixed's Lut so the golden engine uses it as is. */
export interface Lut {
  name: string;
  lo: number;
  stepLog2: number;
  inFrac: number;
  outFrac: number;
  table: Int16Array;
}

interface PopulationBase {
  name: string;
  size: number;
  emission: Emission;
  ports: Port[];
  tensors: Record<string, Tensor>;
  loc: SourceLoc;
  /** Quantized IR only. */
  fixed?: FixedFormat;
  /** Quantized IR only: the tables this population looks up, by name. */
  luts?: Lut[];
  /**
   * Multi-rate execution: the population steps once every `rate` input steps (ticks t with (t + 1) % rate
   * = 0, the last tick of each group), with Δt summed over the group. Absent: 1, every tick. It follows from
   * the graph (ir/timing.ts: a pooling stride k upstream multiplies it by k); the builder sets it and the
   * verifier checks it.
   */
  rate?: number;
}

export interface InputPopulation extends PopulationBase {
  kind: "Input";
  encoding: InputEncoding;
  /**
   * Event time: every step is one event and carries its own time step Δt (milliseconds, as event-ssm's data
   * loader makes them), and every sequence its length; populations read Δt summed over their rate's group.
   * Absent: ticks of one fixed step, no Δt.
   */
  eventTime?: boolean;
  /**
   * Token inputs: a negative id −k selects unit V − k, as numpy indexing and jnp.take do (event-ssm pads its
   * token sequences with −1, which its Embedding reads as the LAST row). Absent: ids must be in [0, V).
   */
  wrapTokens?: boolean;
}

/** Tensors: `bias_x` [3H], `bias_h` [3H], `thr` [H]. Ports: `input` [3H], `recurrent` [3H]. */
export interface EgruPopulation extends PopulationBase {
  kind: "EGRU";
  /**
   * EvNN's zoneout probability p in [0, 1), applied at inference as its compiled kernel does: the candidate
   * becomes p·h + (1 − p)·c before the threshold (docs/model-math.md, "EGRU zoneout"). Absent: 0, none.
   */
  zoneout?: number;
}

/**
 * Discretized complex diagonal SSM with output width = size (H). Tensors: `lambda_re`, `lambda_im` [P]
 * (Λ̄), `c_re`, `c_im` [H, P]. Ports: `u` [2P] (B̄u: real parts in columns [0, P), imaginary in [P, 2P)),
 * `skip` [H] (D ⊙ u).
 *
 * Event time (`discretization` set, event-ssm's S5SSM): `lambda_re`, `lambda_im` are the continuous Λ, `step`
 * [P] the learnt step s, and the port `u` receives B̃u undiscretized. Each step k with time step Δt_k:
 * Λ̄_k = exp(Λ s Δt_k), x_k = Λ̄_k ⊙ x_{k−1} + γ_k ⊙ u, γ by the discretization (async (exp(Λs) − 1)/Λ,
 * zoh (Λ̄_k − 1)/Λ, dirac 1); y = Re(C x) + skip (a conj_sym factor 2 is folded into C). With `stride` k > 1
 * the population emits once per k steps (at the group's last step): Re(C x) of the group's FIRST step plus
 * the group's `skip` pooled by `pool` (docs/model-math.md, "Event-time SSMs").
 */
export interface DiagonalSsmPopulation extends PopulationBase {
  kind: "DiagonalSSM";
  stateSize: number;
  parameterization: string;
  /** Absent: the fixed-step form above (Λ̄ and B̄ folded at compile time). */
  discretization?: Discretization;
  /** Event time only: emit once per `stride` steps (absent: 1). */
  stride?: number;
  /** Event time with stride > 1: how `skip` is pooled over each group. */
  pool?: PoolMode;
}

/** Tensors: `bias` [K]. Ports: `x` [K]. */
export interface DensePopulation extends PopulationBase {
  kind: "Dense";
  activation: Activation;
}

/** No ports: reads `source`'s output every tick and accumulates it over the sequence. */
export interface ReadoutPopulation extends PopulationBase {
  kind: "Readout";
  mode: ReadoutMode;
  source: string;
}

/**
 * The elementwise product of its two ports: out_i = a_i · b_i (no bias, no own attributes). Ports: `a` [n],
 * `b` [n], typically identity projections from the two operands (delay 0, or 1 for a recurrent operand).
 * Quantized tensors: `frac_a`, `frac_b` [1] (i32), the binary points its operands are brought to.
 */
export interface MultiplyPopulation extends PopulationBase {
  kind: "Multiply";
}

/**
 * Layer normalization over its n units of one tick (tfjs LayerNormalization, axis −1):
 * out_i = γ_i · (x_i − mean(x)) / √(var(x) + ε) + β_i, var the biased variance. Port: `x` [n], typically an
 * identity projection from the normalized population. Tensors: `gamma` [n], `beta` [n]. Quantized tensors
 * (runtime/fixed/QUANTIZATION.md): `gamma`, `beta` [n] (i32), `frac_x`, `frac_g`, `eps_q` [1] (i32).
 */
export interface LayerNormPopulation extends PopulationBase {
  kind: "LayerNorm";
  epsilon: number;
}

/**
 * event-ssm's EventPooling: groups of `stride` consecutive steps of port `x` [n] become one output, emitted at
 * the group's last step (so the populations it feeds run at `stride` × its rate, with Δt summed over the
 * group): `last` the group's FIRST value (event-ssm's x[::stride]), `avgpool` the mean, `timepool` the mean
 * weighted by Δt + 1e−6. Steps after the last whole group are dropped. No tensors.
 */
export interface EventPoolingPopulation extends PopulationBase {
  kind: "EventPooling";
  stride: number;
  mode: PoolMode;
}

export type Population =
  | InputPopulation
  | EgruPopulation
  | DiagonalSsmPopulation
  | DensePopulation
  | ReadoutPopulation
  | MultiplyPopulation
  | LayerNormPopulation
  | EventPoolingPopulation;

export interface CsrWeights {
  rowPtr: Uint32Array;
  colIdx: Uint32Array;
  values: Tensor;
}

export interface Projection {
  name: string;
  source: string;
  target: string;
  port: string;
  delay: 0 | 1;
  rows: number;
  cols: number;
  weights: CsrWeights;
  loc: SourceLoc;
  /** Quantized IR only: per target column, the Q15 requantization multiplier and its shift. */
  requant?: { multiplier: Int32Array; shift: Int32Array };
}

export interface QuantInfo {
  weightBits: number;
  stateBits: number;
  calibration: string;
  rangeMode: string;
}

export interface Graph {
  name: string;
  populations: Population[];
  projections: Projection[];
  inputs: string[];
  outputs: string[];
  meta: Record<string, string>;
  /** Present exactly when the graph is quantized. */
  quant?: QuantInfo;
}

export function typedArrayFor(dtype: DType, length: number): TensorData {
  switch (dtype) {
    case "f32": return new Float32Array(length);
    case "f64": return new Float64Array(length);
    case "i8": return new Int8Array(length);
    case "i16": return new Int16Array(length);
    case "i32": return new Int32Array(length);
    case "u32": return new Uint32Array(length);
  }
}

export function dtypeOf(data: TensorData): DType {
  if (data instanceof Float32Array) return "f32";
  if (data instanceof Float64Array) return "f64";
  if (data instanceof Int8Array) return "i8";
  if (data instanceof Int16Array) return "i16";
  if (data instanceof Int32Array) return "i32";
  return "u32";
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
