/**
 * `store_upload` (spec §4, "Stores"): the port uploads a directory tree, or a list of
 * files, into a store with the transfer scheduler (port/transfer): existence checks,
 * adaptive parallelism, bandwidth limit, resume journal. It sends `progress` events (at
 * most one per `progress_ms`) before the reply, which carries the summary. The files'
 * bytes never cross the port's pipe.
 */
import { lstat } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { ChunkerError, invalidParameter } from '../errors.js';
import { readArray, readOptionalString, readOptionalUint, readString, type Message, type Request } from '../protocol.js';
import { checkObjectName } from '../store/object-name.js';
import { openFileSource } from '../store/object-source.js';
import type { StoreOpenOptions } from '../store/open-store.js';
import { parseBandwidth, UNLIMITED_BANDWIDTH } from '../store/wrappers/bandwidth.js';
import { listDirectoryObjects } from '../transfer/directory-objects.js';
import type { UploadProgress } from '../transfer/progress.js';
import { composeUploadStore } from '../transfer/upload-store.js';
import { DEFAULT_MEMORY_BUDGET_BYTES, DEFAULT_TRANSFERS, UploadError, uploadObjects, type UploadObject, type UploadSummary } from '../transfer/upload.js';
import type { PortContext, Send } from './context.js';

/** Default shortest time between progress events; a client redrawing a bar wants no more. */
export const DEFAULT_PROGRESS_EVENT_MS = 500;
/** Most transfers a request may ask for. */
const MAX_TRANSFERS = 256;

function isMap(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function absolutePath(value: unknown, name: string): string {
  if (typeof value !== 'string' || !isAbsolute(value)) throw invalidParameter(name, 'an absolute path', value);
  return value;
}

async function fileObject(entry: unknown, index: number): Promise<UploadObject> {
  if (!isMap(entry)) throw invalidParameter(`files[${index}]`, 'a map {name, path}', entry);
  const name = checkObjectName(entry.name, `files[${index}].name`);
  const path = absolutePath(entry.path, `files[${index}].path`);
  let size: number;
  try {
    const info = await lstat(path);
    if (!info.isFile()) throw new ChunkerError('invalid_argument', `files[${index}].path ${path} is not a regular file`);
    size = info.size;
  } catch (error) {
    if (error instanceof ChunkerError) throw error;
    const { code, message } = error as NodeJS.ErrnoException;
    throw code === 'ENOENT' ? new ChunkerError('not_found', `No file at ${path}`) : new ChunkerError('io_error', message, false);
  }
  return { name, size, source: () => openFileSource(path) };
}

/** The objects a request names: every file under `dir` (named by relative path), or `files`. */
async function requestedObjects(args: Message): Promise<UploadObject[]> {
  const hasDir = args.dir !== undefined && args.dir !== null;
  const hasFiles = args.files !== undefined && args.files !== null;
  if (hasDir === hasFiles) throw invalidParameter('dir / files', 'exactly one of dir (str) or files (array)', args.dir ?? args.files);
  if (hasDir) return (await listDirectoryObjects(absolutePath(args.dir, 'dir'))).objects;
  const files = readArray(args, 'files');
  const objects: UploadObject[] = [];
  for (const [index, entry] of files.entries()) objects.push(await fileObject(entry, index));
  return objects;
}

function readBandwidth(args: Message): number {
  const value = args.bwlimit;
  if (value === undefined || value === null) return UNLIMITED_BANDWIDTH;
  if (typeof value === 'string') return parseBandwidth(value);
  return readOptionalUint(args, 'bwlimit') ?? UNLIMITED_BANDWIDTH;
}

function progressEvent(ref: number, progress: UploadProgress): Message {
  return {
    event: 'progress',
    ref,
    phase: progress.phase,
    objects_total: progress.objectsTotal,
    objects_checked: progress.objectsChecked,
    objects_done: progress.objectsDone,
    objects_skipped: progress.objectsSkipped,
    objects_failed: progress.objectsFailed,
    bytes_total: progress.bytesTotal,
    bytes_done: progress.bytesDone,
    bytes_skipped: progress.bytesSkipped,
    concurrency: progress.concurrency,
    in_flight: progress.inFlight,
    bytes_per_second: Math.round(progress.bytesPerSecond),
    eta_ms: progress.etaSeconds === null ? null : Math.round(progress.etaSeconds * 1000),
    elapsed_ms: Math.round(progress.elapsedMs),
  };
}

function summaryResult(summary: UploadSummary): Message {
  return {
    objects_total: summary.objectsTotal,
    bytes_total: summary.bytesTotal,
    objects_uploaded: summary.objectsUploaded,
    bytes_uploaded: summary.bytesUploaded,
    objects_skipped: summary.objectsSkipped,
    bytes_skipped: summary.bytesSkipped,
    objects_resumed: summary.objectsResumed,
    bytes_per_second: Math.round(summary.bytesPerSecond),
    elapsed_ms: Math.round(summary.elapsedMs),
  };
}

export async function storeUploadOp(request: Request, context: PortContext, emit: Send): Promise<Message> {
  const { args } = request;
  const url = readString(args, 'url');
  const storeOptions = args.store_options ?? {};
  if (!isMap(storeOptions)) throw invalidParameter('store_options', 'a map', storeOptions);
  const transfers = readOptionalUint(args, 'transfers', 1, MAX_TRANSFERS) ?? DEFAULT_TRANSFERS;
  const bandwidth = readBandwidth(args);
  const memoryBudgetBytes = readOptionalUint(args, 'max_memory', 1) ?? DEFAULT_MEMORY_BUDGET_BYTES;
  const progressMs = readOptionalUint(args, 'progress_ms', 1) ?? DEFAULT_PROGRESS_EVENT_MS;
  const stateDir = readOptionalString(args, 'state_dir');
  if (stateDir !== undefined) absolutePath(stateDir, 'state_dir');
  const objects = await requestedObjects(args);

  const backend = await context.stores.getRaw(url, storeOptions as StoreOpenOptions);
  const { store, limit } = composeUploadStore(backend, { transfers, bandwidthBytesPerSecond: bandwidth });
  try {
    const summary = await uploadObjects(store, objects, {
      limit,
      memoryBudgetBytes,
      stateDir,
      journalKey: stateDir === undefined ? undefined : `store_upload\n${typeof args.dir === 'string' ? args.dir : 'files'}\n${backend.location}`,
      onProgress: (progress) => emit(progressEvent(request.id, progress)),
      progressIntervalMs: progressMs,
    });
    return summaryResult(summary);
  } catch (error) {
    // The reply carries one error; the failed names are in its message (up to 10).
    if (error instanceof UploadError) throw new ChunkerError('upload_failed', error.message, false);
    throw error;
  }
}
