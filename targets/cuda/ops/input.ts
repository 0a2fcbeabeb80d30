// The Input population: it copies the chunk's input at tick t into its output, or one-hot encodes a token
// id (the token's unit carries Q14 1.0 in the int variant, 1.0 in float).
import type { Emission } from "../emission.js";
import type { PopInfo } from "../plan.js";
import { KERNEL_INDEX } from "../writer.js";
import type { CudaOp, StepRenderer } from "./types.js";

function inputKernel(e: Emission, p: PopInfo<"Input">): void {
  const { w } = e;
  const S = p.size, C = e.plan.inputChannels;
  const tokens = p.pop.encoding === "tokens";
  e.header(p, tokens ? "one-hot token input (the token's unit carries Q14 1.0)" : "value input (already in the input format)");
  e.kernel(`${p.sym}__input`, [`const ${e.V}* x`, "long long T", "long long t", `${e.V}* out`], () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    w.writeLine(`if (i >= ${S}) return;`);
    w.writeLine(`const ${e.V}* xt = x + ((long long)b * T + t) * ${C}LL;`);
    if (!tokens) w.writeLine(`out[(long long)b * ${S} + i] = xt[i];`);
    else if (e.int && p.pop.wrapTokens) {
      // wrapping ids (jnp.take): a negative id -k selects unit S - k (runtime/golden/ops.ts Input)
      w.writeLine(`const int32_t id = xt[0] < 0 ? xt[0] + ${S} : xt[0];`);
      w.writeLine(`out[(long long)b * ${S} + i] = id == i ? (int32_t)NMC_ONE_Q14 : 0;`);
    } else if (e.int) w.writeLine(`out[(long long)b * ${S} + i] = xt[0] == i ? (int32_t)NMC_ONE_Q14 : 0;`);
    else if (p.pop.wrapTokens) {
      // wrapping ids, as the float engine (runtime/float/ops.ts Input): −k selects unit S − k
      w.writeLine(`const double id = xt[0] < 0 ? xt[0] + ${S} : xt[0];`);
      w.writeLine(`out[(long long)b * ${S} + i] = id == (double)i ? 1.0 : 0.0;`);
    } else w.writeLine(`out[(long long)b * ${S} + i] = xt[0] == (double)i ? 1.0 : 0.0;`);
  });
}

/** The same kernel in both precisions: the value type and the one-hot constant come from the Emission. */
const step: StepRenderer<"Input"> = {
  kernels: inputKernel,
  launch: (e, p) => e.launch(`${p.sym}__input`, `${p.size}`, ["d_x", "nmc_T", "(long long)t", `d_${p.sym}_out`]),
};

export const INPUT_OP: CudaOp<"Input"> = {
  params: () => [],
  state: () => [],
  receives: false,
  needsFixed: false,
  inputChannels: (pop) => (pop.encoding === "tokens" ? 1 : pop.size),
  detail: () => "",
  int: step,
  float: step,
};
