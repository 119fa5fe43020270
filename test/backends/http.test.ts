/**
 * The http store against a real nginx with WebDAV PUT/DELETE (test/support/servers/nginx.ts):
 * the conformance suite, then what only a real server shows — a server killed in the middle
 * of an upload, refused credentials, a cut download, and the status codes nginx answers.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isRetryable, type ObjectSource, type StoreBackend } from '../../port/store/backend.js';
import { bytesSource, openFileSource } from '../../port/store/object-source.js';
import { openStore } from '../../port/store/open-store.js';
import { chunkerRejectionOf } from '../support/chunker-error.js';
import { seededBytes } from '../support/random-bytes.js';
import { MOVED_LOCATION, NginxServer, PRIVATE_PASSWORD, PRIVATE_USER, SLOW_RATE_BYTES_PER_SECOND, freePort } from '../support/servers/nginx.js';
import { describeSyncResume } from '../support/sync-resume.js';
import { describeStoreConformance } from './conformance.js';

const MiB = 1024 * 1024;
describeSyncResume('http (nginx WebDAV)', async () => {
  const server = await NginxServer.start();
  return { url: server.url('/sync-resume/'), teardown: () => server.stop() };
});

/** How long to wait for a condition the test brings about itself (a file opened, bytes read). */
const CONDITION_DEADLINE_MS = 10_000;

describeStoreConformance('http (nginx WebDAV)', async () => {
  const server = await NginxServer.start();
  let stores = 0;
  return {
    open: () => openStore(server.url(`/conformance-${++stores}/`)),
    teardown: () => server.stop(),
  };
});

/** Polls `condition` until it holds; fails with `what` after the deadline. */
async function waitFor(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + CONDITION_DEADLINE_MS;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Whether process `pid` holds a file open whose path is `path` (from /proc/PID/fd). */
function holdsOpen(pid: number, path: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === path;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** A source that hands out its first half, then waits until `release` before the rest. */
function gatedSource(size: number, seed: number): { source: ObjectSource; halfRead: Promise<void>; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let reachedHalf!: () => void;
  const halfRead = new Promise<void>((resolve) => (reachedHalf = resolve));
  const bytes = seededBytes(size, seed);
  return {
    halfRead,
    release,
    source: {
      size,
      async read(offset, length) {
        if (offset + length > size / 2) {
          reachedHalf();
          await gate;
        }
        return bytes.subarray(offset, offset + length);
      },
    },
  };
}

/** Runs Debian nix-bin's `nix` (as root, no daemon) and returns its trimmed stdout. */
function nix(args: string[]): string {
  const env = { ...process.env, NIX_CONFIG: 'experimental-features = nix-command' };
  return execFileSync('nix', args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

async function listNames(store: StoreBackend, prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const info of store.list(prefix)) names.push(info.name);
  return names.sort();
}

describe('http store against nginx: failures and server behaviour', () => {
  let server: NginxServer;
  const opened: StoreBackend[] = [];

  async function open(path: string, credentials?: { user: string; password: string }): Promise<StoreBackend> {
    const store = await openStore(server.url(path, credentials));
    opened.push(store);
    return store;
  }

  beforeAll(async () => {
    server = await NginxServer.start();
  });
  afterAll(async () => {
    await Promise.all(opened.map((store) => store.close()));
    await server?.stop();
  });

  it('keeps an upload invisible while nginx receives it: the body sits in its temp dir', async () => {
    const store = await open('/visible/');
    const { source, halfRead, release } = gatedSource(4 * MiB, 11);
    const putting = store.put('chunks/object', source);
    try {
      await halfRead;
      await waitFor('the request body in nginx temp dir', () => readdirSync(server.bodyTempDir).length > 0);
      expect(existsSync(join(server.root, 'visible', 'chunks', 'object'))).toBe(false);
      expect(await store.stat('chunks/object')).toBeNull();
    } finally {
      release();
    }
    await putting;
    expect(existsSync(join(server.root, 'visible', 'chunks', 'object'))).toBe(true);
    expect(readdirSync(server.bodyTempDir)).toEqual([]);
  });

  it('fails with a retryable error when nginx dies mid-upload, shows nothing partial after a restart, and a new put succeeds', async () => {
    const store = await open('/stopped/');
    await store.put('before', bytesSource(seededBytes(1_000, 12))); // the pool holds a live connection
    const size = 16 * MiB;
    const { source, halfRead, release } = gatedSource(size, 13);
    const putting = store.put('big/object', source).then(
      () => null,
      (error: unknown) => error,
    );
    await halfRead;
    await waitFor('the request body in nginx temp dir', () => readdirSync(server.bodyTempDir).length > 0);
    await server.kill('SIGKILL'); // a crash: nginx cannot clean up
    release();
    const error = await putting;
    expect(error).toMatchObject({ code: 'store_unavailable', permanent: false });
    expect(isRetryable(error)).toBe(true);

    const whileDown = await chunkerRejectionOf(() => store.stat('before'));
    expect(whileDown.code).toBe('store_unavailable');
    expect(isRetryable(whileDown)).toBe(true);

    await server.restart();
    expect(await store.stat('big/object')).toBeNull();
    expect(await listNames(store, '')).toEqual(['before']);
    expect(existsSync(join(server.root, 'stopped', 'big', 'object'))).toBe(false);

    const bytes = seededBytes(size, 13);
    await store.put('big/object', bytesSource(bytes));
    expect(Buffer.from(await store.get('big/object')).equals(Buffer.from(bytes))).toBe(true);
  });

  it('refuses a wrong password permanently, for every operation, and never shows it', async () => {
    const good = await open('/private/store/', { user: PRIVATE_USER, password: PRIVATE_PASSWORD });
    await good.put('object', bytesSource(seededBytes(100, 14)));
    expect(await listNames(good, '')).toEqual(['object']);
    expect(good.location).not.toContain(PRIVATE_PASSWORD.replace(' ', '%20'));

    const wrongPassword = 'wrong-s3cret';
    const bad = await open('/private/store/', { user: PRIVATE_USER, password: wrongPassword });
    expect(bad.location).not.toContain(wrongPassword);
    const failures = [
      () => bad.stat('object'),
      () => bad.get('object'),
      () => bad.put('object', bytesSource(seededBytes(3 * MiB, 15))),
      () => bad.delete('object'),
      () => listNames(bad, ''),
    ];
    for (const failure of failures) {
      const error = await chunkerRejectionOf(failure);
      expect(error.code).toBe('store_auth');
      expect(error.permanent).toBe(true);
      expect(isRetryable(error)).toBe(false);
      expect(error.message).not.toContain(wrongPassword);
    }
    const anonymous = await open('/private/store/');
    expect((await chunkerRejectionOf(() => anonymous.stat('object'))).code).toBe('store_auth');
    expect(await good.stat('object')).toEqual({ name: 'object', size: 100 });
  });

  it('reports a refused connection as store_unavailable (retryable)', async () => {
    const store = await openStore(`http://127.0.0.1:${await freePort()}/nothing/`);
    opened.push(store);
    for (const attempt of [() => store.stat('x'), () => store.put('x', bytesSource(new Uint8Array(10)))]) {
      const error = await chunkerRejectionOf(attempt);
      expect(error.code).toBe('store_unavailable');
      expect(isRetryable(error)).toBe(true);
    }
  });

  it('reports a download cut by a dying server as store_unavailable, never as a short read', async () => {
    const store = await open('/slow/');
    const size = 4 * MiB; // at SLOW_RATE_BYTES_PER_SECOND this takes many seconds
    expect(size / SLOW_RATE_BYTES_PER_SECOND).toBeGreaterThan(5);
    await store.put('object', bytesSource(seededBytes(size, 16)));
    const pid = server.pid!;
    const getting = store.get('object').then(
      () => null,
      (error: unknown) => error,
    );
    await waitFor('nginx to open the object', () => holdsOpen(pid, join(server.root, 'slow', 'object')));
    await server.kill('SIGKILL');
    expect(await getting).toMatchObject({ code: 'store_unavailable', permanent: false });
    await server.restart();
  });

  it('honours an abort signal: a timeout is store_timeout, a plain abort is aborted', async () => {
    const store = await open('/slow/');
    await store.put('abort-object', bytesSource(seededBytes(4 * MiB, 17)));
    const timedOut = await chunkerRejectionOf(() => store.get('abort-object', undefined, { signal: AbortSignal.timeout(200) }));
    expect(timedOut.code).toBe('store_timeout');
    expect(timedOut.permanent).toBe(false);
    const controller = new AbortController();
    const getting = chunkerRejectionOf(() => store.get('abort-object', undefined, { signal: controller.signal }));
    controller.abort();
    expect((await getting).code).toBe('aborted');
    expect((await chunkerRejectionOf(() => store.stat('abort-object', { signal: controller.signal }))).code).toBe('aborted');
    // The store still works after abandoned requests.
    expect(await store.stat('abort-object')).toEqual({ name: 'abort-object', size: 4 * MiB });
  });

  it('maps nginx statuses: 413 → store_full, 405, 301 and no index → store_config', async () => {
    const small = await open('/small/');
    await small.put('tiny', bytesSource(new Uint8Array(100)));
    const tooBig = await chunkerRejectionOf(() => small.put('large', bytesSource(seededBytes(2 * MiB, 18))));
    expect(tooBig).toMatchObject({ code: 'store_full', permanent: true });
    expect(await small.stat('large')).toBeNull();

    const readonly = await open('/readonly/');
    const refused = await chunkerRejectionOf(() => readonly.put('x', bytesSource(new Uint8Array(10))));
    expect(refused).toMatchObject({ code: 'store_config', permanent: true });
    expect(refused.message).toContain('dav_methods');

    const unindexed = await open('/noindex/');
    await unindexed.put('dir/x', bytesSource(new Uint8Array(10)));
    expect(await unindexed.stat('dir/x')).toEqual({ name: 'dir/x', size: 10 });
    const unlisted = await chunkerRejectionOf(() => listNames(unindexed, ''));
    expect(unlisted).toMatchObject({ code: 'store_config', permanent: true });
    expect(unlisted.message).toContain('autoindex');

    const moved = await open('/moved/');
    const redirected = await chunkerRejectionOf(() => moved.stat('x'));
    expect(redirected).toMatchObject({ code: 'store_config', permanent: true });
    expect(redirected.message).toContain(MOVED_LOCATION);
  });

  it('slices the whole object when the server ignores Range', async () => {
    const store = await open('/noranges/');
    const bytes = seededBytes(50_000, 19);
    await store.put('object', bytesSource(bytes));
    const middle = await store.get('object', { offset: 1_000, length: 2_000 });
    expect(Buffer.from(middle).equals(Buffer.from(bytes.subarray(1_000, 3_000)))).toBe(true);
    expect((await store.get('object', { offset: 49_999, length: 10 })).length).toBe(1);
    expect((await store.get('object', { offset: 60_000, length: 10 })).length).toBe(0);
  });

  it('round-trips names that need percent-encoding, and a directory is not an object', async () => {
    const store = await open('/names/');
    const names = ['with space/a%20b', 'ques?tion#hash', 'ünïcödé/名前', "plus+and&amp;'quote"];
    for (const [index, name] of names.entries()) await store.put(name, bytesSource(seededBytes(10 + index, 20 + index)));
    for (const [index, name] of names.entries()) {
      expect(Buffer.from(await store.get(name)).equals(Buffer.from(seededBytes(10 + index, 20 + index)))).toBe(true);
    }
    expect(await listNames(store, '')).toEqual([...names].sort());
    expect(await store.stat('with space')).toBeNull();
    expect((await chunkerRejectionOf(() => store.get('with space'))).code).toBe('not_found');
  });

  it('uploads a Nix binary cache that nix copy --from then substitutes from nginx', async () => {
    const work = mkdtempSync(join(tmpdir(), 'chunker-nix-cache-'));
    try {
      writeFileSync(join(work, 'hello.txt'), 'hello from the http store\n');
      // Chroot stores under `work`, so the machine's /nix is never touched.
      const storePath = nix(['store', 'add-file', '--store', join(work, 'source'), join(work, 'hello.txt')]);
      nix(['copy', '--store', join(work, 'source'), '--to', `file://${join(work, 'cache')}`, storePath]);
      const store = await open('/nix-cache/');
      const files = readdirSync(join(work, 'cache'), { recursive: true, encoding: 'utf8' }).filter((name) => statSync(join(work, 'cache', name)).isFile());
      expect(files).toContain('nix-cache-info');
      for (const name of files) {
        const source = await openFileSource(join(work, 'cache', name));
        await store.put(name, source).finally(() => source.close());
      }
      expect(await listNames(store, '')).toEqual([...files].sort());
      nix(['copy', '--option', 'narinfo-cache-negative-ttl', '0', '--no-check-sigs', '--from', server.url('/nix-cache'), '--to', join(work, 'target'), storePath]);
      expect(readFileSync(join(work, 'target', storePath), 'utf8')).toBe('hello from the http store\n');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

describe('https store against nginx with a self-signed certificate', () => {
  let server: NginxServer;
  beforeAll(async () => {
    server = await NginxServer.start({ tls: true });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('works when the certificate is trusted through http.caFile', async () => {
    const store = await openStore(server.url('/tls/'), { http: { caFile: server.certificatePath } });
    try {
      const bytes = seededBytes(3 * MiB + 5, 30);
      await store.put('object', bytesSource(bytes));
      expect(Buffer.from(await store.get('object', { offset: 5, length: 1_000 })).equals(Buffer.from(bytes.subarray(5, 1_005)))).toBe(true);
      expect(await listNames(store, '')).toEqual(['object']);
    } finally {
      await store.close();
    }
  });

  it('refuses an untrusted certificate permanently (store_auth)', async () => {
    const store = await openStore(server.url('/tls/'));
    try {
      const error = await chunkerRejectionOf(() => store.stat('object'));
      expect(error).toMatchObject({ code: 'store_auth', permanent: true });
      expect(error.message).toContain('caFile');
    } finally {
      await store.close();
    }
  });

  it('fails with store_config when the CA file cannot be read', async () => {
    const error = await chunkerRejectionOf(() => openStore(server.url('/tls/'), { http: { caFile: join(server.prefix, 'missing.pem') } }));
    expect(error.code).toBe('store_config');
  });
});
