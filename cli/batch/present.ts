// What `nmc run` prints for a finished run, and `nmc merge` for merged parts: the target's own report when
// its loaded bundle has one (spinnaker2), else the common summary table (or JSON) of the counters, computed
// from a raw result (targets/run/result.ts) whatever produced it: one thread, worker threads, or shards merged.
import { NmcError } from "../../ir/errors.js";
import { writeFileAtomic } from "../../ir/files.js";
import type { Graph } from "../../ir/types.js";
import { summarize, type RunCounters } from "../../runtime/counters.js";
import { ndarray } from "../../runtime/io/ndarray.js";
import { writeNpy } from "../../runtime/io/npy.js";
import { argmaxRows, countEqual } from "../../runtime/metrics.js";
import type { PreparedJob } from "../../targets/run/job.js";
import type { TargetReport } from "../../targets/target.js";
import type { RawResult } from "../../targets/run/result.js";
import { noCountsReason, reportSaturation, type SaturationJson } from "../saturation.js";

/** Fraction of samples whose argmax over the readout equals the label. */
export function accuracy(output: Float64Array, shape: number[], labels: Float64Array, file: string): number {
  if (shape.length !== 2) {
    throw new NmcError("accuracy needs one score vector per sample", {
      file, expected: "a model with a readout (model nmc.readout metadata or --readout last|mean|sum)", found: `output of shape [${shape.join(", ")}]`,
    });
  }
  const [B, K] = shape;
  if (labels.length !== B) throw new NmcError("labels do not match the inputs", { file, expected: `${B} labels`, found: `${labels.length}` });
  return B === 0 ? 0 : countEqual(argmaxRows(output, B, K), labels, B) / B;
}

/** What the summaries say about the input. */
export interface InputInfo {
  file: string;
  shape: number[];
  dtype: string;
}

export interface Presentation {
  /** The model argument as the user gave it. */
  model: string;
  /** The loaded job: its engine, graph and loaded bundle (whose target may report the run itself). */
  job: PreparedJob;
  /** --precision as given. */
  precision?: string;
  result: RawResult;
  input: InputInfo;
  /** Write the outputs here (float32 .npy). */
  out?: string;
  labels?: { values: Float64Array; file: string };
  json: boolean;
  /** Values of the target's run options (spinnaker2: mode, level), by key. */
  options: Record<string, string | undefined>;
  seconds: number;
  /** Extra JSON fields (workers, shard, merged), after `seconds`. */
  extra?: Record<string, unknown>;
  /** Extra lines for the plain summary's head, after the input line. */
  headLines?: string[];
  /** Write the target's HTML report (spinnaker2); raster(report) gives the activity raster (absent: none, with a note). */
  html?: { file: string; raster?: (rep: TargetReport) => { points: unknown[]; sample: number }; title: string };
  /** Also write the JSON summary to this file. */
  jsonFile?: string;
}

function counterSummary<E extends object>(graph: Graph, counters: RunCounters, extra: E) {
  const s = summarize(counters);
  const events: Record<string, number> = {};
  for (const [n, p] of Object.entries(counters.populations)) events[n] = p.events;
  return { ...extra, samples: counters.samples, ticks: counters.ticks, events, ...s, model: graph.meta.source };
}

/**
 * The saturation counts of a run (docs/metrics.md): the engine's own when it counts (golden, spinnaker2);
 * none for the float engine (nothing quantized: no JSON key) and for an engine without counters (cuda: a
 * note says so). Warns on stderr for every population whose values hit a limit.
 */
function saturationOf(p: Presentation): SaturationJson | undefined {
  const r = p.result, engine = p.job.engine;
  if (engine === "float") return undefined;
  const counts = r.kind === "sim" ? r.run.saturation : r.saturation;
  return reportSaturation(counts, counts ? engine : null, noCountsReason(engine, p.job.target?.runsFloatIr?.(p.precision) === true));
}

/** Writes --out and --html, and returns what goes to stdout. */
export async function present(p: Presentation): Promise<string> {
  const r = p.result;
  const sat = saturationOf(p);
  const output = r.kind === "sim" ? r.run.output : r.output;
  const outputShape = r.kind === "sim" ? r.run.outputShape : r.outputShape;
  if (p.out) writeNpy(p.out, ndarray("f4", outputShape, Float32Array.from(output)));
  const acc = p.labels ? accuracy(output, outputShape, p.labels.values, p.labels.file) : undefined;
  const samples = r.kind === "sim" ? r.run.samples : r.counters.samples;
  const input = { file: p.input.file, shape: p.input.shape, dtype: p.input.dtype };
  const outInfo = { file: p.out ?? null, shape: outputShape };
  const head = (engineLine: string) => {
    const lines = [
      `model    ${p.model}`,
      `engine   ${engineLine}`,
      `input    [${p.input.shape.join(", ")}] ${p.input.dtype} from ${p.input.file}`,
      ...(p.headLines ?? []),
      `output   [${outputShape.join(", ")}]${p.out ? ` -> ${p.out}` : ""}`,
    ];
    if (acc !== undefined) lines.push(`accuracy ${(100 * acc).toFixed(2)}% (${samples} samples)`);
    return lines;
  };
  let json: object;
  let text: string;
  const own = p.job.loaded?.report?.(r, p.options);
  if (own) {
    if (p.html) {
      if (!own.html) throw new NmcError(`--html: the ${p.job.engine} engine draws no HTML report`);
      const html = p.html;
      const page = await own.html({ title: html.title, accuracy: acc, ...(html.raster ? { raster: () => html.raster!(own) } : {}) });
      writeFileAtomic(html.file, new TextEncoder().encode(page), "HTML report");
    }
    json = {
      engine: p.job.engine, backend: own.backend, model: p.model,
      input, output: outInfo, ...(acc !== undefined ? { accuracy: acc } : {}), seconds: p.seconds, ...p.extra, ...sat, ...own.json,
    };
    text = head(own.engineLine).join("\n") + "\n" + own.text;
  } else {
    if (r.kind !== "counters") throw new Error(`internal: a ${r.kind} run of the ${p.job.engine} engine has no report`);
    // The engine says what ran (r.backend); the float interpreter, which is no target, is said here.
    const t = p.job.target;
    const backend = r.backend ?? `nmc float interpreter (${p.precision === "f32" ? "Float32 storage" : "Float64"}, JavaScript)`;
    const pre = {
      engine: r.engine, ...(t?.precisions ? { precision: p.precision ?? t.precisions[0] } : {}), backend, ...(r.fallback ? { fallback: r.fallback } : {}),
    };
    const summary = counterSummary(p.job.graph, r.counters, {
      ...pre, input, output: outInfo, ...(acc !== undefined ? { accuracy: acc } : {}), seconds: p.seconds, ...p.extra,
    });
    json = { ...summary, ...sat };
    if (!p.json && r.fallback) process.stderr.write(`nmc: note: ${r.fallback}\n`);
    const lines = head(backend);
    lines.push(`activation sparsity ${(100 * summary.activation_sparsity).toFixed(1)}%`);
    for (const [n, v] of Object.entries(summary.activation_sparsity_per_population)) lines.push(`  ${n.padEnd(24)} ${(100 * v).toFixed(1)}%`);
    lines.push(`weight sparsity ${(100 * summary.connection_sparsity).toFixed(1)}%`);
    for (const [n, v] of Object.entries(summary.connection_sparsity_per_projection)) lines.push(`  ${n.padEnd(24)} ${(100 * v).toFixed(1)}%`);
    const so = summary.synaptic_operations;
    lines.push(`synaptic ops per sample: dense ${so.Dense.toExponential(3)}, effective ${so.Effective_MACs.toExponential(3)} (gain ×${summary.gains.combined.toFixed(2)}: activity ×${summary.gains.activity.toFixed(2)}, weights ×${summary.gains.weight.toFixed(2)})`);
    if (sat?.saturation_note) lines.push(`saturation not counted: ${sat.saturation_note}`);
    text = lines.join("\n") + "\n";
  }
  const jsonText = JSON.stringify(json, null, 2) + "\n";
  if (p.jsonFile) writeFileAtomic(p.jsonFile, new TextEncoder().encode(jsonText), "merged run summary");
  return p.json ? jsonText : text;
}
