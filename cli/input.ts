// Reading a model's input for run, verify and compile --calibrate: any format of runtime/io/inputs.ts,
// shaped into a batch for the engines.
import { Option } from "commander";
import { NmcError } from "../ir/errors.js";
import type { Graph } from "../ir/types.js";
import { batchFromShape, type SequenceBatch } from "../runtime/batch.js";
import { inputSaturation, type InputSaturation } from "../runtime/golden/interpreter.js";
import { readInput, type ModelInput } from "../runtime/io/inputs.js";
import { readEventTimeInput, TIME_UNITS, type TimeUnit } from "../runtime/io/event-time.js";
import { numberOption } from "./options.js";

export { INPUT_FORMATS_HELP } from "../runtime/io/inputs.js";

/** --dt, --ticks and --time-unit as the commands receive them. */
export interface EventCliOptions {
  dt?: string;
  ticks?: string;
  timeUnit?: string;
}

export function timeUnitOption(): Option {
  return new Option("--time-unit <unit>", "event-time models (nmc import event-ssm), event lists: the unit of t, converted to ms as event-ssm does (its loaders divide µs by 1000); default us")
    .choices([...TIME_UNITS]);
}

export function dtOption(): Option {
  return new Option("--dt <seconds>", "event inputs (.csv, structured .npy): time per tick, in the units of t (tick = floor(t / dt)); default: t counts ticks");
}

export function ticksOption(): Option {
  return new Option("--ticks <n>", "event inputs: number of ticks T (default: the last event's tick + 1)");
}

/** The model's input width (the C of event inputs). */
export function inputChannels(graph: Graph): number {
  const input = graph.populations.find((p) => p.name === graph.inputs[0]);
  if (!input || input.kind !== "Input") throw new NmcError("graph has no input population");
  return input.size;
}

/**
 * Reads `spec` (any input format) for `graph`. An event-time model (nmc import event-ssm) reads an .npz with
 * tokens, timesteps and lengths, or an event list whose step i has Δt = t[i+1] − t[i] (runtime/io/event-time.ts).
 */
export function readModelInput(graph: Graph, spec: string, opts: EventCliOptions = {}): ModelInput {
  const input = graph.populations.find((p) => p.name === graph.inputs[0]);
  if (input?.kind === "Input" && input.eventTime) {
    for (const [flag, v] of [["--dt", opts.dt], ["--ticks", opts.ticks]] as const) {
      if (v !== undefined) {
        throw new NmcError(`${flag} bins events into ticks; this model runs in event time (every event is one step)`, {
          hint: "drop it; --time-unit gives the unit of an event list's t",
        });
      }
    }
    return readEventTimeInput(spec, { channels: input.size, tokens: input.encoding === "tokens", timeUnit: opts.timeUnit as TimeUnit | undefined });
  }
  if (opts.timeUnit !== undefined) {
    throw new NmcError("--time-unit applies to event-time models (nmc import event-ssm); this model steps in fixed ticks", { hint: "bin an event list into ticks with --dt (in the units of t)" });
  }
  let dt: number | undefined;
  if (opts.dt !== undefined) {
    dt = Number(opts.dt);
    if (opts.dt.trim() === "" || !Number.isFinite(dt) || dt <= 0) {
      throw new NmcError("invalid value for --dt", { expected: "a positive number (time per tick, in the units of the events' t)", found: JSON.stringify(opts.dt) });
    }
  }
  const ticks = numberOption("--ticks", opts.ticks, 1, 2 ** 31, true);
  return readInput(spec, { channels: inputChannels(graph), dt, ticks });
}

/** Reads `spec` and shapes it into a batch for the engines. */
export function readBatch(graph: Graph, spec: string, opts: EventCliOptions = {}): { x: ModelInput; batch: SequenceBatch } {
  const x = readModelInput(graph, spec, opts);
  const time = x.timesteps ? { timesteps: x.timesteps, lengths: x.lengths } : undefined;
  return { x, batch: batchFromShape(graph, x.data, x.shape, x.label, time) };
}

/**
 * Warns (stderr) when input values lie beyond the quantized input format chosen by calibration, which
 * saturates them; returns the figures for the JSON summary, or undefined when nothing saturates.
 */
export function warnInputSaturation(graph: Graph, batch: SequenceBatch, file: string): InputSaturation | undefined {
  if (!graph.quant) return undefined;
  const s = inputSaturation(graph, batch);
  if (!s || s.saturated === 0) return undefined;
  const frac = graph.populations.find((p) => p.name === graph.inputs[0])?.fixed?.outFrac;
  process.stderr.write(
    `nmc: warning: ${s.saturated} of ${s.values} input values in ${file} (${(100 * s.saturated / s.values).toPrecision(3)}%) lie beyond ±${s.limit.toPrecision(4)}, ` +
    `the input format (int16, ${frac} fractional bits) that calibration chose (${graph.quant.calibration}), and saturate; the largest is |x| = ${s.maxAbs.toPrecision(4)}. ` +
    "Recompile with --calibrate on data that covers these inputs.\n",
  );
  return s;
}
