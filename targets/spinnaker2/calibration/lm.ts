// Calibration of the SpiNNaker 2 cost model against a published measurement: the EGRU language model of
// Nazeer et al., "Language Modeling on a SpiNNaker 2 Neuromorphic Chip" (arXiv 2312.09084), as quoted in
// docs/hardware.md and targets/spinnaker2/SOURCES.md: three EGRU layers (input 750, hidden 1350),
// 95 % of weights pruned and stored as CSR, float32 values on the Cortex-M4F (not the MAC array), 150 PEs,
// ≈ 88 KB of weights per PE; 0.39 W, 170.25 ms and 65.3 mJ per batch-1 inference.
//
// We build that configuration with random weights (the trained weights are not published), tune one EGRU
// threshold so that the activity sparsity is the stated ASSUMED_ACTIVITY_SPARSITY, and run it on the
// simulator twice: with a float32 storage and cost variant of the hardware description (the paper's
// mapping) and with nmc's own int8 mapping. Writes targets/spinnaker2/calibration/lm.json, which
// CALIBRATION.md quotes.   npm run calibrate:spinnaker2
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { GraphBuilder } from "../../../ir/builder.js";
import type { CsrWeights, Graph, Population } from "../../../ir/types.js";
import { compileQuantized } from "../../../compiler/pipeline.js";
import { FloatEngine } from "../../../runtime/float/interpreter.js";
import { type SequenceBatch } from "../../../runtime/batch.js";
import { SPINNAKER2, type HardwareDescription } from "../chip.js";
import { mapGraph, report, simulate } from "../index.js";

const IN = 750, H = 1350, LAYERS = 3, DENSITY = 0.05;
const ASSUMED_ACTIVITY_SPARSITY = 0.9;
const TOKENS = 16;
const PAPER = { pes: 150, kbPerPe: 88.3, watts: 0.39, seconds: 0.17025, joules: 0.0653 };

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >> 17; s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

function sparseRandom(rows: number, cols: number, r: () => number, scale: number): CsrWeights {
  const rowPtr = new Uint32Array(rows + 1);
  const idx: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      if (r() >= DENSITY) continue;
      idx.push(j);
      // Approximately normal: sum of uniforms.
      val.push(scale * (r() + r() + r() - 1.5) * 2);
    }
    rowPtr[i + 1] = idx.length;
  }
  return { rowPtr, colIdx: Uint32Array.from(idx), values: { dtype: "f32", shape: [idx.length], data: Float32Array.from(val) } };
}

function build(thr: number): Graph {
  const r = rng(2312);
  const b = new GraphBuilder("egru_lm_spinnaker2_paper_sizes");
  let prev: Population = b.input("embedding", IN, "values");
  for (let l = 0; l < LAYERS; l++) {
    const e = b.egru(`egru${l + 1}`, H, { biasX: new Float32Array(3 * H), biasH: new Float32Array(3 * H), thr: new Float32Array(H).fill(thr) });
    const fanIn = prev.size;
    b.project(`egru${l + 1}.kernel`, prev, e, "input", sparseRandom(fanIn, 3 * H, r, 1.5 / Math.sqrt(DENSITY * fanIn)));
    b.project(`egru${l + 1}.recurrent_kernel`, e, e, "recurrent", sparseRandom(H, 3 * H, r, 1.5 / Math.sqrt(DENSITY * H)), 1);
    prev = e;
  }
  b.outputs.push(prev.name);
  return b.build();
}

function inputs(n: number, T: number): SequenceBatch {
  const r = rng(750);
  const data = Float64Array.from({ length: n * T * IN }, () => (r() + r() + r() - 1.5) * 2);
  return { data, batch: n, ticks: T, channels: IN };
}

function sparsity(g: Graph, batch: SequenceBatch): number {
  const run = new FloatEngine(g).run(batch);
  let ev = 0, all = 0;
  for (const p of Object.values(run.counters.populations)) if (p.kind === "EGRU") { ev += p.events; all += p.unitTicks; }
  return 1 - ev / all;
}

/** The paper's mapping: float32 weights with 32-bit indices, float32 arithmetic on the ARM core, 0.5 V / 150 MHz. */
function paperHardware(): HardwareDescription {
  const hw: HardwareDescription = structuredClone(SPINNAKER2);
  hw.name = "SpiNNaker 2, float32 on the Cortex-M4F (the LM paper's mapping)";
  hw.default_level = "PL1";
  hw.cycles.synapse = { value: 12, unit: "cycles", source: "derived (SOURCES.md §9): fp32 CSC accumulate: LDR idx 2 + VLDR w 2 + ADD 1 + VLDR y 2 + VFMA 3 + VSTR 2" };
  hw.cycles.egru_unit = { value: 80, unit: "cycles", source: "derived (SOURCES.md §9): fp32 EGRU unit, 3 exp-unit calls ≈ 15 each + ~35 FP/load/store cycles" };
  hw.cycles.requantize_column = { value: 0, unit: "cycles", source: "float32: no requantization" };
  return hw;
}

const tuneBatch = inputs(2, 12);
let lo = 0, hi = 1;
for (let i = 0; i < 10; i++) {
  const mid = (lo + hi) / 2;
  if (sparsity(build(mid), tuneBatch) < ASSUMED_ACTIVITY_SPARSITY) lo = mid;
  else hi = mid;
}
const thr = hi;
const float = build(thr);
const batch = inputs(1, TOKENS);
const compiled = compileQuantized(float, { calibration: { data: tuneBatch.data, shape: [tuneBatch.batch, tuneBatch.ticks, IN], label: "random embedding vectors" } });
const g = compiled.quantized;
let nnz = 0;
for (const j of g.projections) nnz += j.weights.colIdx.length;

function measure(hw: HardwareDescription, storage: { weightBytes?: number; indexBytes?: number }, level: string) {
  const m = mapGraph(g, hw, storage);
  const run = simulate(g, m, batch);
  const rep = report(g, m, run, "event", level);
  const perToken = {
    seconds: rep.eventMode.latencySeconds / TOKENS,
    tick_seconds: rep.eventMode.tickSeconds,
    joules: rep.eventMode.energyJoules.total / TOKENS,
    dynamic_joules: rep.eventMode.energyJoules.dynamic / TOKENS,
    static_joules: rep.eventMode.energyJoules.static / TOKENS,
    noc_joules: rep.eventMode.energyJoules.noc / TOKENS,
  };
  return {
    hardware: hw.name, level, storage, pes: rep.pes, pe_lower_bound: rep.peLowerBound, chips: rep.chips,
    max_sram_bytes: rep.sram.maxBytes, mean_sram_utilization: rep.sram.meanUtilization,
    activity_sparsity: rep.activitySparsityOverall, weight_sparsity: rep.weightSparsityOverall,
    synaptic_ops_per_token: rep.synapticOpsPerInference.effective / TOKENS,
    per_token: perToken,
    power_watts: perToken.joules / Math.max(1e-30, perToken.tick_seconds),
    ratio_to_paper_if_one_inference_is_one_token: { seconds: perToken.tick_seconds / PAPER.seconds, joules: perToken.joules / PAPER.joules },
    tokens_per_inference_to_match_paper_time: PAPER.seconds / perToken.tick_seconds,
    gains: rep.gains,
  };
}

const paperMapping = measure(paperHardware(), { weightBytes: 4, indexBytes: 4 }, "PL1");
const int8PL1 = measure(SPINNAKER2, {}, "PL1");
const int8PL2 = measure(SPINNAKER2, {}, "PL2");
const here = path.dirname(fileURLToPath(import.meta.url));
const srcDir = path.basename(path.resolve(here, "..", "..", "..")) === "dist" ? path.resolve(here, "..", "..", "..", "..", "targets", "spinnaker2", "calibration") : here;
const out = {
  script: "targets/spinnaker2/calibration/lm.ts (npm run calibrate:spinnaker2)",
  date: new Date().toISOString(),
  paper: { ...PAPER, source: "Nazeer et al. arXiv 2312.09084, Table II as quoted in docs/hardware.md (S)" },
  model: {
    layers: `${LAYERS} × EGRU(${H}), input ${IN} (embedding lookup and decoder on the host: assumed)`,
    weights_dense: float.projections.reduce((a, j) => a + j.rows * j.cols, 0),
    weights_stored: nnz,
    assumed_activity_sparsity: ASSUMED_ACTIVITY_SPARSITY,
    threshold: thr,
    tokens_simulated: TOKENS,
    input_events_per_token: IN,
  },
  paper_mapping_float32: paperMapping,
  nmc_int8_PL1: int8PL1,
  nmc_int8_PL2: int8PL2,
};
writeFileSync(path.join(srcDir, "lm.json"), JSON.stringify(out, null, 2) + "\n");
process.stderr.write(JSON.stringify(out, null, 2) + "\n");
