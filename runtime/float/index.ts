export * from "./interpreter.js";
export { FLOAT_OPS, type FloatOp } from "./ops.js";
export * from "../counters.js";
export * from "../batch.js";
export { sigmoid, erf, gelu, geluNew, phiTanh, softplus, swish } from "./math.js";
