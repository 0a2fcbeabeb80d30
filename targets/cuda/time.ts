// The C helpers of a timed program (plan.ts CudaPlan.time: golden's multi-rate loop, runtime/golden/interpreter.ts
// runMultiRate), appended after the prelude only when the model needs them, so that the sources of other models
// stay as they were. The input file of a timed program carries, per tick, two channels after the model's own:
// Δt in quanta of 2^−dt_frac (runtime/golden quantizeTime: round(Δt·2^dt_frac), ties away, saturated at 2^28 − 1;
// 0 without event time) and the sequence's length (every tick the same).
export function renderTimeCuda(int = true): string {
  if (!int) return FLOAT_TIME;
  return `// ---- timed programs (multi-rate, event time): runtime/golden/interpreter.ts runMultiRate ----
// A population of rate R steps at the ticks t with (t + 1) % R == 0. time[2b] = its group's Δt, the exact sum of
// the quanta of ticks t + 1 - R ... t; time[2b + 1] = its valid steps, floor(length / R). Channels c0 (Δt) and
// c0 + 1 (length) of the chunk's input [nb, T, stride]. One thread per sequence.
__global__ void nmc_group_time(const int32_t* x, long long T, long long t, int R, long long stride, long long c0, nmc_i64* time) {
  const int b = blockIdx.y;
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  const int32_t* xb = x + (long long)b * T * stride;
  nmc_i64 dt = 0;
  for (long long u = t + 1 - R; u <= t; ++u) dt += xb[u * stride + c0];
  time[2 * b] = dt;
  time[2 * b + 1] = (nmc_i64)xb[c0 + 1] / R;
}
`;
}

/**
 * The float variant's group time (runtime/float/interpreter.ts runMultiRate): Δt in ms summed over the group's ticks
 * in order (a double, as the float engine sums it), and the valid steps floor(length / R); the input carries Δt
 * and the length as doubles.
 */
const FLOAT_TIME = `// ---- timed programs, float variant (multi-rate, event time): runtime/float/interpreter.ts runMultiRate ----
// A population of rate R steps at the ticks t with (t + 1) % R == 0. time[2b] = its group's Δt (ms), the sum of
// ticks t + 1 - R ... t in order; time[2b + 1] = its valid steps, floor(length / R). Channels c0 (Δt) and c0 + 1
// (length) of the chunk's input [nb, T, stride]. One thread per sequence.
__global__ void nmc_group_time(const double* x, long long T, long long t, int R, long long stride, long long c0, double* time) {
  const int b = blockIdx.y;
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  const double* xb = x + (long long)b * T * stride;
  double dt = 0;
  for (long long u = t + 1 - R; u <= t; ++u) dt += xb[u * stride + c0];
  time[2 * b] = dt;
  time[2 * b + 1] = floor(xb[c0 + 1] / R);
}
`;
