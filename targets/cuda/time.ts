// The C helpers of a timed program (plan.ts CudaPlan.time: golden's multi-rate loop, runtime/golden/interpreter.ts
// runMultiRate), appended after the prelude only when the model needs them, so that the sources of other models
// stay as they were. The input file of a timed program carries, per tick, two channels after the model's own: Δt
// (int: in quanta of 2^−dt_frac, runtime/golden quantizeTime: round(Δt·2^dt_frac), ties away, saturated at
// 2^28 − 1; float: in ms, as the float engine reads it; 0 without event time) and the sequence's length (every
// tick the same). The float variant sums a group's Δt in double in tick order, as runtime/float/interpreter.ts does.
export function renderTimeCuda(int = true): string {
  const [X, V] = int ? ["int32_t", "nmc_i64"] : ["double", "double"];
  const valid = int ? "(nmc_i64)xb[c0 + 1] / R" : "floor(xb[c0 + 1] / R)";
  const head = int
    ? "// ---- timed programs (multi-rate, event time): runtime/golden/interpreter.ts runMultiRate ----\n// A population of rate R steps at the ticks t with (t + 1) % R == 0. time[2b] = its group's Δt, the exact sum of\n// the quanta of ticks t + 1 - R ... t;"
    : "// ---- timed programs, float variant (multi-rate, event time): runtime/float/interpreter.ts runMultiRate ----\n// A population of rate R steps at the ticks t with (t + 1) % R == 0. time[2b] = its group's Δt (ms), the sum of\n// ticks t + 1 - R ... t in order;";
  return `${head} time[2b + 1] = its valid steps, floor(length / R). Channels c0 (Δt) and
// c0 + 1 (length) of the chunk's input [nb, T, stride]. One thread per sequence.
__global__ void nmc_group_time(const ${X}* x, long long T, long long t, int R, long long stride, long long c0, ${V}* time) {
  const int b = blockIdx.y;
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  const ${X}* xb = x + (long long)b * T * stride;
  ${V} dt = 0;
  for (long long u = t + 1 - R; u <= t; ++u) dt += xb[u * stride + c0];
  time[2 * b] = dt;
  time[2 * b + 1] = ${valid};
}
`;
}
