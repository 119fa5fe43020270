// Three S3 behaviours that s3rver 3.7.1 lacks and the S3 backend tests rely on, added to
// a server instance before it starts. Each follows the S3 API reference and works on
// s3rver's own file layout (bucket/._S3rver_uploads/<upload id>/{key,metadata,1,2,...}),
// so the rest of s3rver is untouched.
//
// 1. Whole-object publication: PutObject (and CompleteMultipartUpload, which goes through
//    the same store method) writes to a temporary file and renames it into place only
//    after the whole body arrived, as long as the request said (Content-Length). An
//    interrupted upload then leaves nothing visible, as on S3.
// 2. AbortMultipartUpload (DELETE /bucket/key?uploadId=ID): removes the upload's parts;
//    NoSuchUpload when there is no such upload for that key.
// 3. ListMultipartUploads (GET /bucket?uploads[&prefix=P]): the unfinished uploads, one
//    page, so a test can check that nothing was left behind.
// Requests to these two operations skip s3rver's access-key check; s3rver does not verify
// V4 signatures anyway.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { IncomingMessage } from 'node:http';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import S3Error from 's3rver/lib/models/error.js';
import FilesystemStore from 's3rver/lib/stores/filesystem.js';

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** Patches `server` (an S3rver instance that has not been started yet). */
export function closeS3Gaps(server) {
  server.store.putObject = putObjectWhole;
  // s3rver's own middleware ends with its router; run before it.
  server.middleware.splice(server.middleware.length - 1, 0, multipartUploadRoutes);
}

async function putObjectWhole(object) {
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await mkdir(dirname(objectPath), { recursive: true });
  // The suffix keeps the temporary name out of listings (they match "._S3rver_object").
  const partialPath = `${objectPath}.partial-${randomBytes(8).toString('hex')}`;
  const md5 = createHash('md5');
  let size = 0;
  try {
    if (Buffer.isBuffer(object.content)) {
      await writeFile(partialPath, object.content);
      md5.update(object.content);
      size = object.content.length;
    } else {
      const measure = new Transform({
        transform(chunk, _encoding, callback) {
          md5.update(chunk);
          size += chunk.length;
          callback(null, chunk);
        },
      });
      await pipeline(object.content, measure, createWriteStream(partialPath));
    }
    if (object.content instanceof IncomingMessage) {
      const declared = object.content.headers['content-length'];
      if (declared !== undefined && Number(declared) !== size) {
        throw new S3Error('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header');
      }
    }
    await rename(partialPath, objectPath);
  } catch (error) {
    await rm(partialPath, { force: true });
    throw error;
  }
  const digest = md5.digest('hex');
  await this.putMetadata(object.bucket, object.key, object.metadata, digest);
  return { size, md5: digest };
}

function uploadsDirectory(store, bucket) {
  return store.getResourcePath(bucket, undefined, 'uploads');
}

async function requireBucket(store, bucket) {
  if (!(await store.getBucket(bucket))) {
    throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
  }
}

async function readUpload(directory, uploadId) {
  try {
    const [key, info] = await Promise.all([readFile(join(directory, uploadId, 'key'), 'utf8'), stat(join(directory, uploadId))]);
    return { key, uploadId, initiated: info.birthtime };
  } catch (error) {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return null;
    throw error;
  }
}

async function multipartUploadRoutes(ctx, next) {
  // Path-style only: /bucket, /bucket/ or /bucket/key.
  const match = /^\/([^/]+)(?:\/(.*))?$/.exec(ctx.path);
  if (match === null) return next();
  const bucket = decodeURIComponent(match[1]);
  const key = match[2] === undefined || match[2] === '' ? undefined : decodeURIComponent(match[2]);
  const store = ctx.app.store;

  if (ctx.method === 'DELETE' && key !== undefined && typeof ctx.query.uploadId === 'string') {
    await requireBucket(store, bucket);
    const directory = uploadsDirectory(store, bucket);
    const uploadId = ctx.query.uploadId;
    const upload = /^[0-9a-f]+$/.test(uploadId) ? await readUpload(directory, uploadId) : null;
    if (upload === null || upload.key !== key) {
      throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId });
    }
    await rm(join(directory, uploadId), { recursive: true, force: true });
    ctx.status = 204;
    return undefined;
  }

  if (ctx.method === 'GET' && key === undefined && 'uploads' in ctx.query) {
    await requireBucket(store, bucket);
    const directory = uploadsDirectory(store, bucket);
    const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
    const ids = await readdir(directory).catch((error) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
    const uploads = (await Promise.all(ids.map((id) => readUpload(directory, id))))
      .filter((upload) => upload !== null && upload.key.startsWith(prefix))
      .sort((a, b) => (a.key === b.key ? a.uploadId.localeCompare(b.uploadId) : a.key < b.key ? -1 : 1));
    ctx.body = {
      ListMultipartUploadsResult: {
        '@': { xmlns: XMLNS },
        Bucket: bucket,
        KeyMarker: '',
        UploadIdMarker: '',
        Prefix: prefix,
        MaxUploads: 1000,
        IsTruncated: false,
        Upload: uploads.map((upload) => ({ Key: upload.key, UploadId: upload.uploadId, Initiated: upload.initiated.toISOString() })),
      },
    };
    return undefined;
  }

  return next();
}

// FilesystemStore is imported so a mismatch with s3rver's layout fails loudly at start.
if (typeof FilesystemStore.prototype.getResourcePath !== 'function') {
  throw new Error('s3rver FilesystemStore.getResourcePath is missing; this s3rver version is not supported');
}
