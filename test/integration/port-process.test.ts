/**
 * The real port program (dist/port/main.js, built by `npx tsc -p tsconfig.build.json`)
 * spoken to over its stdin/stdout with frames, as the Elixir side does.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, createWriteStream, ftruncateSync, mkdtempSync, openSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../port/frame.js';
import { loadFixture, loadVectorCases } from '../support/fastcdc-vectors.js';
import { PortClient, expandChunkList, requestFrame, type ComparableChunk, type Message } from '../support/port-client.js';
import { seededBytes, structuredBytes } from '../support/random-bytes.js';
import { hexBytes, loadValueVectors } from '../support/vector-json.js';

const MiB = 1024 * 1024;
const ports: PortClient[] = [];
const tempDir = mkdtempSync(join(tmpdir(), 'chunker-port-'));

function startPort(args: string[] = []): PortClient {
  const port = PortClient.start(args);
  ports.push(port);
  return port;
}

afterEach(() => {
  for (const port of ports.splice(0)) port.stop();
});
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

/** Deterministic pseudo-random integers (mulberry32), so a failure replays from its seed. */
function randomInts(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % below) >>> 0;
  };
}

/** Cuts `data` into random slices of 0..maxSlice bytes (empty feeds included on purpose). */
function randomSlices(data: Uint8Array, seed: number, maxSlice: number): Uint8Array[] {
  const next = randomInts(seed);
  const slices: Uint8Array[] = [];
  for (let at = 0; at < data.length; ) {
    const size = Math.min(next(maxSlice + 1), data.length - at);
    slices.push(data.subarray(at, at + size));
    at += size;
  }
  return slices;
}

/** open → feed every slice (continuing whenever more) → finish; every chunk, in order. */
async function chunkThroughSession(
  port: PortClient,
  slices: Uint8Array[],
  options: Message,
  budget?: Message,
): Promise<{ chunks: ComparableChunk[]; sawMore: boolean }> {
  const { session } = await port.ok('open', { options });
  const chunks: ComparableChunk[] = [];
  let sawMore = false;
  const collect = async (reply: Message): Promise<void> => {
    let step = reply;
    for (;;) {
      if (step.ok !== true) throw new Error(`session ${session}: ${JSON.stringify(step.error)}`);
      chunks.push(...expandChunkList(step.chunks));
      if (step.more !== true) return;
      sawMore = true;
      step = await port.request('continue', { session, ...(budget ? { budget } : {}) });
    }
  };
  for (const data of slices) await collect(await port.request('feed', { session, data, ...(budget ? { budget } : {}) }));
  await collect(await port.request('finish', { session, ...(budget ? { budget } : {}) }));
  const closed = await port.request('close', { session });
  expect((closed.error as { code: string }).code).toBe('unknown_session'); // finish closed it
  return { chunks, sawMore };
}

async function chunkOneShot(port: PortClient, data: Uint8Array, options: Message): Promise<ComparableChunk[]> {
  return expandChunkList((await port.ok('chunk', { data, options })).chunks);
}

const vectorOptions = (c: { minSize: number; avgSize: number; maxSize: number; normalization: number }) => ({
  min_size: c.minSize,
  avg_size: c.avgSize,
  max_size: c.maxSize,
  normalization: c.normalization,
});

describe('port process', () => {
  it('answers hello as spec §4 describes', async () => {
    const port = startPort();
    const reply = await port.ok('hello', { protocol: 1, client: 'vitest' });
    expect(reply).toMatchObject({
      protocol: 1,
      hashes: ['sha256', 'blake3', 'none'],
      max_frame_bytes: 64 * MiB,
      default_budget: { bytes: 16 * MiB, ms: 10 },
      presets: { nif: { min_size: 262_144, avg_size: 1_048_576, max_size: 4_194_304 } },
    });
    const ops = ['hello', 'open', 'feed', 'continue', 'finish', 'close', 'chunk', 'chunk_batch', 'chunk_file', 'hash', 'stats', 'spool'];
    ops.push('compress', 'decompress', 'train_dictionary');
    ops.push('store_stat', 'store_get', 'store_put', 'store_delete', 'store_list', 'store_upload');
    expect([...(reply.ops as string[])].sort()).toEqual(ops.sort());
    expect(reply.capabilities).toEqual(['spool', 'compression', 'stores', 'session_compression']);
    expect(typeof reply.version).toBe('string');
  });

  it('answers the golden request frames with exactly the golden reply frames', async () => {
    const port = startPort();
    const vectors = [...loadValueVectors().values()].flat();
    const byName = new Map(vectors.map((vector) => [vector.name, vector]));
    const pairs = vectors.filter((vector) => vector.answers !== undefined && vector.name !== 'reply.hello');
    expect(pairs.length).toBeGreaterThanOrEqual(4);
    for (const reply of pairs) {
      const request = byName.get(reply.answers!)!;
      // A reply that depends on earlier requests (open, feed) gets a fresh port for them.
      const target = reply.after === undefined ? port : startPort();
      for (const name of reply.after ?? []) {
        const earlier = byName.get(name)!;
        target.sendRaw(hexBytes(earlier.hex));
        expect((await target.reply((earlier.value as { id: number }).id)).ok, `${reply.name}: ${name}`).toBe(true);
      }
      target.sendRaw(hexBytes(request.hex));
      const id = (reply.value as { id: number }).id;
      await target.reply(id);
      expect(target.replyFrames.get(id)!.toString('hex'), reply.name).toBe(reply.hex);
    }
  });

  it('feeding the shared fixture in random slices gives the shared vectors and the one-shot chunks', async () => {
    const port = startPort();
    const cases = loadVectorCases();
    expect(cases.length).toBeGreaterThanOrEqual(4);
    for (const [index, vector] of cases.entries()) {
      const options = vectorOptions(vector);
      const oneShot = await chunkOneShot(port, vector.input, options);
      expect(oneShot.map(({ offset, length }) => ({ offset, length }))).toEqual(
        vector.chunks.map(({ offset, length }) => ({ offset, length })),
      );
      for (const seed of [1, 2, 3]) {
        const slices = randomSlices(vector.input, seed * 100 + index, seed === 1 ? 700 : 40_000);
        const { chunks } = await chunkThroughSession(port, slices, options);
        expect(chunks, `${vector.name} seed ${seed}`).toEqual(oneShot);
      }
    }
  });

  it('a small budget replies more: true, and continue delivers the rest', async () => {
    const port = startPort();
    const data = structuredBytes(8 * MiB, 31);
    const options = { preset: 'small' };
    const { session } = await port.ok('open', { options, budget: { bytes: MiB } });
    const first = await port.ok('feed', { session, data });
    expect(first.more).toBe(true);
    expect(expandChunkList(first.chunks).reduce((sum, chunk) => sum + chunk.length, 0)).toBeLessThan(2 * MiB);
    const refused = await port.request('feed', { session, data: new Uint8Array(1) });
    expect(refused.error).toMatchObject({ code: 'session_busy', permanent: false });
    const chunks = expandChunkList(first.chunks);
    let step = first;
    while (step.more === true) {
      step = await port.ok('continue', { session });
      chunks.push(...expandChunkList(step.chunks));
    }
    chunks.push(...expandChunkList((await port.ok('finish', { session })).chunks));
    expect(chunks).toEqual(await chunkOneShot(port, data, options));

    const budgeted = await chunkThroughSession(port, randomSlices(data, 9, 3 * MiB), options, { bytes: 300_000, ms: 1 });
    expect(budgeted.sawMore).toBe(true);
    expect(budgeted.chunks).toEqual(chunks);
  });

  it('serves many concurrent, interleaved sessions', async () => {
    const port = startPort();
    const sessions = Array.from({ length: 40 }, (_, i) => ({
      data: i % 2 === 0 ? structuredBytes(200_000 + i * 3_001, i) : seededBytes(150_000 + i * 997, i),
      options: { preset: 'small', hash: (['sha256', 'blake3', 'none'] as const)[i % 3], seed: i % 5 === 0 ? 2n ** 63n + BigInt(i) : i },
    }));
    const results = await Promise.all(
      sessions.map(({ data, options }, i) => chunkThroughSession(port, randomSlices(data, i, 20_000), options)),
    );
    for (const [i, { data, options }] of sessions.entries()) {
      expect(results[i]!.chunks, `session ${i}`).toEqual(await chunkOneShot(port, data, options));
    }
    const stats = await port.ok('stats');
    expect(stats.sessions).toBe(0);
    expect(stats.bytes_in).toBeGreaterThan(2 * sessions.reduce((sum, { data }) => sum + data.length, 0) - 1);
  });

  it('chunk_file gives the chunks of chunk, and the port keeps serving while the file is read', async () => {
    const port = startPort();
    const data = structuredBytes(11 * MiB + 7, 41);
    const options = { preset: 'small' };
    const expected = await chunkOneShot(port, data, options);

    const path = join(tempDir, 'file.bin');
    writeFileSync(path, data);
    const fromFile = await port.ok('chunk_file', { path, options });
    expect(fromFile.size).toBe(data.length);
    expect(expandChunkList(fromFile.chunks)).toEqual(expected);

    // A FIFO lets the test hold the read half-way and prove other requests are answered.
    const fifo = join(tempDir, 'input.fifo');
    execFileSync('mkfifo', [fifo]);
    const pending = port.request('chunk_file', { path: fifo, options });
    const writer = createWriteStream(fifo);
    const half = 5 * MiB;
    await new Promise<void>((resolve, reject) => writer.write(data.subarray(0, half), (error) => (error ? reject(error) : resolve())));
    const hashed = await port.ok('hash', { data: data.subarray(0, 16) });
    expect((hashed.hash as Uint8Array).length).toBe(32);
    expect(await port.ok('stats')).toMatchObject({ ok: true });
    writer.end(data.subarray(half));
    const fromFifo = await pending;
    expect(fromFifo.size).toBe(data.length);
    expect(expandChunkList(fromFifo.chunks)).toEqual(expected);

    const missing = await port.request('chunk_file', { path: join(tempDir, 'missing'), options });
    expect(missing.error).toMatchObject({ code: 'not_found', permanent: true });
  });

  it('answers malformed MessagePack with an invalid_frame event and keeps serving', async () => {
    const port = startPort();
    port.sendRaw(encodeFrame(Uint8Array.of(0xc1)));
    port.sendRaw(encodeFrame(Uint8Array.of(0x82, 0xa2, 0x69, 0x64))); // a map cut short
    port.sendRaw(encodeFrame(new Uint8Array(0)));
    for (let i = 0; i < 3; i++) {
      expect(await port.nextEvent()).toMatchObject({ event: 'error', error: { code: 'invalid_frame', permanent: true } });
    }
    expect(await port.ok('hello', { protocol: 1 })).toMatchObject({ protocol: 1 });
  });

  it('rejects an oversized frame at its header, skips its payload, and keeps serving', async () => {
    const port = startPort(['--max-frame-bytes', '1024']);
    const hello = await port.ok('hello', { protocol: 1 });
    expect(hello.max_frame_bytes).toBe(1024);
    const oversized = requestFrame({ id: 999, op: 'hash', data: new Uint8Array(5000) });
    // Header first: the event must come before any payload byte is sent.
    port.sendRaw(oversized.subarray(0, 4));
    expect(await port.nextEvent()).toMatchObject({ event: 'error', error: { code: 'frame_too_large', permanent: true } });
    for (let at = 4; at < oversized.length; at += 777) port.sendRaw(oversized.subarray(at, at + 777));
    const reply = await port.ok('hash', { data: new Uint8Array(900) });
    expect((reply.hash as Uint8Array).length).toBe(32);
    const stats = await port.ok('stats');
    expect(stats.requests).toBe(3); // the oversized request was never seen
  });

  it('answers a request without a usable id with an invalid_request event', async () => {
    const port = startPort();
    port.send({ op: 'stats' });
    expect(await port.nextEvent()).toMatchObject({ event: 'error', error: { code: 'invalid_request' } });
    port.send({ id: -5, op: 'stats' });
    expect(await port.nextEvent()).toMatchObject({ event: 'error', error: { code: 'invalid_request' } });
    port.send({ id: 12 });
    expect(await port.reply(12)).toMatchObject({ id: 12, ok: false, error: { code: 'invalid_request' } });
    expect(await port.ok('stats')).toMatchObject({ ok: true });
  });

  it('exits with status 0 when stdin closes, after answering everything it owes', async () => {
    const port = startPort();
    const path = join(tempDir, 'owed.bin');
    writeFileSync(path, structuredBytes(24 * MiB, 51));
    const ids = [
      port.post('chunk_file', { path }),
      port.post('hello', { protocol: 1 }),
      port.post('chunk', { data: seededBytes(MiB, 3) }),
    ];
    const replies = ids.map((id) => port.reply(id));
    const exit = await port.endInput();
    expect(exit).toEqual({ code: 0, signal: null });
    for (const reply of await Promise.all(replies)) expect(reply.ok).toBe(true);
    expect(port.stderr).toBe('');
  });

  it('delivers every reply intact when the client stops reading for a while (stdout backpressure)', async () => {
    const port = startPort();
    port.child.stdout.pause();
    const options = { min_size: 64, avg_size: 256, max_size: 1024 };
    const inputs = Array.from({ length: 200 }, (_, i) => seededBytes(64 * 1024, 1000 + i));
    const ids = inputs.map((data) => port.post('chunk', { data, options }));
    // Long enough for the port to fill the pipe and stall; correctness does not depend on it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(port.replyFrames.size).toBe(0);
    // A stalled port stops reading requests: most of the 12.5 MiB sent must still be waiting
    // on this side of the pipe (a port that kept reading would hold every reply in memory).
    expect(port.child.stdin.writableLength).toBeGreaterThan(8 * MiB);
    port.child.stdout.resume();
    const replies = await Promise.all(ids.map((id) => port.reply(id)));
    let replyBytes = 0;
    for (const [i, reply] of replies.entries()) {
      replyBytes += port.replyFrames.get(ids[i]!)!.length;
      expect(reply.ok).toBe(true);
      const chunks = expandChunkList(reply.chunks);
      expect(chunks.reduce((sum, chunk) => sum + chunk.length, 0)).toBe(inputs[i]!.length);
    }
    // Far more than a pipe (64 KiB) and a paused reader hold, so the port had to wait for 'drain'.
    expect(replyBytes).toBeGreaterThan(MiB);
    expect(await port.endInput()).toEqual({ code: 0, signal: null });
  });

  it('exits quietly when its stdout reader goes away (EPIPE)', async () => {
    const port = startPort();
    await port.ok('hello', { protocol: 1 });
    port.child.stdout.destroy();
    for (let i = 0; i < 20; i++) port.post('chunk', { data: seededBytes(64 * 1024, i) });
    const exit = await port.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(port.stderr).not.toMatch(/Error|\n\s+at /);
  });

  it('refuses a malformed command line with status 2 and prints nothing to stdout', async () => {
    const port = startPort(['--max-frame-bytes', 'lots']);
    let stdout = 0;
    port.child.stdout.on('data', (bytes: Buffer) => (stdout += bytes.length));
    expect(await port.exited).toEqual({ code: 2, signal: null });
    expect(port.stderr).toMatch(/--max-frame-bytes needs an integer/);
    expect(stdout).toBe(0);
  });

  it('enforces --max-sessions', async () => {
    const port = startPort(['--max-sessions=2']);
    await port.ok('open');
    await port.ok('open');
    expect((await port.request('open')).error).toMatchObject({ code: 'session_limit', permanent: false });
    expect(await port.ok('stats')).toMatchObject({ sessions: 2, max_sessions: 2 });
  });

  it('uses the fixture the shared vectors describe', () => {
    expect(loadFixture().length).toBe(109_466);
  });
});

describe('port process: the spool (feeds through a shared file)', () => {
  const SLOT_BYTES = 2 * MiB;
  const SLOTS = 3;

  /** A spool file as a client makes one: sized, written with pwrite, fd kept open. */
  function createSpool(name: string): { path: string; fd: number } {
    const path = join(tempDir, name);
    const fd = openSync(path, 'w+');
    ftruncateSync(fd, SLOT_BYTES * SLOTS);
    return { path, fd };
  }

  it('random slices fed as spool ranges, each region overwritten after its reply, give the one-shot chunks', async () => {
    const port = startPort();
    const spool = createSpool('spool-random');
    try {
      expect(await port.ok('spool', { path: spool.path, bytes: SLOT_BYTES * SLOTS })).toMatchObject({ bytes: SLOT_BYTES * SLOTS });
      // The client's part of the protocol: the mapping keeps the file alive once unlinked.
      unlinkSync(spool.path);
      const data = structuredBytes(9 * MiB + 777, 51);
      for (const [seed, options, budget] of [
        [1, { preset: 'small', hash: 'blake3' }, undefined],
        [2, {}, { bytes: 100_000, ms: 1 }],
        [3, { hash: 'none' }, { bytes: 1 }],
      ] as const) {
        const next = randomInts(seed);
        const { session } = await port.ok('open', { options, ...(budget ? { budget } : {}) });
        const chunks: ComparableChunk[] = [];
        let sawMore = false;
        for (const [index, slice] of randomSlices(data, seed, SLOT_BYTES).entries()) {
          // Any offset within a rotating slot, so ranges start anywhere in the file.
          const slot = index % SLOTS;
          const offset = slot * SLOT_BYTES + next(SLOT_BYTES - slice.length + 1);
          writeSync(spool.fd, slice, 0, slice.length, offset);
          let step = await port.ok('feed', { session, spool: [offset, slice.length] });
          writeSync(spool.fd, seededBytes(slice.length, 9_000 + index), 0, slice.length, offset);
          chunks.push(...expandChunkList(step.chunks));
          while (step.more === true) {
            sawMore = true;
            step = await port.ok('continue', { session });
            chunks.push(...expandChunkList(step.chunks));
          }
        }
        for (let step = await port.ok('finish', { session }); ; step = await port.ok('continue', { session })) {
          chunks.push(...expandChunkList(step.chunks));
          if (step.more !== true) break;
        }
        if (budget !== undefined) expect(sawMore, `seed ${seed}`).toBe(true);
        expect(chunks, `seed ${seed}`).toEqual(await chunkOneShot(port, data, options));
      }
      expect((await port.ok('stats')).bytes_in).toBe(3 * data.length * 2);
    } finally {
      closeSync(spool.fd);
    }
  });

  it('refuses bad spool requests and bad spool feeds, and keeps serving', async () => {
    const port = startPort();
    const { session } = await port.ok('open');
    const feedError = async (args: Message) => (await port.request('feed', { session, ...args })).error as Message;

    expect(await feedError({ spool: [0, 10] })).toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/attached spool/) });
    const missing = await port.request('spool', { path: join(tempDir, 'no-such-spool'), bytes: 10 });
    expect(missing.error).toMatchObject({ code: 'io_error', permanent: false, message: expect.stringMatching(/No such file/) });
    const relative = await port.request('spool', { path: 'spool', bytes: 10 });
    expect(relative.error).toMatchObject({ code: 'invalid_argument', message: expect.stringMatching(/absolute path/) });
    const spool = createSpool('spool-errors');
    try {
      const tooLong = await port.request('spool', { path: spool.path, bytes: SLOT_BYTES * SLOTS + 1 });
      expect(tooLong.error).toMatchObject({ code: 'io_error', message: expect.stringMatching(/holds only/) });
      await port.ok('spool', { path: spool.path, bytes: SLOT_BYTES });

      expect(await feedError({ spool: [SLOT_BYTES - 5, 6] })).toMatchObject({
        code: 'invalid_argument',
        message: expect.stringMatching(new RegExp(`within the attached spool of ${SLOT_BYTES} bytes`)),
      });
      expect(await feedError({ spool: [0, 1], data: new Uint8Array(1) })).toMatchObject({
        code: 'invalid_argument',
        message: expect.stringMatching(/exactly one of data and spool but received both/),
      });
      expect(await feedError({ spool: [1, 2, 3] })).toMatchObject({ code: 'invalid_argument' });

      // A failed spool request leaves no spool attached.
      expect((await port.request('spool', { path: tempDir, bytes: 10 })).error).toMatchObject({ code: 'io_error' });
      expect(await feedError({ spool: [0, 1] })).toMatchObject({ message: expect.stringMatching(/attached spool/) });

      const step = await port.ok('feed', { session, data: new Uint8Array(10) });
      expect(step.more).toBe(false);
      expect(expandChunkList((await port.ok('finish', { session })).chunks)).toEqual([
        expect.objectContaining({ offset: 0, length: 10 }),
      ]);
    } finally {
      closeSync(spool.fd);
    }
  });
});
