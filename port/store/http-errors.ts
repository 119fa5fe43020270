/**
 * How the HTTP backend turns what it meets into store errors: an HTTP status, a socket or
 * TLS failure, or an aborted signal. The status table follows what WebDAV-enabled servers
 * (nginx `dav_methods`, Apache mod_dav) answer; anything unexpected keeps its status in
 * the message so an operator can look it up.
 */
import { ChunkerError } from '../errors.js';
import { storeError, type StoreErrorCode } from './backend.js';

/** What the store was doing, for messages: `PUT http://host/store/chunks/ab…`. */
export interface RequestDescription {
  readonly method: string;
  /** The object's URL without credentials. */
  readonly target: string;
}

function describe(request: RequestDescription): string {
  return `${request.method} ${request.target}`;
}

function codeForStatus(status: number): StoreErrorCode {
  // A redirect the store did not expect (to https, another host): the URL needs changing.
  if (status >= 300 && status < 400) return 'store_config';
  switch (status) {
    case 401:
      return 'store_auth';
    case 403:
      return 'store_permission';
    case 404:
    case 410:
      return 'not_found';
    case 405: // the server does not accept this method here: WebDAV is not enabled
    case 501:
      return 'store_config';
    case 408:
    case 504:
      return 'store_timeout';
    case 413:
    case 507:
      return 'store_full';
    case 429:
    case 503:
      return 'store_busy';
    default:
      // Other 4xx (400, 409 when a path segment is a file, 414, …) will not change by
      // repeating the request; other 5xx and anything unexpected are treated as transient.
      return status >= 400 && status < 500 ? 'store_permission' : 'store_error';
  }
}

const STATUS_HINTS: Partial<Record<StoreErrorCode, string>> = {
  store_auth: '; check the user and password in the store URL',
  store_config: '; the server must accept PUT and DELETE (nginx: dav_methods PUT DELETE)',
};

/** The error for an HTTP status the operation did not expect (`redirect`: its Location). */
export function statusError(status: number, statusMessage: string | undefined, request: RequestDescription, redirect?: string): ChunkerError {
  const code = codeForStatus(status);
  const text = `${describe(request)}: the server answered ${status} ${statusMessage ?? ''}`.trimEnd();
  if (code === 'store_config' && redirect !== undefined) return storeError(code, `${text} to ${redirect}; use that location in the store URL`);
  return storeError(code, `${text}${STATUS_HINTS[code] ?? ''}`);
}

// Certificate failures mean the server is not who the URL says: permanent, like a bad host key.
const TLS_IDENTITY_CODES = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

/**
 * The error for a failure below HTTP: refused or reset connections, a cut transfer, DNS,
 * TLS. Errors that already are ChunkerErrors pass through unchanged.
 */
export function networkError(error: unknown, request: RequestDescription): ChunkerError {
  if (error instanceof ChunkerError) return error;
  const { code, message } = error as NodeJS.ErrnoException;
  if (code !== undefined && TLS_IDENTITY_CODES.has(code)) {
    return storeError('store_auth', `${describe(request)}: the server's TLS certificate was refused (${code}: ${message}); pass its CA with the http.caFile option`);
  }
  if (code === 'ENOTFOUND') return storeError('store_unavailable', `${describe(request)}: unknown host (${message})`);
  return storeError('store_unavailable', `${describe(request)}: ${message}${code !== undefined && !message.includes(code) ? ` (${code})` : ''}`);
}

/**
 * The error for an operation abandoned because its signal fired: `store_timeout` when the
 * signal was a timeout (`AbortSignal.timeout`), `aborted` otherwise.
 */
export function abortError(signal: AbortSignal, request: RequestDescription): ChunkerError {
  const reason: unknown = signal.reason;
  if (reason instanceof ChunkerError) return reason;
  if (reason instanceof Error && reason.name === 'TimeoutError') return storeError('store_timeout', `${describe(request)}: timed out`);
  return new ChunkerError('aborted', `${describe(request)}: aborted`, true);
}
