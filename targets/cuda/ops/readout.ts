// The Readout population: no ports; each tick it folds its source's output into a running sum and
// outputs the last value, the mean so far or the sum (the int variant's rule, with the mean's rounding,
// is the prelude's nmc_readout_step). As the model output it is taken once, after the last tick.
import { NmcError } from "../../../ir/errors.js";
import { notQuantizedYet } from "../../../ir/timing.js";
import type { ReadoutMode } from "../../../ir/types.js";
import type { Emission } from "../emission.js";
import type { PopInfo } from "../plan.js";
import { KERNEL_INDEX } from "../writer.js";
import type { CudaOp, StepRenderer } from "./types.js";

/** The mode codes of nmc_readout_step in the prelude; −1: no rendering yet (the event-time readouts, refused in check). */
const MODE_CODE: Record<ReadoutMode, number> = { last: 0, mean: 1, sum: 2, pool: -1, timepool: -1 };

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

function launch(e: Emission, p: PopInfo<"Readout">): void {
  const src = e.population(p.pop.source);
  e.launch(`${p.sym}__update`, `${p.size}`, [`d_${src.sym}_out`, `d_${p.sym}_state_sum`, `d_${p.sym}_out`, "t"]);
}

const int: StepRenderer<"Readout"> = {
  kernels(e, p) {
    const mode = p.pop.mode;
    updateKernel(e, p, `readout (${mode}; int32 running sum${mode === "mean" ? ", mean rounds ties away from zero" : ""}), thread per unit`, () => {
      e.w.writeLine(`out[o] = (int32_t)nmc_readout_step(${MODE_CODE[mode]}, src[o], &sum[o], t);`);
    });
  },
  launch,
};

const float: StepRenderer<"Readout"> = {
  kernels(e, p) {
    const mode = p.pop.mode;
    updateKernel(e, p, `readout (${mode}), thread per unit`, () => {
      e.w.writeLine(mode === "last" ? "sum[o] = src[o];" : "sum[o] += src[o];");
      e.w.writeLine(mode === "mean" ? "out[o] = sum[o] / (t + 1);" : "out[o] = sum[o];");
    });
  },
  launch,
};

export const READOUT_OP: CudaOp<"Readout"> = {
  params: () => [],
  state: (pop) => [["sum", pop.size]],
  receives: false,
  needsFixed: false,
  inputChannels: null,
  check(p, named) {
    if (MODE_CODE[p.pop.mode] < 0) throw notQuantizedYet(p.pop, "cuda");
    const src = named(p.pop.source);
    if (!src || src.size !== p.size || src.perSequence) {
      throw new NmcError(`readout ${p.pop.name} must read a non-readout population of its own size`, { node: p.pop.name, found: p.pop.source });
    }
  },
  detail: (pop) => pop.mode,
  int,
  float,
};
