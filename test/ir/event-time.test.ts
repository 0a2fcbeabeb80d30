// The event-time IR (issue 19, float half): multi-rate execution (Population.rate, ir/timing.ts), event-time
// inputs and DiagonalSSMs, EventPooling, the pool/timepool readouts and a decoder after a readout. Checked
// here: the codec and printer round trip, what the verifier refuses, the float engine's rate semantics on a
// hand-computed graph, and that every integer layer (QUANT_OPS, GOLDEN_OPS, S2_OPS, CUDA_OPS) refuses the new
// kinds and modes by name instead of computing something else.
import { describe, expect, it } from "vitest";
import { QUANT_OPS } from "../../compiler/passes/formats.js";
import { checkQuantizable } from "../../compiler/pipeline.js";
import { csrFromDense, GraphBuilder, identityCsr } from "../../ir/builder.js";
import { decodeGraph, encodeGraph } from "../../ir/codec.js";
import { NmcError } from "../../ir/errors.js";
import { printGraph } from "../../ir/print.js";
import { graphTiming } from "../../ir/timing.js";
import type { Graph, PoolMode } from "../../ir/types.js";
import { verifyGraph } from "../../ir/verify.js";
import { batchFromShape } from "../../runtime/batch.js";
import { runFloat } from "../../runtime/float/interpreter.js";
import { GOLDEN_OPS } from "../../runtime/golden/ops.js";
import { CUDA_OPS } from "../../targets/cuda/ops/index.js";
import { S2_OPS } from "../../targets/spinnaker2/ops.js";

/** values [2] (event time) → EventPooling(stride, mode) → Dense(identity) → Readout(mode) → Dense decoder (a + b). */
function pooled(stride: number, mode: PoolMode, readout: "pool" | "timepool" | "last" = "last"): Graph {
  const b = new GraphBuilder("pooled");
  const x = b.input("x", 2, "values", undefined, { eventTime: true });
  const p = b.eventPooling("pool", 2, stride, mode);
  b.project("pool.identity", x, p, "x", identityCsr(2));
  const d = b.dense("next", 2, "linear", new Float64Array(2));
  b.project("next.identity", p, d, "x", identityCsr(2));
  const r = b.readout("readout", d, readout);
  const dec = b.dense("decoder", 1, "linear", Float64Array.of(0.5));
  b.project("decoder.kernel", r, dec, "x", csrFromDense([1, 1], 2, 1));
  b.outputs.push(dec.name);
  return b.build();
}

describe("multi-rate IR", () => {
  it("the builder sets each population's rate from the strides upstream; the codec and the text form keep it", () => {
    const g = pooled(3, "avgpool");
    expect(g.populations.map((p) => p.rate)).toEqual([undefined, undefined, 3, 3, 3]);
    const t = graphTiming(g).byName;
    expect(t.get("pool")).toEqual({ rate: 1, outRate: 3, perSequence: false });
    expect(t.get("decoder")).toEqual({ rate: 3, outRate: 3, perSequence: true });
    const back = decodeGraph(encodeGraph(g));
    expect(printGraph(back)).toBe(printGraph(g));
    expect(printGraph(g)).toContain("population next: Dense[2] emits dense, activation linear, steps every 3 ticks");
    expect(printGraph(g)).toContain("EventPooling[2] emits dense, stride 3 avgpool");
    expect(printGraph(g)).toContain("encoding values, event time");
  });

  it("the verifier refuses a wrong stored rate, mixed input rates, a Δt reader without event time, a delay-1 readout edge", () => {
    const g = pooled(2, "last");
    g.populations[3].rate = 1;
    expect(verifyGraph(g).map((p) => p.message).join("\n")).toContain("rate is 1, but its inputs emit once every 2 ticks");
    const mixed = pooled(2, "last");
    const x = mixed.populations[0];
    mixed.projections.push({ ...mixed.projections[1], name: "next.direct", source: x.name });
    expect(verifyGraph(mixed).map((p) => p.message).join("\n")).toContain("every input of a population must run at one rate");
    const noTime = pooled(2, "timepool");
    delete (noTime.populations[0] as { eventTime?: boolean }).eventTime;
    expect(verifyGraph(noTime).map((p) => p.message).join("\n")).toContain("reads per-step time steps (Δt), but the graph's input is not event-time");
    const late = pooled(2, "last");
    late.projections[2].delay = 1;
    expect(verifyGraph(late).map((p) => p.message).join("\n")).toContain("a readout feeds populations within the tick only");
    const one = pooled(2, "last");
    (one.populations[1] as { stride: number }).stride = 1;
    expect(verifyGraph(one).map((p) => p.message).join("\n")).toContain("stride must be an integer ≥ 2");
  });
});

describe("the float engine's rates, by hand", () => {
  // x_t = (t, 10 t), Δt_t = t + 1 (ms), T = 7: groups of 3 are ticks {0,1,2} and {3,4,5}; tick 6 is dropped.
  const T = 7;
  const data = Float64Array.from({ length: 2 * T }, (_, i) => (i % 2 === 0 ? i / 2 : 5 * i - 5 * (i % 2)));
  const timesteps = Float64Array.from({ length: T }, (_, t) => t + 1);
  const run = (g: Graph, lengths?: Int32Array) => runFloat(g, batchFromShape(g, data, [1, T, 2], "x", { timesteps, lengths })).output;
  const x0 = (t: number) => t;

  it("last keeps each group's FIRST step, avgpool the mean, timepool the (Δt + 1e−6)-weighted mean", () => {
    // readout last → the value of group 2 (ticks 3..5); decoder: x0 + x1 + 0.5 with x1 = 10 x0.
    expect(run(pooled(3, "last"))[0]).toBeCloseTo(11 * x0(3) + 0.5, 12);
    expect(run(pooled(3, "avgpool"))[0]).toBeCloseTo(11 * 4 + 0.5, 12);
    const w = [4, 5, 6].map((v) => v + 1e-6);
    expect(run(pooled(3, "timepool"))[0]).toBeCloseTo(11 * (3 * w[0] + 4 * w[1] + 5 * w[2]) / (w[0] + w[1] + w[2]) + 0.5, 10);
  });

  it("the pool readout averages the first length // rate steps; timepool divides by the time of every step", () => {
    // Groups of 2 (ticks {0,1}, {2,3}, {4,5}), last: steps x0 = 0, 2, 4. length 5 → n = 2.
    expect(run(pooled(2, "last", "pool"), Int32Array.of(5))[0]).toBeCloseTo(11 * (0 + 2) / 2 + 0.5, 12);
    // timepool: Δt of the groups 1 + 2, 3 + 4, 5 + 6; n = 2 of them weighted, all three in the denominator.
    const dt = [3, 7, 11];
    expect(run(pooled(2, "last", "timepool"), Int32Array.of(5))[0]).toBeCloseTo(11 * (0 * (dt[0] + 1e-6) + 2 * (dt[1] + 1e-6)) / 21 + 0.5, 10);
  });
});

describe("event time on the integer layers: the quantize pass, golden, spinnaker2 and both CUDA variants take it", () => {
  const g = pooled(2, "timepool", "timepool");
  const pool = g.populations.find((p) => p.kind === "EventPooling")!;
  const refusal = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(NmcError);
      expect((e as Error).message).toMatch(/is not quantized yet/);
      return (e as Error).message;
    }
    throw new Error("not refused");
  };

  it("compile for a target without event time refuses (before calibration); golden, spinnaker2 and cuda (both variants' CUDA_OPS rows) do not", () => {
    expect(refusal(() => checkQuantizable(g, "no-event-time-target"))).toContain("event-time input");
    expect(() => checkQuantizable(g, "golden")).not.toThrow();
    expect(() => checkQuantizable(g, "spinnaker2")).not.toThrow();
    expect(() => checkQuantizable(g, "cuda")).not.toThrow();
    expect(() => QUANT_OPS.EventPooling.check(pool as never, "population pool")).not.toThrow();
    expect(() => CUDA_OPS.EventPooling.params(pool as never, "int")).not.toThrow();
    expect(CUDA_OPS.EventPooling.params(pool as never, "float")).toEqual([]);
    const ssm = { ...pool, kind: "DiagonalSSM", stateSize: 1, parameterization: "s5", discretization: "zoh", tensors: {} };
    // The float variant reads the float IR's Λ, step and C (runtime/float/ops.ts eventSsmStep), not the int decay constants.
    expect(CUDA_OPS.DiagonalSSM.params(ssm as never, "float").map((q) => q.role)).toEqual(["lambda_re", "lambda_im", "step", "c_re", "c_im"]);
  });
});
