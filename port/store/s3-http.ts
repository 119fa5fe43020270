/**
 * S3 requests sent straight through node:http(s) and signed with SigV4 (s3-sigv4.ts): the
 * requests of an upload — HEAD for existence checks, PutObject (s3-put-object.ts) and the
 * multipart calls (s3-multipart.ts). Two costs of the AWS SDK made these worth writing:
 * its per-request machinery (endpoint rules, middleware stack, serializers) took about
 * 2 ms of CPU per request here, more than sending a 64 KiB chunk over loopback; and
 * loading it takes about 0.2 s, which a `chunker sync` that needs nothing else from it
 * should not wait for. The SDK is still used, loaded on first need, for GET, LIST and
 * DELETE and for credentials that are not in the options or the environment (s3.ts).
 *
 * Requests are the ones the SDK sends: `<METHOD> /<bucket>/<key>?<query>` (path style) or
 * `/<key>?<query>` on `<bucket>.<host>` (virtual-host style), with the payload's SHA-256
 * signed. Failures are handed to translateS3Error in the SDK's error shape: S3's XML
 * `<Code>` and `<Message>` with the HTTP status, or the socket error.
 */
import { request as httpRequest, type Agent as HttpAgent, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type Agent as HttpsAgent } from 'node:https';
import type { S3Settings } from './s3-config.js';
import type { ETagResponse } from './s3-integrity.js';
import { canonicalQuery, encodeKeyPath, payloadHash, signRequest, type SigningCredentials } from './s3-sigv4.js';

/**
 * Bytes of a response body kept: error documents and the XML replies of the multipart
 * calls are small; a longer body is cut (and then fails to parse, as it should).
 */
const MAX_REPLY_BODY_BYTES = 1024 * 1024;

const EMPTY_BODY = new Uint8Array(0);

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

const XML_ENTITIES: Readonly<Record<string, string>> = { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' };
const XML_ESCAPES: Readonly<Record<string, string>> = Object.fromEntries(Object.entries(XML_ENTITIES).map(([name, character]) => [character, `&${name};`]));

/** The text of the first `<element>` in `body`, entities decoded; undefined when absent. */
export function xmlText(body: string, element: string): string | undefined {
  const match = new RegExp(`<${element}>([^<]*)</${element}>`).exec(body);
  if (match === null) return undefined;
  return match[1]!.replace(/&(lt|gt|quot|apos|amp);/g, (_, entity: string) => XML_ENTITIES[entity]!);
}

/** `text` escaped for an XML element's content. */
export function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (character) => XML_ESCAPES[character]!);
}

/** The error for a non-2xx response: S3's Code and Message from the body, or the status alone (as the SDK names it). */
export function responseError(status: number, body: string): S3ResponseError {
  const code = xmlText(body, 'Code') ?? (status === 404 ? 'NotFound' : status === 403 ? 'Forbidden' : 'Unknown');
  return new S3ResponseError(status, code, xmlText(body, 'Message') ?? `HTTP ${status}`);
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * What `reply` says about its ETag for the integrity checks (s3-integrity.ts): `etag`
 * (its ETag header, or the ETag of a Complete document) and the encryption headers that
 * tell whether it is an MD5.
 */
export function etagReply(reply: S3Reply, etag: string | undefined): ETagResponse {
  return {
    ETag: etag,
    ServerSideEncryption: header(reply.headers, 'x-amz-server-side-encryption'),
    SSECustomerAlgorithm: header(reply.headers, 'x-amz-server-side-encryption-customer-algorithm'),
  };
}

/** How a store reaches its bucket. */
export interface S3Connection {
  readonly address: BucketAddress;
  readonly region: string;
  readonly credentials: () => Promise<SigningCredentials>;
  readonly agent: HttpAgent | HttpsAgent;
  /** Deadline for opening the TCP (and TLS) connection, in milliseconds. */
  readonly connectTimeoutMs: number;
}

export interface S3Call {
  readonly method: 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  readonly key: string;
  /** Sub-resource and parameters, unencoded (`{ uploads: '' }`, `{ partNumber: '1', uploadId }`). */
  readonly query?: Readonly<Record<string, string>>;
  /** Extra headers, names in lower case; all are signed. */
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  /** Hex SHA-256 of the body when the caller has it already; computed otherwise. */
  readonly payloadHash?: string;
  readonly signal: AbortSignal | undefined;
}

export interface S3Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body, cut at MAX_REPLY_BODY_BYTES. */
  readonly body: string;
}

/**
 * Sends `call`; resolves with a 2xx reply, rejects with an S3ResponseError for any other
 * status or the socket's error (an aborted `signal` rejects with its reason).
 */
export async function s3Request(connection: S3Connection, call: S3Call): Promise<S3Reply> {
  const { address } = connection;
  const body = call.body ?? EMPTY_BODY;
  const query = call.query ?? {};
  const queryString = canonicalQuery(query);
  const path = address.pathPrefix + encodeKeyPath(call.key);
  const headers: Record<string, string> = { host: address.host, ...call.headers };
  if (call.method === 'PUT' || call.method === 'POST') headers['content-length'] = String(body.length);
  const signable = { method: call.method, path, query, headers, payloadHash: call.payloadHash ?? payloadHash(body) };
  Object.assign(headers, signRequest(signable, await connection.credentials(), { region: connection.region, service: 's3' }, new Date()));
  const send = address.protocol === 'http:' ? httpRequest : httpsRequest;
  const { signal } = call;
  return new Promise<S3Reply>((resolve, reject) => {
    const requestPath = queryString === '' ? path : `${path}?${queryString}`;
    const request = send({ method: call.method, hostname: address.hostname, port: address.port, path: requestPath, headers, agent: connection.agent, signal });
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
        if (kept < MAX_REPLY_BODY_BYTES) chunks.push(chunk);
        kept += chunk.length;
      });
      response.once('error', reject);
      // A connection cut mid-response ends the response without 'end' (or 'error').
      response.once('close', () => {
        if (!response.complete) reject(Object.assign(new Error(`the connection to ${address.host} closed mid-response`), { code: 'ECONNRESET' }));
      });
      response.once('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (status < 200 || status > 299) reject(responseError(status, text));
        else resolve({ status, headers: response.headers, body: text });
      });
    });
    request.end(body.length === 0 ? undefined : body);
  });
}
