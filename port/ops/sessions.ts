/** `open`, `feed`, `continue`, `finish`, `close` (spec §4): arguments in, registry, reply out. */
import type { DecompressionCodec } from '../engine/compression.js';
import { ChunkerError } from '../errors.js';
import {
  encodeChunkList,
  readBin,
  readBudget,
  readChunkingOptions,
  readOptionalString,
  readOptionalUint,
  readUint,
  type Budget,
  type Message,
  type Request,
} from '../protocol.js';
import type { SessionStep, StreamOptions } from '../session.js';
import { readSessionCompression } from './compression.js';
import type { PortContext } from './context.js';
import { spoolRange } from './spool.js';

/** The request's budget; what it leaves out comes from the budget the session was opened with. */
function sessionBudget(request: Request, context: PortContext, session: number): Budget {
  return readBudget(request.args, context.registry.budgetOf(session));
}

function stepReply(step: SessionStep): Message {
  return { chunks: encodeChunkList(step.chunks, step.offset, step.hashing, step.stored), more: step.more };
}

/** Spec §4 `open`: chunking options, budget, and optionally `compress`, `input_compression`, `max_output`. */
export function openOp(request: Request, context: PortContext): Message {
  const options = readChunkingOptions(request.args);
  const budget = readBudget(request.args, context.defaultBudget);
  const stream: StreamOptions = {};
  const compress = readSessionCompression(request.args);
  if (compress !== undefined) stream.compress = compress;
  const inputCompression = readOptionalString(request.args, 'input_compression');
  if (inputCompression !== undefined) stream.inputCompression = inputCompression as DecompressionCodec;
  const maxOutputBytes = readOptionalUint(request.args, 'max_output');
  if (maxOutputBytes !== undefined) stream.maxOutputBytes = maxOutputBytes;
  return { session: context.registry.open(options, budget, stream) };
}

/** Spec §4 `feed`: the bytes come inline (`data`) or as a range of the spool (`spool`). */
export function feedOp(request: Request, context: PortContext): Message {
  const session = readUint(request.args, 'session');
  const { data, spool } = request.args;
  const hasData = data !== undefined && data !== null;
  const hasSpool = spool !== undefined && spool !== null;
  if (hasData === hasSpool) {
    throw new ChunkerError('invalid_argument', `Expected exactly one of data and spool but received ${hasData ? 'both' : 'neither'}`);
  }
  const budget = sessionBudget(request, context, session);
  if (hasData) return stepReply(context.registry.feed(session, readBin(request.args, 'data'), budget));
  // The range is the client's again once this reply is out: the registry keeps a copy of
  // whatever the session has not scanned yet.
  return stepReply(context.registry.feed(session, spoolRange(context, spool), budget, { borrowed: true }));
}

export function continueOp(request: Request, context: PortContext): Message {
  const session = readUint(request.args, 'session');
  return stepReply(context.registry.continue(session, sessionBudget(request, context, session)));
}

export function finishOp(request: Request, context: PortContext): Message {
  const session = readUint(request.args, 'session');
  return stepReply(context.registry.finish(session, sessionBudget(request, context, session)));
}

export function closeOp(request: Request, context: PortContext): Message {
  context.registry.close(readUint(request.args, 'session'));
  return { closed: true };
}
