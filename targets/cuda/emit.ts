// The CUDA reference backend's code generator: quantized IR (precision "int") or float IR (precision "float")
// → ONE self-contained .cu source. The fixed runtime prelude (prelude.ts) comes first; everything after it
// is written per model: constants, device buffers, one set of kernels per IR node (named after the node),
// the parameter loader (the tensor order of params.ts), the tick loop and the host driver `main`.
//
// Where the parts live: plan.ts checks the graph and lays out symbols and buffers; ops/ holds one renderer
// per population kind (the CUDA_OPS table: its parameters, state, and the int and float kernels of its step);
// kernels.ts the kernels every kind shares (ports, projections, event compaction); host.ts the host driver.
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
import type { Graph } from "../../ir/types.js";
import { Emission } from "./emission.js";
import { writeAllocReset, writeCountersJson, writeLoadParams, writeMain, writeTick } from "./host.js";
import { writePopulationKernels } from "./kernels.js";
import { type CudaPrecision, layoutHash } from "./params.js";
import { planModel } from "./plan.js";
import { CUDA_PRELUDE } from "./prelude.js";
import { renderExpDecayCuda } from "./fixed-exp.js";
import { renderTimeCuda } from "./time.js";
import { KIND_CTYPE, show } from "./writer.js";

export { CUDA_PRELUDE } from "./prelude.js";
export { cString } from "./writer.js";

export interface EmitOptions {
  precision: CudaPrecision;
}

/** The model's banner and its compile-time constants. */
function writeDefines(e: Emission): void {
  const { w, plan } = e;
  const { pops, projs, outPop } = plan;
  e.comment(
    `==== model ${show(plan.graph.name)}: ${e.int ? "int variant (quantized IR; bit-exact with the golden interpreter)" : "float variant (float IR; the float interpreter's arithmetic in double)"} ====`,
    `populations (graph order): ${pops.map((p) => `${show(p.pop.name)} ${p.pop.kind} [${p.size}]`).join(", ")}`,
    `output: ${show(outPop.pop.name)}${outPop.perSequence ? " (readout: output [B, K])" : " (output [B, T, K])"}`,
  );
  w.writeLine(`#define NMC_PRECISION_INT ${e.int ? 1 : 0}`);
  w.writeLine(`#define NMC_PARAM_COUNT ${plan.layout.length}u`);
  w.writeLine(`#define NMC_LAYOUT_HASH 0x${layoutHash(plan.layout, plan.precision).toString(16).padStart(16, "0")}ULL`);
  w.writeLine(`#define NMC_INPUT_CHANNELS ${plan.inputChannels}LL`);
  w.writeLine(`#define NMC_TOTAL_UNITS ${plan.totalUnits}LL`);
  w.writeLine(`#define NMC_OUTPUT_UNITS ${outPop.size}LL`);
  w.writeLine(`#define NMC_OUTPUT_READOUT ${outPop.perSequence ? 1 : 0}`);
  if (plan.time) {
    e.comment(`timed program: input channels = ${plan.dataChannels} model channels + Δt (${plan.int ? "quanta" : "ms"}) + length; the output emits once every NMC_OUTPUT_RATE ticks`);
    w.writeLine(`#define NMC_DATA_CHANNELS ${plan.dataChannels}LL`);
    w.writeLine(`#define NMC_OUTPUT_RATE ${outPop.outRate}LL`);
  }
  w.writeLine(`#define NMC_POP_COUNT ${pops.length}`);
  w.writeLine(`#define NMC_PROJ_COUNT ${projs.length}`);
  e.comment("device counters: events per population [0, NMC_POP_COUNT), then effective and activity-only per projection");
  w.writeLine(`#define NMC_COUNTER_COUNT ${pops.length + 2 * projs.length + 1}`);
  w.blankLine();
}

function writeParamDecls(e: Emission): void {
  e.comment("---- parameters (device copies of the tensors of params.bin, in file order) ----");
  for (const t of e.plan.layout) e.w.writeLine(`static ${KIND_CTYPE[t.kind]}* d_${t.symbol} = 0; // ${show(t.node)} ${t.role} [${t.data.length}]`);
  e.w.blankLine();
}

function writeBufferDecls(e: Emission): void {
  const { w, V } = e;
  e.comment("---- per-sequence device buffers ([chunk sequences, n] each) ----");
  for (const b of e.plan.buffers) w.writeLine(`static ${b.ctype}* d_${b.sym} = 0; // ${b.perSeq} per sequence`);
  w.writeLine("static unsigned long long* d_counters = 0;");
  w.writeLine(`static ${V}* d_x = 0; // the chunk's input [nb, T, C]`);
  w.writeLine(`static ${V}* d_y = 0; // the chunk's output [nb, T, K] or [nb, K]`);
  w.writeLine("static int32_t* d_events = 0; // the chunk's events [nb, T, NMC_TOTAL_UNITS] (int variant)");
  w.writeLine("static long long nmc_T = 0;");
  w.writeLine("static int nmc_record_events = 0;");
  w.blankLine();
}

/**
 * The .cu source of `graph`: int precision for quantized IR (bit-exact with runtime/golden), float precision
 * for float IR (runtime/float's arithmetic in double). Compiles as real CUDA with nvcc, or as plain C++ with
 * -DNMC_EMULATE. Reads the parameter file of packParams(graph, precision).
 */
export function emitCuda(graph: Graph, opts: EmitOptions): string {
  const e = new Emission(planModel(graph, opts.precision));
  writeDefines(e);
  writeParamDecls(e);
  writeBufferDecls(e);
  for (const p of e.plan.pops) writePopulationKernels(e, p);
  writeLoadParams(e);
  writeAllocReset(e);
  writeTick(e);
  writeCountersJson(e);
  writeMain(e);
  // Only a timed program carries the time helpers, and only an event-time DiagonalSSM the per-event decay: every
  // other model's source is what it was before either existed.
  const eventSsm = graph.populations.some((p) => p.kind === "DiagonalSSM" && p.discretization !== undefined);
  const extra = (e.plan.time ? `${renderTimeCuda(e.int)}\n` : "") + (eventSsm && e.int ? `${renderExpDecayCuda()}\n` : "");
  return `${CUDA_PRELUDE}\n${extra}${e.w.toString()}`;
}
