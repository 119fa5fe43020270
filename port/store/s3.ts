/**
 * The S3 backend: `s3://bucket/prefix` on AWS S3 or an S3-compatible server (endpoint from
 * the options or AWS_ENDPOINT_URL; see s3-config.ts). Objects are keys `prefix + name`.
 *
 * - put: one PutObject with Content-MD5 below the multipart threshold (the source is read
 *   whole first, so a failing source sends nothing; s3-put-object.ts); a parallel
 *   multipart upload at or above it (s3-multipart.ts), aborted on any failure. S3
 *   publishes an object whole at the end of either, so no rename is needed and readers
 *   never see a prefix.
 * - stat: HeadObject. Put and stat are what an upload sends, and go out through
 *   s3-http.ts without the AWS SDK.
 * - get: GetObject, with a Range header for ranges; whole objects are checked against
 *   their ETag when it is an MD5 (s3-integrity.ts). delete: DeleteObject; list:
 *   ListObjectsV2, page by page. These go through the SDK, loaded on first use.
 * Errors are translated in s3-errors.ts. HEAD responses have no body, so `stat` cannot
 * tell a missing bucket from a missing object and answers null for both; put, get and
 * list report a missing bucket as store_config.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { invalidParameter } from '../errors.js';
import { checkByteRange, storeError, type ByteRange, type ObjectInfo, type ObjectSource, type OperationOptions, type StoreBackend, type StoreCapabilities } from './backend.js';
import { checkListPrefix, checkObjectName, isObjectName } from './object-name.js';
import { resolveS3Settings, type S3Settings, type S3StoreOptions } from './s3-config.js';
import { throwIfAborted } from './abort.js';
import { translateS3Error } from './s3-errors.js';
import { bucketAddress, header, s3Request, type S3Connection } from './s3-http.js';
import { md5, objectETagMismatch } from './s3-integrity.js';
import { uploadMultipart } from './s3-multipart.js';
import { putObject } from './s3-put-object.js';
import type { SigningCredentials } from './s3-sigv4.js';

/** The SDK module; imported on first need (it takes about 0.2 s to load). */
type Sdk = typeof import('@aws-sdk/client-s3');

/** Operations worth running at once against one S3 endpoint (a scheduler hint). */
export const S3_MAX_CONCURRENCY = 32;
/** How long opening a TCP (and TLS) connection may take, in milliseconds. */
export const CONNECT_TIMEOUT_MS = 10_000;
/**
 * How long a pooled connection may sit idle before it is closed, in milliseconds. Node's
 * agent shortens this to a server's `Keep-Alive: timeout=N` hint, but only when it is set
 * at all; without it a socket the server is closing gets reused and fails with ECONNRESET
 * (seen against s3rver, whose idle timeout is 5 s). A request in progress is not affected.
 */
export const IDLE_SOCKET_TIMEOUT_MS = 15_000;

function httpStatusOf(error: unknown): number | undefined {
  const status = (error as { $metadata?: { httpStatusCode?: unknown } } | null)?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

export class S3Backend implements StoreBackend {
  readonly capabilities: StoreCapabilities;
  readonly location: string;
  /** The SDK and its client, once an operation needed them. */
  private sdk: Promise<{ readonly module: Sdk; readonly client: S3Client }> | undefined;
  private readonly httpAgent: HttpAgent;
  private readonly httpsAgent: HttpsAgent;
  /** Puts and stats bypass the SDK (s3-http.ts). */
  private readonly connection: S3Connection;
  private closed = false;

  constructor(
    url: URL,
    private readonly settings: S3Settings,
  ) {
    this.location = url.href;
    // A single put holds its object (below the threshold), a multipart one its parts in flight
    // (exact up to 10,000 parts of partBytes; parts grow beyond that, see partBytesFor).
    const putBufferBytes = Math.max(settings.multipartThresholdBytes, settings.partBytes * settings.partConcurrency);
    this.capabilities = { ranges: true, multipart: true, atomicRename: false, maxConcurrency: S3_MAX_CONCURRENCY, putBufferBytes };
    // Keep-alive: a store is many small requests, and a new connection per chunk would
    // cost a round trip (and a TLS handshake) each.
    const agentOptions = { keepAlive: true, maxSockets: settings.maxSockets, timeout: IDLE_SOCKET_TIMEOUT_MS };
    this.httpAgent = new HttpAgent(agentOptions);
    this.httpsAgent = new HttpsAgent(agentOptions);
    const address = bucketAddress(settings);
    const given = settings.credentials;
    this.connection = {
      address,
      region: settings.region,
      // Credentials from the options or the environment as given; otherwise the SDK's
      // provider: its whole chain (files, SSO, instance roles), memoized and refreshed.
      credentials: given === undefined ? async () => (await this.sdkClient()).client.config.credentials() : async (): Promise<SigningCredentials> => given,
      agent: address.protocol === 'http:' ? this.httpAgent : this.httpsAgent,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    };
  }

  /** Loads the SDK and makes its client, once. */
  private sdkClient(): Promise<{ readonly module: Sdk; readonly client: S3Client }> {
    this.sdk ??= import('@aws-sdk/client-s3').then((module) => {
      const { settings } = this;
      const client = new module.S3Client({
        region: settings.region,
        ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
        forcePathStyle: settings.forcePathStyle,
        ...(settings.credentials === undefined ? {} : { credentials: settings.credentials }),
        // Retrying is the retry wrapper's job (it knows the budget and backs off with
        // jitter); SDK retries underneath would multiply attempts and hide failures from it.
        maxAttempts: 1,
        // Integrity is Content-MD5 plus ETag checks (s3-integrity.ts). The SDK's default
        // CRC checksums use aws-chunked uploads that many S3-compatible servers reject.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
        requestHandler: { httpAgent: this.httpAgent, httpsAgent: this.httpsAgent, connectionTimeout: CONNECT_TIMEOUT_MS },
      });
      // close() may have run while the module loaded.
      if (this.closed) client.destroy();
      return { module, client };
    });
    return this.sdk;
  }

  async stat(name: string, options?: OperationOptions): Promise<ObjectInfo | null> {
    this.checkOpen();
    const key = this.key(name);
    const signal = options?.signal;
    throwIfAborted(signal, this.what('stat', name));
    try {
      const reply = await s3Request(this.connection, { method: 'HEAD', key, signal });
      return { name, size: Number(header(reply.headers, 'content-length') ?? 0) };
    } catch (error) {
      const translated = translateS3Error(error, this.what('stat', name), signal);
      if (translated.code === 'not_found') return null;
      throw translated;
    }
  }

  async get(name: string, range?: ByteRange, options?: OperationOptions): Promise<Uint8Array> {
    this.checkOpen();
    const key = this.key(name);
    checkByteRange(range);
    const signal = options?.signal;
    const what = this.what('get', name);
    throwIfAborted(signal, what);
    // An empty range has no Range header form; it still has to say whether the object exists.
    if (range?.length === 0) {
      if ((await this.stat(name, options)) === null) throw storeError('not_found', `${what}: no such object`);
      return new Uint8Array(0);
    }
    const rangeHeader = range === undefined ? undefined : `bytes=${range.offset}-${range.offset + range.length - 1}`;
    let response;
    try {
      const { module, client } = await this.sdkClient();
      response = await client.send(new module.GetObjectCommand({ Bucket: this.settings.bucket, Key: key, Range: rangeHeader }), { abortSignal: signal });
    } catch (error) {
      // 416: the range starts at or past the end; the contract answers that with no bytes.
      if (range !== undefined && httpStatusOf(error) === 416) return new Uint8Array(0);
      throw translateS3Error(error, what, signal);
    }
    let bytes: Uint8Array;
    try {
      bytes = response.Body === undefined ? new Uint8Array(0) : await response.Body.transformToByteArray();
    } catch (error) {
      throw translateS3Error(error, what, signal);
    }
    if (response.ContentLength !== undefined && bytes.length !== response.ContentLength) {
      throw storeError('store_unavailable', `${what}: received ${bytes.length} of ${response.ContentLength} bytes`);
    }
    if (range === undefined) {
      const mismatch = objectETagMismatch(response, md5(bytes));
      if (mismatch !== null) throw storeError('store_integrity', `${what}: ${mismatch}`);
    }
    return bytes;
  }

  async put(name: string, source: ObjectSource, options?: OperationOptions): Promise<void> {
    this.checkOpen();
    const key = this.key(name);
    const signal = options?.signal;
    const what = this.what('put', name);
    throwIfAborted(signal, what);
    if (!Number.isSafeInteger(source.size) || source.size < 0) throw invalidParameter('source.size', 'a non-negative integer', source.size);
    const discardObject = () => this.delete(name);
    if (source.size >= this.settings.multipartThresholdBytes) {
      const { connection, settings } = this;
      await uploadMultipart({ connection, key, what, source, partBytes: settings.partBytes, partConcurrency: settings.partConcurrency, signal, discardObject });
      return;
    }
    // The bytes are only sent, never kept: a view of the source's own array will do.
    const bytes = source.size === 0 ? new Uint8Array(0) : await source.read(0, source.size);
    if (bytes.length !== source.size) throw storeError('store_error', `${what}: the source returned ${bytes.length} of ${source.size} bytes`);
    throwIfAborted(signal, what);
    const digest = md5(bytes);
    let response;
    try {
      response = await putObject(this.connection, key, bytes, digest, signal);
    } catch (error) {
      throw translateS3Error(error, what, signal);
    }
    const mismatch = objectETagMismatch(response, digest);
    if (mismatch !== null) {
      // The server stored something else than was sent: take it away rather than serve it.
      await discardObject().catch(() => undefined);
      throw storeError('store_integrity', `${what}: ${mismatch}`);
    }
  }

  async delete(name: string, options?: OperationOptions): Promise<void> {
    this.checkOpen();
    const key = this.key(name);
    const signal = options?.signal;
    throwIfAborted(signal, this.what('delete', name));
    try {
      const { module, client } = await this.sdkClient();
      await client.send(new module.DeleteObjectCommand({ Bucket: this.settings.bucket, Key: key }), { abortSignal: signal });
    } catch (error) {
      const translated = translateS3Error(error, this.what('delete', name), signal);
      if (translated.code !== 'not_found') throw translated;
    }
  }

  async *list(prefix: string, options?: OperationOptions): AsyncIterable<ObjectInfo> {
    this.checkOpen();
    checkListPrefix(prefix);
    const signal = options?.signal;
    const what = `${this.location}: list ${JSON.stringify(prefix)}`;
    const storePrefix = this.settings.prefix;
    let continuationToken: string | undefined;
    do {
      throwIfAborted(signal, what);
      let page;
      try {
        const { module, client } = await this.sdkClient();
        page = await client.send(new module.ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: storePrefix + prefix, ContinuationToken: continuationToken }), {
          abortSignal: signal,
        });
      } catch (error) {
        throw translateS3Error(error, what, signal);
      }
      for (const entry of page.Contents ?? []) {
        if (entry.Key === undefined || !entry.Key.startsWith(storePrefix)) continue;
        const name = entry.Key.slice(storePrefix.length);
        // Keys no object name can address (folder markers ending in '/', '..' segments)
        // were not written through this interface; listing them would hand out names
        // that every other call rejects.
        if (isObjectName(name)) yield { name, size: entry.Size ?? 0 };
      }
      continuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      if (page.IsTruncated === true && continuationToken === undefined) {
        throw storeError('store_error', `${what}: the server cut the listing short without a continuation token`);
      }
    } while (continuationToken !== undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A client still being made is destroyed when it is ready (sdkClient).
    if (this.sdk !== undefined) (await this.sdk.catch(() => undefined))?.client.destroy();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  private key(name: string): string {
    return this.settings.prefix + checkObjectName(name);
  }

  private what(operation: string, name: string): string {
    return `${this.location}: ${operation} ${name}`;
  }

  private checkOpen(): void {
    if (this.closed) throw storeError('store_closed', `${this.location} is closed`);
  }
}

/** Opens `s3://bucket/prefix`; no request is made until the first operation. */
export async function openS3Store(url: URL, options: S3StoreOptions = {}): Promise<S3Backend> {
  return new S3Backend(url, resolveS3Settings(url, options));
}
