/**
 * What every operation handler receives: the port's sessions, counters, limits and the
 * attached spool. One context per port process; handlers keep no other state.
 */
import type { Budget, Message, Request } from '../protocol.js';
import { SessionRegistry, newCounters, type Clock, type PortCounters } from '../session.js';
import { withResilience } from '../store/resilient.js';
import { StoreCache } from '../store/store-cache.js';

export interface PortLimits {
  /** Largest frame payload accepted (spec §1). */
  maxFrameBytes: number;
  /** Largest number of open sessions (spec §5, session_limit). */
  maxSessions: number;
}

export interface PortContext {
  readonly registry: SessionRegistry;
  readonly counters: PortCounters;
  readonly limits: PortLimits;
  readonly defaultBudget: Budget;
  readonly now: Clock;
  /** `now()` when the port started, for `uptime_ms`. */
  readonly startedMs: number;
  /**
   * The client's shared file mapped by `spool` (spec §4), or null. `feed` reads views of
   * it; the client rewrites a region once the feed that named it is answered.
   */
  spool: Uint8Array | null;
  /** Stores opened by store operations, kept open for the requests after. */
  readonly stores: StoreCache;
}

/** Receives each outgoing message (reply or event), in the order they are ready. */
export type Send = (message: Message) => void;

/**
 * A handler returns the reply's result keys (the dispatcher adds `id` and `ok`). Long
 * operations may send events tied to their request (`ref` = the request's id) through
 * `emit` before they return.
 */
export type OpHandler = (request: Request, context: PortContext, emit: Send) => Message | Promise<Message>;

export function createPortContext(
  limits: PortLimits,
  defaultBudget: Budget,
  now: Clock = () => performance.now(),
  stores: StoreCache = new StoreCache((backend) => withResilience(backend)),
): PortContext {
  const counters = newCounters();
  // A compressing session's reply carries at most about this many payload bytes (plus a
  // chunk or two), so it stays well inside a frame.
  const compressingBudgetBytes = Math.max(Math.floor(limits.maxFrameBytes / 4), 1);
  const registry = new SessionRegistry({ maxSessions: limits.maxSessions, defaultBudget, compressingBudgetBytes, counters, now });
  return { registry, counters, limits, defaultBudget, now, startedMs: now(), spool: null, stores };
}
