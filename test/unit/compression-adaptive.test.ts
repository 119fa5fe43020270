/**
 * Adaptive per-chunk compression: chunks that do not pay (already compressed, random, or
 * shrinking by less than maxRatio) are stored as they are, and each stored chunk names
 * the codec of its payload.
 */
import { describe, expect, it } from 'vitest';
import { chunkBuffer } from '../../port/engine/chunk-session.js';
import {
  INCOMPRESSIBLE_ENTROPY_BITS,
  compressChunkAdaptive,
  compressSync,
  restoreChunk,
  sampleEntropyBits,
  trainDictionary,
} from '../../port/engine/compression.js';
import { ChunkerError } from '../../port/errors.js';
import { dictionarySamples } from '../support/compression.js';
import { chunkerErrorOf } from '../support/chunker-error.js';
import { seededBytes } from '../support/random-bytes.js';

const text = Buffer.concat(dictionarySamples(40, 3));
const random = seededBytes(text.length, 4);

describe('sampleEntropyBits', () => {
  it('is 0 for one repeated byte, near 8 for random bytes, in between for text', () => {
    expect(sampleEntropyBits(new Uint8Array(100_000))).toBe(0);
    expect(sampleEntropyBits(seededBytes(1_000_000, 1))).toBeGreaterThan(INCOMPRESSIBLE_ENTROPY_BITS);
    expect(sampleEntropyBits(random.subarray(0, 3000))).toBeGreaterThan(7.5);
    const bits = sampleEntropyBits(text);
    expect(bits).toBeGreaterThan(3);
    expect(bits).toBeLessThan(6);
    expect(sampleEntropyBits(new Uint8Array(0))).toBe(0);
  });
});

describe('compressChunkAdaptive', () => {
  it('compresses text, stores random and already-compressed chunks as they are', () => {
    const packed = compressChunkAdaptive(text);
    expect(packed.codec).toBe('zstd');
    expect(packed.payload.length).toBeLessThan(text.length / 2);
    expect(Buffer.from(restoreChunk(packed, text.length)).equals(text)).toBe(true);

    for (const incompressible of [random, compressSync(seededBytes(200_000, 9).map((byte) => byte & 0x0f), { codec: 'xz' })]) {
      const stored = compressChunkAdaptive(incompressible);
      expect(stored.codec).toBe('none');
      expect(stored.payload).toBe(incompressible);
      expect(restoreChunk(stored, incompressible.length)).toBe(incompressible);
    }
  });

  it('keeps the compressed form only below maxRatio', () => {
    const ratio = compressSync(text).length / text.length;
    expect(compressChunkAdaptive(text, { maxRatio: ratio * 1.01 }).codec).toBe('zstd');
    expect(compressChunkAdaptive(text, { maxRatio: ratio * 0.99 }).codec).toBe('none');
  });

  it('records the codec per chunk over a chunked stream of mixed content, and every chunk comes back', () => {
    const stream = Buffer.concat([text, random, text, random.subarray(0, 50_000), text]);
    const chunks = chunkBuffer(stream, { preset: 'small', hash: 'none' });
    const stored = chunks.map((chunk) => compressChunkAdaptive(stream.subarray(chunk.offset, chunk.offset + chunk.length), { codec: 'lz4' }));
    expect(new Set(stored.map((chunk) => chunk.codec))).toEqual(new Set(['lz4', 'none']));
    const back = Buffer.concat(stored.map((chunk, i) => restoreChunk(chunk, chunks[i]!.length)));
    expect(back.equals(stream)).toBe(true);
    const storedBytes = stored.reduce((sum, chunk) => sum + chunk.payload.length, 0);
    expect(storedBytes).toBeLessThan(stream.length);
  });

  it('uses a dictionary for zstd', async () => {
    const dictionary = await trainDictionary(dictionarySamples(400, 8), { maxBytes: 4096 });
    const chunk = dictionarySamples(1, 77)[0]!;
    const stored = compressChunkAdaptive(chunk, { dictionary });
    expect(stored.codec).toBe('zstd');
    expect(Buffer.from(restoreChunk(stored, chunk.length, dictionary)).equals(Buffer.from(chunk))).toBe(true);
    expect(chunkerErrorOf(() => restoreChunk(stored, chunk.length)).code).toBe('dictionary_required');
  });

  it('checks its options and what it restores', () => {
    for (const maxRatio of [0, -1, 1.5, Number.NaN]) {
      const error = chunkerErrorOf(() => compressChunkAdaptive(text, { maxRatio }));
      expect(error).toBeInstanceOf(ChunkerError);
      expect(error.code).toBe('invalid_argument');
    }
    expect(compressChunkAdaptive(text, { codec: 'none' }).codec).toBe('none');
    const stored = compressChunkAdaptive(text);
    expect(chunkerErrorOf(() => restoreChunk(stored, text.length - 1)).code).toBe('size_exceeded');
    expect(chunkerErrorOf(() => restoreChunk(stored, text.length + 1)).code).toBe('truncated_input');
    expect(chunkerErrorOf(() => restoreChunk({ codec: 'none', payload: text }, 5)).code).toBe('corrupt_input');
  });
});
