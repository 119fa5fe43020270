/*
 * Throughput of native/core/blake3.c per implementation, single-threaded.
 *
 *   gcc -std=c11 -O3 -Inative/core native/core/test/bench_blake3.c native/core/blake3.c -o bench_blake3
 *   ./bench_blake3 [MIB] [--write FILE]
 *
 * MB/s are 10^6 bytes per CPU second, best of REPEATS passes over the same MIB-MiB (default 256) buffer,
 * comparable with the user+sys time of `b3sum --num-threads 1 FILE` on the file --write produces.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blake3.h"

enum { REPEATS = 3, DIGEST_LEN = CHUNKER_BLAKE3_OUT_BYTES };
#define KIB ((size_t)1024)
#define MIB (1024 * KIB)
/* Sizes the content-defined chunker produces; "random" draws piece sizes uniformly from this range. */
#define RANDOM_PIECE_MIN (16 * KIB)
#define RANDOM_PIECE_MAX (4 * MIB)

static uint8_t g_sink; /* keeps digests observable so no pass is optimized away */

/* Thread CPU time rather than wall time: the benchmark shares the machine, and time spent descheduled
   says nothing about the code. Compare with the task-clock (user+sys) of b3sum, not its elapsed time. */
static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

typedef enum { MODE_ONESHOT, MODE_STREAM } mode;

/* Hashes buf as consecutive pieces of `piece` bytes (0 = random sizes), each an independent message, or
   (MODE_STREAM) as one message fed to update() in such pieces. Returns MB/s. */
static double run(const uint8_t *buf, size_t len, size_t piece, mode m) {
  double best = 1e30;
  for (int rep = 0; rep < REPEATS; rep++) {
    uint64_t state = 1;
    uint8_t d[DIGEST_LEN];
    chunker_blake3 h;
    chunker_blake3_init(&h);
    double t0 = now_seconds();
    for (size_t pos = 0; pos < len;) {
      size_t n = piece;
      if (n == 0) n = RANDOM_PIECE_MIN + (size_t)(splitmix64(&state) % (RANDOM_PIECE_MAX - RANDOM_PIECE_MIN + 1));
      if (n > len - pos) n = len - pos;
      if (m == MODE_ONESHOT) {
        chunker_blake3_hash(buf + pos, n, d);
        g_sink ^= d[0];
      } else {
        chunker_blake3_update(&h, buf + pos, n);
      }
      pos += n;
    }
    if (m == MODE_STREAM) {
      chunker_blake3_final(&h, d);
      g_sink ^= d[0];
    }
    double t = now_seconds() - t0;
    if (t < best) best = t;
  }
  return (double)len / best / 1e6;
}

int main(int argc, char **argv) {
  size_t mib = 256;
  const char *write_path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--write") == 0 && i + 1 < argc) {
      write_path = argv[++i];
    } else {
      mib = (size_t)strtoull(argv[i], NULL, 10);
    }
  }
  const size_t len = mib * MIB;
  uint8_t *buf = malloc(len);
  if (buf == NULL) return 1;
  uint64_t state = 2024;
  for (size_t i = 0; i + 8 <= len; i += 8) {
    uint64_t r = splitmix64(&state);
    memcpy(buf + i, &r, 8);
  }
  if (write_path != NULL) {
    FILE *f = fopen(write_path, "wb");
    if (f == NULL || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
      perror(write_path);
      return 1;
    }
  }

  static const struct {
    chunker_blake3_impl impl;
    const char *name;
  } IMPLS[] = {{CHUNKER_BLAKE3_IMPL_PORTABLE, "portable"},
               {CHUNKER_BLAKE3_IMPL_SSE41, "sse41"},
               {CHUNKER_BLAKE3_IMPL_AVX2, "avx2"}};
  static const struct {
    const char *label;
    size_t piece; /* 0: random RANDOM_PIECE_MIN..MAX; SIZE_MAX: whole buffer */
    mode m;
  } CASES[] = {
      {"one-shot whole", SIZE_MAX, MODE_ONESHOT},
      {"one-shot 4 KiB", 4 * KIB, MODE_ONESHOT},
      {"one-shot 16 KiB", 16 * KIB, MODE_ONESHOT},
      {"one-shot 64 KiB", 64 * KIB, MODE_ONESHOT},
      {"one-shot 1 MiB", MIB, MODE_ONESHOT},
      {"one-shot 16K-4M rnd", 0, MODE_ONESHOT},
      {"update 64 KiB", 64 * KIB, MODE_STREAM},
      {"update 1 MiB", MIB, MODE_STREAM},
  };

  printf("buffer %zu MiB, MB/s (10^6 B/s), best of %d\n", mib, REPEATS);
  printf("%-22s", "case");
  for (size_t k = 0; k < sizeof IMPLS / sizeof IMPLS[0]; k++) {
    if (chunker_blake3_impl_supported(IMPLS[k].impl)) printf("%12s", IMPLS[k].name);
  }
  printf("\n");
  for (size_t c = 0; c < sizeof CASES / sizeof CASES[0]; c++) {
    printf("%-22s", CASES[c].label);
    for (size_t k = 0; k < sizeof IMPLS / sizeof IMPLS[0]; k++) {
      if (chunker_blake3_set_impl(IMPLS[k].impl) != 0) continue;
      size_t piece = CASES[c].piece == SIZE_MAX ? len : CASES[c].piece;
      printf("%12.0f", run(buf, len, piece, CASES[c].m));
      fflush(stdout);
    }
    printf("\n");
  }
  chunker_blake3_set_impl(CHUNKER_BLAKE3_IMPL_AUTO);
  uint8_t d[DIGEST_LEN];
  chunker_blake3_hash(buf, len, d);
  printf("digest of the buffer (compare with b3sum on --write output): ");
  for (size_t i = 0; i < DIGEST_LEN; i++) printf("%02x", d[i]);
  printf("\n(sink %u)\n", (unsigned)g_sink);
  free(buf);
  return 0;
}
