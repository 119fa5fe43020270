import { describe, expect, it } from 'vitest';
import {
  ASYNC_THRESHOLD_BYTES,
  COMPRESSION_CODECS,
  CompressionDictionary,
  DEFAULT_MAX_OUTPUT_BYTES,
  MAX_OUTPUT_LIMIT_BYTES,
  codecVersions,
  compress,
  compressSync,
  decompress,
  decompressSync,
  detectCodec,
  levelRange,
  trainDictionary,
  type CompressionCodec,
} from '../../port/engine/compression.js';
import { ChunkerError } from '../../port/errors.js';
import { TEST_LEVELS, dictionarySamples, mixedBytes } from '../support/compression.js';
import { chunkerErrorOf, chunkerRejectionOf } from '../support/chunker-error.js';
import { seededBytes, structuredBytes } from '../support/random-bytes.js';

const CODECS = COMPRESSION_CODECS.filter((codec) => codec !== 'none');
const INPUT = mixedBytes(300_000, 11);

describe('round trips', () => {
  for (const codec of COMPRESSION_CODECS) {
    for (const level of TEST_LEVELS[codec]) {
      it(`${codec} level ${level}`, () => {
        const packed = compressSync(INPUT, { codec, level });
        if (codec !== 'none') expect(packed.length).toBeLessThan(INPUT.length);
        expect(Buffer.from(decompressSync(packed, { codec })).equals(Buffer.from(INPUT))).toBe(true);
        if (codec !== 'none') expect(Buffer.from(decompressSync(packed)).equals(Buffer.from(INPUT))).toBe(true);
      });
    }

    it(`${codec}: the empty input`, () => {
      const packed = compressSync(new Uint8Array(0), { codec });
      expect(decompressSync(packed, { codec }).length).toBe(0);
    });

    it(`${codec}: asynchronous calls above ${ASYNC_THRESHOLD_BYTES} bytes give the same bytes as inline ones`, async () => {
      const large = structuredBytes(ASYNC_THRESHOLD_BYTES + 12_345, 3);
      const level = levelRange(codec).default;
      const [inline, offThread] = [compressSync(large, { codec, level }), await compress(large, { codec, level })];
      expect(Buffer.from(offThread).equals(Buffer.from(inline))).toBe(true);
      expect(Buffer.from(await decompress(offThread, { codec })).equals(Buffer.from(large))).toBe(true);
    });
  }

  it('large inputs are compressed off the JS thread: timers keep firing meanwhile', async () => {
    const large = mixedBytes(3 * 1024 * 1024, 21);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const started = performance.now();
    const packed = await compress(large, { codec: 'xz', level: 6 });
    const elapsedMs = performance.now() - started;
    clearInterval(timer);
    expect(elapsedMs).toBeGreaterThan(100);
    // An inline call would have let no timer fire at all.
    expect(ticks).toBeGreaterThan(elapsedMs / 2 / 10);
    expect(Buffer.from(await decompress(packed)).equals(Buffer.from(large))).toBe(true);
  });

  it('uses zstd at level 3 by default, and level 0 means 3', () => {
    const byDefault = compressSync(INPUT);
    expect(detectCodec(byDefault)).toBe('zstd');
    expect(Buffer.from(byDefault).equals(Buffer.from(compressSync(INPUT, { codec: 'zstd', level: 3 })))).toBe(true);
    expect(Buffer.from(compressSync(INPUT, { level: 0 })).equals(Buffer.from(byDefault))).toBe(true);
  });

  it('negative zstd levels are faster modes: larger output than level 3', () => {
    const fast = compressSync(INPUT, { level: -50 });
    expect(fast.length).toBeGreaterThan(compressSync(INPUT).length);
    expect(Buffer.from(decompressSync(fast)).equals(Buffer.from(INPUT))).toBe(true);
  });

  it('concatenated frames decompress as one stream, for every codec', () => {
    const first = structuredBytes(50_000, 1);
    const second = seededBytes(20_000, 2);
    for (const codec of CODECS) {
      const joined = Buffer.concat([compressSync(first, { codec }), compressSync(second, { codec })]);
      expect(Buffer.from(decompressSync(joined)).equals(Buffer.concat([first, second]))).toBe(true);
    }
  });

  it('many small chunks in a row (reused contexts) round-trip', () => {
    for (let i = 0; i < 2000; i++) {
      const chunk = structuredBytes(100 + (i % 700), i);
      const codec = i % 2 === 0 ? 'zstd' : 'lz4';
      expect(Buffer.from(decompressSync(compressSync(chunk, { codec }))).equals(Buffer.from(chunk))).toBe(true);
    }
  });
});

describe('output limit', () => {
  for (const codec of COMPRESSION_CODECS) {
    it(`${codec}: the exact size passes, one byte less is size_exceeded`, async () => {
      const packed = compressSync(INPUT, { codec });
      expect(decompressSync(packed, { codec, maxOutputBytes: INPUT.length }).length).toBe(INPUT.length);
      const error = chunkerErrorOf(() => decompressSync(packed, { codec, maxOutputBytes: INPUT.length - 1 }));
      expect(error).toBeInstanceOf(ChunkerError);
      expect(error.code).toBe('size_exceeded');
      expect(error.message).toContain(`${INPUT.length - 1} bytes`);
      expect(error.permanent).toBe(true);
      const offThread = await chunkerRejectionOf(() => decompress(packed, { codec, maxOutputBytes: 5000 }));
      expect(offThread.code).toBe('size_exceeded');
    });
  }

  it('a limit of 0 accepts an empty stream and refuses any byte', () => {
    expect(decompressSync(compressSync(new Uint8Array(0)), { maxOutputBytes: 0 }).length).toBe(0);
    expect(chunkerErrorOf(() => decompressSync(compressSync(new Uint8Array(1)), { maxOutputBytes: 0 })).code).toBe('size_exceeded');
  });

  it('a small bomb (64 MiB of zeros) is refused at the limit, for every codec', () => {
    const zeros = new Uint8Array(64 * 1024 * 1024);
    const fastLevels = { zstd: 3, lz4: 1, xz: 0, bzip2: 1 } as const;
    for (const codec of CODECS) {
      const bomb = compressSync(zeros, { codec, level: fastLevels[codec] });
      expect(bomb.length).toBeLessThan(zeros.length / 100);
      expect(chunkerErrorOf(() => decompressSync(bomb, { maxOutputBytes: 1024 * 1024 })).code).toBe('size_exceeded');
    }
  });

  it('defaults to 1 GiB', () => {
    expect(DEFAULT_MAX_OUTPUT_BYTES).toBe(1024 ** 3);
  });
});

describe('damaged input', () => {
  for (const codec of CODECS) {
    const packed = compressSync(INPUT, { codec });

    it(`${codec}: every cut of the stream is truncated_input`, () => {
      const cuts = [1, 4, 7, 13, Math.floor(packed.length / 3), Math.floor(packed.length / 2), packed.length - 1];
      for (const cut of cuts) {
        const error = chunkerErrorOf(() => decompressSync(packed.subarray(0, cut), { codec }));
        expect(error.code, `cut at ${cut} of ${packed.length}`).toBe('truncated_input');
        expect(error.message).toMatch(new RegExp(`^${codec}: `));
      }
      expect(chunkerErrorOf(() => decompressSync(new Uint8Array(0), { codec })).code).toBe('truncated_input');
    });

    it(`${codec}: flipped bytes are corrupt_input`, () => {
      for (const at of [Math.floor(packed.length / 2), packed.length - 2]) {
        const damaged = Uint8Array.from(packed);
        damaged[at]! ^= 0x5a;
        const error = chunkerErrorOf(() => decompressSync(damaged, { codec }));
        expect(error.code, `byte ${at} of ${packed.length}`).toBe('corrupt_input');
      }
    });

    it(`${codec}: bytes after the last frame that start no frame are corrupt_input`, () => {
      const trailing = Buffer.concat([packed, Buffer.from('garbage after the end')]);
      expect(chunkerErrorOf(() => decompressSync(trailing, { codec })).code).toBe('corrupt_input');
    });

    it(`${codec}: another codec's stream is corrupt_input`, () => {
      const other = CODECS.find((candidate) => candidate !== codec)!;
      expect(chunkerErrorOf(() => decompressSync(compressSync(INPUT, { codec: other }), { codec })).code).toBe('corrupt_input');
    });
  }

  it('auto refuses input with no known magic bytes', () => {
    const error = chunkerErrorOf(() => decompressSync(Buffer.from('nix-archive-1 is not compressed')));
    expect(error.code).toBe('unknown_format');
    expect(chunkerErrorOf(() => decompressSync(new Uint8Array(2))).code).toBe('unknown_format');
  });
});

describe('detectCodec', () => {
  it('names the codec of each format, and null for plain data', () => {
    for (const codec of CODECS) expect(detectCodec(compressSync(INPUT, { codec }))).toBe(codec);
    expect(detectCodec(INPUT)).toBeNull();
    expect(detectCodec(new Uint8Array(0))).toBeNull();
  });

  it('looks past a skippable frame', () => {
    const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    for (const codec of ['zstd', 'lz4'] as const) {
      const stream = Buffer.concat([skippable, compressSync(INPUT, { codec })]);
      expect(detectCodec(stream)).toBe(codec);
      expect(Buffer.from(decompressSync(stream)).equals(Buffer.from(INPUT))).toBe(true);
    }
  });
});

describe('dictionaries', () => {
  const samples = dictionarySamples(600, 5);

  it('train, save, load; frames record the id; ratio improves on small chunks', async () => {
    const dictionary = await trainDictionary(samples, { maxBytes: 16 * 1024 });
    expect(dictionary.bytes.length).toBeLessThanOrEqual(16 * 1024);
    expect(dictionary.id).toBeGreaterThan(0);
    const reloaded = CompressionDictionary.load(dictionary.bytes);
    expect(reloaded.id).toBe(dictionary.id);

    const chunk = dictionarySamples(1, 999)[0]!;
    const withDictionary = compressSync(chunk, { dictionary });
    expect(withDictionary.length).toBeLessThan(compressSync(chunk).length * 0.8);
    expect(Buffer.from(decompressSync(withDictionary, { dictionary: reloaded })).equals(Buffer.from(chunk))).toBe(true);
    expect(Buffer.from(await decompress(withDictionary, { codec: 'zstd', dictionary })).equals(Buffer.from(chunk))).toBe(true);
    for (const level of [-3, 1, 3, 19]) {
      const packed = compressSync(chunk, { level, dictionary });
      expect(Buffer.from(decompressSync(packed, { dictionary })).equals(Buffer.from(chunk))).toBe(true);
    }

    const missing = chunkerErrorOf(() => decompressSync(withDictionary));
    expect(missing.code).toBe('dictionary_required');
    expect(missing.message).toContain(`dictionary ${dictionary.id}`);

    const other = await trainDictionary(dictionarySamples(600, 77), { maxBytes: 16 * 1024 });
    expect(other.id).not.toBe(dictionary.id);
    const wrong = chunkerErrorOf(() => decompressSync(withDictionary, { dictionary: other }));
    expect(wrong.code).toBe('dictionary_mismatch');
    expect(wrong.message).toContain(`${dictionary.id}`);
    expect(wrong.message).toContain(`${other.id}`);

    // A frame made without a dictionary decompresses with one given all the same.
    expect(Buffer.from(decompressSync(compressSync(chunk), { dictionary })).equals(Buffer.from(chunk))).toBe(true);
  });

  it('refuses bytes that are not a dictionary, and training from too little', async () => {
    expect(chunkerErrorOf(() => CompressionDictionary.load(Buffer.from('not a dictionary at all'))).code).toBe('invalid_dictionary');
    const damaged = Uint8Array.from((await trainDictionary(samples, { maxBytes: 8192 })).bytes);
    damaged.fill(0xff, 8, 200);
    expect(chunkerErrorOf(() => CompressionDictionary.load(damaged)).code).toBe('invalid_dictionary');
    const tooLittle = await chunkerRejectionOf(() => trainDictionary([Buffer.from('a'), Buffer.from('b')]));
    expect(tooLittle.code).toBe('training_failed');
  });

  it('dictionaries are for zstd only', async () => {
    const dictionary = await trainDictionary(samples, { maxBytes: 4096 });
    for (const codec of ['lz4', 'xz', 'bzip2', 'none'] as const) {
      expect(chunkerErrorOf(() => compressSync(INPUT, { codec, dictionary })).code).toBe('invalid_argument');
      expect(chunkerErrorOf(() => decompressSync(INPUT, { codec, dictionary })).code).toBe('invalid_argument');
    }
  });
});

describe('invalid arguments', () => {
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['an unknown codec', () => compressSync(INPUT, { codec: 'gzip' as CompressionCodec }), /codec/],
    ['auto for compression', () => compressSync(INPUT, { codec: 'auto' as CompressionCodec }), /codec/],
    ['zstd level 23', () => compressSync(INPUT, { level: 23 }), /an integer from -\d+ to 22 \(the zstd levels\)/],
    ['lz4 level 0', () => compressSync(INPUT, { codec: 'lz4', level: 0 }), /an integer from 1 to 12 \(the lz4 levels\)/],
    ['xz level 10', () => compressSync(INPUT, { codec: 'xz', level: 10 }), /an integer from 0 to 9 \(the xz levels\)/],
    ['bzip2 level 0', () => compressSync(INPUT, { codec: 'bzip2', level: 0 }), /an integer from 1 to 9 \(the bzip2 levels\)/],
    ['none level 1', () => compressSync(INPUT, { codec: 'none', level: 1 }), /an integer from 0 to 0 \(the none levels\)/],
    ['a fractional level', () => compressSync(INPUT, { level: 2.5 }), /level/],
    ['data that is not bytes', () => compressSync('text' as unknown as Uint8Array), /data/],
    ['a negative limit', () => decompressSync(INPUT, { maxOutputBytes: -1 }), /maxOutputBytes/],
    ['a limit over the largest buffer', () => decompressSync(INPUT, { maxOutputBytes: MAX_OUTPUT_LIMIT_BYTES + 1 }), /maxOutputBytes/],
    ['an unknown decompression codec', () => decompressSync(INPUT, { codec: 'lzma' as CompressionCodec }), /codec/],
    ['a dictionary that is not one', () => compressSync(INPUT, { dictionary: {} as CompressionDictionary }), /dictionary/],
  ];
  for (const [name, run, message] of cases) {
    it(`refuses ${name}`, () => {
      const error = chunkerErrorOf(run);
      expect(error).toBeInstanceOf(ChunkerError);
      expect(error.code).toBe('invalid_argument');
      expect(error.message).toMatch(message);
    });
  }

  it('refuses a bad dictionary size for training', async () => {
    expect((await chunkerRejectionOf(() => trainDictionary(dictionarySamples(10, 1), { maxBytes: 100 }))).code).toBe('invalid_argument');
    expect((await chunkerRejectionOf(() => trainDictionary([]))).code).toBe('invalid_argument');
  });
});

describe('library versions', () => {
  it('reports the linked system libraries', () => {
    const versions = codecVersions();
    for (const name of ['zstd', 'lz4', 'xz', 'bzip2'] as const) expect(versions[name]).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('level ranges: zstd has negative fast levels', () => {
    expect(levelRange('zstd').min).toBeLessThan(0);
    expect(levelRange('zstd')).toMatchObject({ max: 22, default: 3 });
  });
});
