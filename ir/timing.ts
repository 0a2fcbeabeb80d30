// When each population steps: multi-rate execution (docs/architecture.md, "Time"). The model input steps
// every tick (rate 1). A population steps at the rate its inputs emit; a pooling population of stride k (an
// EventPooling, or a DiagonalSSM with stride k) steps at its input rate r and emits once per k steps, so the
// populations it feeds step at rate r·k. A population of rate R steps at the ticks t with (t + 1) % R = 0,
// the last tick of each group of R, and reads Δt summed over that group. Within such a tick populations still
// run in graph order: a delay-0 projection delivers this tick's output, a delay-1 projection the output of
// the source's previous step (both ends of every projection run at one rate, which the verifier checks).
//
// Derived here from the structure of the graph; the builder stores it as Population.rate (absent = 1) and the
// verifier checks the stored value against this derivation.
import { NmcError } from "./errors.js";
import { irKindOf } from "./kinds.js";
import type { Graph, Population } from "./types.js";

export interface Timing {
  /** Steps once every `rate` ticks. */
  rate: number;
  /** Emits once every `outRate` ticks: rate × its stride (1 for every non-pooling kind). */
  outRate: number;
  /** Its value is one per sequence: a Readout, or (float IR) a population fed by one (a decoder after the readout). */
  perSequence: boolean;
}

export interface GraphTiming {
  byName: Map<string, Timing>;
  /** Projections (or readouts) whose two ends run at different rates, as messages naming the node. */
  problems: { node: string; message: string }[];
}

/** The stored rate of a population (absent: 1). */
export function rateOf(p: Population): number {
  return p.rate ?? 1;
}

/**
 * The rate, output rate and per-sequence flag of every population, in graph order: a population's rate is the
 * output rate of the sources that feed it within the tick (delay-0 projections, or the population a Readout
 * reads), and 1 when nothing does.
 */
export function graphTiming(g: Graph): GraphTiming {
  const byName = new Map<string, Timing>();
  const problems: GraphTiming["problems"] = [];
  const into = new Map<string, Graph["projections"]>();
  for (const j of g.projections) {
    const l = into.get(j.target);
    if (l) l.push(j);
    else into.set(j.target, [j]);
  }
  for (const p of g.populations) {
    const kind = irKindOf(p);
    let rate: number | undefined;
    let perSequence = kind.perSequence;
    const read = kind.reads(p);
    const sources: { name: string; what: string }[] = [];
    if (read !== null) sources.push({ name: read, what: `reads ${read}` });
    for (const j of into.get(p.name) ?? []) if (j.delay === 0) sources.push({ name: j.source, what: `projection ${j.name}` });
    for (const s of sources) {
      const t = byName.get(s.name);
      if (!t) continue; // a missing or later source: the verifier reports it
      if (rate === undefined) rate = t.outRate;
      else if (t.outRate !== rate) problems.push({ node: `population ${p.name}`, message: `${s.what} emits once every ${t.outRate} ticks, but its other inputs once every ${rate}: every input of a population must run at one rate` });
      if (t.perSequence) perSequence = true;
    }
    const r = rate ?? 1;
    byName.set(p.name, { rate: r, outRate: r * kind.stride(p), perSequence });
  }
  // A delay-1 projection delivers the source's previous step: both ends must step together.
  for (const j of g.projections) {
    if (j.delay !== 1) continue;
    const s = byName.get(j.source), t = byName.get(j.target);
    if (s && t && s.outRate !== t.rate) {
      problems.push({ node: `projection ${j.name}`, message: `delay-1 edge from ${j.source} (emits once every ${s.outRate} ticks) to ${j.target} (steps once every ${t.rate}): both ends of a recurrent edge must run at one rate` });
    }
  }
  return { byName, problems };
}

/** True when the graph's input carries per-step time steps (InputPopulation.eventTime). */
export function isEventTime(g: Graph): boolean {
  const input = g.populations.find((p) => p.name === g.inputs[0]);
  return input?.kind === "Input" && input.eventTime === true;
}

/**
 * The event-time feature of a population, as the words of a refusal; null when it has none. The quantize pass,
 * the golden engine, the spinnaker2 simulator and the CUDA int variant implement them (runtime/golden/event-kernels.ts,
 * targets/cuda); the CUDA float variant does not yet, and its rows (CUDA_OPS) refuse through notQuantizedYet.
 */
export function eventTimeFeature(p: Population): string | null {
  const own = p.kind === "Input" ? (p.eventTime ? "event-time input (per-step Δt)" : p.wrapTokens ? "wrapping token ids" : null)
    : p.kind === "DiagonalSSM" ? (p.discretization !== undefined ? "event-time DiagonalSSM" : null)
    : p.kind === "EventPooling" ? "EventPooling"
    : p.kind === "Readout" ? (p.mode === "pool" || p.mode === "timepool" ? `the ${p.mode} readout` : null)
    : null;
  return own ?? ((p.rate ?? 1) !== 1 ? "multi-rate execution (a population after a pooling stride)" : null);
}

/** The refusal of an event-time feature by an integer engine or pass (exit 2). */
export function notQuantizedYet(p: Population, where: string): NmcError {
  const what = eventTimeFeature(p) ?? "this population";
  return new NmcError(`${what} is not quantized yet (${where}: population ${p.name})`, {
    node: p.name,
    hint: "event-time models (nmc import event-ssm) compile for the golden, spinnaker2 and cuda targets (the CUDA int variant; its float variant is a later step) and run on the float engine",
  });
}
