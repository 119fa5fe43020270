/**
 * The S3 backend's pure parts: URL/options/environment resolution, SDK error translation
 * and ETag checks. The backend itself runs against a real server in test/backends.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChunkerError } from '../../port/errors.js';
import {
  DEFAULT_MULTIPART_THRESHOLD_BYTES,
  DEFAULT_PART_BYTES,
  MAX_PARTS,
  MIN_PART_BYTES,
  partBytesFor,
  resolveS3Settings,
} from '../../port/store/s3-config.js';
import { translateS3Error } from '../../port/store/s3-errors.js';
import { md5, multipartETagMismatch, objectETagMismatch } from '../../port/store/s3-integrity.js';
import { chunkerErrorOf } from '../support/chunker-error.js';

const MIB = 1024 * 1024;

describe('resolveS3Settings', () => {
  it('splits bucket and prefix, ending a non-empty prefix in a slash', () => {
    expect(resolveS3Settings(new URL('s3://cache-bucket/nix/chunks'), {}, {})).toMatchObject({ bucket: 'cache-bucket', prefix: 'nix/chunks/' });
    expect(resolveS3Settings(new URL('s3://cache-bucket/nix/'), {}, {}).prefix).toBe('nix/');
    expect(resolveS3Settings(new URL('s3://cache-bucket'), {}, {}).prefix).toBe('');
    expect(resolveS3Settings(new URL('s3://cache-bucket/a%20b'), {}, {}).prefix).toBe('a b/');
  });

  it('defaults to us-east-1, AWS endpoints, virtual-host style and the SDK credential chain', () => {
    const settings = resolveS3Settings(new URL('s3://b12/p'), {}, {});
    expect(settings).toMatchObject({
      region: 'us-east-1',
      endpoint: undefined,
      forcePathStyle: false,
      credentials: undefined,
      multipartThresholdBytes: DEFAULT_MULTIPART_THRESHOLD_BYTES,
      partBytes: DEFAULT_PART_BYTES,
    });
  });

  it('reads the AWS environment, AWS_REGION before AWS_DEFAULT_REGION and the S3 endpoint before the generic one', () => {
    const env = {
      AWS_ACCESS_KEY_ID: 'id',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'token',
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'us-west-2',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:1',
      AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:2',
    };
    expect(resolveS3Settings(new URL('s3://b12/p'), {}, env)).toMatchObject({
      region: 'eu-west-1',
      endpoint: 'http://127.0.0.1:2',
      forcePathStyle: true,
      credentials: { accessKeyId: 'id', secretAccessKey: 'secret', sessionToken: 'token' },
    });
    expect(resolveS3Settings(new URL('s3://b12/p'), {}, { AWS_DEFAULT_REGION: 'us-west-2', AWS_ENDPOINT_URL: 'https://s3.example' })).toMatchObject({
      region: 'us-west-2',
      endpoint: 'https://s3.example',
      credentials: undefined,
    });
  });

  it('lets explicit options win over the environment', () => {
    const settings = resolveS3Settings(
      new URL('s3://b12/p'),
      { region: 'ap-south-1', endpoint: 'http://127.0.0.1:3', forcePathStyle: false, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } },
      { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_ACCESS_KEY_ID: 'id', AWS_SECRET_ACCESS_KEY: 'secret' },
    );
    expect(settings).toMatchObject({ region: 'ap-south-1', endpoint: 'http://127.0.0.1:3', forcePathStyle: false, credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
  });

  it('refuses URLs that cannot name a bucket and prefix', () => {
    for (const location of ['s3://Upper/p', 's3://ab/p', 's3://a_b/p', 's3://-ab/p', 's3://a..b/p', 's3://user:pw@bucket/p', 's3://bucket:9000/p', 's3://bucket/p?x=1', 's3://bucket/a//b']) {
      const error = chunkerErrorOf(() => resolveS3Settings(new URL(location), {}, {}));
      expect(error.code, location).toBe('store_config');
    }
  });

  it('checks sizes and the endpoint, naming the option', () => {
    for (const [options, name] of [
      [{ partBytes: MIN_PART_BYTES - 1 }, 's3.partBytes'],
      [{ partConcurrency: 0 }, 's3.partConcurrency'],
      [{ multipartThresholdBytes: 1.5 }, 's3.multipartThresholdBytes'],
      [{ endpoint: 'ftp://host' }, 's3.endpoint'],
      [{ credentials: { accessKeyId: '', secretAccessKey: 'x' } }, 's3.credentials'],
    ] as const) {
      const error = chunkerErrorOf(() => resolveS3Settings(new URL('s3://b12/p'), options, {}));
      expect(error.code).toBe('invalid_argument');
      expect(error.message).toContain(name);
    }
  });

  it('grows parts so that an object never needs more than 10,000 of them', () => {
    expect(partBytesFor(100 * MIB, 8 * MIB)).toBe(8 * MIB);
    const huge = 200 * 1024 * MIB;
    const grown = partBytesFor(huge, 8 * MIB);
    expect(grown % MIB).toBe(0);
    expect(Math.ceil(huge / grown)).toBeLessThanOrEqual(MAX_PARTS);
  });
});

describe('translateS3Error', () => {
  // Shaped like the SDK's exceptions: name/Code, and $metadata.httpStatusCode.
  const service = (name: string, status: number) => Object.assign(new Error(`${name} message`), { name, Code: name, $metadata: { httpStatusCode: status } });
  const socket = (code: string, name = 'Error') => Object.assign(new Error(`connect ${code}`), { code, name });

  it.each([
    [service('NoSuchKey', 404), 'not_found', true],
    [service('NoSuchBucket', 404), 'store_config', true],
    [service('InvalidAccessKeyId', 403), 'store_auth', true],
    [service('SignatureDoesNotMatch', 403), 'store_auth', true],
    [service('AccessDenied', 403), 'store_permission', true],
    [service('Unknown', 403), 'store_permission', true],
    [service('SlowDown', 503), 'store_busy', false],
    [service('Unknown', 429), 'store_busy', false],
    [service('InternalError', 500), 'store_error', false],
    [service('Unknown', 502), 'store_error', false],
    [service('BadDigest', 400), 'store_integrity', false],
    [service('RequestTimeout', 400), 'store_timeout', false],
    [service('NotImplemented', 501), 'store_config', true],
    [service('MethodNotAllowed', 405), 'store_config', true],
    [socket('ECONNREFUSED'), 'store_unavailable', false],
    [socket('ECONNRESET', 'TimeoutError'), 'store_unavailable', false],
    [Object.assign(new Error('timed out'), { name: 'TimeoutError' }), 'store_timeout', false],
    [Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' }), 'store_auth', true],
    [new Error('something else'), 'store_error', false],
  ])('%s → %s', (error, code, permanent) => {
    const translated = translateS3Error(error, 's3://b/p: put x');
    expect(translated.code).toBe(code);
    expect(translated.permanent).toBe(permanent);
    expect(translated.message).toContain('s3://b/p: put x');
  });

  it('passes ChunkerErrors through and turns aborts into the signal reason or a permanent aborted error', () => {
    const own = new ChunkerError('store_timeout', 'slow', false);
    expect(translateS3Error(own, 'x')).toBe(own);
    const controller = new AbortController();
    controller.abort(own);
    expect(translateS3Error(socket('ECONNRESET'), 'x', controller.signal)).toBe(own);
    const aborted = translateS3Error(Object.assign(new Error('Request aborted'), { name: 'AbortError' }), 'x');
    expect([aborted.code, aborted.permanent]).toEqual(['aborted', true]);
  });
});

describe('ETag checks', () => {
  const bytes = Buffer.from('hello world');
  const hex = createHash('md5').update(bytes).digest('hex');

  it('accepts the MD5 of the bytes, quoted or not, and reports anything else', () => {
    expect(objectETagMismatch({ ETag: `"${hex}"` }, md5(bytes))).toBeNull();
    expect(objectETagMismatch({ ETag: hex.toUpperCase() }, md5(bytes))).toBeNull();
    expect(objectETagMismatch({ ETag: `"${'0'.repeat(32)}"` }, md5(bytes))).toContain(hex);
  });

  it('skips ETags that are not MD5s: encrypted objects, multipart objects, other formats', () => {
    const wrong = `"${'0'.repeat(32)}"`;
    expect(objectETagMismatch({ ETag: wrong, ServerSideEncryption: 'aws:kms' }, md5(bytes))).toBeNull();
    expect(objectETagMismatch({ ETag: wrong, SSECustomerAlgorithm: 'AES256' }, md5(bytes))).toBeNull();
    expect(objectETagMismatch({ ETag: `"${'0'.repeat(32)}-3"` }, md5(bytes))).toBeNull();
    expect(objectETagMismatch({ ETag: '"opaque"' }, md5(bytes))).toBeNull();
    expect(objectETagMismatch({}, md5(bytes))).toBeNull();
    expect(objectETagMismatch({ ETag: wrong, ServerSideEncryption: 'AES256' }, md5(bytes))).not.toBeNull();
  });

  it('checks a completed upload in the S3 composite form and in the whole-object form', () => {
    const parts = [Buffer.from('part one'), Buffer.from('part two')];
    const digests = parts.map((part) => md5(part));
    const whole = md5(Buffer.concat(parts));
    const composite = `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-2`;
    expect(multipartETagMismatch({ ETag: `"${composite}"` }, digests, whole)).toBeNull();
    expect(multipartETagMismatch({ ETag: `"${whole.toString('hex')}"` }, digests, whole)).toBeNull();
    expect(multipartETagMismatch({ ETag: `"${composite.replace(/-2$/, '-3')}"` }, digests, whole)).not.toBeNull();
    expect(multipartETagMismatch({ ETag: `"${digests[0]!.toString('hex')}"` }, digests, whole)).not.toBeNull();
  });
});
