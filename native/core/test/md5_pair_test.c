/* Checks native/core/md5_pair.c and upload_digest.c against libcrypto without Node
 * (check_md5_pair.sh runs it, also under ASan/UBSan): every length 0..300 one-shot, the
 * pair path with both streams in step and out of step, random splits of random buffers,
 * and upload_digest's part MD5, part SHA-256 and whole-object MD5 over random parts.
 * Prints "md5_pair_test: OK" and exits 0 when every check passes. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../md5_pair.h"
#include "../upload_digest.h"
#include "check.h"

static void reference(const EVP_MD *md, const uint8_t *data, size_t len, uint8_t *out) {
  unsigned written = 0;
  if (EVP_Digest(data, len, out, &written, md, NULL) != 1) abort();
}

int main(void) {
  enum { BUFFER = 3 << 20 };
  uint8_t *data = malloc(BUFFER);
  if (data == NULL) return 2;
  for (size_t i = 0; i < BUFFER; i++) data[i] = (uint8_t)next_random();
  uint8_t want[32];
  uint8_t got[32];
  uint8_t other[32];

  for (size_t len = 0; len <= 300; len++) {
    md5_stream stream;
    md5_stream_init(&stream);
    md5_stream_update(&stream, data, len);
    md5_stream_final(&stream, got);
    reference(EVP_md5(), data, len, want);
    CHECK(memcmp(got, want, 16) == 0, "one-shot MD5 of %zu bytes", len);
  }

  // Two streams fed the same bytes after different prefixes: in step when the prefixes'
  // lengths agree modulo 64, out of step otherwise; each must equal libcrypto's digest.
  for (int round = 0; round < 400; round++) {
    size_t prefix_one = next_random() % 200;
    size_t prefix_two = round % 2 == 0 ? prefix_one + 64 * (next_random() % 3) : next_random() % 200;
    size_t shared = next_random() % 5000;
    const uint8_t *tail = data + 100000;
    md5_stream one;
    md5_stream two;
    md5_stream_init(&one);
    md5_stream_init(&two);
    md5_stream_update(&one, data, prefix_one);
    md5_stream_update(&two, data + 50000, prefix_two);
    for (size_t fed = 0; fed < shared;) {
      size_t piece = next_random() % 700;
      if (piece > shared - fed) piece = shared - fed;
      md5_pair_update(&one, &two, tail + fed, piece);
      fed += piece;
    }
    md5_stream_final(&one, got);
    md5_stream_final(&two, other);

    uint8_t *joined = malloc(prefix_one + prefix_two + shared + 1);
    if (joined == NULL) return 2;
    memcpy(joined, data, prefix_one);
    memcpy(joined + prefix_one, tail, shared);
    reference(EVP_md5(), joined, prefix_one + shared, want);
    CHECK(memcmp(got, want, 16) == 0, "first of a pair (prefixes %zu/%zu, %zu shared)", prefix_one, prefix_two, shared);
    memcpy(joined, data + 50000, prefix_two);
    memcpy(joined + prefix_two, tail, shared);
    reference(EVP_md5(), joined, prefix_two + shared, want);
    CHECK(memcmp(other, want, 16) == 0, "second of a pair (prefixes %zu/%zu, %zu shared)", prefix_one, prefix_two, shared);
    free(joined);
  }

  // upload_digest over random parts, the last one short, as a multipart upload sends them.
  for (int round = 0; round < 20; round++) {
    upload_digest *digest = upload_digest_new();
    CHECK(digest != NULL, "upload_digest_new");
    if (digest == NULL) break;
    size_t offset = 0;
    size_t total = round == 0 ? 0 : next_random() % BUFFER;
    while (offset < total) {
      size_t part = round % 3 == 0 ? 64 * 1024 : 1 + next_random() % (512 * 1024);
      if (part > total - offset) part = total - offset;
      uint8_t md5[UPLOAD_MD5_BYTES];
      uint8_t sha256[UPLOAD_SHA256_BYTES];
      CHECK(upload_digest_part(digest, data + offset, part, md5, sha256) == 0, "upload_digest_part");
      reference(EVP_md5(), data + offset, part, want);
      CHECK(memcmp(md5, want, 16) == 0, "part MD5 at %zu (+%zu)", offset, part);
      reference(EVP_sha256(), data + offset, part, want);
      CHECK(memcmp(sha256, want, 32) == 0, "part SHA-256 at %zu (+%zu)", offset, part);
      offset += part;
    }
    upload_digest_object_md5(digest, got);
    reference(EVP_md5(), data, total, want);
    CHECK(memcmp(got, want, 16) == 0, "object MD5 of %zu bytes", total);
    upload_digest_free(digest);
  }

  free(data);
  return check_summary("md5_pair_test");
}
