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
  /**
   * Maps the first `bytes` (≥ 1) of a regular file read-only and shared, so the buffer
   * shows whatever the file's writer puts there later. The mapping outlives the file's
   * name (it may be unlinked at once) and is unmapped when the buffer is collected.
   * Throws an Error with `code` 'io_error' when the file cannot be opened or mapped or is
   * shorter than `bytes`, 'invalid_argument' for bad arguments. Truncating the file below
   * `bytes` afterwards makes reads of the lost pages fault (SIGBUS): writers must not.
   */
  mapSharedFile(path: string, bytes: number): ArrayBuffer;
  /** Compression (native/addon/codecs.cc); use port/engine/compression.ts rather than this. */
  codecs: NativeCodecs;
  /** One upload's digests (native/core/upload_digest.h); one per object, parts in order. */
  UploadDigest: new () => NativeUploadDigest;
}

/** The digests of one part of an upload. */
export interface NativeUploadPartDigests {
  md5: Buffer;
  sha256: Buffer;
}

/**
 * Digests an object's parts in order on the libuv pool, and the whole object's MD5 along
 * the way. A call while the previous `part` is unsettled, or after `objectMd5`, throws
 * an Error with `code` 'invalid_state'.
 */
export interface NativeUploadDigest {
  part(bytes: Uint8Array): Promise<NativeUploadPartDigests>;
  /** The MD5 of every part given; ends the object. */
  objectMd5(): Buffer;
}

/** Codec ids shared with native/core/codec.h (`codec_id`). */
export const NativeCodecId = { none: 0, zstd: 1, lz4: 2, xz: 3, bzip2: 4, auto: 5 } as const;
export type NativeCodecId = (typeof NativeCodecId)[keyof typeof NativeCodecId];

/** A zstd dictionary held natively (its bytes, decompression form and per-level compression forms). */
export interface NativeZstdDictionary {
  /** The dictionary id that frames made with it record. */
  readonly id: number;
  /** The dictionary's size in bytes. */
  readonly size: number;
}

export interface NativeStreamStep {
  output: Buffer;
  consumed: number;
  done: boolean;
}

/** A decompression stream fed piece by piece (codecs.cc StreamDecoder). */
export interface NativeStreamDecoder {
  /**
   * Decodes from the start of `input` on the thread pool until the output piece
   * (`outputBytes`) is full, `input` is used up, or the stream ends (`done`, only with
   * `atEnd`). `consumed` says how much of `input` was used; call again with the rest.
   * Fails with size_exceeded once the stream would produce more than its `maxOutput`.
   */
  step(input: Uint8Array, atEnd: boolean, outputBytes: number): Promise<NativeStreamStep>;
  /** The same step on the calling thread, for callers that bound each step's output themselves. */
  stepSync(input: Uint8Array, atEnd: boolean, outputBytes: number): NativeStreamStep;
  /** Bytes produced so far. */
  readonly produced: number;
}

export interface NativeLevelRange {
  id: number;
  min: number;
  max: number;
  default: number;
}

/**
 * Every function throws (or rejects with) an Error whose `code` is one of codec.h's
 * names: invalid_argument, size_exceeded, memory_limit, truncated_input, corrupt_input,
 * unknown_format, dictionary_required, dictionary_mismatch, invalid_dictionary,
 * training_failed, no_memory, internal. The asynchronous functions run on libuv's thread
 * pool and keep their input (and dictionary) alive until they settle; the caller must not
 * change the input's bytes meanwhile.
 */
export interface NativeCodecs {
  /** Throws `invalid_dictionary` when the bytes are not a zstd dictionary with an id. */
  ZstdDictionary: new (bytes: Uint8Array) => NativeZstdDictionary;
  StreamDecoder: new (codec: NativeCodecId, maxOutput: number, dictionary: NativeZstdDictionary | null) => NativeStreamDecoder;
  compressSync(codec: NativeCodecId, level: number, data: Uint8Array, dictionary: NativeZstdDictionary | null): Buffer;
  compress(codec: NativeCodecId, level: number, data: Uint8Array, dictionary: NativeZstdDictionary | null): Promise<Buffer>;
  /** Never produces more than `maxOutput` bytes; more fails with `size_exceeded`. */
  decompressSync(codec: NativeCodecId, data: Uint8Array, maxOutput: number, dictionary: NativeZstdDictionary | null): Buffer;
  decompress(
    codec: NativeCodecId,
    data: Uint8Array,
    maxOutput: number,
    dictionary: NativeZstdDictionary | null,
  ): Promise<Buffer>;
  /** Trains a dictionary of at most `capacity` bytes from samples stored back to back. */
  trainDictionary(samples: Uint8Array, sizes: number[], capacity: number): Promise<Buffer>;
  /** The codec whose magic bytes start `data`, or `auto` when none does. */
  detect(data: Uint8Array): NativeCodecId;
  readonly levels: Record<'none' | 'zstd' | 'lz4' | 'xz' | 'bzip2', NativeLevelRange>;
  /** Versions of the system libraries linked in. */
  readonly versions: Record<'zstd' | 'lz4' | 'xz' | 'bzip2', string>;
  readonly autoId: number;
  readonly defaultDictionaryBytes: number;
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
  throw new ChunkerError('native_unavailable', describeLoadFailure(tried));
}

/** The shared libraries the addon links, what they are for, and the Debian runtime package of each. */
const SYSTEM_LIBRARIES: ReadonlyArray<{ soname: RegExp; what: string; runtime: string; dev: string }> = [
  { soname: /^libcrypto\.so/, what: 'OpenSSL libcrypto (SHA-256)', runtime: 'libssl3', dev: 'libssl-dev' },
  { soname: /^libzstd\.so/, what: 'zstd compression', runtime: 'libzstd1', dev: 'libzstd-dev' },
  { soname: /^liblz4\.so/, what: 'lz4 compression', runtime: 'liblz4-1', dev: 'liblz4-dev' },
  { soname: /^liblzma\.so/, what: 'xz compression', runtime: 'liblzma5', dev: 'liblzma-dev' },
  { soname: /^libbz2\.so/, what: 'bzip2 compression', runtime: 'libbz2-1.0', dev: 'libbz2-dev' },
];

/** The dynamic loader's way of saying a library is missing: "libzstd.so.1: cannot open shared object file". */
const MISSING_LIBRARY = /([\w.+-]+\.so[\w.]*): cannot open shared object file/g;

/**
 * The load error: every path tried and why it failed, then what to do — naming each
 * missing system library and the package that installs it when the loader said so.
 */
export function describeLoadFailure(tried: readonly string[]): string {
  const missing = new Set<string>();
  for (const line of tried) for (const match of line.matchAll(MISSING_LIBRARY)) missing.add(match[1]!);
  const lines = ['Could not load the Chunker native addon.', ...tried.map((line) => `  tried ${line}`)];
  for (const soname of missing) {
    const known = SYSTEM_LIBRARIES.find((library) => library.soname.test(soname));
    lines.push(
      known === undefined
        ? `The system library ${soname} is missing.`
        : `The system library ${soname} (${known.what}) is missing: apt-get install -y ${known.runtime}`,
    );
  }
  lines.push(
    'Possible solutions:',
    `- Install the build tools and libraries: apt-get install -y cmake g++ pkg-config ${SYSTEM_LIBRARIES.map((library) => library.dev).join(' ')}`,
    '- Build the addon: npm run build:native (npm ci does this as its install step)',
    '- If a library is reported missing above, install its runtime package (named beside it)',
  );
  return lines.join('\n');
}

export const native: NativeAddon = loadAddon();
