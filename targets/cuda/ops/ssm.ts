// The DiagonalSSM population: two kernels per step, the complex state update x ← Λ̄ ⊙ x + u (thread per
// state) and the outputs y = skip + Re(C x) (thread per output). The int variant keeps the state in
// stateBits (16 or 32) and a 16-bit read view r of it that the output reads (runtime/fixed/QUANTIZATION.md).
import { NmcError } from "../../../ir/errors.js";
import type { Emission } from "../emission.js";
import type { PopInfo } from "../plan.js";
import { KERNEL_INDEX, ll } from "../writer.js";
import type { CudaOp, ParamSpec, StepRenderer } from "./types.js";

type SsmPop = PopInfo<"DiagonalSSM">["pop"];

const isEventSsm = (pop: SsmPop): boolean => pop.discretization !== undefined;

/** A one-element integer tensor of the population (a compiled-in constant). */
function scalar(pop: SsmPop, name: string): number {
  const v = Number(pop.tensors[name]?.data[0]);
  if (!Number.isSafeInteger(v)) throw new NmcError(`population ${pop.name} lacks its quantized tensor ${name}`, { node: pop.name });
  return v;
}

/** The params.bin tensors of an event-time DiagonalSSM: the int variant's decay constants, or the float IR's Λ, step and C. */
function eventParams(pop: SsmPop, precision: string): ParamSpec[] {
  const P = pop.stateSize, H = pop.size;
  if (precision === "float") {
    return [{ role: "lambda_re", count: P }, { role: "lambda_im", count: P }, { role: "step", count: P }, { role: "c_re", count: H * P }, { role: "c_im", count: H * P }];
  }
  return [
    ...["alpha_m", "alpha_s", "beta_m", "beta_s", "gamma_re", "gamma_im"].map((role) => ({ role, count: P })),
    ...(pop.discretization === "zoh" ? [{ role: "kappa_s", count: P }] : []),
    { role: "c_re", count: H * P },
    { role: "c_im", count: H * P },
    { role: "c_mult", count: H },
    { role: "c_shift", count: H },
  ];
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
  if (isEventSsm(pop) && !e.int) {
    e.launch(`${sym}__update_state`, `${pop.stateSize}`, [`d_${u.sym}`, `d_${sym}_time`, `d_${sym}_lambda_re`, `d_${sym}_lambda_im`, `d_${sym}_step`, `d_${sym}_state_xr`, `d_${sym}_state_xi`]);
    e.launch(`${sym}__update_output`, `${p.size}`, [
      `d_${skip.sym}`, `d_${sym}_time`, `d_${sym}_c_re`, `d_${sym}_c_im`, `d_${sym}_state_xr`, `d_${sym}_state_xi`,
      `d_${sym}_state_latch`, `d_${sym}_state_pooled`, `d_${sym}_state_wsum`, `d_${sym}_out`, e.step,
    ]);
    return;
  }
  if (isEventSsm(pop)) {
    const c = [`d_${sym}_alpha_m`, `d_${sym}_alpha_s`, `d_${sym}_beta_m`, `d_${sym}_beta_s`, `d_${sym}_gamma_re`, `d_${sym}_gamma_im`];
    if (pop.discretization === "zoh") c.push(`d_${sym}_kappa_s`);
    e.launch(`${sym}__update_state`, `${pop.stateSize}`, [`d_${u.sym}`, `d_${sym}_time`, ...c, `d_${sym}_state_xr`, `d_${sym}_state_xi`, `d_${sym}_state_rr`, `d_${sym}_state_ri`]);
    e.launch(`${sym}__update_output`, `${p.size}`, [
      `d_${skip.sym}`, `d_${sym}_time`, `d_${sym}_c_re`, `d_${sym}_c_im`, `d_${sym}_c_mult`, `d_${sym}_c_shift`, `d_${sym}_state_rr`, `d_${sym}_state_ri`,
      `d_${sym}_state_latch`, `d_${sym}_state_pooled`, `d_${sym}_state_wsum`, `d_${sym}_out`, e.step,
    ]);
    return;
  }
  const st = [`d_${u.sym}`, `d_${sym}_lambda_re`, `d_${sym}_lambda_im`, `d_${sym}_state_xr`, `d_${sym}_state_xi`];
  if (e.int) st.push(`d_${sym}_state_rr`, `d_${sym}_state_ri`);
  e.launch(`${sym}__update_state`, `${pop.stateSize}`, st);
  const oa = [`d_${skip.sym}`, `d_${sym}_c_re`, `d_${sym}_c_im`];
  if (e.int) oa.push(`d_${sym}_c_mult`, `d_${sym}_c_shift`, `d_${sym}_state_rr`, `d_${sym}_state_ri`);
  else oa.push(`d_${sym}_state_xr`, `d_${sym}_state_xi`);
  oa.push(`d_${sym}_out`);
  e.launch(`${sym}__update_output`, `${p.size}`, oa);
}

/**
 * The event-time DiagonalSSM (runtime/golden/event-kernels.ts eventSsmStates and eventSsmOutputs): per state and
 * step Λ̄ = nmc_expq_decay(dt) in Q15 and γ (the constant, or zoh's nmc_expq_zoh_gain(dt)), x = sat(cmul(x, Λ̄) +
 * rs(γ·u', gShift)); per output the group's C·x latched at pos 0, the skip pooled, the output at pos k − 1.
 */
function eventKernels(e: Emission, p: PopInfo<"DiagonalSSM">): void {
  const { w } = e;
  const { pop } = p;
  const P = pop.stateSize, H = p.size, fx = pop.fixed!, bits = fx.stateBits;
  if (bits !== 16 && bits !== 32) throw new NmcError(`population ${pop.name}: state bits ${bits} (expected 16 or 32)`, { node: pop.name });
  const disc = pop.discretization!, zoh = disc === "zoh";
  const gFrac = scalar(pop, "g_frac"), uFrac = scalar(pop, "u_frac");
  const uDown = fx.accFrac - uFrac, gShift = gFrac + uFrac - fx.stateFrac, rs = bits - 16;
  const k = pop.stride ?? 1, mode = pop.pool ?? "last";
  const tp = mode === "timepool" && k > 1;
  const eps = tp ? scalar(pop, "eps_q") : 0;
  const down = fx.accFrac - fx.outFrac, pre = e.plan.pre;
  if (down < 0) throw new NmcError(`population ${pop.name}: out_frac above acc_frac`, { node: pop.name });
  e.header(p, `event-time (${disc}) state update with the step's Δt: Λ̄ = decay(dt) in Q15, x ← sat${bits}(Λ̄ ⊙ x + rs(γ u', ${gShift})), thread per complex state (P = ${P})`);
  const consts = ["const int32_t* am", "const int32_t* as", "const int32_t* bm", "const int32_t* bs", "const int32_t* gre", "const int32_t* gim", ...(zoh ? ["const int32_t* ks"] : [])];
  e.kernel(`${p.sym}__update_state`, ["const nmc_i64* u", "const nmc_i64* time", ...consts, "int32_t* xr", "int32_t* xi", "int32_t* rr", "int32_t* ri"], () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    w.writeLine(`if (i >= ${P}) return;`);
    w.writeLine(`const long long o = (long long)b * ${P} + i;`);
    w.writeLine(`const nmc_i64* ub = u + (long long)b * ${2 * P};`);
    w.writeLine("const nmc_i64 dt = time[2 * b] > 268435455LL ? 268435455LL : time[2 * b]; // clamped at 2^28 - 1");
    w.writeLine("nmc_i64 lr, li, gr, gi;");
    w.writeLine("nmc_expq_decay(dt, am[i], as[i], bm[i], bs[i], 15, &lr, &li);");
    if (zoh) w.writeLine(`nmc_expq_zoh_gain(dt, am[i], as[i], bm[i], bs[i], gre[i], gim[i], ks[i], ${gFrac}, &gr, &gi);`);
    else w.writeLine("gr = gre[i]; gi = gim[i];");
    w.writeLine(`const nmc_i64 ur = nmc_sat16(nmc_round_shift(ub[i], ${uDown})), ui = nmc_sat16(nmc_round_shift(ub[${P} + i], ${uDown}));`);
    w.writeLine("const nmc_i64 a = xr[o], c = xi[o];");
    w.writeLine(`const nmc_i64 nr = nmc_saturate(nmc_cmul_re_q15(a, c, lr, li) + nmc_round_shift(gr * ur - gi * ui, ${gShift}), ${bits});`);
    w.writeLine(`const nmc_i64 ni = nmc_saturate(nmc_cmul_im_q15(a, c, lr, li) + nmc_round_shift(gr * ui + gi * ur, ${gShift}), ${bits});`);
    w.writeLine("xr[o] = (int32_t)nr;");
    w.writeLine("xi[o] = (int32_t)ni;");
    w.writeLine(rs === 0 ? "rr[o] = (int32_t)nr;" : `rr[o] = (int32_t)nmc_sat16(nmc_round_shift(nr, ${rs}));`);
    w.writeLine(rs === 0 ? "ri[o] = (int32_t)ni;" : `ri[o] = (int32_t)nmc_sat16(nmc_round_shift(ni, ${rs}));`);
  });
  e.header(p, `outputs, stride ${k}${k > 1 ? ` (${mode})` : ""}: C·r latched at the group's first step, the skip pooled, y = sat32(latch + pooled), out = sat16(rs(y, ${down})) at its last, thread per output`);
  e.kernel(`${p.sym}__update_output`, [
    "const nmc_i64* skip", "const nmc_i64* time", "const int32_t* c_re", "const int32_t* c_im", "const int32_t* c_mult", "const int32_t* c_shift",
    "const int32_t* rr", "const int32_t* ri", "nmc_i64* latch", "nmc_i64* pooled", "nmc_i64* wsum", "int32_t* out", "int t",
  ], () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    w.writeLine(`if (i >= ${H}) return;`);
    w.writeLine(`const long long o = (long long)b * ${H} + i;`);
    w.writeLine(`const long long sb = (long long)b * ${P};`);
    w.writeLine("const nmc_i64 sk = skip[o];");
    w.writeLine(`const int pos = t % ${k};`);
    w.write("if (pos == 0)").block(() => {
      w.writeLine("nmc_i64 acc = 0;");
      w.writeLine(`for (int p = 0; p < ${P}; ++p) acc += (nmc_i64)c_re[i * ${P} + p] * rr[sb + p] - (nmc_i64)c_im[i * ${P} + p] * ri[sb + p];`);
      w.writeLine(`latch[o] = nmc_requantize(nmc_sat32(nmc_round_shift(acc, ${pre})), c_mult[i], c_shift[i]);`);
      w.writeLine("pooled[o] = 0;");
      w.writeLine("wsum[o] = 0;");
    });
    if (k === 1 || mode === "last") w.writeLine("if (pos == 0) pooled[o] = sk;");
    else if (mode === "avgpool") w.writeLine("pooled[o] += sk;");
    else {
      w.writeLine(`const nmc_i64 wt = time[2 * b] + ${ll(eps)};`);
      w.writeLine(`pooled[o] += nmc_sat16(nmc_round_shift(sk, ${down})) * wt;`);
      w.writeLine("wsum[o] += wt;");
    }
    w.writeLine(`if (pos != ${k - 1}) return;`);
    const d = k === 1 || mode === "last" ? "pooled[o]"
      : mode === "avgpool" ? `nmc_round_div(pooled[o], ${k})`
      : `(wsum[o] > 0 ? nmc_round_div(pooled[o], wsum[o]) : 0) * ${ll(2 ** down)}`;
    w.writeLine(`const nmc_i64 y = nmc_sat32(latch[o] + ${d});`);
    w.writeLine(`out[o] = (int32_t)nmc_sat16(nmc_round_shift(y, ${down}));`);
  });
}

const int: StepRenderer<"DiagonalSSM"> = {
  kernels(e, p) {
    const { w } = e;
    const { pop } = p;
    if (isEventSsm(pop)) {
      eventKernels(e, p);
      return;
    }
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

/**
 * The event-time DiagonalSSM, float variant (runtime/float/ops.ts eventSsmStep, operation for operation in double):
 * per state Λ̄ = exp(Λ s Δt) and the gain γ of the discretization (Λ̄ − 1 and e^z − 1 as expm1·cos − 2 sin²(·/2) + i
 * e^z sin, without the subtraction's cancellation), x ← Λ̄ x + γ u; per output Re(C x) + skip, or with a stride k the
 * group's first Re(C x) latched plus the group's skip pooled.
 */
function eventFloatKernels(e: Emission, p: PopInfo<"DiagonalSSM">): void {
  const { w } = e;
  const { pop } = p;
  const P = pop.stateSize, H = p.size, disc = pop.discretization!;
  const k = pop.stride ?? 1, mode = pop.pool ?? "last";
  e.header(p, `event-time (${disc}) state update with the step's Δt: x ← exp(Λ s Δt) x + γ u, thread per complex state (P = ${P})`);
  e.kernel(`${p.sym}__update_state`, ["const double* u", "const double* time", "const double* lambda_re", "const double* lambda_im", "const double* step", "double* xr", "double* xi"], () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    w.writeLine(`if (i >= ${P}) return;`);
    w.writeLine(`const long long o = (long long)b * ${P} + i;`);
    w.writeLine(`const double* ub = u + (long long)b * ${2 * P};`);
    w.writeLine("const double dt = time[2 * b];");
    w.writeLine("const double lre = lambda_re[i], lim = lambda_im[i];");
    w.writeLine("const double a = lre * step[i], bb = lim * step[i];");
    w.writeLine("const double mag = exp(a * dt), ang = bb * dt;");
    w.writeLine("const double Lr = mag * cos(ang), Li = mag * sin(ang);");
    w.writeLine("double gr = 1, gi = 0;");
    if (disc !== "dirac") {
      const async = disc === "async";
      w.writeLine(`const double za = ${async ? "a" : "a * dt"}, zb = ${async ? "bb" : "ang"};`);
      w.writeLine("const double hs = sin(zb / 2);");
      w.writeLine("const double nr = expm1(za) * cos(zb) - 2 * hs * hs, ni = exp(za) * sin(zb);");
      w.writeLine("const double den = lre * lre + lim * lim;");
      w.write("if (den == 0)").block(() => w.writeLine(`gr = ${async ? "step[i]" : "step[i] * dt"};`));
      w.write("else").block(() => {
        w.writeLine("gr = (nr * lre + ni * lim) / den;");
        w.writeLine("gi = (ni * lre - nr * lim) / den;");
      });
    }
    w.writeLine(`const double ur = ub[i], ui = ub[${P} + i];`);
    w.writeLine("const double xa = xr[o], xb = xi[o];");
    w.writeLine("xr[o] = Lr * xa - Li * xb + (gr * ur - gi * ui);");
    w.writeLine("xi[o] = Lr * xb + Li * xa + (gr * ui + gi * ur);");
  });
  e.header(p, `outputs, stride ${k}${k > 1 ? ` (${mode})` : ""}: Re(C x) + skip${k > 1 ? ", the group's first Re(C x) latched and its skip pooled, written at its last step" : ""}, thread per output`);
  e.kernel(`${p.sym}__update_output`, [
    "const double* skip", "const double* time", "const double* c_re", "const double* c_im", "const double* xr", "const double* xi",
    "double* latch", "double* pooled", "double* wsum", "double* out", "int t",
  ], () => {
    for (const l of KERNEL_INDEX) w.writeLine(l);
    w.writeLine(`if (i >= ${H}) return;`);
    w.writeLine(`const long long o = (long long)b * ${H} + i;`);
    w.writeLine(`const long long sb = (long long)b * ${P};`);
    w.writeLine("double y = 0;");
    const readC = () => w.writeLine(`for (int p = 0; p < ${P}; ++p) y += c_re[i * ${P} + p] * xr[sb + p] - c_im[i * ${P} + p] * xi[sb + p];`);
    if (k === 1) {
      readC();
      w.writeLine("out[o] = y + skip[o];");
      return;
    }
    w.writeLine("(void)time;");
    w.writeLine(`const int pos = t % ${k};`);
    w.write("if (pos == 0)").block(() => {
      readC();
      w.writeLine("latch[o] = y;");
    });
    poolLines(e, mode, "skip[o]", "pooled[o]", "wsum[o]", k);
    w.writeLine(`out[o] = latch[o] + ${pooledValue(mode, "pooled[o]", "wsum[o]", k)};`);
  });
}

/** The float variant's pooling of one value into a group's accumulator (runtime/float/ops.ts poolInto), then `return` unless pos = k − 1. */
export function poolLines(e: Emission, mode: string, x: string, acc: string, wsum: string, k: number): void {
  const { w } = e;
  if (mode === "timepool") {
    w.writeLine(`const double wt = time[2 * b] + ${POOL_EPS_C};`);
    w.writeLine(`if (pos == 0) { ${acc} = ${x} * wt; ${wsum} = wt; } else { ${acc} += ${x} * wt; ${wsum} += wt; }`);
  } else if (mode === "avgpool") w.writeLine(`if (pos == 0) ${acc} = ${x}; else ${acc} += ${x};`);
  else w.writeLine(`if (pos == 0) ${acc} = ${x};`);
  w.writeLine(`if (pos != ${k - 1}) return;`);
}

/** runtime/float/ops.ts pooledValue: a group's pooled value at its end. */
export function pooledValue(mode: string, acc: string, wsum: string, k: number): string {
  return mode === "last" ? acc : mode === "avgpool" ? `${acc} / ${k}` : `${acc} / ${wsum}`;
}

/** event-ssm's ε of the time-weighted means (runtime/float/ops.ts POOL_EPS), as a C double. */
export const POOL_EPS_C = "1e-6";

const float: StepRenderer<"DiagonalSSM"> = {
  kernels(e, p) {
    const { w } = e;
    if (isEventSsm(p.pop)) {
      eventFloatKernels(e, p);
      return;
    }
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
  // An event-time DiagonalSSM (continuous Λ, per-step Δt): its per-state decay constants (int) or Λ and step (float) instead of Λ̄.
  params: (pop, precision) => (isEventSsm(pop) ? eventParams(pop, precision) : [
    { role: "lambda_re", count: pop.stateSize },
    { role: "lambda_im", count: pop.stateSize },
    { role: "c_re", count: pop.size * pop.stateSize },
    { role: "c_im", count: pop.size * pop.stateSize },
    { role: "c_mult", count: pop.size, intOnly: true },
    { role: "c_shift", count: pop.size, intOnly: true },
  ]),
  // The int variant adds the 16-bit read view (rr, ri) that the output kernel reads; the event-time one the
  // group's latched C·x, pooled skip and weight sum (int64, per output).
  state: (pop, int) => [
    ...(int ? ["xr", "xi", "rr", "ri"] : ["xr", "xi"]).map((s): [string, number] => [s, pop.stateSize]),
    ...(isEventSsm(pop) ? ["latch", "pooled", "wsum"].map((s): [string, number, string] => [s, pop.size, int ? "nmc_i64" : "double"]) : []),
  ],
  usesTime: isEventSsm,
  receives: true,
  needsFixed: true,
  inputChannels: null,
  detail: () => "",
  int,
  float,
};
