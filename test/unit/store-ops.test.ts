import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from '@msgpack/msgpack';
import { afterAll, describe, expect, it } from 'vitest';
import { Dispatcher } from '../../port/dispatch.js';
import { createPortContext } from '../../port/ops/context.js';
import { LIST_EVENT_OBJECTS } from '../../port/ops/store.js';
import type { Message } from '../../port/protocol.js';
import { DEFAULT_BUDGET } from '../../port/session.js';
import { callDispatcher, wireErrorOf } from '../support/dispatch-call.js';
import { seededBytes } from '../support/random-bytes.js';

const MAX_FRAME_BYTES = 1 << 20;

function newDispatcher(): Dispatcher {
  return new Dispatcher(createPortContext({ maxFrameBytes: MAX_FRAME_BYTES, maxSessions: 8 }, DEFAULT_BUDGET));
}

/** Every message a request produces (events first, then the reply). */
async function allAnswers(dispatcher: Dispatcher, message: Message): Promise<Message[]> {
  const sent: Message[] = [];
  await dispatcher.handlePayload(encode(message), (answer) => sent.push(answer));
  return sent;
}

describe('store ops', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chunker-store-ops-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('puts, stats, gets (whole and ranged) and deletes through one kept-open store', async () => {
    const dispatcher = newDispatcher();
    const url = 'memory:';
    const data = seededBytes(5000, 1);
    expect(await callDispatcher(dispatcher, { id: 1, op: 'store_stat', url, name: 'a/b' })).toEqual({ id: 1, ok: true, exists: false });
    expect(await callDispatcher(dispatcher, { id: 2, op: 'store_put', url, name: 'a/b', data })).toEqual({ id: 2, ok: true, size: 5000 });
    expect(await callDispatcher(dispatcher, { id: 3, op: 'store_stat', url, name: 'a/b' })).toEqual({ id: 3, ok: true, exists: true, size: 5000 });
    const whole = await callDispatcher(dispatcher, { id: 4, op: 'store_get', url, name: 'a/b' });
    expect(Buffer.from(whole.data as Uint8Array).equals(Buffer.from(data))).toBe(true);
    const ranged = await callDispatcher(dispatcher, { id: 5, op: 'store_get', url, name: 'a/b', offset: 100, length: 50 });
    expect(Buffer.from(ranged.data as Uint8Array).equals(Buffer.from(data.subarray(100, 150)))).toBe(true);
    expect(await callDispatcher(dispatcher, { id: 6, op: 'store_delete', url, name: 'a/b' })).toEqual({ id: 6, ok: true });
    expect(wireErrorOf(await callDispatcher(dispatcher, { id: 7, op: 'store_get', url, name: 'a/b' })).code).toBe('not_found');
  });

  it('writes a file the port reads itself, and refuses relative paths and missing files', async () => {
    const dispatcher = newDispatcher();
    const path = join(dir, 'object.bin');
    const data = seededBytes(3000, 2);
    writeFileSync(path, data);
    expect(await callDispatcher(dispatcher, { id: 1, op: 'store_put', url: 'memory:', name: 'f', path })).toEqual({ id: 1, ok: true, size: 3000 });
    const back = await callDispatcher(dispatcher, { id: 2, op: 'store_get', url: 'memory:', name: 'f' });
    expect(Buffer.from(back.data as Uint8Array).equals(Buffer.from(data))).toBe(true);
    expect(wireErrorOf(await callDispatcher(dispatcher, { id: 3, op: 'store_put', url: 'memory:', name: 'f', path: 'rel/path' })).code).toBe('invalid_argument');
    expect(wireErrorOf(await callDispatcher(dispatcher, { id: 4, op: 'store_put', url: 'memory:', name: 'f', path: join(dir, 'missing') })).code).toBe('not_found');
    expect(wireErrorOf(await callDispatcher(dispatcher, { id: 5, op: 'store_put', url: 'memory:', name: 'f', path, data })).code).toBe('invalid_argument');
  });

  it('refuses a whole-object get that cannot fit one reply, and serves it in ranges', async () => {
    const dispatcher = newDispatcher();
    const data = seededBytes(MAX_FRAME_BYTES + 10, 3);
    await callDispatcher(dispatcher, { id: 1, op: 'store_put', url: 'memory:', name: 'big', data });
    const error = wireErrorOf(await callDispatcher(dispatcher, { id: 2, op: 'store_get', url: 'memory:', name: 'big' }));
    expect(error.code).toBe('invalid_argument');
    expect(error.message).toMatch(/ranges/);
    const tail = await callDispatcher(dispatcher, { id: 3, op: 'store_get', url: 'memory:', name: 'big', offset: MAX_FRAME_BYTES, length: 100 });
    expect((tail.data as Uint8Array).length).toBe(10);
  });

  it('streams a listing as objects events of bounded size, then the count', async () => {
    const dispatcher = newDispatcher();
    const count = LIST_EVENT_OBJECTS + 7;
    for (let index = 0; index < count; index++) {
      await callDispatcher(dispatcher, { id: index + 1, op: 'store_put', url: 'memory:', name: `chunks/${index}`, data: new Uint8Array(index % 5) });
    }
    await callDispatcher(dispatcher, { id: 9999, op: 'store_put', url: 'memory:', name: 'other', data: new Uint8Array(1) });
    const answers = await allAnswers(dispatcher, { id: 10_000, op: 'store_list', url: 'memory:', prefix: 'chunks/' });
    const reply = answers.at(-1)!;
    const events = answers.slice(0, -1);
    expect(reply).toEqual({ id: 10_000, ok: true, count });
    expect(events.every((event) => event.event === 'objects' && event.ref === 10_000)).toBe(true);
    expect(events.map((event) => (event.names as string[]).length)).toEqual([LIST_EVENT_OBJECTS, 7]);
    const listed = new Map(events.flatMap((event) => (event.names as string[]).map((name, i) => [name, (event.sizes as number[])[i]])));
    expect(listed.size).toBe(count);
    expect(listed.get('chunks/12')).toBe(2);
  });

  it('answers bad URLs and names with clear errors', async () => {
    const dispatcher = newDispatcher();
    expect(wireErrorOf(await callDispatcher(dispatcher, { id: 1, op: 'store_stat', url: 'gopher://x/y', name: 'a' })).code).toBe('store_config');
    expect(wireErrorOf(await callDispatcher(dispatcher, { id: 2, op: 'store_stat', url: 'not a url', name: 'a' })).code).toBe('invalid_argument');
    expect(wireErrorOf(await callDispatcher(dispatcher, { id: 3, op: 'store_stat', url: 'memory:', name: '../etc/passwd' })).code).toBe('invalid_argument');
    expect(wireErrorOf(await callDispatcher(dispatcher, { id: 4, op: 'store_stat', url: 'memory:', name: 'a', store_options: 5 })).code).toBe('invalid_argument');
  });
});

describe('store_upload', () => {
  const work = mkdtempSync(join(tmpdir(), 'chunker-store-upload-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  function writeTree(root: string, count: number): Map<string, Uint8Array> {
    const files = new Map<string, Uint8Array>();
    for (let index = 0; index < count; index++) {
      const name = `chunks/${index % 3}/object-${index}`;
      const bytes = seededBytes(1000 + index * 13, 50 + index);
      mkdirSync(join(root, 'chunks', String(index % 3)), { recursive: true });
      writeFileSync(join(root, name), bytes);
      files.set(name, bytes);
    }
    return files;
  }

  it('uploads a directory with progress events, then skips everything on a second run', async () => {
    const dispatcher = newDispatcher();
    const source = join(work, 'tree');
    const files = writeTree(source, 20);
    const url = `file://${join(work, 'store')}`;
    const first = await allAnswers(dispatcher, { id: 1, op: 'store_upload', url, dir: source, progress_ms: 1 });
    const reply = first.at(-1)!;
    expect(reply).toMatchObject({ id: 1, ok: true, objects_total: 20, objects_uploaded: 20, objects_skipped: 0 });
    const events = first.slice(0, -1);
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((event) => event.event === 'progress' && event.ref === 1)).toBe(true);
    const done = events.map((event) => event.objects_done as number);
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(events.at(-1)).toMatchObject({ phase: 'done', objects_done: 20, bytes_done: reply.bytes_total });
    for (const [name, bytes] of files) {
      const back = await callDispatcher(dispatcher, { id: 2, op: 'store_get', url, name });
      expect(Buffer.from(back.data as Uint8Array).equals(Buffer.from(bytes)), name).toBe(true);
    }
    const second = (await allAnswers(dispatcher, { id: 3, op: 'store_upload', url, dir: source })).at(-1)!;
    expect(second).toMatchObject({ ok: true, objects_uploaded: 0, objects_skipped: 20 });
  });

  it('uploads named files, and refuses missing files, relative paths and both dir and files', async () => {
    const dispatcher = newDispatcher();
    const path = join(work, 'one.bin');
    writeFileSync(path, seededBytes(777, 9));
    const url = 'memory:';
    const reply = (await allAnswers(dispatcher, { id: 1, op: 'store_upload', url, files: [{ name: 'nar/one.nar', path }] })).at(-1)!;
    expect(reply).toMatchObject({ ok: true, objects_uploaded: 1, bytes_uploaded: 777 });
    expect(await callDispatcher(dispatcher, { id: 2, op: 'store_stat', url, name: 'nar/one.nar' })).toMatchObject({ exists: true, size: 777 });
    const missing = await callDispatcher(dispatcher, { id: 3, op: 'store_upload', url, files: [{ name: 'x', path: join(work, 'nope') }] });
    expect(wireErrorOf(missing).code).toBe('not_found');
    const relativePath = await callDispatcher(dispatcher, { id: 4, op: 'store_upload', url, files: [{ name: 'x', path: 'one.bin' }] });
    expect(wireErrorOf(relativePath).code).toBe('invalid_argument');
    const both = await callDispatcher(dispatcher, { id: 5, op: 'store_upload', url, dir: work, files: [] });
    expect(wireErrorOf(both).code).toBe('invalid_argument');
    const badLimit = await callDispatcher(dispatcher, { id: 6, op: 'store_upload', url, files: [], bwlimit: 'fast' });
    expect(wireErrorOf(badLimit).code).toBe('invalid_argument');
  });
});
