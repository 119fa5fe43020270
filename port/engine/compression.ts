/**
 * Compression: zstd (the default), lz4 frames, xz and bzip2 in native code over the system
 * libraries (native/core/codec.h), plus `none`.
 *
 * - **zstd** reuses one compression and one decompression context per thread (the port's
 *   thread for inline calls, each libuv pool thread for the others), so compressing many
 *   chunks never builds a context per chunk. Levels run from libzstd's negative "fast"
 *   levels to 22; frames carry the content size, a checksum and, when compressed with a
 *   dictionary, the dictionary's id.
 * - **Dictionaries** (zstd only) are trained from sample chunks and help most for chunks of
 *   tens of KiB. A frame made with a dictionary decompresses only with that dictionary:
 *   without one it fails with `dictionary_required`, with another with
 *   `dictionary_mismatch`.
 * - **Decompression is bounded**: it streams into an output that grows in steps up to
 *   `maxOutputBytes` and fails with `size_exceeded` the moment the stream would produce one
 *   byte more, so a decompression bomb costs at most the limit in memory. Input that ends
 *   inside a frame fails with `truncated_input`; input that is damaged, not the codec's
 *   format, or followed by bytes that start no frame fails with `corrupt_input`. Concatenated
 *   frames (streams) decompress as one, as the command-line tools do.
 * - **`auto`** detects the codec from the magic bytes (`unknown_format` when none match).
 * - **Streams**: DecompressingStream decompresses input that arrives in pieces (a
 *   compressed NAR being read) into bounded pieces, the limit held over the whole stream;
 *   StreamDecoderSync does the same one step at a time on the calling thread, for callers
 *   that bound their work per step (a session's budget, see input-decoder.ts).
 * - **Per chunk**: compressChunkAdaptive stores a chunk compressed only when that pays
 *   (not for already-compressed or random-looking data, nor above `maxRatio`) and says
 *   which codec its payload is in; restoreChunk reverses it.
 *
 * Large work runs on libuv's thread pool: `compress`/`decompress` return Promises and move
 * inputs of ASYNC_THRESHOLD_BYTES or more (for decompression: an input or a limit that
 * large) off the calling thread, so the port keeps serving requests and several cores work
 * at once. The `…Sync` variants always run inline and suit small chunks.
 */
import { constants as bufferConstants } from 'node:buffer';
import { ChunkerError, invalidParameter } from '../errors.js';
import { NativeCodecId, native, type NativeStreamDecoder, type NativeZstdDictionary } from '../native.js';

const nativeCodecs = native.codecs;

export const COMPRESSION_CODECS = ['zstd', 'lz4', 'xz', 'bzip2', 'none'] as const;
export type CompressionCodec = (typeof COMPRESSION_CODECS)[number];
export const DECOMPRESSION_CODECS = [...COMPRESSION_CODECS, 'auto'] as const;
export type DecompressionCodec = (typeof DECOMPRESSION_CODECS)[number];

export const DEFAULT_CODEC: CompressionCodec = 'zstd';

/**
 * Default decompression limit: 1 GiB. A fixed size rather than a multiple of the input:
 * what must be bounded is memory, and a ratio says nothing about it (64× a 64 MiB input is
 * 4 GiB, while highly regular files legitimately compress by far more than 64×). 1 GiB
 * holds any single NAR chunk and nearly every whole NAR a binary cache serves, and is
 * still memory a port process can afford. Callers that know the expected size (a chunk's
 * length, a narinfo's NarSize) should pass it.
 */
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024 * 1024;

/** Largest limit accepted: the largest Buffer Node can make. */
export const MAX_OUTPUT_LIMIT_BYTES = bufferConstants.MAX_LENGTH;

/**
 * Default limit of a streamed decompression (DecompressingStream: compressed NARs given to
 * chunk_file or the CLI). Its output is consumed piece by piece, so memory stays at a few
 * pieces whatever the limit; the limit bounds the work a bomb can cause, and 64 GiB is
 * above any NAR a binary cache serves.
 */
export const DEFAULT_STREAM_MAX_OUTPUT_BYTES = 64 * 1024 * 1024 * 1024;
/** Largest output piece a DecompressingStream yields. */
export const STREAM_PIECE_BYTES = 4 * 1024 * 1024;
/** Input bytes gathered before `auto` decides the format (enough for every magic number). */
export const DETECT_BYTES = 64;

/**
 * Inputs of at least this many bytes are (de)compressed off the calling thread. Below it a
 * call takes around a millisecond or less at zstd's default level, less than the cost of
 * a round trip through the thread pool would save.
 */
export const ASYNC_THRESHOLD_BYTES = 1024 * 1024;

/** Default dictionary size when training (zstd --train's default, 110 KiB). */
export const DEFAULT_DICTIONARY_BYTES = nativeCodecs.defaultDictionaryBytes;
/** Smallest dictionary ZDICT can make. */
export const MIN_DICTIONARY_BYTES = 256;
/** Largest dictionary accepted for training (zstd --maxdict allows larger; nobody needs it here). */
export const MAX_DICTIONARY_BYTES = 16 * 1024 * 1024;

export interface LevelRange {
  min: number;
  max: number;
  default: number;
}

/** Levels a codec accepts and its default (zstd: libzstd's min to 22, default 3; level 0 means 3). */
export function levelRange(codec: CompressionCodec): LevelRange {
  const range = nativeCodecs.levels[codec];
  return { min: range.min, max: range.max, default: range.default };
}

/** Versions of the linked system libraries. */
export function codecVersions(): Record<'zstd' | 'lz4' | 'xz' | 'bzip2', string> {
  return { ...nativeCodecs.versions };
}

/**
 * A zstd dictionary, loaded once and reusable across calls and threads. Save `bytes`
 * anywhere; `CompressionDictionary.load(bytes)` gives it back (same `id`).
 */
export class CompressionDictionary {
  /** The id frames made with this dictionary record (random, from training). */
  readonly id: number;
  /** The dictionary as `zstd --train` writes it. */
  readonly bytes: Uint8Array;
  /** @internal */
  readonly handle: NativeZstdDictionary;

  private constructor(bytes: Uint8Array, handle: NativeZstdDictionary) {
    this.bytes = bytes;
    this.handle = handle;
    this.id = handle.id;
  }

  /** Loads dictionary bytes; `invalid_dictionary` when they are not a zstd dictionary. */
  static load(bytes: Uint8Array): CompressionDictionary {
    if (!(bytes instanceof Uint8Array)) throw invalidParameter('dictionary', 'a Uint8Array', bytes);
    const copy = Uint8Array.from(bytes);
    return new CompressionDictionary(copy, callNative(() => new nativeCodecs.ZstdDictionary(copy)));
  }
}

export interface CompressOptions {
  /** Default zstd. */
  codec?: CompressionCodec;
  /** Default: the codec's (zstd 3, lz4 1, xz 6, bzip2 9). */
  level?: number;
  /** zstd only. */
  dictionary?: CompressionDictionary;
}

export interface DecompressOptions {
  /** Default auto (detected from the magic bytes). */
  codec?: DecompressionCodec;
  /** Default DEFAULT_MAX_OUTPUT_BYTES (1 GiB). */
  maxOutputBytes?: number;
  /** Needed for zstd frames compressed with a dictionary. */
  dictionary?: CompressionDictionary;
}

interface CompressCall {
  codec: NativeCodecId;
  level: number;
  dictionary: NativeZstdDictionary | null;
}

interface DecompressCall {
  codec: NativeCodecId;
  maxOutputBytes: number;
  dictionary: NativeZstdDictionary | null;
}

/** Compresses `data` into one frame; large inputs are compressed off the calling thread. */
export async function compress(data: Uint8Array, options: CompressOptions = {}): Promise<Uint8Array> {
  const call = compressCall(data, options);
  if (data.length < ASYNC_THRESHOLD_BYTES) return callNative(() => nativeCodecs.compressSync(call.codec, call.level, data, call.dictionary));
  return settleNative(nativeCodecs.compress(call.codec, call.level, data, call.dictionary));
}

/** Compresses on the calling thread (for small inputs such as chunks). */
export function compressSync(data: Uint8Array, options: CompressOptions = {}): Uint8Array {
  const call = compressCall(data, options);
  return callNative(() => nativeCodecs.compressSync(call.codec, call.level, data, call.dictionary));
}

/**
 * Decompresses a complete input, producing at most `maxOutputBytes` (see the module doc
 * for the errors). Runs off the calling thread unless the input and the limit are both
 * under ASYNC_THRESHOLD_BYTES.
 */
export async function decompress(data: Uint8Array, options: DecompressOptions = {}): Promise<Uint8Array> {
  const call = decompressCall(data, options);
  if (data.length < ASYNC_THRESHOLD_BYTES && call.maxOutputBytes < ASYNC_THRESHOLD_BYTES) {
    return callNative(() => nativeCodecs.decompressSync(call.codec, data, call.maxOutputBytes, call.dictionary));
  }
  return settleNative(nativeCodecs.decompress(call.codec, data, call.maxOutputBytes, call.dictionary));
}

/** Decompresses on the calling thread; the same limit and errors as `decompress`. */
export function decompressSync(data: Uint8Array, options: DecompressOptions = {}): Uint8Array {
  const call = decompressCall(data, options);
  return callNative(() => nativeCodecs.decompressSync(call.codec, data, call.maxOutputBytes, call.dictionary));
}

/** The codec whose magic bytes start `data`, or null (plain data, or too short to tell). */
export function detectCodec(data: Uint8Array): Exclude<CompressionCodec, 'none'> | null {
  if (!(data instanceof Uint8Array)) throw invalidParameter('data', 'a Uint8Array', data);
  const id = nativeCodecs.detect(data);
  const name = COMPRESSION_CODECS.find((codec) => NativeCodecId[codec] === id);
  return name === undefined || name === 'none' ? null : name;
}

/** Default of `maxRatio`: a chunk must shrink by at least 5% to be stored compressed. */
export const DEFAULT_MAX_RATIO = 0.95;
/**
 * Order-0 entropy (bits per byte) of a chunk's sample above which it is taken for
 * already-compressed or random data and not compressed at all. Compressed and encrypted
 * data measure ~7.99; text ~4.5–5.5; executables ~5–6.5.
 */
export const INCOMPRESSIBLE_ENTROPY_BITS = 7.9;
/** Bytes sampled for the entropy estimate (in 32 slices spread over the chunk). */
const ENTROPY_SAMPLE_BYTES = 4096;
const ENTROPY_SLICES = 32;

export interface AdaptiveOptions extends CompressOptions {
  /** Keep the compressed form only when it is at most this fraction of the chunk (0 < maxRatio ≤ 1). */
  maxRatio?: number;
}

/** A chunk as stored: its payload and the codec that payload is in (`none`: the chunk itself). */
export interface StoredChunk {
  codec: CompressionCodec;
  payload: Uint8Array;
}

/**
 * Order-0 entropy in bits per byte of up to ENTROPY_SAMPLE_BYTES of `data`, sampled in
 * slices spread over it (whole when small).
 */
export function sampleEntropyBits(data: Uint8Array): number {
  const counts = new Uint32Array(256);
  let total = 0;
  if (data.length <= ENTROPY_SAMPLE_BYTES) {
    for (const byte of data) counts[byte]!++;
    total = data.length;
  } else {
    const slice = ENTROPY_SAMPLE_BYTES / ENTROPY_SLICES;
    const stride = Math.floor((data.length - slice) / (ENTROPY_SLICES - 1));
    for (let s = 0; s < ENTROPY_SLICES; s++) {
      const start = s * stride;
      for (let i = start; i < start + slice; i++) counts[data[i]!]!++;
    }
    total = ENTROPY_SAMPLE_BYTES;
  }
  let bits = 0;
  for (const count of counts) {
    if (count === 0) continue;
    const p = count / total;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * Compresses one chunk unless it does not pay: a chunk whose sample looks incompressible
 * (entropy above INCOMPRESSIBLE_ENTROPY_BITS: already compressed, encrypted or random) is
 * not even tried, and one whose compressed form is larger than `maxRatio` of it is stored
 * as it is. The result names the codec of its payload, so a store records it per chunk.
 * Inline (meant for chunks); the options are those of `compress` plus `maxRatio`.
 */
export function compressChunkAdaptive(chunk: Uint8Array, options: AdaptiveOptions = {}): StoredChunk {
  const maxRatio = checkMaxRatio(options);
  const call = compressCall(chunk, options);
  const codec = options.codec ?? DEFAULT_CODEC;
  if (codec === 'none' || chunk.length === 0 || sampleEntropyBits(chunk) > INCOMPRESSIBLE_ENTROPY_BITS) {
    return { codec: 'none', payload: chunk };
  }
  const packed = callNative(() => nativeCodecs.compressSync(call.codec, call.level, chunk, call.dictionary));
  if (packed.length > chunk.length * maxRatio) return { codec: 'none', payload: chunk };
  return { codec, payload: packed };
}

function checkMaxRatio(options: AdaptiveOptions): number {
  const maxRatio = options.maxRatio ?? DEFAULT_MAX_RATIO;
  if (typeof maxRatio !== 'number' || !(maxRatio > 0 && maxRatio <= 1)) {
    throw invalidParameter('maxRatio', 'a number above 0 and at most 1', options.maxRatio);
  }
  return maxRatio;
}

/**
 * Throws what compressChunkAdaptive would throw for these options (invalid_argument), so
 * a caller that compresses many chunks with them (a session) can check them once, up front.
 */
export function checkAdaptiveOptions(options: AdaptiveOptions): void {
  checkMaxRatio(options);
  compressCall(new Uint8Array(0), options);
}

/** The chunk back from what compressChunkAdaptive stored (its length bounds the output). */
export function restoreChunk(stored: StoredChunk, length: number, dictionary?: CompressionDictionary): Uint8Array {
  if (stored.codec === 'none') {
    if (stored.payload.length !== length) {
      throw new ChunkerError('corrupt_input', `none: the payload holds ${stored.payload.length} bytes, not ${length}`);
    }
    return stored.payload;
  }
  const chunk = decompressSync(stored.payload, { codec: stored.codec, maxOutputBytes: length, dictionary });
  if (chunk.length !== length) {
    throw new ChunkerError('truncated_input', `${stored.codec}: the payload holds ${chunk.length} bytes, not ${length}`);
  }
  return chunk;
}

export interface StreamOptions {
  /** Default auto. */
  codec?: DecompressionCodec;
  /** Default DEFAULT_STREAM_MAX_OUTPUT_BYTES (64 GiB). */
  maxOutputBytes?: number;
  dictionary?: CompressionDictionary;
  /** With auto: input of no known format passes through as plain bytes instead of failing. */
  plainWhenUnknown?: boolean;
  /** Largest piece yielded; default STREAM_PIECE_BYTES. */
  pieceBytes?: number;
}

/**
 * Decompresses a stream that arrives in pieces (a compressed NAR read from a file or
 * stdin), yielding the output in pieces of at most `pieceBytes` as it is produced. Each
 * step runs on libuv's thread pool; memory stays at a few pieces plus the decoder's
 * state. The same errors as `decompress`; size_exceeded once the whole stream would
 * produce more than `maxOutputBytes`. `codec` tells, once iteration has begun, which codec
 * was used (`none` for plain input passed through).
 */
export class DecompressingStream implements AsyncIterable<Uint8Array> {
  codec: CompressionCodec | null = null;
  readonly #source: AsyncIterable<Uint8Array>;
  readonly #call: DecompressCall & { requested: DecompressionCodec };
  readonly #plainWhenUnknown: boolean;
  readonly #pieceBytes: number;

  constructor(source: AsyncIterable<Uint8Array>, options: StreamOptions = {}) {
    const requested = options.codec ?? 'auto';
    const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_STREAM_MAX_OUTPUT_BYTES;
    if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0) {
      throw invalidParameter('maxOutputBytes', 'a non-negative integer', options.maxOutputBytes);
    }
    const call = decompressCall(new Uint8Array(0), { codec: requested, dictionary: options.dictionary });
    this.#call = { ...call, maxOutputBytes, requested };
    this.#source = source;
    this.#plainWhenUnknown = options.plainWhenUnknown ?? false;
    this.#pieceBytes = options.pieceBytes ?? STREAM_PIECE_BYTES;
    if (!Number.isSafeInteger(this.#pieceBytes) || this.#pieceBytes < 1 || this.#pieceBytes > 1 << 30) {
      throw invalidParameter('pieceBytes', 'an integer from 1 to 2^30', options.pieceBytes);
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    const iterator = this.#source[Symbol.asyncIterator]();
    const pull = async (): Promise<Uint8Array | null> => {
      for (;;) {
        const next = await iterator.next();
        if (next.done === true) return null;
        if (next.value.length > 0) return next.value;
      }
    };
    let current = await pull();
    let codec = this.#call.requested;
    if (codec === 'auto') {
      // Gather enough bytes to see past skippable frames' headers, then decide.
      const head: Uint8Array[] = [];
      let headBytes = 0;
      while (current !== null && headBytes + current.length < DETECT_BYTES) {
        head.push(current);
        headBytes += current.length;
        current = await pull();
      }
      if (current !== null) head.push(current);
      current = head.length > 0 ? Buffer.concat(head) : null;
      const found = detectCodec(current ?? new Uint8Array(0));
      if (found === null && !this.#plainWhenUnknown) {
        throw new ChunkerError('unknown_format', 'auto: the input starts with no known magic bytes (zstd, lz4 frame, xz, bzip2)');
      }
      codec = found ?? 'none';
    }
    this.codec = codec as CompressionCodec;
    const decoder = callNative(
      () => new nativeCodecs.StreamDecoder(NativeCodecId[codec as CompressionCodec], this.#call.maxOutputBytes, this.#call.dictionary),
    );
    // An empty stream still goes through the decoder, which says what that means.
    let piece: Uint8Array = current ?? new Uint8Array(0);
    for (;;) {
      const next: Uint8Array | null = piece.length === 0 ? null : await pull();
      const atEnd = next === null;
      let offset = 0;
      for (;;) {
        const { output, consumed, done } = await settleNative(decoder.step(piece.subarray(offset), atEnd, this.#pieceBytes));
        offset += consumed;
        if (output.length > 0) yield output;
        if (done) return;
        if (offset >= piece.length && output.length < this.#pieceBytes && !atEnd) break;
      }
      piece = next!;
    }
  }
}

/** One step of a StreamDecoderSync. */
export interface StreamStep {
  /** The bytes this step produced (at most the step's `pieceBytes`; may be empty). */
  output: Uint8Array;
  /** Input bytes used; the caller passes the rest (plus what follows) to the next step. */
  consumed: number;
  /** The stream is complete (only reported with `atEnd`). */
  done: boolean;
}

/**
 * A decompression stream driven one step at a time on the calling thread, for callers
 * that bound each step's work themselves (a session's budget). Each step produces at most
 * its `pieceBytes`; the whole stream at most `maxOutputBytes`, past which a step fails
 * with size_exceeded. The errors of `decompress`; after any error the stream is unusable.
 */
export class StreamDecoderSync {
  readonly codec: CompressionCodec;
  readonly #decoder: NativeStreamDecoder;

  constructor(codec: CompressionCodec, maxOutputBytes: number, dictionary?: CompressionDictionary) {
    if (!COMPRESSION_CODECS.includes(codec)) throw invalidParameter('codec', COMPRESSION_CODECS.join(' | '), codec);
    if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0) {
      throw invalidParameter('maxOutputBytes', 'a non-negative integer', maxOutputBytes);
    }
    const handle = dictionaryFor(codec, dictionary);
    this.codec = codec;
    this.#decoder = callNative(() => new nativeCodecs.StreamDecoder(NativeCodecId[codec], maxOutputBytes, handle));
  }

  /** Decodes from the start of `input` until `pieceBytes` are out, the input is used up, or the stream ends. */
  step(input: Uint8Array, atEnd: boolean, pieceBytes: number): StreamStep {
    return callNative(() => this.#decoder.stepSync(input, atEnd, pieceBytes));
  }

  /** Bytes produced so far. */
  get produced(): number {
    return this.#decoder.produced;
  }
}

export interface TrainOptions {
  /** The dictionary's largest size; default DEFAULT_DICTIONARY_BYTES (110 KiB). */
  maxBytes?: number;
}

/**
 * Trains a zstd dictionary from sample chunks (off the calling thread). ZDICT wants many
 * samples (hundreds), together around 100× the dictionary's size; with too little it
 * fails with `training_failed`.
 */
export async function trainDictionary(samples: readonly Uint8Array[], options: TrainOptions = {}): Promise<CompressionDictionary> {
  if (!Array.isArray(samples) || samples.length === 0 || !samples.every((sample) => sample instanceof Uint8Array)) {
    throw invalidParameter('samples', 'a non-empty array of byte buffers', samples);
  }
  const maxBytes = options.maxBytes ?? DEFAULT_DICTIONARY_BYTES;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < MIN_DICTIONARY_BYTES || maxBytes > MAX_DICTIONARY_BYTES) {
    throw invalidParameter('maxBytes', `an integer from ${MIN_DICTIONARY_BYTES} to ${MAX_DICTIONARY_BYTES}`, options.maxBytes);
  }
  const joined = Buffer.concat(samples);
  const bytes = await settleNative(nativeCodecs.trainDictionary(joined, samples.map((sample) => sample.length), maxBytes));
  return CompressionDictionary.load(bytes);
}

function compressCall(data: Uint8Array, options: CompressOptions): CompressCall {
  if (!(data instanceof Uint8Array)) throw invalidParameter('data', 'a Uint8Array', data);
  const codec = options.codec ?? DEFAULT_CODEC;
  if (!COMPRESSION_CODECS.includes(codec)) throw invalidParameter('codec', COMPRESSION_CODECS.join(' | '), codec);
  const range = levelRange(codec);
  const level = options.level ?? range.default;
  if (!Number.isSafeInteger(level) || level < range.min || level > range.max) {
    throw invalidParameter('level', `an integer from ${range.min} to ${range.max} (the ${codec} levels)`, options.level);
  }
  return { codec: NativeCodecId[codec], level, dictionary: dictionaryFor(codec, options.dictionary) };
}

function decompressCall(data: Uint8Array, options: DecompressOptions): DecompressCall {
  if (!(data instanceof Uint8Array)) throw invalidParameter('data', 'a Uint8Array', data);
  const codec = options.codec ?? 'auto';
  if (!DECOMPRESSION_CODECS.includes(codec)) throw invalidParameter('codec', DECOMPRESSION_CODECS.join(' | '), codec);
  const maxOutputBytes = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0 || maxOutputBytes > MAX_OUTPUT_LIMIT_BYTES) {
    throw invalidParameter('maxOutputBytes', `an integer from 0 to ${MAX_OUTPUT_LIMIT_BYTES}`, options.maxOutputBytes);
  }
  return { codec: NativeCodecId[codec], maxOutputBytes, dictionary: dictionaryFor(codec, options.dictionary) };
}

function dictionaryFor(codec: DecompressionCodec, dictionary: CompressionDictionary | undefined): NativeZstdDictionary | null {
  if (dictionary === undefined || dictionary === null) return null;
  if (!(dictionary instanceof CompressionDictionary)) {
    throw invalidParameter('dictionary', 'a CompressionDictionary', dictionary);
  }
  if (codec !== 'zstd' && codec !== 'auto') {
    throw invalidParameter('dictionary', 'no dictionary (dictionaries are for zstd only)', `a dictionary with ${codec}`);
  }
  return dictionary.handle;
}

/** Codec failures that a later attempt could get past (memory may be free then). */
const TRANSIENT_CODES = new Set(['no_memory', 'internal']);

/** The native glue's Error (with `code`) as the engine's ChunkerError. */
function asChunkerError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof ChunkerError) return error;
  const code = (error as Error & { code?: unknown }).code;
  if (typeof code !== 'string') return error;
  return new ChunkerError(code, error.message, !TRANSIENT_CODES.has(code));
}

function callNative<T>(run: () => T): T {
  try {
    return run();
  } catch (error) {
    throw asChunkerError(error);
  }
}

async function settleNative<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    throw asChunkerError(error);
  }
}
