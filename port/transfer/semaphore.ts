/**
 * A weighted, first-in-first-out semaphore. The scheduler uses one as its memory budget
 * (weights are object sizes in bytes) and one as its cap on objects in progress
 * (weight 1 each).
 *
 * A request heavier than the whole capacity is admitted alone: it waits until nothing
 * else holds the semaphore and then takes all of it, so one object larger than the
 * budget still goes through, one at a time. Requests are served strictly in order, so a
 * heavy request is never starved by a stream of light ones.
 */
import { invalidParameter } from '../errors.js';
import { abortError } from '../store/abort.js';

interface Waiter {
  readonly weight: number;
  readonly admit: () => void;
}

export class WeightedSemaphore {
  private used = 0;
  private readonly waiters: Waiter[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw invalidParameter('capacity', 'an integer ≥ 1', capacity);
  }

  /** Weight held now. */
  get inUse(): number {
    return this.used;
  }

  /**
   * Waits for `weight` (capped at the capacity) and returns what was taken: pass that to
   * `release`. Aborting `signal` while waiting rejects with `abortError(signal)`.
   */
  acquire(weight: number, signal?: AbortSignal): Promise<number> {
    const charge = Math.min(Math.max(0, weight), this.capacity);
    if (signal?.aborted) return Promise.reject(abortError(signal));
    if (this.waiters.length === 0 && this.fits(charge)) {
      this.used += charge;
      return Promise.resolve(charge);
    }
    return new Promise<number>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(abortError(signal!));
        // The head may have been the one blocking the others.
        this.admitWaiting();
      };
      const waiter: Waiter = {
        weight: charge,
        admit: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(charge);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Returns weight taken by `acquire`. */
  release(charge: number): void {
    this.used -= charge;
    if (this.used < 0) throw new Error(`WeightedSemaphore released more than it holds (${this.used})`);
    this.admitWaiting();
  }

  private fits(charge: number): boolean {
    return this.used + charge <= this.capacity;
  }

  private admitWaiting(): void {
    while (this.waiters.length > 0 && this.fits(this.waiters[0]!.weight)) {
      const waiter = this.waiters.shift()!;
      this.used += waiter.weight;
      waiter.admit();
    }
  }
}
