// The Target interface: what a backend is to the rest of nmc. A target lowers a quantized graph to bundle
// sections, loads a bundle of its own back into something that runs, and reports a run in its own terms.
// Targets are registered in one table (targets/registry.ts); the CLI, the compile driver and the run
// dispatcher know targets only through it, so adding a backend is one folder plus one registry row.
import type { Bundle, BundleSection, CoreDescriptorInit } from "../ir/bundle.js";
import type { Graph } from "../ir/types.js";
import type { SequenceBatch } from "../runtime/batch.js";
import type { SaturationCounts } from "../runtime/golden/saturation.js";
import type { RawResult } from "./run/result.js";

/** Every population's integer output at one tick (what verify compares, event by event). */
export type Observer = (popIndex: number, out: Int32Array, sample: number, tick: number) => void;

/**
 * A command-line option a target adds to a command, as data (targets do not import the CLI): `flags` in
 * commander's syntax ("--hw <file>"), its help, and optionally its choices and default.
 */
export interface TargetOption {
  flags: string;
  /** The options object key commander derives from the flags ("--hw <file>" → "hw"). */
  key: string;
  description: string;
  choices?: readonly string[];
  defaultValue?: string;
}

/** What a target lowers: the quantized graph, the float graph it approximates, the target's own options. */
export interface LowerInput {
  quantized: Graph;
  float: Graph;
  /** Values of the target's compileOptions, by key (undefined when not given). */
  options: Readonly<Record<string, string | undefined>>;
}

/** What lowering adds to the bundle, and what the compile report says about it. */
export interface Lowered {
  sections: BundleSection[];
  cores?: CoreDescriptorInit[];
  /** The hardware description the bundle was lowered for (stored in the manifest). */
  hardwareJson?: string;
  /** Extra fields of the compile report (JSON), e.g. `{ mapping: … }`. */
  report?: Record<string, unknown>;
  /** What `nmc compile` prints after the common report. */
  text?: string;
}

/** The integer result every runner gives (what verify compares). */
export interface IntRun {
  outputQ: Int32Array;
  output: Float64Array;
  outputShape: number[];
  /** Values clamped and lookups clipped per population, when the runner counts them (golden, spinnaker2). */
  saturation?: SaturationCounts;
}

/** Something that runs a quantized graph: the bundle's own target, or a reference. */
export interface Runner {
  /** Says what ran (updated after a run when it depends on the machine: GPU or host emulation). */
  name: string;
  /** Integer outputs, every population's output every tick through the observer. */
  run(batch: SequenceBatch, observer?: Observer): IntRun;
}

/** How `nmc run` runs a bundle on its target: its run options' values, and progress. */
export interface ExecuteOptions {
  /** Values of the target's runOptions, by key. */
  options: Readonly<Record<string, string | undefined>>;
  /** cuda: the int (bit-exact) or float variant. */
  precision?: string;
  onProgress?: (samplesDone: number) => void;
}

/**
 * One sequence run tick by tick, its next input chosen from its last output (nmc generate): write tick t's
 * quantized input into `input` ([ticks × channels]; a token id for an Embedding model), then `step(t)` returns the
 * output integers of tick t (fractional bits `outFrac`; valid until the next step). `finish()` is the run of the
 * ticks stepped, as `execute` gives it (the target's report prices it).
 */
export interface StepSession {
  input: Int32Array;
  outFrac: number;
  step(t: number): Int32Array;
  finish(): RawResult;
}

/** A bundle of this target, loaded: the runner that verify compares and the run that `nmc run` reports. */
export interface LoadedBundle {
  runner: Runner;
  /** A session of `ticks` ticks stepped one at a time; absent: a caller re-runs the prefix (same outputs). */
  session?(ticks: number, opts: ExecuteOptions): StepSession;
  /** A whole run as a mergeable raw result (`nmc run`, worker threads, shards). */
  execute(batch: SequenceBatch, opts: ExecuteOptions): RawResult;
  /**
   * The report of a run (one thread, workers or merged shards) in the target's terms, given the target's
   * run options; absent: the common counters summary. `brief`: a shorter text (the demo's).
   */
  report?(result: RawResult, options: Readonly<Record<string, string | undefined>>, brief?: boolean): TargetReport;
}

/** A run's report in the target's terms (JSON fields, the text table, and optionally an HTML page). */
export interface TargetReport {
  /** What ran, for the JSON `backend`. */
  backend: string;
  /** What ran, for the text summary's engine line. */
  engineLine: string;
  json: Record<string, unknown>;
  text: string;
  /** A self-contained HTML page of the run, when the target draws one. */
  html?(input: HtmlInput): Promise<string>;
  /** The activity raster of one sample (the run itself is needed: shards and merges have none). */
  raster?(batch: SequenceBatch, sample: number): { points: unknown[]; sample: number };
}

export interface HtmlInput {
  title: string;
  accuracy?: number;
  notes?: string[];
  raster?: () => { points: unknown[]; sample: number };
}

export interface Target {
  readonly name: string;
  /** How reports name what ran ("SpiNNaker 2 (simulated)"). */
  readonly displayName: string;
  /** What `nmc compile` adds after the target's name ("the quantized reference"), if anything. */
  readonly compiledNote?: string;
  /** One line for `--target` help. */
  readonly description: string;
  /** What `nmc run` says while it runs ("simulating", "running"). */
  readonly progressVerb: string;
  /** Options `nmc compile --target NAME` takes. */
  readonly compileOptions: readonly TargetOption[];
  /** Options `nmc run` takes for a bundle of this target. */
  readonly runOptions: readonly TargetOption[];
  /** Whether `nmc run --workers` may split a run of this target over worker threads. */
  readonly workers: boolean;
  /** The values `nmc run --precision` takes for this target (none: the option is refused). */
  readonly precisions?: readonly string[];
  /** Whether this precision runs the bundle's float IR instead of its quantized IR (cuda: float). */
  runsFloatIr?(precision: string | undefined): boolean;
  lower(input: LowerInput): Lowered;
  /** Loads a bundle compiled for this target (its sections decoded and verified, nothing recomputed). */
  load(bundle: Bundle, graph: Graph, file: string, opts?: { precision?: string }): LoadedBundle;
  /**
   * Runs any quantized graph (a bundle of another target included), so the target can be a reference
   * (`nmc verify --against NAME`, `nmc run --engine NAME`); absent: only its own bundles run on it.
   */
  reference?(graph: Graph, bundle?: Bundle, opts?: { precision?: string }): LoadedBundle;
  /** Why the target cannot run on this machine (e.g. no compiler), or null when it can. */
  unavailable?(): string | null;
  /** What `nmc inspect` adds about the target's sections (JSON fields and text lines). */
  inspect?(bundle: Bundle, graph: Graph, file: string): { json: Record<string, unknown>; text: string };
  /** Recomputes what lowering stored and lists the differences (`nmc inspect --recheck`); empty: the same. */
  recheck?(bundle: Bundle, graph: Graph, file: string): string[];
  /** Saved run reports of this target (`nmc report run.json`): find the target's part, print it, draw it. */
  readonly savedReport?: {
    find(json: Record<string, unknown>): unknown;
    text(report: unknown): string;
    html(report: unknown, input: HtmlInput): Promise<string>;
  };
  /** The machine description the target lowers for (`nmc hw`), from a file or built in. */
  readonly hardware?: {
    load(file: string | undefined): unknown;
    json(hw: unknown): unknown;
    text(hw: unknown): string;
  };
}
