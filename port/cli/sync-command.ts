/** `chunker sync SRC_DIR URL`: upload a directory of objects, like `rclone copy`. */
import { setMaxListeners } from 'node:events';
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ChunkerError } from '../errors.js';
import type { StoreBackend } from '../store/backend.js';
import { openStore } from '../store/open-store.js';
import { parseBandwidth, UNLIMITED_BANDWIDTH } from '../store/wrappers/bandwidth.js';
import { DEFAULT_CHECKERS } from '../transfer/existence.js';
import { listDirectoryObjects } from '../transfer/directory-objects.js';
import { DEFAULT_MEMORY_BUDGET_BYTES, DEFAULT_TRANSFERS, PIPELINED_OBJECTS_PER_SLOT, UploadError, uploadObjects, type UploadSummary } from '../transfer/upload.js';
import { composeUploadStore } from '../transfer/upload-store.js';
import { parseArgs, parseByteSize, parseDuration, parseInteger, UsageError } from './args.js';
import { writeOut } from './output.js';
import { formatBytes, formatDuration, ProgressDisplay, type ProgressStream } from './progress-display.js';
import { SYNC_ARGS } from './sync-launch.js';

export const SYNC_USAGE = `chunker sync SRC_DIR URL [--transfers N] [--checkers N] [--bwlimit RATE] [--max-memory SIZE]
                        [--progress] [--stats DURATION] [--state-dir DIR] [--no-check-dest] [--dry-run]
  Uploads every regular file under SRC_DIR to the store at URL, named by its path relative
  to SRC_DIR (like rclone copy; symbolic links are not followed). Objects the store already
  holds with the same size are skipped; the rest go in parallel and are verified by size.
  An interrupted or failed run keeps a journal in the state dir, and the same command run
  again sends only what is missing. A summary goes to stderr.
  --transfers N      most uploads at once (default ${DEFAULT_TRANSFERS}); fewer while the store shows errors or slows down
  --checkers N       existence checks at once (default ${DEFAULT_CHECKERS})
  --bwlimit RATE     upload and download bytes/s: 512K, 10M, 1.5G (binary; bare number = KiB/s) or off (default)
  --max-memory SIZE  object bytes held in memory at once (default ${DEFAULT_MEMORY_BUDGET_BYTES / 1024 / 1024}M); puts that stream
                     hold a few MiB each, whatever the object's size
  --progress         show progress on stderr: one line redrawn on a terminal, else a line every --stats
  --stats DURATION   time between progress lines when stderr is not a terminal (default 5s; 0 = none)
  --state-dir DIR    where the resume journal lives (default $XDG_STATE_HOME/chunker/sync,
                     else ~/.local/state/chunker/sync)
  --no-check-dest    skip the existence check: resume from the journal, send everything else
  --dry-run          print the names that would be uploaded (stdout), send nothing`;

/** Abort listeners one object's operation adds to the sync's signal at most (queue, deadline, backend). */
const LISTENERS_PER_OBJECT = 4;

/** Progress lines on a non-terminal stderr come this often by default (rclone prints every minute). */
export const DEFAULT_STATS_INTERVAL_MS = 5000;

export interface SyncSettings {
  readonly transfers: number;
  readonly checkers: number;
  readonly bandwidthBytesPerSecond: number;
  readonly memoryBudgetBytes: number;
  readonly progress: boolean;
  readonly statsIntervalMs: number;
  readonly stateDir: string;
  readonly checkExisting: boolean;
  readonly dryRun: boolean;
}

export interface SyncIo {
  readonly stderr: ProgressStream;
  readonly stdout: (text: string) => Promise<void>;
  readonly signal?: AbortSignal;
}

/** `$XDG_STATE_HOME/chunker/sync`, or `~/.local/state/chunker/sync` (the XDG default). */
export function defaultStateDir(): string {
  const base = process.env.XDG_STATE_HOME;
  return join(base !== undefined && isAbsolute(base) ? base : join(homedir(), '.local', 'state'), 'chunker', 'sync');
}

function positive(name: string, text: string): number {
  const value = parseInteger(name, text);
  if (value < 1) throw new UsageError(`--${name} must be at least 1`);
  return value;
}

export function parseSyncArgs(argv: readonly string[]): { source: string; url: string; settings: SyncSettings } {
  const args = parseArgs(argv, SYNC_ARGS);
  if (args.positionals.length !== 2) throw new UsageError(`sync needs SRC_DIR and URL\n${SYNC_USAGE}`);
  const [source, url] = args.positionals as [string, string];
  const { values, flags } = args;
  const bwlimit = values.get('bwlimit');
  let bandwidthBytesPerSecond = UNLIMITED_BANDWIDTH;
  if (bwlimit !== undefined) {
    try {
      bandwidthBytesPerSecond = parseBandwidth(bwlimit);
    } catch (error) {
      throw new UsageError(`--bwlimit: ${(error as Error).message}`);
    }
  }
  const memory = values.get('max-memory');
  return {
    source,
    url,
    settings: {
      transfers: values.has('transfers') ? positive('transfers', values.get('transfers')!) : DEFAULT_TRANSFERS,
      checkers: values.has('checkers') ? positive('checkers', values.get('checkers')!) : DEFAULT_CHECKERS,
      bandwidthBytesPerSecond,
      memoryBudgetBytes: memory === undefined ? DEFAULT_MEMORY_BUDGET_BYTES : Math.max(1, parseByteSize('max-memory', memory)),
      progress: flags.has('progress'),
      statsIntervalMs: values.has('stats') ? parseDuration('stats', values.get('stats')!) : DEFAULT_STATS_INTERVAL_MS,
      stateDir: resolve(values.get('state-dir') ?? defaultStateDir()),
      checkExisting: !flags.has('no-check-dest'),
      dryRun: flags.has('dry-run'),
    },
  };
}

function summaryLine(summary: UploadSummary, failed: number): string {
  const resumed = summary.objectsResumed > 0 ? ` (${summary.objectsResumed} confirmed from the journal)` : '';
  const verb = summary.dryRun ? 'would upload' : 'uploaded';
  const count = summary.dryRun ? summary.planned.length : summary.objectsUploaded;
  return (
    `sync: ${verb} ${count} objects (${formatBytes(summary.bytesUploaded)}), ` +
    `skipped ${summary.objectsSkipped} already stored${resumed}, ${failed > 0 ? `${failed} failed, ` : ''}` +
    `${summary.objectsTotal} objects (${formatBytes(summary.bytesTotal)}) in all; ` +
    `${formatBytes(summary.bytesPerSecond)}/s, ${formatDuration(summary.elapsedMs / 1000)}\n`
  );
}

async function checkSourceDirectory(path: string): Promise<void> {
  try {
    if (!(await stat(path)).isDirectory()) throw new ChunkerError('invalid_argument', `${path} is not a directory`);
  } catch (error) {
    if (error instanceof ChunkerError) throw error;
    const { code, message } = error as NodeJS.ErrnoException;
    throw new ChunkerError(code === 'ENOENT' ? 'not_found' : 'io_error', message);
  }
}

/** Runs a sync of `source` into `backend` (which stays open); prints the summary to `io.stderr`. */
export async function runSync(backend: StoreBackend, source: string, settings: SyncSettings, io: SyncIo): Promise<UploadSummary> {
  const root = resolve(source);
  await checkSourceDirectory(root);
  const fromRoot = relative(root, settings.stateDir);
  const insideRoot = fromRoot !== '' && fromRoot.split(sep)[0] !== '..' && !isAbsolute(fromRoot);
  const { objects, ignored } = await listDirectoryObjects(root, { exclude: insideRoot ? [settings.stateDir] : [] });
  if (ignored.length > 0) {
    io.stderr.write(`sync: not sent, as they are not regular files: ${ignored.slice(0, 5).join(', ')}${ignored.length > 5 ? ` and ${ignored.length - 5} more` : ''}\n`);
  }
  const { store, limit } = composeUploadStore(backend, { transfers: settings.transfers, bandwidthBytesPerSecond: settings.bandwidthBytesPerSecond });
  const display = settings.progress ? new ProgressDisplay(io.stderr, settings.statsIntervalMs) : undefined;
  try {
    const summary = await uploadObjects(store, objects, {
      limit,
      checkers: settings.checkers,
      memoryBudgetBytes: settings.memoryBudgetBytes,
      checkExisting: settings.checkExisting,
      stateDir: settings.stateDir,
      journalKey: `sync\n${root}\n${backend.location}`,
      dryRun: settings.dryRun,
      onProgress: display === undefined ? undefined : (progress) => display.update(progress),
      signal: io.signal,
    });
    if (summary.dryRun && summary.planned.length > 0) await io.stdout(`${summary.planned.join('\n')}\n`);
    io.stderr.write(summaryLine(summary, 0));
    return summary;
  } catch (error) {
    display?.finish();
    if (error instanceof UploadError) io.stderr.write(summaryLine(error.summary, error.failures.length));
    throw error;
  }
}

/** What the sync worker (sync-worker.ts) is started with: the command line, unchecked. */
export interface SyncJob {
  readonly argv: readonly string[];
  /** The process's stderr, which the worker cannot see: its own is a pipe to the main thread. */
  readonly stderr: { readonly isTTY: boolean; readonly columns: number | undefined };
}

/**
 * `chunker sync` in the thread that calls it: checks the command line, opens the store,
 * syncs, closes. `signal` is the user's Ctrl-C.
 */
async function runSyncCommand(argv: readonly string[], stderr: ProgressStream, signal: AbortSignal): Promise<void> {
  const { source, url, settings } = parseSyncArgs(argv);
  const backend = await openStore(url);
  // Each object in flight or opened ahead listens to the signal in a few layers (queue,
  // deadline, backend), well past Node's leak-warning threshold of 10 listeners per signal.
  setMaxListeners(LISTENERS_PER_OBJECT * (settings.transfers * (1 + PIPELINED_OBJECTS_PER_SLOT) + settings.checkers), signal);
  try {
    await runSync(backend, source, settings, { stderr, stdout: writeOut, signal });
  } finally {
    await backend.close();
  }
}

/** The reason the sync's signal aborts with on Ctrl-C: uploads in flight are abandoned, the journal is kept. */
export const interruptedSync = (): ChunkerError => new ChunkerError('aborted', 'interrupted; run the same command again to resume');

/** The sync worker's work (see sync-launch.ts). */
export function runSyncJob(job: SyncJob, signal: AbortSignal): Promise<void> {
  return runSyncCommand(job.argv, { ...job.stderr, write: (text) => process.stderr.write(text) }, signal);
}

/** `chunker sync` in the main thread (see sync-launch.ts); the first Ctrl-C stops it cleanly. */
export async function syncInThisThread(argv: readonly string[]): Promise<void> {
  const controller = new AbortController();
  const interrupt = (): void => controller.abort(interruptedSync());
  process.once('SIGINT', interrupt);
  try {
    await runSyncCommand(argv, process.stderr, controller.signal);
  } finally {
    process.off('SIGINT', interrupt);
  }
}
