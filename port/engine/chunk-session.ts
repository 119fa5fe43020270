/**
 * Streaming FastCDC sessions: open → feed (any number of times) → finish.
 *
 * A session is a value (in the manner of elixir-mint's connections): every call takes the
 * state and returns the next one with the chunks that became final, so a failed call leaves
 * the previous state intact. Any slicing of the input yields exactly the chunks of one-shot
 * chunking, because a cut is only decided once `maxSize` bytes after the chunk start are
 * known (or the input has ended).
 *
 * Memory: a session holds at most one fed buffer (until it is fully scanned) plus a tail
 * shorter than `maxSize` that straddles feeds, and transiently a stitched copy of that tail
 * with at most `maxSize` bytes of the next buffer.
 *
 * Work per call is bounded by `byteBudget`: a call that stops early returns `more: true`
 * and the caller resumes with `resume`. Feeding again before `more` is false is an error.
 */
import { ChunkerError } from '../errors.js';
import { native, type NativeParams } from '../native.js';
import {
  nativeHashAlg,
  resolveChunkingOptions,
  toNativeParams,
  type ChunkingOptions,
  type ResolvedChunkingOptions,
} from './chunking-options.js';

/** One content-defined chunk of the input stream. */
export interface Chunk {
  /** Byte offset in the whole stream. */
  offset: number;
  length: number;
  /** FastCDC gear hash at the cut (0 for a chunk shorter than min_size). */
  gear: bigint;
  /** 32-byte digest, or null when hashing is off. */
  hash: Uint8Array | null;
  /**
   * The chunk's bytes, only from a session opened with `withBytes`: a view of the buffer
   * the call was given (or of a copy the session made), valid as long as that buffer is.
   */
  bytes?: Uint8Array;
}

export interface SessionFlags {
  /** Chunks carry a view of their bytes (for callers that compress or store them). */
  withBytes?: boolean;
}

export interface SessionState {
  readonly options: ResolvedChunkingOptions;
  readonly params: NativeParams;
  /** Stream offset of the first byte not yet assigned to a chunk. */
  readonly offset: number;
  /** Unchunked bytes from earlier feeds, always shorter than maxSize once a call returns. */
  readonly tail: Uint8Array;
  /** The fed buffer still being scanned (only while a budget stopped a call early). */
  readonly input: Uint8Array | null;
  readonly inputPos: number;
  /** finish() was called: no more input, and any resume scans to the end. */
  readonly ending: boolean;
  readonly finished: boolean;
  /** Chunks carry their bytes (SessionFlags). */
  readonly withBytes: boolean;
}

export interface StepResult {
  state: SessionState;
  chunks: Chunk[];
  /** True when the budget ran out before the fed bytes were all scanned. */
  more: boolean;
}

/** Default bytes scanned per call before yielding (about 10 ms of work). */
export const DEFAULT_BYTE_BUDGET = 16 * 1024 * 1024;
const UNLIMITED_CHUNKS = 0xffffffff;
const EMPTY = new Uint8Array(0);

export function openSession(options: ChunkingOptions = {}, { withBytes = false }: SessionFlags = {}): SessionState {
  const resolved = resolveChunkingOptions(options);
  return {
    withBytes,
    options: resolved,
    params: toNativeParams(resolved),
    offset: 0,
    tail: EMPTY,
    input: null,
    inputPos: 0,
    ending: false,
    finished: false,
  };
}

function assertOpen(state: SessionState): void {
  if (state.finished) throw new ChunkerError('session_finished', 'The session has already finished');
}

/** `source`, when given, is the buffer the result's chunks were cut from (from its start). */
function toChunks(
  result: { lengths: Uint32Array; gears: BigUint64Array; hashes: Buffer | null },
  streamOffset: number,
  into: Chunk[],
  source: Uint8Array | null = null,
): void {
  let offset = streamOffset;
  let position = 0;
  const { lengths, gears, hashes } = result;
  for (let i = 0; i < lengths.length; i++) {
    const length = lengths[i]!;
    const chunk: Chunk = {
      offset,
      length,
      gear: gears[i]!,
      hash: hashes === null ? null : hashes.subarray(i * 32, i * 32 + 32),
    };
    if (source !== null) chunk.bytes = source.subarray(position, position + length);
    into.push(chunk);
    offset += length;
    position += length;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/**
 * Scans as much of tail + input as the budget allows. `atEnd` means no input follows.
 */
function step(state: SessionState, budget: number): StepResult {
  const { params, ending: atEnd } = state;
  const alg = nativeHashAlg(state.options.hash);
  const chunks: Chunk[] = [];
  let { offset, tail, inputPos } = state;
  const input = state.input ?? EMPTY;
  let spent = 0;

  // Chunks that start in the tail: stitch the tail to at most maxSize bytes of input,
  // which is enough to decide every cut that starts inside the tail.
  if (tail.length > 0) {
    const take = Math.min(input.length - inputPos, params.maxSize);
    const lastPiece = inputPos + take === input.length;
    const stitched = take > 0 ? concat(tail, input.subarray(inputPos, inputPos + take)) : tail;
    const result = native.chunk(params, stitched, atEnd && lastPiece, alg, Math.max(tail.length, 1), UNLIMITED_CHUNKS);
    toChunks(result, offset, chunks, state.withBytes ? stitched : null);
    offset += result.consumed;
    spent += result.consumed;
    if (result.consumed >= tail.length) {
      inputPos += result.consumed - tail.length;
      tail = EMPTY;
    } else {
      // Only possible when the whole remaining input fit into the stitched buffer.
      tail = stitched.slice(result.consumed);
      inputPos += take;
    }
  }

  // Chunks that start in the fed buffer: scan it in place, no copy.
  let more = false;
  if (tail.length === 0 && inputPos < input.length) {
    const remainingBudget = Math.max(budget - spent, 1);
    const view = input.subarray(inputPos);
    const result = native.chunk(params, view, atEnd, alg, remainingBudget, UNLIMITED_CHUNKS);
    toChunks(result, offset, chunks, state.withBytes ? view : null);
    offset += result.consumed;
    inputPos += result.consumed;
    const left = input.length - inputPos;
    if (left > 0 && left >= params.maxSize && !atEnd) {
      more = true; // stopped by the budget, not by lack of lookahead
    } else if (left > 0 && atEnd) {
      more = true;
    } else if (left > 0) {
      // A copy (Buffer#slice would be a view): do not pin or alias the caller's buffer.
      tail = new Uint8Array(input.subarray(inputPos));
      inputPos = input.length;
    }
  }

  const inputDone = inputPos >= input.length;
  const finished = atEnd && !more && tail.length === 0;
  return {
    state: {
      ...state,
      offset,
      tail,
      input: inputDone ? null : input,
      inputPos: inputDone ? 0 : inputPos,
      finished,
    },
    chunks,
    more,
  };
}

function checkBudget(budget: number): number {
  if (!Number.isInteger(budget) || budget < 1) {
    throw new ChunkerError('invalid_argument', `Expected a positive integer for byte_budget but received ${budget}`);
  }
  return budget;
}

/** Adds bytes to the stream and returns the chunks that are now final. */
export function feed(state: SessionState, bytes: Uint8Array, budget = DEFAULT_BYTE_BUDGET): StepResult {
  assertOpen(state);
  if (!(bytes instanceof Uint8Array)) {
    throw new ChunkerError('invalid_argument', 'Expected a Uint8Array for bytes');
  }
  if (state.ending) throw new ChunkerError('session_finishing', 'The session is finishing; no more input is accepted');
  if (state.input !== null) {
    throw new ChunkerError('session_busy', 'The previous feed has not been fully processed; call resume first', false);
  }
  if (bytes.length === 0) return { state, chunks: [], more: false };
  return step({ ...state, input: bytes, inputPos: 0 }, checkBudget(budget));
}

/** Continues a feed (or finish) that stopped because of its budget. */
export function resume(state: SessionState, budget = DEFAULT_BYTE_BUDGET): StepResult {
  assertOpen(state);
  return step(state, checkBudget(budget));
}

/**
 * Ends the input: returns the remaining chunks. With a budget it may stop early
 * (`more: true`); call finish again until it reports `more: false`.
 */
export function finish(state: SessionState, budget = DEFAULT_BYTE_BUDGET): StepResult {
  assertOpen(state);
  return step({ ...state, ending: true }, checkBudget(budget));
}

/** One-shot chunking of a complete buffer. */
export function chunkBuffer(bytes: Uint8Array, options: ChunkingOptions = {}): Chunk[] {
  const chunks: Chunk[] = [];
  let result = feed(openSession(options), bytes, Number.MAX_SAFE_INTEGER);
  chunks.push(...result.chunks);
  result = finish(result.state, Number.MAX_SAFE_INTEGER);
  chunks.push(...result.chunks);
  return chunks;
}

/** Chunks many independent buffers with the same options; one result list per buffer. */
export function chunkBatch(buffers: readonly Uint8Array[], options: ChunkingOptions = {}): Chunk[][] {
  const resolved = resolveChunkingOptions(options);
  const params = toNativeParams(resolved);
  const alg = nativeHashAlg(resolved.hash);
  return buffers.map((bytes, index) => {
    if (!(bytes instanceof Uint8Array)) {
      throw new ChunkerError('invalid_argument', `Expected a Uint8Array for buffers[${index}]`);
    }
    const chunks: Chunk[] = [];
    if (bytes.length > 0) toChunks(native.chunk(params, bytes, true, alg, Number.MAX_SAFE_INTEGER, UNLIMITED_CHUNKS), 0, chunks);
    return chunks;
  });
}
