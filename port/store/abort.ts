/**
 * How store operations turn an aborted `AbortSignal` into an error. The timeout wrapper
 * aborts with a `store_timeout` ChunkerError as the reason, and that error is what the
 * operation must reject with, so a retry layer above sees a retryable timeout. Any other
 * abort (the caller gave up) becomes a permanent `aborted` error: nobody wants it retried.
 */
import { ChunkerError } from '../errors.js';
import { storeError } from './backend.js';

/** The error an operation aborted through `signal` rejects with. */
export function abortError(signal: AbortSignal, what = 'The operation'): ChunkerError {
  const reason: unknown = signal.reason;
  if (reason instanceof ChunkerError) return reason;
  return storeError('aborted', `${what} was aborted`);
}

/** Throws `abortError` when `signal` is already aborted; a no-op without a signal. */
export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw abortError(signal, what);
}

/**
 * Settles like `promise`, or rejects with `abortError` as soon as `signal` aborts — for
 * awaiting something that cannot be told to stop (a caller's `ObjectSource` read), so
 * the operation can still clean up and return. `promise` is left to settle unobserved.
 */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(abortError(signal, what));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal, what));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
