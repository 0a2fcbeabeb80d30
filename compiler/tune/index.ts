// nmc tune: gradual magnitude pruning with masked fine-tuning (tune.ts), its schedule and masks (schedule.ts),
// and the figures nmc's own engines measure on the result (measure.ts).
export * from "./schedule.js";
export * from "./tune.js";
export { splitIndices } from "./data.js";
export { fakeQuantize } from "./prunable.js";
export * from "./measure.js";
export * from "./write.js";
