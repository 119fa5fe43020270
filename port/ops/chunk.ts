/** `chunk` and `chunk_batch` (spec §4): one-shot chunking of inputs carried in the request. */
import { chunkBatch, chunkBuffer } from '../engine/chunk-session.js';
import { resolveChunkingOptions } from '../engine/chunking-options.js';
import { invalidParameter } from '../errors.js';
import { encodeChunkList, readArray, readBin, readChunkingOptions, type Message, type Request } from '../protocol.js';
import type { PortContext } from './context.js';

export function chunkOp(request: Request, context: PortContext): Message {
  const data = readBin(request.args, 'data');
  const options = readChunkingOptions(request.args);
  const hashing = resolveChunkingOptions(options).hash !== 'none';
  const chunks = chunkBuffer(data, options);
  context.counters.bytesIn += data.length;
  context.counters.chunksOut += chunks.length;
  return { chunks: encodeChunkList(chunks, 0, hashing) };
}

export function chunkBatchOp(request: Request, context: PortContext): Message {
  const items = readArray(request.args, 'items');
  items.forEach((item, index) => {
    if (!(item instanceof Uint8Array)) throw invalidParameter(`items[${index}]`, 'bin', item);
  });
  const options = readChunkingOptions(request.args);
  const hashing = resolveChunkingOptions(options).hash !== 'none';
  const lists = chunkBatch(items as Uint8Array[], options);
  const results = lists.map((chunks, index) => {
    context.counters.bytesIn += (items[index] as Uint8Array).length;
    context.counters.chunksOut += chunks.length;
    return encodeChunkList(chunks, 0, hashing);
  });
  return { results };
}
