#include "md5_pair.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

/* The additive constants: the integer part of |sin(i + 1)| * 2^32 (RFC 1321, 3.4). */
static uint32_t sine_table[64];
static pthread_once_t sine_table_once = PTHREAD_ONCE_INIT;

static void fill_sine_table(void) {
  for (int i = 0; i < 64; i++) sine_table[i] = (uint32_t)floor(fabs(sin((double)(i + 1))) * 4294967296.0);
}

static uint32_t load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_le32(uint8_t *p, uint32_t value) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(value >> (8 * i));
}

#define ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
/* The four auxiliary functions, in forms with one operation fewer than the textbook ones. */
#define FN_F(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define FN_G(x, y, z) ((y) ^ ((z) & ((x) ^ (y))))
#define FN_H(x, y, z) ((x) ^ (y) ^ (z))
#define FN_I(x, y, z) ((y) ^ ((x) | ~(z)))
/* Which message word step i reads, per round. */
#define WORD(i) ((i) < 16 ? (i) : (i) < 32 ? (5 * (i) + 1) & 15 : (i) < 48 ? (3 * (i) + 5) & 15 : (7 * (i)) & 15)

#define STEP(fn, a, b, c, d, w, i, s) (a) = (b) + ROTL((a) + fn((b), (c), (d)) + (w)[WORD(i)] + sine_table[(i)], (s))

/* Step i on lane 1 (a1..d1, message w) and, interleaved, lane 2 (a2..d2, same message). */
#define STEP_PAIR(fn, a, b, c, d, i, s) \
  STEP(fn, a##1, b##1, c##1, d##1, w, i, s); \
  STEP(fn, a##2, b##2, c##2, d##2, w, i, s)
#define STEP_ONE(fn, a, b, c, d, i, s) STEP(fn, a##1, b##1, c##1, d##1, w, i, s)

/* Four steps, the registers rotating through a, b, c, d as the algorithm prescribes. */
#define FOUR(step, fn, i, s0, s1, s2, s3) \
  step(fn, a, b, c, d, (i), s0);           \
  step(fn, d, a, b, c, (i) + 1, s1);       \
  step(fn, c, d, a, b, (i) + 2, s2);       \
  step(fn, b, c, d, a, (i) + 3, s3)

#define ALL_STEPS(step)                 \
  FOUR(step, FN_F, 0, 7, 12, 17, 22);   \
  FOUR(step, FN_F, 4, 7, 12, 17, 22);   \
  FOUR(step, FN_F, 8, 7, 12, 17, 22);   \
  FOUR(step, FN_F, 12, 7, 12, 17, 22);  \
  FOUR(step, FN_G, 16, 5, 9, 14, 20);   \
  FOUR(step, FN_G, 20, 5, 9, 14, 20);   \
  FOUR(step, FN_G, 24, 5, 9, 14, 20);   \
  FOUR(step, FN_G, 28, 5, 9, 14, 20);   \
  FOUR(step, FN_H, 32, 4, 11, 16, 23);  \
  FOUR(step, FN_H, 36, 4, 11, 16, 23);  \
  FOUR(step, FN_H, 40, 4, 11, 16, 23);  \
  FOUR(step, FN_H, 44, 4, 11, 16, 23);  \
  FOUR(step, FN_I, 48, 6, 10, 15, 21);  \
  FOUR(step, FN_I, 52, 6, 10, 15, 21);  \
  FOUR(step, FN_I, 56, 6, 10, 15, 21);  \
  FOUR(step, FN_I, 60, 6, 10, 15, 21)

static void load_block(const uint8_t *block, uint32_t w[16]) {
  for (int i = 0; i < 16; i++) w[i] = load_le32(block + 4 * i);
}

static void blocks_one(uint32_t state[4], const uint8_t *data, size_t blocks) {
  uint32_t w[16];
  for (; blocks > 0; blocks--, data += MD5_PAIR_BLOCK_BYTES) {
    load_block(data, w);
    uint32_t a1 = state[0], b1 = state[1], c1 = state[2], d1 = state[3];
    ALL_STEPS(STEP_ONE);
    state[0] += a1, state[1] += b1, state[2] += c1, state[3] += d1;
  }
}

static void blocks_pair(uint32_t one[4], uint32_t two[4], const uint8_t *data, size_t blocks) {
  uint32_t w[16];
  for (; blocks > 0; blocks--, data += MD5_PAIR_BLOCK_BYTES) {
    load_block(data, w);
    uint32_t a1 = one[0], b1 = one[1], c1 = one[2], d1 = one[3];
    uint32_t a2 = two[0], b2 = two[1], c2 = two[2], d2 = two[3];
    ALL_STEPS(STEP_PAIR);
    one[0] += a1, one[1] += b1, one[2] += c1, one[3] += d1;
    two[0] += a2, two[1] += b2, two[2] += c2, two[3] += d2;
  }
}

void md5_stream_init(md5_stream *stream) {
  pthread_once(&sine_table_once, fill_sine_table);
  static const uint32_t initial[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
  memcpy(stream->state, initial, sizeof initial);
  stream->pending_len = 0;
  stream->total_len = 0;
}

void md5_stream_update(md5_stream *stream, const uint8_t *data, size_t len) {
  stream->total_len += len;
  if (stream->pending_len > 0) {
    size_t take = MD5_PAIR_BLOCK_BYTES - stream->pending_len;
    if (take > len) take = len;
    memcpy(stream->pending + stream->pending_len, data, take);
    stream->pending_len += take, data += take, len -= take;
    if (stream->pending_len < MD5_PAIR_BLOCK_BYTES) return;
    blocks_one(stream->state, stream->pending, 1);
    stream->pending_len = 0;
  }
  size_t whole = len / MD5_PAIR_BLOCK_BYTES;
  blocks_one(stream->state, data, whole);
  data += whole * MD5_PAIR_BLOCK_BYTES, len -= whole * MD5_PAIR_BLOCK_BYTES;
  memcpy(stream->pending, data, len);
  stream->pending_len = len;
}

void md5_pair_update(md5_stream *first, md5_stream *second, const uint8_t *data, size_t len) {
  if (first->pending_len != second->pending_len) {
    // Out of step (block boundaries fall at different bytes): each on its own.
    md5_stream_update(first, data, len);
    md5_stream_update(second, data, len);
    return;
  }
  // Complete a started block in both (the same bytes), then run whole blocks side by side.
  size_t head = first->pending_len == 0 ? 0 : MD5_PAIR_BLOCK_BYTES - first->pending_len;
  if (head > len) head = len;
  md5_stream_update(first, data, head);
  md5_stream_update(second, data, head);
  data += head, len -= head;
  size_t whole = len / MD5_PAIR_BLOCK_BYTES;
  blocks_pair(first->state, second->state, data, whole);
  first->total_len += whole * MD5_PAIR_BLOCK_BYTES;
  second->total_len += whole * MD5_PAIR_BLOCK_BYTES;
  data += whole * MD5_PAIR_BLOCK_BYTES, len -= whole * MD5_PAIR_BLOCK_BYTES;
  md5_stream_update(first, data, len);
  md5_stream_update(second, data, len);
}

void md5_stream_final(md5_stream *stream, uint8_t out[MD5_PAIR_DIGEST_BYTES]) {
  uint64_t bits = stream->total_len * 8;
  static const uint8_t padding[MD5_PAIR_BLOCK_BYTES] = {0x80};
  size_t pad = stream->pending_len < 56 ? 56 - stream->pending_len : 120 - stream->pending_len;
  md5_stream_update(stream, padding, pad);
  uint8_t length[8];
  for (int i = 0; i < 8; i++) length[i] = (uint8_t)(bits >> (8 * i));
  md5_stream_update(stream, length, sizeof length);
  for (int i = 0; i < 4; i++) store_le32(out + 4 * i, stream->state[i]);
}
