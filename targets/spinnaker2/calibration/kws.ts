// A second published workload (issue 22 item 5): the keyword-spotting (KWS) network of Yan et al., "Comparing
// Loihi with a SpiNNaker 2 prototype on low-latency keyword spotting and adaptive robotic control" (Neuromorph.
// Comput. Eng. 1:014002, 2021; arXiv 2009.08921), checked against nmc's MAC-array cost model. Nothing here is
// fitted: every cost constant is chip.ts's, and this file only reads them.
//
// What is known (targets/spinnaker2/RESEARCH-22.md "Session 11"): Blouw et al.'s network, 390 MFCC inputs →
// dense 256 ReLU → dense 256 ReLU → 29 outputs, run on the SpiNNaker 2 prototype (Jib-1) as a plain DNN with
// int8 inputs, the matrix products on the MAC array and ReLU on the Arm core. The paper's time model of one
// layer's matrix product, N outputs and D inputs, quoted verbatim (p.6) by a reader's note (grade S-verbatim;
// the units, clock cycles, are assumed): T_mm = 0.13·N·D (the array) + 24.0·D (input pre-processing) + 5.38·N
// (post-processing) + 74.0. The ReLU time's coefficients, and SpiNNaker 2's time and energy per inference, are
// not known (U).
//
// nmc's side: the network built as IR with random seeded weights, quantized to int8 weights (int16 activations,
// nmc's only activation format), every dense projection on the MAC array (`nmc compile --mac-array all`),
// simulated with each frame as one sample of one tick (a frame is one inference: Blouw et al. count inferences
// per frame). Per layer, nmc's cycles are split by role onto T_mm's four terms (see `terms` below).
//
// Writes calibration/kws.json and CALIBRATION.md (markdown.ts).   node dist/targets/spinnaker2/calibration/kws.js
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { GraphBuilder } from "../../../ir/builder.js";
import type { CsrWeights, Graph, Population, Projection } from "../../../ir/types.js";
import { compileQuantized } from "../../../compiler/pipeline.js";
import type { SequenceBatch } from "../../../runtime/batch.js";
import { SPINNAKER2, type HardwareDescription } from "../chip.js";
import { ACTIVATION_BITS, macBits, macChunks, macColumnLimit, macProjections, macStep } from "../accel.js";
import { mapGraph, type Mapping, report, simulate, type SimRun } from "../index.js";
import { writeCalibrationMarkdown } from "./markdown.js";

const IN = 390;
/** Blouw et al.'s network (BL, P): two 256-unit ReLU layers and a 29-unit linear output (CTC characters). */
export const LAYERS = [
  { name: "h1", N: 256, D: IN, activation: "relu" },
  { name: "h2", N: 256, D: 256, activation: "relu" },
  { name: "out", N: 29, D: 256, activation: "linear" },
] as const;
/** T_mm's coefficients, Yan et al. 2021 p.6 as quoted by the reader's note (S-verbatim); units assumed cycles. */
export const YAN_TMM = { mac: 0.13, input: 24.0, output: 5.38, constant: 74.0 };
const FRAMES = 8;
const LEVELS = ["PL1", "PL2"];
/** The prototype's accumulator (TU Dresden FAQ, P; SOURCES.md §10): the variant's only change. */
const PROTOTYPE_ACCUMULATOR_BITS = 29;
/** The paper's input width (S-verbatim, p.7): what nmc's formula is also evaluated at, though nmc cannot run it. */
const PAPER_INPUT_BITS = 8;

const KZ = "Yan et al. 2021 (NCE 1:014002) p.6, quoted verbatim by the reader's note kyrawny/zettelkasten yanComparingLoihiSpiNNaker2021.md";
const T_MM_GRADE = "S-verbatim coefficients (KZ p.6); per-layer values D (formula, rounded to whole cycles); units A (clock cycles)";
const T_MM_ASSUMED = "N = the layer's outputs, D = its inputs; the expression is one layer's whole matrix product on one PE; T_relu (U) excluded on both sides";

/** The published T_mm of a layer, unrounded. */
export function publishedTmm(N: number, D: number): number {
  return YAN_TMM.mac * N * D + YAN_TMM.input * D + YAN_TMM.output * N + YAN_TMM.constant;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >> 17; s ^= s << 5; s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Every weight stored (a dense layer), approximately normal with standard deviation ≈ 1/√rows. */
function denseWeights(rows: number, cols: number, r: () => number): CsrWeights {
  const rowPtr = new Uint32Array(rows + 1);
  const colIdx = new Uint32Array(rows * cols);
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      colIdx[i * cols + j] = j;
      data[i * cols + j] = (2 * (r() + r() + r() - 1.5)) / Math.sqrt(rows);
    }
    rowPtr[i + 1] = (i + 1) * cols;
  }
  return { rowPtr, colIdx, values: { dtype: "f32", shape: [rows * cols], data } };
}

/** The KWS network as float IR (random weights, seed 2009; the trained ones are a pickle in ABR's repository). */
export function buildKws(): Graph {
  const r = rng(2009);
  const b = new GraphBuilder("kws_yan2021_spinnaker2");
  let prev: Population = b.input("mfcc", IN, "values");
  for (const l of LAYERS) {
    const d = b.dense(l.name, l.N, l.activation, new Float32Array(l.N));
    b.project(`${l.name}.kernel`, prev, d, "x", denseWeights(l.D, l.N, r));
    prev = d;
  }
  b.outputs.push(prev.name);
  return b.build();
}

/** FRAMES random MFCC-like frames, each one sample of one tick (one inference). */
function frames(): SequenceBatch {
  const r = rng(390);
  return { data: Float64Array.from({ length: FRAMES * IN }, () => 2 * (r() + r() + r() - 1.5)), batch: FRAMES, ticks: 1, channels: IN };
}

/** One PE's slice of a dense MAC projection as the simulator stores it (columns [lo, hi)), and its passes at `limit`. */
function slicePasses(j: Projection, lo: number, hi: number, limit: number): number[] {
  const w = j.weights, rowPtr = new Uint32Array(j.rows + 1), idx: number[] = [], val: number[] = [];
  for (let i = 0; i < j.rows; i++) {
    for (let k = w.rowPtr[i]; k < w.rowPtr[i + 1]; k++) {
      if (w.colIdx[k] < lo || w.colIdx[k] >= hi) continue;
      idx.push(w.colIdx[k]);
      val.push(w.values.data[k]);
    }
    rowPtr[i + 1] = idx.length;
  }
  return macChunks(j.rows, hi - lo, rowPtr, 1, 0, idx, lo, val, limit);
}

/** T_mm's four terms as nmc charges them, cycles per frame summed over the layer's PEs. */
export interface Terms { mac: number; input: number; output: number; constant: number }

export interface LayerCycles {
  layer: string; projection: string; N: number; D: number; pes: number;
  slices: { pe: number; units: number; passes: number }[];
  terms: Terms;
  /** terms summed: what corresponds to the paper's T_mm. */
  t_mm: number;
  /** The rest of the layer's PE cycles: the unit update (bias, ReLU, output: dense_unit), tick_overhead and packet sends. */
  unit_and_tick: number;
  total: number;
  /** The layer's slowest PE (ARM cycles + array cycles), mean per frame: its share of the tick. */
  slowest_pe: number;
}

/**
 * Per layer, nmc's cycles per frame of a run, split onto T_mm's terms by role:
 * - mac ↔ 0.13·N·D: the array's cycles (accel.ts macStep: ⌈cols / lanes⌉ · rows per pass ÷ fc_efficiency);
 * - input ↔ 24.0·D: the ARM's packet receive per input event (nmc's inputs arrive as events) and the clearing
 *   of the dense input vector per row (clear_row_cycles): the same role (getting the input ready for the
 *   array), not the same mechanism as the paper's reformatting of a dense int8 vector;
 * - output ↔ 5.38·N: per column, the drain of every pass (drain_column_cycles) and the requantization;
 * - constant ↔ 74.0: the descriptor and interrupt of every pass (setup_cycles).
 * The array and ARM cycles recomputed here from the mapping are checked against the simulator's counts.
 */
export function layerCycles(g: Graph, m: Mapping, run: SimRun, hw: HardwareDescription): LayerCycles[] {
  const bits = macBits(g), limit = macColumnLimit(hw), n = run.samples, mac = hw.mac, c = hw.cycles;
  return LAYERS.map((l) => {
    const j = g.projections.find((x) => x.target === l.name)!;
    const slices = m.partition.slices.filter((s) => s.pop === l.name);
    const terms: Terms = { mac: 0, input: 0, output: 0, constant: 0 };
    let arm = 0, peCycles = 0, slowest = 0;
    const out = slices.map((s) => {
      const cols = s.hi - s.lo, passes = slicePasses(j, s.lo, s.hi, limit), st = macStep(hw, bits, j.rows, cols, passes);
      const pe = run.pes.find((p) => p.pe === s.pe)!;
      const received = pe.packetsIn / n;
      terms.mac += st.array;
      terms.input += received * c.packet_receive.value + j.rows * mac.clear_row_cycles.value;
      terms.output += passes.length * cols * mac.drain_column_cycles.value + cols * c.requantize_column.value;
      terms.constant += passes.length * mac.setup_cycles.value;
      arm += st.arm;
      peCycles += pe.cycles / n;
      slowest = Math.max(slowest, pe.cycles / n + st.array);
      return { pe: s.pe, units: cols, passes: passes.length };
    });
    const sim = run.accel!.projections[j.name];
    const near = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
    if (!near(terms.mac, sim.macArray / n) || !near(arm, sim.macArm / n)) {
      throw new Error(`kws: ${j.name}: recomputed array/ARM cycles ${terms.mac}/${arm} differ from the simulator's ${sim.macArray / n}/${sim.macArm / n}`);
    }
    const tmm = terms.mac + terms.input + terms.output + terms.constant;
    const receive = terms.input - slices.length * j.rows * mac.clear_row_cycles.value;
    const unitAndTick = peCycles - arm - receive;
    return {
      layer: l.name, projection: j.name, N: l.N, D: l.D, pes: slices.length, slices: out, terms,
      t_mm: tmm, unit_and_tick: unitAndTick, total: tmm + unitAndTick, slowest_pe: slowest,
    };
  });
}

/**
 * nmc's cost formula at the paper's int8 inputs (8-bit array mode, passes for |x| ≤ 2^7): not a run, since nmc
 * cannot represent 8-bit activations. Per layer: T_mm-equivalent cycles (the run's receive cycles kept: they
 * do not depend on the operand width) and passes per slice.
 */
function int8Formula(g: Graph, m: Mapping, hw: HardwareDescription, base: LayerCycles[]): { t_mm: number; passes: number[] }[] {
  const limit = Math.floor((2 ** (hw.mac.accumulator_bits.value - 1) - 1) / 2 ** (PAPER_INPUT_BITS - 1));
  return base.map((lc) => {
    const j = g.projections.find((x) => x.name === lc.projection)!;
    let t = lc.terms.input - lc.pes * j.rows * hw.mac.clear_row_cycles.value;
    const passes = m.partition.slices.filter((x) => x.pop === lc.layer).map((s) => {
      const p = slicePasses(j, s.lo, s.hi, limit), st = macStep(hw, 8, j.rows, s.hi - s.lo, p);
      t += st.array + st.arm;
      return p.length;
    });
    return { t_mm: t, passes };
  });
}

/** The hardware description with the prototype's accumulator (a published figure of the chip Yan used; nothing fitted). */
function prototypeAccumulator(): HardwareDescription {
  const hw: HardwareDescription = structuredClone(SPINNAKER2);
  hw.name = "SpiNNaker 2 with the Jib-1 prototype's 29-bit MAC accumulator";
  hw.mac.accumulator_bits = { value: PROTOTYPE_ACCUMULATOR_BITS, unit: "bit", source: "P: TU Dresden SpiNNaker2 FAQ (the prototype's accumulator; SOURCES.md §10)", grade: "primary" };
  return hw;
}

/** The quantized network mapped with every projection on the MAC array (`--mac-array all`) and run on the frames. */
function mapAndRun(g: Graph, hw: HardwareDescription, batch: SequenceBatch) {
  const m = mapGraph(g, hw, { mac: macProjections(g, hw, "all") });
  const run = simulate(g, m, batch);
  return { g, m, run, layers: layerCycles(g, m, run, hw) };
}

const ratio = (p: number, q: number) => p / q;

/** Everything kws.json holds but its date: deterministic (the test recomputes it). */
export function kwsCalibration() {
  const batch = frames();
  const g = compileQuantized(buildKws(), { calibration: { data: batch.data, shape: [batch.batch, 1, IN], label: "random MFCC-like frames" } }).quantized;
  const protoHw = prototypeAccumulator();
  const head = mapAndRun(g, SPINNAKER2, batch), proto = mapAndRun(g, protoHw, batch);
  const int8 = int8Formula(g, proto.m, protoHw, proto.layers);
  const hw = SPINNAKER2, bits = macBits(head.g);
  const published = LAYERS.map((l) => publishedTmm(l.N, l.D));
  const publishedTotal = published.reduce((a, b) => a + b, 0);

  const figures = [
    ...head.layers.map((lc, i) => ({
      id: `t_mm_${lc.layer}`, unit: "cycles", published: Math.round(published[i]), predicted: lc.t_mm, model_over_paper: ratio(lc.t_mm, Math.round(published[i])),
      source: KZ, grade: T_MM_GRADE, assumptions: `${T_MM_ASSUMED}; N = ${lc.N}, D = ${lc.D}; nmc: ${lc.pes} PE(s), the layer's cycles summed over them, per frame`,
    })),
    (() => {
      const p = head.layers.reduce((a, lc) => a + lc.t_mm, 0);
      return {
        id: "t_mm_total", unit: "cycles", published: Math.round(publishedTotal), predicted: p, model_over_paper: ratio(p, Math.round(publishedTotal)),
        source: KZ, grade: T_MM_GRADE, assumptions: `${T_MM_ASSUMED}; the three layers summed (the unrounded sum rounded once)`,
      };
    })(),
    (() => {
      const macs = LAYERS.reduce((a, l) => a + l.N * l.D, 0), p = head.layers.reduce((a, lc) => a + lc.terms.mac, 0) / macs;
      return {
        id: "array_cycles_per_mac", unit: "cycles/MAC", published: YAN_TMM.mac, predicted: p, model_over_paper: ratio(p, YAN_TMM.mac),
        source: KZ, grade: "S-verbatim coefficient (KZ p.6); units A (cycles)",
        assumptions: `the N·D term alone; nmc runs the array in its ${bits}-bit mode (${ACTIVATION_BITS}-bit activations), ${bits === 8 ? hw.mac.macs_per_cycle_8.value : hw.mac.macs_per_cycle_16.value} MAC/cycle × batch-1 fraction ${hw.mac.batch1_fraction.value} × FC efficiency ${hw.mac.fc_efficiency.value}; the paper's array ran 8-bit inputs`,
      };
    })(),
  ];

  const variant = (id: string, description: string, tmm: number[], passes: number[][]) => ({
    id, description,
    layers: LAYERS.map((l, i) => ({ layer: l.name, passes: passes[i], predicted: tmm[i], model_over_paper: ratio(tmm[i], Math.round(published[i])) })),
    total: { predicted: tmm.reduce((a, b) => a + b, 0), model_over_paper: ratio(tmm.reduce((a, b) => a + b, 0), Math.round(publishedTotal)) },
  });
  const variants = [
    variant("prototype_accumulator", `an nmc run with the prototype's ${PROTOTYPE_ACCUMULATOR_BITS}-bit accumulator (FAQ, P) instead of the product's 24: fewer passes; everything else the default`, proto.layers.map((lc) => lc.t_mm), proto.layers.map((lc) => lc.slices.map((x) => x.passes))),
    variant("int8_inputs_formula", `nmc's MAC cost formula (accel.ts macStep) evaluated at the paper's int8 inputs: 8-bit array mode and passes for |x| ≤ 2^7, ${PROTOTYPE_ACCUMULATOR_BITS}-bit accumulator; receive cycles from the run. Not a run: nmc's activations are int16`, int8.map((x) => x.t_mm), int8.map((x) => x.passes)),
  ];

  const reported = LEVELS.flatMap((name) => {
    const rep = report(head.g, head.m, head.run, "event", name, { dvfs: "off" }), e = rep.eventMode, level = hw.levels.find((x) => x.name === name)!;
    const at = `${name} (${level.mhz.value} MHz, ${level.volts.value} V), the product chip's level (the prototype's clock and pJ/cycle are U)`;
    const none = { published: null, model_over_paper: null, source: "nmc (this run)", grade: "model: no published SpiNNaker 2 counterpart (U in Yan et al. 2021 as far as read)" };
    const a = e.energyJoules.dynamic + e.energyJoules.noc;
    return [
      { id: `time_per_inference_${name}`, unit: "s", predicted: e.latencySeconds, ...none, assumptions: `${at}; one frame through the three layers: ${rep.pes} PEs, nmc's pipeline convention (one tick per layer on the delay-0 chain)` },
      { id: `inferences_per_second_${name}`, unit: "1/s", predicted: 1 / e.tickSeconds, ...none, assumptions: `${at}; one frame per tick, the layers pipelined` },
      { id: `energy_per_inference_${name}`, unit: "J", predicted: e.energyJoules.total, ...none, assumptions: `${at}; dynamic + NoC + static (the ${rep.pes} PEs and the chip's 75.2 mW floor over the latency)` },
      { id: `active_energy_per_inference_${name}`, unit: "J", predicted: a, ...none, assumptions: `${at}; dynamic + NoC only (ARM cycles, MACs, packets): the boundary of Yan's "active energy" (S-verbatim p.2), static excluded` },
    ];
  });
  const totalCycles = head.layers.reduce((a, lc) => a + lc.total, 0);
  reported.unshift({
    id: "cycles_with_unit_update", unit: "cycles", predicted: totalCycles, published: null, model_over_paper: null, source: "nmc (this run)",
    grade: "model: no published counterpart (T_relu's coefficients are U)",
    assumptions: "the three layers' T_mm-equivalent cycles plus their unit updates (bias, ReLU: dense_unit), tick_overhead and packet sends, summed over PEs, per frame",
  });

  const context = [
    { id: "loihi_active_energy_per_inference", unit: "J", value: 37e-6, source: "Yan et al. 2021 p.6–7 via KZ (70 mW x86 overhead removed; the µ lost in the note); check: (0.081 − 0.070) W / 296 s⁻¹ = 37.2 µJ from Blouw et al. 2019 Table 1 (abr/power_benchmarks paper/power_summary.tex)", grade: "S-verbatim + D check from P", note: "Loihi running the spiking version, not SpiNNaker 2: context only, no model_over_paper" },
    { id: "loihi_energy_per_inference_blouw", unit: "J", value: 0.00027, source: "Blouw et al. 2019 Table 1 (BL): 0.081 W dynamic / 296 inferences/s", grade: "P", note: "Loihi, dynamic including the 70 mW overhead; context only" },
    { id: "loihi_inferences_per_second", unit: "1/s", value: 296, source: "Blouw et al. 2019 Table 1 (BL); Yan et al. 2021 p.6 via KZ", grade: "P (S-verbatim in Yan)", note: "Loihi, inputs fed from an FPGA (Yan's explanation of its lower speed); context only" },
    { id: "spinnaker2_inferences_per_second_fragment", unit: "1/s", value: 1000, source: "Yan et al. 2021 p.6 via KZ, a fragment (\"…1000 inferences per second\")", grade: "S-verbatim fragment; whether a measured rate or a 1 ms tick target is U", note: "not compared: its meaning is unknown" },
  ];

  const limits = [
    `Activations are int${ACTIVATION_BITS} in nmc (runtime/fixed/QUANTIZATION.md), so the array runs in its ${bits}-bit mode (${bits === 8 ? hw.mac.macs_per_cycle_8.value : hw.mac.macs_per_cycle_16.value} MAC/cycle peak); the paper's inputs were int8 (8-bit mode, ${hw.mac.macs_per_cycle_8.value} MAC/cycle). nmc cannot represent 8-bit activations; the int8_inputs_formula variant shows what its formula gives for them.`,
    `nmc splits each projection into passes so that no partial sum can leave the ${hw.mac.accumulator_bits.value}-bit accumulator for any int${ACTIVATION_BITS} input (accel.ts macChunks): with int8 weights that is a few rows per pass here, each drained by the ARM. That is what makes nmc's post-processing and constant terms large; with the prototype's ${PROTOTYPE_ACCUMULATOR_BITS}-bit accumulator (P) the passes fall to a handful (prototype_accumulator variant), and with int8 inputs to one.`,
    `The 16×4 array is modelled by its rates (lanes = MAC/cycle × batch-1 fraction, stretched by the FC efficiency), not by a 16 × 4 tile loop; Yan's 0.13 cycles per MAC is one measured rate to set beside it.`,
    `Input pre-processing: nmc charges the receive of each input event (packet_receive) and the clearing of the dense input vector, not a reformatting into the array's layout; nmc's layers send only non-zero ReLU outputs, so the next layer's input term follows the activity.`,
    `The chip: nmc describes the 152-PE product (22 nm, PL1 150 MHz / PL2 300 MHz), Yan used the 8-PE Jib-1 prototype, whose clock, voltage and pJ/cycle are U. Cycles compare directly; times and energies are at the product's levels.`,
    `PEs: nmc's usable SRAM per PE splits h1 (${IN} × 256 int8 weights) over ${head.layers[0].pes} PEs; the PEs Yan used are U. The per-layer cycles are summed over a layer's PEs (each PE receives every input, so the input term counts once per PE).`,
    `Weights are random (seeded); the passes depend on Σ|w| per column, so trained weights would give other pass counts.`,
  ];

  return {
    paper: {
      source: KZ, formula: "T_mm = 0.13·N·D + 24.0·D + 5.38·N + 74.0 (N outputs, D inputs)", coefficients: YAN_TMM, units: "clock cycles (assumed: A)",
      grade: "S-verbatim (KZ p.6); the paper itself unread (U)", t_relu: "measured in the paper; coefficients U", per_layer_unrounded: published,
      network: "Blouw et al. 2019 (abr/power_benchmarks, P): 390 → 256 ReLU → 256 ReLU → 29; Yan ran it as a DNN with int8 inputs, products on the MAC array, ReLU on the Arm core (S-verbatim p.4–7)",
    },
    setup: {
      frames: FRAMES, inference: "one frame = one sample of one tick (the three delay-0 layers); figures are means over the frames",
      weights: "random, approximately normal (seed 2009), quantized to int8 (max range); zero biases", inputs: "random approximately normal frames (seed 390), quantized to int16",
      mac_array: "all (nmc compile --mac-array all)", hardware: hw.name, array_bits: bits, accumulator_bits: hw.mac.accumulator_bits.value, column_limit: macColumnLimit(hw),
      lanes: (bits === 8 ? hw.mac.macs_per_cycle_8.value : hw.mac.macs_per_cycle_16.value) * hw.mac.batch1_fraction.value, fc_efficiency: hw.mac.fc_efficiency.value,
      pes: head.m.partition.pes, levels: LEVELS,
    },
    layers: head.layers.map((lc, i) => ({
      ...lc, published: Math.round(published[i]), model_over_paper: ratio(lc.t_mm, Math.round(published[i])),
      published_terms: { mac: YAN_TMM.mac * lc.N * lc.D, input: YAN_TMM.input * lc.D, output: YAN_TMM.output * lc.N, constant: YAN_TMM.constant },
      published_if_split_as_nmc: lc.slices.reduce((a, s) => a + publishedTmm(s.units, lc.D), 0),
    })),
    figures, variants, reported, context, limits,
  };
}

export type KwsOut = ReturnType<typeof kwsCalibration> & { script: string; date: string };

function main(): void {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const srcDir = path.basename(path.resolve(here, "..", "..", "..")) === "dist" ? path.resolve(here, "..", "..", "..", "..", "targets", "spinnaker2", "calibration") : here;
  const out: KwsOut = { script: "targets/spinnaker2/calibration/kws.ts (npm run calibrate:spinnaker2)", date: new Date().toISOString(), ...kwsCalibration() };
  writeFileSync(path.join(srcDir, "kws.json"), JSON.stringify(out, null, 2) + "\n");
  writeCalibrationMarkdown(srcDir);
  process.stderr.write(`calibrate: wrote kws.json and CALIBRATION.md; T_mm model ÷ paper: ${out.figures.map((f) => `${f.id} ${f.model_over_paper.toFixed(2)}`).join(", ")}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) main();
