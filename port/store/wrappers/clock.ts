/**
 * Time as the wrappers and the transfer scheduler see it: a monotonic `now()` in
 * milliseconds and an abortable `sleep`. Injected so tests run on a fake clock and are
 * deterministic; production code uses `systemClock`.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import { abortError } from '../abort.js';

export interface Clock {
  /** Milliseconds from an arbitrary origin; never goes backwards. */
  now(): number;
  /** Resolves after `ms` milliseconds; rejects with `abortError(signal)` if `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  async sleep(ms, signal) {
    if (signal?.aborted) throw abortError(signal);
    try {
      await sleepFor(Math.max(0, ms), undefined, signal === undefined ? undefined : { signal });
    } catch (error) {
      if (signal?.aborted) throw abortError(signal);
      throw error;
    }
  },
};
