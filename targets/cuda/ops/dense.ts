// The Dense population: its port x (bias plus projections) through its activation, thread per unit;
// softmax (float only) runs one thread per sequence over all units. In the int variant sigmoid and tanh
// are table look-ups, gelu is x · Φ(x) with Φ tabulated (gelu_new x · Φ̃(x), swish x · σ(x)), softplus
// relu(x) + L(−|x|) with L tabulated, and all but sigmoid and tanh shift the accumulator format down to the
// output format (runtime/fixed/QUANTIZATION.md).
import { NmcError } from "../../../ir/errors.js";
import { activationLut } from "../../../ir/kinds.js";
import type { Activation } from "../../../ir/types.js";
import type { Emission } from "../emission.js";
import type { PopInfo } from "../plan.js";
import { lutOf } from "../tensors.js";
import { KERNEL_INDEX, lutConstants } from "../writer.js";
import type { CudaOp, StepRenderer } from "./types.js";

type Pointwise = Exclude<Activation, "softmax">;

type LutRule = { loQ: string; shift: number; size: number; inFrac: number };

/**
 * The int statement per activation: `down` = acc_frac − out_frac, `c` the index rule of its table (for the
 * activations that read one, ir/kinds.ts activationLut). `shifts`: it scales the accumulator down to the output.
 */
const INT_ACT: Record<Pointwise, { shifts: boolean; line(down: number, c?: LutRule): string }> = {
  linear: { shifts: true, line: (down) => `out[o] = (int32_t)nmc_sat16(nmc_round_shift(v, ${down}));` },
  relu: { shifts: true, line: (down) => `out[o] = v > 0 ? (int32_t)nmc_sat16(nmc_round_shift(v, ${down})) : 0;` },
  sigmoid: { shifts: false, line: (_d, c) => `out[o] = (int32_t)nmc_lookup(lut_sigmoid, v, ${c!.loQ}, ${c!.shift}, ${c!.size});` },
  tanh: { shifts: false, line: (_d, c) => `out[o] = (int32_t)nmc_lookup(lut_tanh, v, ${c!.loQ}, ${c!.shift}, ${c!.size});` },
  gelu: { shifts: true, line: (down, c) => timesLut("phi", down, c!) },
  gelu_new: { shifts: true, line: (down, c) => timesLut("phi_tanh", down, c!) },
  swish: { shifts: true, line: (down, c) => timesLut("sigmoid", down, c!) },
  softplus: {
    shifts: true,
    // relu(v) + L(−|v|), L (Q14) in acc_frac: shifted up when acc_frac ≥ 14, else rounded down
    line: (down, c) => {
      const up = c!.inFrac - 14;
      const l = `nmc_lookup(lut_softplus, v < 0 ? v : -v, ${c!.loQ}, ${c!.shift}, ${c!.size})`;
      const la = up >= 0 ? `(${l} << ${up})` : `nmc_round_shift(${l}, ${-up})`;
      return `out[o] = (int32_t)nmc_sat16(nmc_round_shift((v > 0 ? v : 0) + ${la}, ${down}));`;
    },
  },
};

/** v · lut(v) (Q14) as gelu: rounded to acc_frac, then to out_frac. */
function timesLut(lut: string, down: number, c: LutRule): string {
  return `out[o] = (int32_t)nmc_sat16(nmc_round_shift(nmc_round_shift(v * nmc_lookup(lut_${lut}, v, ${c.loQ}, ${c.shift}, ${c.size}), 14), ${down}));`;
}

const FLOAT_ACT: Record<Pointwise, string> = {
  linear: "out[o] = v;",
  relu: "out[o] = v > 0 ? v : 0.0;",
  sigmoid: "out[o] = nmc_sigmoid(v);",
  tanh: "out[o] = tanh(v);",
  gelu: "out[o] = nmc_gelu(v);",
  // runtime/float/math.ts geluNew, swish, softplus, operation for operation
  gelu_new: "out[o] = 0.5 * v * (1 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));",
  swish: "out[o] = v * nmc_sigmoid(v);",
  softplus: "out[o] = (v > 0 ? v : 0.0) + log1p(exp(-fabs(v)));",
};

/** The pointwise update kernel; `lut` is the table it takes (int only). */
function pointwiseKernel(e: Emission, p: PopInfo<"Dense">, what: string, lut: string | undefined, body: () => void): void {
  const { w } = e;
  const K = p.size;
  const params = [...e.portParams(p), ...(lut ? [`const int32_t* lut_${lut}`] : []), `${e.V}* out`];
  e.header(p, what);
  e.kernel(`${p.sym}__update`, params, () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    w.writeLine(`if (i >= ${K}) return;`);
    w.writeLine(`const long long o = (long long)b * ${K} + i;`);
    w.writeLine(`const ${e.P} v = x[o];`);
    body();
  });
}

function softmaxKernel(e: Emission, p: PopInfo<"Dense">): void {
  const { w } = e;
  const K = p.size;
  e.header(p, "softmax over the units, one thread per sequence");
  e.kernel(`${p.sym}__update`, [...e.portParams(p), "double* out"], () => {
    w.writeLine("const int b = blockIdx.y;");
    w.writeLine("if (blockIdx.x != 0 || threadIdx.x != 0) return;");
    w.writeLine(`const double* v = x + (long long)b * ${K};`);
    w.writeLine(`double* o = out + (long long)b * ${K};`);
    w.writeLine("double m = -INFINITY, z = 0;");
    w.writeLine(`for (int i = 0; i < ${K}; ++i) if (v[i] > m) m = v[i];`);
    w.writeLine(`for (int i = 0; i < ${K}; ++i) z += exp(v[i] - m);`);
    w.writeLine(`for (int i = 0; i < ${K}; ++i) o[i] = exp(v[i] - m) / z;`);
  });
}

function launch(e: Emission, p: PopInfo<"Dense">, lut: string | undefined): void {
  const ports = p.ports.map((q) => `d_${q.sym}`);
  if (p.pop.activation === "softmax") {
    e.launchPerSequence(`${p.sym}__update`, [...ports, `d_${p.sym}_out`]);
    return;
  }
  e.launch(`${p.sym}__update`, `${p.size}`, [...ports, ...(lut ? [`d_${p.sym}_lut_${lut}`] : []), `d_${p.sym}_out`]);
}

const int: StepRenderer<"Dense"> = {
  kernels(e, p) {
    const { pop } = p;
    const act = pop.activation;
    if (act === "softmax") throw new NmcError(`population ${pop.name}: softmax has no quantized form`, { node: pop.name });
    const lut = activationLut(act);
    const down = pop.fixed!.accFrac - pop.fixed!.outFrac;
    const rule = INT_ACT[act];
    pointwiseKernel(e, p, `Dense ${act}${rule.shifts ? ` (rs by acc_frac − out_frac = ${down})` : ""}, thread per unit`, lut, () => {
      const l = lut ? lutOf(pop, lut) : undefined;
      e.w.writeLine(rule.line(down, l ? { ...lutConstants(pop, l), inFrac: l.inFrac } : undefined));
    });
  },
  launch: (e, p) => launch(e, p, activationLut(p.pop.activation)),
};

const float: StepRenderer<"Dense"> = {
  kernels(e, p) {
    const act = p.pop.activation;
    if (act === "softmax") softmaxKernel(e, p);
    else pointwiseKernel(e, p, `Dense ${act}, thread per unit`, undefined, () => e.w.writeLine(FLOAT_ACT[act]));
  },
  launch: (e, p) => launch(e, p, undefined),
};

export const DENSE_OP: CudaOp<"Dense"> = {
  params(pop, precision) {
    if (precision === "int" && pop.activation === "softmax") {
      throw new NmcError(`population ${pop.name}: softmax has no quantized form`, { node: pop.name, hint: "give the layer a linear activation" });
    }
    return [{ role: "bias", count: pop.size }];
  },
  state: () => [],
  receives: true,
  needsFixed: true,
  inputChannels: null,
  detail: (pop) => pop.activation,
  int,
  float,
};
