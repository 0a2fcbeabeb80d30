// The child process of the compile benchmark (bench/compile.ts), one job per process so that each
// measurement has its own heap and its own peak RSS:
//
//   node dist/bench/compile-child.js write <dir> <layers> <units> <inputs> <calibSeqs> <calibTicks>
//     writes a synthetic EGRU (bench/models.ts syntheticEgruFloat, dense weights, untuned thresholds) as a
//     TensorFlow.js LayersModel: <dir>/model.json + weights.bin, and calibration inputs <dir>/inputs/calib.npy
//     (uniform in [−1, 1], seeded), which `nmc compile` picks up beside the model. Prints {params, bytes}.
//   node dist/bench/compile-child.js compile <dir>
//     runs `nmc compile <dir>/model.json --target spinnaker2 -o <dir>/model.nmb` (compileToBundle, the
//     command's whole work) and prints the stage seconds, the total, the peak RSS and the mapping figures.
//   node dist/bench/compile-child.js baseline
//     loads the same modules and does nothing: the RSS a compile starts from.
//
// Output: one JSON line on stdout.
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CompileStageSeconds, compileToBundle, loadMapping, type Partition, readBundle, writeNpy } from "../index.js";
import { seededRandom } from "../examples/common/mnist.js";
import { syntheticEgruFloat } from "./models.js";

function write(dir: string, layers: number, units: number, inputs: number, seqs: number, ticks: number): void {
  const g = syntheticEgruFloat({ layers, units, inputs, weightSparsity: 0, activitySparsity: 0 });
  mkdirSync(join(dir, "inputs"), { recursive: true });
  const manifest: { name: string; shape: number[]; dtype: "float32" }[] = [];
  const chunks: Buffer[] = [];
  const add = (name: string, shape: number[], values: Float32Array) => {
    manifest.push({ name, shape, dtype: "float32" });
    chunks.push(Buffer.from(values.buffer, values.byteOffset, values.byteLength));
  };
  const dense = (name: string) => {
    const j = g.projections.find((x) => x.name === name)!;
    const out = new Float32Array(j.rows * j.cols);
    const v = j.weights.values.data;
    for (let r = 0; r < j.rows; r++) for (let k = j.weights.rowPtr[r]; k < j.weights.rowPtr[r + 1]; k++) out[r * j.cols + j.weights.colIdx[k]] = v[k];
    return { out, shape: [j.rows, j.cols] };
  };
  const topology: unknown[] = [{ class_name: "InputLayer", config: { name: "x", batch_input_shape: [null, ticks, inputs], dtype: "float32" } }];
  let params = 0;
  for (let l = 0; l < layers; l++) {
    const name = `egru${l}`;
    const pop = g.populations.find((p) => p.name === name)!;
    topology.push({ class_name: "EGRU", config: { name, units } });
    const k = dense(`${name}.kernel`), r = dense(`${name}.recurrent`);
    add(`${name}/kernel`, k.shape, k.out);
    add(`${name}/recurrent_kernel`, r.shape, r.out);
    add(`${name}/bias`, [3 * units], Float32Array.from(pop.tensors.bias_x.data));
    add(`${name}/recurrent_bias`, [3 * units], Float32Array.from(pop.tensors.bias_h.data));
    add(`${name}/thr`, [units], Float32Array.from(pop.tensors.thr.data));
    params += k.out.length + r.out.length + 7 * units;
  }
  const weights = Buffer.concat(chunks);
  writeFileSync(join(dir, "weights.bin"), weights);
  writeFileSync(join(dir, "model.json"), JSON.stringify({
    format: "layers-model", generatedBy: "nmc bench/compile-child.ts", convertedBy: null,
    modelTopology: { class_name: "Sequential", config: { name: `synthetic_egru_${layers}x${units}`, layers: topology } },
    weightsManifest: [{ paths: ["weights.bin"], weights: manifest }],
    userDefinedMetadata: { nmc: { readout: "mean" } },
  }));
  const rand = seededRandom(3);
  const cal = Float32Array.from({ length: seqs * ticks * inputs }, () => 2 * rand() - 1);
  writeNpy(join(dir, "inputs", "calib.npy"), { dtype: "f4", shape: [seqs, ticks, inputs], data: cal });
  process.stdout.write(JSON.stringify({ params, weightBytes: weights.byteLength }) + "\n");
}

/** ⌈Σ bytes of every population (its fixed part once) ÷ usable SRAM⌉. */
export function sramBound(p: Partition): number {
  return Math.max(1, Math.ceil(p.populations.reduce((a, x) => a + x.bytes, 0) / p.usableBytes));
}

/** The mean share of a PE's usable SRAM that its slice's fixed part (what every slice of the population holds) takes. */
export function fixedShare(p: Partition): number {
  const own = p.slices.filter((s) => s.mirrors < 0);
  return own.reduce((a, s) => a + s.fixedBytes, 0) / Math.max(1, own.length) / p.usableBytes;
}

function compile(dir: string): void {
  const seconds = {} as CompileStageSeconds;
  const out = join(dir, "model.nmb");
  const t0 = performance.now();
  const { result } = compileToBundle(join(dir, "model.json"), { out, target: "spinnaker2" }, seconds);
  const total = (performance.now() - t0) / 1000;
  // The mapping as the bundle stores it (read back after the timed compile).
  const m = loadMapping(readBundle(out), result.quantized, out);
  process.stdout.write(JSON.stringify({
    seconds, total, maxRssKiB: process.resourceUsage().maxRSS, bundleBytes: statSync(out).size,
    pes: m.partition.pes, lowerBound: m.partition.lowerBound,
    sramBound: sramBound(m.partition),
    fixedShare: fixedShare(m.partition),
    chips: m.placement.chips,
    routingEntries: m.routing.totalEntries, maxRouterEntries: m.routing.maxEntries,
  }) + "\n");
}

const [mode, ...args] = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] ? process.argv.slice(2) : ["(imported)"];
if (mode === "(imported)") {
  // imported for sramBound / fixedShare: nothing to run
} else if (mode === "write") {
  const [dir, ...n] = args;
  const [layers, units, inputs, seqs, ticks] = n.map(Number);
  write(dir, layers, units, inputs, seqs, ticks);
} else if (mode === "compile") {
  compile(args[0]);
} else if (mode === "baseline") {
  process.stdout.write(JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }) + "\n");
} else {
  process.stderr.write("usage: compile-child.js write <dir> <layers> <units> <inputs> <seqs> <ticks> | compile <dir> | baseline\n");
  process.exitCode = 2;
}
