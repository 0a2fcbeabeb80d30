// The pruning schedule and the magnitude masks of `nmc tune` (compiler/tune/tune.ts): plain numbers, no
// TensorFlow.js, so they are tested on their own.
//
// Schedule: the gradual pruning schedule of Zhu & Gupta ("To prune, or not to prune", arXiv 1710.01878, eq. 1),
// which the EGRU sparsity work (Mukherji et al. 2023, arXiv 2311.07625) uses:
//
//   s_t = s_f + (s_i − s_f) · (1 − (t − t_0) / (t_1 − t_0))^3     for t_0 ≤ t ≤ t_1,
//
// s_i before t_0 and s_f from t_1 on, with the masks recomputed every `every` optimizer steps (and at t_1, so
// that the final sparsity is reached there exactly). Sparsity rises fast at first, while the network has
// redundant weights to lose, and slowly near the end; the steps after t_1 fine-tune the final mask.
//
// Masks: magnitude pruning as compiler/passes/prune.ts does it (the same tie-break: smaller magnitude first,
// then storage order), either per weight tensor ("projection": each reaches s_t) or with one threshold over all
// of them ("global"). Zeros already there count towards the target. Entries of a group (a DiagonalSSM's B_re and
// B_im, which the discretization mixes) are pruned together, by the L2 norm of the pair.
import { NmcError } from "../../ir/errors.js";

export interface PruneSchedule {
  /** s_i: sparsity before the ramp (default 0). */
  initialSparsity: number;
  /** s_f: the target. */
  finalSparsity: number;
  /** t_0: the optimizer step at which the ramp starts. */
  startStep: number;
  /** t_1: the step at which s_f is reached (≥ startStep). */
  endStep: number;
  /** Masks are recomputed every this many steps (≥ 1). */
  every: number;
}

/** s_t of the schedule at optimizer step t. */
export function sparsityAt(s: PruneSchedule, step: number): number {
  if (step <= s.startStep) return step === s.endStep ? s.finalSparsity : s.initialSparsity;
  if (step >= s.endStep) return s.finalSparsity;
  const f = 1 - (step - s.startStep) / (s.endStep - s.startStep);
  return s.finalSparsity + (s.initialSparsity - s.finalSparsity) * f * f * f;
}

/** Whether the masks are recomputed before optimizer step t: every `every` steps from t_0 up to t_1, and at t_1. */
export function isMaskStep(s: PruneSchedule, step: number): boolean {
  if (step < s.startStep || step > s.endStep) return false;
  return step === s.endStep || (step - s.startStep) % s.every === 0;
}

/** Checks a schedule (an NmcError naming the field). */
export function checkSchedule(s: PruneSchedule): void {
  const bad = (field: string, expected: string, v: number) => {
    throw new NmcError(`invalid pruning schedule: ${field}`, { expected, found: String(v) });
  };
  if (!(s.finalSparsity >= 0 && s.finalSparsity < 1)) bad("final sparsity", "0 ≤ s_f < 1", s.finalSparsity);
  if (!(s.initialSparsity >= 0 && s.initialSparsity <= s.finalSparsity)) bad("initial sparsity", `0 ≤ s_i ≤ s_f = ${s.finalSparsity}`, s.initialSparsity);
  if (!(Number.isInteger(s.startStep) && s.startStep >= 0)) bad("start step", "an integer ≥ 0", s.startStep);
  if (!(Number.isInteger(s.endStep) && s.endStep >= s.startStep)) bad("end step", `an integer ≥ the start step ${s.startStep}`, s.endStep);
  if (!(Number.isInteger(s.every) && s.every >= 1)) bad("mask interval", "an integer ≥ 1", s.every);
}

/** A prunable weight: its magnitudes (one per mask entry) and how many weights an entry stands for. */
export interface MaskInput {
  name: string;
  /** |w| per entry (for a group, the L2 norm over its members). */
  magnitude: ArrayLike<number>;
}

export type PruneScope = "projection" | "global";

/** Entries to drop so that `count` entries reach sparsity s (at least the zeros there already). */
function dropCount(s: number, count: number): number {
  return Math.min(count, Math.ceil(s * count - 1e-9));
}

/**
 * Masks (1 keep, 0 prune) reaching sparsity `s`: per weight ("projection") or with one magnitude threshold
 * over all ("global"). The smallest magnitudes go first; ties by storage order (weight order, then index).
 */
export function magnitudeMasks(inputs: readonly MaskInput[], s: number, scope: PruneScope): Uint8Array[] {
  if (!(s >= 0 && s < 1)) throw new NmcError("weight sparsity must be in [0, 1)", { expected: "0 ≤ S < 1", found: String(s) });
  const masks = inputs.map((w) => new Uint8Array(w.magnitude.length).fill(1));
  const order = (mag: ArrayLike<number>) => {
    const idx = new Uint32Array(mag.length);
    for (let i = 0; i < idx.length; i++) idx[i] = i;
    return Array.from(idx).sort((a, b) => mag[a]! - mag[b]! || a - b);
  };
  if (scope === "projection") {
    inputs.forEach((w, j) => {
      const drop = dropCount(s, w.magnitude.length);
      const o = order(w.magnitude);
      for (let k = 0; k < drop; k++) masks[j]![o[k]!] = 0;
    });
    return masks;
  }
  const all: { mag: number; w: number; i: number }[] = [];
  inputs.forEach((w, j) => {
    for (let i = 0; i < w.magnitude.length; i++) all.push({ mag: w.magnitude[i]!, w: j, i });
  });
  all.sort((a, b) => a.mag - b.mag || a.w - b.w || a.i - b.i);
  const drop = dropCount(s, all.length);
  for (let k = 0; k < drop; k++) masks[all[k]!.w]![all[k]!.i] = 0;
  return masks;
}

/** Fraction of zeros in a mask. */
export function maskSparsity(m: Uint8Array): number {
  if (m.length === 0) return 0;
  let z = 0;
  for (let i = 0; i < m.length; i++) if (m[i] === 0) z++;
  return z / m.length;
}

/** A cosine from `lr` to `lrFinal` over `steps` steps (the learning rate of step t, 0-based). */
export function cosineRate(lr: number, lrFinal: number, step: number, steps: number): number {
  if (steps <= 1) return lr;
  const f = Math.min(1, step / (steps - 1));
  return lrFinal + 0.5 * (lr - lrFinal) * (1 + Math.cos(Math.PI * f));
}
