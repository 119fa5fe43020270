/**
 * One SFTP channel as promises. ssh2 fails the requests outstanding when a channel
 * closes, but a request sent after that is dropped without an answer, so this wrapper
 * tracks liveness itself: every request on a closed channel, and every request still
 * waiting when it closes, rejects with `store_unavailable`. Nothing can hang on a dead
 * connection.
 */
import type { Attributes, FileEntryWithStats, OpenMode, SFTPWrapper, Stats } from 'ssh2';
import { storeError } from '../backend.js';
import { translateSftpError } from './errors.js';

/**
 * The smallest read/write size every SFTP server must accept (draft-ietf-secsh-filexfer
 * §3: packets up to 34000 bytes), minus room for the request header.
 */
const PORTABLE_IO_BYTES = 32 * 1024;

/**
 * ssh2 fields this module reads although they are private (ssh2 is pinned): the
 * server's read/write limits and announced extensions. If they ever disappear, the
 * getters below fall back to the portable size and to "extension absent", which is
 * slower but still correct.
 */
interface Ssh2Internals {
  _maxReadLen?: unknown;
  _maxWriteLen?: unknown;
  _extensions?: Record<string, string>;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

export const isRegularFile = (attrs: Attributes): boolean => (attrs.mode & S_IFMT) === S_IFREG;
export const isDirectory = (attrs: Attributes): boolean => (attrs.mode & S_IFMT) === S_IFDIR;

type Callback<T> = (error: Error | null | undefined, value?: T) => void;

export class SftpChannel {
  /** Operations currently using this channel; the pool picks the least loaded. */
  load = 0;
  private closedBecause: Error | undefined;
  private readonly pending = new Set<(error: Error) => void>();
  private readonly closedListeners: Array<() => void> = [];

  constructor(
    private readonly sftp: SFTPWrapper,
    private readonly location: string,
  ) {
    const gone = (reason: string) => () => this.fail(reason);
    sftp.on('close', gone('the SFTP channel closed'));
    sftp.on('end', gone('the SFTP channel ended'));
    sftp.on('error', (error: Error) => this.fail(`the SFTP channel failed: ${error.message}`));
  }

  get alive(): boolean {
    return this.closedBecause === undefined;
  }

  /**
   * Largest read and write a single request carries. ssh2 learns the server's limits
   * (OpenSSH's limits@openssh.com, 255 KiB) but keeps them private; without them it splits
   * big requests into sequential ones, which would undo the pipelining, so fall back to
   * the portable size.
   */
  get maxReadBytes(): number {
    const value = (this.sftp as unknown as Ssh2Internals)._maxReadLen;
    return typeof value === 'number' && value > 0 ? value : PORTABLE_IO_BYTES;
  }

  get maxWriteBytes(): number {
    const value = (this.sftp as unknown as Ssh2Internals)._maxWriteLen;
    return typeof value === 'number' && value > 0 ? value : PORTABLE_IO_BYTES;
  }

  /** Whether the server announced the OpenSSH extension `name` (e.g. posix-rename@openssh.com). */
  hasExtension(name: string): boolean {
    return (this.sftp as unknown as Ssh2Internals)._extensions?.[name] === '1';
  }

  /** Calls `listener` once when the channel dies (immediately if it is dead already). */
  onClosed(listener: () => void): void {
    if (this.alive) this.closedListeners.push(listener);
    else listener();
  }

  /** Marks the channel dead and rejects everything still waiting on it. */
  fail(reason: string): void {
    if (this.closedBecause !== undefined) return;
    this.closedBecause = storeError('store_unavailable', `${this.location}: ${reason}`);
    for (const reject of [...this.pending]) reject(this.closedBecause);
    this.pending.clear();
    for (const listener of this.closedListeners.splice(0)) listener();
  }

  /** Closes the channel (not the connection). */
  close(): void {
    this.fail('the SFTP channel was closed');
    this.sftp.end();
  }

  private request<T>(what: string, start: (callback: Callback<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closedBecause !== undefined) {
        reject(translateSftpError(this.closedBecause, this.location, what));
        return;
      }
      const settle = (error: Error | null | undefined, value?: T) => {
        if (!this.pending.delete(fail)) return;
        if (error) reject(translateSftpError(error, this.location, what));
        else resolve(value as T);
      };
      const fail = (error: Error) => reject(translateSftpError(error, this.location, what));
      this.pending.add(fail);
      try {
        start(settle);
      } catch (error) {
        settle(error as Error);
      }
    });
  }

  open(path: string, flags: OpenMode, what: string): Promise<Buffer> {
    return this.request(what, (done) => this.sftp.open(path, flags, { mode: 0o644 }, done));
  }

  closeHandle(handle: Buffer, what: string): Promise<void> {
    return this.request(what, (done) => this.sftp.close(handle, done));
  }

  /** Writes all of `data` at `position` (ssh2 splits it if it exceeds `maxWriteBytes`). */
  write(handle: Buffer, data: Buffer, position: number, what: string): Promise<void> {
    return this.request(what, (done) => this.sftp.write(handle, data, 0, data.length, position, (error) => done(error)));
  }

  /** Reads up to `length` bytes into `target` at `offset`; resolves with the count (0 at end of file). */
  read(handle: Buffer, target: Buffer, offset: number, length: number, position: number, what: string): Promise<number> {
    return this.request(what, (done) => this.sftp.read(handle, target, offset, length, position, (error, bytesRead) => done(error, bytesRead)));
  }

  fstat(handle: Buffer, what: string): Promise<Stats> {
    return this.request(what, (done) => this.sftp.fstat(handle, done));
  }

  fsync(handle: Buffer, what: string): Promise<void> {
    return this.request(what, (done) => this.sftp.ext_openssh_fsync(handle, (error) => done(error)));
  }

  stat(path: string, what: string): Promise<Stats> {
    return this.request(what, (done) => this.sftp.stat(path, done));
  }

  unlink(path: string, what: string): Promise<void> {
    return this.request(what, (done) => this.sftp.unlink(path, done));
  }

  mkdir(path: string, what: string): Promise<void> {
    return this.request(what, (done) => this.sftp.mkdir(path, { mode: 0o755 }, done));
  }

  /** SFTP v3 rename: fails when `to` exists. */
  rename(from: string, to: string, what: string): Promise<void> {
    return this.request(what, (done) => this.sftp.rename(from, to, done));
  }

  /** POSIX rename(2), which replaces `to` atomically; needs posix-rename@openssh.com. */
  posixRename(from: string, to: string, what: string): Promise<void> {
    return this.request(what, (done) => this.sftp.ext_openssh_rename(from, to, done));
  }

  readdir(path: string, what: string): Promise<FileEntryWithStats[]> {
    return this.request(what, (done) => this.sftp.readdir(path, done));
  }

  realpath(path: string, what: string): Promise<string> {
    return this.request(what, (done) => this.sftp.realpath(path, done));
  }
}
