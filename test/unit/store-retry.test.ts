/**
 * The retry wrapper against a FaultyBackend, on a fake clock: no test waits for real
 * time except the one that checks the default sleep gives way to an abort.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkerError } from '../../port/errors.js';
import { abortError } from '../../port/store/abort.js';
import { STORE_ERROR_PERMANENCE, storeError, type StoreErrorCode } from '../../port/store/backend.js';
import { bytesSource } from '../../port/store/object-source.js';
import { backoffDelayMs, RetryBudget, withRetry, type RetryEvent, type RetryPolicy } from '../../port/store/wrappers/retry.js';
import { chunkerErrorOf, chunkerRejectionOf } from '../support/chunker-error.js';
import { FaultyBackend } from '../support/faulty-backend.js';

/** A clock that advances only when the wrapper sleeps. */
function fakeTime() {
  const time = { now: 0, sleeps: [] as number[] };
  const policy = {
    now: () => time.now,
    sleep: async (ms: number, signal: AbortSignal | undefined) => {
      if (signal?.aborted) throw abortError(signal, 'retry wait');
      time.sleeps.push(ms);
      time.now += ms;
    },
    random: () => 0.5,
  } satisfies Partial<RetryPolicy>;
  return { time, policy };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const PERMANENT_CODES = (Object.keys(STORE_ERROR_PERMANENCE) as StoreErrorCode[]).filter((code) => STORE_ERROR_PERMANENCE[code]);
const TRANSIENT_CODES = (Object.keys(STORE_ERROR_PERMANENCE) as StoreErrorCode[]).filter((code) => !STORE_ERROR_PERMANENCE[code]);

describe('withRetry', () => {
  it('retries transient failures of every operation, then succeeds', async () => {
    const { time, policy } = fakeTime();
    const events: RetryEvent[] = [];
    const faulty = new FaultyBackend();
    const store = withRetry(faulty, { ...policy, onRetry: (event) => events.push(event) });
    faulty.failNext('put', 'store_unavailable', 2).failNext('stat', 'store_timeout').failNext('get', 'store_busy').failNext('delete', 'store_error');
    await store.put('a/b', bytesSource(new Uint8Array([1, 2, 3])));
    expect(await store.stat('a/b')).toEqual({ name: 'a/b', size: 3 });
    expect(Array.from(await store.get('a/b'))).toEqual([1, 2, 3]);
    await store.delete('a/b');
    expect(['stat', 'get', 'put', 'delete'].map((operation) => faulty.callCount(operation as 'stat'))).toEqual([2, 2, 3, 2]);
    expect(events.map(({ operation, attempt, name }) => [operation, attempt, name])).toEqual([
      ['put', 1, 'a/b'],
      ['put', 2, 'a/b'],
      ['stat', 1, 'a/b'],
      ['get', 1, 'a/b'],
      ['delete', 1, 'a/b'],
    ]);
    expect(events.map((event) => event.error.code)).toEqual(['store_unavailable', 'store_unavailable', 'store_timeout', 'store_busy', 'store_error']);
    // random 0.5 → half of each exponential ceiling (250, 500 ms).
    expect(time.sleeps).toEqual([125, 250, 125, 125, 125]);
    expect(events.map((event) => event.delayMs)).toEqual(time.sleeps);
  });

  it('retries a put cut part way through its source', async () => {
    const { policy } = fakeTime();
    const faulty = new FaultyBackend().failPutAfterBytes(10, 'store_unavailable', 2);
    const store = withRetry(faulty, policy);
    await store.put('cut', bytesSource(new Uint8Array(100).fill(7)));
    expect(faulty.callCount('put')).toBe(3);
    expect(Array.from(await store.get('cut'))).toEqual(Array(100).fill(7));
  });

  it('gives up after maxAttempts with the last error, unchanged', async () => {
    const { time, policy } = fakeTime();
    const errors = [1, 2, 3, 4].map((n) => storeError('store_unavailable', `failure ${n}`));
    const faulty = new FaultyBackend();
    for (const error of errors) faulty.failNext('get', error);
    const store = withRetry(faulty, { ...policy, maxAttempts: 3 });
    await expect(store.get('x')).rejects.toBe(errors[2]);
    expect(faulty.callCount('get')).toBe(3);
    expect(time.sleeps.length).toBe(2);
  });

  it('never retries permanent store errors, argument errors or foreign errors', async () => {
    const { time, policy } = fakeTime();
    const failures: (StoreErrorCode | Error)[] = [...PERMANENT_CODES, new ChunkerError('invalid_argument', 'bad'), new TypeError('a bug'), new ChunkerError('aborted', 'gone')];
    expect(PERMANENT_CODES).toContain('store_auth');
    for (const failure of failures) {
      const faulty = new FaultyBackend().failNext('stat', failure, 5);
      await expect(withRetry(faulty, policy).stat('x')).rejects.toThrow();
      expect(faulty.callCount('stat'), String(failure)).toBe(1);
    }
    // Real argument errors from the backend itself, too.
    const faulty = new FaultyBackend();
    expect((await chunkerRejectionOf(() => withRetry(faulty, policy).stat('../escape'))).code).toBe('invalid_argument');
    expect(faulty.callCount('stat')).toBe(1);
    expect(time.sleeps).toEqual([]);
  });

  it('retries every transient code', async () => {
    const { policy } = fakeTime();
    for (const code of TRANSIENT_CODES) {
      const faulty = new FaultyBackend().failNext('delete', code);
      await withRetry(faulty, policy).delete('x');
      expect(faulty.callCount('delete'), code).toBe(2);
    }
  });

  it('stops when the shared budget runs dry, and refills it on successes', async () => {
    const { policy } = fakeTime();
    const budget = new RetryBudget(3, 0.5);
    const faulty = new FaultyBackend().failNext('stat', 'store_unavailable', 100);
    const store = withRetry(faulty, { ...policy, budget, maxAttempts: 10 });
    await expect(store.stat('x')).rejects.toThrow(/store_unavailable/);
    expect(faulty.callCount('stat')).toBe(4);
    expect(budget.available).toBe(0);
    // A second wrapper sharing the budget cannot retry either.
    const other = new FaultyBackend().failNext('get', 'store_busy');
    expect((await chunkerRejectionOf(() => withRetry(other, { ...policy, budget }).get('x'))).code).toBe('store_busy');
    expect(other.callCount('get')).toBe(1);
    // Two successes buy one retry.
    faulty.clearFaults();
    await store.stat('x');
    await store.stat('x');
    expect(budget.available).toBe(1);
    faulty.failNext('stat', 'store_unavailable', 2);
    await expect(store.stat('x')).rejects.toThrow();
    expect(faulty.callCount('stat')).toBe(4 + 2 + 2);
  });

  it('never retries more than the budget capacity plus the refill of the successes', () => {
    return fc.assert(
      fc.asyncProperty(
        fc.array(fc.nat({ max: 12 }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 10 }),
        fc.constantFrom(0, 0.1, 0.5, 1),
        async (failuresPerOperation, capacity, refill) => {
          const { policy } = fakeTime();
          const faulty = new FaultyBackend();
          const store = withRetry(faulty, { ...policy, budget: new RetryBudget(capacity, refill), maxAttempts: 20 });
          let successes = 0;
          for (const failures of failuresPerOperation) {
            faulty.clearFaults();
            if (failures > 0) faulty.failNext('stat', 'store_unavailable', failures);
            const ok = await store.stat('x').then(
              () => true,
              () => false,
            );
            if (ok) successes++;
          }
          const retries = faulty.callCount('stat') - failuresPerOperation.length;
          expect(retries).toBeLessThanOrEqual(capacity + refill * successes);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('stops before a wait that would end past maxElapsedMs', async () => {
    const { time, policy } = fakeTime();
    const faulty = new FaultyBackend().failNext('get', 'store_timeout', 10);
    const store = withRetry(faulty, { ...policy, random: () => 0.99, baseDelayMs: 1_000, maxElapsedMs: 2_000 });
    await expect(store.get('x')).rejects.toThrow(/store_timeout/);
    // Waits 990 (ends at 990) and 1980 (would end at 2970 > 2000): one retry.
    expect(time.sleeps).toEqual([990]);
    expect(faulty.callCount('get')).toBe(2);
  });

  it('stops retrying as soon as the caller aborts, in the wait or before it', async () => {
    const { policy } = fakeTime();
    const controller = new AbortController();
    const faulty = new FaultyBackend().failNext('put', 'store_unavailable', 10);
    const store = withRetry(faulty, { ...policy, onRetry: () => controller.abort() });
    const error = await chunkerRejectionOf(() => store.put('x', bytesSource(new Uint8Array(1)), { signal: controller.signal }));
    expect(error.code).toBe('aborted');
    expect(faulty.callCount('put')).toBe(1);

    // A retryable error that arrives after the caller aborted (here the caller's own
    // deadline, a store_timeout) is not retried either.
    const deadline = new AbortController();
    deadline.abort(storeError('store_timeout', 'caller deadline'));
    const timedOut = new FaultyBackend().failNext('get', 'store_timeout', 10);
    let retries = 0;
    const late = withRetry(timedOut, { ...policy, onRetry: () => retries++ });
    await expect(late.get('x', undefined, { signal: deadline.signal })).rejects.toThrow(/injected store_timeout/);
    expect(timedOut.callCount('get')).toBe(1);
    expect(retries).toBe(0);
  });

  it('gives up a real backoff wait at once when the caller aborts', async () => {
    const controller = new AbortController();
    const faulty = new FaultyBackend().failNext('stat', 'store_busy', 10);
    const store = withRetry(faulty, { baseDelayMs: 60_000, random: () => 0.99, onRetry: () => setTimeout(() => controller.abort(), 1) });
    const started = performance.now();
    const error = await chunkerRejectionOf(() => store.stat('x', { signal: controller.signal }));
    expect(error.code).toBe('aborted');
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('retries a list that failed before yielding, never one that yielded', async () => {
    const { policy } = fakeTime();
    const faulty = new FaultyBackend();
    const store = withRetry(faulty, policy);
    for (const name of ['p/1', 'p/2', 'p/3']) await store.put(name, bytesSource(new Uint8Array(1)));

    faulty.failNext('list', 'store_unavailable').failListAfter(0, 'store_busy');
    expect((await collect(store.list('p/'))).map((info) => info.name).sort()).toEqual(['p/1', 'p/2', 'p/3']);
    expect(faulty.callCount('list')).toBe(3);

    faulty.failListAfter(2, 'store_unavailable');
    const seen: string[] = [];
    const error = await chunkerRejectionOf(async () => {
      for await (const info of store.list('p/')) seen.push(info.name);
    });
    expect(error.code).toBe('store_unavailable');
    expect(seen.length).toBe(2);
    expect(faulty.callCount('list')).toBe(4);
  });

  it('passes location, capabilities and close through', async () => {
    const faulty = new FaultyBackend(undefined, { capabilities: { ranges: false, multipart: true, atomicRename: false, maxConcurrency: 3 } });
    const store = withRetry(faulty);
    expect(store.location).toBe(faulty.location);
    expect(store.capabilities.maxConcurrency).toBe(3);
    await store.close();
    expect((await chunkerRejectionOf(() => store.stat('x'))).code).toBe('store_closed');
    expect(faulty.callCount('stat')).toBe(1);
  });

  it('rejects unusable policies', () => {
    const faulty = new FaultyBackend();
    for (const policy of [{ maxAttempts: 0 }, { maxAttempts: 1.5 }, { baseDelayMs: -1 }, { maxElapsedMs: Number.NaN }]) {
      expect(chunkerErrorOf(() => withRetry(faulty, policy)).code, JSON.stringify(policy)).toBe('invalid_argument');
    }
    expect(chunkerErrorOf(() => new RetryBudget(-1)).code).toBe('invalid_argument');
    // undefined keeps the default
    expect(() => withRetry(faulty, { maxAttempts: undefined })).not.toThrow();
  });
});

describe('backoffDelayMs', () => {
  it('is an integer in [0, min(max, base·2^(retry-1))) for any random draw', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (retry, base, max, draw) => {
          const delay = backoffDelayMs(retry, base, max, () => draw);
          const ceiling = Math.min(max, base * 2 ** (retry - 1));
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThan(ceiling);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('has a ceiling that doubles per retry until the cap', () => {
    const top = () => 1 - Number.EPSILON;
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9].map((retry) => backoffDelayMs(retry, 250, 20_000, top))).toEqual([249, 499, 999, 1999, 3999, 7999, 15999, 19999, 19999]);
  });
});
