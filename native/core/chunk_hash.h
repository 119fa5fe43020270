/*
 * Chunk digests: SHA-256 through OpenSSL's libcrypto (which uses the CPU's SHA extensions
 * when present) and BLAKE3 (native/core/blake3.c). Every digest is 32 raw bytes.
 */
#ifndef CHUNKER_CHUNK_HASH_H
#define CHUNKER_CHUNK_HASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHUNK_HASH_BYTES 32u

typedef enum {
  CHUNK_HASH_NONE = 0,
  CHUNK_HASH_SHA256 = 1,
  CHUNK_HASH_BLAKE3 = 2,
} chunk_hash_alg;

/* Per-thread hashing state (an OpenSSL digest context); reused across chunks. */
typedef struct chunk_hasher chunk_hasher;

chunk_hasher *chunk_hasher_new(void);
void chunk_hasher_free(chunk_hasher *hasher);

/* Returns 0 on success, -1 if libcrypto failed (reported by OpenSSL's error queue). */
int chunk_hash(chunk_hasher *hasher, chunk_hash_alg alg, const uint8_t *data, size_t len,
               uint8_t out[CHUNK_HASH_BYTES]);

/* Hashes `count` consecutive chunks of `src` whose lengths are given, into out[32*i]. */
int chunk_hash_many(chunk_hasher *hasher, chunk_hash_alg alg, const uint8_t *src, const uint32_t *lengths,
                    size_t count, uint8_t *out);

#ifdef __cplusplus
}
#endif

#endif
