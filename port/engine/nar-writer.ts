/**
 * Serializes a file system path into a NAR, byte for byte what `nix-store --dump` writes.
 *
 * Streaming: the archive comes out as pieces of about `pieceBytes`; file contents are read
 * straight into the piece being filled, so no file is held whole (unless a transform asks
 * for it) and small tokens are not emitted one by one.
 *
 * Paths are handled as Buffers all the way down so names that are not UTF-8 survive, and
 * directory entries are sorted by raw bytes, as Nix sorts them (not by JS string order).
 */
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { closeSync, lstatSync, openSync, readFileSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import { ChunkerError, invalidParameter } from '../errors.js';
import { NAR_ALIGNMENT_BYTES, NAR_MAGIC, encodeNarStrings, narPaddingBytes, writeNarLength } from './nar-format.js';

/** Default size of the pieces `narStream` yields (the last one may be shorter). */
export const DEFAULT_NAR_PIECE_BYTES = 256 * 1024;
/** Largest `pieceBytes` accepted: one piece is the writer's whole working memory. */
export const MAX_NAR_PIECE_BYTES = 64 * 1024 * 1024;

/**
 * Files up to this size are read with synchronous calls; larger ones stream with async
 * reads. Per-call overhead of the async API (a thread-pool round trip and promises for
 * lstat, open, read and close) made a tree of small files ten times slower to archive
 * than `nix-store --dump`, while a synchronous call on a small file takes microseconds.
 */
export const SYNC_READ_MAX_FILE_BYTES = 64 * 1024;

/**
 * Longest stretch of synchronous file system work before the writer lets the event loop
 * run (timers, sockets, other sessions), even if the consumer never awaits real I/O.
 */
export const MAX_SYNC_SLICE_MILLISECONDS = 5;

/** Owner-execute permission bit: Nix marks a file executable exactly when it is set. */
const OWNER_EXECUTE_MODE_BIT = 0o100;

/**
 * Rewrites some files on the way into the NAR without touching the tree on disk (the demo
 * and bench use it to derive a "version 2" of a tree with a few files changed).
 */
export interface NarFileTransform {
  /**
   * Chooses the files to rewrite from path and size alone, before reading them. Only
   * chosen files are read whole; all others stream as usual.
   */
  shouldTransform(relativePath: string, size: number): boolean;
  /** Returns the contents to archive for a chosen file; the size may change. */
  transform(relativePath: string, contents: Buffer): Uint8Array;
}

export interface NarWriteOptions {
  /** Rewrites chosen regular files (relative paths as in NarEntry.path, `''` for a root file). */
  transform?: NarFileTransform;
  /** Size of the yielded pieces; default DEFAULT_NAR_PIECE_BYTES. */
  pieceBytes?: number;
}

const MAGIC_TOKENS = encodeNarStrings(NAR_MAGIC);
const REGULAR_HEADER = encodeNarStrings('(', 'type', 'regular', 'contents');
const EXECUTABLE_HEADER = encodeNarStrings('(', 'type', 'regular', 'executable', '', 'contents');
const SYMLINK_HEADER = encodeNarStrings('(', 'type', 'symlink', 'target');
const DIRECTORY_HEADER = encodeNarStrings('(', 'type', 'directory');
const ENTRY_HEADER = encodeNarStrings('entry', '(', 'name');
const NODE_TOKEN = encodeNarStrings('node');
const CLOSE_TOKEN = encodeNarStrings(')');
const ZERO_PADDING = Buffer.alloc(NAR_ALIGNMENT_BYTES);
const PATH_SEPARATOR = Buffer.from('/');

/**
 * Collects output into fixed-size pieces. Sealed pieces are never written again, so the
 * consumer may keep them.
 */
class PieceAssembler {
  private piece: Buffer;
  private filled = 0;
  private sealed: Buffer[] = [];
  private readonly lengthScratch = Buffer.alloc(NAR_ALIGNMENT_BYTES);

  constructor(private readonly pieceBytes: number) {
    this.piece = Buffer.allocUnsafe(pieceBytes);
  }

  append(bytes: Uint8Array): void {
    let from = 0;
    while (from < bytes.length) {
      const count = Math.min(bytes.length - from, this.pieceBytes - this.filled);
      this.piece.set(from === 0 && count === bytes.length ? bytes : bytes.subarray(from, from + count), this.filled);
      this.filled += count;
      from += count;
      if (this.filled === this.pieceBytes) this.seal();
    }
  }

  appendLength(length: number): void {
    writeNarLength(this.lengthScratch, 0, length);
    this.append(this.lengthScratch);
  }

  appendPadding(length: number): void {
    this.append(ZERO_PADDING.subarray(0, narPaddingBytes(length)));
  }

  appendString(bytes: Uint8Array): void {
    this.appendLength(bytes.length);
    this.append(bytes);
    this.appendPadding(bytes.length);
  }

  /** Free space in the current piece, for reading file contents directly into it. */
  window(maxBytes: number): { buffer: Buffer; offset: number; length: number } {
    return { buffer: this.piece, offset: this.filled, length: Math.min(maxBytes, this.pieceBytes - this.filled) };
  }

  /** Accounts for `count` bytes written into the current window. */
  commit(count: number): void {
    this.filled += count;
    if (this.filled === this.pieceBytes) this.seal();
  }

  takeSealed(): Buffer[] {
    const pieces = this.sealed;
    this.sealed = [];
    return pieces;
  }

  finish(): Buffer[] {
    if (this.filled > 0) this.seal();
    return this.takeSealed();
  }

  private seal(): void {
    this.sealed.push(this.filled === this.pieceBytes ? this.piece : this.piece.subarray(0, this.filled));
    this.piece = Buffer.allocUnsafe(this.pieceBytes);
    this.filled = 0;
  }
}

function fileShrank(path: Buffer, expectedBytes: number, foundBytes: number): ChunkerError {
  return new ChunkerError(
    'file_changed',
    `${path.toString('utf8')} shrank while being archived: expected ${expectedBytes} bytes, found ${foundBytes}`,
  );
}

function describeFileType(stats: Stats): string {
  if (stats.isSocket()) return 'a socket';
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  return `of unknown type (mode ${stats.mode.toString(8)})`;
}

class NarSerializer {
  private readonly out: PieceAssembler;
  private sliceStartedAt = performance.now();

  constructor(private readonly options: NarWriteOptions) {
    this.out = new PieceAssembler(options.pieceBytes ?? DEFAULT_NAR_PIECE_BYTES);
  }

  async *archive(rootPath: Buffer): AsyncGenerator<Buffer> {
    this.out.append(MAGIC_TOKENS);
    yield* this.node(rootPath, '');
    yield* this.out.finish();
  }

  /** Yields to the event loop once the current run of synchronous work is long enough. */
  private async breathe(): Promise<void> {
    if (performance.now() - this.sliceStartedAt < MAX_SYNC_SLICE_MILLISECONDS) return;
    await nextMacrotask();
    this.sliceStartedAt = performance.now();
  }

  private async *node(path: Buffer, relativePath: string): AsyncGenerator<Buffer> {
    await this.breathe();
    const stats = lstatSync(path);
    if (stats.isFile()) {
      const executable = (stats.mode & OWNER_EXECUTE_MODE_BIT) !== 0;
      this.out.append(executable ? EXECUTABLE_HEADER : REGULAR_HEADER);
      const transform = this.options.transform;
      if (transform !== undefined && transform.shouldTransform(relativePath, stats.size)) {
        const contents = transform.transform(relativePath, readFileSync(path));
        if (!(contents instanceof Uint8Array)) {
          throw invalidParameter(`transform result for ${JSON.stringify(relativePath)}`, 'a Uint8Array', contents);
        }
        this.out.appendString(contents);
      } else {
        this.out.appendLength(stats.size);
        if (stats.size <= SYNC_READ_MAX_FILE_BYTES) this.smallContents(path, stats.size);
        else yield* this.contents(path, stats.size);
        this.out.appendPadding(stats.size);
      }
    } else if (stats.isSymbolicLink()) {
      this.out.append(SYMLINK_HEADER);
      this.out.appendString(readlinkSync(path, { encoding: 'buffer' }));
    } else if (stats.isDirectory()) {
      this.out.append(DIRECTORY_HEADER);
      const names = readdirSync(path, { encoding: 'buffer' });
      names.sort(Buffer.compare);
      const wantRelativePaths = this.options.transform !== undefined;
      for (const name of names) {
        this.out.append(ENTRY_HEADER);
        this.out.appendString(name);
        this.out.append(NODE_TOKEN);
        const childRelativePath = !wantRelativePaths
          ? ''
          : relativePath === ''
            ? name.toString('utf8')
            : `${relativePath}/${name.toString('utf8')}`;
        yield* this.node(Buffer.concat([path, PATH_SEPARATOR, name]), childRelativePath);
        this.out.append(CLOSE_TOKEN);
      }
    } else {
      throw new ChunkerError(
        'unsupported_file_type',
        `Cannot archive ${path.toString('utf8')}: it is ${describeFileType(stats)}; NARs hold only regular files, symlinks and directories`,
      );
    }
    this.out.append(CLOSE_TOKEN);
    yield* this.out.takeSealed();
  }

  /** Copies exactly `size` bytes of a small file into the output, synchronously. */
  private smallContents(path: Buffer, size: number): void {
    if (size === 0) return;
    const descriptor = openSync(path, 'r');
    try {
      let position = 0;
      while (position < size) {
        const { buffer, offset, length } = this.out.window(size - position);
        const bytesRead = readSync(descriptor, buffer, offset, length, position);
        if (bytesRead === 0) throw fileShrank(path, size, position);
        this.out.commit(bytesRead);
        position += bytesRead;
      }
    } finally {
      closeSync(descriptor);
    }
  }

  /** Streams exactly `size` bytes of a large file into the output, as Nix does. */
  private async *contents(path: Buffer, size: number): AsyncGenerator<Buffer> {
    const handle = await open(path, 'r');
    try {
      let position = 0;
      while (position < size) {
        const { buffer, offset, length } = this.out.window(size - position);
        const { bytesRead } = await handle.read(buffer, offset, length, position);
        if (bytesRead === 0) throw fileShrank(path, size, position);
        this.out.commit(bytesRead);
        position += bytesRead;
        yield* this.out.takeSealed();
      }
    } finally {
      await handle.close();
    }
    this.sliceStartedAt = performance.now();
  }
}

function validateOptions(options: NarWriteOptions): void {
  const { pieceBytes, transform } = options;
  if (pieceBytes !== undefined && (!Number.isSafeInteger(pieceBytes) || pieceBytes < 1 || pieceBytes > MAX_NAR_PIECE_BYTES)) {
    throw invalidParameter('pieceBytes', `an integer from 1 to ${MAX_NAR_PIECE_BYTES}`, pieceBytes);
  }
  if (
    transform !== undefined &&
    (typeof transform !== 'object' ||
      transform === null ||
      typeof transform.shouldTransform !== 'function' ||
      typeof transform.transform !== 'function')
  ) {
    throw invalidParameter('transform', 'an object with shouldTransform and transform functions', transform);
  }
}

/**
 * Yields the NAR of `path` (a regular file, symlink or directory tree) in pieces.
 * Throws ChunkerError 'unsupported_file_type' for sockets, FIFOs and devices, and
 * 'file_changed' when a file shrinks while it is read; file system errors pass through.
 */
export async function* narStream(path: string, options: NarWriteOptions = {}): AsyncGenerator<Buffer> {
  if (typeof path !== 'string' || path === '') throw invalidParameter('path', 'a non-empty path string', path);
  validateOptions(options);
  yield* new NarSerializer(options).archive(Buffer.from(path, 'utf8'));
}

/**
 * Writes the NAR of `path` to `destination` through a temporary name in the same
 * directory, renamed into place only when complete. Returns the NAR size in bytes.
 */
export async function writeNar(path: string, destination: string, options: NarWriteOptions = {}): Promise<number> {
  if (typeof destination !== 'string' || destination === '') {
    throw invalidParameter('destination', 'a non-empty path string', destination);
  }
  const temporaryPath = `${destination}.${process.pid}-${randomBytes(6).toString('hex')}.partial`;
  const handle = await open(temporaryPath, 'wx');
  let closed = false;
  try {
    let narBytes = 0;
    for await (const piece of narStream(path, options)) {
      let written = 0;
      while (written < piece.length) {
        const { bytesWritten } = await handle.write(piece, written, piece.length - written);
        written += bytesWritten;
      }
      narBytes += piece.length;
    }
    closed = true;
    await handle.close();
    await rename(temporaryPath, destination);
    return narBytes;
  } catch (error) {
    if (!closed) await handle.close().catch(() => undefined);
    await unlink(temporaryPath).catch(() => undefined);
    throw error;
  }
}
