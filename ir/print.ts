// The text form of the IR (`nmc ir model.json`): one line per node, stable enough to diff in tests.
// Tensors are summarised by dtype, shape, value range and an FNV-1a digest of their bytes, so two
// graphs print the same exactly when their structure and every stored value agree.
import { irKindOf } from "./kinds.js";
import type { CsrWeights, Graph, Population, Projection, Tensor, TensorData } from "./types.js";

function fnv1a(data: TensorData): string {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

function num(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toPrecision(4);
}

function range(data: TensorData): string {
  if (data.length === 0) return "empty";
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return `${num(lo)}..${num(hi)}`;
}

export function printTensor(t: Tensor): string {
  let s = `${t.dtype}[${t.shape.join(",")}] ${range(t.data)} #${fnv1a(t.data)}`;
  if (t.quant) {
    const q = t.quant;
    s += ` q(frac_bits=${q.fracBits}`;
    if (q.scale.length) s += `, scale×${q.scale.length} axis ${q.axis} #${fnv1a(Float64Array.from(q.scale))}`;
    s += ")";
  }
  return s;
}

function printCsr(w: CsrWeights, rows: number, cols: number): string {
  const nnz = w.colIdx.length;
  const dense = rows * cols;
  const sparsity = dense === 0 ? 0 : 1 - nnz / dense;
  return `nnz ${nnz}/${dense} (${(100 * sparsity).toFixed(1)}% zero) values ${printTensor(w.values)} index #${fnv1a(w.rowPtr)}${fnv1a(w.colIdx)}`;
}

function where(loc: { layer: string; className: string }): string {
  return loc.layer ? `  # ${loc.className} ${loc.layer}` : "";
}

export function printPopulation(p: Population): string {
  const lines: string[] = [];
  const kind = irKindOf(p);
  const detail = kind.detail(p);
  const rate = p.rate !== undefined && p.rate !== 1 ? `, steps every ${p.rate} ticks` : "";
  lines.push(`population ${p.name}: ${p.kind}[${p.size}] emits ${p.emission}${detail ? ", " + detail : ""}${rate}${where(p.loc)}`);
  if (p.fixed) {
    const f = p.fixed;
    const state = kind.stateFormat ? `, state int${f.stateBits} frac ${f.stateFrac}, read frac ${f.readFrac}` : "";
    lines.push(`  fixed out int16 frac ${f.outFrac}, acc int32 frac ${f.accFrac}${state}`);
  }
  for (const l of p.luts ?? []) {
    lines.push(`  lut ${l.name} lo ${l.lo} step 2^-${l.stepLog2} in frac ${l.inFrac} out frac ${l.outFrac} #${fnv1a(l.table)}`);
  }
  for (const q of p.ports) lines.push(`  port ${q.name}[${q.width}]`);
  for (const name of Object.keys(p.tensors).sort()) lines.push(`  tensor ${name} ${printTensor(p.tensors[name])}`);
  return lines.join("\n");
}

export function printProjection(j: Projection): string {
  const delay = j.delay ? " delay 1 (previous tick)" : "";
  return `projection ${j.name}: ${j.source} -> ${j.target}.${j.port} [${j.rows} x ${j.cols}]${delay}${where(j.loc)}\n` +
    `  ${printCsr(j.weights, j.rows, j.cols)}` +
    (j.requant ? `\n  requant multiplier ${range(j.requant.multiplier)} shift ${range(j.requant.shift)} #${fnv1a(j.requant.multiplier)}${fnv1a(j.requant.shift)}` : "");
}

export function printGraph(g: Graph): string {
  const lines: string[] = [`graph ${g.name}`, `  inputs ${g.inputs.join(", ")}`, `  outputs ${g.outputs.join(", ")}`];
  for (const k of Object.keys(g.meta).sort()) lines.push(`  meta ${k} = ${JSON.stringify(g.meta[k])}`);
  if (g.quant) {
    const q = g.quant;
    lines.push(`  quantized weights int${q.weightBits}, SSM states int${q.stateBits}, ranges ${q.rangeMode} of ${JSON.stringify(q.calibration)}`);
  }
  for (const p of g.populations) lines.push(printPopulation(p));
  for (const j of g.projections) lines.push(printProjection(j));
  return lines.join("\n") + "\n";
}
