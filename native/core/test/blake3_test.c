/*
 * Standalone driver for native/core/blake3.c, used by check_blake3.sh to compare against b3sum.
 *
 *   blake3_test [--impl auto|portable|sse41|avx2] [--pieces SEED] [--keyed KEYFILE] [FILE]
 *       prints the hex digest of FILE (default stdin), like `b3sum --no-names`. --pieces feeds the
 *       input through init/update/final in pseudo-random piece sizes instead of the one-shot call;
 *       --keyed takes the 32 raw key bytes from KEYFILE (b3sum --keyed reads them from stdin).
 *   blake3_test --gen LEN SEED     writes LEN pseudo-random bytes to stdout
 *   blake3_test --impls            lists the implementations this CPU supports, one per line
 *   blake3_test --selfcheck        cross-checks every implementation, one-shot against incremental and
 *                                  against prefixes, over many lengths near chunk and subtree boundaries
 *
 * CHUNKER_BLAKE3_IMPL=portable|sse41|avx2 in the environment forces an implementation like --impl.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blake3.h"

enum { DIGEST_LEN = CHUNKER_BLAKE3_OUT_BYTES, KEY_LEN = CHUNKER_BLAKE3_KEY_BYTES, CHUNK = 1024 };

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static void fill_random(uint8_t *buf, size_t len, uint64_t seed) {
  uint64_t state = seed;
  for (size_t i = 0; i < len; i += 8) {
    uint64_t r = splitmix64(&state);
    for (size_t j = 0; j < 8 && i + j < len; j++) buf[i + j] = (uint8_t)(r >> (8 * j));
  }
}

/* Piece sizes mixing single bytes, sub-block, sub-chunk and multi-chunk runs, so every branch of update
   (buffered block, direct blocks, whole subtrees) is entered at every alignment. */
static size_t random_piece(uint64_t *state) {
  uint64_t r = splitmix64(state);
  switch (r % 8) {
    case 0: return 0;
    case 1: return 1 + (size_t)(r >> 8) % 3;
    case 2: return 1 + (size_t)(r >> 8) % 64;
    case 3: return 1 + (size_t)(r >> 8) % 1100;
    case 4: return CHUNK * (1 + (size_t)(r >> 8) % 4);
    case 5: return 1 + (size_t)(r >> 8) % (40 * CHUNK);
    case 6: return 1 + (size_t)(r >> 8) % (600 * CHUNK);
    default: return 1 + (size_t)(r >> 8) % (3 * CHUNK);
  }
}

static void hash_pieces(const uint8_t *key, const uint8_t *data, size_t len, uint64_t seed, uint8_t out[DIGEST_LEN]) {
  chunker_blake3 h;
  if (key != NULL) {
    chunker_blake3_init_keyed(&h, key);
  } else {
    chunker_blake3_init(&h);
  }
  uint64_t state = seed;
  size_t pos = 0;
  while (pos < len) {
    size_t n = random_piece(&state);
    if (n > len - pos) n = len - pos;
    chunker_blake3_update(&h, data + pos, n);
    pos += n;
  }
  chunker_blake3_final(&h, out);
}

static void hash_oneshot(const uint8_t *key, const uint8_t *data, size_t len, uint8_t out[DIGEST_LEN]) {
  if (key != NULL) {
    chunker_blake3_keyed_hash(key, data, len, out);
  } else {
    chunker_blake3_hash(data, len, out);
  }
}

static void print_hex(const uint8_t d[DIGEST_LEN]) {
  for (size_t i = 0; i < DIGEST_LEN; i++) printf("%02x", d[i]);
  printf("\n");
}

static int parse_impl(const char *name, chunker_blake3_impl *impl) {
  static const struct {
    const char *name;
    chunker_blake3_impl impl;
  } NAMES[] = {{"auto", CHUNKER_BLAKE3_IMPL_AUTO},
               {"portable", CHUNKER_BLAKE3_IMPL_PORTABLE},
               {"sse41", CHUNKER_BLAKE3_IMPL_SSE41},
               {"avx2", CHUNKER_BLAKE3_IMPL_AVX2}};
  for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
    if (strcmp(name, NAMES[i].name) == 0) {
      *impl = NAMES[i].impl;
      return 0;
    }
  }
  return -1;
}

static const chunker_blake3_impl ALL_IMPLS[] = {CHUNKER_BLAKE3_IMPL_PORTABLE, CHUNKER_BLAKE3_IMPL_SSE41,
                                                CHUNKER_BLAKE3_IMPL_AVX2};
enum { IMPL_COUNT = sizeof ALL_IMPLS / sizeof ALL_IMPLS[0] };

static uint8_t *read_all(FILE *f, size_t *len_out) {
  size_t cap = 1 << 16, len = 0;
  uint8_t *buf = malloc(cap);
  if (buf == NULL) return NULL;
  for (;;) {
    if (len == cap) {
      cap *= 2;
      uint8_t *grown = realloc(buf, cap);
      if (grown == NULL) {
        free(buf);
        return NULL;
      }
      buf = grown;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  if (ferror(f)) {
    free(buf);
    return NULL;
  }
  *len_out = len;
  return buf;
}

static int gen(size_t len, uint64_t seed) {
  enum { BUF = 1 << 16 };
  static uint8_t buf[BUF];
  uint64_t state = seed;
  for (size_t done = 0; done < len;) {
    size_t n = len - done < BUF ? len - done : BUF;
    fill_random(buf, n, splitmix64(&state));
    if (fwrite(buf, 1, n, stdout) != n) return 1;
    done += n;
  }
  return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- selfcheck ---- */

static int g_failures;

static void expect_same(const uint8_t a[DIGEST_LEN], const uint8_t b[DIGEST_LEN], const char *what, size_t len) {
  if (memcmp(a, b, DIGEST_LEN) != 0) {
    if (g_failures < 20) {
      fprintf(stderr, "MISMATCH %s (impl %s) at length %zu\n", what, chunker_blake3_impl_name(), len);
    }
    g_failures++;
  }
}

static size_t build_lengths(size_t *lengths, size_t cap, uint64_t seed) {
  size_t n = 0;
  for (size_t len = 0; len <= 2200 && n < cap; len++) lengths[n++] = len;
  static const long DELTAS[] = {-65, -64, -63, -1, 0, 1, 63, 64, 65};
  static const size_t EXTRA_CHUNKS[] = {127, 128, 129, 255, 256, 257, 511, 512, 513, 1023, 1024, 1025};
  for (size_t k = 3; k <= 40 + sizeof EXTRA_CHUNKS / sizeof EXTRA_CHUNKS[0]; k++) {
    size_t chunks = k <= 40 ? k : EXTRA_CHUNKS[k - 41];
    for (size_t d = 0; d < sizeof DELTAS / sizeof DELTAS[0] && n < cap; d++) {
      lengths[n++] = (size_t)((long)(chunks * CHUNK) + DELTAS[d]);
    }
  }
  uint64_t state = seed;
  for (size_t i = 0; i < 60 && n < cap; i++) lengths[n++] = 1 + (size_t)(splitmix64(&state) % (3u << 20));
  return n;
}

static int selfcheck(void) {
  enum { MAX_LENGTHS = 4096, MAX_LEN = (3u << 20) + CHUNK * 1100 };
  static size_t lengths[MAX_LENGTHS];
  size_t count = build_lengths(lengths, MAX_LENGTHS, 12345);
  uint8_t *data = malloc(MAX_LEN);
  uint8_t (*reference)[DIGEST_LEN] = malloc(sizeof *reference * count);
  uint8_t (*reference_keyed)[DIGEST_LEN] = malloc(sizeof *reference_keyed * count);
  if (data == NULL || reference == NULL || reference_keyed == NULL) return 2;
  fill_random(data, MAX_LEN, 777);
  uint8_t key[KEY_LEN];
  fill_random(key, KEY_LEN, 4242);

  /* The portable one-shot is the reference here; check_blake3.sh ties every path to b3sum separately. */
  chunker_blake3_set_impl(CHUNKER_BLAKE3_IMPL_PORTABLE);
  for (size_t i = 0; i < count; i++) {
    hash_oneshot(NULL, data, lengths[i], reference[i]);
    hash_oneshot(key, data, lengths[i], reference_keyed[i]);
  }

  size_t tested = 0;
  for (size_t k = 0; k < IMPL_COUNT; k++) {
    if (chunker_blake3_set_impl(ALL_IMPLS[k]) != 0) continue;
    tested++;
    for (size_t i = 0; i < count; i++) {
      size_t len = lengths[i];
      uint8_t d[DIGEST_LEN];
      hash_oneshot(NULL, data, len, d);
      expect_same(d, reference[i], "one-shot", len);
      hash_pieces(NULL, data, len, 99 + i, d);
      expect_same(d, reference[i], "pieces", len);
      if (i % 7 == 0) {
        hash_oneshot(key, data, len, d);
        expect_same(d, reference_keyed[i], "keyed one-shot", len);
        hash_pieces(key, data, len, 5 + i, d);
        expect_same(d, reference_keyed[i], "keyed pieces", len);
      }
      if (len <= 5000) {
        chunker_blake3 h;
        chunker_blake3_init(&h);
        for (size_t b = 0; b < len; b++) chunker_blake3_update(&h, data + b, 1);
        chunker_blake3_final(&h, d);
        expect_same(d, reference[i], "byte-at-a-time", len);
      }
    }
    /* final() must leave the state usable: digests of growing prefixes from one hasher. */
    chunker_blake3 h;
    chunker_blake3_init(&h);
    size_t fed = 0;
    for (size_t i = 0; i < count; i++) {
      size_t len = lengths[i];
      if (len < fed) continue;
      chunker_blake3_update(&h, data + fed, len - fed);
      fed = len;
      uint8_t d[DIGEST_LEN];
      chunker_blake3_final(&h, d);
      expect_same(d, reference[i], "prefix", len);
    }
  }
  printf("selfcheck: %zu lengths x %zu implementations, %d mismatches\n", count, tested, g_failures);
  free(data);
  free(reference);
  free(reference_keyed);
  return g_failures == 0 ? 0 : 1;
}

static int usage(void) {
  fprintf(stderr,
          "usage: blake3_test [--impl auto|portable|sse41|avx2] [--pieces SEED] [--keyed KEYFILE] [FILE]\n"
          "       blake3_test --gen LEN SEED | --impls | --selfcheck\n");
  return 2;
}

int main(int argc, char **argv) {
  const char *path = NULL, *key_path = NULL;
  int pieces = 0;
  uint64_t piece_seed = 0;
  /* CHUNKER_BLAKE3_IMPL=portable|sse41|avx2 forces an implementation like --impl (which wins). */
  const char *env_impl = getenv("CHUNKER_BLAKE3_IMPL");
  if (env_impl != NULL && env_impl[0] != '\0') {
    chunker_blake3_impl impl;
    if (parse_impl(env_impl, &impl) != 0 || chunker_blake3_set_impl(impl) != 0) {
      fprintf(stderr, "blake3_test: CHUNKER_BLAKE3_IMPL=%s not usable here\n", env_impl);
      return 3;
    }
  }
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--gen") == 0 && i + 2 < argc) {
      return gen((size_t)strtoull(argv[i + 1], NULL, 10), strtoull(argv[i + 2], NULL, 10));
    } else if (strcmp(argv[i], "--impls") == 0) {
      static const char *NAMES[] = {"portable", "sse41", "avx2"};
      for (size_t k = 0; k < IMPL_COUNT; k++) {
        if (chunker_blake3_impl_supported(ALL_IMPLS[k])) printf("%s\n", NAMES[k]);
      }
      return 0;
    } else if (strcmp(argv[i], "--selfcheck") == 0) {
      return selfcheck();
    } else if (strcmp(argv[i], "--impl") == 0 && i + 1 < argc) {
      chunker_blake3_impl impl;
      if (parse_impl(argv[++i], &impl) != 0) return usage();
      if (chunker_blake3_set_impl(impl) != 0) {
        fprintf(stderr, "blake3_test: implementation %s not supported here\n", argv[i]);
        return 3;
      }
    } else if (strcmp(argv[i], "--pieces") == 0 && i + 1 < argc) {
      pieces = 1;
      piece_seed = strtoull(argv[++i], NULL, 10);
    } else if (strcmp(argv[i], "--keyed") == 0 && i + 1 < argc) {
      key_path = argv[++i];
    } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
      return usage();
    } else {
      path = argv[i];
    }
  }

  uint8_t key[KEY_LEN];
  if (key_path != NULL) {
    FILE *kf = fopen(key_path, "rb");
    if (kf == NULL || fread(key, 1, KEY_LEN, kf) != KEY_LEN) {
      fprintf(stderr, "blake3_test: need %d key bytes in %s\n", KEY_LEN, key_path);
      return 2;
    }
    fclose(kf);
  }

  FILE *f = path == NULL || strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    return 2;
  }
  size_t len = 0;
  uint8_t *data = read_all(f, &len);
  if (f != stdin) fclose(f);
  if (data == NULL) {
    fprintf(stderr, "blake3_test: read failed\n");
    return 2;
  }
  uint8_t d[DIGEST_LEN];
  const uint8_t *k = key_path != NULL ? key : NULL;
  if (pieces) {
    hash_pieces(k, data, len, piece_seed, d);
  } else {
    hash_oneshot(k, data, len, d);
  }
  print_hex(d);
  free(data);
  return 0;
}
