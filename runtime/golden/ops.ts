// The golden kernel table: per population kind, the state vectors a range of its units keeps, the tensor
// and the unit update of a contiguous unit range [lo, lo + n) from its local ports.
// The golden engine binds one range per population (the whole of it), the SpiNNaker 2 simulator one per PE
// slice, so both run the very same kernels (kernels.ts) with the same lookup tables (ir/kinds.ts chooses a
// Dense activation's table; this is the one place an engine looks it up).
//
// A kernel is bound once, when an engine is built, to the arrays it works on: an update is one call per
// range per tick, and its inner loops are the kernels' typed-array loops, unchanged.
import { activationLut, type PopOf } from "../../ir/kinds.js";
import { NmcError } from "../../ir/errors.js";
import type { Lut, Population, PopulationKind } from "../../ir/types.js";
import { zoneoutQ15 } from "../fixed/index.js";
import {
  denseUnits, egruArenaBytes, egruUnits, egruUnitsWasm, ssmArenaBytes, ssmOutputsWasm, layerNormApply, layerNormPartial, layerNormStats, layerNormUnits, multiplyUnits, readoutUnits, ssmOutputs, ssmStates,
} from "./kernels.js";
import { eventPoolUnits, eventSsmOutputs, eventSsmStates, maskedReadoutUnits, type EventSsmConsts } from "./event-kernels.js";
import { NO_COUNTS } from "./saturation.js";
import type { UnitArena } from "../wasm/index.js";

const ONE_Q14 = 1 << 14;

/**
 * The arrays a bound update reads and writes. Ports are local: an EGRU range of n units holds each port as
 * [z (n), r (n), g (n)], a DiagonalSSM range its `u` whole (2P) and `skip` for its n units (kernels.ts).
 */
export interface UnitRange {
  /** The first unit and the number of units. */
  lo: number;
  n: number;
  /** The local ports, in the population's port order. */
  ports: Float64Array[];
  /** The state vectors GoldenOp.state made for this range. */
  state: Int32Array[];
  /** The range's outputs (n). */
  out: Int32Array;
  /** Raw sums of int16 weights are rounding-shifted by weight_bits − 8 (GoldenEngine.pre). */
  pre: number;
  /** Readout: its source's outputs over the same range. */
  source?: Int32Array;
  /**
   * Event time: written by the engine before each step, [Δt of the step in quanta (summed over the rate's
   * group), the sequence's valid steps at this population's rate (floor(length / rate))].
   */
  time?: Float64Array;
  /** The engine's WebAssembly arena (runtime/wasm), where the range's ports, state and out lie in it; absent: TypeScript kernels. */
  wasm?: UnitArena;
  /**
   * The population's saturation counters (saturation.ts), shared by all its ranges; absent: not counted.
   * Work every range repeats (a DiagonalSSM's state) is counted by the range at unit 0 only.
   */
  sat?: Float64Array;
}

/**
 * One step of a bound range: step t (0-based) of the population in the sequence (the tick, at rate 1); x and xOff are the quantized model inputs and
 * this tick's offset in them (read by an Input only, which the host runs).
 */
export type UnitUpdate = (t: number, x: Int32Array, xOff: number) => void;

export interface GoldenOp<K extends PopulationKind> {
  /**
   * The state vectors a range of n units keeps (zeroed at the start of every sequence). A kind with a
   * WebAssembly kernel allocates them with `alloc` where given (the engine's arena, runtime/wasm).
   */
  state(p: PopOf<K>, n: number, alloc?: (length: number) => Int32Array): Int32Array[];
  /** The arena bytes `bind` allocates for a range of n units when it runs a WebAssembly kernel (UnitRange.wasm), besides its state. */
  arenaBytes?(p: PopOf<K>, n: number): number;
  /** The update of the units [r.lo, r.lo + r.n), bound to r's arrays. */
  bind(p: PopOf<K>, r: UnitRange): UnitUpdate;
  /**
   * Only for a kind whose update reads sums over all its units (LayerNorm): the update of a proper slice of
   * the population, in two halves around an exchange of the slices' exact partial sums (the SpiNNaker 2
   * simulator's split population). Its outputs equal those of `bind` on the whole population, bit for bit.
   */
  bindSplit?(p: PopOf<K>, r: UnitRange): SplitUpdate;
}

/** One slice's update of a population split around a reduction (GoldenOp.bindSplit). */
export interface SplitUpdate {
  /** This slice's partial sums, written by `partial` (exact integers). */
  readonly sums: Float64Array;
  /** Pass 1: the slice's own work before the exchange; fills `sums`. */
  partial(): void;
  /** Pass 2: the units' outputs, from the sums over all slices (element-wise sums of every slice's `sums`). */
  finish(totals: Float64Array): void;
}

function lutNamed(p: Population, name: string): Lut {
  const l = p.luts?.find((x) => x.name === name);
  if (!l) throw new NmcError(`population ${p.name} lacks lookup table ${name}`, { node: p.name });
  return l;
}

const portOf = (p: Population, r: UnitRange, name: string): Float64Array => r.ports[p.ports.findIndex((q) => q.name === name)];

export const GOLDEN_OPS: { [K in PopulationKind]: GoldenOp<K> } = {
  // The host's: the quantized inputs as the population's output (a token as a one-hot Q14 vector).
  Input: {
    state: () => [],
    bind: (p, r) => {
      const out = r.out, n = r.n;
      if (p.encoding === "tokens") {
        // A negative id reaches here only for a wrapping input (wrapTokens): −k selects unit V − k.
        return (_t, x, xOff) => {
          out.fill(0);
          const id = x[xOff];
          out[id < 0 ? n + id : id] = ONE_Q14;
        };
      }
      return (_t, x, xOff) => {
        for (let i = 0; i < n; i++) out[i] = x[xOff + i];
      };
    },
  },
  // State: h (Q14). Ports input and recurrent, biased by bias_x and bias_h. Zoneout p as the Q15 constant p_q.
  EGRU: {
    state: (_p, n, alloc = (k) => new Int32Array(k)) => [alloc(n)],
    arenaBytes: (p, n) => egruArenaBytes(n, lutNamed(p, "sigmoid"), lutNamed(p, "tanh")),
    bind: (p, r) => {
      const n = r.n, vx = portOf(p, r, "input"), vh = portOf(p, r, "recurrent");
      const sig = lutNamed(p, "sigmoid"), tanh = lutNamed(p, "tanh");
      const thr = p.tensors.thr.data.subarray(r.lo, r.lo + n), h = r.state[0], out = r.out;
      const pq = zoneoutQ15(p.zoneout ?? 0), sc = r.sat ?? NO_COUNTS;
      const k = r.wasm ? egruUnitsWasm(r.wasm, n, vx, vh, sig, tanh, thr, h, out, pq, sc) : null;
      if (k) return k; // itself: the simulator may run several ranges' updates as one call (kernels.ts egruManyWasm)
      return () => {
        egruUnits(n, vx, vh, sig, tanh, thr, h, out, pq, sc);
      };
    },
  },
  // State: x (re, im; state_bits) and its 16-bit read copy (re, im), all P states on every range.
  DiagonalSSM: {
    state: (p, _n, alloc = (k) => new Int32Array(k)) => [alloc(p.stateSize), alloc(p.stateSize), alloc(p.stateSize), alloc(p.stateSize)],
    arenaBytes: (p, n) => (p.discretization !== undefined ? 0 : ssmArenaBytes(n, p.stateSize)),
    bind: (p, r) => {
      if (p.discretization !== undefined) return bindEventSsm(p, r);
      const n = r.n, lo = r.lo, P = p.stateSize, fx = p.fixed!, tn = p.tensors, pre = r.pre;
      const [xr, xi, rr, ri] = r.state;
      const u = portOf(p, r, "u"), skip = portOf(p, r, "skip"), out = r.out, down = fx.accFrac - fx.outFrac;
      const sc = r.sat ?? NO_COUNTS, stateSc = lo === 0 ? sc : NO_COUNTS; // every range updates the whole state
      const k = r.wasm ? ssmOutputsWasm(r.wasm, n, lo, P, tn.c_re.data, tn.c_im.data, rr, ri, tn.c_mult.data, tn.c_shift.data, skip, pre, down, out, sc) : null;
      return () => {
        ssmStates(P, fx.stateBits, xr, xi, rr, ri, tn.lambda_re.data, tn.lambda_im.data, u, stateSc);
        if (k) k();
        else ssmOutputs(n, lo, P, tn.c_re.data, tn.c_im.data, rr, ri, tn.c_mult.data, tn.c_shift.data, skip, pre, down, out, sc);
      };
    },
  },
  // Port x, biased by bias; the activation's table is ir/kinds.ts's choice.
  Dense: {
    state: () => [],
    bind: (p, r) => {
      const act = p.activation;
      if (act === "softmax") {
        return () => {
          throw new NmcError(`population ${p.name}: softmax has no quantized form`, { node: p.name });
        };
      }
      const n = r.n, x = portOf(p, r, "x"), out = r.out, fx = p.fixed!, down = fx.accFrac - fx.outFrac;
      const name = activationLut(act);
      const lut = name ? p.luts?.find((l) => l.name === name) : undefined, sc = r.sat ?? NO_COUNTS;
      return () => {
        denseUnits(act, n, x, lut, down, out, sc);
      };
    },
  },
  // State: the running int32 sum; reads its source's outputs over the same range (no ports).
  Readout: {
    state: (_p, n) => [new Int32Array(n)],
    bind: (p, r) => {
      const mode = p.mode, n = r.n, src = r.source!, sum = r.state[0], out = r.out, sc = r.sat ?? NO_COUNTS;
      if (mode === "pool" || mode === "timepool") {
        const time = r.time!, wide = new Float64Array(n), total = new Float64Array(1);
        const epsQ = mode === "timepool" ? Number(p.tensors.eps_q.data[0]) : 0;
        return (t) => {
          maskedReadoutUnits(mode, n, src, wide, total, out, t, time[1], time[0], epsQ, sc);
        };
      }
      return (t) => {
        readoutUnits(mode, n, src, sum, out, t, sc);
      };
    },
  },
  // Ports a and b (no bias); the operand formats frac_a, frac_b are one-element tensors.
  Multiply: {
    state: () => [],
    bind: (p, r) => {
      const n = r.n, a = portOf(p, r, "a"), b = portOf(p, r, "b"), out = r.out, fx = p.fixed!;
      const fa = p.tensors.frac_a.data[0], fb = p.tensors.frac_b.data[0];
      const sa = fx.accFrac - fa, sb = fx.accFrac - fb, so = fa + fb - fx.outFrac, sc = r.sat ?? NO_COUNTS;
      return () => {
        multiplyUnits(n, a, b, sa, sb, so, out, sc);
      };
    },
  },
  // Port x (no bias); needs every unit of a tick: `bind` takes the whole population only, `bindSplit` a slice
  // of it whose mean and variance come from the partial sums [Σx', Σx'²] of all slices. Its scratch (x as int16)
  // is rewritten every tick, so it keeps no state.
  LayerNorm: {
    state: () => [],
    bind: (p, r) => {
      if (r.lo !== 0 || r.n !== p.size) {
        throw new NmcError(`LayerNorm ${p.name} must run whole (units 0..${p.size}), was given units ${r.lo}..${r.lo + r.n}`, { node: p.name });
      }
      const n = r.n, x = portOf(p, r, "x"), out = r.out, fx = p.fixed!;
      const fxq = p.tensors.frac_x.data[0], fg = p.tensors.frac_g.data[0], epsQ = p.tensors.eps_q.data[0];
      const gamma = p.tensors.gamma.data, beta = p.tensors.beta.data;
      const sx = fx.accFrac - fxq, so = fg + 14 - fx.outFrac;
      const xq = new Float64Array(n), sc = r.sat ?? NO_COUNTS;
      return () => {
        layerNormUnits(n, x, sx, gamma as ArrayLike<number>, beta as ArrayLike<number>, epsQ, so, xq, out, sc);
      };
    },
    bindSplit: (p, r) => {
      const n = r.n, lo = r.lo, x = portOf(p, r, "x"), out = r.out, fx = p.fixed!;
      const fxq = p.tensors.frac_x.data[0], fg = p.tensors.frac_g.data[0], epsQ = p.tensors.eps_q.data[0];
      const gamma = p.tensors.gamma.data as ArrayLike<number>, beta = p.tensors.beta.data as ArrayLike<number>;
      const sx = fx.accFrac - fxq, so = fg + 14 - fx.outFrac;
      const xq = new Float64Array(n), sums = new Float64Array(2), stats = new Float64Array(2), sc = r.sat ?? NO_COUNTS;
      return {
        sums,
        partial: () => layerNormPartial(n, x, sx, xq, sums, sc),
        finish: (totals) => {
          layerNormStats(p.size, totals[0], totals[1], epsQ, stats);
          layerNormApply(n, lo, xq, stats[0], stats[1], gamma, beta, so, out, sc);
        },
      };
    },
  },
  // Port x (no bias); emits at the last step of each group of `stride` (event-kernels.ts eventPoolUnits).
  EventPooling: {
    state: () => [],
    bind: (p, r) => {
      const n = r.n, x = portOf(p, r, "x"), out = r.out, fx = p.fixed!, down = fx.accFrac - fx.outFrac, k = p.stride;
      const acc = new Float64Array(n), wsum = new Float64Array(1), sc = r.sat ?? NO_COUNTS, time = r.time;
      const epsQ = p.mode === "timepool" ? Number(p.tensors.eps_q.data[0]) : 0;
      return (t) => {
        eventPoolUnits(p.mode, k, n, x, down, t % k, p.mode === "timepool" ? time![0] + epsQ : 1, acc, wsum, out, sc);
      };
    },
  },
};

/** The integer constants of an event-time DiagonalSSM (its quantized tensors, formats.ts eventSsmTensors). */
export function eventSsmConsts(p: PopOf<"DiagonalSSM">): EventSsmConsts {
  const t = p.tensors, fx = p.fixed!, disc = p.discretization!;
  const one = (name: string) => Number(t[name].data[0]);
  const gFrac = one("g_frac"), uFrac = one("u_frac");
  return {
    disc, am: t.alpha_m.data, as: t.alpha_s.data, bm: t.beta_m.data, bs: t.beta_s.data,
    gr: t.gamma_re.data, gi: t.gamma_im.data, ks: disc === "zoh" ? t.kappa_s.data : t.gamma_re.data, gFrac,
    uDown: fx.accFrac - uFrac, gShift: gFrac + uFrac - fx.stateFrac,
  };
}

/** An event-time DiagonalSSM range: per-event Λ̄ and γ (event-kernels.ts), the group's latched C x and pooled skip. */
function bindEventSsm(p: PopOf<"DiagonalSSM">, r: UnitRange): UnitUpdate {
  const n = r.n, lo = r.lo, P = p.stateSize, fx = p.fixed!, tn = p.tensors, pre = r.pre, k = p.stride ?? 1, mode = p.pool ?? "last";
  const [xr, xi, rr, ri] = r.state;
  const u = portOf(p, r, "u"), skip = portOf(p, r, "skip"), out = r.out, down = fx.accFrac - fx.outFrac;
  const sc = r.sat ?? NO_COUNTS, stateSc = lo === 0 ? sc : NO_COUNTS, time = r.time!;
  const c = eventSsmConsts(p), epsQ = mode === "timepool" && k > 1 ? Number(tn.eps_q.data[0]) : 0;
  const latch = new Float64Array(n), pooled = new Float64Array(n), wsum = new Float64Array(1);
  return (t) => {
    eventSsmStates(P, fx.stateBits, xr, xi, rr, ri, time[0], c, u, stateSc);
    eventSsmOutputs(n, lo, P, tn.c_re.data, tn.c_im.data, rr, ri, tn.c_mult.data, tn.c_shift.data, skip, pre, down, k, t % k, mode, time[0] + epsQ,
      latch, pooled, wsum, out, sc);
  };
}

/** A population's row of GOLDEN_OPS, typed for any population. */
export function goldenOp(p: Population): GoldenOp<PopulationKind> {
  return GOLDEN_OPS[p.kind] as unknown as GoldenOp<PopulationKind>;
}
