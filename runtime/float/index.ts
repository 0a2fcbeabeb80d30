export * from "./interpreter.js";
export * from "../counters.js";
export * from "../batch.js";
export { sigmoid, erf, gelu } from "./math.js";
