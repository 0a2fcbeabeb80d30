// The C baseline of `npm run bench` (bench/c-baseline.ts): the golden engine's event-driven row accumulation
// and nothing else, on the very event trace a golden run delivered, so that nmc's synaptic operations per second
// can be set against what a plain -O3 loop does on this machine.
//
// For every delivery (one projection, one tick of one sample, with at least one non-zero source value), as the
// golden engine does it: zero the projection's column sums, then for every event (row i, value x) add x · w over
// the row's entries. No requantization, no unit updates, no routing: this is the floor of the work.
//
// Two modes, both run by the benchmark:
//   golden  each projection in the form the golden engine's WebAssembly kernels use for it
//           (runtime/golden/accumulation.ts, written in the trace): 0 "csr", f64 sums over the CSR row
//           (acc[colIdx[k]] += x · w[k]); 1 "csr32", the same into int32 sums with u16 column indices where the
//           columns allow; 2 "dense32", int32 sums over the rows expanded dense (absent entries 0), every column
//           of each event's row. The same access pattern as the engine, so the ratio compares like with like.
//   csr     every projection as form 0 with u32 column indices: the plain event-driven CSR loop (this baseline's
//           only mode before the int32 forms existed).
// Every form gives the same integer sums (the checksum is the same in both modes).
//
// Trace file (little-endian, written by bench/c-baseline.ts):
//   "NMCTRC02", u32 projections; per projection: u32 rows, cols, nnz, weightBits (8 | 16), form (0 | 1 | 2),
//   u32 rowPtr[rows + 1], u32 colIdx[nnz], i8 or i16 w[nnz] (then zero bytes up to a multiple of 4);
//   u32 deliveries, u32 events; u32 proj[deliveries]; u32 start[deliveries + 1]; u32 row[events]; i32 val[events].
// Usage: accumulate TRACE REPEATS [golden|csr] → prints "synops <n> checksum <x>" then one "seconds <s>" per timed
// repeat (one untimed warm-up pass first).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <vector>
#include "input-file.h"

struct Proj {
  uint32_t rows, cols, nnz, bits, form;
  std::vector<uint32_t> rowPtr, colIdx;
  std::vector<uint16_t> col16;
  std::vector<int8_t> w8, dense;
  std::vector<int16_t> w16;
  std::vector<double> acc;
  std::vector<int32_t> acc32;
};


template <typename C, typename W>
static inline void rowAcc(double x, const C* __restrict col, const W* __restrict w, uint32_t k0, uint32_t end, double* __restrict acc) {
  for (uint32_t k = k0; k < end; k++) acc[col[k]] += x * (double)w[k];
}

template <typename C>
static inline void rowAcc32(int32_t x, const C* __restrict col, const int8_t* __restrict w, uint32_t k0, uint32_t end, int32_t* __restrict acc) {
  for (uint32_t k = k0; k < end; k++) acc[col[k]] += x * (int32_t)w[k];
}

static inline void denseAcc32(int32_t x, const int8_t* __restrict wd, uint32_t cols, int32_t* __restrict acc) {
  for (uint32_t c = 0; c < cols; c++) acc[c] += x * (int32_t)wd[c];
}

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) { fprintf(stderr, "usage: accumulate TRACE REPEATS [golden|csr]\n"); return 2; }
  const bool plain = argc == 4 && strcmp(argv[3], "csr") == 0;
  if (argc == 4 && !plain && strcmp(argv[3], "golden") != 0) { fprintf(stderr, "mode: golden or csr\n"); return 2; }
  openInput(argv[1], "NMCTRC02", "trace");
  std::vector<Proj> P(u32());
  for (Proj& p : P) {
    p.rows = u32(); p.cols = u32(); p.nnz = u32(); p.bits = u32(); p.form = u32();
    if (plain) p.form = 0;
    if (p.form > 2 || (p.form != 0 && p.bits != 8)) { fprintf(stderr, "trace: bad form %u for %u-bit weights\n", p.form, p.bits); return 2; }
    p.rowPtr.resize(p.rows + 1); need(p.rowPtr.data(), 4 * (p.rows + 1));
    p.colIdx.resize(p.nnz); need(p.colIdx.data(), 4 * (size_t)p.nnz);
    size_t bytes = (size_t)p.nnz * (p.bits / 8), pad = (4 - bytes % 4) % 4;
    if (p.bits == 8) { p.w8.resize(p.nnz); need(p.w8.data(), bytes); } else { p.w16.resize(p.nnz); need(p.w16.data(), bytes); }
    char z[4]; if (pad) need(z, pad);
    p.acc.assign(p.cols, 0.0);
    p.acc32.assign(p.cols, 0);
    if (p.form == 1 && p.cols <= 65536) p.col16.assign(p.colIdx.begin(), p.colIdx.end());
    if (p.form == 2) {
      p.dense.assign((size_t)p.rows * p.cols, 0);
      for (uint32_t i = 0; i < p.rows; i++)
        for (uint32_t k = p.rowPtr[i]; k < p.rowPtr[i + 1]; k++) p.dense[(size_t)i * p.cols + p.colIdx[k]] = p.w8[k];
    }
  }
  uint32_t D = u32(), E = u32();
  std::vector<uint32_t> proj(D), start(D + 1), row(E);
  std::vector<int32_t> val(E);
  need(proj.data(), 4 * (size_t)D); need(start.data(), 4 * ((size_t)D + 1)); need(row.data(), 4 * (size_t)E); need(val.data(), 4 * (size_t)E);
  fclose(f);
  const int repeats = atoi(argv[2]);
  double checksum = 0;
  uint64_t synops = 0;
  for (int r = -1; r < repeats; r++) {
    checksum = 0;
    synops = 0;
    const double t0 = now();
    for (uint32_t d = 0; d < D; d++) {
      Proj& p = P[proj[d]];
      const uint32_t* rp = p.rowPtr.data();
      if (p.form == 0) {
        double* acc = p.acc.data();
        memset(acc, 0, sizeof(double) * p.cols);
        for (uint32_t e = start[d]; e < start[d + 1]; e++) {
          const uint32_t i = row[e];
          const double x = val[e];
          synops += rp[i + 1] - rp[i];
          if (p.bits == 8) rowAcc(x, p.colIdx.data(), p.w8.data(), rp[i], rp[i + 1], acc);
          else rowAcc(x, p.colIdx.data(), p.w16.data(), rp[i], rp[i + 1], acc);
        }
        checksum += acc[d % p.cols]; // read the sums, so that no pass can be dropped
        continue;
      }
      int32_t* acc = p.acc32.data();
      memset(acc, 0, sizeof(int32_t) * p.cols);
      for (uint32_t e = start[d]; e < start[d + 1]; e++) {
        const uint32_t i = row[e];
        const int32_t x = val[e];
        synops += rp[i + 1] - rp[i];
        if (p.form == 2) denseAcc32(x, p.dense.data() + (size_t)i * p.cols, p.cols, acc);
        else if (!p.col16.empty()) rowAcc32(x, p.col16.data(), p.w8.data(), rp[i], rp[i + 1], acc);
        else rowAcc32(x, p.colIdx.data(), p.w8.data(), rp[i], rp[i + 1], acc);
      }
      checksum += acc[d % p.cols];
    }
    const double s = now() - t0;
    if (r == -1) printf("synops %llu checksum %.17g\n", (unsigned long long)synops, checksum);
    else printf("seconds %.9f\n", s);
  }
  return 0;
}
