/**
 * The timeout wrapper on fake timers (deadlines fire when the test advances time), plus
 * one smoke test on real timers and one composed with the retry wrapper.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { storeError, isRetryable, type ObjectSource } from '../../port/store/backend.js';
import { bytesSource } from '../../port/store/object-source.js';
import { withRetry } from '../../port/store/wrappers/retry.js';
import {
  DEFAULT_MIN_BYTES_PER_SECOND,
  DEFAULT_OPERATION_TIMEOUT_MS,
  DEFAULT_WHOLE_GET_TIMEOUT_MS,
  transferTimeoutMs,
  withTimeouts,
  type Timers,
} from '../../port/store/wrappers/timeout.js';
import { chunkerErrorOf, chunkerRejectionOf } from '../support/chunker-error.js';
import { FaultyBackend } from '../support/faulty-backend.js';

/** Timers that fire only when `advance` moves the fake time past them. */
class FakeTimers implements Timers {
  now = 0;
  /** Every delay ever asked for, in order. */
  readonly delays: number[] = [];
  private readonly pending = new Map<number, { at: number; callback: () => void }>();
  private nextId = 1;

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.delays.push(ms);
    this.pending.set(id, { at: this.now + ms, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  advance(ms: number): void {
    this.now += ms;
    for (const [id, timer] of [...this.pending].sort((a, b) => a[1].at - b[1].at)) {
      if (timer.at > this.now) break;
      this.pending.delete(id);
      timer.callback();
    }
  }
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const policyWith = (timers: FakeTimers) => ({ timers, operationMs: 1_000, minBytesPerSecond: 1_000, wholeGetMs: 50_000 });

describe('withTimeouts', () => {
  it('passes results through and clears its timers', async () => {
    const timers = new FakeTimers();
    const store = withTimeouts(new FaultyBackend(), policyWith(timers));
    await store.put('a', bytesSource(new Uint8Array([9])));
    expect(await store.stat('a')).toEqual({ name: 'a', size: 1 });
    expect(Array.from(await store.get('a'))).toEqual([9]);
    await store.delete('a');
    expect(timers.pendingCount).toBe(0);
  });

  it('rejects a stalled call with a retryable store_timeout and aborts the backend', async () => {
    const timers = new FakeTimers();
    const faulty = new FaultyBackend().stallNext('stat');
    const store = withTimeouts(faulty, policyWith(timers));
    const result = chunkerRejectionOf(() => store.stat('slow/object'));
    await settle();
    timers.advance(999);
    await settle();
    expect(faulty.abandonedStalls).toBe(0);
    timers.advance(1);
    const error = await result;
    expect(error.code).toBe('store_timeout');
    expect(isRetryable(error)).toBe(true);
    expect(error.message).toContain('stat slow/object took longer than 1000 ms');
    expect(faulty.abandonedStalls).toBe(1);
    expect(faulty.calls[0]!.signal?.reason).toBe(error);
  });

  it('rejects at the deadline even when the backend ignores its signal', async () => {
    const timers = new FakeTimers();
    const faulty = new FaultyBackend().stallNext('delete', 1, { honourSignal: false });
    const store = withTimeouts(faulty, policyWith(timers));
    const result = chunkerRejectionOf(() => store.delete('x'));
    timers.advance(1_000);
    expect((await result).code).toBe('store_timeout');
    expect(faulty.abandonedStalls).toBe(0);
    expect(faulty.calls[0]!.signal?.aborted).toBe(true);
  });

  it('scales transfer deadlines with their size', async () => {
    const timers = new FakeTimers();
    const store = withTimeouts(new FaultyBackend(), policyWith(timers));
    await store.put('p', bytesSource(new Uint8Array(5_000)));
    await store.get('p', { offset: 100, length: 2_500 });
    await store.get('p');
    await store.stat('p');
    await store.delete('p');
    // base 1 s + bytes at 1000 B/s; a whole get gets wholeGetMs.
    expect(timers.delays).toEqual([6_000, 3_500, 50_000, 1_000, 1_000]);
  });

  it('computes deadlines that grow with size, never below the base nor above a timer maximum', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 600_000 }),
        fc.integer({ min: 1, max: 1 << 30 }),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        fc.nat({ max: Number.MAX_SAFE_INTEGER }),
        (operationMs, minBytesPerSecond, a, b) => {
          const policy = { operationMs, minBytesPerSecond };
          const [small, large] = a <= b ? [a, b] : [b, a];
          const smallMs = transferTimeoutMs(policy, small);
          expect(Number.isInteger(smallMs)).toBe(true);
          expect(smallMs).toBeGreaterThanOrEqual(operationMs);
          expect(transferTimeoutMs(policy, large)).toBeGreaterThanOrEqual(smallMs);
          expect(transferTimeoutMs(policy, large)).toBeLessThanOrEqual(2 ** 31 - 1);
        },
      ),
    );
    // The documented defaults: a 4 MiB chunk gets 60 s + 64 s.
    expect(transferTimeoutMs({ operationMs: DEFAULT_OPERATION_TIMEOUT_MS, minBytesPerSecond: DEFAULT_MIN_BYTES_PER_SECOND }, 4 * 1024 * 1024)).toBe(124_000);
  });

  it('uses the documented defaults', async () => {
    const timers = new FakeTimers();
    const store = withTimeouts(new FaultyBackend(), { timers });
    await store.stat('x');
    await store.get('x').catch(() => undefined);
    expect(timers.delays).toEqual([DEFAULT_OPERATION_TIMEOUT_MS, DEFAULT_WHOLE_GET_TIMEOUT_MS]);
  });

  it('rejects with the caller’s abort at once, and tells the backend', async () => {
    const timers = new FakeTimers();
    const faulty = new FaultyBackend().stallNext('get', 1, { honourSignal: false });
    const store = withTimeouts(faulty, policyWith(timers));
    const controller = new AbortController();
    const result = chunkerRejectionOf(() => store.get('x', undefined, { signal: controller.signal }));
    controller.abort();
    const error = await result;
    expect(error.code).toBe('aborted');
    expect(error.permanent).toBe(true);
    expect(faulty.calls[0]!.signal?.aborted).toBe(true);
    expect(timers.pendingCount).toBe(0);

    // Already aborted: the backend is not called; a ChunkerError reason is kept as is.
    const deadline = new AbortController();
    const reason = storeError('store_timeout', 'the caller’s own deadline');
    deadline.abort(reason);
    await expect(store.stat('x', { signal: deadline.signal })).rejects.toBe(reason);
    expect(faulty.callCount('stat')).toBe(0);
  });

  it('times each step of a list, not the consumer between steps', async () => {
    const timers = new FakeTimers();
    const faulty = new FaultyBackend();
    const store = withTimeouts(faulty, policyWith(timers));
    for (const name of ['l/1', 'l/2', 'l/3']) await store.put(name, bytesSource(new Uint8Array(1)));
    timers.delays.length = 0;
    const names: string[] = [];
    for await (const info of store.list('l/')) {
      // The consumer dawdles far past the deadline; no timer runs meanwhile.
      expect(timers.pendingCount).toBe(0);
      timers.advance(10_000);
      names.push(info.name);
    }
    expect(names.sort()).toEqual(['l/1', 'l/2', 'l/3']);
    expect(timers.delays).toEqual([1_000, 1_000, 1_000, 1_000]);

    faulty.stallNext('list');
    const stalled = chunkerRejectionOf(async () => {
      for await (const info of store.list('l/')) names.push(info.name);
    });
    await settle();
    timers.advance(1_000);
    expect((await stalled).code).toBe('store_timeout');
    expect(faulty.abandonedStalls).toBe(1);
  });

  it('aborts the backend’s listing when the consumer stops early', async () => {
    const faulty = new FaultyBackend();
    const store = withTimeouts(faulty, policyWith(new FakeTimers()));
    for (const name of ['e/1', 'e/2']) await store.put(name, bytesSource(new Uint8Array(1)));
    for await (const info of store.list('e/')) {
      expect(info.name.startsWith('e/')).toBe(true);
      break;
    }
    const listCall = faulty.calls.find((call) => call.operation === 'list')!;
    expect(listCall.signal?.aborted).toBe(true);
  });

  it('gives each retried attempt a fresh deadline when wrapped by withRetry', async () => {
    const timers = new FakeTimers();
    const faulty = new FaultyBackend().stallNext('put', 2);
    const retries: string[] = [];
    const store = withRetry(withTimeouts(faulty, policyWith(timers)), {
      sleep: async () => undefined,
      onRetry: (event) => retries.push(event.error.code),
    });
    const source: ObjectSource = bytesSource(new Uint8Array(500));
    const putting = store.put('r', source);
    for (let attempt = 0; attempt < 2; attempt++) {
      await settle();
      timers.advance(1_500);
    }
    await putting;
    expect(retries).toEqual(['store_timeout', 'store_timeout']);
    expect(faulty.callCount('put')).toBe(3);
    expect(timers.delays).toEqual([1_500, 1_500, 1_500]);
    expect((await store.stat('r'))?.size).toBe(500);
  });

  it('times out on real timers too', async () => {
    const store = withTimeouts(new FaultyBackend().stallNext('get'), { operationMs: 20 });
    const started = performance.now();
    const error = await chunkerRejectionOf(() => store.get('x', { offset: 0, length: 1 }));
    expect(error.code).toBe('store_timeout');
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
  });

  it('passes errors, location and capabilities through, and rejects unusable policies', async () => {
    const faulty = new FaultyBackend().failNext('stat', 'store_auth');
    const store = withTimeouts(faulty);
    expect((await chunkerRejectionOf(() => store.stat('x'))).code).toBe('store_auth');
    expect(store.location).toBe(faulty.location);
    expect(store.capabilities).toBe(faulty.capabilities);
    for (const policy of [{ operationMs: 0 }, { operationMs: 1.5 }, { wholeGetMs: 2 ** 31 }, { minBytesPerSecond: 0 }, { minBytesPerSecond: Number.NaN }]) {
      expect(chunkerErrorOf(() => withTimeouts(faulty, policy)).code, JSON.stringify(policy)).toBe('invalid_argument');
    }
  });
});
