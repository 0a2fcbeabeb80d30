// The Multiply population: the elementwise product of its ports a and b, thread per unit. In the int variant
// each operand is brought from the accumulator format to int16 with its own binary point (frac_a, frac_b,
// compiled in as shifts), and their exact product is rounded to the output format
// (runtime/fixed/QUANTIZATION.md, runtime/golden/kernels.ts multiplyUnits).
import { NmcError } from "../../../ir/errors.js";
import type { Emission } from "../emission.js";
import type { PopInfo } from "../plan.js";
import { tensorData } from "../tensors.js";
import { KERNEL_INDEX } from "../writer.js";
import type { CudaOp, StepRenderer } from "./types.js";

/** The kernel: ports as `pa`, `pb` (a port called `b` would shadow the sequence index). */
function updateKernel(e: Emission, p: PopInfo<"Multiply">, what: string, body: () => void): void {
  const { w } = e;
  const K = p.size;
  e.header(p, what);
  e.kernel(`${p.sym}__update`, [`const ${e.P}* pa`, `const ${e.P}* pb`, `${e.V}* out`], () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    w.writeLine(`if (i >= ${K}) return;`);
    w.writeLine(`const long long o = (long long)b * ${K} + i;`);
    body();
  });
}

/** The port buffers in the kernel's order (a, b), whatever the IR's port order. */
function portArgs(p: PopInfo<"Multiply">): string[] {
  return ["a", "b"].map((name) => {
    const q = p.ports.find((x) => x.name === name);
    if (!q) throw new NmcError(`population ${p.pop.name} has no port ${name}`, { node: p.pop.name });
    return `d_${q.sym}`;
  });
}

const launch = (e: Emission, p: PopInfo<"Multiply">) => e.launch(`${p.sym}__update`, `${p.size}`, [...portArgs(p), `d_${p.sym}_out`]);

/** The shifts of the int formula: operands from acc_frac to frac_a / frac_b, the product to out_frac. */
export function multiplyShifts(p: PopInfo<"Multiply">["pop"]): { sa: number; sb: number; so: number } {
  const fx = p.fixed!;
  const fa = tensorData(p, "frac_a", 1)[0], fb = tensorData(p, "frac_b", 1)[0];
  const sa = fx.accFrac - fa, sb = fx.accFrac - fb, so = fa + fb - fx.outFrac;
  if (![sa, sb, so].every((s) => Number.isInteger(s) && s >= 0 && s <= 52)) {
    throw new NmcError(`population ${p.name}: operand formats the CUDA backend cannot express`, {
      node: p.name, found: `acc_frac ${fx.accFrac}, frac_a ${fa}, frac_b ${fb}, out_frac ${fx.outFrac}`,
    });
  }
  return { sa, sb, so };
}

const int: StepRenderer<"Multiply"> = {
  kernels(e, p) {
    const { sa, sb, so } = multiplyShifts(p.pop);
    updateKernel(e, p, `Multiply a ⊙ b (operands rs by ${sa} and ${sb} to int16, product rs by ${so}), thread per unit`, () => {
      e.w.writeLine(`const nmc_i64 x = nmc_sat16(nmc_round_shift(pa[o], ${sa}));`);
      e.w.writeLine(`const nmc_i64 y = nmc_sat16(nmc_round_shift(pb[o], ${sb}));`);
      e.w.writeLine(`out[o] = (int32_t)nmc_sat16(nmc_round_shift(x * y, ${so}));`);
    });
  },
  launch,
};

const float: StepRenderer<"Multiply"> = {
  kernels(e, p) {
    updateKernel(e, p, "Multiply a ⊙ b, thread per unit", () => e.w.writeLine("out[o] = pa[o] * pb[o];"));
  },
  launch,
};

export const MULTIPLY_OP: CudaOp<"Multiply"> = {
  params: () => [],
  state: () => [],
  receives: true,
  needsFixed: true,
  inputChannels: null,
  detail: () => "",
  int,
  float,
};
