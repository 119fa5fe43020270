/**
 * Bandwidth limits: a token bucket, rclone-style `--bwlimit` parsing, and
 * `withBandwidthLimit(backend, bytesPerSecond)`, which paces the bytes of every put and
 * get through one bucket per direction (uploads and downloads each get the full rate, as
 * rclone's single-value `--bwlimit` does).
 *
 * The bucket lends: `take(n)` subtracts n at once and waits until the balance is back to
 * zero, so a caller asking for more than the bucket holds simply waits longer, concurrent
 * callers are served in the order they asked, and the long-run rate is exact whatever
 * the read sizes.
 */
import { invalidParameter } from '../../errors.js';
import type { ByteRange, ObjectSource, OperationOptions, StoreBackend } from '../backend.js';
import { systemClock, type Clock } from './clock.js';

/** `parseBandwidth` returns this for "off" and "0": no limit. */
export const UNLIMITED_BANDWIDTH = 0;

/** Default bucket depth, in seconds of the rate: how much an idle stream may send at once. */
export const DEFAULT_BURST_SECONDS = 0.1;
/** Smallest default bucket depth, so very low rates still move a useful read at a time. */
export const MIN_BURST_BYTES = 16 * 1024;

const BINARY_MULTIPLES: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/**
 * Parses a rate in bytes per second the way rclone's `--bwlimit` does: a number (decimals
 * allowed) with an optional suffix B, K, M, G, T or P (case-insensitive, binary multiples,
 * optionally written Ki/KiB, Mi/MiB, …). A bare number is KiB/s, as in rclone. "off" and
 * "0" mean unlimited and return UNLIMITED_BANDWIDTH. Anything else is `invalid_argument`.
 */
export function parseBandwidth(text: string): number {
  const trimmed = text.trim().toLowerCase();
  if (trimmed === 'off') return UNLIMITED_BANDWIDTH;
  const match = /^(\d+(?:\.\d*)?|\.\d+)(?:([kmgtp])(?:ib?|b)?|(b))?$/.exec(trimmed);
  if (match === null) {
    throw invalidParameter('bandwidth limit', 'a rate like 512K, 10M or 1.5G (bytes/s, binary units; a bare number is KiB/s) or "off"', text);
  }
  const unit = BINARY_MULTIPLES[match[2] ?? match[3] ?? 'k']!;
  const bytesPerSecond = Math.round(Number(match[1]) * unit);
  if (!Number.isSafeInteger(bytesPerSecond)) throw invalidParameter('bandwidth limit', 'a rate below 8 PiB/s', text);
  if (bytesPerSecond === 0 && Number(match[1]) !== 0) throw invalidParameter('bandwidth limit', 'at least 1 byte/s, or "off"', text);
  return bytesPerSecond;
}

export interface TokenBucketOptions {
  /** Bucket depth in bytes; default max(MIN_BURST_BYTES, rate × DEFAULT_BURST_SECONDS). */
  readonly burstBytes?: number;
  readonly clock?: Clock;
}

export class TokenBucket {
  readonly burstBytes: number;
  private readonly clock: Clock;
  private tokens: number;
  private updatedAt: number;

  constructor(
    readonly bytesPerSecond: number,
    options: TokenBucketOptions = {},
  ) {
    if (!(Number.isFinite(bytesPerSecond) && bytesPerSecond > 0)) throw invalidParameter('bytesPerSecond', 'a positive rate', bytesPerSecond);
    this.burstBytes = options.burstBytes ?? Math.max(MIN_BURST_BYTES, Math.round(bytesPerSecond * DEFAULT_BURST_SECONDS));
    if (!(this.burstBytes > 0)) throw invalidParameter('burstBytes', 'a positive byte count', options.burstBytes);
    this.clock = options.clock ?? systemClock;
    this.tokens = this.burstBytes;
    this.updatedAt = this.clock.now();
  }

  /**
   * Waits until `bytes` may pass. An abort while waiting returns the bytes to the bucket
   * and rejects with the abort's error.
   */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (bytes <= 0) return;
    this.refill();
    this.tokens -= bytes;
    if (this.tokens >= 0) return;
    try {
      await this.clock.sleep((-this.tokens / this.bytesPerSecond) * 1000, signal);
    } catch (error) {
      this.refill();
      this.tokens = Math.min(this.burstBytes, this.tokens + bytes);
      throw error;
    }
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burstBytes, this.tokens + ((now - this.updatedAt) / 1000) * this.bytesPerSecond);
    this.updatedAt = now;
  }
}

/** A source whose reads each wait for their bytes in `bucket` first. */
export function throttledSource(source: ObjectSource, bucket: TokenBucket, signal?: AbortSignal): ObjectSource {
  return {
    size: source.size,
    async read(offset, length, into) {
      await bucket.take(length, signal);
      return source.read(offset, length, into);
    },
  };
}

export interface BandwidthLimitOptions {
  readonly burstBytes?: number;
  readonly clock?: Clock;
}

/**
 * Limits the bytes `put` reads from its sources and the bytes `get` returns, each to
 * `bytesPerSecond` (UNLIMITED_BANDWIDTH returns `backend` itself). Puts are paced as the
 * backend reads the source, so a multipart upload is paced part by part. A `get` returns
 * one array, so its bytes are paid for after they arrive: single gets are not slowed
 * down while in flight, but a sequence of them averages to the rate.
 */
export function withBandwidthLimit(backend: StoreBackend, bytesPerSecond: number, options: BandwidthLimitOptions = {}): StoreBackend {
  if (bytesPerSecond === UNLIMITED_BANDWIDTH) return backend;
  const upload = new TokenBucket(bytesPerSecond, options);
  const download = new TokenBucket(bytesPerSecond, options);
  return {
    location: backend.location,
    capabilities: backend.capabilities,
    stat: (name: string, operation?: OperationOptions) => backend.stat(name, operation),
    async get(name: string, range?: ByteRange, operation?: OperationOptions) {
      const bytes = await backend.get(name, range, operation);
      await download.take(bytes.length, operation?.signal);
      return bytes;
    },
    put: (name: string, source: ObjectSource, operation?: OperationOptions) =>
      backend.put(name, throttledSource(source, upload, operation?.signal), operation),
    delete: (name: string, operation?: OperationOptions) => backend.delete(name, operation),
    list: (prefix: string, operation?: OperationOptions) => backend.list(prefix, operation),
    close: () => backend.close(),
  };
}
