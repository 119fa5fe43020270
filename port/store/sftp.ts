/**
 * The SFTP backend: `sftp://user@host:port/path`, over ssh2.
 *
 * The URL path is absolute on the server; `/~/dir` is relative to the login directory.
 * Authentication uses a private key file (`identityFile`, else CHUNKER_SFTP_IDENTITY_FILE),
 * else the ssh-agent at `agent` / SSH_AUTH_SOCK, else the first of ~/.ssh/id_ed25519,
 * id_ecdsa, id_rsa. Passwords are refused. The server's host key must be in
 * `knownHostsFile` (else CHUNKER_SFTP_KNOWN_HOSTS, else ~/.ssh/known_hosts) unless
 * `insecureSkipHostKeyCheck` is set; the environment variables let the CLI and the port,
 * which take no per-backend flags, reach a server set up apart. An unknown or changed key
 * fails with `store_auth`, naming the fingerprint the server offered.
 *
 * put writes `<dir>/.chunker-tmp-<random>` (creating directories as needed; an object of
 * at least 2 × MIN_STRIPE_BYTES in stripes over several connections at once), closes it
 * and renames it over the final name with posix-rename@openssh.com, which replaces
 * atomically; servers without that extension get remove + rename (a reader may briefly
 * see no object, never a partial one). Temp files of failed puts are removed when the
 * connection still allows it and are never listed or served either way.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir, userInfo } from 'node:os';
import { posix } from 'node:path';
// ssh2 is CommonJS; Node's ESM loader offers only its default export.
import ssh2 from 'ssh2';
import { ChunkerError, invalidParameter } from '../errors.js';
import {
  checkByteRange,
  storeError,
  type ByteRange,
  type ObjectInfo,
  type ObjectSource,
  type OperationOptions,
  type StoreBackend,
  type StoreCapabilities,
} from './backend.js';
import { abortError, unlessAborted } from './abort.js';
import { checkListPrefix, checkObjectName, TEMP_NAME_PREFIX } from './object-name.js';
import { isDirectory, isRegularFile, type SftpChannel } from './sftp/channel.js';
import type { ConnectSettings } from './sftp/connection.js';
import { MAX_PUT_IN_FLIGHT_BYTES, readOpenFile, writeAndClose, writeStripedAndClose } from './sftp/pipeline.js';
import { SftpPool } from './sftp/pool.js';

/** Options of `sftp://` stores (the `sftp` section of StoreOpenOptions). */
export interface SftpStoreOptions {
  /** Private key file (OpenSSH or PEM format). */
  readonly identityFile?: string;
  /** Passphrase of an encrypted `identityFile`. */
  readonly passphrase?: string;
  /** ssh-agent socket; default SSH_AUTH_SOCK. */
  readonly agent?: string;
  /** known_hosts file to check the server's host key against; default ~/.ssh/known_hosts. */
  readonly knownHostsFile?: string;
  /** Accept any host key. Only for throwaway test servers: it allows man-in-the-middle attacks. */
  readonly insecureSkipHostKeyCheck?: boolean;
  /** SSH connections to open at most; default DEFAULT_CONNECTIONS. */
  readonly connections?: number;
  /** SFTP channels per connection; default DEFAULT_CHANNELS_PER_CONNECTION (sshd allows 10, MaxSessions). */
  readonly channelsPerConnection?: number;
  /** Deadline for connecting, handshake and authentication; default DEFAULT_CONNECT_TIMEOUT_MS. */
  readonly connectTimeoutMs?: number;
  /** fsync each object before publishing it (fsync@openssh.com); default false. */
  readonly fsync?: boolean;
}

export const DEFAULT_CONNECTIONS = 4;
export const DEFAULT_CHANNELS_PER_CONNECTION = 4;
export const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
const MAX_CONNECTIONS = 64;
/** OpenSSH's default MaxSessions. */
const MAX_CHANNELS_PER_CONNECTION = 10;
const DEFAULT_SSH_PORT = 22;
const DEFAULT_IDENTITY_FILES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
const TEMP_SUFFIX_BYTES = 8;
/**
 * Smallest stripe of a large put: an object of at least twice this size is written by
 * several connections in parallel (one stripe per connection, at most `connections`).
 */
export const MIN_STRIPE_BYTES = 8 * 1024 * 1024;

const POSIX_RENAME_EXTENSION = 'posix-rename@openssh.com';
const FSYNC_EXTENSION = 'fsync@openssh.com';

function positiveInteger(value: number | undefined, fallback: number, max: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) throw invalidParameter(`sftp.${name}`, `an integer from 1 to ${max}`, value);
  return value;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Settles with `operation`, or rejects as soon as `signal` aborts (the operation then cleans up on its own). */
function abortable<T>(signal: AbortSignal | undefined, what: string, operation: () => Promise<T>): Promise<T> {
  if (signal?.aborted) return Promise.reject(abortError(signal, what));
  return unlessAborted(operation(), signal, what);
}

async function loadPrivateKey(path: string, passphrase: string | undefined): Promise<Buffer> {
  let key: Buffer;
  try {
    key = await readFile(path);
  } catch (error) {
    throw storeError('store_config', `Cannot read SSH key file ${path}: ${(error as Error).message}`);
  }
  const parsed = ssh2.utils.parseKey(key, passphrase);
  if (parsed instanceof Error) {
    const hint = passphrase === undefined && /encrypted|passphrase/i.test(parsed.message) ? ' (it is encrypted: set sftp.passphrase or use ssh-agent)' : '';
    throw storeError('store_config', `Cannot use SSH key file ${path}: ${parsed.message}${hint}`);
  }
  return key;
}

/** Builds the connection settings for `url`, reading the key file now so a bad one fails at open. */
async function connectSettings(url: URL, location: string, options: SftpStoreOptions): Promise<ConnectSettings> {
  if (url.hostname === '') throw storeError('store_config', `No host in ${location}; expected sftp://user@host:port/path`);
  if (url.password !== '') throw storeError('store_config', `${location}: passwords are not supported; use a key (sftp.identityFile or ssh-agent)`);
  const agent = options.agent ?? process.env.SSH_AUTH_SOCK;
  let identityFile = options.identityFile ?? nonEmpty(process.env.CHUNKER_SFTP_IDENTITY_FILE);
  if (identityFile === undefined && (agent === undefined || agent === '')) {
    identityFile = DEFAULT_IDENTITY_FILES.map((name) => posix.join(homedir(), '.ssh', name)).find((path) => existsSync(path));
    if (identityFile === undefined) {
      throw storeError('store_config', `${location}: no SSH key: set sftp.identityFile, or run ssh-agent (SSH_AUTH_SOCK), or create ~/.ssh/id_ed25519`);
    }
  }
  return {
    location,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? DEFAULT_SSH_PORT : Number(url.port),
    username: url.username === '' ? userInfo().username : decodeURIComponent(url.username),
    ...(identityFile === undefined ? {} : { privateKey: await loadPrivateKey(identityFile, options.passphrase) }),
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    ...(agent === undefined || agent === '' ? {} : { agent }),
    knownHostsFile: options.insecureSkipHostKeyCheck === true ? undefined : (options.knownHostsFile ?? nonEmpty(process.env.CHUNKER_SFTP_KNOWN_HOSTS) ?? posix.join(homedir(), '.ssh', 'known_hosts')),
    connectTimeoutMs: positiveInteger(options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, 3_600_000, 'connectTimeoutMs'),
  };
}

export class SftpBackend implements StoreBackend {
  readonly capabilities: StoreCapabilities;
  private readonly knownDirectories = new Set<string>();
  private root: Promise<string> | undefined;
  private closed = false;

  constructor(
    readonly location: string,
    private readonly rootPath: string,
    private readonly pool: SftpPool,
    private readonly fsync: boolean,
  ) {
    // multipart: a large put is written in parallel stripes (see writeStripedAndClose).
    this.capabilities = { ranges: true, multipart: true, atomicRename: true, maxConcurrency: pool.maxChannels, putBufferBytes: MAX_PUT_IN_FLIGHT_BYTES };
  }

  async stat(name: string, options?: OperationOptions): Promise<ObjectInfo | null> {
    this.checkOpen();
    checkObjectName(name);
    return abortable(options?.signal, `stat ${name}`, () =>
      this.pool.run(async (channel) => {
        const path = await this.pathOf(channel, name);
        try {
          const stats = await channel.stat(path, `stat ${name}`);
          return isRegularFile(stats) ? { name, size: stats.size } : null;
        } catch (error) {
          if ((error as ChunkerError).code === 'not_found') return null;
          throw error;
        }
      }),
    );
  }

  async get(name: string, range?: ByteRange, options?: OperationOptions): Promise<Uint8Array> {
    this.checkOpen();
    checkObjectName(name);
    checkByteRange(range);
    const what = `get ${name}`;
    return abortable(options?.signal, what, () =>
      this.pool.run(async (channel) => {
        const path = await this.pathOf(channel, name);
        let handle: Buffer;
        try {
          handle = await channel.open(path, 'r', what);
        } catch (error) {
          if ((error as ChunkerError).code === 'not_found') throw storeError('not_found', `${this.location}: no object ${name}`);
          throw error;
        }
        try {
          const bytes = await readOpenFile(channel, handle, range?.offset ?? 0, range?.length, what);
          if (bytes === null) throw storeError('not_found', `${this.location}: no object ${name} (a directory has that name)`);
          return bytes;
        } finally {
          // Nothing waits for the close: the bytes are in, and a failed close of a read handle loses nothing.
          channel.closeHandle(handle, what).catch(() => undefined);
        }
      }),
    );
  }

  async put(name: string, source: ObjectSource, options?: OperationOptions): Promise<void> {
    this.checkOpen();
    checkObjectName(name);
    const what = `put ${name}`;
    const signal = options?.signal;
    const checkAbort = () => {
      if (signal?.aborted) throw abortError(signal, what);
    };
    return abortable(signal, what, () =>
      this.pool.run(async (channel) => {
        const path = await this.pathOf(channel, name);
        const directory = posix.dirname(path);
        const temp = posix.join(directory, `${TEMP_NAME_PREFIX}${randomBytes(TEMP_SUFFIX_BYTES).toString('hex')}`);
        const handle = await this.createFile(channel, temp, directory, what);
        let published = false;
        try {
          const writeOptions = { fsync: this.fsync && channel.hasExtension(FSYNC_EXTENSION), checkAbort, what };
          const stripes = Math.min(this.pool.maxConnections, Math.floor(source.size / MIN_STRIPE_BYTES));
          if (stripes > 1) {
            await writeStripedAndClose(channel, handle, temp, source, stripes, (work) => this.pool.run(work), writeOptions);
          } else {
            await writeAndClose(channel, handle, source, writeOptions);
          }
          checkAbort();
          await this.publish(channel, temp, path, what);
          published = true;
        } finally {
          if (!published) await channel.unlink(temp, what).catch(() => undefined);
        }
      }),
    );
  }

  async delete(name: string, options?: OperationOptions): Promise<void> {
    this.checkOpen();
    checkObjectName(name);
    return abortable(options?.signal, `delete ${name}`, () =>
      this.pool.run(async (channel) => {
        try {
          await channel.unlink(await this.pathOf(channel, name), `delete ${name}`);
        } catch (error) {
          if ((error as ChunkerError).code !== 'not_found') throw error;
        }
      }),
    );
  }

  async *list(prefix: string, options?: OperationOptions): AsyncIterable<ObjectInfo> {
    this.checkOpen();
    checkListPrefix(prefix);
    const signal = options?.signal;
    // Start at the deepest directory the prefix names: 'chunks/ab/x' walks 'chunks/ab'.
    const start = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const pending: string[] = [start];
    const found: ObjectInfo[] = [];
    const reading = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    // Reads are not abortable one by one: up to a channel's worth run at once, and a
    // listener each on the signal would pass Node's leak warning limit. The walk itself
    // stops waiting for them when the signal aborts.
    const readDirectory = (relative: string) =>
      this.pool.run(async (channel) => {
        const root = await this.rootOf(channel);
        let entries;
        try {
          entries = await channel.readdir(relative === '' ? root : posix.join(root, relative), `list ${prefix}`);
        } catch (error) {
          if ((error as ChunkerError).code === 'not_found') return;
          throw error;
        }
        for (const entry of entries) {
          if (entry.filename.startsWith(TEMP_NAME_PREFIX)) continue;
          const name = relative === '' ? entry.filename : `${relative}/${entry.filename}`;
          if (isDirectory(entry.attrs)) {
            // Descend only where names under it can still match the prefix.
            if (`${name}/`.startsWith(prefix) || prefix.startsWith(`${name}/`)) pending.push(name);
          } else if (isRegularFile(entry.attrs) && name.startsWith(prefix)) {
            found.push({ name, size: entry.attrs.size });
          }
        }
      });
    while (pending.length > 0 || reading.size > 0 || found.length > 0) {
      if (signal?.aborted) throw abortError(signal, `list ${prefix}`);
      if (failure !== undefined) throw failure.error;
      while (found.length > 0) yield found.shift()!;
      // One directory per channel: each readdir is a chain of round trips (open, reads
      // until the end, close), so a chunk tree of hundreds of directories is latency-bound.
      while (pending.length > 0 && reading.size < this.pool.maxChannels) {
        const started: Promise<void> = readDirectory(pending.shift()!).then(
          () => void reading.delete(started),
          (error: unknown) => {
            reading.delete(started);
            failure ??= { error };
          },
        );
        reading.add(started);
      }
      if (reading.size > 0 && found.length === 0) await unlessAborted(Promise.race(reading), signal, `list ${prefix}`);
    }
    if (failure !== undefined) throw failure.error;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool.close();
  }

  private checkOpen(): void {
    if (this.closed) throw storeError('store_closed', `${this.location} is closed`);
  }

  /** The store's root on the server; `/~/…` is resolved against the login directory once. */
  private rootOf(channel: SftpChannel): Promise<string> {
    if (this.rootPath !== '~' && !this.rootPath.startsWith('~/')) return Promise.resolve(this.rootPath);
    this.root ??= channel.realpath('.', 'find the login directory').then(
      (home) => posix.join(home, this.rootPath.slice(1)),
      (error: unknown) => {
        this.root = undefined;
        throw error;
      },
    );
    return this.root;
  }

  private async pathOf(channel: SftpChannel, name: string): Promise<string> {
    return posix.join(await this.rootOf(channel), name);
  }

  /** Creates `temp` for writing, creating its directory on the first miss. */
  private async createFile(channel: SftpChannel, temp: string, directory: string, what: string): Promise<Buffer> {
    try {
      return await channel.open(temp, 'wx', what);
    } catch (error) {
      if ((error as ChunkerError).code !== 'not_found') throw error;
    }
    this.knownDirectories.delete(directory);
    await this.makeDirectories(channel, directory, what);
    return channel.open(temp, 'wx', what);
  }

  /** mkdir -p: creates `directory` and missing parents; a directory made concurrently is fine. */
  private async makeDirectories(channel: SftpChannel, directory: string, what: string): Promise<void> {
    if (this.knownDirectories.has(directory)) return;
    try {
      await channel.mkdir(directory, what);
    } catch (error) {
      const code = (error as ChunkerError).code;
      if (code === 'not_found' && directory !== posix.dirname(directory)) {
        await this.makeDirectories(channel, posix.dirname(directory), what);
        await this.makeDirectories(channel, directory, what);
        return;
      }
      // OpenSSH answers FAILURE for EEXIST; anything but an existing directory is an error.
      const stats = await channel.stat(directory, what).catch(() => undefined);
      if (stats === undefined || !isDirectory(stats)) throw error;
    }
    this.knownDirectories.add(directory);
  }

  /** Renames `temp` over `path`, replacing any old object. */
  private async publish(channel: SftpChannel, temp: string, path: string, what: string): Promise<void> {
    if (channel.hasExtension(POSIX_RENAME_EXTENSION)) {
      await channel.posixRename(temp, path, what);
      return;
    }
    try {
      await channel.rename(temp, path, what);
    } catch (error) {
      // SFTP v3 rename refuses an existing target (FAILURE); remove it and try once more.
      if ((error as ChunkerError).code !== 'store_error') throw error;
      await channel.unlink(path, what).catch(() => undefined);
      await channel.rename(temp, path, what);
    }
  }
}

/**
 * Opens `sftp://user@host:port/path` and starts connecting in the background; a failure
 * to connect is reported by the first operation.
 */
export async function openSftpStore(url: URL, options: SftpStoreOptions = {}): Promise<SftpBackend> {
  const safe = new URL(url.href);
  safe.password = '';
  const location = safe.href;
  const path = decodeURIComponent(url.pathname);
  if (path === '' || path === '/') throw storeError('store_config', `${location}: name a directory, e.g. sftp://user@host/srv/chunks`);
  const rootPath = path.startsWith('/~') ? path.slice(1).replace(/\/+$/, '') : path.replace(/\/+$/, '');
  const settings = await connectSettings(url, location, options);
  const pool = new SftpPool(settings, {
    connections: positiveInteger(options.connections, DEFAULT_CONNECTIONS, MAX_CONNECTIONS, 'connections'),
    channelsPerConnection: positiveInteger(options.channelsPerConnection, DEFAULT_CHANNELS_PER_CONNECTION, MAX_CHANNELS_PER_CONNECTION, 'channelsPerConnection'),
  });
  pool.warmUp();
  return new SftpBackend(location, rootPath, pool, options.fsync === true);
}
