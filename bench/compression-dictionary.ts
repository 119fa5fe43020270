/**
 * Part of the compression section: what a zstd dictionary does for small chunks (≤ 64 KiB).
 * A dictionary is trained (the engine's trainDictionary, ZDICT's default 110 KiB) on the
 * chunks of one spread sample of the corpus; the chunks of another sample, whose slices
 * lie between the first one's so no byte is shared, are then compressed one by one at
 * zstd level 3 with and without it, as a compressing session would. Reported per chunk
 * size: total compressed / original bytes each way, and MB/s (inline, one core).
 *
 * The same once per corpus tree (one NAR: binaries, headers, locales, ...), with a
 * dictionary of its own trained on that tree alone: a store could keep one dictionary per
 * kind of content, and this shows where that pays. Ratios only, one pass.
 */
import { basename } from 'node:path';
import { chunkBuffer } from '../port/engine/chunk-session.js';
import type { ChunkingOptions } from '../port/engine/chunking-options.js';
import { compressSync, trainDictionary, type CompressionDictionary } from '../port/engine/compression.js';
import { spreadSample } from './corpus-sample.js';
import { collectGarbage, megabytesPerSecond, nowSeconds } from './timing.js';
import { MIB } from './units.js';

export const DICTIONARY_LEVEL = 3;
/** Bytes of the training sample and of the test sample (ZDICT wants ~100× the dictionary). */
export const TRAIN_BYTES = { full: 16 * MIB, quick: 8 * MIB };
export const TEST_BYTES = { full: 32 * MIB, quick: 8 * MIB };
/** The same, per corpus tree. */
export const TREE_TRAIN_BYTES = { full: 8 * MIB, quick: 4 * MIB };
export const TREE_TEST_BYTES = { full: 4 * MIB, quick: 2 * MIB };

/** Chunk sizes tested: the small preset (every chunk ≤ 64 KiB) and smaller still. */
const TEST_SIZES: ReadonlyArray<{ name: string; options: ChunkingOptions }> = [
  { name: 'small preset (4/16/64 KiB)', options: { preset: 'small', hash: 'none' } },
  { name: '1/4/16 KiB', options: { minSize: 1024, avgSize: 4096, maxSize: 16384, hash: 'none' } },
];

export interface DictionaryRow {
  name: string;
  chunks: number;
  bytes: number;
  meanChunkBytes: number;
  plainRatio: number;
  dictionaryRatio: number;
  plainMegabytesPerSecond: number;
  dictionaryMegabytesPerSecond: number;
}

export interface TreeDictionaryRow {
  /** The tree's NAR file name. */
  tree: string;
  trainBytes: number;
  testBytes: number;
  /** Per TEST_SIZES entry: compressed / original without and with the tree's dictionary. */
  sizes: Array<{ name: string; plainRatio: number; dictionaryRatio: number }>;
  /** Why the tree has no figures (training failed: too little data). */
  error: string | null;
}

export interface DictionaryFigures {
  trainBytes: number;
  trainSamples: number;
  trainSeconds: number;
  dictionaryBytes: number;
  dictionaryId: number;
  testBytes: number;
  rows: DictionaryRow[];
  perTree: TreeDictionaryRow[];
}

function cut(data: Buffer, options: ChunkingOptions): Buffer[] {
  return chunkBuffer(data, options).map((chunk) => data.subarray(chunk.offset, chunk.offset + chunk.length));
}

/** Compresses each chunk on its own; best of `passes` seconds and the compressed total. */
function compressEach(chunks: readonly Buffer[], passes: number, dictionary?: CompressionDictionary): { seconds: number; compressedBytes: number } {
  let best = Infinity;
  let compressedBytes = 0;
  for (let pass = 0; pass < passes; pass++) {
    collectGarbage();
    compressedBytes = 0;
    const started = nowSeconds();
    for (const chunk of chunks) compressedBytes += compressSync(chunk, { codec: 'zstd', level: DICTIONARY_LEVEL, dictionary }).length;
    best = Math.min(best, nowSeconds() - started);
  }
  return { seconds: best, compressedBytes };
}

export async function measureDictionary(files: readonly string[], quick: boolean, passes: number): Promise<DictionaryFigures> {
  const train = spreadSample(files, quick ? TRAIN_BYTES.quick : TRAIN_BYTES.full, 0);
  const samples = cut(train, TEST_SIZES[0]!.options);
  const started = nowSeconds();
  const dictionary = await trainDictionary(samples);
  const trainSeconds = nowSeconds() - started;

  const test = spreadSample(files, quick ? TEST_BYTES.quick : TEST_BYTES.full, 0.5);
  const rows = TEST_SIZES.map(({ name, options }): DictionaryRow => {
    const chunks = cut(test, options);
    const plain = compressEach(chunks, passes);
    const withDictionary = compressEach(chunks, passes, dictionary);
    return {
      name,
      chunks: chunks.length,
      bytes: test.length,
      meanChunkBytes: test.length / Math.max(1, chunks.length),
      plainRatio: plain.compressedBytes / test.length,
      dictionaryRatio: withDictionary.compressedBytes / test.length,
      plainMegabytesPerSecond: megabytesPerSecond(test.length, plain.seconds),
      dictionaryMegabytesPerSecond: megabytesPerSecond(test.length, withDictionary.seconds),
    };
  });
  const perTree: TreeDictionaryRow[] = [];
  for (const file of files) perTree.push(await measureTree(file, quick));
  return {
    perTree,
    trainBytes: train.length,
    trainSamples: samples.length,
    trainSeconds,
    dictionaryBytes: dictionary.bytes.length,
    dictionaryId: dictionary.id,
    testBytes: test.length,
    rows,
  };
}

/** One tree with a dictionary of its own (ratios only, one pass). */
async function measureTree(file: string, quick: boolean): Promise<TreeDictionaryRow> {
  collectGarbage();
  const train = spreadSample([file], quick ? TREE_TRAIN_BYTES.quick : TREE_TRAIN_BYTES.full, 0);
  const test = spreadSample([file], quick ? TREE_TEST_BYTES.quick : TREE_TEST_BYTES.full, 0.5);
  const row: TreeDictionaryRow = { tree: basename(file), trainBytes: train.length, testBytes: test.length, sizes: [], error: null };
  let dictionary: CompressionDictionary;
  try {
    dictionary = await trainDictionary(cut(train, TEST_SIZES[0]!.options));
  } catch (error) {
    return { ...row, error: (error as Error).message };
  }
  for (const { name, options } of TEST_SIZES) {
    const chunks = cut(test, options);
    row.sizes.push({
      name,
      plainRatio: compressEach(chunks, 1).compressedBytes / test.length,
      dictionaryRatio: compressEach(chunks, 1, dictionary).compressedBytes / test.length,
    });
  }
  return row;
}
