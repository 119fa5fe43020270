/**
 * The S3 backend's own PutObject request (s3-put-object.ts, s3-sigv4.ts): SigV4 against
 * AWS's documented example, and the whole request — path, host, signed headers,
 * signature — against what the AWS SDK itself would send for the same put. The request
 * going over the wire runs against s3rver in test/backends/s3.test.ts.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { S3Settings } from '../../port/store/s3-config.js';
import { translateS3Error } from '../../port/store/s3-errors.js';
import { bucketAddress, responseError } from '../../port/store/s3-http.js';
import { amzDate, encodeKeyPath, encodeSegment, payloadHash, signRequest } from '../../port/store/s3-sigv4.js';
import { captureSdkRequest, type CapturedRequest } from '../support/sdk-capture.js';

// AWS's example credentials from the Signature Version 4 documentation.
const EXAMPLE_CREDENTIALS = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The request the SDK would send for a PutObject. */
function sdkPut(config: { endpoint?: string; region: string; forcePathStyle?: boolean; sessionToken?: string }, bucket: string, key: string, body: Uint8Array): Promise<CapturedRequest> {
  const clientConfig = {
    region: config.region,
    ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
    forcePathStyle: config.forcePathStyle ?? false,
    credentials: { ...EXAMPLE_CREDENTIALS, ...(config.sessionToken === undefined ? {} : { sessionToken: config.sessionToken }) },
  };
  const contentMd5 = createHash('md5').update(body).digest('base64');
  return captureSdkRequest(clientConfig, (client) => client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length, ContentMD5: contentMd5 })));
}

function settings(overrides: Partial<S3Settings> & Pick<S3Settings, 'bucket' | 'region'>): Pick<S3Settings, 'bucket' | 'endpoint' | 'forcePathStyle' | 'region'> {
  return { endpoint: undefined, forcePathStyle: false, ...overrides };
}

describe('signRequest', () => {
  it("matches AWS's documented GET Object example", () => {
    const added = signRequest(
      {
        method: 'GET',
        path: '/test.txt',
        headers: { host: 'examplebucket.s3.amazonaws.com', range: 'bytes=0-9' },
        payloadHash: EMPTY_SHA256,
      },
      EXAMPLE_CREDENTIALS,
      { region: 'us-east-1', service: 's3' },
      new Date('2013-05-24T00:00:00Z'),
    );
    expect(added['x-amz-date']).toBe('20130524T000000Z');
    expect(added.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ' +
        'SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  it('encodes key segments as SigV4 canonicalizes them', () => {
    expect(encodeSegment("a b+c!'()*~-_.é")).toBe('a%20b%2Bc%21%27%28%29%2A~-_.%C3%A9');
    expect(encodeKeyPath('chunks/ab/x y')).toBe('chunks/ab/x%20y');
    expect(amzDate(new Date('2024-02-29T23:59:58.123Z'))).toBe('20240229T235958Z');
  });
});

describe('the put request against the SDK', () => {
  const body = new TextEncoder().encode('chunk bytes for the signature check');
  const cases = [
    { name: 'path style on a custom endpoint', config: { endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', forcePathStyle: true }, bucket: 'cache', key: 'pre/chunks/ab/abcdef' },
    { name: 'an endpoint with a base path and a port', config: { endpoint: 'https://objects.example.org:8443/s3', region: 'eu-west-1', forcePathStyle: true }, bucket: 'cache', key: "odd/a b+c!'()*é" },
    { name: 'virtual-host style on a custom endpoint', config: { endpoint: 'https://storage.example.org', region: 'auto', forcePathStyle: false }, bucket: 'cache', key: 'k' },
    { name: 'AWS, virtual-host style', config: { region: 'us-west-2' }, bucket: 'my-cache', key: 'nar/x.nar' },
    { name: 'AWS, a bucket name with dots', config: { region: 'eu-central-1' }, bucket: 'my.cache.bucket', key: 'k' },
    { name: 'AWS China', config: { region: 'cn-north-1' }, bucket: 'cache-cn', key: 'k' },
    { name: 'session credentials', config: { region: 'us-east-1', sessionToken: 'FQoGZXIvYXdzEXAMPLETOKEN' }, bucket: 'cache', key: 'k' },
  ];
  for (const { name, config, bucket, key } of cases) {
    it(`sends what the SDK sends: ${name}`, async () => {
      const sdk = await sdkPut(config, bucket, key, body);
      const address = bucketAddress(settings({ bucket, region: config.region, endpoint: config.endpoint, forcePathStyle: config.forcePathStyle ?? false }));
      const path = address.pathPrefix + encodeKeyPath(key);
      expect(`${address.protocol}//${address.host}${path}`).toBe(`${config.endpoint?.startsWith('http:') ? 'http:' : 'https:'}//${sdk.headers.host}${sdk.path}`);
      expect(address.hostname).toBe(sdk.hostname);
      expect(payloadHash(body)).toBe(sdk.headers['x-amz-content-sha256']);

      // Sign the headers the SDK signed (it adds a few of its own, e.g. an invocation id).
      const signed = /SignedHeaders=([^,]+)/.exec(sdk.headers.authorization!)![1]!.split(';');
      const ours = Object.fromEntries(signed.filter((header) => !['x-amz-date', 'x-amz-content-sha256', 'x-amz-security-token'].includes(header)).map((header) => [header, sdk.headers[header]!]));
      const date = new Date(sdk.headers['x-amz-date']!.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
      // The SDK adds ?x-id=PutObject, an optional marker the backend's request goes without.
      expect(sdk.query).toEqual({ 'x-id': 'PutObject' });
      const added = signRequest({ method: 'PUT', path, query: sdk.query, headers: ours, payloadHash: payloadHash(body) }, { ...EXAMPLE_CREDENTIALS, sessionToken: config.sessionToken }, { region: config.region, service: 's3' }, date);
      expect(added.authorization).toBe(sdk.headers.authorization);
      if (config.sessionToken !== undefined) expect(added['x-amz-security-token']).toBe(config.sessionToken);
    });
  }

  it('signs exactly host, content-length, content-md5 and the x-amz-* headers it adds', () => {
    const added = signRequest(
      { method: 'PUT', path: '/b/k', headers: { host: 'h', 'content-length': '3', 'content-md5': 'x' }, payloadHash: EMPTY_SHA256 },
      EXAMPLE_CREDENTIALS,
      { region: 'us-east-1', service: 's3' },
      new Date(0),
    );
    expect(added.authorization).toContain('SignedHeaders=content-length;content-md5;host;x-amz-content-sha256;x-amz-date,');
  });
});

describe('responseError', () => {
  it("reads S3's Code and Message, which translateS3Error maps like the SDK's errors", () => {
    const error = responseError(403, '<?xml version="1.0"?><Error><Code>InvalidAccessKeyId</Code><Message>The key &amp; id &lt;x&gt;</Message></Error>');
    expect(error).toMatchObject({ name: 'InvalidAccessKeyId', Code: 'InvalidAccessKeyId', message: 'The key & id <x>', $metadata: { httpStatusCode: 403 } });
    const translated = translateS3Error(error, 'put k');
    expect(translated.code).toBe('store_auth');
    expect(translated.permanent).toBe(true);
    expect(translateS3Error(responseError(503, '<Error><Code>SlowDown</Code><Message>m</Message></Error>'), 'put k').code).toBe('store_busy');
  });

  it('falls back to the status when the body has no error document', () => {
    expect(responseError(404, '')).toMatchObject({ name: 'NotFound', $metadata: { httpStatusCode: 404 } });
    expect(translateS3Error(responseError(500, 'oops'), 'put k').code).toBe('store_error');
    expect(translateS3Error(responseError(400, ''), 'put k').code).toBe('store_config');
  });
});
