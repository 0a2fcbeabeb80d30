// The parameter file of the CUDA backend: every tensor the generated program reads at run time, in ONE
// fixed order that this module defines and both packParams (which writes the file) and emitCuda (which
// writes the C code that reads it back) take from paramLayout. Sizes, formats, LUT index constants and
// the graph structure are compiled into the source; only the tensors travel in the file.
//
// File layout (all integers little-endian):
//
//   offset  size  field
//   0       8     magic "NMCPARM1"
//   8       4     u32 version = 1
//   12      4     u32 precision: 0 = int (quantized IR), 1 = float (float IR)
//   16      8     u64 layout hash: FNV-1a 64 of the layout manifest (layoutManifest below: every tensor's
//                 symbol, element kind and count, in order); the program refuses a file of another layout
//   24      4     u32 tensor count
//   28      4     u32 reserved = 0
//   32      ...   the tensors, in layout order, each:
//                   u32 element kind (1 = i32, 2 = u32, 3 = f64), u32 reserved = 0, u64 element count,
//                   count elements (4 or 8 bytes each), then zero bytes up to a multiple of 8
//
// Layout order: populations in graph order, then projections in graph order. A population's tensors are
// its row of CUDA_OPS (ops/) in that row's order, then in the int variant its lookup tables, in the order
// ir/kinds.ts requiredLuts gives:
//   int precision (every integer widened to i32; LUT tables are their 2^lutBits int16 entries as i32, 256 … 4096):
//     EGRU         bias_x [3H], bias_h [3H], thr [H], lut_sigmoid [N], lut_tanh [N]
//     DiagonalSSM  lambda_re [P], lambda_im [P], c_re [H·P], c_im [H·P], c_mult [H], c_shift [H]
//     Dense        bias [K], then its activation's table (ir/kinds.ts activationLut): lut_sigmoid | lut_tanh | lut_phi | lut_phi_tanh | lut_softplus [N]
//     LayerNorm    gamma [n] (int16 values, frac_g), beta [n] (out_frac) (frac_x, frac_g, eps_q are compiled in)
//     Input, Readout: nothing; Multiply: nothing (its operand formats frac_a, frac_b are compiled in as shifts)
//     projection   row_ptr u32 [rows + 1], col_idx u32 [nnz], values i32 [nnz], mult i32 [cols], shift i32 [cols]
//   float precision (f64; f32 tensors are widened exactly):
//     EGRU         bias_x [3H], bias_h [3H], thr [H]
//     DiagonalSSM  lambda_re [P], lambda_im [P], c_re [H·P], c_im [H·P]
//     Dense        bias [K]
//     LayerNorm    gamma [n], beta [n]
//     projection   row_ptr u32 [rows + 1], col_idx u32 [nnz], values f64 [nnz]
import { NmcError } from "../../ir/errors.js";
import { requiredLuts } from "../../ir/kinds.js";
import type { Graph, PopulationKind, Projection } from "../../ir/types.js";
import { CUDA_OPS, type CudaOp } from "./ops/index.js";
import { lutOf, tensorData } from "./tensors.js";

export type CudaPrecision = "int" | "float";
export type ParamKind = "i32" | "u32" | "f64";

export const PARAMS_MAGIC = "NMCPARM1";
export const PARAMS_VERSION = 1;
export const PARAM_KIND_CODE: Record<ParamKind, number> = { i32: 1, u32: 2, f64: 3 };

export interface ParamTensor {
  /** C identifier of the tensor; the generated program holds it in the device pointer `d_<symbol>`. */
  symbol: string;
  /** The IR node it belongs to. */
  node: string;
  /** Which tensor of the node: the IR tensor name, `lut_<name>`, `row_ptr`, `col_idx`, `values`, `mult`, `shift`. */
  role: string;
  kind: ParamKind;
  data: ArrayLike<number>;
}

/** C identifiers of every node: `pop_<name>` and `proj_<name>` with other characters replaced by `_`, made unique. */
export interface NodeSymbols {
  pop: Map<string, string>;
  proj: Map<string, string>;
}

export function sanitizeIdentifier(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_]/g, "_");
  return s.length === 0 ? "_" : s;
}

export function nodeSymbols(graph: Graph): NodeSymbols {
  const make = (prefix: string, names: string[]): Map<string, string> => {
    const used = new Set<string>();
    const out = new Map<string, string>();
    for (const n of names) {
      const base = `${prefix}_${sanitizeIdentifier(n)}`;
      let s = base;
      for (let k = 2; used.has(s); k++) s = `${base}_${k}`;
      used.add(s);
      out.set(n, s);
    }
    return out;
  };
  return { pop: make("pop", graph.populations.map((p) => p.name)), proj: make("proj", graph.projections.map((j) => j.name)) };
}

function checkPrecision(graph: Graph, precision: CudaPrecision): void {
  if (precision === "int" && !graph.quant) {
    throw new NmcError("the int CUDA variant runs quantized IR; this graph is float", {
      hint: "compile it first (nmc compile model.json -o m.nmb), or emit the float variant",
    });
  }
  if (precision === "float" && graph.quant) {
    throw new NmcError("the float CUDA variant runs float IR; this graph is quantized", { hint: "emit the int variant" });
  }
}

function checkProjection(j: Projection, precision: CudaPrecision): void {
  const { rowPtr, colIdx, values } = j.weights;
  const nnz = colIdx.length;
  const bad = (msg: string) => new NmcError(`projection ${j.name}: ${msg}`, { node: j.name });
  if (rowPtr.length !== j.rows + 1) throw bad(`row_ptr has ${rowPtr.length} entries, expected rows + 1 = ${j.rows + 1}`);
  if (rowPtr[0] !== 0 || rowPtr[j.rows] !== nnz || values.data.length !== nnz) throw bad("CSR arrays disagree on the number of stored entries");
  for (let r = 0; r < j.rows; r++) if (rowPtr[r + 1] < rowPtr[r]) throw bad(`row_ptr decreases at row ${r}`);
  for (let k = 0; k < nnz; k++) if (colIdx[k] >= j.cols) throw bad(`column index ${colIdx[k]} at entry ${k} is not below cols = ${j.cols}`);
  if (precision === "int") {
    if (values.dtype !== "i8" && values.dtype !== "i16") throw bad(`holds ${values.dtype} weights; the int variant needs i8 or i16`);
    if (!j.requant || j.requant.multiplier.length !== j.cols || j.requant.shift.length !== j.cols) throw bad("has no per-column requantization constants");
  } else if (values.dtype !== "f32" && values.dtype !== "f64") {
    throw bad(`holds ${values.dtype} weights; the float variant needs f32 or f64`);
  }
}

/** Every tensor of the parameter file, in file order (see the layout at the top of this file). */
export function paramLayout(graph: Graph, precision: CudaPrecision): ParamTensor[] {
  checkPrecision(graph, precision);
  const syms = nodeSymbols(graph);
  const out: ParamTensor[] = [];
  const num: ParamKind = precision === "int" ? "i32" : "f64";
  for (const p of graph.populations) {
    const sym = syms.pop.get(p.name)!;
    const add = (role: string, kind: ParamKind, data: ArrayLike<number>) => out.push({ symbol: `${sym}_${role}`, node: p.name, role, kind, data });
    const op = CUDA_OPS[p.kind] as unknown as CudaOp<PopulationKind>;
    for (const t of op.params(p, precision)) if (precision === "int" || !t.intOnly) add(t.role, num, tensorData(p, t.role, t.count));
    if (precision === "int") for (const l of requiredLuts(p)) add(`lut_${l}`, "i32", lutOf(p, l).table);
  }
  for (const j of graph.projections) {
    checkProjection(j, precision);
    const sym = syms.proj.get(j.name)!;
    const add = (role: string, kind: ParamKind, data: ArrayLike<number>) => out.push({ symbol: `${sym}_${role}`, node: j.name, role, kind, data });
    add("row_ptr", "u32", j.weights.rowPtr);
    add("col_idx", "u32", j.weights.colIdx);
    add("values", num, j.weights.values.data);
    if (precision === "int") {
      add("mult", "i32", j.requant!.multiplier);
      add("shift", "i32", j.requant!.shift);
    }
  }
  return out;
}

/** The text the layout hash is taken of: precision, then `symbol:kind:count` per tensor. */
export function layoutManifest(layout: readonly ParamTensor[], precision: CudaPrecision): string {
  return [`nmc-cuda-params v${PARAMS_VERSION} ${precision}`, ...layout.map((t) => `${t.symbol}:${t.kind}:${t.data.length}`)].join("\n");
}

/** FNV-1a 64 of the UTF-8 bytes of `text`. */
export function fnv1a64(text: string): bigint {
  const mask = (1n << 64n) - 1n;
  let h = 0xcbf29ce484222325n;
  for (const b of new TextEncoder().encode(text)) {
    h ^= BigInt(b);
    h = (h * 0x100000001b3n) & mask;
  }
  return h;
}

export function layoutHash(layout: readonly ParamTensor[], precision: CudaPrecision): bigint {
  return fnv1a64(layoutManifest(layout, precision));
}

const pad8 = (n: number) => (n + 7) & ~7;

function checkValue(t: ParamTensor, v: number, k: number): void {
  const ok = t.kind === "f64" ? true
    : t.kind === "i32" ? Number.isInteger(v) && v >= -2147483648 && v <= 2147483647
    : Number.isInteger(v) && v >= 0 && v <= 4294967295;
  if (!ok) throw new NmcError(`tensor ${t.role} of ${t.node}: element ${k} = ${v} does not fit ${t.kind}`, { node: t.node });
}

/** The parameter file of `graph` for the given variant (layout at the top of this file). */
export function packParams(graph: Graph, precision: CudaPrecision): Uint8Array {
  const layout = paramLayout(graph, precision);
  let size = 32;
  for (const t of layout) size += 16 + pad8(t.data.length * (t.kind === "f64" ? 8 : 4));
  const bytes = new Uint8Array(size);
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < 8; i++) bytes[i] = PARAMS_MAGIC.charCodeAt(i);
  dv.setUint32(8, PARAMS_VERSION, true);
  dv.setUint32(12, precision === "int" ? 0 : 1, true);
  dv.setBigUint64(16, layoutHash(layout, precision), true);
  dv.setUint32(24, layout.length, true);
  dv.setUint32(28, 0, true);
  let o = 32;
  for (const t of layout) {
    const n = t.data.length;
    dv.setUint32(o, PARAM_KIND_CODE[t.kind], true);
    dv.setUint32(o + 4, 0, true);
    dv.setBigUint64(o + 8, BigInt(n), true);
    o += 16;
    for (let k = 0; k < n; k++) {
      const v = t.data[k];
      checkValue(t, v, k);
      if (t.kind === "f64") dv.setFloat64(o + 8 * k, v, true);
      else if (t.kind === "i32") dv.setInt32(o + 4 * k, v, true);
      else dv.setUint32(o + 4 * k, v, true);
    }
    o += pad8(n * (t.kind === "f64" ? 8 : 4));
  }
  return bytes;
}
