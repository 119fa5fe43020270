/**
 * PutObject sent straight through node:http(s), signed with SigV4 (s3-sigv4.ts), for the
 * single-request puts of the S3 backend — one per chunk, the request a chunk store makes
 * most. The AWS SDK's per-request machinery (endpoint rules, middleware stack,
 * serializers) cost about 2 ms of CPU per request here, more than sending a 64 KiB chunk
 * over loopback took, and made uploads of many small objects CPU-bound on a small machine.
 * Everything else (HEAD, GET, LIST, DELETE, multipart) still goes through the SDK.
 *
 * The request is the one the SDK sends: `PUT /<bucket>/<key>` (path style) or
 * `PUT /<key>` on `<bucket>.<host>` (virtual-host style), with Content-Length,
 * Content-MD5 and the body's SHA-256 signed. Credentials come from the SDK client's
 * provider, so the same chain (environment, files, SSO, instance roles) and refreshing
 * apply. Failures are handed to translateS3Error in the SDK's error shape: S3's XML
 * `<Code>` and `<Message>` with the HTTP status, or the socket error.
 */
import { request as httpRequest, type Agent as HttpAgent, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import type { S3Settings } from './s3-config.js';
import { encodeKeyPath, payloadHash, signRequest, type SigningCredentials } from './s3-sigv4.js';

/** Bytes of an error response kept for its Code and Message (S3 error documents are small). */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/** Where the objects of a bucket are addressed: requests go to `origin` + `pathPrefix` + encoded key. */
export interface BucketAddress {
  readonly protocol: 'http:' | 'https:';
  readonly hostname: string;
  /** Empty for the protocol's default port. */
  readonly port: string;
  /** The Host header (and signed `host`): hostname, plus `:port` when not the default. */
  readonly host: string;
  /** Starts and ends with '/'. */
  readonly pathPrefix: string;
}

/**
 * The address of `settings.bucket`: on the configured endpoint (path style, or the bucket
 * as a subdomain of the endpoint's host), else on AWS's regional endpoint — virtual-host
 * style unless path style is forced or the bucket name has dots (which AWS's wildcard
 * certificate does not cover).
 */
export function bucketAddress(settings: Pick<S3Settings, 'bucket' | 'endpoint' | 'forcePathStyle' | 'region'>): BucketAddress {
  const { bucket } = settings;
  let base: URL;
  let pathStyle = settings.forcePathStyle;
  if (settings.endpoint !== undefined) base = new URL(settings.endpoint);
  else {
    const domain = settings.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
    base = new URL(`https://s3.${settings.region}.${domain}`);
    pathStyle ||= bucket.includes('.');
  }
  const basePath = base.pathname.replace(/\/+$/, '');
  const hostname = pathStyle ? base.hostname : `${bucket}.${base.hostname}`;
  return {
    protocol: base.protocol === 'http:' ? 'http:' : 'https:',
    hostname,
    port: base.port,
    host: base.port === '' ? hostname : `${hostname}:${base.port}`,
    pathPrefix: pathStyle ? `${basePath}/${encodeKeyPath(bucket)}/` : `${basePath}/`,
  };
}

/** What a successful put answered with, for the ETag check (s3-integrity.ts). */
export interface PutObjectReply {
  readonly ETag?: string;
  readonly ServerSideEncryption?: string;
  readonly SSECustomerAlgorithm?: string;
}

/** An S3 error response in the shape the SDK throws (what translateS3Error reads). */
export class S3ResponseError extends Error {
  readonly Code: string;
  readonly $metadata: { readonly httpStatusCode: number };

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = code;
    this.Code = code;
    this.$metadata = { httpStatusCode: status };
  }
}

function xmlText(body: string, element: string): string | undefined {
  const match = new RegExp(`<${element}>([^<]*)</${element}>`).exec(body);
  if (match === null) return undefined;
  return match[1]!.replace(/&(lt|gt|quot|apos|amp);/g, (_, entity: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[entity]!);
}

/** The error for a non-2xx response: S3's Code and Message from the body, or the status alone (as the SDK names it). */
export function responseError(status: number, body: string): S3ResponseError {
  const code = xmlText(body, 'Code') ?? (status === 404 ? 'NotFound' : status === 403 ? 'Forbidden' : 'Unknown');
  return new S3ResponseError(status, code, xmlText(body, 'Message') ?? `HTTP ${status}`);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export interface PutObjectConnection {
  readonly address: BucketAddress;
  readonly region: string;
  readonly credentials: () => Promise<SigningCredentials>;
  readonly agent: HttpAgent | HttpsAgent;
  /** Deadline for opening the TCP (and TLS) connection, in milliseconds. */
  readonly connectTimeoutMs: number;
}

/**
 * PUTs `body` as `key`; resolves with the reply's integrity headers, rejects with an
 * S3ResponseError or the socket's error (an aborted `signal` rejects with its reason).
 */
export async function putObject(connection: PutObjectConnection, key: string, body: Uint8Array, md5: Buffer, signal: AbortSignal | undefined): Promise<PutObjectReply> {
  const { address } = connection;
  const path = address.pathPrefix + encodeKeyPath(key);
  const headers: Record<string, string> = {
    host: address.host,
    'content-length': String(body.length),
    'content-md5': md5.toString('base64'),
  };
  Object.assign(headers, signRequest({ method: 'PUT', path, headers, payloadHash: payloadHash(body) }, await connection.credentials(), { region: connection.region, service: 's3' }, new Date()));
  const send = address.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise<PutObjectReply>((resolve, reject) => {
    const request = send({ method: 'PUT', hostname: address.hostname, port: address.port, path, headers, agent: connection.agent, signal });
    let connectTimer: NodeJS.Timeout | undefined;
    request.once('socket', (socket) => {
      if (!socket.connecting) return;
      connectTimer = setTimeout(() => {
        request.destroy(Object.assign(new Error(`no connection to ${address.host} within ${connection.connectTimeoutMs} ms`), { code: 'ETIMEDOUT' }));
      }, connection.connectTimeoutMs);
      socket.once('connect', () => clearTimeout(connectTimer));
    });
    request.once('error', (error) => {
      clearTimeout(connectTimer);
      reject(signal?.aborted ? signal.reason : error);
    });
    request.once('response', (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let kept = 0;
      response.on('data', (chunk: Buffer) => {
        if (kept < MAX_ERROR_BODY_BYTES) chunks.push(chunk);
        kept += chunk.length;
      });
      response.once('error', reject);
      // A connection cut mid-response ends the response without 'end' (or 'error').
      response.once('close', () => {
        if (!response.complete) reject(Object.assign(new Error(`the connection to ${address.host} closed mid-response`), { code: 'ECONNRESET' }));
      });
      response.once('end', () => {
        if (status < 200 || status > 299) {
          reject(responseError(status, Buffer.concat(chunks).toString('utf8')));
          return;
        }
        const reply: { -readonly [K in keyof PutObjectReply]: PutObjectReply[K] } = {};
        const etag = header(response.headers, 'etag');
        const encryption = header(response.headers, 'x-amz-server-side-encryption');
        const customerAlgorithm = header(response.headers, 'x-amz-server-side-encryption-customer-algorithm');
        if (etag !== undefined) reply.ETag = etag;
        if (encryption !== undefined) reply.ServerSideEncryption = encryption;
        if (customerAlgorithm !== undefined) reply.SSECustomerAlgorithm = customerAlgorithm;
        resolve(reply);
      });
    });
    request.end(body);
  });
}
