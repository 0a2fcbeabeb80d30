// The CUDA reference backend's code generator: quantized IR (precision "int") or float IR (precision "float")
// → ONE self-contained .cu source. The fixed runtime prelude (prelude.ts) comes first; everything after it
// is written per model with code-block-writer: constants, device buffers, one set of kernels per IR node
// (named after the node), the parameter loader (the tensor order of params.ts), the tick loop and the host
// driver `main`.
//
// Semantics: runtime/fixed/QUANTIZATION.md (int) and runtime/float/interpreter.ts (float), with the golden
// interpreter's time rules: populations run in graph order within a tick; a delay-0 projection reads its
// source's output buffer as it is when the target steps (this tick's output for a source earlier in graph
// order), a delay-1 projection the copy taken at the end of the previous tick; everything resets to zero per
// sequence. All sequences of a chunk run side by side: grid row (blockIdx.y) = sequence.
//
// Per tick and population the program launches: [input] | load_ports → per incoming projection
// (accumulate → requantize) → saturate_ports → update (update_state, update_output for an SSM) → compact;
// after all populations: record (events, output) and advance (copy out → prev where a delay-1 edge reads it).
import CodeBlockWriter from "code-block-writer";
import { NmcError } from "../../ir/errors.js";
import type { Graph, Lut, Population, Projection } from "../../ir/types.js";
import { CUDA_PRELUDE } from "./prelude.js";
import {
  type CudaPrecision, denseLutName, layoutHash, lutOf, nodeSymbols, PARAM_KIND_CODE, type ParamTensor, paramLayout,
} from "./params.js";

export { CUDA_PRELUDE } from "./prelude.js";

export interface EmitOptions {
  precision: CudaPrecision;
}

interface PortInfo {
  name: string;
  /** Device buffer symbol (without the d_ prefix). */
  sym: string;
  width: number;
  /** The parameter symbol of its bias, if it has one. */
  bias: string | null;
}

interface PopInfo {
  pop: Population;
  index: number;
  sym: string;
  size: number;
  /** Column offset of this population in events.npy. */
  offset: number;
  ports: PortInfo[];
  incoming: ProjInfo[];
  /** A delay-1 projection reads this population: keep a copy of the previous tick. */
  needsPrev: boolean;
}

interface ProjInfo {
  proj: Projection;
  index: number;
  sym: string;
  src: PopInfo;
  port: PortInfo;
}

interface Buffer {
  sym: string;
  ctype: string;
  /** Elements per sequence. */
  perSeq: number;
}

const KIND_CTYPE: Record<ParamTensor["kind"], string> = { i32: "int32_t", u32: "uint32_t", f64: "double" };

/** A comment-safe rendering of an IR name. */
function show(name: string): string {
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
function ll(n: number): string {
  if (!Number.isSafeInteger(n)) throw new NmcError(`internal: ${n} is not an exact integer constant`);
  return n < 0 ? `(${n}LL)` : `${n}LL`;
}

/** The constants of a LUT's index rule: lo·2^in_frac (exact: lo is a multiple of the bin width) and the shift. */
function lutConstants(p: Population, l: Lut): { loQ: string; shift: number } {
  const loQ = l.lo * 2 ** l.inFrac;
  const shift = l.inFrac - l.stepLog2;
  if (!Number.isSafeInteger(loQ) || shift < 0 || shift > 62) {
    throw new NmcError(`population ${p.name}: LUT ${l.name} has an index rule the CUDA backend cannot express`, {
      node: p.name, found: `lo ${l.lo}, in_frac ${l.inFrac}, step_log2 ${l.stepLog2}`,
    });
  }
  return { loQ: ll(loQ), shift };
}

const KERNEL_INDEX = [
  "const int b = blockIdx.y;",
  "const int i = blockIdx.x * blockDim.x + threadIdx.x;",
];

class Emitter {
  private readonly w = new CodeBlockWriter({ indentNumberOfSpaces: 2, useTabs: false, newLine: "\n" });
  private readonly int: boolean;
  /** Value type of outputs, states and inputs. */
  private readonly V: string;
  /** Port accumulator type. */
  private readonly P: string;
  private readonly pops: PopInfo[];
  private readonly projs: ProjInfo[];
  private readonly layout: ParamTensor[];
  private readonly buffers: Buffer[] = [];
  private readonly outPop: PopInfo;
  private readonly totalUnits: number;
  private readonly inputPop: PopInfo;
  private readonly pre: number;

  constructor(private readonly graph: Graph, private readonly precision: CudaPrecision) {
    this.int = precision === "int";
    this.V = this.int ? "int32_t" : "double";
    this.P = this.int ? "nmc_i64" : "double";
    this.layout = paramLayout(graph, precision); // also checks precision vs graph and every tensor's size
    this.pre = this.int ? graph.quant!.weightBits - 8 : 0;
    const syms = nodeSymbols(graph);
    const byName = new Map<string, PopInfo>();
    let offset = 0;
    this.pops = graph.populations.map((pop, index) => {
      const sym = syms.pop.get(pop.name)!;
      const ports: PortInfo[] = pop.ports.map((q) => {
        const biasRole = pop.kind === "EGRU" ? (q.name === "input" ? "bias_x" : q.name === "recurrent" ? "bias_h" : null)
          : pop.kind === "Dense" && q.name === "x" ? "bias" : null;
        return { name: q.name, sym: `${sym}_port_${q.name.replace(/[^A-Za-z0-9_]/g, "_")}`, width: q.width, bias: biasRole ? `${sym}_${biasRole}` : null };
      });
      const info: PopInfo = { pop, index, sym, size: pop.size, offset, ports, incoming: [], needsPrev: false };
      offset += pop.size;
      byName.set(pop.name, info);
      return info;
    });
    this.totalUnits = offset;
    this.projs = graph.projections.map((proj, index) => {
      const src = byName.get(proj.source);
      const tgt = byName.get(proj.target);
      if (!src || !tgt) throw new NmcError(`projection ${proj.name} connects unknown populations`, { node: proj.name });
      const port = tgt.ports.find((q) => q.name === proj.port);
      if (!port) throw new NmcError(`projection ${proj.name}: population ${tgt.pop.name} has no port ${proj.port}`, { node: proj.name });
      if (port.width !== proj.cols || src.size !== proj.rows) {
        throw new NmcError(`projection ${proj.name} is ${proj.rows} × ${proj.cols}, but connects ${src.size} units to a port of width ${port.width}`, { node: proj.name });
      }
      if (src.pop.kind === "Readout") throw new NmcError(`projection ${proj.name} reads Readout population ${src.pop.name}`, { node: proj.name });
      if (proj.delay === 1) src.needsPrev = true;
      const info: ProjInfo = { proj, index, sym: syms.proj.get(proj.name)!, src, port };
      tgt.incoming.push(info);
      return info;
    });
    const out = byName.get(graph.outputs[0] ?? "");
    if (!out) throw new NmcError("graph has no output population");
    this.outPop = out;
    const inputs = this.pops.filter((p) => p.pop.kind === "Input");
    const first = byName.get(graph.inputs[0] ?? "");
    if (!first || first.pop.kind !== "Input" || inputs.length !== 1) {
      throw new NmcError("the CUDA backend runs graphs with exactly one Input population, named in graph.inputs");
    }
    if (this.int && !first.pop.fixed) throw new NmcError(`input population ${first.pop.name} has no fixed-point format`, { node: first.pop.name });
    this.inputPop = first;
    for (const p of this.pops) {
      if (p.pop.kind === "Readout") {
        const src = byName.get(p.pop.source);
        if (!src || src.size !== p.size || src.pop.kind === "Readout") {
          throw new NmcError(`readout ${p.pop.name} must read a non-readout population of its own size`, { node: p.pop.name, found: p.pop.source });
        }
      }
      if (this.int && p.pop.kind !== "Input" && p.pop.kind !== "Readout" && !p.pop.fixed) {
        throw new NmcError(`population ${p.pop.name} has no fixed-point format`, { node: p.pop.name });
      }
    }
  }

  private get inputChannels(): number {
    const ip = this.inputPop.pop;
    return ip.kind === "Input" && ip.encoding === "tokens" ? 1 : ip.size;
  }

  // ---------------------------------------------------------------------------------------------------
  // helpers

  private comment(...lines: string[]): void {
    for (const l of lines) this.w.writeLine(`// ${l}`);
  }

  private kernel(name: string, params: string[], body: () => void): void {
    this.w.write(`__global__ void ${name}(${params.join(", ")})`).block(body);
    this.w.blankLine();
  }

  private launch(kernel: string, items: string, args: string[]): void {
    this.w.writeLine(`NMC_LAUNCH(${kernel}, nmc_grid_for(${items}, nb), dim3(nmc_block_for(${items})), ${args.join(", ")});`);
  }

  private launchPerSequence(kernel: string, args: string[]): void {
    this.w.writeLine(`NMC_LAUNCH(${kernel}, dim3(1, nb), dim3(1), ${args.join(", ")});`);
  }

  private buffer(sym: string, ctype: string, perSeq: number): void {
    this.buffers.push({ sym, ctype, perSeq });
  }

  // ---------------------------------------------------------------------------------------------------
  // the source

  emit(): string {
    const w = this.w;
    const g = this.graph;
    this.comment(
      `==== model ${show(g.name)}: ${this.int ? "int variant (quantized IR; bit-exact with the golden interpreter)" : "float variant (float IR; the float interpreter's arithmetic in double)"} ====`,
      `populations (graph order): ${this.pops.map((p) => `${show(p.pop.name)} ${p.pop.kind} [${p.size}]`).join(", ")}`,
      `output: ${show(this.outPop.pop.name)}${this.outPop.pop.kind === "Readout" ? " (readout: output [B, K])" : " (output [B, T, K])"}`,
    );
    w.writeLine(`#define NMC_PRECISION_INT ${this.int ? 1 : 0}`);
    w.writeLine(`#define NMC_PARAM_COUNT ${this.layout.length}u`);
    w.writeLine(`#define NMC_LAYOUT_HASH 0x${layoutHash(this.layout, this.precision).toString(16).padStart(16, "0")}ULL`);
    w.writeLine(`#define NMC_INPUT_CHANNELS ${this.inputChannels}LL`);
    w.writeLine(`#define NMC_TOTAL_UNITS ${this.totalUnits}LL`);
    w.writeLine(`#define NMC_OUTPUT_UNITS ${this.outPop.size}LL`);
    w.writeLine(`#define NMC_OUTPUT_READOUT ${this.outPop.pop.kind === "Readout" ? 1 : 0}`);
    w.writeLine(`#define NMC_POP_COUNT ${this.pops.length}`);
    w.writeLine(`#define NMC_PROJ_COUNT ${this.projs.length}`);
    this.comment("device counters: events per population [0, NMC_POP_COUNT), then effective and activity-only per projection");
    w.writeLine(`#define NMC_COUNTER_COUNT ${this.pops.length + 2 * this.projs.length + 1}`);
    w.blankLine();

    this.emitParamDecls();
    this.planBuffers();
    this.emitBufferDecls();
    for (const p of this.pops) this.emitPopulationKernels(p);
    this.emitLoadParams();
    this.emitAllocReset();
    this.emitTick();
    this.emitCountersJson();
    this.emitMain();
    return `${CUDA_PRELUDE}\n${w.toString()}`;
  }

  private emitParamDecls(): void {
    this.comment("---- parameters (device copies of the tensors of params.bin, in file order) ----");
    for (const t of this.layout) this.w.writeLine(`static ${KIND_CTYPE[t.kind]}* d_${t.symbol} = 0; // ${show(t.node)} ${t.role} [${t.data.length}]`);
    this.w.blankLine();
  }

  private planBuffers(): void {
    const V = this.V, P = this.P;
    for (const p of this.pops) {
      this.buffer(`${p.sym}_out`, V, p.size);
      this.buffer(`${p.sym}_ev_idx`, "int32_t", p.size);
      this.buffer(`${p.sym}_ev_cnt`, "int32_t", 1);
      if (p.needsPrev) {
        this.buffer(`${p.sym}_prev`, V, p.size);
        this.buffer(`${p.sym}_prev_idx`, "int32_t", p.size);
        this.buffer(`${p.sym}_prev_cnt`, "int32_t", 1);
      }
      for (const q of p.ports) this.buffer(q.sym, P, q.width);
      const pop = p.pop;
      if (pop.kind === "EGRU") this.buffer(`${p.sym}_state_h`, V, p.size);
      if (pop.kind === "DiagonalSSM") {
        for (const s of ["xr", "xi"]) this.buffer(`${p.sym}_state_${s}`, V, pop.stateSize);
        if (this.int) for (const s of ["rr", "ri"]) this.buffer(`${p.sym}_state_${s}`, V, pop.stateSize);
      }
      if (pop.kind === "Readout") this.buffer(`${p.sym}_state_sum`, V, p.size);
    }
    if (this.int) for (const j of this.projs) this.buffer(`${j.sym}_acc`, "unsigned long long", j.proj.cols);
  }

  private emitBufferDecls(): void {
    this.comment("---- per-sequence device buffers ([chunk sequences, n] each) ----");
    for (const b of this.buffers) this.w.writeLine(`static ${b.ctype}* d_${b.sym} = 0; // ${b.perSeq} per sequence`);
    this.w.writeLine("static unsigned long long* d_counters = 0;");
    this.w.writeLine(`static ${this.V}* d_x = 0; // the chunk's input [nb, T, C]`);
    this.w.writeLine(`static ${this.V}* d_y = 0; // the chunk's output [nb, T, K] or [nb, K]`);
    this.w.writeLine("static int32_t* d_events = 0; // the chunk's events [nb, T, NMC_TOTAL_UNITS] (int variant)");
    this.w.writeLine("static long long nmc_T = 0;");
    this.w.writeLine("static int nmc_record_events = 0;");
    this.w.blankLine();
  }

  // ---------------------------------------------------------------------------------------------------
  // kernels

  private header(p: PopInfo, what: string): void {
    this.comment(`population ${show(p.pop.name)} (${p.pop.kind}${p.pop.kind === "Dense" ? ` ${p.pop.activation}` : ""}${p.pop.kind === "Readout" ? ` ${p.pop.mode}` : ""}, ${p.size} units): ${what}`);
  }

  private emitPopulationKernels(p: PopInfo): void {
    const w = this.w;
    const pop = p.pop;
    const S = p.size;
    this.comment(`======== population ${show(pop.name)}: ${pop.kind} ========`);
    if (pop.kind === "Input") {
      const C = this.inputChannels;
      const tokens = pop.encoding === "tokens";
      this.header(p, tokens ? "one-hot token input (the token's unit carries Q14 1.0)" : "value input (already in the input format)");
      this.kernel(`${p.sym}__input`, [`const ${this.V}* x`, "long long T", "long long t", `${this.V}* out`], () => {
        for (const l of KERNEL_INDEX) w.writeLine(l);
        w.writeLine(`if (i >= ${S}) return;`);
        w.writeLine(`const ${this.V}* xt = x + ((long long)b * T + t) * ${C}LL;`);
        if (tokens) {
          if (this.int) w.writeLine(`out[(long long)b * ${S} + i] = xt[0] == i ? (int32_t)NMC_ONE_Q14 : 0;`);
          else w.writeLine(`out[(long long)b * ${S} + i] = xt[0] == (double)i ? 1.0 : 0.0;`);
        } else w.writeLine(`out[(long long)b * ${S} + i] = xt[i];`);
      });
    } else if (pop.kind !== "Readout") {
      this.emitLoadPorts(p);
      for (const j of p.incoming) this.emitProjectionKernels(j);
      if (this.int) this.emitSaturatePorts(p);
      this.emitUpdate(p);
    } else {
      this.emitUpdate(p);
    }
    this.header(p, "event compaction: indices of the non-zero outputs in unit order and their count, one thread per sequence");
    this.kernel(`${p.sym}__compact`, [`const ${this.V}* out`, "int32_t* ev_idx", "int32_t* ev_cnt", "unsigned long long* counters"], () => {
      w.writeLine("const int b = blockIdx.y;");
      w.writeLine("if (blockIdx.x != 0 || threadIdx.x != 0) return;");
      w.writeLine(`const ${this.V}* o = out + (long long)b * ${S};`);
      w.writeLine(`int32_t* idx = ev_idx + (long long)b * ${S};`);
      w.writeLine("int n = 0;");
      w.writeLine(`for (int i = 0; i < ${S}; ++i) if (o[i] != 0) idx[n++] = i;`);
      w.writeLine("ev_cnt[b] = n;");
      w.writeLine(`atomicAdd(&counters[${p.index}], (unsigned long long)n);`);
    });
    if (p.needsPrev) {
      this.header(p, "advance: this tick's output and event list become the previous tick's (read by delay-1 projections)");
      this.kernel(`${p.sym}__advance`, [`const ${this.V}* out`, "const int32_t* ev_idx", "const int32_t* ev_cnt", `${this.V}* prev`, "int32_t* prev_idx", "int32_t* prev_cnt"], () => {
        for (const l of KERNEL_INDEX) w.writeLine(l);
        w.writeLine(`if (i >= ${S}) return;`);
        w.writeLine(`const long long o = (long long)b * ${S} + i;`);
        w.writeLine("prev[o] = out[o];");
        w.writeLine("prev_idx[o] = ev_idx[o];");
        w.writeLine("if (i == 0) prev_cnt[b] = ev_cnt[b];");
      });
    }
  }

  private emitLoadPorts(p: PopInfo): void {
    const w = this.w;
    if (p.ports.length === 0) return;
    this.header(p, `load the ports (${p.ports.map((q) => `${q.name} [${q.width}]${q.bias ? " ← bias" : " ← 0"}`).join(", ")}), thread per column`);
    const params: string[] = [];
    for (const q of p.ports) {
      params.push(`${this.P}* ${sanitizeLocal(q.name)}`);
      if (q.bias) params.push(`const ${this.int ? "int32_t" : "double"}* bias_${sanitizeLocal(q.name)}`);
    }
    this.kernel(`${p.sym}__load_ports`, params, () => {
      for (const l of KERNEL_INDEX) w.writeLine(l);
      for (const q of p.ports) {
        const n = sanitizeLocal(q.name);
        w.writeLine(`if (i < ${q.width}) ${n}[(long long)b * ${q.width} + i] = ${q.bias ? `bias_${n}[i]` : "0"};`);
      }
    });
  }

  private emitSaturatePorts(p: PopInfo): void {
    const w = this.w;
    if (p.ports.length === 0) return;
    this.header(p, "port saturation: port = sat32(port) once every projection has arrived, thread per column");
    this.kernel(`${p.sym}__saturate_ports`, p.ports.map((q) => `nmc_i64* ${sanitizeLocal(q.name)}`), () => {
      for (const l of KERNEL_INDEX) w.writeLine(l);
      for (const q of p.ports) {
        const n = sanitizeLocal(q.name);
        w.writeLine(`if (i < ${q.width}) { nmc_i64* v = &${n}[(long long)b * ${q.width} + i]; *v = nmc_sat32(*v); }`);
      }
    });
  }

  private emitProjectionKernels(j: ProjInfo): void {
    const w = this.w;
    const { proj } = j;
    const rows = proj.rows, cols = proj.cols;
    const eff = this.pops.length + 2 * j.index, act = eff + 1;
    const desc = `projection ${show(proj.name)} (${show(proj.source)} → ${show(proj.target)}.${proj.port}, delay ${proj.delay}, ${rows} × ${cols}, ${proj.weights.colIdx.length} stored)`;
    if (this.int) {
      this.comment(`${desc}: event accumulation, one thread per active source event looping its CSR row;`,
        "exact int64 column sums via atomicAdd on unsigned long long (two's complement: order independent)");
      this.kernel(`${j.sym}__accumulate`, [
        "const int32_t* src", "const int32_t* ev_idx", "const int32_t* ev_cnt", "const uint32_t* row_ptr", "const uint32_t* col_idx",
        "const int32_t* w", "unsigned long long* acc", "unsigned long long* counters",
      ], () => {
        w.writeLine("const int b = blockIdx.y;");
        w.writeLine("const int e = blockIdx.x * blockDim.x + threadIdx.x;");
        w.writeLine("const int n = ev_cnt[b];");
        w.writeLine("if (e >= n) return;");
        w.writeLine(`const int row = ev_idx[(long long)b * ${rows} + e];`);
        w.writeLine(`const nmc_i64 x = src[(long long)b * ${rows} + row];`);
        w.writeLine("const uint32_t k0 = row_ptr[row], k1 = row_ptr[row + 1];");
        w.writeLine(`unsigned long long* a = acc + (long long)b * ${cols};`);
        w.writeLine("for (uint32_t k = k0; k < k1; ++k) atomicAdd(&a[col_idx[k]], (unsigned long long)(x * (nmc_i64)w[k]));");
        w.writeLine(`atomicAdd(&counters[${eff}], (unsigned long long)(k1 - k0));`);
        w.writeLine(`if (e == 0) atomicAdd(&counters[${act}], (unsigned long long)n * ${cols}ULL);`);
      });
      this.comment(`${desc}: requantize into the port, thread per column:`,
        `port[j] += rq(sat32(rs(a[j], ${this.pre})), mult[j], shift[j]) where a[j] != 0; a[j] is cleared for the next tick`);
      this.kernel(`${j.sym}__requantize`, ["unsigned long long* acc", "const int32_t* mult", "const int32_t* shift", "nmc_i64* port"], () => {
        w.writeLine("const int b = blockIdx.y;");
        w.writeLine("const int c = blockIdx.x * blockDim.x + threadIdx.x;");
        w.writeLine(`if (c >= ${cols}) return;`);
        w.writeLine(`const long long o = (long long)b * ${cols} + c;`);
        w.writeLine("const nmc_i64 a = (nmc_i64)acc[o];");
        w.writeLine("acc[o] = 0ULL;");
        w.writeLine(`if (a != 0) port[o] += nmc_requantize(nmc_sat32(nmc_round_shift(a, ${this.pre})), mult[c], shift[c]);`);
      });
    } else {
      this.comment(`${desc}: event accumulation into the port, one thread per active source event looping its CSR row`);
      this.kernel(`${j.sym}__accumulate`, [
        "const double* src", "const int32_t* ev_idx", "const int32_t* ev_cnt", "const uint32_t* row_ptr", "const uint32_t* col_idx",
        "const double* w", "double* port", "unsigned long long* counters",
      ], () => {
        w.writeLine("const int b = blockIdx.y;");
        w.writeLine("const int e = blockIdx.x * blockDim.x + threadIdx.x;");
        w.writeLine("const int n = ev_cnt[b];");
        w.writeLine("if (e >= n) return;");
        w.writeLine(`const int row = ev_idx[(long long)b * ${rows} + e];`);
        w.writeLine(`const double x = src[(long long)b * ${rows} + row];`);
        w.writeLine("const uint32_t k0 = row_ptr[row], k1 = row_ptr[row + 1];");
        w.writeLine(`double* a = port + (long long)b * ${cols};`);
        w.writeLine("for (uint32_t k = k0; k < k1; ++k) atomicAdd(&a[col_idx[k]], x * w[k]);");
        w.writeLine(`atomicAdd(&counters[${eff}], (unsigned long long)(k1 - k0));`);
        w.writeLine(`if (e == 0) atomicAdd(&counters[${act}], (unsigned long long)n * ${cols}ULL);`);
      });
    }
  }

  private portParams(p: PopInfo): string[] {
    return p.ports.map((q) => `const ${this.P}* ${sanitizeLocal(q.name)}`);
  }

  private emitUpdate(p: PopInfo): void {
    const w = this.w;
    const pop = p.pop;
    const S = p.size;
    const V = this.V;
    const int = this.int;
    switch (pop.kind) {
      case "EGRU": {
        const H = S;
        const params = [...this.portParams(p), `const ${int ? "int32_t" : "double"}* thr`];
        if (int) params.push("const int32_t* lut_sigmoid", "const int32_t* lut_tanh");
        params.push(`${V}* h`, `${V}* out`);
        this.header(p, int ? "EGRU update (Q14; gates z, r, g from the σ and tanh LUTs), thread per unit" : "EGRU update, thread per unit");
        this.kernel(`${p.sym}__update`, params, () => {
          for (const l of KERNEL_INDEX) w.writeLine(l);
          w.writeLine(`if (i >= ${H}) return;`);
          w.writeLine(`const ${this.P}* vx = input + (long long)b * ${3 * H};`);
          w.writeLine(`const ${this.P}* vh = recurrent + (long long)b * ${3 * H};`);
          w.writeLine(`const long long o = (long long)b * ${H} + i;`);
          if (int) {
            const sg = lutConstants(pop, lutOf(pop, "sigmoid")), th = lutConstants(pop, lutOf(pop, "tanh"));
            w.writeLine(`const nmc_i64 z = nmc_lookup(lut_sigmoid, vx[i] + vh[i], ${sg.loQ}, ${sg.shift});`);
            w.writeLine(`const nmc_i64 r = nmc_lookup(lut_sigmoid, vx[${H} + i] + vh[${H} + i], ${sg.loQ}, ${sg.shift});`);
            w.writeLine(`const nmc_i64 g = nmc_lookup(lut_tanh, vx[${2 * H} + i] + nmc_round_shift(r * vh[${2 * H} + i], 14), ${th.loQ}, ${th.shift});`);
            w.writeLine("const nmc_i64 c = nmc_sat16(nmc_round_shift(z * (nmc_i64)h[o] + (NMC_ONE_Q14 - z) * g, 14));");
            w.writeLine("const nmc_i64 d = c - (nmc_i64)thr[i];");
            w.writeLine("if (d > 0) { out[o] = (int32_t)c; h[o] = (int32_t)d; }");
            w.writeLine("else { out[o] = 0; h[o] = (int32_t)c; }");
          } else {
            w.writeLine("const double z = nmc_sigmoid(vx[i] + vh[i]);");
            w.writeLine(`const double r = nmc_sigmoid(vx[${H} + i] + vh[${H} + i]);`);
            w.writeLine(`const double g = tanh(vx[${2 * H} + i] + r * vh[${2 * H} + i]);`);
            w.writeLine("const double c = z * h[o] + (1 - z) * g;");
            w.writeLine("const bool fire = c - thr[i] > 0;");
            w.writeLine("h[o] = fire ? c - thr[i] : c;");
            w.writeLine("out[o] = fire ? c : 0.0;");
          }
        });
        break;
      }
      case "DiagonalSSM": {
        const P = pop.stateSize, H = S;
        const fx = pop.fixed;
        const bits = int ? fx!.stateBits : 0;
        if (int && bits !== 16 && bits !== 32) throw new NmcError(`population ${pop.name}: state bits ${bits} (expected 16 or 32)`, { node: pop.name });
        this.header(p, int ? `state update x ← sat${bits}(Λ̄ ⊙ x + u) and the 16-bit read view, thread per complex state (P = ${P})`
          : `state update x ← Λ̄ ⊙ x + u, thread per complex state (P = ${P})`);
        const stParams = [`const ${this.P}* u`, `const ${int ? "int32_t" : "double"}* lambda_re`, `const ${int ? "int32_t" : "double"}* lambda_im`, `${V}* xr`, `${V}* xi`];
        if (int) stParams.push("int32_t* rr", "int32_t* ri");
        this.kernel(`${p.sym}__update_state`, stParams, () => {
          for (const l of KERNEL_INDEX) w.writeLine(l);
          w.writeLine(`if (i >= ${P}) return;`);
          w.writeLine(`const long long o = (long long)b * ${P} + i;`);
          w.writeLine(`const ${this.P}* ub = u + (long long)b * ${2 * P};`);
          if (int) {
            const rs = bits - 16;
            w.writeLine("const nmc_i64 a = xr[o], c = xi[o];");
            w.writeLine(`const nmc_i64 nr = nmc_saturate(nmc_cmul_re_q15(a, c, lambda_re[i], lambda_im[i]) + ub[i], ${bits});`);
            w.writeLine(`const nmc_i64 ni = nmc_saturate(nmc_cmul_im_q15(a, c, lambda_re[i], lambda_im[i]) + ub[${P} + i], ${bits});`);
            w.writeLine("xr[o] = (int32_t)nr;");
            w.writeLine("xi[o] = (int32_t)ni;");
            w.writeLine(rs === 0 ? "rr[o] = (int32_t)nr;" : `rr[o] = (int32_t)nmc_sat16(nmc_round_shift(nr, ${rs}));`);
            w.writeLine(rs === 0 ? "ri[o] = (int32_t)ni;" : `ri[o] = (int32_t)nmc_sat16(nmc_round_shift(ni, ${rs}));`);
          } else {
            w.writeLine("const double a = xr[o], c = xi[o];");
            w.writeLine("xr[o] = lambda_re[i] * a - lambda_im[i] * c + ub[i];");
            w.writeLine(`xi[o] = lambda_re[i] * c + lambda_im[i] * a + ub[${P} + i];`);
          }
        });
        const down = int ? fx!.accFrac - fx!.outFrac : 0;
        this.header(p, int ? `outputs: y = sat32(rq(sat32(rs(Σ C·r, ${this.pre})), c_mult, c_shift) + skip), out = sat16(rs(y, ${down})), thread per output`
          : "outputs: y = skip + Σ_p (C_re x_re − C_im x_im), thread per output");
        const outParams = [`const ${this.P}* skip`, `const ${int ? "int32_t" : "double"}* c_re`, `const ${int ? "int32_t" : "double"}* c_im`];
        if (int) outParams.push("const int32_t* c_mult", "const int32_t* c_shift", "const int32_t* rr", "const int32_t* ri");
        else outParams.push("const double* xr", "const double* xi");
        outParams.push(`${V}* out`);
        this.kernel(`${p.sym}__update_output`, outParams, () => {
          for (const l of KERNEL_INDEX) w.writeLine(l);
          w.writeLine(`if (i >= ${H}) return;`);
          w.writeLine(`const long long sb = (long long)b * ${P};`);
          w.writeLine(`const ${this.P} sk = skip[(long long)b * ${H} + i];`);
          if (int) {
            w.writeLine("nmc_i64 acc = 0;");
            w.writeLine(`for (int p = 0; p < ${P}; ++p) acc += (nmc_i64)c_re[i * ${P} + p] * rr[sb + p] - (nmc_i64)c_im[i * ${P} + p] * ri[sb + p];`);
            w.writeLine(`const nmc_i64 y = nmc_sat32(nmc_requantize(nmc_sat32(nmc_round_shift(acc, ${this.pre})), c_mult[i], c_shift[i]) + sk);`);
            w.writeLine(`out[(long long)b * ${H} + i] = (int32_t)nmc_sat16(nmc_round_shift(y, ${down}));`);
          } else {
            w.writeLine("double y = sk;");
            w.writeLine(`for (int p = 0; p < ${P}; ++p) y += c_re[i * ${P} + p] * xr[sb + p] - c_im[i * ${P} + p] * xi[sb + p];`);
            w.writeLine(`out[(long long)b * ${H} + i] = y;`);
          }
        });
        break;
      }
      case "Dense": {
        const act = pop.activation;
        const K = S;
        if (act === "softmax") {
          if (int) throw new NmcError(`population ${pop.name}: softmax has no quantized form`, { node: pop.name });
          this.header(p, "softmax over the units, one thread per sequence");
          this.kernel(`${p.sym}__update`, [...this.portParams(p), "double* out"], () => {
            w.writeLine("const int b = blockIdx.y;");
            w.writeLine("if (blockIdx.x != 0 || threadIdx.x != 0) return;");
            w.writeLine(`const double* v = x + (long long)b * ${K};`);
            w.writeLine(`double* o = out + (long long)b * ${K};`);
            w.writeLine("double m = -INFINITY, z = 0;");
            w.writeLine(`for (int i = 0; i < ${K}; ++i) if (v[i] > m) m = v[i];`);
            w.writeLine(`for (int i = 0; i < ${K}; ++i) z += exp(v[i] - m);`);
            w.writeLine(`for (int i = 0; i < ${K}; ++i) o[i] = exp(v[i] - m) / z;`);
          });
          break;
        }
        const lutName = int ? denseLutName(act) : undefined;
        const params = [...this.portParams(p)];
        if (lutName) params.push(`const int32_t* lut_${lutName}`);
        params.push(`${V}* out`);
        const down = int ? pop.fixed!.accFrac - pop.fixed!.outFrac : 0;
        this.header(p, `Dense ${act}${int && (act === "linear" || act === "relu" || act === "gelu") ? ` (rs by acc_frac − out_frac = ${down})` : ""}, thread per unit`);
        this.kernel(`${p.sym}__update`, params, () => {
          for (const l of KERNEL_INDEX) w.writeLine(l);
          w.writeLine(`if (i >= ${K}) return;`);
          w.writeLine(`const long long o = (long long)b * ${K} + i;`);
          w.writeLine(`const ${this.P} v = x[o];`);
          if (int) {
            switch (act) {
              case "linear": w.writeLine(`out[o] = (int32_t)nmc_sat16(nmc_round_shift(v, ${down}));`); break;
              case "relu": w.writeLine(`out[o] = v > 0 ? (int32_t)nmc_sat16(nmc_round_shift(v, ${down})) : 0;`); break;
              case "sigmoid":
              case "tanh": {
                const c = lutConstants(pop, lutOf(pop, lutName!));
                w.writeLine(`out[o] = (int32_t)nmc_lookup(lut_${lutName}, v, ${c.loQ}, ${c.shift});`);
                break;
              }
              case "gelu": {
                const c = lutConstants(pop, lutOf(pop, "phi"));
                w.writeLine(`out[o] = (int32_t)nmc_sat16(nmc_round_shift(nmc_round_shift(v * nmc_lookup(lut_phi, v, ${c.loQ}, ${c.shift}), 14), ${down}));`);
                break;
              }
            }
          } else {
            switch (act) {
              case "linear": w.writeLine("out[o] = v;"); break;
              case "relu": w.writeLine("out[o] = v > 0 ? v : 0.0;"); break;
              case "sigmoid": w.writeLine("out[o] = nmc_sigmoid(v);"); break;
              case "tanh": w.writeLine("out[o] = tanh(v);"); break;
              case "gelu": w.writeLine("out[o] = nmc_gelu(v);"); break;
            }
          }
        });
        break;
      }
      case "Readout": {
        const mode = pop.mode;
        this.header(p, int ? `readout (${mode}; int32 running sum${mode === "mean" ? ", mean rounds ties away from zero" : ""}), thread per unit`
          : `readout (${mode}), thread per unit`);
        this.kernel(`${p.sym}__update`, [`const ${V}* src`, `${V}* sum`, `${V}* out`, "int t"], () => {
          for (const l of KERNEL_INDEX) w.writeLine(l);
          w.writeLine(`if (i >= ${S}) return;`);
          w.writeLine(`const long long o = (long long)b * ${S} + i;`);
          if (int) {
            w.writeLine(`out[o] = (int32_t)nmc_readout_step(${mode === "last" ? 0 : mode === "mean" ? 1 : 2}, src[o], &sum[o], t);`);
          } else {
            w.writeLine(mode === "last" ? "sum[o] = src[o];" : "sum[o] += src[o];");
            w.writeLine(mode === "mean" ? "out[o] = sum[o] / (t + 1);" : "out[o] = sum[o];");
          }
        });
        break;
      }
      default:
        break;
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // host code

  private emitLoadParams(): void {
    const w = this.w;
    this.comment("Reads params.bin (targets/cuda/params.ts) and uploads every tensor, in file order.");
    w.write("static void nmc_load_params(const char* path)").block(() => {
      w.writeLine("nmc_params P;");
      w.writeLine(`nmc_params_open(&P, path, ${this.int ? 0 : 1}u, NMC_LAYOUT_HASH, NMC_PARAM_COUNT);`);
      for (const t of this.layout) {
        const ct = KIND_CTYPE[t.kind];
        const n = t.data.length;
        w.writeLine(`d_${t.symbol} = (${ct}*)nmc_upload(nmc_params_next(&P, ${PARAM_KIND_CODE[t.kind]}u, ${n}ULL, ${cString(t.symbol)}), ${n}ULL * sizeof(${ct}));`);
      }
      w.writeLine("nmc_params_close(&P);");
    });
    w.blankLine();
  }

  private emitAllocReset(): void {
    const w = this.w;
    w.write("static void nmc_alloc_state(long long nbmax)").block(() => {
      for (const b of this.buffers) w.writeLine(`d_${b.sym} = (${b.ctype}*)nmc_device_alloc((size_t)nbmax * ${b.perSeq}ULL * sizeof(${b.ctype}));`);
      w.writeLine("d_counters = (unsigned long long*)nmc_device_alloc(NMC_COUNTER_COUNT * sizeof(unsigned long long));");
    });
    w.blankLine();
    this.comment("Zeroes outputs, event lists, states and sums: every sequence starts from rest.");
    w.write("static void nmc_reset_state(long long nbmax)").block(() => {
      for (const b of this.buffers) w.writeLine(`NMC_CHECK(cudaMemset(d_${b.sym}, 0, (size_t)nbmax * ${b.perSeq}ULL * sizeof(${b.ctype})));`);
    });
    w.blankLine();
  }

  private args(p: PopInfo, delay: 0 | 1): string[] {
    return delay === 0 ? [`d_${p.sym}_out`, `d_${p.sym}_ev_idx`, `d_${p.sym}_ev_cnt`] : [`d_${p.sym}_prev`, `d_${p.sym}_prev_idx`, `d_${p.sym}_prev_cnt`];
  }

  private emitTick(): void {
    const w = this.w;
    this.comment("One tick of every sequence of the chunk (nb sequences, tick t): populations in graph order.");
    w.write("static void nmc_tick(int nb, int t)").block(() => {
      for (const p of this.pops) {
        const pop = p.pop;
        const S = p.size;
        this.comment(`population ${show(pop.name)} (${pop.kind})`);
        if (pop.kind === "Input") {
          this.launch(`${p.sym}__input`, `${S}`, ["d_x", "nmc_T", "(long long)t", `d_${p.sym}_out`]);
        } else if (pop.kind === "Readout") {
          const src = this.pops.find((q) => q.pop.name === pop.source)!;
          this.launch(`${p.sym}__update`, `${S}`, [`d_${src.sym}_out`, `d_${p.sym}_state_sum`, `d_${p.sym}_out`, "t"]);
        } else {
          if (p.ports.length) {
            const maxW = Math.max(...p.ports.map((q) => q.width));
            const a: string[] = [];
            for (const q of p.ports) {
              a.push(`d_${q.sym}`);
              if (q.bias) a.push(`d_${q.bias}`);
            }
            this.launch(`${p.sym}__load_ports`, `${maxW}`, a);
          }
          for (const j of p.incoming) {
            const js = j.sym;
            const cols = j.proj.cols;
            if (this.int) {
              this.launch(`${js}__accumulate`, `${j.proj.rows}`, [...this.args(j.src, j.proj.delay), `d_${js}_row_ptr`, `d_${js}_col_idx`, `d_${js}_values`, `d_${js}_acc`, "d_counters"]);
              this.launch(`${js}__requantize`, `${cols}`, [`d_${js}_acc`, `d_${js}_mult`, `d_${js}_shift`, `d_${j.port.sym}`]);
            } else {
              this.launch(`${js}__accumulate`, `${j.proj.rows}`, [...this.args(j.src, j.proj.delay), `d_${js}_row_ptr`, `d_${js}_col_idx`, `d_${js}_values`, `d_${j.port.sym}`, "d_counters"]);
            }
          }
          if (this.int && p.ports.length) this.launch(`${p.sym}__saturate_ports`, `${Math.max(...p.ports.map((q) => q.width))}`, p.ports.map((q) => `d_${q.sym}`));
          const ports = p.ports.map((q) => `d_${q.sym}`);
          switch (pop.kind) {
            case "EGRU": {
              const a = [...ports, `d_${p.sym}_thr`];
              if (this.int) a.push(`d_${p.sym}_lut_sigmoid`, `d_${p.sym}_lut_tanh`);
              a.push(`d_${p.sym}_state_h`, `d_${p.sym}_out`);
              this.launch(`${p.sym}__update`, `${S}`, a);
              break;
            }
            case "DiagonalSSM": {
              const u = p.ports.find((q) => q.name === "u"), skip = p.ports.find((q) => q.name === "skip");
              if (!u || !skip) throw new NmcError(`population ${pop.name}: a DiagonalSSM needs ports u and skip`, { node: pop.name });
              const st = [`d_${u.sym}`, `d_${p.sym}_lambda_re`, `d_${p.sym}_lambda_im`, `d_${p.sym}_state_xr`, `d_${p.sym}_state_xi`];
              if (this.int) st.push(`d_${p.sym}_state_rr`, `d_${p.sym}_state_ri`);
              this.launch(`${p.sym}__update_state`, `${pop.stateSize}`, st);
              const oa = [`d_${skip.sym}`, `d_${p.sym}_c_re`, `d_${p.sym}_c_im`];
              if (this.int) oa.push(`d_${p.sym}_c_mult`, `d_${p.sym}_c_shift`, `d_${p.sym}_state_rr`, `d_${p.sym}_state_ri`);
              else oa.push(`d_${p.sym}_state_xr`, `d_${p.sym}_state_xi`);
              oa.push(`d_${p.sym}_out`);
              this.launch(`${p.sym}__update_output`, `${S}`, oa);
              break;
            }
            case "Dense": {
              if (pop.activation === "softmax") {
                this.launchPerSequence(`${p.sym}__update`, [...ports, `d_${p.sym}_out`]);
              } else {
                const a = [...ports];
                const lut = this.int ? denseLutName(pop.activation) : undefined;
                if (lut) a.push(`d_${p.sym}_lut_${lut}`);
                a.push(`d_${p.sym}_out`);
                this.launch(`${p.sym}__update`, `${S}`, a);
              }
              break;
            }
          }
        }
        this.launchPerSequence(`${p.sym}__compact`, [`d_${p.sym}_out`, `d_${p.sym}_ev_idx`, `d_${p.sym}_ev_cnt`, "d_counters"]);
      }
      this.comment("record: every population's output (events.npy) and the model output");
      const rec = this.int ? "nmc_record_i32" : "nmc_record_f64";
      if (this.int) {
        w.write("if (nmc_record_events)").block(() => {
          for (const p of this.pops) {
            this.launch("nmc_record_i32", `${p.size}`, [`d_${p.sym}_out`, `${p.size}`, "d_events", "nmc_T * NMC_TOTAL_UNITS", `(long long)t * NMC_TOTAL_UNITS + ${p.offset}`]);
          }
        });
      }
      if (this.outPop.pop.kind !== "Readout") {
        const K = this.outPop.size;
        this.launch(rec, `${K}`, [`d_${this.outPop.sym}_out`, `${K}`, "d_y", "nmc_T * NMC_OUTPUT_UNITS", "(long long)t * NMC_OUTPUT_UNITS"]);
      }
      const adv = this.pops.filter((p) => p.needsPrev);
      if (adv.length) this.comment("advance: copies of this tick's outputs for the delay-1 projections of the next tick");
      for (const p of adv) {
        this.launch(`${p.sym}__advance`, `${p.size}`, [...this.args(p, 0), ...this.args(p, 1)]);
      }
    });
    w.blankLine();
    w.write("static void nmc_record_output_final(int nb)").block(() => {
      if (this.outPop.pop.kind === "Readout") {
        const K = this.outPop.size;
        this.launch(this.int ? "nmc_record_i32" : "nmc_record_f64", `${K}`, [`d_${this.outPop.sym}_out`, `${K}`, "d_y", "NMC_OUTPUT_UNITS", "0LL"]);
      } else {
        w.writeLine("(void)nb;");
      }
    });
    w.blankLine();
  }

  private emitCountersJson(): void {
    const w = this.w;
    this.comment("counters.json: runtime/float/counters.ts RunCounters (dense, weight-only and unit-ticks follow from the sizes).");
    w.write("static void nmc_write_counters(const char* dir, const unsigned long long* c, long long B, long long T)").block(() => {
      w.writeLine("char path[4096];");
      w.writeLine("snprintf(path, sizeof path, \"%s/counters.json\", dir);");
      w.writeLine("FILE* f = fopen(path, \"wb\");");
      w.writeLine("if (!f) nmc_fail(1, \"cannot write\", path);");
      w.writeLine("const unsigned long long ticks = (unsigned long long)B * (unsigned long long)T;");
      w.writeLine("fprintf(f, \"{\\\"samples\\\": %lld, \\\"ticks\\\": %llu, \\\"populations\\\": {\", B, ticks);");
      this.pops.forEach((p, k) => {
        const head = `${k ? ", " : ""}${JSON.stringify(p.pop.name)}: {"kind": ${JSON.stringify(p.pop.kind)}, "size": ${p.size}, "events": `;
        w.writeLine(`fputs(${cString(head)}, f);`);
        w.writeLine(`fprintf(f, "%llu, \\"unitTicks\\": %llu}", c[${p.index}], ${p.size}ULL * ticks);`);
      });
      w.writeLine("fputs(\"}, \\\"projections\\\": {\", f);");
      this.projs.forEach((j, k) => {
        const pj = j.proj;
        const nnz = pj.weights.colIdx.length;
        const head = `${k ? ", " : ""}${JSON.stringify(pj.name)}: {"source": ${JSON.stringify(pj.source)}, "target": ${JSON.stringify(pj.target)}, "rows": ${pj.rows}, "cols": ${pj.cols}, "nnz": ${nnz}, "dense": `;
        const eff = this.pops.length + 2 * j.index;
        w.writeLine(`fputs(${cString(head)}, f);`);
        w.writeLine(`fprintf(f, "%llu, \\"effective\\": %llu, \\"activityOnly\\": %llu, \\"weightOnly\\": %llu}", ${pj.rows * pj.cols}ULL * ticks, c[${eff}], c[${eff + 1}], ${nnz}ULL * ticks);`);
      });
      w.writeLine("fputs(\"}}\\n\", f);");
      w.writeLine("if (fclose(f) != 0) nmc_fail(1, \"cannot write\", path);");
    });
    w.blankLine();
  }

  private emitMain(): void {
    const w = this.w;
    const V = this.V;
    const descr = this.int ? "<i4" : "<f8";
    this.comment(
      "prog <params.bin> <input.npy> <out_dir> [--no-events] [--chunk N]   (N: sequences run side by side, 1 to 4096)",
      `input.npy: ${this.int ? "int32 (<i4) quantized inputs (runtime/golden quantizeInputs; token ids for a token input)" : "float64 (<f8) inputs (token ids for a token input)"} [B, T, C]`,
      `writes out_dir/output.npy (${this.int ? "int32 outputQ" : "float64 output"}; [B, T, K], or [B, K] for a Readout output),`,
      this.int ? "out_dir/events.npy (int32 [B, T, total units]: every population's output every tick, graph order) and out_dir/counters.json"
        : "and out_dir/counters.json",
    );
    w.write("int main(int argc, char** argv)").block(() => {
      w.writeLine("nmc_check_host();");
      w.write("if (argc < 4)").block(() => {
        w.writeLine("fprintf(stderr, \"usage: %s <params.bin> <input.npy> <out_dir> [--no-events] [--chunk N]\\n\", argv[0]);");
        w.writeLine("return 2;");
      });
      w.writeLine(`nmc_record_events = ${this.int ? 1 : 0};`);
      w.writeLine("long long chunk = 4096;");
      w.write("for (int a = 4; a < argc; ++a)").block(() => {
        w.writeLine("if (strcmp(argv[a], \"--no-events\") == 0) nmc_record_events = 0;");
        w.writeLine("else if (strcmp(argv[a], \"--chunk\") == 0 && a + 1 < argc && atoll(argv[a + 1]) >= 1 && atoll(argv[a + 1]) <= 4096) chunk = atoll(argv[++a]);");
        w.writeLine("else { fprintf(stderr, \"nmc-cuda: unknown option %s\\n\", argv[a]); return 2; }");
      });
      w.writeLine("nmc_init_device();");
      w.writeLine("nmc_load_params(argv[1]);");
      w.writeLine("nmc_npy x;");
      w.writeLine(`nmc_read_npy(argv[2], "${descr}", sizeof(${V}), &x);`);
      w.write("if (x.ndim != 3 || x.shape[2] != NMC_INPUT_CHANNELS)").block(() => {
        w.writeLine("fprintf(stderr, \"nmc-cuda: %s: expected an input of shape [B, T, %lld]\\n\", argv[2], NMC_INPUT_CHANNELS);");
        w.writeLine("return 2;");
      });
      w.writeLine("const long long B = x.shape[0], T = x.shape[1], C = x.shape[2];");
      w.writeLine("nmc_T = T;");
      this.comment("sequences per chunk: at most --chunk (default and limit 4096 grid rows), and the chunk's event record below 2^26 values");
      w.writeLine("long long nbmax = B < chunk ? B : chunk;");
      w.writeLine("const long long per = T * NMC_TOTAL_UNITS;");
      w.writeLine("if (nmc_record_events && per > 0 && nbmax > (1LL << 26) / per) nbmax = (1LL << 26) / per;");
      w.writeLine("if (nbmax < 1) nbmax = 1;");
      w.writeLine("nmc_alloc_state(nbmax);");
      w.writeLine(`d_x = (${V}*)nmc_device_alloc((size_t)(nbmax * T * C) * sizeof(${V}));`);
      w.writeLine("const long long ystep = NMC_OUTPUT_READOUT ? NMC_OUTPUT_UNITS : T * NMC_OUTPUT_UNITS;");
      w.writeLine(`d_y = (${V}*)nmc_device_alloc((size_t)(nbmax * ystep) * sizeof(${V}));`);
      w.writeLine("if (nmc_record_events) d_events = (int32_t*)nmc_device_alloc((size_t)(nbmax * per) * sizeof(int32_t));");
      w.writeLine(`${V}* hy = (${V}*)calloc((size_t)(B * ystep) + 1, sizeof(${V}));`);
      w.writeLine("int32_t* hev = nmc_record_events ? (int32_t*)calloc((size_t)(B * per) + 1, sizeof(int32_t)) : 0;");
      w.writeLine("if (!hy || (nmc_record_events && !hev)) nmc_fail(1, \"out of host memory for the results\", 0);");
      w.writeLine(`const ${V}* hx = (const ${V}*)x.data;`);
      w.write("for (long long b0 = 0; b0 < B; b0 += nbmax)").block(() => {
        w.writeLine("const int nb = (int)(B - b0 < nbmax ? B - b0 : nbmax);");
        w.writeLine(`if (T * C > 0) NMC_CHECK(cudaMemcpy(d_x, hx + b0 * T * C, (size_t)(nb * T * C) * sizeof(${V}), cudaMemcpyHostToDevice));`);
        w.writeLine("nmc_reset_state(nbmax);");
        w.writeLine(`NMC_CHECK(cudaMemset(d_y, 0, (size_t)(nbmax * ystep) * sizeof(${V})));`);
        w.writeLine("for (long long t = 0; t < T; ++t) nmc_tick(nb, (int)t);");
        w.writeLine("if (T > 0) nmc_record_output_final(nb);");
        w.writeLine("NMC_CHECK(cudaDeviceSynchronize());");
        w.writeLine(`NMC_CHECK(cudaMemcpy(hy + b0 * ystep, d_y, (size_t)(nb * ystep) * sizeof(${V}), cudaMemcpyDeviceToHost));`);
        w.writeLine("if (nmc_record_events && per > 0) NMC_CHECK(cudaMemcpy(hev + b0 * per, d_events, (size_t)(nb * per) * sizeof(int32_t), cudaMemcpyDeviceToHost));");
      });
      w.writeLine("unsigned long long hc[NMC_COUNTER_COUNT];");
      w.writeLine("NMC_CHECK(cudaMemcpy(hc, d_counters, sizeof hc, cudaMemcpyDeviceToHost));");
      w.writeLine("const long long yshape[3] = { B, NMC_OUTPUT_READOUT ? NMC_OUTPUT_UNITS : T, NMC_OUTPUT_UNITS };");
      w.writeLine(`nmc_write_npy(argv[3], "output.npy", "${descr}", yshape, NMC_OUTPUT_READOUT ? 2 : 3, hy, (size_t)(B * ystep) * sizeof(${V}));`);
      w.write("if (nmc_record_events)").block(() => {
        w.writeLine("const long long eshape[3] = { B, T, NMC_TOTAL_UNITS };");
        w.writeLine("nmc_write_npy(argv[3], \"events.npy\", \"<i4\", eshape, 3, hev, (size_t)(B * per) * sizeof(int32_t));");
      });
      w.writeLine("nmc_write_counters(argv[3], hc, B, T);");
      w.writeLine("free(hy);");
      w.writeLine("free(hev);");
      w.writeLine("free(x.file);");
      w.writeLine("nmc_free_all();");
      w.writeLine("printf(\"nmc-cuda: done: %lld sequences x %lld ticks\\n\", B, T);");
      w.writeLine("return 0;");
    });
  }
}

/** A C identifier for a port name used as a kernel parameter. */
function sanitizeLocal(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_]/g, "_");
  return /^[0-9]/.test(s) ? `p_${s}` : `${s}`;
}

/**
 * The .cu source of `graph`: int precision for quantized IR (bit-exact with runtime/golden), float precision
 * for float IR (runtime/float's arithmetic in double). Compiles as real CUDA with nvcc, or as plain C++ with
 * -DNMC_EMULATE. Reads the parameter file of packParams(graph, precision).
 */
export function emitCuda(graph: Graph, opts: EmitOptions): string {
  return new Emitter(graph, opts.precision).emit();
}
