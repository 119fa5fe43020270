/*
 * FastCDC content-defined chunking, bit-compatible with the `v2020` module of the Rust
 * `fastcdc` crate.
 *
 * Algorithm: Xia et al., "FastCDC: a Fast and Efficient Content-Defined Chunking Approach
 * for Data Deduplication" (USENIX ATC 2016) and its 2020 extension in IEEE Transactions on
 * Parallel and Distributed Systems ("The Design of Fast Content-Defined Chunking for Data
 * Deduplication Based Storage Systems"): a gear rolling hash, cut-point skipping below
 * the minimum size, normalized chunking (a stricter mask before the average size, a
 * looser one after it) and "rolling two bytes each time".
 *
 * What moves cut points: every parameter here (min, avg, max, normalization level, seed),
 * the gear table and the mask table. Changing any of them makes a store filled with the
 * old cut points deduplicate poorly against new data; record such changes in CHANGELOG.
 *
 * Plain C, no allocation, no Node: fuzzable and benchmarkable on its own.
 */
#ifndef CHUNKER_FASTCDC_H
#define CHUNKER_FASTCDC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bounds of the Rust crate; anything outside them is rejected, never clamped. */
#define CDC_MIN_SIZE_LOWER_BYTES 64u
#define CDC_MIN_SIZE_UPPER_BYTES 1048576u
#define CDC_AVG_SIZE_LOWER_BYTES 256u
#define CDC_AVG_SIZE_UPPER_BYTES 4194304u
#define CDC_MAX_SIZE_LOWER_BYTES 1024u
#define CDC_MAX_SIZE_UPPER_BYTES 16777216u
#define CDC_NORMALIZATION_MAX 3u

typedef enum {
  CDC_OK = 0,
  CDC_ERR_MIN_SIZE = 1,      /* min_size outside its bounds */
  CDC_ERR_AVG_SIZE = 2,      /* avg_size outside its bounds */
  CDC_ERR_MAX_SIZE = 3,      /* max_size outside its bounds */
  CDC_ERR_SIZE_ORDER = 4,    /* not min_size <= avg_size <= max_size */
  CDC_ERR_NORMALIZATION = 5, /* level above 3, or no mask exists for avg_size at that level */
} cdc_status;

typedef struct {
  uint32_t min_size;
  uint32_t avg_size;
  uint32_t max_size;
  uint32_t normalization;
  uint64_t seed;
  uint64_t mask_s;
  uint64_t mask_l;
  uint64_t mask_s_ls;
  uint64_t mask_l_ls;
  uint64_t gear[256];
  uint64_t gear_ls[256];
} cdc_params;

/* Validates the options and fills `params`. On error `params` is left unusable. */
cdc_status cdc_params_init(cdc_params *params, uint64_t min_size, uint64_t avg_size, uint64_t max_size,
                           uint32_t normalization, uint64_t seed);

/* A constant, human-readable description of a status code. */
const char *cdc_status_message(cdc_status status);

/*
 * Finds the first cut in src[0..n): returns the chunk length (1..min(n, max_size)) and
 * stores the gear value at the cut in *gear. n must be > 0. Deciding this cut
 * identically to a longer input requires n >= max_size unless src ends the input.
 */
size_t cdc_cut(const cdc_params *params, const uint8_t *src, size_t n, uint64_t *gear);

/*
 * Cuts successive chunks from src[0..n) and writes their lengths and gear values.
 * When `at_end` is 0 the input continues beyond n, so scanning stops before a chunk
 * whose start has fewer than max_size bytes after it (its cut could still move).
 * Stops after `capacity` chunks or once at least `byte_budget` bytes are covered.
 * Returns the number of chunks written; *consumed receives the bytes they cover.
 */
size_t cdc_scan(const cdc_params *params, const uint8_t *src, size_t n, int at_end, uint32_t *lengths,
                uint64_t *gears, size_t capacity, size_t byte_budget, size_t *consumed);

#ifdef __cplusplus
}
#endif

#endif
