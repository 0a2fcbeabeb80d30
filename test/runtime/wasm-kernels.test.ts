// The WebAssembly kernels (runtime/wasm) against their definitions, the TypeScript kernels, bit for bit on random
// data (fast-check): accumulateNonZero, accumulateSharedQueue and requantizeColumns (with its saturation counts,
// at the limits of its int32 clamps), each for every index and weight type; the EGRU update (tables, clips, c = θ,
// zoneout); the SSM readout (SIMD); then the golden engine and the
// SpiNNaker 2 simulator run with kernels "js" and "wasm" on random quantized models, with the same outputs,
// counters and saturation counts. (Every other test of the engines runs the default "auto", i.e. these kernels.)
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { NmcError } from "../../ir/errors.js";
import { GoldenEngine } from "../../runtime/golden/interpreter.js";
import {
  accumulateNonZero, egruArenaBytes, egruUnits, egruUnitsWasm, requantizeColumns, requantizeColumnsWasm, saturatePort, saturatePortWasm, ssmArenaBytes, ssmOutputs, ssmOutputsWasm,
} from "../../runtime/golden/kernels.js";
import { accumulationForm } from "../../runtime/golden/accumulation.js";
import { NO_COUNTS, S_COLSUM, S_LOOKUP, S_OUTPUT, S_PORT, S_REQUANT, S_STATE, S_SUM, S_Y, SITES, saturationCounters } from "../../runtime/golden/saturation.js";
import type { Lut } from "../../ir/types.js";
import { Arena, ARENA_MAX_BYTES, ArenaPlan, arenaPoolBytes, int32SumsFit, kernelChoice, kernelModule, requantizeFits, useWasm } from "../../runtime/wasm/index.js";
import { accumulateSharedQueue } from "../../targets/spinnaker2/sim/accumulate.js";
import { Simulator } from "../../targets/spinnaker2/sim/simulator.js";
import { mapGraph } from "../../targets/spinnaker2/mapping.js";
import { makeBatch, modelArb, quantOptsArb, quantizeFor, buildModel, scaled } from "../support/quant-models.js";
import { hwWithUsable, minimumUsableBytes } from "../support/spinnaker2.js";

const RUNS = Number(process.env.NMC_RUNS ?? 200);

/** A random CSR matrix: rows × cols, entries per row 0 … cols (sorted columns), weights in the type's range. */
const csrArb = fc.record({
  rows: fc.integer({ min: 1, max: 40 }),
  cols: fc.integer({ min: 1, max: 70 }),
  u16: fc.boolean(),
  i16: fc.boolean(),
  density: fc.double({ min: 0, max: 1, noNaN: true }),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
});

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

interface Csr { rowPtr: Uint32Array; colIdx: Uint16Array | Uint32Array; w: Int8Array | Int16Array; rows: number; cols: number }

function makeCsr(c: { rows: number; cols: number; u16: boolean; i16: boolean; density: number; seed: number }, stride = 1): Csr {
  const r = rng(c.seed);
  const rowPtr = new Uint32Array(c.rows * stride + 1);
  const cols: number[] = [], ws: number[] = [];
  const lim = c.i16 ? 32767 : 127;
  for (let i = 0; i < c.rows * stride; i++) {
    for (let k = 0; k < c.cols; k++) {
      if (r() >= c.density) continue;
      cols.push(k);
      ws.push(Math.round((2 * r() - 1) * lim) - (r() < 0.05 ? 1 : 0)); // −128 / −32768 too
    }
    rowPtr[i + 1] = cols.length;
  }
  return {
    rowPtr, rows: c.rows, cols: c.cols,
    colIdx: c.u16 ? Uint16Array.from(cols) : Uint32Array.from(cols),
    w: c.i16 ? Int16Array.from(ws) : Int8Array.from(ws),
  };
}

const sameBits = (a: Float64Array, b: Float64Array) => a.length === b.length && a.every((x, i) => Object.is(x, b[i]));

describe("WebAssembly kernels = TypeScript kernels, bit for bit", () => {
  it("the module loads (npm run build compiles it) and the kernel choice is checked", () => {
    expect("module" in kernelModule(), JSON.stringify(kernelModule())).toBe(true);
    expect(() => kernelChoice("fast" as never)).toThrow(NmcError);
    expect(kernelChoice("js")).toBe("js");
    expect(useWasm("auto", 1024)).toBe(true);
    expect(useWasm("js", 1024)).toBe(false);
  });

  it("a memory too large for the kernels: 'wasm' is refused by name, 'auto' falls back and says so once on stderr", () => {
    expect(() => useWasm("wasm", ARENA_MAX_BYTES + 1)).toThrow(/WebAssembly kernels are not available/);
    const spy = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(useWasm("auto", ARENA_MAX_BYTES + 1)).toBe(false);
      expect(useWasm("auto", ARENA_MAX_BYTES + 1)).toBe(false);
      const said = spy.mock.calls.map((c) => String(c[0])).filter((t) => t.includes("WebAssembly kernels are not used"));
      expect(said.length).toBe(1);
      expect(said[0]).toMatch(/bytes of linear memory/);
    } finally {
      spy.mockRestore();
    }
  });

  it("accumulateNonZero, every index and weight type", () => {
    fc.assert(fc.property(csrArb, fc.integer({ min: 1, max: 2 ** 30 }), fc.double({ min: 0, max: 1, noNaN: true }), (c, vs, zeros) => {
      const m = makeCsr(c);
      const r = rng(vs);
      const v = Int32Array.from({ length: m.rows }, () => (r() < zeros ? 0 : Math.round((2 * r() - 1) * 32768)));
      const ref = new Float64Array(m.cols);
      const touchedRef = accumulateNonZero(v, m.rowPtr, m.colIdx as Uint32Array, m.w, ref);
      const plan = new ArenaPlan().add(4, m.rows).add(4, m.rows + 1).add(m.colIdx.BYTES_PER_ELEMENT, m.colIdx.length).add(m.w.BYTES_PER_ELEMENT, m.w.length).add(8, m.cols);
      const a = new Arena(plan);
      const av = a.copy(v), rp = a.copy(m.rowPtr), ci = a.copy(m.colIdx), w = a.copy(m.w), acc = a.alloc(Float64Array, m.cols);
      const touched = a.nonZero(ci, w)(av.byteOffset, m.rows, rp.byteOffset, ci.byteOffset, w.byteOffset, acc.byteOffset);
      expect(touched).toBe(touchedRef);
      expect(sameBits(acc, ref)).toBe(true);
    }), { numRuns: RUNS });
  });

  it("the int32 forms (accumulation.ts): nonZero32 over the CSR and denseRows32 over its dense expansion give accumulateNonZero's sums", () => {
    let fits = 0;
    fc.assert(fc.property(csrArb, fc.integer({ min: 1, max: 2 ** 30 }), fc.double({ min: 0, max: 1, noNaN: true }), (c0, vs, zeros) => {
      const m = makeCsr({ ...c0, i16: false });
      const r = rng(vs);
      // int16 source values, the extremes included (what int32SumsFit assumes).
      const v = Int32Array.from({ length: m.rows }, () => (r() < zeros ? 0 : r() < 0.1 ? (r() < 0.5 ? -32768 : 32767) : Math.round((2 * r() - 1) * 32767)));
      const ref = new Float64Array(m.cols);
      const touchedRef = accumulateNonZero(v, m.rowPtr, m.colIdx as Uint32Array, m.w, ref);
      if (!int32SumsFit(m.cols, m.colIdx, m.w)) return;
      fits++;
      const plan = new ArenaPlan().add(4, m.rows).add(4, m.rows + 1).add(m.colIdx.BYTES_PER_ELEMENT, m.colIdx.length).add(1, m.w.length).add(4, m.cols).add(1, m.rows * m.cols).add(4, m.cols);
      const a = new Arena(plan);
      const av = a.copy(v), rp = a.copy(m.rowPtr), ci = a.copy(m.colIdx), w = a.copy(m.w), acc = a.alloc(Int32Array, m.cols);
      expect(a.nonZero32(ci)(av.byteOffset, m.rows, rp.byteOffset, ci.byteOffset, w.byteOffset, acc.byteOffset)).toBe(touchedRef);
      expect(Array.from(acc)).toEqual(Array.from(ref));
      const wd = a.alloc(Int8Array, m.rows * m.cols), acc2 = a.alloc(Int32Array, m.cols);
      for (let i = 0; i < m.rows; i++) for (let k = m.rowPtr[i]; k < m.rowPtr[i + 1]; k++) wd[i * m.cols + m.colIdx[k]] = m.w[k];
      expect(a.denseRows32()(av.byteOffset, m.rows, m.cols, rp.byteOffset, wd.byteOffset, acc2.byteOffset)).toBe(touchedRef);
      expect(Array.from(acc2)).toEqual(Array.from(ref));
      // Values outside int16 (not what the engines send, but the kernel adds those rows alone, not in pairs):
      // up to 2^18 keeps every sum of ≤ 40 rows of int8 weights inside int32.
      const wide = Int32Array.from(v, (x) => (r() < 0.3 ? (r() < 0.5 ? -1 : 1) * (32768 + Math.floor(r() * (2 ** 18 - 32768))) : x));
      const refWide = new Float64Array(m.cols);
      accumulateNonZero(wide, m.rowPtr, m.colIdx as Uint32Array, m.w, refWide);
      av.set(wide);
      acc2.fill(0);
      a.denseRows32()(av.byteOffset, m.rows, m.cols, rp.byteOffset, wd.byteOffset, acc2.byteOffset);
      expect(Array.from(acc2)).toEqual(Array.from(refWide));
    }), { numRuns: RUNS });
    expect(fits, "int32SumsFit held for some matrices").toBeGreaterThan(RUNS / 4);
    // The bound is tight: one column of 2^16 / 128 = 512 rows of −128 fits int32 at x = −32768 … only just not.
    expect(int32SumsFit(1, new Uint32Array(512), new Int8Array(512).fill(-128))).toBe(false);
    expect(int32SumsFit(1, new Uint32Array(511), new Int8Array(511).fill(-128))).toBe(true);
  });

  it("accumulateSharedQueue (S slices' chunks side by side, or a consecutive run of them), with the slices' entry counts", () => {
    fc.assert(fc.property(csrArb, fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 0, max: 5 }), (c, S, es, off) => {
      const m = makeCsr(c, S);
      const r = rng(es);
      const n = Math.floor(r() * 3 * m.rows);
      const idx = Int32Array.from({ length: off + n }, () => Math.floor(r() * m.rows));
      const val = Int32Array.from({ length: off + n }, () => Math.round((2 * r() - 1) * 32768));
      const sumsRef = new Float64Array(m.cols), touchedRef = new Float64Array(S);
      accumulateSharedQueue(S, idx, val, off, n, m.rowPtr, m.colIdx, m.w, sumsRef, touchedRef);
      const plan = new ArenaPlan().add(4, off + n).add(4, off + n).add(4, m.rowPtr.length).add(m.colIdx.BYTES_PER_ELEMENT, m.colIdx.length)
        .add(m.w.BYTES_PER_ELEMENT, m.w.length).add(8, m.cols).add(8, S);
      const a = new Arena(plan);
      const ai = a.copy(idx), av = a.copy(val), rp = a.copy(m.rowPtr), ci = a.copy(m.colIdx), w = a.copy(m.w);
      const sums = a.alloc(Float64Array, m.cols), touched = a.alloc(Float64Array, S);
      a.sharedQueue(ci, w)(S, S, ai.byteOffset, av.byteOffset, off, n, rp.byteOffset, ci.byteOffset, w.byteOffset, sums.byteOffset, touched.byteOffset);
      expect(sameBits(sums, sumsRef)).toBe(true);
      expect(sameBits(touched, touchedRef)).toBe(true);
      // A consecutive run of the slices (a pipeline worker's share of a population): slots first … first + k − 1
      // of the stride-S layout; their counts are the whole run's, and the kernel equals the TypeScript one.
      const first = Math.floor(r() * S), k = 1 + Math.floor(r() * (S - first));
      const subRef = new Float64Array(m.cols), subTouchedRef = new Float64Array(k);
      accumulateSharedQueue(k, idx, val, off, n, m.rowPtr, m.colIdx, m.w, subRef, subTouchedRef, S, first);
      expect(Array.from(subTouchedRef)).toEqual(Array.from(touchedRef.subarray(first, first + k)));
      sums.fill(0);
      touched.fill(0);
      a.sharedQueue(ci, w)(k, S, ai.byteOffset, av.byteOffset, off, n, rp.byteOffset + 4 * first, ci.byteOffset, w.byteOffset, sums.byteOffset, touched.byteOffset);
      expect(sameBits(sums, subRef)).toBe(true);
      expect(sameBits(touched.subarray(0, k), subTouchedRef)).toBe(true);
    }), { numRuns: RUNS });
  });

  it("the simulator's int32 forms: sharedQueue32 and sharedDense32 (a whole row layout or a consecutive run of its slices) give accumulateSharedQueue's sums and counts", () => {
    let fits = 0;
    fc.assert(fc.property(csrArb, fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 0, max: 5 }), (c0, S, es, off) => {
      // Slice s's chunks hold columns [s · cols, (s + 1) · cols) of the sums, as slices.ts lays them out.
      const m = makeCsr({ ...c0, i16: false }, S), width = S * m.cols;
      const col = Uint32Array.from(m.colIdx);
      for (let r = 0; r < m.rows * S; r++) for (let k = m.rowPtr[r]; k < m.rowPtr[r + 1]; k++) col[k] += (r % S) * m.cols;
      if (!int32SumsFit(width, col, m.w)) return;
      fits++;
      const r = rng(es);
      const n = Math.floor(r() * 3 * m.rows);
      const idx = Int32Array.from({ length: off + n }, () => Math.floor(r() * m.rows));
      const val = Int32Array.from({ length: off + n }, () => (r() < 0.1 ? -32768 : Math.round((2 * r() - 1) * 32767)));
      const first = Math.floor(r() * S), k = 1 + Math.floor(r() * (S - first));
      const ref = new Float64Array(width), touchedRef = new Float64Array(k);
      accumulateSharedQueue(k, idx, val, off, n, m.rowPtr, col, m.w, ref, touchedRef, S, first);
      const c16 = width <= 65536 ? Uint16Array.from(col) : col;
      const plan = new ArenaPlan().add(4, off + n).add(4, off + n).add(4, m.rowPtr.length).add(c16.BYTES_PER_ELEMENT, col.length).add(1, m.w.length)
        .add(4, width).add(4, S).add(1, m.rows * width).add(2, m.rowPtr.length - 1).add(2, S);
      const a = new Arena(plan);
      const ai = a.copy(idx), av = a.copy(val), rp = a.copy(m.rowPtr), ci = a.copy(c16), w = a.copy(m.w);
      const sums = a.alloc(Int32Array, width), touched = a.alloc(Int32Array, S), wd = a.alloc(Int8Array, m.rows * width);
      a.sharedQueue32(ci)(k, S, ai.byteOffset, av.byteOffset, off, n, rp.byteOffset + 4 * first, ci.byteOffset, w.byteOffset, sums.byteOffset, touched.byteOffset);
      expect(Array.from(sums)).toEqual(Array.from(ref));
      expect(Array.from(touched.subarray(0, k))).toEqual(Array.from(touchedRef));
      for (let i = 0; i < m.rows; i++) for (let e = m.rowPtr[i * S]; e < m.rowPtr[(i + 1) * S]; e++) wd[i * width + col[e]] = m.w[e];
      sums.fill(0);
      touched.fill(0);
      const c0l = first * m.cols, cols = k * m.cols;
      a.sharedDense32()(k, S, ai.byteOffset, av.byteOffset, off, n, rp.byteOffset + 4 * first, wd.byteOffset + c0l, width, cols, sums.byteOffset + 4 * c0l, touched.byteOffset, 0, 0, 0);
      expect(Array.from(sums)).toEqual(Array.from(ref));
      expect(Array.from(touched.subarray(0, k))).toEqual(Array.from(touchedRef));
      // The counts from a table of u16 chunk lengths, flushed every `every` events (1 … n + 1: every path).
      const chunks = a.alloc(Uint16Array, m.rowPtr.length - 1), acc16 = a.alloc(Uint16Array, S);
      for (let i = 0; i < chunks.length; i++) chunks[i] = m.rowPtr[i + 1] - m.rowPtr[i];
      const every = 1 + Math.floor(r() * (n + 1));
      sums.fill(0);
      touched.fill(0);
      a.sharedDense32()(k, S, ai.byteOffset, av.byteOffset, off, n, rp.byteOffset + 4 * first, wd.byteOffset + c0l, width, cols, sums.byteOffset + 4 * c0l, touched.byteOffset, chunks.byteOffset + 2 * first, acc16.byteOffset, every);
      expect(Array.from(sums)).toEqual(Array.from(ref));
      expect(Array.from(touched.subarray(0, k))).toEqual(Array.from(touchedRef));
      expect(acc16.every((x) => x === 0), "the u16 lanes are left zero").toBe(true);
    }), { numRuns: RUNS });
    expect(fits, "int32SumsFit held for some layouts").toBeGreaterThan(RUNS / 4);
  });

  it("requantizeColumns: port values, saturation counts, columns, and acc left zero", () => {
    // Column sums up to ±2^45 (past int32 before and after requantization), Q15 multipliers, shifts 0 … 62.
    const big = fc.oneof(fc.constant(0), fc.integer({ min: -(2 ** 20), max: 2 ** 20 }), fc.integer({ min: -(2 ** 45), max: 2 ** 45 }));
    const col = fc.record({
      acc: big, mult: fc.integer({ min: -(2 ** 15), max: 2 ** 15 }), shift: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 62 })),
      port: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
    });
    let clipped = 0, int32Cases = 0, int8Cases = 0;
    fc.assert(fc.property(fc.array(col, { minLength: 1, maxLength: 40 }), fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 31 })), (cs, pre) => {
      const acc0 = Float64Array.from(cs, (c) => c.acc), mult0 = Int32Array.from(cs, (c) => c.mult), shift0 = Int32Array.from(cs, (c) => c.shift);
      expect(requantizeFits(pre, mult0, shift0)).toBe(true);
      const portRef = Float64Array.from(cs, (c) => c.port), scRef = saturationCounters();
      const nRef = requantizeColumns(acc0.slice(), mult0, shift0, pre, portRef, scRef);
      const k = cs.length;
      const a = new Arena(new ArenaPlan().add(8, k).add(4, k).add(4, k).add(8, k).add(8, 2));
      const acc = a.copy(acc0), mult = a.copy(mult0), shift = a.copy(shift0), port = a.copy(Float64Array.from(cs, (c) => c.port)), counts = a.alloc(Float64Array, 2);
      const sc = saturationCounters();
      const n = requantizeColumnsWasm(a.requantize(), acc, mult, shift, pre, port, counts, sc);
      expect(n).toBe(nRef);
      expect(sameBits(port, portRef)).toBe(true);
      expect(Array.from(sc)).toEqual(Array.from(scRef));
      expect(acc.every((x) => x === 0)).toBe(true);
      // The int32 sums' requantization (accumulation.ts), on the sums clamped into int32, against the definition.
      const in32 = Float64Array.from(acc0, (x) => Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, x)));
      const port32Ref = Float64Array.from(cs, (c) => c.port), sc32Ref = saturationCounters();
      const n32Ref = requantizeColumns(in32.slice(), mult0, shift0, pre, port32Ref, sc32Ref);
      const b = new Arena(new ArenaPlan().add(4, k).add(4, k).add(4, k).add(8, k).add(8, 2));
      const acc32 = b.copy(Int32Array.from(in32)), port32 = b.copy(Float64Array.from(cs, (c) => c.port)), sc32 = saturationCounters();
      expect(requantizeColumnsWasm(b.requantize32(), acc32, b.copy(mult0), b.copy(shift0), pre, port32, b.alloc(Float64Array, 2), sc32)).toBe(n32Ref);
      expect(sameBits(port32, port32Ref)).toBe(true);
      expect(Array.from(sc32)).toEqual(Array.from(sc32Ref));
      expect(acc32.every((x) => x === 0)).toBe(true);
      int32Cases++;
      if (pre === 0) int8Cases++; // the kernel's own loop for int8 weights (no pre-shift)
      clipped += scRef[S_COLSUM] + scRef[S_REQUANT];
      expect(sc[SITES + S_COLSUM]).toBe(nRef);
    }), { numRuns: RUNS });
    expect(clipped, "the int32 clamps were exercised").toBeGreaterThan(0);
    expect(int32Cases, "int32 sums were requantized").toBe(RUNS);
    expect(int8Cases, "with pre = 0 (int8 weights)").toBeGreaterThan(RUNS / 4);
    expect(requantizeFits(0, [2 ** 15 + 1], [3])).toBe(false);
    expect(requantizeFits(0, [1], [63])).toBe(false);
    expect(requantizeFits(32, [1], [3])).toBe(false);
    expect(NO_COUNTS.length).toBeGreaterThan(0);
  });

  it("saturatePort: port values and clamp counts, every length mod 2", () => {
    const v = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.constant(2 ** 31), fc.constant(-(2 ** 31) - 1));
    let clamped = 0;
    fc.assert(fc.property(fc.array(v, { minLength: 1, maxLength: 41 }), (vs) => {
      const ref = Float64Array.from(vs), scRef = saturationCounters();
      saturatePort(ref, scRef);
      const a = new Arena(new ArenaPlan().add(8, vs.length).add(8, 1));
      const port = a.copy(Float64Array.from(vs)), counts = a.alloc(Float64Array, 1), sc = saturationCounters();
      saturatePortWasm(a.saturate(), port, counts, sc);
      expect(sameBits(port, ref)).toBe(true);
      expect(Array.from(sc)).toEqual(Array.from(scRef));
      clamped += scRef[S_PORT];
    }), { numRuns: RUNS });
    expect(clamped, "the int32 clamp was exercised").toBeGreaterThan(0);
  });
});

describe("the WebAssembly EGRU update = egruUnits, bit for bit", () => {
  // Random tables and values on small integer ranges, so that c = θ (no event), table clips and int16 state
  // saturation all happen; zoneout on half the cases.
  const lutArb = (name: string) => fc.record({
    k: fc.integer({ min: 1, max: 8 }), lo: fc.integer({ min: -64, max: 0 }), stepLog2: fc.integer({ min: -6, max: 2 }), inFrac: fc.integer({ min: 0, max: 14 }),
    small: fc.boolean(), seed: fc.integer({ min: 1, max: 2 ** 30 }),
  }).map((l): Lut => {
    const r = rng(l.seed);
    const table = Int16Array.from({ length: 2 ** l.k }, () => (l.small ? Math.floor(r() * 7) - 3 : Math.round((2 * r() - 1) * 32767)));
    return { name, lo: l.lo / 4, stepLog2: l.stepLog2, inFrac: l.inFrac, outFrac: 14, table };
  });
  it("events, states, outputs and saturation counts", () => {
    let equal = 0, clipsL = 0, clipsS = 0;
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 24 }), lutArb("sigmoid"), lutArb("tanh"), fc.integer({ min: 1, max: 2 ** 30 }), fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 32767 })), fc.boolean(),
      (n, sig, tanh, seed, pq, small) => {
        const r = rng(seed);
        const amp = small ? 8 : 2 ** 31 - 1;
        const port = () => Float64Array.from({ length: 3 * n }, () => Math.round((2 * r() - 1) * amp));
        const vx0 = port(), vh0 = port();
        const h0 = Int32Array.from({ length: n }, () => Math.round((2 * r() - 1) * (small ? 4 : 32767)));
        const thr = Int32Array.from({ length: n }, () => Math.round((2 * r() - 1) * (small ? 4 : 20000)));
        const outRef = new Int32Array(n), hRef = h0.slice(), scRef = saturationCounters();
        const evRef = egruUnits(n, vx0, vh0, sig, tanh, thr, hRef, outRef, pq, scRef);
        const plan = new ArenaPlan().add(8, 3 * n).add(8, 3 * n).add(4, n).add(4, n).add(8, 2).add(1, egruArenaBytes(n, sig, tanh));
        const a = new Arena(plan);
        const vx = a.copy(vx0), vh = a.copy(vh0), h = a.copy(h0), out = a.alloc(Int32Array, n), counts = a.alloc(Float64Array, 2), sc = saturationCounters();
        const k = egruUnitsWasm({ arena: a, counts }, n, vx, vh, sig, tanh, thr, h, out, pq, sc)!;
        expect(k).not.toBeNull();
        expect(k()).toBe(evRef);
        expect(Array.from(out)).toEqual(Array.from(outRef));
        expect(Array.from(h)).toEqual(Array.from(hRef));
        expect(Array.from(sc)).toEqual(Array.from(scRef));
        for (let i = 0; i < n; i++) if (outRef[i] === 0 && hRef[i] === thr[i] && thr[i] !== 0) equal++;
        clipsL += scRef[S_LOOKUP];
        clipsS += scRef[S_STATE];
      },
    ), { numRuns: RUNS * 2 });
    expect(equal, "units with c = θ exactly (no event)").toBeGreaterThan(0);
    expect(clipsL, "table clips").toBeGreaterThan(0);
    expect(clipsS, "int16 state clamps").toBeGreaterThan(0);
  });
});

describe("the WebAssembly SSM readout (SIMD dot products) = ssmOutputs, bit for bit", () => {
  it("outputs and saturation counts, P of every remainder mod 4, every clamp", () => {
    const clips = [0, 0, 0, 0];
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 19 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 2 ** 30 }),
      fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: 20 }), fc.boolean(),
      (n, P, lo, seed, pre, down, big) => {
        const r = rng(seed), H = lo + n;
        const c = () => Float64Array.from({ length: H * P }, () => (r() < 0.1 ? (r() < 0.5 ? -32768 : 32768) : Math.round((2 * r() - 1) * 32767)));
        const cr = c(), ci = c();
        const rr0 = Int32Array.from({ length: P }, () => Math.round((2 * r() - 1) * 32768)), ri0 = Int32Array.from({ length: P }, () => Math.round((2 * r() - 1) * 32768));
        const cm = Int32Array.from({ length: H }, () => Math.round((2 * r() - 1) * 2 ** 15)), cs = Int32Array.from({ length: H }, () => Math.floor(r() * (big ? 8 : 40)));
        const skip0 = Float64Array.from({ length: n }, () => Math.round((2 * r() - 1) * (big ? 2 ** 31 - 1 : 1000)));
        const outRef = new Int32Array(n), scRef = saturationCounters();
        ssmOutputs(n, lo, P, cr, ci, rr0, ri0, cm, cs, skip0, pre, down, outRef, scRef);
        const a = new Arena(new ArenaPlan().add(4, P).add(4, P).add(8, n).add(4, n).add(8, 4).add(1, ssmArenaBytes(n, P)));
        const rr = a.copy(rr0), ri = a.copy(ri0), skip = a.copy(skip0), out = a.alloc(Int32Array, n), counts = a.alloc(Float64Array, 4), sc = saturationCounters();
        const k = ssmOutputsWasm({ arena: a, counts }, n, lo, P, cr, ci, rr, ri, cm, cs, skip, pre, down, out, sc);
        expect(k).not.toBeNull();
        k!();
        expect(Array.from(out)).toEqual(Array.from(outRef));
        expect(Array.from(sc)).toEqual(Array.from(scRef));
        [S_SUM, S_REQUANT, S_Y, S_OUTPUT].forEach((site, i) => (clips[i] += scRef[site]));
      },
    ), { numRuns: RUNS * 2 });
    expect(clips.slice(1).every((x) => x > 0), `clamps hit (sum, requant, y, output): ${clips}`).toBe(true);
  });
});

describe("engines with kernels js and wasm: the same run", () => {
  const quantArb = quantOptsArb({ ranges: [{ kind: "max" }, { kind: "percentile", percentile: 99 }] });
  const plain = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, v: unknown) => (ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v))) as unknown;

  it("golden engine and SpiNNaker 2 simulator on random models (inputs × 4: saturation too)", () => {
    let wasmRuns = 0, cut = 0, grouped = 0;
    const forms = new Set<string>();
    fc.assert(fc.property(
      modelArb({ kinds: ["egru", "ssm", "dense"] }), quantArb, fc.integer({ min: 1, max: 2 ** 30 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 }),
      (spec, o, seed, B, T) => {
        const g = buildModel(spec);
        const q = quantizeFor(g, makeBatch(g, seed, B, T, 1), o);
        const batch = scaled(makeBatch(g, seed ^ 0x9e3779b9, B, T, 1), 4, g);
        const js = new GoldenEngine(q, { kernels: "js" }), wasm = new GoldenEngine(q, { kernels: "wasm" });
        for (const j of q.projections) forms.add(accumulationForm(j, q.quant!.weightBits - 8));
        expect([js.kernels, wasm.kernels]).toEqual(["js", "wasm"]);
        const a = js.run(batch), b = wasm.run(batch);
        expect(Array.from(b.outputQ)).toEqual(Array.from(a.outputQ));
        expect(b.counters).toEqual(a.counters);
        expect(b.saturation).toEqual(a.saturation);
        const m = mapGraph(q);
        const sj = new Simulator(q, m.partition, m.placement, m.routing, m.hw, { kernels: "js" });
        const sw = new Simulator(q, m.partition, m.placement, m.routing, m.hw, { kernels: "wasm" });
        const simRun = plain(sj.run(batch));
        expect(plain(sw.run(batch))).toEqual(simRun);
        wasmRuns += sw.kernels === "wasm" ? 1 : 0;
        // The memory pool (Arena.release): engines built on the dirtied memories of disposed ones compute the same.
        const arenas = [(wasm as unknown as { arena: Arena }).arena, (sw as unknown as { wasm: { arena: Arena } | null }).wasm?.arena];
        for (const x of arenas) if (x) new Uint8Array(x.memory.buffer).fill(0xa5);
        wasm.dispose();
        sw.dispose();
        expect(() => wasm.run(batch)).toThrow(/disposed/);
        expect(() => sw.run(batch)).toThrow(/disposed/);
        const pooled = arenaPoolBytes();
        const again = new GoldenEngine(q, { kernels: "wasm" }), sw2 = new Simulator(q, m.partition, m.placement, m.routing, m.hw, { kernels: "wasm" });
        expect(arenaPoolBytes(), "the new engines took memories from the pool").toBeLessThan(pooled);
        const c = again.run(batch);
        expect(Array.from(c.outputQ)).toEqual(Array.from(a.outputQ));
        expect(c.counters).toEqual(a.counters);
        expect(c.saturation).toEqual(a.saturation);
        expect(plain(sw2.run(batch))).toEqual(simRun);
        again.dispose();
        sw2.dispose();
        // The populations cut over several PEs (the least SRAM that fits): the group kernels (egruMany,
        // requantizeMany32, the shared queues over many slices) against the TypeScript ones.
        const mc = mapGraph(q, hwWithUsable(minimumUsableBytes(q)));
        const cj = new Simulator(q, mc.partition, mc.placement, mc.routing, mc.hw, { kernels: "js" });
        const cw = new Simulator(q, mc.partition, mc.placement, mc.routing, mc.hw, { kernels: "wasm" });
        expect(plain(cw.run(batch))).toEqual(plain(cj.run(batch)));
        if (mc.partition.slices.some((x) => x.hi - x.lo < q.populations[x.popIndex].size)) cut++;
        grouped += (cw as unknown as { groups: ({ updateAll: unknown } | null)[] }).groups.filter((g) => g && g.updateAll).length;
        cw.dispose();
      },
    ), { numRuns: Math.max(20, Math.floor(RUNS / 4)) });
    expect(wasmRuns).toBeGreaterThan(0);
    expect([...forms].sort(), "every accumulation form ran").toEqual(["csr", "csr32", "dense32"]);
    expect(cut, "some models were cut over several PEs").toBeGreaterThan(0);
    expect(grouped, "some EGRU groups ran as one egruMany call").toBeGreaterThan(0);
  });
});
