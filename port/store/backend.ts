/**
 * The chunk-store contract. Every backend (memory, local, sftp, s3, http) implements
 * `StoreBackend`; retries, concurrency limits, bandwidth limits and timeouts are wrappers
 * around this interface (port/store/wrappers), never code inside a backend.
 *
 * Objects are immutable byte strings named by an `ObjectName` (see object-name.ts): a
 * relative, '/'-separated key such as `chunks/ab/abcdef….zst`. A chunk store writes an
 * object under its content hash, so writing a name twice writes the same bytes: `put` is
 * idempotent by construction, and every operation below may be retried after a transient
 * failure.
 *
 * Errors: every failure is a `ChunkerError` (port/errors.ts) with one of the codes of
 * `StoreErrorCode`. `permanent: true` means repeating the same call cannot succeed (missing
 * object, bad credentials, no permission, no space); the retry wrapper retries only
 * errors with `permanent: false` (connection refused or reset, timeouts, 5xx, throttling).
 */
import { ChunkerError, invalidParameter } from '../errors.js';

/** Throws `invalid_argument` unless `range` (if given) is a non-negative, safe-integer range. */
export function checkByteRange(range: ByteRange | undefined): void {
  if (range === undefined) return;
  const { offset, length } = range;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || !Number.isSafeInteger(offset + length)) {
    throw invalidParameter('range', 'a non-negative integer offset and length', range);
  }
}

/** What a backend can do; the transfer scheduler plans around it. */
export interface StoreCapabilities {
  /** `get` with a range reads only that range from the server (not the whole object). */
  readonly ranges: boolean;
  /** Large objects are sent as parts in parallel (S3 multipart). */
  readonly multipart: boolean;
  /**
   * `put` publishes objects atomically by a rename on the server (local, sftp); false
   * where the server itself guarantees whole-object visibility (S3, WebDAV PUT).
   * Either way a reader never sees a partial object; this flag only says how.
   */
  readonly atomicRename: boolean;
  /** Most operations worth running at once against this backend (a hint, ≥ 1). */
  readonly maxConcurrency: number;
  /**
   * Most bytes of its source one `put` holds in memory at once (read and not yet sent or
   * acknowledged), whatever the object's size; absent when a put may hold a whole object.
   * The transfer scheduler charges its memory budget no more than this per put.
   */
  readonly putBufferBytes?: number;
}

/** Size of a stored object. */
export interface ObjectInfo {
  readonly name: string;
  readonly size: number;
}

/** A byte range of an object: `length` bytes from `offset`. */
export interface ByteRange {
  readonly offset: number;
  readonly length: number;
}

/**
 * The bytes of an object to be written, readable more than once and at any offset, so
 * that a retried or multipart `put` can re-read what it needs without holding the whole
 * object in memory. `read` returns exactly `length` bytes for ranges inside `size`.
 *
 * `into`, when given, is a buffer of at least `length` bytes that the caller no longer
 * needs: a source may read into it and return a view of it, so a caller cycling through
 * a few part buffers does not allocate one per part (8 MiB allocations are what made the
 * S3 multipart upload's event loop spend a third of its time collecting garbage). A
 * source may also ignore it and return other bytes.
 */
export interface ObjectSource {
  readonly size: number;
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
}

/** Options every operation accepts. */
export interface OperationOptions {
  /** Aborting it abandons the operation with a `store_timeout` or `aborted` error. */
  readonly signal?: AbortSignal;
}

export interface StoreBackend {
  /** The store's URL with any secret removed; used in messages and logs. */
  readonly location: string;
  readonly capabilities: StoreCapabilities;

  /**
   * Size of the object, or null when there is none. A missing object is not an error;
   * any other failure is. Idempotent.
   */
  stat(name: string, options?: OperationOptions): Promise<ObjectInfo | null>;

  /**
   * Reads the whole object, or only `range` of it. A range that runs past the end of the
   * object returns the bytes up to the end (a short read means the object is shorter,
   * never that the transfer was cut: a cut transfer is an error). An offset at or past
   * the end returns an empty array. A missing object fails with `not_found` (permanent).
   * Idempotent.
   */
  get(name: string, range?: ByteRange, options?: OperationOptions): Promise<Uint8Array>;

  /**
   * Stores `source` under `name`, replacing any object of that name. Atomic: until it
   * resolves no reader sees the new object, and after a failure (or a crash) readers see
   * either the old object, nothing, or the whole new one — never a prefix. Leftovers of a
   * failed put (temp files, unfinished multipart uploads) are removed or invisible to
   * `stat`, `get` and `list`. Idempotent; safe to retry after any failure.
   */
  put(name: string, source: ObjectSource, options?: OperationOptions): Promise<void>;

  /** Removes the object. Removing a missing object succeeds. Idempotent. */
  delete(name: string, options?: OperationOptions): Promise<void>;

  /**
   * Every object whose name starts with `prefix` (a plain string prefix, not a glob),
   * in no particular order, each exactly once; temp names of unfinished puts are never
   * listed. Objects written or removed while listing may or may not appear.
   */
  list(prefix: string, options?: OperationOptions): AsyncIterable<ObjectInfo>;

  /** Releases connections. Operations after `close` fail with `store_closed`. */
  close(): Promise<void>;
}

/**
 * The error codes a store operation fails with, and whether each is permanent.
 * Backends translate their own errors into these; protocol/spec.md lists them.
 */
export const STORE_ERROR_PERMANENCE = {
  /** The object does not exist (get). */
  not_found: true,
  /** Credentials were refused or the server's identity did not match (host key). */
  store_auth: true,
  /** The server or file system refused the operation on this object. */
  store_permission: true,
  /** The file system or server is out of space or quota. */
  store_full: true,
  /** The URL or options are unusable (bad scheme, missing bucket, bad key file). */
  store_config: true,
  /** The store was closed before the call. */
  store_closed: true,
  /** The caller abandoned the operation (its AbortSignal fired for a reason other than a timeout). */
  aborted: true,
  /** The data read back did not match its checksum or size. */
  store_integrity: false,
  /** Could not reach the server, or the connection broke. */
  store_unavailable: false,
  /** The server was busy or throttled the request (HTTP 429/503, S3 SlowDown). */
  store_busy: false,
  /** The operation took longer than its timeout. */
  store_timeout: false,
  /** Any other failure the server reported; treated as transient. */
  store_error: false,
} as const;

export type StoreErrorCode = keyof typeof STORE_ERROR_PERMANENCE;

/** Builds the error for `code`, with the permanence the table above assigns. */
export function storeError(code: StoreErrorCode, message: string): ChunkerError {
  return new ChunkerError(code, message, STORE_ERROR_PERMANENCE[code]);
}

/** Whether `error` is a store error that a retry might cure. */
export function isRetryable(error: unknown): boolean {
  return error instanceof ChunkerError && error.code in STORE_ERROR_PERMANENCE && !error.permanent;
}
