/** The demo chunk store's object names and NAR index format (bench/chunk-store-layout.ts). */
import { describe, expect, it } from 'vitest';
import { resolveChunkingOptions } from '../../port/engine/chunking-options.js';
import {
  chunkObjectName,
  encodeNarIndex,
  indexChunking,
  narIndexName,
  NAR_INDEX_FORMAT,
  parseNarIndex,
  type NarIndex,
} from '../../bench/chunk-store-layout.js';
import { chunkerErrorOf } from '../support/chunker-error.js';

const A = 'ab'.repeat(32);
const B = '0f'.repeat(32);

const INDEX: NarIndex = {
  format: NAR_INDEX_FORMAT,
  narSha256: 'cd'.repeat(32),
  narSize: 300,
  chunking: indexChunking(resolveChunkingOptions({ preset: 'default', seed: 2n ** 64n - 1n })),
  chunks: [
    { sha256: A, length: 100, codec: 'zstd' },
    { sha256: B, length: 100, codec: 'none' },
    { sha256: A, length: 100, codec: 'zstd' },
  ],
};

function reencoded(change: (index: Record<string, unknown>) => void): Uint8Array {
  const value = JSON.parse(Buffer.from(encodeNarIndex(INDEX)).toString('utf8')) as Record<string, unknown>;
  change(value);
  return Buffer.from(JSON.stringify(value));
}

describe('chunk store layout', () => {
  it('names chunks by digest under a two-hex fan-out, with the codec as suffix', () => {
    expect(chunkObjectName(A, 'none')).toBe(`chunks/ab/${A}`);
    expect(chunkObjectName(A, 'zstd')).toBe(`chunks/ab/${A}.zst`);
    expect(chunkObjectName(B, 'bzip2')).toBe(`chunks/0f/${B}.bz2`);
    expect(narIndexName(B)).toBe(`nar/${B}.json`);
    for (const bad of ['AB'.repeat(32), 'ab'.repeat(31), `${'ab'.repeat(31)}zz`, '../x']) {
      expect(chunkerErrorOf(() => chunkObjectName(bad, 'none')).code).toBe('invalid_argument');
      expect(chunkerErrorOf(() => narIndexName(bad)).code).toBe('invalid_argument');
    }
  });

  it('round-trips an index, one chunk per line, the seed as a decimal string', () => {
    const bytes = encodeNarIndex(INDEX);
    const text = Buffer.from(bytes).toString('utf8');
    expect(text.split('\n').filter((line) => line.startsWith('{"sha256"'))).toHaveLength(3);
    expect(parseNarIndex(bytes, 'nar/x.json')).toEqual(INDEX);
    expect(INDEX.chunking).toMatchObject({ minSize: 16_384, avgSize: 65_536, maxSize: 262_144, normalization: 1, seed: '18446744073709551615' });
  });

  it('rejects damaged indexes with corrupt_input, naming the object', () => {
    const cases: Uint8Array[] = [
      Buffer.from('{"format":'),
      Buffer.from('[]'),
      reencoded((index) => (index.format = 'chunker-nar-index-v0')),
      reencoded((index) => (index.narSha256 = 'cd')),
      reencoded((index) => (index.narSize = -1)),
      reencoded((index) => (index.narSize = 299)),
      reencoded((index) => (index.chunks = 'none')),
      reencoded((index) => ((index.chunks as unknown[])[1] = 'x')),
      reencoded((index) => ((index.chunks as Record<string, unknown>[])[1]!.codec = 'gzip')),
      reencoded((index) => ((index.chunks as Record<string, unknown>[])[1]!.length = 0)),
      reencoded((index) => ((index.chunks as Record<string, unknown>[])[0]!.sha256 = A.toUpperCase())),
      reencoded((index) => delete index.chunking),
      reencoded((index) => ((index.chunking as Record<string, unknown>).seed = 1)),
    ];
    for (const bytes of cases) {
      const error = chunkerErrorOf(() => parseNarIndex(bytes, 'nar/damaged.json'));
      expect(error.code, Buffer.from(bytes).toString('utf8').slice(0, 80)).toBe('corrupt_input');
      expect(error.message).toMatch(/^nar\/damaged\.json is not a valid NAR index: /);
    }
  });
});
