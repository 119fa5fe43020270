/* What the C core's test programs share: a CHECK that counts and reports failures without
 * stopping, a summary for the last line, and a seeded xorshift generator so every run
 * checks the same inputs. Each test program includes this once. */
#ifndef CHUNKER_TEST_CHECK_H
#define CHUNKER_TEST_CHECK_H

#include <stdint.h>
#include <stdio.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond, ...)                                   \
  do {                                                     \
    checks++;                                              \
    if (!(cond)) {                                         \
      failures++;                                          \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);                        \
      fputc('\n', stderr);                                 \
    }                                                      \
  } while (0)

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint32_t next_random(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng >> 11);
}

/* Prints "NAME: OK (N checks)" or the failure count; returns the exit status. */
static int check_summary(const char *name) {
  if (failures > 0) {
    fprintf(stderr, "%s: %d of %d checks failed\n", name, failures, checks);
    return 1;
  }
  printf("%s: OK (%d checks)\n", name, checks);
  return 0;
}

#endif
