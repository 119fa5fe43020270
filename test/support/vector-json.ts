/**
 * The golden protocol vectors (protocol/vectors/*.json) and their JSON form of MessagePack
 * values, as protocol/README.md defines it: `{"$bin": hex}` for bin, `{"$u64": decimal}`
 * for uints above 2^53−1, JSON numbers for other ints and for floats (with a fraction),
 * objects for maps.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';

export const VECTORS_DIR = join(REPO_ROOT, 'protocol', 'vectors');

export type JsonForm = null | boolean | number | string | JsonForm[] | { [key: string]: JsonForm };

export interface Vector {
  name: string;
  hex: string;
  value: JsonForm;
  note: string;
  also_valid_hex?: string[];
  answers?: string;
  /** With `answers`: request vectors sent first, in order, to the same fresh port. */
  after?: string[];
}

export interface InvalidVector {
  name: string;
  hex: string;
  note: string;
  expect: { code: string; as: 'event' | 'reply'; id?: number };
}

interface VectorFile<T> {
  about: string;
  vectors: T[];
}

const INVALID_FILE = 'invalid.json';

function readVectorFile<T>(file: string): VectorFile<T> {
  return JSON.parse(readFileSync(join(VECTORS_DIR, file), 'utf8')) as VectorFile<T>;
}

/** Every vector with a value, by file. */
export function loadValueVectors(): Map<string, Vector[]> {
  const files = readdirSync(VECTORS_DIR).filter((file) => file.endsWith('.json') && file !== INVALID_FILE);
  return new Map(files.sort().map((file) => [file, readVectorFile<Vector>(file).vectors]));
}

export function loadInvalidVectors(): InvalidVector[] {
  return readVectorFile<InvalidVector>(INVALID_FILE).vectors;
}

export function hexBytes(hex: string): Buffer {
  if (!/^(?:[0-9a-f]{2})*$/.test(hex)) throw new Error(`not lowercase hex: ${hex.slice(0, 40)}`);
  return Buffer.from(hex, 'hex');
}

/** A float in the JSON form: a finite number with a fraction (protocol/README.md). */
function isFloat(value: number): boolean {
  return Number.isFinite(value) && !Number.isInteger(value);
}

const INT32_MIN = -(2 ** 31);
const UINT32_MAX = 2 ** 32 - 1;

function specialKey(value: { [key: string]: JsonForm }): string | null {
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === '$bin' || keys[0] === '$u64') ? keys[0] : null;
}

/**
 * JSON form → a value for @msgpack/msgpack's Encoder with useBigInt64. Ints outside the
 * 32-bit ranges become bigint, because that encoder writes large *numbers* as float64
 * but bigints as uint64/int64 — which is the canonical format for them anyway.
 */
export function fromJsonForm(value: JsonForm): unknown {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (isFloat(value)) return value; // the encoder writes a non-integer number as float 64
    if (!Number.isSafeInteger(value)) throw new Error(`not an integer in the safe range: ${value}`);
    return value > UINT32_MAX || value < INT32_MIN ? BigInt(value) : value;
  }
  if (Array.isArray(value)) return value.map(fromJsonForm);
  const special = specialKey(value);
  if (special === '$bin') return hexBytes(value.$bin as string);
  if (special === '$u64') return BigInt(value.$u64 as string);
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, fromJsonForm(item)]));
}

/** A decoded value (Decoder with useBigInt64) → JSON form. */
export function toJsonForm(value: unknown): JsonForm {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') {
    if (!isFloat(value) && !Number.isSafeInteger(value)) throw new Error(`a decoded number that is not a safe integer: ${value}`);
    return value;
  }
  if (typeof value === 'bigint') {
    if (value >= -BigInt(Number.MAX_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
    if (value < 0n) throw new Error(`negative int beyond -(2^53-1) has no JSON form: ${value}`);
    return { $u64: value.toString() };
  }
  if (value instanceof Uint8Array) return { $bin: Buffer.from(value.buffer, value.byteOffset, value.length).toString('hex') };
  if (Array.isArray(value)) return value.map(toJsonForm);
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([key, item]) => [key, toJsonForm(item)]));
  }
  throw new Error(`no JSON form for ${typeof value}`);
}
