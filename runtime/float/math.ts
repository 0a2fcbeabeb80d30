// Scalar float functions the model math needs and JavaScript lacks, accurate to double precision.

export function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** erf via its Maclaurin series for |x| < 3 and a continued fraction for erfc beyond (both ~1e-15). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax;
    let sum = ax;
    const x2 = ax * ax;
    for (let n = 1; n < 100; n++) {
      term *= -x2 / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    const r = (2 / Math.sqrt(Math.PI)) * sum;
    return x < 0 ? -r : r;
  }
  // erfc(x) = exp(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated bottom-up.
  let f = ax;
  for (let n = 60; n >= 1; n--) f = ax + n / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}

/** GELU, exact form (as tfjs' `gelu` activation): x·Φ(x). */
export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

/** The tanh approximation of Φ: Φ̃(x) = ½(1 + tanh(√(2/π)(x + 0.044715x³))) (GELU_NEW(x) = x·Φ̃(x)). */
export function phiTanh(x: number): number {
  return 0.5 * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/** GELU, tanh approximation (tfjs' `gelu_new`, Flax's `nn.gelu` by default, PyTorch approximate="tanh"). */
export function geluNew(x: number): number {
  return 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

/** Swish / SiLU (tfjs' `swish`): x·σ(x). */
export function swish(x: number): number {
  return x * sigmoid(x);
}

/** Softplus (tfjs' `softplus`), log(1 + eˣ), as relu(x) + log1p(e^−|x|): no overflow, exact ≈ x for large x. */
export function softplus(x: number): number {
  return (x > 0 ? x : 0) + Math.log1p(Math.exp(-Math.abs(x)));
}
