import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  COMPRESSION_CODECS,
  compressSync,
  decompressSync,
  type CompressionCodec,
} from '../../port/engine/compression.js';
import { ChunkerError } from '../../port/errors.js';
import { TEST_LEVELS } from '../support/compression.js';

/** Codes a decompression may fail with on hostile input; anything else is a bug. */
const INPUT_ERRORS = ['truncated_input', 'corrupt_input', 'unknown_format', 'size_exceeded', 'memory_limit', 'dictionary_required'];

/** Bytes with runs and repeats (compressible), or plain random bytes. */
const dataArbitrary = fc.oneof(
  fc.uint8Array({ maxLength: 3000 }),
  fc
    .array(fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: 400 })), { maxLength: 40 })
    .map((runs) => Uint8Array.from(runs.flatMap(([byte, count]) => new Array<number>(count).fill(byte)))),
);

const codecAndLevel = fc.constantFrom(...COMPRESSION_CODECS).chain((codec) =>
  fc.tuple(fc.constant(codec), fc.constantFrom(...(TEST_LEVELS[codec] as readonly number[]))),
);

function decodeError(run: () => unknown): string | null {
  try {
    run();
    return null;
  } catch (error) {
    if (!(error instanceof ChunkerError)) throw error;
    return error.code;
  }
}

describe('compression properties', () => {
  it('decompress(compress(x)) = x, with the exact size as limit, for every codec and level', () => {
    fc.assert(
      fc.property(dataArbitrary, codecAndLevel, (data, [codec, level]) => {
        const packed = compressSync(data, { codec, level });
        const back = decompressSync(packed, { codec, maxOutputBytes: data.length });
        expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true);
        if (codec !== 'none') expect(Buffer.from(decompressSync(packed)).equals(Buffer.from(data))).toBe(true);
        if (data.length > 0) {
          expect(decodeError(() => decompressSync(packed, { codec, maxOutputBytes: data.length - 1 }))).toBe('size_exceeded');
        }
      }),
      { numRuns: 300 },
    );
  });

  it('every strict prefix of a stream is truncated_input', () => {
    const codecs = COMPRESSION_CODECS.filter((codec): codec is Exclude<CompressionCodec, 'none'> => codec !== 'none');
    fc.assert(
      fc.property(dataArbitrary, fc.constantFrom(...codecs), fc.double({ min: 0, max: 1, noNaN: true }), (data, codec, at) => {
        const packed = compressSync(data, { codec });
        const cut = Math.min(packed.length - 1, Math.floor(at * packed.length));
        expect(decodeError(() => decompressSync(packed.subarray(0, cut), { codec }))).toBe('truncated_input');
      }),
      { numRuns: 300 },
    );
  });

  it('arbitrary or damaged bytes never crash a decoder: success or an input error', () => {
    const damaged = fc
      .tuple(dataArbitrary, fc.constantFrom(...COMPRESSION_CODECS), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }))
      .map(([data, codec, flips]) => {
        const packed = Uint8Array.from(compressSync(data, { codec }));
        for (const [position, mask] of flips) if (packed.length > 0) packed[position % packed.length]! ^= mask;
        return packed;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), damaged), fc.constantFrom(...COMPRESSION_CODECS, 'auto' as const), (bytes, codec) => {
        const code = decodeError(() => decompressSync(bytes, { codec, maxOutputBytes: 1 << 20 }));
        if (code !== null) expect(INPUT_ERRORS).toContain(code);
      }),
      { numRuns: 500 },
    );
  });
});
