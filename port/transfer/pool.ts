/** Runs an async function over items with at most `concurrency` calls at once. */
import { abortError } from '../store/abort.js';

/**
 * Calls `work` for every item, `concurrency` at a time, in order of the items. The first
 * rejection stops new calls and is rethrown once the calls already running settle; an
 * abort of `signal` does the same with `abortError(signal)`.
 */
export async function forEachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<void> {
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      if (signal?.aborted) {
        failed = true;
        failure ??= abortError(signal);
        return;
      }
      const index = next++;
      try {
        await work(items[index]!, index);
      } catch (error) {
        if (!failed) failure = error;
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failed) throw failure;
}
