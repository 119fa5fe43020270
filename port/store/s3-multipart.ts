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
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { native } from '../native.js';
import { storeError, type ObjectSource } from './backend.js';
import { partBytesFor } from './s3-config.js';
import { throwIfAborted } from './abort.js';
import { translateS3Error } from './s3-errors.js';
import { multipartETagMismatch, objectETagMismatch } from './s3-integrity.js';

/**
 * How long AbortMultipartUpload may take, in milliseconds. It runs on its own deadline
 * because the caller's signal may be the very thing that already fired.
 */
export const ABORT_UPLOAD_TIMEOUT_MS = 15_000;

export interface MultipartRequest {
  readonly client: S3Client;
  readonly bucket: string;
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

/**
 * Hands the SDK's signer the part's SHA-256 as `x-amz-content-sha256`: the signer signs a
 * payload hash it finds there instead of hashing the body again on the event loop.
 */
function withPayloadHash(command: UploadPartCommand, sha256: Buffer): UploadPartCommand {
  const hash = sha256.toString('hex');
  command.middlewareStack.add(
    (next) => (args) => {
      const request = args.request as { headers?: Record<string, string> };
      if (request.headers !== undefined) request.headers['x-amz-content-sha256'] = hash;
      return next(args);
    },
    { step: 'build', name: 'chunkerPartPayloadHash' },
  );
  return command;
}

/** Uploads `request.source` as one multipart upload; see the module comment. */
export async function uploadMultipart(request: MultipartRequest): Promise<void> {
  const { client, bucket, key, what, source, signal } = request;
  const partSize = partBytesFor(source.size, request.partBytes);
  const partCount = Math.max(1, Math.ceil(source.size / partSize));

  let uploadId: string | undefined;
  try {
    ({ UploadId: uploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }));
  } catch (error) {
    throw translateS3Error(error, `${what} (create multipart upload)`, signal);
  }
  if (uploadId === undefined) throw storeError('store_error', `${what}: the server returned no UploadId`);

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
      const command = new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: bytes, ContentLength: bytes.length, ContentMD5: digest.toString('base64') });
      const response = await client.send(withPayloadHash(command, sha256), { abortSignal: cancel.signal });
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
      completed = await client.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) },
        }),
        { abortSignal: signal },
      );
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
    await abortUpload(client, bucket, key, uploadId);
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
async function abortUpload(client: S3Client, bucket: string, key: string, uploadId: string): Promise<void> {
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }), {
      abortSignal: AbortSignal.timeout(ABORT_UPLOAD_TIMEOUT_MS),
    });
  } catch {
    // The original failure is what the caller needs to see.
  }
}
