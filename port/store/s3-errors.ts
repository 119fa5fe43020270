/**
 * Translates what the AWS SDK throws into store errors (port/store/backend.ts), so the
 * retry wrapper can tell a refused key (permanent) from a busy or unreachable server
 * (retryable). S3 error codes come from the S3 API reference's error list; S3-compatible
 * servers use the same names. HEAD responses carry no body, so for them only the HTTP
 * status is known (the SDK names those errors `NotFound`, `Forbidden` or `Unknown`).
 */
import { ChunkerError } from '../errors.js';
import { storeError, type StoreErrorCode } from './backend.js';
import { abortError } from './abort.js';

/** The fields of an SDK or Node error this module looks at. */
interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  Code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

const CODE_BY_S3_ERROR: Readonly<Record<string, StoreErrorCode>> = {
  NoSuchKey: 'not_found',
  NotFound: 'not_found',
  NoSuchBucket: 'store_config',
  InvalidBucketName: 'store_config',
  PermanentRedirect: 'store_config',
  // Signed for another region than the bucket's.
  AuthorizationHeaderMalformed: 'store_config',
  RequestTimeTooSkewed: 'store_config',
  // An S3-compatible server without an operation this backend needs.
  NotImplemented: 'store_config',
  InvalidAccessKeyId: 'store_auth',
  SignatureDoesNotMatch: 'store_auth',
  InvalidToken: 'store_auth',
  ExpiredToken: 'store_auth',
  TokenRefreshRequired: 'store_auth',
  CredentialsProviderError: 'store_auth',
  AccessDenied: 'store_permission',
  AllAccessDisabled: 'store_permission',
  AccountProblem: 'store_permission',
  QuotaExceeded: 'store_full',
  SlowDown: 'store_busy',
  ServiceUnavailable: 'store_busy',
  Throttling: 'store_busy',
  ThrottlingException: 'store_busy',
  RequestThrottled: 'store_busy',
  TooManyRequestsException: 'store_busy',
  // The body did not match Content-MD5: damaged on the way, worth sending again.
  BadDigest: 'store_integrity',
  IncompleteBody: 'store_unavailable',
  // S3 gave up on a connection that sent nothing for a while.
  RequestTimeout: 'store_timeout',
  TimeoutError: 'store_timeout',
  InternalError: 'store_error',
  // The upload vanished (aborted elsewhere or expired); a retried put starts a new one.
  NoSuchUpload: 'store_error',
};

/** Node socket errors that mean the server could not be reached or the connection broke. */
const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

function codeForStatus(status: number): StoreErrorCode | null {
  if (status === 404) return 'not_found';
  if (status === 401) return 'store_auth';
  if (status === 403) return 'store_permission';
  if (status === 429 || status === 503) return 'store_busy';
  if (status >= 500) return 'store_error';
  // Any other 4xx: the server refused this request as made (an operation it does not
  // support, an argument it rejects); sending it again cannot help.
  if (status >= 400) return 'store_config';
  return null;
}

/**
 * The store error for `error`, thrown by the SDK while doing `what` (e.g.
 * "s3://bucket/prefix: put chunks/ab"). ChunkerErrors pass through unchanged.
 */
export function translateS3Error(error: unknown, what: string, signal?: AbortSignal): ChunkerError {
  if (error instanceof ChunkerError) return error;
  if (signal?.aborted) return abortError(signal, what);
  const shape = (typeof error === 'object' && error !== null ? error : {}) as SdkErrorShape;
  const name = typeof shape.name === 'string' ? shape.name : '';
  const s3Code = typeof shape.Code === 'string' ? shape.Code : name;
  const nodeCode = typeof shape.code === 'string' ? shape.code : '';
  const status = typeof shape.$metadata?.httpStatusCode === 'number' ? shape.$metadata.httpStatusCode : undefined;
  const message = typeof shape.message === 'string' && shape.message !== '' && shape.message !== 'UnknownError' ? shape.message : String(error);
  const detail = status === undefined ? s3Code || nodeCode : `HTTP ${status} ${s3Code}`;

  if (name === 'AbortError') return new ChunkerError('aborted', `${what} was aborted`, true);
  // Before the name: the SDK renames some socket errors (ECONNRESET, EPIPE) TimeoutError.
  if (NETWORK_ERROR_CODES.has(nodeCode)) return storeError('store_unavailable', `${what}: ${nodeCode}: ${message}`);
  const known = CODE_BY_S3_ERROR[s3Code];
  if (known !== undefined) return storeError(known, `${what}: ${detail}: ${message}`);
  if (status !== undefined) {
    const byStatus = codeForStatus(status);
    if (byStatus !== null) return storeError(byStatus, `${what}: ${detail}: ${message}`);
  }
  return storeError('store_error', `${what}: ${detail || 'error'}: ${message}`);
}
