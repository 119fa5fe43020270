/**
 * Chunking options: presets, validation and conversion to native parameters.
 *
 * Sizes are bytes. The bounds are those of the Rust `fastcdc` crate (v2020), so a store
 * filled by either implementation deduplicates against the other when the options match.
 * Options are rejected, never clamped: a silently adjusted size would move cut points.
 */
import { invalidParameter, ChunkerError } from '../errors.js';
import { native, NativeHashAlg, type NativeParams } from '../native.js';

export const MIN_SIZE_LOWER_BYTES = 64;
export const MIN_SIZE_UPPER_BYTES = 1_048_576;
export const AVG_SIZE_LOWER_BYTES = 256;
export const AVG_SIZE_UPPER_BYTES = 4_194_304;
export const MAX_SIZE_LOWER_BYTES = 1024;
export const MAX_SIZE_UPPER_BYTES = 16_777_216;
export const NORMALIZATION_LEVELS = [0, 1, 2, 3] as const;

export type HashAlgorithm = 'sha256' | 'blake3' | 'none';
export const HASH_ALGORITHMS: readonly HashAlgorithm[] = ['sha256', 'blake3', 'none'];

export interface ChunkSizes {
  minSize: number;
  avgSize: number;
  maxSize: number;
}

/**
 * Named size presets.
 * - `default`: 16 KiB / 64 KiB / 256 KiB. On the NAR corpus (see bench/) it finds most of
 *   what the smallest sizes find for a package update while keeping the object count and
 *   per-object store overhead modest; see README "Choosing chunk sizes" for the numbers.
 * - `nif`: 256 KiB / 1 MiB / 4 MiB, the original Rust NIF's defaults; fewer, larger objects.
 * - `small`: 4 KiB / 16 KiB / 64 KiB, the finest useful grain; many objects.
 */
export const SIZE_PRESETS = {
  default: { minSize: 16_384, avgSize: 65_536, maxSize: 262_144 },
  nif: { minSize: 262_144, avgSize: 1_048_576, maxSize: 4_194_304 },
  small: { minSize: 4_096, avgSize: 16_384, maxSize: 65_536 },
} as const satisfies Record<string, ChunkSizes>;
export type SizePreset = keyof typeof SIZE_PRESETS;

export interface ChunkingOptions {
  preset?: SizePreset;
  minSize?: number;
  avgSize?: number;
  maxSize?: number;
  /** FastCDC normalization level 0..3 (1 is the crate's default). */
  normalization?: number;
  /** Optional 64-bit key XORed into the gear table; 0n means unkeyed. */
  seed?: bigint;
  hash?: HashAlgorithm;
}

export interface ResolvedChunkingOptions extends ChunkSizes {
  normalization: number;
  seed: bigint;
  hash: HashAlgorithm;
}

const SEED_UPPER = (1n << 64n) - 1n;

function checkInteger(name: string, value: unknown, lower: number, upper: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < lower || value > upper) {
    throw invalidParameter(name, `an integer between ${lower} and ${upper}`, value);
  }
  return value;
}

/** Fills defaults and validates every field; throws ChunkerError('invalid_argument'). */
export function resolveChunkingOptions(options: ChunkingOptions = {}): ResolvedChunkingOptions {
  if (options === null || typeof options !== 'object') throw invalidParameter('options', 'an object', options);
  const presetName = options.preset ?? 'default';
  if (!Object.hasOwn(SIZE_PRESETS, presetName)) {
    throw invalidParameter('preset', `one of ${Object.keys(SIZE_PRESETS).join(', ')}`, presetName);
  }
  const preset: ChunkSizes = SIZE_PRESETS[presetName];
  const minSize = checkInteger('min_size', options.minSize ?? preset.minSize, MIN_SIZE_LOWER_BYTES, MIN_SIZE_UPPER_BYTES);
  const avgSize = checkInteger('avg_size', options.avgSize ?? preset.avgSize, AVG_SIZE_LOWER_BYTES, AVG_SIZE_UPPER_BYTES);
  const maxSize = checkInteger('max_size', options.maxSize ?? preset.maxSize, MAX_SIZE_LOWER_BYTES, MAX_SIZE_UPPER_BYTES);
  if (minSize > avgSize || avgSize > maxSize) {
    throw invalidParameter('sizes', 'min_size <= avg_size <= max_size', { minSize, avgSize, maxSize });
  }
  const normalization = checkInteger('normalization', options.normalization ?? 1, 0, 3);
  const seed = options.seed ?? 0n;
  if (typeof seed !== 'bigint' || seed < 0n || seed > SEED_UPPER) {
    throw invalidParameter('seed', 'an unsigned 64-bit bigint', seed);
  }
  const hash = options.hash ?? 'sha256';
  if (!HASH_ALGORITHMS.includes(hash)) throw invalidParameter('hash', HASH_ALGORITHMS.join(' | '), hash);
  return { minSize, avgSize, maxSize, normalization, seed, hash };
}

/** Builds the native parameters; the addon re-validates (e.g. no mask for avg at that level). */
export function toNativeParams(options: ResolvedChunkingOptions): NativeParams {
  try {
    return new native.FastCdcParams(options.minSize, options.avgSize, options.maxSize, options.normalization, options.seed);
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    throw new ChunkerError(code === 'invalid_options' ? 'invalid_argument' : (code ?? 'native_error'), message);
  }
}

export function nativeHashAlg(hash: HashAlgorithm): NativeHashAlg {
  switch (hash) {
    case 'sha256':
      return NativeHashAlg.Sha256;
    case 'blake3':
      return NativeHashAlg.Blake3;
    case 'none':
      return NativeHashAlg.None;
  }
}
