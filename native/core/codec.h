/*
 * Compression codecs: zstd, lz4 (frame format), xz and bzip2 over the system libraries,
 * behind one interface.
 *
 * Decompression is always streaming with a hard output limit. A one-shot call grows its
 * output buffer in steps up to the limit and never past it; once the buffer holds the
 * limit, one more byte of output makes it fail with CODEC_SIZE_EXCEEDED. Memory therefore
 * stays bounded by the limit plus the decoder's own state (bounded separately: a zstd window
 * of at most 2^27 bytes, an xz decoder of at most CODEC_XZ_MEMLIMIT_BYTES), however small
 * the input and however far it would inflate. The streaming decoder (codec_decoder) is the
 * building block: callers that consume output as it comes (a chunker fed by a decompressing
 * reader) use it directly with their own buffers.
 *
 * Every stream may hold several concatenated frames (zstd, lz4) or streams (xz, bzip2), as
 * the command-line tools write and read them. Input that ends inside a frame is
 * CODEC_TRUNCATED_INPUT; input that is not what the codec expects, fails a checksum, or
 * has bytes after the last frame that do not start another, is CODEC_CORRUPT_INPUT.
 *
 * Nothing here is thread-safe except codec_dict, which many threads may use at once.
 * Keep one codec_context per thread: it holds the zstd and lz4 contexts that every call
 * reuses, so compressing many small chunks never creates a context per chunk.
 */
#ifndef CHUNKER_CODEC_H
#define CHUNKER_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  CODEC_NONE = 0,
  CODEC_ZSTD = 1,
  CODEC_LZ4 = 2,
  CODEC_XZ = 3,
  CODEC_BZIP2 = 4,
  /* Decompression only: the codec is detected from the input's magic bytes. */
  CODEC_AUTO = 5,
} codec_id;

/* Every failure a codec call can report. codec_status_code() gives each its stable name,
 * the one that travels as an error `code` (protocol/spec.md lists them). */
typedef enum {
  CODEC_OK = 0,
  CODEC_INVALID_ARGUMENT,   /* unknown codec, level out of range, dictionary with a codec other than zstd */
  CODEC_SIZE_EXCEEDED,      /* the output would exceed the caller's limit */
  CODEC_MEMORY_LIMIT,       /* the stream asks for more decoder memory than allowed (zstd window, xz dictionary) */
  CODEC_TRUNCATED_INPUT,    /* the input ends inside a frame, or holds no frame at all */
  CODEC_CORRUPT_INPUT,      /* not this codec's format, a checksum mismatch, or invalid data */
  CODEC_UNKNOWN_FORMAT,     /* CODEC_AUTO found no known magic bytes */
  CODEC_DICTIONARY_REQUIRED,/* the zstd frame was made with a dictionary and none was given */
  CODEC_DICTIONARY_MISMATCH,/* the zstd frame was made with a different dictionary than the one given */
  CODEC_INVALID_DICTIONARY, /* the bytes are not a zstd dictionary (with its magic number and id) */
  CODEC_TRAINING_FAILED,    /* ZDICT could not train a dictionary from the samples */
  CODEC_NO_MEMORY,          /* an allocation failed */
  CODEC_INTERNAL,           /* a library reported something this code does not expect */
} codec_status;

/* The status's stable name: "ok", "invalid_argument", "size_exceeded", "memory_limit",
 * "truncated_input", "corrupt_input", "unknown_format", "dictionary_required",
 * "dictionary_mismatch", "invalid_dictionary", "training_failed", "no_memory", "internal". */
const char *codec_status_code(codec_status status);

/* What went wrong, for people: which codec, what the library said, what was expected. */
#define CODEC_MESSAGE_BYTES 256
typedef struct {
  codec_status status;
  char message[CODEC_MESSAGE_BYTES];
} codec_error;

/* "none", "zstd", "lz4", "xz", "bzip2", "auto"; NULL for anything else. */
const char *codec_name(codec_id codec);

/* The compression levels a codec accepts. zstd: ZSTD_minCLevel() (negative levels are its
 * fast modes) to ZSTD_maxCLevel(), default 3 (level 0 means the default, as in libzstd).
 * lz4: 1 to 12, default 1 (1 and 2 are the fast compressor, 3 and up LZ4-HC). xz: 0 to 9,
 * default 6. bzip2: 1 to 9 (the block size in 100 kB), default 9. none: 0 only. */
typedef struct {
  int min_level;
  int max_level;
  int default_level;
} codec_levels;
int codec_level_range(codec_id codec, codec_levels *out);

/* Largest decoder memory an xz stream may ask for (xz -9 needs 65 MiB). */
#define CODEC_XZ_MEMLIMIT_BYTES ((uint64_t)256 << 20)
/* Largest zstd window accepted, as a power of two (libzstd's own default limit, 128 MiB). */
#define CODEC_ZSTD_WINDOW_LOG_MAX 27

/* Bytes of input codec_detect needs to tell every format apart. */
#define CODEC_MAGIC_BYTES 6

/* The codec whose magic bytes start `data` (zstd frames, including skippable frames; lz4
 * frames; xz streams; bzip2 streams), or CODEC_AUTO when none matches. */
codec_id codec_detect(const uint8_t *data, size_t len);

/* ---------------------------------------------------------------------------------------
 * zstd dictionaries. A codec_dict is immutable once made and may be shared by threads: it
 * holds the dictionary's bytes, its decompression form, and the compression forms made so
 * far (one per level, made on first use under a lock).
 */
typedef struct codec_dict codec_dict;

/* Loads a zstd dictionary (as ZDICT or `zstd --train` writes it: magic number, id,
 * entropy tables, content). Raw content without the header is CODEC_INVALID_DICTIONARY:
 * frames made with it would carry no dictionary id, so a wrong one could not be told. */
codec_status codec_dict_new(const uint8_t *bytes, size_t len, codec_dict **out, codec_error *error);
void codec_dict_free(codec_dict *dict);
uint32_t codec_dict_id(const codec_dict *dict);
const uint8_t *codec_dict_bytes(const codec_dict *dict, size_t *len);

/* Default dictionary size when training (zstd --train's default, 110 KiB). */
#define CODEC_DICT_DEFAULT_BYTES ((size_t)112640)

/* Trains a dictionary of at most `capacity` bytes from `count` samples stored back to
 * back in `samples` (sample i is sizes[i] bytes). Writes it to `out` (capacity bytes) and
 * its length to `out_len`. Training needs several samples and more sample bytes than the
 * dictionary's size; otherwise CODEC_TRAINING_FAILED with ZDICT's reason. */
codec_status codec_dict_train(const uint8_t *samples, const size_t *sizes, unsigned count, size_t capacity,
                              uint8_t *out, size_t *out_len, codec_error *error);

/* ---------------------------------------------------------------------------------------
 * Streaming decoder: one per thread or per stream, reusable across streams.
 */
typedef struct codec_decoder codec_decoder;

codec_decoder *codec_decoder_new(void);
void codec_decoder_free(codec_decoder *decoder);

/* Starts a new stream of `codec` (not CODEC_AUTO: detect first). `dict` is for zstd only
 * and must outlive the stream. */
codec_status codec_decoder_begin(codec_decoder *decoder, codec_id codec, const codec_dict *dict, codec_error *error);

/* Decodes input in[*in_pos, in_len) into out[*out_pos, out_cap), advancing both
 * positions. `at_end` says no input follows in_len. Returns CODEC_OK and sets *done once
 * the stream is complete (only with at_end: the last frame ended and every input byte was
 * used). CODEC_OK with *done == 0 means: call again with more output room (when out is
 * full) or more input (when in is used up). Any other status ends the stream: begin a new
 * one to decode again. */
codec_status codec_decoder_step(codec_decoder *decoder, const uint8_t *in, size_t in_len, size_t *in_pos,
                                uint8_t *out, size_t out_cap, size_t *out_pos, int at_end, int *done,
                                codec_error *error);

/* ---------------------------------------------------------------------------------------
 * One-shot calls over a per-thread context.
 */
typedef struct codec_context codec_context;

codec_context *codec_context_new(void);
void codec_context_free(codec_context *context);

/* A malloc'd output; the caller frees `data` with free(). */
typedef struct {
  uint8_t *data;
  size_t len;
} codec_output;

/* Compresses `in` into one frame (one stream) of `codec` at `level`. zstd and lz4 frames
 * carry the content size and a content checksum; xz streams a CRC64; zstd frames made with
 * a dictionary carry its id. */
codec_status codec_compress(codec_context *context, codec_id codec, int level, const codec_dict *dict,
                            const uint8_t *in, size_t len, codec_output *out, codec_error *error);

/* Decompresses a complete input of `codec` (or CODEC_AUTO) into at most `max_output`
 * bytes; see the top of this file for the limit's guarantee. On failure out->data is
 * NULL. CODEC_NONE copies the input, under the same limit. */
codec_status codec_decompress(codec_context *context, codec_id codec, const codec_dict *dict, const uint8_t *in,
                              size_t len, size_t max_output, codec_output *out, codec_error *error);

#ifdef __cplusplus
}
#endif

#endif
