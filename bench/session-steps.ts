/** Driving an engine session step by step, as the bench's session variants all do. */
import type { SessionState, StepResult } from '../port/engine/chunk-session.js';

/**
 * Follows `first` with `next` while a step stops early (`more`); returns the state after
 * the last step and how many chunks all the steps gave.
 */
export function runToCompletion(first: StepResult, next: (state: SessionState) => StepResult): { state: SessionState; chunks: number } {
  let step = first;
  let chunks = step.chunks.length;
  while (step.more) {
    step = next(step.state);
    chunks += step.chunks.length;
  }
  return { state: step.state, chunks };
}
