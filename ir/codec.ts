// Binary form of the IR: the protobuf messages of ir/nmc.proto, loaded at run time with protobufjs so
// that the .proto stays the single source of truth. Tensor bytes are little-endian (every platform Node
// runs on here is little-endian; the bundle header records it).
import protobuf from "protobufjs";
import { NmcError } from "./errors.js";
import { IR_KINDS, irKindOf } from "./kinds.js";
import type { CsrWeights, DType, Graph, Population, PopulationKind, Projection, SourceLoc, Tensor, TensorData } from "./types.js";
import { POPULATION_KINDS, typedArrayFor } from "./types.js";
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
const KIND_TO_PB = Object.fromEntries(POPULATION_KINDS.map((k) => [k, IR_KINDS[k].pb.kind])) as Record<PopulationKind, string>;
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
    fixed: p.fixed,
    luts: (p.luts ?? []).map((l) => ({
      name: l.name, lo: l.lo, stepLog2: l.stepLog2, inFrac: l.inFrac, outFrac: l.outFrac,
      table: tensorToPb({ dtype: "i16", shape: [l.table.length], data: l.table }),
    })),
    // Written only when the population steps at a lower rate, so that a single-rate graph encodes as before.
    ...(p.rate !== undefined && p.rate !== 1 ? { rate: p.rate } : {}),
  };
  // The kind's own attributes go in its member of the `config` oneof (IR_KINDS).
  const k = irKindOf(p);
  return { ...base, [k.pb.config]: k.encode(p) };
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
    multiplier: j.requant ? tensorToPb({ dtype: "i32", shape: [j.cols], data: j.requant.multiplier }) : undefined,
    shift: j.requant ? tensorToPb({ dtype: "i32", shape: [j.cols], data: j.requant.shift }) : undefined,
  };
}

export function graphToPbObject(g: Graph): object {
  return {
    name: g.name, populations: g.populations.map(populationToPb), projections: g.projections.map(projectionToPb),
    inputs: g.inputs, outputs: g.outputs, meta: g.meta, quant: g.quant,
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
  // Compare before allocating: a corrupt shape can ask for terabytes.
  const want = length * typedArrayFor(dtype, 0).BYTES_PER_ELEMENT;
  if (bytes.byteLength !== want) {
    throw new NmcError(`tensor bytes do not match its shape`, {
      path: where, expected: `${want} bytes for ${dtype}[${shape.join(",")}]`, found: `${bytes.byteLength} bytes`,
    });
  }
  const data = typedArrayFor(dtype, length);
  // Copy: the decoded bytes may sit at an offset that is not aligned for the element type.
  new Uint8Array(data.buffer).set(bytes);
  const out: Tensor = { dtype, shape, data };
  if (t.quant) out.quant = { scale: (t.quant.scale ?? []).map(Number), axis: t.quant.axis ?? 0, fracBits: t.quant.fracBits ?? 0 };
  return out;
}

function locFromPb(l: Pb): SourceLoc {
  return { file: l?.file ?? "", layer: l?.layer ?? "", className: l?.className ?? "" };
}

function intTensor<T extends TensorData>(t: Pb, where: string, dtype: DType): T {
  const out = tensorFromPb(t, where);
  if (out.dtype !== dtype) throw new NmcError(`wrong tensor dtype`, { path: where, expected: dtype, found: out.dtype });
  return out.data as T;
}

function fixedFromPb(p: Pb, where: string): { fixed?: Population["fixed"]; luts?: Population["luts"] } {
  const out: { fixed?: Population["fixed"]; luts?: Population["luts"] } = {};
  if (p.fixed) {
    const f = p.fixed;
    out.fixed = { outFrac: f.outFrac ?? 0, accFrac: f.accFrac ?? 0, stateFrac: f.stateFrac ?? 0, stateBits: f.stateBits ?? 0, readFrac: f.readFrac ?? 0 };
  }
  if (p.luts && p.luts.length) {
    out.luts = p.luts.map((l: Pb, i: number) => ({
      name: l.name ?? "", lo: l.lo ?? 0, stepLog2: l.stepLog2 ?? 0, inFrac: l.inFrac ?? 0, outFrac: l.outFrac ?? 0,
      table: intTensor<Int16Array>(l.table, `${where}.luts[${i}].table`, "i16"),
    }));
  }
  return out;
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
    ...fixedFromPb(p, where),
    ...(p.rate ? { rate: p.rate as number } : {}),
  };
  const k = IR_KINDS[kind];
  return { ...base, kind, ...k.decode(p[k.pb.config]) } as Population;
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
    ...(j.multiplier || j.shift ? {
      requant: {
        multiplier: intTensor<Int32Array>(j.multiplier, `${where}.multiplier`, "i32"),
        shift: intTensor<Int32Array>(j.shift, `${where}.shift`, "i32"),
      },
    } : {}),
  };
}

export function graphFromPbObject(o: Pb): Graph {
  return {
    name: o.name ?? "", populations: (o.populations ?? []).map(populationFromPb),
    projections: (o.projections ?? []).map(projectionFromPb), inputs: o.inputs ?? [], outputs: o.outputs ?? [],
    meta: { ...(o.meta ?? {}) },
    ...(o.quant ? {
      quant: { weightBits: o.quant.weightBits ?? 0, stateBits: o.quant.stateBits ?? 0, calibration: o.quant.calibration ?? "", rangeMode: o.quant.rangeMode ?? "" },
    } : {}),
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
