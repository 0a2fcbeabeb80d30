// `nmc import event-ssm` and `nmc run --engine float` on event-time inputs, black-box: an event-ssm model
// fixture (test/fixtures/event-ssm, made by event-ssm's own code) imported from its flattened Flax variables
// and its config, run on the fixture's batch (.npz), on the same events as a CSV event list, and refused with
// exit 2 naming the key for malformed parameters and configs.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readNpy } from "../../runtime/io/npy.js";
import { ndarray, toFloat64 } from "../../runtime/io/ndarray.js";
import { encodeNpy } from "../../runtime/io/npy-write.js";
import { type CliResult, ensureBuilt, runNmc } from "../support/cli.js";
import { FIXTURES, fixture, inputsNpz, paramsNpz, relErr, writeNpz } from "../support/event-ssm.js";

let scratch = "";
let n = 0;
const dir = () => join(scratch, `case-${n++}`);
beforeAll(async () => {
  await ensureBuilt();
  scratch = mkdtempSync(join(tmpdir(), "nmc-import-event-ssm-"));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const cfg = (name: string) => join(FIXTURES, `${name}.yaml`);

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

function refused(r: CliResult, ...words: string[]): void {
  expect(r.code, r.stdout + r.stderr).toBe(2);
  for (const w of words) expect(r.stderr).toContain(w);
}

/** Imports a model fixture into a fresh directory; returns its model.json. */
function imported(name: string): string {
  const out = dir();
  ok(runNmc(["import", "event-ssm", paramsNpz(name, scratch), "--config", cfg(name), "-o", out, "--quiet"]));
  return join(out, "model.json");
}

function runLogits(model: string, input: string, extra: string[] = []): Float64Array {
  const y = join(dir() + ".npy");
  ok(runNmc(["run", model, "--engine", "float", "--input", input, "--out", y, "--quiet", ...extra]));
  return toFloat64(readNpy(y));
}

describe("nmc import event-ssm + nmc run --engine float", () => {
  it("model_pool: the logits of event-ssm within 2e-3 (f64 and f32), with and without lengths, with --workers 2", () => {
    const model = imported("model_pool");
    const want = toFloat64(fixture("model_pool").get("outputs/logits")!);
    const input = inputsNpz("model_pool", scratch);
    expect(relErr(runLogits(model, input), want)).toBeLessThan(2e-6);
    expect(relErr(runLogits(model, input, ["--precision", "f32"]), want)).toBeLessThan(2e-3);
    // Without lengths, a sequence ends after its last token ≥ 0 (event-ssm pads with −1): the fixture's lengths.
    expect(relErr(runLogits(model, inputsNpz("model_pool", dir(), false)), want)).toBeLessThan(2e-6);
    expect(Array.from(runLogits(model, input, ["--workers", "2"]))).toEqual(Array.from(runLogits(model, input)));
  });

  it("prints what it imported, and --json says the same", () => {
    const out = dir();
    const r = ok(runNmc(["import", "event-ssm", paramsNpz("model_timepool", scratch), "--config", cfg("model_timepool"), "-o", out]));
    expect(r.stdout).toContain("encoder/stages_1/SequenceLayer_0/S5SSM_0");
    expect(r.stdout).toContain("reads the LAST row");
    const j = JSON.parse(ok(runNmc(["import", "event-ssm", paramsNpz("model_timepool", scratch), "--config", cfg("model_timepool"), "-o", out, "--json"])).stdout);
    expect(j.readout).toBe("timepool");
    expect(j.total_downsampling).toBe(4);
    expect(j.params.layout).toBe("variables");
  });

  it("reads the params tree alone (keys without params/)", () => {
    const out = dir();
    ok(runNmc(["import", "event-ssm", paramsNpz("model_last", dir(), { bare: true }), "--config", cfg("model_last"), "-o", out, "--quiet"]));
    const want = toFloat64(fixture("model_last").get("outputs/logits")!);
    expect(relErr(runLogits(join(out, "model.json"), inputsNpz("model_last", scratch)), want)).toBeLessThan(2e-6);
  });

  it("an event list (CSV t,channel in µs) is one sequence: step i has Δt = t[i+1] − t[i], the last event is dropped", () => {
    const model = imported("model_pool");
    const f = fixture("model_pool");
    // Sample 1: 23 real events; the pool readout does not depend on the padding after them.
    const b = 1, L = f.get("inputs/tokens")!.shape[1];
    const len = toFloat64(f.get("inputs/lengths")!)[b];
    const tok = toFloat64(f.get("inputs/tokens")!).subarray(b * L, b * L + len);
    const dt = toFloat64(f.get("inputs/integration_timesteps")!).subarray(b * L, b * L + len);
    const rows = ["t,channel"];
    let t = 5000;
    for (let i = 0; i < len; i++) {
      rows.push(`${t},${tok[i]}`);
      t += dt[i] * 1000;
    }
    rows.push(`${t},3`); // the last event closes the step before it
    const csv = join(dir() + ".csv");
    writeFileSync(csv, rows.join("\n") + "\n");
    const want = toFloat64(f.get("outputs/logits")!).subarray(b * 5, b * 5 + 5);
    expect(relErr(runLogits(model, csv), want)).toBeLessThan(1e-5);
    // The same in milliseconds.
    const ms = join(dir() + ".csv");
    writeFileSync(ms, rows.map((r, i) => (i === 0 ? r : `${Number(r.split(",")[0]) / 1000},${r.split(",")[1]}`)).join("\n") + "\n");
    expect(relErr(runLogits(model, ms, ["--time-unit", "ms"]), want)).toBeLessThan(1e-5);
  });
});

describe("refused with exit 2, naming what is wrong", () => {
  it("a missing, an unknown, a misshapen and a non-finite parameter, by key", () => {
    const p = "params/encoder/stages_0/SequenceLayer_1/Dense_0/kernel";
    refused(runNmc(["import", "event-ssm", paramsNpz("model_pool", dir(), { drop: p }), "--config", cfg("model_pool"), "-o", dir()]), p);
    const extra = "params/encoder/stages_0/SequenceLayer_0/Dense_7/kernel";
    refused(runNmc(["import", "event-ssm", paramsNpz("model_pool", dir(), { extra: [extra, ndarray("f4", [2], new Float32Array(2))] }), "--config", cfg("model_pool"), "-o", dir()]), extra);
    const B = "params/encoder/stages_1/SequenceLayer_0/S5SSM_0/B";
    const bad = paramsNpz("model_pool", dir(), { drop: B, extra: [B, ndarray("f4", [4, 7, 2], new Float32Array(56))] });
    refused(runNmc(["import", "event-ssm", bad, "--config", cfg("model_pool"), "-o", dir()]), B, "[4, 8, 2]", "[4, 7, 2]");
    const D = "params/encoder/stages_0/SequenceLayer_0/S5SSM_0/D";
    const nan = paramsNpz("model_pool", dir(), { drop: D, extra: [D, ndarray("f4", [8], Float32Array.from({ length: 8 }, (_, i) => (i === 3 ? NaN : 1)))] });
    refused(runNmc(["import", "event-ssm", nan, "--config", cfg("model_pool"), "-o", dir()]), D, "non-finite");
  });

  it("a BatchNorm model without its batch_stats names the running mean", () => {
    const params = join(dir() + ".npz");
    writeNpz(params, [...fixture("model_pool_batchnorm")].filter(([k]) => k.startsWith("params/")));
    refused(runNmc(["import", "event-ssm", params, "--config", cfg("model_pool_batchnorm"), "-o", dir()]), "batch_stats/encoder/stages_0/SequenceLayer_0/BatchNorm_0/mean");
  });

  it("config keys nmc does not read, an unknown C_init or discretization, widths event-ssm cannot chain", () => {
    const params = paramsNpz("model_pool", scratch);
    const base = readFileSync(cfg("model_pool"), "utf8");
    const write = (text: string) => {
      const f = join(dir() + ".yaml");
      writeFileSync(f, text);
      return f;
    };
    refused(runNmc(["import", "event-ssm", params, "--config", write(base.replace("prenorm: true", "prenorm: true\n    dropout_mode: channel")), "-o", dir()]), "model.ssm.dropout_mode");
    refused(runNmc(["import", "event-ssm", params, "--config", write(base.replace("C_init: lecun_normal", "C_init: hippo")), "-o", dir()]), "model.ssm_init.C_init", "NotImplementedError");
    refused(runNmc(["import", "event-ssm", params, "--config", write(base.replace("discretization: async", "discretization: bilinear")), "-o", dir()]), "model.ssm.discretization");
    refused(runNmc(["import", "event-ssm", params, "--config", write(base.replace("d_model: 8", "d_model: 6")), "-o", dir()]), "params/encoder/encoder/embedding", "[20, 6]");
    refused(runNmc(["import", "event-ssm", params, "--config", write("model: [1, 2]\n"), "-o", dir()]), "model must be a mapping");
    refused(runNmc(["import", "event-ssm", params, "--config", write("model: {ssm_init: {a: 1\n"), "-o", dir()]), "not valid YAML");
  });

  it("a Flax msgpack file, with the line that flattens it", () => {
    const f = join(dir() + ".msgpack");
    writeFileSync(f, Uint8Array.of(0x82, 0xa6));
    refused(runNmc(["import", "event-ssm", f, "--config", cfg("model_pool"), "-o", dir()]), "msgpack", "flatten_dict");
  });

  it("compiling an event-time model: golden with its calibration inputs; cuda's int program and float variant; spinnaker2 (decoder after the readout) bit-exact with golden; tick options on event time", () => {
    const model = imported("model_last");
    const input = inputsNpz("model_last", scratch);
    refused(runNmc(["compile", model, "-o", join(dir() + ".nmb")]), "time step of every event");
    // cuda: the int program compiles (bit-exactness is test/targets/cuda-event-time.test.ts); its float variant runs
    // the float engine's arithmetic in double, so it meets event-ssm's float32 logits as the float engine does.
    const cu = join(dir() + ".nmb");
    ok(runNmc(["compile", model, "--target", "cuda", "--calibrate", input, "-o", cu, "--quiet"]));
    const yf = join(dir() + ".npy");
    ok(runNmc(["run", cu, "--precision", "float", "--input", input, "--out", yf, "--quiet"]));
    expect(relErr(toFloat64(readNpy(yf)), toFloat64(fixture("model_last").get("outputs/logits")!))).toBeLessThan(2e-3);
    // spinnaker2: the readout's value travels to the decoder's PE every step, as golden delivers it: bit-exact.
    const s2 = join(dir() + ".nmb");
    ok(runNmc(["compile", model, "--target", "spinnaker2", "--calibrate", input, "-o", s2, "--quiet"]));
    const v = runNmc(["verify", s2, "--input", input, "--against", "golden"]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/bit-exact/i);
    const bundle = join(dir() + ".nmb");
    ok(runNmc(["compile", model, "--target", "golden", "--calibrate", input, "-o", bundle, "--quiet"]));
    const y = join(dir() + ".npy");
    ok(runNmc(["run", bundle, "--input", input, "--out", y, "--quiet"]));
    const want = toFloat64(fixture("model_last").get("outputs/logits")!);
    expect(relErr(toFloat64(readNpy(y)), want)).toBeLessThan(0.1); // int8 golden vs event-ssm's float32 logits
    refused(runNmc(["run", model, "--input", input, "--dt", "1"]), "--dt", "event time");
    refused(runNmc(["run", model, "--input", `${input}:tokens`]), "several members");
    const x = join(dir() + ".npy");
    writeFileSync(x, encodeNpy(fixture("model_last").get("inputs/tokens")!));
    refused(runNmc(["run", model, "--input", x]), "time step of every event", "a plain .npy array");
    refused(runNmc(["run", "examples/egru-smnist/model.json", "--input", "examples/egru-smnist/inputs/x.npy", "--time-unit", "ms"]), "--time-unit applies to event-time models");
  });
});
