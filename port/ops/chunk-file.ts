/**
 * `chunk_file` (spec §4): the port reads the file itself, so its bytes never cross the
 * port. Reads of FILE_READ_BYTES alternate between two buffers so the next read (on
 * libuv's thread pool) overlaps chunking of the current one. Chunking stops after each
 * budget's worth of work to let the event loop serve other requests, so a large file never
 * holds up the requests behind it; the one reply carries every chunk.
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { feed, finish, openSession, resume, type Chunk, type SessionState, type StepResult } from '../engine/chunk-session.js';
import {
  DECOMPRESSION_CODECS,
  DEFAULT_STREAM_MAX_OUTPUT_BYTES,
  DecompressingStream,
  type DecompressionCodec,
} from '../engine/compression.js';
import { ChunkerError, invalidParameter } from '../errors.js';
import {
  encodeChunkList,
  readBudget,
  readChunkingOptions,
  readOptionalString,
  readOptionalUint,
  readString,
  type Budget,
  type Message,
  type Request,
} from '../protocol.js';
import { runWithinBudget, type Clock } from '../session.js';
import type { SlicePacer } from '../slice-pacer.js';
import type { PortContext } from './context.js';

/** Bytes per file read: large enough to amortise a read, small enough to stay responsive. */
export const FILE_READ_BYTES = 4 * 1024 * 1024;

/** Turns a file system failure into the spec's codes: missing → not_found, else io_error. */
function fileError(error: unknown, path: string): ChunkerError {
  const { code, message } = error as NodeJS.ErrnoException;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new ChunkerError('not_found', `No file at ${path}`);
  return new ChunkerError('io_error', `Reading ${path} failed: ${message}`, false);
}

/** The clock the budget is checked against and the pacer that sizes the slices between checks. */
interface Pacing {
  now: Clock;
  pacer: SlicePacer;
}

/** Runs one engine step to completion, yielding to the event loop whenever the budget is spent. */
async function scanYielding(
  state: SessionState,
  start: (state: SessionState, sliceBytes: number) => StepResult,
  budget: Budget,
  { now, pacer }: Pacing,
  into: Chunk[],
): Promise<SessionState> {
  let result = runWithinBudget(state.offset, (slice) => start(state, slice), budget, now, { pacer });
  for (;;) {
    for (const chunk of result.chunks) into.push(chunk);
    if (!result.more) return result.state;
    await yieldToEventLoop();
    const current = result.state;
    result = runWithinBudget(current.offset, (slice) => resume(current, slice), budget, now, { pacer });
  }
}

async function chunkOpenFile(
  handle: FileHandle,
  path: string,
  state: SessionState,
  budget: Budget,
  pacing: Pacing,
): Promise<{ chunks: Chunk[]; size: number }> {
  const chunks: Chunk[] = [];
  let current = Buffer.allocUnsafeSlow(FILE_READ_BYTES);
  let spare = Buffer.allocUnsafeSlow(FILE_READ_BYTES);
  let size = 0;
  let reading = handle.read(current, 0, FILE_READ_BYTES, null);
  try {
    for (;;) {
      const { bytesRead } = await reading;
      if (bytesRead === 0) break;
      const bytes = current.subarray(0, bytesRead);
      size += bytesRead;
      // The spare buffer is free: the engine copies what it keeps once a feed completes.
      [current, spare] = [spare, current];
      reading = handle.read(current, 0, FILE_READ_BYTES, null);
      state = await scanYielding(state, (s, slice) => feed(s, bytes, slice), budget, pacing, chunks);
    }
    await scanYielding(state, finish, budget, pacing, chunks);
    return { chunks, size };
  } catch (error) {
    // Never leave a read in flight on a handle that is about to close.
    await reading.catch(() => undefined);
    if (error instanceof ChunkerError) throw error;
    throw fileError(error, path);
  }
}

/** The file in pieces of FILE_READ_BYTES, each a fresh buffer (the decoder reads them off-thread). */
async function* filePieces(handle: FileHandle, path: string, counted: { bytes: number }): AsyncGenerator<Uint8Array> {
  for (;;) {
    const buffer = Buffer.allocUnsafeSlow(FILE_READ_BYTES);
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(buffer, 0, FILE_READ_BYTES, null));
    } catch (error) {
      throw fileError(error, path);
    }
    if (bytesRead === 0) return;
    counted.bytes += bytesRead;
    yield buffer.subarray(0, bytesRead);
  }
}

/** A compressed file (`compression` other than none): decompressed as it is read, then chunked. */
async function chunkCompressedFile(
  handle: FileHandle,
  path: string,
  state: SessionState,
  budget: Budget,
  pacing: Pacing,
  codec: DecompressionCodec,
  maxOutputBytes: number,
): Promise<{ chunks: Chunk[]; size: number; compressedSize: number; codec: string }> {
  const chunks: Chunk[] = [];
  const read = { bytes: 0 };
  const stream = new DecompressingStream(filePieces(handle, path, read), { codec, maxOutputBytes, plainWhenUnknown: codec === 'auto' });
  let size = 0;
  for await (const piece of stream) {
    size += piece.length;
    state = await scanYielding(state, (s, slice) => feed(s, piece, slice), budget, pacing, chunks);
  }
  await scanYielding(state, finish, budget, pacing, chunks);
  return { chunks, size, compressedSize: read.bytes, codec: stream.codec ?? 'none' };
}

export async function chunkFileOp(request: Request, context: PortContext): Promise<Message> {
  const path = readString(request.args, 'path');
  if (!isAbsolute(path)) throw invalidParameter('path', 'an absolute path', path);
  const budget = readBudget(request.args, context.defaultBudget);
  const compression = readOptionalString(request.args, 'compression') ?? 'none';
  if (!DECOMPRESSION_CODECS.includes(compression as DecompressionCodec)) {
    throw invalidParameter('compression', DECOMPRESSION_CODECS.join(' | '), compression);
  }
  const maxOutputBytes = readOptionalUint(request.args, 'max_output') ?? DEFAULT_STREAM_MAX_OUTPUT_BYTES;
  // Opening the session validates the options before the file is touched.
  const state = openSession(readChunkingOptions(request.args));
  const pacing: Pacing = { now: context.now, pacer: context.registry.pacer };
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw fileError(error, path);
  }
  try {
    if (compression !== 'none') {
      const result = await chunkCompressedFile(handle, path, state, budget, pacing, compression as DecompressionCodec, maxOutputBytes);
      context.counters.bytesIn += result.size;
      context.counters.chunksOut += result.chunks.length;
      return {
        chunks: encodeChunkList(result.chunks, 0, state.options.hash !== 'none'),
        size: result.size,
        compressed_size: result.compressedSize,
        codec: result.codec,
      };
    }
    const { chunks, size } = await chunkOpenFile(handle, path, state, budget, pacing);
    context.counters.bytesIn += size;
    context.counters.chunksOut += chunks.length;
    return { chunks: encodeChunkList(chunks, 0, state.options.hash !== 'none'), size };
  } finally {
    await handle.close();
  }
}
