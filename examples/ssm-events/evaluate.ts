// Scoring shared by train.ts and the example's test, so that both compute the figures in results.json
// the same way, to the bit.

/** Mean over ticks of per-tick scores [N, T, K] (summed in float64, ticks in order): [N, K]. */
export function tickMean(y: ArrayLike<number>, n: number, ticks: number, k: number): Float64Array {
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let t = 0; t < ticks; t++) s += y[(i * ticks + t) * k + j]!;
      out[i * k + j] = s / ticks;
    }
  }
  return out;
}

