/* Shared between codec.c (the driver) and the per-codec files; not part of the interface. */
#ifndef CHUNKER_CODEC_INTERNAL_H
#define CHUNKER_CODEC_INTERNAL_H

#include <bzlib.h>
#include <lz4frame.h>
#include <lzma.h>
#include <zstd.h>

#include "codec.h"

struct codec_decoder {
  codec_id codec;
  int active;              /* begun, not yet done or failed */
  int boundary;            /* between frames (or before the first) */
  unsigned long frames;    /* frames (streams) completed */
  const codec_dict *dict;  /* zstd only */
  uint32_t frame_dict_id;  /* dictionary id named by the current zstd frame's header, 0 if none or unknown */
  ZSTD_DCtx *zstd;
  LZ4F_dctx *lz4;
  lzma_stream xz;
  int xz_ready;
  bz_stream bz;
  int bz_ready;
};

struct codec_context {
  ZSTD_CCtx *zstd;
  LZ4F_cctx *lz4;
  codec_decoder *decoder;
};

/* Records a failure in `error` (which may be NULL) and returns `status`. */
codec_status codec_fail(codec_error *error, codec_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* One call into a codec's decoder: decode what it can from in[*in_pos..] into
 * out[*out_pos..]; set *frame_end when a frame (stream) completes at this point. */
codec_status codec_zstd_decode(codec_decoder *decoder, const uint8_t *in, size_t in_len, size_t *in_pos,
                               uint8_t *out, size_t out_cap, size_t *out_pos, int at_end, int *frame_end,
                               codec_error *error);
codec_status codec_lz4_decode(codec_decoder *decoder, const uint8_t *in, size_t in_len, size_t *in_pos,
                              uint8_t *out, size_t out_cap, size_t *out_pos, int at_end, int *frame_end,
                              codec_error *error);
codec_status codec_xz_decode(codec_decoder *decoder, const uint8_t *in, size_t in_len, size_t *in_pos,
                             uint8_t *out, size_t out_cap, size_t *out_pos, int at_end, int *frame_end,
                             codec_error *error);
codec_status codec_bzip2_decode(codec_decoder *decoder, const uint8_t *in, size_t in_len, size_t *in_pos,
                                uint8_t *out, size_t out_cap, size_t *out_pos, int at_end, int *frame_end,
                                codec_error *error);

/* Prepares the decoder's state for a new stream of its codec. */
codec_status codec_zstd_decoder_begin(codec_decoder *decoder, codec_error *error);
codec_status codec_lz4_decoder_begin(codec_decoder *decoder, codec_error *error);
codec_status codec_xz_decoder_begin(codec_decoder *decoder, codec_error *error);
/* Releases per-stream memory (xz, bzip2 keep none between streams). */
void codec_xz_decoder_end(codec_decoder *decoder);
void codec_bzip2_decoder_end(codec_decoder *decoder);

/* Compressors: `out` is sized by the codec's bound; *out_len receives the frame's size. */
codec_status codec_zstd_compress(codec_context *context, int level, const codec_dict *dict, const uint8_t *in,
                                 size_t len, codec_output *out, codec_error *error);
codec_status codec_lz4_compress(codec_context *context, int level, const uint8_t *in, size_t len,
                                codec_output *out, codec_error *error);
codec_status codec_xz_compress(int level, const uint8_t *in, size_t len, codec_output *out, codec_error *error);
codec_status codec_bzip2_compress(int level, const uint8_t *in, size_t len, codec_output *out, codec_error *error);

/* Shrinks a finished output to its length (keeps the buffer when realloc declines). */
void codec_output_fit(codec_output *out);

#endif
