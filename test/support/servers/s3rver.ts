/**
 * A real S3-compatible server for the S3 backend tests: npm `s3rver` in a child process
 * (s3rver-launcher.mjs) on 127.0.0.1 at a free port, with its data in a temp directory.
 * `kill` stops it by PID the way a crash would (SIGKILL, data kept), `restart` brings it
 * back on the same port and directory, `stop` kills it and removes the directory.
 *
 * s3rver's credentials are fixed: access key id `S3RVER`, secret `S3RVER`. It rejects an
 * unknown access key id (InvalidAccessKeyId) but does not verify V4 signatures, so a
 * wrong secret is accepted. See s3rver-launcher.mjs for the S3 behaviours added to it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The launcher sits beside this module in the source tree. The benchmark runs this module
 * compiled into dist/test/support/servers/, where tsc copies no .mjs, so it is found back
 * in the source tree from there.
 */
const LAUNCHER = ((): string => {
  const here = dirname(fileURLToPath(import.meta.url));
  const beside = join(here, 's3rver-launcher.mjs');
  return existsSync(beside) ? beside : join(here, '..', '..', '..', '..', 'test', 'support', 'servers', 's3rver-launcher.mjs');
})();

export const S3RVER_ACCESS_KEY_ID = 'S3RVER';
export const S3RVER_SECRET_ACCESS_KEY = 'S3RVER';
/** The region s3rver answers for; any region signs acceptably, this one is S3's default. */
export const S3RVER_REGION = 'us-east-1';

/** How long the server may take to print its port and answer, in milliseconds. */
const START_DEADLINE_MS = 20_000;
/** How long a stopped server may take to exit, in milliseconds. */
const EXIT_DEADLINE_MS = 10_000;
/** Pause between readiness probes, in milliseconds (a poll interval, not a wait). */
const PROBE_INTERVAL_MS = 50;

export interface S3rverServer {
  readonly endpoint: string;
  readonly port: number;
  /** s3rver's data directory (bucket/key._S3rver_object files). */
  readonly directory: string;
  readonly buckets: readonly string[];
  /** PID of the running server process, or null while it is killed. */
  readonly pid: number | null;
  /** SIGKILL by PID, as a crash would; data stays for `restart`. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory and waits until it answers. */
  restart(): Promise<void>;
  /** Kills it and removes its directory. */
  stop(): Promise<void>;
}

interface Running {
  child: ChildProcess;
  port: number;
  exited: Promise<void>;
}

function launch(directory: string, port: number, buckets: readonly string[]): Promise<Running> {
  const child = spawn(process.execPath, ['--openssl-legacy-provider', LAUNCHER, JSON.stringify({ directory, port, buckets })], {
    // stdin stays open and unused: the launcher exits when it closes, so a test process
    // that dies without calling stop() leaves no server behind.
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stdout = '';
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise<Running>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`s3rver did not report its port within ${START_DEADLINE_MS} ms; stderr: ${stderr}`));
    }, START_DEADLINE_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new Error(`could not start s3rver (${process.execPath} ${LAUNCHER}): ${error.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`s3rver exited before listening (code ${code}, signal ${signal}); stderr: ${stderr}`));
    });
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
      const line = stdout.split('\n')[0];
      if (stdout.includes('\n') && line !== undefined) {
        clearTimeout(timer);
        try {
          resolve({ child, port: (JSON.parse(line) as { port: number }).port, exited });
        } catch {
          child.kill('SIGKILL');
          reject(new Error(`s3rver launcher printed ${JSON.stringify(line)} instead of its port`));
        }
      }
    });
  });
}

/** HEAD /bucket without credentials (s3rver allows it); resolves with the HTTP status. */
function probe(port: number, bucket: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'HEAD', path: `/${bucket}`, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('error', reject);
    req.end();
  });
}

async function waitUntilAnswering(port: number, buckets: readonly string[]): Promise<void> {
  const deadline = Date.now() + START_DEADLINE_MS;
  let last = 'no answer';
  for (;;) {
    try {
      const statuses = await Promise.all(buckets.map((bucket) => probe(port, bucket)));
      if (statuses.every((status) => status === 200)) return;
      last = `HEAD bucket statuses ${statuses.join(',')}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`s3rver on port ${port} did not answer within ${START_DEADLINE_MS} ms (${last})`);
    await new Promise((resolve) => setTimeout(resolve, PROBE_INTERVAL_MS));
  }
}

async function killAndWait(running: Running): Promise<void> {
  if (running.child.exitCode === null && running.child.signalCode === null) process.kill(running.child.pid!, 'SIGKILL');
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`s3rver PID ${running.child.pid} did not exit within ${EXIT_DEADLINE_MS} ms`)), EXIT_DEADLINE_MS);
  });
  try {
    await Promise.race([running.exited, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Starts s3rver with `buckets` (valid DNS names) created and waits until it answers; its
 * data lives in a new directory under `parent`.
 */
export async function startS3rver(buckets: readonly string[], parent: string = tmpdir()): Promise<S3rverServer> {
  const directory = await mkdtemp(join(parent, 'chunker-s3rver-'));
  let running: Running | null = null;
  try {
    running = await launch(directory, 0, buckets);
    await waitUntilAnswering(running.port, buckets);
  } catch (error) {
    if (running !== null) await killAndWait(running);
    await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const port = running.port;
  const kill = async (): Promise<void> => {
    if (running === null) return;
    const current = running;
    running = null;
    await killAndWait(current);
  };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    directory,
    buckets,
    get pid() {
      return running?.child.pid ?? null;
    },
    kill,
    async restart() {
      if (running !== null) throw new Error('s3rver is already running');
      running = await launch(directory, port, buckets);
      await waitUntilAnswering(port, buckets);
    },
    async stop() {
      try {
        await kill();
      } finally {
        await rm(directory, { recursive: true, force: true });
      }
    },
  };
}
