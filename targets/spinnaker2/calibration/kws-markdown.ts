// The keyword-spotting section of CALIBRATION.md, written from calibration/kws.json (kws.ts): every number
// comes from that file; the prose around them is fixed here.
import type { KwsOut } from "./kws.js";

const g3 = (x: number) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toPrecision(3));
const si = (x: number, unit: string) => {
  const a = Math.abs(x);
  const [k, p] = a >= 1 ? [1, ""] : a >= 1e-3 ? [1e3, "m"] : a >= 1e-6 ? [1e6, "µ"] : [1e9, "n"];
  return `${g3(x * k)} ${p}${unit}`;
};
const int = (x: number) => Math.round(x).toLocaleString("en-US");
const table = (head: string[], rows: (string | number)[][]) =>
  [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows.map((r) => `| ${r.join(" | ")} |`)].join("\n");

export function kwsMarkdown(o: KwsOut): string {
  const s = o.setup;
  const fig = (id: string) => o.figures.find((f) => f.id === id)!;
  const rep = (id: string) => o.reported.find((f) => f.id === id)!;
  const ctx = (id: string) => o.context.find((f) => f.id === id)!;
  const total = fig("t_mm_total"), perMac = fig("array_cycles_per_mac");
  const loihi = ctx("loihi_active_energy_per_inference").value;
  const terms = ["mac", "input", "output", "constant"] as const;
  const termName = { mac: "0.13·N·D ↔ array cycles", input: "24.0·D ↔ receive + clear", output: "5.38·N ↔ drain + requantize", constant: "74.0 ↔ setup per pass" };
  return `## Second workload: keyword spotting on the SpiNNaker 2 prototype (Yan et al. 2021)

Written by \`npm run calibrate:spinnaker2\` (\`calibration/kws.ts\`) on ${o.date.slice(0, 10)}; every figure below is in
\`calibration/kws.json\`. The research: \`RESEARCH-22.md\` "Session 11". A check, not a fit: no cost constant was
changed for it.

**Target.** Yan et al., "Comparing Loihi with a SpiNNaker 2 prototype on low-latency keyword spotting and adaptive
robotic control" (NCE 1:014002, 2021), ran Blouw et al.'s keyword-spotting network (390 MFCC inputs → 256 ReLU →
256 ReLU → 29) as a plain DNN on the 8-PE prototype: int8 inputs, matrix products on the MAC array, ReLU on the
Arm core. Its measured time model of one layer's matrix product, known through a reader's verbatim quote of p.6
(grade S-verbatim; the units, clock cycles, are assumed):

    ${o.paper.formula}

The ReLU time's coefficients, and SpiNNaker 2's time and energy per inference, were not reachable (U).

**nmc's side.** The same network as IR with random seeded weights, int8 weights and int16 activations (nmc's
only activation format), every projection on the MAC array (\`--mac-array all\`), ${s.frames} random frames, ${s.inference}.
Array mode: ${s.array_bits}-bit, ${s.lanes} lanes at batch 1, FC efficiency ${s.fc_efficiency}; accumulator ${s.accumulator_bits} bit, so a
pass may gather Σ|w| ≤ ${s.column_limit} per column. ${s.pes} PEs. nmc's cycles are split onto T_mm's terms by role:
the array's cycles for 0.13·N·D; the receive of every input event and the clearing of the input vector for
24.0·D; the drain of every pass and the requantization per column for 5.38·N; the descriptor and interrupt of
every pass for 74.0. A layer's cycles are summed over its PEs.

### T_mm per layer: published against nmc

${table(["layer (N × D)", "PEs, passes", "published T_mm", "nmc T_mm-equivalent", "model ÷ paper", "+ unit update, tick, sends", "nmc total", "formula per nmc slice"], o.layers.map((l) => [
    `${l.layer} (${l.N} × ${l.D})`, `${l.pes}, ${l.slices.map((x) => x.passes).join(" + ")}`, int(l.published), int(l.t_mm), l.model_over_paper.toFixed(2),
    int(l.unit_and_tick), int(l.total), int(l.published_if_split_as_nmc),
  ]))}
| **total** | | **${int(total.published)}** | **${int(total.predicted)}** | **${total.model_over_paper.toFixed(2)}** | | ${int(rep("cycles_with_unit_update").predicted)} | |

Cycles per frame. "Formula per nmc slice" applies T_mm to each PE's share of the layer (N = its units), had the
paper split the layer as nmc does; the PEs Yan used are U. The unit update (ReLU) is outside T_mm on both sides;
its published coefficients are U, so nmc's total has no counterpart.

### Term by term (cycles per frame, all layers)

${table(["term", ...o.layers.map((l) => `${l.layer}: paper`), ...o.layers.map((l) => `${l.layer}: nmc`)], terms.map((t) => [
    termName[t], ...o.layers.map((l) => int(l.published_terms[t])), ...o.layers.map((l) => int(l.terms[t])),
  ]))}

Array cycles per MAC: paper ${perMac.published} (${g3(1 / perMac.published)} MAC/cycle), nmc ${g3(perMac.predicted)} (${g3(1 / perMac.predicted)} MAC/cycle):
model ÷ paper ${perMac.model_over_paper.toFixed(2)}.

### What closes the gap (variants, not fits)

${table(["variant", ...o.variants[0].layers.map((l) => `${l.layer} (÷ paper)`), "total (÷ paper)"], o.variants.map((v) => [
    v.id, ...v.layers.map((l) => `${int(l.predicted)} (${l.model_over_paper.toFixed(2)}; passes ${l.passes.join(" + ")})`), `${int(v.total.predicted)} (${v.total.model_over_paper.toFixed(2)})`,
  ]))}

${o.variants.map((v) => `- **${v.id}**: ${v.description}.`).join("\n")}

### Time and energy per inference (nmc only: no published SpiNNaker 2 figure)

${table(["level", "time / inference", "inferences / s", "energy / inference", "active energy / inference"], o.setup.levels.map((n) => [
    n, si(rep(`time_per_inference_${n}`).predicted, "s"), g3(rep(`inferences_per_second_${n}`).predicted), si(rep(`energy_per_inference_${n}`).predicted, "J"),
    si(rep(`active_energy_per_inference_${n}`).predicted, "J"),
  ]))}

"Active" is dynamic + NoC energy (no static), the boundary of Yan's comparison. Context only, not compared
(Loihi, not SpiNNaker 2): Loihi's active energy per inference was ${si(loihi, "J")} (Yan's figure, a 70 mW overhead
removed: S-verbatim, checked D against Blouw et al.'s Table 1, P) at ${ctx("loihi_inferences_per_second").value} inferences per second (Blouw, P). nmc's active
energy is ${(loihi / rep("active_energy_per_inference_PL1").predicted).toFixed(0)}× (PL1) and ${(loihi / rep("active_energy_per_inference_PL2").predicted).toFixed(0)}× (PL2) below it, the direction of Yan's verdict that the
prototype spent less energy per inference than Loihi (S-verbatim p.2, p.6); the prototype's own figure is U.

### Reading the comparison honestly
${o.limits.map((x) => `- ${x}`).join("\n")}
- **Grades.** Published side: S-verbatim coefficients, per-layer values derived, units assumed; the Loihi figures
  primary (Blouw) and S-verbatim (Yan). nmc's side: the array rates primary/secondary, the FC efficiency derived,
  the ARM cycles around the array assumed (\`nmc hw\` grades every one).
`;
}
