// The text helpers every part of the CUDA generator shares: a code writer with the kernel and launch forms
// the generated program uses, and the renderings of names, strings, integers and LUT index rules as C.
// Nothing here knows the model; emission.ts adds the model on top.
import CodeBlockWriter from "code-block-writer";
import { NmcError } from "../../ir/errors.js";
import type { Lut, Population } from "../../ir/types.js";
import type { ParamKind } from "./params.js";

/** The C element type of each parameter kind of params.bin. */
export const KIND_CTYPE: Record<ParamKind, string> = { i32: "int32_t", u32: "uint32_t", f64: "double" };

/** The first lines of a kernel with a thread per item: sequence b (grid row) and item i. */
export const KERNEL_INDEX = [
  "const int b = blockIdx.y;",
  "const int i = blockIdx.x * blockDim.x + threadIdx.x;",
];

/** A comment-safe rendering of an IR name. */
export function show(name: string): string {
  return JSON.stringify(name).replace(/\*\//g, "*\\/").replace(/[^\x20-\x7e]/g, "?");
}

/** A C string literal holding `text` (UTF-8; non-printable and non-ASCII bytes as octal escapes). */
export function cString(text: string): string {
  let s = '"';
  for (const b of new TextEncoder().encode(text)) {
    if (b === 0x22 || b === 0x5c) s += `\\${String.fromCharCode(b)}`;
    else if (b === 0x3f) s += "\\?"; // no trigraphs
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += `\\${b.toString(8).padStart(3, "0")}`;
  }
  return `${s}"`;
}

/** An integer literal of C type long long. */
export function ll(n: number): string {
  if (!Number.isSafeInteger(n)) throw new NmcError(`internal: ${n} is not an exact integer constant`);
  return n < 0 ? `(${n}LL)` : `${n}LL`;
}

/** Names a port parameter must not take: the shared kernels' locals (KERNEL_INDEX's b and i, v, o) and C++ words a port might be called. */
const RESERVED_LOCALS = new Set(["b", "i", "v", "o", "out", "int", "char", "long", "short", "double", "float", "void", "const", "if", "else", "for", "do", "while", "return", "new", "delete", "auto", "this", "class", "default", "case", "switch"]);

/** A C identifier for a port name used as a kernel parameter (a Multiply's port `b` becomes `p_b`). */
export function sanitizeLocal(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_]/g, "_");
  return /^[0-9]/.test(s) || RESERVED_LOCALS.has(s) ? `p_${s}` : `${s}`;
}

/**
 * The constants of a LUT's index rule: lo·2^in_frac (exact: lo is a multiple of the bin width), the shift, and
 * the table's length (the clamp's bound).
 */
export function lutConstants(p: Population, l: Lut): { loQ: string; shift: number; size: number } {
  const loQ = l.lo * 2 ** l.inFrac;
  const shift = l.inFrac - l.stepLog2;
  if (!Number.isSafeInteger(loQ) || shift < 0 || shift > 62) {
    throw new NmcError(`population ${p.name}: LUT ${l.name} has an index rule the CUDA backend cannot express`, {
      node: p.name, found: `lo ${l.lo}, in_frac ${l.inFrac}, step_log2 ${l.stepLog2}`,
    });
  }
  return { loQ: ll(loQ), shift, size: l.table.length };
}

/** A code writer with the generated program's forms: comments, kernels and the two launch shapes. */
export class CudaWriter {
  readonly w = new CodeBlockWriter({ indentNumberOfSpaces: 2, useTabs: false, newLine: "\n" });

  comment(...lines: string[]): void {
    for (const l of lines) this.w.writeLine(`// ${l}`);
  }

  kernel(name: string, params: string[], body: () => void): void {
    this.w.write(`__global__ void ${name}(${params.join(", ")})`).block(body);
    this.w.blankLine();
  }

  /** A launch with a thread per item (`items`, a C expression) and a grid row per sequence. */
  launch(kernel: string, items: string, args: string[]): void {
    this.w.writeLine(`NMC_LAUNCH(${kernel}, nmc_grid_for(${items}, nb), dim3(nmc_block_for(${items})), ${args.join(", ")});`);
  }

  /** A launch with one thread per sequence. */
  launchPerSequence(kernel: string, args: string[]): void {
    this.w.writeLine(`NMC_LAUNCH(${kernel}, dim3(1, nb), dim3(1), ${args.join(", ")});`);
  }
}
