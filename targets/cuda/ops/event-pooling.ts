// The EventPooling population (event-ssm's EventPooling, ir/types.ts), int variant in timed programs: one step of
// runtime/golden/event-kernels.ts eventPoolUnits per call, thread per unit, at position pos = step % k of its group
// of k (stride). Port x (acc_frac) is brought to the output format v = sat16(rs(x, down)), then
//   last: out = v of the group's first step;  avgpool: out = roundDiv(Σ v, k);
//   timepool: out = roundDiv(Σ v·w, Σ w), w = dt + eps_q (0 when Σ w = 0),
// written at pos = k − 1 only (its emission). The sums (int64) are kept per unit and restart at pos 0. The float
// variant computes runtime/float/ops.ts EventPooling in double.
import { NmcError } from "../../../ir/errors.js";
import { poolLines, pooledValue } from "./ssm.js";
import type { Emission } from "../emission.js";
import type { PopInfo } from "../plan.js";
import { KERNEL_INDEX, ll } from "../writer.js";
import type { CudaOp, StepRenderer } from "./types.js";

function eps(p: PopInfo<"EventPooling">): number {
  if (p.pop.mode !== "timepool") return 0;
  const v = Number(p.pop.tensors.eps_q?.data[0]);
  if (!Number.isSafeInteger(v)) throw new NmcError(`population ${p.pop.name} lacks its quantized tensor eps_q`, { node: p.pop.name });
  return v;
}

const int: StepRenderer<"EventPooling"> = {
  kernels(e: Emission, p) {
    const { w } = e;
    const { pop } = p;
    const n = p.size, k = pop.stride, mode = pop.mode, fx = pop.fixed!, down = fx.accFrac - fx.outFrac;
    const timed = mode === "timepool";
    e.header(p, `${mode} over groups of ${k}: v = sat16(rs(x, ${down}))${timed ? `, w = dt + ${eps(p)}` : ""}; out at the group's last step, thread per unit`);
    e.kernel(`${p.sym}__update`, ["const nmc_i64* x", ...(timed ? ["const nmc_i64* time"] : []), "nmc_i64* acc", "nmc_i64* wsum", "int32_t* out", "int t"], () => {
      for (const l of KERNEL_INDEX) w.writeLine(l);
      w.writeLine(`if (i >= ${n}) return;`);
      w.writeLine(`const long long o = (long long)b * ${n} + i;`);
      w.writeLine(`const int pos = t % ${k};`);
      w.writeLine("if (pos == 0) { acc[o] = 0; wsum[o] = 0; }");
      w.writeLine(`const nmc_i64 v = nmc_sat16(nmc_round_shift(x[o], ${down}));`);
      if (mode === "last") w.writeLine("if (pos == 0) acc[o] = v;");
      else if (mode === "avgpool") w.writeLine("acc[o] += v; wsum[o] += 1;");
      else {
        w.writeLine(`const nmc_i64 wt = time[2 * b] + ${ll(eps(p))};`);
        w.writeLine("acc[o] += v * wt; wsum[o] += wt;");
      }
      w.writeLine(`if (pos != ${k - 1}) return;`);
      if (mode === "last") w.writeLine("out[o] = (int32_t)acc[o];");
      else if (mode === "avgpool") w.writeLine(`out[o] = (int32_t)nmc_round_div(acc[o], ${k});`);
      else w.writeLine("out[o] = wsum[o] > 0 ? (int32_t)nmc_round_div(acc[o], wsum[o]) : 0;");
    });
  },
  launch(e, p) {
    const x = p.ports.find((q) => q.name === "x");
    if (!x) throw new NmcError(`population ${p.pop.name}: an EventPooling needs port x`, { node: p.pop.name });
    const timed = p.pop.mode === "timepool";
    e.launch(`${p.sym}__update`, `${p.size}`, [`d_${x.sym}`, ...(timed ? [`d_${p.sym}_time`] : []), `d_${p.sym}_state_acc`, `d_${p.sym}_state_wsum`, `d_${p.sym}_out`, e.step]);
  },
};

/** The float variant (runtime/float/ops.ts EventPooling, in double): poolInto, then pooledValue at the group's last step. */
const float: StepRenderer<"EventPooling"> = {
  kernels(e: Emission, p) {
    const { w } = e;
    const { pop } = p;
    const n = p.size, k = pop.stride, mode = pop.mode;
    e.header(p, `${mode} over groups of ${k}${mode === "timepool" ? ", weights Δt + 1e-6" : ""}; out at the group's last step, thread per unit`);
    e.kernel(`${p.sym}__update`, ["const double* x", ...(mode === "timepool" ? ["const double* time"] : []), "double* acc", "double* wsum", "double* out", "int t"], () => {
      for (const l of KERNEL_INDEX) w.writeLine(l);
      w.writeLine(`if (i >= ${n}) return;`);
      w.writeLine(`const long long o = (long long)b * ${n} + i;`);
      w.writeLine(`const int pos = t % ${k};`);
      poolLines(e, mode, "x[o]", "acc[o]", "wsum[o]", k);
      w.writeLine(`out[o] = ${pooledValue(mode, "acc[o]", "wsum[o]", k)};`);
    });
  },
  launch(e, p) {
    const x = p.ports.find((q) => q.name === "x");
    if (!x) throw new NmcError(`population ${p.pop.name}: an EventPooling needs port x`, { node: p.pop.name });
    const timed = p.pop.mode === "timepool";
    e.launch(`${p.sym}__update`, `${p.size}`, [`d_${x.sym}`, ...(timed ? [`d_${p.sym}_time`] : []), `d_${p.sym}_state_acc`, `d_${p.sym}_state_wsum`, `d_${p.sym}_out`, e.step]);
  },
};

export const EVENT_POOLING_OP: CudaOp<"EventPooling"> = {
  params: () => [],
  state: (pop, int) => [["acc", pop.size, int ? "nmc_i64" : "double"], ["wsum", pop.size, int ? "nmc_i64" : "double"]],
  usesTime: (pop) => pop.mode === "timepool",
  receives: true,
  needsFixed: true,
  inputChannels: null,
  check: (p) => {
    const x = p.pop.ports.find((q) => q.name === "x");
    if (!x || x.width !== p.size) throw new NmcError(`population ${p.pop.name}: an EventPooling needs port x of its own width`, { node: p.pop.name });
  },
  detail: (pop) => `stride ${pop.stride} ${pop.mode}`,
  int,
  float,
};
