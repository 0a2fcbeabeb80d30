// DiagonalSSM (S5 / LRU family, complex diagonal state) as a TensorFlow.js layer.
// The math is `docs/model-math.md`, section DiagonalSSM; complex numbers are carried as separate
// real / imaginary tensors.
//
//   x_k = Λ̄ ⊙ x_{k−1} + B̄ u_k     (x ∈ ℂ^P, x_0 = 0)
//   y_k = Re(C x_k) + D ⊙ u_k       (no factor 2: conjugate symmetry is not assumed)
//
// Layer `DiagonalSSM` — config (snake_case in model.json): state_size P, parameterization "lru" | "s5",
// r_min = 0.9, r_max = 0.999, max_phase = 6.283, step_min = 0.001, step_max = 0.1 (+ optional seed).
// Input [B, T, H] → output [B, T, H].
// Event time (event-ssm's S5SSM, written by `nmc import event-ssm`; docs/model-math.md "Event-time SSMs"):
// discretization "async" | "zoh" | "dirac", conj_sym, clip_eigs, step_rescale, stride, pool, units (H_out; D
// is then [H_out, H_in]). Such a layer reads each event's time step, which a one-input tfjs layer is not
// given: it builds, saves and loads here, and runs in nmc's float engine (call() refuses it).
// Weights — LRU: nu_log, theta_log, gamma_log [P], B_re, B_im [P, H], C_re, C_im [H, P], D [H].
//           S5:  Lambda_re, Lambda_im [P], B_re, B_im [P, H], C_re, C_im [H, P], D [H], log_step [P].

import type * as tfjs from "@tensorflow/tfjs";
import { NmcError } from "../../ir/errors.js";
import { configValue, fnInitializer, type Tf } from "./backend.js";

type Tensor = tfjs.Tensor;

/** The discretized system every parameterization reduces to. */
export interface DiscreteDiagonalSsm {
  lambdaRe: Tensor; // [P]  Re Λ̄
  lambdaIm: Tensor; // [P]  Im Λ̄
  bRe: Tensor; // [P, H]  Re B̄
  bIm: Tensor; // [P, H]  Im B̄
  cRe: Tensor; // [H, P]
  cIm: Tensor; // [H, P]
  d: Tensor; // [H]
}

export interface LruParams {
  nuLog: Tensor;
  thetaLog: Tensor;
  gammaLog: Tensor;
  bRe: Tensor;
  bIm: Tensor;
  cRe: Tensor;
  cIm: Tensor;
  d: Tensor;
}

export interface S5Params {
  lambdaRe: Tensor;
  lambdaIm: Tensor;
  bRe: Tensor;
  bIm: Tensor;
  cRe: Tensor;
  cIm: Tensor;
  d: Tensor;
  logStep: Tensor;
}

/** LRU: Λ̄ = exp(−exp(ν) + i·exp(θ)), B̄ = diag(exp(γ))·(B_re + i·B_im). */
export function discretizeLru(tf: Tf, p: LruParams): DiscreteDiagonalSsm {
  const mod = tf.exp(tf.neg(tf.exp(p.nuLog)));
  const phase = tf.exp(p.thetaLog);
  const gamma = tf.expandDims(tf.exp(p.gammaLog), 1); // [P, 1]
  return {
    lambdaRe: tf.mul(mod, tf.cos(phase)),
    lambdaIm: tf.mul(mod, tf.sin(phase)),
    bRe: tf.mul(gamma, p.bRe),
    bIm: tf.mul(gamma, p.bIm),
    cRe: p.cRe,
    cIm: p.cIm,
    d: p.d,
  };
}

/** S5 (zero-order hold): Δ = exp(log_step), Λ̄ = exp(ΛΔ), B̄ = ((Λ̄ − 1)/Λ) ⊙ B (row p scaled by γ_p). */
export function discretizeS5(tf: Tf, p: S5Params): DiscreteDiagonalSsm {
  const step = tf.exp(p.logStep);
  const mod = tf.exp(tf.mul(p.lambdaRe, step));
  const ang = tf.mul(p.lambdaIm, step);
  const lamRe = tf.mul(mod, tf.cos(ang));
  const lamIm = tf.mul(mod, tf.sin(ang));
  // γ = (Λ̄ − 1) / Λ = ((a + ib)(c − id)) / (c² + d²) with a + ib = Λ̄ − 1, c + id = Λ.
  // Re(Λ̄ − 1) = expm1(Re Λ·Δ)·cos(Im Λ·Δ) − 2 sin²(Im Λ·Δ / 2): written without the subtraction
  // Λ̄ − 1, which in float32 cancels most digits when ΛΔ is small (a step of 1e-3 lost ~1e-5 relative).
  const halfSin = tf.sin(tf.mul(ang, 0.5));
  const a = tf.sub(tf.mul(tf.expm1(tf.mul(p.lambdaRe, step)), tf.cos(ang)), tf.mul(2, tf.square(halfSin)));
  const b = lamIm;
  const c = p.lambdaRe;
  const d = p.lambdaIm;
  const den = tf.add(tf.square(c), tf.square(d));
  const gRe = tf.expandDims(tf.div(tf.add(tf.mul(a, c), tf.mul(b, d)), den), 1); // [P, 1]
  const gIm = tf.expandDims(tf.div(tf.sub(tf.mul(b, c), tf.mul(a, d)), den), 1);
  return {
    lambdaRe: lamRe,
    lambdaIm: lamIm,
    bRe: tf.sub(tf.mul(gRe, p.bRe), tf.mul(gIm, p.bIm)),
    bIm: tf.add(tf.mul(gRe, p.bIm), tf.mul(gIm, p.bRe)),
    cRe: p.cRe,
    cIm: p.cIm,
    d: p.d,
  };
}

/**
 * How the recurrence is evaluated. `auto` (default) picks `sequential` on the pure-JS `cpu` backend (where
 * the O(T log T) element work of the doubling scan costs more than the per-op overhead it saves: measured
 * 3.9 s vs 13.5 s per training step at B=16, T=784, P=H=64) and `parallel` elsewhere (wasm: 1.1 s vs 8.1 s).
 */
export type ScanMode = "auto" | "parallel" | "sequential";

/**
 * Runs the discretized diagonal SSM over u [B, T, H] from zero state; returns y [B, T, H].
 * `parallel` evaluates the linear recurrence with a log2(T)-step doubling scan (x_k += Λ̄^d x_{k−d} for
 * d = 1, 2, 4, …), `sequential` with a step-by-step loop; both are exact up to float rounding (the summation
 * order differs). Plain tf ops, so differentiable.
 */
export function diagonalSsmForward(tf: Tf, u: Tensor, s: DiscreteDiagonalSsm, mode: ScanMode = "auto"): Tensor {
  if (u.rank !== 3) {
    throw new NmcError("DiagonalSSM input must have rank 3", { expected: "[batch, time, features]", found: `[${u.shape}]` });
  }
  const [B, T, H] = u.shape as [number, number, number];
  const P = s.lambdaRe.shape[0]!;
  if (s.bRe.shape[1] !== H) {
    throw new NmcError("DiagonalSSM B shape does not match the input", { expected: `[${P}, ${H}]`, found: `[${s.bRe.shape}]` });
  }
  if (T === 0) return tf.zeros([B, 0, H]);
  const u2 = tf.reshape(u, [B * T, H]);
  // B̄ u_k for every k at once: [B, T, P].
  let xRe = tf.reshape(tf.matMul(u2, s.bRe, false, true), [B, T, P]);
  let xIm = tf.reshape(tf.matMul(u2, s.bIm, false, true), [B, T, P]);

  if (mode === "auto") mode = tf.getBackend() === "cpu" ? "sequential" : "parallel";
  if (mode === "sequential") {
    const bu = tf.unstack(xRe, 1);
    const bv = tf.unstack(xIm, 1);
    let re: Tensor = bu[0]!;
    let im: Tensor = bv[0]!;
    const outRe: Tensor[] = [re];
    const outIm: Tensor[] = [im];
    for (let k = 1; k < T; k++) {
      const nre = tf.add(tf.sub(tf.mul(s.lambdaRe, re), tf.mul(s.lambdaIm, im)), bu[k]!);
      const nim = tf.add(tf.add(tf.mul(s.lambdaRe, im), tf.mul(s.lambdaIm, re)), bv[k]!);
      re = nre;
      im = nim;
      outRe.push(re);
      outIm.push(im);
    }
    xRe = tf.stack(outRe, 1);
    xIm = tf.stack(outIm, 1);
  } else {
    // Doubling (Hillis–Steele) scan for the time-invariant linear recurrence, time-major ([T, B, P]) so that
    // the shifts are contiguous slices and concats.
    let re = tf.transpose(xRe, [1, 0, 2]);
    let im = tf.transpose(xIm, [1, 0, 2]);
    let pRe: Tensor = s.lambdaRe; // Λ̄^d
    let pIm: Tensor = s.lambdaIm;
    for (let dist = 1; dist < T; dist *= 2) {
      const zeros = tf.zeros([dist, B, P]);
      const shift = (v: Tensor) => tf.concat([zeros, tf.slice(v, [0, 0, 0], [T - dist, B, P])], 0);
      const sRe = shift(re);
      const sIm = shift(im);
      const nRe = tf.add(re, tf.sub(tf.mul(pRe, sRe), tf.mul(pIm, sIm)));
      const nIm = tf.add(im, tf.add(tf.mul(pRe, sIm), tf.mul(pIm, sRe)));
      re = nRe;
      im = nIm;
      if (dist * 2 < T) {
        const qRe = tf.sub(tf.mul(pRe, pRe), tf.mul(pIm, pIm));
        const qIm = tf.mul(2, tf.mul(pRe, pIm));
        pRe = qRe;
        pIm = qIm;
      }
    }
    xRe = tf.transpose(re, [1, 0, 2]);
    xIm = tf.transpose(im, [1, 0, 2]);
  }
  // y = Re(C x) + D ⊙ u = x_re C_re^T − x_im C_im^T + D ⊙ u.
  const yRe = tf.sub(
    tf.matMul(tf.reshape(xRe, [B * T, P]), s.cRe, false, true),
    tf.matMul(tf.reshape(xIm, [B * T, P]), s.cIm, false, true),
  );
  return tf.add(tf.reshape(yRe, [B, T, H]), tf.mul(u, s.d));
}

export type Parameterization = "lru" | "s5";

export interface DiagonalSsmLayerArgs {
  stateSize: number;
  parameterization?: Parameterization;
  rMin?: number;
  rMax?: number;
  maxPhase?: number;
  stepMin?: number;
  stepMax?: number;
  seed?: number;
  name?: string;
  inputShape?: (number | null)[];
  batchInputShape?: (number | null)[];
  batchSize?: number;
  trainable?: boolean;
  dtype?: tfjs.DataType;
  [key: string]: unknown;
}

/** Builds the `DiagonalSSM` layer class against a given tf module (see index.ts `makeLayerClasses`). */
export function makeDiagonalSsmClass(tf: Tf) {
  class DiagonalSSM extends tf.layers.Layer {
    static className = "DiagonalSSM";

    readonly stateSize: number;
    readonly parameterization: Parameterization;
    readonly rMin: number;
    readonly rMax: number;
    readonly maxPhase: number;
    readonly stepMin: number;
    readonly stepMax: number;
    readonly seed: number | undefined;
    /** Event time (absent: the fixed-step layer): see the top of this file. */
    readonly event: {
      discretization: string; conjSym?: boolean; clipEigs?: boolean; stepRescale?: number; stride?: number; pool?: string; units?: number;
    } | undefined;
    /** How call() evaluates the recurrence (not serialized; see diagonalSsmForward). */
    scanMode: ScanMode = "auto";

    /** The weights by their model.json names (nu_log, B_re, …), once built. */
    readonly params: Record<string, tfjs.LayerVariable> = {};

    constructor(args: DiagonalSsmLayerArgs) {
      super(args as ConstructorParameters<typeof tf.layers.Layer>[0]);
      const a = args as Record<string, unknown>;
      const node = this.name;
      this.stateSize = configValue<number>(a, "stateSize", "state_size", NaN);
      this.parameterization = configValue<string>(a, "parameterization", "parameterization", "lru") as Parameterization;
      this.rMin = configValue(a, "rMin", "r_min", 0.9);
      this.rMax = configValue(a, "rMax", "r_max", 0.999);
      this.maxPhase = configValue(a, "maxPhase", "max_phase", 6.283);
      this.stepMin = configValue(a, "stepMin", "step_min", 0.001);
      this.stepMax = configValue(a, "stepMax", "step_max", 0.1);
      this.seed = configValue<number | undefined>(a, "seed", "seed", undefined);
      const discretization = configValue<string | undefined>(a, "discretization", "discretization", undefined);
      if (discretization !== undefined) {
        const opt = <T>(camel: string, snake: string) => configValue<T | undefined>(a, camel, snake, undefined);
        this.event = {
          discretization, conjSym: opt("conjSym", "conj_sym"), clipEigs: opt("clipEigs", "clip_eigs"), stepRescale: opt("stepRescale", "step_rescale"),
          stride: opt("stride", "stride"), pool: opt("pool", "pool"), units: opt("units", "units"),
        };
      }
      if (!Number.isInteger(this.stateSize) || this.stateSize <= 0) {
        throw new NmcError("DiagonalSSM state_size must be a positive integer", {
          node,
          path: "config.state_size",
          expected: "a positive integer",
          found: String(a.stateSize ?? a.state_size),
        });
      }
      if (this.parameterization !== "lru" && this.parameterization !== "s5") {
        throw new NmcError("unknown DiagonalSSM parameterization", {
          node,
          path: "config.parameterization",
          expected: '"lru" or "s5"',
          found: JSON.stringify(this.parameterization),
        });
      }
      if (!(this.rMin > 0 && this.rMin <= this.rMax && this.rMax < 1)) {
        throw new NmcError("DiagonalSSM needs 0 < r_min ≤ r_max < 1", {
          node,
          path: "config.r_min",
          expected: "0 < r_min ≤ r_max < 1",
          found: `r_min=${this.rMin}, r_max=${this.rMax}`,
        });
      }
      if (!(this.stepMin > 0 && this.stepMin <= this.stepMax)) {
        throw new NmcError("DiagonalSSM needs 0 < step_min ≤ step_max", {
          node,
          path: "config.step_min",
          expected: "0 < step_min ≤ step_max",
          found: `step_min=${this.stepMin}, step_max=${this.stepMax}`,
        });
      }
      if (!(this.maxPhase > 0)) {
        throw new NmcError("DiagonalSSM max_phase must be > 0", {
          node,
          path: "config.max_phase",
          expected: "> 0",
          found: String(this.maxPhase),
        });
      }
    }

    override build(inputShape: tfjs.Shape | tfjs.Shape[]): void {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfjs.Shape;
      const H = shape[shape.length - 1];
      if (shape.length !== 3 || H == null) {
        throw new NmcError("DiagonalSSM expects input [batch, time, features] with a known feature count", {
          node: this.name,
          expected: "[batch, time, features]",
          found: JSON.stringify(shape),
        });
      }
      const P = this.stateSize;
      const s = this.seed;
      // Event time: C and D map onto H_out = units (D a [H_out, H_in] matrix when the widths differ).
      const Hout = this.event?.units ?? H;
      const sub = (k: number) => (s === undefined ? undefined : s + k);
      const add = (name: string, shp: number[], init: (sh: number[]) => Tensor) => {
        this.params[name] = this.addWeight(name, shp, "float32", fnInitializer(tf, init));
      };
      const normal = (std: number, k: number) => (sh: number[]) => tf.randomNormal(sh, 0, std, "float32", sub(k));

      if (this.parameterization === "lru") {
        // Orvieto et al. 2023: |λ| uniform on the ring r_min ≤ |λ| ≤ r_max (by area), phase uniform in
        // [0, max_phase]; ν_log = log(−log|λ|), θ_log = log(phase), γ_log = log(sqrt(1 − |λ|²)).
        // ν and γ derive from one draw, made lazily (skipped when weights are about to be loaded).
        let ring: { nuLog: Tensor; gammaLog: Tensor } | null = null;
        const getRing = () => {
          if (!ring) {
            ring = tf.tidy(() => {
              const u1 = tf.randomUniform([P], 0, 1, "float32", sub(10));
              const r2 = tf.add(tf.mul(u1, this.rMax * this.rMax - this.rMin * this.rMin), this.rMin * this.rMin);
              const nuLog = tf.log(tf.mul(-0.5, tf.log(r2))); // |λ| = sqrt(r2) = exp(−exp(ν))
              const gammaLog = tf.log(tf.sqrt(tf.sub(1, r2)));
              return { nuLog, gammaLog };
            });
          }
          return ring;
        };
        add("nu_log", [P], () => getRing().nuLog.clone());
        add("theta_log", [P], (sh) =>
          tf.tidy(() => tf.log(tf.mul(this.maxPhase, tf.randomUniform(sh, 1e-4, 1, "float32", sub(11))))),
        );
        add("gamma_log", [P], () => getRing().gammaLog.clone());
        add("B_re", [P, H], normal(1 / Math.sqrt(2 * H), 12));
        add("B_im", [P, H], normal(1 / Math.sqrt(2 * H), 13));
        add("C_re", [H, P], normal(1 / Math.sqrt(P), 14));
        add("C_im", [H, P], normal(1 / Math.sqrt(P), 15));
        add("D", [H], normal(1, 16));
        if (ring) {
          const r = ring as { nuLog: Tensor; gammaLog: Tensor };
          r.nuLog.dispose();
          r.gammaLog.dispose();
        }
      } else {
        // S5-style: Re λ = −0.5, Im λ = π n (the HiPPO-N eigenvalue pattern), log Δ uniform in
        // [log step_min, log step_max]; B, C Gaussian as for the LRU.
        add("Lambda_re", [P], (sh) => tf.fill(sh, -0.5));
        add("Lambda_im", [P], (sh) => tf.mul(Math.PI, tf.range(0, sh[0]!, 1, "float32")));
        add("B_re", [P, H], normal(1 / Math.sqrt(2 * H), 12));
        add("B_im", [P, H], normal(1 / Math.sqrt(2 * H), 13));
        add("C_re", [Hout, P], normal(1 / Math.sqrt(P), 14));
        add("C_im", [Hout, P], normal(1 / Math.sqrt(P), 15));
        add("D", Hout === H ? [H] : [Hout, H], normal(1, 16));
        add("log_step", [P], (sh) =>
          tf.randomUniform(sh, Math.log(this.stepMin), Math.log(this.stepMax), "float32", sub(17)),
        );
      }
      this.built = true;
    }

    override computeOutputShape(inputShape: tfjs.Shape | tfjs.Shape[]): tfjs.Shape {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tfjs.Shape;
      if (!this.event) return [...shape];
      const T = shape[1], k = this.event.stride ?? 1;
      return [shape[0], T == null ? null : Math.floor(T / k), this.event.units ?? shape[2]];
    }

    private p(name: string): Tensor {
      const v = this.params[name];
      if (!v) throw new Error(`DiagonalSSM layer '${this.name}' is used before it is built`);
      return v.read();
    }

    /** Λ̄, B̄, C, D from the current weights (caller disposes; wrap in tf.tidy). */
    discretize(): DiscreteDiagonalSsm {
      if (this.parameterization === "lru") {
        return discretizeLru(tf, {
          nuLog: this.p("nu_log"),
          thetaLog: this.p("theta_log"),
          gammaLog: this.p("gamma_log"),
          bRe: this.p("B_re"),
          bIm: this.p("B_im"),
          cRe: this.p("C_re"),
          cIm: this.p("C_im"),
          d: this.p("D"),
        });
      }
      return discretizeS5(tf, {
        lambdaRe: this.p("Lambda_re"),
        lambdaIm: this.p("Lambda_im"),
        bRe: this.p("B_re"),
        bIm: this.p("B_im"),
        cRe: this.p("C_re"),
        cIm: this.p("C_im"),
        d: this.p("D"),
        logStep: this.p("log_step"),
      });
    }

    override call(inputs: Tensor | Tensor[], _kwargs: Record<string, unknown>): Tensor {
      if (this.event) {
        throw new NmcError(`DiagonalSSM ${this.name} runs in event time (discretization ${this.event.discretization}): it reads each event's time step, which a tfjs layer is not given`, {
          node: this.name, hint: "run the model with nmc's float engine: nmc run model.json --input events.npz",
        });
      }
      const u = Array.isArray(inputs) ? inputs[0]! : inputs;
      return tf.tidy(() => diagonalSsmForward(tf, u, this.discretize(), this.scanMode));
    }

    override getConfig(): tfjs.serialization.ConfigDict {
      const config: tfjs.serialization.ConfigDict = {
        stateSize: this.stateSize,
        parameterization: this.parameterization,
        rMin: this.rMin,
        rMax: this.rMax,
        maxPhase: this.maxPhase,
        stepMin: this.stepMin,
        stepMax: this.stepMax,
      };
      if (this.seed !== undefined) config.seed = this.seed;
      if (this.event) {
        const e = this.event;
        config.discretization = e.discretization;
        for (const [k, v] of [["conjSym", e.conjSym], ["clipEigs", e.clipEigs], ["stepRescale", e.stepRescale], ["stride", e.stride], ["pool", e.pool], ["units", e.units]] as const) {
          if (v !== undefined) config[k] = v;
        }
      }
      return { ...super.getConfig(), ...config };
    }
  }
  return DiagonalSSM;
}

export type DiagonalSsmClass = ReturnType<typeof makeDiagonalSsmClass>;
export type DiagonalSsmLayer = InstanceType<DiagonalSsmClass>;
