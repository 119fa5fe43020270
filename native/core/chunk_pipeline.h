/*
 * Chunk-and-hash in one call, on several cores.
 *
 * The calling thread finds cut points (FastCDC is much faster than SHA-256) and publishes
 * each chunk as soon as its cut is known; helper threads hash published chunks while the
 * scan goes on; when the scan ends the caller joins the hashing. Cut points and digests
 * are exactly those of a sequential cdc_scan followed by chunk_hash_many.
 */
#ifndef CHUNKER_CHUNK_PIPELINE_H
#define CHUNKER_CHUNK_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "chunk_hash.h"
#include "fastcdc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Below this many input bytes waking helper threads costs more than it saves. */
#define CHUNK_PIPELINE_PARALLEL_MIN_BYTES (1u << 20)
#define CHUNK_PIPELINE_MAX_HELPERS 15u

typedef struct chunk_pipeline chunk_pipeline;

/* Starts `helpers` hashing threads (0 is allowed: everything then runs on the caller). */
chunk_pipeline *chunk_pipeline_new(unsigned helpers);
void chunk_pipeline_free(chunk_pipeline *pipeline);
unsigned chunk_pipeline_helpers(const chunk_pipeline *pipeline);

/*
 * Like cdc_scan, and also writes each chunk's digest to hashes[32*i] (nothing when alg is
 * CHUNK_HASH_NONE). `caller_hasher` is used by the calling thread only. Safe to call from
 * several threads: a call that finds the helpers busy runs on its caller alone.
 * Returns 0, or -1 if a digest failed.
 */
int chunk_pipeline_run(chunk_pipeline *pipeline, chunk_hasher *caller_hasher, const cdc_params *params,
                       const uint8_t *src, size_t n, int at_end, chunk_hash_alg alg, size_t capacity,
                       size_t byte_budget, uint32_t *lengths, uint64_t *gears, uint8_t *hashes, size_t *count,
                       size_t *consumed);

#ifdef __cplusplus
}
#endif

#endif
