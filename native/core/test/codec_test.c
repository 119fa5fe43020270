/* Checks native/core/codec.c without Node (check_codec.sh runs it, also under ASan/UBSan):
 * the streaming decoder fed in random small pieces with random small output room, the
 * one-shot limit at the exact size, every strict prefix of a stream, concatenated frames,
 * dictionaries, and that one context's zstd and lz4 compressors are reused across calls.
 * Prints "codec_test: OK" and exits 0 when every check passes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../codec_internal.h"
#include "check.h"

/* Runs of repeated bytes mixed with noise: compressible, not trivially. */
static void fill(uint8_t *out, size_t len) {
  size_t i = 0;
  while (i < len) {
    size_t run = 1 + next_random() % 64;
    uint8_t byte = (uint8_t)next_random();
    int noisy = next_random() % 3 == 0;
    for (size_t j = 0; j < run && i < len; j++, i++) out[i] = noisy ? (uint8_t)next_random() : byte;
  }
}

static codec_output must_compress(codec_context *context, codec_id codec, int level, const codec_dict *dict,
                                  const uint8_t *in, size_t len) {
  codec_output out;
  codec_error error;
  codec_status status = codec_compress(context, codec, level, dict, in, len, &out, &error);
  CHECK(status == CODEC_OK, "%s level %d compress: %s", codec_name(codec), level, error.message);
  return out;
}

/* Streams `packed` through a decoder in random pieces; returns the status, output in *out. */
static codec_status stream_decode(codec_decoder *decoder, codec_id codec, const codec_dict *dict, const uint8_t *packed,
                                  size_t packed_len, uint8_t *out, size_t out_cap, size_t *out_len, codec_error *error) {
  codec_status status = codec_decoder_begin(decoder, codec, dict, error);
  if (status != CODEC_OK) return status;
  size_t given = 0, in_pos = 0, out_pos = 0;
  int done = 0;
  while (!done) {
    if (in_pos == given && given < packed_len) {
      given += 1 + next_random() % 97;
      if (given > packed_len) given = packed_len;
    }
    size_t room = out_pos + 1 + next_random() % 301;
    if (room > out_cap) room = out_cap;
    size_t before_in = in_pos, before_out = out_pos;
    status = codec_decoder_step(decoder, packed, given, &in_pos, out, room, &out_pos, given == packed_len, &done, error);
    if (status != CODEC_OK) return status;
    if (!done && in_pos == before_in && out_pos == before_out && given == packed_len && room == out_cap) {
      return codec_fail(error, CODEC_SIZE_EXCEEDED, "no room left");
    }
  }
  *out_len = out_pos;
  return CODEC_OK;
}

static void check_codec(codec_context *context, codec_id codec, int level) {
  const size_t len = 20000 + next_random() % 20000;
  uint8_t *data = malloc(len), *back = malloc(len + 1);
  fill(data, len);
  codec_output packed = must_compress(context, codec, level, NULL, data, len);
  if (packed.data == NULL) goto done;
  codec_error error;

  size_t back_len = 0;
  codec_status status = stream_decode(context->decoder, codec, NULL, packed.data, packed.len, back, len + 1, &back_len,
                                      &error);
  CHECK(status == CODEC_OK && back_len == len && memcmp(back, data, len) == 0, "%s level %d streamed: %s",
        codec_name(codec), level, status == CODEC_OK ? "wrong bytes" : error.message);

  codec_output whole;
  status = codec_decompress(context, codec == CODEC_NONE ? CODEC_NONE : CODEC_AUTO, NULL, packed.data, packed.len, len,
                            &whole, &error);
  CHECK(status == CODEC_OK && whole.len == len && memcmp(whole.data, data, len) == 0, "%s one-shot at the exact limit",
        codec_name(codec));
  free(whole.data);
  status = codec_decompress(context, codec, NULL, packed.data, packed.len, len - 1, &whole, &error);
  CHECK(status == CODEC_SIZE_EXCEEDED && whole.data == NULL, "%s one byte under the limit: %s", codec_name(codec),
        codec_status_code(status));

  /* Every strict prefix (sampled beyond the first 64) is truncated input. */
  for (size_t cut = 0; codec != CODEC_NONE && cut < packed.len; cut += cut < 64 ? 1 : 1 + packed.len / 50) {
    status = codec_decompress(context, codec, NULL, packed.data, cut, len, &whole, &error);
    CHECK(status == CODEC_TRUNCATED_INPUT, "%s cut at %zu of %zu: %s (%s)", codec_name(codec), cut, packed.len,
          codec_status_code(status), error.message);
    if (status == CODEC_OK) free(whole.data);
  }

  /* Two frames back to back are one stream. */
  uint8_t *twice = malloc(packed.len * 2);
  memcpy(twice, packed.data, packed.len);
  memcpy(twice + packed.len, packed.data, packed.len);
  status = codec_decompress(context, codec, NULL, twice, packed.len * 2, len * 2, &whole, &error);
  CHECK(status == CODEC_OK && whole.len == len * 2 && memcmp(whole.data + len, data, len) == 0,
        "%s concatenated: %s", codec_name(codec), codec_status_code(status));
  if (status == CODEC_OK) free(whole.data);
  free(twice);
  free(packed.data);
done:
  free(data);
  free(back);
}

static void check_dictionaries(codec_context *context) {
  enum { SAMPLES = 400, SAMPLE_BYTES = 600 };
  uint8_t *samples = malloc(SAMPLES * SAMPLE_BYTES);
  size_t sizes[SAMPLES];
  static const char *words[] = {"store", "nix", "lib", "share", "bin", "include", "derivation", "output"};
  for (int i = 0; i < SAMPLES; i++) {
    char *p = (char *)samples + i * SAMPLE_BYTES;
    size_t used = 0;
    while (used + 40 < SAMPLE_BYTES) {
      used += (size_t)snprintf(p + used, SAMPLE_BYTES - used, "/nix/store/%s-%s-%u\n", words[next_random() % 8],
                               words[next_random() % 8], next_random() % 100);
    }
    memset(p + used, '\n', SAMPLE_BYTES - used);
    sizes[i] = SAMPLE_BYTES;
  }
  uint8_t dict_bytes[8192];
  size_t dict_len = 0;
  codec_error error;
  codec_status status = codec_dict_train(samples, sizes, SAMPLES, sizeof dict_bytes, dict_bytes, &dict_len, &error);
  CHECK(status == CODEC_OK, "train: %s", error.message);
  codec_dict *dict = NULL, *other = NULL;
  CHECK(codec_dict_new(dict_bytes, dict_len, &dict, &error) == CODEC_OK, "load: %s", error.message);
  /* The same content under another id is another dictionary. */
  dict_bytes[4] ^= 1;
  CHECK(codec_dict_new(dict_bytes, dict_len, &other, &error) == CODEC_OK, "load other: %s", error.message);
  CHECK(codec_dict_new((const uint8_t *)"plain", 5, &(codec_dict *){NULL}, &error) == CODEC_INVALID_DICTIONARY,
        "plain bytes are no dictionary");
  if (dict != NULL && other != NULL) {
    const uint8_t *sample = samples + 7 * SAMPLE_BYTES;
    for (int level = -5; level <= 19; level += 6) {
      codec_output packed = must_compress(context, CODEC_ZSTD, level, dict, sample, SAMPLE_BYTES);
      uint8_t back[SAMPLE_BYTES];
      size_t back_len = 0;
      status = stream_decode(context->decoder, CODEC_ZSTD, dict, packed.data, packed.len, back, sizeof back, &back_len,
                             &error);
      CHECK(status == CODEC_OK && back_len == SAMPLE_BYTES && memcmp(back, sample, SAMPLE_BYTES) == 0,
            "dictionary round trip at level %d", level);
      codec_output whole;
      status = codec_decompress(context, CODEC_ZSTD, NULL, packed.data, packed.len, SAMPLE_BYTES, &whole, &error);
      CHECK(status == CODEC_DICTIONARY_REQUIRED, "no dictionary: %s", codec_status_code(status));
      status = codec_decompress(context, CODEC_ZSTD, other, packed.data, packed.len, SAMPLE_BYTES, &whole, &error);
      CHECK(status == CODEC_DICTIONARY_MISMATCH, "wrong dictionary: %s", codec_status_code(status));
      free(packed.data);
    }
  }
  codec_dict_free(dict);
  codec_dict_free(other);
  free(samples);
}

static void check_reuse(codec_context *context) {
  uint8_t chunk[3000];
  fill(chunk, sizeof chunk);
  codec_output first = must_compress(context, CODEC_ZSTD, 3, NULL, chunk, sizeof chunk);
  free(must_compress(context, CODEC_LZ4, 1, NULL, chunk, sizeof chunk).data);
  ZSTD_CCtx *zstd = context->zstd;
  LZ4F_cctx *lz4 = context->lz4;
  for (int i = 0; i < 500; i++) {
    codec_output again = must_compress(context, i % 2 ? CODEC_LZ4 : CODEC_ZSTD, i % 2 ? 1 : 3, NULL, chunk, sizeof chunk);
    if (i % 2 == 0) CHECK(again.len == first.len && memcmp(again.data, first.data, first.len) == 0, "same frame again");
    free(again.data);
  }
  CHECK(context->zstd == zstd && context->lz4 == lz4, "the contexts are reused, not remade");
  free(first.data);
}

int main(void) {
  codec_context *context = codec_context_new();
  static const struct {
    codec_id codec;
    int level;
  } cases[] = {{CODEC_NONE, 0}, {CODEC_ZSTD, -5}, {CODEC_ZSTD, 3}, {CODEC_ZSTD, 19}, {CODEC_LZ4, 1},
               {CODEC_LZ4, 12}, {CODEC_XZ, 0},   {CODEC_XZ, 6},    {CODEC_BZIP2, 1}, {CODEC_BZIP2, 9}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    for (int round = 0; round < 3; round++) check_codec(context, cases[i].codec, cases[i].level);
  }
  check_dictionaries(context);
  check_reuse(context);
  codec_context_free(context);
  return check_summary("codec_test");
}
