// Black-box acceptance: `nmc run --engine float` on random models written in the TensorFlow.js LayersModel
// format must agree with an independent float64 reference (test/support/reference.ts) to within float32
// output rounding. The first block pins the reference itself down with hand-computed cases, so that the
// property tests compare against something known to be right.
import fc from "fast-check";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBuilt, runNmc, runNmcAsync } from "../support/cli.js";
import { decodeNpy, encodeNpyF32, readNpy } from "../support/npy-lite.js";
import {
  describeCase,
  effectiveReadout,
  type Family,
  type ModelCase,
  modelArtifacts,
  modelCaseArb,
  modelOutWidth,
  writeCase,
  writeModel,
} from "../support/random-model.js";
import {
  denseForward,
  egruForward,
  type EgruParams,
  forwardBatch,
  lruForward,
  type ModelSpec,
  newEgruStats,
  readout,
  s5Forward,
} from "../support/reference.js";

const f64 = (...v: number[]) => Float64Array.from(v);
const sig = (v: number) => 1 / (1 + Math.exp(-v));

/** A 2-unit EGRU on 1 input, small enough to follow by hand (see the comments in the first test). */
const handEgru: EgruParams = {
  // columns: z0 z1 r0 r1 g0 g1
  kernel: f64(0, 0, 0, 0, 2, 1),
  recurrent_kernel: f64(
    0, 0, 0, 0, 0, 1, // unit 0's event drives g1
    0, 0, 0, 0, 0.5, 0, // unit 1's event drives g0
  ),
  bias: f64(0, 0, 0, 0, 0, 0),
  recurrent_bias: f64(0, 0, 0, 0, 0.25, 0),
  thr: f64(0.3, 0.5),
};

describe("reference implementation (hand-computed cases)", () => {
  it("EGRU, 2 units × 3 ticks: events, reset by subtraction, recurrence through events only", () => {
    const y = egruForward(f64(1, 0, 1), 3, 1, handEgru);
    // z = r = σ(0) = 0.5 everywhere (no weights reach the z and r columns).
    // t1 (x=1, no previous events): vh_g = b_r = [0.25, 0]
    const c0t1 = 0.5 * Math.tanh(2 + 0.5 * 0.25); // 0.4859 > 0.3: fires
    const c1t1 = 0.5 * Math.tanh(1); // 0.3808 < 0.5: silent
    const h0 = c0t1 - 0.3;
    const h1 = c1t1;
    // t2 (x=0): unit 0's event reaches g1 through R; unit 1 was silent so g0 sees only b_r.
    const c0t2 = 0.5 * h0 + 0.5 * Math.tanh(0.5 * 0.25);
    const c1t2 = 0.5 * h1 + 0.5 * Math.tanh(0.5 * (1 * c0t1));
    // t3 (x=1, no events at t2): both cross.
    const c0t3 = 0.5 * c0t2 + 0.5 * Math.tanh(2.125);
    const c1t3 = 0.5 * c1t2 + 0.5 * Math.tanh(1);
    expect(c0t1).toBeCloseTo(0.485941, 5);
    expect(c1t2).toBeLessThan(0.5);
    expect(c0t2).toBeLessThan(0.3);
    expect(c0t3).toBeGreaterThan(0.3);
    expect(c1t3).toBeGreaterThan(0.5);
    const want = [c0t1, 0, 0, 0, c0t3, c1t3];
    want.forEach((w, i) => expect(y[i]).toBeCloseTo(w, 14));
  });

  it("EGRU clamps thresholds to [0, 1]", () => {
    const x = f64(1, 0.5, -1, 2);
    const wild = egruForward(x, 4, 1, { ...handEgru, thr: f64(1.7, -0.2) });
    const clamped = egruForward(x, 4, 1, { ...handEgru, thr: f64(1, 0) });
    expect(Array.from(wild)).toEqual(Array.from(clamped));
  });

  it("EGRU with r gating the recurrent product (reset after R, cuDNN style)", () => {
    // One unit, one input: vx = [0, a, b], vh = [0, 0, br] with no events; r = σ(a), g = tanh(b + σ(a)·br).
    const p: EgruParams = { kernel: f64(0, 0.7, 0.4), recurrent_kernel: f64(0, 0, 0), bias: f64(0, 0, 0), recurrent_bias: f64(0, 0, -0.9), thr: f64(1) };
    const y = egruForward(f64(1), 1, 1, p);
    expect(y[0]).toBe(0); // c = 0.5·tanh(0.4 − 0.9σ(0.7)) < 1: no event
    const stats = newEgruStats();
    egruForward(f64(1), 1, 1, p, stats);
    expect(stats.minMargin).toBeCloseTo(Math.abs(0.5 * Math.tanh(0.4 - 0.9 * sig(0.7)) - 1), 14);
  });

  it("LRU with P = 1 matches the closed form for an impulse and a step", () => {
    const p = {
      nu_log: f64(Math.log(0.3)),
      theta_log: f64(Math.log(0.8)),
      gamma_log: f64(-0.2),
      B_re: f64(0.7),
      B_im: f64(-0.4),
      C_re: f64(1.1),
      C_im: f64(0.6),
      D: f64(0.25),
    };
    const T = 6;
    const mag = Math.exp(-0.3);
    const lam = (k: number) => [mag ** k * Math.cos(0.8 * k), mag ** k * Math.sin(0.8 * k)] as const; // λ^k
    const g = Math.exp(-0.2);
    const b = [g * 0.7, g * -0.4] as const;
    const reC = (x: readonly [number, number]) => 1.1 * x[0] - 0.6 * x[1];
    const mul = (a: readonly [number, number], c: readonly [number, number]) => [a[0] * c[0] - a[1] * c[1], a[0] * c[1] + a[1] * c[0]] as const;

    const impulse = lruForward(f64(1, 0, 0, 0, 0, 0), T, 1, p);
    for (let k = 0; k < T; k++) {
      expect(impulse[k]).toBeCloseTo(reC(mul(lam(k), b)) + (k === 0 ? 0.25 : 0), 12);
    }
    // Step: x_k = b̄ (1 − λ^{k+1}) / (1 − λ)
    const step = lruForward(new Float64Array(T).fill(1), T, 1, p);
    const l1 = lam(1);
    const den = (1 - l1[0]) ** 2 + l1[1] ** 2;
    for (let k = 0; k < T; k++) {
      const lk = lam(k + 1);
      const num = mul(b, [1 - lk[0], -lk[1]]);
      const x = [(num[0] * (1 - l1[0]) - num[1] * l1[1]) / den, (num[1] * (1 - l1[0]) + num[0] * l1[1]) / den] as const;
      expect(step[k]).toBeCloseTo(reC(x) + 0.25, 12);
    }
  });

  it("S5 (ZOH) with P = 1: first step and the steady state −B u / Λ", () => {
    const lr = -0.8;
    const li = 1.3;
    const p = {
      Lambda_re: f64(lr),
      Lambda_im: f64(li),
      log_step: f64(Math.log(0.5)),
      B_re: f64(0.9),
      B_im: f64(0.2),
      C_re: f64(0.7),
      C_im: f64(-0.3),
      D: f64(-0.5),
    };
    // First step: x = ((e^{ΛΔ} − 1)/Λ) b.
    const e = Math.exp(lr * 0.5);
    const a = [e * Math.cos(li * 0.5) - 1, e * Math.sin(li * 0.5)];
    const den = lr * lr + li * li;
    const gam = [(a[0]! * lr + a[1]! * li) / den, (a[1]! * lr - a[0]! * li) / den];
    const x1 = [gam[0]! * 0.9 - gam[1]! * 0.2, gam[0]! * 0.2 + gam[1]! * 0.9];
    const y1 = s5Forward(f64(1), 1, 1, p);
    expect(y1[0]).toBeCloseTo(0.7 * x1[0]! + 0.3 * x1[1]! - 0.5, 13);
    // Steady state of the ZOH recurrence under a constant input equals the continuous one: x = −b/Λ.
    const T = 400;
    const y = s5Forward(new Float64Array(T).fill(1), T, 1, p);
    const xs = [-(0.9 * lr + 0.2 * li) / den, -(0.2 * lr - 0.9 * li) / den];
    expect(y[T - 1]).toBeCloseTo(0.7 * xs[0]! + 0.3 * xs[1]! - 0.5, 10);
  });

  it("Dense and its activations", () => {
    const W = f64(1, 2, 3, 4); // [2, 2]
    const b = f64(0.5, -1);
    const x = f64(1, -1);
    expect(Array.from(denseForward(x, 1, 2, W, b, "linear"))).toEqual([-1.5, -3]);
    expect(Array.from(denseForward(x, 1, 2, W, b, "relu"))).toEqual([0, 0]);
    expect(denseForward(x, 1, 2, W, b, "sigmoid")[0]).toBeCloseTo(1 / (1 + Math.exp(1.5)), 15);
    expect(denseForward(x, 1, 2, W, b, "tanh")[1]).toBeCloseTo(Math.tanh(-3), 15);
  });

  it("readout last / mean / sum", () => {
    const y = f64(1, 2, 3, 4, 5, 6); // [T=3, K=2]
    expect(Array.from(readout(y, 3, 2, "last"))).toEqual([5, 6]);
    expect(Array.from(readout(y, 3, 2, "mean"))).toEqual([3, 4]);
    expect(Array.from(readout(y, 3, 2, "sum"))).toEqual([9, 12]);
  });

  it("npy-lite round-trips float32 and writes 64-byte aligned headers", () => {
    const bytes = encodeNpyF32([1.5, -2, 0, 3.25, 7, 8], [1, 2, 3]);
    const headerLen = bytes[8]! | (bytes[9]! << 8);
    expect((10 + headerLen) % 64).toBe(0);
    const back = decodeNpy(bytes);
    expect(back.descr).toBe("<f4");
    expect(back.shape).toEqual([1, 2, 3]);
    expect(Array.from(back.data)).toEqual([1.5, -2, 0, 3.25, 7, 8]);
    expect(decodeNpy(encodeNpyF32([4], [1])).shape).toEqual([1]);
  });

  it("the model writer lays out weights.bin in manifest order, float32 little-endian", () => {
    const [c] = fc.sample(modelCaseArb("mixed"), { numRuns: 1, seed: 7 });
    const a = modelArtifacts(c!.spec, { form: "functional" });
    const bin = a.shards.get("weights.bin")!;
    const manifest = a.json.weightsManifest[0].weights as { shape: number[] }[];
    const floats = manifest.reduce((n, w) => n + w.shape.reduce((x, y) => x * y, 1), 0);
    expect(bin.byteLength).toBe(4 * floats);
    const first = c!.spec.layers[0]!;
    expect(first.kind).toBe("EGRU");
    if (first.kind === "EGRU") expect(new DataView(bin.buffer).getFloat32(0, true)).toBe(first.params.kernel[0]);
    expect(a.json.modelTopology.config.layers[0].class_name).toBe("InputLayer");
  });

  it("the generator draws EGRU models that fire often, and some that never fire", () => {
    const cases = fc.sample(modelCaseArb("egru", { input: "dense" }), { numRuns: 200, seed: 42 });
    let firing = 0;
    let silent = 0;
    for (const c of cases) {
      const stats = newEgruStats();
      forwardBatch(c.spec, c.input.data, c.input.B, c.input.T, undefined, stats);
      const rate = stats.events / stats.steps;
      if (rate > 0.1) firing++;
      if (stats.events === 0) silent++;
    }
    expect(firing).toBeGreaterThan(80);
    expect(silent).toBeGreaterThan(5);
  });
});

// ---------------------------------------------------------------------------------------------------
// nmc run vs the reference

// Each case is one `nmc run` process (~0.5–1.5 s): 12 per property keeps this file near a minute of CI (30 took a
// fifth of the whole suite). The same float semantics are checked in process on many more random graphs
// (test/runtime/float64-reference.test.ts, test/compiler/functional.test.ts); NMC_ACCEPT_RUNS=30 restores the old depth.
const RUNS = Number(process.env.NMC_ACCEPT_RUNS ?? 12);
const TIME_LIMIT_MS = 240_000;
let scratch = ""; // made in beforeAll, so a run filtered down to the reference block leaves nothing behind
let caseNo = 0;
const kept: string[] = [];

/** The first element breaking |a − b| ≤ 1e-5·max(1, |b|), a tolerance for float32 output rounding plus summation-order noise. */
function firstMismatch(got: Float64Array, want: Float64Array): { index: number; got: number; want: number } | null {
  for (let i = 0; i < want.length; i++) {
    const a = got[i]!;
    const b = want[i]!;
    if (!(Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b)))) return { index: i, got: a, want: b };
  }
  return null;
}

function shapesAccepted(c: ModelCase): number[][] {
  const { B, T, single } = c.input;
  const K = modelOutWidth(c.spec);
  if (effectiveReadout(c)) return single ? [[B, K], [K]] : [[B, K]];
  return single ? [[B, T, K], [T, K]] : [[B, T, K]];
}

/** Writes the case, runs the CLI on it, and throws with a reproducible description if it disagrees. */
async function checkAgainstReference(c: ModelCase): Promise<void> {
  const dir = join(scratch, `case-${++caseNo}`);
  const paths = writeCase(dir, c);
  const args = ["run", paths.model, "--engine", "float", "--input", paths.input, "--out", paths.out];
  if (c.flagReadout) args.push("--readout", c.flagReadout);
  const fail = (why: string): never => {
    kept.push(dir);
    throw new Error(`${why}\n  case: ${describeCase(c)}\n  files kept in ${dir}\n  command: nmc ${args.join(" ")}`);
  };
  const r = await runNmcAsync(args);
  if (r.code !== 0) fail(`nmc run exited ${r.code}; stderr:\n${r.stderr.trim()}`);
  const got = readNpy(paths.out);
  if (got.descr !== "<f4") fail(`output dtype ${got.descr}, expected <f4`);
  const accepted = shapesAccepted(c);
  if (!accepted.some((s) => JSON.stringify(s) === JSON.stringify(got.shape))) {
    fail(`output shape [${got.shape.join(", ")}], expected ${accepted.map((s) => `[${s.join(", ")}]`).join(" or ")}`);
  }
  const stats = newEgruStats();
  const want = forwardBatch(c.spec, c.input.data, c.input.B, c.input.T, effectiveReadout(c), stats);
  const bad = firstMismatch(got.data, want);
  if (bad) {
    const flip = stats.steps > 0 ? `; EGRU min |c − θ| over the run = ${stats.minMargin.toExponential(3)} (a value near 0 means an event flipped at a threshold)` : "";
    fail(`element ${bad.index} (shape [${got.shape.join(", ")}]): nmc ${bad.got}, reference ${bad.want}${flip}`);
  }
  rmSync(dir, { recursive: true, force: true });
}

async function assertAgrees(arb: fc.Arbitrary<ModelCase>, numRuns = RUNS): Promise<void> {
  await fc.assert(
    fc.asyncProperty(arb, (c) => checkAgainstReference(c)),
    { numRuns, plugins: [fc.interruptAfterTimeLimit(TIME_LIMIT_MS)] },
  );
}

const families: Family[] = ["egru", "lru", "s5", "dense", "mixed"];
const anyFamily = (opts: Parameters<typeof modelCaseArb>[1]) => fc.constantFrom(...families).chain((f) => modelCaseArb(f, opts));
const T_OUT = TIME_LIMIT_MS + 60_000;

describe("nmc run --engine float agrees with the float64 reference", () => {
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), "nmc-accept-"));
    await ensureBuilt();
  }, 300_000);
  afterAll(() => {
    if (scratch && kept.length === 0) rmSync(scratch, { recursive: true, force: true });
  });

  it("hand-computed EGRU through the CLI, batch of 2", () => {
    const spec: ModelSpec = { inputWidth: 1, layers: [{ kind: "EGRU", name: "egru_1", inWidth: 1, units: 2, params: handEgru }] };
    const dir = join(scratch, "hand-egru");
    const model = writeModel(dir, spec);
    const x = join(dir, "x.npy");
    const out = join(dir, "y.npy");
    writeFileSync(x, encodeNpyF32([1, 0, 1, 0, 0, 0], [2, 3, 1]));
    const r = runNmc(["run", model, "--engine", "float", "--input", x, "--out", out]);
    expect(r.code, r.stderr).toBe(0);
    const y = readNpy(out);
    expect(y.shape).toEqual([2, 3, 2]);
    const want = forwardBatch(spec, f64(1, 0, 1, 0, 0, 0), 2, 3);
    expect(Array.from(want.subarray(6))).toEqual([0, 0, 0, 0, 0, 0]); // zero input: g0 = tanh(0.125)/2 stays below θ
    expect(firstMismatch(y.data, want)).toBeNull();
    expect(y.data[1]).toBe(0); // unit 1 stays silent at t1 …
    expect(y.data[5]).toBeGreaterThan(0.5); // … and fires at t3
  });

  for (const family of families) {
    it(`${family} models, Sequential and functional, batched inputs`, () => assertAgrees(modelCaseArb(family, { single: false })), T_OUT);
  }

  it("event-like sparse inputs (exact zeros, binary events)", async () => {
    await assertAgrees(fc.constantFrom<"events" | "binary-events">("events", "binary-events").chain((input) => fc.constantFrom(...families).chain((f) => modelCaseArb(f, { input }))));
  }, T_OUT);

  it("single [T, C] inputs", () => assertAgrees(anyFamily({ single: true }), Math.ceil(RUNS / 2)), T_OUT);

  it("readout last / mean / sum, from --readout or model metadata (the flag wins)", () => assertAgrees(anyFamily({ readout: "any" })), T_OUT);

  it("weights split over several shards, manifest in any order", () => assertAgrees(anyFamily({ shards: "any" }), Math.ceil(RUNS / 2)), T_OUT);

  it("--json prints one JSON document on stdout", () => {
    const [c] = fc.sample(modelCaseArb("mixed", { single: false }), { numRuns: 1, seed: 3 });
    const dir = join(scratch, "json");
    const paths = writeCase(dir, c!);
    const r = runNmc(["run", paths.model, "--engine", "float", "--input", paths.input, "--out", paths.out, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(() => JSON.parse(r.stdout)).not.toThrow();
    expect(readNpy(paths.out).shape).toEqual([c!.input.B, c!.input.T, modelOutWidth(c!.spec)]);
  });
});
