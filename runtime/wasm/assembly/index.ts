// The entry of nmc's WebAssembly module (scripts/build-wasm.mjs): every kernel the engines call, the golden
// engine's and the shared ones (kernels.ts) and the simulator's (simulator.ts).
export * from "./kernels";
export * from "./simulator";
