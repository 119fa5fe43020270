/**
 * The local backend: the conformance suite in a temp directory, then what only a file
 * system can do wrong — permissions, a read-only mount, a full disk (a real 1 MiB tmpfs),
 * names that collide with directories, leftovers of crashed puts.
 */
import { mkdir, mkdtemp, open, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreBackend } from '../../port/store/backend.js';
import { LocalBackend, openLocalStore } from '../../port/store/local.js';
import { TEMP_NAME_PREFIX } from '../../port/store/object-name.js';
import { bytesSource } from '../../port/store/object-source.js';
import { openStore } from '../../port/store/open-store.js';
import { chunkerRejectionOf } from '../support/chunker-error.js';
import { seededBytes } from '../support/random-bytes.js';
import { mountTmpfs, type TmpfsMount } from '../support/tmpfs.js';
import { describeSyncResume } from '../support/sync-resume.js';
import { describeStoreConformance } from './conformance.js';

const MIB = 1024 * 1024;

describeStoreConformance('local', async () => {
  const base = await mkdtemp(join(tmpdir(), 'chunker-local-conformance-'));
  let count = 0;
  return {
    open: () => openStore(pathToFileURL(join(base, `store-${count++}`)).href),
    teardown: () => rm(base, { recursive: true, force: true }),
  };
});

/** Every file under `root`, relative, sorted (temp files included, unlike `list`). */
async function filesOnDisk(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1))
    .sort();
}

async function listNames(store: StoreBackend, prefix = ''): Promise<string[]> {
  const names: string[] = [];
  for await (const info of store.list(prefix)) names.push(info.name);
  return names.sort();
}

describe('local store', () => {
  let base: string;
  let count = 0;
  const freshRoot = () => join(base, `root-${count++}`);

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'chunker-local-'));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  describe('opening', () => {
    it('opens file: URLs, creating the root on the first put', async () => {
      const root = freshRoot();
      const store = await openStore(`${pathToFileURL(root).href}/`);
      expect(store).toBeInstanceOf(LocalBackend);
      expect(store.location).toBe(pathToFileURL(root).href);
      expect(store.capabilities).toMatchObject({ ranges: true, multipart: false, atomicRename: true });
      expect(await store.stat('a')).toBeNull();
      expect(await listNames(store)).toEqual([]);
      await store.put('chunks/ab/abc', bytesSource(seededBytes(10, 1)));
      expect(await filesOnDisk(root)).toEqual(['chunks/ab/abc']);
      const again = await openStore(`file://localhost${root}`);
      expect(await listNames(again)).toEqual(['chunks/ab/abc']);
    });

    it('refuses a root that is a file, another host, or a query', async () => {
      const file = join(base, 'plain-file');
      await writeFile(file, 'x');
      for (const url of [pathToFileURL(file).href, 'file://elsewhere/srv/chunks', `${pathToFileURL(base).href}?x=1`]) {
        const error = await chunkerRejectionOf(() => openStore(url));
        expect(error.code, url).toBe('store_config');
        expect(error.permanent).toBe(true);
      }
    });
  });

  describe('layout and leftovers', () => {
    it('never lists temp files of crashed puts, and cleanupStaleTemps removes only old ones', async () => {
      const root = freshRoot();
      const store = await openLocalStore(pathToFileURL(root));
      await store.put('chunks/aa/object', bytesSource(seededBytes(100, 2)));
      const stale = join(root, 'chunks', 'aa', `${TEMP_NAME_PREFIX}stale`);
      const fresh = join(root, 'chunks', `${TEMP_NAME_PREFIX}fresh`);
      await writeFile(stale, 'half an object');
      await writeFile(fresh, 'a put in progress');
      const hourAgo = new Date(Date.now() - 3_600_000);
      await utimes(stale, hourAgo, hourAgo);
      expect(await listNames(store)).toEqual(['chunks/aa/object']);
      expect(await store.cleanupStaleTemps(600_000)).toBe(1);
      expect(await filesOnDisk(root)).toEqual([`chunks/${TEMP_NAME_PREFIX}fresh`, 'chunks/aa/object']);
    });

    it('lists only valid object names and skips symlinked directories', async () => {
      const root = freshRoot();
      const store = await openLocalStore(pathToFileURL(root));
      await store.put('ok/one', bytesSource(seededBytes(5, 3)));
      await writeFile(join(root, 'ok', 'back\\slash'), 'x');
      await mkdir(join(root, 'ok', 'dir'));
      const { symlink } = await import('node:fs/promises');
      await symlink(join(root, 'ok'), join(root, 'ok', 'loop'));
      await symlink(join(root, 'ok', 'one'), join(root, 'ok', 'alias'));
      expect(await listNames(store, 'ok/')).toEqual(['ok/alias', 'ok/one']);
    });

    it('publishes concurrent puts into the same new directory', async () => {
      const store = await openLocalStore(pathToFileURL(freshRoot()));
      const names = Array.from({ length: 24 }, (_, index) => `fresh/dir/deep/${index}`);
      await Promise.all(names.map((name, index) => store.put(name, bytesSource(seededBytes(100 + index, index)))));
      expect(await listNames(store, 'fresh/')).toEqual([...names].sort());
    });

    it('reads a range of a huge sparse file without reading the rest', async () => {
      const root = freshRoot();
      await mkdir(root);
      const handle = await open(join(root, 'sparse'), 'w');
      const tail = Buffer.from('the last bytes');
      const size = 64 * 1024 * MIB;
      await handle.write(tail, 0, tail.length, size - tail.length);
      await handle.close();
      const store = await openLocalStore(pathToFileURL(root));
      expect(await store.stat('sparse')).toEqual({ name: 'sparse', size });
      const back = await store.get('sparse', { offset: size - tail.length, length: 1_000 });
      expect(Buffer.from(back).toString()).toBe('the last bytes');
      const zeros = await store.get('sparse', { offset: 4096, length: 8 });
      expect(Array.from(zeros)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    });
  });

  describe('failures', () => {
    it('treats a name whose directory is a file as missing, and refuses to write under it', async () => {
      const root = freshRoot();
      const store = await openLocalStore(pathToFileURL(root));
      await store.put('blocker', bytesSource(seededBytes(10, 4)));
      expect(await store.stat('blocker/inside')).toBeNull();
      expect((await chunkerRejectionOf(() => store.get('blocker/inside'))).code).toBe('not_found');
      await store.delete('blocker/inside');
      const error = await chunkerRejectionOf(() => store.put('blocker/inside/deeper', bytesSource(seededBytes(10, 5))));
      expect(error.code).toBe('store_permission');
      expect(error.permanent).toBe(true);
      expect(error.message).toContain('blocker/inside/deeper');
      expect(await filesOnDisk(root)).toEqual(['blocker']);
    });

    it('refuses to put over a directory and leaves no temp file', async () => {
      const root = freshRoot();
      const store = await openLocalStore(pathToFileURL(root));
      await store.put('tree/leaf', bytesSource(seededBytes(10, 6)));
      expect(await store.stat('tree')).toBeNull();
      expect((await chunkerRejectionOf(() => store.get('tree'))).code).toBe('not_found');
      const error = await chunkerRejectionOf(() => store.put('tree', bytesSource(seededBytes(10, 7))));
      expect(error.code).toBe('store_permission');
      await store.delete('tree');
      expect(await filesOnDisk(root)).toEqual(['tree/leaf']);
    });

    it('passes errors of the source through and stops when the caller aborts', async () => {
      const root = freshRoot();
      const store = await openLocalStore(pathToFileURL(root));
      const sourceError = new Error('the source broke');
      const broken = { size: 10 * MIB, read: (offset: number, length: number) => (offset > 0 ? Promise.reject(sourceError) : Promise.resolve(new Uint8Array(length))) };
      await expect(store.put('broken', broken)).rejects.toBe(sourceError);

      const controller = new AbortController();
      const aborting = {
        size: 10 * MIB,
        read: (offset: number, length: number) => {
          if (offset > 0) controller.abort();
          return Promise.resolve(new Uint8Array(length));
        },
      };
      const aborted = await chunkerRejectionOf(() => store.put('aborted', aborting, { signal: controller.signal }));
      expect(aborted.code).toBe('aborted');
      expect((await chunkerRejectionOf(() => store.get('broken', undefined, { signal: controller.signal }))).code).toBe('aborted');
      expect(await filesOnDisk(root)).toEqual([]);
    });

    it('gives up a put whose source never delivers once the signal aborts, removing its temp file', async () => {
      const root = freshRoot();
      const store = await openLocalStore(pathToFileURL(root));
      const controller = new AbortController();
      let asked!: () => void;
      const waiting = new Promise<void>((resolve) => (asked = resolve));
      const stuck = {
        size: 10 * MIB,
        read: (offset: number, length: number) => {
          if (offset === 0) return Promise.resolve(new Uint8Array(length));
          asked();
          return new Promise<Uint8Array>(() => undefined);
        },
      };
      const putting = chunkerRejectionOf(() => store.put('stuck', stuck, { signal: controller.signal }));
      await waiting;
      expect((await filesOnDisk(root)).length).toBe(1);
      controller.abort();
      expect((await putting).code).toBe('aborted');
      expect(await filesOnDisk(root)).toEqual([]);
    });

    it('reports EACCES as store_permission (permanent) when the process may not write', async () => {
      const root = freshRoot();
      const store = await openLocalStore(pathToFileURL(root));
      await store.put('locked/object', bytesSource(seededBytes(10, 8)));
      const { chmod } = await import('node:fs/promises');
      await chmod(join(root, 'locked'), 0o555);
      // Root ignores mode bits, so drop the effective uid for the duration of the calls;
      // the real uid stays 0, which lets us take it back.
      const nobody = 65534;
      const seteuid = process.seteuid;
      expect(seteuid, 'process.seteuid (POSIX, run as root)').toBeTypeOf('function');
      seteuid!(nobody);
      let errors;
      try {
        errors = [
          await chunkerRejectionOf(() => store.put('locked/other', bytesSource(seededBytes(10, 9)))),
          await chunkerRejectionOf(() => store.delete('locked/object')),
        ];
      } finally {
        seteuid!(0);
      }
      for (const error of errors) {
        expect(error.code).toBe('store_permission');
        expect(error.permanent).toBe(true);
        expect(error.message).toContain('EACCES');
      }
      expect(await filesOnDisk(root)).toEqual(['locked/object']);
    });
  });

  describe('on a real small file system', () => {
    const mounts: TmpfsMount[] = [];
    afterAll(async () => {
      for (const mount of mounts) await mount.unmount();
    });

    it('reports a read-only file system as store_permission, and still reads', async () => {
      const mount = await mountTmpfs('size=4m');
      mounts.push(mount);
      const store = await openLocalStore(pathToFileURL(mount.path));
      const bytes = seededBytes(1_000, 10);
      await store.put('kept/object', bytesSource(bytes));
      await mount.remount('ro');
      for (const attempt of [
        () => store.put('kept/object', bytesSource(seededBytes(10, 11))),
        () => store.put('new/dir/object', bytesSource(seededBytes(10, 12))),
        () => store.delete('kept/object'),
      ]) {
        const error = await chunkerRejectionOf(attempt);
        expect(error.code, error.message).toBe('store_permission');
        expect(error.permanent).toBe(true);
        expect(error.message).toContain('EROFS');
      }
      expect(Buffer.from(await store.get('kept/object')).equals(Buffer.from(bytes))).toBe(true);
      expect(await listNames(store)).toEqual(['kept/object']);
      await mount.remount('rw');
    });

    it('reports a full disk as store_full and leaves nothing partial behind', async () => {
      const mount = await mountTmpfs('size=1m');
      mounts.push(mount);
      const store = await openLocalStore(pathToFileURL(mount.path));
      const old = seededBytes(300 * 1024, 13);
      await store.put('chunks/object', bytesSource(old));

      const tooBig = await chunkerRejectionOf(() => store.put('chunks/object', bytesSource(seededBytes(2 * MIB, 14))));
      expect(tooBig.code).toBe('store_full');
      expect(tooBig.permanent).toBe(true);
      expect(tooBig.message).toContain('ENOSPC');
      const alsoTooBig = await chunkerRejectionOf(() => store.put('chunks/new', bytesSource(seededBytes(2 * MIB, 15))));
      expect(alsoTooBig.code).toBe('store_full');

      // The old object is whole, the new one absent, and no temp file holds the space.
      expect(await filesOnDisk(mount.path)).toEqual(['chunks/object']);
      expect(Buffer.from(await store.get('chunks/object')).equals(Buffer.from(old))).toBe(true);
      expect(await store.stat('chunks/new')).toBeNull();
      const fits = seededBytes(500 * 1024, 16);
      await store.put('chunks/fits', bytesSource(fits));
      expect(Buffer.from(await store.get('chunks/fits')).equals(Buffer.from(fits))).toBe(true);
    });
  });
});

describeSyncResume('file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'chunker-sync-resume-store-'));
  return { url: `file://${dir}`, teardown: () => rm(dir, { recursive: true, force: true }) };
});
