/**
 * chunkStream over an async source: with `withBytes` every chunk carries its own bytes,
 * including chunks stitched from the tail of one source buffer and the start of the next,
 * and the cut points are those of the same stream chunked without bytes.
 */
import { describe, expect, it } from 'vitest';
import type { Chunk } from '../../port/engine/chunk-session.js';
import { chunkStream } from '../../port/engine/chunk-stream.js';
import { structuredBytes } from '../support/random-bytes.js';

const INPUT = structuredBytes(3 * 1024 * 1024 + 12_345, 7);
/** Odd piece sizes, so chunks straddle buffers; each piece is a copy that is then overwritten. */
const PIECE_SIZES = [1, 70_001, 300_000, 5_000, 1_048_576];

async function* pieces(reuse: boolean): AsyncGenerator<Uint8Array> {
  let offset = 0;
  let turn = 0;
  while (offset < INPUT.length) {
    const size = Math.min(PIECE_SIZES[turn++ % PIECE_SIZES.length]!, INPUT.length - offset);
    const piece = INPUT.slice(offset, offset + size);
    yield piece;
    // A source may reuse its buffer once pulled again: views kept past that point go stale.
    if (reuse) piece.fill(0);
    offset += size;
  }
}

describe('chunkStream', () => {
  it('gives each chunk its bytes with withBytes, valid until the next batch, at the same cut points', async () => {
    const plain: Chunk[] = [];
    for await (const chunks of chunkStream(pieces(false), { preset: 'small', hash: 'sha256' })) plain.push(...chunks);
    const withBytes: { offset: number; length: number; hash: string; matches: boolean }[] = [];
    for await (const chunks of chunkStream(pieces(true), { preset: 'small', hash: 'sha256' }, { withBytes: true })) {
      for (const chunk of chunks) {
        const expected = INPUT.subarray(chunk.offset, chunk.offset + chunk.length);
        withBytes.push({
          offset: chunk.offset,
          length: chunk.length,
          hash: Buffer.from(chunk.hash!).toString('hex'),
          matches: chunk.bytes !== undefined && Buffer.from(chunk.bytes).equals(expected),
        });
      }
    }
    expect(plain.length).toBeGreaterThan(100);
    expect(withBytes.every((chunk) => chunk.matches)).toBe(true);
    expect(withBytes.map(({ offset, length, hash }) => ({ offset, length, hash }))).toEqual(
      plain.map((chunk) => ({ offset: chunk.offset, length: chunk.length, hash: Buffer.from(chunk.hash!).toString('hex') })),
    );
    expect(plain.every((chunk) => chunk.bytes === undefined)).toBe(true);
  });
});
