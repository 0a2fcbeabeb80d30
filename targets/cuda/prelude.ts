// The fixed part of every generated .cu file: the CUDA / host-emulation switch, nmc's fixed-point primitives
// written in C exactly as runtime/fixed/index.ts and runtime/fixed/QUANTIZATION.md define them, the float
// helpers of runtime/float/math.ts, and host utilities (.npy files, the parameter file, launch geometry).
// Nothing here depends on the model; emit.ts appends the model-specific code. The primitives are tested
// against runtime/fixed on random and edge inputs (test/targets/cuda.test.ts).
//
// Exit codes of a generated program: 0 done, 1 CUDA or I/O failure, 2 bad arguments or input files,
// 3 no usable CUDA device (a real CUDA build on a machine without a GPU: use the emulation build).

export const CUDA_PRELUDE = String.raw`// ==== nmc CUDA reference backend: runtime prelude (fixed; the model-specific code follows) ====
// One source, two builds:
//   real CUDA:       nvcc -O2 -x cu -o prog model.cu
//   host emulation:  g++ -O2 -std=c++17 -x c++ -DNMC_EMULATE -o prog model.cu
// Usage: prog <params.bin> <input.npy> <out_dir> [--no-events] [--chunk N]
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#define NMC_CHECK(call) do { cudaError_t nmc_e_ = (call); if (nmc_e_ != cudaSuccess) { \
  fprintf(stderr, "nmc-cuda: %s failed (line %d): %s\n", #call, __LINE__, cudaGetErrorString(nmc_e_)); exit(1); } } while (0)

#ifdef NMC_EMULATE
// ---- host emulation of the CUDA subset this file uses: kernels run as loops over grid and block ----
#define __global__
#define __device__
#define __host__
struct dim3 {
  unsigned int x, y, z;
  dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct nmc_uint3 { unsigned int x, y, z; };
static thread_local nmc_uint3 threadIdx, blockIdx;
static thread_local dim3 blockDim, gridDim;
#define NMC_LAUNCH(kernel, grid, block, ...) do { \
  const dim3 nmc_g_ = (grid), nmc_b_ = (block); gridDim = nmc_g_; blockDim = nmc_b_; \
  for (unsigned int nmc_bz = 0; nmc_bz < nmc_g_.z; ++nmc_bz) \
  for (unsigned int nmc_by = 0; nmc_by < nmc_g_.y; ++nmc_by) \
  for (unsigned int nmc_bx = 0; nmc_bx < nmc_g_.x; ++nmc_bx) \
  for (unsigned int nmc_tz = 0; nmc_tz < nmc_b_.z; ++nmc_tz) \
  for (unsigned int nmc_ty = 0; nmc_ty < nmc_b_.y; ++nmc_ty) \
  for (unsigned int nmc_tx = 0; nmc_tx < nmc_b_.x; ++nmc_tx) { \
    blockIdx.x = nmc_bx; blockIdx.y = nmc_by; blockIdx.z = nmc_bz; \
    threadIdx.x = nmc_tx; threadIdx.y = nmc_ty; threadIdx.z = nmc_tz; \
    kernel(__VA_ARGS__); \
  } } while (0)
static inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { unsigned long long o = *p; *p = o + v; return o; }
static inline unsigned int atomicAdd(unsigned int* p, unsigned int v) { unsigned int o = *p; *p = o + v; return o; }
static inline int atomicAdd(int* p, int v) { int o = *p; *p = o + v; return o; }
static inline double atomicAdd(double* p, double v) { double o = *p; *p = o + v; return o; }
typedef int cudaError_t;
enum { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 };
enum cudaMemcpyKind { cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3 };
static inline const char* cudaGetErrorString(cudaError_t e) { return e == cudaErrorMemoryAllocation ? "out of host memory" : "emulation error"; }
static inline cudaError_t cudaMalloc(void** p, size_t n) { *p = malloc(n ? n : 1); return *p ? cudaSuccess : cudaErrorMemoryAllocation; }
static inline cudaError_t cudaFree(void* p) { free(p); return cudaSuccess; }
static inline cudaError_t cudaMemcpy(void* d, const void* s, size_t n, cudaMemcpyKind) { if (n) memcpy(d, s, n); return cudaSuccess; }
static inline cudaError_t cudaMemset(void* d, int v, size_t n) { if (n) memset(d, v, n); return cudaSuccess; }
static inline cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
static inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }
#else
// ---- real CUDA ----
#include <cuda_runtime.h>
#define NMC_LAUNCH(kernel, grid, block, ...) do { kernel<<<(grid), (block)>>>(__VA_ARGS__); NMC_CHECK(cudaGetLastError()); } while (0)
#endif

// ---- fixed-point primitives (runtime/fixed/index.ts; QUANTIZATION.md): int64 arithmetic throughout ----
typedef long long nmc_i64;
#define NMC_INT32_MAX 2147483647LL
#define NMC_INT32_MIN (-2147483647LL - 1LL)
#define NMC_ONE_Q14 16384LL

// x / 2^s rounded to nearest, ties away from zero (never -0 in integers). s = 0 returns x; a negative s
// (which runtime/fixed computes exactly as a scaling by 2^-s) multiplies.
__host__ __device__ inline nmc_i64 nmc_round_shift(nmc_i64 x, int s) {
  if (s == 0) return x;
  if (s < 0) return x * ((nmc_i64)1 << (-s));
  if (s > 62) return 0;
  const nmc_i64 half = (nmc_i64)1 << (s - 1);
  return x >= 0 ? (x + half) >> s : -((-x + half) >> s);
}
__host__ __device__ inline nmc_i64 nmc_saturate(nmc_i64 x, int bits) {
  const nmc_i64 hi = ((nmc_i64)1 << (bits - 1)) - 1, lo = -((nmc_i64)1 << (bits - 1));
  return x > hi ? hi : x < lo ? lo : x;
}
__host__ __device__ inline nmc_i64 nmc_sat32(nmc_i64 x) { return x > NMC_INT32_MAX ? NMC_INT32_MAX : x < NMC_INT32_MIN ? NMC_INT32_MIN : x; }
__host__ __device__ inline nmc_i64 nmc_sat16(nmc_i64 x) { return x > 32767 ? 32767 : x < -32768 ? -32768 : x; }
// requantizeMS: sat32(rs(x * m, s)), m a Q15 mantissa (|x * m| < 2^46).
__host__ __device__ inline nmc_i64 nmc_requantize(nmc_i64 x, nmc_i64 m, int s) { return nmc_sat32(nmc_round_shift(x * m, s)); }
// (a + ib)(c + id) with a Q15 coefficient: each part's two products summed, then one rounding shift by 15.
__host__ __device__ inline nmc_i64 nmc_cmul_re_q15(nmc_i64 a, nmc_i64 b, nmc_i64 c, nmc_i64 d) { return nmc_sat32(nmc_round_shift(a * c - b * d, 15)); }
__host__ __device__ inline nmc_i64 nmc_cmul_im_q15(nmc_i64 a, nmc_i64 b, nmc_i64 c, nmc_i64 d) { return nmc_sat32(nmc_round_shift(a * d + b * c, 15)); }
// floor(a / 2^s) for any sign of a (s >= 0): the arithmetic shift written without implementation-defined >>.
__host__ __device__ inline nmc_i64 nmc_floor_shift(nmc_i64 a, int s) {
  if (s == 0) return a;
  return a >= 0 ? a >> s : -((-a + (((nmc_i64)1 << s) - 1)) >> s);
}
// LUT index rule: clamp(floor((x - lo * 2^in_frac) / 2^(in_frac - step_log2)), 0, n - 1); lo_q = lo * 2^in_frac,
// n the table's length (256 ... 4096).
__host__ __device__ inline int nmc_lut_index(nmc_i64 x, nmc_i64 lo_q, int shift, int n) {
  const nmc_i64 i = nmc_floor_shift(x - lo_q, shift);
  return i < 0 ? 0 : i > n - 1 ? n - 1 : (int)i;
}
__host__ __device__ inline nmc_i64 nmc_lookup(const int32_t* table, nmc_i64 x, nmc_i64 lo_q, int shift, int n) { return table[nmc_lut_index(x, lo_q, shift, n)]; }
// a / n rounded to nearest, ties away from zero (n >= 1).
__host__ __device__ inline nmc_i64 nmc_round_div(nmc_i64 a, nmc_i64 n) {
  const nmc_i64 q = (2 * (a < 0 ? -a : a) + n) / (2 * n);
  return a < 0 ? -q : q;
}
// floor(sqrt(n)) for 0 <= n < 2^62, digit by digit on integers (no libm): runtime/fixed isqrt.
__host__ __device__ inline nmc_i64 nmc_isqrt(nmc_i64 n) {
  unsigned long long x = (unsigned long long)n, r = 0, bit = 1ULL << 62;
  while (bit > x) bit >>= 2;
  while (bit != 0) {
    if (x >= r + bit) { x -= r + bit; r = (r >> 1) + bit; } else r >>= 1;
    bit >>= 2;
  }
  return (nmc_i64)r;
}
// Readout of one unit at tick t (0-based): mode 0 = last, 1 = mean, 2 = sum; returns the output.
__host__ __device__ inline nmc_i64 nmc_readout_step(int mode, nmc_i64 src, int32_t* sum, int t) {
  const nmc_i64 s = mode == 0 ? src : nmc_sat32((nmc_i64)*sum + src);
  *sum = (int32_t)s;
  return mode == 1 ? nmc_round_div(s, (nmc_i64)t + 1) : s;
}

// ---- float helpers (runtime/float/math.ts, operation for operation) ----
__host__ __device__ inline double nmc_sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
__host__ __device__ inline double nmc_erf(double x) {
  const double ax = fabs(x);
  if (ax < 3) {
    double term = ax, sum = ax;
    const double x2 = ax * ax;
    for (int n = 1; n < 100; n++) {
      term *= -x2 / n;
      const double add = term / (2 * n + 1);
      sum += add;
      if (fabs(add) < 1e-17 * fabs(sum)) break;
    }
    const double r = (2 / sqrt(3.141592653589793)) * sum;
    return x < 0 ? -r : r;
  }
  double f = ax;
  for (int n = 60; n >= 1; n--) f = ax + (double)n / 2 / f;
  const double erfc = exp(-ax * ax) / sqrt(3.141592653589793) / f;
  return x < 0 ? erfc - 1 : 1 - erfc;
}
__host__ __device__ inline double nmc_gelu(double x) { return 0.5 * x * (1 + nmc_erf(x / 1.4142135623730951)); }

// ---- generic kernels ----
// dst[b * stride + offset + i] = src[b * n + i]: records a population's output (events, model output).
__global__ void nmc_record_i32(const int32_t* src, int n, int32_t* dst, long long stride, long long offset) {
  const int b = blockIdx.y, i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) dst[(long long)b * stride + offset + i] = src[(long long)b * n + i];
}
__global__ void nmc_record_f64(const double* src, int n, double* dst, long long stride, long long offset) {
  const int b = blockIdx.y, i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) dst[(long long)b * stride + offset + i] = src[(long long)b * n + i];
}

// ---- host utilities ----
#define NMC_BLOCK 128
static inline unsigned int nmc_block_for(long long n) { return n >= NMC_BLOCK ? NMC_BLOCK : (n > 0 ? (unsigned int)n : 1u); }
// Threads over n items (x) and one grid row per sequence of the chunk (y).
static inline dim3 nmc_grid_for(long long n, int nb) {
  const long long b = nmc_block_for(n);
  const long long g = (n + b - 1) / b;
  return dim3((unsigned int)(g > 0 ? g : 1), (unsigned int)nb, 1);
}

static void nmc_fail(int code, const char* what, const char* detail) {
  fprintf(stderr, "nmc-cuda: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(code);
}

static void** nmc_allocs = 0;
static size_t nmc_nallocs = 0, nmc_capallocs = 0;
// Device memory of n bytes (at least 1), zeroed; freed by nmc_free_all.
static void* nmc_device_alloc(size_t n) {
  void* p = 0;
  NMC_CHECK(cudaMalloc(&p, n ? n : 1));
  NMC_CHECK(cudaMemset(p, 0, n ? n : 1));
  if (nmc_nallocs == nmc_capallocs) {
    nmc_capallocs = nmc_capallocs ? 2 * nmc_capallocs : 64;
    nmc_allocs = (void**)realloc(nmc_allocs, nmc_capallocs * sizeof(void*));
    if (!nmc_allocs) nmc_fail(1, "out of host memory", 0);
  }
  nmc_allocs[nmc_nallocs++] = p;
  return p;
}
static void* nmc_upload(const void* host, size_t n) {
  void* p = nmc_device_alloc(n);
  if (n) NMC_CHECK(cudaMemcpy(p, host, n, cudaMemcpyHostToDevice));
  return p;
}
static void nmc_free_all(void) {
  for (size_t i = 0; i < nmc_nallocs; i++) cudaFree(nmc_allocs[i]);
  free(nmc_allocs);
  nmc_allocs = 0; nmc_nallocs = nmc_capallocs = 0;
}

static unsigned char* nmc_read_file(const char* path, size_t* size) {
  FILE* f = fopen(path, "rb");
  if (!f) nmc_fail(2, "cannot open", path);
  if (fseek(f, 0, SEEK_END) != 0) nmc_fail(2, "cannot seek", path);
  const long n = ftell(f);
  if (n < 0) nmc_fail(2, "cannot size", path);
  rewind(f);
  unsigned char* b = (unsigned char*)malloc(n > 0 ? (size_t)n : 1);
  if (!b) nmc_fail(1, "out of host memory reading", path);
  if (n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n) nmc_fail(2, "cannot read", path);
  fclose(f);
  *size = (size_t)n;
  return b;
}
static uint32_t nmc_u32le(const unsigned char* p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static uint64_t nmc_u64le(const unsigned char* p) { return (uint64_t)nmc_u32le(p) | ((uint64_t)nmc_u32le(p + 4) << 32); }

// The parameter file (layout: targets/cuda/params.ts): header checked against this program's layout.
struct nmc_params { unsigned char* bytes; size_t size, pos; uint32_t count, next; const char* path; };
static void nmc_params_open(nmc_params* p, const char* path, uint32_t precision, uint64_t hash, uint32_t count) {
  p->bytes = nmc_read_file(path, &p->size);
  p->path = path; p->pos = 32; p->count = count; p->next = 0;
  if (p->size < 32 || memcmp(p->bytes, "NMCPARM1", 8) != 0) nmc_fail(2, "not an nmc CUDA parameter file (bad magic)", path);
  if (nmc_u32le(p->bytes + 8) != 1) nmc_fail(2, "unsupported parameter file version", path);
  if (nmc_u32le(p->bytes + 12) != precision) nmc_fail(2, "the parameter file is for the other precision (int / float)", path);
  if (nmc_u64le(p->bytes + 16) != hash || nmc_u32le(p->bytes + 24) != count) {
    nmc_fail(2, "the parameter file was written for another model (layout hash differs)", path);
  }
}
// The next tensor: checks its element kind and count, returns a pointer to its elements in the file buffer.
static const void* nmc_params_next(nmc_params* p, uint32_t kind, uint64_t count, const char* symbol) {
  if (p->next >= p->count || p->pos + 16 > p->size) nmc_fail(2, "parameter file ends early before tensor", symbol);
  const unsigned char* h = p->bytes + p->pos;
  if (nmc_u32le(h) != kind || nmc_u64le(h + 8) != count) nmc_fail(2, "parameter file tensor has the wrong kind or size", symbol);
  const size_t bytes = (size_t)count * (kind == 3 ? 8 : 4);
  if (p->pos + 16 + bytes > p->size) nmc_fail(2, "parameter file is truncated in tensor", symbol);
  const void* data = h + 16;
  p->pos += 16 + ((bytes + 7) & ~(size_t)7);
  p->next++;
  return data;
}
static void nmc_params_close(nmc_params* p) {
  if (p->next != p->count || p->pos != p->size) nmc_fail(2, "parameter file has trailing data", p->path);
  free(p->bytes);
  p->bytes = 0;
}

// .npy files (C order, little-endian; format 1.0, 2.0 or 3.0).
struct nmc_npy { unsigned char* file; const unsigned char* data; long long shape[8]; int ndim; long long count; };
static void nmc_read_npy(const char* path, const char* descr, size_t item, nmc_npy* a) {
  size_t size = 0;
  a->file = nmc_read_file(path, &size);
  const unsigned char* b = a->file;
  if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0) nmc_fail(2, "not a .npy file", path);
  const int major = b[6];
  size_t hlen, hstart;
  if (major == 1) { hlen = (size_t)b[8] | ((size_t)b[9] << 8); hstart = 10; }
  else if ((major == 2 || major == 3) && size >= 12) { hlen = nmc_u32le(b + 8); hstart = 12; }
  else { nmc_fail(2, "unsupported .npy version", path); return; }
  if (hstart + hlen > size) nmc_fail(2, ".npy header is truncated", path);
  char* h = (char*)malloc(hlen + 1);
  if (!h) nmc_fail(1, "out of host memory", path);
  memcpy(h, b + hstart, hlen);
  h[hlen] = 0;
  char want[64];
  snprintf(want, sizeof want, "'descr': '%s'", descr);
  if (!strstr(h, want)) { fprintf(stderr, "nmc-cuda: %s: expected dtype %s, header %s\n", path, descr, h); exit(2); }
  if (!strstr(h, "'fortran_order': False")) nmc_fail(2, "Fortran-order .npy arrays are not supported", path);
  const char* s = strstr(h, "'shape':");
  const char* open = s ? strchr(s, '(') : 0;
  if (!open) nmc_fail(2, ".npy header has no shape", path);
  a->ndim = 0;
  a->count = 1;
  const char* q = open + 1;
  for (;;) {
    while (*q == ' ' || *q == ',') q++;
    if (*q == ')') break;
    char* end = 0;
    const long long d = strtoll(q, &end, 10);
    if (end == q || d < 0 || a->ndim == 8) nmc_fail(2, "bad .npy shape", path);
    a->shape[a->ndim++] = d;
    a->count *= d;
    q = end;
  }
  free(h);
  if (hstart + hlen + (size_t)a->count * item > size) nmc_fail(2, ".npy data is truncated", path);
  a->data = b + hstart + hlen;
}
static void nmc_write_npy(const char* dir, const char* name, const char* descr, const long long* shape, int ndim, const void* data, size_t bytes) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  char dict[512];
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
  for (int i = 0; i < ndim; i++) n += snprintf(dict + n, sizeof dict - n, "%lld%s", shape[i], ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
  n += snprintf(dict + n, sizeof dict - n, "), }");
  int total = 10 + n + 1;
  const int pad = (64 - total % 64) % 64;
  FILE* f = fopen(path, "wb");
  if (!f) nmc_fail(1, "cannot write", path);
  unsigned char pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0 };
  const int hlen = n + pad + 1;
  pre[8] = (unsigned char)(hlen & 255); pre[9] = (unsigned char)(hlen >> 8);
  fwrite(pre, 1, 10, f);
  fwrite(dict, 1, (size_t)n, f);
  for (int i = 0; i < pad; i++) fputc(' ', f);
  fputc('\n', f);
  if (bytes && fwrite(data, 1, bytes, f) != bytes) nmc_fail(1, "cannot write", path);
  if (fclose(f) != 0) nmc_fail(1, "cannot write", path);
}

static void nmc_check_host(void) {
  const uint32_t one = 1;
  if (*(const unsigned char*)&one != 1) nmc_fail(1, "this program needs a little-endian host", 0);
}

// Prints where the program runs; a real CUDA build without a usable device exits with code 3.
static void nmc_init_device(void) {
#ifdef NMC_EMULATE
  printf("nmc-cuda: running in host emulation (built with -DNMC_EMULATE; no GPU used)\n");
#else
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    fprintf(stderr, "nmc-cuda: no usable CUDA device (%s); run the emulation build (-DNMC_EMULATE) instead\n",
            e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    exit(3);
  }
  cudaDeviceProp prop;
  NMC_CHECK(cudaGetDeviceProperties(&prop, 0));
  NMC_CHECK(cudaSetDevice(0));
  printf("nmc-cuda: running on GPU 0: %s (compute capability %d.%d)\n", prop.name, prop.major, prop.minor);
#endif
  fflush(stdout);
}
// ==== end of prelude ====
`;
