/**
 * AWS Signature Version 4 in the header form S3 documents ("Authenticating Requests: Using
 * the Authorization Header"), for the requests the S3 backend sends without the SDK
 * (s3-http.ts). Pure: the date is a parameter.
 *
 * The S3 flavour: the path is URI-encoded once, as sent (other services encode it twice),
 * and `x-amz-content-sha256` carries the payload's SHA-256 and is itself signed.
 */
import { createHash, createHmac } from 'node:crypto';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';

export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}

export interface SignableRequest {
  readonly method: string;
  /** The path as sent, already URI-encoded (see encodeKeyPath). */
  readonly path: string;
  /** Query parameters, unencoded; none by default. */
  readonly query?: Readonly<Record<string, string>>;
  /** Header names in lower case, `host` among them; all of them are signed. */
  readonly headers: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the body (payloadHash). */
  readonly payloadHash: string;
}

export interface SigningScope {
  readonly region: string;
  /** `s3` for S3. */
  readonly service: string;
}

/** The hex SHA-256 of `bytes`, as `x-amz-content-sha256` wants it. */
export function payloadHash(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

// encodeURIComponent leaves these unencoded; SigV4 encodes every byte outside A-Z a-z 0-9 - _ . ~
const EXTRA_RESERVED = /[!'()*]/g;

/** One path segment URI-encoded the way SigV4 canonicalizes it (UTF-8, upper-case hex). */
export function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(EXTRA_RESERVED, (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** An object key as a request path suffix: every '/'-separated segment encoded. */
export function encodeKeyPath(key: string): string {
  return key.split('/').map(encodeSegment).join('/');
}

/**
 * Query parameters as SigV4 canonicalizes them — each name and value encoded, `name=value`
 * pairs sorted, joined by '&' — which is also a valid query string to send.
 */
export function canonicalQuery(query: Readonly<Record<string, string>>): string {
  return Object.entries(query)
    .map(([name, value]) => `${encodeSegment(name)}=${encodeSegment(value)}`)
    .sort()
    .join('&');
}

/** `YYYYMMDDTHHMMSSZ`, the form of x-amz-date. */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/**
 * The last signing key derived, reused while the day, region, service and secret stay the
 * same (four HMACs saved per request).
 */
let cachedKey: { id: string; key: Buffer } | undefined;

function signingKey(secret: string, day: string, scope: SigningScope): Buffer {
  const id = `${day}\n${scope.region}\n${scope.service}\n${secret}`;
  if (cachedKey?.id !== id) cachedKey = { id, key: hmac(hmac(hmac(hmac(`AWS4${secret}`, day), scope.region), scope.service), 'aws4_request') };
  return cachedKey.key;
}

/**
 * Signs `request`: returns the headers to send in addition to `request.headers` —
 * `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` with session credentials,
 * and `authorization`. The added x-amz-* headers are signed too.
 */
export function signRequest(request: SignableRequest, credentials: SigningCredentials, scope: SigningScope, date: Date): Record<string, string> {
  const timestamp = amzDate(date);
  const day = timestamp.slice(0, 8);
  const added: Record<string, string> = { 'x-amz-content-sha256': request.payloadHash, 'x-amz-date': timestamp };
  if (credentials.sessionToken !== undefined && credentials.sessionToken !== '') added['x-amz-security-token'] = credentials.sessionToken;
  const headers = { ...request.headers, ...added };
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((name) => `${name}:${headers[name]!.trim().replace(/\s+/g, ' ')}\n`).join('');
  const signedHeaders = names.join(';');
  const canonicalRequest = [request.method, request.path, canonicalQuery(request.query ?? {}), canonicalHeaders, signedHeaders, request.payloadHash].join('\n');
  const credentialScope = `${day}/${scope.region}/${scope.service}/aws4_request`;
  const stringToSign = [SIGV4_ALGORITHM, timestamp, credentialScope, createHash('sha256').update(canonicalRequest, 'utf8').digest('hex')].join('\n');
  const signature = createHmac('sha256', signingKey(credentials.secretAccessKey, day, scope)).update(stringToSign, 'utf8').digest('hex');
  added.authorization = `${SIGV4_ALGORITHM} Credential=${credentials.accessKeyId}/${credentialScope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return added;
}
