#include "upload_digest.h"

#include "md5_pair.h"

#include <openssl/evp.h>
#include <stdlib.h>

/*
 * Bytes fed to the MD5 pair and then to SHA-256: small enough that the slice is still in
 * L2 when SHA-256 reads it, large enough that the per-call overhead does not show.
 */
#define SLICE_BYTES (64u * 1024u)

struct upload_digest {
  EVP_MD *sha256;
  EVP_MD_CTX *part_sha256;
  /* The two MD5s run side by side (md5_pair.h); libcrypto's would take two passes. */
  md5_stream object_md5;
  md5_stream part_md5;
};

upload_digest *upload_digest_new(void) {
  upload_digest *digest = calloc(1, sizeof *digest);
  if (digest == NULL) return NULL;
  digest->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  digest->part_sha256 = EVP_MD_CTX_new();
  if (digest->sha256 == NULL || digest->part_sha256 == NULL) {
    upload_digest_free(digest);
    return NULL;
  }
  md5_stream_init(&digest->object_md5);
  return digest;
}

void upload_digest_free(upload_digest *digest) {
  if (digest == NULL) return;
  EVP_MD_CTX_free(digest->part_sha256);
  EVP_MD_free(digest->sha256);
  free(digest);
}

int upload_digest_part(upload_digest *digest, const uint8_t *data, size_t len, uint8_t md5_out[UPLOAD_MD5_BYTES],
                       uint8_t sha256_out[UPLOAD_SHA256_BYTES]) {
  if (EVP_DigestInit_ex2(digest->part_sha256, digest->sha256, NULL) != 1) return -1;
  md5_stream_init(&digest->part_md5);
  for (size_t offset = 0; offset < len; offset += SLICE_BYTES) {
    size_t slice = len - offset < SLICE_BYTES ? len - offset : SLICE_BYTES;
    md5_pair_update(&digest->part_md5, &digest->object_md5, data + offset, slice);
    if (EVP_DigestUpdate(digest->part_sha256, data + offset, slice) != 1) return -1;
  }
  md5_stream_final(&digest->part_md5, md5_out);
  unsigned sha256_len = 0;
  if (EVP_DigestFinal_ex(digest->part_sha256, sha256_out, &sha256_len) != 1) return -1;
  return sha256_len == UPLOAD_SHA256_BYTES ? 0 : -1;
}

void upload_digest_object_md5(upload_digest *digest, uint8_t md5_out[UPLOAD_MD5_BYTES]) {
  md5_stream_final(&digest->object_md5, md5_out);
}
