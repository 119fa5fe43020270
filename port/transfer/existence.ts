/**
 * Finding which objects a store already holds, cheaply.
 *
 * Two ways, chosen by a fixed rule:
 * - **stat each name**, `checkers` at a time: one request per object, good for a few.
 * - **list the common prefix** of all names, when there are at least `listThreshold`
 *   (default LIST_CHECK_MIN_OBJECTS) of them: a listing returns many names per request
 *   (S3 pages of 1000 keys, one readdir per directory on local and SFTP), so checking N
 *   names costs about N/1000 requests instead of N. The prefix may hold far more objects
 *   than are being checked (a big store, a small upload), so the listing stops after
 *   LIST_ENTRIES_PER_NAME × N entries; names it has not seen by then are stat'ed. That
 *   caps the listing's cost at a small multiple of the stats it replaces. A listing that
 *   fails (a server that cannot list) also falls back to stats.
 * Either way the result maps every name to its stored size, or null when absent.
 */
import type { StoreBackend } from '../store/backend.js';
import { abortError } from '../store/abort.js';
import { forEachConcurrently } from './pool.js';

/** Fewest names for which a listing is tried instead of one stat per name. */
export const LIST_CHECK_MIN_OBJECTS = 1000;
/** A listing stops after this many entries per name checked; the rest are stat'ed. */
export const LIST_ENTRIES_PER_NAME = 4;
/** Stats run at once by default (rclone's --checkers default). */
export const DEFAULT_CHECKERS = 8;

export interface ExistenceOptions {
  readonly checkers?: number;
  readonly listThreshold?: number;
  readonly signal?: AbortSignal;
  /** Called as names are resolved, with how many were resolved by this call. */
  readonly onChecked?: (count: number) => void;
}

/** The longest string every name starts with ('' for none). */
export function commonPrefix(names: readonly string[]): string {
  if (names.length === 0) return '';
  let prefix = names[0]!;
  for (const name of names) {
    let length = 0;
    while (length < prefix.length && length < name.length && prefix.charCodeAt(length) === name.charCodeAt(length)) length++;
    prefix = prefix.slice(0, length);
    if (prefix === '') break;
  }
  return prefix;
}

/**
 * Lists `prefix` looking for `wanted`; returns the sizes found and whether the listing
 * was complete (so that names not found are known to be absent).
 */
async function listSizes(
  store: StoreBackend,
  wanted: ReadonlySet<string>,
  options: ExistenceOptions,
): Promise<{ found: Map<string, number>; complete: boolean }> {
  const found = new Map<string, number>();
  const maxEntries = wanted.size * LIST_ENTRIES_PER_NAME;
  let entries = 0;
  try {
    for await (const info of store.list(commonPrefix([...wanted]), { signal: options.signal })) {
      if (wanted.has(info.name)) {
        found.set(info.name, info.size);
        options.onChecked?.(1);
      }
      if (++entries >= maxEntries) return { found, complete: false };
    }
  } catch {
    if (options.signal?.aborted) throw abortError(options.signal);
    return { found, complete: false };
  }
  return { found, complete: true };
}

/** Maps each of `names` to its size in `store`, or null when the store has no such object. */
export async function findStoredSizes(store: StoreBackend, names: readonly string[], options: ExistenceOptions = {}): Promise<Map<string, number | null>> {
  const sizes = new Map<string, number | null>();
  let toStat = names;
  if (names.length > 0 && names.length >= (options.listThreshold ?? LIST_CHECK_MIN_OBJECTS)) {
    const { found, complete } = await listSizes(store, new Set(names), options);
    for (const [name, size] of found) sizes.set(name, size);
    toStat = names.filter((name) => !found.has(name));
    if (complete) {
      for (const name of toStat) sizes.set(name, null);
      options.onChecked?.(toStat.length);
      return sizes;
    }
  }
  await forEachConcurrently(
    toStat,
    options.checkers ?? DEFAULT_CHECKERS,
    async (name) => {
      const info = await store.stat(name, { signal: options.signal });
      sizes.set(name, info?.size ?? null);
      options.onChecked?.(1);
    },
    options.signal,
  );
  return sizes;
}
