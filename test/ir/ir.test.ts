import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { csrFromDense, csrFromDiagonal, csrToDense } from "../../ir/builder.js";
import { decodeGraph, encodeGraph } from "../../ir/codec.js";
import { NmcError } from "../../ir/errors.js";
import { printGraph } from "../../ir/print.js";
import type { Graph } from "../../ir/types.js";
import { verifyGraph } from "../../ir/verify.js";
import { buildGraph, graphShapeArb } from "../support/graphs.js";

const clone = (g: Graph): Graph => decodeGraph(encodeGraph(g));

describe("IR codec", () => {
  it("encode → decode → print is the identity on random graphs", () => {
    fc.assert(fc.property(graphShapeArb, (s) => {
      const g = buildGraph(s);
      expect(verifyGraph(g)).toEqual([]);
      const back = decodeGraph(encodeGraph(g));
      expect(printGraph(back)).toBe(printGraph(g));
      // and the bytes are stable: encoding the decoded graph gives the same bytes
      expect(Buffer.from(encodeGraph(back)).equals(Buffer.from(encodeGraph(g)))).toBe(true);
    }), { numRuns: 40 });
  });

  it("the printed form changes when one stored weight changes", () => {
    const g = buildGraph({ seed: 7, inputs: 3, egru: 4, state: 2, dense: 2, pruneFraction: 0, readout: "mean" });
    const h = clone(g);
    (h.projections[0].weights.values.data as Float32Array)[5] += 1e-3;
    expect(printGraph(h)).not.toBe(printGraph(g));
  });

  it("refuses bytes that are not a Graph with an NmcError", () => {
    const bytes = encodeGraph(buildGraph({ seed: 3, inputs: 2, egru: 2, state: 1, dense: 1, pruneFraction: 0, readout: "none" }));
    expect(() => decodeGraph(bytes.subarray(0, bytes.length - 7))).toThrow(NmcError);
    expect(() => decodeGraph(Uint8Array.from([0xff, 0xff, 0xff, 0xff]))).toThrow(NmcError);
  });
});

describe("IR verifier", () => {
  const base = () => buildGraph({ seed: 11, inputs: 3, egru: 4, state: 2, dense: 2, pruneFraction: 0.3, readout: "last" });

  it("accepts a well-formed graph", () => {
    expect(verifyGraph(base())).toEqual([]);
  });

  it("reports every problem with the node it concerns", () => {
    const g = base();
    g.projections[0].cols = 11; // port is 12 wide
    g.populations[1].tensors.thr.data[0] = NaN;
    g.projections.push({ ...g.projections[2], name: "dangling", source: "nowhere" });
    const problems = verifyGraph(g);
    const text = problems.map((p) => `${p.node}: ${p.message}`).join("\n");
    expect(text).toMatch(/projection egru\.kernel: has 11 columns but port egru\.input is 12 wide/);
    expect(text).toMatch(/population egru: tensor thr has a non-finite value/);
    expect(text).toMatch(/projection dangling: source population nowhere does not exist/);
  });

  it("rejects a delay-0 cycle and accepts it with delay 1", () => {
    const g = base();
    const rec = g.projections.find((j) => j.name === "egru.recurrent_kernel")!;
    rec.delay = 0;
    expect(verifyGraph(g).map((p) => p.message).join()).toMatch(/cycle needs a delay-1 edge/);
  });

  it("checks CSR invariants", () => {
    const g = base();
    const w = g.projections[0].weights;
    if (w.colIdx.length > 1 && w.rowPtr[1] - w.rowPtr[0] > 1) {
      const t = w.colIdx[0];
      w.colIdx[0] = w.colIdx[1];
      w.colIdx[1] = t;
      expect(verifyGraph(g).map((p) => p.message).join()).toMatch(/column indices must be increasing/);
    }
  });

  // Regression (was a bug; found by the IR fuzzer once its byte positions were uniform): a corrupt row_ptr[1]
  // of 2^31 − 1, with a decrease later, sent the column-index loop through two billion entries past the end of
  // colIdx (decodeGraph took 30 s) before the decrease was seen. Counted, not timed: colIdx is read at most nnz times.
  it("a row_ptr that jumps past nnz and then decreases is refused without reading past colIdx", () => {
    const g = base();
    const j = g.projections.find((p) => p.rows >= 2 && p.weights.colIdx.length > 0)!;
    const w = j.weights;
    const nnz = w.colIdx.length;
    w.rowPtr[1] = 2 ** 31 - 1;
    let reads = 0;
    const counted = new Proxy(w.colIdx, {
      get(target, key) {
        if (typeof key === "string" && /^\d+$/.test(key)) reads++;
        const v = Reflect.get(target, key, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
    });
    (w as { colIdx: Int32Array }).colIdx = counted;
    expect(verifyGraph(g).map((p) => p.message).join()).toMatch(/row_ptr decreases at row 1/);
    expect(reads).toBeLessThanOrEqual(nnz);
  });
});

describe("CSR", () => {
  it("dense → CSR → dense is the identity and drops exactly the zeros", () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 7 }), fc.integer({ min: 1, max: 7 }), fc.array(fc.constantFrom(0, 0, 1.5, -2, 0.25), { minLength: 49, maxLength: 49 }),
      (rows, cols, pool) => {
        const dense = pool.slice(0, rows * cols);
        const w = csrFromDense(dense, rows, cols);
        expect(Array.from(csrToDense(w, rows, cols))).toEqual(dense);
        expect(w.colIdx.length).toBe(dense.filter((v) => v !== 0).length);
      },
    ));
  });

  it("csrFromDiagonal gives what csrFromDense gives for the dense diagonal matrix, in f32 and f64, or keeps every entry", () => {
    fc.assert(fc.property(fc.array(fc.constantFrom(0, 0, 1.5, -2, 0.1), { maxLength: 12 }), fc.constantFrom("f32" as const, "f64" as const), (d, dtype) => {
      const n = d.length;
      const dense = new Float64Array(n * n);
      for (let i = 0; i < n; i++) dense[i * n + i] = d[i];
      const a = csrFromDiagonal(d, dtype), b = csrFromDense(dense, n, n, dtype);
      expect(Array.from(a.rowPtr)).toEqual(Array.from(b.rowPtr));
      expect(Array.from(a.colIdx)).toEqual(Array.from(b.colIdx));
      expect(a.values.dtype).toBe(b.values.dtype);
      expect(Array.from(a.values.data)).toEqual(Array.from(b.values.data));
      // keepZeros: every diagonal entry stored, zeros too (BatchNormalization's scale)
      const k = csrFromDiagonal(d, dtype, true);
      expect(Array.from(k.rowPtr)).toEqual(Array.from({ length: n + 1 }, (_, i) => i));
      expect(Array.from(k.colIdx)).toEqual(Array.from({ length: n }, (_, i) => i));
      expect(Array.from(k.values.data)).toEqual(dtype === "f32" ? Array.from(Float32Array.from(d)) : d);
    }));
  });
});
