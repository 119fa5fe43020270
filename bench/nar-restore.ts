/**
 * Rebuilds a NAR from a chunk store (layout: chunk-store-layout.ts): reads its index, gets
 * each chunk object, decompresses it, checks its SHA-256 against the index and hands the
 * chunks to `sink` in order. A few gets run ahead of the one being consumed, so a remote
 * store's latency overlaps; memory holds at most that many chunks.
 */
import { createHash } from 'node:crypto';
import { restoreChunk } from '../port/engine/compression.js';
import { storeError, type StoreBackend } from '../port/store/backend.js';
import { chunkObjectName, narIndexName, parseNarIndex, type IndexedChunk } from './chunk-store-layout.js';

/** Chunk objects fetched ahead of the one being written. */
export const RESTORE_GETS_AHEAD = 8;

export interface NarRestoreResult {
  /** SHA-256 of the bytes handed to the sink. */
  readonly sha256: string;
  readonly bytes: number;
  readonly chunks: number;
}

async function fetchChunk(store: StoreBackend, chunk: IndexedChunk): Promise<Uint8Array> {
  const name = chunkObjectName(chunk.sha256, chunk.codec);
  const payload = await store.get(name);
  const bytes = restoreChunk({ codec: chunk.codec, payload }, chunk.length);
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== chunk.sha256) throw storeError('store_integrity', `${store.location}: ${name} holds a chunk whose SHA-256 is ${actual}`);
  return bytes;
}

/**
 * Restores the NAR whose SHA-256 is `narSha256`. Fails with `not_found` when the store has
 * no index for it, `corrupt_input` for a malformed index or chunk, `store_integrity` when a
 * chunk's digest or the whole NAR's digest or size does not match.
 */
export async function restoreNar(store: StoreBackend, narSha256: string, sink: (bytes: Uint8Array) => void | Promise<void>): Promise<NarRestoreResult> {
  const indexName = narIndexName(narSha256);
  const index = parseNarIndex(await store.get(indexName), indexName);
  const hash = createHash('sha256');
  let bytes = 0;
  const ahead: Promise<Uint8Array>[] = [];
  let next = 0;
  const fetchNext = (): void => {
    const fetched = fetchChunk(store, index.chunks[next++]!);
    // Marked handled now: if an earlier chunk fails, this one is never awaited.
    fetched.catch(() => {});
    ahead.push(fetched);
  };
  while (next < index.chunks.length && ahead.length < RESTORE_GETS_AHEAD) fetchNext();
  while (ahead.length > 0) {
    const chunk = await ahead.shift()!;
    if (next < index.chunks.length) fetchNext();
    hash.update(chunk);
    bytes += chunk.length;
    await sink(chunk);
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== index.narSha256 || bytes !== index.narSize) {
    throw storeError('store_integrity', `${store.location}: ${indexName} restores ${bytes} bytes with SHA-256 ${sha256}, not ${index.narSize} bytes with ${index.narSha256}`);
  }
  return { sha256, bytes, chunks: index.chunks.length };
}
