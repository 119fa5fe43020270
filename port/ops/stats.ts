/** `stats` (spec §4): counters of this port process. */
import { native } from '../native.js';
import type { Message } from '../protocol.js';
import type { PortContext } from './context.js';

export function statsOp(_request: unknown, context: PortContext): Message {
  return {
    sessions: context.registry.size,
    requests: context.counters.requests,
    bytes_in: context.counters.bytesIn,
    chunks_out: context.counters.chunksOut,
    uptime_ms: Math.floor(context.now() - context.startedMs),
    rss_bytes: process.memoryUsage.rss(),
    max_sessions: context.limits.maxSessions,
    hash_threads: native.info().hashHelperThreads,
  };
}
