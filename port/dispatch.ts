/**
 * From a frame to its answer: decode, check the envelope, run the operation, and hand the
 * reply (or an error event, when no id is usable) to `send`. Every failure inside an
 * operation becomes an error reply; nothing a client sends can stop the port.
 */
import { ChunkerError } from './errors.js';
import type { FrameItem } from './frame.js';
import { chunkBatchOp, chunkOp } from './ops/chunk.js';
import { chunkFileOp } from './ops/chunk-file.js';
import { compressOp, decompressOp, trainDictionaryOp } from './ops/compression.js';
import type { OpHandler, PortContext, Send } from './ops/context.js';
import { hashOp } from './ops/hash.js';
import { helloOp } from './ops/hello.js';
import { closeOp, continueOp, feedOp, finishOp, openOp } from './ops/sessions.js';
import { spoolOp } from './ops/spool.js';
import { statsOp } from './ops/stats.js';
import { storeDeleteOp, storeGetOp, storeListOp, storePutOp, storeStatOp } from './ops/store.js';
import { storeUploadOp } from './ops/store-upload.js';
import {
  decodeMessage,
  errorEvent,
  errorReply,
  parseRequest,
  requestId,
  successReply,
  toWireError,
  wireError,
  type Message,
} from './protocol.js';

export type { Send } from './ops/context.js';

const SESSION_AND_CHUNK_OPS: ReadonlyArray<[string, OpHandler]> = [
  ['open', openOp],
  ['feed', feedOp],
  ['continue', continueOp],
  ['finish', finishOp],
  ['close', closeOp],
  ['chunk', chunkOp],
  ['chunk_batch', chunkBatchOp],
  ['chunk_file', chunkFileOp],
  ['hash', hashOp],
  ['stats', statsOp],
  ['spool', spoolOp],
  ['compress', compressOp],
  ['decompress', decompressOp],
  ['train_dictionary', trainDictionaryOp],
  ['store_stat', storeStatOp],
  ['store_get', storeGetOp],
  ['store_put', storePutOp],
  ['store_delete', storeDeleteOp],
  ['store_list', storeListOp],
  ['store_upload', storeUploadOp],
];

/** The operations of spec §4, by name (a Map, so names like "constructor" find nothing). */
export function portOps(): Map<string, OpHandler> {
  const ops = new Map<string, OpHandler>(SESSION_AND_CHUNK_OPS);
  const names = ['hello', ...ops.keys()];
  return new Map<string, OpHandler>([['hello', (request, context) => helloOp(request, context, names)], ...ops]);
}

export class Dispatcher {
  readonly #context: PortContext;
  readonly #ops: ReadonlyMap<string, OpHandler>;

  constructor(context: PortContext, ops: ReadonlyMap<string, OpHandler> = portOps()) {
    this.#context = context;
    this.#ops = ops;
  }

  /**
   * Answers one decoded frame item through `send`. Returns a promise when the answer comes
   * later (an asynchronous operation); it never rejects.
   */
  handle(item: FrameItem, send: Send): Promise<void> | undefined {
    if (item.kind === 'too_large') {
      const limit = this.#context.limits.maxFrameBytes;
      send(errorEvent(wireError('frame_too_large', `A frame of ${item.length} bytes exceeds max_frame_bytes (${limit})`)));
      return undefined;
    }
    return this.handlePayload(item.payload, send);
  }

  handlePayload(payload: Uint8Array, send: Send): Promise<void> | undefined {
    let message: Message;
    try {
      message = decodeMessage(payload);
    } catch (error) {
      send(errorEvent(toWireError(error)));
      return undefined;
    }
    const id = requestId(message);
    if (id === null) {
      send(errorEvent(wireError('invalid_request', `Expected a uint up to 2^53-1 for id but received ${describeId(message.id)}`)));
      return undefined;
    }
    this.#context.counters.requests++;
    let outcome: Message | Promise<Message>;
    try {
      const request = parseRequest(message, id);
      const handler = this.#ops.get(request.op);
      if (handler === undefined) throw new ChunkerError('unknown_op', `No operation named ${JSON.stringify(request.op)}`);
      outcome = handler(request, this.#context, send);
    } catch (error) {
      send(errorReply(id, toWireError(error)));
      return undefined;
    }
    if (outcome instanceof Promise) {
      return outcome.then(
        (result) => send(successReply(id, result)),
        (error: unknown) => send(errorReply(id, toWireError(error))),
      );
    }
    send(successReply(id, outcome));
    return undefined;
  }
}

function describeId(id: unknown): string {
  if (id === undefined) return 'nothing (no id key)';
  if (typeof id === 'bigint') return `${id}`;
  return typeof id === 'number' ? String(id) : typeof id;
}
