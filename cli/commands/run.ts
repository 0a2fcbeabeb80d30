import type { Command } from "commander";
import { Option } from "commander";
import { loadModel } from "../../compiler/frontend/index.js";
import { NmcError } from "../../ir/errors.js";
import type { Graph } from "../../ir/types.js";
import { batchFromShape, FloatEngine, type Precision } from "../../runtime/float/interpreter.js";
import { summarize, type RunCounters } from "../../runtime/float/counters.js";
import { ndarray, toFloat64 } from "../../runtime/io/ndarray.js";
import { readNpy, writeNpy } from "../../runtime/io/npy.js";
import { argmaxRows, countEqual } from "../../runtime/metrics.js";
import { parseEngine, parseReadout, readoutOption } from "../options.js";

interface RunOptions {
  engine: string;
  input: string;
  out?: string;
  labels?: string;
  readout?: string;
  precision: Precision;
  json?: boolean;
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
    .argument("<model>", "model.json (TensorFlow.js LayersModel)")
    .addOption(new Option("--engine <engine>", "execution engine: float (the float IR interpreter)").default("float"))
    .requiredOption("--input <file>", "input .npy: float32/float64 [T, C] (one sequence) or [B, T, C]; token ids [B, T] for Embedding models")
    .option("--out <file>", "write outputs as float32 .npy: [B, T, K] per tick, or [B, K] with a readout")
    .option("--labels <file>", ".npy of integer class labels [B]: report accuracy (argmax of the readout)")
    .addOption(readoutOption())
    .addOption(new Option("--precision <p>", "float engine arithmetic: f64 or f32 storage").choices(["f64", "f32"]).default("f64"))
    .option("--json", "print a JSON summary (shapes, events, sparsity, synaptic operations) on stdout")
    .addHelpText("after", `
Examples:
  $ nmc run model.json --input x.npy --out y.npy
  $ nmc run examples/egru-smnist/model.json --input examples/egru-smnist/inputs/x.npy \\
        --labels examples/egru-smnist/inputs/y.npy --json`)
    .action((model: string, opts: RunOptions) => {
      parseEngine(opts.engine);
      const { graph, warnings } = loadModel(model, { readout: parseReadout(opts.readout) });
      for (const w of warnings) process.stderr.write(`nmc: warning: ${w}\n`);
      const x = readNpy(opts.input);
      const batch = batchFromShape(graph, toFloat64(x), x.shape, opts.input);
      const t0 = performance.now();
      const engine = new FloatEngine(graph, { precision: opts.precision });
      const run = engine.run(batch);
      const seconds = (performance.now() - t0) / 1000;
      if (opts.out) writeNpy(opts.out, ndarray("f4", run.outputShape, Float32Array.from(run.output)));
      let acc: number | undefined;
      if (opts.labels) acc = accuracy(run.output, run.outputShape, toFloat64(readNpy(opts.labels)), opts.labels);
      const summary = runSummary(graph, run.counters, {
        engine: "float", backend: `nmc float interpreter (${opts.precision === "f32" ? "Float32 storage" : "Float64"}, JavaScript)`,
        input: { file: opts.input, shape: x.shape, dtype: x.dtype }, output: { file: opts.out ?? null, shape: run.outputShape },
        ...(acc !== undefined ? { accuracy: acc } : {}), seconds,
      });
      if (opts.json) {
        process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
        return;
      }
      const lines = [
        `model    ${model}`,
        `engine   ${summary.backend}`,
        `input    [${x.shape.join(", ")}] ${x.dtype} from ${opts.input}`,
        `output   [${run.outputShape.join(", ")}]${opts.out ? ` -> ${opts.out}` : ""}`,
      ];
      if (acc !== undefined) lines.push(`accuracy ${(100 * acc).toFixed(2)}% (${run.counters.samples} samples)`);
      lines.push(`activation sparsity ${(100 * summary.activation_sparsity).toFixed(1)}%`);
      for (const [n, v] of Object.entries(summary.activation_sparsity_per_population)) lines.push(`  ${n.padEnd(24)} ${(100 * v).toFixed(1)}%`);
      const so = summary.synaptic_operations;
      lines.push(`synaptic ops per sample: dense ${so.Dense.toExponential(3)}, effective ${so.Effective_MACs.toExponential(3)} (gain ×${summary.gains.combined.toFixed(2)}: activity ×${summary.gains.activity.toFixed(2)}, weights ×${summary.gains.weight.toFixed(2)})`);
      process.stdout.write(lines.join("\n") + "\n");
    });
}
