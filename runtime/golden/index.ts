export * from "./interpreter.js";
