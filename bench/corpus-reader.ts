/**
 * Reads corpus files in large pieces into one reused buffer, so a whole-corpus pass costs
 * a fixed amount of memory however big the corpus is.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { MIB } from './units.js';

export const PIECE_BYTES = 64 * MIB;

export interface Piece {
  /** View into the shared buffer: valid only until the next piece is read. */
  bytes: Uint8Array;
  /** Offset of the piece in its file. */
  offset: number;
  /** True for the file's last piece (also for an empty file's only, empty piece). */
  last: boolean;
}

/** Allocates the shared read buffer (outside the V8 heap's small-buffer pool). */
export function allocatePieceBuffer(bytes = PIECE_BYTES): Buffer {
  return Buffer.allocUnsafeSlow(bytes);
}

/** Yields `path` as consecutive pieces of at most `buffer.length` bytes. */
export function* readPieces(path: string, buffer: Buffer): Generator<Piece> {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    let offset = 0;
    do {
      const want = Math.min(buffer.length, size - offset);
      let filled = 0;
      while (filled < want) {
        const read = readSync(fd, buffer, filled, want - filled, offset + filled);
        if (read === 0) throw new Error(`${path} shrank while being read`);
        filled += read;
      }
      const last = offset + filled >= size;
      yield { bytes: buffer.subarray(0, filled), offset, last };
      offset += filled;
    } while (offset < size);
  } finally {
    closeSync(fd);
  }
}

/** Reads files once so later timed passes (ours and the peers') find them in the page cache. */
export function warmPageCache(paths: readonly string[], buffer: Buffer): number {
  let bytes = 0;
  for (const path of paths) for (const piece of readPieces(path, buffer)) bytes += piece.bytes.length;
  return bytes;
}
