/**
 * An adaptive concurrency limit for store operations: AIMD, the rule TCP congestion
 * control uses (additive increase, multiplicative decrease), with latency as an early
 * congestion signal the way Netflix's concurrency-limits library uses it.
 *
 * - `run(fn)` starts `fn` when fewer than `current` operations are in flight, otherwise
 *   queues it (first in, first out).
 * - Successes are collected per kind of operation (`run`'s `kind`: a stat and a put are
 *   not comparable) in windows of `max(MIN_WINDOW_SAMPLES, current)` samples (about one
 *   "round trip" of the whole limit). When a window is full its median latency is
 *   compared with that kind's smoothed baseline:
 *     median ≤ baseline × LATENCY_RISE_RATIO (or within LATENCY_NOISE_MS of it), and the
 *       limit was actually reached during the window → current + 1 (additive increase);
 *     median > baseline × LATENCY_OVERLOAD_RATIO and more than LATENCY_NOISE_MS above it
 *       → current × decreaseFactor;
 *     otherwise → unchanged.
 *   The baseline then moves a fraction BASELINE_SMOOTHING toward the window's median, so
 *   a lasting change (larger objects, a slower link) becomes the new normal within a few
 *   windows. The median keeps one slow outlier (a large object) from moving anything, and
 *   the noise margin keeps sub-millisecond jitter (local disks) from counting as a trend.
 * - A failure that `isOverload` accepts (default: `isRetryable` — timeouts, throttling,
 *   refused connections) cuts the limit at once: current × decreaseFactor. Only one cut
 *   per "generation": operations that started before the last cut cannot cut again, so a
 *   burst of failures from one overload halves the limit once, not down to `min`.
 * - Increase requires the limit to have been reached in the window, so a caller that
 *   never uses the concurrency it has does not inflate the limit without evidence.
 *
 * `current` always stays within [min, max]. Lowering it below the number in flight stops
 * new starts until enough finish; nothing already running is interrupted.
 */
import { invalidParameter } from '../../errors.js';
import { isRetryable } from '../backend.js';
import { abortError } from '../abort.js';
import { systemClock, type Clock } from './clock.js';

/** Multiplicative decrease: the limit after a congestion signal, as a fraction of before. */
export const DEFAULT_DECREASE_FACTOR = 0.7;
/** A window whose median latency stays under baseline × this may increase the limit. */
export const LATENCY_RISE_RATIO = 1.5;
/** A window whose median latency exceeds baseline × this decreases the limit. */
export const LATENCY_OVERLOAD_RATIO = 3;
/** Fewest successes in a window, so small limits are not judged on one or two samples. */
export const MIN_WINDOW_SAMPLES = 8;
/** How far the baseline latency moves toward each window's median (0..1). */
export const BASELINE_SMOOTHING = 0.2;
/** Latency differences up to this are jitter, whatever the ratio. */
export const LATENCY_NOISE_MS = 10;
/** The kind of operations that `run` is given none for. */
const DEFAULT_KIND = 'operation';

/** Latency samples and baseline of one kind of operation. */
interface LatencyTrack {
  window: number[];
  /** The limit was reached while this window filled. */
  saturated: boolean;
  baseline: number | undefined;
}

export interface AdaptiveLimitOptions {
  /** Lowest limit (≥ 1). */
  readonly min: number;
  /** Highest limit (≥ min). */
  readonly max: number;
  /** Starting limit, within [min, max]; default `min`. */
  readonly initial?: number;
  /** Fraction kept on a decrease, in (0, 1); default DEFAULT_DECREASE_FACTOR. */
  readonly decreaseFactor?: number;
  /** Which failures mean "too much load"; default `isRetryable`. Other failures are ignored. */
  readonly isOverload?: (error: unknown) => boolean;
  readonly clock?: Clock;
}


export class AdaptiveLimit {
  readonly min: number;
  readonly max: number;
  private limit: number;
  private running = 0;
  /** Starters of queued operations, oldest first. */
  private readonly waiters: (() => void)[] = [];
  private readonly decreaseFactor: number;
  private readonly isOverload: (error: unknown) => boolean;
  private readonly clock: Clock;
  /** Bumped on every decrease; samples and failures from an older generation are stale. */
  private generation = 0;
  private readonly tracks = new Map<string, LatencyTrack>();
  private increaseCount = 0;
  private decreaseCount = 0;

  constructor(options: AdaptiveLimitOptions) {
    const { min, max } = options;
    if (!Number.isSafeInteger(min) || min < 1) throw invalidParameter('min', 'an integer ≥ 1', min);
    if (!Number.isSafeInteger(max) || max < min) throw invalidParameter('max', `an integer ≥ min (${min})`, max);
    const initial = options.initial ?? min;
    if (!Number.isSafeInteger(initial) || initial < min || initial > max) {
      throw invalidParameter('initial', `an integer in [${min}, ${max}]`, initial);
    }
    const factor = options.decreaseFactor ?? DEFAULT_DECREASE_FACTOR;
    if (!(factor > 0 && factor < 1)) throw invalidParameter('decreaseFactor', 'a number in (0, 1)', factor);
    this.min = min;
    this.max = max;
    this.limit = initial;
    this.decreaseFactor = factor;
    this.isOverload = options.isOverload ?? isRetryable;
    this.clock = options.clock ?? systemClock;
  }

  /** The limit now: at most this many operations run at once. */
  get current(): number {
    return this.limit;
  }

  /** Operations running now. */
  get inFlight(): number {
    return this.running;
  }

  /** Operations waiting for a slot. */
  get queued(): number {
    return this.waiters.length;
  }

  /** How often the limit went up and down since construction (for summaries and tests). */
  get adjustments(): { readonly increases: number; readonly decreases: number } {
    return { increases: this.increaseCount, decreases: this.decreaseCount };
  }

  /** The smoothed latency successes of `kind` are judged against, once its first window is full. */
  baselineLatencyMs(kind = DEFAULT_KIND): number | undefined {
    return this.tracks.get(kind)?.baseline;
  }

  /**
   * Runs `fn` once a slot is free and returns its result. Aborting `signal` while queued
   * rejects with `abortError(signal)` without running `fn`; once started, `fn` owns the
   * abort (pass the signal to it). Latencies are compared only within one `kind`.
   */
  async run<T>(fn: () => Promise<T>, signal?: AbortSignal, kind = DEFAULT_KIND): Promise<T> {
    await this.acquire(signal);
    const generation = this.generation;
    const started = this.clock.now();
    try {
      const value = await fn();
      this.recordSuccess(kind, generation, this.clock.now() - started);
      return value;
    } catch (error) {
      if (this.isOverload(error)) this.recordOverload(generation);
      throw error;
    } finally {
      this.running--;
      this.dispatch();
    }
  }

  private acquire(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.waiters.length === 0 && this.running < this.limit) {
      this.take();
      return Promise.resolve();
    }
    this.markSaturated();
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(abortError(signal!));
      };
      const waiter = (): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private take(): void {
    this.running++;
    if (this.running >= this.limit) this.markSaturated();
  }

  private markSaturated(): void {
    for (const track of this.tracks.values()) track.saturated = true;
  }

  private dispatch(): void {
    while (this.running < this.limit && this.waiters.length > 0) {
      const waiter = this.waiters.shift()!;
      this.take();
      waiter();
    }
  }

  private recordSuccess(kind: string, generation: number, latencyMs: number): void {
    if (generation !== this.generation) return;
    let track = this.tracks.get(kind);
    if (track === undefined) {
      track = { window: [], saturated: this.isSaturatedNow(), baseline: undefined };
      this.tracks.set(kind, track);
    }
    track.window.push(latencyMs);
    if (track.window.length < Math.max(MIN_WINDOW_SAMPLES, this.limit)) return;
    const median = medianOf(track.window);
    const { saturated, baseline } = track;
    this.resetWindow(track);
    if (baseline === undefined) {
      track.baseline = median;
      if (saturated) this.increase();
      return;
    }
    track.baseline = baseline + BASELINE_SMOOTHING * (median - baseline);
    const excess = median - baseline;
    if (median > baseline * LATENCY_OVERLOAD_RATIO && excess > LATENCY_NOISE_MS) this.decrease();
    else if ((median <= baseline * LATENCY_RISE_RATIO || excess <= LATENCY_NOISE_MS) && saturated) this.increase();
  }

  private recordOverload(generation: number): void {
    if (generation === this.generation) this.decrease();
  }

  private increase(): void {
    if (this.limit >= this.max) return;
    this.limit++;
    this.increaseCount++;
    this.dispatch();
  }

  private decrease(): void {
    this.generation++;
    for (const track of this.tracks.values()) this.resetWindow(track);
    const next = Math.max(this.min, Math.floor(this.limit * this.decreaseFactor));
    if (next === this.limit) return;
    this.limit = next;
    this.decreaseCount++;
  }

  private resetWindow(track: LatencyTrack): void {
    track.window = [];
    track.saturated = this.isSaturatedNow();
  }

  private isSaturatedNow(): boolean {
    return this.running >= this.limit || this.waiters.length > 0;
  }
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
