// Atomic file writes for every format nmc writes (bundles, .npy outputs): the bytes go to a temporary
// file in the same directory, are flushed, and the file is renamed over the target, so a failure never
// leaves a half-written file behind or clobbers the previous one.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { NmcError } from "./errors.js";

/**
 * Reads and parses a JSON file; an unreadable file or invalid JSON is an NmcError naming the file, what it
 * should be (`what`: "the hardware description", "the part file") and, if given, what was `expected`.
 */
export function readJsonFile(file: string, what: string, expected?: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new NmcError(`cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? e})`, { file, expected });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new NmcError(`${what} is not valid JSON`, { file, expected, found: (e as Error).message });
  }
}

/**
 * Writes `bytes` (or the concatenation of the chunks) to `path` atomically; `what` names the file kind in the
 * error ("bundle", ".npy file").
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | readonly Uint8Array[], what: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, "wx");
    // With a descriptor, each write continues where the previous one ended.
    for (const chunk of bytes instanceof Uint8Array ? [bytes] : bytes) writeFileSync(fd, chunk);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        // already failing; the first error is the one to report
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      // the temporary file may never have been created
    }
    const code = (e as NodeJS.ErrnoException)?.code ?? String(e);
    throw new NmcError(`cannot write ${what}: ${code}`, { file: path, found: (e as Error)?.message });
  }
}
