// Picks the fastest TensorFlow.js backend present at run time, and holds the small helpers the nmc layer
// classes share (the tf module type, config reading, initializers from a function).
//
// Order of preference: @tensorflow/tfjs-node-gpu, @tensorflow/tfjs-node (optional dependencies with a native
// addon; usually absent or unbuilt, which is fine), @tensorflow/tfjs-backend-wasm (always installed; its
// .wasm binaries are read from the installed package, so it works offline), then the pure-JS `cpu` backend.
//
// `NMC_TF_BACKEND` forces a choice (`node-gpu`, `node`, `wasm`, `cpu`): if that backend cannot be started
// the call fails instead of falling back. `opts.prefer` is softer: that backend is tried first, then the
// usual order.

import * as tfjs from "@tensorflow/tfjs";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { NmcError } from "../../ir/errors.js";

/** The TensorFlow.js module: `@tensorflow/tfjs`, or `@tensorflow/tfjs-node(-gpu)` which re-exports it. */
export type Tf = typeof tfjs;

export interface BackendInfo {
  /** The tf module to use: build models, register layer classes and load models with this one. */
  tf: Tf;
  /** `tf.getBackend()` after selection: `tensorflow`, `wasm` or `cpu`. */
  backend: string;
  /** The npm package providing the backend (`@tensorflow/tfjs` for the built-in `cpu`). */
  packageName: string;
}

type Choice = "node-gpu" | "node" | "wasm" | "cpu";
const ORDER: readonly Choice[] = ["node-gpu", "node", "wasm", "cpu"];

const ALIASES: Record<string, Choice> = {
  "node-gpu": "node-gpu",
  "tfjs-node-gpu": "node-gpu",
  "@tensorflow/tfjs-node-gpu": "node-gpu",
  gpu: "node-gpu",
  node: "node",
  "tfjs-node": "node",
  "@tensorflow/tfjs-node": "node",
  tensorflow: "node",
  wasm: "wasm",
  "tfjs-backend-wasm": "wasm",
  "@tensorflow/tfjs-backend-wasm": "wasm",
  cpu: "cpu",
};

function parseChoice(value: string, source: string): Choice {
  const c = ALIASES[value.trim().toLowerCase()];
  if (!c) {
    throw new NmcError(`unknown TensorFlow.js backend '${value}'`, {
      path: source,
      expected: "one of node-gpu, node, wasm, cpu",
      found: value,
    });
  }
  return c;
}

/** Picks the tf module out of a dynamically imported CommonJS package (namespace or its default). */
function pickTf(mod: unknown): Tf {
  const m = mod as { default?: unknown; getBackend?: unknown };
  if (m.default && typeof (m.default as { getBackend?: unknown }).getBackend === "function") return m.default as Tf;
  if (typeof m.getBackend === "function") return m as Tf;
  throw new Error("module does not look like TensorFlow.js");
}

/**
 * Throws unless `pkg` is installed with its native addon built (lib/napi-vN/tfjs_binding.node). Checked
 * before importing: a failed import still registers that package's kernels, and a second attempt (the CPU
 * package after the GPU one) would then log a warning per kernel.
 */
function assertNativeAddon(pkg: string): void {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = path.dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    throw new Error(`${pkg} is not installed`);
  }
  const lib = path.join(dir, "lib");
  const built =
    existsSync(lib) &&
    readdirSync(lib).some((d) => d.startsWith("napi-v") && existsSync(path.join(lib, d, "tfjs_binding.node")));
  if (!built) throw new Error(`${pkg} is installed but its native addon is not built`);
}

async function tryNode(pkg: string): Promise<BackendInfo> {
  assertNativeAddon(pkg);
  // A variable specifier keeps TypeScript from requiring the optional package at compile time.
  const spec: string = pkg;
  const tf = pickTf(await import(spec));
  const ok = await tf.setBackend("tensorflow");
  if (!ok) throw new Error(`${pkg}: backend 'tensorflow' failed to initialize`);
  await tf.ready();
  return { tf, backend: tf.getBackend(), packageName: pkg };
}

/** The directory holding the installed wasm backend's .wasm binaries, with a trailing separator. */
export function wasmBinaryDir(): string {
  const require = createRequire(import.meta.url);
  const pkgJson = require.resolve("@tensorflow/tfjs-backend-wasm/package.json");
  return path.join(path.dirname(pkgJson), "dist") + path.sep;
}

let wasmPathsSet = false;

async function tryWasm(): Promise<BackendInfo> {
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  if (!wasmPathsSet) {
    // Emscripten in Node reads a plain file path with fs, so this works without network access.
    wasm.setWasmPaths(wasmBinaryDir());
    wasmPathsSet = true;
  }
  const ok = await tfjs.setBackend("wasm");
  if (!ok) throw new Error("backend 'wasm' failed to initialize");
  await tfjs.ready();
  return { tf: tfjs, backend: tfjs.getBackend(), packageName: "@tensorflow/tfjs-backend-wasm" };
}

async function tryCpu(): Promise<BackendInfo> {
  const ok = await tfjs.setBackend("cpu");
  if (!ok) throw new Error("backend 'cpu' failed to initialize");
  await tfjs.ready();
  // The cpu backend prints an "install tfjs-node" banner on its first tensor in Node; the choice here is
  // deliberate (and reported), so mark it as used. Harmless if a later tfjs drops the field.
  const cpu = tfjs.backend() as unknown as { firstUse?: boolean };
  if (typeof cpu.firstUse === "boolean") cpu.firstUse = false;
  return { tf: tfjs, backend: tfjs.getBackend(), packageName: "@tensorflow/tfjs" };
}

function attempt(c: Choice): Promise<BackendInfo> {
  switch (c) {
    case "node-gpu":
      return tryNode("@tensorflow/tfjs-node-gpu");
    case "node":
      return tryNode("@tensorflow/tfjs-node");
    case "wasm":
      return tryWasm();
    case "cpu":
      return tryCpu();
  }
}

async function select(forced: Choice | null, prefer: Choice | null): Promise<BackendInfo> {
  if (forced) {
    try {
      return await attempt(forced);
    } catch (e) {
      throw new NmcError(`the TensorFlow.js backend '${forced}' requested by NMC_TF_BACKEND cannot be started`, {
        path: "NMC_TF_BACKEND",
        found: e instanceof Error ? e.message.split("\n")[0] : String(e),
        hint: "install and build the package for that backend, or unset NMC_TF_BACKEND to pick automatically",
      });
    }
  }
  const order = prefer ? [prefer, ...ORDER.filter((c) => c !== prefer)] : ORDER;
  const failures: string[] = [];
  for (const c of order) {
    try {
      return await attempt(c);
    } catch (e) {
      failures.push(`${c}: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}`);
    }
  }
  // The cpu backend is part of @tensorflow/tfjs, so this is a broken installation.
  throw new Error(`no TensorFlow.js backend could be started (${failures.join("; ")})`);
}

let cache: { key: string; result: Promise<BackendInfo> } | null = null;

/**
 * Selects and activates the best available backend. Idempotent: later calls return the cached result unless
 * they ask for a different backend (then selection runs again and the cache is replaced).
 */
export async function initBestBackend(opts: { prefer?: string } = {}): Promise<BackendInfo> {
  const env = process.env.NMC_TF_BACKEND;
  const forced = env && env.trim() !== "" ? parseChoice(env, "NMC_TF_BACKEND") : null;
  const prefer = opts.prefer ? parseChoice(opts.prefer, "prefer") : null;
  const key = `${forced ?? ""}|${prefer ?? ""}`;
  if (cache && (cache.key === key || (!forced && !prefer))) return cache.result;
  const result = select(forced, prefer);
  cache = { key, result };
  result.catch(() => {
    if (cache?.result === result) cache = null;
  });
  return result;
}

/** The backend chosen by a previous `initBestBackend`, if any (without starting one). */
export async function currentBackend(): Promise<BackendInfo | null> {
  if (!cache) return null;
  try {
    return await cache.result;
  } catch {
    return null;
  }
}

// ---- helpers shared by the layer classes -------------------------------------------------------------

/** A config value given in either camelCase (tfjs deserialization) or snake_case (hand-written configs). */
export function configValue<T>(args: Record<string, unknown>, camel: string, snake: string, dflt: T): T {
  if (args[camel] !== undefined && args[camel] !== null) return args[camel] as T;
  if (args[snake] !== undefined && args[snake] !== null) return args[snake] as T;
  return dflt;
}

/** The tfjs-layers `Initializer` type, as accepted by `Layer.addWeight`. */
export type TfInitializer = ReturnType<Tf["initializers"]["ones"]>;

/**
 * An initializer computing its tensor with a function (tfjs-layers exports no Initializer base class we can
 * subclass; this is structurally one). Not serializable; only used while building a layer.
 */
export function fnInitializer(tf: Tf, fn: (shape: number[]) => tfjs.Tensor): TfInitializer {
  class FnInitializer extends tf.serialization.Serializable {
    static className = "NmcFnInitializer";
    fromConfigUsesCustomObjects(): boolean {
      return false;
    }
    apply(shape: (number | null)[]): tfjs.Tensor {
      return fn(shape.map((d) => d ?? 1));
    }
    getConfig(): tfjs.serialization.ConfigDict {
      return {};
    }
  }
  return new FnInitializer();
}

/**
 * 2-D a·b whose gradient multiplies untransposed operands (transposing them explicitly, a cheap copy):
 * tfjs-backend-wasm's matMul is ~8× slower with transposeA / transposeB (measured 20 ms vs 2.5 ms for
 * [5600, 64]·[64, 64] on one core), and the gradients of tf.matMul use exactly those forms. The training
 * forwards of the examples (ssm-events, event-ssm-nmnist) multiply through it.
 */
export function untransposedMatMul(tf: Tf): (a: tfjs.Tensor, b: tfjs.Tensor) => tfjs.Tensor {
  return tf.customGrad(((a: tfjs.Tensor, b: tfjs.Tensor, save: tfjs.GradSaveFunc) => {
    save([a, b]);
    return {
      value: tf.matMul(a as tfjs.Tensor2D, b as tfjs.Tensor2D),
      gradFunc: (dy: tfjs.Tensor, saved: tfjs.Tensor[]) => {
        const [sa, sb] = saved as [tfjs.Tensor2D, tfjs.Tensor2D];
        return [tf.matMul(dy as tfjs.Tensor2D, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy as tfjs.Tensor2D)];
      },
    };
  }) as unknown as Parameters<Tf["customGrad"]>[0]) as (a: tfjs.Tensor, b: tfjs.Tensor) => tfjs.Tensor;
}
