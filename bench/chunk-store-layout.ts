/**
 * The object layout the demo writes into a chunk store, and its NAR index format.
 *
 *   chunks/<2 hex>/<64 hex>        a chunk stored as it is: the object's SHA-256 is its name
 *   chunks/<2 hex>/<64 hex>.zst    a chunk stored as one zstd frame (`.lz4`, `.xz`, `.bz2`
 *                                  likewise); the frame decompresses to the chunk
 *   nar/<64 hex>.json              the index of the NAR whose SHA-256 is the name
 *
 * The 64 hex digits of a chunk name are the SHA-256 of the chunk's uncompressed bytes;
 * the first two name a fan-out directory, so no directory of a file-system store holds
 * more than 1/256 of the chunks. The suffix says how the payload is encoded, so one name
 * always holds one byte string (objects are immutable): if a later writer encodes a chunk
 * differently (another zstd version, another level), it writes another name beside it
 * rather than changing bytes an existing index points at.
 *
 * A NAR index is JSON (one chunk per line, for reading with `chunker store cat`):
 *
 *   {"format":"chunker-nar-index-v1","narSha256":"<64 hex>","narSize":N,
 *    "chunking":{"minSize":…,"avgSize":…,"maxSize":…,"normalization":1,"seed":"0"},
 *    "chunks":[
 *   {"sha256":"<64 hex>","length":N,"codec":"zstd"},
 *   …
 *   ]}
 *
 * The NAR is its chunks, in order, decompressed and concatenated. `chunking` records the
 * cut parameters, since a store only deduplicates against data cut the same way. A writer
 * puts an index only after every chunk it lists is stored, so an index that can be read
 * can be restored.
 */
import { ChunkerError } from '../port/errors.js';
import type { CompressionCodec } from '../port/engine/compression.js';
import { MAX_SIZE_UPPER_BYTES, type ResolvedChunkingOptions } from '../port/engine/chunking-options.js';

export const NAR_INDEX_FORMAT = 'chunker-nar-index-v1';

/** Prefix of every chunk object. */
export const CHUNKS_PREFIX = 'chunks/';
/** Prefix of every NAR index object. */
export const NAR_INDEX_PREFIX = 'nar/';

/** Name suffix of each payload encoding; `none` (the chunk itself) has none. */
export const CODEC_SUFFIXES: Readonly<Record<CompressionCodec, string>> = {
  none: '',
  zstd: '.zst',
  lz4: '.lz4',
  xz: '.xz',
  bzip2: '.bz2',
};

const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface IndexedChunk {
  /** SHA-256 of the uncompressed chunk, lowercase hex. */
  readonly sha256: string;
  /** Uncompressed length in bytes. */
  readonly length: number;
  /** How the stored object's bytes are encoded. */
  readonly codec: CompressionCodec;
}

/** The cut parameters a NAR was chunked with (SHA-256 digests are implied by the layout). */
export interface IndexChunking {
  readonly minSize: number;
  readonly avgSize: number;
  readonly maxSize: number;
  readonly normalization: number;
  /** The gear seed as a decimal string (a u64 does not fit a JSON number). */
  readonly seed: string;
}

export interface NarIndex {
  readonly format: typeof NAR_INDEX_FORMAT;
  readonly narSha256: string;
  readonly narSize: number;
  readonly chunking: IndexChunking;
  readonly chunks: readonly IndexedChunk[];
}

function checkSha256Hex(hex: string, what: string): string {
  if (!SHA256_HEX.test(hex)) throw new ChunkerError('invalid_argument', `${what} must be 64 lowercase hex digits, got ${JSON.stringify(hex)}`);
  return hex;
}

/** `chunks/ab/ab…` plus the codec's suffix. */
export function chunkObjectName(sha256: string, codec: CompressionCodec): string {
  checkSha256Hex(sha256, 'chunk digest');
  return `${CHUNKS_PREFIX}${sha256.slice(0, 2)}/${sha256}${CODEC_SUFFIXES[codec]}`;
}

/** `nar/<hex>.json` */
export function narIndexName(narSha256: string): string {
  return `${NAR_INDEX_PREFIX}${checkSha256Hex(narSha256, 'NAR digest')}.json`;
}

export function indexChunking(options: ResolvedChunkingOptions): IndexChunking {
  const { minSize, avgSize, maxSize, normalization, seed } = options;
  return { minSize, avgSize, maxSize, normalization, seed: seed.toString() };
}

/** The index as UTF-8 JSON, one chunk per line. */
export function encodeNarIndex(index: NarIndex): Uint8Array {
  const { chunks, ...header } = index;
  const lines = chunks.map(({ sha256, length, codec }) => JSON.stringify({ sha256, length, codec }));
  const head = JSON.stringify(header).slice(0, -1);
  return Buffer.from(`${head},"chunks":[\n${lines.join(',\n')}\n]}\n`, 'utf8');
}

function corrupt(name: string, detail: string): ChunkerError {
  return new ChunkerError('corrupt_input', `${name} is not a valid NAR index: ${detail}`);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
}

function parseChunk(entry: unknown, position: number, name: string): IndexedChunk {
  if (!isRecord(entry)) throw corrupt(name, `chunk ${position} is not an object`);
  const { sha256, length, codec } = entry;
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) throw corrupt(name, `chunk ${position} has no valid sha256`);
  if (!isCount(length, 1, MAX_SIZE_UPPER_BYTES)) throw corrupt(name, `chunk ${position} has length ${String(length)}`);
  if (typeof codec !== 'string' || !Object.hasOwn(CODEC_SUFFIXES, codec)) throw corrupt(name, `chunk ${position} has unknown codec ${String(codec)}`);
  return { sha256, length, codec: codec as CompressionCodec };
}

function parseChunking(value: unknown, name: string): IndexChunking {
  if (!isRecord(value)) throw corrupt(name, 'no chunking parameters');
  const { minSize, avgSize, maxSize, normalization, seed } = value;
  if (!isCount(minSize, 1) || !isCount(avgSize, 1) || !isCount(maxSize, 1) || !isCount(normalization, 0) || typeof seed !== 'string') {
    throw corrupt(name, 'malformed chunking parameters');
  }
  return { minSize, avgSize, maxSize, normalization, seed };
}

/**
 * Parses and checks an index read from object `name`: known format, well-formed digests
 * and codecs, and chunk lengths that add up to the NAR's size. Fails with `corrupt_input`.
 */
export function parseNarIndex(bytes: Uint8Array, name: string): NarIndex {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (error) {
    throw corrupt(name, (error as Error).message);
  }
  if (!isRecord(value)) throw corrupt(name, 'not a JSON object');
  if (value.format !== NAR_INDEX_FORMAT) throw corrupt(name, `format ${JSON.stringify(value.format)}, expected ${NAR_INDEX_FORMAT}`);
  const { narSha256, narSize, chunks } = value;
  if (typeof narSha256 !== 'string' || !SHA256_HEX.test(narSha256)) throw corrupt(name, 'no valid narSha256');
  if (!isCount(narSize, 0)) throw corrupt(name, `narSize ${String(narSize)}`);
  if (!Array.isArray(chunks)) throw corrupt(name, 'no chunk list');
  const parsed = chunks.map((entry, position) => parseChunk(entry, position, name));
  const total = parsed.reduce((sum, chunk) => sum + chunk.length, 0);
  if (total !== narSize) throw corrupt(name, `its chunks add up to ${total} bytes, not narSize ${narSize}`);
  return { format: NAR_INDEX_FORMAT, narSha256, narSize, chunking: parseChunking(value.chunking, name), chunks: parsed };
}
