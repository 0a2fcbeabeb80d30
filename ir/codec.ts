// Binary form of the IR: the protobuf messages of ir/nmc.proto, loaded at run time with protobufjs so
// that the .proto stays the single source of truth. Tensor bytes are little-endian (every platform Node
// runs on here is little-endian; the bundle header records it).
import protobuf from "protobufjs";
import { NmcError } from "./errors.js";
import type {
  Activation, CsrWeights, DType, Graph, InputEncoding, Population, PopulationKind, Projection, ReadoutMode,
  SourceLoc, Tensor, TensorData,
} from "./types.js";
import { typedArrayFor } from "./types.js";
import { assertValidGraph } from "./verify.js";

let root: protobuf.Root | undefined;

/** The loaded schema (ir/nmc.proto, copied beside the compiled code by the build). */
export function schema(): protobuf.Root {
  if (!root) {
    const path = decodeURIComponent(new URL("./nmc.proto", import.meta.url).pathname);
    root = protobuf.loadSync(path);
  }
  return root;
}

export function messageType(name: string): protobuf.Type {
  return schema().lookupType(`nmc.ir.${name}`);
}

const DTYPE_TO_PB: Record<DType, string> = { f32: "F32", f64: "F64", i8: "I8", i16: "I16", i32: "I32", u32: "U32" };
const KIND_TO_PB: Record<PopulationKind, string> = {
  Input: "INPUT", EGRU: "EGRU", DiagonalSSM: "DIAGONAL_SSM", Dense: "DENSE", Readout: "READOUT",
};
const invert = <K extends string>(m: Record<K, string>): Record<string, K> =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [v, k])) as Record<string, K>;
const PB_TO_DTYPE = invert(DTYPE_TO_PB);
const PB_TO_KIND = invert(KIND_TO_PB);

// ---- to protobuf plain objects ----

function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function tensorToPb(t: Tensor): object {
  return {
    shape: t.shape, dtype: DTYPE_TO_PB[t.dtype], data: bytesOf(t.data),
    quant: t.quant ? { scale: t.quant.scale, axis: t.quant.axis, fracBits: t.quant.fracBits } : undefined,
  };
}

function locToPb(l: SourceLoc): object {
  return { file: l.file, layer: l.layer, className: l.className };
}

function populationToPb(p: Population): object {
  const tensors: Record<string, object> = {};
  for (const [k, t] of Object.entries(p.tensors)) tensors[k] = tensorToPb(t);
  const base = {
    name: p.name, kind: KIND_TO_PB[p.kind], size: p.size,
    emission: p.emission === "events" ? "EMIT_EVENTS" : "EMIT_DENSE",
    ports: p.ports, tensors, loc: locToPb(p.loc),
  };
  switch (p.kind) {
    case "Input": return { ...base, input: { encoding: p.encoding === "tokens" ? "ENCODING_TOKENS" : "ENCODING_VALUES" } };
    case "EGRU": return { ...base, egru: {} };
    case "DiagonalSSM": return { ...base, ssm: { stateSize: p.stateSize, parameterization: p.parameterization } };
    case "Dense": return { ...base, dense: { activation: `ACT_${p.activation.toUpperCase()}` } };
    case "Readout": return { ...base, readout: { mode: `READOUT_${p.mode.toUpperCase()}`, source: p.source } };
  }
}

function projectionToPb(j: Projection): object {
  return {
    name: j.name, source: j.source, target: j.target, port: j.port, delay: j.delay, rows: j.rows, cols: j.cols,
    weights: {
      rowPtr: tensorToPb({ dtype: "u32", shape: [j.weights.rowPtr.length], data: j.weights.rowPtr }),
      colIdx: tensorToPb({ dtype: "u32", shape: [j.weights.colIdx.length], data: j.weights.colIdx }),
      values: tensorToPb(j.weights.values),
    },
    loc: locToPb(j.loc),
  };
}

export function graphToPbObject(g: Graph): object {
  return {
    name: g.name, populations: g.populations.map(populationToPb), projections: g.projections.map(projectionToPb),
    inputs: g.inputs, outputs: g.outputs, meta: g.meta,
  };
}

export function encodeGraph(g: Graph): Uint8Array {
  const Graph = messageType("Graph");
  return Graph.encode(Graph.fromObject(graphToPbObject(g))).finish();
}

// ---- from protobuf plain objects ----

/* eslint-disable @typescript-eslint/no-explicit-any */
type Pb = any;

function tensorFromPb(t: Pb, where: string): Tensor {
  if (!t) throw new NmcError(`missing tensor`, { path: where });
  const dtype = PB_TO_DTYPE[t.dtype];
  if (!dtype) throw new NmcError(`unknown tensor dtype`, { path: where, found: String(t.dtype) });
  const shape: number[] = (t.shape ?? []).map(Number);
  const bytes: Uint8Array = t.data ?? new Uint8Array(0);
  const length = shape.reduce((a, b) => a * b, 1);
  const data = typedArrayFor(dtype, length);
  if (bytes.byteLength !== data.byteLength) {
    throw new NmcError(`tensor bytes do not match its shape`, {
      path: where, expected: `${data.byteLength} bytes for ${dtype}[${shape.join(",")}]`, found: `${bytes.byteLength} bytes`,
    });
  }
  // Copy: the decoded bytes may sit at an offset that is not aligned for the element type.
  new Uint8Array(data.buffer).set(bytes);
  const out: Tensor = { dtype, shape, data };
  if (t.quant) out.quant = { scale: (t.quant.scale ?? []).map(Number), axis: t.quant.axis ?? 0, fracBits: t.quant.fracBits ?? 0 };
  return out;
}

function locFromPb(l: Pb): SourceLoc {
  return { file: l?.file ?? "", layer: l?.layer ?? "", className: l?.className ?? "" };
}

function populationFromPb(p: Pb, i: number): Population {
  const where = `populations[${i}]`;
  const kind = PB_TO_KIND[p.kind];
  if (!kind) throw new NmcError(`unknown population kind`, { path: where, found: String(p.kind) });
  const tensors: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(p.tensors ?? {})) tensors[k] = tensorFromPb(t, `${where}.tensors.${k}`);
  const base = {
    name: p.name, size: p.size, emission: p.emission === "EMIT_EVENTS" ? "events" as const : "dense" as const,
    ports: (p.ports ?? []).map((q: Pb) => ({ name: q.name, width: q.width })), tensors, loc: locFromPb(p.loc),
  };
  switch (kind) {
    case "Input": return { ...base, kind, encoding: (p.input?.encoding === "ENCODING_TOKENS" ? "tokens" : "values") as InputEncoding };
    case "EGRU": return { ...base, kind };
    case "DiagonalSSM": return { ...base, kind, stateSize: p.ssm?.stateSize ?? 0, parameterization: p.ssm?.parameterization ?? "" };
    case "Dense": return { ...base, kind, activation: String(p.dense?.activation ?? "ACT_LINEAR").slice(4).toLowerCase() as Activation };
    case "Readout": return {
      ...base, kind, mode: String(p.readout?.mode ?? "READOUT_LAST").slice(8).toLowerCase() as ReadoutMode, source: p.readout?.source ?? "",
    };
  }
}

function projectionFromPb(j: Pb, i: number): Projection {
  const where = `projections[${i}]`;
  const w = j.weights ?? {};
  const weights: CsrWeights = {
    rowPtr: tensorFromPb(w.rowPtr, `${where}.weights.row_ptr`).data as Uint32Array,
    colIdx: tensorFromPb(w.colIdx, `${where}.weights.col_idx`).data as Uint32Array,
    values: tensorFromPb(w.values, `${where}.weights.values`),
  };
  return {
    name: j.name, source: j.source, target: j.target, port: j.port, delay: j.delay === 1 ? 1 : (j.delay as 0),
    rows: j.rows, cols: j.cols, weights, loc: locFromPb(j.loc),
  };
}

export function graphFromPbObject(o: Pb): Graph {
  return {
    name: o.name ?? "", populations: (o.populations ?? []).map(populationFromPb),
    projections: (o.projections ?? []).map(projectionFromPb), inputs: o.inputs ?? [], outputs: o.outputs ?? [],
    meta: { ...(o.meta ?? {}) },
  };
}

/** Decodes and verifies; malformed bytes or an invalid graph give an NmcError (file set by the caller). */
export function decodeGraph(bytes: Uint8Array): Graph {
  const Graph = messageType("Graph");
  let obj: Pb;
  try {
    obj = Graph.toObject(Graph.decode(bytes), { enums: String, longs: Number, defaults: true, arrays: true, objects: true });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new NmcError(`the IR is not a valid protobuf Graph: ${msg}`, { expected: "an nmc.ir.Graph message" });
  }
  const g = graphFromPbObject(obj);
  assertValidGraph(g, "IR (decoded)");
  return g;
}
