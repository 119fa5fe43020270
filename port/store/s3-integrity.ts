/**
 * Integrity checks for the S3 backend. Every PUT and part carries Content-MD5, which S3
 * verifies before storing (a mismatch is `BadDigest`). The ETag the server answers with is
 * checked too, because some S3-compatible servers ignore Content-MD5:
 *   - a single PUT or a part: the ETag is the MD5 of its bytes;
 *   - a completed multipart upload: S3 answers MD5(concatenated part MD5s)-PARTCOUNT, some
 *     servers the MD5 of the whole object; both forms are checked.
 * Per the S3 documentation the ETag is not an MD5 for objects encrypted with SSE-KMS or
 * SSE-C, so those responses are not compared.
 */
import { createHash } from 'node:crypto';

export function md5(bytes: Uint8Array): Buffer {
  return createHash('md5').update(bytes).digest();
}

/** The parts of a response that say what its ETag means. */
export interface ETagResponse {
  readonly ETag?: string | undefined;
  readonly ServerSideEncryption?: string | undefined;
  readonly SSECustomerAlgorithm?: string | undefined;
}

function etagIsDigest(response: ETagResponse): boolean {
  const encryption = response.ServerSideEncryption ?? '';
  return !encryption.startsWith('aws:kms') && response.SSECustomerAlgorithm === undefined;
}

function unquote(etag: string): string {
  return etag.replace(/^(W\/)?"|"$/g, '').toLowerCase();
}

/**
 * Describes the mismatch between the ETag of `response` and `expected` (the bytes' MD5),
 * or returns null when they match or the ETag is not an MD5 (encrypted or a
 * multipart object).
 */
export function objectETagMismatch(response: ETagResponse, expected: Buffer): string | null {
  if (response.ETag === undefined || !etagIsDigest(response)) return null;
  const etag = unquote(response.ETag);
  if (!/^[0-9a-f]{32}$/.test(etag)) return null;
  const want = expected.toString('hex');
  return etag === want ? null : `ETag ${etag} is not the MD5 ${want} of the bytes`;
}

/**
 * Same for a completed multipart upload: `partDigests` are the MD5s of the parts in order,
 * `wholeDigest` the MD5 of the whole object.
 */
export function multipartETagMismatch(response: ETagResponse, partDigests: readonly Buffer[], wholeDigest: Buffer): string | null {
  if (response.ETag === undefined || !etagIsDigest(response)) return null;
  const etag = unquote(response.ETag);
  const composite = /^([0-9a-f]{32})-(\d+)$/.exec(etag);
  if (composite !== null) {
    const want = `${md5(Buffer.concat(partDigests)).toString('hex')}-${partDigests.length}`;
    return etag === want ? null : `ETag ${etag} is not ${want}, the digest of the ${partDigests.length} parts sent`;
  }
  return objectETagMismatch(response, wholeDigest);
}
