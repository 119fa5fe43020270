/* bzip2 (libbz2): .bz2 streams, concatenated streams accepted (as bzip2 -d does). libbz2
 * counts bytes in unsigned int, so larger buffers go through in pieces. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "codec_internal.h"

static unsigned int piece(size_t n) { return n > UINT_MAX ? UINT_MAX : (unsigned int)n; }

codec_status codec_bzip2_compress(int level, const uint8_t *in, size_t len, codec_output *out, codec_error *error) {
  /* bzip2's documented bound: 1% more than the input plus 600 bytes. */
  size_t bound = len + len / 100 + 600;
  if (bound < len) return codec_fail(error, CODEC_INVALID_ARGUMENT, "bzip2: %zu bytes is too large", len);
  out->data = malloc(bound);
  if (out->data == NULL) return codec_fail(error, CODEC_NO_MEMORY, "bzip2: cannot allocate %zu bytes", bound);
  bz_stream strm;
  memset(&strm, 0, sizeof strm);
  int rc = BZ2_bzCompressInit(&strm, level, 0, 0);
  if (rc == BZ_MEM_ERROR) return codec_fail(error, CODEC_NO_MEMORY, "bzip2: cannot create a compressor");
  if (rc != BZ_OK) return codec_fail(error, CODEC_INTERNAL, "bzip2: cannot create a compressor (status %d)", rc);
  size_t in_pos = 0, out_pos = 0;
  for (;;) {
    unsigned int avail_in = piece(len - in_pos), avail_out = piece(bound - out_pos);
    strm.next_in = (char *)(in + in_pos);
    strm.avail_in = avail_in;
    strm.next_out = (char *)(out->data + out_pos);
    strm.avail_out = avail_out;
    /* BZ_FINISH only once the rest of the input fits in one piece: it must not grow after. */
    const int last = len - in_pos <= UINT_MAX;
    rc = BZ2_bzCompress(&strm, last ? BZ_FINISH : BZ_RUN);
    in_pos += avail_in - strm.avail_in;
    out_pos += avail_out - strm.avail_out;
    if (rc == BZ_STREAM_END) break;
    if (rc != BZ_RUN_OK && rc != BZ_FINISH_OK) {
      BZ2_bzCompressEnd(&strm);
      return codec_fail(error, CODEC_INTERNAL, "bzip2: compression failed (status %d)", rc);
    }
    if (out_pos == bound) {
      BZ2_bzCompressEnd(&strm);
      return codec_fail(error, CODEC_INTERNAL, "bzip2: the output outgrew its bound of %zu bytes", bound);
    }
  }
  BZ2_bzCompressEnd(&strm);
  out->len = out_pos;
  return CODEC_OK;
}

void codec_bzip2_decoder_end(codec_decoder *decoder) {
  if (!decoder->bz_ready) return;
  BZ2_bzDecompressEnd(&decoder->bz);
  decoder->bz_ready = 0;
}

codec_status codec_bzip2_decode(codec_decoder *decoder, const uint8_t *in, size_t in_len, size_t *in_pos,
                                uint8_t *out, size_t out_cap, size_t *out_pos, int at_end, int *frame_end,
                                codec_error *error) {
  (void)at_end;
  if (!decoder->bz_ready) {
    memset(&decoder->bz, 0, sizeof decoder->bz);
    int rc = BZ2_bzDecompressInit(&decoder->bz, 0, 0);
    if (rc == BZ_MEM_ERROR) return codec_fail(error, CODEC_NO_MEMORY, "bzip2: cannot create a decoder");
    if (rc != BZ_OK) return codec_fail(error, CODEC_INTERNAL, "bzip2: cannot create a decoder (status %d)", rc);
    decoder->bz_ready = 1;
  }
  bz_stream *strm = &decoder->bz;
  unsigned int avail_in = piece(in_len - *in_pos), avail_out = piece(out_cap - *out_pos);
  strm->next_in = (char *)(in + *in_pos);
  strm->avail_in = avail_in;
  strm->next_out = (char *)(out + *out_pos);
  strm->avail_out = avail_out;
  const size_t at = *in_pos;
  int rc = BZ2_bzDecompress(strm);
  *in_pos += avail_in - strm->avail_in;
  *out_pos += avail_out - strm->avail_out;
  switch (rc) {
    case BZ_OK: return CODEC_OK;
    case BZ_STREAM_END:
      /* The next stream, if any, needs a decoder of its own. */
      codec_bzip2_decoder_end(decoder);
      *frame_end = 1;
      return CODEC_OK;
    case BZ_DATA_ERROR_MAGIC:
      return codec_fail(error, CODEC_CORRUPT_INPUT, "bzip2: no bzip2 stream starts at input byte %zu", at);
    case BZ_DATA_ERROR:
      return codec_fail(error, CODEC_CORRUPT_INPUT, "bzip2: the data is corrupt or fails its CRC (near input byte %zu)",
                        *in_pos);
    case BZ_MEM_ERROR: return codec_fail(error, CODEC_NO_MEMORY, "bzip2: out of memory while decompressing");
    default: return codec_fail(error, CODEC_INTERNAL, "bzip2: unexpected status %d", rc);
  }
}
