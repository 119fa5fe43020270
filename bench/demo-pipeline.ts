/**
 * The demo's job, end to end, without the printing: NARs of some trees ("version 1") go
 * into a chunk store through ingestNar (chunk, compress, upload what is missing, index),
 * then the same trees with a few files edited ("version 2") into the same store, and one
 * version 2 NAR is rebuilt from the store and compared with the original. `npm run demo`
 * (demo.ts) runs it on real system trees; the integration test on a small fixture tree.
 */
import type { Chunk } from '../port/engine/chunk-session.js';
import type { SizePreset } from '../port/engine/chunking-options.js';
import { narStream, type NarWriteOptions } from '../port/engine/nar-writer.js';
import type { StoreBackend } from '../port/store/backend.js';
import { openStore, type StoreOpenOptions } from '../port/store/open-store.js';
import { composeUploadStore, type UploadStore } from '../port/transfer/upload-store.js';
import { ingestNar, type NarIngestResult } from './nar-ingest.js';
import { restoreNar } from './nar-restore.js';
import { measureStoreUsage, type StoreUsage } from './store-usage.js';
import { emptyVariantStats, variantTransform, type VariantSpec, type VariantStats } from './variant.js';
import { MIB } from './units.js';

/** The demo chunks with the engine's default preset. */
export const DEMO_PRESET: SizePreset = 'default';
/** Size of the pieces the NAR writer yields into the chunker. */
const NAR_PIECE_BYTES = 1 * MIB;

export type DemoVersionNumber = 1 | 2;

export interface DemoPipelineOptions {
  /** Directories to archive, one NAR each. */
  readonly trees: readonly string[];
  /** How version 2 differs from version 1. */
  readonly variant: VariantSpec;
  /** Any store URL openStore accepts (file:///…, sftp://…, s3://…, http://…). */
  readonly storeUrl: string;
  readonly storeOptions?: StoreOpenOptions;
  /** Scratch directory for staged chunks (must exist; left empty). */
  readonly stagingDir: string;
  /** Sees every chunk of every NAR, in order (for statistics). */
  readonly onChunk?: (version: DemoVersionNumber, chunk: Chunk) => void;
  /** NAR bytes produced so far, for a progress display. */
  readonly onNarBytes?: (bytes: number) => void;
  /** Says what is happening now ("version 1: /usr/share/doc", …). */
  readonly onStep?: (label: string) => void;
  readonly signal?: AbortSignal;
}

export interface DemoNar {
  readonly tree: string;
  readonly ingest: NarIngestResult;
}

/** One version's NARs, summed. Objects are counted per NAR ingest (see NarIngestResult). */
export interface VersionTotals {
  readonly narBytes: number;
  readonly chunks: number;
  readonly distinctChunks: number;
  readonly distinctBytes: number;
  readonly storedBytes: number;
  readonly compressedChunks: number;
  readonly objectsUploaded: number;
  readonly bytesUploaded: number;
  readonly objectsSkipped: number;
  readonly bytesSkipped: number;
  readonly indexesUploaded: number;
  readonly indexBytesUploaded: number;
  /** Wall time of the whole version: archiving, chunking, compressing, uploading. */
  readonly seconds: number;
}

export interface DemoVersion {
  readonly nars: readonly DemoNar[];
  readonly totals: VersionTotals;
}

export interface DemoRestore {
  readonly tree: string;
  readonly narSha256: string;
  readonly narBytes: number;
  readonly chunks: number;
  /** SHA-256 and size of the restored bytes equal the original NAR's. */
  readonly identical: boolean;
  /** Why the restore failed, when it did. */
  readonly error: string | null;
}

export interface DemoPipelineResult {
  readonly location: string;
  readonly v1: DemoVersion;
  readonly v2: DemoVersion;
  readonly edits: VariantStats;
  readonly restore: DemoRestore;
  readonly usage: StoreUsage;
}

function sumTotals(nars: readonly DemoNar[], seconds: number): VersionTotals {
  const sum = (pick: (ingest: NarIngestResult) => number): number => nars.reduce((total, nar) => total + pick(nar.ingest), 0);
  return {
    narBytes: sum((i) => i.narBytes),
    chunks: sum((i) => i.chunks),
    distinctChunks: sum((i) => i.distinctChunks),
    distinctBytes: sum((i) => i.distinctBytes),
    storedBytes: sum((i) => i.storedBytes),
    compressedChunks: sum((i) => i.compressedChunks),
    objectsUploaded: sum((i) => i.chunkUpload.objectsUploaded),
    bytesUploaded: sum((i) => i.chunkUpload.bytesUploaded),
    objectsSkipped: sum((i) => i.chunkUpload.objectsSkipped),
    bytesSkipped: sum((i) => i.chunkUpload.bytesSkipped),
    indexesUploaded: sum((i) => i.indexUpload.objectsUploaded),
    indexBytesUploaded: sum((i) => i.indexUpload.bytesUploaded),
    seconds,
  };
}

async function ingestVersion(
  version: DemoVersionNumber,
  target: UploadStore,
  options: DemoPipelineOptions,
  narOptions: (tree: string) => NarWriteOptions,
): Promise<DemoVersion> {
  const startedAt = performance.now();
  const nars: DemoNar[] = [];
  for (const tree of options.trees) {
    options.onStep?.(`version ${version}: ${tree}`);
    async function* pieces(): AsyncGenerator<Uint8Array> {
      for await (const piece of narStream(tree, { ...narOptions(tree), pieceBytes: NAR_PIECE_BYTES })) {
        options.onNarBytes?.(piece.length);
        yield piece;
      }
    }
    const ingest = await ingestNar(pieces(), target, {
      chunking: { preset: DEMO_PRESET },
      stagingDir: options.stagingDir,
      onChunk: options.onChunk === undefined ? undefined : (chunk) => options.onChunk!(version, chunk),
      onUploading: () => options.onStep?.(`version ${version}: ${tree}: uploading`),
      signal: options.signal,
    });
    nars.push({ tree, ingest });
  }
  return { nars, totals: sumTotals(nars, (performance.now() - startedAt) / 1000) };
}

/** The version 2 NAR that needed the most new chunks (so its restore mixes old and new ones). */
function pickRestoreNar(v2: DemoVersion): DemoNar {
  return v2.nars.reduce((best, nar) => {
    const [a, b] = [nar.ingest.chunkUpload.objectsUploaded, best.ingest.chunkUpload.objectsUploaded];
    return a > b || (a === b && nar.ingest.narBytes > best.ingest.narBytes) ? nar : best;
  });
}

async function restoreOne(store: StoreBackend, nar: DemoNar): Promise<DemoRestore> {
  const { narSha256, narBytes } = nar.ingest;
  try {
    const restored = await restoreNar(store, narSha256, () => {});
    return {
      tree: nar.tree,
      narSha256,
      narBytes: restored.bytes,
      chunks: restored.chunks,
      identical: restored.sha256 === narSha256 && restored.bytes === narBytes,
      error: null,
    };
  } catch (error) {
    return { tree: nar.tree, narSha256, narBytes: 0, chunks: 0, identical: false, error: error instanceof Error ? error.message : String(error) };
  }
}

/** Runs the demo's job against the store at `options.storeUrl`; see the module doc. */
export async function runDemoPipeline(options: DemoPipelineOptions): Promise<DemoPipelineResult> {
  if (options.trees.length === 0) throw new Error('the demo needs at least one tree to archive');
  const backend = await openStore(options.storeUrl, options.storeOptions);
  try {
    const target = composeUploadStore(backend);
    const v1 = await ingestVersion(1, target, options, () => ({}));
    const edits = emptyVariantStats();
    const v2 = await ingestVersion(2, target, options, (tree) => ({ transform: variantTransform(options.variant, tree, edits) }));
    const chosen = pickRestoreNar(v2);
    options.onStep?.(`restoring ${chosen.tree} (version 2) from the store`);
    const restore = await restoreOne(target.store, chosen);
    const usage = await measureStoreUsage(backend, options.storeUrl);
    return { location: backend.location, v1, v2, edits, restore, usage };
  } finally {
    await backend.close();
  }
}
