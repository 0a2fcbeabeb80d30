// BatchNormalization at inference: per feature i, y_i = γ_i·(x_i − μ_i)/√(σ_i² + ε) + β_i, an affine map
// y_i = a_i·x_i + c_i with a_i = γ_i/√(σ_i² + ε) and c_i = β_i − a_i·μ_i (μ, σ²: the moving statistics).
// It needs no op of its own:
// - folded into the linear Dense just before it when nothing else reads that Dense (the condition under
//   which an Activation folds, ctx.lastDense): the Dense's kernel columns are scaled by a and its bias becomes
//   a·(b − μ) + β, exact in float64 up to rounding; the Dense stays linear, so a following Activation folds too;
// - anywhere else (after an SSM, an EGRU, a merge, a non-linear Dense or a Dense other layers read): a linear
//   Dense population of the same width fed by a diagonal projection of weights a, with bias c.
// The coefficients are computed in float64 from the float32 weights, as the merges' projections are.
import { csrFromDiagonal, tensor } from "../../ir/builder.js";
import { NmcError } from "../../ir/errors.js";
import type { CsrWeights, DensePopulation } from "../../ir/types.js";
import { parseChecked } from "./allow.js";
import { weight, type LowerContext } from "./layers.js";
import { LayerConfigSchemas } from "./schema.js";
import type { LayerRef } from "./topology.js";

/** Inputs are [batch, time, features]: the feature axis is −1 or 2 (Keras 2 writes it as a list after building). */
export function featureAxis(axis: number | number[]): boolean {
  const a = Array.isArray(axis) ? axis : [axis];
  return a.length === 1 && (a[0] === -1 || a[0] === 2);
}

/** Scales column c of a CSR by a[c] (a Dense's kernel columns are its units), in float64. */
function scaleColumns(w: CsrWeights, a: Float64Array): CsrWeights {
  const v = w.values.data;
  const values = Float64Array.from({ length: v.length }, (_, k) => Number(v[k]) * a[w.colIdx[k]]);
  return { rowPtr: w.rowPtr, colIdx: w.colIdx, values: tensor(values) };
}

export function lowerBatchNorm(ctx: LowerContext, layer: LayerRef, config: Record<string, unknown>): void {
  const cfg = parseChecked(LayerConfigSchemas.BatchNormalization, config, {
    file: ctx.file, base: [], honoured: ["name"], scopes: ["BatchNormalization", "config"], what: "BatchNormalization config", node: layer.name,
  });
  if (!featureAxis(cfg.axis)) {
    throw new NmcError(`BatchNormalization ${layer.name} normalizes along axis ${JSON.stringify(cfg.axis)}; nmc normalizes features only`, {
      file: ctx.file, path: `${layer.path}.config.axis`, node: layer.name, expected: "-1 (the last axis, or 2 of [batch, time, features])", found: JSON.stringify(cfg.axis),
    });
  }
  const n = ctx.current.size;
  const gamma = cfg.scale ? weight(ctx, layer, "gamma", [n]) : new Float32Array(n).fill(1);
  const beta = cfg.center ? weight(ctx, layer, "beta", [n]) : new Float32Array(n);
  const mean = weight(ctx, layer, "moving_mean", [n]);
  const variance = weight(ctx, layer, "moving_variance", [n]);
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const v = variance[i] + cfg.epsilon;
    // A negative variance (no trained model has one) would make tfjs's output NaN: refuse it, naming the weight.
    if (!(v > 0)) {
      const w = [...ctx.weights.values()].find((x) => x.values === variance);
      throw new NmcError(`BatchNormalization ${layer.name}: moving_variance + epsilon is not positive`, {
        file: ctx.file, path: w?.manifestPath ?? "weightsManifest", node: layer.name, expected: "moving_variance[i] + epsilon > 0", found: `${variance[i]} + ${cfg.epsilon} at index ${i}`,
      });
    }
    a[i] = gamma[i] / Math.sqrt(v);
  }

  const d = ctx.lastDense;
  if (d && d === ctx.current && d.activation === "linear") {
    foldInto(ctx, d, a, beta, mean);
    return; // lastDense stays: the Dense is still linear and still read by one layer only
  }
  const bias = Float64Array.from({ length: n }, (_, i) => beta[i] - a[i] * mean[i]);
  const loc = { file: ctx.file, layer: layer.name, className: layer.className };
  const pop = ctx.builder.dense(layer.name, n, "linear", bias, loc);
  ctx.builder.project(`${pop.name}.scale`, ctx.current, pop, "x", csrFromDiagonal(a, "f64", true), 0, loc);
  ctx.current = pop;
  // A linear Dense read by this layer alone so far: an Activation or BatchNormalization after it may fold.
  ctx.lastDense = pop;
}

/** y = a·(W x + b − μ) + β: every projection into the Dense scaled per column, the bias a·(b − μ) + β. */
function foldInto(ctx: LowerContext, d: DensePopulation, a: Float64Array, beta: Float32Array, mean: Float32Array): void {
  for (const j of ctx.builder.projectionsInto(d)) j.weights = scaleColumns(j.weights, a);
  const b = d.tensors.bias.data;
  d.tensors.bias = tensor(Float64Array.from({ length: d.size }, (_, i) => a[i] * (Number(b[i]) - mean[i]) + beta[i]));
}
