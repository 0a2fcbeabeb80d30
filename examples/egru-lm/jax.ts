// The JAX trainer of examples/egru-lm (train_jax.py) driven from train.ts: the folder it reads (hyper-parameters,
// the schedules of nmc tune computed here, the encoded character streams), a Python with JAX to run it, and the
// weights it writes back loaded into nmc's EGRU layer (TensorFlow.js), where train.ts measures them again.
//
// Python: PYTHON (a python3 that imports jax, jaxlib, optax and numpy), else a virtual environment made once at
// <repo>/.venv-egru-lm from examples/egru-lm/requirements.txt (pip honours PIP_INDEX_URL and the machine's pip
// configuration; on the nmc build machines the local mirror is file:///opt/pypi/simple).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type * as tfjs from "@tensorflow/tfjs";
import { cosineRate, isMaskStep, type NdArray, readNpz, sparsityAt, writeNpz } from "../../index.js";

export interface JaxStage {
  /** Seed of the initial weights and the batch offsets. */
  seed: number;
  /** The learning rate of every step (its length is the stage's step count). */
  lr: number[];
  /** Pruning only: the target sparsity at every step where the masks are recomputed (nmc tune's schedule). */
  maskSparsity?: Record<number, number>;
}

export interface PruneHp { sparsity: number; maskEvery: number }

/** Every step's rate on nmc tune's cosine (compiler/tune/schedule.ts cosineRate). */
export function cosineSteps(lr: number, lrFinal: number, steps: number): number[] {
  return Array.from({ length: steps }, (_, i) => cosineRate(lr, lrFinal, i, steps));
}

/**
 * The mask plan of a pruning stage: Zhu & Gupta's cubic ramp from 0 to the final sparsity over the first 60 % of
 * the steps, masks recomputed every maskEvery steps (nmc tune's sparsityAt and isMaskStep; the same schedule as
 * train.ts's TensorFlow.js loop).
 */
export function maskPlan(hp: PruneHp, steps: number): Record<number, number> {
  const schedule = { initialSparsity: 0, finalSparsity: hp.sparsity, startStep: 0, endStep: Math.floor(0.6 * steps), every: hp.maskEvery };
  const plan: Record<number, number> = {};
  for (let step = 0; step < steps; step++) if (isMaskStep(schedule, step)) plan[step] = sparsityAt(schedule, step);
  return plan;
}

/** Writes the trainer's folder: config.json and the three encoded streams (one byte per character). */
export function writeJaxWork(dir: string, hp: object, vocabularySize: number, streams: Record<"train" | "validation" | "test", Int32Array>,
  stages: Record<string, JaxStage>): void {
  mkdirSync(dir, { recursive: true });
  if (vocabularySize > 256) throw new Error(`the JAX trainer's streams hold one byte per character; the vocabulary has ${vocabularySize}`);
  for (const [k, s] of Object.entries(streams)) writeFileSync(path.join(dir, `${k}.u8`), Uint8Array.from(s));
  writeFileSync(path.join(dir, "config.json"), JSON.stringify({ hp, vocabularySize, stages }, null, 1) + "\n");
}

/** A python3 with JAX: PYTHON, else the repository's .venv-egru-lm (made on first use). */
export function jaxPython(repo: string, log: (s: string) => void): string {
  const explicit = process.env.PYTHON;
  const venv = path.join(repo, ".venv-egru-lm");
  const py = explicit || path.join(venv, "bin", "python");
  const hasJax = (p: string) => spawnSync(p, ["-c", "import jax, optax, numpy"], { stdio: "ignore" }).status === 0;
  if (existsSync(py) && hasJax(py)) return py;
  if (explicit) throw new Error(`PYTHON=${explicit} cannot import jax, optax and numpy (examples/egru-lm/requirements.txt)`);
  log(`making a Python environment for the JAX trainer in ${venv} (examples/egru-lm/requirements.txt; a few minutes)`);
  execFileSync("python3", ["-m", "venv", venv], { stdio: "inherit" });
  execFileSync(py, ["-m", "pip", "install", "-r", path.join(repo, "examples", "egru-lm", "requirements.txt")], { stdio: "inherit" });
  if (!hasJax(py)) throw new Error(`${py} still cannot import jax after pip install`);
  return py;
}

/** Runs one stage of train_jax.py (its log goes to this process's stderr). */
export function runJaxStage(python: string, script: string, work: string, stage: string): void {
  const r = spawnSync(python, ["-u", script, "--work", work, "--stage", stage], { stdio: ["ignore", "inherit", "inherit"] });
  if (r.status !== 0) throw new Error(`train_jax.py --stage ${stage} failed (exit ${r.status ?? r.signal})`);
}

/** The name of a layer weight as the trainer keys it: "<layer>/<weight>" without TensorFlow.js's "_N" suffix. */
const keyOf = (layer: string, w: tfjs.LayerVariable) => `${layer}/${w.name.split("/").pop()!.replace(/_\d+$/, "")}`;

/** Loads the trainer's weights (a .npz keyed "<layer>/<weight>") into a model's layers; every weight must be there, and every array used. */
export function loadJaxWeights(tf: typeof import("@tensorflow/tfjs"), model: tfjs.LayersModel, file: string, fill: Record<string, number> = {}): void {
  const arrays = readNpz(file);
  const used = new Set<string>();
  for (const layer of model.layers) {
    const values = layer.weights.map((w) => {
      const key = keyOf(layer.name, w);
      const shape = w.shape as number[];
      const a = arrays.get(key);
      if (!a) {
        if (key in fill) return tf.fill(shape, fill[key]!);
        throw new Error(`${file}: no array '${key}' for the model's weight ${w.name} [${w.shape}]`);
      }
      if (a.shape.join() !== w.shape.join()) throw new Error(`${file}: '${key}' has shape [${a.shape}], the model's weight [${w.shape}]`);
      used.add(key);
      return tf.tensor(Float32Array.from(a.data as Float32Array), shape);
    });
    layer.setWeights(values);
    values.forEach((v) => v.dispose());
  }
  const unused = [...arrays.keys()].filter((k) => !used.has(k));
  if (unused.length) throw new Error(`${file}: arrays the model has no weight for: ${unused.join(", ")}`);
}

/** A model's weights as the trainer keys them, for train_jax.py to start from. */
export function saveJaxWeights(model: tfjs.LayersModel, file: string): void {
  const arrays: Array<[string, NdArray]> = [];
  for (const layer of model.layers) {
    for (const w of layer.weights) arrays.push([keyOf(layer.name, w), { dtype: "f4", shape: [...w.shape] as number[], data: Float32Array.from(w.read().dataSync() as Float32Array) }]);
  }
  writeNpz(file, arrays);
}
