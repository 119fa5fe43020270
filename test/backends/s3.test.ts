/**
 * The S3 backend against a real S3-compatible server: npm `s3rver` in a child process on
 * 127.0.0.1 (test/support/servers/s3rver.ts). The conformance suite runs with a lowered
 * multipart threshold so its large-object cases take the multipart path; the cases below
 * cover what only S3 has: aborted multipart uploads, a server killed mid-upload, refused
 * credentials and a missing bucket.
 */
import { ListMultipartUploadsCommand, S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChunkerError } from '../../port/errors.js';
import { isRetryable, type ObjectSource, type StoreBackend } from '../../port/store/backend.js';
import { bytesSource } from '../../port/store/object-source.js';
import { openStore } from '../../port/store/open-store.js';
import type { S3StoreOptions } from '../../port/store/s3-config.js';
import { chunkerRejectionOf } from '../support/chunker-error.js';
import { seededBytes } from '../support/random-bytes.js';
import { S3RVER_ACCESS_KEY_ID, S3RVER_REGION, S3RVER_SECRET_ACCESS_KEY, startS3rver, type S3rverServer } from '../support/servers/s3rver.js';
import { runStoreCli, type StoreTarget } from '../support/store-cli.js';
import { describeSyncResume } from '../support/sync-resume.js';
import { describeStoreConformance } from './conformance.js';

const MIB = 1024 * 1024;
const BUCKET = 'chunker-test';
/** Lowered so the conformance suite's 12 MiB object goes up as three 5 MiB-or-less parts. */
const TEST_MULTIPART_THRESHOLD_BYTES = 8 * MIB;
const TEST_PART_BYTES = 5 * MIB;

function s3Options(server: S3rverServer, overrides: Partial<S3StoreOptions> = {}): { s3: S3StoreOptions } {
  return {
    s3: {
      endpoint: server.endpoint,
      region: S3RVER_REGION,
      credentials: { accessKeyId: S3RVER_ACCESS_KEY_ID, secretAccessKey: S3RVER_SECRET_ACCESS_KEY },
      multipartThresholdBytes: TEST_MULTIPART_THRESHOLD_BYTES,
      partBytes: TEST_PART_BYTES,
      partConcurrency: 3,
      ...overrides,
    },
  };
}

/** A raw SDK client for looking at the server behind the backend's back. */
function inspector(server: S3rverServer): S3Client {
  return new S3Client({
    endpoint: server.endpoint,
    region: S3RVER_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: S3RVER_ACCESS_KEY_ID, secretAccessKey: S3RVER_SECRET_ACCESS_KEY },
    maxAttempts: 1,
  });
}

async function unfinishedUploads(client: S3Client, prefix: string): Promise<string[]> {
  const result = await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix }));
  return (result.Uploads ?? []).map((upload) => upload.Key ?? '');
}

async function listNames(store: StoreBackend, prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const info of store.list(prefix)) names.push(info.name);
  return names.sort();
}

interface Gate {
  /** Resolves once the source has been asked for the byte at `offset` or later. */
  readonly reached: Promise<void>;
  /** Lets the held read finish with bytes, or fail with `error`. */
  release(error?: Error): void;
}

/** A source of `size` seeded bytes that holds the read covering `holdAt` until released. */
function gatedSource(size: number, seed: number, holdAt: number): { source: ObjectSource; gate: Gate; bytes: Uint8Array } {
  const bytes = seededBytes(size, seed);
  let reachedResolve!: () => void;
  const reached = new Promise<void>((resolve) => (reachedResolve = resolve));
  let releaseResolve!: (error?: Error) => void;
  const released = new Promise<Error | undefined>((resolve) => (releaseResolve = resolve));
  const source: ObjectSource = {
    size,
    async read(offset, length) {
      if (offset + length > holdAt) {
        reachedResolve();
        const error = await released;
        if (error !== undefined) throw error;
      }
      return bytes.subarray(offset, offset + length);
    },
  };
  return { source, gate: { reached, release: (error) => releaseResolve(error) }, bytes };
}

let prefixCounter = 0;
function freshPrefix(label: string): string {
  prefixCounter += 1;
  return `${label}-${process.pid}-${prefixCounter}`;
}

describeStoreConformance('s3 (s3rver)', async () => {
  const server = await startS3rver([BUCKET]);
  return {
    open: () => openStore(`s3://${BUCKET}/${freshPrefix('conformance')}`, s3Options(server)),
    teardown: () => server.stop(),
  };
});

// The CLI reads S3 settings from the standard AWS environment, as users run it.
describeSyncResume('s3 (s3rver)', async () => {
  const server = await startS3rver([BUCKET]);
  return {
    url: `s3://${BUCKET}/${freshPrefix('sync-resume')}`,
    env: {
      AWS_ENDPOINT_URL: server.endpoint,
      AWS_REGION: S3RVER_REGION,
      AWS_ACCESS_KEY_ID: S3RVER_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: S3RVER_SECRET_ACCESS_KEY,
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    teardown: () => server.stop(),
  };
});

describe('s3 backend against s3rver', () => {
  let server: S3rverServer;
  let client: S3Client;
  const opened: StoreBackend[] = [];

  async function open(label: string, overrides: Partial<S3StoreOptions> = {}, bucket = BUCKET): Promise<{ store: StoreBackend; prefix: string }> {
    const prefix = freshPrefix(label);
    const store = await openStore(`s3://${bucket}/${prefix}`, s3Options(server, overrides));
    opened.push(store);
    return { store, prefix };
  }

  beforeAll(async () => {
    server = await startS3rver([BUCKET]);
    client = inspector(server);
  });
  afterAll(async () => {
    await Promise.all(opened.map((store) => store.close()));
    client?.destroy();
    await server?.stop();
  });

  it('aborts a multipart upload whose source fails, leaving no upload and no object', async () => {
    const { store, prefix } = await open('abort-source');
    const { source, gate } = gatedSource(3 * TEST_PART_BYTES + 100, 11, 2 * TEST_PART_BYTES);
    const putting = store.put('object', source);
    await gate.reached;
    // The upload exists while parts are on their way: the abort below has something to remove.
    expect(await unfinishedUploads(client, `${prefix}/`)).toEqual([`${prefix}/object`]);
    gate.release(new Error('source failed on purpose'));
    await expect(putting).rejects.toThrow('source failed on purpose');
    expect(await unfinishedUploads(client, `${prefix}/`)).toEqual([]);
    expect(await store.stat('object')).toBeNull();
    expect(await listNames(store, '')).toEqual([]);
  });

  it('reads multipart parts once each, in order, and reassembles them exactly', async () => {
    const { store } = await open('parts');
    const size = 4 * TEST_PART_BYTES + 7;
    const bytes = seededBytes(size, 12);
    const reads: number[] = [];
    await store.put('object', {
      size,
      read: async (offset, length) => {
        reads.push(offset);
        return bytes.subarray(offset, offset + length);
      },
    });
    expect(reads).toEqual([0, 1, 2, 3, 4].map((part) => part * TEST_PART_BYTES));
    expect(Buffer.from(await store.get('object')).equals(Buffer.from(bytes))).toBe(true);
    const tail = await store.get('object', { offset: size - 10, length: 100 });
    expect(Buffer.from(tail).equals(Buffer.from(bytes.subarray(size - 10)))).toBe(true);
  });

  it('aborts a multipart upload when the caller aborts, rejecting with the signal reason', async () => {
    const { store, prefix } = await open('abort-signal');
    const { source, gate } = gatedSource(3 * TEST_PART_BYTES, 13, 2 * TEST_PART_BYTES);
    const controller = new AbortController();
    const putting = store.put('object', source, { signal: controller.signal });
    await gate.reached;
    const reason = new ChunkerError('store_timeout', 'put took too long', false);
    controller.abort(reason);
    gate.release();
    expect(await chunkerRejectionOf(() => putting)).toBe(reason);
    expect(await unfinishedUploads(client, `${prefix}/`)).toEqual([]);
    expect(await store.stat('object')).toBeNull();
  });

  it('rejects an aborted single put with a permanent aborted error and stores nothing', async () => {
    const { store } = await open('abort-single');
    const controller = new AbortController();
    controller.abort();
    const error = await chunkerRejectionOf(() => store.put('object', bytesSource(seededBytes(1000, 14)), { signal: controller.signal }));
    expect(error.code).toBe('aborted');
    expect(error.permanent).toBe(true);
    expect(await store.stat('object')).toBeNull();
  });

  it('lists more than one page of keys, under its own prefix only', async () => {
    const { store, prefix } = await open('pages');
    const neighbour = await openStore(`s3://${BUCKET}/${prefix}-neighbour`, s3Options(server));
    opened.push(neighbour);
    // s3rver pages ListObjectsV2 at 1000 keys.
    const count = 1010;
    const names = Array.from({ length: count }, (_, index) => `p/${String(index).padStart(5, '0')}`);
    const queue = [...names];
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        for (let name = queue.shift(); name !== undefined; name = queue.shift()) await store.put(name, bytesSource(new Uint8Array([1, 2, 3])));
      }),
    );
    await neighbour.put('p/99999', bytesSource(new Uint8Array(1)));
    expect(await listNames(store, '')).toEqual(names);
    expect(await listNames(store, 'p/0100')).toEqual(names.slice(1000, 1010));
    expect(await listNames(neighbour, '')).toEqual(['p/99999']);
  });

  it('fails with a retryable error when the server dies mid-upload, shows nothing partial after restart, and a new put succeeds', async () => {
    const { store, prefix } = await open('server-stop');
    const size = 4 * TEST_PART_BYTES;
    const { source, gate, bytes } = gatedSource(size, 15, 3 * TEST_PART_BYTES);
    const putting = store.put('object', source);
    await gate.reached;
    await server.kill();
    gate.release();
    const error = await chunkerRejectionOf(() => putting);
    expect(error.code, error.message).toBe('store_unavailable');
    expect(isRetryable(error)).toBe(true);

    // A small put while the server is down fails the same way.
    const down = await chunkerRejectionOf(() => store.put('small', bytesSource(seededBytes(100, 16))));
    expect(down.code).toBe('store_unavailable');

    await server.restart();
    expect(await store.stat('object')).toBeNull();
    expect(await listNames(store, '')).toEqual([]);
    expect((await chunkerRejectionOf(() => store.get('object'))).code).toBe('not_found');
    // The upload the dead server could not be told to abort stays unfinished and
    // invisible (S3 removes such uploads by a bucket lifecycle rule).
    expect((await unfinishedUploads(client, `${prefix}/`)).every((key) => key === `${prefix}/object`)).toBe(true);

    await store.put('object', bytesSource(bytes));
    expect(Buffer.from(await store.get('object')).equals(Buffer.from(bytes))).toBe(true);
  });

  it('refuses an unknown access key with a permanent store_auth error', async () => {
    const { store } = await open('wrong-key', { credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'wrong' } });
    for (const run of [() => store.put('object', bytesSource(new Uint8Array(10))), () => store.get('object'), () => listNames(store, '')]) {
      const error = await chunkerRejectionOf(run);
      expect(error.code).toBe('store_auth');
      expect(error.permanent).toBe(true);
    }
    // HEAD answers carry no error code, only 403.
    const statError = await chunkerRejectionOf(() => store.stat('object'));
    expect(statError.permanent).toBe(true);
    expect(['store_auth', 'store_permission']).toContain(statError.code);
  });

  it('signs with the SDK credential chain when neither options nor environment give credentials', async () => {
    // The CLI as a user runs it: keys in a shared credentials file only. Its puts (one
    // single, one multipart) are signed by our requests with keys the lazily loaded SDK
    // resolved. s3rver checks the access key id, not SigV4 signatures (those are checked
    // against the SDK's own in test/unit/s3-put-object and s3-multipart), so an unknown id
    // in the file must be refused.
    const dir = mkdtempSync(join(tmpdir(), 'chunker-s3-chain-'));
    const credentialsFile = join(dir, 'credentials');
    const writeKeys = (accessKeyId: string) =>
      writeFileSync(credentialsFile, `[default]\naws_access_key_id = ${accessKeyId}\naws_secret_access_key = ${S3RVER_SECRET_ACCESS_KEY}\n`);
    writeFileSync(join(dir, 'config'), '');
    const prefix = freshPrefix('chain');
    const target: StoreTarget = {
      url: `s3://${BUCKET}/${prefix}`,
      env: {
        AWS_ENDPOINT_URL: server.endpoint,
        AWS_REGION: S3RVER_REGION,
        AWS_ACCESS_KEY_ID: '',
        AWS_SECRET_ACCESS_KEY: '',
        AWS_SESSION_TOKEN: '',
        AWS_PROFILE: '',
        AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
        AWS_CONFIG_FILE: join(dir, 'config'),
        AWS_EC2_METADATA_DISABLED: 'true',
      },
    };
    try {
      writeKeys(S3RVER_ACCESS_KEY_ID);
      const small = seededBytes(100_000, 41);
      // Above the CLI's default multipart threshold (16 MiB): two parts.
      const large = seededBytes(17 * MIB, 43);
      for (const [name, bytes] of [['small', small], ['large', large]] as const) {
        const put = await runStoreCli(target, ['store', 'put', target.url, name, '-'], bytes);
        expect(put.status, put.stderr).toBe(0);
      }
      const check = await openStore(target.url, s3Options(server));
      opened.push(check);
      expect(Buffer.from(await check.get('small')).equals(Buffer.from(small))).toBe(true);
      expect(Buffer.from(await check.get('large')).equals(Buffer.from(large))).toBe(true);

      writeKeys('NOT-A-KNOWN-KEY');
      const refused = await runStoreCli(target, ['store', 'put', target.url, 'refused', '-'], small);
      expect(refused.status).not.toBe(0);
      expect(refused.stderr).toMatch(/InvalidAccessKeyId/);
      expect(await check.stat('refused')).toBeNull();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing bucket as a permanent store_config error', async () => {
    const { store } = await open('no-bucket', {}, 'no-such-bucket');
    for (const run of [() => store.put('object', bytesSource(new Uint8Array(10))), () => store.get('object'), () => listNames(store, '')]) {
      const error = await chunkerRejectionOf(run);
      expect(error.code).toBe('store_config');
      expect(error.permanent).toBe(true);
      expect(error.message).toContain('NoSuchBucket');
    }
    const multipart = await chunkerRejectionOf(() => store.put('large', bytesSource(seededBytes(TEST_MULTIPART_THRESHOLD_BYTES, 17))));
    expect(multipart.code).toBe('store_config');
  });

  it('reports an unreachable endpoint as retryable store_unavailable', async () => {
    const { store } = await open('unreachable', { endpoint: 'http://127.0.0.1:1' });
    // stat and put go out as the backend's own requests, get through the SDK.
    for (const run of [() => store.stat('object'), () => store.put('object', bytesSource(new Uint8Array(10))), () => store.get('object')]) {
      const error = await chunkerRejectionOf(run);
      expect(error.code).toBe('store_unavailable');
      expect(isRetryable(error)).toBe(true);
    }
  });
});
