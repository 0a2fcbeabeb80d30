// event-ssm models in the float engine, against event-ssm's own outputs (test/fixtures/event-ssm, made by
// scripts/fixtures/event-ssm/make_fixtures.py with event-ssm's code): every model fixture imported (nmc import
// event-ssm's library half) and run in f64 and f32; every S5 layer fixture (each discretization, conj_sym on and
// off, D as a matrix, step_rescale, a stride with each pooling mode) and every EventPooling case as one-layer
// model.json files through the frontend. The error is check_fixtures.py's, max |got − want| / (1 + |want|).
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { readCheckpoint } from "../../compiler/import/checkpoint.js";
import { readEventSsmConfig } from "../../compiler/import/event-ssm-config.js";
import { importEventSsm } from "../../compiler/import/event-ssm.js";
import { layersModel, type NamedWeight, writeLayersModel } from "../../compiler/import/layers-model.js";
import { loadModel } from "../../compiler/frontend/index.js";
import type { Graph } from "../../ir/types.js";
import { batchFromShape } from "../../runtime/batch.js";
import { runFloat } from "../../runtime/float/interpreter.js";
import { toFloat64 } from "../../runtime/io/ndarray.js";
import { FIXTURES, MANIFEST, MODEL_FIXTURES, SSM_FIXTURES, fixture, importFixture, importedModelJson, oneLayerModel, relErr, ssmWeights } from "../support/event-ssm.js";

const dir = mkdtempSync(join(tmpdir(), "nmc-event-ssm-"));
const report: string[] = [];
afterAll(() => console.log(`event-ssm fixtures, max |got − want| / (1 + |want|):\n  ${report.join("\n  ")}`));

function runModelFixture(name: string, precision: "f64" | "f32"): { got: Float64Array; want: Float64Array } {
  const g = importFixture(name);
  const f = fixture(name);
  const tokens = f.get("inputs/tokens")!;
  const batch = batchFromShape(g, toFloat64(tokens), tokens.shape, name, {
    timesteps: toFloat64(f.get("inputs/integration_timesteps")!), lengths: Int32Array.from(toFloat64(f.get("inputs/lengths")!)),
  });
  const r = runFloat(g, batch, { precision });
  expect(r.outputShape).toEqual(f.get("outputs/logits")!.shape);
  return { got: r.output, want: toFloat64(f.get("outputs/logits")!) };
}

describe("event-ssm models: nmc import event-ssm + the float engine = event-ssm's logits", () => {
  test("the model fixtures cover every readout and discretization, prenorm and post-norm (LayerNorm and BatchNorm), conj_sym on and off, 1 and 2 stages", () => {
    const cfgs = MODEL_FIXTURES.map((n) => MANIFEST.files[`${n}.npz`].config);
    expect(Object.keys(MANIFEST.files).filter((f) => f.startsWith("model_")).sort()).toEqual(MODEL_FIXTURES.map((n) => `${n}.npz`).sort());
    expect(new Set(cfgs.map((c) => c.classification_mode))).toEqual(new Set(["pool", "timepool", "last"]));
    expect(new Set(cfgs.map((c) => c.discretization))).toEqual(new Set(["async", "zoh", "dirac"]));
    expect(new Set(cfgs.map((c) => `${c.prenorm ? "pre" : "post"} ${c.batchnorm ? "BatchNorm" : "LayerNorm"}`))).toEqual(new Set(["pre LayerNorm", "post LayerNorm", "post BatchNorm"]));
    expect(new Set(cfgs.map((c) => (c.ssm_init as { conj_sym: boolean }).conj_sym))).toEqual(new Set([true, false]));
    expect(new Set(cfgs.map((c) => c.num_stages))).toEqual(new Set([1, 2]));
  });
  for (const name of MODEL_FIXTURES) {
    test(name, () => {
      const e64 = relErr(...Object.values(runModelFixture(name, "f64")) as [Float64Array, Float64Array]);
      const e32 = relErr(...Object.values(runModelFixture(name, "f32")) as [Float64Array, Float64Array]);
      report.push(`${name}: f64 ${e64.toExponential(2)}, f32 ${e32.toExponential(2)}`);
      expect(e64).toBeLessThan(2e-6);
      expect(e32).toBeLessThan(2e-3);
    });
  }
});

describe("event-time DiagonalSSM = event-ssm's S5SSM, every layer fixture", () => {
  test("the layer fixtures cover each discretization, conj_sym on and off, D as a matrix, step_rescale and every pooling mode", () => {
    const cfgs = SSM_FIXTURES.map((n) => MANIFEST.files[`${n}.npz`].config);
    expect(new Set(cfgs.map((c) => c.discretization))).toEqual(new Set(["async", "zoh", "dirac"]));
    expect(new Set(cfgs.map((c) => c.conj_sym))).toEqual(new Set([true, false]));
    expect(new Set(cfgs.filter((c) => (c.stride as number) > 1).map((c) => c.pooling_mode))).toEqual(new Set(["last", "avgpool", "timepool"]));
    expect(cfgs.some((c) => c.H_in !== c.H_out)).toBe(true);
    expect(cfgs.some((c) => c.step_rescale !== 1)).toBe(true);
  });
  for (const name of SSM_FIXTURES) {
    test(name, () => {
      const c = MANIFEST.files[`${name}.npz`].config;
      const { weights, P, Hin, Hout } = ssmWeights(name);
      const stride = c.stride as number;
      const g = oneLayerModel(name, Hin, {
        class_name: "DiagonalSSM",
        config: {
          state_size: P, parameterization: "s5", discretization: c.discretization, conj_sym: c.conj_sym, clip_eigs: c.clip_eigs, step_rescale: c.step_rescale,
          ...(stride > 1 ? { stride, pool: c.pooling_mode } : {}), ...(Hout !== Hin ? { units: Hout } : {}),
        },
      }, weights);
      const f = fixture(name);
      const u = f.get("inputs/u")!;
      const ts = toFloat64(f.get("inputs/integration_timesteps")!);
      const batch = batchFromShape(g, toFloat64(u), u.shape, name, { timesteps: ts });
      const want = f.get("outputs/y")!;
      const errs: number[] = [];
      for (const precision of ["f64", "f32"] as const) {
        // The states after every event (derived/states_*), read by an observer on the SSM.
        const states: number[][] = [];
        const ssmIndex = g.populations.findIndex((p) => p.kind === "DiagonalSSM");
        const r = runFloat(g, batch, { precision, observer: (p, v) => p === ssmIndex && states.push([...v.state[0], ...v.state[1]]) });
        expect(r.outputShape).toEqual([1, ...want.shape]);
        errs.push(relErr(r.output, toFloat64(want)));
        if (stride === 1) {
          const sr = toFloat64(f.get("derived/states_re")!), si = toFloat64(f.get("derived/states_im")!);
          const wantStates = states.flatMap((_, k) => [...sr.subarray(k * P, (k + 1) * P), ...si.subarray(k * P, (k + 1) * P)]);
          expect(relErr(states.flat(), wantStates)).toBeLessThan(precision === "f64" ? 1e-5 : 2e-3);
        }
      }
      report.push(`${name}: f64 ${errs[0].toExponential(2)}, f32 ${errs[1].toExponential(2)}`);
      expect(errs[0]).toBeLessThan(2e-6);
      expect(errs[1]).toBeLessThan(2e-3);
    });
  }
});

describe("EventPooling = event-ssm's EventPooling, modes last / avgpool / timepool × strides 2, 3, 4", () => {
  const c = MANIFEST.files["event_pooling.npz"].config as { cases: { mode: string; stride: number }[]; H: number };
  for (const { mode, stride } of c.cases) {
    test(`${mode}, stride ${stride}: values and the time steps summed over each group`, () => {
      const f = fixture("event_pooling");
      const x = f.get("inputs/x")!;
      const ts = toFloat64(f.get("inputs/integration_timesteps")!);
      const key = `${mode}_s${stride}`;
      // EventPooling, then an identity Dense at the pooled rate whose Δt is the group's.
      const m = layersModel(key, [
        { class_name: "EventPooling", config: { name: "pool", batch_input_shape: [null, null, c.H], stride, mode } },
        { class_name: "Dense", config: { name: "next", units: c.H, use_bias: false } },
      ], [{ name: "next/kernel", shape: [c.H, c.H], values: Float32Array.from({ length: c.H * c.H }, (_, i) => (i % (c.H + 1) === 0 ? 1 : 0)) }], {
        userDefinedMetadata: { nmc: { time: "events" } },
      });
      const g = loadModel(writeLayersModel(join(dir, `pool-${key}`), m).model).graph;
      const batch = batchFromShape(g, toFloat64(x), x.shape, key, { timesteps: ts });
      for (const precision of ["f64", "f32"] as const) {
        const dts: number[] = [];
        const next = g.populations.findIndex((p) => p.name === "next");
        const r = runFloat(g, batch, { precision, observer: (p, v) => p === next && dts.push((v as unknown as { dt: number }).dt) });
        expect(r.outputShape).toEqual([1, Math.floor(x.shape[0] / stride), c.H]);
        expect(relErr(r.output, toFloat64(f.get(`${key}/x`)!))).toBeLessThan(precision === "f64" ? 1e-6 : 1e-5);
        expect(relErr(dts, toFloat64(f.get(`${key}/integration_timesteps`)!))).toBeLessThan(1e-6);
      }
      expect(g.populations.find((p) => p.name === "next")!.rate).toBe(stride);
    });
  }
});

describe("the imported model.json is a TensorFlow.js LayersModel of nmc's layer classes", () => {
  test("model_timepool (D as a matrix, Dense_1 on the skip, timepool) loads in tfjs with every weight", async () => {
    importFixture("model_timepool");
    const { loadFloatModel } = await import("../../runtime/tfjs/index.js");
    const { model } = await loadFloatModel(importedModelJson("model_timepool"));
    const classes = new Set(model.layers.map((l) => l.getClassName()));
    for (const c of ["Embedding", "DiagonalSSM", "EventPooling", "EventReadout", "Multiply", "Add", "LayerNormalization"]) expect(classes).toContain(c);
    const ssm = model.layers.find((l) => l.name === "encoder/stages_1/SequenceLayer_0/S5SSM_0")!;
    expect(ssm.getWeights().find((w) => w.shape.length === 2 && w.shape[0] === 16 && w.shape[1] === 8)).toBeDefined(); // D [16, 8]
  }, 60_000);
});

describe("model.json: the event-time keys are read, refused where they do not apply, and need event time", () => {
  const refuses = (f: () => unknown, ...words: string[]) => {
    let msg = "";
    try {
      f();
    } catch (e) {
      msg = `${(e as Error).message} ${(e as { path?: string }).path ?? ""} ${(e as { hint?: string }).hint ?? ""}`;
    }
    expect(msg, "not refused").not.toBe("");
    for (const w of words) expect(msg).toContain(w);
  };
  const { weights, P, Hin } = ssmWeights("ssm_async_conj");
  const model = (name: string, config: Record<string, unknown>, meta: Record<string, unknown> = { time: "events" }) => {
    const m = layersModel(name, [{ class_name: "DiagonalSSM", config: { name: "layer", batch_input_shape: [null, null, Hin], state_size: P, parameterization: "s5", ...config } }], weights, {
      userDefinedMetadata: { nmc: meta },
    });
    return () => loadModel(writeLayersModel(join(dir, name), m).model);
  };

  test("an event-time DiagonalSSM in a model without nmc.time events; conj_sym or stride on a fixed-step one; pool without a stride; lru", () => {
    refuses(model("no-time", { discretization: "async" }, {}), '"time": "events"', "config.discretization");
    refuses(model("fixed-conj", { conj_sym: true }), "conj_sym applies to an event-time DiagonalSSM only", "config.conj_sym");
    refuses(model("pool-no-stride", { discretization: "zoh", pool: "avgpool" }), "pool applies with a stride > 1 only");
    refuses(model("lru", { discretization: "zoh", parameterization: "lru" }), "needs the s5 parameterization");
    refuses(model("bad-disc", { discretization: "bilinear" }), "config.discretization");
  });

  test("EventPooling and EventReadout configs are checked; an EventReadout with readout metadata is two readouts", () => {
    const one = (name: string, layers: { class_name: string; config: Record<string, unknown> }[], meta: Record<string, unknown>) => () => {
      const m = layersModel(name, layers.map((l, i) => ({ ...l, config: { name: `l${i}`, ...(i === 0 ? { batch_input_shape: [null, null, 2] } : {}), ...l.config } })), [], { userDefinedMetadata: { nmc: meta } });
      return loadModel(writeLayersModel(join(dir, name), m).model);
    };
    refuses(one("pool-1", [{ class_name: "EventPooling", config: { stride: 1, mode: "last" } }], { time: "events" }), "config.stride");
    refuses(one("pool-key", [{ class_name: "EventPooling", config: { stride: 2, mode: "last", padding: "same" } }], { time: "events" }), "padding");
    refuses(one("pool-time", [{ class_name: "EventPooling", config: { stride: 2, mode: "timepool" } }], {}), '"time": "events"');
    refuses(one("two-readouts", [{ class_name: "EventPooling", config: { stride: 2, mode: "last" } }, { class_name: "EventReadout", config: { mode: "pool" } }], { time: "events", readout: "mean" }), "a second one");
    // avgpool and last need no time steps: fine in tick time too.
    const g = one("pool-ticks", [{ class_name: "EventPooling", config: { stride: 2, mode: "avgpool" } }, { class_name: "EventReadout", config: { mode: "last" } }], {})();
    expect(g.graph.populations.map((p) => p.kind)).toEqual(["Input", "EventPooling", "Readout"]);
  });
});
