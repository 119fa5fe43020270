/**
 * The wrapper stack an upload runs on, built in one place so the CLI and the port op
 * compose it alike. From the outside in:
 *
 *   concurrency limit (AdaptiveLimit)  — each attempt is a sample; see concurrency-limit.ts
 *   bandwidth limit (token buckets)    — paces the bytes the backend reads from sources
 *   backend
 *
 * Retries and per-operation timeouts wrap around and inside the limit respectively:
 * `withRetry(withConcurrencyLimit(withTimeouts(…)))`, so that each retried attempt takes
 * a slot of its own and a backoff sleep holds none.
 */
import type { StoreBackend } from '../store/backend.js';
import { AdaptiveLimit } from '../store/wrappers/adaptive-limit.js';
import { UNLIMITED_BANDWIDTH, withBandwidthLimit } from '../store/wrappers/bandwidth.js';
import { systemClock, type Clock } from '../store/wrappers/clock.js';
import { withConcurrencyLimit } from '../store/wrappers/concurrency-limit.js';
import { withRetry, type RetryPolicy } from '../store/wrappers/retry.js';
import { DEFAULT_MIN_BYTES_PER_SECOND, withTimeouts } from '../store/wrappers/timeout.js';
import { DEFAULT_TRANSFERS } from './upload.js';

export interface UploadStoreOptions {
  /** Highest concurrency, and the starting one; default DEFAULT_TRANSFERS. */
  readonly transfers?: number;
  /** Bytes per second each way, or UNLIMITED_BANDWIDTH (default). */
  readonly bandwidthBytesPerSecond?: number;
  readonly clock?: Clock;
  /** Overrides of the retry policy (tests shorten the backoff). */
  readonly retry?: Partial<RetryPolicy>;
}

export interface UploadStore {
  /** Pass to uploadObjects together with `limit`. */
  readonly store: StoreBackend;
  readonly limit: AdaptiveLimit;
}

/**
 * Wraps `backend` for uploading. The limit starts at `transfers` (as rclone runs its
 * fixed --transfers) and backs off from there when the store shows strain.
 */
export function composeUploadStore(backend: StoreBackend, options: UploadStoreOptions = {}): UploadStore {
  const transfers = options.transfers ?? DEFAULT_TRANSFERS;
  const clock = options.clock ?? systemClock;
  const limit = new AdaptiveLimit({ min: 1, max: transfers, initial: transfers, clock });
  const bandwidth = options.bandwidthBytesPerSecond ?? UNLIMITED_BANDWIDTH;
  const paced = withBandwidthLimit(backend, bandwidth, { clock });
  // Pacing happens inside put, so a put's deadline must allow for its share of a
  // bandwidth limit: at worst every transfer runs at once, each at half its fair share.
  const minBytesPerSecond =
    bandwidth === UNLIMITED_BANDWIDTH ? DEFAULT_MIN_BYTES_PER_SECOND : Math.max(1, Math.min(DEFAULT_MIN_BYTES_PER_SECOND, bandwidth / transfers / 2));
  const timed = withTimeouts(paced, { minBytesPerSecond });
  return { store: withRetry(withConcurrencyLimit(timed, limit), options.retry), limit };
}
