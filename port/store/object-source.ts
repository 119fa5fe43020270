/**
 * Ready-made `ObjectSource`s: bytes already in memory, and a file read on demand (so a
 * multi-gigabyte object is never held whole).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { invalidParameter } from '../errors.js';
import type { ObjectSource } from './backend.js';

function checkRange(offset: number, length: number, size: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw invalidParameter('source range', `a range inside 0..${size}`, { offset, length });
  }
}

/** A source over bytes in memory; `read` returns views, not copies. */
export function bytesSource(bytes: Uint8Array): ObjectSource {
  return {
    size: bytes.length,
    read(offset, length) {
      checkRange(offset, length, bytes.length);
      return Promise.resolve(bytes.subarray(offset, offset + length));
    },
  };
}

/** A source that reads a file's ranges when asked; close it when the put is done. */
export interface FileSource extends ObjectSource {
  close(): Promise<void>;
}

/** Opens `path` and snapshots its size; later growth of the file is not read. */
export async function openFileSource(path: string): Promise<FileSource> {
  const handle: FileHandle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    return {
      size,
      async read(offset, length) {
        checkRange(offset, length, size);
        // Not zero-filled: every byte is read into it before it is returned, or it is dropped.
        const buffer = Buffer.allocUnsafe(length);
        let filled = 0;
        while (filled < length) {
          const { bytesRead } = await handle.read(buffer, filled, length - filled, offset + filled);
          if (bytesRead === 0) throw invalidParameter(path, `a file of at least ${size} bytes (it shrank)`, offset + filled);
          filled += bytesRead;
        }
        return buffer;
      },
      close: () => handle.close(),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** Reads a whole source into one array (for small objects and tests). */
export async function readWholeSource(source: ObjectSource): Promise<Uint8Array> {
  return source.size === 0 ? new Uint8Array(0) : new Uint8Array(await source.read(0, source.size));
}
