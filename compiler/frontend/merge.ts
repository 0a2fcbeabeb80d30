// Merge layers of functional models (Add, Average, Concatenate, Multiply, Subtract): one table
// entry per class, each lowering the layer onto the IR from the populations of its inbound layers.
//
// Sums (Add, Average, Subtract) and Concatenate need no op of their own: they are a linear Dense population whose
// port receives one identity projection per input (scaled by 1, 1/k, or +1 and −1; Concatenate: into the
// input's own range of columns). Events travel to it as to any layer, which is what the hardware does:
// a merge is where two multicast streams meet. Multiply is the Multiply population (ports a and b), a chain
// of them for more than two inputs. tfjs itself has no Subtract layer, but a model.json converted from Keras
// (tensorflowjs_converter) can hold one: Keras's Subtract takes exactly two inputs and computes a − b.
import type { CsrWeights, Population, SourceLoc } from "../../ir/types.js";
import { NmcError } from "../../ir/errors.js";
import { tensor } from "../../ir/builder.js";
import type { LowerContext } from "./layers.js";
import { parseChecked } from "./allow.js";
import { MergeConfigSchemas, type MergeClass } from "./schema.js";
import type { LayerRef } from "./topology.js";

type Merge = (ctx: LowerContext, layer: LayerRef, config: Record<string, unknown>, inputs: Population[]) => Population;

/** rows × (≥ offset + rows) weights: coef on the diagonal shifted right by `offset` (unit i feeds column offset + i). */
function shiftedIdentity(rows: number, offset: number, coef: number): CsrWeights {
  const rowPtr = new Uint32Array(rows + 1), colIdx = new Uint32Array(rows), values = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    rowPtr[i + 1] = i + 1;
    colIdx[i] = offset + i;
    values[i] = coef;
  }
  return { rowPtr, colIdx, values: tensor(values) };
}

function loc(ctx: LowerContext, layer: LayerRef): SourceLoc {
  return { file: ctx.file, layer: layer.name, className: layer.className };
}

function checkConfig(ctx: LowerContext, layer: LayerRef, cls: MergeClass, config: unknown) {
  return parseChecked(MergeConfigSchemas[cls] as typeof MergeConfigSchemas.Concatenate, config, {
    file: ctx.file, base: [], honoured: ["name"], scopes: [cls, "config"], what: `${cls} config`, node: layer.name,
  }) as { axis?: number };
}

/** The inputs must be of one width (what elementwise merges need). */
function sameWidth(ctx: LowerContext, layer: LayerRef, inputs: Population[]): number {
  const n = inputs[0].size;
  const bad = inputs.find((p) => p.size !== n);
  if (bad) {
    throw new NmcError(`${layer.className} ${layer.name} merges inputs of different widths`, {
      file: ctx.file, path: `${layer.path}.inbound_nodes`, node: layer.name,
      expected: `every input ${n} wide (as ${inputs[0].name})`, found: inputs.map((p) => `${p.name}: ${p.size}`).join(", "),
    });
  }
  return n;
}

/** A linear Dense population summing coef[k] × input k into its columns at offset[k]. */
function linearSum(ctx: LowerContext, layer: LayerRef, inputs: Population[], width: number, coef: number[], offset: number[]): Population {
  const b = ctx.builder;
  const pop = b.dense(layer.name, width, "linear", new Float64Array(width), loc(ctx, layer));
  inputs.forEach((src, k) => {
    b.project(`${pop.name}.in${k}`, src, pop, "x", shiftedIdentity(src.size, offset[k], coef[k]), 0, loc(ctx, layer));
  });
  return pop;
}

const sum = (scale: (k: number, n: number) => number): Merge => (ctx, layer, config, inputs) => {
  checkConfig(ctx, layer, layer.className as MergeClass, config);
  const n = sameWidth(ctx, layer, inputs);
  return linearSum(ctx, layer, inputs, n, inputs.map((_, k) => scale(k, inputs.length)), inputs.map(() => 0));
};

const concatenate: Merge = (ctx, layer, config, inputs) => {
  const cfg = checkConfig(ctx, layer, "Concatenate", config);
  // Inputs are [batch, time, features]: only the feature axis (−1, or 2) is a concatenation nmc can map.
  if (cfg.axis !== undefined && cfg.axis !== -1 && cfg.axis !== 2) {
    throw new NmcError(`Concatenate ${layer.name} joins along axis ${cfg.axis}; nmc joins features only`, {
      file: ctx.file, path: `${layer.path}.config.axis`, node: layer.name, expected: "-1 (the last axis)", found: String(cfg.axis),
    });
  }
  const offsets: number[] = [];
  let width = 0;
  for (const p of inputs) {
    offsets.push(width);
    width += p.size;
  }
  return linearSum(ctx, layer, inputs, width, inputs.map(() => 1), offsets);
};

const multiply: Merge = (ctx, layer, config, inputs) => {
  checkConfig(ctx, layer, "Multiply", config);
  sameWidth(ctx, layer, inputs);
  let out = inputs[0];
  for (let k = 1; k < inputs.length; k++) {
    const last = k === inputs.length - 1;
    out = ctx.builder.gate(last ? layer.name : `${layer.name}_${k}`, out, inputs[k], {}, loc(ctx, layer));
  }
  return out;
};

const subtract: Merge = (ctx, layer, config, inputs) => {
  if (inputs.length !== 2) {
    throw new NmcError(`Subtract ${layer.name} takes exactly two inputs (a − b)`, {
      file: ctx.file, path: `${layer.path}.inbound_nodes`, node: layer.name,
      expected: "2 inbound layers", found: `${inputs.length}`,
    });
  }
  return sum((k) => (k === 0 ? 1 : -1))(ctx, layer, config, inputs);
};

export const MERGE_TABLE: Record<MergeClass, Merge> = {
  Add: sum(() => 1),
  Average: sum((_k, n) => 1 / n),
  Concatenate: concatenate,
  Multiply: multiply,
  Subtract: subtract,
};

export function isMergeClass(cls: string): cls is MergeClass {
  return Object.hasOwn(MERGE_TABLE, cls);
}
