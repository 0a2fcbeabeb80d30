// The .npy header is the text of a Python dict literal, e.g.
// `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`. This is a strict parser for the Python
// literals NumPy writes (strings, numbers, True/False/None, tuples, lists, dicts), never an eval: every value
// keeps where it starts and ends in the text, so that errors can name the byte it came from.
import type { NmcError } from "../../ir/errors.js";
import { type Ctx, err, snippet } from "./npy-format.js";

/** Brackets deeper than this are refused (a malicious header cannot exhaust the stack). */
const MAX_NESTING = 32;

/** A parsed literal, with the text indices [start, end) it was read from. */
export type PyValue =
  | { kind: "str"; value: string; start: number; end: number }
  | { kind: "int"; value: bigint; start: number; end: number }
  | { kind: "float"; value: number; start: number; end: number }
  | { kind: "bool"; value: boolean; start: number; end: number }
  | { kind: "none"; start: number; end: number }
  | { kind: "tuple"; items: PyValue[]; start: number; end: number }
  | { kind: "list"; items: PyValue[]; start: number; end: number }
  | { kind: "dict"; entries: { key: PyValue; value: PyValue }[]; start: number; end: number };

/** How errors name the kind of value found where another was expected. */
export const KIND_NAMES: Record<PyValue["kind"], string> = {
  str: "a string",
  int: "an integer",
  float: "a float",
  bool: "a bool",
  none: "None",
  tuple: "a tuple",
  list: "a list",
  dict: "a dict",
};

/** Parses one literal from `text`; `parseAll` throws a "malformed .npy header" NmcError at the first fault. */
export class LiteralParser {
  private pos = 0;

  constructor(
    private readonly text: string,
    /** Byte offset in the file of the character at index i of the text. */
    private readonly byteAt: (i: number) => number,
    private readonly ctx: Ctx,
  ) {}

  parseAll(): PyValue {
    this.ws();
    const v = this.value(0);
    this.ws();
    if (this.pos < this.text.length) {
      throw this.fail("unexpected text after the header dict", "the end of the header", this.here());
    }
    return v;
  }

  private fail(message: string, expected: string, found: string, at = this.pos): NmcError {
    return err(this.ctx, this.byteAt(at), `malformed .npy header: ${message}`, expected, found);
  }

  private here(): string {
    if (this.pos >= this.text.length) return "the end of the header";
    return snippet(this.text.slice(this.pos, this.pos + 20), 20);
  }

  private ws(): void {
    while (this.pos < this.text.length && " \t\n\r\f\v".includes(this.text[this.pos]!)) this.pos++;
  }

  private value(depth: number): PyValue {
    if (depth > MAX_NESTING) {
      throw this.fail("too deeply nested", `at most ${MAX_NESTING} levels of brackets`, "deeper nesting");
    }
    const c = this.text[this.pos];
    if (c === undefined) throw this.fail("header ends where a value was expected", "a value", "the end of the header");
    if (c === "'" || c === '"') return this.string();
    if (c === "(") return this.sequence("tuple", ")", depth);
    if (c === "[") return this.sequence("list", "]", depth);
    if (c === "{") return this.dict(depth);
    if (/[0-9.+-]/.test(c)) return this.number();
    if (/[A-Za-z_]/.test(c)) return this.name();
    throw this.fail(`unexpected character ${JSON.stringify(c)}`, "a value", this.here());
  }

  private string(): PyValue {
    const start = this.pos;
    const quote = this.text[this.pos++]!;
    let out = "";
    for (;;) {
      const c = this.text[this.pos];
      if (c === undefined || c === "\n") {
        throw this.fail("unterminated string", `a closing ${quote}`, c === undefined ? "the end of the header" : "a newline", start);
      }
      this.pos++;
      if (c === quote) break;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.text[this.pos];
      if (e === undefined) continue; // reported as unterminated on the next iteration
      const simple: Record<string, string> = { "\\": "\\", "'": "'", '"': '"', n: "\n", t: "\t", r: "\r", "0": "\0" };
      if (e in simple) {
        out += simple[e];
        this.pos++;
      } else if (e === "x" || e === "u") {
        const n = e === "x" ? 2 : 4;
        const hex = this.text.slice(this.pos + 1, this.pos + 1 + n);
        if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(hex)) {
          throw this.fail(`bad \\${e} escape in string`, `${n} hex digits`, snippet(hex), this.pos - 1);
        }
        out += String.fromCharCode(parseInt(hex, 16));
        this.pos += 1 + n;
      } else {
        out += "\\"; // Python keeps unknown escapes verbatim
      }
    }
    return { kind: "str", value: out, start, end: this.pos };
  }

  private number(): PyValue {
    const start = this.pos;
    let sign = "";
    while (this.text[this.pos] === "+" || this.text[this.pos] === "-") {
      if (this.text[this.pos] === "-") sign = sign === "-" ? "" : "-";
      this.pos++;
      this.ws();
    }
    const m = /^(?:(\d+)(?![.eE\d])[lL]?|(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?))/.exec(this.text.slice(this.pos));
    if (!m) throw this.fail("bad number", "a number", this.here(), start);
    this.pos += m[0].length;
    if (m[1] !== undefined) {
      if (m[1].length > 1 && m[1].startsWith("0") && /[1-9]/.test(m[1])) {
        throw this.fail("integer with a leading zero", "a decimal integer", snippet(m[0]), start);
      }
      return { kind: "int", value: BigInt(sign + m[1]), start, end: this.pos };
    }
    return { kind: "float", value: Number(sign + m[2]!), start, end: this.pos };
  }

  private name(): PyValue {
    const start = this.pos;
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.text.slice(this.pos))!;
    this.pos += m[0].length;
    if (m[0] === "True" || m[0] === "False") return { kind: "bool", value: m[0] === "True", start, end: this.pos };
    if (m[0] === "None") return { kind: "none", start, end: this.pos };
    throw this.fail(`unexpected name ${JSON.stringify(m[0])}`, "a literal (string, number, True, False, None)", snippet(m[0]), start);
  }

  private sequence(kind: "tuple" | "list", close: string, depth: number): PyValue {
    const start = this.pos++;
    const items: PyValue[] = [];
    let comma = false;
    for (;;) {
      this.ws();
      if (this.text[this.pos] === close) break;
      items.push(this.value(depth + 1));
      this.ws();
      const c = this.text[this.pos];
      if (c === ",") {
        comma = true;
        this.pos++;
      } else if (c !== close) {
        throw this.fail(`bad ${kind}`, `"," or "${close}"`, this.here());
      }
    }
    this.pos++;
    // `(x)` is just x in Python; only `()` and `(x,)` are tuples.
    if (kind === "tuple" && items.length === 1 && !comma) return { ...items[0]!, start, end: this.pos };
    return { kind, items, start, end: this.pos };
  }

  private dict(depth: number): PyValue {
    const start = this.pos++;
    const entries: { key: PyValue; value: PyValue }[] = [];
    for (;;) {
      this.ws();
      if (this.text[this.pos] === "}") break;
      const key = this.value(depth + 1);
      this.ws();
      if (this.text[this.pos] !== ":") throw this.fail("bad dict entry", '":"', this.here());
      this.pos++;
      this.ws();
      const value = this.value(depth + 1);
      entries.push({ key, value });
      this.ws();
      const c = this.text[this.pos];
      if (c === ",") this.pos++;
      else if (c !== "}") throw this.fail("bad dict", '"," or "}"', this.here());
    }
    this.pos++;
    return { kind: "dict", entries, start, end: this.pos };
  }
}
