export * from "./types.js";
export * from "./errors.js";
export * from "./builder.js";
export * from "./verify.js";
export * from "./print.js";
export * from "./codec.js";
export * from "./bundle.js";
