/**
 * A scratch file that collects many small payloads (compressed chunks) one after another
 * and hands each back as an `ObjectSource` over its byte range. The upload scheduler needs
 * every object's size before it starts, so payloads are made first and staged here: memory
 * then holds only the ranges being sent, whatever the number of chunks, and one file
 * replaces thousands of small temp files.
 */
import { writeSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { invalidParameter } from '../port/errors.js';
import type { ObjectSource } from '../port/store/backend.js';

/** Where a payload sits in the staging file. */
export interface StagedRange {
  readonly offset: number;
  readonly size: number;
}

export class StagingFile {
  private end = 0;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  /** Creates (or truncates) the file at `path`. */
  static async create(path: string): Promise<StagingFile> {
    return new StagingFile(path, await open(path, 'w+'));
  }

  /** Bytes staged so far. */
  get size(): number {
    return this.end;
  }

  /**
   * Appends `bytes` (written when this returns, so the caller may reuse them). Synchronous
   * on purpose: a write into the page cache takes microseconds, while an async write would
   * queue in libuv's thread pool behind the uploads' fsyncs and stall the chunking.
   */
  append(bytes: Uint8Array): StagedRange {
    const offset = this.end;
    let written = 0;
    while (written < bytes.length) written += writeSync(this.handle.fd, bytes, written, bytes.length - written, offset + written);
    this.end += bytes.length;
    return { offset, size: bytes.length };
  }

  /** A source reading `range` of the file on demand; valid until `dispose`. */
  source(range: StagedRange): ObjectSource {
    const { handle } = this;
    return {
      size: range.size,
      async read(offset, length) {
        if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > range.size) {
          throw invalidParameter('source range', `a range inside 0..${range.size}`, { offset, length });
        }
        const buffer = new Uint8Array(length);
        let filled = 0;
        while (filled < length) {
          const { bytesRead } = await handle.read(buffer, filled, length - filled, range.offset + offset + filled);
          if (bytesRead === 0) throw invalidParameter('staging file', `${range.offset + range.size} bytes`, range.offset + offset + filled);
          filled += bytesRead;
        }
        return buffer;
      },
    };
  }

  /** Closes and removes the file; safe to call twice. */
  async dispose(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
    await rm(this.path, { force: true });
  }
}
