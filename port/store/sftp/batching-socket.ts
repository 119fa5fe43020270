/**
 * The TCP socket under an SSH connection, gathering the writes made together into one
 * system call. ssh2 writes every SSH packet on its own, and SFTP sends several at once:
 * the 32 KiB packets of one write request, a put's writes followed by its close. Corked
 * until the writes queued in the same turn of the event loop are done (process.nextTick
 * runs once the current callbacks and promise reactions have), they leave as one writev,
 * which saves system calls and wakes sshd once per batch instead of once per packet.
 */
import { connect, type Socket } from 'node:net';

type WriteCallback = (error?: Error | null) => void;

/** Opens a TCP connection to `host:port` whose writes are batched; hand it to ssh2 as `sock`. */
export function connectBatchingSocket(host: string, port: number): Socket {
  const socket = connect({ host, port });
  // Set on the instance, after connect(): connect() resets an own `write` property (it
  // undoes a write-after-end guard that way), so a subclass override would not survive it.
  const write = socket.write.bind(socket) as (chunk: Uint8Array | string, encoding?: BufferEncoding, callback?: WriteCallback) => boolean;
  let batching = false;
  const batchingWrite = (chunk: Uint8Array | string, encodingOrCallback?: BufferEncoding | WriteCallback, callback?: WriteCallback): boolean => {
    if (!batching) {
      batching = true;
      socket.cork();
      process.nextTick(() => {
        batching = false;
        socket.uncork();
      });
    }
    return typeof encodingOrCallback === 'function' ? write(chunk, undefined, encodingOrCallback) : write(chunk, encodingOrCallback, callback);
  };
  socket.write = batchingWrite as Socket['write'];
  return socket;
}
