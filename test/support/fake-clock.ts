/**
 * A clock that moves only when the test says so. `sleep` registers a timer; `advance`
 * moves time forward, firing due timers in time order and letting the code they wake run
 * (pending promise callbacks) before the next one fires.
 */
import type { Clock } from '../../port/store/wrappers/clock.js';
import { abortError } from '../../port/store/abort.js';

interface Timer {
  readonly at: number;
  readonly sequence: number;
  readonly fire: () => void;
}

/** Lets every callback that is already queued (and those it queues) run. */
export async function settle(): Promise<void> {
  for (let round = 0; round < 5; round++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private time = 0;
  private sequence = 0;
  private timers: Timer[] = [];

  now(): number {
    return this.time;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(signal));
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.timers = this.timers.filter((timer) => timer !== entry);
        reject(abortError(signal!));
      };
      const entry: Timer = {
        at: this.time + Math.max(0, ms),
        sequence: this.sequence++,
        fire: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.timers.push(entry);
    });
  }

  /** Timers not yet fired. */
  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing every timer due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await settle();
    for (;;) {
      const next = this.nextTimer();
      if (next === undefined || next.at > target) break;
      this.timers = this.timers.filter((timer) => timer !== next);
      this.time = Math.max(this.time, next.at);
      next.fire();
      await settle();
    }
    this.time = target;
    await settle();
  }

  /** Advances to each pending timer in turn until none is left; returns the time reached. */
  async runAll(maxMs = 3_600_000): Promise<number> {
    const deadline = this.time + maxMs;
    await settle();
    for (;;) {
      const next = this.nextTimer();
      if (next === undefined) return this.time;
      if (next.at > deadline) throw new Error(`FakeClock.runAll: timers still pending after ${maxMs} ms`);
      await this.advance(next.at - this.time);
    }
  }

  private nextTimer(): Timer | undefined {
    let best: Timer | undefined;
    for (const timer of this.timers) {
      if (best === undefined || timer.at < best.at || (timer.at === best.at && timer.sequence < best.sequence)) best = timer;
    }
    return best;
  }
}
