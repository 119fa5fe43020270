/* zstd: compression with a reused context, streaming decompression, dictionaries. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <zdict.h>
#include <zstd_errors.h>

#include "codec_internal.h"

/* Compression forms of a dictionary kept per level; a level beyond these loads the
 * dictionary into the context for the one call instead (slower, still correct). */
#define CDICT_SLOTS 8

struct codec_dict {
  uint8_t *bytes;
  size_t len;
  uint32_t id;
  ZSTD_DDict *ddict;
  pthread_mutex_t lock; /* guards the slots below */
  int levels[CDICT_SLOTS];
  ZSTD_CDict *cdicts[CDICT_SLOTS];
  int used;
};

codec_status codec_dict_new(const uint8_t *bytes, size_t len, codec_dict **out, codec_error *error) {
  *out = NULL;
  unsigned id = ZSTD_getDictID_fromDict(bytes, len);
  if (id == 0) {
    return codec_fail(error, CODEC_INVALID_DICTIONARY,
                      "zstd: %zu bytes are not a zstd dictionary (no dictionary magic number and id)", len);
  }
  codec_dict *dict = calloc(1, sizeof *dict);
  if (dict == NULL) return codec_fail(error, CODEC_NO_MEMORY, "zstd: cannot allocate a dictionary");
  dict->bytes = malloc(len);
  if (dict->bytes == NULL) {
    free(dict);
    return codec_fail(error, CODEC_NO_MEMORY, "zstd: cannot allocate a dictionary of %zu bytes", len);
  }
  memcpy(dict->bytes, bytes, len);
  dict->len = len;
  dict->id = id;
  /* Building the decompression form parses the entropy tables: a damaged dictionary fails here. */
  dict->ddict = ZSTD_createDDict(dict->bytes, len);
  if (dict->ddict == NULL) {
    free(dict->bytes);
    free(dict);
    return codec_fail(error, CODEC_INVALID_DICTIONARY, "zstd: dictionary %u has damaged entropy tables", id);
  }
  pthread_mutex_init(&dict->lock, NULL);
  *out = dict;
  return CODEC_OK;
}

void codec_dict_free(codec_dict *dict) {
  if (dict == NULL) return;
  for (int i = 0; i < dict->used; i++) ZSTD_freeCDict(dict->cdicts[i]);
  ZSTD_freeDDict(dict->ddict);
  pthread_mutex_destroy(&dict->lock);
  free(dict->bytes);
  free(dict);
}

uint32_t codec_dict_id(const codec_dict *dict) { return dict->id; }

const uint8_t *codec_dict_bytes(const codec_dict *dict, size_t *len) {
  *len = dict->len;
  return dict->bytes;
}

/* The dictionary's compression form for `level`, made once; NULL when every slot is taken
 * by other levels (or memory ran out). */
static const ZSTD_CDict *dict_for_level(const codec_dict *shared, int level) {
  codec_dict *dict = (codec_dict *)shared; /* the slots are a cache behind the lock */
  const ZSTD_CDict *found = NULL;
  pthread_mutex_lock(&dict->lock);
  for (int i = 0; i < dict->used && found == NULL; i++) {
    if (dict->levels[i] == level) found = dict->cdicts[i];
  }
  if (found == NULL && dict->used < CDICT_SLOTS) {
    ZSTD_CDict *made = ZSTD_createCDict(dict->bytes, dict->len, level);
    if (made != NULL) {
      dict->levels[dict->used] = level;
      dict->cdicts[dict->used] = made;
      dict->used++;
      found = made;
    }
  }
  pthread_mutex_unlock(&dict->lock);
  return found;
}

codec_status codec_dict_train(const uint8_t *samples, const size_t *sizes, unsigned count, size_t capacity,
                              uint8_t *out, size_t *out_len, codec_error *error) {
  *out_len = 0;
  size_t made = ZDICT_trainFromBuffer(out, capacity, samples, sizes, count);
  if (ZDICT_isError(made)) {
    return codec_fail(error, CODEC_TRAINING_FAILED,
                      "zstd: cannot train a dictionary from %u samples: %s (training wants many samples, "
                      "together much larger than the dictionary)",
                      count, ZDICT_getErrorName(made));
  }
  *out_len = made;
  return CODEC_OK;
}

static codec_status zstd_setup_failed(codec_error *error, const char *what, size_t result) {
  return codec_fail(error, CODEC_INTERNAL, "zstd: %s: %s", what, ZSTD_getErrorName(result));
}

codec_status codec_zstd_compress(codec_context *context, int level, const codec_dict *dict, const uint8_t *in,
                                 size_t len, codec_output *out, codec_error *error) {
  if (level == 0) level = ZSTD_CLEVEL_DEFAULT;
  if (context->zstd == NULL) {
    context->zstd = ZSTD_createCCtx();
    if (context->zstd == NULL) return codec_fail(error, CODEC_NO_MEMORY, "zstd: cannot create a compression context");
  }
  ZSTD_CCtx *cctx = context->zstd;
  /* The context keeps its tables between calls; only the parameters start over. */
  size_t rc = ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
  if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
  if (!ZSTD_isError(rc)) rc = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
  if (ZSTD_isError(rc)) return zstd_setup_failed(error, "cannot set the compression parameters", rc);
  if (dict != NULL) {
    const ZSTD_CDict *cdict = dict_for_level(dict, level);
    rc = cdict != NULL ? ZSTD_CCtx_refCDict(cctx, cdict) : ZSTD_CCtx_loadDictionary(cctx, dict->bytes, dict->len);
    if (ZSTD_isError(rc)) return zstd_setup_failed(error, "cannot use the dictionary", rc);
  }
  size_t bound = ZSTD_compressBound(len);
  if (ZSTD_isError(bound)) return codec_fail(error, CODEC_INVALID_ARGUMENT, "zstd: %zu bytes is too large", len);
  out->data = malloc(bound);
  if (out->data == NULL) return codec_fail(error, CODEC_NO_MEMORY, "zstd: cannot allocate %zu bytes", bound);
  size_t written = ZSTD_compress2(cctx, out->data, bound, in, len);
  if (ZSTD_isError(written)) return zstd_setup_failed(error, "compression failed", written);
  out->len = written;
  return CODEC_OK;
}

codec_status codec_zstd_decoder_begin(codec_decoder *decoder, codec_error *error) {
  if (decoder->zstd == NULL) {
    decoder->zstd = ZSTD_createDCtx();
    if (decoder->zstd == NULL) {
      return codec_fail(error, CODEC_NO_MEMORY, "zstd: cannot create a decompression context");
    }
  }
  size_t rc = ZSTD_DCtx_reset(decoder->zstd, ZSTD_reset_session_and_parameters);
  if (!ZSTD_isError(rc)) rc = ZSTD_DCtx_setParameter(decoder->zstd, ZSTD_d_windowLogMax, CODEC_ZSTD_WINDOW_LOG_MAX);
  if (!ZSTD_isError(rc) && decoder->dict != NULL) rc = ZSTD_DCtx_refDDict(decoder->zstd, decoder->dict->ddict);
  if (ZSTD_isError(rc)) return zstd_setup_failed(error, "cannot prepare the decompression context", rc);
  return CODEC_OK;
}

static codec_status zstd_decode_error(codec_decoder *decoder, size_t result, size_t frame_start, size_t at,
                                      codec_error *error) {
  switch (ZSTD_getErrorCode(result)) {
    case ZSTD_error_dictionary_wrong:
      if (decoder->dict == NULL) {
        return codec_fail(error, CODEC_DICTIONARY_REQUIRED,
                          "zstd: the frame was compressed with dictionary %u; decompressing it needs that dictionary",
                          decoder->frame_dict_id);
      }
      return codec_fail(error, CODEC_DICTIONARY_MISMATCH,
                        "zstd: the frame was compressed with dictionary %u, not with the given dictionary %u",
                        decoder->frame_dict_id, decoder->dict->id);
    case ZSTD_error_frameParameter_windowTooLarge:
      return codec_fail(error, CODEC_MEMORY_LIMIT,
                        "zstd: the frame needs a window larger than the decoder's limit of 2^%d bytes",
                        CODEC_ZSTD_WINDOW_LOG_MAX);
    case ZSTD_error_memory_allocation:
      return codec_fail(error, CODEC_NO_MEMORY, "zstd: out of memory while decompressing");
    case ZSTD_error_prefix_unknown:
      return codec_fail(error, CODEC_CORRUPT_INPUT, "zstd: no zstd frame starts at input byte %zu", frame_start);
    case ZSTD_error_checksum_wrong:
      return codec_fail(error, CODEC_CORRUPT_INPUT, "zstd: the content checksum does not match (input is damaged)");
    default:
      return codec_fail(error, CODEC_CORRUPT_INPUT, "zstd: %s (near input byte %zu)", ZSTD_getErrorName(result), at);
  }
}

codec_status codec_zstd_decode(codec_decoder *decoder, const uint8_t *in, size_t in_len, size_t *in_pos,
                               uint8_t *out, size_t out_cap, size_t *out_pos, int at_end, int *frame_end,
                               codec_error *error) {
  (void)at_end;
  if (decoder->boundary) {
    /* 0 when the header is not all here yet or names no dictionary; only used in messages. */
    decoder->frame_dict_id = ZSTD_getDictID_fromFrame(in + *in_pos, in_len - *in_pos);
  }
  ZSTD_inBuffer input = {in, in_len, *in_pos};
  ZSTD_outBuffer output = {out, out_cap, *out_pos};
  const size_t frame_start = *in_pos;
  size_t hint = ZSTD_decompressStream(decoder->zstd, &output, &input);
  *in_pos = input.pos;
  *out_pos = output.pos;
  if (ZSTD_isError(hint)) {
    codec_status status = zstd_decode_error(decoder, hint, frame_start, input.pos, error);
    ZSTD_DCtx_reset(decoder->zstd, ZSTD_reset_session_only);
    return status;
  }
  *frame_end = hint == 0;
  return CODEC_OK;
}
