// Event-time models for the integer-engine tests (test/targets/event-time-quantized.test.ts,
// spinnaker2-readout-feed.test.ts): the event-ssm model fixtures imported, calibrated on their own inputs and
// quantized, and the random event-time graphs of the property tests.
import fc from "fast-check";
import { GraphBuilder, csrFromDense } from "../../ir/builder.js";
import type { Discretization, Graph, PoolMode, Population, ReadoutMode } from "../../ir/types.js";
import { compileQuantized } from "../../compiler/pipeline.js";
import { batchFromShape, type SequenceBatch } from "../../runtime/batch.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
import { importFixture } from "./event-ssm.js";
import { fixture } from "./event-ssm.js";
import { uniform } from "./graphs.js";

/** A model fixture's float graph and its batch (tokens, Δt, lengths). */
export function fixtureModel(name: string): { g: Graph; batch: SequenceBatch; tokens: Float64Array; shape: number[] } {
  const g = importFixture(name);
  const f = fixture(name);
  const tok = f.get("inputs/tokens")!;
  const tokens = toFloat64(tok);
  const time = { timesteps: toFloat64(f.get("inputs/integration_timesteps")!), lengths: Int32Array.from(toFloat64(f.get("inputs/lengths")!)) };
  return { g, batch: batchFromShape(g, tokens, tok.shape, name, time), tokens, shape: tok.shape };
}

/** Compiled with calibration on the fixture's own inputs. */
export function quantizedFixture(name: string): { q: Graph; float: Graph; batch: SequenceBatch } {
  const { g, batch, tokens, shape } = fixtureModel(name);
  const r = compileQuantized(g, { calibration: { data: tokens, shape, label: name, time: { timesteps: batch.timesteps!, lengths: batch.lengths } } });
  return { q: r.quantized, float: r.float, batch };
}

export interface EventSpec {
  seed: number;
  C: number;
  H: number;
  P: number;
  first: { kind: "ssm"; disc: Discretization; stride: number; pool: PoolMode } | { kind: "pool"; stride: number; mode: PoolMode };
  recurrent: boolean;
  second: { stride: number; mode: PoolMode } | null;
  readout: ReadoutMode | null;
  /** Fixed ticks (no Δt): only what needs no time (EventPooling last / avgpool, readouts pool / last / mean). */
  ticks: boolean;
  /** Units of a Dense decoder after the readout (the output then); absent or no readout: none (specArb makes none). */
  decoder?: number;
}

const discArb = fc.constantFrom<Discretization>("async", "zoh", "dirac");
const poolArb = fc.constantFrom<PoolMode>("last", "avgpool", "timepool");
export const specArb: fc.Arbitrary<EventSpec> = fc.record({
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
  C: fc.integer({ min: 1, max: 3 }),
  H: fc.integer({ min: 1, max: 5 }),
  P: fc.integer({ min: 1, max: 4 }),
  first: fc.oneof(
    fc.record({ kind: fc.constant("ssm" as const), disc: discArb, stride: fc.integer({ min: 1, max: 3 }), pool: poolArb }),
    fc.record({ kind: fc.constant("pool" as const), stride: fc.integer({ min: 2, max: 3 }), mode: poolArb }),
  ),
  recurrent: fc.boolean(),
  second: fc.option(fc.record({ stride: fc.integer({ min: 2, max: 3 }), mode: poolArb })),
  readout: fc.option(fc.constantFrom<ReadoutMode>("pool", "timepool", "last", "mean")),
  ticks: fc.boolean(),
}).map((s) => (s.ticks ? {
  ...s,
  first: { kind: "pool" as const, stride: Math.max(2, s.first.stride), mode: (s.first.kind === "pool" && s.first.mode !== "timepool" ? s.first.mode : "avgpool") as PoolMode },
  second: s.second && { ...s.second, mode: (s.second.mode === "timepool" ? "last" : s.second.mode) as PoolMode },
  readout: s.readout === "timepool" ? ("pool" as const) : s.readout,
} : s));

/** A random event-time graph: values → Dense → (event-time SSM with a stride | EventPooling) → Dense (± delay-1 loop) → (EventPooling) → (Readout). */
export function eventModel(s: EventSpec): Graph {
  const r = uniform(s.seed);
  const w = (n: number, a = 1) => Float64Array.from({ length: n }, () => a * r());
  const b = new GraphBuilder("event-random");
  const x = b.input("x", s.C, "values", undefined, s.ticks ? {} : { eventTime: true });
  const d1 = b.dense("d1", s.H, "tanh", w(s.H, 0.2));
  b.project("d1.kernel", x, d1, "x", csrFromDense(w(s.C * s.H), s.C, s.H));
  let cur: Population;
  if (s.first.kind === "ssm") {
    const P = s.P, H = s.H;
    const ssm = b.diagonalSsm("ssm", H, P, "s5", {
      lambdaRe: Float64Array.from({ length: P }, () => -Math.abs(r()) * 2),
      lambdaIm: w(P, 5), cRe: w(H * P, 0.5), cIm: w(H * P, 0.5),
    }, undefined, { discretization: s.first.disc, step: Float64Array.from({ length: P }, () => 0.001 + 0.3 * Math.abs(r())), stride: s.first.stride, pool: s.first.pool });
    b.project("ssm.B", d1, ssm, "u", csrFromDense(w(H * 2 * P), H, 2 * P, "f64"));
    b.project("ssm.D", d1, ssm, "skip", csrFromDense(w(H * H), H, H));
    cur = ssm;
  } else {
    const p = b.eventPooling("pool", s.H, s.first.stride, s.first.mode);
    b.project("pool.identity", d1, p, "x", csrFromDense(Float64Array.from({ length: s.H * s.H }, (_, i) => (i % (s.H + 1) === 0 ? 1 : 0)), s.H, s.H));
    cur = p;
  }
  const d2 = b.dense("d2", s.H, "linear", w(s.H, 0.1));
  b.project("d2.kernel", cur, d2, "x", csrFromDense(w(s.H * s.H), s.H, s.H));
  if (s.recurrent) b.project("d2.recurrent", d2, d2, "x", csrFromDense(w(s.H * s.H, 0.4), s.H, s.H), 1);
  cur = d2;
  if (s.second) {
    const p = b.eventPooling("pool2", s.H, s.second.stride, s.second.mode);
    b.project("pool2.identity", d2, p, "x", csrFromDense(Float64Array.from({ length: s.H * s.H }, (_, i) => (i % (s.H + 1) === 0 ? 1 : 0)), s.H, s.H));
    cur = p;
  }
  if (s.readout) cur = b.readout("readout", cur, s.readout);
  if (s.readout && s.decoder) {
    const dec = b.dense("decoder", s.decoder, "linear", w(s.decoder, 0.1));
    b.project("decoder.kernel", cur, dec, "x", csrFromDense(w(cur.size * s.decoder), cur.size, s.decoder));
    cur = dec;
  }
  b.outputs.push(cur.name);
  return b.build();
}

/** Random values, Δt (ms; zeros, short gaps and long ones, 1e-3 … 1e4) and lengths (0 … T). */
export function eventBatch(g: Graph, seed: number, B: number, T: number): SequenceBatch {
  const r = uniform(seed, 0, 1);
  const C = (g.populations[0] as { size: number }).size;
  const data = Float64Array.from({ length: B * T * C }, () => 2 * r() - 1);
  const timesteps = Float64Array.from({ length: B * T }, () => {
    const u = r();
    return u < 0.2 ? 0 : u < 0.8 ? r() : u < 0.95 ? 10 * r() : 10 ** (1 + 3 * r());
  });
  const lengths = Int32Array.from({ length: B }, () => Math.floor(r() * (T + 1)));
  if (!(g.populations[0] as { eventTime?: boolean }).eventTime) return { data, batch: B, ticks: T, channels: C };
  return { data, batch: B, ticks: T, channels: C, timesteps, lengths };
}

/** The quantized model of a random event-time graph, calibrated on 4 of its own sequences of 12 steps. */
export function quantizeEventModel(g: Graph, seed: number): Graph {
  const cal = eventBatch(g, seed ^ 0x5bd1e995, 4, 12);
  const time = cal.timesteps ? { time: { timesteps: cal.timesteps, lengths: cal.lengths } } : {};
  return compileQuantized(g, { calibration: { data: cal.data, shape: [4, 12, cal.channels], label: "random", ...time } }).quantized;
}
