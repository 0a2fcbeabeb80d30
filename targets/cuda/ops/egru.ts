// The EGRU population (runtime/fixed/QUANTIZATION.md for the int step, runtime/float for the float one):
// gates z, r, g from the input and recurrent ports, the candidate c, and an event where c exceeds the
// threshold, after which the threshold is subtracted from the state. With zoneout p ≠ 0 the candidate is first
// blended with the previous state (EvNN's inference kernel); with p = 0 the source is what it was without it.
import { requiredLuts } from "../../../ir/kinds.js";
import { ONE_Q15, zoneoutQ15 } from "../../../runtime/fixed/index.js";
import type { Emission } from "../emission.js";
import type { PopInfo } from "../plan.js";
import { lutOf } from "../tensors.js";
import { KERNEL_INDEX, lutConstants } from "../writer.js";
import type { CudaOp, StepRenderer } from "./types.js";

/** The update kernel: thread per unit; `luts` are the tables it takes (int only); `body` writes the step. */
function updateKernel(e: Emission, p: PopInfo<"EGRU">, what: string, luts: string[], body: () => void): void {
  const { w } = e;
  const H = p.size;
  const params = [...e.portParams(p), `const ${e.num}* thr`, ...luts.map((l) => `const int32_t* lut_${l}`), `${e.V}* h`, `${e.V}* out`];
  e.header(p, what);
  e.kernel(`${p.sym}__update`, params, () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    w.writeLine(`if (i >= ${H}) return;`);
    w.writeLine(`const ${e.P}* vx = input + (long long)b * ${3 * H};`);
    w.writeLine(`const ${e.P}* vh = recurrent + (long long)b * ${3 * H};`);
    w.writeLine(`const long long o = (long long)b * ${H} + i;`);
    body();
  });
}

function launch(e: Emission, p: PopInfo<"EGRU">, luts: string[]): void {
  const a = [...p.ports.map((q) => `d_${q.sym}`), `d_${p.sym}_thr`, ...luts.map((l) => `d_${p.sym}_lut_${l}`), `d_${p.sym}_state_h`, `d_${p.sym}_out`];
  e.launch(`${p.sym}__update`, `${p.size}`, a);
}

const int: StepRenderer<"EGRU"> = {
  kernels(e, p) {
    const { w } = e;
    const H = p.size;
    updateKernel(e, p, "EGRU update (Q14; gates z, r, g from the σ and tanh LUTs), thread per unit", requiredLuts(p.pop), () => {
      const sg = lutConstants(p.pop, lutOf(p.pop, "sigmoid")), th = lutConstants(p.pop, lutOf(p.pop, "tanh"));
      w.writeLine(`const nmc_i64 z = nmc_lookup(lut_sigmoid, vx[i] + vh[i], ${sg.loQ}, ${sg.shift}, ${sg.size});`);
      w.writeLine(`const nmc_i64 r = nmc_lookup(lut_sigmoid, vx[${H} + i] + vh[${H} + i], ${sg.loQ}, ${sg.shift}, ${sg.size});`);
      w.writeLine(`const nmc_i64 g = nmc_lookup(lut_tanh, vx[${2 * H} + i] + nmc_round_shift(r * vh[${2 * H} + i], 14), ${th.loQ}, ${th.shift}, ${th.size});`);
      const pq = zoneoutQ15(p.pop.zoneout ?? 0);
      if (pq === 0) w.writeLine("const nmc_i64 c = nmc_sat16(nmc_round_shift(z * (nmc_i64)h[o] + (NMC_ONE_Q14 - z) * g, 14));");
      else {
        // zoneout p = pq / 2^15 (runtime/fixed zoneoutBlend): a convex mix of two int16 values, no saturation
        w.writeLine("const nmc_i64 c0 = nmc_sat16(nmc_round_shift(z * (nmc_i64)h[o] + (NMC_ONE_Q14 - z) * g, 14));");
        w.writeLine(`const nmc_i64 c = nmc_round_shift(${pq}LL * (nmc_i64)h[o] + ${ONE_Q15 - pq}LL * c0, 15); // zoneout ${p.pop.zoneout} as Q15`);
      }
      w.writeLine("const nmc_i64 d = c - (nmc_i64)thr[i];");
      w.writeLine("if (d > 0) { out[o] = (int32_t)c; h[o] = (int32_t)d; }");
      w.writeLine("else { out[o] = 0; h[o] = (int32_t)c; }");
    });
  },
  launch: (e, p) => launch(e, p, requiredLuts(p.pop)),
};

const float: StepRenderer<"EGRU"> = {
  kernels(e, p) {
    const { w } = e;
    const H = p.size;
    updateKernel(e, p, "EGRU update, thread per unit", [], () => {
      w.writeLine("const double z = nmc_sigmoid(vx[i] + vh[i]);");
      w.writeLine(`const double r = nmc_sigmoid(vx[${H} + i] + vh[${H} + i]);`);
      w.writeLine(`const double g = tanh(vx[${2 * H} + i] + r * vh[${2 * H} + i]);`);
      const zo = p.pop.zoneout ?? 0;
      if (zo === 0) w.writeLine("const double c = z * h[o] + (1 - z) * g;");
      else {
        w.writeLine("const double c0 = z * h[o] + (1 - z) * g;");
        w.writeLine(`const double zo = ${String(zo)}; // zoneout p: c = p*h + (1 - p)*c, before the threshold`);
        w.writeLine("const double c = zo * h[o] + (1 - zo) * c0;");
      }
      w.writeLine("const bool fire = c - thr[i] > 0;");
      w.writeLine("h[o] = fire ? c - thr[i] : c;");
      w.writeLine("out[o] = fire ? c : 0.0;");
    });
  },
  launch: (e, p) => launch(e, p, []),
};

export const EGRU_OP: CudaOp<"EGRU"> = {
  params: (pop) => [
    { role: "bias_x", count: 3 * pop.size },
    { role: "bias_h", count: 3 * pop.size },
    { role: "thr", count: pop.size },
  ],
  state: (pop) => [["h", pop.size]],
  receives: true,
  needsFixed: true,
  inputChannels: null,
  detail: () => "",
  int,
  float,
};
