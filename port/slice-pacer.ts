/**
 * How many bytes one engine call of a budgeted request scans before the budget is checked
 * again (spec §4, Budgets).
 *
 * A fixed small slice checks the clock often but costs speed: every engine call hands its
 * chunks to the hashing helper threads and waits for them, and on a virtual machine whose
 * idle CPUs sleep, waking a helper costs tens to hundreds of microseconds. So slices are
 * sized from the scan rate this process has measured, to take about a quarter of the
 * request's millisecond budget (never more than what is left of it): a request still
 * stops close to its deadline, with a few calls instead of one per mebibyte.
 *
 * One pacer serves every request of a port process. Its rate is a moving average over
 * recent slices of all sessions, so a session with a slower hash or a burst of load
 * elsewhere shifts it; a misjudged slice only moves the stop by that slice's error.
 */

/** The first slice, before any rate is known (and the size a slice used to have always). */
export const FIRST_SLICE_BYTES = 1024 * 1024;
/** Smallest slice: below this the per-call costs dominate. */
export const MIN_SLICE_BYTES = 256 * 1024;
/** Largest slice, whatever the rate: bounds the work between two clock checks. */
export const MAX_SLICE_BYTES = 16 * 1024 * 1024;
/** Share of the request's millisecond budget one slice aims to take. */
const SLICE_SHARE_OF_BUDGET = 0.25;
/** Weight of the newest slice in the moving average of the rate. */
const RATE_WEIGHT = 0.25;
/** Slices faster than this say more about the clock's resolution than about the rate. */
const MIN_TIMED_MS = 0.2;

export class SlicePacer {
  #bytesPerMs: number | null = null;

  /** The measured scan rate in bytes per millisecond, or null before the first timed slice. */
  get bytesPerMs(): number | null {
    return this.#bytesPerMs;
  }

  /**
   * Bytes for the next slice of a request whose budget is `budgetMs` with `msLeft` of it
   * remaining (capping by the request's remaining bytes is the caller's job).
   */
  sliceBytes(budgetMs: number, msLeft: number): number {
    if (this.#bytesPerMs === null) return FIRST_SLICE_BYTES;
    const ms = Math.min(budgetMs * SLICE_SHARE_OF_BUDGET, Math.max(msLeft, 0));
    const bytes = Math.floor(this.#bytesPerMs * ms);
    return Math.min(MAX_SLICE_BYTES, Math.max(MIN_SLICE_BYTES, bytes));
  }

  /** Records that a slice scanned `bytes` in `ms` milliseconds. */
  record(bytes: number, ms: number): void {
    if (bytes <= 0 || !(ms >= MIN_TIMED_MS)) return;
    const rate = bytes / ms;
    this.#bytesPerMs = this.#bytesPerMs === null ? rate : this.#bytesPerMs + RATE_WEIGHT * (rate - this.#bytesPerMs);
  }
}
