/**
 * Sessions with `compress` (each chunk comes back with its payload and codec) and with
 * `inputCompression` (the fed bytes are a compressed stream): the chunks are exactly those
 * of plain one-shot chunking, payloads restore to the chunks' bytes, budgets bound the
 * payloads of a reply, decoding errors end the session, and bad options are refused.
 */
import { describe, expect, it } from 'vitest';
import { chunkBuffer, type Chunk } from '../../port/engine/chunk-session.js';
import {
  compressSync,
  restoreChunk,
  trainDictionary,
  type CompressionCodec,
  type StoredChunk,
} from '../../port/engine/compression.js';
import { Dispatcher } from '../../port/dispatch.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../../port/frame.js';
import { createPortContext } from '../../port/ops/context.js';
import {
  COMPRESSING_SLICE_BYTES,
  DEFAULT_BUDGET,
  DEFAULT_MAX_SESSIONS,
  SessionRegistry,
  type SessionStep,
  type StreamOptions,
} from '../../port/session.js';
import { chunkerErrorOf } from '../support/chunker-error.js';
import { dictionarySamples, mixedBytes } from '../support/compression.js';
import { callDispatcher, wireErrorOf } from '../support/dispatch-call.js';
import { seededBytes } from '../support/random-bytes.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const UNLIMITED = { bytes: Number.MAX_SAFE_INTEGER, ms: Number.MAX_SAFE_INTEGER };

interface Collected {
  chunks: Chunk[];
  stored: StoredChunk[];
  steps: SessionStep[];
}

/** Feeds `data` in the given slice sizes, continuing and finishing until the session ends. */
function runSession(
  registry: SessionRegistry,
  id: number,
  data: Uint8Array,
  slices: number[],
  budget = UNLIMITED,
): Collected {
  const out: Collected = { chunks: [], stored: [], steps: [] };
  const take = (step: SessionStep): SessionStep => {
    out.steps.push(step);
    out.chunks.push(...step.chunks);
    if (step.stored !== null) out.stored.push(...step.stored);
    return step;
  };
  let position = 0;
  let index = 0;
  while (position < data.length) {
    const size = Math.min(slices[index++ % slices.length]!, data.length - position);
    let step = take(registry.feed(id, data.subarray(position, position + size), budget));
    position += size;
    while (step.more) step = take(registry.continue(id, budget));
  }
  let step = take(registry.finish(id, budget));
  while (step.more) step = take(registry.continue(id, budget));
  return out;
}

const positions = (chunks: readonly Chunk[]) => chunks.map(({ offset, length, hash }) => [offset, length, hash && Buffer.from(hash).toString('hex')]);

/** Text-like and random stretches: some chunks compress, some do not. */
const data = mixedBytes(3 * MiB, 11);

describe('sessions with compress', () => {
  for (const codec of ['zstd', 'lz4', 'xz', 'bzip2'] as const) {
    it(`${codec}: the chunks of plain chunking, each payload restores to its chunk, random chunks stay as they are`, () => {
      // xz and bzip2 are slow: a smaller mix for them.
      const subject = codec === 'xz' || codec === 'bzip2' ? mixedBytes(MiB, 12) : data;
      const registry = new SessionRegistry();
      const id = registry.open({ preset: 'small' }, UNLIMITED, { compress: { codec } });
      const run = runSession(registry, id, subject, [100_000, 7, 300_001]);
      expect(positions(run.chunks)).toEqual(positions(chunkBuffer(subject, { preset: 'small' })));
      expect(run.stored).toHaveLength(run.chunks.length);
      const codecs = new Set(run.stored.map((stored) => stored.codec));
      expect(codecs).toEqual(new Set<CompressionCodec>([codec, 'none']));
      run.chunks.forEach((chunk, index) => {
        const original = subject.subarray(chunk.offset, chunk.offset + chunk.length);
        expect(Buffer.from(restoreChunk(run.stored[index]!, chunk.length)).equals(original)).toBe(true);
        expect(run.stored[index]!.payload.length).toBeLessThanOrEqual(chunk.length);
        expect(chunk.bytes).toBeUndefined();
      });
    });
  }

  it('honours level, max_ratio and a dictionary', async () => {
    const samples = dictionarySamples(400, 3);
    const dictionary = await trainDictionary(samples, { maxBytes: 8 * KiB });
    const text = Buffer.concat(dictionarySamples(200, 9));
    // Small chunks, where a dictionary matters most.
    const sizes = { minSize: 256, avgSize: 1024, maxSize: 4 * KiB };
    const payloadBytes = (stream: StreamOptions): number => {
      const registry = new SessionRegistry();
      const run = runSession(registry, registry.open(sizes, UNLIMITED, stream), text, [text.length]);
      return run.stored.reduce((sum, stored) => sum + stored.payload.length, 0);
    };
    const plain = payloadBytes({ compress: { codec: 'zstd', level: 1 } });
    expect(payloadBytes({ compress: { codec: 'zstd', level: 1, dictionary } })).toBeLessThan(plain * 0.8);
    expect(payloadBytes({ compress: { codec: 'zstd', level: 19 } })).toBeLessThan(plain);
    // A ratio no compressed chunk reaches: every payload is the chunk itself.
    const registry = new SessionRegistry();
    const run = runSession(registry, registry.open(sizes, UNLIMITED, { compress: { maxRatio: 0.01 } }), text, [text.length]);
    expect(run.stored.every((stored) => stored.codec === 'none')).toBe(true);
    // Frames made with the dictionary restore with it.
    const registry2 = new SessionRegistry();
    const withDictionary = runSession(registry2, registry2.open(sizes, UNLIMITED, { compress: { dictionary } }), text, [5000]);
    withDictionary.chunks.forEach((chunk, index) => {
      const restored = restoreChunk(withDictionary.stored[index]!, chunk.length, dictionary);
      expect(Buffer.from(restored).equals(text.subarray(chunk.offset, chunk.offset + chunk.length))).toBe(true);
    });
  });

  it('a reply carries no more payload bytes than its byte budget plus one slice and a chunk', () => {
    const registry = new SessionRegistry();
    const budget = { bytes: 200 * KiB, ms: Number.MAX_SAFE_INTEGER };
    const incompressible = seededBytes(4 * MiB, 5);
    const id = registry.open({}, budget, { compress: { codec: 'zstd' } });
    const run = runSession(registry, id, incompressible, [incompressible.length], budget);
    expect(run.steps.filter((step) => step.more).length).toBeGreaterThan(10);
    const maxSize = 256 * KiB;
    for (const step of run.steps) {
      const payload = step.stored!.reduce((sum, stored) => sum + stored.payload.length, 0);
      expect(payload).toBeLessThanOrEqual(budget.bytes + COMPRESSING_SLICE_BYTES + maxSize);
    }
    expect(positions(run.chunks)).toEqual(positions(chunkBuffer(incompressible)));
  });

  it('caps a request at compressingBudgetBytes, however large its byte budget', () => {
    const registry = new SessionRegistry({ compressingBudgetBytes: 512 * KiB });
    const id = registry.open({ preset: 'small' }, UNLIMITED, { compress: {} });
    const first = registry.feed(id, seededBytes(4 * MiB, 6));
    expect(first.more).toBe(true);
    const scanned = first.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    expect(scanned).toBeGreaterThanOrEqual(512 * KiB);
    expect(scanned).toBeLessThan(512 * KiB + COMPRESSING_SLICE_BYTES + 64 * KiB);
    // A session without compress keeps its full budget.
    const plain = registry.open({ preset: 'small' }, UNLIMITED);
    expect(registry.feed(plain, seededBytes(4 * MiB, 6)).more).toBe(false);
  });

  it('checks the clock after every slice of compression work', () => {
    let time = 0;
    const registry = new SessionRegistry({ now: () => time++ });
    const id = registry.open({ preset: 'small' }, { bytes: Number.MAX_SAFE_INTEGER, ms: 3 }, { compress: { codec: 'lz4' } });
    const step = registry.feed(id, mixedBytes(2 * MiB, 2));
    expect(step.more).toBe(true);
    // Three clock readings after the start: three slices of about COMPRESSING_SLICE_BYTES.
    const scanned = step.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    expect(scanned).toBeLessThan(3 * (COMPRESSING_SLICE_BYTES + 64 * KiB));
  });

  it('an empty continue of a compressing session has an empty payload list', () => {
    const registry = new SessionRegistry();
    const id = registry.open({}, UNLIMITED, { compress: {} });
    expect(registry.continue(id)).toMatchObject({ chunks: [], stored: [], more: false });
    const plain = registry.open({});
    expect(registry.continue(plain).stored).toBeNull();
  });

  it('refuses bad compress options at open, naming them', () => {
    const registry = new SessionRegistry();
    const bad: Array<[StreamOptions, RegExp]> = [
      [{ compress: { codec: 'gzip' as CompressionCodec } }, /codec/],
      [{ compress: { codec: 'zstd', level: 99 } }, /level/],
      [{ compress: { codec: 'lz4', level: -1 } }, /level/],
      [{ compress: { maxRatio: 0 } }, /maxRatio/],
      [{ compress: { maxRatio: 1.5 } }, /maxRatio/],
    ];
    for (const [stream, message] of bad) {
      const error = chunkerErrorOf(() => registry.open({}, UNLIMITED, stream));
      expect(error.code).toBe('invalid_argument');
      expect(error.message).toMatch(message);
    }
    expect(registry.size).toBe(0);
  });
});

/** A compressed stream of `bytes` made by the engine (the integration tests use the real tools). */
function packed(bytes: Uint8Array, codec: Exclude<CompressionCodec, 'none'>): Uint8Array {
  return compressSync(bytes, { codec, level: codec === 'xz' ? 1 : undefined });
}

describe('sessions with compressed input', () => {
  const plain = mixedBytes(2 * MiB, 21);
  const expected = positions(chunkBuffer(plain, { preset: 'small' }));

  for (const codec of ['zstd', 'lz4', 'xz', 'bzip2'] as const) {
    for (const requested of [codec, 'auto'] as const) {
      it(`${codec} as ${requested}: the chunks of the decompressed stream, in tiny and large slices and small budgets`, () => {
        const input = packed(plain, codec);
        for (const [slices, budget] of [
          [[1, 2, 3, 50, 4096], UNLIMITED],
          [[input.length], { bytes: 100 * KiB, ms: Number.MAX_SAFE_INTEGER }],
          [[70_000, 131_071], { bytes: 1, ms: Number.MAX_SAFE_INTEGER }],
        ] as const) {
          const registry = new SessionRegistry();
          const id = registry.open({ preset: 'small' }, UNLIMITED, { inputCompression: requested });
          const run = runSession(registry, id, input, [...slices], budget);
          expect(positions(run.chunks)).toEqual(expected);
          expect(registry.size).toBe(0);
          expect(registry.counters.bytesIn).toBe(plain.length);
        }
      });
    }
  }

  it('auto passes plain input through, however it is sliced (even below the detection size)', () => {
    const registry = new SessionRegistry();
    const id = registry.open({ preset: 'small' }, UNLIMITED, { inputCompression: 'auto' });
    expect(positions(runSession(registry, id, plain, [1, 10, 30, 1000, 65_536]).chunks)).toEqual(expected);
    const tiny = registry.open({}, UNLIMITED, { inputCompression: 'auto' });
    expect(positions(runSession(registry, tiny, plain.subarray(0, 20), [3]).chunks)).toEqual([[0, 20, expect.any(String)]]);
    const empty = registry.open({}, UNLIMITED, { inputCompression: 'auto' });
    expect(registry.finish(empty)).toMatchObject({ chunks: [], more: false });
    expect(registry.size).toBe(0);
  });

  it('compress and compressed input together: payloads restore to the decompressed chunks', () => {
    const registry = new SessionRegistry();
    const id = registry.open({ preset: 'small' }, UNLIMITED, { inputCompression: 'xz', compress: { codec: 'zstd' } });
    const run = runSession(registry, id, packed(plain, 'xz'), [40_000]);
    expect(positions(run.chunks)).toEqual(expected);
    run.chunks.forEach((chunk, index) => {
      const restored = restoreChunk(run.stored[index]!, chunk.length);
      expect(Buffer.from(restored).equals(plain.subarray(chunk.offset, chunk.offset + chunk.length))).toBe(true);
    });
  });

  it('max_output: a bomb fails with size_exceeded once the limit is out, and the session ends', () => {
    const bomb = compressSync(new Uint8Array(64 * MiB), { codec: 'zstd', level: 1 });
    expect(bomb.length).toBeLessThan(64 * KiB);
    const registry = new SessionRegistry();
    const id = registry.open({}, UNLIMITED, { inputCompression: 'zstd', maxOutputBytes: 4 * MiB });
    const error = chunkerErrorOf(() => registry.feed(id, bomb));
    expect(error.code).toBe('size_exceeded');
    expect(error.permanent).toBe(true);
    expect(registry.counters.bytesIn).toBeLessThanOrEqual(4 * MiB);
    expect(chunkerErrorOf(() => registry.continue(id)).code).toBe('unknown_session');
    // Exactly the limit is fine.
    const exact = registry.open({}, UNLIMITED, { inputCompression: 'zstd', maxOutputBytes: 64 * MiB });
    expect(runSession(registry, exact, bomb, [1000]).chunks.reduce((sum, chunk) => sum + chunk.length, 0)).toBe(64 * MiB);
  });

  it('a bomb under a budget: every reply decodes at most about its budget', () => {
    const bomb = compressSync(new Uint8Array(32 * MiB), { codec: 'zstd', level: 1 });
    const registry = new SessionRegistry();
    const budget = { bytes: 2 * MiB, ms: Number.MAX_SAFE_INTEGER };
    const id = registry.open({}, budget, { inputCompression: 'zstd' });
    let step = registry.feed(id, bomb);
    let steps = 1;
    while (step.more) {
      const before = registry.counters.bytesIn;
      step = registry.continue(id);
      expect(registry.counters.bytesIn - before).toBeLessThanOrEqual(budget.bytes + MiB);
      steps++;
    }
    expect(steps).toBeGreaterThanOrEqual(14);
  });

  it('truncated input fails at finish with truncated_input; damaged input with corrupt_input; the session ends', () => {
    for (const codec of ['zstd', 'lz4', 'xz', 'bzip2'] as const) {
      const input = packed(plain.subarray(0, 300 * KiB), codec);
      const registry = new SessionRegistry();
      const truncated = registry.open({}, UNLIMITED, { inputCompression: codec });
      registry.feed(truncated, input.subarray(0, input.length - 10));
      expect(chunkerErrorOf(() => registry.finish(truncated)).code, codec).toBe('truncated_input');
      expect(registry.size).toBe(0);

      const damaged = Uint8Array.from(input);
      for (let i = 64; i < damaged.length - 64; i += 997) damaged[i]! ^= 0x5a;
      const corrupt = registry.open({}, UNLIMITED, { inputCompression: codec });
      const code = chunkerErrorOf(() => {
        registry.feed(corrupt, damaged);
        registry.finish(corrupt);
      }).code;
      expect(code, codec).toBe('corrupt_input');
      expect(registry.size).toBe(0);
    }
  });

  it('a named codec refuses another format (corrupt_input); bytes after the stream are corrupt_input too', () => {
    const registry = new SessionRegistry();
    const id = registry.open({}, UNLIMITED, { inputCompression: 'xz' });
    expect(chunkerErrorOf(() => registry.feed(id, packed(plain.subarray(0, 100 * KiB), 'zstd'))).code).toBe('corrupt_input');
    const trailing = registry.open({}, UNLIMITED, { inputCompression: 'zstd' });
    registry.feed(trailing, packed(plain.subarray(0, 100 * KiB), 'zstd'));
    const error = chunkerErrorOf(() => {
      registry.feed(trailing, new TextEncoder().encode('not a zstd frame at all, just trailing text'));
      registry.finish(trailing);
    });
    expect(error.code).toBe('corrupt_input');
    expect(registry.size).toBe(0);
  });

  it('a borrowed feed keeps a copy of the compressed bytes it has not decoded', () => {
    const input = packed(plain, 'zstd');
    const registry = new SessionRegistry();
    const id = registry.open({ preset: 'small' }, { bytes: 64 * KiB, ms: Number.MAX_SAFE_INTEGER }, { inputCompression: 'zstd' });
    const chunks: Chunk[] = [];
    const lent = Uint8Array.from(input);
    let step = registry.feed(id, lent, undefined, { borrowed: true });
    lent.fill(0); // the client reuses its spool range once the reply is out
    chunks.push(...step.chunks);
    while (step.more) {
      step = registry.continue(id);
      chunks.push(...step.chunks);
    }
    step = registry.finish(id);
    chunks.push(...step.chunks);
    while (step.more) {
      step = registry.continue(id);
      chunks.push(...step.chunks);
    }
    expect(positions(chunks)).toEqual(expected);
  });

  it('refuses a bad input_compression or max_output at open', () => {
    const registry = new SessionRegistry();
    expect(chunkerErrorOf(() => registry.open({}, UNLIMITED, { inputCompression: 'gzip' as CompressionCodec })).message).toMatch(
      /input_compression/,
    );
    expect(chunkerErrorOf(() => registry.open({}, UNLIMITED, { inputCompression: 'xz', maxOutputBytes: -1 })).message).toMatch(/max_output/);
    expect(registry.size).toBe(0);
  });
});

describe('open over the wire', () => {
  const dispatcher = () =>
    new Dispatcher(createPortContext({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES, maxSessions: DEFAULT_MAX_SESSIONS }, DEFAULT_BUDGET));

  it('feed and finish replies of a compressing session carry codecs and payloads', async () => {
    const target = dispatcher();
    const text = Buffer.concat(dictionarySamples(50, 1));
    const opened = await callDispatcher(target, { id: 1, op: 'open', options: { preset: 'small' }, compress: { codec: 'lz4', max_ratio: 0.8 } });
    const session = opened.session as number;
    const fed = await callDispatcher(target, { id: 2, op: 'feed', session, data: text });
    const finished = await callDispatcher(target, { id: 3, op: 'finish', session });
    const lists = [fed.chunks, finished.chunks] as Array<{ lengths: number[]; codecs: string[]; payloads: Uint8Array[] }>;
    const lengths = lists.flatMap((list) => list.lengths);
    expect(lengths.reduce((sum, length) => sum + length, 0)).toBe(text.length);
    let offset = 0;
    for (const list of lists) {
      expect(list.codecs).toHaveLength(list.lengths.length);
      list.lengths.forEach((length, index) => {
        const restored = restoreChunk({ codec: list.codecs[index] as CompressionCodec, payload: list.payloads[index]! }, length);
        expect(Buffer.from(restored).equals(text.subarray(offset, offset + length))).toBe(true);
        offset += length;
      });
    }
  });

  it('refuses bad compress, input_compression and max_output arguments, naming them', async () => {
    const target = dispatcher();
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ compress: 'zstd' }, /Expected a map for compress/],
      [{ compress: { codec: 'gzip' } }, /compress\.codec/],
      [{ compress: { level: 'high' } }, /compress\.level/],
      [{ compress: { codec: 'lz4', dictionary: new Uint8Array(100) } }, /compress\.dictionary/],
      [{ compress: { dictionary: 'bytes' } }, /compress\.dictionary/],
      [{ compress: { dictionary: new Uint8Array(100) } }, /dictionary/],
      [{ compress: { max_ratio: 2 } }, /compress\.max_ratio/],
      [{ compress: { max_ratio: '0.5' } }, /compress\.max_ratio/],
      [{ input_compression: 'gzip' }, /input_compression/],
      [{ input_compression: 7 }, /input_compression/],
      [{ input_compression: 'xz', max_output: -5 }, /max_output/],
    ];
    for (const [args, message] of cases) {
      const error = wireErrorOf(await callDispatcher(target, { id: 9, op: 'open', ...args }));
      expect(error.code === 'invalid_argument' || error.code === 'invalid_dictionary', JSON.stringify(error)).toBe(true);
      expect(error.message).toMatch(message);
    }
    const stats = await callDispatcher(target, { id: 10, op: 'stats' });
    expect(stats.sessions).toBe(0);
  });
});
