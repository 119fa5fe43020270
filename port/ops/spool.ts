/**
 * `spool` (spec §4): attaches a file that the client shares with this port, so a `feed`
 * can name a range of it (`spool: [offset, length]`) instead of carrying its bytes in the
 * frame. The file is mapped, not read: a feed then costs the client one write into shared
 * memory (a file on tmpfs, several GB/s) and the port no copy at all, where the pipe,
 * with its request/reply turns, carries well under 1 GB/s and limits multi-megabyte feeds.
 *
 * Ownership: a range belongs to the port from the feed's request until its reply; after
 * that the client may overwrite it, so the session registry copies any part of it a
 * session still has to scan (SessionRegistry#feed, `borrowed`).
 */
import { isAbsolute } from 'node:path';
import { ChunkerError, invalidParameter } from '../errors.js';
import { native } from '../native.js';
import { readString, readUint, type Message, type Request } from '../protocol.js';
import type { PortContext } from './context.js';

/** Largest spool a client may attach (a sanity bound; the Elixir client uses 32 MiB). */
export const MAX_SPOOL_BYTES = 1024 * 1024 * 1024;

/**
 * Maps `bytes` of the file at `path`. An earlier spool is released first, whatever the
 * outcome: after a failed `spool` no spool is attached, so the client never has to guess
 * which file its ranges name.
 */
export function spoolOp(request: Request, context: PortContext): Message {
  context.spool = null;
  const path = readString(request.args, 'path');
  if (!isAbsolute(path)) throw invalidParameter('path', 'an absolute path', path);
  const bytes = readUint(request.args, 'bytes', 1, MAX_SPOOL_BYTES);
  let mapping: ArrayBuffer;
  try {
    mapping = native.mapSharedFile(path, bytes);
  } catch (error) {
    const { code, message } = error as Error & { code?: string };
    // Not permanent (spec §5): the same request can succeed once the file is there.
    if (code === 'io_error') throw new ChunkerError('io_error', `spool: ${message}`, false);
    throw new ChunkerError(code ?? 'internal', message);
  }
  context.spool = new Uint8Array(mapping);
  return { bytes };
}

/**
 * The bytes a feed's `spool: [offset, length]` names: a view of the mapping, valid until
 * the feed's reply (invalid_argument when no spool is attached or the range leaves it).
 */
export function spoolRange(context: PortContext, range: unknown): Uint8Array {
  const spool = context.spool;
  if (spool === null) {
    throw new ChunkerError('invalid_argument', 'Expected an attached spool for spool (send the spool op first)');
  }
  if (!Array.isArray(range) || range.length !== 2) throw invalidParameter('spool', 'an array [offset, length]', range);
  const offset = readUint({ offset: range[0] }, 'offset', 0, undefined, 'spool[0] (offset)');
  const length = readUint({ length: range[1] }, 'length', 0, undefined, 'spool[1] (length)');
  if (offset + length > spool.length) {
    throw invalidParameter('spool', `a range within the attached spool of ${spool.length} bytes`, range);
  }
  return spool.subarray(offset, offset + length);
}
