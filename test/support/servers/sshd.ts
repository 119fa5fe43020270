/**
 * A real OpenSSH server for the SFTP backend tests: `sshd -D -e -f <own config>` on
 * 127.0.0.1 at a free high port, with its own host key, a client key it authorizes, a
 * known_hosts file naming its host key, and a temp root for objects. Everything lives in
 * one temp dir that `stop()` removes after killing the server by PID.
 *
 * Gotchas met on the way (Debian's openssh-server 9.2, tests running as root):
 * - sshd needs its privilege-separation directory `/run/sshd` when started as root, and
 *   must be started by absolute path (it re-executes itself for every connection).
 * - Each connection is served by a child that calls setsid(), so killing the listener does
 *   not end open sessions: `crash()` stops the listener, then kills every descendant
 *   (found through /proc) so that clients really see their connections break.
 * - `StrictModes no` because the temp dir and key files are not in a user's home;
 *   `UsePAM no` because PAM is not configured for an unprivileged-looking session here.
 * - Host and client keys are ed25519, which ssh2 verifies with node:crypto (no native
 *   binding needed).
 * - Picking a port means binding port 0, closing, and letting sshd bind it: another
 *   process can take it in between, so a start that fails to bind is retried on a new port.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const SSHD_PATH = '/usr/sbin/sshd';
const SSH_KEYGEN_PATH = 'ssh-keygen';
const PRIVSEP_DIR = '/run/sshd';
const HOST = '127.0.0.1';
/** How long sshd may take to start listening and send its banner. */
const START_DEADLINE_MS = 15_000;
/** How long killed processes may take to disappear. */
const EXIT_DEADLINE_MS = 10_000;
/** Interval between checks of /proc while waiting for a killed session to exit. */
const EXIT_POLL_INTERVAL_MS = 20;
/** Fresh ports tried when another process grabs the one picked. */
const PORT_ATTEMPTS = 5;

export interface SshdServer {
  readonly host: string;
  readonly port: number;
  /** The login user: whoever runs the tests (root in CI). */
  readonly user: string;
  /** Private key (OpenSSH format) that the server accepts. */
  readonly clientKeyPath: string;
  /** A known_hosts file with the server's host key under `[127.0.0.1]:port`. */
  readonly knownHostsPath: string;
  /** The server's host public key line, `ssh-ed25519 AAAA…`. */
  readonly hostPublicKey: string;
  /** The temp dir holding the keys and config; tests may create files beside them. */
  readonly tempDir: string;
  /** An empty directory for stores, an absolute path on the server. */
  readonly rootDir: string;
  /** `sftp://user@127.0.0.1:port<rootDir>/<path>`. */
  url(path?: string): string;
  /** Kills the listener and every session (as a crash would), keeping all files. */
  crash(): Promise<void>;
  /** Logins the server has accepted since it started (counted from its log). */
  acceptedLogins(): number;
  /** Starts sshd again on the same port after `crash()`. */
  restart(): Promise<void>;
  /** Kills the server by PID and removes the temp dir. */
  stop(): Promise<void>;
}

/** Generates an ed25519 key pair at `path` and `path.pub`; returns the public key line. */
export function generateKey(path: string, comment: string): string {
  const result = spawnSync(SSH_KEYGEN_PATH, ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) {
    throw new Error(`ssh-keygen failed (install openssh-client): ${result.error?.message ?? result.stderr}`);
  }
  return readFileSync(`${path}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
}

/** A port nobody listens on right now (and, most likely, a moment from now). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('could not pick a free port');
  return address.port;
}

function writeConfig(tempDir: string, port: number): string {
  const path = join(tempDir, 'sshd_config');
  const lines = [
    `Port ${port}`,
    `ListenAddress ${HOST}`,
    `HostKey ${join(tempDir, 'host_key')}`,
    `PidFile ${join(tempDir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(tempDir, 'authorized_keys')}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'Subsystem sftp internal-sftp',
    // The pool opens several connections and channels at once.
    'MaxStartups 64',
    'MaxSessions 32',
    'LogLevel INFO',
  ];
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Resolves once sshd logs that it listens, rejects if it exits first or the deadline passes. */
function waitForListening(child: ChildProcess, port: number, log: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const marker = `Server listening on ${HOST} port ${port}.`;
    const timer = setTimeout(() => finish(new Error(`sshd did not listen on port ${port} within ${START_DEADLINE_MS} ms:\n${log()}`)), START_DEADLINE_MS);
    const onData = () => {
      if (log().includes(marker)) finish();
    };
    const onExit = (code: number | null, signal: string | null) =>
      finish(new Error(`sshd exited (${code ?? signal}) before listening on port ${port}:\n${log()}`));
    const finish = (error?: Error) => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (error === undefined) resolve();
      else reject(error);
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    onData();
  });
}

/** Connects and reads the SSH identification line, proving the server really speaks SSH. */
function readBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: HOST, port });
    let received = '';
    const timer = setTimeout(() => finish(new Error(`no SSH banner from port ${port} within ${START_DEADLINE_MS} ms`)), START_DEADLINE_MS);
    const finish = (error?: Error) => {
      clearTimeout(timer);
      socket.destroy();
      if (error === undefined) resolve(received.split('\r\n')[0]!);
      else reject(error);
    };
    socket.on('data', (data: Buffer) => {
      received += data.toString('latin1');
      if (received.includes('\r\n')) {
        if (received.startsWith('SSH-2.0-')) finish();
        else finish(new Error(`port ${port} answered ${JSON.stringify(received)}, not an SSH banner`));
      }
    });
    socket.on('error', (error) => finish(error));
  });
}

function processExists(pid: number): boolean {
  try {
    // A zombie still has a /proc entry but is gone for every purpose here.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Every descendant of `root` (children, their children, …), read from /proc. */
function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the parenthesised command name: state, ppid, …
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const list = children.get(parent) ?? [];
    list.push(Number(entry));
    children.set(parent, list);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

async function waitUntilGone(pids: number[]): Promise<void> {
  const deadline = Date.now() + EXIT_DEADLINE_MS;
  for (;;) {
    const alive = pids.filter(processExists);
    if (alive.length === 0) return;
    if (Date.now() > deadline) throw new Error(`sshd processes ${alive.join(' ')} still alive ${EXIT_DEADLINE_MS} ms after SIGKILL`);
    await new Promise((resolve) => setTimeout(resolve, EXIT_POLL_INTERVAL_MS));
  }
}

class RunningSshd implements SshdServer {
  readonly host = HOST;
  readonly user = userInfo().username;
  readonly clientKeyPath: string;
  readonly knownHostsPath: string;
  readonly rootDir: string;
  private child: ChildProcess | undefined;
  private log = '';
  private partialLine = '';
  private logins = 0;

  constructor(
    readonly tempDir: string,
    readonly hostPublicKey: string,
    public port: number,
  ) {
    this.clientKeyPath = join(tempDir, 'client_key');
    this.knownHostsPath = join(tempDir, 'known_hosts');
    this.rootDir = join(tempDir, 'root');
  }

  url(path = ''): string {
    return `sftp://${this.user}@${HOST}:${this.port}${this.rootDir}${path === '' ? '' : `/${path}`}`;
  }

  /** Starts sshd on `this.port`; resolves when it answers with an SSH banner. */
  async start(): Promise<void> {
    const config = writeConfig(this.tempDir, this.port);
    writeFileSync(this.knownHostsPath, `[${HOST}]:${this.port} ${this.hostPublicKey}\n`);
    this.log = '';
    const child = spawn(SSHD_PATH, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      // Keep the tail only: a long test logs a line per connection.
      this.log = (this.log + text).slice(-16_384);
      const lines = (this.partialLine + text).split('\n');
      this.partialLine = lines.pop()!;
      this.logins += lines.filter((line) => line.startsWith('Accepted publickey for ')).length;
    });
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (error) => reject(new Error(`cannot run ${SSHD_PATH} (install openssh-server): ${error.message}`)));
    });
    await spawned;
    try {
      await waitForListening(child, this.port, () => this.log);
      await readBanner(this.port);
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  acceptedLogins(): number {
    return this.logins;
  }

  /** Whether the last failed start was a port somebody else took. */
  portWasTaken(): boolean {
    return this.log.includes('Address already in use');
  }

  async crash(): Promise<void> {
    await this.kill();
  }

  async restart(): Promise<void> {
    if (this.child !== undefined) throw new Error('sshd is still running; crash() it first');
    await this.start();
  }

  async stop(): Promise<void> {
    await this.kill();
    await rm(this.tempDir, { recursive: true, force: true });
  }

  /**
   * Stops the listener first (SIGSTOP: no new connection is accepted while the sessions
   * are collected), then SIGKILLs every session process and the listener.
   */
  private async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    const pid = child.pid!;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killQuietly(pid, 'SIGSTOP');
    const sessions = descendantsOf(pid);
    for (const session of sessions) killQuietly(session, 'SIGKILL');
    killQuietly(pid, 'SIGKILL');
    await exited;
    await waitUntilGone(sessions);
  }
}

/**
 * Starts a fresh sshd with its own keys and temp root (a new directory under `parent`);
 * call `stop()` in afterAll.
 */
export async function startSshd(parent: string = tmpdir()): Promise<SshdServer> {
  try {
    mkdirSync(PRIVSEP_DIR, { recursive: true, mode: 0o755 });
  } catch (error) {
    // Only root needs it, and only root can create it.
    if ((error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
  }
  const tempDir = await mkdtemp(join(parent, 'chunker-sshd-'));
  try {
    const hostPublicKey = generateKey(join(tempDir, 'host_key'), 'chunker-test-host');
    const clientPublicKey = generateKey(join(tempDir, 'client_key'), 'chunker-test-client');
    writeFileSync(join(tempDir, 'authorized_keys'), `${clientPublicKey}\n`);
    await mkdir(join(tempDir, 'root'));
    for (let attempt = 1; ; attempt++) {
      const server = new RunningSshd(tempDir, hostPublicKey, await freePort());
      try {
        await server.start();
        return server;
      } catch (error) {
        if (!server.portWasTaken() || attempt >= PORT_ATTEMPTS) throw error;
      }
    }
  } catch (error) {
    await rm(tempDir, { recursive: true, force: true });
    throw error;
  }
}

export interface SshAgent {
  /** The agent's socket, for SSH_AUTH_SOCK or the sftp `agent` option. */
  readonly socketPath: string;
  /** Kills the agent by PID. */
  stop(): Promise<void>;
}

/** Starts `ssh-agent -D` on a socket in `dir` and adds `keyPath` to it. */
export async function startSshAgent(dir: string, keyPath: string): Promise<SshAgent> {
  const socketPath = join(dir, 'agent.sock');
  const child = spawn('ssh-agent', ['-D', '-a', socketPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      killQuietly(child.pid!, 'SIGTERM');
      await exited;
    }
  };
  try {
    // The agent prints its environment line once the socket is bound.
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`ssh-agent did not start within ${START_DEADLINE_MS} ms: ${output}`)), START_DEADLINE_MS);
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (text: string) => {
        output += text;
        if (output.includes('SSH_AUTH_SOCK=')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('error', (error) => reject(new Error(`cannot run ssh-agent (install openssh-client): ${error.message}`)));
      child.once('exit', () => reject(new Error(`ssh-agent exited early: ${output}`)));
    });
    const added = spawnSync('ssh-add', [keyPath], { env: { ...process.env, SSH_AUTH_SOCK: socketPath }, encoding: 'utf8' });
    if (added.status !== 0) throw new Error(`ssh-add failed: ${added.stderr}`);
    return { socketPath, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
