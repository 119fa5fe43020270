/**
 * One S3 multipart upload: create, upload parts in parallel, complete — and on any failure
 * (a part, the source, the caller's signal, a bad ETag) cancel the parts in flight, wait
 * for them, and AbortMultipartUpload, so no unfinished upload is left holding storage.
 * Parts become an object only at CompleteMultipartUpload, so readers never see a prefix.
 *
 * Parts are read from the source in order, each only when an upload slot is free, so at
 * most `partConcurrency` parts (× partBytes) are in memory. Each part's MD5 (Content-MD5),
 * its SHA-256 (the signed payload hash) and the whole object's MD5 (for checking the final
 * ETag) come from one native pass over the part on the libuv pool (UploadDigest). As three
 * node:crypto passes they cost a third of the client's CPU on large objects, CPU that a
 * server on the same machine was short of.
 */
import { native } from '../native.js';
import { storeError, type ObjectSource } from './backend.js';
import { partBytesFor } from './s3-config.js';
import { throwIfAborted } from './abort.js';
import { translateS3Error } from './s3-errors.js';
import { etagReply, header, s3Request, S3ResponseError, xmlEscape, xmlText, type S3Connection } from './s3-http.js';
import { multipartETagMismatch, objectETagMismatch } from './s3-integrity.js';

/**
 * How long AbortMultipartUpload may take, in milliseconds. It runs on its own deadline
 * because the caller's signal may be the very thing that already fired.
 */
export const ABORT_UPLOAD_TIMEOUT_MS = 15_000;

export interface MultipartRequest {
  readonly connection: S3Connection;
  readonly key: string;
  /** Names the operation in error messages. */
  readonly what: string;
  readonly source: ObjectSource;
  readonly partBytes: number;
  readonly partConcurrency: number;
  readonly signal: AbortSignal | undefined;
  /** Removes the object after Complete if its ETag disagrees (best effort). */
  readonly discardObject: () => Promise<void>;
}

/** The CompleteMultipartUpload document: every part's number and ETag, in order. */
export function completeDocument(etags: readonly string[]): string {
  const parts = etags.map((etag, index) => `<Part><PartNumber>${index + 1}</PartNumber><ETag>${xmlEscape(etag)}</ETag></Part>`);
  return `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts.join('')}</CompleteMultipartUpload>`;
}

/**
 * The ETag of a CompleteMultipartUpload reply. S3 may answer 200 and still fail: the
 * status is sent before the parts are assembled, so an error then arrives as an `<Error>`
 * document in the body.
 */
function completedETag(body: string): string | undefined {
  if (/<Error>/.test(body)) {
    throw new S3ResponseError(500, xmlText(body, 'Code') ?? 'InternalError', xmlText(body, 'Message') ?? 'the server failed to complete the upload');
  }
  return xmlText(body, 'ETag');
}

/** CreateMultipartUpload: the new upload's id. */
async function createUpload(connection: S3Connection, key: string, what: string, signal: AbortSignal | undefined): Promise<string> {
  let uploadId: string | undefined;
  try {
    uploadId = xmlText((await s3Request(connection, { method: 'POST', key, query: { uploads: '' }, signal })).body, 'UploadId');
  } catch (error) {
    throw translateS3Error(error, `${what} (create multipart upload)`, signal);
  }
  if (uploadId === undefined || uploadId === '') throw storeError('store_error', `${what}: the server returned no UploadId`);
  return uploadId;
}

/** Uploads `request.source` as one multipart upload; see the module comment. */
export async function uploadMultipart(request: MultipartRequest): Promise<void> {
  const { connection, key, what, source, signal } = request;
  const partSize = partBytesFor(source.size, request.partBytes);
  const partCount = Math.max(1, Math.ceil(source.size / partSize));

  const uploadId = await createUpload(connection, key, what, signal);

  // Cancels the parts in flight when one fails or the caller aborts.
  const cancel = new AbortController();
  const forwardAbort = () => cancel.abort(signal?.reason);
  signal?.addEventListener('abort', forwardAbort, { once: true });
  const inFlight = new Set<Promise<void>>();
  // Buffers of parts whose upload succeeded, read into again for later parts (ObjectSource).
  const spareBuffers: Uint8Array[] = [];
  const etags: string[] = [];
  const partDigests: Buffer[] = [];
  const digests = new native.UploadDigest();
  let failure: { error: unknown } | null = null;

  const uploadPart = async (partNumber: number, bytes: Uint8Array, digest: Buffer, sha256: Buffer): Promise<void> => {
    const partWhat = `${what} (part ${partNumber} of ${partCount})`;
    try {
      const reply = await s3Request(connection, {
        method: 'PUT',
        key,
        query: { partNumber: String(partNumber), uploadId },
        headers: { 'content-md5': digest.toString('base64') },
        body: bytes,
        payloadHash: sha256.toString('hex'),
        signal: cancel.signal,
      });
      const response = etagReply(reply, header(reply.headers, 'etag'));
      const mismatch = objectETagMismatch(response, digest);
      if (mismatch !== null) throw storeError('store_integrity', `${partWhat}: ${mismatch}`);
      if (response.ETag === undefined) throw storeError('store_error', `${partWhat}: the server returned no ETag`);
      etags[partNumber - 1] = response.ETag;
      // Only now is the request done with the bytes; after a failure they are not reused.
      spareBuffers.push(bytes);
    } catch (error) {
      if (failure === null) failure = { error: translateS3Error(error, partWhat, signal) };
      cancel.abort();
    }
  };

  try {
    for (let index = 0; index < partCount && failure === null; index += 1) {
      while (inFlight.size >= request.partConcurrency) await Promise.race(inFlight);
      if (failure !== null) break;
      throwIfAborted(signal, what);
      const offset = index * partSize;
      const length = Math.min(partSize, source.size - offset);
      const bytes = await source.read(offset, length, spareBuffers.pop());
      if (bytes.length !== length) throw storeError('store_error', `${what}: the source returned ${bytes.length} bytes at ${offset}, not ${length}`);
      const { md5, sha256 } = await digests.part(bytes);
      partDigests.push(md5);
      const task: Promise<void> = uploadPart(index + 1, bytes, md5, sha256).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
    await Promise.all(inFlight);
    if (failure !== null) throw (failure as { error: unknown }).error;

    let completed;
    try {
      const document = Buffer.from(completeDocument(etags));
      const reply = await s3Request(connection, { method: 'POST', key, query: { uploadId }, body: document, signal });
      completed = etagReply(reply, completedETag(reply.body));
    } catch (error) {
      throw translateS3Error(error, `${what} (complete multipart upload)`, signal);
    }
    const mismatch = multipartETagMismatch(completed, partDigests, digests.objectMd5());
    if (mismatch !== null) {
      // The object is published but not what was sent: take it away rather than serve it.
      await request.discardObject().catch(() => undefined);
      throw storeError('store_integrity', `${what}: ${mismatch}`);
    }
  } catch (error) {
    cancel.abort();
    await Promise.allSettled(inFlight);
    await abortUpload(connection, key, uploadId);
    throw error;
  } finally {
    signal?.removeEventListener('abort', forwardAbort);
  }
}

/**
 * Best effort: when this fails (the server is gone), the upload stays until the bucket's
 * lifecycle rule for incomplete uploads removes it; it is never visible as an object.
 * Aborting after a successful Complete fails with NoSuchUpload, which is harmless.
 */
async function abortUpload(connection: S3Connection, key: string, uploadId: string): Promise<void> {
  try {
    await s3Request(connection, { method: 'DELETE', key, query: { uploadId }, signal: AbortSignal.timeout(ABORT_UPLOAD_TIMEOUT_MS) });
  } catch {
    // The original failure is what the caller needs to see.
  }
}
