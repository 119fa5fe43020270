/**
 * Messages of the port protocol (protocol/spec.md, the authority): the MessagePack codec,
 * request envelope and argument validation, reply and event builders, and the wire form of
 * chunk lists. Every bad argument becomes ChunkerError('invalid_argument') naming it.
 */
import { Decoder, Encoder } from '@msgpack/msgpack';
import type { Chunk } from './engine/chunk-session.js';
import type { ChunkingOptions, HashAlgorithm } from './engine/chunking-options.js';
import type { StoredChunk } from './engine/compression.js';
import { ChunkerError, invalidParameter } from './errors.js';
import { encodeFrame } from './frame.js';
import { STORE_ERROR_PERMANENCE } from './store/backend.js';

export const PROTOCOL_VERSION = 1;
/** Bytes per digest in a chunk list's `hashes`. */
export const DIGEST_BYTES = 32;
const MAX_UINT64 = (1n << 64n) - 1n;

/** Every error code of spec §5 and whether repeating the request could ever succeed. */
export const ERROR_PERMANENCE = {
  frame_too_large: true,
  invalid_frame: true,
  invalid_request: true,
  unknown_op: true,
  unsupported_protocol: true,
  invalid_argument: true,
  unknown_session: true,
  session_busy: false,
  session_finishing: true,
  session_limit: false,
  io_error: false,
  invalid_nar: true,
  size_exceeded: true,
  memory_limit: true,
  truncated_input: true,
  corrupt_input: true,
  unknown_format: true,
  dictionary_required: true,
  dictionary_mismatch: true,
  invalid_dictionary: true,
  training_failed: true,
  no_memory: false,
  internal: false,
  // Store operations (port/store/backend.ts says what each means).
  ...STORE_ERROR_PERMANENCE,
  // store_upload: some objects failed; a rerun resumes (permanent when every failure was).
  upload_failed: false,
} as const satisfies Record<string, boolean>;
export type ErrorCode = keyof typeof ERROR_PERMANENCE;

export interface WireError {
  code: ErrorCode;
  message: string;
  permanent: boolean;
}

/** A decoded message: a MessagePack map with string keys. */
export type Message = Record<string, unknown>;

export interface Request {
  id: number;
  op: string;
  /** The whole request map; operations read their arguments from it. */
  args: Message;
}

// ---------------------------------------------------------------------------------------
// Codec

// uint64 values decode as bigint (seeds reach 2^64-1); bin decodes as a view of the frame.
const messageDecoder = new Decoder({ useBigInt64: true });
// Sorted keys make the port's frames canonical, byte-identical to protocol/vectors.
// No useBigInt64 here: with it, numbers above 2^32 would be written as float64.
const messageEncoder = new Encoder({ sortKeys: true });

/** Decodes exactly one MessagePack map, or throws ChunkerError('invalid_frame'). */
export function decodeMessage(payload: Uint8Array): Message {
  if (payload.length === 0) throw new ChunkerError('invalid_frame', 'The frame is empty (length 0)');
  let value: unknown;
  try {
    value = messageDecoder.decode(plainView(payload));
  } catch (error) {
    throw new ChunkerError('invalid_frame', `The frame is not one MessagePack value: ${(error as Error).message}`);
  }
  if (!isMap(value)) throw new ChunkerError('invalid_frame', 'The frame holds a MessagePack value that is not a map');
  return value;
}

/**
 * The same bytes as a plain Uint8Array (a view, not a copy), so that bins decode as plain
 * Uint8Arrays whether the frame came in a Buffer or not.
 */
function plainView(bytes: Uint8Array): Uint8Array {
  if (Object.getPrototypeOf(bytes) === Uint8Array.prototype) return bytes;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Encodes a message as a complete frame (one copy out of the encoder's shared buffer). */
export function encodeMessageFrame(message: Message): Buffer {
  return encodeFrame(messageEncoder.encodeSharedRef(message));
}

export function isMap(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}

// ---------------------------------------------------------------------------------------
// Envelope

/** The request's `id` when it is a uint ≤ 2^53−1, else null (the reply must be an event). */
export function requestId(message: Message): number | null {
  return asUint(message.id);
}

/** Checks `op`; a request whose id is usable but op is not a string is answered by id. */
export function parseRequest(message: Message, id: number): Request {
  const op = message.op;
  if (typeof op !== 'string') throw new ChunkerError('invalid_request', `Expected a string for op but received ${typeof op}`);
  return { id, op, args: message };
}

// ---------------------------------------------------------------------------------------
// Arguments

/** A uint that fits a double exactly; uint64-encoded values arrive as bigint. */
function asUint(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (typeof value === 'bigint') return value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : null;
  return null;
}

/** `label` is how the error names the argument when it is nested (`budget.bytes`). */
export function readUint(args: Message, name: string, min = 0, max = Number.MAX_SAFE_INTEGER, label = name): number {
  const value = asUint(args[name]);
  if (value === null || value < min || value > max) {
    throw invalidParameter(label, `a uint between ${min} and ${max}`, args[name]);
  }
  return value;
}

export function readOptionalUint(
  args: Message,
  name: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
  label = name,
): number | undefined {
  return args[name] === undefined || args[name] === null ? undefined : readUint(args, name, min, max, label);
}

export function readBin(args: Message, name: string): Uint8Array {
  const value = args[name];
  if (!(value instanceof Uint8Array)) throw invalidParameter(name, 'bin', value);
  return value;
}

export function readString(args: Message, name: string): string {
  const value = args[name];
  if (typeof value !== 'string') throw invalidParameter(name, 'a string', value);
  return value;
}

export function readOptionalString(args: Message, name: string): string | undefined {
  return args[name] === undefined || args[name] === null ? undefined : readString(args, name);
}

export function readArray(args: Message, name: string): unknown[] {
  const value = args[name];
  if (!Array.isArray(value)) throw invalidParameter(name, 'an array', value);
  return value;
}

/** An optional map argument; absent or nil reads as an empty map. */
function readOptionalMap(args: Message, name: string): Message {
  const value = args[name];
  if (value === undefined || value === null) return {};
  if (!isMap(value)) throw invalidParameter(name, 'a map', value);
  return value;
}

/** Wire option names (snake_case) and their engine names. */
const OPTION_KEYS = [
  ['min_size', 'minSize'],
  ['avg_size', 'avgSize'],
  ['max_size', 'maxSize'],
  ['normalization', 'normalization'],
] as const;

function readSeed(value: unknown): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === 'bigint' && value >= 0n && value <= MAX_UINT64) return value;
  throw invalidParameter('seed', 'a uint up to 2^64-1', value);
}

/**
 * Maps the `options` argument (spec §4, snake_case keys, optional as a whole) to engine
 * options. Values of the wrong type go to the engine as they came: the engine validates
 * every option when a session opens (each op does that first) and its messages name it.
 */
export function readChunkingOptions(args: Message): ChunkingOptions {
  const wire = readOptionalMap(args, 'options');
  const options: ChunkingOptions = {};
  if (wire.preset !== undefined && wire.preset !== null) options.preset = wire.preset as ChunkingOptions['preset'];
  for (const [wireName, name] of OPTION_KEYS) {
    const value = wire[wireName];
    if (value === undefined || value === null) continue;
    options[name] = (asUint(value) ?? value) as number;
  }
  if (wire.seed !== undefined && wire.seed !== null) options.seed = readSeed(wire.seed);
  if (wire.hash !== undefined && wire.hash !== null) options.hash = wire.hash as HashAlgorithm;
  return options;
}

export interface Budget {
  /** Stop once at least this many bytes were scanned. */
  bytes: number;
  /** Stop once this much time has passed (checked between slices). */
  ms: number;
}

/** The optional `budget` argument; missing fields come from `fallback`. */
export function readBudget(args: Message, fallback: Budget): Budget {
  const wire = readOptionalMap(args, 'budget');
  return {
    bytes: readOptionalUint(wire, 'bytes', 1, undefined, 'budget.bytes') ?? fallback.bytes,
    ms: readOptionalUint(wire, 'ms', 1, undefined, 'budget.ms') ?? fallback.ms,
  };
}

// ---------------------------------------------------------------------------------------
// Replies and events

export interface WireChunkList {
  offset: number;
  lengths: number[];
  hashes: Uint8Array | null;
  /** Compressing sessions only: each chunk's payload codec. */
  codecs?: string[];
  /** Compressing sessions only: each chunk's payload. */
  payloads?: Uint8Array[];
}

/**
 * Spec §3: `offset` of the first chunk (or `emptyOffset` for an empty list), the lengths,
 * and the digests concatenated — nil exactly when hashing is off. With `stored` (a
 * compressing session's payloads, one per chunk) also `codecs` and `payloads`.
 */
export function encodeChunkList(
  chunks: readonly Chunk[],
  emptyOffset: number,
  hashing: boolean,
  stored: readonly StoredChunk[] | null = null,
): WireChunkList {
  const lengths = new Array<number>(chunks.length);
  const hashes = hashing ? Buffer.allocUnsafe(chunks.length * DIGEST_BYTES) : null;
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i]!;
    lengths[i] = chunk.length;
    if (hashes !== null) hashes.set(chunk.hash!, i * DIGEST_BYTES);
  }
  const list: WireChunkList = { offset: chunks[0]?.offset ?? emptyOffset, lengths, hashes };
  if (stored !== null) {
    if (stored.length !== chunks.length) throw new Error(`${stored.length} payloads for ${chunks.length} chunks`);
    list.codecs = stored.map((entry) => entry.codec);
    list.payloads = stored.map((entry) => entry.payload);
  }
  return list;
}

/**
 * Adds `id` and `ok` to a handler's result, which is a fresh object the handler gave up.
 * (Mutating it rather than spreading it into a new object is measurably cheaper per request;
 * key order does not matter, the encoder sorts keys.)
 */
export function successReply(id: number, result: Message): Message {
  result.id = id;
  result.ok = true;
  return result;
}

export function errorReply(id: number, error: WireError): Message {
  return { id, ok: false, error };
}

export function errorEvent(error: WireError): Message {
  return { event: 'error', error };
}

export function wireError(code: ErrorCode, message: string): WireError {
  return { code, message, permanent: ERROR_PERMANENCE[code] };
}

function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_PERMANENCE, code);
}

/**
 * The wire form of anything a request threw. A ChunkerError keeps its code when the spec
 * lists it; anything else is a bug and travels as `internal` with what happened.
 */
export function toWireError(error: unknown): WireError {
  if (error instanceof ChunkerError && isErrorCode(error.code)) return wireError(error.code, error.message);
  if (error instanceof ChunkerError) return wireError('internal', `${error.code}: ${error.message}`);
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return wireError('internal', message);
}
