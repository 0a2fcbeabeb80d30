import { describe, expect, it } from "vitest";
import { calibratePass } from "../../compiler/passes/calibrate.js";
import { quantizePass } from "../../compiler/passes/quantize.js";
import { tensor } from "../../ir/builder.js";
import { decodeGraph, encodeGraph } from "../../ir/codec.js";
import { NmcError } from "../../ir/errors.js";
import type { Graph, Population, Projection } from "../../ir/types.js";
import { type Problem, assertValidGraph, verifyGraph } from "../../ir/verify.js";
import { buildGraph, uniform } from "../support/graphs.js";

// Input x → EGRU egru → DiagonalSSM ssm → Dense dense (tanh) → Readout readout, as in test/support/graphs.ts
const SHAPE = { seed: 13, inputs: 3, egru: 4, state: 3, dense: 2, pruneFraction: 0.3, readout: "mean" as const };

function quantized(weightBits: 8 | 16 = 8, stateBits: 16 | 32 = 16): Graph {
  const g = buildGraph(SHAPE);
  const r = uniform(77, -2, 2);
  const batch = { data: Float64Array.from({ length: 2 * 6 * SHAPE.inputs }, r), batch: 2, ticks: 6, channels: SHAPE.inputs };
  const cal = calibratePass.run(g, { batch }).report;
  return quantizePass.run(g, { calibration: cal, weightBits, stateBits }).graph;
}

const BASE = encodeGraph(quantized());
/** A fresh deep copy of the valid quantized graph (decodeGraph also verifies it). */
const fresh = (): Graph => decodeGraph(BASE);
const pop = (g: Graph, name: string): Population => g.populations.find((p) => p.name === name)!;
const proj = (g: Graph, name: string): Projection => g.projections.find((j) => j.name === name)!;

/** The problems verifyGraph reports: at least one matches, and every one concerns `node` (nothing else broke). */
function expectOnly(g: Graph, node: string, message: RegExp): Problem[] {
  const problems = verifyGraph(g);
  expect(problems.length, JSON.stringify(problems)).toBeGreaterThan(0);
  expect(problems.map((p) => p.node)).toEqual(problems.map(() => node));
  expect(problems.some((p) => message.test(p.message)), JSON.stringify(problems)).toBe(true);
  return problems;
}

describe("verifyGraph on quantized IR", () => {
  it("accepts the quantized graph (8/16-bit weights, 16/32-bit states)", () => {
    for (const [wb, sb] of [[8, 16], [16, 16], [8, 32], [16, 32]] as const) {
      const g = quantized(wb, sb);
      expect(g.quant).toBeDefined();
      expect(verifyGraph(g)).toEqual([]);
    }
    expect(verifyGraph(fresh())).toEqual([]);
  });

  it("a population without a fixed-point format", () => {
    const g = fresh();
    delete pop(g, "egru").fixed;
    expectOnly(g, "population egru", /quantized graph, but the population has no fixed-point format/);
    const h = fresh();
    delete pop(h, "readout").fixed;
    expectOnly(h, "population readout", /no fixed-point format/);
  });

  it("float weights in a quantized graph", () => {
    const g = fresh();
    const j = proj(g, "egru.kernel");
    j.weights.values = tensor(Float32Array.from(j.weights.values.data));
    expectOnly(g, "projection egru.kernel", /weights are f32, the quantized IR needs i8/);
  });

  it("weights of the other integer width than quant.weight_bits", () => {
    const g = fresh();
    const j = proj(g, "dense.kernel");
    j.weights.values = tensor(Int16Array.from(j.weights.values.data));
    expectOnly(g, "projection dense.kernel", /weights are i16, the quantized IR needs i8/);
  });

  it("integer weights in a float graph", () => {
    const g = buildGraph(SHAPE);
    expect(verifyGraph(g)).toEqual([]);
    const j = proj(g, "egru.kernel");
    j.weights.values = tensor(Int8Array.from(j.weights.values.data, (v) => Math.round(v * 50)));
    expectOnly(g, "projection egru.kernel", /float graph with i8 weights \(no quantization info\)/);
  });

  it("a requantization multiplier ≥ 2^15, a negative one, a shift outside [0, 52], a wrong count", () => {
    const g = fresh();
    proj(g, "egru.kernel").requant!.multiplier[0] = 2 ** 15;
    expectOnly(g, "projection egru.kernel", /requantization entry 0: multiplier 32768 \/ shift \d+ outside \[0, 2\^15\) \/ \[0, 52\]/);

    const h = fresh();
    proj(h, "ssm.B").requant!.multiplier[2] = -16384;
    expectOnly(h, "projection ssm.B", /requantization entry 2: multiplier -16384/);

    const k = fresh();
    proj(k, "dense.kernel").requant!.shift[1] = 53;
    expectOnly(k, "projection dense.kernel", /requantization entry 1: multiplier \d+ \/ shift 53 outside/);

    const m = fresh();
    const rq = proj(m, "egru.recurrent_kernel").requant!;
    rq.multiplier = rq.multiplier.subarray(1);
    expectOnly(m, "projection egru.recurrent_kernel", /requantization has 11 multipliers and 12 shifts, expected 12 of each/);

    const n = fresh();
    delete proj(n, "ssm.D").requant;
    expectOnly(n, "projection ssm.D", /quantized graph, but the projection has no requantization multipliers/);
  });

  it("a C requantization multiplier ≥ 2^15 in a DiagonalSSM", () => {
    const g = fresh();
    pop(g, "ssm").tensors.c_mult.data[1] = 40000;
    expectOnly(g, "population ssm", /C requantization entry 1: multiplier 40000/);
  });

  it("a lookup table of the wrong size, input format, or missing", () => {
    const g = fresh();
    const e = pop(g, "egru");
    const sig = e.luts!.find((l) => l.name === "sigmoid")!;
    sig.table = sig.table.slice(0, 255);
    expectOnly(g, "population egru", /lookup table sigmoid must have 2\^k entries \(k in 8…12\) and in_frac = acc_frac \d+ ≥ step_log2 \(has 255,/);
    for (const n of [128, 768, 8192]) {
      const g2 = fresh();
      pop(g2, "egru").luts!.find((l) => l.name === "sigmoid")!.table = new Int16Array(n);
      expectOnly(g2, "population egru", new RegExp(`lookup table sigmoid must have 2\\^k entries .*\\(has ${n},`));
    }

    const h = fresh();
    const tanh = pop(h, "dense").luts!.find((l) => l.name === "tanh")!;
    tanh.inFrac += 1;
    expectOnly(h, "population dense", /lookup table tanh must have 2\^k entries \(k in 8…12\) and in_frac = acc_frac/);

    // a longer table must keep the range: 1024 entries need bins of 2^−(step_log2 + 2), and lo unchanged
    const r = fresh();
    const sigR = pop(r, "egru").luts!.find((l) => l.name === "sigmoid")!;
    sigR.table = new Int16Array(1024);
    expectOnly(r, "population egru", /lookup table sigmoid must cover \[-8, 8\): has lo -8 and 1024 bins of 2\^-4/);
    sigR.stepLog2 += 2;
    expect(verifyGraph(r).filter((x) => /lookup/.test(x.message))).toEqual([]);
    sigR.lo = -4;
    expectOnly(r, "population egru", /lookup table sigmoid must cover \[-8, 8\): has lo -4/);

    const k = fresh();
    pop(k, "egru").luts = pop(k, "egru").luts!.filter((l) => l.name !== "tanh");
    expectOnly(k, "population egru", /missing lookup table tanh/);
  });

  it("an EGRU output format other than Q14", () => {
    const g = fresh();
    pop(g, "egru").fixed!.outFrac = 13;
    expectOnly(g, "population egru", /EGRU output must be Q14, is out_frac 13/);
  });

  it("a read_frac other than state_frac − (state_bits − 16)", () => {
    const g = fresh();
    const f = pop(g, "ssm").fixed!;
    f.readFrac += 1;
    expectOnly(g, "population ssm", new RegExp(`read_frac ${f.readFrac} must be state_frac - \\(state_bits - 16\\) = ${f.readFrac - 1}`));
    const h = quantized(8, 32);
    const f32 = pop(h, "ssm").fixed!;
    expect(f32.readFrac).toBe(f32.stateFrac - 16);
    f32.readFrac = f32.stateFrac; // as if the state were 16-bit
    expectOnly(h, "population ssm", /read_frac/);
  });

  it("formats outside 0..40 and bad widths", () => {
    const g = fresh();
    pop(g, "dense").fixed!.accFrac = 41;
    expectOnly(g, "population dense", /format accFrac = 41 is outside 0\.\.40/);

    const h = fresh();
    pop(h, "x").fixed!.outFrac = -1;
    expectOnly(h, "population x", /format outFrac = -1 is outside 0\.\.40/);

    const k = fresh();
    pop(k, "ssm").fixed!.stateBits = 24;
    const problems = expectOnly(k, "population ssm", /state bits must be 16 or 32, is 24/);
    expect(problems.some((p) => /read_frac/.test(p.message))).toBe(true); // 24 − 16 no longer matches either

    const m = fresh();
    m.quant!.weightBits = 12;
    const mp = verifyGraph(m);
    expect(mp.some((p) => p.node === "graph g" && /weight bits must be 8 or 16, is 12/.test(p.message))).toBe(true);
  });

  it("quantized tensors with the wrong dtype or missing", () => {
    const g = fresh();
    const d = pop(g, "dense");
    d.tensors.bias = tensor(Float32Array.from(d.tensors.bias.data));
    expectOnly(g, "population dense", /tensor bias is f32, the quantized IR needs i32/);

    const h = fresh();
    delete pop(h, "ssm").tensors.c_shift;
    expectOnly(h, "population ssm", /missing quantized tensor c_shift/);

    const k = fresh();
    const s = pop(k, "ssm");
    s.tensors.c_re = { ...s.tensors.c_re, dtype: "i16", data: Int16Array.from(s.tensors.c_re.data) };
    expectOnly(k, "population ssm", /tensor c_re is i16, the quantized IR needs i8/);
  });

  it("a softmax population in a quantized graph", () => {
    const g = fresh();
    const d = pop(g, "dense");
    if (d.kind !== "Dense") throw new Error("unreachable");
    d.activation = "softmax";
    d.luts = [];
    expectOnly(g, "population dense", /softmax has no quantized form/);
  });

  it("reports several planted problems at once, each with its node, and decodeGraph refuses them", () => {
    const g = fresh();
    pop(g, "egru").fixed!.outFrac = 12;
    pop(g, "ssm").fixed!.readFrac = 99;
    proj(g, "dense.kernel").requant!.multiplier[0] = 1 << 20;
    const text = verifyGraph(g).map((p) => `${p.node}: ${p.message}`).join("\n");
    expect(text).toMatch(/population egru: EGRU output must be Q14/);
    expect(text).toMatch(/population ssm: read_frac 99/);
    expect(text).toMatch(/projection dense\.kernel: requantization entry 0: multiplier 1048576/);
    expect(() => assertValidGraph(g)).toThrow(NmcError);
    let err: unknown;
    try {
      decodeGraph(encodeGraph(g));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NmcError);
    expect((err as NmcError).message).toMatch(/invalid IR \(decoded\): 3 problem\(s\)/);
    expect((err as NmcError).node).toBe("population egru");
  });
});

describe("verifyGraph on a quantized Multiply (operand formats frac_a, frac_b)", () => {
  const BASE_MUL = encodeGraph((() => {
    const g = buildGraph({ ...SHAPE, gate: true });
    const r = uniform(78, -2, 2);
    const batch = { data: Float64Array.from({ length: 2 * 6 * SHAPE.inputs }, r), batch: 2, ticks: 6, channels: SHAPE.inputs };
    return quantizePass.run(g, { calibration: calibratePass.run(g, { batch }).report }).graph;
  })());
  const mul = (): [Graph, Population] => {
    const g = decodeGraph(BASE_MUL);
    return [g, pop(g, "ssm.mul")];
  };

  it("round-trips through the codec and verifies; its operand formats lie in 0..acc_frac", () => {
    const [g, m] = mul();
    expect(m.kind).toBe("Multiply");
    expect(verifyGraph(g)).toEqual([]);
    const fa = m.tensors.frac_a.data[0], fb = m.tensors.frac_b.data[0];
    expect(fa).toBeGreaterThanOrEqual(0);
    expect(fa).toBeLessThanOrEqual(m.fixed!.accFrac);
    expect(fb).toBeLessThanOrEqual(m.fixed!.accFrac);
    expect(fa + fb - m.fixed!.outFrac).toBeGreaterThanOrEqual(0);
    expect(decodeGraph(encodeGraph(g))).toEqual(g);
  });

  it("a missing, mistyped or out-of-range operand format is reported", () => {
    const [g1, m1] = mul();
    delete m1.tensors.frac_b;
    expectOnly(g1, "population ssm.mul", /missing quantized tensor frac_b/);
    const [g2, m2] = mul();
    m2.tensors.frac_a = tensor(Int16Array.of(3));
    expectOnly(g2, "population ssm.mul", /tensor frac_a is i16, the quantized IR needs i32/);
    const [g3, m3] = mul();
    m3.tensors.frac_a = tensor(Int32Array.of(m3.fixed!.accFrac + 1));
    expectOnly(g3, "population ssm.mul", /frac_a = \d+ must be in 0..acc_frac/);
    const [g4, m4] = mul();
    m4.fixed!.outFrac = m4.tensors.frac_a.data[0] + m4.tensors.frac_b.data[0] + 1;
    expectOnly(g4, "population ssm.mul", /frac_a \+ frac_b − out_frac = -1 must be in 0..52/);
  });
});
