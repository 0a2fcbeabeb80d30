// What the IR itself says about each population kind, as one table: the integer tensors and the lookup
// tables a quantized population of that kind carries, the kind's own attributes in the protobuf form
// (ir/nmc.proto: its PopulationKind name and its `config` oneof message) and in the text form. The verifier
// checks the tensors and tables, the quantize pass makes them, and every engine (golden, simulator, CUDA)
// looks the tables up by the names given here, so the choice of table for an activation is made in this one
// place. The codec and the printer dispatch through the table, so adding a kind adds one row here.
import type { Activation, Discretization, FixedFormat, InputEncoding, PoolMode, Population, PopulationKind, ReadoutMode } from "./types.js";
import { DISCRETIZATIONS, POOL_MODES, READOUT_MODES } from "./types.js";

/** The names of the lookup tables (ir Lut.name); runtime/fixed builds each. */
export type LutName = "sigmoid" | "tanh" | "phi" | "phi_tanh" | "softplus";

/**
 * The real range [lo, hi) each table covers whatever its length (runtime/fixed makes them: 2^k entries, k in
 * 8…12, bins of (hi − lo) / 2^k), which the verifier holds every quantized table to.
 */
export const LUT_RANGES: Record<LutName, { lo: number; hi: number }> = {
  sigmoid: { lo: -8, hi: 8 }, tanh: { lo: -4, hi: 4 }, phi: { lo: -4, hi: 4 }, phi_tanh: { lo: -4, hi: 4 }, softplus: { lo: -8, hi: 0 },
};

/** The population of kind K. */
export type PopOf<K extends PopulationKind> = Extract<Population, { kind: K }>;

/** The fields a population of kind K has beyond those every population has (and `kind`). */
export type KindAttrs<K extends PopulationKind> = Omit<PopOf<K>, keyof Population>;

/** A decoded protobuf message (protobufjs plain object, enums as their names). */
/* eslint-disable-next-line @typescript-eslint/no-explicit-any */
export type PbObject = any;

export interface IrKind<K extends PopulationKind> {
  /** The input ports a population of this kind has, with their widths (what projections deliver into). */
  ports(p: PopOf<K>): Record<string, number>;
  /** The tensor that each port starts every tick from (its bias, one value per port column), or null. */
  portBias(p: PopOf<K>, port: string): string | null;
  /** The tensors it carries (float and quantized IR), with their shapes. */
  tensors(p: PopOf<K>): Record<string, number[]>;
  /** What is wrong with its own attributes (the verifier reports each); absent: nothing to check. */
  problems?(p: PopOf<K>): string[];
  /** What is wrong with its quantized formats and integer tensors beyond their dtypes (the verifier reports each). */
  fixedProblems?(p: PopOf<K>, f: FixedFormat): string[];
  /** A per-output requantization it carries (multiplier and shift tensors), which the verifier checks. */
  requant?: { mult: string; shift: string };
  /** The dtype of each quantized tensor ("w" = the weight dtype of QuantInfo.weight_bits). */
  quantTensors: Record<string, string>;
  /** The tables a quantized population of this kind carries, in order. */
  luts(p: PopOf<K>): LutName[];
  /** The nmc.proto PopulationKind enum name, and the field of the Population `config` oneof it fills. */
  pb: { kind: string; config: string };
  /** The kind's own attributes as its config message. */
  encode(p: PopOf<K>): object;
  /** The kind's own attributes from its config message (undefined when absent: the proto3 defaults). */
  decode(m: PbObject): KindAttrs<K>;
  /** The kind's own attributes as the text IR prints them after the size ("" when it has none). */
  detail(p: PopOf<K>): string;
  /** Its quantized form has a state format (FixedFormat state_frac, state_bits and read_frac mean something). */
  stateFormat: boolean;
  /** Its output is one value per sequence (after the last tick), not one per tick. */
  perSequence: boolean;
  /** The population whose output it reads directly each tick, not through a projection (a Readout's source), or null. */
  reads(p: PopOf<K>): string | null;
  /**
   * It emits once per `stride` of its own steps (a pooling population), so the populations it feeds step at
   * its rate × stride (ir/timing.ts). 1 for every kind that emits at every step.
   */
  stride(p: PopOf<K>): number;
  /** It reads each step's time step Δt, so the graph's input must carry them (InputPopulation.eventTime). */
  usesTime(p: PopOf<K>): boolean;
  /** The width of its integer output (a Readout's running sums are int32). */
  outBits: 16 | 32;
  /** Its state's integer format as reports print it ("i16 f14"), or null when it keeps no state between ticks. */
  stateText(f: FixedFormat): string | null;
}

/**
 * The table a Dense activation reads, or none: gelu is x · Φ(x) with Φ tabulated, gelu_new x · Φ̃(x) with its
 * tanh form Φ̃, swish x · σ(x) with the sigmoid table, softplus relu(x) + L(−|x|) with L(t) = log(1 + eᵗ).
 */
export function activationLut(act: Activation): LutName | undefined {
  return ACTIVATION_LUT[act];
}

const ACTIVATION_LUT: Record<Activation, LutName | undefined> = {
  linear: undefined, relu: undefined, softmax: undefined,
  sigmoid: "sigmoid", tanh: "tanh", gelu: "phi", gelu_new: "phi_tanh", swish: "sigmoid", softplus: "softplus",
};

/**
 * What a kind says unless its row says otherwise: no port biases or tables, no attributes of its own, no state
 * format, one int16 output per tick, nothing read directly. Rows spread it and list only what differs.
 */
const PLAIN = {
  portBias: () => null,
  luts: () => [],
  encode: () => ({}),
  decode: () => ({}),
  detail: () => "",
  stateFormat: false,
  perSequence: false,
  reads: () => null,
  stride: () => 1,
  usesTime: () => false,
  outBits: 16,
  stateText: () => null,
} as const;

export const IR_KINDS: { [K in PopulationKind]: IrKind<K> } = {
  Input: {
    ...PLAIN,
    ports: () => ({}),
    tensors: () => ({}),
    quantTensors: {},
    pb: { kind: "INPUT", config: "input" },
    // eventTime and wrapTokens are written only when set, so that an input without them encodes and prints as before.
    encode: (p) => ({
      encoding: p.encoding === "tokens" ? "ENCODING_TOKENS" : "ENCODING_VALUES",
      ...(p.eventTime ? { eventTime: true } : {}), ...(p.wrapTokens ? { wrapTokens: true } : {}),
    }),
    decode: (m) => ({
      encoding: (m?.encoding === "ENCODING_TOKENS" ? "tokens" : "values") as InputEncoding,
      ...(m?.eventTime ? { eventTime: true } : {}), ...(m?.wrapTokens ? { wrapTokens: true } : {}),
    }),
    problems: (p) => (p.wrapTokens && p.encoding !== "tokens" ? ["wrap_tokens applies to token inputs only"] : []),
    detail: (p) => `encoding ${p.encoding}${p.eventTime ? ", event time (per-step Δt in ms)" : ""}${p.wrapTokens ? ", negative ids wrap" : ""}`,
  },
  EGRU: {
    ...PLAIN,
    ports: (p) => ({ input: 3 * p.size, recurrent: 3 * p.size }),
    portBias: (_p, port) => (port === "input" ? "bias_x" : port === "recurrent" ? "bias_h" : null),
    tensors: (p) => ({ bias_x: [3 * p.size], bias_h: [3 * p.size], thr: [p.size] }),
    fixedProblems: (_p, f) => (f.outFrac !== 14 ? [`EGRU output must be Q14, is out_frac ${f.outFrac}`] : []),
    quantTensors: { bias_x: "i32", bias_h: "i32", thr: "i16" },
    luts: () => ["sigmoid", "tanh"],
    // zoneout (EvNN's inference blend, docs/model-math.md): written only when not 0, so that a population
    // without it encodes and prints as before, and a bundle from before decodes as p = 0.
    problems: (p) => (p.zoneout === undefined || (Number.isFinite(p.zoneout) && p.zoneout >= 0 && p.zoneout < 1) ? [] : [`zoneout = ${p.zoneout} must be a number in [0, 1)`]),
    pb: { kind: "EGRU", config: "egru" },
    encode: (p) => (p.zoneout ? { zoneout: p.zoneout } : {}),
    decode: (m) => (m?.zoneout !== undefined && m.zoneout !== 0 ? { zoneout: m.zoneout as number } : {}),
    detail: (p) => (p.zoneout ? `zoneout ${p.zoneout}` : ""),
    stateText: () => "i16 f14", // h is Q14, as the output (runtime/fixed/QUANTIZATION.md)
  },
  DiagonalSSM: {
    ...PLAIN,
    ports: (p) => ({ u: 2 * p.stateSize, skip: p.size }),
    tensors: (p) => ({
      lambda_re: [p.stateSize], lambda_im: [p.stateSize], c_re: [p.size, p.stateSize], c_im: [p.size, p.stateSize],
      ...(p.discretization ? { step: [p.stateSize] } : {}),
    }),
    problems: (p) => [
      ...(!Number.isInteger(p.stateSize) || p.stateSize <= 0 ? [`state size must be a positive integer, is ${p.stateSize}`] : []),
      ...ssmEventProblems(p),
    ],
    fixedProblems: (_p, f) => [
      ...(f.stateBits !== 16 && f.stateBits !== 32 ? [`state bits must be 16 or 32, is ${f.stateBits}`] : []),
      ...(f.readFrac !== f.stateFrac - (f.stateBits - 16) ? [`read_frac ${f.readFrac} must be state_frac - (state_bits - 16) = ${f.stateFrac - (f.stateBits - 16)}`] : []),
    ],
    requant: { mult: "c_mult", shift: "c_shift" },
    quantTensors: { lambda_re: "i16", lambda_im: "i16", c_re: "w", c_im: "w", c_mult: "i32", c_shift: "i32" },
    pb: { kind: "DIAGONAL_SSM", config: "ssm" },
    // The event-time fields are written only when set: a fixed-step SSM encodes and prints as before.
    encode: (p) => ({
      stateSize: p.stateSize, parameterization: p.parameterization,
      ...(p.discretization ? { discretization: p.discretization } : {}), ...(p.stride !== undefined ? { stride: p.stride } : {}), ...(p.pool ? { pool: p.pool } : {}),
    }),
    decode: (m) => ({
      stateSize: m?.stateSize ?? 0, parameterization: m?.parameterization ?? "",
      ...(m?.discretization ? { discretization: m.discretization as Discretization } : {}),
      ...(m?.stride ? { stride: m.stride as number } : {}), ...(m?.pool ? { pool: m.pool as PoolMode } : {}),
    }),
    detail: (p) => `state ${p.stateSize} complex (${p.parameterization})` +
      (p.discretization ? `, event time ${p.discretization}${(p.stride ?? 1) > 1 ? `, stride ${p.stride} pool ${p.pool ?? "last"}` : ""}` : ""),
    stride: (p) => p.stride ?? 1,
    usesTime: (p) => p.discretization !== undefined,
    stateFormat: true,
    stateText: (f) => `i${f.stateBits} f${f.stateFrac}`,
  },
  Dense: {
    ...PLAIN,
    ports: (p) => ({ x: p.size }),
    portBias: (_p, port) => (port === "x" ? "bias" : null),
    tensors: (p) => ({ bias: [p.size] }),
    fixedProblems: (p) => (p.activation === "softmax" ? ["softmax has no quantized form: quantize replaces it by its argmax-preserving logits"] : []),
    quantTensors: { bias: "i32" },
    luts: (p) => {
      const l = activationLut(p.activation);
      return l ? [l] : [];
    },
    pb: { kind: "DENSE", config: "dense" },
    encode: (p) => ({ activation: `ACT_${p.activation.toUpperCase()}` }),
    decode: (m) => ({ activation: String(m?.activation ?? "ACT_LINEAR").slice(4).toLowerCase() as Activation }),
    detail: (p) => `activation ${p.activation}`,
  },
  Readout: {
    ...PLAIN,
    ports: () => ({}),
    tensors: () => ({}),
    quantTensors: {},
    pb: { kind: "READOUT", config: "readout" },
    encode: (p) => ({ mode: `READOUT_${p.mode.toUpperCase()}`, source: p.source }),
    decode: (m) => ({ mode: String(m?.mode ?? "READOUT_LAST").slice(8).toLowerCase() as ReadoutMode, source: m?.source ?? "" }),
    problems: (p) => (READOUT_MODES.includes(p.mode) ? [] : [`readout mode ${JSON.stringify(p.mode)} is not one of ${READOUT_MODES.join(", ")}`]),
    detail: (p) => `${p.mode} of ${p.source}`,
    usesTime: (p) => p.mode === "timepool",
    perSequence: true,
    reads: (p) => p.source,
    outBits: 32,
  },
  // out = a ⊙ b. Quantized: each port (acc_frac) is brought to int16 with its own binary point, frac_a and
  // frac_b (one i32 each), and their exact product rounded to out_frac (runtime/fixed/QUANTIZATION.md).
  Multiply: {
    ...PLAIN,
    ports: (p) => ({ a: p.size, b: p.size }),
    tensors: () => ({}),
    fixedProblems: (p, f) => multiplyFormatProblems(p, f),
    quantTensors: { frac_a: "i32", frac_b: "i32" },
    pb: { kind: "MULTIPLY", config: "multiply" },
  },
  // out = γ ⊙ (x − mean) / √(var + ε) + β over the n units of a tick. Quantized: x to int16 at frac_x, integer
  // mean, variance and floor square root, γ at frac_g, β and out at out_frac (runtime/fixed/QUANTIZATION.md).
  LayerNorm: {
    ...PLAIN,
    ports: (p) => ({ x: p.size }),
    tensors: (p) => ({ gamma: [p.size], beta: [p.size] }),
    problems: (p) => layerNormProblems(p),
    fixedProblems: (p, f) => layerNormFormatProblems(p, f),
    quantTensors: { gamma: "i32", beta: "i32", frac_x: "i32", frac_g: "i32", eps_q: "i32" },
    pb: { kind: "LAYER_NORM", config: "layerNorm" },
    encode: (p) => ({ epsilon: p.epsilon }),
    decode: (m) => ({ epsilon: m?.epsilon ?? 0 }),
    detail: (p) => `epsilon ${p.epsilon}`,
  },
  // event-ssm's EventPooling over port x (ir/types.ts): emits once per `stride` steps. No float tensors; quantized,
  // a timepool holds eps_q (runtime/golden/event-kernels.ts).
  EventPooling: {
    ...PLAIN,
    ports: (p) => ({ x: p.size }),
    tensors: () => ({}),
    problems: (p) => [
      ...(!Number.isInteger(p.stride) || p.stride < 2 ? [`stride must be an integer ≥ 2, is ${p.stride}`] : []),
      ...(POOL_MODES.includes(p.mode) ? [] : [`pooling mode ${JSON.stringify(p.mode)} is not one of ${POOL_MODES.join(", ")}`]),
    ],
    quantTensors: {},
    pb: { kind: "EVENT_POOLING", config: "eventPooling" },
    encode: (p) => ({ stride: p.stride, mode: p.mode }),
    decode: (m) => ({ stride: m?.stride ?? 0, mode: (m?.mode ?? "") as PoolMode }),
    detail: (p) => `stride ${p.stride} ${p.mode}`,
    stride: (p) => p.stride,
    usesTime: (p) => p.mode === "timepool",
  },
};

/** The event-time fields of a DiagonalSSM, checked (ir/types.ts DiagonalSsmPopulation). */
function ssmEventProblems(p: PopOf<"DiagonalSSM">): string[] {
  const out: string[] = [];
  if (p.discretization === undefined) {
    if (p.stride !== undefined || p.pool !== undefined) out.push("stride and pool need an event-time discretization");
    return out;
  }
  if (!DISCRETIZATIONS.includes(p.discretization)) out.push(`discretization ${JSON.stringify(p.discretization)} is not one of ${DISCRETIZATIONS.join(", ")}`);
  if (p.stride !== undefined && (!Number.isInteger(p.stride) || p.stride < 1)) out.push(`stride must be a positive integer, is ${p.stride}`);
  if (p.pool !== undefined && !POOL_MODES.includes(p.pool)) out.push(`pool ${JSON.stringify(p.pool)} is not one of ${POOL_MODES.join(", ")}`);
  const step = p.tensors.step?.data;
  if (step) {
    for (let i = 0; i < step.length; i++) {
      if (!(step[i] > 0)) {
        out.push(`step[${i}] = ${step[i]} must be > 0`);
        break;
      }
    }
  }
  return out;
}

/** The largest LayerNorm the integer definition keeps exact: Σ d² < n · 2^32 ≤ 2^50 (roundDiv needs < 2^51). */
export const LAYER_NORM_MAX_UNITS = 1 << 18;

function layerNormProblems(p: PopOf<"LayerNorm">): string[] {
  const out: string[] = [];
  if (!(Number.isFinite(p.epsilon) && p.epsilon >= 0)) out.push(`epsilon = ${p.epsilon} must be a finite number ≥ 0`);
  if (p.size > LAYER_NORM_MAX_UNITS) out.push(`size ${p.size} exceeds ${LAYER_NORM_MAX_UNITS} units (the exact integer variance needs n · 2^32 ≤ 2^50)`);
  return out;
}

/**
 * The formats of a quantized LayerNorm, checked so that every shift of its integer formula is a right shift
 * and every intermediate exact: 0 ≤ frac_x ≤ acc_frac, 0 ≤ frac_g ≤ 14, frac_g + 14 − out_frac in 0..52,
 * 1 ≤ eps_q < 2^31, γ within int16.
 */
function layerNormFormatProblems(p: PopOf<"LayerNorm">, f: FixedFormat): string[] {
  const fx = p.tensors.frac_x?.data, fg = p.tensors.frac_g?.data, eq = p.tensors.eps_q?.data, g = p.tensors.gamma?.data;
  if (!fx || !fg || !eq || !g) return []; // reported as missing quantized tensors
  if (fx.length !== 1 || fg.length !== 1 || eq.length !== 1) return ["frac_x, frac_g and eps_q must hold one value each"];
  const out: string[] = [];
  if (!Number.isInteger(fx[0]) || fx[0] < 0 || fx[0] > f.accFrac) out.push(`frac_x = ${fx[0]} must be in 0..acc_frac (${f.accFrac})`);
  if (!Number.isInteger(fg[0]) || fg[0] < 0 || fg[0] > 14) out.push(`frac_g = ${fg[0]} must be in 0..14`);
  const s = fg[0] + 14 - f.outFrac;
  if (!(s >= 0 && s <= 52)) out.push(`frac_g + 14 − out_frac = ${s} must be in 0..52`);
  if (!(Number.isInteger(eq[0]) && eq[0] >= 1 && eq[0] <= 0x7fffffff)) out.push(`eps_q = ${eq[0]} must be in 1..2^31 − 1`);
  for (let i = 0; i < g.length; i++) {
    if (!(g[i] >= -32768 && g[i] <= 32767)) {
      out.push(`gamma[${i}] = ${g[i]} must be within int16`);
      break;
    }
  }
  return out;
}

/**
 * The operand formats of a quantized Multiply (tensors frac_a, frac_b), checked so that every shift of its
 * integer formula is a right shift of at most 52 bits: 0 ≤ frac_a, frac_b ≤ acc_frac and
 * 0 ≤ frac_a + frac_b − out_frac ≤ 52.
 */
function multiplyFormatProblems(p: PopOf<"Multiply">, f: FixedFormat): string[] {
  const fa = p.tensors.frac_a?.data, fb = p.tensors.frac_b?.data;
  if (!fa || !fb) return []; // reported as missing quantized tensors
  if (fa.length !== 1 || fb.length !== 1) return [`frac_a and frac_b must hold one value each, hold ${fa.length} and ${fb.length}`];
  const a = fa[0], b = fb[0];
  const out: string[] = [];
  for (const [name, v] of [["frac_a", a], ["frac_b", b]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > f.accFrac) out.push(`${name} = ${v} must be in 0..acc_frac (${f.accFrac})`);
  }
  const s = a + b - f.outFrac;
  if (!(s >= 0 && s <= 52)) out.push(`frac_a + frac_b − out_frac = ${s} must be in 0..52`);
  return out;
}

/** A population's row with its kind erased, for code that handles every kind alike. */
export function irKindOf(p: Population): IrKind<PopulationKind> {
  return IR_KINDS[p.kind] as unknown as IrKind<PopulationKind>;
}

/** The tables a quantized population carries (IR_KINDS[kind].luts). */
export function requiredLuts(p: Population): LutName[] {
  return irKindOf(p).luts(p);
}
