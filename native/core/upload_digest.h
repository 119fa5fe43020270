/*
 * Digests an S3 upload needs of its bytes, computed in one pass over each part:
 *   - the part's MD5 (Content-MD5, checked against the part's ETag),
 *   - the part's SHA-256 (SigV4's x-amz-content-sha256 for a signed payload),
 *   - the MD5 of the whole object so far (some servers answer CompleteMultipartUpload with
 *     it as the ETag instead of S3's digest of the part digests).
 * Reading the part once for all three keeps it in cache; the caller runs this off its
 * event loop (native/addon/upload_digests.cc), so a large upload's hashing no longer
 * stalls the sockets of the others.
 */
#ifndef CHUNKER_UPLOAD_DIGEST_H
#define CHUNKER_UPLOAD_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UPLOAD_MD5_BYTES 16u
#define UPLOAD_SHA256_BYTES 32u

/* The running whole-object MD5 and the per-part contexts (OpenSSL), reused across parts. */
typedef struct upload_digest upload_digest;

/* NULL when out of memory or libcrypto provides no SHA-256. */
upload_digest *upload_digest_new(void);
void upload_digest_free(upload_digest *digest);

/*
 * Digests the next part: writes its MD5 and SHA-256 and folds its bytes into the whole
 * object's MD5. Parts must come in object order. Returns 0, or -1 if libcrypto failed.
 */
int upload_digest_part(upload_digest *digest, const uint8_t *data, size_t len, uint8_t md5_out[UPLOAD_MD5_BYTES],
                       uint8_t sha256_out[UPLOAD_SHA256_BYTES]);

/* The whole object's MD5 over every part given so far; ends the object (call once). */
void upload_digest_object_md5(upload_digest *digest, uint8_t md5_out[UPLOAD_MD5_BYTES]);

#ifdef __cplusplus
}
#endif

#endif
