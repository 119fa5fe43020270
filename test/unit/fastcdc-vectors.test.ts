import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { native } from '../../port/native.js';
import { chunkBuffer, feed, finish, openSession, type Chunk } from '../../port/engine/chunk-session.js';
import { loadFixture, loadVectorCases } from '../support/fastcdc-vectors.js';
import { referenceChunks, referenceGearTable } from '../support/fastcdc-reference.js';
import { seededBytes, structuredBytes } from '../support/random-bytes.js';

const strip = (chunks: Chunk[]) => chunks.map(({ offset, length, gear }) => ({ offset, length, gear }));

describe('gear table', () => {
  it('is the MD5-derived table, computed independently with node:crypto', () => {
    expect(Array.from(native.gearTable())).toEqual(referenceGearTable().gear);
  });

  it('is XORed with a seed', () => {
    const seed = 0x0123456789abcdefn;
    expect(Array.from(native.gearTable(seed))).toEqual(referenceGearTable(seed).gear);
  });
});

describe('published vectors', () => {
  for (const vector of loadVectorCases()) {
    const options = {
      minSize: vector.minSize,
      avgSize: vector.avgSize,
      maxSize: vector.maxSize,
      normalization: vector.normalization,
    };

    it(`${vector.name}: native one-shot chunks match`, () => {
      expect(strip(chunkBuffer(vector.input, options))).toEqual(vector.chunks);
    });

    it(`${vector.name}: the reference implementation matches too`, () => {
      const { minSize, avgSize, maxSize, normalization } = vector;
      expect(referenceChunks(vector.input, minSize, avgSize, maxSize, normalization)).toEqual(vector.chunks);
    });

    it(`${vector.name}: feeding 1000-byte slices gives the same chunks`, () => {
      let state = openSession(options);
      const chunks: Chunk[] = [];
      for (let at = 0; at < vector.input.length; at += 1000) {
        const step = feed(state, vector.input.subarray(at, at + 1000));
        chunks.push(...step.chunks);
        state = step.state;
      }
      chunks.push(...finish(state).chunks);
      expect(strip(chunks)).toEqual(vector.chunks);
    });
  }
});

describe('native against the reference on derived cases', () => {
  const fixture = loadFixture();
  const inputs: Array<[string, Uint8Array]> = [
    ['fixture', fixture],
    ['random', seededBytes(300_000, 7)],
    ['structured', structuredBytes(300_000, 11)],
  ];
  const sizes: Array<[number, number, number]> = [
    [64, 256, 1024],
    [1000, 4000, 12_000],
    [4096, 16_384, 65_535],
    [8192, 32_768, 131_072],
  ];
  for (const [inputName, input] of inputs) {
    for (const [minSize, avgSize, maxSize] of sizes) {
      for (const normalization of [0, 1, 2, 3]) {
        for (const seed of [0n, 0xdeadbeefcafef00dn]) {
          it(`${inputName} ${minSize}/${avgSize}/${maxSize} level ${normalization} seed ${seed}`, () => {
            const expected = referenceChunks(input, minSize, avgSize, maxSize, normalization, seed);
            const actual = strip(chunkBuffer(input, { minSize, avgSize, maxSize, normalization, seed, hash: 'none' }));
            expect(actual).toEqual(expected);
          });
        }
      }
    }
  }
});

describe('chunk digests', () => {
  const input = loadFixture();
  it('SHA-256 of every chunk equals node:crypto over the same bytes', () => {
    const chunks = chunkBuffer(input, { preset: 'small', hash: 'sha256' });
    expect(chunks.length).toBeGreaterThan(3);
    for (const chunk of chunks) {
      const expected = createHash('sha256').update(input.subarray(chunk.offset, chunk.offset + chunk.length)).digest();
      expect(Buffer.from(chunk.hash!).equals(expected)).toBe(true);
    }
  });

  it('hashing off gives null digests and the same cut points', () => {
    const withHash = chunkBuffer(input, { preset: 'small' });
    const without = chunkBuffer(input, { preset: 'small', hash: 'none' });
    expect(without.every((chunk) => chunk.hash === null)).toBe(true);
    expect(strip(without)).toEqual(strip(withHash));
  });

  it('multi-threaded hashing of a large buffer equals per-chunk node:crypto digests', () => {
    const big = structuredBytes(6 * 1024 * 1024, 3);
    const chunks = chunkBuffer(big, { preset: 'small', hash: 'sha256' });
    expect(native.info().hashHelperThreads).toBeGreaterThanOrEqual(0);
    for (const chunk of chunks) {
      const expected = createHash('sha256').update(big.subarray(chunk.offset, chunk.offset + chunk.length)).digest();
      expect(Buffer.from(chunk.hash!).toString('hex')).toBe(expected.toString('hex'));
    }
  });
});
