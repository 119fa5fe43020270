/*
 * BLAKE3, written from the specification (O'Connor, Aumasson, Neves, Wilcox-O'Hearn, 2020).
 *
 * Layout of the work:
 *   - compress_portable: one 64-byte block, scalar. Used where batching cannot help: inputs of one chunk,
 *     the incremental hasher's final chunk, lone parents (tops of trees, the incremental stack).
 *   - hash_lanes_*: up to 8 independent "lanes" (whole or partial chunks, or 64-byte parent blocks)
 *     compressed side by side, one 32-bit word per SIMD lane, so the message schedule needs no shuffles.
 *   - hash_node (one-shot): left-balanced tree over an input whose end is known. Up to GROUP_CHUNKS
 *     chunks are hashed breadth first: every chunk's chaining value into a stack buffer, then each tree
 *     level's parents in lane batches too, because one-at-a-time parents would cost ~1 scalar
 *     compression per chunk (a quarter of the work at 8 lanes).
 *   - The incremental hasher keeps the last chunk unhashed until more input arrives, since only then is
 *     it known not to be the root; whole chunks before it are hashed in runs of lane batches, reduced to
 *     aligned power-of-two subtrees, and merged on a stack by the binary carry of the chunk count.
 */
#include "blake3.h"

#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define B3_X86 1
#include <immintrin.h>
#else
#define B3_X86 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define B3_NOINLINE __attribute__((noinline))
#define B3_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define B3_NOINLINE
#define B3_ALWAYS_INLINE inline
#endif

enum {
  BLOCK_LEN = CHUNKER_BLAKE3_BLOCK_BYTES,        /* bytes per compression */
  CHUNK_LEN = CHUNKER_BLAKE3_CHUNK_BYTES,        /* bytes per leaf of the tree */
  OUT_LEN = CHUNKER_BLAKE3_OUT_BYTES,            /* bytes of a chaining value and of our digest */
  ROUNDS = 7,
  CACHE_LINE = 64,                               /* bytes; prefetch granularity */
  MAX_LANES = 8,                                 /* widest backend: AVX2, 8 x 32-bit */
  /* Chunks hashed breadth-first per group. 256 keeps the chaining values (8 KiB) in L1 and leaves one
     scalar parent per 256 chunks above the groups, which is noise. */
  GROUP_CHUNKS = 256,
};

enum {
  FLAG_CHUNK_START = 1u << 0,
  FLAG_CHUNK_END = 1u << 1,
  FLAG_PARENT = 1u << 2,
  FLAG_ROOT = 1u << 3,
  FLAG_KEYED_HASH = 1u << 4,
};

/* Same constants as SHA-256's initial hash value; also the key of the unkeyed mode. */
static const uint32_t IV[8] = {0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
                               0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u};

/* Message word order per round. Row 0 is the identity and row r+1 is row r reordered by the
   specification's permutation (2,6,3,10,7,0,4,13,1,11,12,5,9,14,15,8), so rounds index the original
   words instead of moving them. */
static const uint8_t SCHEDULE[ROUNDS][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {2, 6, 3, 10, 7, 0, 4, 13, 1, 11, 12, 5, 9, 14, 15, 8},
    {3, 4, 10, 12, 13, 2, 7, 14, 6, 5, 9, 0, 11, 15, 8, 1},
    {10, 7, 12, 9, 14, 3, 13, 15, 4, 0, 11, 2, 5, 8, 1, 6},
    {12, 13, 9, 11, 15, 10, 14, 8, 7, 2, 5, 3, 0, 1, 6, 4},
    {9, 14, 11, 5, 8, 12, 15, 1, 13, 3, 0, 10, 2, 6, 4, 7},
    {11, 15, 5, 0, 1, 9, 8, 6, 14, 10, 2, 12, 3, 4, 7, 13},
};

static inline uint32_t load32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void store32(uint8_t *p, uint32_t w) {
  p[0] = (uint8_t)w;
  p[1] = (uint8_t)(w >> 8);
  p[2] = (uint8_t)(w >> 16);
  p[3] = (uint8_t)(w >> 24);
}

static inline void load_words8(uint32_t w[8], const uint8_t *p) {
  for (size_t i = 0; i < 8; i++) w[i] = load32(p + 4 * i);
}

static inline void store_words8(uint8_t *p, const uint32_t w[8]) {
  for (size_t i = 0; i < 8; i++) store32(p + 4 * i, w[i]);
}

static inline unsigned popcount64(uint64_t x) {
#if defined(__GNUC__) || defined(__clang__)
  return (unsigned)__builtin_popcountll(x);
#else
  unsigned n = 0;
  for (; x != 0; x &= x - 1) n++;
  return n;
#endif
}

/* ---------------------------------------------------------------------------------------------------- */
/* Portable compression                                                                                 */

static inline uint32_t rotr32(uint32_t x, unsigned n) { return (x >> n) | (x << (32 - n)); }

static B3_ALWAYS_INLINE void g1(uint32_t v[16], size_t a, size_t b, size_t c, size_t d, uint32_t x, uint32_t y) {
  v[a] = v[a] + v[b] + x;
  v[d] = rotr32(v[d] ^ v[a], 16);
  v[c] = v[c] + v[d];
  v[b] = rotr32(v[b] ^ v[c], 12);
  v[a] = v[a] + v[b] + y;
  v[d] = rotr32(v[d] ^ v[a], 8);
  v[c] = v[c] + v[d];
  v[b] = rotr32(v[b] ^ v[c], 7);
}

/* Called with a literal round number so every schedule lookup folds to a constant register/offset. */
static B3_ALWAYS_INLINE void round1(uint32_t v[16], const uint32_t m[16], size_t r) {
  const uint8_t *s = SCHEDULE[r];
  g1(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
  g1(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
  g1(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
  g1(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
  g1(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
  g1(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
  g1(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
  g1(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
}

/* Chaining-value output of one compression (the first 8 words; the other 8 only matter for longer
   output). cv and out may alias; block is fully read before out is written. */
static void compress_portable(const uint32_t cv[8], const uint8_t block[BLOCK_LEN], uint32_t block_len,
                              uint64_t counter, uint32_t flags, uint32_t out[8]) {
  uint32_t m[16];
  for (size_t i = 0; i < 16; i++) m[i] = load32(block + 4 * i);
  uint32_t v[16] = {cv[0], cv[1], cv[2],  cv[3],  cv[4],           cv[5],
                    cv[6], cv[7], IV[0],  IV[1],  IV[2],           IV[3],
                    (uint32_t)counter, (uint32_t)(counter >> 32), block_len, flags};
  round1(v, m, 0);
  round1(v, m, 1);
  round1(v, m, 2);
  round1(v, m, 3);
  round1(v, m, 4);
  round1(v, m, 5);
  round1(v, m, 6);
  for (size_t i = 0; i < 8; i++) out[i] = v[i] ^ v[i + 8];
}

/* Parent node: block is left CV || right CV. out may alias block (the stack merges in place). */
static void compress_parent(const uint32_t key[8], uint32_t flags, const uint8_t block[BLOCK_LEN],
                            uint8_t out[OUT_LEN]) {
  uint32_t cv[8];
  compress_portable(key, block, BLOCK_LEN, 0, flags | FLAG_PARENT, cv);
  store_words8(out, cv);
}

/* Hashes one chunk of 0..CHUNK_LEN bytes; extra_flags is FLAG_ROOT for a single-chunk input. */
static void hash_one_chunk(const uint32_t key[8], uint32_t flags, const uint8_t *data, size_t len,
                           uint64_t counter, uint32_t extra_flags, uint8_t out[OUT_LEN]) {
  uint32_t cv[8];
  memcpy(cv, key, sizeof cv);
  uint32_t start = FLAG_CHUNK_START;
  for (; len > BLOCK_LEN; data += BLOCK_LEN, len -= BLOCK_LEN) {
    compress_portable(cv, data, BLOCK_LEN, counter, flags | start, cv);
    start = 0;
  }
  uint8_t last[BLOCK_LEN] = {0}; /* the final block is zero padded */
  if (len > 0) memcpy(last, data, len);
  compress_portable(cv, last, (uint32_t)len, counter, flags | start | FLAG_CHUNK_END | extra_flags, cv);
  store_words8(out, cv);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Lane batches                                                                                         */

/* Up to MAX_LANES independent chains of compressions. A lane is a chunk (1..16 blocks, chaining from the
   key) or a parent (one 64-byte block). Unused lanes repeat lane 0 so SIMD code needs no special case;
   their results are not stored. */
typedef struct {
  const uint8_t *in[MAX_LANES];  /* readable for blocks * BLOCK_LEN bytes */
  uint32_t counter_lo[MAX_LANES];
  uint32_t counter_hi[MAX_LANES];
  uint32_t last_block[MAX_LANES]; /* index of the lane's final block */
  uint32_t last_len[MAX_LANES];   /* bytes in the final block, 1..BLOCK_LEN */
  /* Input of the next batch: the kernels prefetch it a slice per block. Eight lanes 1 KiB apart defeat
     the hardware stream prefetchers at every batch start, costing ~10% on inputs beyond the caches. */
  const uint8_t *prefetch;
  size_t prefetch_len;
  size_t prefetch_step;           /* bytes per block, whole cache lines; set by job_finish */
  const uint32_t *key;
  uint32_t flags;                 /* on every block */
  uint32_t flags_start;           /* added on block 0 */
  uint32_t flags_end;             /* added on each lane's final block */
  uint32_t blocks;                /* max over lanes of last_block + 1 */
  uint32_t common_blocks;         /* min over lanes of last_block + 1: no lane has finished before this */
  size_t lanes;                   /* lanes whose output is wanted */
} lane_job;

static void job_set_lane(lane_job *job, size_t lane, const uint8_t *in, uint64_t counter, size_t len) {
  uint32_t last = (uint32_t)((len - 1) / BLOCK_LEN);
  job->in[lane] = in;
  job->counter_lo[lane] = (uint32_t)counter;
  job->counter_hi[lane] = (uint32_t)(counter >> 32);
  job->last_block[lane] = last;
  job->last_len[lane] = (uint32_t)len - last * BLOCK_LEN;
}

static void job_finish(lane_job *job, size_t lanes) {
  job->lanes = lanes;
  uint32_t lo = job->last_block[0], hi = job->last_block[0];
  for (size_t i = 1; i < lanes; i++) {
    if (job->last_block[i] < lo) lo = job->last_block[i];
    if (job->last_block[i] > hi) hi = job->last_block[i];
  }
  for (size_t i = lanes; i < MAX_LANES; i++) {
    job->in[i] = job->in[0];
    job->counter_lo[i] = job->counter_lo[0];
    job->counter_hi[i] = job->counter_hi[0];
    job->last_block[i] = job->last_block[0];
    job->last_len[i] = job->last_len[0];
  }
  job->blocks = hi + 1;
  job->common_blocks = lo + 1;
  job->prefetch_step = (job->prefetch_len / job->blocks + CACHE_LINE - 1) & ~(size_t)(CACHE_LINE - 1);
}

/* Writes lane i's chaining value to out + 32*i for i < job->lanes. All input of a block is read before
   any output is written, which the in-place parent levels rely on. */
typedef void (*lanes_fn)(const lane_job *job, uint8_t *out);

#if B3_X86
/* Block b's share of the next batch's input, so the whole batch is in cache when the kernel returns. */
static inline void prefetch_slice(const lane_job *job, uint32_t b) {
  size_t lo = job->prefetch_step * b, hi = lo + job->prefetch_step;
  if (hi > job->prefetch_len) hi = job->prefetch_len;
  for (size_t at = lo; at < hi; at += CACHE_LINE) _mm_prefetch((const char *)(job->prefetch + at), _MM_HINT_T0);
}
#endif

static void hash_lanes_portable(const lane_job *job, uint8_t *out) {
  for (size_t lane = 0; lane < job->lanes; lane++) {
    uint32_t cv[8];
    memcpy(cv, job->key, sizeof cv);
    uint64_t counter = (uint64_t)job->counter_hi[lane] << 32 | job->counter_lo[lane];
    uint32_t last = job->last_block[lane];
    for (uint32_t b = 0; b <= last; b++) {
      uint32_t flags = job->flags | (b == 0 ? job->flags_start : 0) | (b == last ? job->flags_end : 0);
      uint32_t len = b == last ? job->last_len[lane] : BLOCK_LEN;
      compress_portable(cv, job->in[lane] + (size_t)b * BLOCK_LEN, len, counter, flags, cv);
    }
    store_words8(out + OUT_LEN * lane, cv);
  }
}

#if B3_X86

/* Rotations by whole bytes are one byte shuffle (the others need two shifts and an or). Shuffle masks
   rotating each 32-bit word right by 16 and by 8; the AVX2 kernel uses both 128-bit halves. */
static const uint8_t ROTR16_SHUFFLE[32] __attribute__((aligned(32))) = {
    2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13};
static const uint8_t ROTR8_SHUFFLE[32] __attribute__((aligned(32))) = {
    1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0, 5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12};

/* Hides a mask's address from the optimizer so each shuffle reads it from memory as a folded operand.
   Otherwise GCC pins both masks in registers for the whole kernel, and with 16 vector registers it then
   spills state in the middle of G's dependency chain (store then immediate reload): ~14% slower on Zen 3. */
static B3_ALWAYS_INLINE const uint8_t *opaque(const uint8_t *p) {
  __asm__("" : "+r"(p));
  return p;
}

/* ---- SSE4.1: 4 lanes ---- */

#define B3_SSE41_INLINE static B3_ALWAYS_INLINE __attribute__((target("sse4.1")))

B3_SSE41_INLINE __m128i add4(__m128i a, __m128i b) { return _mm_add_epi32(a, b); }
B3_SSE41_INLINE __m128i xor4(__m128i a, __m128i b) { return _mm_xor_si128(a, b); }
B3_SSE41_INLINE __m128i rotr16_4(__m128i x) {
  return _mm_shuffle_epi8(x, _mm_load_si128((const __m128i *)opaque(ROTR16_SHUFFLE)));
}
B3_SSE41_INLINE __m128i rotr8_4(__m128i x) {
  return _mm_shuffle_epi8(x, _mm_load_si128((const __m128i *)opaque(ROTR8_SHUFFLE)));
}
B3_SSE41_INLINE __m128i rotr12_4(__m128i x) { return _mm_or_si128(_mm_srli_epi32(x, 12), _mm_slli_epi32(x, 20)); }
B3_SSE41_INLINE __m128i rotr7_4(__m128i x) { return _mm_or_si128(_mm_srli_epi32(x, 7), _mm_slli_epi32(x, 25)); }

/* Same pairing of independent G applications as the AVX2 kernel; see g8_pair. */
B3_SSE41_INLINE void g4_pair(__m128i v[16], size_t a, size_t b, size_t c, size_t d, __m128i x, __m128i y,
                             size_t e, size_t f, size_t g, size_t h, __m128i z, __m128i w) {
  v[a] = add4(add4(v[a], x), v[b]);
  v[e] = add4(add4(v[e], z), v[f]);
  v[d] = rotr16_4(xor4(v[d], v[a]));
  v[h] = rotr16_4(xor4(v[h], v[e]));
  v[c] = add4(v[c], v[d]);
  v[g] = add4(v[g], v[h]);
  v[b] = rotr12_4(xor4(v[b], v[c]));
  v[f] = rotr12_4(xor4(v[f], v[g]));
  v[a] = add4(add4(v[a], y), v[b]);
  v[e] = add4(add4(v[e], w), v[f]);
  v[d] = rotr8_4(xor4(v[d], v[a]));
  v[h] = rotr8_4(xor4(v[h], v[e]));
  v[c] = add4(v[c], v[d]);
  v[g] = add4(v[g], v[h]);
  v[b] = rotr7_4(xor4(v[b], v[c]));
  v[f] = rotr7_4(xor4(v[f], v[g]));
}

B3_SSE41_INLINE void round4(__m128i v[16], const __m128i m[16], size_t r) {
  const uint8_t *s = SCHEDULE[r];
  g4_pair(v, 0, 4, 8, 12, m[s[0]], m[s[1]], 1, 5, 9, 13, m[s[2]], m[s[3]]);
  g4_pair(v, 2, 6, 10, 14, m[s[4]], m[s[5]], 3, 7, 11, 15, m[s[6]], m[s[7]]);
  g4_pair(v, 0, 5, 10, 15, m[s[8]], m[s[9]], 1, 6, 11, 12, m[s[10]], m[s[11]]);
  g4_pair(v, 2, 7, 8, 13, m[s[12]], m[s[13]], 3, 4, 9, 14, m[s[14]], m[s[15]]);
}

/* Rows (one lane's 4 consecutive words each) to columns (one word of every lane each), and back. */
B3_SSE41_INLINE void transpose4(__m128i x[4]) {
  __m128i t0 = _mm_unpacklo_epi32(x[0], x[1]);
  __m128i t1 = _mm_unpackhi_epi32(x[0], x[1]);
  __m128i t2 = _mm_unpacklo_epi32(x[2], x[3]);
  __m128i t3 = _mm_unpackhi_epi32(x[2], x[3]);
  x[0] = _mm_unpacklo_epi64(t0, t2);
  x[1] = _mm_unpackhi_epi64(t0, t2);
  x[2] = _mm_unpacklo_epi64(t1, t3);
  x[3] = _mm_unpackhi_epi64(t1, t3);
}

enum { SSE41_LANES = 4 };

static __attribute__((target("sse4.1"))) void hash_lanes_sse41(const lane_job *job, uint8_t *out) {
  __m128i cv[8];
  for (size_t i = 0; i < 8; i++) cv[i] = _mm_set1_epi32((int)job->key[i]);
  const __m128i counter_lo = _mm_loadu_si128((const __m128i *)job->counter_lo);
  const __m128i counter_hi = _mm_loadu_si128((const __m128i *)job->counter_hi);
  const __m128i last_block = _mm_loadu_si128((const __m128i *)job->last_block);
  const __m128i last_len = _mm_loadu_si128((const __m128i *)job->last_len);
  const __m128i full_len = _mm_set1_epi32(BLOCK_LEN);
  const __m128i end_flags = _mm_set1_epi32((int)job->flags_end);
  for (uint32_t b = 0; b < job->blocks; b++) {
    prefetch_slice(job, b);
    const size_t offset = (size_t)b * BLOCK_LEN;
    __m128i m[16];
    for (size_t q = 0; q < 4; q++) {
      __m128i rows[4];
      for (size_t lane = 0; lane < SSE41_LANES; lane++) {
        rows[lane] = _mm_loadu_si128((const __m128i *)(job->in[lane] + offset + 16 * q));
      }
      transpose4(rows);
      for (size_t i = 0; i < 4; i++) m[4 * q + i] = rows[i];
    }
    const __m128i bvec = _mm_set1_epi32((int)b);
    const __m128i is_last = _mm_cmpeq_epi32(bvec, last_block);
    const uint32_t uniform_flags = job->flags | (b == 0 ? job->flags_start : 0);
    __m128i v[16];
    for (size_t i = 0; i < 8; i++) v[i] = cv[i];
    for (size_t i = 0; i < 4; i++) v[8 + i] = _mm_set1_epi32((int)IV[i]);
    v[12] = counter_lo;
    v[13] = counter_hi;
    v[14] = _mm_blendv_epi8(full_len, last_len, is_last);
    v[15] = _mm_or_si128(_mm_set1_epi32((int)uniform_flags), _mm_and_si128(is_last, end_flags));
    round4(v, m, 0);
    round4(v, m, 1);
    round4(v, m, 2);
    round4(v, m, 3);
    round4(v, m, 4);
    round4(v, m, 5);
    round4(v, m, 6);
    if (b < job->common_blocks) {
      for (size_t i = 0; i < 8; i++) cv[i] = xor4(v[i], v[i + 8]);
    } else {
      /* Lanes past their final block keep their chaining value. */
      const __m128i done = _mm_cmpgt_epi32(bvec, last_block);
      for (size_t i = 0; i < 8; i++) cv[i] = _mm_blendv_epi8(xor4(v[i], v[i + 8]), cv[i], done);
    }
  }
  transpose4(cv);
  transpose4(cv + 4);
  for (size_t lane = 0; lane < job->lanes; lane++) {
    _mm_storeu_si128((__m128i *)(out + OUT_LEN * lane), cv[lane]);
    _mm_storeu_si128((__m128i *)(out + OUT_LEN * lane + 16), cv[4 + lane]);
  }
}

/* ---- AVX2: 8 lanes ---- */

#define B3_AVX2_INLINE static B3_ALWAYS_INLINE __attribute__((target("avx2")))

B3_AVX2_INLINE __m256i add8(__m256i a, __m256i b) { return _mm256_add_epi32(a, b); }
B3_AVX2_INLINE __m256i xor8(__m256i a, __m256i b) { return _mm256_xor_si256(a, b); }
B3_AVX2_INLINE __m256i rotr16_8(__m256i x) {
  return _mm256_shuffle_epi8(x, _mm256_load_si256((const __m256i *)opaque(ROTR16_SHUFFLE)));
}
B3_AVX2_INLINE __m256i rotr8_8(__m256i x) {
  return _mm256_shuffle_epi8(x, _mm256_load_si256((const __m256i *)opaque(ROTR8_SHUFFLE)));
}
B3_AVX2_INLINE __m256i rotr12_8(__m256i x) {
  return _mm256_or_si256(_mm256_srli_epi32(x, 12), _mm256_slli_epi32(x, 20));
}
B3_AVX2_INLINE __m256i rotr7_8(__m256i x) {
  return _mm256_or_si256(_mm256_srli_epi32(x, 7), _mm256_slli_epi32(x, 25));
}

/* Two G applications (independent: distinct columns or distinct diagonals) interleaved step by step.
   Pairs are the sweet spot with 16 ymm registers on GCC: one G at a time leaves the out-of-order core
   waiting on a single dependency chain, while all four interleaved makes GCC spill state on the chain
   (4 at once measured ~15% slower than pairs on Zen 3, one at a time ~3% slower). */
B3_AVX2_INLINE void g8_pair(__m256i v[16], size_t a, size_t b, size_t c, size_t d, __m256i x, __m256i y,
                            size_t e, size_t f, size_t g, size_t h, __m256i z, __m256i w) {
  v[a] = add8(add8(v[a], x), v[b]);
  v[e] = add8(add8(v[e], z), v[f]);
  v[d] = rotr16_8(xor8(v[d], v[a]));
  v[h] = rotr16_8(xor8(v[h], v[e]));
  v[c] = add8(v[c], v[d]);
  v[g] = add8(v[g], v[h]);
  v[b] = rotr12_8(xor8(v[b], v[c]));
  v[f] = rotr12_8(xor8(v[f], v[g]));
  v[a] = add8(add8(v[a], y), v[b]);
  v[e] = add8(add8(v[e], w), v[f]);
  v[d] = rotr8_8(xor8(v[d], v[a]));
  v[h] = rotr8_8(xor8(v[h], v[e]));
  v[c] = add8(v[c], v[d]);
  v[g] = add8(v[g], v[h]);
  v[b] = rotr7_8(xor8(v[b], v[c]));
  v[f] = rotr7_8(xor8(v[f], v[g]));
}

/* Columns (0,4,8,12)..(3,7,11,15), then diagonals (0,5,10,15), (1,6,11,12), (2,7,8,13), (3,4,9,14). */
B3_AVX2_INLINE void round8(__m256i v[16], const __m256i m[16], size_t r) {
  const uint8_t *s = SCHEDULE[r];
  g8_pair(v, 0, 4, 8, 12, m[s[0]], m[s[1]], 1, 5, 9, 13, m[s[2]], m[s[3]]);
  g8_pair(v, 2, 6, 10, 14, m[s[4]], m[s[5]], 3, 7, 11, 15, m[s[6]], m[s[7]]);
  g8_pair(v, 0, 5, 10, 15, m[s[8]], m[s[9]], 1, 6, 11, 12, m[s[10]], m[s[11]]);
  g8_pair(v, 2, 7, 8, 13, m[s[12]], m[s[13]], 3, 4, 9, 14, m[s[14]], m[s[15]]);
}

/* 8x8 transpose of 32-bit words: pairs of words within 128-bit halves, then pairs of pairs, then the
   halves themselves. Its own inverse, so it serves both message loads and chaining-value stores. */
B3_AVX2_INLINE void transpose8(__m256i x[8]) {
  __m256i t0 = _mm256_unpacklo_epi32(x[0], x[1]);
  __m256i t1 = _mm256_unpackhi_epi32(x[0], x[1]);
  __m256i t2 = _mm256_unpacklo_epi32(x[2], x[3]);
  __m256i t3 = _mm256_unpackhi_epi32(x[2], x[3]);
  __m256i t4 = _mm256_unpacklo_epi32(x[4], x[5]);
  __m256i t5 = _mm256_unpackhi_epi32(x[4], x[5]);
  __m256i t6 = _mm256_unpacklo_epi32(x[6], x[7]);
  __m256i t7 = _mm256_unpackhi_epi32(x[6], x[7]);
  __m256i u0 = _mm256_unpacklo_epi64(t0, t2);
  __m256i u1 = _mm256_unpackhi_epi64(t0, t2);
  __m256i u2 = _mm256_unpacklo_epi64(t1, t3);
  __m256i u3 = _mm256_unpackhi_epi64(t1, t3);
  __m256i u4 = _mm256_unpacklo_epi64(t4, t6);
  __m256i u5 = _mm256_unpackhi_epi64(t4, t6);
  __m256i u6 = _mm256_unpacklo_epi64(t5, t7);
  __m256i u7 = _mm256_unpackhi_epi64(t5, t7);
  x[0] = _mm256_permute2x128_si256(u0, u4, 0x20);
  x[1] = _mm256_permute2x128_si256(u1, u5, 0x20);
  x[2] = _mm256_permute2x128_si256(u2, u6, 0x20);
  x[3] = _mm256_permute2x128_si256(u3, u7, 0x20);
  x[4] = _mm256_permute2x128_si256(u0, u4, 0x31);
  x[5] = _mm256_permute2x128_si256(u1, u5, 0x31);
  x[6] = _mm256_permute2x128_si256(u2, u6, 0x31);
  x[7] = _mm256_permute2x128_si256(u3, u7, 0x31);
}

B3_AVX2_INLINE void load_block8(__m256i m[16], const lane_job *job, uint32_t b) {
  const size_t offset = (size_t)b * BLOCK_LEN;
  for (size_t lane = 0; lane < MAX_LANES; lane++) {
    m[lane] = _mm256_loadu_si256((const __m256i *)(job->in[lane] + offset));
    m[8 + lane] = _mm256_loadu_si256((const __m256i *)(job->in[lane] + offset + 32));
  }
  transpose8(m);
  transpose8(m + 8);
}

static __attribute__((target("avx2"))) void hash_lanes_avx2(const lane_job *job, uint8_t *out) {
  __m256i cv[8];
  for (size_t i = 0; i < 8; i++) cv[i] = _mm256_set1_epi32((int)job->key[i]);
  const __m256i counter_lo = _mm256_loadu_si256((const __m256i *)job->counter_lo);
  const __m256i counter_hi = _mm256_loadu_si256((const __m256i *)job->counter_hi);
  const __m256i last_block = _mm256_loadu_si256((const __m256i *)job->last_block);
  const __m256i last_len = _mm256_loadu_si256((const __m256i *)job->last_len);
  const __m256i full_len = _mm256_set1_epi32(BLOCK_LEN);
  const __m256i end_flags = _mm256_set1_epi32((int)job->flags_end);
  for (uint32_t b = 0; b < job->blocks; b++) {
    prefetch_slice(job, b);
    __m256i m[16];
    load_block8(m, job, b);
    const __m256i bvec = _mm256_set1_epi32((int)b);
    const __m256i is_last = _mm256_cmpeq_epi32(bvec, last_block);
    const uint32_t uniform_flags = job->flags | (b == 0 ? job->flags_start : 0);
    __m256i v[16];
    for (size_t i = 0; i < 8; i++) v[i] = cv[i];
    for (size_t i = 0; i < 4; i++) v[8 + i] = _mm256_set1_epi32((int)IV[i]);
    v[12] = counter_lo;
    v[13] = counter_hi;
    v[14] = _mm256_blendv_epi8(full_len, last_len, is_last);
    v[15] = _mm256_or_si256(_mm256_set1_epi32((int)uniform_flags), _mm256_and_si256(is_last, end_flags));
    round8(v, m, 0);
    round8(v, m, 1);
    round8(v, m, 2);
    round8(v, m, 3);
    round8(v, m, 4);
    round8(v, m, 5);
    round8(v, m, 6);
    if (b < job->common_blocks) {
      for (size_t i = 0; i < 8; i++) cv[i] = xor8(v[i], v[i + 8]);
    } else {
      const __m256i done = _mm256_cmpgt_epi32(bvec, last_block);
      for (size_t i = 0; i < 8; i++) cv[i] = _mm256_blendv_epi8(xor8(v[i], v[i + 8]), cv[i], done);
    }
  }
  transpose8(cv);
  for (size_t lane = 0; lane < job->lanes; lane++) {
    _mm256_storeu_si256((__m256i *)(out + OUT_LEN * lane), cv[lane]);
  }
}

#endif /* B3_X86 */

/* ---------------------------------------------------------------------------------------------------- */
/* Backend selection                                                                                    */

typedef struct {
  lanes_fn hash;
  size_t lanes; /* lanes per call worth filling */
  const char *name;
} backend;

/* Indexed by chunker_blake3_impl; AUTO's slot is unused. The portable backend takes full batches too,
   which only saves call overhead. */
static const backend BACKENDS[] = {
    {hash_lanes_portable, MAX_LANES, "portable"},
    {hash_lanes_portable, MAX_LANES, "portable"},
#if B3_X86
    {hash_lanes_sse41, 4, "sse41"},
    {hash_lanes_avx2, 8, "avx2"},
#endif
};

/* -1 until first use. Relaxed atomics: every value stored is a valid choice, and detection is idempotent. */
static int g_impl = -1;

int chunker_blake3_impl_supported(chunker_blake3_impl impl) {
  switch (impl) {
    case CHUNKER_BLAKE3_IMPL_AUTO:
    case CHUNKER_BLAKE3_IMPL_PORTABLE:
      return 1;
#if B3_X86
    case CHUNKER_BLAKE3_IMPL_SSE41:
      __builtin_cpu_init();
      return __builtin_cpu_supports("sse4.1") ? 1 : 0;
    case CHUNKER_BLAKE3_IMPL_AVX2:
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
    case CHUNKER_BLAKE3_IMPL_SSE41:
    case CHUNKER_BLAKE3_IMPL_AVX2:
      return 0;
#endif
  }
  return 0;
}

static int detect_best(void) {
  if (chunker_blake3_impl_supported(CHUNKER_BLAKE3_IMPL_AVX2)) return CHUNKER_BLAKE3_IMPL_AVX2;
  if (chunker_blake3_impl_supported(CHUNKER_BLAKE3_IMPL_SSE41)) return CHUNKER_BLAKE3_IMPL_SSE41;
  return CHUNKER_BLAKE3_IMPL_PORTABLE;
}

static void store_impl(int impl) {
#if defined(__GNUC__) || defined(__clang__)
  __atomic_store_n(&g_impl, impl, __ATOMIC_RELAXED);
#else
  g_impl = impl;
#endif
}

static const backend *current_backend(void) {
#if defined(__GNUC__) || defined(__clang__)
  int impl = __atomic_load_n(&g_impl, __ATOMIC_RELAXED);
#else
  int impl = g_impl;
#endif
  if (impl < 0) {
    impl = detect_best();
    store_impl(impl);
  }
  return &BACKENDS[impl];
}

int chunker_blake3_set_impl(chunker_blake3_impl impl) {
  if (!chunker_blake3_impl_supported(impl)) return -1;
  store_impl(impl == CHUNKER_BLAKE3_IMPL_AUTO ? detect_best() : (int)impl);
  return 0;
}

void chunker_blake3_force_portable(int on) {
  store_impl(on ? CHUNKER_BLAKE3_IMPL_PORTABLE : detect_best());
}

const char *chunker_blake3_impl_name(void) { return current_backend()->name; }

/* ---------------------------------------------------------------------------------------------------- */
/* Tree                                                                                                 */

/* Chaining values (none of them the root) of a run of chunks numbered from counter: head, if not NULL, is
   one whole chunk, followed by the ceil(len / CHUNK_LEN) chunks of data. Returns the number of chunks. */
static size_t chunk_cvs(const backend *be, const uint32_t key[8], uint32_t flags, const uint8_t *head,
                        const uint8_t *data, size_t len, uint64_t counter, uint8_t *cvs) {
  const size_t skip = head != NULL ? 1 : 0;
  const size_t n = skip + (len + CHUNK_LEN - 1) / CHUNK_LEN;
  /* Lanes load whole blocks, so a short final chunk is hashed from a zero-padded copy rather than from
     past the end of the caller's buffer. Costs one <1 KiB copy per input, and lets that chunk share a
     batch with full chunks instead of taking the scalar path. */
  const size_t tail_len = len % CHUNK_LEN;
  uint8_t padded[CHUNK_LEN];
  if (tail_len != 0) {
    memcpy(padded, data + len - tail_len, tail_len);
    memset(padded + tail_len, 0, CHUNK_LEN - tail_len);
  }
  lane_job job;
  job.key = key;
  job.flags = flags;
  job.flags_start = FLAG_CHUNK_START;
  job.flags_end = FLAG_CHUNK_END;
  for (size_t i = 0; i < n; i += be->lanes) {
    const size_t lanes = n - i < be->lanes ? n - i : be->lanes;
    for (size_t j = 0; j < lanes; j++) {
      const size_t c = i + j;
      if (c < skip) {
        job_set_lane(&job, j, head, counter + c, CHUNK_LEN);
      } else if (c == n - 1 && tail_len != 0) {
        job_set_lane(&job, j, padded, counter + c, tail_len);
      } else {
        job_set_lane(&job, j, data + (c - skip) * CHUNK_LEN, counter + c, CHUNK_LEN);
      }
    }
    const size_t next = i + lanes; /* >= 1 >= skip */
    job.prefetch = NULL;
    job.prefetch_len = 0;
    if (next < n) {
      const size_t done = (next - skip) * CHUNK_LEN, left = len - done;
      job.prefetch = data + done;
      job.prefetch_len = left < be->lanes * CHUNK_LEN ? left : be->lanes * CHUNK_LEN;
    }
    job_finish(&job, lanes);
    be->hash(&job, cvs + OUT_LEN * i);
  }
  return n;
}

/* Replaces n >= 2 chaining values by the next tree level, in place: pairs become parents and an odd
   last one moves up unchanged (that is what makes the tree left-balanced). Returns the new count. */
static size_t parent_level(const backend *be, const uint32_t key[8], uint32_t flags, uint8_t *cvs, size_t n) {
  const size_t pairs = n / 2;
  if (pairs == 1) {
    compress_parent(key, flags, cvs, cvs); /* a lone parent is cheaper scalar than as a mostly idle batch */
  } else {
    lane_job job;
    job.key = key;
    job.flags = flags | FLAG_PARENT;
    job.flags_start = 0;
    job.flags_end = 0;
    job.prefetch = NULL; /* the chaining values are in L1 */
    job.prefetch_len = 0;
    for (size_t i = 0; i < pairs; i += be->lanes) {
      const size_t lanes = pairs - i < be->lanes ? pairs - i : be->lanes;
      for (size_t j = 0; j < lanes; j++) job_set_lane(&job, j, cvs + 2 * OUT_LEN * (i + j), 0, BLOCK_LEN);
      job_finish(&job, lanes);
      /* Output i lands at or below input i, and each batch reads its inputs before storing. */
      be->hash(&job, cvs + OUT_LEN * i);
    }
  }
  if (n % 2 != 0) memmove(cvs + OUT_LEN * pairs, cvs + OUT_LEN * (n - 1), OUT_LEN);
  return pairs + n % 2;
}

/* 2..GROUP_CHUNKS chunks, breadth first. Out of line so that the recursion in hash_node does not carry
   this frame's buffer at every level. */
static B3_NOINLINE void hash_group(const backend *be, const uint32_t key[8], uint32_t flags, const uint8_t *data,
                                   size_t len, uint64_t counter, uint32_t root_flag, uint8_t out[OUT_LEN]) {
  uint8_t cvs[GROUP_CHUNKS * OUT_LEN];
  size_t n = chunk_cvs(be, key, flags, NULL, data, len, counter, cvs);
  while (n > 2) n = parent_level(be, key, flags, cvs, n);
  compress_parent(key, flags | root_flag, cvs, out);
}

/* Chaining value (or, with FLAG_ROOT, the hash) of the left-balanced tree over data, len > 0, whose
   first chunk is number counter. The tree's left subtree holds the largest power of two of chunks that
   leaves at least one byte for the right. */
static void hash_node(const backend *be, const uint32_t key[8], uint32_t flags, const uint8_t *data, size_t len,
                      uint64_t counter, uint32_t root_flag, uint8_t out[OUT_LEN]) {
  const size_t n = (len + CHUNK_LEN - 1) / CHUNK_LEN;
  if (n == 1) {
    hash_one_chunk(key, flags, data, len, counter, root_flag, out);
    return;
  }
  if (n <= GROUP_CHUNKS) {
    hash_group(be, key, flags, data, len, counter, root_flag, out);
    return;
  }
  size_t left_chunks = 1;
  while (2 * left_chunks < n) left_chunks *= 2;
  const size_t left_len = left_chunks * CHUNK_LEN;
  uint8_t children[2 * OUT_LEN];
  hash_node(be, key, flags, data, left_len, counter, 0, children);
  hash_node(be, key, flags, data + left_len, len - left_len, counter + left_chunks, 0, children + OUT_LEN);
  compress_parent(key, flags | root_flag, children, out);
}

static void hash_all(const uint32_t key[8], uint32_t flags, const uint8_t *data, size_t len, uint8_t out[OUT_LEN]) {
  if (len <= CHUNK_LEN) {
    hash_one_chunk(key, flags, data, len, 0, FLAG_ROOT, out);
  } else {
    hash_node(current_backend(), key, flags, data, len, 0, FLAG_ROOT, out);
  }
}

void chunker_blake3_hash(const uint8_t *data, size_t len, uint8_t out[OUT_LEN]) { hash_all(IV, 0, data, len, out); }

void chunker_blake3_keyed_hash(const uint8_t key[CHUNKER_BLAKE3_KEY_BYTES], const uint8_t *data, size_t len,
                               uint8_t out[OUT_LEN]) {
  uint32_t words[8];
  load_words8(words, key);
  hash_all(words, FLAG_KEYED_HASH, data, len, out);
}

/* ---------------------------------------------------------------------------------------------------- */
/* Incremental hasher                                                                                   */

/* Adds the chaining value of a complete subtree that ends at chunk total_chunks. More input is known to
   follow, so merging siblings now can never produce the root. Entries are contiguous, so the top two
   form a parent block in place. */
static void push_cv(chunker_blake3 *h, const uint8_t cv[OUT_LEN], uint64_t total_chunks) {
  memcpy(h->cv_stack + OUT_LEN * h->cv_stack_len, cv, OUT_LEN);
  h->cv_stack_len++;
  while (h->cv_stack_len > popcount64(total_chunks)) {
    uint8_t *pair = h->cv_stack + OUT_LEN * (h->cv_stack_len - 2u);
    compress_parent(h->key, h->flags, pair, pair);
    h->cv_stack_len--;
  }
}

/* Hashes `run` (1..GROUP_CHUNKS) whole chunks, head (if not NULL) then data, numbered from chunk_counter,
   all known not to be the last chunk. Their chaining values are computed in lane batches regardless of
   tree shape, then reduced per aligned power-of-two subtree, the units the stack merges. */
static void add_chunks(chunker_blake3 *h, const backend *be, const uint8_t *head, const uint8_t *data, size_t run) {
  const uint64_t counter = h->chunk_counter;
  if (run == 1) {
    uint8_t cv[OUT_LEN];
    hash_one_chunk(h->key, h->flags, head != NULL ? head : data, CHUNK_LEN, counter, 0, cv);
    push_cv(h, cv, counter + 1);
    return;
  }
  uint8_t cvs[GROUP_CHUNKS * OUT_LEN];
  chunk_cvs(be, h->key, h->flags, head, data, (run - (head != NULL ? 1 : 0)) * CHUNK_LEN, counter, cvs);
  for (size_t pos = 0; pos < run;) {
    const uint64_t first = counter + pos;
    size_t size = 1;
    while (size * 2 <= run - pos) size *= 2;
    if (first != 0) {
      const uint64_t alignment = first & (~first + 1);
      if (size > alignment) size = (size_t)alignment;
    }
    uint8_t *subtree = cvs + OUT_LEN * pos;
    for (size_t n = size; n > 1;) n = parent_level(be, h->key, h->flags, subtree, n);
    push_cv(h, subtree, first + size);
    pos += size;
  }
}

static void init_with(chunker_blake3 *h, const uint32_t key[8], uint32_t flags) {
  memcpy(h->key, key, sizeof h->key);
  h->chunk_counter = 0;
  h->buf_len = 0;
  h->flags = (uint8_t)flags;
  h->cv_stack_len = 0;
}

void chunker_blake3_init(chunker_blake3 *h) { init_with(h, IV, 0); }

void chunker_blake3_init_keyed(chunker_blake3 *h, const uint8_t key[CHUNKER_BLAKE3_KEY_BYTES]) {
  uint32_t words[8];
  load_words8(words, key);
  init_with(h, words, FLAG_KEYED_HASH);
}

void chunker_blake3_update(chunker_blake3 *h, const uint8_t *data, size_t len) {
  const backend *be = NULL;
  while (len > 0) {
    if (h->buf_len == CHUNK_LEN || (h->buf_len == 0 && len > CHUNK_LEN)) {
      /* Input follows, so the buffered chunk (if full) is not the last: hash it together with the whole
         chunks of input, keeping back at least one byte, which may end the message. A run stops at a
         GROUP_CHUNKS boundary so that the runs after it are whole aligned groups (one subtree each). */
      const uint8_t *head = h->buf_len == CHUNK_LEN ? h->buf : NULL;
      const size_t head_chunks = head != NULL ? 1 : 0;
      const size_t room = GROUP_CHUNKS - (size_t)(h->chunk_counter % GROUP_CHUNKS);
      size_t run = head_chunks + (len - 1) / CHUNK_LEN;
      if (run > room) run = room;
      if (be == NULL) be = current_backend();
      add_chunks(h, be, head, data, run);
      const size_t taken = (run - head_chunks) * CHUNK_LEN;
      h->chunk_counter += run;
      h->buf_len = 0;
      data += taken;
      len -= taken;
    } else {
      size_t take = CHUNK_LEN - h->buf_len;
      if (take > len) take = len;
      memcpy(h->buf + h->buf_len, data, take);
      h->buf_len = (uint16_t)(h->buf_len + take);
      data += take;
      len -= take;
    }
  }
}

void chunker_blake3_final(const chunker_blake3 *h, uint8_t out[OUT_LEN]) {
  if (h->cv_stack_len == 0) {
    hash_one_chunk(h->key, h->flags, h->buf, h->buf_len, h->chunk_counter, FLAG_ROOT, out);
    return;
  }
  /* Fold the stack from the right: the open chunk, then ever larger left siblings; the last is the root. */
  uint8_t pair[2 * OUT_LEN];
  hash_one_chunk(h->key, h->flags, h->buf, h->buf_len, h->chunk_counter, 0, pair + OUT_LEN);
  for (size_t i = h->cv_stack_len; i-- > 0;) {
    memcpy(pair, h->cv_stack + OUT_LEN * i, OUT_LEN);
    compress_parent(h->key, h->flags | (i == 0 ? FLAG_ROOT : 0), pair, i == 0 ? out : pair + OUT_LEN);
  }
}
