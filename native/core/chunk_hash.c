#include "chunk_hash.h"

#include <openssl/evp.h>
#include <stdlib.h>

#include "blake3.h"

struct chunk_hasher {
  EVP_MD_CTX *ctx;
  EVP_MD *sha256;
};

chunk_hasher *chunk_hasher_new(void) {
  chunk_hasher *hasher = calloc(1, sizeof *hasher);
  if (hasher == NULL) return NULL;
  hasher->ctx = EVP_MD_CTX_new();
  /* Fetching once avoids a provider lookup per chunk, which dominates for small chunks. */
  hasher->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
  if (hasher->ctx == NULL || hasher->sha256 == NULL) {
    chunk_hasher_free(hasher);
    return NULL;
  }
  return hasher;
}

void chunk_hasher_free(chunk_hasher *hasher) {
  if (hasher == NULL) return;
  EVP_MD_CTX_free(hasher->ctx);
  EVP_MD_free(hasher->sha256);
  free(hasher);
}

int chunk_hash(chunk_hasher *hasher, chunk_hash_alg alg, const uint8_t *data, size_t len,
               uint8_t out[CHUNK_HASH_BYTES]) {
  switch (alg) {
    case CHUNK_HASH_NONE:
      return 0;
    case CHUNK_HASH_BLAKE3:
      chunker_blake3_hash(data, len, out);
      return 0;
    case CHUNK_HASH_SHA256: {
      unsigned int written = 0;
      if (EVP_DigestInit_ex2(hasher->ctx, hasher->sha256, NULL) != 1) return -1;
      if (EVP_DigestUpdate(hasher->ctx, data, len) != 1) return -1;
      if (EVP_DigestFinal_ex(hasher->ctx, out, &written) != 1 || written != CHUNK_HASH_BYTES) return -1;
      return 0;
    }
  }
  return -1;
}

int chunk_hash_many(chunk_hasher *hasher, chunk_hash_alg alg, const uint8_t *src, const uint32_t *lengths,
                    size_t count, uint8_t *out) {
  for (size_t i = 0; i < count; i++) {
    if (chunk_hash(hasher, alg, src, lengths[i], out + CHUNK_HASH_BYTES * i) != 0) return -1;
    src += lengths[i];
  }
  return 0;
}
