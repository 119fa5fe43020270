/**
 * Peer command-line tools timed on the same files as our code (DESIGN.md: peers run in
 * the same run, so results are ratios). A peer's time is the wall clock of one process
 * over all the files, best of `reps` runs, page cache warm.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { megabytesPerSecond, nowSeconds } from './timing.js';

export interface PeerSpec {
  name: string;
  command: string;
  args: readonly string[];
  versionArgs: readonly string[];
}

export interface PeerFigure {
  name: string;
  commandLine: string;
  available: boolean;
  version: string | null;
  bytes: number;
  /** Seconds of every run; the figure uses the fastest. */
  runs: number[];
  seconds: number;
  megabytesPerSecond: number;
  error: string | null;
}

export const PEERS: readonly PeerSpec[] = [
  { name: 'openssl dgst -sha256', command: 'openssl', args: ['dgst', '-sha256'], versionArgs: ['version'] },
  { name: 'b3sum --num-threads 1', command: 'b3sum', args: ['--num-threads', '1'], versionArgs: ['--version'] },
];

export function findExecutable(command: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return null;
}

function version(spec: PeerSpec): string | null {
  const result = spawnSync(spec.command, spec.versionArgs, { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim().split('\n')[0] ?? null : null;
}

export function timePeer(spec: PeerSpec, files: readonly string[], bytes: number, reps: number): PeerFigure {
  const commandLine = `${spec.command} ${spec.args.join(' ')} FILES…`;
  const figure: PeerFigure = {
    name: spec.name,
    commandLine,
    available: findExecutable(spec.command) !== null,
    version: null,
    bytes,
    runs: [],
    seconds: Number.NaN,
    megabytesPerSecond: Number.NaN,
    error: null,
  };
  if (!figure.available) {
    figure.error = `${spec.command} not found on PATH`;
    return figure;
  }
  figure.version = version(spec);
  for (let rep = 0; rep < reps; rep++) {
    const start = nowSeconds();
    const result = spawnSync(spec.command, [...spec.args, ...files], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    const seconds = nowSeconds() - start;
    if (result.status !== 0) {
      figure.error = `${spec.command} exited with ${result.status ?? result.signal}: ${(result.stderr ?? '').trim()}`;
      return figure;
    }
    figure.runs.push(seconds);
  }
  figure.seconds = Math.min(...figure.runs);
  figure.megabytesPerSecond = megabytesPerSecond(bytes, figure.seconds);
  return figure;
}
