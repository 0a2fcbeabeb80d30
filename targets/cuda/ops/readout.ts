// The Readout population: no ports; each tick it folds its source's output into a running sum and
// outputs the last value, the mean so far or the sum (the int variant's rule, with the mean's rounding,
// is the prelude's nmc_readout_step). As the model output it is taken once, after the last tick.
// The masked readouts of event time (pool, timepool; int variant, timed programs) follow
// runtime/golden/event-kernels.ts maskedReadoutUnits with the step's Δt and valid steps from `<sym>_time`.
import { NmcError } from "../../../ir/errors.js";
import { POOL_EPS_C } from "./ssm.js";
import type { ReadoutMode } from "../../../ir/types.js";
import type { Emission } from "../emission.js";
import type { PopInfo } from "../plan.js";
import { KERNEL_INDEX, ll } from "../writer.js";
import type { CudaOp, StepRenderer } from "./types.js";

/** The mode codes of nmc_readout_step in the prelude; −1: the masked readouts (pool, timepool), a kernel of their own. */
const MODE_CODE: Record<ReadoutMode, number> = { last: 0, mean: 1, sum: 2, pool: -1, timepool: -1 };

const masked = (mode: ReadoutMode): mode is "pool" | "timepool" => mode === "pool" || mode === "timepool";

function updateKernel(e: Emission, p: PopInfo<"Readout">, what: string, body: () => void): void {
  const { w } = e;
  const S = p.size;
  e.header(p, what);
  e.kernel(`${p.sym}__update`, [`const ${e.V}* src`, `${e.V}* sum`, `${e.V}* out`, "int t"], () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    w.writeLine(`if (i >= ${S}) return;`);
    w.writeLine(`const long long o = (long long)b * ${S} + i;`);
    body();
  });
}

/**
 * pool:     wide = sat32(wide + x) over the valid steps; out = roundDiv(wide, valid) (0 when valid = 0)
 * timepool: total += dt every step; wide += x·(dt + eps_q) over the valid steps; out = sat16(roundDiv(wide, total)) (0 when total = 0)
 * The sums (int64, one copy per unit) restart at step 0.
 */
function maskedKernel(e: Emission, p: PopInfo<"Readout">): void {
  const { w } = e;
  const S = p.size, mode = p.pop.mode;
  const eps = mode === "timepool" ? Number(p.pop.tensors.eps_q?.data[0]) : 0;
  if (!Number.isSafeInteger(eps)) throw new NmcError(`readout ${p.pop.name} lacks its quantized tensor eps_q`, { node: p.pop.name });
  e.header(p, mode === "pool"
    ? "masked mean over the valid steps: wide = sat32(wide + x), out = roundDiv(wide, valid), thread per unit"
    : `time-weighted mean: total += dt, wide += x·(dt + ${eps}) over the valid steps, out = sat16(roundDiv(wide, total)), thread per unit`);
  e.kernel(`${p.sym}__update`, ["const int32_t* src", "nmc_i64* wide", "nmc_i64* total", "const nmc_i64* time", "int32_t* out", "int t"], () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    w.writeLine(`if (i >= ${S}) return;`);
    w.writeLine(`const long long o = (long long)b * ${S} + i;`);
    w.writeLine("const nmc_i64 dt = time[2 * b], valid = time[2 * b + 1];");
    w.writeLine("if (t == 0) { wide[o] = 0; total[o] = 0; }");
    if (mode === "pool") {
      w.writeLine("if (t < valid) wide[o] = nmc_sat32(wide[o] + (nmc_i64)src[o]);");
      w.writeLine("out[o] = valid > 0 ? (int32_t)nmc_round_div(wide[o], valid) : 0;");
    } else {
      w.writeLine("total[o] += dt;");
      w.writeLine(`if (t < valid) wide[o] += (nmc_i64)src[o] * (dt + ${ll(eps)});`);
      w.writeLine("out[o] = total[o] > 0 ? (int32_t)nmc_sat16(nmc_round_div(wide[o], total[o])) : 0;");
    }
  });
}

/**
 * The masked readouts, float variant (runtime/float/ops.ts maskedReadoutStep, in double): pool Σ x / valid over the
 * valid steps (0 when valid = 0); timepool total += Δt every step, Σ x·(Δt + 1e−6) over the valid steps, / total.
 */
function maskedFloatKernel(e: Emission, p: PopInfo<"Readout">): void {
  const { w } = e;
  const S = p.size, mode = p.pop.mode;
  e.header(p, mode === "pool" ? "masked mean over the valid steps, thread per unit" : "time-weighted mean over the valid steps (Δt + 1e-6), ÷ Σ Δt of every step, thread per unit");
  e.kernel(`${p.sym}__update`, ["const double* src", "double* wide", "double* total", "const double* time", "double* out", "int t"], () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    w.writeLine(`if (i >= ${S}) return;`);
    w.writeLine(`const long long o = (long long)b * ${S} + i;`);
    w.writeLine("const double dt = time[2 * b], valid = time[2 * b + 1];");
    w.writeLine("if (t == 0) { wide[o] = 0; total[o] = 0; }");
    if (mode === "pool") {
      w.writeLine("(void)dt; (void)total;");
      w.writeLine("if (t < valid) wide[o] += src[o];");
      w.writeLine("out[o] = valid > 0 ? wide[o] / valid : 0;");
    } else {
      w.writeLine("total[o] += dt;");
      w.writeLine(`if (t < valid) wide[o] += src[o] * (dt + ${POOL_EPS_C});`);
      w.writeLine("out[o] = total[o] > 0 ? wide[o] / total[o] : 0;");
    }
  });
}

function launch(e: Emission, p: PopInfo<"Readout">): void {
  const src = e.population(p.pop.source);
  if (masked(p.pop.mode)) {
    e.launch(`${p.sym}__update`, `${p.size}`, [`d_${src.sym}_out`, `d_${p.sym}_state_wide`, `d_${p.sym}_state_total`, `d_${p.sym}_time`, `d_${p.sym}_out`, e.step]);
    return;
  }
  e.launch(`${p.sym}__update`, `${p.size}`, [`d_${src.sym}_out`, `d_${p.sym}_state_sum`, `d_${p.sym}_out`, e.step]);
}

const int: StepRenderer<"Readout"> = {
  kernels(e, p) {
    const mode = p.pop.mode;
    if (masked(mode)) {
      maskedKernel(e, p);
      return;
    }
    updateKernel(e, p, `readout (${mode}; int32 running sum${mode === "mean" ? ", mean rounds ties away from zero" : ""}), thread per unit`, () => {
      e.w.writeLine(`out[o] = (int32_t)nmc_readout_step(${MODE_CODE[mode]}, src[o], &sum[o], t);`);
    });
  },
  launch,
};

const float: StepRenderer<"Readout"> = {
  kernels(e, p) {
    const mode = p.pop.mode;
    if (masked(mode)) {
      maskedFloatKernel(e, p);
      return;
    }
    updateKernel(e, p, `readout (${mode}), thread per unit`, () => {
      e.w.writeLine(mode === "last" ? "sum[o] = src[o];" : "sum[o] += src[o];");
      e.w.writeLine(mode === "mean" ? "out[o] = sum[o] / (t + 1);" : "out[o] = sum[o];");
    });
  },
  launch,
};

export const READOUT_OP: CudaOp<"Readout"> = {
  params: () => [],
  state: (pop, int) => (masked(pop.mode) ? [["wide", pop.size, int ? "nmc_i64" : "double"], ["total", pop.size, int ? "nmc_i64" : "double"]] : [["sum", pop.size]]),
  usesTime: (pop) => masked(pop.mode),
  receives: false,
  needsFixed: false,
  inputChannels: null,
  check(p, named) {
    const src = named(p.pop.source);
    if (!src || src.size !== p.size || src.perSequence) {
      throw new NmcError(`readout ${p.pop.name} must read a non-readout population of its own size`, { node: p.pop.name, found: p.pop.source });
    }
  },
  detail: (pop) => pop.mode,
  int,
  float,
};
