/*
 * BLAKE3 (default hash and keyed hash, 32-byte output), written for the chunker from the BLAKE3
 * specification. Whole 1 KiB chunks are compressed several at a time with AVX2 (8 lanes) or SSE4.1
 * (4 lanes) when the CPU has them; the choice is made at run time, so no -m flags are needed.
 *
 * The hasher state is a plain struct (no heap): init, update any number of times, final. final does
 * not modify the state, so more input may follow it. The one-shot chunker_blake3_hash is faster than
 * init/update/final on the same bytes because it knows where the input ends.
 */
#ifndef CHUNKER_BLAKE3_H
#define CHUNKER_BLAKE3_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CHUNKER_BLAKE3_OUT_BYTES 32u
#define CHUNKER_BLAKE3_KEY_BYTES 32u
#define CHUNKER_BLAKE3_BLOCK_BYTES 64u
#define CHUNKER_BLAKE3_CHUNK_BYTES 1024u
/* The stack holds one chaining value per set bit of the completed-chunk count; 2^54 chunks of 1 KiB
   already cover a 64-bit byte count. */
#define CHUNKER_BLAKE3_MAX_DEPTH 54u

typedef struct {
  uint32_t key[8];
  uint64_t chunk_counter;       /* index of the buffered chunk = chunks already folded into the stack */
  uint16_t buf_len;             /* bytes in buf */
  uint8_t flags;                /* mode flags applied to every compression (0 or keyed) */
  uint8_t cv_stack_len;
  /* The last chunk seen, unhashed: only once more input arrives is it known not to be the root, and then
     it is hashed in a SIMD batch with the chunks that follow it. */
  uint8_t buf[CHUNKER_BLAKE3_CHUNK_BYTES];
  uint8_t cv_stack[CHUNKER_BLAKE3_MAX_DEPTH * CHUNKER_BLAKE3_OUT_BYTES];
} chunker_blake3;

void chunker_blake3_init(chunker_blake3 *h);
void chunker_blake3_init_keyed(chunker_blake3 *h, const uint8_t key[CHUNKER_BLAKE3_KEY_BYTES]);
void chunker_blake3_update(chunker_blake3 *h, const uint8_t *data, size_t len);
void chunker_blake3_final(const chunker_blake3 *h, uint8_t out[CHUNKER_BLAKE3_OUT_BYTES]);

/* One-shot hashes; data may be NULL when len is 0. */
void chunker_blake3_hash(const uint8_t *data, size_t len, uint8_t out[CHUNKER_BLAKE3_OUT_BYTES]);
void chunker_blake3_keyed_hash(const uint8_t key[CHUNKER_BLAKE3_KEY_BYTES], const uint8_t *data, size_t len,
                               uint8_t out[CHUNKER_BLAKE3_OUT_BYTES]);

/* Implementation selection, process-wide; meant for tests and benchmarks. AUTO picks the widest the CPU
   supports. The setters are safe to call concurrently with hashing (every hash sees one backend). */
typedef enum {
  CHUNKER_BLAKE3_IMPL_AUTO = 0,
  CHUNKER_BLAKE3_IMPL_PORTABLE = 1,
  CHUNKER_BLAKE3_IMPL_SSE41 = 2,
  CHUNKER_BLAKE3_IMPL_AVX2 = 3,
} chunker_blake3_impl;

/* Returns 0, or -1 (and changes nothing) if this CPU or build lacks the requested implementation. */
int chunker_blake3_set_impl(chunker_blake3_impl impl);
/* Nonzero: portable scalar code only; zero: back to AUTO. */
void chunker_blake3_force_portable(int on);
/* Whether set_impl would accept impl. */
int chunker_blake3_impl_supported(chunker_blake3_impl impl);
/* "portable", "sse41" or "avx2": the implementation hashing uses now. */
const char *chunker_blake3_impl_name(void);

#ifdef __cplusplus
}
#endif

#endif /* CHUNKER_BLAKE3_H */
