/* The codec driver: names, levels, detection, the streaming decode loop, the one-shot
 * calls and the per-thread context. Each codec's library calls live in codec_<name>.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

/* First output buffer of a one-shot decompression when the frame does not state its size;
 * it doubles from there up to the limit. */
#define INITIAL_OUTPUT_BYTES ((size_t)64 << 10)
/* Expected expansion used to size the first buffer from the input's size. */
#define INITIAL_EXPANSION 4

const char *codec_status_code(codec_status status) {
  switch (status) {
    case CODEC_OK: return "ok";
    case CODEC_INVALID_ARGUMENT: return "invalid_argument";
    case CODEC_SIZE_EXCEEDED: return "size_exceeded";
    case CODEC_MEMORY_LIMIT: return "memory_limit";
    case CODEC_TRUNCATED_INPUT: return "truncated_input";
    case CODEC_CORRUPT_INPUT: return "corrupt_input";
    case CODEC_UNKNOWN_FORMAT: return "unknown_format";
    case CODEC_DICTIONARY_REQUIRED: return "dictionary_required";
    case CODEC_DICTIONARY_MISMATCH: return "dictionary_mismatch";
    case CODEC_INVALID_DICTIONARY: return "invalid_dictionary";
    case CODEC_TRAINING_FAILED: return "training_failed";
    case CODEC_NO_MEMORY: return "no_memory";
    case CODEC_INTERNAL: return "internal";
  }
  return "internal";
}

const char *codec_name(codec_id codec) {
  switch (codec) {
    case CODEC_NONE: return "none";
    case CODEC_ZSTD: return "zstd";
    case CODEC_LZ4: return "lz4";
    case CODEC_XZ: return "xz";
    case CODEC_BZIP2: return "bzip2";
    case CODEC_AUTO: return "auto";
  }
  return NULL;
}

codec_status codec_fail(codec_error *error, codec_status status, const char *format, ...) {
  if (error != NULL) {
    error->status = status;
    va_list args;
    va_start(args, format);
    vsnprintf(error->message, sizeof error->message, format, args);
    va_end(args);
  }
  return status;
}

int codec_level_range(codec_id codec, codec_levels *out) {
  switch (codec) {
    case CODEC_NONE: *out = (codec_levels){0, 0, 0}; return 1;
    case CODEC_ZSTD: *out = (codec_levels){ZSTD_minCLevel(), ZSTD_maxCLevel(), ZSTD_CLEVEL_DEFAULT}; return 1;
    case CODEC_LZ4: *out = (codec_levels){1, 12, 1}; return 1;
    case CODEC_XZ: *out = (codec_levels){0, 9, 6}; return 1;
    case CODEC_BZIP2: *out = (codec_levels){1, 9, 9}; return 1;
    case CODEC_AUTO: break;
  }
  return 0;
}

static uint32_t read_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

codec_id codec_detect(const uint8_t *data, size_t len) {
  /* Skippable frames (magic 0x184D2A50..5F, then a 32-bit little-endian size) may precede
   * both zstd and lz4 frames; the format is that of the first frame after them. */
  size_t pos = 0;
  while (len - pos >= 8 && (read_le32(data + pos) & 0xFFFFFFF0u) == 0x184D2A50u) {
    uint64_t skip = 8 + (uint64_t)read_le32(data + pos + 4);
    if (skip > len - pos) return CODEC_ZSTD; /* the frame that follows is out of sight */
    pos += (size_t)skip;
  }
  const uint8_t *p = data + pos;
  size_t n = len - pos;
  if (n >= 4 && read_le32(p) == 0xFD2FB528u) return CODEC_ZSTD;
  if (n >= 4 && read_le32(p) == 0x184D2204u) return CODEC_LZ4;
  if (n >= 6 && memcmp(p, "\xFD" "7zXZ\0", 6) == 0) return CODEC_XZ;
  if (n >= 4 && p[0] == 'B' && p[1] == 'Z' && p[2] == 'h' && p[3] >= '1' && p[3] <= '9') return CODEC_BZIP2;
  return CODEC_AUTO;
}

/* ---------------------------------------------------------------------------------------
 * Streaming decoder */

codec_decoder *codec_decoder_new(void) {
  codec_decoder *decoder = calloc(1, sizeof *decoder);
  if (decoder == NULL) return NULL;
  decoder->xz = (lzma_stream)LZMA_STREAM_INIT;
  return decoder;
}

void codec_decoder_free(codec_decoder *decoder) {
  if (decoder == NULL) return;
  ZSTD_freeDCtx(decoder->zstd);
  if (decoder->lz4 != NULL) LZ4F_freeDecompressionContext(decoder->lz4);
  codec_xz_decoder_end(decoder);
  codec_bzip2_decoder_end(decoder);
  free(decoder);
}

/* Drops what a finished or failed stream holds beyond the reusable contexts. */
static void decoder_finish_stream(codec_decoder *decoder) {
  decoder->active = 0;
  codec_xz_decoder_end(decoder);
  codec_bzip2_decoder_end(decoder);
}

codec_status codec_decoder_begin(codec_decoder *decoder, codec_id codec, const codec_dict *dict, codec_error *error) {
  decoder_finish_stream(decoder);
  if (dict != NULL && codec != CODEC_ZSTD) {
    return codec_fail(error, CODEC_INVALID_ARGUMENT, "%s: dictionaries are for zstd only",
                      codec_name(codec) != NULL ? codec_name(codec) : "codec");
  }
  decoder->codec = codec;
  decoder->dict = dict;
  decoder->boundary = 1;
  decoder->frames = 0;
  decoder->frame_dict_id = 0;
  codec_status status = CODEC_OK;
  switch (codec) {
    case CODEC_NONE: decoder->frames = 1; break; /* an empty input is a complete empty stream */
    case CODEC_ZSTD: status = codec_zstd_decoder_begin(decoder, error); break;
    case CODEC_LZ4: status = codec_lz4_decoder_begin(decoder, error); break;
    case CODEC_XZ: status = codec_xz_decoder_begin(decoder, error); break;
    case CODEC_BZIP2: break; /* initialised when its first bytes arrive, once per stream */
    case CODEC_AUTO:
    default: return codec_fail(error, CODEC_INVALID_ARGUMENT, "a decoder needs a known codec (detect it first)");
  }
  if (status == CODEC_OK) decoder->active = 1;
  return status;
}

static codec_status copy_decode(const uint8_t *in, size_t in_len, size_t *in_pos, uint8_t *out, size_t out_cap,
                                size_t *out_pos, int *frame_end) {
  size_t n = in_len - *in_pos;
  if (n > out_cap - *out_pos) n = out_cap - *out_pos;
  if (n > 0) memcpy(out + *out_pos, in + *in_pos, n);
  *in_pos += n;
  *out_pos += n;
  *frame_end = *in_pos == in_len;
  return CODEC_OK;
}

codec_status codec_decoder_step(codec_decoder *decoder, const uint8_t *in, size_t in_len, size_t *in_pos,
                                uint8_t *out, size_t out_cap, size_t *out_pos, int at_end, int *done,
                                codec_error *error) {
  *done = 0;
  if (!decoder->active) {
    return codec_fail(error, CODEC_INVALID_ARGUMENT, "the decoder has no stream in progress (begin one first)");
  }
  const char *name = codec_name(decoder->codec);
  for (;;) {
    if (decoder->boundary && *in_pos == in_len) {
      if (!at_end) return CODEC_OK;
      decoder_finish_stream(decoder);
      if (decoder->frames == 0) return codec_fail(error, CODEC_TRUNCATED_INPUT, "%s: the input is empty", name);
      *done = 1;
      return CODEC_OK;
    }
    const size_t in_before = *in_pos, out_before = *out_pos;
    int frame_end = 0;
    codec_status status = CODEC_OK;
    switch (decoder->codec) {
      case CODEC_NONE: status = copy_decode(in, in_len, in_pos, out, out_cap, out_pos, &frame_end); break;
      case CODEC_ZSTD:
        status = codec_zstd_decode(decoder, in, in_len, in_pos, out, out_cap, out_pos, at_end, &frame_end, error);
        break;
      case CODEC_LZ4:
        status = codec_lz4_decode(decoder, in, in_len, in_pos, out, out_cap, out_pos, at_end, &frame_end, error);
        break;
      case CODEC_XZ:
        status = codec_xz_decode(decoder, in, in_len, in_pos, out, out_cap, out_pos, at_end, &frame_end, error);
        break;
      case CODEC_BZIP2:
        status = codec_bzip2_decode(decoder, in, in_len, in_pos, out, out_cap, out_pos, at_end, &frame_end, error);
        break;
      case CODEC_AUTO: status = codec_fail(error, CODEC_INTERNAL, "auto is not a decoder"); break;
    }
    if (status != CODEC_OK) {
      decoder_finish_stream(decoder);
      return status;
    }
    const int progressed = *in_pos != in_before || *out_pos != out_before;
    if (progressed) decoder->boundary = 0;
    if (frame_end) {
      decoder->boundary = 1;
      decoder->frames++;
      continue;
    }
    if (!progressed) {
      if (*out_pos == out_cap) return CODEC_OK; /* needs room */
      if (*in_pos == in_len) {
        if (!at_end) return CODEC_OK; /* needs input */
        decoder_finish_stream(decoder);
        return codec_fail(error, CODEC_TRUNCATED_INPUT, "%s: the input ends inside a frame (after %zu bytes)", name,
                          in_len);
      }
      decoder_finish_stream(decoder);
      return codec_fail(error, CODEC_CORRUPT_INPUT, "%s: the decoder cannot make progress at input byte %zu", name,
                        *in_pos);
    }
  }
}

/* ---------------------------------------------------------------------------------------
 * Context and one-shot calls */

codec_context *codec_context_new(void) {
  codec_context *context = calloc(1, sizeof *context);
  if (context == NULL) return NULL;
  context->decoder = codec_decoder_new();
  if (context->decoder == NULL) {
    free(context);
    return NULL;
  }
  return context;
}

void codec_context_free(codec_context *context) {
  if (context == NULL) return;
  ZSTD_freeCCtx(context->zstd);
  if (context->lz4 != NULL) LZ4F_freeCompressionContext(context->lz4);
  codec_decoder_free(context->decoder);
  free(context);
}

void codec_output_fit(codec_output *out) {
  if (out->data == NULL) return;
  uint8_t *fitted = realloc(out->data, out->len > 0 ? out->len : 1);
  if (fitted != NULL) out->data = fitted;
}

codec_status codec_compress(codec_context *context, codec_id codec, int level, const codec_dict *dict,
                            const uint8_t *in, size_t len, codec_output *out, codec_error *error) {
  out->data = NULL;
  out->len = 0;
  codec_levels levels;
  if (codec == CODEC_AUTO || !codec_level_range(codec, &levels)) {
    return codec_fail(error, CODEC_INVALID_ARGUMENT, "compression needs a codec: zstd, lz4, xz, bzip2 or none");
  }
  if (level < levels.min_level || level > levels.max_level) {
    return codec_fail(error, CODEC_INVALID_ARGUMENT, "%s: level %d is outside %d..%d", codec_name(codec), level,
                      levels.min_level, levels.max_level);
  }
  if (dict != NULL && codec != CODEC_ZSTD) {
    return codec_fail(error, CODEC_INVALID_ARGUMENT, "%s: dictionaries are for zstd only", codec_name(codec));
  }
  codec_status status = CODEC_OK;
  switch (codec) {
    case CODEC_NONE:
      out->data = malloc(len > 0 ? len : 1);
      if (out->data == NULL) return codec_fail(error, CODEC_NO_MEMORY, "none: cannot allocate %zu bytes", len);
      if (len > 0) memcpy(out->data, in, len);
      out->len = len;
      return CODEC_OK;
    case CODEC_ZSTD: status = codec_zstd_compress(context, level, dict, in, len, out, error); break;
    case CODEC_LZ4: status = codec_lz4_compress(context, level, in, len, out, error); break;
    case CODEC_XZ: status = codec_xz_compress(level, in, len, out, error); break;
    case CODEC_BZIP2: status = codec_bzip2_compress(level, in, len, out, error); break;
    case CODEC_AUTO: break;
  }
  if (status != CODEC_OK) {
    free(out->data);
    out->data = NULL;
    out->len = 0;
    return status;
  }
  codec_output_fit(out);
  return CODEC_OK;
}

/* The first output buffer: the frame's stated size when it has one (zstd), else a few
 * times the input; never more than the limit. */
static size_t initial_capacity(codec_id codec, const uint8_t *in, size_t len, size_t max_output) {
  size_t want = len <= SIZE_MAX / INITIAL_EXPANSION ? len * INITIAL_EXPANSION : SIZE_MAX;
  if (codec == CODEC_ZSTD) {
    unsigned long long stated = ZSTD_getFrameContentSize(in, len);
    if (stated != ZSTD_CONTENTSIZE_UNKNOWN && stated != ZSTD_CONTENTSIZE_ERROR) {
      want = stated < SIZE_MAX ? (size_t)stated : SIZE_MAX;
    }
  } else if (codec == CODEC_NONE) {
    want = len;
  }
  if (want < INITIAL_OUTPUT_BYTES) want = INITIAL_OUTPUT_BYTES;
  return want < max_output ? want : max_output;
}

codec_status codec_decompress(codec_context *context, codec_id codec, const codec_dict *dict, const uint8_t *in,
                              size_t len, size_t max_output, codec_output *out, codec_error *error) {
  out->data = NULL;
  out->len = 0;
  if (codec == CODEC_AUTO) {
    codec = codec_detect(in, len);
    if (codec == CODEC_AUTO) {
      if (len < CODEC_MAGIC_BYTES) {
        return codec_fail(error, CODEC_UNKNOWN_FORMAT, "auto: %zu bytes are too few to tell the format", len);
      }
      return codec_fail(error, CODEC_UNKNOWN_FORMAT,
                        "auto: the input starts with no known magic bytes (zstd, lz4 frame, xz, bzip2): "
                        "%02x %02x %02x %02x",
                        in[0], in[1], in[2], in[3]);
    }
  }
  codec_status status = codec_decoder_begin(context->decoder, codec, dict, error);
  if (status != CODEC_OK) return status;

  size_t cap = initial_capacity(codec, in, len, max_output);
  uint8_t *buffer = cap > 0 ? malloc(cap) : NULL;
  if (cap > 0 && buffer == NULL) {
    decoder_finish_stream(context->decoder);
    return codec_fail(error, CODEC_NO_MEMORY, "%s: cannot allocate %zu bytes", codec_name(codec), cap);
  }
  size_t in_pos = 0, out_pos = 0;
  int done = 0;
  while (!done) {
    if (out_pos == cap && cap < max_output) {
      size_t grown = cap <= max_output / 2 ? cap * 2 : max_output;
      if (grown < INITIAL_OUTPUT_BYTES && INITIAL_OUTPUT_BYTES <= max_output) grown = INITIAL_OUTPUT_BYTES;
      if (grown > max_output) grown = max_output;
      uint8_t *bigger = realloc(buffer, grown);
      if (bigger == NULL) {
        free(buffer);
        decoder_finish_stream(context->decoder);
        return codec_fail(error, CODEC_NO_MEMORY, "%s: cannot grow the output to %zu bytes", codec_name(codec), grown);
      }
      buffer = bigger;
      cap = grown;
    }
    if (out_pos == cap) {
      /* The buffer holds the limit: the stream must end without one more byte. */
      uint8_t probe[1];
      size_t probe_pos = 0;
      status = codec_decoder_step(context->decoder, in, len, &in_pos, probe, sizeof probe, &probe_pos, 1, &done,
                                  error);
      if (status == CODEC_OK && probe_pos > 0) {
        decoder_finish_stream(context->decoder);
        status = codec_fail(error, CODEC_SIZE_EXCEEDED, "%s: the output exceeds the limit of %zu bytes",
                            codec_name(codec), max_output);
      }
    } else {
      status = codec_decoder_step(context->decoder, in, len, &in_pos, buffer, cap, &out_pos, 1, &done, error);
    }
    if (status != CODEC_OK) {
      free(buffer);
      return status;
    }
  }
  out->data = buffer;
  out->len = out_pos;
  if (out->data == NULL) {
    out->data = malloc(1);
    if (out->data == NULL) return codec_fail(error, CODEC_NO_MEMORY, "cannot allocate an empty output");
  }
  if (out_pos < cap) codec_output_fit(out);
  return CODEC_OK;
}
