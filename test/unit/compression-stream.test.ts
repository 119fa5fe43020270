/**
 * DecompressingStream: a compressed stream that arrives in pieces (a .nar.xz read from a
 * file) decompressed as it comes, in bounded output pieces, with the output limit held
 * across the whole stream.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  COMPRESSION_CODECS,
  DecompressingStream,
  compressSync,
  trainDictionary,
  type StreamOptions,
} from '../../port/engine/compression.js';
import { ChunkerError } from '../../port/errors.js';
import { dictionarySamples, mixedBytes } from '../support/compression.js';

async function* pieces(bytes: Uint8Array, cuts: number[]): AsyncGenerator<Uint8Array> {
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut > at && cut < bytes.length) {
      yield bytes.subarray(at, cut);
      at = cut;
    }
  }
  yield bytes.subarray(at);
}

async function collect(source: AsyncIterable<Uint8Array>, options: StreamOptions): Promise<{ output: Buffer; stream: DecompressingStream; largest: number }> {
  const stream = new DecompressingStream(source, options);
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return { output: Buffer.concat(parts), stream, largest: Math.max(0, ...parts.map((part) => part.length)) };
}

async function codeOf(run: () => Promise<unknown>): Promise<string> {
  try {
    await run();
  } catch (error) {
    if (error instanceof ChunkerError) return error.code;
    throw error;
  }
  return 'ok';
}

const data = mixedBytes(400_000, 17);
const packedBy = new Map(COMPRESSION_CODECS.map((codec) => [codec, compressSync(data, { codec })]));

describe('DecompressingStream', () => {
  it('any slicing of the input and any piece size give the original bytes, for every codec', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...COMPRESSION_CODECS),
        fc.array(fc.nat(), { maxLength: 8 }),
        fc.integer({ min: 2048, max: 200_000 }),
        async (codec, cuts, pieceBytes) => {
          const packed = packedBy.get(codec)!;
          const { output, stream, largest } = await collect(pieces(packed, cuts.map((cut) => cut % packed.length)), {
            codec: codec === 'none' ? 'none' : 'auto',
            pieceBytes,
          });
          expect(output.equals(Buffer.from(data))).toBe(true);
          expect(largest).toBeLessThanOrEqual(pieceBytes);
          expect(stream.codec).toBe(codec);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('holds the limit over the whole stream: the exact size passes, one byte less fails', async () => {
    for (const codec of COMPRESSION_CODECS) {
      const packed = compressSync(data, { codec });
      const options = { codec, pieceBytes: 65_536 } as const;
      const exact = await collect(pieces(packed, [100, 5000]), { ...options, maxOutputBytes: data.length });
      expect(exact.output.length).toBe(data.length);
      expect(await codeOf(() => collect(pieces(packed, [100, 5000]), { ...options, maxOutputBytes: data.length - 1 }))).toBe('size_exceeded');
    }
  });

  it('a bomb yields at most the limit before size_exceeded', async () => {
    const bomb = compressSync(new Uint8Array(64 * 1024 * 1024), { codec: 'xz', level: 0 });
    const stream = new DecompressingStream(pieces(bomb, [10, 1000]), { maxOutputBytes: 3 * 1024 * 1024, pieceBytes: 1 << 20 });
    let yielded = 0;
    const code = await codeOf(async () => {
      for await (const part of stream) yielded += part.length;
    });
    expect(code).toBe('size_exceeded');
    expect(yielded).toBeLessThanOrEqual(3 * 1024 * 1024);
  });

  it('truncated and corrupt streams, unknown formats and empty input', async () => {
    const packed = compressSync(data, { codec: 'bzip2' });
    expect(await codeOf(() => collect(pieces(packed.subarray(0, packed.length - 5), [99]), {}))).toBe('truncated_input');
    const damaged = Uint8Array.from(packed);
    damaged[packed.length >> 1]! ^= 0x40;
    expect(await codeOf(() => collect(pieces(damaged, [1, 2, 3]), {}))).toBe('corrupt_input');
    expect(await codeOf(() => collect(pieces(data, [7]), {}))).toBe('unknown_format');
    expect(await codeOf(() => collect(pieces(new Uint8Array(0), []), { codec: 'zstd' }))).toBe('truncated_input');
    const plain = await collect(pieces(data, [3, 90_000]), { plainWhenUnknown: true });
    expect(plain.output.equals(Buffer.from(data))).toBe(true);
    expect(plain.stream.codec).toBe('none');
    expect((await collect(pieces(new Uint8Array(0), []), { plainWhenUnknown: true })).output.length).toBe(0);
  });

  it('decodes zstd frames made with a dictionary when given it', async () => {
    const dictionary = await trainDictionary(dictionarySamples(400, 2), { maxBytes: 4096 });
    const chunk = Buffer.concat(dictionarySamples(3, 5));
    const packed = compressSync(chunk, { dictionary });
    expect((await collect(pieces(packed, [20]), { dictionary })).output.equals(chunk)).toBe(true);
    expect(await codeOf(() => collect(pieces(packed, [20]), {}))).toBe('dictionary_required');
  });

  it('refuses bad options', () => {
    const source = pieces(data, []);
    for (const options of [{ maxOutputBytes: -1 }, { pieceBytes: 0 }, { codec: 'gzip' }] as StreamOptions[]) {
      expect(() => new DecompressingStream(source, options)).toThrow(ChunkerError);
    }
  });
});
