// An independent reference for runtime/fixed/QUANTIZATION.md, written from the page's text: every integer
// operation is done in BigInt (no 2^53 limit, no reliance on doubles being exact), and nothing is imported
// from runtime/ — only the IR types. The golden interpreter must agree with it bit for bit.
//
// The one real-valued step is the boundary (toFixed of the model inputs), done with plain numbers as the
// page allows: x · 2^frac is exact for a power-of-two scale, and the rounding below inspects the exact
// fractional part instead of adding 0.5 (which would round in a double for |v| ≥ 2^52).
//
// Besides the outputs it returns every population's per-tick integers, the counters of the page's Counters
// section, and how many values each saturation point actually clipped (so tests can show that the
// saturation paths were exercised).
import type { Graph, Lut, Population, Projection, Tensor } from "../../ir/types.js";

export interface RefBatch {
  data: ArrayLike<number>;
  batch: number;
  ticks: number;
  channels: number;
}

export interface RefPopulationCounters {
  kind: string;
  size: number;
  events: number;
  unitTicks: number;
}

export interface RefProjectionCounters {
  source: string;
  target: string;
  rows: number;
  cols: number;
  nnz: number;
  dense: number;
  effective: number;
  activityOnly: number;
  weightOnly: number;
}

export interface RefCounters {
  samples: number;
  ticks: number;
  populations: Record<string, RefPopulationCounters>;
  projections: Record<string, RefProjectionCounters>;
}

/** Where a value was clipped (see `clips`). */
export type ClipSite =
  | "input16" // toFixed of a model input
  | "colsum32" // sat32 of a projection's column sum rs(a[j], pre)
  | "requant32" // sat32 inside rq
  | "port32" // sat32 of a port after all projections
  | "lutIndex" // the LUT index rule's clamp to [0, N − 1] (N the table's length)
  | "egru16" // sat16 of the EGRU candidate c
  | "cmul32" // sat32 of a Λ̄ ⊙ x part
  | "state" // sat_b of the SSM state
  | "read16" // sat16 of the 32-bit state's top half
  | "ssmSum32" // sat32 of rs(s_h, pre)
  | "ssmY32" // sat32 of y_h
  | "out16" // sat16 of a Dense / SSM / Multiply output
  | "operand16" // sat16 of a Multiply operand a' or b', or of a LayerNorm's x'
  | "readout32"; // sat32 of a readout's running sum

export interface RefRun {
  /** Output integers: [B, T, K] per tick, or [B, K] (last tick) for a Readout output. */
  outputQ: Int32Array;
  outputShape: number[];
  outFrac: number;
  /** Every population's integer output of every tick, [B, T, size] row-major, by population name. */
  perTick: Record<string, Int32Array>;
  /** Non-zero outputs per population, over the whole batch. */
  events: Record<string, number>;
  counters: RefCounters;
  /** Values clipped at each saturation point over the whole batch. */
  clips: Record<ClipSite, number>;
}

// ---- integer primitives, BigInt only ----

const TWO = (k: number): bigint => {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`bad power of two exponent ${k}`);
  return 1n << BigInt(k);
};
const Q14_ONE = TWO(14);

class Clipper {
  readonly counts: Record<ClipSite, number> = {
    input16: 0, colsum32: 0, requant32: 0, port32: 0, lutIndex: 0, egru16: 0, cmul32: 0, state: 0, read16: 0,
    ssmSum32: 0, ssmY32: 0, out16: 0, operand16: 0, readout32: 0,
  };

  /** Clamp to the signed range of `bits` bits: [−2^(bits−1), 2^(bits−1) − 1]. */
  sat(x: bigint, bits: number, site: ClipSite): bigint {
    const top = TWO(bits - 1);
    if (x > top - 1n) {
      this.counts[site]++;
      return top - 1n;
    }
    if (x < -top) {
      this.counts[site]++;
      return -top;
    }
    return x;
  }
}

/** x / 2^s rounded to nearest, ties away from zero; s = 0 is the identity. Negative s is not in the spec. */
function rs(x: bigint, s: number): bigint {
  if (!Number.isInteger(s) || s < 0) throw new RangeError(`rounding shift by ${s}: the spec only shifts right`);
  if (s === 0) return x;
  const half = TWO(s - 1);
  const mag = x < 0n ? -x : x;
  const q = (mag + half) / TWO(s); // non-negative operands: division truncates = floors
  return x < 0n ? -q : q;
}

/** floor(x / 2^k) for any sign of x. */
function floorDivPow2(x: bigint, k: number): bigint {
  const d = TWO(k);
  const q = x / d; // truncates toward zero
  return x < 0n && q * d !== x ? q - 1n : q;
}

/** a / n rounded to nearest, ties away from zero (n ≥ 1). */
function roundDivAway(a: bigint, n: bigint): bigint {
  if (n < 1n) throw new RangeError("roundDiv needs n ≥ 1");
  const mag = a < 0n ? -a : a;
  const q = (2n * mag + n) / (2n * n);
  return a < 0n ? -q : q;
}

/** ⌊√n⌋ by Newton's iteration on integers (n ≥ 0): the iterates decrease to the floor square root. */
function isqrtBig(n: bigint): bigint {
  if (n < 2n) return n;
  let x = n, y = (n + 1n) / 2n;
  while (y < x) {
    x = y;
    y = (x + n / x) / 2n;
  }
  return x;
}

/** rq(x, m, s) = sat32(rs(x · m, s)). */
function rq(x: bigint, m: bigint, s: number, clip: Clipper): bigint {
  return clip.sat(rs(x * m, s), 32, "requant32");
}

/** The LUT index rule: clamp(floor((x − lo·2^in_frac) / 2^(in_frac − step_log2)), 0, N − 1), then the entry. */
function lut(l: Lut, x: bigint, clip: Clipper): bigint {
  const n = l.table.length;
  if (n < 256 || n > 4096 || (n & (n - 1)) !== 0) throw new RangeError(`LUT ${l.name} has ${n} entries, not 2^k for k in 8…12`);
  const loScaled = l.lo * 2 ** l.inFrac;
  if (!Number.isInteger(loScaled)) throw new RangeError(`LUT ${l.name}: lo·2^in_frac = ${loScaled} is not an integer`);
  let i = floorDivPow2(x - BigInt(loScaled), l.inFrac - l.stepLog2);
  if (i < 0n) {
    clip.counts.lutIndex++;
    i = 0n;
  } else if (i > BigInt(n - 1)) {
    clip.counts.lutIndex++;
    i = BigInt(n - 1);
  }
  return BigInt(l.table[Number(i)]);
}

/** The real part of (a + ib)(c + id) in Q15: sat32(rs(a·c − b·d, 15)); imaginary: sat32(rs(a·d + b·c, 15)). */
function cmul(a: bigint, b: bigint, c: bigint, d: bigint, clip: Clipper): [bigint, bigint] {
  return [clip.sat(rs(a * c - b * d, 15), 32, "cmul32"), clip.sat(rs(a * d + b * c, 15), 32, "cmul32")];
}

/** toFixed(x, frac, 16) = sat16(round_half_away(x · 2^frac)), with plain numbers up to the rounding. */
function inputToFixed(x: number, frac: number, clip: Clipper): bigint {
  if (Number.isNaN(x)) throw new RangeError("NaN input");
  const v = x * 2 ** frac;
  if (!Number.isFinite(v)) return clip.sat(v > 0 ? TWO(40) : -TWO(40), 16, "input16");
  const a = Math.abs(v);
  const whole = Math.floor(a);
  const r = a - whole >= 0.5 ? whole + 1 : whole; // a − whole is exact for any double
  const q = BigInt(r);
  return clip.sat(v < 0 ? -q : q, 16, "input16");
}

// ---- reading the quantized IR ----

function ints(t: Tensor | undefined, what: string): bigint[] {
  if (!t) throw new Error(`missing tensor ${what}`);
  if (t.dtype === "f32" || t.dtype === "f64") throw new Error(`tensor ${what} is ${t.dtype}, not an integer tensor`);
  return Array.from(t.data as ArrayLike<number>, (v) => BigInt(v));
}

function lutNamed(p: Population, name: string): Lut {
  const l = p.luts?.find((x) => x.name === name);
  if (!l) throw new Error(`population ${p.name} lacks LUT ${name}`);
  return l;
}

/** A projection as rows of (column, weight) pairs, plus what the counters need. */
interface Synapses {
  proj: Projection;
  srcIndex: number;
  rows: { col: number; w: bigint }[][];
  mult: bigint[];
  shift: number[];
}

function synapses(j: Projection, srcIndex: number): Synapses {
  const dt = j.weights.values.dtype;
  if (dt !== "i8" && dt !== "i16") throw new Error(`projection ${j.name} has ${dt} weights`);
  if (!j.requant) throw new Error(`projection ${j.name} has no requantization multipliers`);
  const w = j.weights.values.data;
  const rows: { col: number; w: bigint }[][] = [];
  for (let r = 0; r < j.rows; r++) {
    const row: { col: number; w: bigint }[] = [];
    for (let k = j.weights.rowPtr[r]; k < j.weights.rowPtr[r + 1]; k++) row.push({ col: j.weights.colIdx[k], w: BigInt(w[k]) });
    rows.push(row);
  }
  return {
    proj: j, srcIndex, rows,
    mult: Array.from(j.requant.multiplier, (m) => BigInt(m)),
    shift: Array.from(j.requant.shift),
  };
}

// ---- the engine ----

/** Runs a quantized graph on a batch by the text of QUANTIZATION.md, in BigInt. */
export function runBigIntReference(graph: Graph, batch: RefBatch): RefRun {
  if (!graph.quant) throw new Error("the reference runs quantized graphs only");
  const pops = graph.populations;
  const indexOf = new Map(pops.map((p, i) => [p.name, i]));
  const clip = new Clipper();
  // Raw sums of int16 weights are rounding-shifted by pre = weight_bits − 8 before their sat32.
  const pre = graph.quant.weightBits - 8;
  if (pre !== 0 && pre !== 8) throw new Error(`weight bits ${graph.quant.weightBits}`);
  const { batch: B, ticks: T, channels: C, data } = batch;

  const incoming: Synapses[][] = pops.map(() => []);
  for (const j of graph.projections) {
    const s = indexOf.get(j.source), t = indexOf.get(j.target);
    if (s === undefined || t === undefined) throw new Error(`projection ${j.name} has an unknown end`);
    if (j.delay === 0 && s >= t) throw new Error(`delay-0 projection ${j.name} does not point forward`);
    incoming[t].push(synapses(j, s)); // graph order within each target
  }

  const counters: RefCounters = { samples: 0, ticks: 0, populations: {}, projections: {} };
  for (const p of pops) counters.populations[p.name] = { kind: p.kind, size: p.size, events: 0, unitTicks: 0 };
  for (const j of graph.projections) {
    counters.projections[j.name] = {
      source: j.source, target: j.target, rows: j.rows, cols: j.cols, nnz: j.weights.colIdx.length,
      dense: 0, effective: 0, activityOnly: 0, weightOnly: 0,
    };
  }
  const perTick: Record<string, Int32Array> = {};
  for (const p of pops) perTick[p.name] = new Int32Array(B * T * p.size);

  const outName = graph.outputs[0];
  const outPop = pops[indexOf.get(outName)!];
  const readoutOut = outPop.kind === "Readout";
  const K = outPop.size;
  const outputQ = new Int32Array(readoutOut ? B * K : B * T * K);

  const inputPop = pops[indexOf.get(graph.inputs[0])!];
  if (inputPop.kind !== "Input" || !inputPop.fixed) throw new Error("no quantized input population");

  const zeros = (n: number) => new Array<bigint>(n).fill(0n);

  for (let b = 0; b < B; b++) {
    // Per-sequence state, all zero at the start: outputs of the previous tick, EGRU h, SSM x, readout sums.
    let previous: bigint[][] = pops.map((p) => zeros(p.size));
    const egruH = new Map<number, bigint[]>();
    const ssmX = new Map<number, { re: bigint[]; im: bigint[] }>();
    const sums = new Map<number, bigint[]>();
    pops.forEach((p, k) => {
      if (p.kind === "EGRU") egruH.set(k, zeros(p.size));
      if (p.kind === "DiagonalSSM") ssmX.set(k, { re: zeros(p.stateSize), im: zeros(p.stateSize) });
      if (p.kind === "Readout") sums.set(k, zeros(p.size));
    });

    for (let t = 0; t < T; t++) {
      const current: (bigint[] | undefined)[] = pops.map(() => undefined);
      const base = (b * T + t) * C;

      /** Ports loaded with their biases, then every projection delivered (QUANTIZATION.md steps 1–3). */
      const deliver = (k: number, p: Population, biasOf: Record<string, bigint[]>): Record<string, bigint[]> => {
        const ports: Record<string, bigint[]> = {};
        for (const q of p.ports) ports[q.name] = biasOf[q.name] ? [...biasOf[q.name]] : zeros(q.width);
        for (const syn of incoming[k]) {
          const j = syn.proj;
          const src = j.delay === 0 ? current[syn.srcIndex] : previous[syn.srcIndex];
          if (!src) throw new Error(`projection ${j.name} reads a population not yet run this tick`);
          const a = zeros(j.cols);
          let activeRows = 0, products = 0;
          for (let i = 0; i < j.rows; i++) {
            if (src[i] === 0n) continue;
            activeRows++;
            for (const { col, w } of syn.rows[i]) {
              a[col] += src[i] * w;
              products++;
            }
          }
          const port = ports[j.port];
          if (!port) throw new Error(`projection ${j.name} targets a missing port ${j.port}`);
          for (let c = 0; c < j.cols; c++) {
            if (a[c] !== 0n) port[c] += rq(clip.sat(rs(a[c], pre), 32, "colsum32"), syn.mult[c], syn.shift[c], clip);
          }
          const pc = counters.projections[j.name];
          pc.dense += j.rows * j.cols;
          pc.effective += products;
          pc.activityOnly += activeRows * j.cols;
          pc.weightOnly += j.weights.colIdx.length;
        }
        for (const name of Object.keys(ports)) ports[name] = ports[name].map((v) => clip.sat(v, 32, "port32"));
        return ports;
      };

      pops.forEach((p, k) => {
        const fx = p.fixed;
        if (!fx) throw new Error(`population ${p.name} has no fixed-point format`);
        let y: bigint[];
        switch (p.kind) {
          case "Input": {
            y = zeros(p.size);
            if (p.encoding === "tokens") {
              const tok = data[base];
              if (!Number.isInteger(tok) || tok < 0 || tok >= p.size) throw new Error(`bad token ${tok}`);
              y[tok] = Q14_ONE;
            } else {
              // Each Input population in its own format (out_frac of that input); every Input reads the
              // batch from channel 0, as the float engine does.
              for (let i = 0; i < p.size; i++) y[i] = inputToFixed(Number(data[base + i]), fx.outFrac, clip);
            }
            break;
          }
          case "EGRU": {
            const H = p.size;
            const ports = deliver(k, p, { input: ints(p.tensors.bias_x, "bias_x"), recurrent: ints(p.tensors.bias_h, "bias_h") });
            const vx = ports.input, vh = ports.recurrent;
            const sig = lutNamed(p, "sigmoid"), th = lutNamed(p, "tanh");
            const theta = ints(p.tensors.thr, "thr");
            const h = egruH.get(k)!;
            const pq = BigInt(Math.floor((p.zoneout ?? 0) * 32768 + 0.5));
            y = zeros(H);
            for (let i = 0; i < H; i++) {
              const z = lut(sig, vx[i] + vh[i], clip);
              const r = lut(sig, vx[H + i] + vh[H + i], clip);
              const g = lut(th, vx[2 * H + i] + rs(r * vh[2 * H + i], 14), clip);
              const c0 = clip.sat(rs(z * h[i] + (Q14_ONE - z) * g, 14), 16, "egru16");
              // zoneout: rs(p_q·h + (2^15 − p_q)·c, 15), p_q = round(p · 2^15) (ties away; p ≥ 0)
              const c = pq === 0n ? c0 : rs(pq * h[i] + (32768n - pq) * c0, 15);
              const d = c - theta[i];
              if (d > 0n) {
                y[i] = c;
                h[i] = d;
              } else {
                y[i] = 0n;
                h[i] = c;
              }
            }
            break;
          }
          case "DiagonalSSM": {
            const P = p.stateSize, H = p.size, bits = fx.stateBits;
            if (bits !== 16 && bits !== 32) throw new Error(`state bits ${bits}`);
            const ports = deliver(k, p, {});
            const u = ports.u, skip = ports.skip;
            const lre = ints(p.tensors.lambda_re, "lambda_re"), lim = ints(p.tensors.lambda_im, "lambda_im");
            const cre = ints(p.tensors.c_re, "c_re"), cim = ints(p.tensors.c_im, "c_im");
            const cm = ints(p.tensors.c_mult, "c_mult"), cs = ints(p.tensors.c_shift, "c_shift").map(Number);
            const x = ssmX.get(k)!;
            const readRe = zeros(P), readIm = zeros(P);
            for (let q = 0; q < P; q++) {
              const [pr, pi] = cmul(x.re[q], x.im[q], lre[q], lim[q], clip); // both from the previous x
              x.re[q] = clip.sat(pr + u[q], bits, "state");
              x.im[q] = clip.sat(pi + u[P + q], bits, "state");
              readRe[q] = bits === 16 ? x.re[q] : clip.sat(rs(x.re[q], bits - 16), 16, "read16");
              readIm[q] = bits === 16 ? x.im[q] : clip.sat(rs(x.im[q], bits - 16), 16, "read16");
            }
            y = zeros(H);
            for (let hh = 0; hh < H; hh++) {
              let s = 0n;
              for (let q = 0; q < P; q++) s += cre[hh * P + q] * readRe[q] - cim[hh * P + q] * readIm[q];
              const yh = clip.sat(rq(clip.sat(rs(s, pre), 32, "ssmSum32"), cm[hh], cs[hh], clip) + skip[hh], 32, "ssmY32");
              y[hh] = clip.sat(rs(yh, fx.accFrac - fx.outFrac), 16, "out16");
            }
            break;
          }
          case "Dense": {
            const v = deliver(k, p, { x: ints(p.tensors.bias, "bias") }).x;
            const down = fx.accFrac - fx.outFrac;
            switch (p.activation) {
              case "linear": y = v.map((a) => clip.sat(rs(a, down), 16, "out16")); break;
              case "relu": y = v.map((a) => (a > 0n ? clip.sat(rs(a, down), 16, "out16") : 0n)); break;
              case "sigmoid": { const l = lutNamed(p, "sigmoid"); y = v.map((a) => lut(l, a, clip)); break; }
              case "tanh": { const l = lutNamed(p, "tanh"); y = v.map((a) => lut(l, a, clip)); break; }
              case "gelu": {
                const l = lutNamed(p, "phi");
                y = v.map((a) => clip.sat(rs(rs(a * lut(l, a, clip), 14), down), 16, "out16"));
                break;
              }
              case "gelu_new":
              case "swish": {
                const l = lutNamed(p, p.activation === "swish" ? "sigmoid" : "phi_tanh");
                y = v.map((a) => clip.sat(rs(rs(a * lut(l, a, clip), 14), down), 16, "out16"));
                break;
              }
              case "softplus": { // relu(v) + L(−|v|), L from Q14 to acc_frac
                const l = lutNamed(p, "softplus"), up = fx.accFrac - 14;
                const inAcc = (q: bigint) => (up >= 0 ? q << BigInt(up) : rs(q, -up));
                y = v.map((a) => clip.sat(rs((a > 0n ? a : 0n) + inAcc(lut(l, a < 0n ? a : -a, clip)), down), 16, "out16"));
                break;
              }
              default: throw new Error(`activation ${p.activation} has no quantized form`);
            }
            break;
          }
          case "Multiply": {
            // a' = sat16(rs(a, acc_frac − frac_a)), b' likewise; out = sat16(rs(a' · b', frac_a + frac_b − out_frac)).
            const ports = deliver(k, p, {});
            const fa = Number(ints(p.tensors.frac_a, "frac_a")[0]), fb = Number(ints(p.tensors.frac_b, "frac_b")[0]);
            y = ports.a.map((a, i) => {
              const x = clip.sat(rs(a, fx.accFrac - fa), 16, "operand16");
              const z = clip.sat(rs(ports.b[i], fx.accFrac - fb), 16, "operand16");
              return clip.sat(rs(x * z, fa + fb - fx.outFrac), 16, "out16");
            });
            break;
          }
          case "LayerNorm": {
            // x' = sat16(rs(x, acc_frac − frac_x)); m = roundDiv(Σx', n); d = x' − m; V = roundDiv(Σd², n) + eps_q;
            // r = roundDiv(2^44, ⌊√(V·2^18)⌋); t = rs(d·r, 21); out = sat16(rs(γ·t, frac_g + 14 − out_frac) + β).
            const x = deliver(k, p, {}).x;
            const fxq = Number(ints(p.tensors.frac_x, "frac_x")[0]), fg = Number(ints(p.tensors.frac_g, "frac_g")[0]);
            const epsQ = ints(p.tensors.eps_q, "eps_q")[0], g = ints(p.tensors.gamma, "gamma"), be = ints(p.tensors.beta, "beta");
            const n = BigInt(p.size);
            const xq = x.map((v) => clip.sat(rs(v, fx.accFrac - fxq), 16, "operand16"));
            const m = roundDivAway(xq.reduce((a, v) => a + v, 0n), n);
            const d = xq.map((v) => v - m);
            const V = roundDivAway(d.reduce((a, v) => a + v * v, 0n), n) + epsQ;
            const r = roundDivAway(TWO(44), isqrtBig(V * TWO(18)));
            y = d.map((di, i) => clip.sat(rs(g[i] * rs(di * r, 21), fg + 14 - fx.outFrac) + be[i], 16, "out16"));
            break;
          }
          case "Readout": {
            const src = current[indexOf.get(p.source)!];
            if (!src) throw new Error(`readout ${p.name} runs before its source`);
            const sum = sums.get(k)!;
            for (let i = 0; i < p.size; i++) sum[i] = p.mode === "last" ? src[i] : clip.sat(sum[i] + src[i], 32, "readout32");
            y = p.mode === "mean" ? sum.map((s) => roundDivAway(s, BigInt(t + 1))) : [...sum];
            break;
          }
        }
        current[k] = y;
        const pc = counters.populations[p.name];
        const row = perTick[p.name];
        for (let i = 0; i < p.size; i++) {
          if (y[i] < -TWO(31) || y[i] >= TWO(31)) throw new Error(`population ${p.name} output ${y[i]} is not an int32`);
          row[(b * T + t) * p.size + i] = Number(y[i]);
          if (y[i] !== 0n) pc.events++;
        }
        pc.unitTicks += p.size;
      });

      const o = indexOf.get(outName)!;
      if (!readoutOut) for (let i = 0; i < K; i++) outputQ[(b * T + t) * K + i] = Number(current[o]![i]);
      else if (t === T - 1) for (let i = 0; i < K; i++) outputQ[b * K + i] = Number(current[o]![i]);
      previous = current.map((v) => v!);
    }
    counters.samples++;
    counters.ticks += T;
  }

  const events: Record<string, number> = {};
  for (const p of pops) events[p.name] = counters.populations[p.name].events;
  return {
    outputQ, outputShape: readoutOut ? [B, K] : [B, T, K], outFrac: outPop.fixed!.outFrac, perTick, events, counters,
    clips: clip.counts,
  };
}
