// Temporary probe: throughput of golden and simulator (to be replaced by the bench harness).
import { syntheticEgru, randomBatch, exampleModel } from "./models.js";
import { GoldenEngine } from "../runtime/golden/interpreter.js";
import { mapGraph, simulate } from "../targets/spinnaker2/index.js";
const which = process.argv[2] ?? "synthetic";
let q, batch;
const t0 = performance.now();
if (which === "synthetic") {
  const m = syntheticEgru({ layers: 3, units: 1024, inputs: 64, weightSparsity: 0.8, activitySparsity: 0.9 });
  console.log("built", ((performance.now() - t0) / 1000).toFixed(1), "s params", m.params, "tuned", m.tunedSparsity, "thr", m.thresholds);
  q = m.quantized; batch = randomBatch(8, 32, 64, 5);
} else { const e = exampleModel("egru-smnist"); q = e.quantized; batch = e.batch; }
for (let rep = 0; rep < 3; rep++) {
  const t1 = performance.now();
  const r = new GoldenEngine(q).run(batch);
  const s = (performance.now() - t1) / 1000;
  let eff = 0; for (const c of Object.values(r.counters.projections)) eff += c.effective;
  let ev = 0; for (const c of Object.values(r.counters.populations)) ev += c.events;
  console.log(`golden ${s.toFixed(3)} s synops ${eff} → ${(eff / s / 1e6).toFixed(1)} M/s, events ${(ev / s / 1e6).toFixed(2)} M/s`);
}
const m = mapGraph(q);
for (let rep = 0; rep < 2; rep++) {
  const t1 = performance.now();
  const run = simulate(q, m, batch);
  const s = (performance.now() - t1) / 1000;
  console.log(`sim ${m.partition.pes} PEs ${s.toFixed(3)} s synops ${run.totals.event.synops} → ${(run.totals.event.synops / s / 1e6).toFixed(1)} M/s`);
}
