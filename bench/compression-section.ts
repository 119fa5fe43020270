/**
 * The compression section of `npm run bench`: the engine's zstd (port/engine/compression.ts)
 * at level 3 against the zstd command-line tool and @mongodb-js/zstd on the same bytes;
 * then lz4, xz and bzip2 against their tools and every codec's decompression
 * (compression-codecs.ts), and a zstd dictionary's effect on small chunks
 * (compression-dictionary.ts).
 *
 * - whole NARs: the smallest corpus NARs up to WHOLE_NAR_BYTES, compressed in pieces of
 *   PIECE_BYTES with `compress()` (the normal call: off the calling thread, one piece at a
 *   time, so one core works) and with @mongodb-js/zstd's `compress()`; reads excluded. The
 *   CLI runs `zstd -3 --single-thread -c FILE > /dev/null` once per file, the whole process
 *   timed. Ratio is compressed / original bytes (the CLI's measured in an untimed run).
 * - per chunk: the first PER_CHUNK_BYTES of the corpus cut at the default preset, each
 *   chunk compressed on its own with both libraries.
 * - decompression: the engine's `decompress()` on the whole-NAR frames, checked against
 *   the original bytes (the check is not timed).
 *
 * @mongodb-js/zstd 1.2.2 drops the level its `compress(buffer, level)` is given and always
 * uses zstd's default, which is level 3, so the comparison is level against level.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, statSync } from 'node:fs';
import { compress as mongoCompress } from '@mongodb-js/zstd';
import { chunkBuffer } from '../port/engine/chunk-session.js';
import { codecVersions, compress, decompress } from '../port/engine/compression.js';
import { codecFigure, type CodecFigure } from './codec-figure.js';
import { measureCodecPeers, type CodecPeerFigures } from './compression-codecs.js';
import { measureDictionary, type DictionaryFigures } from './compression-dictionary.js';
import { readPieces } from './corpus-reader.js';
import { findExecutable } from './peers.js';
import { collectGarbage, megabytesPerSecond, nowSeconds } from './timing.js';
import { MIB } from './units.js';

export const ZSTD_LEVEL = 3;
/** Piece size for whole-NAR compression (as the throughput section reads). */
export const PIECE_BYTES = 64 * MIB;
/** Whole-NAR part: at most this many bytes of NARs, smallest first (at least one NAR). */
export const WHOLE_NAR_BYTES = 300e6;
export const QUICK_WHOLE_NAR_BYTES = 100e6;
/** Per-chunk part: this many bytes from the start of the corpus. */
export const PER_CHUNK_BYTES = 128 * MIB;
export const QUICK_PER_CHUNK_BYTES = 48 * MIB;


export interface CompressionFigures {
  libzstd: string;
  cliVersion: string | null;
  /** Why the CLI row is missing (zstd not on PATH, a run failed). */
  cliError: string | null;
  wholeNar: { files: string[]; bytes: number; ours: CodecFigure; cli: CodecFigure | null; mongodb: CodecFigure };
  perChunk: { bytes: number; chunks: number; meanChunkBytes: number; ours: CodecFigure; mongodb: CodecFigure };
  /** Engine decompress() of the whole-NAR frames; MB/s of decompressed bytes. */
  decompress: { bytes: number; seconds: number; runs: number[]; megabytesPerSecond: number };
  /** lz4, xz, bzip2 (and zstd's decompression) against their tools on a corpus sample. */
  codecs: CodecPeerFigures[];
  dictionary: DictionaryFigures;
}


/** Smallest files first while they fit in `limit` bytes (always at least the smallest). */
function smallestUpTo(files: readonly string[], limit: number): string[] {
  const sized = files.map((path) => ({ path, bytes: statSync(path).size })).sort((a, b) => a.bytes - b.bytes);
  const chosen: string[] = [];
  let total = 0;
  for (const file of sized) {
    if (chosen.length > 0 && total + file.bytes > limit) break;
    chosen.push(file.path);
    total += file.bytes;
  }
  return chosen;
}

/** The first `limit` bytes of the files, concatenated into one buffer. */
function leadingBytes(files: readonly string[], limit: number, pieceBuffer: Buffer): Buffer {
  const out = Buffer.allocUnsafeSlow(limit);
  let filled = 0;
  for (const path of files) {
    for (const piece of readPieces(path, pieceBuffer)) {
      const take = Math.min(piece.bytes.length, limit - filled);
      out.set(piece.bytes.subarray(0, take), filled);
      filled += take;
      if (filled === limit) return out;
    }
  }
  return out.subarray(0, filled);
}

/** Compresses the files piece by piece; returns seconds (reads excluded) and the frames. */
async function compressPieces(
  files: readonly string[],
  pieceBuffer: Buffer,
  run: (piece: Buffer) => Promise<Uint8Array>,
): Promise<{ seconds: number; frames: Uint8Array[] }> {
  const frames: Uint8Array[] = [];
  let seconds = 0;
  for (const path of files) {
    for (const piece of readPieces(path, pieceBuffer)) {
      const bytes = piece.bytes as Buffer;
      const started = nowSeconds();
      frames.push(await run(bytes));
      seconds += nowSeconds() - started;
    }
  }
  return { seconds, frames };
}

async function compressChunks(data: Buffer, bounds: readonly (readonly [number, number])[], run: (chunk: Buffer) => Promise<Uint8Array>): Promise<{ seconds: number; compressedBytes: number }> {
  let compressedBytes = 0;
  const started = nowSeconds();
  for (const [start, end] of bounds) compressedBytes += (await run(data.subarray(start, end))).length;
  return { seconds: nowSeconds() - started, compressedBytes };
}

/** `zstd -3 --single-thread -c FILE > /dev/null` per file, whole processes timed and summed. */
function timeCli(files: readonly string[]): number {
  const devNull = openSync('/dev/null', 'w');
  try {
    let seconds = 0;
    for (const path of files) {
      const started = nowSeconds();
      const result = spawnSync('zstd', [`-${ZSTD_LEVEL}`, '--single-thread', '-c', path], { stdio: ['ignore', devNull, 'pipe'], encoding: 'utf8' });
      seconds += nowSeconds() - started;
      if (result.status !== 0) throw new Error(`zstd exited with ${result.status ?? result.signal}: ${result.stderr.trim()}`);
    }
    return seconds;
  } finally {
    closeSync(devNull);
  }
}

/** Bytes the CLI writes for the files (`zstd -3 --single-thread -c FILE | wc -c`, untimed). */
function cliCompressedBytes(files: readonly string[]): number {
  let total = 0;
  for (const path of files) {
    const result = spawnSync('sh', ['-c', `zstd -${ZSTD_LEVEL} --single-thread -c "$1" | wc -c`, 'sh', path], { encoding: 'utf8' });
    const bytes = Number(result.stdout.trim());
    if (result.status !== 0 || !Number.isSafeInteger(bytes)) throw new Error(`zstd | wc -c failed on ${path}: ${result.stderr.trim()}`);
    total += bytes;
  }
  return total;
}

const ours = (bytes: Uint8Array): Promise<Uint8Array> => compress(bytes, { codec: 'zstd', level: ZSTD_LEVEL });
const mongodb = (bytes: Buffer): Promise<Uint8Array> => mongoCompress(bytes, ZSTD_LEVEL);

export async function measureCompression(files: readonly string[], quick: boolean, passes: number, pieceBuffer: Buffer): Promise<CompressionFigures> {
  if (pieceBuffer.length !== PIECE_BYTES) throw new RangeError(`the piece buffer must be ${PIECE_BYTES} bytes`);
  const narFiles = smallestUpTo(files, quick ? QUICK_WHOLE_NAR_BYTES : WHOLE_NAR_BYTES);
  const narBytes = narFiles.reduce((sum, path) => sum + statSync(path).size, 0);
  const cliPath = findExecutable('zstd');
  let cliError: string | null = cliPath === null ? 'zstd not found on PATH' : null;
  const cliVersion = cliPath === null ? null : (spawnSync('zstd', ['--version'], { encoding: 'utf8' }).stdout.trim().split('\n')[0] ?? null);

  // Whole NARs. Passes alternate the three, so a burst of other load favours none of them.
  const oursRuns: number[] = [];
  const mongoRuns: number[] = [];
  const cliRuns: number[] = [];
  let frames: Uint8Array[] = [];
  let mongoBytes = 0;
  for (let pass = 0; pass < passes; pass++) {
    collectGarbage();
    const own = await compressPieces(narFiles, pieceBuffer, ours);
    oursRuns.push(own.seconds);
    frames = own.frames;
    collectGarbage();
    const peer = await compressPieces(narFiles, pieceBuffer, mongodb);
    mongoRuns.push(peer.seconds);
    mongoBytes = peer.frames.reduce((sum, frame) => sum + frame.length, 0);
    if (cliError === null) {
      try {
        cliRuns.push(timeCli(narFiles));
      } catch (error) {
        cliError = (error as Error).message;
      }
    }
  }
  let cli: CodecFigure | null = null;
  if (cliError === null) {
    try {
      cli = codecFigure(`zstd -${ZSTD_LEVEL} --single-thread (CLI)`, narBytes, cliCompressedBytes(narFiles), cliRuns);
    } catch (error) {
      cliError = (error as Error).message;
    }
  }
  const oursBytes = frames.reduce((sum, frame) => sum + frame.length, 0);

  // Decompression of our frames, checked against the original pieces.
  const decompressRuns: number[] = [];
  for (let pass = 0; pass < passes; pass++) {
    collectGarbage();
    let seconds = 0;
    let index = 0;
    for (const path of narFiles) {
      for (const piece of readPieces(path, pieceBuffer)) {
        const started = nowSeconds();
        const output = await decompress(frames[index++]!, { codec: 'zstd', maxOutputBytes: piece.bytes.length });
        seconds += nowSeconds() - started;
        if (Buffer.compare(output, piece.bytes) !== 0) throw new Error(`zstd round trip differs in ${path} at ${piece.offset}`);
      }
    }
    decompressRuns.push(seconds);
  }
  frames = [];

  // Per chunk at the default preset.
  collectGarbage();
  const data = leadingBytes(files, quick ? QUICK_PER_CHUNK_BYTES : PER_CHUNK_BYTES, pieceBuffer);
  const bounds = chunkBuffer(data, { hash: 'none' }).map((chunk) => [chunk.offset, chunk.offset + chunk.length] as const);
  const chunkOursRuns: number[] = [];
  const chunkMongoRuns: number[] = [];
  let chunkOursBytes = 0;
  let chunkMongoBytes = 0;
  for (let pass = 0; pass < passes; pass++) {
    collectGarbage();
    const own = await compressChunks(data, bounds, ours);
    chunkOursRuns.push(own.seconds);
    chunkOursBytes = own.compressedBytes;
    collectGarbage();
    const peer = await compressChunks(data, bounds, mongodb);
    chunkMongoRuns.push(peer.seconds);
    chunkMongoBytes = peer.compressedBytes;
  }

  const decompressSeconds = Math.min(...decompressRuns);
  const codecs = await measureCodecPeers(files, quick, passes);
  collectGarbage();
  const dictionary = await measureDictionary(files, quick, passes);
  return {
    libzstd: codecVersions().zstd,
    cliVersion,
    cliError,
    wholeNar: {
      files: narFiles,
      bytes: narBytes,
      ours: codecFigure(`engine compress(), ${PIECE_BYTES / MIB} MiB pieces`, narBytes, oursBytes, oursRuns),
      cli,
      mongodb: codecFigure(`@mongodb-js/zstd compress(), ${PIECE_BYTES / MIB} MiB pieces`, narBytes, mongoBytes, mongoRuns),
    },
    perChunk: {
      bytes: data.length,
      chunks: bounds.length,
      meanChunkBytes: data.length / Math.max(1, bounds.length),
      ours: codecFigure('engine compress() per chunk', data.length, chunkOursBytes, chunkOursRuns),
      mongodb: codecFigure('@mongodb-js/zstd compress() per chunk', data.length, chunkMongoBytes, chunkMongoRuns),
    },
    decompress: { bytes: narBytes, seconds: decompressSeconds, runs: decompressRuns, megabytesPerSecond: megabytesPerSecond(narBytes, decompressSeconds) },
    codecs,
    dictionary,
  };
}
