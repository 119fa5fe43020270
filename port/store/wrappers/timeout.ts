/**
 * Per-operation deadlines. Each call gets its own AbortSignal, which aborts when the
 * deadline passes or when the caller's signal aborts, and is passed to the backend so it
 * can stop its work (close the stream, abort the request, remove the temp file). When
 * the deadline passes the call rejects with `store_timeout` (retryable: wrap this in
 * `withRetry` so each attempt gets a fresh deadline); when the caller aborts it rejects
 * with the caller's abort error.
 *
 * The wrapper rejects at the deadline even if the backend ignores the signal, so a hung
 * server cannot hang the caller; the backend's call then finishes (or not) in the
 * background, and its late result is dropped. A put abandoned that way may still publish
 * its object later, which is harmless because puts are atomic and idempotent.
 *
 * How long: a transfer of n bytes gets `operationMs + n / minBytesPerSecond` — a base for
 * connection set-up and server latency plus the time to move the bytes at the slowest
 * throughput still counted as progress. That applies to put (the source's size) and to
 * get with a range (the range's length). A whole-object get has no size to scale by and
 * gets `wholeGetMs`; callers that know the size should ask for the range
 * `{ offset: 0, length: size }` to get a deadline scaled to it. stat and delete get
 * `operationMs`; a list gets `operationMs` for each next object (time the consumer spends
 * between objects does not count).
 *
 * The deadline covers everything inside the wrapped backend, including time its put
 * spends waiting for source bytes: keep `minBytesPerSecond` below any bandwidth limit
 * applied to the source, and put queues (concurrency limits) outside this wrapper.
 */
import { ChunkerError, invalidParameter } from '../../errors.js';
import { abortError, throwIfAborted } from '../abort.js';
import {
  storeError,
  type ByteRange,
  type ObjectInfo,
  type ObjectSource,
  type OperationOptions,
  type StoreBackend,
  type StoreCapabilities,
} from '../backend.js';

/** Base deadline of every operation, and of each step of a list. */
export const DEFAULT_OPERATION_TIMEOUT_MS = 60_000;
/**
 * Slowest throughput that still counts as progress: 64 KiB/s, so a 4 MiB chunk gets
 * 60 s + 64 s and a 1 GiB object about 4.6 hours.
 */
export const DEFAULT_MIN_BYTES_PER_SECOND = 64 * 1024;
/** Deadline of a get without a range, whose size is unknown in advance. */
export const DEFAULT_WHOLE_GET_TIMEOUT_MS = 300_000;

/** Longest delay setTimeout honours (2^31 - 1 ms, about 24.8 days); longer ones would fire at once. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** The timer functions the wrapper uses (injectable for tests). */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface TimeoutPolicy {
  readonly operationMs: number;
  readonly minBytesPerSecond: number;
  readonly wholeGetMs: number;
  readonly timers: Timers;
}

const REAL_TIMERS: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * The deadline of a transfer of `bytes` bytes under `policy`, in whole milliseconds,
 * capped at what a timer can hold (about 24.8 days).
 */
export function transferTimeoutMs(policy: Pick<TimeoutPolicy, 'operationMs' | 'minBytesPerSecond'>, bytes: number): number {
  return Math.min(MAX_TIMER_DELAY_MS, policy.operationMs + Math.ceil((bytes * 1000) / policy.minBytesPerSecond));
}

function checkPolicy(policy: TimeoutPolicy): TimeoutPolicy {
  const { operationMs, minBytesPerSecond, wholeGetMs } = policy;
  for (const [argument, value] of Object.entries({ operationMs, wholeGetMs })) {
    if (!Number.isSafeInteger(value) || value <= 0 || value > MAX_TIMER_DELAY_MS) {
      throw invalidParameter(argument, `whole milliseconds in 1..${MAX_TIMER_DELAY_MS}`, value);
    }
  }
  if (typeof minBytesPerSecond !== 'number' || !(minBytesPerSecond > 0)) throw invalidParameter('minBytesPerSecond', 'a number > 0', minBytesPerSecond);
  return policy;
}

class TimeoutBackend implements StoreBackend {
  constructor(
    private readonly inner: StoreBackend,
    private readonly policy: TimeoutPolicy,
  ) {}

  get location(): string {
    return this.inner.location;
  }

  get capabilities(): StoreCapabilities {
    return this.inner.capabilities;
  }

  stat(name: string, options: OperationOptions = {}): Promise<ObjectInfo | null> {
    return this.withDeadline(`stat ${name}`, this.policy.operationMs, options.signal, (signal) => this.inner.stat(name, { ...options, signal }));
  }

  get(name: string, range?: ByteRange, options: OperationOptions = {}): Promise<Uint8Array> {
    const ms = range === undefined ? this.policy.wholeGetMs : transferTimeoutMs(this.policy, range.length);
    return this.withDeadline(`get ${name}`, ms, options.signal, (signal) => this.inner.get(name, range, { ...options, signal }));
  }

  put(name: string, source: ObjectSource, options: OperationOptions = {}): Promise<void> {
    const ms = transferTimeoutMs(this.policy, source.size);
    return this.withDeadline(`put ${name}`, ms, options.signal, (signal) => this.inner.put(name, source, { ...options, signal }));
  }

  delete(name: string, options: OperationOptions = {}): Promise<void> {
    return this.withDeadline(`delete ${name}`, this.policy.operationMs, options.signal, (signal) => this.inner.delete(name, { ...options, signal }));
  }

  async *list(prefix: string, options: OperationOptions = {}): AsyncIterable<ObjectInfo> {
    const what = `list ${prefix}`;
    const callerSignal = options.signal;
    throwIfAborted(callerSignal, what);
    // One signal for the whole listing: the backend's iterator lives across steps.
    const controller = new AbortController();
    const forwardAbort = () => controller.abort(abortError(callerSignal!, what));
    callerSignal?.addEventListener('abort', forwardAbort, { once: true });
    const iterator = this.inner.list(prefix, { ...options, signal: controller.signal })[Symbol.asyncIterator]();
    let finished = false;
    try {
      for (;;) {
        const step = await this.withDeadline(what, this.policy.operationMs, callerSignal, () => iterator.next(), controller);
        if (step.done) {
          finished = true;
          return;
        }
        yield step.value;
      }
    } finally {
      callerSignal?.removeEventListener('abort', forwardAbort);
      if (!finished) {
        // Stopped early (consumer broke off, timeout, abort): tell the backend, but do not
        // wait for its iterator, which may be stuck in the step that timed out.
        if (!controller.signal.aborted) controller.abort(new ChunkerError('aborted', `${what} was abandoned by its consumer`));
        void iterator.return?.().catch(() => undefined);
      }
    }
  }

  close(): Promise<void> {
    return this.withDeadline('close', this.policy.operationMs, undefined, () => this.inner.close());
  }

  /**
   * Runs `call` with a signal that aborts at the deadline or with the caller's signal,
   * and settles at whichever comes first: the call, the deadline, the caller's abort.
   * `shared` is the listing's controller, which outlives one step and so is aborted
   * only when the step times out.
   */
  private withDeadline<T>(
    what: string,
    ms: number,
    callerSignal: AbortSignal | undefined,
    call: (signal: AbortSignal) => Promise<T>,
    shared?: AbortController,
  ): Promise<T> {
    // Every failure is a rejection, never a synchronous throw (the contract's methods are async).
    if (callerSignal?.aborted) return Promise.reject(abortError(callerSignal, what));
    const controller = shared ?? new AbortController();
    const { timers } = this.policy;
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        timers.clearTimeout(timer);
        callerSignal?.removeEventListener('abort', onCallerAbort);
        settle();
      };
      const timer = timers.setTimeout(() => {
        const error = storeError('store_timeout', `${this.inner.location}: ${what} took longer than ${ms} ms`);
        controller.abort(error);
        finish(() => reject(error));
      }, ms);
      function onCallerAbort(): void {
        const error = abortError(callerSignal!, what);
        if (!controller.signal.aborted) controller.abort(error);
        finish(() => reject(error));
      }
      callerSignal?.addEventListener('abort', onCallerAbort, { once: true });
      let running: Promise<T>;
      try {
        running = call(controller.signal);
      } catch (error) {
        running = Promise.reject(error);
      }
      running.then(
        (value) => finish(() => resolve(value)),
        (error: unknown) => finish(() => reject(error)),
      );
    });
  }
}

/**
 * Wraps `backend` so every operation has a deadline (defaults above); see the module
 * comment for how each operation's deadline is computed.
 */
export function withTimeouts(backend: StoreBackend, policy: Partial<TimeoutPolicy> = {}): StoreBackend {
  const full: TimeoutPolicy = {
    operationMs: DEFAULT_OPERATION_TIMEOUT_MS,
    minBytesPerSecond: DEFAULT_MIN_BYTES_PER_SECOND,
    wholeGetMs: DEFAULT_WHOLE_GET_TIMEOUT_MS,
    timers: REAL_TIMERS,
    ...Object.fromEntries(Object.entries(policy).filter(([, value]) => value !== undefined)),
  };
  return new TimeoutBackend(backend, checkPolicy(full));
}
