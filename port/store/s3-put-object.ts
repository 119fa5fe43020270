/**
 * PutObject for the single-request puts of the S3 backend — one per chunk, the request a
 * chunk store makes most — sent through s3-http.ts: Content-Length, Content-MD5 and the
 * body's SHA-256 signed, as the SDK sends it.
 */
import { etagReply, header, s3Request, type S3Connection } from './s3-http.js';
import type { ETagResponse } from './s3-integrity.js';

/**
 * PUTs `body` as `key`; resolves with what the reply says about its ETag, rejects with an
 * S3ResponseError or the socket's error (an aborted `signal` rejects with its reason).
 */
export async function putObject(connection: S3Connection, key: string, body: Uint8Array, md5: Buffer, signal: AbortSignal | undefined): Promise<ETagResponse> {
  const reply = await s3Request(connection, { method: 'PUT', key, headers: { 'content-md5': md5.toString('base64') }, body, signal });
  return etagReply(reply, header(reply.headers, 'etag'));
}
