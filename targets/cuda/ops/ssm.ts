// The DiagonalSSM population: two kernels per step, the complex state update x ← Λ̄ ⊙ x + u (thread per
// state) and the outputs y = skip + Re(C x) (thread per output). The int variant keeps the state in
// stateBits (16 or 32) and a 16-bit read view r of it that the output reads (runtime/fixed/QUANTIZATION.md).
import { NmcError } from "../../../ir/errors.js";
import { eventTimeFeature, notQuantizedYet } from "../../../ir/timing.js";
import type { Emission } from "../emission.js";
import type { PopInfo } from "../plan.js";
import { KERNEL_INDEX } from "../writer.js";
import type { CudaOp, StepRenderer } from "./types.js";

function refuseEventTime(pop: PopInfo<"DiagonalSSM">["pop"]): [] {
  if (eventTimeFeature(pop) !== null) throw notQuantizedYet(pop, "cuda");
  return [];
}

/** The state-update kernel; `extra` are the int variant's read-view buffers. */
function stateKernel(e: Emission, p: PopInfo<"DiagonalSSM">, extra: string[], body: () => void): void {
  const { w } = e;
  const P = p.pop.stateSize;
  const params = [`const ${e.P}* u`, `const ${e.num}* lambda_re`, `const ${e.num}* lambda_im`, `${e.V}* xr`, `${e.V}* xi`, ...extra];
  e.kernel(`${p.sym}__update_state`, params, () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    w.writeLine(`if (i >= ${P}) return;`);
    w.writeLine(`const long long o = (long long)b * ${P} + i;`);
    w.writeLine(`const ${e.P}* ub = u + (long long)b * ${2 * P};`);
    body();
  });
}

/** The output kernel; `reads` are the parameters between C and out (the int variant's requantization and view). */
function outputKernel(e: Emission, p: PopInfo<"DiagonalSSM">, reads: string[], body: () => void): void {
  const { w } = e;
  const P = p.pop.stateSize, H = p.size;
  const params = [`const ${e.P}* skip`, `const ${e.num}* c_re`, `const ${e.num}* c_im`, ...reads, `${e.V}* out`];
  e.kernel(`${p.sym}__update_output`, params, () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    w.writeLine(`if (i >= ${H}) return;`);
    w.writeLine(`const long long sb = (long long)b * ${P};`);
    w.writeLine(`const ${e.P} sk = skip[(long long)b * ${H} + i];`);
    body();
  });
}

/** Both launches; the int variant passes the read view and the requantization constants. */
function launch(e: Emission, p: PopInfo<"DiagonalSSM">): void {
  const { pop, sym } = p;
  const u = p.ports.find((q) => q.name === "u"), skip = p.ports.find((q) => q.name === "skip");
  if (!u || !skip) throw new NmcError(`population ${pop.name}: a DiagonalSSM needs ports u and skip`, { node: pop.name });
  const st = [`d_${u.sym}`, `d_${sym}_lambda_re`, `d_${sym}_lambda_im`, `d_${sym}_state_xr`, `d_${sym}_state_xi`];
  if (e.int) st.push(`d_${sym}_state_rr`, `d_${sym}_state_ri`);
  e.launch(`${sym}__update_state`, `${pop.stateSize}`, st);
  const oa = [`d_${skip.sym}`, `d_${sym}_c_re`, `d_${sym}_c_im`];
  if (e.int) oa.push(`d_${sym}_c_mult`, `d_${sym}_c_shift`, `d_${sym}_state_rr`, `d_${sym}_state_ri`);
  else oa.push(`d_${sym}_state_xr`, `d_${sym}_state_xi`);
  oa.push(`d_${sym}_out`);
  e.launch(`${sym}__update_output`, `${p.size}`, oa);
}

const int: StepRenderer<"DiagonalSSM"> = {
  kernels(e, p) {
    const { w } = e;
    const { pop } = p;
    const P = pop.stateSize, H = p.size;
    const fx = pop.fixed!;
    const bits = fx.stateBits;
    if (bits !== 16 && bits !== 32) throw new NmcError(`population ${pop.name}: state bits ${bits} (expected 16 or 32)`, { node: pop.name });
    e.header(p, `state update x ← sat${bits}(Λ̄ ⊙ x + u) and the 16-bit read view, thread per complex state (P = ${P})`);
    stateKernel(e, p, ["int32_t* rr", "int32_t* ri"], () => {
      const rs = bits - 16;
      w.writeLine("const nmc_i64 a = xr[o], c = xi[o];");
      w.writeLine(`const nmc_i64 nr = nmc_saturate(nmc_cmul_re_q15(a, c, lambda_re[i], lambda_im[i]) + ub[i], ${bits});`);
      w.writeLine(`const nmc_i64 ni = nmc_saturate(nmc_cmul_im_q15(a, c, lambda_re[i], lambda_im[i]) + ub[${P} + i], ${bits});`);
      w.writeLine("xr[o] = (int32_t)nr;");
      w.writeLine("xi[o] = (int32_t)ni;");
      w.writeLine(rs === 0 ? "rr[o] = (int32_t)nr;" : `rr[o] = (int32_t)nmc_sat16(nmc_round_shift(nr, ${rs}));`);
      w.writeLine(rs === 0 ? "ri[o] = (int32_t)ni;" : `ri[o] = (int32_t)nmc_sat16(nmc_round_shift(ni, ${rs}));`);
    });
    const down = fx.accFrac - fx.outFrac;
    const pre = e.plan.pre;
    e.header(p, `outputs: y = sat32(rq(sat32(rs(Σ C·r, ${pre})), c_mult, c_shift) + skip), out = sat16(rs(y, ${down})), thread per output`);
    outputKernel(e, p, ["const int32_t* c_mult", "const int32_t* c_shift", "const int32_t* rr", "const int32_t* ri"], () => {
      w.writeLine("nmc_i64 acc = 0;");
      w.writeLine(`for (int p = 0; p < ${P}; ++p) acc += (nmc_i64)c_re[i * ${P} + p] * rr[sb + p] - (nmc_i64)c_im[i * ${P} + p] * ri[sb + p];`);
      w.writeLine(`const nmc_i64 y = nmc_sat32(nmc_requantize(nmc_sat32(nmc_round_shift(acc, ${pre})), c_mult[i], c_shift[i]) + sk);`);
      w.writeLine(`out[(long long)b * ${H} + i] = (int32_t)nmc_sat16(nmc_round_shift(y, ${down}));`);
    });
  },
  launch,
};

const float: StepRenderer<"DiagonalSSM"> = {
  kernels(e, p) {
    const { w } = e;
    const P = p.pop.stateSize, H = p.size;
    e.header(p, `state update x ← Λ̄ ⊙ x + u, thread per complex state (P = ${P})`);
    stateKernel(e, p, [], () => {
      w.writeLine("const double a = xr[o], c = xi[o];");
      w.writeLine("xr[o] = lambda_re[i] * a - lambda_im[i] * c + ub[i];");
      w.writeLine(`xi[o] = lambda_re[i] * c + lambda_im[i] * a + ub[${P} + i];`);
    });
    e.header(p, "outputs: y = skip + Σ_p (C_re x_re − C_im x_im), thread per output");
    outputKernel(e, p, ["const double* xr", "const double* xi"], () => {
      w.writeLine("double y = sk;");
      w.writeLine(`for (int p = 0; p < ${P}; ++p) y += c_re[i * ${P} + p] * xr[sb + p] - c_im[i * ${P} + p] * xi[sb + p];`);
      w.writeLine(`out[(long long)b * ${H} + i] = y;`);
    });
  },
  launch,
};

export const SSM_OP: CudaOp<"DiagonalSSM"> = {
  // An event-time DiagonalSSM (continuous Λ, per-step Δt) has no rendering yet: refused by name.
  params: (pop) => [
    ...refuseEventTime(pop),
    { role: "lambda_re", count: pop.stateSize },
    { role: "lambda_im", count: pop.stateSize },
    { role: "c_re", count: pop.size * pop.stateSize },
    { role: "c_im", count: pop.size * pop.stateSize },
    { role: "c_mult", count: pop.size, intOnly: true },
    { role: "c_shift", count: pop.size, intOnly: true },
  ],
  // The int variant adds the 16-bit read view (rr, ri) that the output kernel reads.
  state: (pop, int) => (int ? ["xr", "xi", "rr", "ri"] : ["xr", "xi"]).map((s): [string, number] => [s, pop.stateSize]),
  receives: true,
  needsFixed: true,
  inputChannels: null,
  detail: () => "",
  int,
  float,
};
