export * from "./interpreter.js";
export * from "./counters.js";
export { sigmoid, erf, gelu } from "./math.js";
