/* xz (liblzma): .xz streams with a CRC64, concatenated streams and padding accepted. */
#include <stdlib.h>

#include "codec_internal.h"

codec_status codec_xz_compress(int level, const uint8_t *in, size_t len, codec_output *out, codec_error *error) {
  /* A fresh encoder per call: its state is tens of MiB at the usual levels, too much to
   * keep per thread, and xz is for compatibility rather than per-chunk work. */
  size_t bound = lzma_stream_buffer_bound(len);
  if (bound == 0) return codec_fail(error, CODEC_INVALID_ARGUMENT, "xz: %zu bytes is too large", len);
  out->data = malloc(bound);
  if (out->data == NULL) return codec_fail(error, CODEC_NO_MEMORY, "xz: cannot allocate %zu bytes", bound);
  size_t written = 0;
  lzma_ret rc = lzma_easy_buffer_encode((uint32_t)level, LZMA_CHECK_CRC64, NULL, in, len, out->data, &written, bound);
  if (rc == LZMA_MEM_ERROR) return codec_fail(error, CODEC_NO_MEMORY, "xz: out of memory at level %d", level);
  if (rc != LZMA_OK) return codec_fail(error, CODEC_INTERNAL, "xz: compression failed (liblzma status %d)", (int)rc);
  out->len = written;
  return CODEC_OK;
}

codec_status codec_xz_decoder_begin(codec_decoder *decoder, codec_error *error) {
  lzma_ret rc = lzma_stream_decoder(&decoder->xz, CODEC_XZ_MEMLIMIT_BYTES, LZMA_CONCATENATED);
  if (rc == LZMA_MEM_ERROR) return codec_fail(error, CODEC_NO_MEMORY, "xz: cannot create a decoder");
  if (rc != LZMA_OK) return codec_fail(error, CODEC_INTERNAL, "xz: cannot create a decoder (liblzma status %d)", (int)rc);
  decoder->xz_ready = 1;
  return CODEC_OK;
}

void codec_xz_decoder_end(codec_decoder *decoder) {
  if (!decoder->xz_ready) return;
  lzma_end(&decoder->xz);
  decoder->xz_ready = 0;
}

codec_status codec_xz_decode(codec_decoder *decoder, const uint8_t *in, size_t in_len, size_t *in_pos,
                             uint8_t *out, size_t out_cap, size_t *out_pos, int at_end, int *frame_end,
                             codec_error *error) {
  lzma_stream *strm = &decoder->xz;
  strm->next_in = in + *in_pos;
  strm->avail_in = in_len - *in_pos;
  strm->next_out = out + *out_pos;
  strm->avail_out = out_cap - *out_pos;
  /* With LZMA_CONCATENATED the decoder only knows the input is over when told so. */
  lzma_ret rc = lzma_code(strm, at_end ? LZMA_FINISH : LZMA_RUN);
  const size_t at = *in_pos;
  *in_pos = in_len - strm->avail_in;
  *out_pos = out_cap - strm->avail_out;
  switch (rc) {
    case LZMA_OK: return CODEC_OK;
    case LZMA_BUF_ERROR: return CODEC_OK; /* no progress possible; the caller tells why */
    case LZMA_STREAM_END: *frame_end = 1; return CODEC_OK;
    case LZMA_MEMLIMIT_ERROR:
      return codec_fail(error, CODEC_MEMORY_LIMIT, "xz: the stream needs %llu bytes of decoder memory, over the limit of %llu",
                        (unsigned long long)lzma_memusage(strm), (unsigned long long)CODEC_XZ_MEMLIMIT_BYTES);
    case LZMA_MEM_ERROR: return codec_fail(error, CODEC_NO_MEMORY, "xz: out of memory while decompressing");
    case LZMA_FORMAT_ERROR:
      return codec_fail(error, CODEC_CORRUPT_INPUT, "xz: no xz stream starts at input byte %zu", at);
    case LZMA_OPTIONS_ERROR:
      return codec_fail(error, CODEC_CORRUPT_INPUT, "xz: the stream uses options this liblzma does not support");
    case LZMA_DATA_ERROR:
      return codec_fail(error, CODEC_CORRUPT_INPUT, "xz: the data is corrupt (near input byte %zu)", *in_pos);
    default:
      return codec_fail(error, CODEC_INTERNAL, "xz: unexpected liblzma status %d", (int)rc);
  }
}
