// What the generator knows about a graph before it writes a line: every node's C symbol, its row of the
// renderer table, its ports and incoming projections, its column offset in events.npy, which outputs a
// delay-1 edge needs from the previous tick, and the per-sequence device buffers. Building the plan checks
// the structure the generated program relies on, so emission itself only fails on a kind's own limits.
import { NmcError } from "../../ir/errors.js";
import { irKindOf, type PopOf } from "../../ir/kinds.js";
import { eventTimeFeature, graphTiming } from "../../ir/timing.js";
import type { Graph, PopulationKind, Projection } from "../../ir/types.js";
import { CUDA_OPS } from "./ops/index.js";
import type { CudaOp } from "./ops/types.js";
import { type CudaPrecision, type NodeSymbols, nodeSymbols, type ParamTensor, paramLayout } from "./params.js";

export interface PortInfo {
  name: string;
  /** Device buffer symbol (without the d_ prefix). */
  sym: string;
  width: number;
  /** The parameter symbol of its bias, if it has one. */
  bias: string | null;
}

export interface PopInfo<K extends PopulationKind = PopulationKind> {
  pop: PopOf<K>;
  /** Its row of CUDA_OPS. */
  op: CudaOp<K>;
  /**
   * Its output is one value per sequence (ir/kinds.ts perSequence: a readout): as the model output it is
   * taken once, after the last tick ([B, K]), and no projection or readout may read it.
   */
  perSequence: boolean;
  index: number;
  sym: string;
  size: number;
  /** Column offset of this population in events.npy. */
  offset: number;
  ports: PortInfo[];
  incoming: ProjInfo[];
  /** A delay-1 projection reads this population: keep a copy of the previous tick. */
  needsPrev: boolean;
  /** Steps once every `rate` ticks, emits once every `outRate` (ir/timing.ts; 1 and 1 outside a timed program). */
  rate: number;
  outRate: number;
  /** Its step reads `<sym>_time` (CudaOp.usesTime; timed programs only). */
  usesTime: boolean;
}

export interface ProjInfo {
  proj: Projection;
  index: number;
  sym: string;
  src: PopInfo;
  port: PortInfo;
}

export interface Buffer {
  sym: string;
  ctype: string;
  /** Elements per sequence. */
  perSeq: number;
}

export interface CudaPlan {
  graph: Graph;
  precision: CudaPrecision;
  int: boolean;
  /** Value type of outputs, states and inputs. */
  V: string;
  /** Port accumulator type. */
  P: string;
  /** The right shift of a weight product back to 8-bit weight scale (weight bits − 8; 0 in float). */
  pre: number;
  /** The tensors of params.bin, in file order. */
  layout: ParamTensor[];
  pops: PopInfo[];
  projs: ProjInfo[];
  outPop: PopInfo;
  inputPop: PopInfo;
  inputChannels: number;
  totalUnits: number;
  buffers: Buffer[];
  /**
   * A timed program: the golden (float) engine's multi-rate loop (runtime/golden/interpreter.ts, runtime/float/
   * interpreter.ts runMultiRate) for an event-time input, a population of rate > 1 or a pool / timepool readout. The
   * input file then carries two more channels per tick: Δt (int: in quanta of 2^−dt_frac; float: in ms; 0 without
   * event time) and the sequence's length.
   */
  time: boolean;
  /** The input's own channels (inputChannels without the two time channels). */
  dataChannels: number;
}

/** Whether `graph` needs the timed program (CudaPlan.time): golden runs it in its multi-rate loop. */
export function cudaTimed(graph: Graph): boolean {
  // Every event-time feature (event-time input, wrapping tokens, an event-time DiagonalSSM, EventPooling, the pool and
  // timepool readouts, a rate > 1); on a graph of one rate the multi-rate loop is golden's single-rate loop.
  const t = graphTiming(graph).byName;
  return graph.populations.some((p) => eventTimeFeature(p) !== null || t.get(p.name)!.outRate !== 1);
}

function opOf(kind: PopulationKind): CudaOp<PopulationKind> {
  return CUDA_OPS[kind] as unknown as CudaOp<PopulationKind>;
}

function planPopulations(graph: Graph, syms: NodeSymbols, time: boolean): PopInfo[] {
  let offset = 0;
  const timing = graphTiming(graph).byName;
  return graph.populations.map((pop, index) => {
    const sym = syms.pop.get(pop.name)!;
    const op = opOf(pop.kind);
    const ports: PortInfo[] = pop.ports.map((q) => {
      const biasRole = irKindOf(pop).portBias(pop, q.name);
      return { name: q.name, sym: `${sym}_port_${q.name.replace(/[^A-Za-z0-9_]/g, "_")}`, width: q.width, bias: biasRole ? `${sym}_${biasRole}` : null };
    });
    const tm = timing.get(pop.name)!;
    const info: PopInfo = {
      pop, op, perSequence: time ? tm.perSequence : irKindOf(pop).perSequence, index, sym, size: pop.size, offset, ports, incoming: [], needsPrev: false,
      rate: time ? tm.rate : 1, outRate: time ? tm.outRate : 1, usesTime: time && (op.usesTime?.(pop) ?? false),
    };
    offset += pop.size;
    return info;
  });
}

function planProjections(graph: Graph, syms: NodeSymbols, byName: Map<string, PopInfo>, time: boolean): ProjInfo[] {
  return graph.projections.map((proj, index) => {
    const src = byName.get(proj.source);
    const tgt = byName.get(proj.target);
    if (!src || !tgt) throw new NmcError(`projection ${proj.name} connects unknown populations`, { node: proj.name });
    const port = tgt.ports.find((q) => q.name === proj.port);
    if (!port) throw new NmcError(`projection ${proj.name}: population ${tgt.pop.name} has no port ${proj.port}`, { node: proj.name });
    if (port.width !== proj.cols || src.size !== proj.rows) {
      throw new NmcError(`projection ${proj.name} is ${proj.rows} × ${proj.cols}, but connects ${src.size} units to a port of width ${port.width}`, { node: proj.name });
    }
    // A timed program runs golden's multi-rate loop, where a population after a readout (event-ssm's decoder) steps every tick.
    if (src.perSequence && !time) throw new NmcError(`projection ${proj.name} reads ${src.pop.kind} population ${src.pop.name}`, { node: proj.name });
    if (proj.delay === 1) src.needsPrev = true;
    const info: ProjInfo = { proj, index, sym: syms.proj.get(proj.name)!, src, port };
    tgt.incoming.push(info);
    return info;
  });
}

/** The graph's one input population (the one kind that reads the input file), checked. */
function inputPopulation(graph: Graph, pops: PopInfo[], byName: Map<string, PopInfo>, int: boolean): PopInfo {
  const inputs = pops.filter((p) => p.op.inputChannels);
  const first = byName.get(graph.inputs[0] ?? "");
  if (!first || !first.op.inputChannels || inputs.length !== 1) {
    throw new NmcError("the CUDA backend runs graphs with exactly one Input population, named in graph.inputs");
  }
  if (int && !first.pop.fixed) throw new NmcError(`input population ${first.pop.name} has no fixed-point format`, { node: first.pop.name });
  return first;
}

/** The per-sequence device buffers: outputs and event lists (and their previous-tick copies), ports, states. */
function planBuffers(plan: Omit<CudaPlan, "buffers">): Buffer[] {
  const { V, P, int } = plan;
  const out: Buffer[] = [];
  const buffer = (sym: string, ctype: string, perSeq: number) => out.push({ sym, ctype, perSeq });
  for (const p of plan.pops) {
    buffer(`${p.sym}_out`, V, p.size);
    buffer(`${p.sym}_ev_idx`, "int32_t", p.size);
    buffer(`${p.sym}_ev_cnt`, "int32_t", 1);
    if (p.needsPrev) {
      buffer(`${p.sym}_prev`, V, p.size);
      buffer(`${p.sym}_prev_idx`, "int32_t", p.size);
      buffer(`${p.sym}_prev_cnt`, "int32_t", 1);
    }
    for (const q of p.ports) buffer(q.sym, P, q.width);
    for (const [name, perSeq, ctype] of p.op.state(p.pop, int)) buffer(`${p.sym}_state_${name}`, ctype ?? V, perSeq);
    if (p.usesTime) buffer(`${p.sym}_time`, int ? "nmc_i64" : "double", 2);
  }
  if (int) for (const j of plan.projs) buffer(`${j.sym}_acc`, "unsigned long long", j.proj.cols);
  return out;
}

/** The plan of `graph` for one precision; throws NmcError for a graph the generated program cannot run. */
export function planModel(graph: Graph, precision: CudaPrecision): CudaPlan {
  const int = precision === "int";
  const time = cudaTimed(graph);
  const layout = paramLayout(graph, precision); // also checks precision vs graph and every tensor's size
  const pre = int ? graph.quant!.weightBits - 8 : 0;
  const syms = nodeSymbols(graph);
  const pops = planPopulations(graph, syms, time);
  const byName = new Map(pops.map((p) => [p.pop.name, p]));
  const projs = planProjections(graph, syms, byName, time);
  const outPop = byName.get(graph.outputs[0] ?? "");
  if (!outPop) throw new NmcError("graph has no output population");
  const inputPop = inputPopulation(graph, pops, byName, int);
  for (const p of pops) {
    p.op.check?.(p, (name) => byName.get(name));
    if (int && p.op.needsFixed && !p.pop.fixed) throw new NmcError(`population ${p.pop.name} has no fixed-point format`, { node: p.pop.name });
  }
  const totalUnits = pops.reduce((n, p) => n + p.size, 0);
  const dataChannels = inputPop.op.inputChannels!(inputPop.pop);
  const base = {
    graph, precision, int, V: int ? "int32_t" : "double", P: int ? "nmc_i64" : "double", pre, layout, pops, projs, outPop, inputPop,
    inputChannels: dataChannels + (time ? 2 : 0), totalUnits, time, dataChannels,
  };
  return { ...base, buffers: planBuffers(base) };
}
