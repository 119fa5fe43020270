/**
 * The Elixir section of `npm run bench`: the same corpus through the real Elixir wrapper
 * (bench/elixir/port_bench.exs under `mix run`), set against the in-process TypeScript
 * engine on the same bytes in this process.
 *
 * - feed: Chunker.open/feed/continue/finish over pieces of FEED_PIECE_BYTES versus the
 *   engine's openSession/feed/resume/finish over the same pieces (reads excluded on both
 *   sides), metadata-only replies (offset, length, SHA-256).
 * - chunk_file: Chunker.chunk_file/2 (the port reads the file) versus the engine reading
 *   the file itself ("chunk+sha256 from file", bench/from-file.ts).
 * - scheduler latency: the probe's p50/p99/max lateness idle, during full-speed ingestion
 *   through the pool, and while the BEAM hashes the same bytes with :crypto.hash/2.
 * - the same probe once more with a pool that leaves a core to the BEAM (README, "Keeping
 *   the BEAM responsive"): one port fewer than the cores, no hashing helper threads, and
 *   the BEAM's schedulers not busy-waiting (headroomErlFlags).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { feed, finish, openSession, resume } from '../port/engine/chunk-session.js';
import { runToCompletion } from './session-steps.js';
import { readPieces } from './corpus-reader.js';
import { timeFromFile } from './from-file.js';
import { packageRoot } from './report.js';
import { megabytesPerSecond, nowSeconds } from './timing.js';
import { MIB } from './units.js';

/** Piece size handed to Chunker.feed/2: a typical upload buffer, well under one request's slice. */
export const FEED_PIECE_BYTES = 4 * MIB;

/**
 * VM flags and application settings of the headroom run: ports on all cores but one, each
 * program scanning and hashing on its one thread, and schedulers that sleep at once when
 * out of work instead of spinning on a core the ports need.
 */
export const HEADROOM_VM_FLAGS = '+sbwt none +sbwtdcpu none +sbwtdio none';

export function headroomErlFlags(cores: number): string {
  const ports = Math.max(1, cores - 1);
  return `-chunker pool_size ${ports} -chunker hash_threads 0 ${HEADROOM_VM_FLAGS}`;
}

export interface LatencyFigure {
  samples: number;
  p50_us?: number;
  p99_us?: number;
  max_us?: number;
  /** Corpus throughput while the probe ran (ingest and crypto only). */
  mb_per_s?: number;
}

export interface ElixirFigures {
  available: boolean;
  /** Why the section did not run (mix missing, the script failed). */
  error: string | null;
  otpRelease: string | null;
  poolSize: number | null;
  feed: { elixirMBps: number; typescriptMBps: number; ratio: number } | null;
  chunkFile: { elixirMBps: number; typescriptMBps: number; ratio: number } | null;
  latency: { idle: LatencyFigure; ingest: LatencyFigure; crypto: LatencyFigure } | null;
  /** The probe with a pool that leaves a core to the BEAM; null when that run failed. */
  headroom: {
    erlFlags: string;
    poolSize: number;
    /** Hash helper threads of all its ports, as they reported them (the environment can override the setting). */
    hashThreads: number;
    idle: LatencyFigure;
    ingest: LatencyFigure;
  } | null;
}

interface LatencyScriptResult {
  pool_size: number;
  hash_threads: number;
  bytes: number;
  latency: { idle: LatencyFigure; ingest: LatencyFigure };
}

interface ScriptResult {
  otp_release: string;
  pool_size: number;
  bytes: number;
  feed_seconds: number;
  chunk_file_seconds: number;
  latency: { idle: LatencyFigure; ingest: LatencyFigure; crypto: LatencyFigure };
}

function unavailable(error: string): ElixirFigures {
  return { available: false, error, otpRelease: null, poolSize: null, feed: null, chunkFile: null, latency: null, headroom: null };
}

/** Seconds the in-process engine spends on `files` fed in pieces (reads not counted). */
function typescriptFeedSeconds(files: readonly string[], pieceBuffer: Buffer): number {
  let seconds = 0;
  for (const path of files) {
    let state = openSession({});
    for (const piece of readPieces(path, pieceBuffer)) {
      const started = nowSeconds();
      state = runToCompletion(feed(state, piece.bytes), resume).state;
      if (piece.last) runToCompletion(finish(state), resume);
      seconds += nowSeconds() - started;
    }
  }
  return seconds;
}

/** Runs port_bench.exs with `extraArgs`, the BEAM started with `erlFlags` (ERL_FLAGS) if given. */
function runScript<Result>(files: readonly string[], extraArgs: readonly string[], erlFlags?: string): Result {
  const dir = mkdtempSync(join(tmpdir(), 'chunker-bench-elixir-'));
  try {
    const out = join(dir, 'result.json');
    const script = join(packageRoot(), 'bench', 'elixir', 'port_bench.exs');
    const args = ['run', script, '--', '--piece-bytes', String(FEED_PIECE_BYTES), ...extraArgs, '--out', out, ...files];
    const env = erlFlags === undefined ? process.env : { ...process.env, ERL_FLAGS: erlFlags };
    // stderr carries the script's progress (and mix's compile output) straight to the terminal.
    const run = spawnSync('mix', args, { cwd: join(packageRoot(), 'elixir'), env, stdio: ['ignore', 'ignore', 'inherit'] });
    if (run.error !== undefined) throw new Error(`could not run mix: ${run.error.message}`);
    if (run.status !== 0) throw new Error(`mix run port_bench.exs exited with status ${run.status ?? run.signal}`);
    return JSON.parse(readFileSync(out, 'utf8')) as Result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function measureElixir(files: readonly string[], passes: number, pieceBuffer: Buffer): ElixirFigures {
  if (spawnSync('mix', ['--version'], { stdio: 'ignore' }).status !== 0) {
    return unavailable('mix is not on PATH (install elixir: .ci/packages.sh test)');
  }
  if (pieceBuffer.length !== FEED_PIECE_BYTES) throw new RangeError(`the piece buffer must be ${FEED_PIECE_BYTES} bytes`);
  const bytes = files.reduce((sum, path) => sum + statSync(path).size, 0);

  let feedSeconds = Infinity;
  for (let pass = 0; pass < passes; pass++) feedSeconds = Math.min(feedSeconds, typescriptFeedSeconds(files, pieceBuffer));
  let fromFileSeconds = Infinity;
  for (let pass = 0; pass < passes; pass++) {
    fromFileSeconds = Math.min(fromFileSeconds, timeFromFile('chunk', 'sha256', files, pieceBuffer, 1).seconds);
  }

  let result: ScriptResult;
  try {
    result = runScript<ScriptResult>(files, ['--passes', String(passes)]);
  } catch (error) {
    return unavailable((error as Error).message);
  }
  if (result.bytes !== bytes) return unavailable(`the script chunked ${result.bytes} bytes, expected ${bytes}`);

  const erlFlags = headroomErlFlags(availableParallelism());
  let headroom: ElixirFigures['headroom'] = null;
  try {
    const run = runScript<LatencyScriptResult>(files, ['--latency-only'], erlFlags);
    if (run.bytes === bytes) headroom = { erlFlags, poolSize: run.pool_size, hashThreads: run.hash_threads, ...run.latency };
  } catch (error) {
    process.stderr.write(`  elixir: the headroom latency run failed: ${(error as Error).message}\n`);
  }

  const pair = (elixirSeconds: number, typescriptSeconds: number) => {
    const elixirMBps = megabytesPerSecond(bytes, elixirSeconds);
    const typescriptMBps = megabytesPerSecond(bytes, typescriptSeconds);
    return { elixirMBps, typescriptMBps, ratio: elixirMBps / typescriptMBps };
  };
  return {
    available: true,
    error: null,
    otpRelease: result.otp_release,
    poolSize: result.pool_size,
    feed: pair(result.feed_seconds, feedSeconds),
    chunkFile: pair(result.chunk_file_seconds, fromFileSeconds),
    latency: result.latency,
    headroom,
  };
}
