// The models the benchmarks run: the two trained examples (as committed) and a synthetic EGRU of any size,
// built directly as float IR with a chosen weight sparsity, and thresholds set so that its units are
// silent a chosen fraction of the time (measured on the float engine, then reported as measured: the
// quantized model's activity is whatever the golden engine counts).
import { join } from "node:path";
import { compileQuantized, syntheticCalibration, loadModel, GraphBuilder, tensor, type CsrWeights, type Graph, type Population, readNpy, FloatEngine, batchFromShape, type SequenceBatch, toFloat64 } from "../index.js";
import { seededRandom } from "../examples/common/mnist.js";

export const REPO = new URL("..", import.meta.url).pathname.replace(/\/dist\/$/, "/");

export interface SyntheticEgruSpec {
  layers: number;
  units: number;
  inputs: number;
  /** Fraction of weights that are zero (dropped from the CSR). */
  weightSparsity: number;
  /** Wanted fraction of unit-ticks with no event (the thresholds are tuned for it on the float engine). */
  activitySparsity: number;
  seed?: number;
}

/** A sparse random matrix [rows, cols] with the given density, weights uniform in ±scale, as f32 CSR. */
export function randomCsr(rows: number, cols: number, density: number, scale: number, rand: () => number): CsrWeights {
  const expected = Math.ceil(rows * cols * density * 1.1) + 16;
  let colIdx = new Uint32Array(expected);
  let data = new Float32Array(expected);
  const rowPtr = new Uint32Array(rows + 1);
  let n = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (rand() >= density) continue;
      if (n === colIdx.length) {
        const ci = new Uint32Array(n * 2); ci.set(colIdx); colIdx = ci;
        const d = new Float32Array(n * 2); d.set(data); data = d;
      }
      colIdx[n] = c;
      data[n++] = (2 * rand() - 1) * scale;
    }
    rowPtr[r + 1] = n;
  }
  return { rowPtr, colIdx: colIdx.slice(0, n), values: tensor(data.slice(0, n)) };
}

/** Uniform random inputs [B, T, C] in [−1, 1], seeded. */
export function randomBatch(B: number, T: number, C: number, seed: number): SequenceBatch {
  const r = seededRandom(seed);
  const data = Float64Array.from({ length: B * T * C }, () => 2 * r() - 1);
  return { data, batch: B, ticks: T, channels: C };
}

/**
 * The float graph of a synthetic EGRU stack (input → layers EGRU with a delay-1 recurrent projection each →
 * mean readout) with the given threshold per layer (untuned: 0.3 everywhere unless given).
 */
export function syntheticEgruFloat(s: SyntheticEgruSpec, thr: number[] = new Array<number>(s.layers).fill(0.3)): Graph {
  const rand = seededRandom(s.seed ?? 7);
  const b = new GraphBuilder(`synthetic-egru-${s.layers}x${s.units}`);
  const density = 1 - s.weightSparsity;
  let prev: Population = b.input("x", s.inputs, "values");
  for (let l = 0; l < s.layers; l++) {
    const U = s.units;
    const bias = () => Float32Array.from({ length: 3 * U }, () => 0.1 * (2 * rand() - 1));
    const p = b.egru(`egru${l}`, U, { biasX: bias(), biasH: bias(), thr: new Float32Array(U).fill(thr[l]) });
    // Scaled so that a port's sum has unit-order variance whatever the density and fan-in.
    const scaleIn = Math.sqrt(3 / (prev.size * density)) * (l === 0 ? 1 : 2.5);
    b.project(`${p.name}.kernel`, prev, p, "input", randomCsr(prev.size, 3 * U, density, scaleIn, rand));
    b.project(`${p.name}.recurrent`, p, p, "recurrent", randomCsr(U, 3 * U, density, Math.sqrt(3 / (U * density)), rand), 1);
    prev = p;
  }
  b.outputs.push(b.readout("readout", prev, "mean").name);
  return b.build();
}

/** Per layer: the fraction of unit-ticks without an event on the float engine. */
function floatSparsity(g: Graph, batch: SequenceBatch): number[] {
  const r = new FloatEngine(g).run(batch);
  return g.populations.filter((p) => p.kind === "EGRU").map((p) => {
    const c = r.counters.populations[p.name];
    return 1 - c.events / Math.max(1, c.unitTicks);
  });
}

export interface SyntheticModel {
  float: Graph;
  quantized: Graph;
  /** Float-engine activity sparsity per layer after tuning. */
  tunedSparsity: number[];
  thresholds: number[];
  params: number;
}

/**
 * A synthetic EGRU stack, pruned as specified, thresholds tuned layer by layer (bisection on the float
 * engine over a small seeded batch) to the wanted activity sparsity, then quantized like `nmc compile`
 * (calibrated on synthetic inputs, int8 weights, int16 states).
 */
export function syntheticEgru(s: SyntheticEgruSpec, tuneBatch = randomBatch(4, 24, s.inputs, 99)): SyntheticModel {
  const thr = new Array<number>(s.layers).fill(0.5);
  for (let l = 0; l < s.layers; l++) {
    // The stack up to layer l (earlier layers at their tuned thresholds), built once; the bisection rewrites
    // layer l's threshold tensor in place.
    const prefix = syntheticEgruFloat({ ...s, layers: l + 1 }, thr);
    const t = prefix.populations.find((p) => p.name === `egru${l}`)!.tensors.thr.data as Float32Array;
    let lo = 0, hi = 1.5;
    for (let it = 0; it < 14; it++) {
      thr[l] = (lo + hi) / 2;
      t.fill(thr[l]);
      const sp = floatSparsity(prefix, tuneBatch)[l];
      if (sp < s.activitySparsity) lo = thr[l]; else hi = thr[l];
      if (Math.abs(sp - s.activitySparsity) < 0.005) break;
    }
  }
  const float = syntheticEgruFloat(s, thr);
  const tuned = floatSparsity(float, tuneBatch);
  const cal = syntheticCalibration(float, 8, 24, 3);
  const { quantized } = compileQuantized(float, { calibration: cal });
  const params = float.projections.reduce((a, j) => a + j.weights.colIdx.length, 0) +
    float.populations.reduce((a, p) => a + Object.values(p.tensors).reduce((x, t) => x + t.data.length, 0), 0);
  return { float, quantized, tunedSparsity: tuned, thresholds: thr, params };
}

export interface ExampleModel {
  name: string;
  float: Graph;
  quantized: Graph;
  batch: SequenceBatch;
  labels: Float64Array;
}

const examples = new Map<string, ExampleModel>();

/**
 * A bundled example (egru-smnist, ssm-events) compiled as `nmc demo` does, with its committed inputs; compiled
 * once per process and shared by every benchmark (treat it as read-only).
 */
export function exampleModel(name: "egru-smnist" | "ssm-events"): ExampleModel {
  let e = examples.get(name);
  if (!e) examples.set(name, (e = compileExample(name)));
  return e;
}

/** Compiles a bundled example afresh, optionally with a fraction of its weights pruned (`weightSparsity`). */
export function compileExample(name: "egru-smnist" | "ssm-events", weightSparsity?: number): ExampleModel {
  const dir = join(REPO, "examples", name, "inputs");
  const { graph } = loadModel(join(REPO, "examples", name, "model.json"));
  const calFile = join(dir, "calib.npy");
  const cal = readNpy(calFile);
  const { quantized, float } = compileQuantized(graph, {
    ...(weightSparsity !== undefined ? { weightSparsity } : {}),
    calibration: { data: toFloat64(cal), shape: cal.shape, label: `file ${calFile}`, file: calFile },
  });
  const x = readNpy(join(dir, "x.npy"));
  const batch = batchFromShape(graph, toFloat64(x), x.shape, "x.npy");
  const labels = toFloat64(readNpy(join(dir, "y.npy")));
  return { name, float, quantized, batch, labels };
}
