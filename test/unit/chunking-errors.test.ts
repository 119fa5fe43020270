import { describe, expect, it } from 'vitest';
import { chunkBatch, chunkBuffer, feed, finish, openSession, resume } from '../../port/engine/chunk-session.js';
import type { ChunkingOptions } from '../../port/engine/chunking-options.js';
import { chunkerErrorOf } from '../support/chunker-error.js';

function expectError(action: () => unknown, code: string, pattern: RegExp): void {
  const error = chunkerErrorOf(action);
  expect(error.code).toBe(code);
  expect(error.message).toMatch(pattern);
}

describe('invalid chunking options are rejected with a message naming the option', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['min below bound', { minSize: 63 }, /between 64 and 1048576 for min_size but received 63/],
    ['min above bound', { minSize: 1_048_577, avgSize: 2_000_000, maxSize: 4_000_000 }, /min_size/],
    ['avg below bound', { minSize: 64, avgSize: 255, maxSize: 1024 }, /for avg_size but received 255/],
    ['avg above bound', { avgSize: 4_194_305, maxSize: 8_000_000 }, /avg_size/],
    ['max below bound', { minSize: 64, avgSize: 256, maxSize: 1023 }, /for max_size but received 1023/],
    ['max above bound', { maxSize: 16_777_217 }, /max_size/],
    ['max beyond 32 bits', { maxSize: 2 ** 32 + 1024 }, /max_size/],
    ['min greater than avg', { minSize: 8192, avgSize: 4096, maxSize: 65_536 }, /min_size <= avg_size <= max_size/],
    ['avg greater than max', { minSize: 1024, avgSize: 65_536, maxSize: 32_768 }, /min_size <= avg_size <= max_size/],
    ['fractional size', { minSize: 4096.5 }, /integer .*for min_size but received 4096.5/],
    ['NaN size', { avgSize: Number.NaN }, /avg_size/],
    ['size as string', { maxSize: '65536' }, /for max_size but received "65536"/],
    ['level 4', { normalization: 4 }, /between 0 and 3 for normalization but received 4/],
    ['negative level', { normalization: -1 }, /normalization/],
    ['negative seed', { seed: -1n }, /unsigned 64-bit bigint for seed but received -1n/],
    ['seed over 64 bits', { seed: 1n << 64n }, /seed/],
    ['seed as number', { seed: 5 }, /bigint for seed but received 5/],
    ['unknown hash', { hash: 'md5' }, /sha256 \| blake3 \| none for hash but received "md5"/],
    ['unknown preset', { preset: 'huge' }, /one of default, nif, small for preset/],
  ];
  for (const [name, options, pattern] of cases) {
    it(name, () => expectError(() => openSession(options as ChunkingOptions), 'invalid_argument', pattern));
  }

  it('a level that leaves no mask for the average size is refused by the native layer', () => {
    expectError(
      () => openSession({ minSize: 1_048_576, avgSize: 4_194_304, maxSize: 16_777_216, normalization: 3 }),
      'invalid_argument',
      /normalization level/,
    );
  });

  it('options that are not an object are refused', () => {
    expectError(() => openSession('fast' as unknown as ChunkingOptions), 'invalid_argument', /an object for options/);
  });
});

describe('session misuse gives clear errors and leaves the state usable', () => {
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 7919) % 251);

  it('feeding something that is not bytes', () => {
    expectError(() => feed(openSession(), 'text' as unknown as Uint8Array), 'invalid_argument', /Uint8Array/);
  });

  it('feeding after finish', () => {
    const done = finish(openSession()).state;
    expect(done.finished).toBe(true);
    expectError(() => feed(done, bytes), 'session_finished', /already finished/);
    expectError(() => resume(done), 'session_finished', /already finished/);
  });

  it('feeding again before a budget-limited feed is drained', () => {
    const step = feed(openSession({ preset: 'small' }), bytes, 1000);
    expect(step.more).toBe(true);
    expectError(() => feed(step.state, bytes), 'session_busy', /resume/);
    // The state that refused the feed still completes normally.
    let next = resume(step.state, Number.MAX_SAFE_INTEGER);
    expect(next.more).toBe(false);
    next = finish(next.state);
    expect(next.state.finished).toBe(true);
  });

  it('feeding during a budget-limited finish', () => {
    const step = finish(feed(openSession({ preset: 'small' }), bytes, 1000).state, 1000);
    expect(step.more).toBe(true);
    expectError(() => feed(step.state, bytes), 'session_finishing', /no more input/);
  });

  it('a budget that is not a positive integer', () => {
    expectError(() => feed(openSession(), bytes, 0), 'invalid_argument', /byte_budget/);
    expectError(() => feed(openSession(), bytes, 1.5), 'invalid_argument', /byte_budget/);
  });

  it('a batch entry that is not bytes names its index', () => {
    expectError(() => chunkBatch([bytes, 42 as unknown as Uint8Array]), 'invalid_argument', /buffers\[1\]/);
  });

  it('empty input gives no chunks', () => {
    expect(chunkBuffer(new Uint8Array(0))).toEqual([]);
  });
});
