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

export type Engine = "float" | "golden" | "spinnaker2" | "cuda";
export const ENGINES: readonly Engine[] = ["float", "golden", "spinnaker2", "cuda"];

export function parseEngine(v: string): Engine {
  if (!(ENGINES as readonly string[]).includes(v)) {
    throw new NmcError(`unknown engine ${v}`, { expected: ENGINES.join(" | "), found: v });
  }
  return v as Engine;
}

/** A parsed non-negative number option, with the option's name in the error. */
export function numberOption(name: string, v: string | undefined, lo: number, hi: number, integer = false): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (v.trim() === "" || !Number.isFinite(x) || x < lo || x > hi || (integer && !Number.isInteger(x))) {
    throw new NmcError(`invalid value for ${name}`, { expected: `${integer ? "an integer" : "a number"} in [${lo}, ${hi}]`, found: JSON.stringify(v) });
  }
  return x;
}
