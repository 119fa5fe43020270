/** The error an aborted operation fails with. */
import { ChunkerError } from '../../errors.js';

/**
 * The abort's own reason when it is a `ChunkerError` (the timeout wrapper aborts with
 * `store_timeout`, which stays retryable), else a permanent `aborted` error: the caller
 * asked to stop, so repeating the call on its behalf would be wrong.
 */
export function abortError(signal: AbortSignal): ChunkerError {
  const reason: unknown = signal.reason;
  if (reason instanceof ChunkerError) return reason;
  const detail = reason instanceof Error && reason.message !== '' ? `: ${reason.message}` : '';
  return new ChunkerError('aborted', `Operation aborted${detail}`);
}
