// The one error type of nmc. Every failure a user can cause (a bad file, a bad flag, a model we cannot
// compile) is an NmcError carrying where it happened and what was expected; the CLI formats it and maps it
// to exit code 2. Anything else that escapes is a bug in nmc and is reported as such.

export interface NmcErrorInit {
  /** The file the problem is in, when there is one. */
  file?: string;
  /** Where in the file: a JSON path (`modelTopology.config.layers[2].config.units`) or `byte 1234`. */
  path?: string;
  /** What nmc expected to find there. */
  expected?: string;
  /** What it found instead. */
  found?: string;
  /** What the user can do about it. */
  hint?: string;
  /** The IR node (population, projection) or model layer concerned. */
  node?: string;
}

export class NmcError extends Error {
  readonly file?: string;
  readonly path?: string;
  readonly expected?: string;
  readonly found?: string;
  readonly hint?: string;
  readonly node?: string;

  constructor(message: string, init: NmcErrorInit = {}) {
    super(message);
    this.name = "NmcError";
    this.file = init.file;
    this.path = init.path;
    this.expected = init.expected;
    this.found = init.found;
    this.hint = init.hint;
    this.node = init.node;
  }

  /** The same error with the file filled in (used when a parser of bytes learns its file name late). */
  inFile(file: string): NmcError {
    if (this.file) return this;
    return new NmcError(this.message, { ...this.fields(), file });
  }

  fields(): NmcErrorInit {
    const { file, path, expected, found, hint, node } = this;
    return { file, path, expected, found, hint, node };
  }

  /** One paragraph, as the CLI prints it: `file: path: message (expected X, found Y). hint` */
  format(): string {
    const where = [this.file, this.path].filter(Boolean).join(": ");
    let s = where ? `${where}: ${this.message}` : this.message;
    if (this.node && !s.includes(this.node)) s += ` [${this.node}]`;
    const ef: string[] = [];
    if (this.expected !== undefined) ef.push(`expected ${this.expected}`);
    if (this.found !== undefined) ef.push(`found ${this.found}`);
    if (ef.length) s += ` (${ef.join(", ")})`;
    if (this.hint) s += `. ${this.hint}`;
    return s;
  }
}

export function isNmcError(e: unknown): e is NmcError {
  return e instanceof NmcError;
}
