// The EventPooling population (event-ssm's EventPooling, ir/types.ts): no CUDA rendering yet. Event-time
// models have no integer definition (issue 19's later step), so neither variant is generated; the row refuses
// by name wherever the backend first looks at the population (its parameters, its check).
import { notQuantizedYet } from "../../../ir/timing.js";
import type { CudaOp, StepRenderer } from "./types.js";

const refused: StepRenderer<"EventPooling"> = {
  kernels: (_e, p) => {
    throw notQuantizedYet(p.pop, "cuda");
  },
  launch: (_e, p) => {
    throw notQuantizedYet(p.pop, "cuda");
  },
};

export const EVENT_POOLING_OP: CudaOp<"EventPooling"> = {
  params: (pop) => {
    throw notQuantizedYet(pop, "cuda");
  },
  state: () => [],
  receives: true,
  needsFixed: true,
  inputChannels: null,
  check: (p) => {
    throw notQuantizedYet(p.pop, "cuda");
  },
  detail: (pop) => `stride ${pop.stride} ${pop.mode}`,
  int: refused,
  float: refused,
};
