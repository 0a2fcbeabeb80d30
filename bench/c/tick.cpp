// The whole-tick C baseline of `npm run bench` (bench/c-tick.ts): a quantized model run in C++ with the golden
// engine's integer arithmetic (runtime/golden, runtime/fixed/QUANTIZATION.md), every tick of every sample: the
// ports loaded with their biases, each incoming projection's non-zero source rows added into column sums (in the
// engine's form: int32 sums over dense int8 rows for "dense32", int64 over the CSR row otherwise), each non-zero
// column requantized into its port, the ports saturated, the units updated, the events and clamps counted. The
// program writes the output integers, which the benchmark checks equal the golden engine's: the same work as
// golden, so golden ÷ this says how far nmc is from what -O3 C++ does with the whole model on this machine
// (bench/c/accumulate.cpp times the row accumulation alone).
//
// Kinds: Input (values), EGRU (no zoneout), Dense (linear, relu), Readout (last, mean, sum); every population steps
// every tick. The benchmark skips other models.
//
// Model file (little-endian, written by bench/c-tick.ts): "NMCTICK1", u32 populations, pre, B, T, C; per
// population: u32 kind (0 Input, 1 EGRU, 2 Dense, 3 Readout), size, ports, then per port u32 width, has-bias and
// the bias as i32[width]; EGRU: i32 thr[size], per table (σ, tanh) u32 length, f64 origin, f64 inverse step,
// i32 table[length]; Dense: u32 activation (0 linear, 1 relu), i32 down; Readout: u32 mode (0 last, 1 mean,
// 2 sum), source population. Then u32 projections; per projection: u32 source, target, port, delay, rows,
// cols, nnz, form (0 CSR, 2 dense32), i32 mult[cols], i32 shift[cols], u32 rowPtr[rows + 1], u32 colIdx[nnz],
// i32 w[nnz] (int8 or int16 values); then u32 output population, i32 xq[B · T · C].
// Usage: tick MODEL REPEATS OUT → writes OUT (i32 output integers: [B, K] for a Readout output, else [B, T, K])
// after an untimed first pass, then prints "seconds <s>" per timed repeat and "events <n> clamps <n>".
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>
#include "input-file.h"

static double f64() { double v; need(&v, 8); return v; }
template <typename T> static void vec(std::vector<T>& v, size_t n) { v.resize(n); need(v.data(), sizeof(T) * n); }

// runtime/fixed roundShift: round(x / 2^s), ties away from zero.
static inline int64_t rs(int64_t x, int s) {
  if (s == 0) return x;
  const int64_t m = x < 0 ? -x : x, q = (m + ((int64_t)1 << (s - 1))) >> s;
  return x < 0 ? -q : q;
}
static uint64_t clamps = 0;
static inline int64_t sat(int64_t x, int64_t lo, int64_t hi) {
  if (x > hi) { clamps++; return hi; }
  if (x < lo) { clamps++; return lo; }
  return x;
}
static inline int64_t sat32(int64_t x) { return sat(x, INT32_MIN, INT32_MAX); }
static inline int64_t sat16(int64_t x) { return sat(x, -32768, 32767); }

struct Lut { std::vector<int32_t> t; double origin, inv; };
// runtime/fixed lutIndexAtCount: clamp(floor((x − origin) · invStep), 0, size − 1), the same double operations.
static inline int32_t lookup(const Lut& l, int64_t x) {
  double i = std::floor(((double)x - l.origin) * l.inv);
  const double top = (double)(l.t.size() - 1);
  if (i < 0) { clamps++; i = 0; } else if (i > top) { clamps++; i = top; }
  return l.t[(size_t)i];
}

struct Port { uint32_t width; bool hasBias; std::vector<int32_t> bias; std::vector<int64_t> v; };
struct Pop {
  uint32_t kind, size;
  std::vector<Port> ports;
  std::vector<int32_t> thr, state, out, prev;
  Lut sig, tanh;
  uint32_t act = 0, mode = 0, src = 0;
  int32_t down = 0;
  bool anyOut = false, anyPrev = false;
};
struct Proj {
  uint32_t src, dst, port, delay, rows, cols, nnz, form;
  std::vector<int32_t> mult, shift, w;
  std::vector<uint32_t> rowPtr, colIdx;
  std::vector<int8_t> dense;
  std::vector<int32_t> acc32;
  std::vector<int64_t> acc;
};

static void egru(Pop& p) {
  const uint32_t n = p.size;
  const int64_t* vx = p.ports[0].v.data();
  const int64_t* vh = p.ports[1].v.data();
  for (uint32_t i = 0; i < n; i++) {
    const int64_t z = lookup(p.sig, vx[i] + vh[i]), r = lookup(p.sig, vx[n + i] + vh[n + i]);
    const int64_t g = lookup(p.tanh, vx[2 * n + i] + rs(r * vh[2 * n + i], 14));
    const int64_t h = p.state[i];
    const int64_t c = sat16(rs(z * h + (16384 - z) * g, 14)), d = c - p.thr[i];
    if (d > 0) { p.out[i] = (int32_t)c; p.state[i] = (int32_t)d; }
    else { p.out[i] = 0; p.state[i] = (int32_t)c; }
  }
}

int main(int argc, char** argv) {
  if (argc != 4) { fprintf(stderr, "usage: tick MODEL REPEATS OUT\n"); return 2; }
  openInput(argv[1], "NMCTICK1", "model");
  std::vector<Pop> P(u32());
  const int pre = (int)u32();
  const uint32_t B = u32(), T = u32(), C = u32();
  for (Pop& p : P) {
    p.kind = u32(); p.size = u32();
    p.ports.resize(u32());
    for (Port& q : p.ports) {
      q.width = u32(); q.hasBias = u32() != 0;
      if (q.hasBias) vec(q.bias, q.width);
      q.v.assign(q.width, 0);
    }
    if (p.kind == 1) {
      vec(p.thr, p.size);
      for (Lut* l : { &p.sig, &p.tanh }) {
        const uint32_t len = u32();
        l->origin = f64(); l->inv = f64();
        vec(l->t, len);
      }
    } else if (p.kind == 2) { p.act = u32(); p.down = (int32_t)u32(); }
    else if (p.kind == 3) { p.mode = u32(); p.src = u32(); }
    else if (p.kind != 0) { fprintf(stderr, "model: kind %u\n", p.kind); return 2; }
    p.state.assign(p.size, 0); p.out.assign(p.size, 0); p.prev.assign(p.size, 0);
  }
  std::vector<Proj> J(u32());
  std::vector<std::vector<uint32_t>> incoming(P.size());
  for (uint32_t k = 0; k < J.size(); k++) {
    Proj& j = J[k];
    j.src = u32(); j.dst = u32(); j.port = u32(); j.delay = u32(); j.rows = u32(); j.cols = u32(); j.nnz = u32(); j.form = u32();
    vec(j.mult, j.cols); vec(j.shift, j.cols); vec(j.rowPtr, j.rows + 1); vec(j.colIdx, j.nnz); vec(j.w, j.nnz);
    if (j.form == 2) {
      j.dense.assign((size_t)j.rows * j.cols, 0);
      for (uint32_t i = 0; i < j.rows; i++)
        for (uint32_t e = j.rowPtr[i]; e < j.rowPtr[i + 1]; e++) j.dense[(size_t)i * j.cols + j.colIdx[e]] = (int8_t)j.w[e];
      j.acc32.assign(j.cols, 0);
    } else j.acc.assign(j.cols, 0);
    incoming[j.dst].push_back(k);
  }
  const uint32_t outPop = u32();
  std::vector<int32_t> xq;
  vec(xq, (size_t)B * T * C);
  fclose(f);
  const Pop& O = P[outPop];
  const bool perSequence = O.kind == 3;
  const uint32_t K = O.size;
  std::vector<int32_t> outputQ(perSequence ? (size_t)B * K : (size_t)B * T * K);
  const int repeats = atoi(argv[2]);
  uint64_t events = 0;
  for (int rep = -1; rep < repeats; rep++) {
    events = 0;
    clamps = 0;
    const double t0 = now();
    for (uint32_t b = 0; b < B; b++) {
      for (Pop& p : P) {
        std::fill(p.state.begin(), p.state.end(), 0); std::fill(p.out.begin(), p.out.end(), 0); std::fill(p.prev.begin(), p.prev.end(), 0);
        p.anyOut = p.anyPrev = false;
      }
      for (uint32_t t = 0; t < T; t++) {
        for (uint32_t pi = 0; pi < P.size(); pi++) {
          Pop& p = P[pi];
          if (p.kind == 0) {
            memcpy(p.out.data(), xq.data() + ((size_t)b * T + t) * C, 4 * (size_t)p.size);
          } else if (p.kind == 3) {
            const int32_t* s = P[p.src].out.data();
            for (uint32_t i = 0; i < p.size; i++) {
              if (p.mode == 0) p.state[i] = s[i];
              else p.state[i] = (int32_t)sat32((int64_t)p.state[i] + s[i]);
              if (p.mode == 1) { // roundDiv(sum, t + 1), ties away from zero
                const int64_t a = p.state[i], n = t + 1, q = (2 * (a < 0 ? -a : a) + n) / (2 * n);
                p.out[i] = (int32_t)(a < 0 ? -q : q);
              } else p.out[i] = p.state[i];
            }
          } else {
            for (Port& q : p.ports) {
              if (q.hasBias) for (uint32_t c = 0; c < q.width; c++) q.v[c] = q.bias[c];
              else std::fill(q.v.begin(), q.v.end(), 0);
            }
            for (uint32_t k : incoming[pi]) {
              Proj& j = J[k];
              const Pop& s = P[j.src];
              if (!(j.delay == 0 ? s.anyOut : s.anyPrev)) continue;
              const int32_t* v = j.delay == 0 ? s.out.data() : s.prev.data();
              int64_t* port = p.ports[j.port].v.data();
              const uint32_t cols = j.cols;
              if (j.form == 2) {
                int32_t* __restrict acc = j.acc32.data();
                for (uint32_t i = 0; i < j.rows; i++) {
                  const int32_t x = v[i];
                  if (x == 0) continue;
                  const int8_t* __restrict row = j.dense.data() + (size_t)i * cols;
                  for (uint32_t c = 0; c < cols; c++) acc[c] += x * (int32_t)row[c];
                }
                for (uint32_t c = 0; c < cols; c++) {
                  const int64_t a = acc[c];
                  if (a == 0) continue;
                  acc[c] = 0;
                  port[c] += sat32(rs(sat32(rs(a, pre)) * j.mult[c], j.shift[c]));
                }
              } else {
                int64_t* __restrict acc = j.acc.data();
                for (uint32_t i = 0; i < j.rows; i++) {
                  const int64_t x = v[i];
                  if (x == 0) continue;
                  for (uint32_t e = j.rowPtr[i]; e < j.rowPtr[i + 1]; e++) acc[j.colIdx[e]] += x * j.w[e];
                }
                for (uint32_t c = 0; c < cols; c++) {
                  const int64_t a = acc[c];
                  if (a == 0) continue;
                  acc[c] = 0;
                  port[c] += sat32(rs(sat32(rs(a, pre)) * j.mult[c], j.shift[c]));
                }
              }
            }
            for (Port& q : p.ports) for (uint32_t c = 0; c < q.width; c++) q.v[c] = sat32(q.v[c]);
            if (p.kind == 1) egru(p);
            else {
              const int64_t* x = p.ports[0].v.data();
              for (uint32_t i = 0; i < p.size; i++) p.out[i] = p.act == 1 && x[i] <= 0 ? 0 : (int32_t)sat16(rs(x[i], p.down));
            }
          }
          uint32_t nz = 0;
          for (uint32_t i = 0; i < p.size; i++) nz += p.out[i] != 0;
          p.anyOut = nz > 0;
          if (p.kind != 3) events += nz;
        }
        if (!perSequence) memcpy(outputQ.data() + ((size_t)b * T + t) * K, O.out.data(), 4 * (size_t)K);
        for (Pop& p : P) { p.prev = p.out; p.anyPrev = p.anyOut; }
      }
      if (perSequence && T > 0) memcpy(outputQ.data() + (size_t)b * K, O.out.data(), 4 * (size_t)K);
    }
    const double s = now() - t0;
    if (rep == -1) {
      FILE* o = fopen(argv[3], "wb");
      if (!o || fwrite(outputQ.data(), 4, outputQ.size(), o) != outputQ.size()) { perror(argv[3]); return 1; }
      fclose(o);
    } else printf("seconds %.9f\n", s);
  }
  printf("events %llu clamps %llu\n", (unsigned long long)events, (unsigned long long)clamps);
  return 0;
}
