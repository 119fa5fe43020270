/**
 * Our side of the peer comparison, measured the way the peers are: wall clock over whole
 * files, the read from the (warm) page cache included, best of `reps` passes.
 */
import { native, NativeHashAlg } from '../port/native.js';
import { feed, finish, openSession, resume } from '../port/engine/chunk-session.js';
import { runToCompletion } from './session-steps.js';
import { readPieces } from './corpus-reader.js';
import { collectGarbage, megabytesPerSecond, nowSeconds } from './timing.js';

export type FromFileMode = 'chunk' | 'hash';

export interface FromFileFigure {
  name: string;
  description: string;
  bytes: number;
  runs: number[];
  seconds: number;
  megabytesPerSecond: number;
}

function chunkFiles(files: readonly string[], hash: 'sha256' | 'blake3', buffer: Buffer): number {
  let bytes = 0;
  for (const file of files) {
    let state = openSession({ preset: 'default', hash });
    for (const piece of readPieces(file, buffer)) {
      bytes += piece.bytes.length;
      if (piece.bytes.length > 0) state = runToCompletion(feed(state, piece.bytes), resume).state;
    }
    runToCompletion(finish(state), finish);
  }
  return bytes;
}

function hashFiles(files: readonly string[], hash: 'sha256' | 'blake3', buffer: Buffer): number {
  const alg = hash === 'sha256' ? NativeHashAlg.Sha256 : NativeHashAlg.Blake3;
  let bytes = 0;
  for (const file of files) {
    for (const piece of readPieces(file, buffer)) {
      bytes += piece.bytes.length;
      native.hash(alg, piece.bytes);
    }
  }
  return bytes;
}

function pieceMiB(buffer: Buffer): number {
  return buffer.length / (1024 * 1024);
}

export function timeFromFile(
  mode: FromFileMode,
  hash: 'sha256' | 'blake3',
  files: readonly string[],
  buffer: Buffer,
  reps: number,
): FromFileFigure {
  const runs: number[] = [];
  let bytes = 0;
  for (let rep = 0; rep < reps; rep++) {
    collectGarbage();
    const start = nowSeconds();
    bytes = mode === 'chunk' ? chunkFiles(files, hash, buffer) : hashFiles(files, hash, buffer);
    runs.push(nowSeconds() - start);
  }
  const seconds = Math.min(...runs);
  return {
    name: `${mode === 'chunk' ? 'chunk+' : ''}${hash} from file`,
    description:
      mode === 'chunk'
        ? `read ${pieceMiB(buffer)} MiB pieces + session (default preset, ${hash} per chunk)`
        : `read ${pieceMiB(buffer)} MiB pieces + native.hash(${hash}) per piece`,
    bytes,
    runs,
    seconds,
    megabytesPerSecond: megabytesPerSecond(bytes, seconds),
  };
}
