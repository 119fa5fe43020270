/**
 * Listing over plain HTTP. HTTP has no "list" verb, so the backend reads the server's
 * directory index: nginx's `autoindex on; autoindex_format json;` answers a GET on a
 * directory URL (ending in '/') with a JSON array of
 *   { "name": "ab", "type": "directory", "mtime": "…" }
 *   { "name": "abcd.zst", "type": "file", "mtime": "…", "size": 1234 }
 * and the walk below descends into the directories a prefix can reach. Without such an
 * index (autoindex off answers 403, an HTML index is not JSON) listing fails with
 * `store_config`; the other operations do not need it.
 *
 * nginx's index leaves out names that start with '.', so objects with such a segment are
 * stored and read but never listed.
 */
import { storeError, type ObjectInfo } from './backend.js';
import { TEMP_NAME_PREFIX } from './object-name.js';

/** One entry of a directory index. */
export interface IndexEntry {
  readonly name: string;
  readonly type: 'file' | 'directory' | 'other';
  readonly size: number | undefined;
}

/** Directories whose indexes are fetched at once during a walk. */
export const LIST_PARALLEL_DIRECTORIES = 8;

/** What a listing needs from the server, for error messages. */
export const LISTING_REQUIREMENT = 'listing needs a JSON directory index (nginx: autoindex on; autoindex_format json;)';

function isIndexEntry(value: unknown): value is { name: string; type: string; size?: unknown } {
  if (value === null || typeof value !== 'object') return false;
  const { name, type } = value as Record<string, unknown>;
  return typeof name === 'string' && typeof type === 'string';
}

/** Parses a JSON index; anything else is the `store_config` error that says what to enable. */
export function parseDirectoryIndex(body: Uint8Array, contentType: string | undefined, target: string): IndexEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch {
    throw storeError('store_config', `GET ${target}: the server's directory index is not JSON (${contentType ?? 'no content type'}); ${LISTING_REQUIREMENT}`);
  }
  if (!Array.isArray(parsed) || !parsed.every(isIndexEntry)) {
    throw storeError('store_config', `GET ${target}: the server's directory index is not an nginx JSON autoindex; ${LISTING_REQUIREMENT}`);
  }
  return parsed.map(({ name, type, size }) => ({
    name,
    type: type === 'file' || type === 'directory' ? type : 'other',
    size: typeof size === 'number' && Number.isSafeInteger(size) ? size : undefined,
  }));
}

/**
 * Reads one directory's index (`dir` is '' or ends with '/'); null when the directory
 * does not exist.
 */
export type DirectoryReader = (dir: string) => Promise<IndexEntry[] | null>;

/**
 * Every file under the directories that `prefix` can reach whose name starts with
 * `prefix`, each once. Directories are read a few at a time, breadth first, so a store
 * fanned out over thousands of directories is not read one round trip at a time.
 */
export async function* walkDirectoryIndexes(readDirectory: DirectoryReader, prefix: string): AsyncIterable<ObjectInfo> {
  const queue = [prefix.slice(0, prefix.lastIndexOf('/') + 1)];
  while (queue.length > 0) {
    const batch = queue.splice(0, LIST_PARALLEL_DIRECTORIES);
    const indexes = await Promise.all(batch.map(readDirectory));
    for (const [position, entries] of indexes.entries()) {
      const dir = batch[position]!;
      for (const entry of entries ?? []) {
        if (entry.name.startsWith(TEMP_NAME_PREFIX) || entry.name.includes('/')) continue;
        const name = dir + entry.name;
        if (entry.type === 'directory') {
          if (`${name}/`.startsWith(prefix) || prefix.startsWith(`${name}/`)) queue.push(`${name}/`);
        } else if (entry.type === 'file' && name.startsWith(prefix)) {
          if (entry.size === undefined) throw storeError('store_config', `the directory index of ${dir || '/'} gives no size for ${entry.name}; ${LISTING_REQUIREMENT}`);
          yield { name, size: entry.size };
        }
      }
    }
  }
}
