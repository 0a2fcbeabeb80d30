// Exit codes and the one place that turns a failure into what the user sees.
// 0 ok · 1 verification failed · 2 usage or input error · 3 internal error (a bug in nmc).
import { NmcError } from "../ir/errors.js";

export const EXIT_OK = 0;
export const EXIT_VERIFY_FAILED = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERNAL = 3;

/** Raised by a command that ran fine but whose check failed (exit 1). */
export class VerificationFailed extends Error {}

const debug = () => process.env.NMC_DEBUG === "1";

export function reportFailure(e: unknown): number {
  if (e instanceof NmcError) {
    process.stderr.write(`nmc: error: ${e.format()}\n`);
    if (debug() && e.stack) process.stderr.write(e.stack + "\n");
    return EXIT_USAGE;
  }
  if (e instanceof VerificationFailed) {
    process.stderr.write(`nmc: verification failed: ${e.message}\n`);
    return EXIT_VERIFY_FAILED;
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`nmc: internal error: ${msg}. This is a bug in nmc; rerun with NMC_DEBUG=1 for a stack trace and report it.\n`);
  if (debug() && e instanceof Error && e.stack) process.stderr.write(e.stack + "\n");
  return EXIT_INTERNAL;
}
