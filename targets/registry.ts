// The one table of targets. Adding a backend: a folder under targets/ whose target.ts implements Target
// (targets/target.ts), and one row here; the CLI's --target and --engine choices, the compile driver, the
// run dispatcher and the public API all read this table.
import { NmcError } from "../ir/errors.js";
import { CUDA } from "./cuda/target.js";
import { GOLDEN } from "./golden/target.js";
import { SPINNAKER2_TARGET } from "./spinnaker2/target.js";
import type { Target } from "./target.js";

/** Every registered target, in the order help texts list them. */
export const TARGETS: readonly Target[] = [SPINNAKER2_TARGET, CUDA, GOLDEN];

export function targetNames(): string[] {
  return TARGETS.map((t) => t.name);
}

export function findTarget(name: string): Target | undefined {
  return TARGETS.find((t) => t.name === name);
}

/** The target of that name, or an NmcError listing the registered ones. */
export function getTarget(name: string, file?: string): Target {
  const t = findTarget(name);
  if (!t) throw new NmcError(`this nmc has no target ${name}`, { file, expected: targetNames().join(" | "), found: name });
  return t;
}
