/**
 * Turns an `s3://bucket/prefix` URL, the `s3` options section and the environment into the
 * settings the S3 backend runs with. Pure: the environment is a parameter.
 *
 * Environment (the AWS CLI's names): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN; AWS_REGION, then AWS_DEFAULT_REGION (default us-east-1);
 * AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL, for S3-compatible servers. Explicit options
 * win over the environment. Without credentials in either, the AWS SDK's own provider
 * chain runs (shared config files, SSO, container and instance roles).
 */
import { invalidParameter } from '../errors.js';
import { storeError } from './backend.js';

const MIB = 1024 * 1024;

/** Objects at or above this size go up as multipart uploads, by default. */
export const DEFAULT_MULTIPART_THRESHOLD_BYTES = 16 * MIB;
/** Size of each multipart part, by default (rclone's S3 default is 5 MiB). */
export const DEFAULT_PART_BYTES = 8 * MIB;
/** Parts of one object uploaded at once, by default. */
export const DEFAULT_PART_CONCURRENCY = 4;
/** Sockets kept per host (covers the transfer engine's limit times a few parts). */
export const DEFAULT_MAX_SOCKETS = 64;
/** S3's smallest part (every part but the last). */
export const MIN_PART_BYTES = 5 * MIB;
/** S3's largest part. */
export const MAX_PART_BYTES = 5 * 1024 * MIB;
/** S3's most parts in one upload. */
export const MAX_PARTS = 10_000;
/** Upper bound for partConcurrency, so one object cannot hold unbounded memory. */
export const MAX_PART_CONCURRENCY = 64;
/** Region used when neither options nor environment name one. */
export const DEFAULT_REGION = 'us-east-1';

// S3's rules for bucket names that work in both virtual-host and path style.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** The `s3` section of StoreOpenOptions. */
export interface S3StoreOptions {
  /** S3-compatible server, e.g. http://127.0.0.1:9000; implies path-style requests. */
  readonly endpoint?: string;
  readonly region?: string;
  readonly credentials?: S3Credentials;
  /** Defaults to true when an endpoint is set (most S3-compatible servers need it). */
  readonly forcePathStyle?: boolean;
  /** Objects at or above this many bytes are sent as multipart uploads. */
  readonly multipartThresholdBytes?: number;
  /** Bytes per part (at least 5 MiB); grown when an object would need more than 10,000 parts. */
  readonly partBytes?: number;
  /** Parts of one object in flight at once; memory per put is about partBytes × this. */
  readonly partConcurrency?: number;
  /** HTTP keep-alive sockets per host. */
  readonly maxSockets?: number;
}

export interface S3Settings {
  readonly bucket: string;
  /** Key prefix, empty or ending in '/'. */
  readonly prefix: string;
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly forcePathStyle: boolean;
  readonly credentials: S3Credentials | undefined;
  readonly multipartThresholdBytes: number;
  readonly partBytes: number;
  readonly partConcurrency: number;
  readonly maxSockets: number;
}

type Environment = Readonly<Record<string, string | undefined>>;

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function checkInteger(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalidParameter(`s3.${name}`, `an integer from ${min} to ${max}`, value);
  }
  return value;
}

function parsePrefix(url: URL): string {
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    throw storeError('store_config', `Bad percent-encoding in the prefix of ${url.href}`);
  }
  const trimmed = path.replace(/^\/+/, '').replace(/\/+$/, '');
  if (trimmed === '') return '';
  if (trimmed.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw storeError('store_config', `The prefix of ${url.href} has empty, '.' or '..' segments`);
  }
  return `${trimmed}/`;
}

function parseEndpoint(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw invalidParameter('s3.endpoint', 'an http(s) URL such as http://127.0.0.1:9000', endpoint);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidParameter('s3.endpoint', 'an http(s) URL such as http://127.0.0.1:9000', endpoint);
  }
  return endpoint;
}

function resolveCredentials(options: S3StoreOptions, env: Environment): S3Credentials | undefined {
  if (options.credentials !== undefined) {
    const { accessKeyId, secretAccessKey } = options.credentials;
    if (typeof accessKeyId !== 'string' || accessKeyId === '' || typeof secretAccessKey !== 'string' || secretAccessKey === '') {
      throw invalidParameter('s3.credentials', 'non-empty accessKeyId and secretAccessKey', { accessKeyId });
    }
    return options.credentials;
  }
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  if (accessKeyId === undefined || secretAccessKey === undefined) return undefined;
  const sessionToken = nonEmpty(env.AWS_SESSION_TOKEN);
  return sessionToken === undefined ? { accessKeyId, secretAccessKey } : { accessKeyId, secretAccessKey, sessionToken };
}

/** Resolves the settings for `url` (an `s3:` URL); throws store_config or invalid_argument. */
export function resolveS3Settings(url: URL, options: S3StoreOptions = {}, env: Environment = process.env): S3Settings {
  if (url.protocol !== 's3:') throw storeError('store_config', `Not an s3: URL: ${url.href}`);
  if (url.username !== '' || url.password !== '') {
    throw storeError('store_config', 'Credentials do not belong in an s3: URL; use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the s3.credentials option');
  }
  if (url.search !== '' || url.hash !== '' || url.port !== '') {
    throw storeError('store_config', `Expected s3://bucket/prefix but received ${url.href}`);
  }
  const bucket = url.hostname;
  if (!BUCKET_NAME.test(bucket) || bucket.includes('..')) {
    throw storeError('store_config', `Bucket name ${JSON.stringify(bucket)} in ${url.href} is not a valid S3 bucket name (3-63 of a-z 0-9 . -)`);
  }
  const endpointText = options.endpoint ?? nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  const endpoint = endpointText === undefined ? undefined : parseEndpoint(endpointText);
  const partBytes = checkInteger('partBytes', options.partBytes, DEFAULT_PART_BYTES, MIN_PART_BYTES, MAX_PART_BYTES);
  return {
    bucket,
    prefix: parsePrefix(url),
    region: options.region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? DEFAULT_REGION,
    endpoint,
    forcePathStyle: options.forcePathStyle ?? endpoint !== undefined,
    credentials: resolveCredentials(options, env),
    // A threshold below one part would make multipart uploads of a single part: allowed,
    // but the minimum keeps every multipart upload within S3's part-size rules.
    multipartThresholdBytes: checkInteger('multipartThresholdBytes', options.multipartThresholdBytes, DEFAULT_MULTIPART_THRESHOLD_BYTES, MIN_PART_BYTES, MAX_PART_BYTES),
    partBytes,
    partConcurrency: checkInteger('partConcurrency', options.partConcurrency, DEFAULT_PART_CONCURRENCY, 1, MAX_PART_CONCURRENCY),
    maxSockets: checkInteger('maxSockets', options.maxSockets, DEFAULT_MAX_SOCKETS, 1, 4096),
  };
}

/** Bytes per part for an object of `size` bytes: `partBytes`, grown to stay within MAX_PARTS. */
export function partBytesFor(size: number, partBytes: number): number {
  if (Math.ceil(size / partBytes) <= MAX_PARTS) return partBytes;
  // Whole MiB keeps part boundaries tidy; S3 needs no particular alignment.
  return Math.ceil(size / MAX_PARTS / MIB) * MIB;
}
