/**
 * One conformance suite for every store backend. A backend's test file supplies only a
 * factory (which may start a real server) and calls `describeStoreConformance`; the cases
 * here check the contract written in port/store/backend.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreBackend } from '../../port/store/backend.js';
import { bytesSource } from '../../port/store/object-source.js';
import { chunkerRejectionOf } from '../support/chunker-error.js';
import { seededBytes } from '../support/random-bytes.js';

export interface ConformanceTarget {
  /** Opens a fresh, empty store (a new prefix or directory per call). */
  open(): Promise<StoreBackend>;
  /** Stops whatever `open` needed (servers, temp dirs). */
  teardown?(): Promise<void>;
  /** Size of the large object, big enough to take the backend's multipart path if it has one. */
  largeObjectBytes?: number;
}

async function listNames(store: StoreBackend, prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const info of store.list(prefix)) names.push(info.name);
  return names.sort();
}

export function describeStoreConformance(backendName: string, makeTarget: () => Promise<ConformanceTarget>): void {
  describe(`store conformance: ${backendName}`, () => {
    let target: ConformanceTarget;
    let store: StoreBackend;

    beforeAll(async () => {
      target = await makeTarget();
      store = await target.open();
    });
    afterAll(async () => {
      await store?.close();
      await target?.teardown?.();
    });

    it('reports a missing object as null from stat and not_found from get', async () => {
      expect(await store.stat('missing/object')).toBeNull();
      const error = await chunkerRejectionOf(() => store.get('missing/object'));
      expect(error.code).toBe('not_found');
      expect(error.permanent).toBe(true);
    });

    it('stores and reads back bytes exactly, including an empty object', async () => {
      const bytes = seededBytes(70_001, 1);
      await store.put('basic/one', bytesSource(bytes));
      await store.put('basic/empty', bytesSource(new Uint8Array(0)));
      expect(await store.stat('basic/one')).toEqual({ name: 'basic/one', size: bytes.length });
      expect(Buffer.from(await store.get('basic/one')).equals(Buffer.from(bytes))).toBe(true);
      expect(await store.stat('basic/empty')).toEqual({ name: 'basic/empty', size: 0 });
      expect((await store.get('basic/empty')).length).toBe(0);
    });

    it('reads byte ranges, short at the end and empty past it', async () => {
      const bytes = seededBytes(10_000, 2);
      await store.put('range/object', bytesSource(bytes));
      const middle = await store.get('range/object', { offset: 1234, length: 4321 });
      expect(Buffer.from(middle).equals(Buffer.from(bytes.subarray(1234, 1234 + 4321)))).toBe(true);
      const tail = await store.get('range/object', { offset: 9_000, length: 5_000 });
      expect(Buffer.from(tail).equals(Buffer.from(bytes.subarray(9_000)))).toBe(true);
      expect((await store.get('range/object', { offset: 10_000, length: 10 })).length).toBe(0);
    });

    it('replaces an object written twice with the new bytes', async () => {
      await store.put('replace/object', bytesSource(seededBytes(5_000, 3)));
      const second = seededBytes(3_000, 4);
      await store.put('replace/object', bytesSource(second));
      expect(Buffer.from(await store.get('replace/object')).equals(Buffer.from(second))).toBe(true);
    });

    it('deletes objects, and deleting a missing object succeeds', async () => {
      await store.put('delete/object', bytesSource(seededBytes(100, 5)));
      await store.delete('delete/object');
      expect(await store.stat('delete/object')).toBeNull();
      await store.delete('delete/object');
      await store.delete('delete/never-existed');
    });

    it('lists objects by prefix, each once, nested names included', async () => {
      const names = ['list/a/1', 'list/a/2', 'list/a/b/3', 'list/b/4', 'listing-other'];
      for (const [index, name] of names.entries()) await store.put(name, bytesSource(seededBytes(10 + index, 6 + index)));
      expect(await listNames(store, 'list/a/')).toEqual(['list/a/1', 'list/a/2', 'list/a/b/3']);
      expect(await listNames(store, 'list/')).toEqual(['list/a/1', 'list/a/2', 'list/a/b/3', 'list/b/4']);
      expect(await listNames(store, 'list/nothing/')).toEqual([]);
      const sizes = new Map<string, number>();
      for await (const info of store.list('list/a/')) sizes.set(info.name, info.size);
      expect(sizes.get('list/a/2')).toBe(11);
    });

    it('stores a large object intact', async () => {
      const size = target.largeObjectBytes ?? 12 * 1024 * 1024 + 12_345;
      const bytes = seededBytes(size, 7);
      await store.put('large/object', bytesSource(bytes));
      expect(await store.stat('large/object')).toEqual({ name: 'large/object', size });
      const back = await store.get('large/object');
      expect(back.length).toBe(size);
      expect(Buffer.from(back).equals(Buffer.from(bytes))).toBe(true);
    });

    it('survives many concurrent puts and gets', async () => {
      const count = Math.min(64, store.capabilities.maxConcurrency * 4);
      const objects = Array.from({ length: count }, (_, index) => ({ name: `concurrent/${index}`, bytes: seededBytes(1_000 + index * 37, 100 + index) }));
      await Promise.all(objects.map(({ name, bytes }) => store.put(name, bytesSource(bytes))));
      const back = await Promise.all(objects.map(({ name }) => store.get(name)));
      back.forEach((bytes, index) => expect(Buffer.from(bytes).equals(Buffer.from(objects[index]!.bytes))).toBe(true));
      expect((await listNames(store, 'concurrent/')).length).toBe(count);
    });

    it('leaves the old object in place when a put fails part way', async () => {
      const original = seededBytes(2_000, 8);
      await store.put('atomic/object', bytesSource(original));
      const size = target.largeObjectBytes ?? 12 * 1024 * 1024 + 12_345;
      const failing = {
        size,
        read: (offset: number, length: number) =>
          offset + length > size / 2 ? Promise.reject(new Error('source failed on purpose')) : Promise.resolve(seededBytes(length, offset)),
      };
      await expect(store.put('atomic/object', failing)).rejects.toThrow();
      expect(Buffer.from(await store.get('atomic/object')).equals(Buffer.from(original))).toBe(true);
      expect(await listNames(store, 'atomic/')).toEqual(['atomic/object']);
    });

    it('never lists or serves a half-written object while a put is in flight', async () => {
      const size = 4 * 1024 * 1024;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let halfRead!: () => void;
      const halfDone = new Promise<void>((resolve) => (halfRead = resolve));
      const slow = {
        size,
        async read(offset: number, length: number) {
          if (offset + length > size / 2) {
            halfRead();
            await gate;
          }
          return seededBytes(length, offset + 1);
        },
      };
      const putting = store.put('inflight/object', slow);
      await halfDone;
      expect(await store.stat('inflight/object')).toBeNull();
      expect(await listNames(store, 'inflight/')).toEqual([]);
      release();
      await putting;
      expect(await store.stat('inflight/object')).toEqual({ name: 'inflight/object', size });
    });

    it('rejects object names that could escape or collide', async () => {
      for (const name of ['', '/abs', 'a/../b', 'a//b', './a', 'a\\b', 'a\u0000b']) {
        const error = await chunkerRejectionOf(() => store.put(name, bytesSource(new Uint8Array(1))));
        expect(error.code, JSON.stringify(name)).toBe('invalid_argument');
      }
    });

    it('fails with store_closed after close', async () => {
      const second = await target.open();
      await second.close();
      const error = await chunkerRejectionOf(() => second.stat('anything'));
      expect(error.code).toBe('store_closed');
    });
  });
}
