/**
 * Pipelined transfers on one SFTP channel. SFTP answers each read or write separately,
 * so one request at a time costs a round trip per piece; keeping several requests in
 * flight is what makes a single large object fast (ssh2's fastPut does the same). The
 * bytes in flight are bounded, so memory does not grow with the object.
 */
import { invalidParameter } from '../../errors.js';
import type { ObjectSource } from '../backend.js';
import { isRegularFile, type SftpChannel } from './channel.js';

/** Bytes of one put read from its source and not yet acknowledged by the server (all stripes together). */
export const MAX_PUT_IN_FLIGHT_BYTES = 4 * 1024 * 1024;
/** Bytes of one get requested and not yet received. */
export const MAX_GET_IN_FLIGHT_BYTES = 4 * 1024 * 1024;

const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/**
 * Runs `step(i)` for i = 0…count-1, at most `window` at a time, in order of start. The
 * first failure stops new steps; every started step has settled when this settles.
 */
async function windowed(count: number, window: number, step: (index: number) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  try {
    for (let index = 0; index < count && failure === undefined; index++) {
      while (running.size >= window) await Promise.race(running);
      if (failure !== undefined) break;
      const started = step(index).then(
        () => void running.delete(started),
        (error: unknown) => {
          running.delete(started);
          failure ??= { error };
        },
      );
      running.add(started);
    }
  } finally {
    await Promise.all(running);
  }
  if (failure !== undefined) throw failure.error;
}

interface WriteOptions {
  /** Runs before each piece; throws to stop sending (an aborted put, a failed stripe). */
  readonly checkAbort: () => void;
  readonly what: string;
}

/**
 * Writes bytes `start`…`end` of `source` to the open `handle` at the same offsets, in
 * pieces of the channel's largest write, at most `inFlightBytes` unacknowledged. Resolves
 * when every write is acknowledged; when it rejects, every write it sent has settled.
 * `afterLastWrite` runs as soon as the last write is sent, before its reply.
 */
async function writeRange(
  channel: SftpChannel,
  handle: Buffer,
  source: ObjectSource,
  range: { readonly start: number; readonly end: number; readonly inFlightBytes: number },
  options: WriteOptions,
  afterLastWrite: () => void = () => undefined,
): Promise<void> {
  const pieceBytes = channel.maxWriteBytes;
  const window = Math.max(1, Math.floor(range.inFlightBytes / pieceBytes));
  const pieces = Math.ceil((range.end - range.start) / pieceBytes);
  // Pieces are read from the source in order (a file source reads sequentially) and each
  // write is sent before the next read, so reading and sending overlap.
  let nextRead = Promise.resolve();
  await windowed(pieces, window, (index) => {
    const offset = range.start + index * pieceBytes;
    const length = Math.min(pieceBytes, range.end - offset);
    const read = nextRead.then(async () => {
      options.checkAbort();
      const bytes = await source.read(offset, length);
      if (bytes.length !== length) throw invalidParameter('object source', `${length} bytes at offset ${offset}`, bytes);
      return bytes;
    });
    nextRead = read.then(
      () => undefined,
      () => undefined,
    );
    return read.then((bytes) => {
      const written = channel.write(handle, asBuffer(bytes), offset, options.what);
      if (index === pieces - 1) afterLastWrite();
      return written;
    });
  });
}

/** Closes `handle` once, after an fsync when asked; later calls return the same promise. */
function closer(channel: SftpChannel, handle: Buffer, fsync: boolean, what: string): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= (fsync ? channel.fsync(handle, what) : Promise.resolve()).finally(() => channel.closeHandle(handle, what));
    return closing;
  };
}

/**
 * Writes all of `source` to the open `handle` and closes it. The close (and the fsync
 * before it, when asked) is sent right behind the last write instead of after its reply,
 * which saves a small object a round trip: OpenSSH handles a channel's requests in the
 * order they arrive (a server that did not would at worst fail the put, never publish a
 * partial object, since the rename waits for every reply). Resolves once every write and
 * the close succeeded. Whatever happens, the handle is closed exactly once when this
 * settles: a second close could hit a handle the server has since reused.
 */
export async function writeAndClose(channel: SftpChannel, handle: Buffer, source: ObjectSource, options: WriteOptions & { readonly fsync: boolean }): Promise<void> {
  const close = closer(channel, handle, options.fsync, options.what);
  try {
    await writeRange(channel, handle, source, { start: 0, end: source.size, inFlightBytes: MAX_PUT_IN_FLIGHT_BYTES }, options, () => void close().catch(() => undefined));
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  await close();
}

/** Thrown into the other stripes once one has failed, so they stop; never reported. */
class StripeStopped extends Error {}

/**
 * Like `writeAndClose`, but the object is cut into `stripes` contiguous ranges written in
 * parallel: the first through `handle` on `channel`, each other one through its own
 * handle on `path` (opened for writing without truncation) on a channel `onOtherChannel`
 * provides — another connection, so another sshd process, which is what makes one large
 * object faster than a single stream. The first failure stops every stripe. `handle` is
 * closed exactly once, after every other stripe has closed its own.
 */
export async function writeStripedAndClose(
  channel: SftpChannel,
  handle: Buffer,
  path: string,
  source: ObjectSource,
  stripes: number,
  onOtherChannel: (work: (other: SftpChannel) => Promise<void>) => Promise<void>,
  options: WriteOptions & { readonly fsync: boolean },
): Promise<void> {
  // Stripes start on piece boundaries so no write straddles two of them.
  const pieceBytes = channel.maxWriteBytes;
  const stripeBytes = Math.ceil(source.size / stripes / pieceBytes) * pieceBytes;
  const inFlightBytes = Math.max(pieceBytes, Math.floor(MAX_PUT_IN_FLIGHT_BYTES / stripes));
  let stopped = false;
  const stripeOptions: WriteOptions = {
    what: options.what,
    checkAbort: () => {
      if (stopped) throw new StripeStopped();
      options.checkAbort();
    },
  };
  const stopOthers = (error: unknown) => {
    stopped = true;
    throw error;
  };
  const rangeOf = (index: number) => ({ start: index * stripeBytes, end: Math.min((index + 1) * stripeBytes, source.size), inFlightBytes });
  const others = Array.from({ length: stripes - 1 }, (_, index) =>
    onOtherChannel(async (other) => {
      const otherHandle = await other.open(path, 'r+', options.what);
      const close = closer(other, otherHandle, false, options.what);
      try {
        await writeRange(other, otherHandle, source, rangeOf(index + 1), stripeOptions, () => void close().catch(() => undefined));
      } catch (error) {
        await close().catch(() => undefined);
        throw error;
      }
      await close();
    }).catch(stopOthers),
  );
  const first = writeRange(channel, handle, source, rangeOf(0), stripeOptions).catch(stopOthers);
  const results = await Promise.allSettled([first, ...others]);
  const close = closer(channel, handle, options.fsync, options.what);
  const failure = results.find((result): result is PromiseRejectedResult => result.status === 'rejected' && !(result.reason instanceof StripeStopped));
  if (failure !== undefined) {
    await close().catch(() => undefined);
    throw failure.reason;
  }
  await close();
}

/**
 * Reads `length` bytes from `position` of the open `handle` into `target` at `at`;
 * resolves with the count, which is smaller only when the file ends first. A broken
 * connection rejects.
 */
async function readInto(channel: SftpChannel, handle: Buffer, target: Uint8Array, at: number, position: number, length: number, what: string): Promise<number> {
  const view = asBuffer(target);
  const pieceBytes = channel.maxReadBytes;
  const window = Math.max(1, Math.floor(MAX_GET_IN_FLIGHT_BYTES / pieceBytes));
  let end = length;
  await windowed(Math.ceil(length / pieceBytes), window, async (index) => {
    const start = index * pieceBytes;
    const stop = Math.min(start + pieceBytes, length);
    // A server may answer with less than asked; ask again for the rest.
    for (let done = start; done < stop; ) {
      const count = await channel.read(handle, view, at + done, stop - done, position + done, what);
      if (count === 0) {
        end = Math.min(end, done);
        return;
      }
      done += count;
    }
  });
  return end;
}

/**
 * Reads the regular file open as `handle`: `length` bytes from `offset` (to the end when
 * `length` is undefined), clamped to the file's size. The fstat that tells the size goes
 * out together with the first piece's read, so an object that fits in one read costs a
 * single round trip after the open. Resolves with null when `handle` is not a regular
 * file (a directory).
 */
export async function readOpenFile(channel: SftpChannel, handle: Buffer, offset: number, length: number | undefined, what: string): Promise<Uint8Array | null> {
  const first = new Uint8Array(Math.min(length ?? Number.MAX_SAFE_INTEGER, channel.maxReadBytes));
  const [stats, firstRead] = await Promise.allSettled([channel.fstat(handle, what), readInto(channel, handle, first, 0, offset, first.length, what)]);
  if (stats.status === 'rejected') throw stats.reason;
  // Reading a directory fails; the fstat is what tells why.
  if (!isRegularFile(stats.value)) return null;
  if (firstRead.status === 'rejected') throw firstRead.reason;
  const end = Math.min(length === undefined ? stats.value.size : offset + length, stats.value.size);
  const total = Math.max(0, end - offset);
  // Copy a small object out of the first piece's buffer rather than pin the whole buffer.
  if (total <= firstRead.value) return first.slice(0, total);
  const bytes = new Uint8Array(total);
  bytes.set(first.subarray(0, firstRead.value));
  const rest = await readInto(channel, handle, bytes, firstRead.value, offset + firstRead.value, total - firstRead.value, what);
  return rest === total - firstRead.value ? bytes : bytes.subarray(0, firstRead.value + rest);
}
