/*
 * MD5 of the same bytes under two running states at once: an upload needs each part's MD5
 * and the whole object's MD5, and both read exactly the same blocks. MD5 is one long chain
 * of dependent additions, so a single digest leaves most of a core's execution units idle;
 * stepping two independent states through each block side by side costs little more than
 * one (native/core/test/md5_pair_test.c checks both against libcrypto's MD5).
 */
#ifndef CHUNKER_MD5_PAIR_H
#define CHUNKER_MD5_PAIR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MD5_PAIR_DIGEST_BYTES 16u
#define MD5_PAIR_BLOCK_BYTES 64u

/* One MD5 computation: chaining state, a partial block and the total length. */
typedef struct {
  uint32_t state[4];
  uint8_t pending[MD5_PAIR_BLOCK_BYTES];
  size_t pending_len;
  uint64_t total_len;
} md5_stream;

void md5_stream_init(md5_stream *stream);

/* Feeds `len` bytes to both streams (either may be fed alone with md5_stream_update). */
void md5_pair_update(md5_stream *first, md5_stream *second, const uint8_t *data, size_t len);

void md5_stream_update(md5_stream *stream, const uint8_t *data, size_t len);

/* Pads, writes the digest and leaves `stream` spent (init it again to reuse it). */
void md5_stream_final(md5_stream *stream, uint8_t out[MD5_PAIR_DIGEST_BYTES]);

#ifdef __cplusplus
}
#endif

#endif
