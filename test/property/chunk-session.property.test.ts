import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  chunkBatch,
  chunkBuffer,
  feed,
  finish,
  openSession,
  resume,
  type Chunk,
} from '../../port/engine/chunk-session.js';
import type { ChunkingOptions } from '../../port/engine/chunking-options.js';
import { seededBytes, structuredBytes } from '../support/random-bytes.js';

const strip = (chunks: Chunk[]) =>
  chunks.map(({ offset, length, gear, hash }) => ({ offset, length, gear, hash: hash && Buffer.from(hash).toString('hex') }));

/** Feeds `data` cut at `cuts`, resuming with `budget` whenever a call stops early. */
function chunkSliced(data: Uint8Array, cuts: number[], options: ChunkingOptions, budget: number): Chunk[] {
  const bounds = [...new Set([0, ...cuts.map((cut) => cut % (data.length + 1)), data.length])].sort((a, b) => a - b);
  let state = openSession(options);
  const chunks: Chunk[] = [];
  for (let i = 1; i < bounds.length; i++) {
    let step = feed(state, data.subarray(bounds[i - 1], bounds[i]), budget);
    chunks.push(...step.chunks);
    while (step.more) {
      step = resume(step.state, budget);
      chunks.push(...step.chunks);
    }
    state = step.state;
  }
  let step = finish(state, budget);
  chunks.push(...step.chunks);
  while (step.more) {
    step = finish(step.state, budget);
    chunks.push(...step.chunks);
  }
  expect(step.state.finished).toBe(true);
  return chunks;
}

const sizesArb = fc
  .record({
    minSize: fc.integer({ min: 64, max: 2048 }),
    avgExtra: fc.integer({ min: 0, max: 4096 }),
    maxExtra: fc.integer({ min: 0, max: 8192 }),
    normalization: fc.integer({ min: 0, max: 3 }),
    seed: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    hash: fc.constantFrom('sha256' as const, 'blake3' as const, 'none' as const),
  })
  .map(({ minSize, avgExtra, maxExtra, normalization, seed, hash }) => {
    const avgSize = Math.max(256, minSize + avgExtra);
    const maxSize = Math.max(1024, avgSize + maxExtra);
    return { minSize, avgSize, maxSize, normalization, seed, hash };
  });

const dataArb = fc
  .tuple(fc.integer({ min: 0, max: 120_000 }), fc.integer({ min: 1, max: 1_000_000 }), fc.boolean())
  .map(([length, seed, structured]) => (structured ? structuredBytes(length, seed) : seededBytes(length, seed)));

describe('chunking sessions', () => {
  it('any slicing and any budget give exactly the one-shot chunks', () => {
    fc.assert(
      fc.property(
        dataArb,
        sizesArb,
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.integer({ min: 1, max: 50_000 }),
        (data, options, cuts, budget) => {
          const oneShot = chunkBuffer(data, options);
          expect(strip(chunkSliced(data, cuts, options, budget))).toEqual(strip(oneShot));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('chunks are contiguous, non-empty, cover every byte and respect the bounds', () => {
    fc.assert(
      fc.property(dataArb, sizesArb, (data, options) => {
        const chunks = chunkBuffer(data, options);
        let expectedOffset = 0;
        chunks.forEach((chunk, index) => {
          expect(chunk.offset).toBe(expectedOffset);
          expect(chunk.length).toBeGreaterThan(0);
          expect(chunk.length).toBeLessThanOrEqual(options.maxSize);
          if (index < chunks.length - 1) {
            // The scan starts at an even offset, so an odd min_size allows one byte less.
            expect(chunk.length).toBeGreaterThanOrEqual(options.minSize - (options.minSize % 2));
          }
          expectedOffset += chunk.length;
        });
        expect(expectedOffset).toBe(data.length);
        expect(chunks.length === 0).toBe(data.length === 0);
      }),
      { numRuns: 150 },
    );
  });

  it('the same input always gives the same chunks, and a batch equals one-shot calls', () => {
    fc.assert(
      fc.property(fc.array(dataArb, { maxLength: 5 }), sizesArb, (buffers, options) => {
        const batch = chunkBatch(buffers, options);
        buffers.forEach((data, index) => {
          const first = strip(chunkBuffer(data, options));
          expect(strip(chunkBuffer(data, options))).toEqual(first);
          expect(strip(batch[index]!)).toEqual(first);
        });
      }),
      { numRuns: 60 },
    );
  });

  it('a session holds less than max_size bytes between feeds', () => {
    fc.assert(
      fc.property(dataArb, sizesArb, fc.integer({ min: 1, max: 40_000 }), (data, options, piece) => {
        let state = openSession(options);
        for (let at = 0; at < data.length; at += piece) {
          const step = feed(state, data.subarray(at, at + piece), Number.MAX_SAFE_INTEGER);
          expect(step.more).toBe(false);
          expect(step.state.tail.length).toBeLessThan(options.maxSize);
          expect(step.state.input).toBeNull();
          state = step.state;
        }
      }),
      { numRuns: 80 },
    );
  });
});
