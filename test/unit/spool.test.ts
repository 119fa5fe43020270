/**
 * The spool (spec §4 `spool`, feed's `spool` argument): feeds that name a range of a
 * shared mapping the client rewrites as soon as the feed is answered. The registry must
 * copy whatever a session still has to scan, or `continue` would chunk the client's next
 * bytes; and every bad range or missing spool is an error naming the argument.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chunkBuffer, type Chunk } from '../../port/engine/chunk-session.js';
import { Dispatcher } from '../../port/dispatch.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../../port/frame.js';
import { createPortContext, type PortContext } from '../../port/ops/context.js';
import { MAX_SPOOL_BYTES } from '../../port/ops/spool.js';
import type { Message } from '../../port/protocol.js';
import { DEFAULT_BUDGET, SessionRegistry, type SessionStep } from '../../port/session.js';
import { callDispatcher, wireErrorOf } from '../support/dispatch-call.js';
import { seededBytes, structuredBytes } from '../support/random-bytes.js';

const MiB = 1024 * 1024;
const SMALL_BUDGET = { bytes: 1, ms: 60_000 };

const strip = (chunks: Chunk[]) =>
  chunks.map(({ offset, length, hash }) => ({ offset, length, hash: hash && Buffer.from(hash).toString('hex') }));

/**
 * Feeds `data` in pieces through one reused region of `spool`, as a spool client does:
 * write the piece, feed a view of it, and scribble over the region as soon as the feed's
 * reply is in (before any continue). Budgets of one byte make every feed stop early.
 */
function chunkThroughRegion(data: Uint8Array, pieceBytes: number, borrowed: boolean): Chunk[] {
  const registry = new SessionRegistry();
  const spool = new Uint8Array(pieceBytes);
  const id = registry.open({ preset: 'small' });
  const chunks: Chunk[] = [];
  let sawMore = false;
  for (let at = 0, round = 0; at < data.length; at += pieceBytes, round++) {
    const piece = data.subarray(at, at + pieceBytes);
    spool.set(piece);
    let step: SessionStep = registry.feed(id, spool.subarray(0, piece.length), SMALL_BUDGET, { borrowed });
    spool.set(seededBytes(spool.length, 1000 + round)); // the region is the client's again
    chunks.push(...step.chunks);
    while (step.more) {
      sawMore = true;
      step = registry.continue(id, SMALL_BUDGET);
      chunks.push(...step.chunks);
    }
  }
  for (let step = registry.finish(id); ; step = registry.continue(id)) {
    chunks.push(...step.chunks);
    if (!step.more) break;
  }
  expect(sawMore).toBe(true);
  return chunks;
}

describe('borrowed feeds (SessionRegistry#feed with borrowed)', () => {
  const data = structuredBytes(3 * MiB + 4321, 31);

  it('a region overwritten after a more: true reply still chunks exactly like one-shot chunking', () => {
    expect(strip(chunkThroughRegion(data, 600_000, true))).toEqual(strip(chunkBuffer(data, { preset: 'small' })));
  });

  it('(the same without borrowed chunks the overwritten bytes: the test above can fail)', () => {
    expect(strip(chunkThroughRegion(data, 600_000, false))).not.toEqual(strip(chunkBuffer(data, { preset: 'small' })));
  });

  it('a finish that takes over a borrowed feed reads the copy, not the region', () => {
    const registry = new SessionRegistry();
    const region = new Uint8Array(data);
    const id = registry.open({});
    const fed = registry.feed(id, region, SMALL_BUDGET, { borrowed: true });
    expect(fed.more).toBe(true);
    region.fill(0);
    const finished = registry.finish(id, { bytes: Number.MAX_SAFE_INTEGER, ms: 60_000 });
    expect(finished.more).toBe(false);
    expect(strip([...fed.chunks, ...finished.chunks])).toEqual(strip(chunkBuffer(data)));
  });
});

// ---------------------------------------------------------------------------------------
// Through the dispatcher, with a real mapped file.

function dispatcherWithContext(): { target: Dispatcher; context: PortContext } {
  const context = createPortContext({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES, maxSessions: 100 }, DEFAULT_BUDGET);
  return { target: new Dispatcher(context), context };
}

describe('the spool op and feed with spool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chunker-spool-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const spoolPath = join(dir, 'spool');
  const data = structuredBytes(MiB, 41);
  writeFileSync(spoolPath, data);

  it('maps the file and feeds ranges of it; the chunks equal inline feeding', async () => {
    const { target, context } = dispatcherWithContext();
    expect(await callDispatcher(target, { id: 1, op: 'spool', path: spoolPath, bytes: data.length })).toEqual({ id: 1, ok: true, bytes: data.length });
    expect(context.spool?.length).toBe(data.length);
    const viaSpool = await callDispatcher(target, { id: 2, op: 'open' });
    const inline = await callDispatcher(target, { id: 3, op: 'open' });
    for (const [offset, length] of [[0, 300_000], [300_000, 0], [300_000, data.length - 300_000]] as const) {
      const a = await callDispatcher(target, { id: 4, op: 'feed', session: viaSpool.session, spool: [offset, length] });
      const b = await callDispatcher(target, { id: 4, op: 'feed', session: inline.session, data: data.subarray(offset, offset + length) });
      expect(a).toEqual(b);
    }
    const a = await callDispatcher(target, { id: 6, op: 'finish', session: viaSpool.session });
    const b = await callDispatcher(target, { id: 6, op: 'finish', session: inline.session });
    expect(a).toEqual(b);
  });

  it('invalid_argument for a feed with both, neither, no spool attached, or a range outside it', async () => {
    const { target } = dispatcherWithContext();
    const { session } = await callDispatcher(target, { id: 1, op: 'open' });
    const feed = (args: Message) => callDispatcher(target, { id: 2, op: 'feed', session, ...args });
    expect(wireErrorOf(await feed({ spool: [0, 1] })).message).toMatch(/attached spool/);
    await callDispatcher(target, { id: 3, op: 'spool', path: spoolPath, bytes: 1000 });
    expect(wireErrorOf(await feed({ spool: [0, 1], data: new Uint8Array(1) })).message).toMatch(/exactly one of data and spool but received both/);
    expect(wireErrorOf(await feed({})).message).toMatch(/exactly one of data and spool but received neither/);
    expect(wireErrorOf(await feed({ spool: [999, 2] })).message).toMatch(/within the attached spool of 1000 bytes/);
    expect(wireErrorOf(await feed({ spool: [1001, 0] })).code).toBe('invalid_argument');
    expect(wireErrorOf(await feed({ spool: [0] })).message).toMatch(/an array \[offset, length\] for spool/);
    expect(wireErrorOf(await feed({ spool: 'x' })).code).toBe('invalid_argument');
    expect(wireErrorOf(await feed({ spool: [-1, 1] })).message).toMatch(/spool\[0\]/);
    expect(wireErrorOf(await feed({ spool: [0, 1.5] })).message).toMatch(/spool\[1\]/);
    // The session is untouched by all of that.
    expect((await feed({ spool: [999, 1] })).ok).toBe(true);
  });

  it('spool errors: io_error (not permanent) for a missing, short or non-regular file; invalid_argument for bad arguments', async () => {
    const { target, context } = dispatcherWithContext();
    const spool = (args: Message) => callDispatcher(target, { id: 1, op: 'spool', ...args });
    for (const args of [
      { path: join(dir, 'missing'), bytes: 10 },
      { path: spoolPath, bytes: data.length + 1 },
      { path: dir, bytes: 10 },
    ]) {
      const error = wireErrorOf(await spool(args));
      expect(error).toMatchObject({ code: 'io_error', permanent: false });
      expect(error.message).toMatch(/^spool: cannot/);
    }
    expect(wireErrorOf(await spool({ path: 'relative', bytes: 10 })).message).toMatch(/an absolute path for path/);
    expect(wireErrorOf(await spool({ path: spoolPath, bytes: 0 })).message).toMatch(/for bytes but received 0/);
    expect(wireErrorOf(await spool({ path: spoolPath, bytes: MAX_SPOOL_BYTES + 1 })).code).toBe('invalid_argument');
    expect(wireErrorOf(await spool({ bytes: 10 })).message).toMatch(/a string for path/);
    expect(context.spool).toBeNull();
  });

  it('a spool request releases the earlier spool, also when it fails', async () => {
    const { target, context } = dispatcherWithContext();
    await callDispatcher(target, { id: 1, op: 'spool', path: spoolPath, bytes: 100 });
    expect(context.spool?.length).toBe(100);
    await callDispatcher(target, { id: 2, op: 'spool', path: spoolPath, bytes: 200 });
    expect(context.spool?.length).toBe(200);
    wireErrorOf(await callDispatcher(target, { id: 3, op: 'spool', path: join(dir, 'missing'), bytes: 10 }));
    expect(context.spool).toBeNull();
  });

  it('hello announces the spool capability', async () => {
    const { target } = dispatcherWithContext();
    const hello = await callDispatcher(target, { id: 1, op: 'hello', protocol: 1 });
    expect(hello.capabilities).toContain('spool');
    expect(hello.ops).toContain('spool');
  });
});
