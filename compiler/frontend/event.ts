// Event-time layers (issue 19; the math is docs/model-math.md, "Event-time SSMs"): the DiagonalSSM with an
// event-time discretization (event-ssm's S5SSM), EventPooling and EventReadout. They need the model's input to
// be event-time (`nmc.time: "events"` in the metadata), which `nmc import event-ssm` writes.
//
// DiagonalSSM weights in event time (H_in the input width, H_out = `units`): Lambda_re, Lambda_im, log_step
// [P], B_re, B_im [P, H_in], C_re, C_im [H_out, P], D [H_out] (H_in = H_out) or [H_out, H_in]: event-ssm's B
// [P, H_in, 2], C [H_out, P, 2], log_step [P, 1] split and squeezed. The population keeps the continuous Λ
// (clipped to Re Λ ≤ −1e−4 with clip_eigs, as ssm.py clips the float32 parameter), step = step_rescale ·
// exp(log_step), and C scaled by 2 under conj_sym (exact in floating point); B̃ and D become projections.
import { csrFromDense, csrFromDiagonal, identityCsr } from "../../ir/builder.js";
import { NmcError } from "../../ir/errors.js";
import type { InputPopulation, PoolMode } from "../../ir/types.js";
import { parseChecked } from "./allow.js";
import { type LowerContext, weight } from "./layers.js";
import { LayerConfigSchemas } from "./schema.js";
import type { LayerRef } from "./topology.js";

type SsmConfig = ReturnType<(typeof LayerConfigSchemas)["DiagonalSSM"]["parse"]>;

/** event-ssm clips Re Λ at −1e−4 in float32 (ssm.py: np.clip(Lambda_re, None, -1e-4)). */
const CLIP_RE = Math.fround(-1e-4);

const EVENT_KEYS = ["conj_sym", "clip_eigs", "step_rescale", "stride", "pool", "units"] as const;

function loc(ctx: LowerContext, layer: LayerRef) {
  return { file: ctx.file, layer: layer.name, className: layer.className };
}

/** The model's Input population, which an event-time layer needs to be event-time. */
function requireEventTime(ctx: LowerContext, layer: LayerRef, key: string): void {
  const input = ctx.builder.population(ctx.builder.inputs[0] ?? "") as InputPopulation | undefined;
  if (input?.eventTime) return;
  throw new NmcError(`layer ${layer.name} (${layer.className}) runs in event time, but the model's input is not event-time`, {
    file: ctx.file, path: key, node: layer.name, expected: 'userDefinedMetadata.nmc.time = "events" (every step an event with its own Δt)',
    found: "a model in fixed ticks", hint: 'add "nmc": {"time": "events"} to userDefinedMetadata (nmc import event-ssm writes it)',
  });
}

/** Refuses the event-time keys of a fixed-step DiagonalSSM (they would be ignored otherwise). */
export function refuseEventKeys(ctx: LowerContext, layer: LayerRef, cfg: SsmConfig): void {
  for (const key of EVENT_KEYS) {
    if (cfg[key] !== undefined) {
      throw new NmcError(`DiagonalSSM ${layer.name}: ${key} applies to an event-time DiagonalSSM only`, {
        file: ctx.file, path: key, node: layer.name, expected: "a discretization (async, zoh or dirac) with it, or no such key", found: JSON.stringify(cfg[key]),
      });
    }
  }
}

/** The stored shape of a layer's weight (as layers.ts `weight` finds it), or undefined. */
function storedShape(ctx: LowerContext, layer: LayerRef, param: string): number[] | undefined {
  for (const n of [`${layer.name}/${param}`, `${layer.name}/${layer.name}/${param}`]) {
    const w = ctx.weights.get(n);
    if (w) return w.shape;
  }
  return undefined;
}

/** A DiagonalSSM with an event-time discretization (event-ssm ssm.py S5SSM). */
export function lowerEventSsm(ctx: LowerContext, layer: LayerRef, cfg: SsmConfig): void {
  requireEventTime(ctx, layer, "discretization");
  if (cfg.parameterization !== "s5") {
    throw new NmcError(`DiagonalSSM ${layer.name}: an event-time discretization needs the s5 parameterization`, {
      file: ctx.file, path: "parameterization", node: layer.name, expected: '"s5" (Lambda_re, Lambda_im, log_step)', found: JSON.stringify(cfg.parameterization),
    });
  }
  const P = cfg.state_size;
  const Hin = ctx.current.size;
  const Hout = cfg.units ?? Hin;
  const stride = cfg.stride ?? 1;
  if (stride === 1 && cfg.pool !== undefined) {
    throw new NmcError(`DiagonalSSM ${layer.name}: pool applies with a stride > 1 only`, { file: ctx.file, path: "pool", node: layer.name, expected: "stride ≥ 2 with it, or no pool", found: JSON.stringify(cfg.pool) });
  }
  const w = (param: string, shape: number[]) => weight(ctx, layer, param, shape);
  const lre = w("Lambda_re", [P]), lim = w("Lambda_im", [P]), logStep = w("log_step", [P]);
  const bRe = w("B_re", [P, Hin]), bIm = w("B_im", [P, Hin]);
  const cRe = w("C_re", [Hout, P]), cIm = w("C_im", [Hout, P]);
  // D: a vector when the widths agree and the file stores one, else a [H_out, H_in] matrix (ssm.py).
  const dShape = storedShape(ctx, layer, "D");
  const dVector = Hin === Hout && (dShape === undefined || dShape.length === 1);
  const D = w("D", dVector ? [Hout] : [Hout, Hin]);

  const lambdaRe = Float64Array.from(lre, (v) => (cfg.clip_eigs ? Math.min(v, CLIP_RE) : v));
  const lambdaIm = Float64Array.from(lim);
  const rescale = cfg.step_rescale ?? 1;
  const step = Float64Array.from(logStep, (v) => rescale * Math.exp(v));
  for (let p = 0; p < P; p++) {
    if (!(step[p] > 0 && Number.isFinite(step[p]))) {
      throw new NmcError(`DiagonalSSM ${layer.name}: step_rescale · exp(log_step[${p}]) is not a positive finite number`, {
        file: ctx.file, path: "weightsManifest", node: layer.name, expected: "a finite log_step", found: `log_step[${p}] = ${logStep[p]}`,
      });
    }
  }
  const f = cfg.conj_sym ? 2 : 1;
  const b = ctx.builder;
  const pop = b.diagonalSsm(layer.name, Hout, P, "s5", {
    lambdaRe, lambdaIm, cRe: Float64Array.from(cRe, (v) => f * v), cIm: Float64Array.from(cIm, (v) => f * v),
  }, loc(ctx, layer), { discretization: cfg.discretization!, step, stride, pool: (cfg.pool ?? "last") as PoolMode });
  // B̃ from the H_in inputs onto the 2P state columns (real parts, then imaginary), as stored: γ is applied per step.
  const bDense = new Float32Array(Hin * 2 * P);
  for (let p = 0; p < P; p++) {
    for (let h = 0; h < Hin; h++) {
      bDense[h * 2 * P + p] = bRe[p * Hin + h];
      bDense[h * 2 * P + P + p] = bIm[p * Hin + h];
    }
  }
  // D: a vector (H_in = H_out) is the diagonal; a [H_out, H_in] matrix is stored transposed, [H_in, H_out].
  let dCsr;
  if (dVector) dCsr = csrFromDiagonal(D);
  else {
    const dDense = new Float32Array(Hin * Hout);
    for (let o = 0; o < Hout; o++) for (let i = 0; i < Hin; i++) dDense[i * Hout + o] = D[o * Hin + i];
    dCsr = csrFromDense(dDense, Hin, Hout);
  }
  b.project(`${pop.name}.B`, ctx.current, pop, "u", csrFromDense(bDense, Hin, 2 * P), 0, loc(ctx, layer));
  b.project(`${pop.name}.D`, ctx.current, pop, "skip", dCsr, 0, loc(ctx, layer));
  ctx.current = pop;
  ctx.lastDense = undefined;
}

/** event-ssm's EventPooling: an EventPooling population fed by an identity projection. */
export function lowerEventPooling(ctx: LowerContext, layer: LayerRef, config: Record<string, unknown>): void {
  const cfg = parseChecked(LayerConfigSchemas.EventPooling, config, {
    file: ctx.file, base: [], honoured: ["name"], scopes: ["EventPooling", "config"], what: "EventPooling config", node: layer.name,
  });
  if (cfg.mode === "timepool") requireEventTime(ctx, layer, "mode");
  const src = ctx.current, n = src.size;
  const pop = ctx.builder.eventPooling(layer.name, n, cfg.stride, cfg.mode, loc(ctx, layer));
  ctx.builder.project(`${pop.name}.identity`, src, pop, "x", identityCsr(n), 0, loc(ctx, layer));
  ctx.current = pop;
  ctx.lastDense = undefined;
}

/** event-ssm's classification readout: a Readout population, whose one value per sequence later layers read. */
export function lowerEventReadout(ctx: LowerContext, layer: LayerRef, config: Record<string, unknown>): void {
  const cfg = parseChecked(LayerConfigSchemas.EventReadout, config, {
    file: ctx.file, base: [], honoured: ["name"], scopes: ["EventReadout", "config"], what: "EventReadout config", node: layer.name,
  });
  if (cfg.mode === "timepool") requireEventTime(ctx, layer, "mode");
  if (ctx.current.kind === "Readout") {
    throw new NmcError(`EventReadout ${layer.name} reads another readout`, { file: ctx.file, path: "mode", node: layer.name, expected: "a readout of a sequence layer" });
  }
  ctx.current = ctx.builder.readout(layer.name, ctx.current, cfg.mode, loc(ctx, layer));
  ctx.lastDense = undefined;
}
