/**
 * Deduplication accounting: which chunks (by digest) a store already holds, and how many
 * bytes of a new version it would not need to receive.
 */
import { chunkStream } from '../port/engine/chunk-stream.js';
import type { Chunk } from '../port/engine/chunk-session.js';
import { SIZE_PRESETS, type SizePreset } from '../port/engine/chunking-options.js';
import { readPieces } from './corpus-reader.js';

/** Chunks seen so far, keyed by digest, with totals for all and for distinct chunks. */
export class ChunkLedger {
  chunks = 0;
  bytes = 0;
  uniqueChunks = 0;
  uniqueBytes = 0;
  /** Chunk lengths in the order seen (for size distributions). */
  readonly lengths: number[] = [];
  private readonly seen = new Set<string>();

  static key(chunk: Chunk): string {
    if (chunk.hash === null) throw new Error('dedup needs chunk digests (hash must not be none)');
    return Buffer.from(chunk.hash.buffer, chunk.hash.byteOffset, chunk.hash.byteLength).toString('latin1');
  }

  has(chunk: Chunk): boolean {
    return this.seen.has(ChunkLedger.key(chunk));
  }

  /** Records a chunk; returns true when its digest was new. */
  add(chunk: Chunk): boolean {
    this.chunks++;
    this.bytes += chunk.length;
    this.lengths.push(chunk.length);
    const key = ChunkLedger.key(chunk);
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    this.uniqueChunks++;
    this.uniqueBytes += chunk.length;
    return true;
  }
}

/** How much of a new version a store holding the old one already has. */
export class ReuseTally {
  chunks = 0;
  bytes = 0;
  presentChunks = 0;
  presentBytes = 0;

  constructor(private readonly store: ChunkLedger) {}

  add(chunk: Chunk): void {
    this.chunks++;
    this.bytes += chunk.length;
    if (this.store.has(chunk)) {
      this.presentChunks++;
      this.presentBytes += chunk.length;
    }
  }
}

export interface PresetDedup {
  preset: SizePreset;
  sizes: { minSize: number; avgSize: number; maxSize: number };
  v1: { bytes: number; chunks: number; uniqueChunks: number; uniqueBytes: number; meanChunkBytes: number };
  v2: {
    bytes: number;
    chunks: number;
    /** Bytes of v2 in chunks whose digest v1 already has. */
    presentBytes: number;
    presentChunks: number;
    presentPercent: number;
    /** What a store holding v1 still has to receive for v2. */
    newBytes: number;
    newChunks: number;
  };
  /** Distinct objects a store holds after v1 and v2. */
  storeObjects: number;
}

async function chunkFile(path: string, preset: SizePreset, buffer: Buffer, each: (chunk: Chunk) => void): Promise<void> {
  async function* source(): AsyncGenerator<Uint8Array> {
    for (const piece of readPieces(path, buffer)) yield piece.bytes;
  }
  for await (const chunks of chunkStream(source(), { preset, hash: 'sha256' })) for (const chunk of chunks) each(chunk);
}

/** Chunks every v1 NAR, then every v2 NAR against it, with one preset (SHA-256 digests). */
export async function measureDedup(
  preset: SizePreset,
  pairs: readonly { v1: string; v2: string }[],
  buffer: Buffer,
  onBytes: (bytes: number) => void,
): Promise<PresetDedup> {
  const store = new ChunkLedger();
  for (const { v1 } of pairs) await chunkFile(v1, preset, buffer, (chunk) => (store.add(chunk), onBytes(chunk.length)));
  const reuse = new ReuseTally(store);
  const added = new ChunkLedger();
  for (const { v2 } of pairs) {
    await chunkFile(v2, preset, buffer, (chunk) => {
      reuse.add(chunk);
      if (!store.has(chunk)) added.add(chunk);
      onBytes(chunk.length);
    });
  }
  return {
    preset,
    sizes: { ...SIZE_PRESETS[preset] },
    v1: {
      bytes: store.bytes,
      chunks: store.chunks,
      uniqueChunks: store.uniqueChunks,
      uniqueBytes: store.uniqueBytes,
      meanChunkBytes: store.chunks > 0 ? store.bytes / store.chunks : 0,
    },
    v2: {
      bytes: reuse.bytes,
      chunks: reuse.chunks,
      presentBytes: reuse.presentBytes,
      presentChunks: reuse.presentChunks,
      presentPercent: reuse.bytes > 0 ? (reuse.presentBytes / reuse.bytes) * 100 : 0,
      newBytes: added.uniqueBytes,
      newChunks: added.uniqueChunks,
    },
    storeObjects: store.uniqueChunks + added.uniqueChunks,
  };
}
