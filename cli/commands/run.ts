import type { Command } from "commander";
import { Option } from "commander";
import { openSync, readSync, closeSync } from "node:fs";
import { loadModel } from "../../compiler/frontend/index.js";
import { BUNDLE_MAGIC, FLOAT_IR_SECTION, bundleGraph, readBundle, type Bundle } from "../../ir/bundle.js";
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import { FloatEngine, type Precision, type SequenceBatch } from "../../runtime/float/interpreter.js";
import { GoldenEngine } from "../../runtime/golden/interpreter.js";
import { runCuda } from "../../targets/cuda/index.js";
import { bundleCudaSource } from "../engines.js";
import { rasterOf, renderHtml } from "../html.js";
import { writeFileAtomic } from "../../ir/files.js";
import { summarize, type RunCounters } from "../../runtime/float/counters.js";
import { ndarray, toFloat64 } from "../../runtime/io/ndarray.js";
import { readNpy, writeNpy } from "../../runtime/io/npy.js";
import { argmaxRows, countEqual } from "../../runtime/metrics.js";
import { dtOption, INPUT_FORMATS_HELP, readBatch, ticksOption } from "../input.js";
import { type Engine, numberOption, parseEngine, parseReadout, readoutOption } from "../options.js";
import { bundleMapping, printS2Report, simulateWithProgress } from "../spinnaker2.js";
import { report as s2report } from "../../targets/spinnaker2/index.js";

interface RunOptions {
  engine?: string;
  html?: string;
  rasterInput?: string;
  mode: "event" | "dense";
  level?: string;
  quiet?: boolean;
  input: string;
  out?: string;
  labels?: string;
  readout?: string;
  precision?: Precision | "int" | "float";
  json?: boolean;
  dt?: string;
  ticks?: string;
}

/** What the summaries say about the input. */
interface InputInfo {
  shape: number[];
  dtype: string;
}

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

/** True when the file starts with the bundle magic (so a bundle is recognised whatever its name). */
export function isBundleFile(file: string): boolean {
  if (file.endsWith(".nmb")) return true;
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const head = Buffer.alloc(4);
    return readSync(fd, head, 0, 4, 0) === 4 && head.toString("latin1") === BUNDLE_MAGIC;
  } catch {
    return false; // the loader that runs next reports the unreadable file properly
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The graph an engine runs: a bundle's quantized IR (golden, its target) or float IR, or a model.json's float IR. */
export function loadRunnable(model: string, engineOpt: string | undefined, readout: string | undefined): { graph: Graph; engine: Engine; bundle?: Bundle } {
  if (isBundleFile(model)) {
    const b = readBundle(model);
    const t = b.manifest.target;
    const engine = parseEngine(engineOpt ?? (t === "spinnaker2" || t === "cuda" ? t : "golden"));
    if (readout !== undefined) {
      throw new NmcError("--readout applies to model.json; a bundle's readout was fixed when it was compiled", {
        file: model, hint: `recompile with nmc compile <model.json> --readout ${readout}`,
      });
    }
    const q = bundleGraph(b, model);
    return { graph: engine === "float" ? bundleGraph(b, model, FLOAT_IR_SECTION) : q, engine, bundle: b };
  }
  const engine = parseEngine(engineOpt ?? "float");
  if (engine !== "float") {
    throw new NmcError(`the ${engine} engine runs compiled bundles; ${model} is a float model`, {
      file: model, hint: `compile it first: nmc compile ${model} -o m.nmb && nmc run m.nmb --input ...`,
    });
  }
  const { graph, warnings } = loadModel(model, { readout: parseReadout(readout) });
  for (const w of warnings) process.stderr.write(`nmc: warning: ${w}\n`);
  return { graph, engine };
}

function runCudaCommand(model: string, bundle: Bundle, graph: Graph, batch: SequenceBatch, x: InputInfo, opts: RunOptions): void {
  if (opts.precision === "f64" || opts.precision === "f32") throw new NmcError(`--precision ${opts.precision} applies to the float engine`, { expected: "int or float for the cuda engine" });
  const precision = opts.precision === "float" ? "float" : "int";
  const g = precision === "float" ? bundleGraph(bundle, model, FLOAT_IR_SECTION) : graph;
  const t0 = performance.now();
  const r = runCuda(g, batch, { precision, source: bundleCudaSource(bundle, precision), events: false });
  const seconds = (performance.now() - t0) / 1000;
  if (opts.out) writeNpy(opts.out, ndarray("f4", r.outputShape, Float32Array.from(r.output)));
  const acc = opts.labels ? accuracy(r.output, r.outputShape, toFloat64(readNpy(opts.labels)), opts.labels) : undefined;
  const summary = runSummary(g, r.counters, {
    engine: "cuda", precision, backend: `generated CUDA C++ (${r.mode === "gpu" ? `GPU: ${r.ranOn}` : "host emulation of the same source"}; ${r.compiler}${r.cached ? ", cached build" : ""})`,
    ...(r.fallback ? { fallback: r.fallback } : {}),
    input: { file: opts.input, shape: x.shape, dtype: x.dtype }, output: { file: opts.out ?? null, shape: r.outputShape },
    ...(acc !== undefined ? { accuracy: acc } : {}), seconds,
  });
  if (opts.json) {
    process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
    return;
  }
  if (r.fallback) process.stderr.write(`nmc: note: ${r.fallback}\n`);
  process.stdout.write(plainSummary(model, summary, x, r.outputShape, opts, acc, r.counters.samples));
}

async function runSpinnaker2(model: string, bundle: Bundle, graph: Graph, batch: SequenceBatch, x: InputInfo, opts: RunOptions): Promise<void> {
  const m = bundleMapping(bundle, graph, model);
  const t0 = performance.now();
  const run = simulateWithProgress(graph, m, batch, opts.quiet === true || opts.json === true);
  const seconds = (performance.now() - t0) / 1000;
  if (opts.out) writeNpy(opts.out, ndarray("f4", run.outputShape, Float32Array.from(run.output)));
  const acc = opts.labels ? accuracy(run.output, run.outputShape, toFloat64(readNpy(opts.labels)), opts.labels) : undefined;
  const rep = s2report(graph, m, run, opts.mode, opts.level);
  if (opts.html) {
    const sample = Math.min(numberOption("--raster-input", opts.rasterInput ?? "0", 0, 2 ** 31, true)!, Math.max(0, batch.batch - 1));
    const html = await renderHtml({ title: `nmc: ${model} on SpiNNaker 2 (simulated)`, report: rep, raster: rasterOf(graph, m, batch, sample), rasterSample: sample, accuracy: acc });
    writeFileAtomic(opts.html, new TextEncoder().encode(html), "HTML report");
  }
  if (opts.json) {
    process.stdout.write(JSON.stringify({
      engine: "spinnaker2", backend: "nmc spinnaker2 simulator (transaction level, golden kernels per PE)", model,
      input: { file: opts.input, shape: x.shape, dtype: x.dtype }, output: { file: opts.out ?? null, shape: run.outputShape },
      ...(acc !== undefined ? { accuracy: acc } : {}), seconds, ...rep,
    }, null, 2) + "\n");
    return;
  }
  const head = [
    `model    ${model}`,
    `engine   nmc spinnaker2 simulator (bit-exact with the golden engine; cycles and energy from the hardware description)`,
    `input    [${x.shape.join(", ")}] ${x.dtype} from ${opts.input}`,
    `output   [${run.outputShape.join(", ")}]${opts.out ? ` -> ${opts.out}` : ""}`,
  ];
  if (acc !== undefined) head.push(`accuracy ${(100 * acc).toFixed(2)}% (${run.samples} samples)`);
  process.stdout.write(head.join("\n") + "\n" + printS2Report(rep));
}

function runSummary<E extends object>(graph: Graph, counters: RunCounters, extra: E) {
  const s = summarize(counters);
  const events: Record<string, number> = {};
  for (const [n, p] of Object.entries(counters.populations)) events[n] = p.events;
  return { ...extra, samples: counters.samples, ticks: counters.ticks, events, ...s, model: graph.meta.source };
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description("run a model on input sequences and write its outputs")
    .argument("<model>", "a bundle from nmc compile (.nmb), or model.json (TensorFlow.js LayersModel)")
    .addOption(new Option("--engine <engine>", "spinnaker2: the many-core simulator (default for spinnaker2 bundles); cuda: the generated CUDA program, on the GPU or in host emulation (default for cuda bundles); golden: the integer reference (default for golden bundles); float: the float IR interpreter (default for model.json; on a bundle, its float IR)").choices(["spinnaker2", "cuda", "golden", "float"]))
    .addOption(new Option("--mode <mode>", "spinnaker2: report the event-driven run, or charge it as if nothing were skipped (both are measured; the gains compare them)").choices(["event", "dense"]).default("event"))
    .option("--level <name>", "spinnaker2: DVFS performance level (nmc hw lists them; default: the description's)")
    .option("-q, --quiet", "no progress bar")
    .option("--html <file>", "spinnaker2: also write a self-contained HTML report with plots (PE map, activity raster, sparsity, energy, latency)")
    .option("--raster-input <k>", "spinnaker2 --html: which input sequence the activity raster shows", "0")
    .requiredOption("--input <file>", "input sequences [T, C] (one) or [B, T, C]; token ids [B, T] for Embedding models. Formats: " + INPUT_FORMATS_HELP)
    .addOption(dtOption())
    .addOption(ticksOption())
    .option("--out <file>", "write outputs as float32 .npy: [B, T, K] per tick, or [B, K] with a readout")
    .option("--labels <file>", ".npy of integer class labels [B]: report accuracy (argmax of the readout)")
    .addOption(readoutOption())
    .addOption(new Option("--precision <p>", "float engine: f64 or f32 storage; cuda engine: int (bit-exact with golden, default) or float (the float variant on the bundle's float IR)").choices(["f64", "f32", "int", "float"]))
    .option("--json", "print a JSON summary (shapes, events, sparsity, synaptic operations) on stdout")
    .addHelpText("after", `
Examples:
  $ nmc run model.json --input x.npy --out y.npy
  $ nmc compile model.json -o m.nmb && nmc run m.nmb --input x.npy --labels y.npy --json
  $ nmc compile model.json --target spinnaker2 -o s.nmb && nmc run s.nmb --input x.npy --labels y.npy
  $ nmc run examples/egru-smnist/model.json --input examples/egru-smnist/inputs/x.npy \\
        --labels examples/egru-smnist/inputs/y.npy --json
  $ nmc run model.json --input data.npz:x_test          # one array of a .npz (default: x, else the first)
  $ nmc run model.json --input x.json                   # nested arrays [[...], ...]
  $ nmc run examples/ssm-events/model.json --input examples/ssm-events/inputs/events.csv --dt 1 --ticks 56

Event inputs (.csv with header t,channel[,value], or a structured .npy with fields t, channel[, value])
become one sequence [1, T, C]: each event adds value (default 1) at tick floor(t / dt) of its channel,
C is the model's input width, T the last tick + 1 unless --ticks is given.`)
    .action(async (model: string, opts: RunOptions) => {
      const { graph, engine: which, bundle } = loadRunnable(model, opts.engine, opts.readout);
      const { x, batch } = readBatch(graph, opts.input, opts);
      if (which === "spinnaker2") {
        await runSpinnaker2(model, bundle!, graph, batch, x, opts);
        return;
      }
      if (opts.html) throw new NmcError("--html reports a spinnaker2 run", { hint: "compile with --target spinnaker2 and run that bundle" });
      if (which === "cuda") {
        runCudaCommand(model, bundle!, graph, batch, x, opts);
        return;
      }
      if (opts.precision === "int" || opts.precision === "float") {
        throw new NmcError(`--precision ${opts.precision} applies to the cuda engine`, { expected: "f64 or f32 for the float engine" });
      }
      const t0 = performance.now();
      const run = which === "golden" ? new GoldenEngine(graph).run(batch) : new FloatEngine(graph, { precision: opts.precision as Precision | undefined }).run(batch);
      const seconds = (performance.now() - t0) / 1000;
      if (opts.out) writeNpy(opts.out, ndarray("f4", run.outputShape, Float32Array.from(run.output)));
      let acc: number | undefined;
      if (opts.labels) acc = accuracy(run.output, run.outputShape, toFloat64(readNpy(opts.labels)), opts.labels);
      const summary = runSummary(graph, run.counters, {
        engine: which,
        backend: which === "golden"
          ? `nmc golden interpreter (integer arithmetic: int${graph.quant!.weightBits} weights, int32 accumulators, int16 states)`
          : `nmc float interpreter (${opts.precision === "f32" ? "Float32 storage" : "Float64"}, JavaScript)`,
        input: { file: opts.input, shape: x.shape, dtype: x.dtype }, output: { file: opts.out ?? null, shape: run.outputShape },
        ...(acc !== undefined ? { accuracy: acc } : {}), seconds,
      });
      if (opts.json) {
        process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
        return;
      }
      process.stdout.write(plainSummary(model, summary, x, run.outputShape, opts, acc, run.counters.samples));
    });
}

function plainSummary(model: string, summary: ReturnType<typeof runSummary<{ backend: string }>>, x: InputInfo, outputShape: number[], opts: RunOptions, acc: number | undefined, samples: number): string {
      const lines = [
        `model    ${model}`,
        `engine   ${summary.backend}`,
        `input    [${x.shape.join(", ")}] ${x.dtype} from ${opts.input}`,
        `output   [${outputShape.join(", ")}]${opts.out ? ` -> ${opts.out}` : ""}`,
      ];
      if (acc !== undefined) lines.push(`accuracy ${(100 * acc).toFixed(2)}% (${samples} samples)`);
      lines.push(`activation sparsity ${(100 * summary.activation_sparsity).toFixed(1)}%`);
      for (const [n, v] of Object.entries(summary.activation_sparsity_per_population)) lines.push(`  ${n.padEnd(24)} ${(100 * v).toFixed(1)}%`);
      lines.push(`weight sparsity ${(100 * summary.connection_sparsity).toFixed(1)}%`);
      for (const [n, v] of Object.entries(summary.connection_sparsity_per_projection)) lines.push(`  ${n.padEnd(24)} ${(100 * v).toFixed(1)}%`);
      const so = summary.synaptic_operations;
      lines.push(`synaptic ops per sample: dense ${so.Dense.toExponential(3)}, effective ${so.Effective_MACs.toExponential(3)} (gain ×${summary.gains.combined.toFixed(2)}: activity ×${summary.gains.activity.toFixed(2)}, weights ×${summary.gains.weight.toFixed(2)})`);
      return lines.join("\n") + "\n";
}
