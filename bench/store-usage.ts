/**
 * How much a chunk store holds: objects and bytes under the layout's prefixes, from a
 * listing (any backend), and for a `file://` store also the space its files take on disk
 * (allocated blocks, as `du` counts them: small objects round up to whole blocks).
 */
import type { Dirent } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StoreBackend } from '../port/store/backend.js';
import { CHUNKS_PREFIX, NAR_INDEX_PREFIX } from './chunk-store-layout.js';

/** stat's `blocks` are 512-byte units whatever the file system's block size. */
const STAT_BLOCK_BYTES = 512;

export interface PrefixUsage {
  readonly objects: number;
  readonly bytes: number;
}

export interface StoreUsage {
  readonly chunks: PrefixUsage;
  readonly indexes: PrefixUsage;
  /** Bytes allocated on disk for the whole store directory, or null when it is not a file:// store. */
  readonly diskBytes: number | null;
}

async function listUsage(store: StoreBackend, prefix: string): Promise<PrefixUsage> {
  let objects = 0;
  let bytes = 0;
  for await (const info of store.list(prefix)) {
    objects++;
    bytes += info.size;
  }
  return { objects, bytes };
}

/** Allocated bytes of every file and directory under `root` (0 when it does not exist). */
export async function diskUsageBytes(root: string): Promise<number> {
  let total = 0;
  const pending = [root];
  while (pending.length > 0) {
    const path = pending.pop()!;
    let entries: Dirent[];
    try {
      total += (await lstat(path)).blocks * STAT_BLOCK_BYTES;
      entries = await readdir(path, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    for (const entry of entries) {
      if (entry.isDirectory()) pending.push(join(path, entry.name));
      else total += (await lstat(join(path, entry.name))).blocks * STAT_BLOCK_BYTES;
    }
  }
  return total;
}

/** Usage of the store at `url` (as opened into `store`). */
export async function measureStoreUsage(store: StoreBackend, url: string): Promise<StoreUsage> {
  const chunks = await listUsage(store, CHUNKS_PREFIX);
  const indexes = await listUsage(store, NAR_INDEX_PREFIX);
  const parsed = new URL(url);
  const diskBytes = parsed.protocol === 'file:' ? await diskUsageBytes(fileURLToPath(parsed)) : null;
  return { chunks, indexes, diskBytes };
}
