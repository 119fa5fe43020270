/**
 * The one place that loads the compiled addon (build/Release/chunker.node). Everything
 * else imports the typed surface from here. When loading fails, the error gathers what
 * was tried and what to install, because the usual cause is a machine without the build
 * tools or system libraries.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChunkerError } from './errors.js';

/** Digest selector shared with native/core/chunk_hash.h. */
export const NativeHashAlg = { None: 0, Sha256: 1, Blake3: 2 } as const;
export type NativeHashAlg = (typeof NativeHashAlg)[keyof typeof NativeHashAlg];

/** Validated FastCDC parameters held natively (gear table included). */
export interface NativeParams {
  readonly minSize: number;
  readonly avgSize: number;
  readonly maxSize: number;
  readonly normalization: number;
}

export interface NativeChunkResult {
  lengths: Uint32Array;
  gears: BigUint64Array;
  hashes: Buffer | null;
  consumed: number;
}

export interface NativeAddon {
  FastCdcParams: new (min: number, avg: number, max: number, normalization: number, seed?: bigint) => NativeParams;
  /** Cuts (and hashes) chunks; see cdc_scan in native/core/fastcdc.h for atEnd and the budget. */
  chunk(
    params: NativeParams,
    data: Uint8Array,
    atEnd: boolean,
    alg: NativeHashAlg,
    byteBudget: number,
    maxChunks: number,
  ): NativeChunkResult;
  hash(alg: NativeHashAlg, data: Uint8Array): Buffer;
  hashChunks(alg: NativeHashAlg, data: Uint8Array, lengths: Uint32Array): Buffer;
  gearTable(seed?: bigint): BigUint64Array;
  info(): { hashHelperThreads: number };
  /** Raises a pipe's capacity (best effort); returns it afterwards, or 0 when fd is not a pipe. */
  growPipe(fd: number, bytes: number): number;
  /**
   * Maps the first `bytes` (≥ 1) of a regular file read-only and shared, so the buffer
   * shows whatever the file's writer puts there later. The mapping outlives the file's
   * name (it may be unlinked at once) and is unmapped when the buffer is collected.
   * Throws an Error with `code` 'io_error' when the file cannot be opened or mapped or is
   * shorter than `bytes`, 'invalid_argument' for bad arguments. Truncating the file below
   * `bytes` afterwards makes reads of the lost pages fault (SIGBUS): writers must not.
   */
  mapSharedFile(path: string, bytes: number): ArrayBuffer;
}

const ADDON_RELATIVE_PATH = join('build', 'Release', 'chunker.node');

/** Walks up from this module to the package root (works from port/ and from dist/port/). */
function candidatePaths(): string[] {
  const paths: string[] = [];
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth++) {
    paths.push(join(dir, ADDON_RELATIVE_PATH));
    dir = dirname(dir);
  }
  return paths;
}

function loadAddon(): NativeAddon {
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const path of candidatePaths()) {
    if (!existsSync(path)) {
      tried.push(`${path}: not found`);
      continue;
    }
    try {
      return require(path) as NativeAddon;
    } catch (error) {
      tried.push(`${path}: ${(error as Error).message}`);
    }
  }
  throw new ChunkerError(
    'native_unavailable',
    [
      'Could not load the Chunker native addon.',
      ...tried.map((line) => `  tried ${line}`),
      'Possible solutions:',
      '- Install the build tools and libraries: apt-get install -y cmake g++ libssl-dev',
      '- Build the addon: npm run build:native (npm ci does this as its install step)',
      '- If a library is reported missing above (libcrypto.so.3), install its runtime package (libssl3)',
    ].join('\n'),
  );
}

export const native: NativeAddon = loadAddon();
