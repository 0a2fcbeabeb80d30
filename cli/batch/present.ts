// What `nmc run` prints for a finished run, and `nmc merge` for merged parts: the summary table (or JSON) of
// the golden, float and cuda engines, or the spinnaker2 report, computed from a raw result (cli/batch/result.ts)
// whatever produced it: one thread, worker threads, or shards merged.
import { NmcError } from "../../ir/errors.js";
import { writeFileAtomic } from "../../ir/files.js";
import type { Graph } from "../../ir/types.js";
import { summarize, type RunCounters } from "../../runtime/counters.js";
import { ndarray } from "../../runtime/io/ndarray.js";
import { writeNpy } from "../../runtime/io/npy.js";
import { argmaxRows, countEqual } from "../../runtime/metrics.js";
import { report as s2report, type Mapping } from "../../targets/spinnaker2/index.js";
import { renderHtml, type RasterPoint } from "../html.js";
import type { Engine } from "../options.js";
import { printS2Report } from "../spinnaker2.js";
import type { RawResult } from "./result.js";

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
  engine: Engine;
  graph: Graph;
  mapping?: Mapping;
  /** --precision as given. */
  precision?: string;
  result: RawResult;
  input: InputInfo;
  /** Write the outputs here (float32 .npy). */
  out?: string;
  labels?: { values: Float64Array; file: string };
  json: boolean;
  mode: "event" | "dense";
  level?: string;
  seconds: number;
  /** Extra JSON fields (workers, shard, merged), after `seconds`. */
  extra?: Record<string, unknown>;
  /** Extra lines for the plain summary's head, after the input line. */
  headLines?: string[];
  /** spinnaker2: write an HTML report; raster() gives the activity raster (absent: an empty raster with a note). */
  html?: { file: string; raster?: () => { points: RasterPoint[]; sample: number }; title: string };
  /** Also write the JSON summary to this file. */
  jsonFile?: string;
}

function counterSummary<E extends object>(graph: Graph, counters: RunCounters, extra: E) {
  const s = summarize(counters);
  const events: Record<string, number> = {};
  for (const [n, p] of Object.entries(counters.populations)) events[n] = p.events;
  return { ...extra, samples: counters.samples, ticks: counters.ticks, events, ...s, model: graph.meta.source };
}

/** Writes --out and --html, and returns what goes to stdout. */
export async function present(p: Presentation): Promise<string> {
  const r = p.result;
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
  if (r.kind === "sim") {
    const rep = s2report(p.graph, p.mapping!, r.run, p.mode, p.level);
    if (p.html) {
      const raster = p.html.raster?.();
      const html = await renderHtml({
        title: p.html.title, report: rep, raster: raster?.points ?? [], rasterSample: raster?.sample ?? 0, accuracy: acc,
        ...(raster ? {} : { notes: ["The activity raster needs the run itself: nmc run <bundle> --html report.html draws it."] }),
      });
      writeFileAtomic(p.html.file, new TextEncoder().encode(html), "HTML report");
    }
    json = {
      engine: "spinnaker2", backend: "nmc spinnaker2 simulator (transaction level, golden kernels per PE)", model: p.model,
      input, output: outInfo, ...(acc !== undefined ? { accuracy: acc } : {}), seconds: p.seconds, ...p.extra, ...rep,
    };
    text = head("nmc spinnaker2 simulator (bit-exact with the golden engine; cycles and energy from the hardware description)").join("\n") + "\n" + printS2Report(rep);
  } else {
    let backend: string;
    let pre: Record<string, unknown> = { engine: r.engine };
    if (r.engine === "cuda") {
      backend = r.backend ?? "generated CUDA C++";
      pre = { engine: "cuda", precision: p.precision === "float" ? "float" : "int", backend, ...(r.fallback ? { fallback: r.fallback } : {}) };
    } else {
      backend = r.engine === "golden"
        ? `nmc golden interpreter (integer arithmetic: int${p.graph.quant!.weightBits} weights, int32 accumulators, int16 states)`
        : `nmc float interpreter (${p.precision === "f32" ? "Float32 storage" : "Float64"}, JavaScript)`;
      pre = { engine: r.engine, backend };
    }
    const summary = counterSummary(p.graph, r.counters, {
      ...pre, input, output: outInfo, ...(acc !== undefined ? { accuracy: acc } : {}), seconds: p.seconds, ...p.extra,
    });
    json = summary;
    if (!p.json && r.engine === "cuda" && r.fallback) process.stderr.write(`nmc: note: ${r.fallback}\n`);
    const lines = head(backend);
    lines.push(`activation sparsity ${(100 * summary.activation_sparsity).toFixed(1)}%`);
    for (const [n, v] of Object.entries(summary.activation_sparsity_per_population)) lines.push(`  ${n.padEnd(24)} ${(100 * v).toFixed(1)}%`);
    lines.push(`weight sparsity ${(100 * summary.connection_sparsity).toFixed(1)}%`);
    for (const [n, v] of Object.entries(summary.connection_sparsity_per_projection)) lines.push(`  ${n.padEnd(24)} ${(100 * v).toFixed(1)}%`);
    const so = summary.synaptic_operations;
    lines.push(`synaptic ops per sample: dense ${so.Dense.toExponential(3)}, effective ${so.Effective_MACs.toExponential(3)} (gain ×${summary.gains.combined.toFixed(2)}: activity ×${summary.gains.activity.toFixed(2)}, weights ×${summary.gains.weight.toFixed(2)})`);
    text = lines.join("\n") + "\n";
  }
  const jsonText = JSON.stringify(json, null, 2) + "\n";
  if (p.jsonFile) writeFileAtomic(p.jsonFile, new TextEncoder().encode(jsonText), "merged run summary");
  return p.json ? jsonText : text;
}
