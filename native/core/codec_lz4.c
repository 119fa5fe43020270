/* lz4 frame format (what the lz4 command writes), with reused contexts. */
#define LZ4F_STATIC_LINKING_ONLY
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

codec_status codec_lz4_compress(codec_context *context, int level, const uint8_t *in, size_t len,
                                codec_output *out, codec_error *error) {
  if (context->lz4 == NULL) {
    LZ4F_errorCode_t rc = LZ4F_createCompressionContext(&context->lz4, LZ4F_VERSION);
    if (LZ4F_isError(rc)) {
      context->lz4 = NULL;
      return codec_fail(error, CODEC_NO_MEMORY, "lz4: cannot create a compression context: %s", LZ4F_getErrorName(rc));
    }
  }
  LZ4F_preferences_t prefs;
  memset(&prefs, 0, sizeof prefs);
  /* As the lz4 command: 4 MiB blocks (smaller for smaller inputs, chosen by the library),
   * a content checksum, and the content size in the header. */
  prefs.frameInfo.blockSizeID = LZ4F_max4MB;
  prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  prefs.frameInfo.contentSize = len;
  prefs.compressionLevel = level;
  size_t bound = LZ4F_compressFrameBound(len, &prefs);
  out->data = malloc(bound);
  if (out->data == NULL) return codec_fail(error, CODEC_NO_MEMORY, "lz4: cannot allocate %zu bytes", bound);
  size_t written = LZ4F_compressFrame_usingCDict(context->lz4, out->data, bound, in, len, NULL, &prefs);
  if (LZ4F_isError(written)) {
    return codec_fail(error, CODEC_INTERNAL, "lz4: compression failed: %s", LZ4F_getErrorName(written));
  }
  out->len = written;
  return CODEC_OK;
}

codec_status codec_lz4_decoder_begin(codec_decoder *decoder, codec_error *error) {
  if (decoder->lz4 == NULL) {
    LZ4F_errorCode_t rc = LZ4F_createDecompressionContext(&decoder->lz4, LZ4F_VERSION);
    if (LZ4F_isError(rc)) {
      decoder->lz4 = NULL;
      return codec_fail(error, CODEC_NO_MEMORY, "lz4: cannot create a decompression context: %s",
                        LZ4F_getErrorName(rc));
    }
  } else {
    LZ4F_resetDecompressionContext(decoder->lz4);
  }
  return CODEC_OK;
}

codec_status codec_lz4_decode(codec_decoder *decoder, const uint8_t *in, size_t in_len, size_t *in_pos,
                              uint8_t *out, size_t out_cap, size_t *out_pos, int at_end, int *frame_end,
                              codec_error *error) {
  (void)at_end;
  size_t produced = out_cap - *out_pos;
  size_t consumed = in_len - *in_pos;
  const size_t at = *in_pos;
  size_t hint = LZ4F_decompress(decoder->lz4, out + *out_pos, &produced, in + *in_pos, &consumed, NULL);
  *in_pos += consumed;
  *out_pos += produced;
  if (LZ4F_isError(hint)) {
    LZ4F_errorCodes code = LZ4F_getErrorCode(hint);
    LZ4F_resetDecompressionContext(decoder->lz4);
    if (code == LZ4F_ERROR_allocation_failed) return codec_fail(error, CODEC_NO_MEMORY, "lz4: out of memory");
    if (code == LZ4F_ERROR_frameType_unknown) {
      return codec_fail(error, CODEC_CORRUPT_INPUT, "lz4: no lz4 frame starts at input byte %zu", at);
    }
    if (code == LZ4F_ERROR_contentChecksum_invalid || code == LZ4F_ERROR_blockChecksum_invalid ||
        code == LZ4F_ERROR_headerChecksum_invalid) {
      return codec_fail(error, CODEC_CORRUPT_INPUT, "lz4: a checksum does not match (input is damaged): %s",
                        LZ4F_getErrorName(hint));
    }
    return codec_fail(error, CODEC_CORRUPT_INPUT, "lz4: %s (near input byte %zu)", LZ4F_getErrorName(hint), at);
  }
  *frame_end = hint == 0;
  return CODEC_OK;
}
