/**
 * The upload scheduler: puts a set of objects into a store, skipping what it already
 * holds, in parallel, within a memory budget, resumable after a crash, with progress.
 *
 * A run:
 * 1. **Check**: which objects does the store already hold with the same size? (cheap
 *    existence checks: stats, or one listing for large sets — see existence.ts). Those
 *    are skipped. With `checkExisting: false` (rclone's --no-check-dest) only the names
 *    of an earlier run's journal are checked, everything else is sent.
 * 2. **Upload** the rest in the given order. Each object first takes from the memory
 *    budget (a FIFO byte semaphore) what its put can hold at once: its size, or the
 *    store's `capabilities.putBufferBytes` when that is less (a put that streams its
 *    source); a charge larger than the whole budget waits until it can go alone. Then
 *    its source is opened, then `put` waits for a slot of
 *    the concurrency limit. Up to PIPELINED_OBJECTS_PER_SLOT objects per slot are opened
 *    ahead, so small objects are pipelined: the next is ready the moment a slot frees.
 *    Once its put resolves, the object is appended to the resume journal.
 * 3. **Verify** afterwards that the store reports every uploaded object at its size, in
 *    one batch by the same rule as the check (stats, or a listing for large sets), so
 *    verifying costs a fraction of a request per object rather than one each.
 *
 * Concurrency: pass the AdaptiveLimit the store was wrapped with
 * (`withRetry(withConcurrencyLimit(backend, limit), policy)`, see concurrency-limit.ts) as
 * `options.limit`; the scheduler then keeps enough objects in flight to fill it and reports
 * its `current`. Without one, the store is wrapped here in a fixed limit of `transfers`.
 *
 * Failures: an object whose put, verify or source fails (after whatever retries the store
 * wrapper made) is recorded and the run goes on with the others; the run then rejects
 * with an `UploadError` (code `upload_failed`) that lists them. A failure no other object
 * can escape (bad credentials, full store, closed store) stops scheduling new objects at
 * once. Either way the journal stays, so a rerun sends only what is missing.
 *
 * Cancellation: aborting `options.signal` stops scheduling, aborts the puts in flight,
 * keeps the journal, and rejects with the abort's error (`aborted` unless the signal's
 * reason is a ChunkerError).
 */
import { ChunkerError, invalidParameter } from '../errors.js';
import { storeError, type ObjectSource, type StoreBackend } from '../store/backend.js';
import { checkObjectName } from '../store/object-name.js';
import { abortError } from '../store/abort.js';
import { AdaptiveLimit } from '../store/wrappers/adaptive-limit.js';
import { systemClock, type Clock } from '../store/wrappers/clock.js';
import { withConcurrencyLimit } from '../store/wrappers/concurrency-limit.js';
import { DEFAULT_CHECKERS, findStoredSizes } from './existence.js';
import { readJournal, UploadJournal } from './journal.js';
import { ProgressTracker, type ObjectProgress, type UploadProgress } from './progress.js';
import { WeightedSemaphore } from './semaphore.js';

/** Puts at once when no limit is passed (rclone's --transfers default is 4). */
export const DEFAULT_TRANSFERS = 8;
/** Bytes of object sources that may be in flight at once, by default. */
export const DEFAULT_MEMORY_BUDGET_BYTES = 128 * 1024 * 1024;
/** Objects opened and waiting per concurrency slot, beyond the ones being sent. */
export const PIPELINED_OBJECTS_PER_SLOT = 1;
/** Failed objects named in an UploadError's message (all are in `failures`). */
const MAX_FAILURES_IN_MESSAGE = 10;

/** Error codes after which no other object could succeed either. */
const RUN_ENDING_CODES: ReadonlySet<string> = new Set(['store_auth', 'store_full', 'store_config', 'store_closed', 'aborted']);

/** One object to upload. A source given as a function is opened when its turn comes and closed after. */
export interface UploadObject {
  readonly name: string;
  readonly size: number;
  readonly source: ObjectSource | (() => Promise<ObjectSource>);
}

export interface UploadOptions {
  /** The limit the store is wrapped with (see the module doc); read for fan-out and progress. */
  readonly limit?: AdaptiveLimit;
  /** Fixed concurrency when no `limit` is given; default DEFAULT_TRANSFERS. */
  readonly transfers?: number;
  /** Existence checks at once; default DEFAULT_CHECKERS. */
  readonly checkers?: number;
  /** Names from which the existence check lists instead of stats (existence.ts). */
  readonly listThreshold?: number;
  /** Bytes of sources in flight at most; default DEFAULT_MEMORY_BUDGET_BYTES. */
  readonly memoryBudgetBytes?: number;
  /** Check the store for every object before uploading (default true). */
  readonly checkExisting?: boolean;
  /** Check the stored size of every uploaded object after the uploads (default true). */
  readonly verify?: boolean;
  /** Directory of the resume journal; without it no journal is kept. */
  readonly stateDir?: string;
  /** Names the job's journal in `stateDir`; default the store's location. */
  readonly journalKey?: string;
  /** Check only: report what would be uploaded, send nothing, write no journal. */
  readonly dryRun?: boolean;
  readonly onProgress?: (progress: UploadProgress) => void;
  /** Shortest time between progress events; default DEFAULT_PROGRESS_INTERVAL_MS. */
  readonly progressIntervalMs?: number;
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
}

export interface UploadSummary {
  readonly objectsTotal: number;
  readonly bytesTotal: number;
  readonly objectsUploaded: number;
  readonly bytesUploaded: number;
  readonly objectsSkipped: number;
  readonly bytesSkipped: number;
  /** Skipped objects that an earlier run's journal listed (and the store confirmed). */
  readonly objectsResumed: number;
  /** Average upload rate over the upload phase, bytes per second. */
  readonly bytesPerSecond: number;
  readonly elapsedMs: number;
  /** In a dry run: the names that would be uploaded, in order. Empty otherwise. */
  readonly planned: readonly string[];
  readonly dryRun: boolean;
}

export interface UploadFailure {
  readonly name: string;
  readonly error: unknown;
}

/** The run finished with objects that could not be uploaded; a rerun resumes. */
export class UploadError extends ChunkerError {
  constructor(
    readonly failures: readonly UploadFailure[],
    readonly summary: UploadSummary,
    location: string,
  ) {
    const listed = failures.slice(0, MAX_FAILURES_IN_MESSAGE).map(({ name, error }) => `${name} (${describeError(error)})`);
    const more = failures.length > MAX_FAILURES_IN_MESSAGE ? `, and ${failures.length - MAX_FAILURES_IN_MESSAGE} more` : '';
    super(
      'upload_failed',
      `${failures.length} of ${summary.objectsTotal} objects failed to upload to ${location}: ${listed.join(', ')}${more}; run again to resume`,
      failures.every(({ error }) => error instanceof ChunkerError && error.permanent),
    );
  }
}

function describeError(error: unknown): string {
  if (error instanceof ChunkerError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function checkPositiveInteger(name: string, value: number | undefined, fallback: number): number {
  const result = value ?? fallback;
  if (!Number.isSafeInteger(result) || result < 1) throw invalidParameter(name, 'an integer ≥ 1', value);
  return result;
}

function checkObjects(objects: readonly UploadObject[]): void {
  const seen = new Set<string>();
  for (const object of objects) {
    checkObjectName(object.name);
    if (!Number.isSafeInteger(object.size) || object.size < 0) throw invalidParameter(`size of ${object.name}`, 'a byte count', object.size);
    if (seen.has(object.name)) throw invalidParameter('objects', 'each name once', object.name);
    seen.add(object.name);
  }
}

/** Wraps `source` so the tracker sees how far the backend has read it. */
function trackedSource(source: ObjectSource, progress: ObjectProgress): ObjectSource {
  return {
    size: source.size,
    async read(offset, length, into) {
      const bytes = await source.read(offset, length, into);
      progress.read(offset + bytes.length);
      return bytes;
    },
  };
}

async function openSource(object: UploadObject): Promise<{ source: ObjectSource; close: () => Promise<void> }> {
  if (typeof object.source !== 'function') return { source: object.source, close: async () => {} };
  const source = await object.source();
  const closable = source as ObjectSource & { close?: () => Promise<void> };
  return { source, close: async () => closable.close?.() };
}

/** Uploads `objects` to `store`; see the module doc. Resolves with a summary, or rejects with UploadError. */
export async function uploadObjects(store: StoreBackend, objects: readonly UploadObject[], options: UploadOptions = {}): Promise<UploadSummary> {
  checkObjects(objects);
  const clock = options.clock ?? systemClock;
  const { signal } = options;
  const transfers = checkPositiveInteger('transfers', options.transfers, DEFAULT_TRANSFERS);
  const checkers = checkPositiveInteger('checkers', options.checkers, DEFAULT_CHECKERS);
  const budget = new WeightedSemaphore(checkPositiveInteger('memoryBudgetBytes', options.memoryBudgetBytes, DEFAULT_MEMORY_BUDGET_BYTES));
  const putBufferBytes = store.capabilities.putBufferBytes ?? Number.POSITIVE_INFINITY;
  const limit = options.limit ?? new AdaptiveLimit({ min: transfers, max: transfers, initial: transfers, clock });
  const target = options.limit === undefined ? withConcurrencyLimit(store, limit) : store;
  const bytesTotal = objects.reduce((sum, object) => sum + object.size, 0);
  const progress = new ProgressTracker(objects.length, bytesTotal, {
    onProgress: options.onProgress,
    intervalMs: options.progressIntervalMs,
    clock,
    load: () => ({ concurrency: limit.current, inFlight: limit.inFlight }),
  });

  const journalKey = options.journalKey ?? store.location;
  const dryRun = options.dryRun ?? false;
  let journal: UploadJournal | undefined;
  let previous: ReadonlyMap<string, number> = new Map();
  if (options.stateDir !== undefined) {
    if (dryRun) previous = await readJournal(options.stateDir, journalKey);
    else {
      journal = await UploadJournal.open(options.stateDir, journalKey, clock);
      previous = journal.previous;
    }
  }

  progress.start();
  try {
    // 1. Check.
    const checkExisting = options.checkExisting ?? true;
    const candidates = checkExisting ? objects : objects.filter((object) => previous.get(object.name) === object.size);
    const stored = await findStoredSizes(
      target,
      candidates.map((object) => object.name),
      { checkers, listThreshold: options.listThreshold, signal, onChecked: (count) => progress.check(count) },
    );
    const pending: UploadObject[] = [];
    let objectsResumed = 0;
    for (const object of objects) {
      if (stored.get(object.name) === object.size) {
        progress.skip(object.size);
        if (previous.get(object.name) === object.size) objectsResumed++;
      } else pending.push(object);
    }

    const summarize = (final: UploadProgress): UploadSummary => ({
      objectsTotal: objects.length,
      bytesTotal,
      objectsUploaded: progress.objectsUploaded,
      bytesUploaded: progress.bytesUploaded,
      objectsSkipped: final.objectsSkipped,
      bytesSkipped: final.bytesSkipped,
      objectsResumed,
      bytesPerSecond: final.bytesPerSecond,
      elapsedMs: final.elapsedMs,
      planned: dryRun ? pending.map((object) => object.name) : [],
      dryRun,
    });
    if (dryRun) return summarize(progress.finish());

    // 2. Upload.
    progress.beginUploading();
    const verify = options.verify ?? true;
    const slots = new WeightedSemaphore(limit.max * (1 + PIPELINED_OBJECTS_PER_SLOT));
    const failures: UploadFailure[] = [];
    let runEnded = false;
    const running = new Set<Promise<void>>();
    const uploaded: UploadObject[] = [];

    const uploadOne = async (object: UploadObject): Promise<void> => {
      const tracker = progress.begin(object.size);
      let close = async (): Promise<void> => {};
      try {
        const opened = await openSource(object);
        close = opened.close;
        if (opened.source.size !== object.size) {
          throw invalidParameter(`source of ${object.name}`, `${object.size} bytes as listed (did it change?)`, `${opened.source.size} bytes`);
        }
        await target.put(object.name, trackedSource(opened.source, tracker), { signal });
        journal?.record(object.name, object.size);
        progress.complete(tracker);
        uploaded.push(object);
      } catch (error) {
        progress.fail(tracker);
        failures.push({ name: object.name, error });
        if (signal?.aborted || (error instanceof ChunkerError && RUN_ENDING_CODES.has(error.code))) runEnded = true;
      } finally {
        await close().catch(() => {});
      }
    };

    for (const object of pending) {
      if (runEnded || signal?.aborted) break;
      let charge: number;
      try {
        await slots.acquire(1, signal);
        charge = await budget.acquire(Math.min(object.size, putBufferBytes), signal).catch((error: unknown) => {
          slots.release(1);
          throw error;
        });
      } catch {
        break;
      }
      if (runEnded) {
        budget.release(charge);
        slots.release(1);
        break;
      }
      const task: Promise<void> = uploadOne(object).finally(() => {
        budget.release(charge);
        slots.release(1);
        running.delete(task);
      });
      running.add(task);
    }
    while (running.size > 0) await Promise.all([...running]);

    // 3. Verify.
    if (verify && uploaded.length > 0 && !runEnded && !signal?.aborted) {
      progress.beginVerifying();
      const sizes = await findStoredSizes(
        target,
        uploaded.map((object) => object.name),
        { checkers, listThreshold: options.listThreshold, signal, onChecked: (count) => progress.verify(count) },
      );
      for (const object of uploaded) {
        const size = sizes.get(object.name) ?? null;
        if (size === object.size) continue;
        progress.unconfirm(object.size);
        const found = size === null ? 'no object' : `${size} bytes`;
        failures.push({ name: object.name, error: storeError('store_integrity', `after its put, ${store.location} reports ${found} for ${object.name}, expected ${object.size} bytes`) });
      }
    }

    const summary = summarize(progress.finish());
    if (signal?.aborted) throw abortError(signal);
    if (failures.length > 0) throw new UploadError(failures, summary, store.location);
    await journal?.discard();
    journal = undefined;
    return summary;
  } finally {
    progress.stop();
    // The journal is a hint for the next run: failing to finish writing it costs that run
    // some re-uploading, so it must not replace the error that ended this one.
    await journal?.close().catch(() => {});
  }
}
