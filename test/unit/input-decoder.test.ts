/**
 * StreamDecoderSync (one decompression step at a time on the calling thread) and
 * InputDecoder (the decompressing front of a session: push compressed bytes, pull pieces
 * of a bounded size): any slicing gives the original bytes, the limit holds over the whole
 * stream, and the decoder says when it needs more input.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  COMPRESSION_CODECS,
  DETECT_BYTES,
  StreamDecoderSync,
  compressSync,
  trainDictionary,
} from '../../port/engine/compression.js';
import { InputDecoder } from '../../port/engine/input-decoder.js';
import { chunkerErrorOf } from '../support/chunker-error.js';
import { dictionarySamples, mixedBytes } from '../support/compression.js';

const KiB = 1024;
const original = mixedBytes(300 * KiB, 31);
/** The original in every codec, compressed once. */
const packed = new Map(COMPRESSION_CODECS.map((codec) => [codec, compressSync(original, { codec, level: codec === 'xz' ? 0 : undefined })]));

/** Pushes `input` cut at `cuts`, pulling pieces of `pieceBytes` after each push and at the end. */
function decodeAll(decoder: InputDecoder, input: Uint8Array, cuts: number[], pieceBytes: number): { output: Buffer; largest: number } {
  const parts: Uint8Array[] = [];
  const pull = (atEnd: boolean): void => {
    for (let piece = decoder.next(pieceBytes, atEnd); piece !== null; piece = decoder.next(pieceBytes, atEnd)) parts.push(piece);
  };
  let at = 0;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut <= at || cut >= input.length) continue;
    decoder.push(input.subarray(at, cut));
    pull(false);
    expect(decoder.ready(false)).toBe(false);
    at = cut;
  }
  decoder.push(input.subarray(at));
  pull(false);
  pull(true);
  expect(decoder.done).toBe(true);
  return { output: Buffer.concat(parts), largest: parts.reduce((most, part) => Math.max(most, part.length), 0) };
}

describe('StreamDecoderSync', () => {
  it('decodes step by step with bounded pieces, and holds the limit over the whole stream', () => {
    const input = compressSync(original, { codec: 'zstd' });
    const decoder = new StreamDecoderSync('zstd', original.length);
    const parts: Uint8Array[] = [];
    let position = 0;
    for (;;) {
      const { output, consumed, done } = decoder.step(input.subarray(position), true, 10 * KiB);
      expect(output.length).toBeLessThanOrEqual(10 * KiB);
      parts.push(output);
      position += consumed;
      if (done) break;
    }
    expect(Buffer.concat(parts).equals(original)).toBe(true);
    expect(decoder.produced).toBe(original.length);

    const short = new StreamDecoderSync('zstd', original.length - 1);
    const error = chunkerErrorOf(() => {
      for (let at = 0; ; ) at += short.step(input.subarray(at), true, 64 * KiB).consumed;
    });
    expect(error.code).toBe('size_exceeded');
    expect(short.produced).toBeLessThanOrEqual(original.length - 1);
  });

  it('refuses a bad codec, limit or dictionary', () => {
    expect(chunkerErrorOf(() => new StreamDecoderSync('gzip' as 'zstd', 10)).code).toBe('invalid_argument');
    expect(chunkerErrorOf(() => new StreamDecoderSync('xz', -1)).code).toBe('invalid_argument');
  });
});

describe('InputDecoder', () => {
  it('any slicing and piece size give the original bytes, for every codec, named or auto', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...COMPRESSION_CODECS),
        fc.boolean(),
        fc.array(fc.nat({ max: 200 * KiB }), { maxLength: 12 }),
        fc.integer({ min: 100, max: 128 * KiB }),
        (codec, auto, cuts, pieceBytes) => {
          const input = packed.get(codec)!;
          const decoder = new InputDecoder(auto ? 'auto' : codec, original.length);
          const { output, largest } = decodeAll(decoder, input, cuts, pieceBytes);
          expect(output.equals(original)).toBe(true);
          expect(largest).toBeLessThanOrEqual(pieceBytes);
          expect(decoder.codec).toBe(codec);
          expect(decoder.heldBytes).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('under auto waits for DETECT_BYTES before deciding, and passes plain bytes through', () => {
    const decoder = new InputDecoder('auto', 1000);
    decoder.push(original.subarray(0, DETECT_BYTES - 1));
    expect(decoder.ready(false)).toBe(false);
    expect(decoder.next(100, false)).toBeNull();
    expect(decoder.codec).toBeNull();
    decoder.push(original.subarray(DETECT_BYTES - 1, 200));
    expect(decoder.ready(false)).toBe(true);
    expect(Buffer.from(decoder.next(1000, false)!).equals(original.subarray(0, 200))).toBe(true);
    expect(decoder.codec).toBe('none');
    expect(decoder.next(1000, true)).toBeNull();
    expect(decoder.done).toBe(true);
  });

  it('ownInput copies the held bytes, so the pushed buffer may change', () => {
    const input = Uint8Array.from(compressSync(original, { codec: 'lz4' }));
    const decoder = new InputDecoder('lz4', original.length);
    decoder.push(input);
    const first = decoder.next(16 * KiB, false)!;
    expect(decoder.heldBytes).toBeGreaterThan(0);
    decoder.ownInput();
    input.fill(0);
    const parts = [first];
    for (let piece = decoder.next(16 * KiB, true); piece !== null; piece = decoder.next(16 * KiB, true)) parts.push(piece);
    expect(Buffer.concat(parts).equals(original)).toBe(true);
  });

  it('at the end of input: truncated_input inside a frame; size_exceeded past the limit', () => {
    const input = compressSync(original, { codec: 'bzip2' });
    const truncated = new InputDecoder('bzip2', original.length);
    truncated.push(input.subarray(0, input.length - 5));
    expect(
      chunkerErrorOf(() => {
        while (truncated.next(64 * KiB, true) !== null);
      }).code,
    ).toBe('truncated_input');

    const limited = new InputDecoder('auto', 100 * KiB);
    limited.push(input);
    expect(
      chunkerErrorOf(() => {
        while (limited.next(64 * KiB, true) !== null);
      }).code,
    ).toBe('size_exceeded');
  });

  it('a dictionary-compressed zstd stream needs its dictionary (dictionary_required)', async () => {
    const dictionary = await trainDictionary(dictionarySamples(300, 4), { maxBytes: 4096 });
    const decoder = new InputDecoder('zstd', 1 << 20);
    decoder.push(compressSync(Buffer.concat(dictionarySamples(5, 8)), { dictionary }));
    expect(chunkerErrorOf(() => decoder.next(1 << 20, true)).code).toBe('dictionary_required');
  });
});
