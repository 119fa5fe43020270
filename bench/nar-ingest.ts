/**
 * Puts one NAR into a chunk store (layout: chunk-store-layout.ts), the main job end to end:
 *
 * 1. **Chunk** the NAR as it streams in (FastCDC, SHA-256 per chunk).
 * 2. **Compress** each chunk the first time it appears in this NAR with
 *    compressChunkAdaptive (zstd level 3; the raw bytes when compressing saves too little),
 *    and stage the payload in a scratch file (staging-file.ts): the scheduler needs every
 *    object's size up front, and memory holds only what is being sent.
 * 3. **Upload** the chunk objects with the transfer scheduler, which skips those the store
 *    already holds at the same size (from other NARs or earlier runs) and verifies the rest.
 *    Objects go in batches of UPLOAD_BATCH_OBJECTS while chunking goes on, so the store's
 *    latency (a local store fsyncs every object) overlaps with the CPU work.
 * 4. **Index**: put `nar/<sha256>.json` only once every chunk is stored.
 *
 * Every chunk is compressed even when the store turns out to hold it: the object's name
 * depends on whether compressing paid, so the existence check can only come after it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { chunkStream } from '../port/engine/chunk-stream.js';
import type { Chunk } from '../port/engine/chunk-session.js';
import { resolveChunkingOptions, type ChunkingOptions } from '../port/engine/chunking-options.js';
import { compressChunkAdaptive, type AdaptiveOptions } from '../port/engine/compression.js';
import { bytesSource } from '../port/store/object-source.js';
import type { UploadProgress } from '../port/transfer/progress.js';
import { uploadObjects, type UploadObject, type UploadSummary } from '../port/transfer/upload.js';
import type { UploadStore } from '../port/transfer/upload-store.js';
import { chunkObjectName, encodeNarIndex, indexChunking, narIndexName, NAR_INDEX_FORMAT, type IndexedChunk } from './chunk-store-layout.js';
import { StagingFile } from './staging-file.js';

/**
 * Chunk objects per scheduler run. Large enough that a run keeps every transfer slot busy
 * and its existence check is cheap; small enough that the first uploads start after a few
 * MiB of NAR rather than at its end.
 */
export const UPLOAD_BATCH_OBJECTS = 256;
/** Batches uploading at once; chunking waits for the oldest beyond this (bounds the backlog). */
const MAX_BATCHES_IN_FLIGHT = 2;

/** Chunks are compressed like this unless the caller says otherwise (the engine's defaults). */
export const DEFAULT_CHUNK_COMPRESSION: AdaptiveOptions = { codec: 'zstd', level: 3 };

export interface IngestOptions {
  /** Cut parameters; the digest is always SHA-256 (chunk names are SHA-256). */
  readonly chunking?: Omit<ChunkingOptions, 'hash'>;
  readonly compression?: AdaptiveOptions;
  /** Directory for the staging file (removed again before ingestNar returns). */
  readonly stagingDir: string;
  /** Sees every chunk in NAR order, repeats included (for statistics). */
  readonly onChunk?: (chunk: Chunk) => void;
  /** Called once chunking is done, while the last batches upload. */
  readonly onUploading?: () => void;
  /** Progress of each batch's scheduler run. */
  readonly onUploadProgress?: (progress: UploadProgress) => void;
  readonly signal?: AbortSignal;
}

export interface NarIngestResult {
  readonly narSha256: string;
  readonly narBytes: number;
  readonly indexName: string;
  readonly indexBytes: number;
  /** Chunks in the NAR, repeats included. */
  readonly chunks: number;
  /** Chunks with a digest new to this NAR: the objects offered to the store. */
  readonly distinctChunks: number;
  readonly distinctBytes: number;
  /** Payload bytes of the distinct chunks as stored (compressed or not). */
  readonly storedBytes: number;
  /** Distinct chunks stored compressed (the others are kept as they are). */
  readonly compressedChunks: number;
  /** The batches' scheduler summaries added up; elapsedMs is the wall time from the first to the last. */
  readonly chunkUpload: UploadSummary;
  readonly indexUpload: UploadSummary;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Adds up the summaries of runs over disjoint object sets that overlapped in time over `elapsedMs`. */
export function addSummaries(summaries: readonly UploadSummary[], elapsedMs: number): UploadSummary {
  const sum = (pick: (summary: UploadSummary) => number): number => summaries.reduce((total, summary) => total + pick(summary), 0);
  const bytesUploaded = sum((s) => s.bytesUploaded);
  return {
    objectsTotal: sum((s) => s.objectsTotal),
    bytesTotal: sum((s) => s.bytesTotal),
    objectsUploaded: sum((s) => s.objectsUploaded),
    bytesUploaded,
    objectsSkipped: sum((s) => s.objectsSkipped),
    bytesSkipped: sum((s) => s.bytesSkipped),
    objectsResumed: sum((s) => s.objectsResumed),
    bytesPerSecond: elapsedMs > 0 ? (bytesUploaded * 1000) / elapsedMs : 0,
    elapsedMs,
    planned: [],
    dryRun: false,
  };
}

/** Ingests the NAR whose bytes `nar` yields into `target`; see the module doc. */
export async function ingestNar(nar: AsyncIterable<Uint8Array>, target: UploadStore, options: IngestOptions): Promise<NarIngestResult> {
  const chunking = resolveChunkingOptions({ ...options.chunking, hash: 'sha256' });
  const compression = options.compression ?? DEFAULT_CHUNK_COMPRESSION;
  const staging = await StagingFile.create(join(options.stagingDir, `nar-ingest-${randomBytes(6).toString('hex')}.stage`));
  const batches: Promise<UploadSummary>[] = [];
  let firstBatchAt: number | null = null;
  try {
    const narHash = createHash('sha256');
    let narBytes = 0;
    async function* hashed(): AsyncGenerator<Uint8Array> {
      for await (const piece of nar) {
        narHash.update(piece);
        narBytes += piece.length;
        yield piece;
      }
    }

    let batch: UploadObject[] = [];
    const sendBatch = async (): Promise<void> => {
      if (batch.length === 0) return;
      // Waiting for the oldest batch also surfaces its failure before more work is done.
      if (batches.length >= MAX_BATCHES_IN_FLIGHT) await batches[batches.length - MAX_BATCHES_IN_FLIGHT];
      firstBatchAt ??= performance.now();
      const run = uploadObjects(target.store, batch, { limit: target.limit, onProgress: options.onUploadProgress, signal: options.signal });
      run.catch(() => {}); // awaited below; marked handled so an early failure is not reported twice
      batches.push(run);
      batch = [];
    };

    const listed: IndexedChunk[] = [];
    const codecs = new Map<string, IndexedChunk['codec']>();
    let distinctBytes = 0;
    let compressedChunks = 0;
    for await (const chunks of chunkStream(hashed(), chunking, { withBytes: true })) {
      for (const chunk of chunks) {
        options.onChunk?.(chunk);
        const sha256 = hex(chunk.hash!);
        let codec = codecs.get(sha256);
        if (codec === undefined) {
          const stored = compressChunkAdaptive(chunk.bytes!, compression);
          codec = stored.codec;
          codecs.set(sha256, codec);
          const range = staging.append(stored.payload);
          batch.push({ name: chunkObjectName(sha256, codec), size: range.size, source: staging.source(range) });
          distinctBytes += chunk.length;
          if (codec !== 'none') compressedChunks++;
        }
        listed.push({ sha256, length: chunk.length, codec });
      }
      if (batch.length >= UPLOAD_BATCH_OBJECTS) await sendBatch();
    }
    await sendBatch();
    options.onUploading?.();
    const chunkUpload = addSummaries(await Promise.all(batches), firstBatchAt === null ? 0 : performance.now() - firstBatchAt);

    const narSha256 = narHash.digest('hex');
    const indexName = narIndexName(narSha256);
    const index = encodeNarIndex({ format: NAR_INDEX_FORMAT, narSha256, narSize: narBytes, chunking: indexChunking(chunking), chunks: listed });
    const indexUpload = await uploadObjects(target.store, [{ name: indexName, size: index.length, source: bytesSource(index) }], {
      limit: target.limit,
      signal: options.signal,
    });
    return {
      narSha256,
      narBytes,
      indexName,
      indexBytes: index.length,
      chunks: listed.length,
      distinctChunks: codecs.size,
      distinctBytes,
      storedBytes: staging.size,
      compressedChunks,
      chunkUpload,
      indexUpload,
    };
  } finally {
    // Batches still running read from the staging file: let them end before removing it.
    await Promise.allSettled(batches);
    await staging.dispose();
  }
}
