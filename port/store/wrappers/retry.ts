/**
 * Retries store operations that failed with a transient error (`isRetryable`: connection
 * lost, timeout, throttling, 5xx), waiting between attempts with exponential backoff and
 * full jitter: before retry n the wait is uniform in [0, min(maxDelayMs, baseDelayMs·2^(n-1))).
 * Jitter spreads the retries of many workers that failed together, so they do not return
 * in lockstep (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015).
 *
 * Permanent errors (not_found, store_auth, store_permission, store_full, …), argument
 * errors and errors that are not store errors propagate at once. So does everything once
 * the caller's signal has aborted: an aborted caller is never retried for.
 *
 * Three limits stop an operation from retrying: `maxAttempts` per operation, the
 * `maxElapsedMs` since its first attempt, and a retry budget shared by every operation
 * through the wrapper (a token bucket: each retry takes a token, each success puts back a
 * fraction of one). However long an outage lasts, the retries ever made are at most the
 * budget's capacity plus `refillPerSuccess` times the successes, so a store that is down
 * or overloaded sees its traffic grow by a bounded amount instead of being multiplied by
 * `maxAttempts`; once the budget is dry, failures surface at once. When any limit stops
 * it, the operation rejects with the last error, unchanged.
 *
 * `list` is retried only while it has yielded nothing: the consumer has already acted
 * on yielded objects, and a restarted listing would yield them again, breaking
 * "each object exactly once".
 *
 * Put a timeout wrapper inside this one (`withRetry(withTimeouts(backend))`) so each
 * attempt has its own deadline and a timed-out attempt is retried.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ChunkerError, invalidParameter } from '../../errors.js';
import { abortError } from '../abort.js';
import {
  isRetryable,
  type ByteRange,
  type ObjectInfo,
  type ObjectSource,
  type OperationOptions,
  type StoreBackend,
  type StoreCapabilities,
} from '../backend.js';

/** Attempts per operation, the first one included. */
export const DEFAULT_MAX_ATTEMPTS = 8;
/** Upper bound of the wait before the first retry; it doubles for each later retry. */
export const DEFAULT_BASE_DELAY_MS = 250;
/** Cap on any single wait (reached at the 8th retry with the defaults). */
export const DEFAULT_MAX_DELAY_MS = 20_000;
/**
 * No retry starts whose wait would end later than this after the operation's first
 * attempt began. With the defaults the waits alone add up to at most 31.75 s.
 */
export const DEFAULT_MAX_ELAPSED_MS = 120_000;
/** Retries the shared budget allows in a burst (one token each). */
export const DEFAULT_RETRY_BUDGET_TOKENS = 100;
/** Tokens a successful operation returns to the budget: one retry earned per ten successes. */
export const DEFAULT_RETRY_REFILL_PER_SUCCESS = 0.1;

export type RetriedOperation = 'stat' | 'get' | 'put' | 'delete' | 'list';

/** What `onRetry` hears before each wait. */
export interface RetryEvent {
  readonly operation: RetriedOperation;
  /** The object name, or the prefix for list. */
  readonly name: string;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  /** How long the wrapper waits before the next attempt. */
  readonly delayMs: number;
  readonly error: ChunkerError;
}

/**
 * A token bucket of retries, shareable between wrappers (pass the same instance in
 * several policies to give them one budget). Starts full.
 */
export class RetryBudget {
  private tokens: number;

  constructor(
    readonly capacity: number = DEFAULT_RETRY_BUDGET_TOKENS,
    readonly refillPerSuccess: number = DEFAULT_RETRY_REFILL_PER_SUCCESS,
  ) {
    if (!(capacity >= 0)) throw invalidParameter('retry budget capacity', 'a number ≥ 0', capacity);
    if (!(refillPerSuccess >= 0)) throw invalidParameter('retry budget refill', 'a number ≥ 0', refillPerSuccess);
    this.tokens = capacity;
  }

  /** Tokens left (fractional while refilling). */
  get available(): number {
    return this.tokens;
  }

  /** Takes one retry's token; false (and nothing taken) when less than one is left. */
  tryTake(): boolean {
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  recordSuccess(): void {
    this.tokens = Math.min(this.capacity, this.tokens + this.refillPerSuccess);
  }
}

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  readonly maxElapsedMs: number;
  /** Shared by all operations through this wrapper; a new full budget by default. */
  readonly budget: RetryBudget;
  /** Milliseconds from any fixed origin (injectable for tests). */
  readonly now: () => number;
  /** Waits `ms`; must reject (with `abortError`) when `signal` aborts. Injectable for tests. */
  readonly sleep: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
  /** Uniform in [0, 1) (injectable for tests). */
  readonly random: () => number;
  /** Called before each wait, for progress and logs; it must not throw. */
  readonly onRetry?: (event: RetryEvent) => void;
}

async function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await delay(ms, undefined, signal === undefined ? undefined : { signal });
  } catch (error) {
    if (signal?.aborted) throw abortError(signal, 'retry wait');
    throw error;
  }
}

/**
 * The wait before retry `retry` (1 for the first retry): full jitter over an exponential
 * ceiling. `random` is uniform in [0, 1); the result is an integer in
 * [0, min(maxDelayMs, baseDelayMs·2^(retry-1))).
 */
export function backoffDelayMs(retry: number, baseDelayMs: number, maxDelayMs: number, random: () => number): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (retry - 1));
  return Math.floor(random() * ceiling);
}

function checkPolicy(policy: RetryPolicy): RetryPolicy {
  const { maxAttempts, baseDelayMs, maxDelayMs, maxElapsedMs } = policy;
  if (!Number.isSafeInteger(maxAttempts) || maxAttempts < 1) throw invalidParameter('maxAttempts', 'an integer ≥ 1', maxAttempts);
  for (const [argument, value] of Object.entries({ baseDelayMs, maxDelayMs, maxElapsedMs })) {
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) throw invalidParameter(argument, 'milliseconds ≥ 0', value);
  }
  if (!(policy.budget instanceof RetryBudget)) throw invalidParameter('budget', 'a RetryBudget', policy.budget);
  return policy;
}

class RetryingBackend implements StoreBackend {
  constructor(
    private readonly inner: StoreBackend,
    private readonly policy: RetryPolicy,
  ) {}

  get location(): string {
    return this.inner.location;
  }

  get capabilities(): StoreCapabilities {
    return this.inner.capabilities;
  }

  stat(name: string, options: OperationOptions = {}): Promise<ObjectInfo | null> {
    return this.run('stat', name, options.signal, () => this.inner.stat(name, options));
  }

  get(name: string, range?: ByteRange, options: OperationOptions = {}): Promise<Uint8Array> {
    return this.run('get', name, options.signal, () => this.inner.get(name, range, options));
  }

  put(name: string, source: ObjectSource, options: OperationOptions = {}): Promise<void> {
    return this.run('put', name, options.signal, () => this.inner.put(name, source, options));
  }

  delete(name: string, options: OperationOptions = {}): Promise<void> {
    return this.run('delete', name, options.signal, () => this.inner.delete(name, options));
  }

  async *list(prefix: string, options: OperationOptions = {}): AsyncIterable<ObjectInfo> {
    const startedAt = this.policy.now();
    for (let attempt = 1; ; attempt++) {
      let yielded = false;
      try {
        for await (const info of this.inner.list(prefix, options)) {
          yielded = true;
          yield info;
        }
        this.policy.budget.recordSuccess();
        return;
      } catch (error) {
        if (yielded) throw error;
        await this.waitBeforeRetry(error, 'list', prefix, attempt, startedAt, options.signal);
      }
    }
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async run<T>(operation: RetriedOperation, name: string, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    const startedAt = this.policy.now();
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await call();
        this.policy.budget.recordSuccess();
        return result;
      } catch (error) {
        await this.waitBeforeRetry(error, operation, name, attempt, startedAt, signal);
      }
    }
  }

  /** Rethrows `error` unless a retry is allowed; otherwise waits the backoff. */
  private async waitBeforeRetry(
    error: unknown,
    operation: RetriedOperation,
    name: string,
    attempt: number,
    startedAt: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const { policy } = this;
    if (!isRetryable(error) || signal?.aborted || attempt >= policy.maxAttempts) throw error;
    const delayMs = backoffDelayMs(attempt, policy.baseDelayMs, policy.maxDelayMs, policy.random);
    if (policy.now() + delayMs - startedAt > policy.maxElapsedMs) throw error;
    // Checked last, so a token is spent only on a retry that will happen.
    if (!policy.budget.tryTake()) throw error;
    policy.onRetry?.({ operation, name, attempt, delayMs, error: error as ChunkerError });
    await policy.sleep(delayMs, signal);
  }
}

/** Wraps `backend` so transient failures are retried under `policy` (defaults above). */
export function withRetry(backend: StoreBackend, policy: Partial<RetryPolicy> = {}): StoreBackend {
  const full: RetryPolicy = {
    maxAttempts: DEFAULT_MAX_ATTEMPTS,
    baseDelayMs: DEFAULT_BASE_DELAY_MS,
    maxDelayMs: DEFAULT_MAX_DELAY_MS,
    maxElapsedMs: DEFAULT_MAX_ELAPSED_MS,
    now: () => performance.now(),
    sleep: sleepUnlessAborted,
    random: Math.random,
    // Options given as undefined keep their defaults.
    ...Object.fromEntries(Object.entries(policy).filter(([, value]) => value !== undefined)),
    budget: policy.budget ?? new RetryBudget(),
  };
  return new RetryingBackend(backend, checkPolicy(full));
}
