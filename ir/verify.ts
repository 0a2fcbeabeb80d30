// The IR verifier: checks every structural invariant the interpreters and targets rely on and reports
// every problem found (not just the first), each naming the node. Run after every pass in tests.
import { NmcError } from "./errors.js";
import type { Graph, Population, Projection, Tensor } from "./types.js";
import { MAX_UNITS, shapeSize } from "./types.js";
import { irKindOf, LUT_RANGES, requiredLuts } from "./kinds.js";
import { graphTiming, isEventTime, rateOf } from "./timing.js";

export interface Problem {
  node: string;
  message: string;
}

const fmtShape = (s: readonly number[]) => `[${s.join(", ")}]`;

function checkTensor(node: string, name: string, t: Tensor, shape: number[] | undefined, out: Problem[]): void {
  if (shape && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) {
    out.push({ node, message: `tensor ${name} has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}` });
  }
  if (t.data.length !== shapeSize(t.shape)) {
    out.push({ node, message: `tensor ${name} holds ${t.data.length} values for shape ${fmtShape(t.shape)}` });
  }
  if (t.dtype === "f32" || t.dtype === "f64") {
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) {
        out.push({ node, message: `tensor ${name} has a non-finite value (${t.data[i]}) at flat index ${i}` });
        break;
      }
    }
  }
}

function checkPopulation(p: Population, out: Problem[]): void {
  const node = `population ${p.name}`;
  if (!Number.isInteger(p.size) || p.size <= 0) out.push({ node, message: `size must be a positive integer, is ${p.size}` });
  else if (p.size > MAX_UNITS) out.push({ node, message: `size ${p.size} exceeds nmc's widest population, ${MAX_UNITS} units` });
  const kind = irKindOf(p);
  for (const message of kind.problems?.(p) ?? []) out.push({ node, message });
  const wantPorts = kind.ports(p);
  for (const [name, width] of Object.entries(wantPorts)) {
    const port = p.ports.find((q) => q.name === name);
    if (!port) out.push({ node, message: `missing port ${name}` });
    else if (port.width !== width) out.push({ node, message: `port ${name} has width ${port.width}, expected ${width}` });
  }
  for (const q of p.ports) if (!(q.name in wantPorts)) out.push({ node, message: `unexpected port ${q.name} for kind ${p.kind}` });
  const wantTensors = kind.tensors(p);
  for (const name of Object.keys(wantTensors)) if (!(name in p.tensors)) out.push({ node, message: `missing tensor ${name}` });
  for (const [name, t] of Object.entries(p.tensors)) checkTensor(node, name, t, wantTensors[name], out);
}

function checkProjection(j: Projection, pops: Map<string, Population>, out: Problem[]): void {
  const node = `projection ${j.name}`;
  const src = pops.get(j.source);
  const dst = pops.get(j.target);
  if (!src) out.push({ node, message: `source population ${j.source} does not exist` });
  if (!dst) out.push({ node, message: `target population ${j.target} does not exist` });
  if (src && j.rows !== src.size) out.push({ node, message: `has ${j.rows} rows but source ${src.name} has ${src.size} units` });
  if (dst) {
    // A kind without input ports (Input, Readout) takes no projections.
    if (Object.keys(irKindOf(dst).ports(dst)).length === 0) out.push({ node, message: `targets ${dst.kind} population ${dst.name}, which takes no projections` });
    const port = dst.ports.find((q) => q.name === j.port);
    if (!port) out.push({ node, message: `target ${dst.name} has no port ${j.port}` });
    else if (port.width !== j.cols) out.push({ node, message: `has ${j.cols} columns but port ${dst.name}.${j.port} is ${port.width} wide` });
  }
  if (j.delay !== 0 && j.delay !== 1) out.push({ node, message: `delay must be 0 or 1, is ${j.delay}` });
  const { rowPtr, colIdx, values } = j.weights;
  if (rowPtr.length !== j.rows + 1) {
    out.push({ node, message: `row_ptr has ${rowPtr.length} entries, expected rows + 1 = ${j.rows + 1}` });
    return;
  }
  if (rowPtr[0] !== 0 || rowPtr[j.rows] !== colIdx.length) {
    out.push({ node, message: `row_ptr must run from 0 to nnz = ${colIdx.length}, runs from ${rowPtr[0]} to ${rowPtr[j.rows]}` });
    return;
  }
  if (values.data.length !== colIdx.length) out.push({ node, message: `has ${values.data.length} values for ${colIdx.length} column indices` });
  // Monotonicity first, over the whole array: with row_ptr[0] = 0 and row_ptr[rows] = nnz it keeps every row's
  // entry range inside colIdx. (Checked row by row, a corrupt row_ptr[1] of 2^31 − 1 sent the column loop below
  // through two billion entries past the end before reaching the decrease: a fuzz-found 30 s hang.)
  for (let r = 0; r < j.rows; r++) {
    if (rowPtr[r + 1] < rowPtr[r]) {
      out.push({ node, message: `row_ptr decreases at row ${r}` });
      return;
    }
  }
  for (let r = 0; r < j.rows; r++) {
    for (let k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
      if (colIdx[k] >= j.cols || (k > rowPtr[r] && colIdx[k] <= colIdx[k - 1])) {
        out.push({ node, message: `row ${r}: column indices must be increasing and < ${j.cols}, found ${colIdx[k]} at entry ${k}` });
        return;
      }
    }
  }
  checkTensor(node, "values", values, [colIdx.length], out);
}

const FLOAT = new Set(["f32", "f64"]);

function checkMultipliers(node: string, what: string, mult: ArrayLike<number>, shift: ArrayLike<number>, n: number, out: Problem[]): void {
  if (mult.length !== n || shift.length !== n) {
    out.push({ node, message: `${what} has ${mult.length} multipliers and ${shift.length} shifts, expected ${n} of each` });
    return;
  }
  for (let j = 0; j < n; j++) {
    if (mult[j] < 0 || mult[j] >= 2 ** 15 || shift[j] < 0 || shift[j] > 52) {
      out.push({ node, message: `${what} entry ${j}: multiplier ${mult[j]} / shift ${shift[j]} outside [0, 2^15) / [0, 52]` });
      return;
    }
  }
}

/** The invariants of quantized IR (runtime/fixed/QUANTIZATION.md) that the golden engine relies on. */
function checkQuantized(g: Graph, out: Problem[]): void {
  const q = g.quant!;
  if (q.weightBits !== 8 && q.weightBits !== 16) out.push({ node: `graph ${g.name}`, message: `weight bits must be 8 or 16, is ${q.weightBits}` });
  if (q.stateBits !== 16 && q.stateBits !== 32) out.push({ node: `graph ${g.name}`, message: `state bits must be 16 or 32, is ${q.stateBits}` });
  const wdt = q.weightBits === 16 ? "i16" : "i8";
  for (const p of g.populations) {
    const node = `population ${p.name}`;
    if (!p.fixed) {
      out.push({ node, message: "quantized graph, but the population has no fixed-point format" });
      continue;
    }
    const f = p.fixed;
    for (const [k, v] of Object.entries(f)) {
      if (k !== "readFrac" && (!Number.isInteger(v) || v < 0 || v > 40)) out.push({ node, message: `format ${k} = ${v} is outside 0..40` });
    }
    const kind = irKindOf(p);
    for (const message of kind.fixedProblems?.(p, f) ?? []) out.push({ node, message });
    for (const [name, dt] of Object.entries(kind.quantTensors)) {
      const t = p.tensors[name];
      const want = dt === "w" ? wdt : dt;
      if (!t) out.push({ node, message: `missing quantized tensor ${name}` });
      else if (t.dtype !== want) out.push({ node, message: `tensor ${name} is ${t.dtype}, the quantized IR needs ${want}` });
    }
    const rq = kind.requant;
    if (rq && p.tensors[rq.mult] && p.tensors[rq.shift]) {
      checkMultipliers(node, "C requantization", p.tensors[rq.mult].data, p.tensors[rq.shift].data, p.size, out);
    }
    for (const name of requiredLuts(p)) {
      const lut = p.luts?.find((l) => l.name === name);
      if (!lut) out.push({ node, message: `missing lookup table ${name}` });
      else {
        const n = lut.table.length, r = LUT_RANGES[name];
        if (n < 256 || n > 4096 || (n & (n - 1)) !== 0 || lut.inFrac < lut.stepLog2 || lut.inFrac !== f.accFrac) {
          out.push({ node, message: `lookup table ${name} must have 2^k entries (k in 8…12) and in_frac = acc_frac ${f.accFrac} ≥ step_log2 (has ${n}, in_frac ${lut.inFrac}, step_log2 ${lut.stepLog2})` });
        } else if (lut.lo !== r.lo || n * 2 ** -lut.stepLog2 !== r.hi - r.lo) {
          out.push({ node, message: `lookup table ${name} must cover [${r.lo}, ${r.hi}): has lo ${lut.lo} and ${n} bins of 2^-${lut.stepLog2}` });
        }
      }
    }
  }
  for (const j of g.projections) {
    const node = `projection ${j.name}`;
    if (j.weights.values.dtype !== wdt) out.push({ node, message: `weights are ${j.weights.values.dtype}, the quantized IR needs ${wdt}` });
    if (!j.requant) out.push({ node, message: "quantized graph, but the projection has no requantization multipliers" });
    else checkMultipliers(node, "requantization", j.requant.multiplier, j.requant.shift, j.cols, out);
  }
}

/**
 * Multi-rate execution and event time (ir/timing.ts): every stored rate is the one the graph implies, both ends
 * of every projection run at one rate, and a population that reads Δt has an event-time input to read it from.
 */
function checkTiming(g: Graph, pops: Map<string, Population>, out: Problem[]): void {
  const timing = graphTiming(g);
  out.push(...timing.problems);
  for (const p of g.populations) {
    const want = timing.byName.get(p.name)?.rate ?? 1;
    if (p.rate !== undefined && (!Number.isSafeInteger(p.rate) || p.rate < 1)) out.push({ node: `population ${p.name}`, message: `rate must be a positive integer, is ${p.rate}` });
    else if (rateOf(p) !== want) out.push({ node: `population ${p.name}`, message: `rate is ${rateOf(p)}, but its inputs emit once every ${want} ticks` });
  }
  if (isEventTime(g)) return;
  for (const p of pops.values()) {
    if (irKindOf(p).usesTime(p)) out.push({ node: `population ${p.name}`, message: `reads per-step time steps (Δt), but the graph's input is not event-time` });
  }
}

/** Every problem with the graph; an empty list means it is valid. */
export function verifyGraph(g: Graph): Problem[] {
  const out: Problem[] = [];
  const pops = new Map<string, Population>();
  const seen = new Set<string>();
  for (const p of g.populations) {
    if (seen.has(p.name)) out.push({ node: `population ${p.name}`, message: "name is used twice" });
    seen.add(p.name);
    pops.set(p.name, p);
    checkPopulation(p, out);
  }
  if (g.quant) checkQuantized(g, out);
  else {
    for (const j of g.projections) {
      if (!FLOAT.has(j.weights.values.dtype)) out.push({ node: `projection ${j.name}`, message: `float graph with ${j.weights.values.dtype} weights (no quantization info)` });
    }
  }
  for (const j of g.projections) {
    if (seen.has(j.name)) out.push({ node: `projection ${j.name}`, message: "name is used twice" });
    seen.add(j.name);
    checkProjection(j, pops, out);
  }
  // Order: every delay-0 source (and a readout's source) comes before its target, which makes the
  // delay-0 edges acyclic and lets interpreters run populations in list order within a tick.
  const index = new Map(g.populations.map((p, i) => [p.name, i]));
  for (const j of g.projections) {
    const s = index.get(j.source);
    const t = index.get(j.target);
    if (j.delay === 0 && s !== undefined && t !== undefined && s >= t) {
      out.push({ node: `projection ${j.name}`, message: `delay-0 edge ${j.source} -> ${j.target} goes backwards or is a self-loop: a cycle needs a delay-1 edge` });
    }
  }
  for (const p of g.populations) {
    if (p.kind !== "Readout") continue;
    const src = pops.get(p.source);
    if (!src) out.push({ node: `population ${p.name}`, message: `readout source ${p.source} does not exist` });
    else {
      if (src.size !== p.size) out.push({ node: `population ${p.name}`, message: `size ${p.size} differs from its source ${src.name} (${src.size})` });
      if ((index.get(src.name) ?? 0) >= (index.get(p.name) ?? 0)) out.push({ node: `population ${p.name}`, message: `readout source ${src.name} must come before it` });
    }
  }
  if (g.inputs.length === 0) out.push({ node: `graph ${g.name}`, message: "has no input population" });
  // One model input: the engines, input files and targets all feed a single [B, T, C] stream.
  const inputPops = g.populations.filter((p) => p.kind === "Input");
  if (inputPops.length > 1) out.push({ node: `graph ${g.name}`, message: `has ${inputPops.length} Input populations; nmc runs models with one input` });
  for (const j of g.projections) {
    // A Readout's value is an int32 running sum in quantized IR (not an int16 output): it feeds nothing there.
    // In float IR it may feed populations within the tick (event-ssm's decoder after its pooled readout), which
    // are then per-sequence too (ir/timing.ts).
    // Quantized, a readout whose value is an int16 one (an event-time model's pool / timepool / last readout,
    // event-kernels.ts) feeds populations within the tick as in float IR; the others are outputs only.
    const src = pops.get(j.source);
    const feeds = src?.kind === "Readout" && src.mode !== "sum" && src.mode !== "mean" && isEventTime(g);
    if (src?.kind === "Readout" && ((g.quant && !feeds) || j.delay !== 0)) {
      out.push({ node: `projection ${j.name}`, message: g.quant ? `reads Readout population ${j.source}; a quantized readout is an output and feeds no projection` : `reads Readout population ${j.source} with delay 1; a readout feeds populations within the tick only` });
    }
  }
  checkTiming(g, pops, out);
  for (const n of g.inputs) {
    if (pops.get(n)?.kind !== "Input") out.push({ node: `graph ${g.name}`, message: `input ${n} is not an Input population` });
  }
  if (g.outputs.length === 0) out.push({ node: `graph ${g.name}`, message: "has no output population" });
  for (const n of g.outputs) if (!pops.has(n)) out.push({ node: `graph ${g.name}`, message: `output ${n} does not exist` });
  for (const p of g.populations) {
    if (p.kind === "Dense" && p.activation === "softmax" && !g.outputs.includes(p.name)) {
      const feedsReadout = g.populations.some((q) => q.kind === "Readout" && q.source === p.name && g.outputs.includes(q.name));
      if (!feedsReadout) out.push({ node: `population ${p.name}`, message: "softmax is only supported on the output population" });
    }
  }
  return out;
}

/** Throws one NmcError listing every problem (for use between passes and after decoding). */
export function assertValidGraph(g: Graph, context = "IR"): void {
  const problems = verifyGraph(g);
  if (problems.length === 0) return;
  const lines = problems.map((p) => `${p.node}: ${p.message}`);
  throw new NmcError(`invalid ${context}: ${problems.length} problem(s): ${lines.join("; ")}`, { node: problems[0].node });
}
