// Classification metrics shared by `nmc run --labels`, the example training scripts and their tests, so
// "accuracy" means the same thing everywhere: argmax of the scores (first maximum on ties) equals the label.

/** Row-wise argmax of [N, K] scores; the first maximum wins a tie. */
export function argmaxRows(scores: ArrayLike<number>, n: number, k: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (scores[i * k + j] > scores[i * k + best]) best = j;
    out[i] = best;
  }
  return out;
}

/** Number of positions where `a` and `b` agree (over the first n). */
export function countEqual(a: ArrayLike<number>, b: ArrayLike<number>, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (a[i] === b[i]) ok++;
  return ok;
}
