/** Runs the built CLI (dist/port/cli.js) as a child process, the way users run it. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { CLI_PATH } from './paths.js';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
  stdoutBytes: Buffer;
}

export function runCli(args: string[], input?: Uint8Array): CliResult {
  if (!existsSync(CLI_PATH)) throw new Error(`${CLI_PATH} is missing: run npm run build:ts first`);
  const result = spawnSync(process.execPath, [CLI_PATH, ...args], {
    input,
    maxBuffer: 1 << 30,
  });
  return {
    status: result.status,
    stdout: result.stdout.toString('utf8'),
    stderr: result.stderr.toString('utf8'),
    stdoutBytes: result.stdout,
  };
}
