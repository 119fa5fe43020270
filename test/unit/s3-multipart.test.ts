/**
 * The multipart upload's digests (s3-multipart.ts with the native UploadDigest): each part
 * goes out with the MD5 and SHA-256 of exactly its bytes and a signature over that
 * SHA-256, the final ETag is checked against the whole object's MD5, and part buffers are
 * read into again once their upload is done. The SDK client is real; its request handler
 * plays a minimal S3 here. The same uploads run against s3rver in test/backends/.
 */
import { S3Client } from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { native } from '../../port/native.js';
import type { ObjectSource } from '../../port/store/backend.js';
import { uploadMultipart } from '../../port/store/s3-multipart.js';
import { signRequest } from '../../port/store/s3-sigv4.js';

const CREDENTIALS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const REGION = 'us-east-1';

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest();
const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface SentPart {
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Buffer;
}

interface FakeS3 {
  client: S3Client;
  parts: SentPart[];
  aborted: number;
}

/** How the fake answers CompleteMultipartUpload: S3's digest of digests, or a whole-object MD5. */
type CompleteETag = (parts: readonly SentPart[]) => string;

function fakeS3(completeETag: CompleteETag): FakeS3 {
  const fake: FakeS3 = { client: undefined as unknown as S3Client, parts: [], aborted: 0 };
  const reply = (statusCode: number, headers: Record<string, string>, body = '') => ({
    response: { statusCode, headers, body: Readable.from(body === '' ? [] : [Buffer.from(body)]) },
  });
  fake.client = new S3Client({
    region: REGION,
    endpoint: 'http://127.0.0.1:9',
    forcePathStyle: true,
    credentials: CREDENTIALS,
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    requestHandler: {
      handle: async (request: { method: string; path: string; query: Record<string, string>; headers: Record<string, string>; body?: Uint8Array }) => {
        const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value]));
        if (request.method === 'POST' && 'uploads' in request.query) {
          return reply(200, {}, '<InitiateMultipartUploadResult><UploadId>up-1</UploadId></InitiateMultipartUploadResult>');
        }
        if (request.method === 'PUT' && request.query.partNumber !== undefined) {
          // Copied now: the uploader may read the next part into the same buffer later.
          const body = Buffer.from(request.body!);
          fake.parts.push({ path: request.path, query: { ...request.query }, headers, body });
          return reply(200, { etag: `"${md5(body).toString('hex')}"` });
        }
        if (request.method === 'POST' && request.query.uploadId !== undefined) {
          return reply(200, {}, `<CompleteMultipartUploadResult><ETag>"${completeETag(fake.parts)}"</ETag></CompleteMultipartUploadResult>`);
        }
        if (request.method === 'DELETE') {
          fake.aborted += 1;
          return reply(204, {});
        }
        throw new Error(`unexpected request ${request.method} ${request.path}`);
      },
    },
  });
  return fake;
}

/** A source over `bytes` that reads into `into` when given (as a file source does), counting the buffers it was handed. */
function copyingSource(bytes: Buffer): ObjectSource & { handed: Set<Uint8Array>; reads: number } {
  const handed = new Set<Uint8Array>();
  return {
    size: bytes.length,
    handed,
    reads: 0,
    async read(offset, length, into) {
      this.reads += 1;
      const target = into !== undefined && into.length >= length ? into.subarray(0, length) : Buffer.allocUnsafe(length);
      if (into !== undefined) handed.add(into.buffer as unknown as Uint8Array);
      bytes.copy(target, 0, offset, offset + length);
      return target;
    },
  };
}

const wholeObjectETag = (object: Buffer): CompleteETag => () => md5(object).toString('hex');
const digestOfDigests: CompleteETag = (parts) => {
  const ordered = [...parts].sort((a, b) => Number(a.query.partNumber) - Number(b.query.partNumber));
  return `${md5(Buffer.concat(ordered.map((part) => md5(part.body)))).toString('hex')}-${ordered.length}`;
};

async function upload(fake: FakeS3, source: ObjectSource, partBytes: number, partConcurrency: number): Promise<{ discarded: boolean }> {
  let discarded = false;
  await uploadMultipart({
    client: fake.client,
    bucket: 'cache',
    key: 'nar/big.nar',
    what: 'put nar/big.nar',
    source,
    partBytes,
    partConcurrency,
    signal: undefined,
    discardObject: async () => {
      discarded = true;
    },
  });
  return { discarded };
}

describe('native UploadDigest', () => {
  it("gives each part's MD5 and SHA-256 and the whole object's MD5, for any split", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 200_000 }), { maxLength: 6 }), async (sizes) => {
        const parts = sizes.map((size) => randomBytes(size));
        const digest = new native.UploadDigest();
        for (const part of parts) {
          const { md5: partMd5, sha256 } = await digest.part(part);
          expect(partMd5.equals(md5(part))).toBe(true);
          expect(sha256.toString('hex')).toBe(sha256Hex(part));
        }
        expect(digest.objectMd5().equals(md5(Buffer.concat(parts)))).toBe(true);
      }),
      { numRuns: 30 },
    );
  });

  it('refuses a part while the previous one is digesting, and anything after objectMd5', async () => {
    const digest = new native.UploadDigest();
    const first = digest.part(randomBytes(1 << 20));
    expect(() => digest.part(randomBytes(16))).toThrow(expect.objectContaining({ code: 'invalid_state' }));
    expect(() => digest.objectMd5()).toThrow(expect.objectContaining({ code: 'invalid_state' }));
    await first;
    digest.objectMd5();
    expect(() => digest.part(randomBytes(16))).toThrow(expect.objectContaining({ code: 'invalid_state' }));
    expect(() => digest.part('not bytes' as unknown as Uint8Array)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });
});

describe('uploadMultipart', () => {
  it('sends every part with its own MD5 and a signature over its SHA-256', async () => {
    const object = randomBytes(5 * 65536 + 123);
    const fake = fakeS3(digestOfDigests);
    await upload(fake, copyingSource(object), 65536, 2);
    expect(fake.parts).toHaveLength(6);
    for (const part of fake.parts) {
      const offset = (Number(part.query.partNumber) - 1) * 65536;
      expect(part.body.equals(object.subarray(offset, offset + 65536))).toBe(true);
      expect(part.headers['content-md5']).toBe(md5(part.body).toString('base64'));
      expect(part.headers['x-amz-content-sha256']).toBe(sha256Hex(part.body));
      // Re-sign the headers the SDK signed with the body's real SHA-256: the signature
      // matches only if the SDK signed that hash.
      const signed = /SignedHeaders=([^,]+)/.exec(part.headers.authorization!)![1]!.split(';');
      const headers = Object.fromEntries(signed.filter((name) => !['x-amz-date', 'x-amz-content-sha256'].includes(name)).map((name) => [name, part.headers[name]!]));
      const date = new Date(part.headers['x-amz-date']!.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
      const added = signRequest({ method: 'PUT', path: part.path, query: part.query, headers, payloadHash: sha256Hex(part.body) }, CREDENTIALS, { region: REGION, service: 's3' }, date);
      expect(added.authorization).toBe(part.headers.authorization);
    }
  });

  it("accepts a whole-object MD5 ETag only when it is the object's", async () => {
    const object = randomBytes(3 * 65536);
    expect(await upload(fakeS3(wholeObjectETag(object)), copyingSource(object), 65536, 2)).toEqual({ discarded: false });

    const other = Buffer.from(object);
    other[70_000] = other[70_000]! ^ 1;
    const fake = fakeS3(wholeObjectETag(other));
    await expect(upload(fake, copyingSource(object), 65536, 2)).rejects.toMatchObject({ code: 'store_integrity' });
    expect(fake.aborted).toBe(1);
  });

  it('reads later parts into the buffers of parts already sent', async () => {
    const object = randomBytes(12 * 65536);
    const source = copyingSource(object);
    await upload(fakeS3(digestOfDigests), source, 65536, 3);
    expect(source.reads).toBe(12);
    // Without reuse no buffer is ever handed back; with it, no more buffers than fit in
    // flight (plus the one being read) are ever allocated.
    expect(source.handed.size).toBeGreaterThan(0);
    expect(source.handed.size).toBeLessThanOrEqual(4);
  });
});
