/**
 * Timing helpers for the benchmarks: a monotonic clock, throughput arithmetic and small
 * statistics. Nothing here knows about chunking.
 */

/** Seconds from a monotonic clock (process.hrtime), with nanosecond resolution. */
export function nowSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** Runs `work` once and returns its value with the elapsed wall-clock seconds. */
export function timed<T>(work: () => T): { value: T; seconds: number } {
  const start = process.hrtime.bigint();
  const value = work();
  return { value, seconds: Number(process.hrtime.bigint() - start) / 1e9 };
}

/** Decimal megabytes per second (10^6 bytes), the unit every bench figure uses. */
export function megabytesPerSecond(bytes: number, seconds: number): number {
  return seconds > 0 ? bytes / 1e6 / seconds : Number.POSITIVE_INFINITY;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function minimum(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('minimum of an empty list');
  return Math.min(...values);
}

/** Value at quantile q (0..1) of an ascending array, nearest-rank. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of an empty list');
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/**
 * Sums time and work of one measured operation over many calls (one call per input
 * piece), so a figure covers the whole corpus rather than one lucky buffer.
 */
export class Meter {
  seconds = 0;
  bytes = 0;
  chunks = 0;

  measure<T>(bytes: number, work: () => T): T {
    const { value, seconds } = timed(work);
    this.seconds += seconds;
    this.bytes += bytes;
    return value;
  }

  rate(): number {
    return megabytesPerSecond(this.bytes, this.seconds);
  }
}

/**
 * Collects garbage between measurements when node runs with --expose-gc, so one
 * measurement's garbage is not paid for inside the next one's timing.
 */
export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (typeof gc === 'function') gc();
}

export function garbageCollectionExposed(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === 'function';
}
