/**
 * One timed upload of the store benchmark: a command run as its own process under
 * `/usr/bin/time -f %M`, so our CLI and rclone are measured alike — wall time from spawn
 * to exit (process start, connection setup, existence check, uploads, exit) and the
 * child's peak RSS as the kernel counted it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nowSeconds } from './timing.js';

/** GNU time, for the child's peak RSS (Debian package `time`). */
export const GNU_TIME = '/usr/bin/time';
/** Characters of a failed run's output kept for the report. */
const MAX_OUTPUT_CHARS = 2000;

export interface TimedRun {
  seconds: number;
  /** Peak resident set of the child, or null when GNU time is missing. */
  maxRssBytes: number | null;
  /** Why the run failed (non-zero exit with the tail of its output), or null. */
  error: string | null;
}

/**
 * Runs `command args` with exactly `env` (nothing inherited), waits for it and times it.
 * Output is collected and kept only when the run fails.
 */
export function runTimed(command: string, args: readonly string[], env: Readonly<Record<string, string>>): Promise<TimedRun> {
  const measured = existsSync(GNU_TIME);
  const scratch = mkdtempSync(join(tmpdir(), 'chunker-bench-time-'));
  const rssFile = join(scratch, 'rss');
  const argv = measured ? ['-f', '%M', '-o', rssFile, command, ...args] : [...args];
  return new Promise((resolve) => {
    const start = nowSeconds();
    const child = spawn(measured ? GNU_TIME : command, argv, { env: { ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (text: string) => {
      output = (output + text).slice(-MAX_OUTPUT_CHARS);
    };
    child.stdout.setEncoding('utf8').on('data', collect);
    child.stderr.setEncoding('utf8').on('data', collect);
    const finish = (error: string | null) => {
      const seconds = nowSeconds() - start;
      let maxRssBytes: number | null = null;
      try {
        const kilobytes = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
        if (Number.isFinite(kilobytes) && kilobytes > 0) maxRssBytes = kilobytes * 1024;
      } catch {
        // GNU time missing or killed before writing.
      }
      rmSync(scratch, { recursive: true, force: true });
      resolve({ seconds, maxRssBytes, error });
    };
    child.once('error', (error) => finish(`cannot run ${command}: ${error.message}`));
    child.once('close', (code, signal) => {
      finish(code === 0 ? null : `${command} exited with ${code ?? signal}: ${output.trim()}`);
    });
  });
}
