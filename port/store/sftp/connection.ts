/**
 * One SSH connection (ssh2 `Client`) carrying SFTP channels: connects, checks the host
 * key against known_hosts before authenticating, and reports its own death to every
 * channel on it.
 */
import { readFile } from 'node:fs/promises';
// ssh2 is CommonJS; Node's ESM loader offers only its default export.
import ssh2, { type Client, type ConnectConfig, type ServerHostKeyAlgorithm } from 'ssh2';
import type { ChunkerError } from '../../errors.js';
import { storeError } from '../backend.js';
import { connectBatchingSocket } from './batching-socket.js';
import { SftpChannel } from './channel.js';
import { translateSftpError } from './errors.js';
import { checkHostKey, keyFingerprint, keyTypeOf, knownHostName, parseKnownHosts, preferredHostKeyAlgorithms } from './known-hosts.js';

/** Seconds of silence before ssh2 probes the server, and probes left unanswered before it gives up. */
const KEEPALIVE_INTERVAL_MS = 15_000;
const KEEPALIVE_COUNT_MAX = 3;
/** How long a closing connection may take to say goodbye before its socket is destroyed. */
const CLOSE_GRACE_MS = 2_000;

export interface ConnectSettings {
  /** The store URL without secrets, for messages. */
  readonly location: string;
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly privateKey?: Buffer;
  readonly passphrase?: string;
  /** ssh-agent socket path. */
  readonly agent?: string;
  /** known_hosts file; undefined only when host key checking is explicitly off. */
  readonly knownHostsFile: string | undefined;
  /** Deadline for TCP connect, handshake and authentication. */
  readonly connectTimeoutMs: number;
}

async function readKnownHosts(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw storeError('store_config', `Cannot read known_hosts file ${path}: ${(error as Error).message}`);
  }
}

/** The ssh2 host verifier for `settings`, and the error it rejected the host with (if any). */
async function hostKeyCheck(settings: ConnectSettings): Promise<{ config: Partial<ConnectConfig>; rejection: () => ChunkerError | undefined }> {
  const file = settings.knownHostsFile;
  if (file === undefined) return { config: { hostVerifier: () => true }, rejection: () => undefined };
  const lines = parseKnownHosts(await readKnownHosts(file));
  const name = knownHostName(settings.host, settings.port);
  let rejected: ChunkerError | undefined;
  const hostVerifier = (key: Buffer): boolean => {
    const verdict = checkHostKey(lines, settings.host, settings.port, key);
    if (verdict.kind === 'trusted') return true;
    const offered = `${keyTypeOf(key)} key ${keyFingerprint(key)}`;
    let message: string;
    if (verdict.kind === 'changed') {
      const known = verdict.known.map((line) => `${keyFingerprint(line.key)} (${file}:${line.line})`).join(', ');
      message = `Host key for ${name} has CHANGED: the server offered ${offered} but ${file} has ${known}. Someone may be intercepting the connection; if the key was replaced on purpose, fix ${file}`;
    } else if (verdict.kind === 'revoked') {
      message = `Host key for ${name} (${offered}) is marked @revoked in ${file}:${verdict.line}`;
    } else {
      const types = verdict.knownTypes.length > 0 ? ` (it knows only ${verdict.knownTypes.join(', ')} keys for it)` : '';
      message =
        `Host ${name} is unknown: its ${offered} is not in ${file}${types}. ` +
        `Add it after checking the fingerprint, e.g. ssh-keyscan -p ${settings.port} ${settings.host} >> ${file}, ` +
        'or set insecureSkipHostKeyCheck';
    }
    rejected = storeError('store_auth', `${settings.location}: ${message}`);
    return false;
  };
  const algorithms = preferredHostKeyAlgorithms(lines, settings.host, settings.port) as ServerHostKeyAlgorithm[];
  const config: Partial<ConnectConfig> = { hostVerifier };
  // ssh2 applies these in key order: drop the known algorithms, then put them first.
  if (algorithms.length > 0) config.algorithms = { serverHostKey: { remove: algorithms, prepend: algorithms, append: [] } };
  return { config, rejection: () => rejected };
}

export class SshConnection {
  private readonly channels = new Set<SftpChannel>();
  private closedBecause: string | undefined;
  private socketClosed = false;
  private readonly closedListeners: Array<() => void> = [];

  private constructor(
    private readonly client: Client,
    private readonly location: string,
  ) {
    client.on('close', () => {
      this.socketClosed = true;
      this.fail('the SSH connection closed');
    });
    client.on('error', (error: Error) => this.fail(`the SSH connection failed: ${error.message}`));
  }

  /** Connects, verifies the host key and authenticates; rejects with a store error. */
  static async connect(settings: ConnectSettings): Promise<SshConnection> {
    const { config: hostConfig, rejection } = await hostKeyCheck(settings);
    const client = new ssh2.Client();
    const config: ConnectConfig = {
      host: settings.host,
      port: settings.port,
      username: settings.username,
      readyTimeout: settings.connectTimeoutMs,
      keepaliveInterval: KEEPALIVE_INTERVAL_MS,
      keepaliveCountMax: KEEPALIVE_COUNT_MAX,
      ...hostConfig,
    };
    if (settings.privateKey !== undefined) config.privateKey = settings.privateKey;
    if (settings.passphrase !== undefined) config.passphrase = settings.passphrase;
    if (settings.agent !== undefined) config.agent = settings.agent;
    // Only the methods there are credentials for: ssh2 would first try 'none', a round
    // trip of every login that no server taking keys accepts.
    config.authHandler = [...(settings.privateKey === undefined ? [] : ['publickey' as const]), ...(settings.agent === undefined ? [] : ['agent' as const])];
    // ssh2 takes over a socket that is connecting: it waits for 'connect' and owns it from there.
    const socket = connectBatchingSocket(settings.host, settings.port);
    config.sock = socket;
    await new Promise<void>((resolve, reject) => {
      const onReady = () => {
        client.off('error', onError);
        resolve();
      };
      const onError = (error: Error) => {
        client.off('ready', onReady);
        client.destroy();
        socket.destroy();
        reject(rejection() ?? translateSftpError(error, settings.location, `connect to ${settings.host}:${settings.port}`));
      };
      client.once('ready', onReady);
      client.once('error', onError);
      try {
        client.connect(config);
      } catch (error) {
        // ssh2 throws synchronously for an unusable private key.
        onError(storeError('store_config', `${settings.location}: ${(error as Error).message}`));
      }
    });
    // SFTP is request/response: Nagle's algorithm would hold back small requests.
    client.setNoDelay(true);
    return new SshConnection(client, settings.location);
  }

  get alive(): boolean {
    return this.closedBecause === undefined;
  }

  get channelCount(): number {
    return this.channels.size;
  }

  /** Calls `listener` once when the connection dies. */
  onClosed(listener: () => void): void {
    if (this.alive) this.closedListeners.push(listener);
    else listener();
  }

  /** Opens one more SFTP channel on this connection. */
  openChannel(): Promise<SftpChannel> {
    return new Promise((resolve, reject) => {
      if (!this.alive) {
        reject(storeError('store_unavailable', `${this.location}: ${this.closedBecause}`));
        return;
      }
      this.client.sftp((error, sftp) => {
        if (error) {
          reject(translateSftpError(error, this.location, 'open an SFTP channel'));
          return;
        }
        const channel = new SftpChannel(sftp, this.location);
        if (!this.alive) {
          channel.fail(this.closedBecause!);
          reject(storeError('store_unavailable', `${this.location}: ${this.closedBecause}`));
          return;
        }
        this.channels.add(channel);
        channel.onClosed(() => this.channels.delete(channel));
        resolve(channel);
      });
    });
  }

  /** Ends the connection; resolves when the socket has closed. */
  close(): Promise<void> {
    this.fail('the store was closed');
    if (this.socketClosed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.client.destroy(), CLOSE_GRACE_MS);
      this.client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.end();
    });
  }

  private fail(reason: string): void {
    if (this.closedBecause !== undefined) return;
    this.closedBecause = reason;
    for (const channel of [...this.channels]) channel.fail(reason);
    for (const listener of this.closedListeners.splice(0)) listener();
  }
}
