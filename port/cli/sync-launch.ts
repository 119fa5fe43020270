/**
 * `chunker sync` as the main thread starts it: in a worker thread with a small young
 * generation when the tree holds many small files, else in this thread.
 *
 * Why (worker-command.ts has the V8 side): uploading many small objects keeps V8 running
 * full GCs back to back in a default-sized heap; in the worker they are gone and the
 * upload takes 20–35% less CPU (2000 chunks of ~80 KB over SFTP: 3.0 s → 2.3 s). For a
 * few large objects there is nothing to win and two costs: starting the worker (about
 * 60 ms on the benchmark machine, a twentieth of uploading 245 MiB of NARs), and full
 * GCs that the small young generation brings on while large buffers are in flight (5
 * instead of 1 for those NARs). Which case a tree is, a look at its first files tells:
 * sampling stops after WORKER_MIN_FILES regular files, so a huge tree costs a few
 * milliseconds like a small one.
 *
 * This module loads nothing of the upload engine, so the worker starts at once instead of
 * after the main thread has loaded the same modules for nothing.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type ArgSpec } from './args.js';
import type { SyncJob } from './sync-command.js';
import { runInWorker } from './worker-command.js';

/** The options of `chunker sync` (sync-command.ts reads them). */
export const SYNC_ARGS: ArgSpec = {
  values: ['transfers', 'checkers', 'bwlimit', 'max-memory', 'stats', 'state-dir'],
  flags: ['progress', 'no-check-dest', 'dry-run'],
};

/** Fewest files, and largest mean file size, for which the upload runs in a worker. */
export const WORKER_MIN_FILES = 256;
export const WORKER_MAX_MEAN_FILE_BYTES = 1024 * 1024;

/**
 * The count and total size of the first `limit` regular files under `root` (fewer when
 * the tree holds fewer), directories read breadth first. Entries that vanish are skipped.
 */
export function sampleFiles(root: string, limit: number): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const directories = [root];
  for (let next = 0; next < directories.length && files < limit; next++) {
    let entries;
    try {
      entries = readdirSync(directories[next]!, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(directories[next]!, entry.name);
      if (entry.isDirectory()) directories.push(path);
      else if (entry.isFile() && files < limit) {
        try {
          bytes += lstatSync(path).size;
          files++;
        } catch {
          // Gone since the readdir: the walk proper will say so, or not see it either.
        }
      }
    }
  }
  return { files, bytes };
}

/** Whether `chunker sync argv` should upload in a worker; a malformed command line is left to the sync to report. */
export function syncWantsWorker(argv: readonly string[]): boolean {
  let source: string | undefined;
  try {
    const { positionals } = parseArgs(argv, SYNC_ARGS);
    if (positionals.length === 2) source = positionals[0];
  } catch {
    return false;
  }
  if (source === undefined) return false;
  const { files, bytes } = sampleFiles(source, WORKER_MIN_FILES);
  return files >= WORKER_MIN_FILES && bytes / files <= WORKER_MAX_MEAN_FILE_BYTES;
}

export async function syncCommand(argv: readonly string[]): Promise<void> {
  if (!syncWantsWorker(argv)) {
    await (await import('./sync-command.js')).syncInThisThread(argv);
    return;
  }
  const job: SyncJob = { argv: [...argv], stderr: { isTTY: process.stderr.isTTY === true, columns: process.stderr.columns } };
  await runInWorker(new URL('./sync-worker.js', import.meta.url), job);
}
