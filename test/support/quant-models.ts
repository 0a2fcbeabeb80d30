// Random float models for the quantized-model tests (test/runtime/golden.test.ts, test/targets/spinnaker2.test.ts,
// test/targets/cuda.test.ts): EGRU, DiagonalSSM and Dense layers of every activation in a chain, some gated by a
// Multiply, some followed by a LayerNorm, skip and delay-1 feedback edges, value or token inputs, readouts, pruned weights; plus random quantization options
// (int8/int16 weights, 16/32-bit state, max or percentile ranges) and a calibrate-then-quantize helper.
//
// fast-check draws the structure (a ModelSpec); the weights come from a seeded PRNG (`uniform`) so that
// shrinking works on structure. The files differ in their ranges (layer sizes, state sizes, input widths,
// kinds, encodings, range modes, weight sparsity): those are options of the arbitraries below, with the
// golden test's ranges as defaults.
import fc from "fast-check";
import { calibratePass, type RangeMode } from "../../compiler/passes/calibrate.js";
import { runPass } from "../../compiler/passes/pass.js";
import { quantizePass } from "../../compiler/passes/quantize.js";
import { csrFromDense, GraphBuilder, identityCsr } from "../../ir/builder.js";
import type { Activation, Graph, Population, ReadoutMode } from "../../ir/types.js";
import type { SequenceBatch } from "../../runtime/batch.js";
import { uniform } from "./graphs.js";

// ---------------------------------------------------------------------------------------------------------
// Specs and arbitraries
// ---------------------------------------------------------------------------------------------------------

/** The activations the random layers draw from (softmax only in hand-written specs). */
export type Act = Exclude<Activation, "softmax">;
export const ACTS: Act[] = ["linear", "relu", "sigmoid", "tanh", "gelu", "gelu_new", "swish", "softplus"];

export type LayerKind = "egru" | "ssm" | "dense";

/**
 * A Multiply gate after a layer p (its output then feeds what follows): "sigmoid" p ⊙ σ(Dense(p)) (event-ssm's
 * gated block), "dense" p ⊙ Dense(the layer's input) (e.g. EGRU ⊙ Dense: operands of very different ranges),
 * "delayed" p(t) ⊙ p(t − 1) (a delay-1 operand). In a model with a feedback edge the gate must not grow
 * values around the loop (a product in a loop explodes to ±Infinity in float within a few ticks), so there
 * the second operand is bounded: "dense" is p ⊙ tanh(Dense(input)) and "delayed" p(t) ⊙ σ(Dense(p))(t − 1).
 */
export type GateKind = "none" | "sigmoid" | "dense" | "delayed";

export interface LayerSpec {
  kind: LayerKind;
  size: number;
  /** DiagonalSSM state size P. */
  state: number;
  /** A Dense layer's activation: one of ACTS from the arbitraries; hand-written specs may use softmax. */
  act: Activation;
  /** A Multiply gate on the layer's output (absent: none). */
  gate?: GateKind;
  /** A LayerNorm (ε 1e−3, random γ, β) after the layer and its gate (absent: none). */
  norm?: boolean;
}

export interface ModelSpec {
  seed: number;
  encoding: "values" | "tokens";
  inputs: number;
  layers: LayerSpec[];
  /** An extra delay-0 projection from the input to the last layer's main port. */
  skip: boolean;
  /** An extra delay-1 projection from the last layer back to the first layer's main port. */
  feedback: boolean;
  readout: "none" | ReadoutMode;
  weightScale: number;
  pruneFraction: number;
  /** Population names: plain, or with characters C identifiers lack (and that sanitize to the same symbol). */
  oddNames?: boolean;
}

export interface ModelArbOptions {
  /** Layer kinds drawn from (default all three). */
  kinds?: LayerKind[];
  /** Input encodings drawn from (default values twice as often as tokens). */
  encodings?: ModelSpec["encoding"][];
  /** Largest input width (default 6). */
  maxInputs?: number;
  /** Largest layer size (default 8). */
  maxSize?: number;
  /** Largest DiagonalSSM state size (default 4). */
  maxState?: number;
  /** Whether layers may be followed by a LayerNorm (default true). */
  norm?: boolean;
}

const ALL_KINDS: LayerKind[] = ["egru", "ssm", "dense"];

export const layerArb = (o: Pick<ModelArbOptions, "kinds" | "maxSize" | "maxState" | "norm"> = {}): fc.Arbitrary<LayerSpec> => fc.record({
  kind: fc.constantFrom(...(o.kinds ?? ALL_KINDS)),
  size: fc.integer({ min: 1, max: o.maxSize ?? 8 }),
  state: fc.integer({ min: 1, max: o.maxState ?? 4 }),
  act: fc.constantFrom(...ACTS),
  // Three layers in eight are gated, so that most models with several layers still have ungated ones.
  gate: fc.constantFrom<GateKind>("none", "none", "none", "none", "none", "sigmoid", "dense", "delayed"),
  // One layer in four is followed by a LayerNorm.
  norm: o.norm === false ? fc.constant(false) : fc.constantFrom(false, false, false, true),
});

/**
 * The fields every random-model engine property draws: a model (layers up to maxSize units, SSM states up to
 * maxState), its quantization options, a batch of B ≤ 3 sequences of T ≤ maxT ticks and the input's seed.
 */
export const quantCaseFields = (o: { maxSize: number; maxState: number; maxT: number }) => ({
  spec: modelArb({ maxSize: o.maxSize, maxState: o.maxState }),
  quant: quantOptsArb(),
  B: fc.integer({ min: 1, max: 3 }),
  T: fc.integer({ min: 1, max: o.maxT }),
  inputSeed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

export const modelArb = (o: ModelArbOptions = {}): fc.Arbitrary<ModelSpec> => fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  encoding: fc.constantFrom(...(o.encodings ?? ["values", "values", "tokens"])),
  inputs: fc.integer({ min: 1, max: o.maxInputs ?? 6 }),
  layers: fc.array(layerArb(o), { minLength: 1, maxLength: 3 }),
  skip: fc.boolean(),
  feedback: fc.boolean(),
  readout: fc.constantFrom("none" as const, "last" as const, "mean" as const, "sum" as const),
  weightScale: fc.constantFrom(0.25, 1, 3),
  pruneFraction: fc.constantFrom(0, 0.5, 0.9),
});

// ---------------------------------------------------------------------------------------------------------
// Building and feeding
// ---------------------------------------------------------------------------------------------------------

/** The port a layer's feed-forward input goes to, and its width. */
export function mainPort(p: Population): { port: string; width: number } {
  if (p.kind === "EGRU") return { port: "input", width: 3 * p.size };
  if (p.kind === "DiagonalSSM") return { port: "u", width: 2 * p.stateSize };
  if (p.kind === "Multiply") return { port: "a", width: p.size };
  return { port: "x", width: p.size };
}

/** Builds a float graph with GraphBuilder from a spec: weights uniform × weightScale, some pruned to 0. */
export function buildModel(s: ModelSpec): Graph {
  const r = uniform(s.seed);
  const vec = (n: number, scale = s.weightScale) => Float32Array.from({ length: n }, () => r() * scale);
  const mat = (rows: number, cols: number, scale = s.weightScale) =>
    csrFromDense(Float32Array.from({ length: rows * cols }, () => (Math.abs(r()) < s.pruneFraction ? 0 : r() * scale)), rows, cols);
  const name = (plain: string, n: number) => (s.oddNames ? [`${plain}/${n}`, `${plain}.${n}`, `${plain} "ö" ${n}`][n % 3] : `${plain}${n}`);
  const b = new GraphBuilder("m");
  const x = b.input(s.oddNames ? "in-put" : "x", s.inputs, s.encoding);
  let prev: Population = x;
  const layers: Population[] = [];
  s.layers.forEach((L, n) => {
    let p: Population;
    switch (L.kind) {
      case "egru": {
        p = b.egru(name("egru", n), L.size, { biasX: vec(3 * L.size), biasH: vec(3 * L.size), thr: Float32Array.from({ length: L.size }, () => Math.abs(r()) * 0.6) });
        b.project(`${p.name}.kernel`, prev, p, "input", mat(prev.size, 3 * L.size));
        b.project(`${p.name}.recurrent`, p, p, "recurrent", mat(L.size, 3 * L.size), 1);
        break;
      }
      case "ssm": {
        const P = L.state, H = L.size;
        const mag = Float64Array.from({ length: P }, () => 0.3 + 0.69 * Math.abs(r()));
        const ph = Float64Array.from({ length: P }, () => Math.PI * r());
        p = b.diagonalSsm(name("ssm", n), H, P, "lru", {
          lambdaRe: mag.map((m, i) => m * Math.cos(ph[i])), lambdaIm: mag.map((m, i) => m * Math.sin(ph[i])),
          cRe: Float64Array.from({ length: H * P }, () => r()), cIm: Float64Array.from({ length: H * P }, () => r()),
        });
        b.project(`${p.name}.B`, prev, p, "u", mat(prev.size, 2 * P));
        b.project(`${p.name}.D`, prev, p, "skip", mat(prev.size, H));
        break;
      }
      case "dense": {
        p = b.dense(name("dense", n), L.size, L.act, vec(L.size));
        b.project(`${p.name}.kernel`, prev, p, "x", mat(prev.size, L.size));
        break;
      }
    }
    const gate = L.gate ?? "none";
    if (gate === "sigmoid" || (gate === "delayed" && s.feedback)) {
      const g = b.dense(`${p.name}.gate`, p.size, "sigmoid", vec(p.size));
      b.project(`${g.name}.kernel`, p, g, "x", mat(p.size, p.size));
      p = b.gate(`${p.name}.mul`, p, g, { b: gate === "delayed" ? 1 : 0 });
    } else if (gate === "dense") {
      const d = b.dense(`${p.name}.value`, p.size, s.feedback ? "tanh" : "linear", vec(p.size));
      b.project(`${d.name}.kernel`, prev, d, "x", mat(prev.size, p.size));
      p = b.gate(`${p.name}.mul`, p, d);
    } else if (gate === "delayed") {
      p = b.gate(`${p.name}.mul`, p, p, { b: 1 });
    }
    if (L.norm) {
      const ln = b.layerNorm(`${p.name}.norm`, p.size, 1e-3, { gamma: vec(p.size, 1.5), beta: vec(p.size, 0.5) });
      b.project(`${ln.name}.identity`, p, ln, "x", identityCsr(p.size));
      p = ln;
    }
    layers.push(p);
    prev = p;
  });
  const first = layers[0], last = layers[layers.length - 1];
  if (s.skip && layers.length > 1) {
    const m = mainPort(last);
    b.project("skip", x, last, m.port, mat(x.size, m.width));
  }
  if (s.feedback) {
    const m = mainPort(first);
    b.project("feedback", last, first, m.port, mat(last.size, m.width, 0.3 * s.weightScale), 1);
  }
  if (s.readout !== "none") b.outputs.push(b.readout("readout", last, s.readout).name);
  else b.outputs.push(last.name);
  return b.build();
}

export interface BatchOptions {
  /** Token ids as a plain number[] (default) or a Float64Array. */
  tokens?: "array" | "float64";
}

/** A random batch for the graph's input: values uniform in ±amp ([B, T, C]), or token ids ([B, T]). */
export function makeBatch(g: Graph, seed: number, B: number, T: number, amp: number, o: BatchOptions = {}): SequenceBatch {
  const input = g.populations.find((p) => p.name === g.inputs[0])!;
  if (input.kind === "Input" && input.encoding === "tokens") {
    const r = uniform(seed, 0, input.size);
    const id = () => Math.min(input.size - 1, Math.floor(r()));
    const data = o.tokens === "float64" ? Float64Array.from({ length: B * T }, id) : Array.from({ length: B * T }, id);
    return { data, batch: B, ticks: T, channels: 1 };
  }
  const r = uniform(seed, -amp, amp);
  return { data: Float64Array.from({ length: B * T * input.size }, r), batch: B, ticks: T, channels: input.size };
}

/** With a scale factor: the same values × k (tokens unchanged). */
export function scaled(batch: SequenceBatch, k: number, g: Graph): SequenceBatch {
  const input = g.populations.find((p) => p.name === g.inputs[0])!;
  if (input.kind === "Input" && input.encoding === "tokens") return batch;
  return { ...batch, data: Float64Array.from(batch.data, (v) => v * k) };
}

// ---------------------------------------------------------------------------------------------------------
// Quantization options
// ---------------------------------------------------------------------------------------------------------

export interface QuantOpts {
  weightBits: 8 | 16;
  stateBits: 16 | 32;
  range: RangeMode;
  /** Lookup tables of 2^lutBits entries (default 8). */
  lutBits?: number;
  /** Pruning before quantization; honoured by compileQuantized (not by quantizeFor). */
  weightSparsity?: number;
}

export interface QuantOptsArbOptions {
  /** Range modes drawn from (default max and the 99th percentile, equally often). */
  ranges?: RangeMode[];
  /** When given, a weightSparsity drawn from these is added to each draw. */
  weightSparsities?: (number | undefined)[];
}

export function quantOptsArb(o: QuantOptsArbOptions = {}): fc.Arbitrary<QuantOpts> {
  const base = {
    weightBits: fc.constantFrom(8 as const, 16 as const),
    stateBits: fc.constantFrom(16 as const, 32 as const),
    // every table length 2^8…2^12, today's 256 half the time
    lutBits: fc.constantFrom(8, 8, 8, 8, 9, 10, 11, 12),
    range: fc.constantFrom<RangeMode>(...(o.ranges ?? [{ kind: "max" }, { kind: "percentile", percentile: 99 }])),
  };
  return o.weightSparsities ? fc.record({ ...base, weightSparsity: fc.constantFrom(...o.weightSparsities) }) : fc.record(base);
}

/** Calibrates g on `cal` and quantizes it with the calibrate and quantize passes. */
export function quantizeFor(g: Graph, cal: SequenceBatch, o: QuantOpts): Graph {
  if (o.weightSparsity !== undefined) throw new Error("quantizeFor does not prune: use compileQuantized for weightSparsity");
  const report = runPass(calibratePass, g, { batch: cal }).report;
  return runPass(quantizePass, g, { calibration: report, weightBits: o.weightBits, stateBits: o.stateBits, lutBits: o.lutBits, range: o.range }).graph;
}
