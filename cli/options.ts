// Options shared by several commands, defined once.
import { Option } from "commander";
import { NmcError } from "../ir/errors.js";
import type { ReadoutMode } from "../ir/types.js";

export function readoutOption(): Option {
  return new Option("--readout <mode>", "accumulate the output over the sequence: last | mean | sum | none (default: the model's nmc.readout metadata)")
    .choices(["last", "mean", "sum", "none"]);
}

export function parseReadout(v: string | undefined): ReadoutMode | "none" | undefined {
  return v as ReadoutMode | "none" | undefined;
}

export function parseEngine(v: string): "float" {
  if (v !== "float") {
    throw new NmcError(`engine ${v} is not available yet`, { expected: "float", found: v, hint: "the golden and target engines come with quantization and the targets" });
  }
  return v;
}
