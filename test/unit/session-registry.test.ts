/**
 * Every error path of the session registry and of the requests that reach it: unknown,
 * busy, finishing, limit, bad arguments — plus the budget behaviour the errors depend on.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chunkBuffer, type Chunk } from '../../port/engine/chunk-session.js';
import { Dispatcher, portOps } from '../../port/dispatch.js';
import { ChunkerError } from '../../port/errors.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../../port/frame.js';
import { createPortContext, type OpHandler } from '../../port/ops/context.js';
import type { Message } from '../../port/protocol.js';
import { FIRST_SLICE_BYTES } from '../../port/slice-pacer.js';
import { DEFAULT_BUDGET, SessionRegistry, type Clock, type SessionStep } from '../../port/session.js';
import { chunkerErrorOf } from '../support/chunker-error.js';
import { callDispatcher, wireErrorOf } from '../support/dispatch-call.js';
import { seededBytes, structuredBytes } from '../support/random-bytes.js';

const MiB = 1024 * 1024;
const UNLIMITED = { bytes: Number.MAX_SAFE_INTEGER, ms: Number.MAX_SAFE_INTEGER };

const strip = (chunks: Chunk[]) =>
  chunks.map(({ offset, length, hash }) => ({ offset, length, hash: hash && Buffer.from(hash).toString('hex') }));

/** Continues until more is false, collecting every chunk. */
function drain(registry: SessionRegistry, id: number, step: SessionStep, budget = UNLIMITED): Chunk[] {
  const chunks = [...step.chunks];
  while (step.more) {
    step = registry.continue(id, budget);
    chunks.push(...step.chunks);
  }
  return chunks;
}

describe('session registry errors', () => {
  it('unknown_session for every request on an id that was never opened', () => {
    const registry = new SessionRegistry();
    for (const action of [
      () => registry.feed(7, new Uint8Array(1)),
      () => registry.continue(7),
      () => registry.finish(7),
      () => registry.close(7),
      () => registry.budgetOf(7),
    ]) {
      const error = chunkerErrorOf(action);
      expect(error.code).toBe('unknown_session');
      expect(error.permanent).toBe(true);
      expect(error.message).toMatch(/session 7/);
    }
  });

  it('unknown_session after close and after a finish that completed', () => {
    const registry = new SessionRegistry();
    const closed = registry.open({});
    registry.close(closed);
    expect(chunkerErrorOf(() => registry.feed(closed, new Uint8Array(1))).code).toBe('unknown_session');
    expect(chunkerErrorOf(() => registry.close(closed)).code).toBe('unknown_session');

    const finished = registry.open({});
    registry.feed(finished, seededBytes(1000, 1));
    const step = registry.finish(finished);
    expect(step.more).toBe(false);
    expect(step.chunks.map((chunk) => chunk.length)).toEqual([1000]);
    expect(chunkerErrorOf(() => registry.continue(finished)).code).toBe('unknown_session');
    expect(registry.size).toBe(0);
  });

  it('session_busy (not permanent) for a feed while an earlier feed has more, and the state is untouched', () => {
    const registry = new SessionRegistry();
    const data = structuredBytes(3 * MiB, 5);
    const id = registry.open({});
    const first = registry.feed(id, data, { bytes: 1, ms: 1000 });
    expect(first.more).toBe(true);
    const error = chunkerErrorOf(() => registry.feed(id, new Uint8Array(10)));
    expect(error.code).toBe('session_busy');
    expect(error.permanent).toBe(false);
    const rest = drain(registry, id, first);
    const step = registry.feed(id, new Uint8Array(0));
    expect(step.more).toBe(false);
    const last = registry.finish(id);
    expect(strip([...rest, ...last.chunks])).toEqual(strip(chunkBuffer(data)));
  });

  it('session_finishing (permanent) for a feed after a finish that still has more', () => {
    const registry = new SessionRegistry();
    const id = registry.open({ preset: 'small' });
    registry.feed(id, structuredBytes(60_000, 2));
    // Keep a long unscanned input pending into the finish: a 1-byte budget stops it early.
    const busy = registry.feed(id, structuredBytes(2 * MiB, 3), { bytes: 1, ms: 1000 });
    expect(busy.more).toBe(true);
    const finishing = registry.finish(id, { bytes: 1, ms: 1000 });
    expect(finishing.more).toBe(true);
    const error = chunkerErrorOf(() => registry.feed(id, new Uint8Array(1)));
    expect(error.code).toBe('session_finishing');
    expect(error.permanent).toBe(true);
    drain(registry, id, finishing);
    expect(registry.size).toBe(0);
  });

  it('a finish sent while a feed has more pending takes over the rest of that feed', () => {
    const registry = new SessionRegistry();
    const data = structuredBytes(3 * MiB, 14);
    const id = registry.open({});
    const fed = registry.feed(id, data, { bytes: 1, ms: 1000 });
    expect(fed.more).toBe(true);
    const finished = registry.finish(id, UNLIMITED);
    expect(finished.more).toBe(false);
    expect(strip([...fed.chunks, ...finished.chunks])).toEqual(strip(chunkBuffer(data)));
    expect(registry.size).toBe(0);
  });

  it('session_limit (not permanent) once max_sessions are open; closing one makes room', () => {
    const registry = new SessionRegistry({ maxSessions: 2 });
    const first = registry.open({});
    registry.open({});
    const error = chunkerErrorOf(() => registry.open({}));
    expect(error.code).toBe('session_limit');
    expect(error.permanent).toBe(false);
    expect(error.message).toMatch(/limit is 2/);
    registry.close(first);
    expect(registry.open({})).toBe(3);
  });

  it('invalid_argument for bad options, without consuming a session', () => {
    const registry = new SessionRegistry({ maxSessions: 1 });
    const error = chunkerErrorOf(() => registry.open({ minSize: 10 }));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toMatch(/min_size/);
    expect(registry.size).toBe(0);
    expect(registry.open({})).toBe(1);
  });
});

describe('session budgets', () => {
  it('stops once the byte budget is scanned and resumes to exactly the one-shot chunks', () => {
    const registry = new SessionRegistry();
    const data = structuredBytes(5 * MiB, 11);
    const id = registry.open({}, { bytes: MiB, ms: 60_000 });
    const first = registry.feed(id, data);
    expect(first.more).toBe(true);
    const scanned = first.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    expect(scanned).toBeGreaterThanOrEqual(MiB);
    expect(scanned).toBeLessThan(2 * MiB);
    const all = [...drain(registry, id, first, { bytes: MiB, ms: 60_000 }), ...registry.finish(id).chunks];
    expect(strip(all)).toEqual(strip(chunkBuffer(data)));
  });

  it('stops after one slice when the clock says the ms budget has passed', () => {
    let nowMs = 0;
    const clock: Clock = () => (nowMs += 50);
    const registry = new SessionRegistry({ now: clock });
    const data = structuredBytes(4 * MiB, 12);
    const id = registry.open({}, { bytes: 64 * MiB, ms: 10 });
    const first = registry.feed(id, data);
    expect(first.more).toBe(true);
    const scanned = first.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    expect(scanned).toBeGreaterThanOrEqual(FIRST_SLICE_BYTES);
    expect(scanned).toBeLessThan(FIRST_SLICE_BYTES + 300_000);
  });

  it('keeps no view of fed bytes once a feed completes, even when they came in a Buffer', () => {
    const registry = new SessionRegistry();
    const data = structuredBytes(700_000, 13);
    const reused = Buffer.from(data);
    const id = registry.open({});
    const fed = registry.feed(id, reused);
    expect(fed.more).toBe(false);
    reused.fill(0); // a caller reusing its buffer must not change the session's tail
    const all = [...fed.chunks, ...registry.finish(id).chunks];
    expect(strip(all)).toEqual(strip(chunkBuffer(data)));
  });

  it('continue with nothing pending returns an empty list at the current offset', () => {
    const registry = new SessionRegistry();
    const id = registry.open({ preset: 'small' });
    const fed = registry.feed(id, structuredBytes(200_000, 4));
    const end = fed.chunks.at(-1)!;
    const step = registry.continue(id);
    expect(step).toEqual({ chunks: [], offset: end.offset + end.length, more: false, hashing: true, stored: null });
  });

  it('counts bytes fed and chunks returned', () => {
    const registry = new SessionRegistry();
    const id = registry.open({ preset: 'small', hash: 'none' });
    const fed = registry.feed(id, structuredBytes(300_000, 6));
    const finished = registry.finish(id);
    expect(fed.hashing).toBe(false);
    expect(registry.counters.bytesIn).toBe(300_000);
    expect(registry.counters.chunksOut).toBe(fed.chunks.length + finished.chunks.length);
  });
});

// ---------------------------------------------------------------------------------------
// The same paths through the dispatcher, where arguments arrive as MessagePack values.

function dispatcher(ops?: Map<string, OpHandler>, maxSessions = 100): Dispatcher {
  const context = createPortContext({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES, maxSessions }, DEFAULT_BUDGET);
  return new Dispatcher(context, ops);
}

async function expectError(target: Dispatcher, message: Message, code: string, pattern?: RegExp): Promise<void> {
  const error = wireErrorOf(await callDispatcher(target, message));
  expect(error.code).toBe(code);
  if (pattern) expect(error.message).toMatch(pattern);
}

describe('bad arguments on the wire', () => {
  const target = dispatcher();
  const cases: Array<[string, Message, RegExp]> = [
    ['session not a uint', { op: 'feed', session: 'one', data: new Uint8Array(1) }, /for session but received "one"/],
    ['negative session', { op: 'continue', session: -1 }, /for session/],
    ['data not bin', { op: 'chunk', data: 'text' }, /Expected bin for data but received "text"/],
    ['data missing', { op: 'hash' }, /for data but received undefined/],
    ['options not a map', { op: 'open', options: [1] }, /Expected a map for options/],
    ['size out of range', { op: 'open', options: { min_size: 10 } }, /min_size but received 10/],
    ['size as string', { op: 'open', options: { max_size: '65536' } }, /max_size/],
    ['size above 2^53', { op: 'open', options: { avg_size: 2n ** 60n } }, /avg_size/],
    ['sizes out of order', { op: 'open', options: { min_size: 8192, avg_size: 4096, max_size: 65536 } }, /min_size <= avg_size/],
    ['unknown preset', { op: 'chunk', data: new Uint8Array(1), options: { preset: 'huge' } }, /preset/],
    ['normalization 4', { op: 'open', options: { normalization: 4 } }, /normalization/],
    ['negative seed', { op: 'open', options: { seed: -1 } }, /uint up to 2\^64-1 for seed/],
    ['seed as string', { op: 'open', options: { seed: '5' } }, /seed/],
    ['unknown hash', { op: 'open', options: { hash: 'md5' } }, /for hash but received "md5"/],
    ['budget not a map', { op: 'open', budget: 5 }, /Expected a map for budget/],
    ['budget bytes zero', { op: 'open', budget: { bytes: 0 } }, /budget\.bytes/],
    ['budget ms not a uint', { op: 'open', budget: { ms: 'soon' } }, /budget\.ms/],
    ['items not an array', { op: 'chunk_batch', items: new Uint8Array(3) }, /Expected an array for items/],
    ['an item not bin', { op: 'chunk_batch', items: [new Uint8Array(1), 'x'] }, /for items\[1\] but received "x"/],
    ['hash algorithm none', { op: 'hash', data: new Uint8Array(1), algorithm: 'none' }, /sha256 \| blake3 for algorithm/],
    ['relative path', { op: 'chunk_file', path: 'relative/file' }, /an absolute path for path/],
    ['path not a string', { op: 'chunk_file', path: 5 }, /a string for path/],
    ['protocol missing', { op: 'hello' }, /for protocol/],
  ];
  cases.forEach(([name, request, pattern], index) => {
    it(`invalid_argument: ${name}`, () => expectError(target, { id: index + 1, ...request }, 'invalid_argument', pattern));
  });

  it('unsupported_protocol for hello with another version', () =>
    expectError(target, { id: 100, op: 'hello', protocol: 2 }, 'unsupported_protocol', /protocol 1, not 2/));
});

describe('session errors on the wire', () => {
  it('unknown_session, session_busy, session_finishing, session_limit keep their permanence', async () => {
    const target = dispatcher(undefined, 1);
    await expectError(target, { id: 1, op: 'finish', session: 42 }, 'unknown_session');
    const opened = await callDispatcher(target, { id: 2, op: 'open', options: { preset: 'small' } });
    const session = opened.session as number;
    await expectError(target, { id: 3, op: 'open' }, 'session_limit', /limit is 1/);
    const fed = await callDispatcher(target, { id: 4, op: 'feed', session, data: structuredBytes(MiB, 8), budget: { bytes: 1 } });
    expect(fed.more).toBe(true);
    const busy = await callDispatcher(target, { id: 5, op: 'feed', session, data: new Uint8Array(1) });
    expect(busy.error).toMatchObject({ code: 'session_busy', permanent: false });
    const finishing = await callDispatcher(target, { id: 6, op: 'finish', session, budget: { bytes: 1 } });
    expect(finishing.more).toBe(true);
    const refused = await callDispatcher(target, { id: 7, op: 'feed', session, data: new Uint8Array(1) });
    expect(refused.error).toMatchObject({ code: 'session_finishing', permanent: true });
    let step = finishing;
    while (step.more) step = await callDispatcher(target, { id: 8, op: 'continue', session });
    await expectError(target, { id: 9, op: 'close', session }, 'unknown_session');
  });
});

describe('dispatcher failures', () => {
  it('an op that throws a plain error is answered with internal, and the next request is served', async () => {
    const ops = portOps();
    ops.set('explode', () => {
      throw new TypeError('boom');
    });
    const target = dispatcher(ops);
    const answer = await callDispatcher(target, { id: 1, op: 'explode' });
    expect(answer).toMatchObject({ id: 1, ok: false, error: { code: 'internal', message: 'TypeError: boom', permanent: false } });
    expect((await callDispatcher(target, { id: 2, op: 'stats' })).ok).toBe(true);
  });

  it('an async op that rejects is answered by id; a code the spec does not list travels as internal', async () => {
    const ops = portOps();
    ops.set('reject', () => Promise.reject(new ChunkerError('native_error', 'the addon said no')));
    const answer = await callDispatcher(dispatcher(ops), { id: 3, op: 'reject' });
    expect(answer.error).toEqual({ code: 'internal', message: 'native_error: the addon said no', permanent: false });
  });

  it('op names are not looked up on object prototypes', async () => {
    await expectError(dispatcher(), { id: 4, op: 'constructor' }, 'unknown_op');
    await expectError(dispatcher(), { id: 5, op: '__proto__' }, 'unknown_op');
  });
});

describe('chunk_file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chunker-chunk-file-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('gives the same chunks as chunk, also with a budget small enough to yield often', async () => {
    const data = structuredBytes(9 * MiB + 12_345, 21); // several reads, a partial last one
    const path = join(dir, 'input.bin');
    writeFileSync(path, data);
    const target = dispatcher();
    const options = { preset: 'small', hash: 'blake3' };
    const oneShot = await callDispatcher(target, { id: 1, op: 'chunk', data, options });
    for (const budget of [undefined, { bytes: 100_000, ms: 1 }]) {
      const fromFile = await callDispatcher(target, { id: 2, op: 'chunk_file', path, options, budget });
      expect(fromFile.size).toBe(data.length);
      expect(fromFile.chunks).toEqual(oneShot.chunks);
    }
  });

  it('an empty file has no chunks', async () => {
    const path = join(dir, 'empty.bin');
    writeFileSync(path, new Uint8Array(0));
    const answer = await callDispatcher(dispatcher(), { id: 1, op: 'chunk_file', path });
    expect(answer).toMatchObject({ ok: true, size: 0, chunks: { offset: 0, lengths: [] } });
  });

  it('not_found for a missing path, io_error (not permanent) for a directory', async () => {
    await expectError(dispatcher(), { id: 1, op: 'chunk_file', path: join(dir, 'missing') }, 'not_found', /No file at/);
    await expectError(dispatcher(), { id: 2, op: 'chunk_file', path: join(dir, 'missing', 'below') }, 'not_found');
    const answer = await callDispatcher(dispatcher(), { id: 3, op: 'chunk_file', path: dir });
    expect(answer.error).toMatchObject({ code: 'io_error', permanent: false });
    expect((answer.error as { message: string }).message).toMatch(/EISDIR/);
  });

  it('validates the options before touching the file', async () => {
    const request = { id: 1, op: 'chunk_file', path: join(dir, 'missing'), options: { hash: 'md5' } };
    await expectError(dispatcher(), request, 'invalid_argument', /for hash/);
  });
});
