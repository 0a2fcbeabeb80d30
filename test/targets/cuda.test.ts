// The CUDA reference backend (targets/cuda) against the reference engines:
//  - the C fixed-point primitives of the prelude against runtime/fixed, on random and edge inputs;
//  - the emulation build (the same .cu source compiled as C++ with -DNMC_EMULATE) against the golden
//    interpreter, bit for bit: model output, every population's output every tick, and the counters, on
//    random quantized models and on the egru-smnist example;
//  - the float variant against runtime/float's runFloat to 1e-5 relative;
//  - nvcc builds the real-CUDA source (device code included) when nvcc is installed; without a GPU the
//    binary exits with code 3 and says so; with one, it matches the golden interpreter too.
// Compiling tests are skipped (their names say so) only when neither g++ nor nvcc is installed.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compileQuantized } from "../../compiler/pipeline.js";
import { loadModel } from "../../compiler/frontend/index.js";
import { csrFromDense, GraphBuilder } from "../../ir/builder.js";
import { NmcError } from "../../ir/errors.js";
import type { Graph, Lut } from "../../ir/types.js";
import {
  cmulImQ15, cmulReQ15, lutIndex, requantizeMS, roundDiv, roundShift, sat16, sat32, saturate,
} from "../../runtime/fixed/index.js";
import type { RunCounters } from "../../runtime/counters.js";
import { runFloat } from "../../runtime/float/interpreter.js";
import { type SequenceBatch } from "../../runtime/batch.js";
import { erf, gelu, sigmoid } from "../../runtime/float/math.js";
import { readoutUnits } from "../../runtime/golden/kernels.js";
import { runGolden } from "../../runtime/golden/interpreter.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
import { readNpy } from "../../runtime/io/npy.js";
import {
  buildCuda, compilerAvailable, CUDA_PRELUDE, emitCuda, gpuAvailable, layoutHash, nodeSymbols, packParams, paramLayout, runCuda,
} from "../../targets/cuda/index.js";
import { buildGraph, type GraphShape, graphShapeArb } from "../support/graphs.js";
import {
  ACTS, buildModel, makeBatch as makeQuantBatch, modelArb, type QuantOpts, quantOptsArb, scaled,
} from "../support/quant-models.js";

const HAVE_CC = compilerAvailable("emulation");
const HAVE_NVCC = compilerAvailable("gpu");
const HAVE_GPU = gpuAvailable();
const NO_CC = " — SKIPPED: neither g++ nor nvcc is installed";
const cc = (name: string) => (HAVE_CC ? name : `${name}${NO_CC}`);
const nv = (name: string) => (HAVE_NVCC ? name : `${name} — SKIPPED: nvcc is not installed`);

let cacheDir = "";
let savedCache: string | undefined;
beforeAll(() => {
  // A private build cache: the tests compile from scratch and leave nothing behind.
  savedCache = process.env.NMC_CUDA_CACHE;
  cacheDir = mkdtempSync(join(tmpdir(), "nmc-cuda-test-cache-"));
  process.env.NMC_CUDA_CACHE = cacheDir;
});
afterAll(() => {
  if (savedCache === undefined) delete process.env.NMC_CUDA_CACHE;
  else process.env.NMC_CUDA_CACHE = savedCache;
  if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------------------
// Random float models (test/support/quant-models.ts: EGRU, DiagonalSSM and Dense layers in a chain, skip and
// delay-1 feedback edges, token or value inputs, readouts, pruned weights)
// ---------------------------------------------------------------------------------------------------------

/** This file's ranges: layers up to 7 units, inputs up to 5 wide (SSM states up to 4, the default). */
const cudaModelArb = modelArb({ maxSize: 7, maxInputs: 5 });

/** Random inputs for a float graph: values uniform in ±amp, or token ids (data [B, T], a Float64Array). */
const makeBatch = (g: Graph, seed: number, B: number, T: number, amp: number): SequenceBatch =>
  makeQuantBatch(g, seed, B, T, amp, { tokens: "float64" });

/** Two batches of the same T and C, one after the other. */
function concat(a: SequenceBatch, b: SequenceBatch): SequenceBatch {
  const data = new Float64Array(a.data.length + b.data.length);
  data.set(Array.from(a.data));
  data.set(Array.from(b.data), a.data.length);
  return { data, batch: a.batch + b.batch, ticks: a.ticks, channels: a.channels };
}

/** Weight sparsity 0.5 (pruned through compileQuantized) in a third of the draws. */
const cudaQuantOptsArb = quantOptsArb({ weightSparsities: [undefined, undefined, 0.5] });

function quantize(g: Graph, cal: SequenceBatch, o: QuantOpts): Graph {
  const input = g.populations.find((p) => p.name === g.inputs[0])!;
  const tokens = input.kind === "Input" && input.encoding === "tokens";
  return compileQuantized(g, {
    calibration: { data: cal.data, shape: tokens ? [cal.batch, cal.ticks] : [cal.batch, cal.ticks, cal.channels], label: "test calibration" },
    weightBits: o.weightBits, stateBits: o.stateBits, lutBits: o.lutBits, range: o.range, weightSparsity: o.weightSparsity,
  }).quantized;
}

// ---------------------------------------------------------------------------------------------------------
// Golden trace and comparison
// ---------------------------------------------------------------------------------------------------------

interface Trace {
  outputQ: Int32Array;
  outputShape: number[];
  events: Int32Array;
  counters: RunCounters;
}

/** The golden run with every population's output every tick, [B, T, total units] in graph order. */
function goldenTrace(q: Graph, batch: SequenceBatch): Trace {
  const U = q.populations.reduce((n, p) => n + p.size, 0);
  const off: number[] = [];
  let o = 0;
  for (const p of q.populations) { off.push(o); o += p.size; }
  const T = batch.ticks;
  const events = new Int32Array(batch.batch * T * U);
  const run = runGolden(q, batch, { observer: (pi, out, b, t) => events.set(out, (b * T + t) * U + off[pi]) });
  return { outputQ: run.outputQ, outputShape: run.outputShape, events, counters: run.counters };
}

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): string | null {
  if (a.length !== b.length) return `length ${a.length} vs ${b.length}`;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `[${i}]: cuda ${a[i]} vs golden ${b[i]}`;
  return null;
}

/** Where in [B, T, U] flat index i of the events lies: "sample b, tick t, population p unit u". */
function whereEvent(q: Graph, T: number, i: number): string {
  const U = q.populations.reduce((n, p) => n + p.size, 0);
  const b = Math.floor(i / (T * U)), t = Math.floor(i / U) % T;
  let u = i % U;
  for (const p of q.populations) {
    if (u < p.size) return `sample ${b}, tick ${t}, population ${p.name} unit ${u}`;
    u -= p.size;
  }
  return "?";
}

/** Runs the emulation build and the golden engine on `batch`; expects identical outputs, events and counters. */
function expectBitExact(q: Graph, batch: SequenceBatch, label: string, chunk?: number): Trace {
  const gold = goldenTrace(q, batch);
  const run = runCuda(q, batch, { precision: "int", mode: "emulation", chunk });
  expect(run.mode).toBe("emulation");
  expect(run.ranOn).toMatch(/host emulation/);
  expect(run.outputShape, `${label}: output shape`).toEqual(gold.outputShape);
  expect(firstDiff(run.outputQ!, gold.outputQ), `${label}: outputQ`).toBeNull();
  const d = firstDiff(run.events!, gold.events);
  if (d !== null) {
    let i = 0;
    while (i < gold.events.length && run.events![i] === gold.events[i]) i++;
    expect.fail(`${label}: events differ at ${whereEvent(q, batch.ticks, i)}: ${d}`);
  }
  expect(run.eventsShape).toEqual([batch.batch, batch.ticks, q.populations.reduce((n, p) => n + p.size, 0)]);
  expect(run.counters, `${label}: counters`).toEqual(gold.counters);
  return gold;
}

/** The kinds a quantized graph exercises, for the coverage check. */
function kindsOf(q: Graph, o: QuantOpts): string[] {
  const out = [`w${o.weightBits}`];
  for (const p of q.populations) {
    if (p.kind === "Dense") out.push(`Dense:${p.activation}`);
    else if (p.kind === "DiagonalSSM") out.push(`SSM:${p.fixed!.stateBits}`);
    else if (p.kind === "Readout") out.push(`Readout:${p.mode}`);
    else if (p.kind === "Input") out.push(`Input:${p.encoding}`);
    else out.push(p.kind);
  }
  if (q.projections.some((j) => j.delay === 1)) out.push("delay1");
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Tests that need no compiler
// ---------------------------------------------------------------------------------------------------------

describe("cuda target: emitted source and parameter file", () => {
  const g = buildGraph({ seed: 11, inputs: 3, egru: 4, state: 2, dense: 3, pruneFraction: 0.3, readout: "mean" });
  const cal = makeBatch(g, 5, 2, 5, 1);
  const q = quantize(g, cal, { weightBits: 8, stateBits: 16, range: { kind: "max" } });

  it("names kernels after IR nodes and comments them with the node name and kind", () => {
    const src = emitCuda(q, { precision: "int" });
    for (const k of [
      "pop_x__input", "pop_egru__load_ports", "proj_egru_kernel__accumulate", "proj_egru_kernel__requantize",
      "proj_egru_recurrent_kernel__accumulate", "pop_egru__saturate_ports", "pop_egru__update", "pop_egru__compact", "pop_egru__advance",
      "pop_ssm__update_state", "pop_ssm__update_output", "pop_dense__update", "pop_readout__update",
    ]) expect(src, k).toContain(`__global__ void ${k}(`);
    expect(src).toContain('// population "egru" (EGRU, 4 units)');
    expect(src).toContain('// projection "egru.recurrent_kernel" ("egru" → "egru".recurrent, delay 1');
    expect(src).toContain("#ifdef NMC_EMULATE");
    expect(src).toContain("kernel<<<(grid), (block)>>>(__VA_ARGS__)");
    expect(src).toContain("cudaGetDeviceCount");
    const fsrc = emitCuda(g, { precision: "float" });
    expect(fsrc).toContain("__global__ void pop_egru__update(");
    expect(fsrc).not.toContain("__requantize(");
  });

  it("packs the parameters in the layout the source expects (magic, version, precision, layout hash, tensors)", () => {
    for (const [graph, precision] of [[q, "int"], [g, "float"]] as const) {
      const bytes = packParams(graph, precision);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe("NMCPARM1");
      expect(dv.getUint32(8, true)).toBe(1);
      expect(dv.getUint32(12, true)).toBe(precision === "int" ? 0 : 1);
      const layout = paramLayout(graph, precision);
      const hash = layoutHash(layout, precision);
      expect(dv.getBigUint64(16, true)).toBe(hash);
      expect(dv.getUint32(24, true)).toBe(layout.length);
      expect(emitCuda(graph, { precision })).toContain(`#define NMC_LAYOUT_HASH 0x${hash.toString(16).padStart(16, "0")}ULL`);
      let o = 32;
      for (const t of layout) {
        const kind = dv.getUint32(o, true), n = Number(dv.getBigUint64(o + 8, true));
        expect(n, t.symbol).toBe(t.data.length);
        expect(kind).toBe(t.kind === "i32" ? 1 : t.kind === "u32" ? 2 : 3);
        const size = t.kind === "f64" ? 8 : 4;
        for (let k = 0; k < n; k++) {
          const v = t.kind === "f64" ? dv.getFloat64(o + 16 + 8 * k, true) : t.kind === "i32" ? dv.getInt32(o + 16 + 4 * k, true) : dv.getUint32(o + 16 + 4 * k, true);
          if (v !== t.data[k]) expect.fail(`${t.symbol}[${k}] = ${v}, tensor has ${t.data[k]}`);
        }
        o += 16 + ((n * size + 7) & ~7);
      }
      expect(o).toBe(bytes.length);
    }
    expect(paramLayout(q, "int").map((t) => t.symbol).slice(0, 6)).toEqual([
      "pop_egru_bias_x", "pop_egru_bias_h", "pop_egru_thr", "pop_egru_lut_sigmoid", "pop_egru_lut_tanh", "pop_ssm_lambda_re",
    ]);
  });

  it("makes C identifiers of any node name, unique and recognizable", () => {
    const odd = buildModel({
      seed: 3, encoding: "values", inputs: 2, layers: [{ kind: "dense", size: 2, state: 1, act: "linear" }, { kind: "egru", size: 2, state: 1, act: "linear" }, { kind: "dense", size: 2, state: 1, act: "relu" }],
      skip: false, feedback: false, readout: "none", weightScale: 1, pruneFraction: 0, oddNames: true,
    });
    const s = nodeSymbols(odd);
    const pops = [...s.pop.values()];
    expect(new Set(pops).size).toBe(pops.length);
    for (const v of [...pops, ...s.proj.values()]) expect(v).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
    expect(s.pop.get("dense/0")).toBe("pop_dense_0");
    expect(s.pop.get("egru.1")).toBe("pop_egru_1");
    // names that sanitize alike stay apart
    const clash = nodeSymbols({ ...odd, populations: ["a.b", "a_b", "a b", "7"].map((name) => ({ ...odd.populations[0], name })), projections: [] });
    expect([...clash.pop.values()]).toEqual(["pop_a_b", "pop_a_b_2", "pop_a_b_3", "pop_7"]);
  });

  it("refuses what it cannot run: float IR as int, quantized IR as float", () => {
    expect(() => emitCuda(g, { precision: "int" })).toThrow(NmcError);
    expect(() => emitCuda(q, { precision: "float" })).toThrow(NmcError);
    expect(() => packParams(g, "int")).toThrow(/quantized IR/);
  });
});

// ---------------------------------------------------------------------------------------------------------
// The C primitives against runtime/fixed
// ---------------------------------------------------------------------------------------------------------

const HARNESS = String.raw`
#include <string.h>
// Reads "op args..." lines from stdin and prints one result per line.
int main(void) {
  char op[16];
  while (scanf("%15s", op) == 1) {
    long long a = 0, b = 0, c = 0, d = 0, e = 0;
    double x = 0;
    if (!strcmp(op, "rs")) { scanf("%lld %lld", &a, &b); printf("%lld\n", nmc_round_shift(a, (int)b)); }
    else if (!strcmp(op, "sat16")) { scanf("%lld", &a); printf("%lld\n", nmc_sat16(a)); }
    else if (!strcmp(op, "sat32")) { scanf("%lld", &a); printf("%lld\n", nmc_sat32(a)); }
    else if (!strcmp(op, "sat")) { scanf("%lld %lld", &a, &b); printf("%lld\n", nmc_saturate(a, (int)b)); }
    else if (!strcmp(op, "rq")) { scanf("%lld %lld %lld", &a, &b, &c); printf("%lld\n", nmc_requantize(a, b, (int)c)); }
    else if (!strcmp(op, "cre")) { scanf("%lld %lld %lld %lld", &a, &b, &c, &d); printf("%lld\n", nmc_cmul_re_q15(a, b, c, d)); }
    else if (!strcmp(op, "cim")) { scanf("%lld %lld %lld %lld", &a, &b, &c, &d); printf("%lld\n", nmc_cmul_im_q15(a, b, c, d)); }
    else if (!strcmp(op, "lut")) { scanf("%lld %lld %lld %lld", &a, &b, &c, &d); printf("%d\n", nmc_lut_index(a, b, (int)c, (int)d)); }
    else if (!strcmp(op, "rdiv")) { scanf("%lld %lld", &a, &b); printf("%lld\n", nmc_round_div(a, b)); }
    else if (!strcmp(op, "ro")) {
      scanf("%lld %lld %lld %lld", &a, &b, &c, &d);
      int32_t sum = (int32_t)c;
      e = nmc_readout_step((int)a, b, &sum, (int)d);
      printf("%lld %d\n", e, sum);
    }
    else if (!strcmp(op, "sig")) { scanf("%lf", &x); printf("%.17g\n", nmc_sigmoid(x)); }
    else if (!strcmp(op, "erf")) { scanf("%lf", &x); printf("%.17g\n", nmc_erf(x)); }
    else if (!strcmp(op, "gelu")) { scanf("%lf", &x); printf("%.17g\n", nmc_gelu(x)); }
    else { printf("?\n"); }
  }
  return 0;
}
`;

type Case =
  | { op: "rs"; x: number; s: number }
  | { op: "sat16" | "sat32"; x: number }
  | { op: "sat"; x: number; bits: number }
  | { op: "rq"; x: number; m: number; s: number }
  | { op: "cre" | "cim"; a: number; b: number; c: number; d: number }
  | { op: "lut"; x: number; lo: number; stepLog2: number; inFrac: number; size: number }
  | { op: "rdiv"; a: number; n: number }
  | { op: "ro"; mode: 0 | 1 | 2; src: number; sum: number; t: number }
  | { op: "sig" | "erf" | "gelu"; v: number };

function caseLine(c: Case): string {
  switch (c.op) {
    case "rs": return `rs ${c.x} ${c.s}`;
    case "sat16": case "sat32": return `${c.op} ${c.x}`;
    case "sat": return `sat ${c.x} ${c.bits}`;
    case "rq": return `rq ${c.x} ${c.m} ${c.s}`;
    case "cre": case "cim": return `${c.op} ${c.a} ${c.b} ${c.c} ${c.d}`;
    case "lut": return `lut ${c.x} ${c.lo * 2 ** c.inFrac} ${c.inFrac - c.stepLog2} ${c.size}`;
    case "rdiv": return `rdiv ${c.a} ${c.n}`;
    case "ro": return `ro ${c.mode} ${c.src} ${c.sum} ${c.t}`;
    case "sig": case "erf": case "gelu": return `${c.op} ${c.v.toPrecision(17)}`;
  }
}

/** What runtime/fixed (or runtime/float/math) says, as the harness prints it. */
function expected(c: Case): string | number {
  switch (c.op) {
    case "rs": return String(roundShift(c.x, c.s));
    case "sat16": return String(sat16(c.x));
    case "sat32": return String(sat32(c.x));
    case "sat": return String(saturate(c.x, c.bits));
    case "rq": return String(requantizeMS(c.x, c.m, c.s));
    case "cre": return String(cmulReQ15(c.a, c.b, c.c, c.d));
    case "cim": return String(cmulImQ15(c.a, c.b, c.c, c.d));
    case "lut": {
      const lut: Lut = { name: "t", lo: c.lo, stepLog2: c.stepLog2, inFrac: c.inFrac, outFrac: 14, table: new Int16Array(c.size) };
      return String(lutIndex(lut, c.x));
    }
    case "rdiv": return String(roundDiv(c.a, c.n));
    case "ro": {
      const sum = Int32Array.of(c.sum), out = new Int32Array(1);
      readoutUnits((["last", "mean", "sum"] as const)[c.mode], 1, Int32Array.of(c.src), sum, out, c.t);
      return `${out[0]} ${sum[0]}`;
    }
    case "sig": return sigmoid(c.v);
    case "erf": return erf(c.v);
    case "gelu": return gelu(c.v);
  }
}

const int = (lo: number, hi: number) => fc.integer({ min: lo, max: hi });
const I32 = int(-(2 ** 31), 2 ** 31 - 1);
/** Integers below 2^bits in magnitude, with small values and powers of two over-represented. */
const mag = (bits: number) => fc.oneof(
  fc.double({ min: -(2 ** bits) + 1, max: 2 ** bits - 1, noNaN: true }).map(Math.trunc).map((v) => (v === 0 ? 0 : v)),
  int(-1000, 1000),
  fc.tuple(int(0, bits - 1), fc.boolean(), int(-1, 1)).map(([e, neg, k]) => (neg ? -1 : 1) * 2 ** e + k),
);

const caseArb: fc.Arbitrary<Case> = fc.oneof(
  fc.record({ op: fc.constant("rs" as const), x: mag(51), s: int(0, 52) }),
  // exact ties: x = (2k + 1) · 2^(s−1), both signs
  fc.tuple(int(1, 40), int(-(2 ** 10), 2 ** 10)).map(([s, k]): Case => ({ op: "rs", x: (2 * k + 1) * 2 ** (s - 1), s })),
  fc.record({ op: fc.constant("rs" as const), x: mag(40), s: int(-8, -1) }),
  fc.record({ op: fc.constantFrom("sat16" as const, "sat32" as const), x: mag(51) }),
  fc.record({ op: fc.constant("sat" as const), x: mag(51), bits: fc.constantFrom(8, 16, 32) }),
  fc.record({ op: fc.constant("rq" as const), x: I32, m: fc.oneof(int(2 ** 14, 2 ** 15 - 1), fc.constant(0)), s: int(0, 52) }),
  fc.record({ op: fc.constantFrom("cre" as const, "cim" as const), a: I32, b: I32, c: int(-(2 ** 15), 2 ** 15), d: int(-(2 ** 15), 2 ** 15) }),
  fc.record({ op: fc.constantFrom("cre" as const, "cim" as const), a: int(-32768, 32767), b: int(-32768, 32767), c: int(-(2 ** 15), 2 ** 15), d: int(-(2 ** 15), 2 ** 15) }),
  // LUT inputs around and on bin edges, below and above the table, and far out (33-bit gate sums); tables of
  // 2^bits entries (lutBits 8…12: the bin halves per extra bit)
  fc.tuple(fc.constantFrom(-8, -4), fc.constantFrom(4, 5), int(8, 12), int(0, 35), int(-300, 4400), int(-2, 2), fc.boolean())
    .map(([lo, base, bits, extra, bin, k, far]): Case => {
      const stepLog2 = base + bits - 8, size = 2 ** bits;
      const inFrac = stepLog2 + extra;
      const loQ = lo * 2 ** inFrac;
      const x = far ? (k < 0 ? -1 : 1) * 2 ** 33 + bin : loQ + bin * 2 ** (inFrac - stepLog2) + k;
      return { op: "lut", x, lo, stepLog2, inFrac, size };
    }),
  fc.tuple(mag(44), fc.constantFrom(-8, -4), fc.constantFrom(4, 5), int(8, 12), int(0, 31))
    .map(([x, lo, base, bits, extra]): Case => ({ op: "lut", x, lo, stepLog2: base + bits - 8, inFrac: base + bits - 8 + extra, size: 2 ** bits })),
  fc.record({ op: fc.constant("rdiv" as const), a: mag(50), n: fc.oneof(int(1, 10), int(1, 2 ** 20)) }),
  // exact ties: a / n = k ± 1/2
  fc.tuple(int(-(2 ** 30), 2 ** 30), int(1, 32), fc.boolean()).map(([k, h, neg]): Case => ({ op: "rdiv", a: (neg ? -1 : 1) * (Math.abs(k) * 2 * h + h), n: 2 * h })),
  fc.record({ op: fc.constant("ro" as const), mode: fc.constantFrom(0 as const, 1 as const, 2 as const), src: fc.oneof(int(-32768, 32767), I32), sum: I32, t: int(0, 2000) }),
  fc.record({ op: fc.constantFrom("sig" as const, "erf" as const, "gelu" as const), v: fc.double({ min: -40, max: 40, noNaN: true }) }),
);

/** Edge cases every run checks, besides the random ones. */
const EDGES: Case[] = [
  ...[0, 1, -1, 2, -2, 3, -3, 5, -5, 6, -6, 7, -7, 2 ** 51 - 1, -(2 ** 51) + 1].flatMap((x) => [1, 2, 14, 15, 30, 52].map((s): Case => ({ op: "rs", x, s }))),
  { op: "rs", x: 0, s: 0 }, { op: "rs", x: -5, s: 0 },
  ...[32767, 32768, -32768, -32769, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1].flatMap((x): Case[] => [{ op: "sat16", x }, { op: "sat32", x }, { op: "sat", x, bits: 16 }, { op: "sat", x, bits: 32 }]),
  { op: "rq", x: 2 ** 31 - 1, m: 2 ** 15 - 1, s: 0 }, { op: "rq", x: -(2 ** 31), m: 2 ** 15 - 1, s: 0 }, { op: "rq", x: -(2 ** 31), m: 2 ** 15 - 1, s: 52 },
  { op: "rq", x: -3, m: 16384, s: 15 }, { op: "rq", x: 3, m: 16384, s: 15 }, { op: "rq", x: -1, m: 16384, s: 15 },
  { op: "cre", a: 2 ** 31 - 1, b: -(2 ** 31), c: 2 ** 15, d: 2 ** 15 }, { op: "cim", a: -(2 ** 31), b: -(2 ** 31), c: -(2 ** 15), d: -(2 ** 15) },
  ...[-8, -4].flatMap((lo) => [4, 5].flatMap((base) => [8, 10, 12].flatMap((bits) => [0, 9, 35].flatMap((extra) => {
    const st = base + bits - 8, inF = st + extra, n = 2 ** bits;
    const loQ = lo * 2 ** inF, w = 2 ** (inF - st);
    return [loQ - 1, loQ, loQ + 1, loQ + w - 1, loQ + w, loQ + (n - 1) * w - 1, loQ + (n - 1) * w, loQ + n * w, -1, 0, 1, -(2 ** 33), 2 ** 33]
      .map((x): Case => ({ op: "lut", x, lo, stepLog2: st, inFrac: inF, size: n }));
  })))),
  ...[[5, 2], [-5, 2], [3, 2], [-3, 2], [7, 2], [-7, 2], [1, 3], [-1, 3], [0, 7], [2 ** 31 - 1, 1], [-(2 ** 31), 3]].map(([a, n]): Case => ({ op: "rdiv", a, n })),
  { op: "ro", mode: 2, src: 2 ** 31 - 1, sum: 2 ** 31 - 1, t: 3 }, { op: "ro", mode: 2, src: -(2 ** 31), sum: -5, t: 0 },
  { op: "ro", mode: 1, src: -3, sum: 0, t: 1 }, { op: "ro", mode: 1, src: 3, sum: 0, t: 1 }, { op: "ro", mode: 0, src: 7, sum: 123, t: 9 },
  ...[0, -0.5, 0.5, 2.9999, 3, 3.0001, -3, -6, 6, 1e-300, -37].flatMap((v): Case[] => [{ op: "sig", v }, { op: "erf", v }, { op: "gelu", v }]),
];

describe("cuda target: C fixed-point primitives = runtime/fixed", () => {
  let exe = "";
  const runHarness = (cases: Case[]): string[] => {
    const r = spawnSync(exe, [], { input: cases.map(caseLine).join("\n") + "\n", encoding: "utf8", maxBuffer: 64 << 20 });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.split("\n").slice(0, cases.length);
  };
  const mismatch = (cases: Case[]): string | null => {
    const got = runHarness(cases);
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i], want = expected(c), g = got[i];
      if (typeof want === "number") {
        const v = Number(g);
        // float helpers: the same operations; libm's exp may differ from V8's by an ulp or so
        if (!(Math.abs(v - want) <= 1e-14 * Math.max(1, Math.abs(want)))) return `${caseLine(c)}: C ${g}, JS ${want}`;
      } else if (g !== want) return `${caseLine(c)}: C ${g}, runtime/fixed ${want}`;
    }
    return null;
  };

  it.skipIf(!HAVE_CC)(cc("edge cases and hundreds of random cases per run, in one process each"), () => {
    exe = buildCuda(`${CUDA_PRELUDE}\n${HARNESS}`, "emulation").exe;
    expect(mismatch(EDGES)).toBeNull();
    let checked = EDGES.length;
    fc.assert(
      fc.property(fc.array(caseArb, { minLength: 300, maxLength: 600 }), (cases) => {
        checked += cases.length;
        const m = mismatch(cases);
        if (m !== null) throw new Error(m);
      }),
      { numRuns: 8 },
    );
    expect(checked).toBeGreaterThan(2000);
  });
});

// ---------------------------------------------------------------------------------------------------------
// Emulation = golden, bit for bit
// ---------------------------------------------------------------------------------------------------------

interface IntCase {
  label: string;
  graph: Graph;
  opts: QuantOpts;
  seed: number;
  B: number;
  T: number;
  amp: number;
}

/**
 * The same model with every requantization scale (projections, SSM C) multiplied by 2^k (shifts − k) and every
 * third bias pushed to the int32 limit: the integers the program reads from params.bin change, its source does
 * not (the build comes from the cache), and values saturate at every clamp point (port sums, SSM state, LUT
 * index ends, int16 outputs, readout sums).
 */
function stressed(q: Graph, k: number): Graph {
  const lower = (s: ArrayLike<number>) => Int32Array.from(s, (v) => Math.max(0, v - k));
  return {
    ...q,
    populations: q.populations.map((p) => {
      const tensors = { ...p.tensors };
      if (p.kind === "DiagonalSSM") tensors.c_shift = { ...tensors.c_shift, data: lower(tensors.c_shift.data) };
      for (const name of ["bias", "bias_x", "bias_h"]) {
        const t = tensors[name];
        if (t) tensors[name] = { ...t, data: Int32Array.from(t.data, (v, i) => (i % 3 === 0 ? (v < 0 ? -(2 ** 31) : 2 ** 31 - 1) : v)) };
      }
      return { ...p, tensors };
    }),
    projections: q.projections.map((j) => ({ ...j, requant: { multiplier: j.requant!.multiplier, shift: lower(j.requant!.shift) } })),
  };
}

/**
 * Quantizes on calibration inputs, then runs calibration inputs + fresh inputs × 4 in one batch, on the model
 * and on its stressed copy (saturation everywhere).
 */
function runIntCase(c: IntCase, kinds: Set<string>): void {
  const cal = makeBatch(c.graph, c.seed, c.B, c.T, c.amp);
  const q = quantize(c.graph, cal, c.opts);
  for (const k of kindsOf(q, c.opts)) kinds.add(k);
  const batch = concat(cal, scaled(makeBatch(c.graph, c.seed ^ 0x5bd1e995, c.B, c.T, c.amp), 4, c.graph));
  expectBitExact(q, batch, c.label);
  expectBitExact(stressed(q, 4 + (c.seed % 9)), batch, `${c.label} (stressed ×2^${4 + (c.seed % 9)})`);
  expectBitExact(stressed(q, 16 + (c.seed % 9)), batch, `${c.label} (stressed ×2^${16 + (c.seed % 9)})`);
}

const COVERAGE: IntCase[] = [
  {
    label: "values → EGRU → SSM → Dense linear, skip + feedback, mean readout, w8, state 16", seed: 101, B: 2, T: 7, amp: 1.5,
    opts: { weightBits: 8, stateBits: 16, range: { kind: "max" } },
    graph: buildModel({ seed: 1, encoding: "values", inputs: 3, layers: [{ kind: "egru", size: 5, state: 1, act: "linear" }, { kind: "ssm", size: 4, state: 3, act: "linear" }, { kind: "dense", size: 4, state: 1, act: "linear" }], skip: true, feedback: true, readout: "mean", weightScale: 1, pruneFraction: 0.3 }),
  },
  {
    label: "tokens → SSM → Dense gelu, sum readout, w16, state 32", seed: 102, B: 2, T: 8, amp: 1,
    opts: { weightBits: 16, stateBits: 32, range: { kind: "max" } },
    graph: buildModel({ seed: 2, encoding: "tokens", inputs: 5, layers: [{ kind: "ssm", size: 3, state: 4, act: "linear" }, { kind: "dense", size: 5, state: 1, act: "gelu" }], skip: true, feedback: false, readout: "sum", weightScale: 3, pruneFraction: 0 }),
  },
  {
    label: "values → Dense relu → EGRU → Dense sigmoid, last readout, w16, pruned 50 %, odd node names", seed: 103, B: 3, T: 5, amp: 3,
    opts: { weightBits: 16, stateBits: 16, range: { kind: "percentile", percentile: 99 }, weightSparsity: 0.5 },
    graph: buildModel({ seed: 3, encoding: "values", inputs: 4, layers: [{ kind: "dense", size: 6, state: 1, act: "relu" }, { kind: "egru", size: 4, state: 1, act: "linear" }, { kind: "dense", size: 3, state: 1, act: "sigmoid" }], skip: false, feedback: true, readout: "last", weightScale: 3, pruneFraction: 0.5, oddNames: true }),
  },
  {
    label: "values → EGRU → Dense tanh, no readout, w8, state 32", seed: 104, B: 2, T: 9, amp: 2,
    opts: { weightBits: 8, stateBits: 32, range: { kind: "max" } },
    graph: buildModel({ seed: 4, encoding: "values", inputs: 2, layers: [{ kind: "egru", size: 3, state: 1, act: "linear" }, { kind: "dense", size: 4, state: 1, act: "tanh" }], skip: false, feedback: false, readout: "none", weightScale: 1, pruneFraction: 0.9 }),
  },
  {
    label: "test/support/graphs: Input → EGRU → SSM → Dense tanh, w16, state 32", seed: 105, B: 2, T: 6, amp: 2,
    opts: { weightBits: 16, stateBits: 32, range: { kind: "max" } },
    graph: buildGraph({ seed: 5, inputs: 4, egru: 6, state: 3, dense: 3, pruneFraction: 0.3, readout: "none" }),
  },
  {
    label: "values → Dense swish → Dense softplus → Dense gelu_new, mean readout, w8, state 16", seed: 106, B: 2, T: 6, amp: 3,
    opts: { weightBits: 8, stateBits: 16, range: { kind: "max" } },
    graph: buildModel({ seed: 6, encoding: "values", inputs: 3, layers: [{ kind: "dense", size: 5, state: 1, act: "swish" }, { kind: "dense", size: 4, state: 1, act: "softplus" }, { kind: "dense", size: 3, state: 1, act: "gelu_new" }], skip: true, feedback: true, readout: "mean", weightScale: 3, pruneFraction: 0.3 }),
  },
  {
    // pre-activations beyond 2^16: acc_frac < 14, so softplus rounds its table value down to acc_frac
    label: "values → Dense softplus with huge weights (acc_frac < 14), w16, state 16", seed: 107, B: 2, T: 4, amp: 3,
    opts: { weightBits: 16, stateBits: 16, range: { kind: "max" } },
    graph: buildModel({ seed: 7, encoding: "values", inputs: 4, layers: [{ kind: "dense", size: 4, state: 1, act: "softplus" }], skip: false, feedback: false, readout: "none", weightScale: 30000, pruneFraction: 0 }),
  },
  {
    label: "values → SSM ⊙ σ(Dense) → EGRU ⊙ Dense(input) → Dense ⊙ itself a tick ago, sum readout, w8, state 16", seed: 108, B: 2, T: 7, amp: 2,
    opts: { weightBits: 8, stateBits: 16, range: { kind: "max" } },
    graph: buildModel({ seed: 8, encoding: "values", inputs: 3, layers: [{ kind: "ssm", size: 4, state: 3, act: "linear", gate: "sigmoid" }, { kind: "egru", size: 4, state: 1, act: "linear", gate: "dense" }, { kind: "dense", size: 3, state: 1, act: "tanh", gate: "delayed" }], skip: true, feedback: false, readout: "sum", weightScale: 1.5, pruneFraction: 0.3 }),
  },
  {
    label: "tokens → Dense relu ⊙ tanh(Dense) → SSM ⊙ σ(Dense) of a tick ago, feedback, w16, state 32, 99th percentile", seed: 109, B: 2, T: 6, amp: 1,
    opts: { weightBits: 16, stateBits: 32, range: { kind: "percentile", percentile: 99 } },
    graph: buildModel({ seed: 9, encoding: "tokens", inputs: 5, layers: [{ kind: "dense", size: 5, state: 1, act: "relu", gate: "dense" }, { kind: "ssm", size: 5, state: 2, act: "linear", gate: "delayed" }], skip: false, feedback: true, readout: "none", weightScale: 3, pruneFraction: 0 }),
  },
  {
    label: "test/support/graphs with its gate: Input → EGRU → SSM ⊙ σ(Dense) → Dense tanh, w8, state 16", seed: 110, B: 2, T: 6, amp: 2,
    opts: { weightBits: 8, stateBits: 16, range: { kind: "max" } },
    graph: buildGraph({ seed: 10, inputs: 3, egru: 4, state: 2, dense: 3, pruneFraction: 0.3, readout: "last", gate: true }),
  },
  {
    label: "values → SSM ⊙ σ(Dense) → LayerNorm → EGRU → LayerNorm → Dense gelu → LayerNorm, skip + feedback, mean readout, w16, state 32", seed: 111, B: 3, T: 6, amp: 3,
    opts: { weightBits: 16, stateBits: 32, range: { kind: "max" } },
    graph: buildModel({ seed: 11, encoding: "values", inputs: 3, layers: [{ kind: "ssm", size: 5, state: 2, act: "linear", gate: "sigmoid", norm: true }, { kind: "egru", size: 4, state: 1, act: "linear", norm: true }, { kind: "dense", size: 6, state: 1, act: "gelu", norm: true }], skip: true, feedback: true, readout: "mean", weightScale: 1.5, pruneFraction: 0.3 }),
  },
];

describe("cuda target: emulation = golden interpreter, bit for bit (outputs, every event, counters)", () => {
  const kinds = new Set<string>();

  it.skipIf(!HAVE_CC)(cc("coverage models: every population kind, activation, readout, weight and state width"), () => {
    for (const c of COVERAGE) runIntCase(c, kinds);
    for (const k of ["EGRU", "SSM:16", "SSM:32", "Multiply", "LayerNorm", "w8", "w16", "Input:values", "Input:tokens", "delay1",
      "Readout:last", "Readout:mean", "Readout:sum", ...ACTS.map((a) => `Dense:${a}`)]) expect(kinds.has(k), k).toBe(true);
  }, 120_000);

  // Async properties that yield between models: each model blocks on its compiler for about a second, and
  // the test worker has to report progress in between (NMC_CUDA_RUNS=100 runs for minutes).
  const yieldNow = () => new Promise<void>((r) => setImmediate(r));
  it.skipIf(!HAVE_CC)(cc("random quantized models (GraphBuilder chains and test/support/graphs shapes)"), async () => {
    const runs = Number(process.env.NMC_CUDA_RUNS ?? 8);
    await fc.assert(
      fc.asyncProperty(cudaModelArb, cudaQuantOptsArb, int(1, 2 ** 30), int(1, 3), int(1, 8), fc.constantFrom(0.5, 1, 3), async (spec, o, seed, B, T, amp) => {
        await yieldNow();
        runIntCase({ label: `random model ${JSON.stringify(spec)} ${JSON.stringify(o)}`, graph: buildModel(spec), opts: o, seed, B, T, amp }, kinds);
      }),
      { numRuns: runs },
    );
    await fc.assert(
      fc.asyncProperty(graphShapeArb, cudaQuantOptsArb, int(1, 2 ** 30), async (shape: GraphShape, o, seed) => {
        await yieldNow();
        runIntCase({ label: `graphs.ts ${JSON.stringify(shape)} ${JSON.stringify(o)}`, graph: buildGraph(shape), opts: o, seed, B: 2, T: 5, amp: 2 }, kinds);
      }),
      { numRuns: Math.max(1, runs - 1) },
    );
  }, Number(process.env.NMC_CUDA_RUNS ?? 8) * 8_000 + 60_000);

  it.skipIf(!HAVE_CC)(cc("chunks of sequences, zero ticks, an empty batch"), () => {
    const c = COVERAGE[0];
    const cal = makeBatch(c.graph, 7, 2, 6, 1);
    const q = quantize(c.graph, cal, c.opts);
    // 7 sequences in chunks of 3 (the last one partial): states reset per chunk, counters add up.
    expectBitExact(q, makeBatch(c.graph, 8, 7, 6, 2), "chunk 3", 3);
    expectBitExact(q, makeBatch(c.graph, 8, 7, 6, 2), "chunk 1", 1);
    expectBitExact(q, makeBatch(c.graph, 9, 2, 0, 1), "T = 0");
    expectBitExact(q, makeBatch(c.graph, 9, 0, 4, 1), "B = 0");
    // events off: the same output, no events file
    const r = runCuda(q, makeBatch(c.graph, 8, 2, 6, 2), { precision: "int", mode: "emulation", events: false });
    expect(r.events).toBeUndefined();
    expect(r.cached).toBe(true); // the same source: the build came from the cache
    expect(firstDiff(r.outputQ!, runGolden(q, makeBatch(c.graph, 8, 2, 6, 2)).outputQ)).toBeNull();
  }, 60_000);

  it.skipIf(!HAVE_CC)(cc("column sums beyond int32 (1100 inputs at 16384 × int8 weights 127) saturate before requantization"), () => {
    const N = 1100;
    const b = new GraphBuilder("wide");
    const x = b.input("x", N, "values");
    const d = b.dense("d", 2, "linear", Float32Array.of(0, 0));
    b.project("d.kernel", x, d, "x", csrFromDense(Float32Array.from({ length: N * 2 }, (_, i) => (i % 2 === 0 ? 1 : -1)), N, 2));
    b.outputs.push(d.name);
    const g = b.build();
    const fill = (v: number): SequenceBatch => ({ data: new Float64Array(3 * N).fill(v), batch: 1, ticks: 3, channels: N });
    // calibrated at 4.0: the input format puts 4.0 at 16384, the output format covers the sum 4400
    const q = quantize(g, fill(4), { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    expect(Math.min(...Array.from(q.projections[0].weights.values.data, Math.abs))).toBe(127);
    expect(Math.round(4 * 2 ** q.populations[0].fixed!.outFrac)).toBe(16384);
    // 1100 × 16384 × 127 ≈ 2.29e9 > 2^31 − 1: the exact column sum is clamped by sat32 before rq
    const gold = expectBitExact(q, concat(fill(4), concat(fill(-4), fill(1))), "wide");
    expect(new Set(gold.outputQ).size).toBeGreaterThan(2);
  });

  it.skipIf(!HAVE_CC)(cc("a build that fails is an NmcError carrying the compiler's diagnostics"), () => {
    let err: unknown;
    try {
      buildCuda(`${CUDA_PRELUDE}\nint main(void) { return undeclared_thing; }\n`, "emulation");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NmcError);
    expect((err as NmcError).message).toMatch(/build failed[\s\S]*undeclared_thing/);
    expect((err as NmcError).file).toMatch(/\.cu$/);
  });

  it.skipIf(!HAVE_CC)(cc("the program refuses a parameter file written for another model or precision"), () => {
    const a = COVERAGE[3], b = COVERAGE[0];
    const qa = quantize(a.graph, makeBatch(a.graph, 1, 2, 4, 1), a.opts);
    const qb = quantize(b.graph, makeBatch(b.graph, 1, 2, 4, 1), b.opts);
    const exe = buildCuda(emitCuda(qa, { precision: "int" }), "emulation").exe;
    const dir = mkdtempSync(join(tmpdir(), "nmc-cuda-refuse-"));
    try {
      writeFileSync(join(dir, "b.bin"), packParams(qb, "int"));
      writeFileSync(join(dir, "f.bin"), packParams(a.graph, "float"));
      const r1 = spawnSync(exe, [join(dir, "b.bin"), join(dir, "none.npy"), dir], { encoding: "utf8" });
      expect(r1.status).toBe(2);
      expect(r1.stderr).toMatch(/another model/);
      const r2 = spawnSync(exe, [join(dir, "f.bin"), join(dir, "none.npy"), dir], { encoding: "utf8" });
      expect(r2.status).toBe(2);
      expect(r2.stderr).toMatch(/other precision/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------
// Float variant = runFloat
// ---------------------------------------------------------------------------------------------------------

function expectClose(a: Float64Array, b: Float64Array, label: string): void {
  expect(a.length, label).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= 1e-5 * Math.max(1, Math.abs(b[i])))) expect.fail(`${label}: [${i}] cuda ${a[i]} vs float ${b[i]}`);
  }
}

describe("cuda target: float variant = float interpreter (1e-5 relative)", () => {
  const floatCase = (g: Graph, batch: SequenceBatch, label: string) => {
    const want = runFloat(g, batch);
    const got = runCuda(g, batch, { precision: "float", mode: "emulation" });
    expect(got.outputShape).toEqual(want.outputShape);
    expect(got.outputQ).toBeUndefined();
    expectClose(got.output, want.output, label);
    expect(got.counters, `${label}: counters`).toEqual(want.counters);
  };

  it.skipIf(!HAVE_CC)(cc("fixed models (softmax output included) and random models"), () => {
    const soft = buildModel({ seed: 21, encoding: "values", inputs: 3, layers: [{ kind: "egru", size: 4, state: 1, act: "linear" }, { kind: "ssm", size: 3, state: 2, act: "linear" }, { kind: "dense", size: 4, state: 1, act: "softmax" }], skip: true, feedback: true, readout: "mean", weightScale: 1.5, pruneFraction: 0.3 });
    floatCase(soft, makeBatch(soft, 3, 3, 7, 2), "softmax model");
    const g = buildGraph({ seed: 22, inputs: 3, egru: 5, state: 3, dense: 4, pruneFraction: 0.3, readout: "none" });
    floatCase(g, makeBatch(g, 4, 2, 6, 2), "graphs.ts model");
    fc.assert(
      fc.property(cudaModelArb, int(1, 2 ** 30), int(1, 3), int(1, 8), (spec, seed, B, T) => {
        const m = buildModel(spec);
        floatCase(m, makeBatch(m, seed, B, T, 2), `random ${JSON.stringify(spec)}`);
      }),
      { numRuns: 2 },
    );
  }, 60_000);
});

// ---------------------------------------------------------------------------------------------------------
// Real CUDA
// ---------------------------------------------------------------------------------------------------------

describe("cuda target: the real-CUDA build", () => {
  const g = buildModel({ seed: 31, encoding: "tokens", inputs: 4, layers: [{ kind: "egru", size: 4, state: 1, act: "linear" }, { kind: "ssm", size: 3, state: 2, act: "linear" }, { kind: "dense", size: 3, state: 1, act: "gelu" }], skip: true, feedback: true, readout: "mean", weightScale: 1.5, pruneFraction: 0.3 });

  it.skipIf(!HAVE_NVCC)(nv("nvcc compiles and links the int and float sources (device code included); no GPU → exit 3 with a message"), () => {
    const cal = makeBatch(g, 5, 2, 6, 1);
    const q = quantize(g, cal, { weightBits: 16, stateBits: 32, range: { kind: "max" } });
    const soft = buildModel({ seed: 32, encoding: "values", inputs: 3, layers: [{ kind: "dense", size: 3, state: 1, act: "sigmoid" }, { kind: "dense", size: 3, state: 1, act: "softmax" }], skip: false, feedback: false, readout: "last", weightScale: 1, pruneFraction: 0 });
    for (const [graph, precision] of [[q, "int"], [g, "float"], [soft, "float"]] as const) {
      const b = buildCuda(emitCuda(graph, { precision }), "gpu");
      expect(b.compiler).toMatch(/-x cu/);
      if (!HAVE_GPU) {
        const dir = mkdtempSync(join(tmpdir(), "nmc-cuda-nogpu-"));
        try {
          const r = spawnSync(b.exe, [join(dir, "p.bin"), join(dir, "x.npy"), dir], { encoding: "utf8" });
          expect(r.status, r.stderr).toBe(3);
          expect(r.stderr).toMatch(/no usable CUDA device/);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
    if (!HAVE_GPU) {
      // auto mode: nvidia-smi lists no GPU here, so it goes straight to emulation
      const r = runCuda(q, cal, { precision: "int", mode: "auto" });
      expect(r.mode).toBe("emulation");
    }
  }, 120_000);

  it.skipIf(!HAVE_NVCC || !HAVE_GPU)(HAVE_GPU ? "on the GPU: int = golden bit for bit, float = runFloat" : "on the GPU — SKIPPED: no GPU here", () => {
    const cal = makeBatch(g, 5, 3, 8, 1);
    const q = quantize(g, cal, { weightBits: 8, stateBits: 16, range: { kind: "max" } });
    const batch = concat(cal, scaled(makeBatch(g, 6, 3, 8, 1), 4, g));
    const gold = goldenTrace(q, batch);
    const r = runCuda(q, batch, { precision: "int", mode: "gpu" });
    expect(r.ranOn).toMatch(/GPU/);
    expect(firstDiff(r.outputQ!, gold.outputQ)).toBeNull();
    expect(firstDiff(r.events!, gold.events)).toBeNull();
    expect(r.counters).toEqual(gold.counters);
    const f = runCuda(g, batch, { precision: "float", mode: "gpu" });
    expectClose(f.output, runFloat(g, batch).output, "float on GPU");
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------------------
// The egru-smnist example
// ---------------------------------------------------------------------------------------------------------

describe("cuda target: examples/egru-smnist", () => {
  const DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "examples", "egru-smnist");

  it.skipIf(!HAVE_CC)(cc("emulation = golden bit for bit on the first 50 digits (calibrated on inputs/calib.npy)"), () => {
    const { graph } = loadModel(join(DIR, "model.json"));
    const calib = readNpy(join(DIR, "inputs", "calib.npy"));
    const q = compileQuantized(graph, { calibration: { data: toFloat64(calib), shape: calib.shape, label: "calib.npy", file: join(DIR, "inputs", "calib.npy") } }).quantized;
    const x = readNpy(join(DIR, "inputs", "x.npy"));
    const [, T, C] = x.shape;
    const N = 50;
    const batch: SequenceBatch = { data: toFloat64(x).subarray(0, N * T * C), batch: N, ticks: T, channels: C };
    const gold = expectBitExact(q, batch, "egru-smnist");
    expect(gold.counters.populations.egru.events).toBeGreaterThan(0);
    expect(gold.outputShape).toEqual([N, 10]);
  }, 120_000);
});
