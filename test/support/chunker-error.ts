/** Catching the engine's own errors in tests: anything else thrown, or nothing, fails the test. */
import { expect } from 'vitest';
import { ChunkerError } from '../../port/errors.js';

/** Runs `action` and returns the ChunkerError it threw. */
export function chunkerErrorOf(action: () => unknown): ChunkerError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(ChunkerError);
    return error as ChunkerError;
  }
  expect.fail('expected a ChunkerError, nothing was thrown');
}

/** Awaits `run` and returns the ChunkerError it rejected with. */
export async function chunkerRejectionOf(run: () => Promise<unknown>): Promise<ChunkerError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(ChunkerError);
    return error as ChunkerError;
  }
  expect.fail('expected a rejection with a ChunkerError, the promise resolved');
}
