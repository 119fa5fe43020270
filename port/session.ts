/**
 * The sessions of one port process: open/feed/continue/finish/close (spec §4, §6) over the
 * engine's value-style sessions (engine/chunk-session.ts).
 *
 * Every request does a bounded amount of work: the engine is driven in slices of at most
 * SLICE_BYTES, and between slices the request stops once its budget's bytes are scanned or
 * its milliseconds have passed, replying `more: true`; `continue` resumes. A session's
 * state is only replaced when an engine call returns, so a failing call leaves it intact.
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
import { ChunkerError } from './errors.js';
import type { Budget } from './protocol.js';

/** Default `budget.bytes` (spec §4): about 10 ms of chunking and hashing. */
export const DEFAULT_BUDGET_BYTES = 16 * 1024 * 1024;
/** Default `budget.ms` (spec §4). */
export const DEFAULT_BUDGET_MS = 10;
/** Largest engine call between two budget checks, so the ms budget is checked often. */
export const SLICE_BYTES = 1024 * 1024;
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

/**
 * Calls `first` with a slice-sized byte budget, then resumes slice by slice while the
 * engine has more to do and the request's budget lasts. `startOffset` is the stream offset
 * before `first`, so the bytes scanned are the offset's advance.
 */
export function runWithinBudget(
  startOffset: number,
  first: (sliceBytes: number) => StepResult,
  budget: Budget,
  now: Clock,
): StepResult {
  const startedMs = now();
  let result = first(Math.min(SLICE_BYTES, budget.bytes));
  const chunks = result.chunks;
  while (result.more) {
    const scannedBytes = result.state.offset - startOffset;
    if (scannedBytes >= budget.bytes || now() - startedMs >= budget.ms) break;
    result = resume(result.state, Math.min(SLICE_BYTES, budget.bytes - scannedBytes));
    for (const chunk of result.chunks) chunks.push(chunk);
  }
  return { state: result.state, chunks, more: result.more };
}

/** What a session request returns: the chunks that became final and whether work remains. */
export interface SessionStep {
  chunks: Chunk[];
  /** Stream offset where this list starts (the first chunk's offset, if any). */
  offset: number;
  more: boolean;
  /** False when the session's hash is `none` (the wire list then has `hashes: nil`). */
  hashing: boolean;
}

/** `feed`: a feed's input is still being scanned; `finish`: the stream is ending. */
type Pending = 'none' | 'feed' | 'finish';

interface SessionEntry {
  state: SessionState;
  pending: Pending;
  /** The session's default budget, given at open. */
  budget: Budget;
}

export interface FeedOptions {
  /** The bytes are only valid during the call (see SessionRegistry#feed). */
  borrowed?: boolean;
}

export interface RegistryOptions {
  maxSessions?: number;
  defaultBudget?: Budget;
  counters?: PortCounters;
  now?: Clock;
}

export class SessionRegistry {
  readonly maxSessions: number;
  readonly defaultBudget: Budget;
  readonly counters: PortCounters;
  readonly #now: Clock;
  readonly #sessions = new Map<number, SessionEntry>();
  #nextId = 1;

  constructor(options: RegistryOptions = {}) {
    this.maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.defaultBudget = options.defaultBudget ?? DEFAULT_BUDGET;
    this.counters = options.counters ?? newCounters();
    this.#now = options.now ?? (() => performance.now());
  }

  /** Number of open sessions. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Opens a session; the options are validated here (invalid_argument). */
  open(options: ChunkingOptions, budget: Budget = this.defaultBudget): number {
    if (this.#sessions.size >= this.maxSessions) {
      throw new ChunkerError(
        'session_limit',
        `${this.#sessions.size} sessions are open, the limit is ${this.maxSessions}; finish or close one`,
        false,
      );
    }
    const state = openSession(options);
    const id = this.#nextId++;
    this.#sessions.set(id, { state, pending: 'none', budget });
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
    this.counters.bytesIn += data.length;
    const step = this.#run(id, entry, 'feed', budget, (state, slice) => feed(state, data, slice));
    if (borrowed && this.#sessions.get(id) === entry) entry.state = withOwnInput(entry.state);
    return step;
  }

  /** Resumes a pending feed or finish; with nothing pending, an empty list. */
  continue(id: number, budget?: Budget): SessionStep {
    const entry = this.#entry(id);
    if (entry.pending === 'none') {
      return { chunks: [], offset: entry.state.offset, more: false, hashing: isHashing(entry.state) };
    }
    return this.#run(id, entry, entry.pending, budget, resume);
  }

  /** Ends the stream; the session closes once a reply says `more: false`. */
  finish(id: number, budget?: Budget): SessionStep {
    const entry = this.#entry(id);
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
    const result = runWithinBudget(before.offset, (slice) => first(before, slice), budget ?? entry.budget, this.#now);
    this.counters.chunksOut += result.chunks.length;
    if (result.state.finished) {
      this.#sessions.delete(id);
    } else {
      entry.state = result.state;
      entry.pending = result.more || work === 'finish' ? work : 'none';
    }
    return { chunks: result.chunks, offset: before.offset, more: result.more, hashing: isHashing(before) };
  }
}

/** The state with a private copy of the input it has yet to scan, if any. */
function withOwnInput(state: SessionState): SessionState {
  if (state.input === null) return state;
  return { ...state, input: new Uint8Array(state.input.subarray(state.inputPos)), inputPos: 0 };
}

function isHashing(state: SessionState): boolean {
  return state.options.hash !== 'none';
}
