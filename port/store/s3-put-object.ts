/**
 * PutObject for the single-request puts of the S3 backend — one per chunk, the request a
 * chunk store makes most — sent through s3-http.ts: Content-Length, Content-MD5 and the
 * body's SHA-256 signed, as the SDK sends it.
 */
import { header, s3Request, type S3Connection } from './s3-http.js';

/** What a successful put answered with, for the ETag check (s3-integrity.ts). */
export interface PutObjectReply {
  readonly ETag?: string;
  readonly ServerSideEncryption?: string;
  readonly SSECustomerAlgorithm?: string;
}

/**
 * PUTs `body` as `key`; resolves with the reply's integrity headers, rejects with an
 * S3ResponseError or the socket's error (an aborted `signal` rejects with its reason).
 */
export async function putObject(connection: S3Connection, key: string, body: Uint8Array, md5: Buffer, signal: AbortSignal | undefined): Promise<PutObjectReply> {
  const reply = await s3Request(connection, { method: 'PUT', key, headers: { 'content-md5': md5.toString('base64') }, body, signal });
  const integrity: { -readonly [K in keyof PutObjectReply]: PutObjectReply[K] } = {};
  const etag = header(reply.headers, 'etag');
  const encryption = header(reply.headers, 'x-amz-server-side-encryption');
  const customerAlgorithm = header(reply.headers, 'x-amz-server-side-encryption-customer-algorithm');
  if (etag !== undefined) integrity.ETag = etag;
  if (encryption !== undefined) integrity.ServerSideEncryption = encryption;
  if (customerAlgorithm !== undefined) integrity.SSECustomerAlgorithm = customerAlgorithm;
  return integrity;
}
