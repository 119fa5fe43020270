/**
 * The sessions of one port process: open/feed/continue/finish/close (spec §4, §6) over the
 * engine's value-style sessions (engine/chunk-session.ts).
 *
 * Every request does a bounded amount of work: the engine is driven in slices that the
 * registry's SlicePacer sizes from the measured scan rate, and between slices the request
 * stops once its budget's bytes are scanned or its milliseconds have passed, replying
 * `more: true`; `continue` resumes. A session's state is only replaced when an engine
 * call returns, so a failing call leaves it intact.
 *
 * Two options change what a session does with its stream (spec §4 `open`):
 * - `compress`: each chunk is compressed as it becomes final (compressChunkAdaptive), and
 *   replies carry the payloads. Slices shrink to COMPRESSING_SLICE_BYTES so the time
 *   budget is checked after every chunk or so, and a request scans at most
 *   `compressingBudgetBytes` (a quarter of the frame limit): payloads are never larger
 *   than the bytes they stand for, so a reply always fits in a frame.
 * - `inputCompression`: the fed bytes are a compressed stream; an InputDecoder turns them
 *   into pieces of at most SLICE_BYTES that feed the engine, all within the same budget
 *   (which counts decompressed bytes). A decoder cannot step back, so an error while such
 *   a session works ends it.
 */
import {
  feed,
  finish,
  openSession,
  resume,
  type Chunk,
  type SessionState,
  type StepResult,
} from './engine/chunk-session.js';
import type { ChunkingOptions } from './engine/chunking-options.js';
import {
  DECOMPRESSION_CODECS,
  DEFAULT_STREAM_MAX_OUTPUT_BYTES,
  checkAdaptiveOptions,
  compressChunkAdaptive,
  type AdaptiveOptions,
  type DecompressionCodec,
  type StoredChunk,
} from './engine/compression.js';
import { InputDecoder } from './engine/input-decoder.js';
import { FIRST_SLICE_BYTES, SlicePacer } from './slice-pacer.js';
import { ChunkerError, invalidParameter } from './errors.js';
import type { Budget } from './protocol.js';

/** Default `budget.bytes` (spec §4): about 10 ms of chunking and hashing. */
export const DEFAULT_BUDGET_BYTES = 16 * 1024 * 1024;
/** Default `budget.ms` (spec §4). */
export const DEFAULT_BUDGET_MS = 10;
/** Largest engine call between two budget checks in a session with compressed input. */
export const SLICE_BYTES = 1024 * 1024;
/**
 * Engine calls of a compressing session: about one chunk of the default preset, so the ms
 * budget is checked after every chunk's compression (xz takes ~20 ms for 64 KiB).
 */
export const COMPRESSING_SLICE_BYTES = 64 * 1024;
/** Largest decompressed piece a session with compressed input feeds the engine at once. */
export const DECODED_PIECE_BYTES = SLICE_BYTES;
/** Default `max_sessions` (spec §5, `session_limit`), changed with `--max-sessions`. */
export const DEFAULT_MAX_SESSIONS = 10_000;

export const DEFAULT_BUDGET: Readonly<Budget> = { bytes: DEFAULT_BUDGET_BYTES, ms: DEFAULT_BUDGET_MS };

/** Milliseconds from an arbitrary origin; injectable so tests can make time pass. */
export type Clock = () => number;

/** Counters reported by `stats`. */
export interface PortCounters {
  requests: number;
  /** Bytes given to the chunker (fed, chunked one-shot, or read from files). */
  bytesIn: number;
  chunksOut: number;
}

export function newCounters(): PortCounters {
  return { requests: 0, bytesIn: 0, chunksOut: 0 };
}

export interface RunOptions {
  /** Largest engine call between two budget checks; when absent, `pacer` sizes them. */
  sliceBytes?: number;
  /** Sizes the slices from the measured scan rate (slice-pacer.ts) and learns from them. */
  pacer?: SlicePacer;
  /** Runs on each engine call's chunks before the budget is checked (so its time counts). */
  process?: (chunks: Chunk[]) => void;
}

/**
 * Calls `first` with a slice-sized byte budget, then resumes slice by slice while the
 * engine has more to do and the request's budget lasts. `startOffset` is the stream offset
 * before `first`, so the bytes scanned are the offset's advance. Slices are `sliceBytes`,
 * else sized by `pacer`, else FIRST_SLICE_BYTES.
 */
export function runWithinBudget(
  startOffset: number,
  first: (sliceBytes: number) => StepResult,
  budget: Budget,
  now: Clock,
  { sliceBytes, pacer, process }: RunOptions = {},
): StepResult {
  const startedMs = now();
  const nextSlice = (scannedBytes: number, elapsedMs: number): number => {
    const wanted = sliceBytes ?? pacer?.sliceBytes(budget.ms, budget.ms - elapsedMs) ?? FIRST_SLICE_BYTES;
    return Math.min(wanted, budget.bytes - scannedBytes);
  };
  let sliceStartedMs = startedMs;
  let sliceStartOffset = startOffset;
  let result = first(nextSlice(0, 0));
  process?.(result.chunks);
  const chunks = result.chunks;
  while (result.more) {
    const nowMs = now();
    pacer?.record(result.state.offset - sliceStartOffset, nowMs - sliceStartedMs);
    const scannedBytes = result.state.offset - startOffset;
    if (scannedBytes >= budget.bytes || nowMs - startedMs >= budget.ms) break;
    sliceStartedMs = nowMs;
    sliceStartOffset = result.state.offset;
    result = resume(result.state, nextSlice(scannedBytes, nowMs - startedMs));
    process?.(result.chunks);
    for (const chunk of result.chunks) chunks.push(chunk);
  }
  // The last slice is timed too, so feeds that fit one slice keep the rate current.
  if (!result.more && pacer !== undefined) pacer.record(result.state.offset - sliceStartOffset, now() - sliceStartedMs);
  return { state: result.state, chunks, more: result.more };
}

/**
 * runWithinBudget for a session whose input is compressed: finishes the engine's pending
 * piece, then pulls decompressed pieces from `decoder` and feeds them to the engine, until
 * the decoder needs more input or the budget is spent. With `ending` the stream ends: once
 * the decoder is done, the engine finishes too. `onDecoded` hears each piece's size.
 */
export function runDecodingWithinBudget(
  state: SessionState,
  decoder: InputDecoder,
  ending: boolean,
  budget: Budget,
  now: Clock,
  { sliceBytes = SLICE_BYTES, process }: RunOptions,
  onDecoded: (bytes: number) => void,
): StepResult {
  const startedMs = now();
  const startOffset = state.offset;
  const chunks: Chunk[] = [];
  for (;;) {
    const slice = Math.min(sliceBytes, Math.max(budget.bytes - (state.offset - startOffset), 1));
    let result: StepResult;
    if (state.input !== null) {
      result = resume(state, slice);
    } else {
      const piece = decoder.next(DECODED_PIECE_BYTES, ending);
      if (piece !== null) {
        onDecoded(piece.length);
        result = feed(state, piece, slice);
      } else if (ending && decoder.done) {
        result = finish(state, slice);
      } else {
        break; // the decoder waits for the next feed
      }
    }
    process?.(result.chunks);
    for (const chunk of result.chunks) chunks.push(chunk);
    state = result.state;
    if (state.finished) break;
    if (state.offset - startOffset >= budget.bytes || now() - startedMs >= budget.ms) {
      const more = state.input !== null || decoder.ready(ending) || (ending && decoder.done);
      return { state, chunks, more };
    }
  }
  return { state, chunks, more: false };
}

/** What a session request returns: the chunks that became final and whether work remains. */
export interface SessionStep {
  chunks: Chunk[];
  /** Stream offset where this list starts (the first chunk's offset, if any). */
  offset: number;
  more: boolean;
  /** False when the session's hash is `none` (the wire list then has `hashes: nil`). */
  hashing: boolean;
  /**
   * In a compressing session, each chunk's payload and its codec (in chunk order), else
   * null. A `none` payload is a view of the fed bytes, valid as long as they are (for a
   * borrowed feed: until its reply is encoded, which the port does at once).
   */
  stored: StoredChunk[] | null;
}

/** What a session does with its stream beyond chunking it (spec §4 `open`). */
export interface StreamOptions {
  /** Compress each chunk adaptively; replies then carry payloads. */
  compress?: AdaptiveOptions;
  /** The fed bytes are a stream of this codec (`auto`: detected; plain input passes); default none. */
  inputCompression?: DecompressionCodec;
  /** Most bytes the compressed input may decompress to; default DEFAULT_STREAM_MAX_OUTPUT_BYTES (64 GiB). */
  maxOutputBytes?: number;
}

/** `feed`: a feed's input is still being scanned; `finish`: the stream is ending. */
type Pending = 'none' | 'feed' | 'finish';

interface SessionEntry {
  state: SessionState;
  pending: Pending;
  /** The session's default budget, given at open. */
  budget: Budget;
  /** A compressing session's options, else null. */
  compress: AdaptiveOptions | null;
  /** A session with compressed input: its decoder, else null. */
  decoder: InputDecoder | null;
}

export interface FeedOptions {
  /** The bytes are only valid during the call (see SessionRegistry#feed). */
  borrowed?: boolean;
}

export interface RegistryOptions {
  maxSessions?: number;
  defaultBudget?: Budget;
  /** Most bytes one request of a compressing session scans; default DEFAULT_BUDGET_BYTES. */
  compressingBudgetBytes?: number;
  counters?: PortCounters;
  now?: Clock;
}

export class SessionRegistry {
  readonly maxSessions: number;
  readonly defaultBudget: Budget;
  readonly compressingBudgetBytes: number;
  readonly counters: PortCounters;
  /** Sizes the slices of every plain request (also chunk_file's, which shares it). */
  readonly pacer = new SlicePacer();
  readonly #now: Clock;
  readonly #sessions = new Map<number, SessionEntry>();
  #nextId = 1;

  constructor(options: RegistryOptions = {}) {
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.defaultBudget = options.defaultBudget ?? DEFAULT_BUDGET;
    this.compressingBudgetBytes = options.compressingBudgetBytes ?? DEFAULT_BUDGET_BYTES;
    this.counters = options.counters ?? newCounters();
    this.#now = options.now ?? (() => performance.now());
  }

  /** Number of open sessions. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Opens a session; the options are validated here (invalid_argument). */
  open(options: ChunkingOptions, budget: Budget = this.defaultBudget, stream: StreamOptions = {}): number {
    if (this.#sessions.size >= this.maxSessions) {
      throw new ChunkerError(
        'session_limit',
        `${this.#sessions.size} sessions are open, the limit is ${this.maxSessions}; finish or close one`,
        false,
      );
    }
    const compress = stream.compress ?? null;
    if (compress !== null) checkAdaptiveOptions(compress);
    const decoder = openDecoder(stream);
    const state = openSession(options, { withBytes: compress !== null });
    const id = this.#nextId++;
    this.#sessions.set(id, { state, pending: 'none', budget, compress, decoder });
    return id;
  }

  /**
   * Appends `data` to the session's stream. With `borrowed`, `data` is only lent for this
   * call (a view of the spool that the client rewrites once the reply is out): when the
   * step stops early, the unscanned rest is copied so the session never reads it later.
   * (Without it the session keeps `data` itself until `continue` has scanned it; the
   * engine copies the short tail it carries between feeds in either case.)
   */
  feed(id: number, data: Uint8Array, budget?: Budget, { borrowed = false }: FeedOptions = {}): SessionStep {
    const entry = this.#entry(id);
    if (entry.pending === 'finish') {
      throw new ChunkerError('session_finishing', `Session ${id} is finishing; it accepts no more data`);
    }
    if (entry.pending === 'feed') {
      const message = `Session ${id} still has an earlier feed pending; send continue until more is false`;
      throw new ChunkerError('session_busy', message, false);
    }
    let step: SessionStep;
    if (entry.decoder !== null) {
      entry.decoder.push(data);
      step = this.#runDecoding(id, entry, 'feed', budget);
    } else {
      this.counters.bytesIn += data.length;
      step = this.#run(id, entry, 'feed', budget, (state, slice) => feed(state, data, slice));
    }
    if (borrowed && this.#sessions.get(id) === entry) {
      // With a decoder, the engine only ever holds decoded pieces, which are the port's own.
      if (entry.decoder === null) entry.state = withOwnInput(entry.state);
      else entry.decoder.ownInput();
    }
    return step;
  }

  /** Resumes a pending feed or finish; with nothing pending, an empty list. */
  continue(id: number, budget?: Budget): SessionStep {
    const entry = this.#entry(id);
    if (entry.pending === 'none') {
      return { chunks: [], offset: entry.state.offset, more: false, hashing: isHashing(entry.state), stored: storedList(entry) };
    }
    if (entry.decoder !== null) return this.#runDecoding(id, entry, entry.pending, budget);
    return this.#run(id, entry, entry.pending, budget, resume);
  }

  /** Ends the stream; the session closes once a reply says `more: false`. */
  finish(id: number, budget?: Budget): SessionStep {
    const entry = this.#entry(id);
    if (entry.decoder !== null) return this.#runDecoding(id, entry, 'finish', budget);
    return this.#run(id, entry, 'finish', budget, finish);
  }

  /** The budget the session was opened with (its default for later requests). */
  budgetOf(id: number): Budget {
    return this.#entry(id).budget;
  }

  close(id: number): void {
    this.#entry(id);
    this.#sessions.delete(id);
  }

  #entry(id: number): SessionEntry {
    const entry = this.#sessions.get(id);
    if (entry === undefined) throw new ChunkerError('unknown_session', `No session ${id} is open in this port process`);
    return entry;
  }

  #run(
    id: number,
    entry: SessionEntry,
    work: Exclude<Pending, 'none'>,
    budget: Budget | undefined,
    first: (state: SessionState, sliceBytes: number) => StepResult,
  ): SessionStep {
    const before = entry.state;
    const { run, stored } = this.#runOptions(entry);
    const result = runWithinBudget(before.offset, (slice) => first(before, slice), this.#budget(entry, budget), this.#now, run);
    return this.#settle(id, entry, work, before, result, stored);
  }

  /** A request of a session with compressed input; any error ends the session (its decoder cannot step back). */
  #runDecoding(id: number, entry: SessionEntry, work: Exclude<Pending, 'none'>, budget: Budget | undefined): SessionStep {
    const before = entry.state;
    const { run, stored } = this.#runOptions(entry);
    let result: StepResult;
    try {
      const onDecoded = (bytes: number): void => void (this.counters.bytesIn += bytes);
      result = runDecodingWithinBudget(before, entry.decoder!, work === 'finish', this.#budget(entry, budget), this.#now, run, onDecoded);
    } catch (error) {
      this.#sessions.delete(id);
      throw error;
    }
    return this.#settle(id, entry, work, before, result, stored);
  }

  /** The request's budget; a compressing session's bytes are capped so its reply fits a frame. */
  #budget(entry: SessionEntry, budget: Budget | undefined): Budget {
    const chosen = budget ?? entry.budget;
    if (entry.compress === null || chosen.bytes <= this.compressingBudgetBytes) return chosen;
    return { bytes: this.compressingBudgetBytes, ms: chosen.ms };
  }

  /** How the engine is driven for this session, and where a compressing session's payloads go. */
  #runOptions(entry: SessionEntry): { run: RunOptions; stored: StoredChunk[] | null } {
    const options = entry.compress;
    if (options === null) return { run: { pacer: this.pacer }, stored: null };
    const stored: StoredChunk[] = [];
    const process = (chunks: Chunk[]): void => {
      for (const chunk of chunks) {
        stored.push(compressChunkAdaptive(chunk.bytes!, options));
        chunk.bytes = undefined; // the payload holds what the reply needs; keep no view of the input
      }
    };
    return { run: { sliceBytes: COMPRESSING_SLICE_BYTES, process }, stored };
  }

  /** Stores the state a request reached (or drops a finished session) and builds its step. */
  #settle(
    id: number,
    entry: SessionEntry,
    work: Exclude<Pending, 'none'>,
    before: SessionState,
    result: StepResult,
    stored: StoredChunk[] | null,
  ): SessionStep {
    this.counters.chunksOut += result.chunks.length;
    if (result.state.finished) {
      this.#sessions.delete(id);
    } else {
      entry.state = result.state;
      entry.pending = result.more || work === 'finish' ? work : 'none';
    }
    return { chunks: result.chunks, offset: before.offset, more: result.more, hashing: isHashing(before), stored };
  }
}

/** The decoder of a session with compressed input (validating those options), or null. */
function openDecoder(stream: StreamOptions): InputDecoder | null {
  const codec = stream.inputCompression ?? 'none';
  if (!DECOMPRESSION_CODECS.includes(codec)) throw invalidParameter('input_compression', DECOMPRESSION_CODECS.join(' | '), codec);
  const maxOutputBytes = stream.maxOutputBytes ?? DEFAULT_STREAM_MAX_OUTPUT_BYTES;
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0) {
    throw invalidParameter('max_output', 'a non-negative integer', stream.maxOutputBytes);
  }
  return codec === 'none' ? null : new InputDecoder(codec, maxOutputBytes);
}

/** An empty payload list for a compressing session's empty step, else null. */
function storedList(entry: SessionEntry): StoredChunk[] | null {
  return entry.compress === null ? null : [];
}

/** The state with a private copy of the input it has yet to scan, if any. */
function withOwnInput(state: SessionState): SessionState {
  if (state.input === null) return state;
  return { ...state, input: new Uint8Array(state.input.subarray(state.inputPos)), inputPos: 0 };
}

function isHashing(state: SessionState): boolean {
  return state.options.hash !== 'none';
}
