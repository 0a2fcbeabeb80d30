// Files: JSON reading with errors that say where (every JSON file nmc reads: model.json, hardware
// descriptions, part files, run reports, JSON inputs), and atomic writes for every format nmc writes (bundles,
// .npy outputs): the bytes go to a temporary file in the same directory, are flushed, and the file is renamed
// over the target, so a failure never leaves a half-written file behind or clobbers the previous one.
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { NmcError } from "./errors.js";

/**
 * Reads and parses a JSON file; an unreadable file or invalid JSON is an NmcError naming the file, where the
 * syntax error is, what the file should be (`what`: "the hardware description", "the part file") and, if
 * given, what was `expected`.
 */
export function readJsonFile(file: string, what: string, expected?: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new NmcError(code === "ENOENT" ? `cannot read ${what}: no such file` : `cannot read ${what} (${code ?? e})`, { file, expected });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new NmcError(`${what} is not valid JSON`, { file, path: jsonErrorLocation(text, e), expected, found: ((e as Error)?.message ?? String(e)).split("\n")[0] });
  }
}

/** Where JSON.parse(text) failed with `e`: "line L, column C (character N)". */
export function jsonErrorLocation(text: string, e: unknown): string {
  const m = /position (\d+)/.exec(String((e as Error)?.message ?? e));
  const pos = m ? Number(m[1]) : syntaxErrorOffset(text);
  return `${lineCol(text, pos)} (character ${pos})`;
}

function lineCol(text: string, pos: number): string {
  let line = 1, col = 1;
  for (let i = 0; i < pos && i < text.length; i++) {
    if (text[i] === "\n") {
      line++;
      col = 1;
    } else col++;
  }
  return `line ${line}, column ${col}`;
}

/**
 * The offset of the first syntax error in text that JSON.parse rejected (V8 does not always say where):
 * a small recursive-descent scan of the JSON grammar.
 */
function syntaxErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  class Stop extends Error {}
  const stop = (): never => {
    throw new Stop();
  };
  const value = (depth: number): void => {
    ws();
    const c = text[i];
    if (depth > 512) stop();
    if (c === "[" || c === "{") {
      const close = c === "[" ? "]" : "}";
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (;;) {
        if (close === "}") {
          ws();
          if (text[i] !== '"') stop();
          value(depth + 1);
          ws();
          if (text[i] !== ":") stop();
          i++;
        }
        value(depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          continue;
        }
        if (text[i] === close) {
          i++;
          return;
        }
        stop();
      }
    }
    if (c === '"') {
      const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(i, i + 1_000_000));
      if (!m) stop();
      i += m![0].length;
      return;
    }
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!m) stop();
    i += m![0].length;
  };
  try {
    value(0);
    ws();
  } catch (e) {
    if (!(e instanceof Stop)) throw e;
  }
  return i;
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
