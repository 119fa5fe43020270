import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storeError, type ObjectSource } from '../../port/store/backend.js';
import { bytesSource } from '../../port/store/object-source.js';
import { AdaptiveLimit } from '../../port/store/wrappers/adaptive-limit.js';
import { withConcurrencyLimit } from '../../port/store/wrappers/concurrency-limit.js';
import { journalPath } from '../../port/transfer/journal.js';
import type { UploadProgress } from '../../port/transfer/progress.js';
import { UploadError, uploadObjects, type UploadObject } from '../../port/transfer/upload.js';
import { chunkerRejectionOf } from '../support/chunker-error.js';
import { FlakyStore } from '../support/flaky-store.js';
import { seededBytes } from '../support/random-bytes.js';

const work = mkdtempSync(join(tmpdir(), 'chunker-upload-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let stateCounter = 0;
const freshStateDir = (): string => join(work, `state-${stateCounter++}`);

interface TestObject extends UploadObject {
  readonly bytes: Uint8Array;
}

function makeObjects(count: number, sizeOf: (index: number) => number, prefix = 'chunks/'): TestObject[] {
  return Array.from({ length: count }, (_, index) => {
    const bytes = seededBytes(sizeOf(index), index + 1);
    return { name: `${prefix}${index.toString().padStart(4, '0')}`, size: bytes.length, source: bytesSource(bytes), bytes };
  });
}

async function expectStored(store: FlakyStore, objects: readonly TestObject[]): Promise<void> {
  for (const object of objects) {
    expect(Buffer.from(await store.inner.get(object.name)).equals(Buffer.from(object.bytes)), object.name).toBe(true);
  }
}

function expectMonotonic(events: readonly UploadProgress[]): void {
  for (const [index, event] of events.entries()) {
    const before = events[index - 1];
    if (before === undefined) continue;
    for (const key of ['objectsDone', 'objectsSkipped', 'bytesDone', 'objectsChecked', 'elapsedMs'] as const) {
      expect(event[key], `${key} at event ${index}`).toBeGreaterThanOrEqual(before[key]);
    }
  }
}

describe('uploadObjects', () => {
  it('uploads every object, verifies it, and reports monotonic progress ending at the totals', async () => {
    const store = new FlakyStore();
    const objects = makeObjects(60, (index) => 1_000 + ((index * 7919) % 20_000));
    const events: UploadProgress[] = [];
    const stateDir = freshStateDir();
    const summary = await uploadObjects(store, objects, { transfers: 4, stateDir, onProgress: (event) => events.push(event), progressIntervalMs: 5 });
    const bytesTotal = objects.reduce((sum, object) => sum + object.size, 0);
    expect(summary).toMatchObject({ objectsTotal: 60, objectsUploaded: 60, objectsSkipped: 0, bytesTotal, bytesUploaded: bytesTotal, dryRun: false });
    expect(summary.bytesPerSecond).toBeGreaterThan(0);
    await expectStored(store, objects);
    expect(store.putCount()).toBe(60);
    // One stat per object before (checking) and one after (verifying).
    expect(store.statCalls).toBe(120);
    expect(store.maxConcurrentPuts).toBeLessThanOrEqual(4);
    expectMonotonic(events);
    const final = events.at(-1)!;
    expect(final).toMatchObject({ phase: 'done', objectsDone: 60, objectsTotal: 60, bytesDone: bytesTotal, bytesTotal, objectsFailed: 0, etaSeconds: 0 });
    expect(events.filter((event) => event.phase === 'done')).toHaveLength(1);
    for (const event of events) expect(event.concurrency).toBe(4);
    // Rate-limited: apart from the final one, events are at least the interval apart.
    const timed = events.slice(0, -1);
    for (let index = 1; index < timed.length; index++) expect(timed[index]!.elapsedMs - timed[index - 1]!.elapsedMs).toBeGreaterThanOrEqual(5);
    // A complete run leaves no journal.
    expect(existsSync(journalPath(stateDir, store.location))).toBe(false);
  });

  it('skips objects the store already has with the same size, and replaces those that differ', async () => {
    const store = new FlakyStore();
    const objects = makeObjects(20, () => 3_000);
    for (const object of objects.slice(0, 8)) await store.inner.put(object.name, bytesSource(object.bytes));
    await store.inner.put(objects[8]!.name, bytesSource(new Uint8Array(10)));
    const events: UploadProgress[] = [];
    const summary = await uploadObjects(store, objects, { onProgress: (event) => events.push(event) });
    expect(summary).toMatchObject({ objectsUploaded: 12, objectsSkipped: 8, bytesSkipped: 24_000, bytesUploaded: 36_000 });
    expect(store.puts.map((put) => put.name).sort()).toEqual(objects.slice(8).map((object) => object.name));
    await expectStored(store, objects);
    expect(events.at(-1)).toMatchObject({ objectsDone: 20, objectsSkipped: 8, bytesDone: 60_000 });
  });

  it('checks a large set with one listing instead of a stat per object', async () => {
    const store = new FlakyStore();
    const objects = makeObjects(50, () => 100);
    for (const object of objects.slice(0, 30)) await store.inner.put(object.name, bytesSource(object.bytes));
    await store.inner.put('other/unrelated', bytesSource(new Uint8Array(1)));
    const summary = await uploadObjects(store, objects, { listThreshold: 40 });
    expect(summary).toMatchObject({ objectsUploaded: 20, objectsSkipped: 30 });
    expect(store.listCalls).toBe(1);
    expect(store.statCalls).toBe(20);
  });

  it('verifies a large upload with one listing afterwards, not a stat per object', async () => {
    const store = new FlakyStore();
    const objects = makeObjects(30, () => 100);
    const events: UploadProgress[] = [];
    const summary = await uploadObjects(store, objects, { listThreshold: 10, onProgress: (event) => events.push(event), progressIntervalMs: 0 });
    expect(summary.objectsUploaded).toBe(30);
    expect(store.listCalls).toBe(2);
    expect(store.statCalls).toBe(0);
    expect(events.some((event) => event.phase === 'verifying')).toBe(true);
    expect(events.at(-1)).toMatchObject({ objectsVerified: 30, objectsChecked: 30 });
  });

  it('gives up a listing that runs far past the names checked, and stats the rest', async () => {
    const store = new FlakyStore();
    // The names' common prefix "chunks/00" also holds 1000 objects that are not being uploaded.
    for (let index = 0; index < 1000; index++) await store.inner.put(`chunks/00-other-${index}`, bytesSource(new Uint8Array(1)));
    const objects = makeObjects(20, () => 100);
    await store.inner.put(objects[0]!.name, bytesSource(objects[0]!.bytes));
    const summary = await uploadObjects(store, objects, { listThreshold: 10, verify: false });
    expect(summary).toMatchObject({ objectsUploaded: 19, objectsSkipped: 1 });
    expect(store.listCalls).toBe(1);
    expect(store.statCalls).toBe(20);
  });

  it('never has more source bytes in flight than the memory budget; a larger object goes alone', async () => {
    const store = new FlakyStore();
    const budget = 100_000;
    const objects = makeObjects(80, (index) => (index === 40 ? 300_000 : 1_000 + ((index * 104_729) % 40_000)));
    const violations: string[] = [];
    store.onPutStart = ({ name, size, concurrent, bytesInFlight }) => {
      if (size > budget && concurrent !== 1) violations.push(`${name} (${size} B) shared the store with ${concurrent - 1} others`);
      if (size <= budget && bytesInFlight > budget) violations.push(`${bytesInFlight} B in flight when ${name} started`);
    };
    await uploadObjects(store, objects, { transfers: 16, memoryBudgetBytes: budget });
    expect(violations).toEqual([]);
    expect(store.maxBytesInFlight).toBe(300_000);
    expect(Math.max(...store.puts.filter((put) => put.size <= budget).map((put) => put.bytesInFlight))).toBeLessThanOrEqual(budget);
    await expectStored(store, objects);
  });

  it("charges a streaming store's puts their buffer, not their size, so large objects share the budget", async () => {
    const store = new FlakyStore();
    const putBufferBytes = 20_000;
    const streaming = Object.assign(Object.create(store) as FlakyStore, { capabilities: { ...store.capabilities, putBufferBytes } });
    const budget = 100_000;
    const objects = makeObjects(12, () => 300_000);
    await uploadObjects(streaming, objects, { transfers: 16, memoryBudgetBytes: budget });
    // Five buffers fit the budget at once; charged their size, each would have gone alone.
    expect(streaming.maxConcurrentPuts).toBe(budget / putBufferBytes);
    await expectStored(store, objects);
  });

  it('never runs more puts than the adaptive limit allows, and reports the limit', async () => {
    const store = new FlakyStore();
    const limit = new AdaptiveLimit({ min: 1, max: 6, initial: 2 });
    const violations: string[] = [];
    store.onPutStart = ({ concurrent }) => {
      if (concurrent > limit.current) violations.push(`${concurrent} puts under a limit of ${limit.current}`);
    };
    let failed = 0;
    store.failPut = (_name, attempt) => (attempt === 1 && failed++ < 3 ? storeError('store_busy', 'slow down') : undefined);
    const objects = makeObjects(120, () => 500);
    const events: UploadProgress[] = [];
    await expect(
      uploadObjects(withConcurrencyLimit(store, limit), objects, { limit, onProgress: (event) => events.push(event), progressIntervalMs: 1 }),
    ).rejects.toThrow(UploadError);
    expect(violations).toEqual([]);
    expect(store.maxConcurrentPuts).toBeLessThanOrEqual(6);
    for (const event of events) expect(event.concurrency).toBeLessThanOrEqual(6);
    expect(limit.adjustments.decreases).toBeGreaterThan(0);
  });

  it('reports every failed object, uploads the rest, and a rerun sends only the failed ones', async () => {
    const store = new FlakyStore();
    const objects = makeObjects(30, () => 2_000);
    const broken = new Set([objects[3]!.name, objects[17]!.name]);
    store.failPut = (name) => {
      if (name === objects[3]!.name) return storeError('store_permission', 'read-only directory');
      if (name === objects[17]!.name) return storeError('store_unavailable', 'connection reset');
      return undefined;
    };
    const stateDir = freshStateDir();
    const error = (await chunkerRejectionOf(() => uploadObjects(store, objects, { stateDir }))) as UploadError;
    expect(error).toBeInstanceOf(UploadError);
    expect(error.code).toBe('upload_failed');
    expect(error.permanent).toBe(false);
    expect(new Set(error.failures.map((failure) => failure.name))).toEqual(broken);
    expect(error.message).toContain(objects[3]!.name);
    expect(error.message).toContain('store_permission');
    expect(error.summary).toMatchObject({ objectsUploaded: 28, objectsTotal: 30 });
    expect(existsSync(journalPath(stateDir, store.location))).toBe(true);

    store.failPut = undefined;
    const before = store.putCount();
    const summary = await uploadObjects(store, objects, { stateDir, checkExisting: false });
    expect(summary).toMatchObject({ objectsUploaded: 2, objectsSkipped: 28, objectsResumed: 28 });
    expect(new Set(store.puts.slice(before).map((put) => put.name))).toEqual(broken);
    await expectStored(store, objects);
    expect(existsSync(journalPath(stateDir, store.location))).toBe(false);
  });

  it('stops scheduling after a failure no other object can escape', async () => {
    const store = new FlakyStore();
    store.failPut = () => storeError('store_auth', 'access denied');
    const objects = makeObjects(200, () => 100);
    const error = (await chunkerRejectionOf(() => uploadObjects(store, objects, { transfers: 2 }))) as UploadError;
    expect(error.permanent).toBe(true);
    expect(store.putCount()).toBeLessThan(10);
    expect(error.failures.length).toBe(store.putCount());
  });

  it('fails an object whose stored size does not match after the put', async () => {
    const store = new FlakyStore();
    store.truncateTo = 10;
    const error = (await chunkerRejectionOf(() => uploadObjects(store, makeObjects(1, () => 500)))) as UploadError;
    const [failure] = error.failures;
    expect((failure!.error as { code: string }).code).toBe('store_integrity');
    expect(error.summary).toMatchObject({ objectsUploaded: 0, bytesUploaded: 0 });
  });

  it('fails an object whose source is not the size it was listed with', async () => {
    const store = new FlakyStore();
    const error = (await chunkerRejectionOf(() =>
      uploadObjects(store, [{ name: 'a', size: 10, source: bytesSource(new Uint8Array(11)) }]),
    )) as UploadError;
    expect((error.failures[0]!.error as { code: string }).code).toBe('invalid_argument');
    expect(store.putCount()).toBe(0);
  });

  it('opens sources given as functions only when their turn comes, and closes them', async () => {
    const store = new FlakyStore();
    let open = 0;
    let maxOpen = 0;
    let closed = 0;
    const objects: UploadObject[] = Array.from({ length: 40 }, (_, index) => ({
      name: `lazy/${index}`,
      size: 100,
      source: async () => {
        open++;
        maxOpen = Math.max(maxOpen, open);
        const source: ObjectSource & { close(): Promise<void> } = {
          ...bytesSource(seededBytes(100, index)),
          close: async () => {
            open--;
            closed++;
          },
        };
        return source;
      },
    }));
    await uploadObjects(store, objects, { transfers: 3 });
    expect(closed).toBe(40);
    // Three being sent and one more opened ahead per slot.
    expect(maxOpen).toBeLessThanOrEqual(6);
  });

  it('trusts a journal entry only when the store agrees on its size, and ignores a torn last line', async () => {
    const store = new FlakyStore();
    const objects = makeObjects(6, () => 1_000);
    const [good, wrongSize, missing, torn, unjournaled] = objects;
    for (const object of [good!, torn!, unjournaled!]) await store.inner.put(object.name, bytesSource(object.bytes));
    await store.inner.put(wrongSize!.name, bytesSource(new Uint8Array(20)));
    const stateDir = freshStateDir();
    mkdirSync(stateDir, { recursive: true });
    const path = journalPath(stateDir, store.location);
    writeFileSync(
      path,
      `chunker-upload-journal 1 ${JSON.stringify(store.location)}\n` +
        `1000 ${good!.name}\n1000 ${wrongSize!.name}\n1000 ${missing!.name}\nnot a record\n1000 ${torn!.name}`,
    );
    const summary = await uploadObjects(store, objects, { stateDir, checkExisting: false });
    // Only `good` is skipped: `torn` is present but its line was cut short, and without
    // checkExisting an object the journal does not vouch for is sent again.
    expect(summary).toMatchObject({ objectsSkipped: 1, objectsResumed: 1, objectsUploaded: 5 });
    expect(store.puts.map((put) => put.name).sort()).toEqual(objects.filter((object) => object !== good).map((object) => object.name));
    await expectStored(store, objects);
  });

  it('compacts the journal it resumes from and appends confirmed objects to it', async () => {
    const store = new FlakyStore();
    const objects = makeObjects(5, () => 100);
    store.failPut = (name) => (name === objects[4]!.name ? storeError('store_permission', 'no') : undefined);
    const stateDir = freshStateDir();
    mkdirSync(stateDir, { recursive: true });
    const path = journalPath(stateDir, store.location);
    const header = `chunker-upload-journal 1 ${JSON.stringify(store.location)}\n`;
    writeFileSync(path, `${header}7 x/old\n7 x/old\n7 x/old\n`);
    await expect(uploadObjects(store, objects, { stateDir })).rejects.toThrow(UploadError);
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines[0]).toBe(header.trimEnd());
    expect(lines.filter((line) => line === '7 x/old')).toHaveLength(1);
    expect(lines.slice(2, -1).sort()).toEqual(objects.slice(0, 4).map((object) => `100 ${object.name}`));
  });

  it('replaces a journal written for another job', async () => {
    const store = new FlakyStore();
    const objects = makeObjects(2, () => 100);
    for (const object of objects) await store.inner.put(object.name, bytesSource(object.bytes));
    const stateDir = freshStateDir();
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(journalPath(stateDir, 'job-b'), `chunker-upload-journal 1 ${JSON.stringify('job-a')}\n100 ${objects[0]!.name}\n`);
    const summary = await uploadObjects(store, objects, { stateDir, journalKey: 'job-b', checkExisting: false });
    expect(summary).toMatchObject({ objectsResumed: 0, objectsUploaded: 2 });
  });

  it('stops on abort, keeps the journal, and a rerun finishes the rest', async () => {
    const store = new FlakyStore();
    store.putDelayMs = 5;
    const objects = makeObjects(60, () => 500);
    const controller = new AbortController();
    store.onPutStart = () => {
      if (store.putCount() === 20) controller.abort();
    };
    const stateDir = freshStateDir();
    const error = await chunkerRejectionOf(() => uploadObjects(store, objects, { stateDir, transfers: 4, signal: controller.signal }));
    expect(error.code).toBe('aborted');
    const putsBefore = store.putCount();
    expect(putsBefore).toBeLessThan(30);
    const journalled = readFileSync(journalPath(stateDir, store.location), 'utf8').trim().split('\n').length - 1;
    expect(journalled).toBeGreaterThan(0);

    store.onPutStart = undefined;
    const summary = await uploadObjects(store, objects, { stateDir, transfers: 4 });
    const present = objects.length - summary.objectsUploaded;
    expect(summary.objectsSkipped).toBe(present);
    expect(summary.objectsResumed).toBe(journalled);
    expect(store.putCount() - putsBefore).toBe(summary.objectsUploaded);
    await expectStored(store, objects);
  });

  it('in a dry run, checks and plans but sends and writes nothing', async () => {
    const store = new FlakyStore();
    const objects = makeObjects(5, () => 100);
    await store.inner.put(objects[1]!.name, bytesSource(objects[1]!.bytes));
    const stateDir = freshStateDir();
    const summary = await uploadObjects(store, objects, { stateDir, dryRun: true });
    expect(summary).toMatchObject({ dryRun: true, objectsUploaded: 0, objectsSkipped: 1 });
    expect(summary.planned).toEqual(objects.filter((_, index) => index !== 1).map((object) => object.name));
    expect(store.putCount()).toBe(0);
    expect(existsSync(stateDir)).toBe(false);
  });

  it('refuses bad input before touching the store', async () => {
    const store = new FlakyStore();
    const one = makeObjects(1, () => 1)[0]!;
    for (const objects of [[one, one], [{ ...one, name: '../x' }], [{ ...one, size: -1 }]]) {
      expect((await chunkerRejectionOf(() => uploadObjects(store, objects))).code).toBe('invalid_argument');
    }
    expect((await chunkerRejectionOf(() => uploadObjects(store, [one], { transfers: 0 }))).code).toBe('invalid_argument');
    expect(store.statCalls + store.putCount()).toBe(0);
  });

  it('finishes at once with nothing to upload', async () => {
    const events: UploadProgress[] = [];
    const summary = await uploadObjects(new FlakyStore(), [], { onProgress: (event) => events.push(event) });
    expect(summary).toMatchObject({ objectsTotal: 0, objectsUploaded: 0 });
    expect(events.at(-1)).toMatchObject({ phase: 'done', objectsDone: 0 });
  });
});
