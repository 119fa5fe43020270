/**
 * The `file:///path` backend, the embedded default: each object is a regular file under
 * the root directory, its name mapped to a relative path (`chunks/ab/abc….zst` →
 * `<root>/chunks/ab/abc….zst`).
 *
 * A put writes a temp file (`TEMP_NAME_PREFIX` + random suffix) in the destination's own
 * directory, streaming the source in pieces of `LOCAL_PIECE_BYTES`, fsyncs it, renames
 * it over the final name and fsyncs the directory. rename(2) within one directory is
 * atomic, so a reader sees the old file, no file, or the whole new one; after a crash a
 * temp file may be left behind, which `list` never reports and `cleanupStaleTemps`
 * removes. Directories are created on the first put that needs them, and the root itself
 * need not exist until then.
 *
 * Errors carry errno translated into store codes (`translateFsError`): a missing file is
 * `not_found` for get and null for stat; EACCES/EPERM/EROFS and a name that collides with
 * a directory or a file in the way are `store_permission`; ENOSPC/EDQUOT are `store_full`;
 * running out of descriptors is `store_busy`; anything else is a transient `store_error`.
 * Errors thrown by the put's `ObjectSource` are not store errors and pass through as they are.
 */
import { randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { mkdir, open, opendir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ChunkerError, invalidParameter } from '../errors.js';
import { abortError, throwIfAborted, unlessAborted } from './abort.js';
import { checkListPrefix, checkObjectName, isObjectName, TEMP_NAME_PREFIX } from './object-name.js';
import {
  checkByteRange,
  storeError,
  type ByteRange,
  type ObjectInfo,
  type ObjectSource,
  type OperationOptions,
  type StoreBackend,
  type StoreCapabilities,
  type StoreErrorCode,
} from './backend.js';

/** Bytes read from a put's source (and from a file by get) per step; at most two are held at once. */
export const LOCAL_PIECE_BYTES = 4 * 1024 * 1024;

/**
 * Operations worth running at once: file calls run on libuv's thread pool (4 threads by
 * default), so more than a few in flight only queue, while a few keep fsync latency hidden.
 */
export const LOCAL_MAX_CONCURRENCY = 8;

/** Random bytes in a temp name's suffix (hex-encoded); enough that concurrent puts never collide. */
const TEMP_SUFFIX_BYTES = 8;

/** Mode of object files before the umask. */
const OBJECT_FILE_MODE = 0o644;

/** Files stat'ed at once while listing a directory. */
const LIST_STAT_BATCH = 32;

const ERRNO_STORE_CODES: Readonly<Record<string, StoreErrorCode>> = {
  EACCES: 'store_permission',
  EPERM: 'store_permission',
  EROFS: 'store_permission',
  // The name collides with what is on disk (a file where a directory is needed, a
  // directory where the object goes) or the file system cannot hold it: retrying the
  // same call cannot help.
  ENOTDIR: 'store_permission',
  EISDIR: 'store_permission',
  EEXIST: 'store_permission',
  ENAMETOOLONG: 'store_permission',
  ELOOP: 'store_permission',
  ENOSPC: 'store_full',
  EDQUOT: 'store_full',
  EFBIG: 'store_full',
  EMFILE: 'store_busy',
  ENFILE: 'store_busy',
  EAGAIN: 'store_busy',
  EBUSY: 'store_busy',
};

function errnoOf(error: unknown): string | undefined {
  const code = error instanceof Error ? (error as NodeJS.ErrnoException).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** The store error for a failed file-system call; `action` and `name` say what was being done. */
export function translateFsError(error: unknown, location: string, action: string, name: string): ChunkerError {
  if (error instanceof ChunkerError) return error;
  const errno = errnoOf(error);
  const code = (errno !== undefined ? ERRNO_STORE_CODES[errno] : undefined) ?? 'store_error';
  const detail = error instanceof Error ? error.message : String(error);
  return storeError(code, `${location}: cannot ${action} ${name}: ${detail}`);
}

const isMissing = (error: unknown): boolean => {
  const errno = errnoOf(error);
  return errno === 'ENOENT' || errno === 'ENOTDIR';
};

async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // Some file systems (FUSE, some network mounts) cannot fsync a directory; the rename
    // is then as durable as that file system makes it.
    if (errnoOf(error) !== 'EINVAL') throw error;
  } finally {
    await handle.close();
  }
}

/**
 * Creates `directory` and its missing parents; returns those it created, outermost first.
 * Not `mkdir({ recursive: true })`: on a read-only file system that reports ENOENT
 * instead of EROFS, and the errno is what tells a permanent failure from a transient one.
 * An existing non-directory in the way is left for the caller's next call to report
 * (as ENOTDIR).
 */
async function makeDirectories(directory: string): Promise<string[]> {
  try {
    await mkdir(directory);
    return [directory];
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return [];
    if (errnoOf(error) !== 'ENOENT' || dirname(directory) === directory) throw error;
  }
  const created = await makeDirectories(dirname(directory));
  try {
    await mkdir(directory);
  } catch (error) {
    // Another put created it meanwhile.
    if (errnoOf(error) === 'EEXIST') return created;
    throw error;
  }
  return [...created, directory];
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, written, bytes.length - written, position + written);
    written += bytesWritten;
  }
}

export class LocalBackend implements StoreBackend {
  // The piece being written and the next one, read ahead (writeSource).
  readonly capabilities: StoreCapabilities = { ranges: true, multipart: false, atomicRename: true, maxConcurrency: LOCAL_MAX_CONCURRENCY, putBufferBytes: 2 * LOCAL_PIECE_BYTES };
  readonly location: string;
  private closed = false;
  /** Directory creations in flight, so concurrent puts into a new directory share one mkdir and its fsyncs. */
  private readonly creatingDirectories = new Map<string, Promise<void>>();

  /** `root` is an absolute path; it is created by the first put if missing. */
  constructor(readonly root: string) {
    this.location = pathToFileURL(root).href;
  }

  async stat(name: string, options: OperationOptions = {}): Promise<ObjectInfo | null> {
    this.checkOpen();
    checkObjectName(name);
    throwIfAborted(options.signal, `stat ${name}`);
    try {
      const info = await stat(this.pathOf(name));
      return info.isFile() ? { name, size: info.size } : null;
    } catch (error) {
      if (isMissing(error)) return null;
      throw translateFsError(error, this.location, 'stat', name);
    }
  }

  async get(name: string, range?: ByteRange, options: OperationOptions = {}): Promise<Uint8Array> {
    this.checkOpen();
    checkObjectName(name);
    checkByteRange(range);
    const what = `get ${name}`;
    throwIfAborted(options.signal, what);
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(name), 'r');
    } catch (error) {
      if (isMissing(error)) throw this.notFound(name);
      throw translateFsError(error, this.location, 'read', name);
    }
    try {
      const info = await handle.stat();
      // Opening a directory for reading succeeds on Linux; it is still not an object.
      if (!info.isFile()) throw this.notFound(name);
      const start = Math.min(range?.offset ?? 0, info.size);
      const end = range === undefined ? info.size : Math.min(start + range.length, info.size);
      const bytes = new Uint8Array(end - start);
      let filled = 0;
      while (filled < bytes.length) {
        throwIfAborted(options.signal, what);
        const want = Math.min(LOCAL_PIECE_BYTES, bytes.length - filled);
        const { bytesRead } = await handle.read(bytes, filled, want, start + filled);
        // Puts replace files by rename, so the open file cannot shrink unless someone
        // truncates it in place: the bytes are not the object any more.
        if (bytesRead === 0) throw storeError('store_integrity', `${this.location}: ${name} shrank while being read`);
        filled += bytesRead;
      }
      return bytes;
    } catch (error) {
      throw translateFsError(error, this.location, 'read', name);
    } finally {
      await handle.close();
    }
  }

  async put(name: string, source: ObjectSource, options: OperationOptions = {}): Promise<void> {
    this.checkOpen();
    checkObjectName(name);
    const what = `put ${name}`;
    throwIfAborted(options.signal, what);
    const target = this.pathOf(name);
    const directory = dirname(target);
    const temp = join(directory, `${TEMP_NAME_PREFIX}${randomBytes(TEMP_SUFFIX_BYTES).toString('hex')}`);
    let handle: FileHandle | undefined;
    try {
      const opened = await this.createTemp(temp, directory, name);
      handle = opened;
      await this.writeSource(opened, source, options.signal, name);
      await this.fsCall('write', name, () => opened.sync());
      handle = undefined;
      await this.fsCall('write', name, () => opened.close());
      throwIfAborted(options.signal, what);
      await this.fsCall('write', name, () => rename(temp, target));
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
    // After the rename the object is visible; a failure here only means it may not be
    // durable yet, and a retried put rewrites it.
    await this.fsCall('write', name, () => syncDirectory(directory));
  }

  async delete(name: string, options: OperationOptions = {}): Promise<void> {
    this.checkOpen();
    checkObjectName(name);
    throwIfAborted(options.signal, `delete ${name}`);
    try {
      await unlink(this.pathOf(name));
    } catch (error) {
      // A directory of that name is not an object, so there is nothing to remove.
      if (isMissing(error) || errnoOf(error) === 'EISDIR') return;
      throw translateFsError(error, this.location, 'delete', name);
    }
  }

  async *list(prefix: string, options: OperationOptions = {}): AsyncIterable<ObjectInfo> {
    this.checkOpen();
    checkListPrefix(prefix);
    // Start at the deepest directory the prefix names in full: 'chunks/ab/c' → chunks/ab.
    const cut = prefix.lastIndexOf('/');
    const base = cut < 0 ? '' : prefix.slice(0, cut);
    // No object name has an empty, '.' or '..' segment, so such a prefix matches nothing.
    if (base !== '' && !isObjectName(base)) return;
    const descend = (directory: string) => {
      const asPrefix = `${directory}/`;
      return asPrefix.startsWith(prefix) || prefix.startsWith(asPrefix);
    };
    for await (const batch of this.walk(base, descend, options.signal)) {
      const candidates = batch.filter(({ name, entry }) => !entry.name.startsWith(TEMP_NAME_PREFIX) && name.startsWith(prefix) && isObjectName(name));
      const infos = await Promise.all(candidates.map(({ name }) => this.stat(name)));
      for (const info of infos) if (info !== null) yield info;
    }
  }

  /**
   * Removes temp files of puts that died (process killed, machine crashed) and were last
   * written more than `olderThanMs` ago; returns how many were removed. Keep the age well
   * above the longest put, since a live put's temp file looks the same.
   */
  async cleanupStaleTemps(olderThanMs: number, now: number = Date.now()): Promise<number> {
    this.checkOpen();
    let removed = 0;
    for await (const batch of this.walk('', () => true, undefined)) {
      for (const { name, entry } of batch) {
        if (!entry.name.startsWith(TEMP_NAME_PREFIX) || !entry.isFile()) continue;
        const path = join(this.root, name);
        try {
          if ((await stat(path)).mtimeMs < now - olderThanMs) {
            await unlink(path);
            removed++;
          }
        } catch (error) {
          if (!isMissing(error)) throw translateFsError(error, this.location, 'remove temp file', name);
        }
      }
    }
    return removed;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private pathOf(name: string): string {
    return join(this.root, ...name.split('/'));
  }

  private notFound(name: string): ChunkerError {
    return storeError('not_found', `${this.location}: no object ${name}`);
  }

  private checkOpen(): void {
    if (this.closed) throw storeError('store_closed', `${this.location} is closed`);
  }

  private async fsCall<T>(action: string, name: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw translateFsError(error, this.location, action, name);
    }
  }

  /** Opens the temp file, creating its directory when it does not exist yet (checked by trying, to save a call per put). */
  private async createTemp(temp: string, directory: string, name: string): Promise<FileHandle> {
    try {
      return await open(temp, 'wx', OBJECT_FILE_MODE);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw translateFsError(error, this.location, 'write', name);
    }
    await this.fsCall('create the directory of', name, () => this.createDirectory(directory));
    return this.fsCall('write', name, () => open(temp, 'wx', OBJECT_FILE_MODE));
  }

  private createDirectory(directory: string): Promise<void> {
    let creating = this.creatingDirectories.get(directory);
    if (creating === undefined) {
      creating = (async () => {
        // Each new directory's entry lives in its parent: fsync the parents. The object's
        // own entry in `directory` is fsynced after the rename.
        for (const created of await makeDirectories(directory)) await syncDirectory(dirname(created));
      })().finally(() => this.creatingDirectories.delete(directory));
      this.creatingDirectories.set(directory, creating);
    }
    return creating;
  }

  /** Copies the source into `handle`, reading the next piece while the previous one is written. */
  private async writeSource(handle: FileHandle, source: ObjectSource, signal: AbortSignal | undefined, name: string): Promise<void> {
    const readPiece = async (offset: number): Promise<Uint8Array> => {
      const length = Math.min(LOCAL_PIECE_BYTES, source.size - offset);
      const piece = await source.read(offset, length);
      if (piece.length !== length) throw invalidParameter('object source read', `${length} bytes at offset ${offset}`, piece);
      return piece;
    };
    let offset = 0;
    let pending = source.size > 0 ? readPiece(0) : undefined;
    while (pending !== undefined) {
      const piece = await unlessAborted(pending, signal, `put ${name}`);
      const nextOffset = offset + piece.length;
      pending = nextOffset < source.size ? readPiece(nextOffset) : undefined;
      // If the write below fails, the read in flight is abandoned; keep its rejection handled.
      pending?.catch(() => undefined);
      if (signal?.aborted) throw abortError(signal, `put ${name}`);
      await this.fsCall('write', name, () => writeAll(handle, piece, offset));
      offset = nextOffset;
    }
  }

  /**
   * Walks the tree under `relativeDirectory` depth first, yielding each directory's
   * entries in batches (names relative to the root) and descending into subdirectories
   * for which `descend` holds. Temp files are yielded (cleanup needs them); a directory
   * that vanishes mid-walk is skipped.
   */
  private async *walk(
    relativeDirectory: string,
    descend: (directory: string) => boolean,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<{ name: string; entry: Dirent }[]> {
    const directoryName = relativeDirectory === '' ? '(root)' : relativeDirectory;
    let directory;
    try {
      directory = await opendir(join(this.root, relativeDirectory));
    } catch (error) {
      if (isMissing(error)) return;
      throw translateFsError(error, this.location, 'list', directoryName);
    }
    const subdirectories: string[] = [];
    let batch: { name: string; entry: Dirent }[] = [];
    try {
      for await (const entry of directory) {
        throwIfAborted(signal, `list ${directoryName}`);
        const name = relativeDirectory === '' ? entry.name : `${relativeDirectory}/${entry.name}`;
        if (entry.isDirectory()) {
          if (!entry.name.startsWith(TEMP_NAME_PREFIX) && descend(name)) subdirectories.push(name);
        } else {
          batch.push({ name, entry });
          if (batch.length >= LIST_STAT_BATCH) {
            yield batch;
            batch = [];
          }
        }
      }
    } catch (error) {
      throw translateFsError(error, this.location, 'list', directoryName);
    }
    if (batch.length > 0) yield batch;
    for (const subdirectory of subdirectories) yield* this.walk(subdirectory, descend, signal);
  }
}

/**
 * Opens `file:///path` (or `file://localhost/path`). The root need not exist yet; if it
 * does, it must be a directory.
 */
export async function openLocalStore(url: URL): Promise<LocalBackend> {
  if (url.search !== '' || url.hash !== '') {
    throw storeError('store_config', `A file: store URL takes no query or fragment: ${url.href}`);
  }
  let root: string;
  try {
    root = fileURLToPath(url);
  } catch (error) {
    throw storeError('store_config', `Not a local path: ${url.href} (${error instanceof Error ? error.message : String(error)})`);
  }
  let isDirectory = true;
  try {
    isDirectory = (await stat(root)).isDirectory();
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw translateFsError(error, url.href, 'open', 'the store root');
  }
  if (!isDirectory) throw storeError('store_config', `${url.href} is not a directory`);
  return new LocalBackend(resolve(root));
}
