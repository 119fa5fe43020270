/**
 * `compress`, `decompress` and `train_dictionary` (spec §4). The work runs in the engine
 * (port/engine/compression.ts): inputs of 1 MiB or more, and decompressions that may
 * produce that much, go to libuv's thread pool, so the port keeps answering other
 * requests meanwhile.
 *
 * Dictionaries travel as bytes. Loading one (parsing its entropy tables, building the
 * compression form per level) costs far more than a small chunk's compression, so the
 * port keeps the last few it was given, keyed by their SHA-256.
 */
import { createHash } from 'node:crypto';
import {
  COMPRESSION_CODECS,
  CompressionDictionary,
  DECOMPRESSION_CODECS,
  DEFAULT_DICTIONARY_BYTES,
  DEFAULT_MAX_OUTPUT_BYTES,
  MAX_DICTIONARY_BYTES,
  MIN_DICTIONARY_BYTES,
  compress,
  decompress,
  detectCodec,
  levelRange,
  trainDictionary,
  type AdaptiveOptions,
  type CompressionCodec,
  type DecompressionCodec,
} from '../engine/compression.js';
import { invalidParameter } from '../errors.js';
import { isMap, readArray, readBin, readOptionalUint, type Message, type Request } from '../protocol.js';
import type { PortContext } from './context.js';

/** Largest `max_output` a request may ask for: a reply must still fit in memory and in one frame. */
export const MAX_DECOMPRESS_OUTPUT_BYTES = DEFAULT_MAX_OUTPUT_BYTES;

/** Dictionaries kept loaded (least recently used goes first). */
export const DICTIONARY_CACHE_ENTRIES = 8;

const dictionaryCache = new Map<string, CompressionDictionary>();

/** The loaded form of dictionary bytes, from the cache when the port has seen them before. */
function loadDictionary(bytes: Uint8Array): CompressionDictionary {
  const key = createHash('sha256').update(bytes).digest('hex');
  const cached = dictionaryCache.get(key);
  if (cached !== undefined) {
    dictionaryCache.delete(key);
    dictionaryCache.set(key, cached);
    return cached;
  }
  const dictionary = CompressionDictionary.load(bytes);
  dictionaryCache.set(key, dictionary);
  if (dictionaryCache.size > DICTIONARY_CACHE_ENTRIES) dictionaryCache.delete(dictionaryCache.keys().next().value!);
  return dictionary;
}

/** `prefix` names the map an argument sits in (`compress.`), for error messages. */
function readOptionalDictionary(args: Message, codec: DecompressionCodec, prefix = ''): CompressionDictionary | undefined {
  if (args.dictionary === undefined || args.dictionary === null) return undefined;
  const bytes = args.dictionary;
  if (!(bytes instanceof Uint8Array)) throw invalidParameter(`${prefix}dictionary`, 'bin', bytes);
  if (codec !== 'zstd' && codec !== 'auto') {
    throw invalidParameter(`${prefix}dictionary`, 'nil (dictionaries are for zstd only)', `a dictionary with ${codec}`);
  }
  return loadDictionary(bytes);
}

/** `level` may be negative (zstd's fast levels), so it is read as any safe integer. */
function readOptionalLevel(args: Message, prefix = ''): number | undefined {
  const value = args.level;
  if (value === undefined || value === null) return undefined;
  const level = typeof value === 'bigint' ? Number(value) : value;
  if (typeof level !== 'number' || !Number.isSafeInteger(level)) throw invalidParameter(`${prefix}level`, 'an integer', value);
  return level;
}

function readCodec<T extends string>(args: Message, allowed: readonly T[], fallback: T, prefix = ''): T {
  const value = args.codec ?? fallback;
  if (!allowed.includes(value as T)) throw invalidParameter(`${prefix}codec`, allowed.join(' | '), value);
  return value as T;
}

/** `max_ratio`: a float (or the int 1) above 0 and at most 1. */
function readOptionalRatio(args: Message, prefix: string): number | undefined {
  const value = args.max_ratio;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !(value > 0 && value <= 1)) {
    throw invalidParameter(`${prefix}max_ratio`, 'a number above 0 and at most 1', value);
  }
  return value;
}

/**
 * A session's `compress` argument (spec §4 `open`): a map {codec (default zstd), level
 * (default the codec's), dictionary (zstd), max_ratio (default 0.95)}, or absent.
 */
export function readSessionCompression(args: Message): AdaptiveOptions | undefined {
  const wire = args.compress;
  if (wire === undefined || wire === null) return undefined;
  if (!isMap(wire)) throw invalidParameter('compress', 'a map', wire);
  const prefix = 'compress.';
  const codec = readCodec<CompressionCodec>(wire, COMPRESSION_CODECS, 'zstd', prefix);
  const options: AdaptiveOptions = { codec };
  const level = readOptionalLevel(wire, prefix);
  if (level !== undefined) options.level = level;
  const dictionary = readOptionalDictionary(wire, codec, prefix);
  if (dictionary !== undefined) options.dictionary = dictionary;
  const maxRatio = readOptionalRatio(wire, prefix);
  if (maxRatio !== undefined) options.maxRatio = maxRatio;
  return options;
}

/** Args: data, codec (default zstd), level (default the codec's), dictionary (zstd). */
export async function compressOp(request: Request): Promise<Message> {
  const data = readBin(request.args, 'data');
  const codec = readCodec<CompressionCodec>(request.args, COMPRESSION_CODECS, 'zstd');
  const level = readOptionalLevel(request.args) ?? levelRange(codec).default;
  const dictionary = readOptionalDictionary(request.args, codec);
  return { data: await compress(data, { codec, level, dictionary }), codec, level };
}

/** Args: data, codec (default auto), max_output (default max_frame_bytes), dictionary. */
export async function decompressOp(request: Request, context: PortContext): Promise<Message> {
  const data = readBin(request.args, 'data');
  const codec = readCodec<DecompressionCodec>(request.args, DECOMPRESSION_CODECS, 'auto');
  const maxOutputBytes =
    readOptionalUint(request.args, 'max_output', 0, MAX_DECOMPRESS_OUTPUT_BYTES) ??
    Math.min(context.limits.maxFrameBytes, MAX_DECOMPRESS_OUTPUT_BYTES);
  const dictionary = readOptionalDictionary(request.args, codec);
  const output = await decompress(data, { codec, maxOutputBytes, dictionary });
  return { data: output, codec: codec === 'auto' ? detectCodec(data)! : codec };
}

/** Args: samples (array of bin), max_bytes (default 110 KiB). */
export async function trainDictionaryOp(request: Request): Promise<Message> {
  const samples = readArray(request.args, 'samples');
  samples.forEach((sample, index) => {
    if (!(sample instanceof Uint8Array)) throw invalidParameter(`samples[${index}]`, 'bin', sample);
  });
  const maxBytes = readOptionalUint(request.args, 'max_bytes', MIN_DICTIONARY_BYTES, MAX_DICTIONARY_BYTES) ?? DEFAULT_DICTIONARY_BYTES;
  const dictionary = await trainDictionary(samples as Uint8Array[], { maxBytes });
  return { dictionary: dictionary.bytes, dictionary_id: dictionary.id };
}
