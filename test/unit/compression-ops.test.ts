/**
 * The port's compression ops (spec §4 `compress`, `decompress`, `train_dictionary`)
 * through the dispatcher, as a client's frames reach them: round trips, defaults, the
 * dictionary cache, and every argument error.
 */
import { describe, expect, it } from 'vitest';
import { Dispatcher } from '../../port/dispatch.js';
import { compressSync } from '../../port/engine/compression.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../../port/frame.js';
import { createPortContext } from '../../port/ops/context.js';
import { MAX_DECOMPRESS_OUTPUT_BYTES } from '../../port/ops/compression.js';
import type { Message } from '../../port/protocol.js';
import { DEFAULT_BUDGET } from '../../port/session.js';
import { dictionarySamples, mixedBytes } from '../support/compression.js';
import { callDispatcher, wireErrorOf, type WireError } from '../support/dispatch-call.js';

function dispatcher(maxFrameBytes = DEFAULT_MAX_FRAME_BYTES): Dispatcher {
  return new Dispatcher(createPortContext({ maxFrameBytes, maxSessions: 100 }, DEFAULT_BUDGET));
}

let nextId = 1;
function call(target: Dispatcher, message: Message): Promise<Message> {
  return callDispatcher(target, { id: nextId++, ...message });
}

async function ok(target: Dispatcher, message: Message): Promise<Message> {
  const answer = await call(target, message);
  expect(answer.ok, JSON.stringify(answer.error)).toBe(true);
  return answer;
}

async function failure(target: Dispatcher, message: Message): Promise<WireError> {
  return wireErrorOf(await call(target, message));
}

const data = mixedBytes(200_000, 8);

describe('compress and decompress ops', () => {
  it('round-trip every codec; compress defaults to zstd level 3, decompress to auto', async () => {
    const target = dispatcher();
    const byDefault = await ok(target, { op: 'compress', data });
    expect(byDefault).toMatchObject({ codec: 'zstd', level: 3 });
    for (const [codec, level] of [['zstd', -5], ['zstd', 19], ['lz4', 9], ['xz', 1], ['bzip2', 9], ['none', 0]] as const) {
      const packed = await ok(target, { op: 'compress', data, codec, level });
      expect(packed).toMatchObject({ codec, level });
      const back = await ok(target, { op: 'decompress', data: packed.data, codec: codec === 'none' ? 'none' : undefined });
      expect(back.codec).toBe(codec);
      expect(Buffer.from(back.data as Uint8Array).equals(Buffer.from(data))).toBe(true);
    }
  });

  it('large inputs take the off-thread path and give the same bytes', async () => {
    const large = mixedBytes(3 * 1024 * 1024, 9);
    const packed = await ok(dispatcher(), { op: 'compress', data: large });
    expect(Buffer.from(packed.data as Uint8Array).equals(Buffer.from(compressSync(large)))).toBe(true);
    const back = await ok(dispatcher(), { op: 'decompress', data: packed.data, max_output: large.length });
    expect(Buffer.from(back.data as Uint8Array).equals(Buffer.from(large))).toBe(true);
  });

  it('decompress is limited by max_output, by default the port max_frame_bytes', async () => {
    const zeros = compressSync(new Uint8Array(300_000));
    const small = dispatcher(100_000);
    expect(await failure(small, { op: 'decompress', data: zeros })).toMatchObject({ code: 'size_exceeded', permanent: true });
    expect((await ok(small, { op: 'decompress', data: zeros, max_output: 300_000 })).data).toHaveLength(300_000);
    expect((await failure(small, { op: 'decompress', data: zeros, max_output: 299_999 })).code).toBe('size_exceeded');
  });

  it('reports damaged input with the codec error codes', async () => {
    const target = dispatcher();
    const packed = compressSync(data, { codec: 'xz' });
    expect((await failure(target, { op: 'decompress', data: packed.subarray(0, 100) })).code).toBe('truncated_input');
    const damaged = Uint8Array.from(packed);
    damaged[damaged.length >> 1]! ^= 0xff;
    expect((await failure(target, { op: 'decompress', data: damaged })).code).toBe('corrupt_input');
    expect((await failure(target, { op: 'decompress', data: Buffer.from('plain text, no magic') })).code).toBe('unknown_format');
  });
});

describe('train_dictionary and dictionaries over the wire', () => {
  it('trains, and the dictionary bytes work for compress and decompress', async () => {
    const target = dispatcher();
    const trained = await ok(target, { op: 'train_dictionary', samples: dictionarySamples(500, 3), max_bytes: 8192 });
    const dictionary = trained.dictionary as Uint8Array;
    expect(dictionary.length).toBeLessThanOrEqual(8192);
    expect(trained.dictionary_id).toBeGreaterThan(0);
    const chunk = dictionarySamples(1, 4)[0]!;
    const packed = await ok(target, { op: 'compress', data: chunk, dictionary });
    expect((packed.data as Uint8Array).length).toBeLessThan(compressSync(chunk).length);
    const back = await ok(target, { op: 'decompress', data: packed.data, dictionary });
    expect(Buffer.from(back.data as Uint8Array).equals(Buffer.from(chunk))).toBe(true);
    // Many requests with the same dictionary: served from the port's cache, same bytes.
    for (let i = 0; i < 20; i++) {
      const again = await ok(target, { op: 'compress', data: chunk, dictionary: Uint8Array.from(dictionary) });
      expect(Buffer.from(again.data as Uint8Array).equals(Buffer.from(packed.data as Uint8Array))).toBe(true);
    }
    const missing = await failure(target, { op: 'decompress', data: packed.data });
    expect(missing.code).toBe('dictionary_required');
    expect(missing.message).toContain(`${trained.dictionary_id}`);
    const other = await ok(target, { op: 'train_dictionary', samples: dictionarySamples(500, 99), max_bytes: 8192 });
    expect((await failure(target, { op: 'decompress', data: packed.data, dictionary: other.dictionary })).code).toBe(
      'dictionary_mismatch',
    );
  });

  it('training from too little fails with training_failed; bad dictionaries with invalid_dictionary', async () => {
    const target = dispatcher();
    expect((await failure(target, { op: 'train_dictionary', samples: [Buffer.from('a'), Buffer.from('b')] })).code).toBe(
      'training_failed',
    );
    expect((await failure(target, { op: 'compress', data, dictionary: Buffer.from('not a dictionary') })).code).toBe(
      'invalid_dictionary',
    );
  });
});

describe('argument errors', () => {
  const cases: Array<[string, Message, RegExp]> = [
    ['compress without data', { op: 'compress' }, /data/],
    ['an unknown codec', { op: 'compress', data, codec: 'gzip' }, /codec/],
    ['auto for compress', { op: 'compress', data, codec: 'auto' }, /codec/],
    ['a level out of range', { op: 'compress', data, codec: 'xz', level: 10 }, /the xz levels/],
    ['a level that is not an integer', { op: 'compress', data, level: 1.5 }, /level/],
    ['a level that is a string', { op: 'compress', data, level: '3' }, /level/],
    ['a dictionary with lz4', { op: 'compress', data, codec: 'lz4', dictionary: Buffer.alloc(300) }, /zstd only/],
    ['a dictionary with xz decompression', { op: 'decompress', data, codec: 'xz', dictionary: Buffer.alloc(300) }, /zstd only/],
    ['a dictionary that is not bin', { op: 'compress', data, dictionary: 'dict' }, /dictionary/],
    ['decompress with an unknown codec', { op: 'decompress', data, codec: 'lzma' }, /codec/],
    ['max_output over the cap', { op: 'decompress', data, max_output: MAX_DECOMPRESS_OUTPUT_BYTES + 1 }, /max_output/],
    ['a negative max_output', { op: 'decompress', data, max_output: -1 }, /max_output/],
    ['samples that are not an array', { op: 'train_dictionary', samples: data }, /samples/],
    ['a sample that is not bin', { op: 'train_dictionary', samples: [data, 'text'] }, /samples\[1\]/],
    ['max_bytes below 256', { op: 'train_dictionary', samples: [data], max_bytes: 100 }, /max_bytes/],
  ];
  for (const [name, message, pattern] of cases) {
    it(`refuses ${name}`, async () => {
      const error = await failure(dispatcher(), message);
      expect(error.code).toBe('invalid_argument');
      expect(error.message).toMatch(pattern);
    });
  }
});
