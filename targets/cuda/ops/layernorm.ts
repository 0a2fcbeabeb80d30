// The LayerNorm population: its port x normalized over the population's units, one thread per sequence (the
// mean and variance need every unit of the tick). In the int variant x is brought to int16 at frac_x, the
// mean and variance are rounded divisions, the reciprocal square root an exact integer square root and a
// rounded division, γ (int16, frac_g) and β (out_frac) apply per unit (runtime/fixed/QUANTIZATION.md,
// runtime/golden/kernels.ts layerNormUnits); frac_x, frac_g and eps_q are compiled in.
import { NmcError } from "../../../ir/errors.js";
import { LN_NORM_SHIFT, LN_RECIP_LOG2, LN_VAR_SHIFT } from "../../../runtime/golden/kernels.js";
import type { Emission } from "../emission.js";
import type { PopInfo } from "../plan.js";
import { tensorData } from "../tensors.js";
import type { CudaOp, StepRenderer } from "./types.js";

function updateKernel(e: Emission, p: PopInfo<"LayerNorm">, what: string, body: () => void): void {
  const { w } = e;
  const K = p.size;
  e.header(p, what);
  e.kernel(`${p.sym}__update`, [...e.portParams(p), `const ${e.num}* gamma`, `const ${e.num}* beta`, `${e.V}* out`], () => {
    w.writeLine("const int b = blockIdx.y;");
    w.writeLine("if (blockIdx.x != 0 || threadIdx.x != 0) return;");
    w.writeLine(`const ${e.P}* xs = x + (long long)b * ${K};`);
    w.writeLine(`${e.V}* o = out + (long long)b * ${K};`);
    body();
  });
}

const launch = (e: Emission, p: PopInfo<"LayerNorm">) =>
  e.launchPerSequence(`${p.sym}__update`, [...p.ports.map((q) => `d_${q.sym}`), `d_${p.sym}_gamma`, `d_${p.sym}_beta`, `d_${p.sym}_out`]);

/** The constants of the int formula: x's shift to int16, the output shift of γ · t, and ε in the variance's format. */
export function layerNormConstants(p: PopInfo<"LayerNorm">["pop"]): { sx: number; so: number; epsQ: number } {
  const fx = p.fixed!;
  const fxq = tensorData(p, "frac_x", 1)[0], fg = tensorData(p, "frac_g", 1)[0], epsQ = tensorData(p, "eps_q", 1)[0];
  const sx = fx.accFrac - fxq, so = fg + 14 - fx.outFrac;
  if (![sx, so].every((s) => Number.isInteger(s) && s >= 0 && s <= 52) || !(Number.isInteger(epsQ) && epsQ >= 1)) {
    throw new NmcError(`population ${p.name}: LayerNorm formats the CUDA backend cannot express`, {
      node: p.name, found: `acc_frac ${fx.accFrac}, frac_x ${fxq}, frac_g ${fg}, out_frac ${fx.outFrac}, eps_q ${epsQ}`,
    });
  }
  return { sx, so, epsQ };
}

const int: StepRenderer<"LayerNorm"> = {
  kernels(e, p) {
    const { sx, so, epsQ } = layerNormConstants(p.pop);
    const K = p.size, w = e.w;
    updateKernel(e, p, `LayerNorm (x rs by ${sx} to int16, integer mean, variance and square root; γ · t rs by ${so}), thread per sequence`, () => {
      w.writeLine("nmc_i64 sum = 0, q = 0;");
      w.writeLine(`for (int i = 0; i < ${K}; ++i) sum += nmc_sat16(nmc_round_shift(xs[i], ${sx}));`);
      w.writeLine(`const nmc_i64 m = nmc_round_div(sum, ${K});`);
      w.writeLine(`for (int i = 0; i < ${K}; ++i) { const nmc_i64 d = nmc_sat16(nmc_round_shift(xs[i], ${sx})) - m; q += d * d; }`);
      w.writeLine(`const nmc_i64 v = nmc_round_div(q, ${K}) + ${epsQ}LL;`);
      w.writeLine(`const nmc_i64 r = nmc_round_div((nmc_i64)1 << ${LN_RECIP_LOG2}, nmc_isqrt(v << ${LN_VAR_SHIFT}));`);
      w.writeLine(`for (int i = 0; i < ${K}; ++i) {`);
      w.writeLine(`  const nmc_i64 t = nmc_round_shift((nmc_sat16(nmc_round_shift(xs[i], ${sx})) - m) * r, ${LN_NORM_SHIFT});`);
      w.writeLine(`  o[i] = (int32_t)nmc_sat16(nmc_round_shift((nmc_i64)gamma[i] * t, ${so}) + (nmc_i64)beta[i]);`);
      w.writeLine("}");
    });
  },
  launch,
};

const float: StepRenderer<"LayerNorm"> = {
  kernels(e, p) {
    const K = p.size, w = e.w;
    // runtime/float/ops.ts LayerNorm, operation for operation
    updateKernel(e, p, "LayerNorm, thread per sequence", () => {
      w.writeLine("double sum = 0, sq = 0;");
      w.writeLine(`for (int i = 0; i < ${K}; ++i) sum += xs[i];`);
      w.writeLine(`const double mean = sum / ${K};`);
      w.writeLine(`for (int i = 0; i < ${K}; ++i) sq += (xs[i] - mean) * (xs[i] - mean);`);
      w.writeLine(`const double r = 1 / sqrt(sq / ${K} + (double)(${String(p.pop.epsilon)}));`);
      w.writeLine(`for (int i = 0; i < ${K}; ++i) o[i] = gamma[i] * ((xs[i] - mean) * r) + beta[i];`);
    });
  },
  launch,
};

export const LAYER_NORM_OP: CudaOp<"LayerNorm"> = {
  params: (pop) => [{ role: "gamma", count: pop.size }, { role: "beta", count: pop.size }],
  state: () => [],
  receives: true,
  needsFixed: true,
  inputChannels: null,
  detail: (pop) => `epsilon ${pop.epsilon}`,
  int,
  float,
};
