// Options shared by several commands, defined once.
import { type Command, Option } from "commander";
import { NmcError } from "../ir/errors.js";
import type { ReadoutMode } from "../ir/types.js";
import { TARGETS, targetNames } from "../targets/registry.js";
import { engineNames } from "../targets/run/job.js";

export function readoutOption(): Option {
  return new Option("--readout <mode>", "accumulate the output over the sequence: last | mean | sum | none (default: the model's nmc.readout metadata)")
    .choices(["last", "mean", "sum", "none"]);
}

export function parseReadout(v: string | undefined): ReadoutMode | "none" | undefined {
  return v as ReadoutMode | "none" | undefined;
}

/** --target, its choices and help from the registry (each target's one-line description). */
export function targetOption(what: string): Option {
  return new Option("--target <target>", `${what}: ${TARGETS.map((t) => t.description).join("; ")}`).choices(targetNames());
}

/** --engine: the float interpreter or any registered target. */
export function engineOption(): Option {
  return new Option("--engine <engine>", "what runs the model: float, the float IR interpreter (default for model.json; on a bundle, its float IR); " +
    `or a target (default: the bundle's own): ${targetNames().join(", ")} (golden is the integer reference)`).choices(engineNames());
}

/** Adds every target's options of one kind to a command (an option two targets share is added once). */
export function addTargetOptions(cmd: Command, which: "compileOptions" | "runOptions", how: { defaults?: boolean; prefix?: string } = {}): void {
  const seen = new Set<string>();
  for (const t of TARGETS) {
    for (const o of t[which]) {
      if (seen.has(o.flags)) continue;
      seen.add(o.flags);
      const opt = new Option(o.flags, (how.prefix ?? "") + o.description);
      if (o.choices) opt.choices(o.choices);
      if (o.defaultValue !== undefined && how.defaults !== false) opt.default(o.defaultValue);
      cmd.addOption(opt);
    }
  }
}

/** The values of every target's options of one kind, by key, from commander's options object. */
export function targetOptionValues(opts: object, which: "compileOptions" | "runOptions"): Record<string, string | undefined> {
  const given = opts as Record<string, string | undefined>;
  const out: Record<string, string | undefined> = {};
  for (const t of TARGETS) for (const o of t[which]) out[o.key] = given[o.key];
  return out;
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
