import { describe, expect, it } from 'vitest';
import { ChunkerError } from '../../port/errors.js';
import { storeError } from '../../port/store/backend.js';
import { MemoryBackend } from '../../port/store/memory.js';
import { bytesSource } from '../../port/store/object-source.js';
import { AdaptiveLimit, LATENCY_NOISE_MS, MIN_WINDOW_SAMPLES } from '../../port/store/wrappers/adaptive-limit.js';
import { withConcurrencyLimit } from '../../port/store/wrappers/concurrency-limit.js';
import { chunkerErrorOf, chunkerRejectionOf } from '../support/chunker-error.js';
import { FakeClock, settle } from '../support/fake-clock.js';

interface Operation {
  readonly latencyMs: number;
  readonly error?: Error;
}

/**
 * Submits every operation at once (so the limit is saturated) and runs the fake clock
 * until all have settled. Checks on every start that the limit admitted it.
 */
async function drive(limit: AdaptiveLimit, clock: FakeClock, operations: readonly Operation[]): Promise<{ maxRunning: number; failures: number }> {
  let running = 0;
  let maxRunning = 0;
  let failures = 0;
  const violations: string[] = [];
  const runs = operations.map((operation) =>
    limit
      .run(async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        if (running > limit.current) violations.push(`${running} running under a limit of ${limit.current}`);
        if (limit.inFlight < running) violations.push(`inFlight ${limit.inFlight} < ${running} running`);
        try {
          await clock.sleep(operation.latencyMs);
          if (operation.error) throw operation.error;
        } finally {
          running--;
        }
      })
      .catch(() => {
        failures++;
      }),
  );
  await clock.runAll();
  await Promise.all(runs);
  expect(violations).toEqual([]);
  return { maxRunning, failures };
}

const steady = (count: number, latencyMs: number): Operation[] => Array.from({ length: count }, () => ({ latencyMs }));

describe('AdaptiveLimit', () => {
  it('queues beyond the limit and starts queued operations first in, first out', async () => {
    const clock = new FakeClock();
    const limit = new AdaptiveLimit({ min: 2, max: 2, clock });
    const order: number[] = [];
    const runs = [0, 1, 2, 3, 4].map((index) =>
      limit.run(async () => {
        order.push(index);
        await clock.sleep(10);
      }),
    );
    await settle();
    expect(limit.inFlight).toBe(2);
    expect(limit.queued).toBe(3);
    expect(order).toEqual([0, 1]);
    await clock.runAll();
    await Promise.all(runs);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(limit.inFlight).toBe(0);
    expect(limit.queued).toBe(0);
  });

  it('increases by one per window of steady successes, up to max and never past it', async () => {
    const clock = new FakeClock();
    const limit = new AdaptiveLimit({ min: 1, max: 5, initial: 1, clock });
    const { maxRunning } = await drive(limit, clock, steady(200, 10));
    expect(limit.current).toBe(5);
    expect(limit.adjustments).toEqual({ increases: 4, decreases: 0 });
    expect(maxRunning).toBe(5);
    expect(limit.baselineLatencyMs()).toBe(10);
  });

  it('does not increase while the caller never reaches the limit', async () => {
    const clock = new FakeClock();
    const limit = new AdaptiveLimit({ min: 1, max: 8, initial: 3, clock });
    for (let index = 0; index < 5 * MIN_WINDOW_SAMPLES; index++) await drive(limit, clock, steady(1, 10));
    expect(limit.current).toBe(3);
  });

  it('cuts the limit once per burst of retryable failures', async () => {
    const clock = new FakeClock();
    const limit = new AdaptiveLimit({ min: 1, max: 10, initial: 10, clock });
    const burst = Array.from({ length: 10 }, () => ({ latencyMs: 5, error: storeError('store_busy', 'slow down') }));
    const { failures } = await drive(limit, clock, burst);
    expect(failures).toBe(10);
    expect(limit.current).toBe(7);
    // A new generation: the next overload cuts again.
    await drive(limit, clock, [{ latencyMs: 5, error: storeError('store_timeout', 'too slow') }]);
    expect(limit.current).toBe(4);
    expect(limit.adjustments.decreases).toBe(2);
  });

  it('ignores failures that are not overload (permanent errors, plain errors)', async () => {
    const clock = new FakeClock();
    const limit = new AdaptiveLimit({ min: 1, max: 6, initial: 6, clock });
    await drive(limit, clock, [
      { latencyMs: 1, error: storeError('not_found', 'gone') },
      { latencyMs: 1, error: storeError('store_auth', 'denied') },
      { latencyMs: 1, error: new Error('bug') },
    ]);
    expect(limit.current).toBe(6);
  });

  it('never goes below min however many overloads arrive', async () => {
    const clock = new FakeClock();
    const limit = new AdaptiveLimit({ min: 2, max: 16, initial: 16, clock });
    for (let round = 0; round < 12; round++) {
      await drive(limit, clock, [{ latencyMs: 1, error: storeError('store_unavailable', 'refused') }]);
      expect(limit.current).toBeGreaterThanOrEqual(2);
    }
    expect(limit.current).toBe(2);
  });

  it('decreases when latency climbs well above the baseline, and holds when it only rises', async () => {
    const clock = new FakeClock();
    const limit = new AdaptiveLimit({ min: 1, max: 8, initial: 4, clock });
    await drive(limit, clock, steady(MIN_WINDOW_SAMPLES, 100));
    expect(limit.baselineLatencyMs()).toBe(100);
    expect(limit.current).toBe(5);
    // Twice the baseline: congestion may be building; neither grow nor cut.
    await drive(limit, clock, steady(MIN_WINDOW_SAMPLES, 200));
    expect(limit.current).toBe(5);
    // Far above the baseline: cut.
    await drive(limit, clock, steady(MIN_WINDOW_SAMPLES, 1000));
    expect(limit.current).toBe(3);
    expect(limit.adjustments).toEqual({ increases: 1, decreases: 1 });
  });

  it('treats changes within the noise margin as steady, however large the ratio', async () => {
    const clock = new FakeClock();
    const limit = new AdaptiveLimit({ min: 1, max: 8, initial: 4, clock });
    await drive(limit, clock, steady(MIN_WINDOW_SAMPLES, 0.1));
    await drive(limit, clock, steady(2 * MIN_WINDOW_SAMPLES, LATENCY_NOISE_MS));
    expect(limit.adjustments.decreases).toBe(0);
    expect(limit.current).toBe(7);
  });

  it('compares latencies only within one kind of operation', async () => {
    const clock = new FakeClock();
    const limit = new AdaptiveLimit({ min: 1, max: 8, initial: 8, clock });
    const run = (kind: string, latencyMs: number, count: number): Promise<unknown> =>
      Promise.all(Array.from({ length: count }, () => limit.run(() => clock.sleep(latencyMs), undefined, kind)));
    const stats = run('stat', 1, MIN_WINDOW_SAMPLES);
    await clock.runAll();
    await stats;
    const puts = run('put', 500, 2 * MIN_WINDOW_SAMPLES);
    await clock.runAll();
    await puts;
    expect(limit.baselineLatencyMs('stat')).toBe(1);
    expect(limit.baselineLatencyMs('put')).toBe(500);
    expect(limit.adjustments.decreases).toBe(0);
  });

  it('is not moved by one slow outlier in a window', async () => {
    const clock = new FakeClock();
    const limit = new AdaptiveLimit({ min: 1, max: 8, initial: 8, clock });
    await drive(limit, clock, steady(MIN_WINDOW_SAMPLES, 100));
    const withOutlier = steady(MIN_WINDOW_SAMPLES, 100);
    withOutlier[3] = { latencyMs: 10_000 };
    await drive(limit, clock, withOutlier);
    expect(limit.current).toBe(8);
    expect(limit.adjustments.decreases).toBe(0);
  });

  it('rejects a queued operation whose signal aborts, without running it', async () => {
    const clock = new FakeClock();
    const limit = new AdaptiveLimit({ min: 1, max: 1, clock });
    const first = limit.run(() => clock.sleep(10));
    const controller = new AbortController();
    let ran = false;
    const second = limit.run(async () => {
      ran = true;
    }, controller.signal);
    await settle();
    expect(limit.queued).toBe(1);
    controller.abort();
    const error = await chunkerRejectionOf(() => second);
    expect(error.code).toBe('aborted');
    expect(limit.queued).toBe(0);
    await clock.runAll();
    await first;
    expect(ran).toBe(false);
    // A ChunkerError reason (as the timeout wrapper gives) is passed through unchanged.
    const timedOut = new AbortController();
    timedOut.abort(storeError('store_timeout', 'took too long'));
    expect((await chunkerRejectionOf(() => limit.run(async () => 1, timedOut.signal))).code).toBe('store_timeout');
  });

  it('validates its options', () => {
    for (const options of [
      { min: 0, max: 4 },
      { min: 3, max: 2 },
      { min: 1, max: 4, initial: 5 },
      { min: 1.5, max: 4 },
      { min: 1, max: 4, decreaseFactor: 1 },
    ]) {
      const error = chunkerErrorOf(() => new AdaptiveLimit(options));
      expect(error.code, JSON.stringify(options)).toBe('invalid_argument');
    }
  });
});

describe('withConcurrencyLimit', () => {
  it('runs store operations under the limit and feeds it their failures', async () => {
    const clock = new FakeClock();
    const limit = new AdaptiveLimit({ min: 1, max: 3, initial: 3, clock });
    const inner = new MemoryBackend();
    let running = 0;
    let maxRunning = 0;
    let failNext = true;
    const slow = Object.assign(Object.create(inner) as MemoryBackend, {
      async put(name: string, source: ReturnType<typeof bytesSource>) {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await clock.sleep(10);
        running--;
        if (failNext) {
          failNext = false;
          throw storeError('store_unavailable', 'connection reset');
        }
        return inner.put(name, source);
      },
    });
    const store = withConcurrencyLimit(slow, limit);
    expect(store.capabilities.maxConcurrency).toBe(3);
    const puts = Array.from({ length: 10 }, (_, index) => store.put(`o/${index}`, bytesSource(new Uint8Array(index))).catch((error: unknown) => error));
    await clock.runAll();
    const results = await Promise.all(puts);
    expect(results.filter((result) => result instanceof ChunkerError)).toHaveLength(1);
    expect(maxRunning).toBe(3);
    expect(limit.current).toBe(2);
    expect(await store.stat('o/9')).toEqual({ name: 'o/9', size: 9 });
    const listed: string[] = [];
    for await (const info of store.list('o/')) listed.push(info.name);
    expect(listed).toHaveLength(9);
  });
});
