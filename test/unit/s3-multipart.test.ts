/**
 * The multipart upload (s3-multipart.ts over s3-http.ts, with the native UploadDigest):
 * each part goes out with the MD5 and SHA-256 of exactly its bytes and a signature over
 * that SHA-256, Complete lists the parts' ETags in order, the final ETag is checked
 * against the whole object's MD5, a Complete that fails after its 200 is a failure, and
 * part buffers are read into again once their upload is done. The server is a minimal S3
 * on 127.0.0.1; the same uploads run against s3rver in test/backends/.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import fc from 'fast-check';
import { createHash, randomBytes } from 'node:crypto';
import { Agent, createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { native } from '../../port/native.js';
import type { ObjectSource } from '../../port/store/backend.js';
import { bucketAddress, type S3Connection } from '../../port/store/s3-http.js';
import { uploadMultipart } from '../../port/store/s3-multipart.js';
import { payloadHash, signRequest } from '../../port/store/s3-sigv4.js';
import { captureSdkRequest } from '../support/sdk-capture.js';

const CREDENTIALS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const REGION = 'us-east-1';
const BUCKET = 'cache';
const KEY = 'nar/big.nar';

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest();
const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface SentRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: Buffer;
}

interface FakeS3 {
  connection: S3Connection;
  creates: SentRequest[];
  parts: SentRequest[];
  completes: SentRequest[];
  aborts: SentRequest[];
  aborted: number;
}

/** How the fake answers CompleteMultipartUpload: a 200 body, given the parts it stored. */
type CompleteReply = (parts: readonly SentRequest[]) => string;

const agent = new Agent({ keepAlive: true });
const servers: Server[] = [];
afterAll(async () => {
  agent.destroy();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

async function received(request: IncomingMessage): Promise<SentRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const url = new URL(request.url!, 'http://127.0.0.1');
  const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
  return { method: request.method!, path: url.pathname, query: Object.fromEntries(url.searchParams), headers, body: Buffer.concat(chunks) };
}

async function fakeS3(completeReply: CompleteReply): Promise<FakeS3> {
  const server = createServer((request, response) => {
    void received(request).then((sent) => {
      if (sent.method === 'POST' && 'uploads' in sent.query) {
        fake.creates.push(sent);
        response.end('<InitiateMultipartUploadResult><UploadId>up/1+a</UploadId></InitiateMultipartUploadResult>');
      } else if (sent.method === 'PUT' && sent.query.partNumber !== undefined) {
        fake.parts.push(sent);
        response.setHeader('etag', `"${md5(sent.body).toString('hex')}"`);
        response.end();
      } else if (sent.method === 'POST' && sent.query.uploadId !== undefined) {
        fake.completes.push(sent);
        response.end(completeReply(fake.parts));
      } else if (sent.method === 'DELETE') {
        fake.aborts.push(sent);
        fake.aborted += 1;
        response.statusCode = 204;
        response.end();
      } else {
        response.statusCode = 400;
        response.end(`<Error><Code>InvalidRequest</Code><Message>unexpected ${sent.method} ${request.url}</Message></Error>`);
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const fake: FakeS3 = {
    connection: {
      address: bucketAddress({ bucket: BUCKET, endpoint, forcePathStyle: true, region: REGION }),
      region: REGION,
      credentials: async () => CREDENTIALS,
      agent,
      connectTimeoutMs: 5_000,
    },
    creates: [],
    parts: [],
    completes: [],
    aborts: [],
    aborted: 0,
  };
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

const completed = (etag: string) => `<CompleteMultipartUploadResult><ETag>&quot;${etag}&quot;</ETag></CompleteMultipartUploadResult>`;
const wholeObjectETag =
  (object: Buffer): CompleteReply =>
  () =>
    completed(md5(object).toString('hex'));
const digestOfDigests: CompleteReply = (parts) => {
  const ordered = [...parts].sort((a, b) => Number(a.query.partNumber) - Number(b.query.partNumber));
  return completed(`${md5(Buffer.concat(ordered.map((part) => md5(part.body)))).toString('hex')}-${ordered.length}`);
};

async function upload(fake: FakeS3, source: ObjectSource, partBytes: number, partConcurrency: number): Promise<{ discarded: boolean }> {
  let discarded = false;
  await uploadMultipart({
    connection: fake.connection,
    key: KEY,
    what: `put ${KEY}`,
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
    const fake = await fakeS3(digestOfDigests);
    await upload(fake, copyingSource(object), 65536, 2);
    expect(fake.parts).toHaveLength(6);
    for (const part of fake.parts) {
      const offset = (Number(part.query.partNumber) - 1) * 65536;
      expect(part.body.equals(object.subarray(offset, offset + 65536))).toBe(true);
      expect(part.headers['content-md5']).toBe(md5(part.body).toString('base64'));
      expect(part.headers['x-amz-content-sha256']).toBe(sha256Hex(part.body));
      // Re-derive the signature from the request as the server parsed it (path, query,
      // the headers named signed) and the body's real SHA-256: it matches only if what was
      // signed is what was sent.
      const signed = /SignedHeaders=([^,]+)/.exec(part.headers.authorization!)![1]!.split(';');
      const headers = Object.fromEntries(signed.filter((name) => !['x-amz-date', 'x-amz-content-sha256'].includes(name)).map((name) => [name, part.headers[name]!]));
      const date = new Date(part.headers['x-amz-date']!.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
      const added = signRequest({ method: 'PUT', path: part.path, query: part.query, headers, payloadHash: sha256Hex(part.body) }, CREDENTIALS, { region: REGION, service: 's3' }, date);
      expect(added.authorization).toBe(part.headers.authorization);
    }
  });

  it("completes with every part's number and ETag, in order", async () => {
    const object = randomBytes(4 * 65536 + 1);
    const fake = await fakeS3(digestOfDigests);
    await upload(fake, copyingSource(object), 65536, 3);
    expect(fake.completes).toHaveLength(1);
    const complete = fake.completes[0]!;
    expect(complete.query).toEqual({ uploadId: 'up/1+a' });
    expect(complete.headers['x-amz-content-sha256']).toBe(sha256Hex(complete.body));
    const listed = [...complete.body.toString('utf8').matchAll(/<Part><PartNumber>(\d+)<\/PartNumber><ETag>([^<]*)<\/ETag><\/Part>/g)].map((match) => [Number(match[1]), match[2]]);
    const expected = [0, 1, 2, 3, 4].map((index) => [index + 1, `&quot;${md5(object.subarray(index * 65536, (index + 1) * 65536)).toString('hex')}&quot;`]);
    expect(listed).toEqual(expected);
    expect(fake.aborted).toBe(0);
  });

  it('fails and aborts the upload when Complete answers 200 with an error document', async () => {
    const object = randomBytes(2 * 65536);
    const fake = await fakeS3(() => '<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>');
    await expect(upload(fake, copyingSource(object), 65536, 2)).rejects.toMatchObject({ message: expect.stringMatching(/complete multipart upload.*InternalError/) });
    expect(fake.aborted).toBe(1);
  });

  it("accepts a whole-object MD5 ETag only when it is the object's", async () => {
    const object = randomBytes(3 * 65536);
    expect(await upload(await fakeS3(wholeObjectETag(object)), copyingSource(object), 65536, 2)).toEqual({ discarded: false });

    const other = Buffer.from(object);
    other[70_000] = other[70_000]! ^ 1;
    const fake = await fakeS3(wholeObjectETag(other));
    await expect(upload(fake, copyingSource(object), 65536, 2)).rejects.toMatchObject({ code: 'store_integrity' });
    expect(fake.aborted).toBe(1);
  });

  it('reads later parts into the buffers of parts already sent', async () => {
    const object = randomBytes(12 * 65536);
    const source = copyingSource(object);
    await upload(await fakeS3(digestOfDigests), source, 65536, 3);
    expect(source.reads).toBe(12);
    // Without reuse no buffer is ever handed back; with it, no more buffers than fit in
    // flight (plus the one being read) are ever allocated.
    expect(source.handed.size).toBeGreaterThan(0);
    expect(source.handed.size).toBeLessThanOrEqual(4);
  });
});

/** The request the SDK would send in `send`, to the fake's endpoint. */
function sdkRequest(endpoint: string, send: (client: S3Client) => Promise<unknown>): Promise<SentRequest> {
  return captureSdkRequest({ region: REGION, endpoint, forcePathStyle: true, credentials: CREDENTIALS }, send);
}

/** Our signature over the SDK's request, for the headers the SDK signed. */
function signedLikeSdk(request: SentRequest): string {
  const signed = /SignedHeaders=([^,]+)/.exec(request.headers.authorization!)![1]!.split(';');
  const headers = Object.fromEntries(signed.filter((name) => !['x-amz-date', 'x-amz-content-sha256'].includes(name)).map((name) => [name, request.headers[name]!]));
  const date = new Date(request.headers['x-amz-date']!.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
  return signRequest({ method: request.method, path: request.path, query: request.query, headers, payloadHash: request.headers['x-amz-content-sha256']! }, CREDENTIALS, { region: REGION, service: 's3' }, date).authorization!;
}

describe('the multipart requests against the SDK', () => {
  it('address the same path and parameters, and our signer signs the SDK\'s own requests as the SDK does', async () => {
    const object = randomBytes(2 * 65536);
    const fake = await fakeS3(() => '<Error><Code>InternalError</Code><Message>fail, so that the upload is aborted</Message></Error>');
    await expect(upload(fake, copyingSource(object), 65536, 1)).rejects.toThrow();
    const uploadId = 'up/1+a';
    const { path } = fake.parts[0]!;
    const endpoint = `http://${fake.connection.address.host}`;
    const pairs: [SentRequest, SentRequest][] = [
      [fake.creates[0]!, await sdkRequest(endpoint, (client) => client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: KEY })))],
      [fake.parts[0]!, await sdkRequest(endpoint, (client) => client.send(new UploadPartCommand({ Bucket: BUCKET, Key: KEY, UploadId: uploadId, PartNumber: 1, Body: object.subarray(0, 65536) })))],
      [fake.completes[0]!, await sdkRequest(endpoint, (client) =>
        client.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: KEY, UploadId: uploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"e"' }] } })),
      )],
      [fake.aborts[0]!, await sdkRequest(endpoint, (client) => client.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: KEY, UploadId: uploadId })))],
    ];
    for (const [ours, sdk] of pairs) {
      expect(ours.method).toBe(sdk.method);
      expect(ours.path).toBe(path);
      expect(sdk.path).toBe(path);
      // The SDK adds ?x-id=<Operation>, an optional marker our requests go without.
      expect({ ...ours.query, 'x-id': sdk.query['x-id'] }).toEqual(sdk.query);
      expect(sdk.headers['x-amz-content-sha256']).toBe(payloadHash(sdk.body));
      expect(signedLikeSdk(sdk)).toBe(sdk.headers.authorization);
      expect(signedLikeSdk(ours)).toBe(ours.headers.authorization);
    }
  });
});
