/**
 * The wrappers every real use of a store gets (port ops, CLI, transfers): per-operation
 * deadlines inside, retries outside, so each attempt gets a fresh deadline. Concurrency
 * and bandwidth limits go outside these, where time spent queued is not charged to a
 * deadline (see wrappers/timeout.ts).
 */
import type { StoreBackend } from './backend.js';
import { withRetry, type RetryPolicy } from './wrappers/retry.js';
import { withTimeouts, type TimeoutPolicy } from './wrappers/timeout.js';

export interface ResiliencePolicy {
  readonly retry?: Partial<RetryPolicy>;
  readonly timeouts?: Partial<TimeoutPolicy>;
}

export function withResilience(backend: StoreBackend, policy: ResiliencePolicy = {}): StoreBackend {
  return withRetry(withTimeouts(backend, policy.timeouts), policy.retry);
}
