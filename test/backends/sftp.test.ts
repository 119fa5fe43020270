/**
 * The SFTP backend against a real OpenSSH sshd on 127.0.0.1 (test/support/servers/sshd.ts):
 * the conformance suite, then what only a real server can show — refused keys and host
 * keys, a server killed in the middle of a put, a port nobody listens on, ssh-agent
 * authentication and hashed known_hosts entries.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StoreBackend } from '../../port/store/backend.js';
import { TEMP_NAME_PREFIX } from '../../port/store/object-name.js';
import { bytesSource } from '../../port/store/object-source.js';
import { openStore } from '../../port/store/open-store.js';
import { DEFAULT_CHANNELS_PER_CONNECTION, MIN_STRIPE_BYTES, openSftpStore, type SftpStoreOptions } from '../../port/store/sftp.js';
import { chunkerRejectionOf } from '../support/chunker-error.js';
import { seededBytes } from '../support/random-bytes.js';
import { freePort, generateKey, startSshAgent, startSshd, type SshdServer } from '../support/servers/sshd.js';
import { describeSyncResume } from '../support/sync-resume.js';
import { describeStoreConformance } from './conformance.js';

const MiB = 1024 * 1024;

function clientOptions(server: SshdServer, extra: SftpStoreOptions = {}): SftpStoreOptions {
  // agent '' keeps a developer's own ssh-agent (SSH_AUTH_SOCK) out of these tests.
  return { identityFile: server.clientKeyPath, knownHostsFile: server.knownHostsPath, agent: '', ...extra };
}

describeStoreConformance('sftp', async () => {
  const server = await startSshd();
  let stores = 0;
  return {
    // Every store gets its own directory under the server's root.
    open: () => openStore(server.url(`store-${++stores}`), { sftp: clientOptions(server) }),
    teardown: () => server.stop(),
    // Many pipelined writes (255 KiB each against OpenSSH), and two stripes on two connections.
    largeObjectBytes: 2 * MIN_STRIPE_BYTES + 12_345,
  };
});

// The CLI takes no per-backend flags: the key and known_hosts reach it by environment.
describeSyncResume('sftp', async () => {
  const server = await startSshd();
  return {
    url: server.url('sync-resume'),
    env: { CHUNKER_SFTP_IDENTITY_FILE: server.clientKeyPath, CHUNKER_SFTP_KNOWN_HOSTS: server.knownHostsPath, SSH_AUTH_SOCK: '' },
    teardown: () => server.stop(),
  };
});

describe('sftp backend against a real sshd', () => {
  let server: SshdServer;
  const opened: StoreBackend[] = [];

  async function open(path: string, options: SftpStoreOptions, url = server.url(path)): Promise<StoreBackend> {
    const store = await openStore(url, { sftp: options });
    opened.push(store);
    return store;
  }

  beforeAll(async () => {
    server = await startSshd();
  });
  afterAll(async () => {
    await Promise.all(opened.map((store) => store.close()));
    await server?.stop();
  });

  it('refuses a key the server does not know with store_auth, permanent', async () => {
    const wrongKey = join(server.tempDir, 'wrong_key');
    generateKey(wrongKey, 'not-authorized');
    const store = await open('wrong-key', clientOptions(server, { identityFile: wrongKey }));
    const error = await chunkerRejectionOf(() => store.stat('anything'));
    expect(error.code).toBe('store_auth');
    expect(error.permanent).toBe(true);
  });

  it('refuses an unknown host with store_auth naming the offered fingerprint', async () => {
    const emptyKnownHosts = join(server.tempDir, 'known_hosts_empty');
    writeFileSync(emptyKnownHosts, '');
    const store = await open('unknown-host', clientOptions(server, { knownHostsFile: emptyKnownHosts }));
    const error = await chunkerRejectionOf(() => store.stat('anything'));
    expect(error.code).toBe('store_auth');
    expect(error.permanent).toBe(true);
    expect(error.message).toMatch(/unknown/);
    expect(error.message).toContain(hostFingerprint(server));
  });

  it('refuses a changed host key with store_auth naming both fingerprints', async () => {
    const otherHostKey = generateKey(join(server.tempDir, 'other_host_key'), 'impostor');
    const knownHosts = join(server.tempDir, 'known_hosts_changed');
    writeFileSync(knownHosts, `[${server.host}]:${server.port} ${otherHostKey}\n`);
    const store = await open('changed-host', clientOptions(server, { knownHostsFile: knownHosts }));
    const error = await chunkerRejectionOf(() => store.put('x', bytesSource(new Uint8Array(1))));
    expect(error.code).toBe('store_auth');
    expect(error.permanent).toBe(true);
    expect(error.message).toMatch(/CHANGED/);
    expect(error.message).toContain(hostFingerprint(server));
    expect(error.message).toContain(fingerprintOfLine(otherHostKey));
  });

  it('accepts a host known only through a hashed known_hosts entry (ssh-keygen -H)', async () => {
    const hashed = join(server.tempDir, 'known_hosts_hashed');
    copyFileSync(server.knownHostsPath, hashed);
    const result = spawnSync('ssh-keygen', ['-H', '-f', hashed], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(readdirSync(server.tempDir)).toContain('known_hosts_hashed.old');
    const store = await open('hashed', clientOptions(server, { knownHostsFile: hashed }));
    await store.put('hashed/object', bytesSource(seededBytes(100, 1)));
    expect(await store.stat('hashed/object')).toEqual({ name: 'hashed/object', size: 100 });
  });

  it('skips host key checking only when told to', async () => {
    const missing = join(server.tempDir, 'no-such-known-hosts');
    const checked = await open('insecure', clientOptions(server, { knownHostsFile: missing }));
    expect((await chunkerRejectionOf(() => checked.stat('x'))).code).toBe('store_auth');
    const unchecked = await open('insecure', clientOptions(server, { knownHostsFile: missing, insecureSkipHostKeyCheck: true }));
    expect(await unchecked.stat('x')).toBeNull();
  });

  it('authenticates with a key held by ssh-agent', async () => {
    const agent = await startSshAgent(server.tempDir, server.clientKeyPath);
    try {
      const store = await open('agent', { agent: agent.socketPath, knownHostsFile: server.knownHostsPath });
      await store.put('agent/object', bytesSource(seededBytes(1000, 2)));
      expect(await store.stat('agent/object')).toEqual({ name: 'agent/object', size: 1000 });
    } finally {
      await agent.stop();
    }
  });

  it('fails with store_unavailable, retryable, when nothing listens on the port', async () => {
    const port = await freePort();
    const store = await open('', clientOptions(server), `sftp://${server.user}@127.0.0.1:${port}/srv/chunks`);
    const error = await chunkerRejectionOf(() => store.stat('anything'));
    expect(error.code).toBe('store_unavailable');
    expect(error.permanent).toBe(false);
  });

  it('reports unusable options as store_config at open', async () => {
    const missingKey = await chunkerRejectionOf(() => openSftpStore(new URL(server.url('x')), { identityFile: join(server.tempDir, 'absent') }));
    expect(missingKey.code).toBe('store_config');
    const notAKey = await chunkerRejectionOf(() => openSftpStore(new URL(server.url('x')), { identityFile: server.knownHostsPath }));
    expect(notAKey.code).toBe('store_config');
    const password = await chunkerRejectionOf(() => openSftpStore(new URL(`sftp://u:secret@127.0.0.1:${server.port}/x`), clientOptions(server)));
    expect(password.code).toBe('store_config');
    expect(password.message).not.toContain('secret');
  });

  it('resolves /~/ paths against the login directory', async () => {
    // sshd logs in to the passwd home; the directory is made there and removed afterwards.
    const directory = `.chunker-sftp-test-${server.port}`;
    const onServer = join(userInfo().homedir, directory);
    try {
      const store = await open('', clientOptions(server), `sftp://${server.user}@127.0.0.1:${server.port}/~/${directory}`);
      await store.put('home/object', bytesSource(seededBytes(10, 3)));
      expect(await store.stat('home/object')).toEqual({ name: 'home/object', size: 10 });
      expect(existsSync(join(onServer, 'home', 'object'))).toBe(true);
    } finally {
      rmSync(onServer, { recursive: true, force: true });
    }
  });

  // One stream, and two stripes on two connections.
  it.each([
    { layout: 'one-stream', size: MIN_STRIPE_BYTES },
    { layout: 'striped', size: 2 * MIN_STRIPE_BYTES + 1 },
  ])('fails a $layout put cut by a server crash as retryable, shows nothing partial, and reconnects after a restart', async ({ layout, size }) => {
    const store = await open(`crash-${layout}`, clientOptions(server));
    // Warm the pool so the crash cuts live connections, not a connect.
    await store.put('crash/warm', bytesSource(seededBytes(10, 4)));
    let halfRead!: () => void;
    const halfDone = new Promise<void>((resolve) => (halfRead = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const stalling = {
      size,
      async read(offset: number, length: number) {
        if (offset + length > size / 2) {
          halfRead();
          await gate;
        }
        return seededBytes(length, offset + 5);
      },
    };
    const putting = store.put('crash/object', stalling).then(
      () => undefined,
      (error: unknown) => error,
    );
    await halfDone;
    await server.crash();
    release();
    const error = await putting;
    expect(error).toMatchObject({ code: 'store_unavailable', permanent: false });

    await server.restart();
    // The temp file of the cut put is on disk, but no reader can see it.
    const onDisk = readdirSync(join(server.rootDir, `crash-${layout}`, 'crash'));
    expect(onDisk.some((name) => name.startsWith(TEMP_NAME_PREFIX))).toBe(true);
    expect(onDisk).not.toContain('object');
    expect(await store.stat('crash/object')).toBeNull();
    const listed: string[] = [];
    for await (const info of store.list('crash/')) listed.push(info.name);
    expect(listed).toEqual(['crash/warm']);

    const bytes = seededBytes(3 * MiB, 6);
    await store.put('crash/object', bytesSource(bytes));
    expect(Buffer.from(await store.get('crash/object')).equals(Buffer.from(bytes))).toBe(true);
  });

  it('starts connecting when opened, before any operation asks', async () => {
    const before = server.acceptedLogins();
    const store = await open('warm', clientOptions(server));
    await expect.poll(() => server.acceptedLogins() - before).toBe(1);
    // The first operation takes that connection rather than opening another.
    expect(await store.stat('warm/nothing')).toBeNull();
    expect(server.acceptedLogins() - before).toBe(1);
  });

  it('writes a large object in stripes over several connections', async () => {
    const store = await open('stripes', clientOptions(server, { connections: 2 }));
    // Opening started the first connection; the striped put needs the second.
    expect(await store.stat('stripes/object')).toBeNull();
    const before = server.acceptedLogins();
    const bytes = seededBytes(2 * MIN_STRIPE_BYTES + 7, 9);
    await store.put('stripes/object', bytesSource(bytes));
    await expect.poll(() => server.acceptedLogins() - before).toBe(1);
    expect(Buffer.from(await store.get('stripes/object')).equals(Buffer.from(bytes))).toBe(true);
    expect(store.capabilities.maxConcurrency).toBe(2 * DEFAULT_CHANNELS_PER_CONNECTION);
  });

  it('fsyncs before publishing when asked (fsync@openssh.com), small and striped', async () => {
    const store = await open('fsync', clientOptions(server, { fsync: true }));
    const small = seededBytes(1000, 10);
    const large = seededBytes(2 * MIN_STRIPE_BYTES, 11);
    await Promise.all([store.put('fsync/small', bytesSource(small)), store.put('fsync/large', bytesSource(large))]);
    expect(Buffer.from(await store.get('fsync/small')).equals(Buffer.from(small))).toBe(true);
    expect(Buffer.from(await store.get('fsync/large')).equals(Buffer.from(large))).toBe(true);
  });

  it('lists many directories at once without piling listeners on the caller\'s signal', async () => {
    const store = await open('wide', clientOptions(server));
    const names = Array.from({ length: 3 * DEFAULT_CHANNELS_PER_CONNECTION * 4 }, (_, index) => `wide/${String(index).padStart(2, '0')}/object`);
    await Promise.all(names.map((name, index) => store.put(name, bytesSource(seededBytes(10, 100 + index)))));
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const listed: string[] = [];
      for await (const info of store.list('wide/', { signal: new AbortController().signal })) listed.push(info.name);
      expect(listed.sort()).toEqual(names);
      // Node reports a listener leak in the next turn.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
  });

  it('abandons a put when its signal aborts and removes the temp file', async () => {
    const store = await open('abort', clientOptions(server));
    const controller = new AbortController();
    const size = 4 * MiB;
    const aborting = {
      size,
      async read(offset: number, length: number) {
        if (offset > size / 2) controller.abort();
        return seededBytes(length, offset + 7);
      },
    };
    const error = await chunkerRejectionOf(() => store.put('abort/object', aborting, { signal: controller.signal }));
    expect(error.code).toBe('aborted');
    // The rejection comes first; the cleanup finishes on the same channel right after.
    expect(await store.stat('abort/object')).toBeNull();
    await expect.poll(() => readdirSync(join(server.rootDir, 'abort', 'abort'))).toEqual([]);
  });
});

/** The OpenSSH fingerprint of the server's host key, as ssh-keygen prints it. */
function hostFingerprint(server: SshdServer): string {
  return fingerprintOfLine(server.hostPublicKey);
}

function fingerprintOfLine(publicKeyLine: string): string {
  const result = spawnSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', '-'], { input: `${publicKeyLine}\n`, encoding: 'utf8' });
  const fingerprint = result.stdout.split(' ')[1];
  if (result.status !== 0 || fingerprint === undefined) throw new Error(`ssh-keygen -l failed: ${result.stderr}`);
  return fingerprint;
}
