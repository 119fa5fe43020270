/**
 * Store operations (spec §4, "Stores"): the port opens the store a request names by URL
 * (kept open in the context's StoreCache) and runs one backend call. Object bytes travel
 * inline as bin, or — for `store_put` — from a file the port reads itself. Listings
 * stream as `objects` events so no reply has to hold a whole bucket's names.
 */
import { isAbsolute } from 'node:path';
import { ChunkerError, invalidParameter } from '../errors.js';
import { readBin, readOptionalString, readOptionalUint, readString, type Message, type Request } from '../protocol.js';
import type { StoreBackend } from '../store/backend.js';
import { bytesSource, openFileSource } from '../store/object-source.js';
import type { StoreOpenOptions } from '../store/open-store.js';
import type { PortContext, Send } from './context.js';

/** Room a reply needs beside the object bytes (envelope, keys). */
const REPLY_OVERHEAD_BYTES = 4096;

/** Objects per `objects` event of `store_list`. */
export const LIST_EVENT_OBJECTS = 1000;

function isMap(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** The request's store: `url` plus the optional `store_options` map (spec §4, "Stores"). */
export function requestStore(request: Request, context: PortContext): Promise<StoreBackend> {
  const url = readString(request.args, 'url');
  const options = request.args.store_options ?? {};
  if (!isMap(options)) throw invalidParameter('store_options', 'a map', options);
  return context.stores.get(url, options as StoreOpenOptions);
}

export async function storeStatOp(request: Request, context: PortContext): Promise<Message> {
  const name = readString(request.args, 'name');
  const store = await requestStore(request, context);
  const info = await store.stat(name);
  return info === null ? { exists: false } : { exists: true, size: info.size };
}

export async function storeGetOp(request: Request, context: PortContext): Promise<Message> {
  const name = readString(request.args, 'name');
  const offset = readOptionalUint(request.args, 'offset');
  const length = readOptionalUint(request.args, 'length');
  const largest = context.limits.maxFrameBytes - REPLY_OVERHEAD_BYTES;
  if (length !== undefined && length > largest) {
    throw invalidParameter('length', `at most ${largest} bytes (max_frame_bytes less the reply's overhead)`, length);
  }
  const store = await requestStore(request, context);
  if (length === undefined) {
    // Without a length the whole object (from offset) must fit one reply: check first
    // rather than read an object that cannot be sent.
    const info = await store.stat(name);
    if (info === null) throw new ChunkerError('not_found', `${store.location}: no object ${name}`);
    const wanted = Math.max(0, info.size - (offset ?? 0));
    if (wanted > largest) {
      throw new ChunkerError(
        'invalid_argument',
        `${name} is ${info.size} bytes, more than one reply holds (${largest}); read it in ranges with offset and length`,
      );
    }
  }
  const range = offset === undefined && length === undefined ? undefined : { offset: offset ?? 0, length: length ?? largest };
  return { data: await store.get(name, range) };
}

export async function storePutOp(request: Request, context: PortContext): Promise<Message> {
  const name = readString(request.args, 'name');
  const path = readOptionalString(request.args, 'path');
  const hasData = request.args.data !== undefined && request.args.data !== null;
  if ((path === undefined) === !hasData) throw invalidParameter('data / path', 'exactly one of data (bin) or path (str)', request.args.path);
  const store = await requestStore(request, context);
  if (path === undefined) {
    const data = readBin(request.args, 'data');
    // The frame's buffer is reused once this handler yields; the store may read later.
    await store.put(name, bytesSource(new Uint8Array(data)));
    return { size: data.length };
  }
  if (!isAbsolute(path)) throw invalidParameter('path', 'an absolute path', path);
  const source = await openFileSource(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new ChunkerError('not_found', `No file at ${path}`);
    throw new ChunkerError('io_error', `Opening ${path} failed: ${error.message}`, false);
  });
  try {
    await store.put(name, source);
    return { size: source.size };
  } finally {
    await source.close();
  }
}

export async function storeDeleteOp(request: Request, context: PortContext): Promise<Message> {
  const name = readString(request.args, 'name');
  const store = await requestStore(request, context);
  await store.delete(name);
  return {};
}

/** Sends the listing as `objects` events of LIST_EVENT_OBJECTS, then replies with the count. */
export async function storeListOp(request: Request, context: PortContext, emit: Send): Promise<Message> {
  const prefix = readOptionalString(request.args, 'prefix') ?? '';
  const store = await requestStore(request, context);
  let names: string[] = [];
  let sizes: number[] = [];
  let count = 0;
  const flush = (): void => {
    if (names.length === 0) return;
    emit({ event: 'objects', ref: request.id, names, sizes });
    names = [];
    sizes = [];
  };
  for await (const info of store.list(prefix)) {
    names.push(info.name);
    sizes.push(info.size);
    count++;
    if (names.length === LIST_EVENT_OBJECTS) flush();
  }
  flush();
  return { count };
}
