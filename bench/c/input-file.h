// What the bench's C programs (accumulate.cpp, tick.cpp) share: reading the little-endian file the benchmark
// wrote for them, which starts with an 8-byte magic, and a monotonic clock.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

static FILE* f;
static const char* fileKind = "input";
static void need(void* p, size_t bytes) {
  if (fread(p, 1, bytes, f) != bytes) { fprintf(stderr, "%s: unexpected end of file\n", fileKind); exit(2); }
}
static uint32_t u32() { uint32_t v; need(&v, 4); return v; }

/** Opens `path` (a `kind` file, named in errors) and checks its magic; exits with 2 on failure. */
static void openInput(const char* path, const char* magic, const char* kind) {
  fileKind = kind;
  f = fopen(path, "rb");
  if (!f) { perror(path); exit(2); }
  char m[8];
  need(m, 8);
  if (memcmp(m, magic, 8) != 0) { fprintf(stderr, "%s: bad magic\n", kind); exit(2); }
}

static double now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}
