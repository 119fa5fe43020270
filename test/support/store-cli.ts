/**
 * Driving the built CLI's store and sync commands against a store named only by its URL,
 * so the same tests run against any backend: a target supplies the URL and, where it
 * needs them, extra node arguments or environment (e.g. S3 credentials).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CLI_PATH } from './paths.js';

export interface StoreTarget {
  /** A store URL; each call of the factory should give an empty store. */
  readonly url: string;
  /** Arguments for node before the CLI path (e.g. `--import` of a preload). */
  readonly nodeArgs?: readonly string[];
  /** Extra environment for the CLI (e.g. AWS_* for an S3 server). */
  readonly env?: Readonly<Record<string, string>>;
  teardown?(): Promise<void>;
}

export interface CliRun {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/** Starts the CLI; the caller reads its streams and waits for `exit`. */
export function spawnCli(target: StoreTarget, args: readonly string[]): ChildProcess {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run npm run build:ts first`);
  return spawn(process.execPath, [...(target.nodeArgs ?? []), CLI_PATH, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...target.env },
  });
}

/** Runs the CLI to completion, feeding `input` to its stdin. */
export async function runStoreCli(target: StoreTarget, args: readonly string[], input?: Uint8Array): Promise<CliRun> {
  const child = spawnCli(target, args);
  const stdout: Buffer[] = [];
  let stderr = '';
  child.stdout!.on('data', (part: Buffer) => stdout.push(part));
  child.stderr!.setEncoding('utf8').on('data', (part: string) => (stderr += part));
  child.stdin!.end(input);
  const [status, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, killedBy) => resolve([code, killedBy]));
  });
  return { status, signal, stdout: Buffer.concat(stdout), stderr };
}

/** `store ls` as a map of name → size; fails the caller's test on a non-zero exit. */
export async function listStore(target: StoreTarget, prefix = ''): Promise<Map<string, number>> {
  const run = await runStoreCli(target, ['store', 'ls', target.url, ...(prefix === '' ? [] : [prefix])]);
  if (run.status !== 0) throw new Error(`store ls failed (${run.status}): ${run.stderr}`);
  const sizes = new Map<string, number>();
  for (const line of run.stdout.toString('utf8').split('\n')) {
    if (line === '') continue;
    const tab = line.indexOf('\t');
    sizes.set(line.slice(tab + 1), Number(line.slice(0, tab)));
  }
  return sizes;
}

/** The numbers of sync's summary line on stderr. */
export function parseSyncSummary(stderr: string): { uploaded: number; skipped: number; resumed: number; total: number } {
  const match = /sync: (?:would upload|uploaded) (\d+) objects .*?, skipped (\d+) already stored(?: \((\d+) confirmed from the journal\))?, (?:\d+ failed, )?(\d+) objects/.exec(stderr);
  if (match === null) throw new Error(`no sync summary in:\n${stderr}`);
  return { uploaded: Number(match[1]), skipped: Number(match[2]), resumed: Number(match[3] ?? 0), total: Number(match[4]) };
}
