// nmc's figures for the imported model: the float engine, the int8 golden engine and the SpiNNaker 2 simulator
// on event-time batches (tokens, Δt in ms, lengths), through the public API only. Used by train.ts (which
// records them) and by test/examples/event-ssm-nmnist.test.ts (which reproduces them).
import {
  argmaxRows, batchFromShape, compileQuantized, countEqual, FloatEngine, GoldenEngine, type Graph, mapGraph, simulate, SPINNAKER2,
  spinnaker2Report,
} from "../../index.js";
import { padBatch } from "./data.js";
import type { EventBatch } from "./model.js";

/** The batch as nmc's SequenceBatch (what `nmc run --input x.npz` builds from tokens, timesteps, lengths). */
export function nmcBatch(g: Graph, b: EventBatch, label = "batch") {
  return batchFromShape(g, b.tokens, [b.B, b.L], label, { timesteps: Float64Array.from(b.dt), lengths: b.lengths });
}

/** Logits [B, K] of the nmc float engine. */
export function floatLogits(g: Graph, b: EventBatch): Float64Array {
  return Float64Array.from(new FloatEngine(g).run(nmcBatch(g, b)).output);
}

/** Compiled as `nmc compile` does by default (int8 weights, int16 states), calibrated on `calib`. */
export function quantize(g: Graph, calib: EventBatch, opts: { weightBits?: 8 | 16; stateBits?: 16 | 32 } = {}, label = "inputs/calib.npz"): Graph {
  const time = { timesteps: Float64Array.from(calib.dt), lengths: calib.lengths };
  return compileQuantized(g, { ...opts, calibration: { data: Float64Array.from(calib.tokens), shape: [calib.B, calib.L], label, time } }).quantized;
}

export function goldenLogits(q: Graph, b: EventBatch): Float64Array {
  return Float64Array.from(new GoldenEngine(q).run(nmcBatch(q, b)).output);
}

/**
 * `run` on sequences sorted by length in chunks, each padded to its own longest (a multiple of `unit`), the
 * rows put back in order: [n, K]. With padding to a multiple of the total stride the logits do not depend on the
 * padded length (padding has Δt 0 and comes after every output the readout keeps).
 */
export function chunkedLogits(seqs: { tokens: Int32Array; dt: Float32Array }[], unit: number, run: (b: EventBatch) => ArrayLike<number>, chunk = 250, K = 10): Float64Array {
  const order = seqs.map((_, i) => i).sort((a, b) => seqs[a]!.tokens.length - seqs[b]!.tokens.length);
  const out = new Float64Array(seqs.length * K);
  for (let s = 0; s < order.length; s += chunk) {
    const idx = order.slice(s, s + chunk);
    const y = run(padBatch(idx.map((i) => seqs[i]!), unit));
    idx.forEach((i, r) => {
      for (let k = 0; k < K; k++) out[i * K + k] = y[r * K + k]!;
    });
  }
  return out;
}

export const accuracyOf = (logits: ArrayLike<number>, labels: Int32Array, n: number, K = 10) => countEqual(argmaxRows(logits, n, K), labels, n) / n;

export interface DigitFigures {
  digits: number;
  events: number;
  pes: number;
  pe_lower_bound: number;
  chips: number;
  /** Means over the digits: each digit run alone, unpadded (its own length), as a sensor would stream it. */
  latency_per_digit_s: number;
  /** The slowest PE's compute per event step plus the NoC depth (the report's tick), mean over the digits. */
  latency_per_event_s: number;
  energy_per_digit_j: { dynamic: number; static: number; noc: number; total: number };
  energy_per_event_j: number;
  dense_energy_per_digit_j: number;
  synaptic_ops_per_digit: { dense: number; effective: number };
  clock_mhz: number;
  level: string;
  /** Every digit's logits (dequantized) equal the golden engine's on the same one-digit batch. */
  simulator_equals_golden: boolean;
}

/**
 * Each of the first `n` sequences of `seqs` (tokens, Δt) run alone on the spinnaker2 simulator of the quantized
 * model; per digit and per event figures from the target's own report (targets/spinnaker2/report.ts).
 */
export function spinnakerFigures(q: Graph, seqs: { tokens: Int32Array; dt: Float32Array }[]): DigitFigures {
  const m = mapGraph(q, SPINNAKER2);
  const sum = { lat: 0, tick: 0, dyn: 0, stat: 0, noc: 0, total: 0, dense: 0, ops: 0, eff: 0 };
  let events = 0, same = true, level = "", mhz = 0;
  for (const s of seqs) {
    const L = s.tokens.length;
    const b: EventBatch = { B: 1, L, tokens: s.tokens, dt: s.dt, lengths: Int32Array.of(L) };
    const batch = nmcBatch(q, b, "digit");
    const run = simulate(q, m, batch);
    const gold = new GoldenEngine(q).run(batch);
    if (run.outputQ.length !== gold.outputQ.length || run.outputQ.some((v, i) => v !== gold.outputQ[i])) same = false;
    const r = spinnaker2Report(q, m, run, "event");
    level = r.level;
    mhz = r.clockMHz;
    const e = r.eventMode;
    sum.lat += e.latencySeconds;
    sum.tick += e.tickSeconds;
    sum.dyn += e.energyJoules.dynamic;
    sum.stat += e.energyJoules.static;
    sum.noc += e.energyJoules.noc;
    sum.total += e.energyJoules.total;
    sum.dense += r.denseMode.energyJoules.total;
    sum.ops += r.synapticOpsPerInference.dense;
    sum.eff += r.synapticOpsPerInference.effective;
    events += L;
  }
  const n = Math.max(1, seqs.length);
  return {
    digits: seqs.length, events, pes: m.partition.pes, pe_lower_bound: m.partition.lowerBound, chips: m.placement.chips,
    latency_per_digit_s: sum.lat / n, latency_per_event_s: sum.tick / n,
    energy_per_digit_j: { dynamic: sum.dyn / n, static: sum.stat / n, noc: sum.noc / n, total: sum.total / n },
    energy_per_event_j: sum.total / Math.max(1, events), dense_energy_per_digit_j: sum.dense / n,
    synaptic_ops_per_digit: { dense: sum.ops / n, effective: sum.eff / n }, clock_mhz: mhz, level, simulator_equals_golden: same,
  };
}
