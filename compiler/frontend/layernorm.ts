// LayerNormalization (tfjs, axis −1): per tick, y_i = γ_i·(x_i − μ)/√(σ² + ε) + β_i with μ and σ² (biased) over
// the features of that tick. It is the LayerNorm population (ir/types.ts), fed by an identity projection from
// the layer's input, so that its input's events travel to it as to any layer.
import { identityCsr } from "../../ir/builder.js";
import { NmcError } from "../../ir/errors.js";
import { parseChecked } from "./allow.js";
import { featureAxis } from "./batchnorm.js";
import { weight, type LowerContext } from "./layers.js";
import { LayerConfigSchemas } from "./schema.js";
import type { LayerRef } from "./topology.js";

export function lowerLayerNorm(ctx: LowerContext, layer: LayerRef, config: Record<string, unknown>): void {
  const cfg = parseChecked(LayerConfigSchemas.LayerNormalization, config, {
    file: ctx.file, base: [], honoured: ["name"], scopes: ["LayerNormalization", "config"], what: "LayerNormalization config", node: layer.name,
  });
  if (!featureAxis(cfg.axis)) {
    throw new NmcError(`LayerNormalization ${layer.name} normalizes along axis ${JSON.stringify(cfg.axis)}; nmc normalizes over the features only`, {
      file: ctx.file, path: `${layer.path}.config.axis`, node: layer.name, expected: "-1 (the last axis, or [2] of [batch, time, features])", found: JSON.stringify(cfg.axis),
    });
  }
  const src = ctx.current, n = src.size;
  const gamma = cfg.scale ? weight(ctx, layer, "gamma", [n]) : new Float32Array(n).fill(1);
  const beta = cfg.center ? weight(ctx, layer, "beta", [n]) : new Float32Array(n);
  const loc = { file: ctx.file, layer: layer.name, className: layer.className };
  const pop = ctx.builder.layerNorm(layer.name, n, cfg.epsilon, { gamma, beta }, loc);
  ctx.builder.project(`${pop.name}.identity`, src, pop, "x", identityCsr(n), 0, loc);
  ctx.current = pop;
  ctx.lastDense = undefined;
}
