/**
 * The store section of `npm run bench`: uploads of the same objects to real servers on
 * 127.0.0.1 by our `chunker sync` and by `rclone copy`, in the same run, with the same
 * --transfers and --checkers (and, for S3, the same multipart settings; store-servers.ts).
 *
 * - Objects (store-objects.ts): "small", distinct corpus chunks of the default preset in
 *   `chunks/xx/<hash>`, and "large", a few whole NARs. Each set is measured on its own.
 * - A run is one process under /usr/bin/time (store-runs.ts): wall time from spawn to exit,
 *   which includes process start, connecting, the existence check against the empty
 *   destination (both tools list it), the uploads and our verification; peak RSS of the
 *   process. Every run gets a fresh destination; all of a server's destinations are
 *   removed once its runs are done, not after each run: removing a run's thousands of
 *   files made the next run's file creation on the server slower for minutes (ext4
 *   without a journal, as on the benchmark machine, skips inodes freed in the last
 *   minutes when allocating, reading each one's inode to tell: SFTP runs after a removal
 *   took up to 1.8 times as long as the first run of the section, whichever tool ran),
 *   which turned the order of runs into a large part of the figures. The destinations of
 *   one server (about 2.5 GB) wait until then, on tmpfs for S3 and SFTP (store-servers.ts:
 *   the removal still slowed the next server's section when they were on disk).
 * - Reps interleave the tools (the order flips every rep) and each figure is the median
 *   of its reps, so a burst of other load on this shared machine hits both sides alike.
 * - The first rep of every tool is checked (store-check.ts): the destination must list
 *   exactly the source's names and sizes, and sampled objects must read back identical.
 * - An rclone variant too slow for the whole small set (SFTP with its per-file md5sum
 *   check) runs once, on a subset of the small set and on the large set; its rate is
 *   reported but not compared.
 * The ratio per server and set is ours ÷ the fastest full-set rclone variant, in objects/s
 * (equal to the ratio in MB/s, as both moved the same bytes), taken rep by rep — each
 * rep's two runs are neighbours in time — and the median of those is the figure. The
 * machine drifts within a section (one tool's reps of the same set took 9.6-14.6 s in one
 * run), and the ratio of the two medians can then set a slow rep of one tool against a
 * fast one of the other; it is reported too.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DEFAULT_CHECKERS } from '../port/transfer/existence.js';
import { listDirectoryObjects } from '../port/transfer/directory-objects.js';
import { DEFAULT_TRANSFERS } from '../port/transfer/upload.js';
import type { Corpus } from './corpus.js';
import { findExecutable } from './peers.js';
import { packageRoot } from './report.js';
import { checkDestination } from './store-check.js';
import { DEFAULT_STORE_OBJECTS, ensureStoreObjects, type StoreObjectSpec } from './store-objects.js';
import { runTimed, type TimedRun } from './store-runs.js';
import { startTarget, TARGET_KINDS, type BenchTarget, type RcloneVariant, type TargetKind } from './store-servers.js';
import { busyShare } from './machine.js';
import { median, megabytesPerSecond } from './timing.js';
import { MIB } from './units.js';

/** --quick: one NAR (53 MB) as the large set. */
export const QUICK_STORE_OBJECTS: StoreObjectSpec = { smallObjects: 1000, largeBytes: 64 * MIB };
/**
 * Small objects the subset-only rclone variants upload (the first, by name): rclone's
 * default SFTP hash check opens an SSH session per file, about 0.1 s each here.
 */
const SUBSET_OBJECTS = 64;
const QUICK_SUBSET_OBJECTS = 16;
/** Both tools run with these (our defaults; rclone's default --transfers is 4). */
export const TRANSFERS = DEFAULT_TRANSFERS;
export const CHECKERS = DEFAULT_CHECKERS;

export type ObjectSetName = 'small' | 'large';
const SET_NAMES: readonly ObjectSetName[] = ['small', 'large'];

export interface StoreRunFigure {
  target: TargetKind;
  set: ObjectSetName;
  /** "ours" or the rclone variant's label. */
  tool: string;
  ours: boolean;
  /** Ran on a subset of the set (see SUBSET_OBJECTS); not compared. */
  subset: boolean;
  commandLine: string;
  objects: number;
  bytes: number;
  runs: TimedRun[];
  /** Median of the runs' wall times. */
  seconds: number;
  objectsPerSecond: number;
  megabytesPerSecond: number;
  /** Highest peak RSS over the runs. */
  maxRssBytes: number | null;
  /** The first run's destination check: null when it passed, else what was wrong. */
  checkError: string | null;
  /** The first failed run's error; the figure's rates are then NaN. */
  error: string | null;
}

export interface StoreComparison {
  target: TargetKind;
  set: ObjectSetName;
  rclone: string;
  /** Median over reps of ours ÷ rclone in objects/s (and so in MB/s); NaN when either side failed. */
  ratio: number;
  /** Ours' median rate ÷ rclone's median rate. */
  ratioOfMedians: number;
}

export interface StoreFigures {
  objects: { dir: string; small: { count: number; bytes: number }; large: { count: number; bytes: number } };
  subsetObjects: number;
  transfers: number;
  checkers: number;
  reps: number;
  rcloneVersion: string | null;
  targets: { kind: TargetKind; description: string; rcloneMissing: string | null; error: string | null }[];
  runs: StoreRunFigure[];
  comparisons: StoreComparison[];
  /** Share of all CPUs busy with other work before and after the section (machine.ts). */
  busyShareBefore: number | null;
  busyShareAfter: number | null;
  seconds: number;
}

export interface StoreOptions {
  quick: boolean;
  reps: number;
  /** The servers to measure, in this order. */
  targets: readonly TargetKind[];
  onStep: (message: string) => void;
}

interface ObjectSet {
  dir: string;
  sizes: Map<string, number>;
  count: number;
  bytes: number;
}

/** A tool as run against one target: its label and the command for a source and destination. */
interface Tool {
  label: string;
  ours: boolean;
  subsetOnly: boolean;
  command(source: string, prefix: string, scratch: string): { command: string; args: string[]; env: Record<string, string> };
}

async function readObjectSet(dir: string): Promise<ObjectSet> {
  const { objects } = await listDirectoryObjects(dir);
  const sizes = new Map(objects.map((object) => [object.name, object.size] as const));
  return { dir, sizes, count: objects.length, bytes: objects.reduce((sum, object) => sum + object.size, 0) };
}

/** The first `count` objects of `set` by name, copied into `into`. */
function subsetOf(set: ObjectSet, count: number, into: string): Promise<ObjectSet> {
  for (const name of [...set.sizes.keys()].sort().slice(0, count)) {
    mkdirSync(dirname(join(into, name)), { recursive: true });
    copyFileSync(join(set.dir, name), join(into, name));
  }
  return readObjectSet(into);
}

/** Reads every file once, so no run pays for the disk. */
function warm(set: ObjectSet): void {
  for (const name of set.sizes.keys()) readFileSync(join(set.dir, name));
}

/** The environment every child starts from: a PATH and a HOME, nothing else inherited. */
function baseEnvironment(): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? tmpdir() };
}

function toolsFor(target: BenchTarget): Tool[] {
  const cli = join(packageRoot(), 'dist', 'port', 'cli.js');
  const ours: Tool = {
    label: 'ours',
    ours: true,
    subsetOnly: false,
    command: (source, prefix, scratch) => ({
      command: process.execPath,
      args: [cli, 'sync', source, target.oursUrl(prefix), `--transfers=${TRANSFERS}`, `--checkers=${CHECKERS}`, `--state-dir=${join(scratch, `state-${prefix}`)}`],
      env: { ...baseEnvironment(), ...target.oursEnv },
    }),
  };
  const rclone = (variant: RcloneVariant): Tool => ({
    label: variant.label,
    ours: false,
    subsetOnly: variant.subsetOnly,
    command: (source, prefix) => ({
      command: 'rclone',
      args: ['copy', source, target.rcloneDestination(prefix)!, `--transfers=${TRANSFERS}`, `--checkers=${CHECKERS}`, '--quiet', ...variant.flags],
      env: { ...baseEnvironment(), ...target.rcloneEnv },
    }),
  });
  return [ours, ...target.rcloneVariants.map(rclone)];
}

function rcloneVersion(): string | null {
  const result = spawnSync('rclone', ['version'], { encoding: 'utf8', env: baseEnvironment() });
  return result.status === 0 ? (result.stdout.split('\n')[0] ?? null) : null;
}

function emptyFigure(target: TargetKind, set: ObjectSetName, tool: Tool, objects: ObjectSet, subset: boolean, commandLine: string): StoreRunFigure {
  return {
    target,
    set,
    tool: tool.label,
    ours: tool.ours,
    subset,
    commandLine,
    objects: objects.count,
    bytes: objects.bytes,
    runs: [],
    seconds: Number.NaN,
    objectsPerSecond: Number.NaN,
    megabytesPerSecond: Number.NaN,
    maxRssBytes: null,
    checkError: null,
    error: null,
  };
}

function settle(figure: StoreRunFigure): void {
  if (figure.error !== null || figure.runs.length === 0) return;
  figure.seconds = median(figure.runs.map((run) => run.seconds));
  figure.objectsPerSecond = figure.objects / figure.seconds;
  figure.megabytesPerSecond = megabytesPerSecond(figure.bytes, figure.seconds);
  const rss = figure.runs.map((run) => run.maxRssBytes).filter((value): value is number => value !== null);
  figure.maxRssBytes = rss.length > 0 ? Math.max(...rss) : null;
}

/** Runs every tool against one started target; returns its figures. */
async function measureTarget(
  target: BenchTarget,
  sets: Readonly<Record<ObjectSetName, ObjectSet>>,
  subset: ObjectSet,
  scratch: string,
  options: StoreOptions,
): Promise<StoreRunFigure[]> {
  const tools = toolsFor(target);
  const figures = new Map<string, StoreRunFigure>();
  const figureFor = (tool: Tool, set: ObjectSetName, objects: ObjectSet, subsetRun: boolean): StoreRunFigure => {
    const key = `${tool.label}\n${set}`;
    let figure = figures.get(key);
    if (figure === undefined) {
      const { command, args } = tool.command(objects.dir, 'DEST', scratch);
      figure = emptyFigure(target.kind, set, tool, objects, subsetRun, [command === process.execPath ? 'node' : command, ...args].join(' '));
      figures.set(key, figure);
    }
    return figure;
  };
  let runNumber = 0;
  const destinations: string[] = [];
  const runOnce = async (tool: Tool, set: ObjectSetName, objects: ObjectSet, subsetRun: boolean, rep: number): Promise<void> => {
    const figure = figureFor(tool, set, objects, subsetRun);
    if (figure.error !== null) return;
    const prefix = `run-${++runNumber}-${tool.ours ? 'ours' : 'rclone'}-${set}`;
    const { command, args, env } = tool.command(objects.dir, prefix, scratch);
    try {
      const run = await runTimed(command, args, env);
      options.onStep(`store: ${target.kind} ${set}${subsetRun ? ' (subset)' : ''} rep ${rep + 1}: ${tool.label} ${run.error === null ? `${run.seconds.toFixed(2)} s` : 'FAILED'}`);
      if (run.error !== null) {
        figure.error = run.error;
        return;
      }
      figure.runs.push(run);
      if (rep === 0) {
        figure.checkError = await checkDestination(target.oursUrl(prefix), target.openOptions, objects.dir, objects.sizes).catch(
          (error: unknown) => `check failed: ${error instanceof Error ? error.message : String(error)}`,
        );
        if (figure.checkError !== null) options.onStep(`store: CHECK FAILED: ${figure.checkError}`);
      }
    } finally {
      destinations.push(prefix);
    }
  };

  const compared = tools.filter((tool) => !tool.subsetOnly);
  try {
    // One untimed run of each tool on the subset first. The first uploads a freshly started
    // server sees are slower (its JIT, first connections, first directories), and with the
    // reps' alternating order they would always fall on the same tool (ours: 10.8 s against
    // 6.3-7.0 s for its later reps on s3rver, 5.8 s against 3.8-4.4 s on sshd).
    for (const tool of compared) {
      const prefix = `warm-up-${++runNumber}-${tool.ours ? 'ours' : 'rclone'}`;
      const { command, args, env } = tool.command(subset.dir, prefix, scratch);
      destinations.push(prefix);
      const run = await runTimed(command, args, env);
      options.onStep(`store: ${target.kind} warm-up: ${tool.label} ${run.error === null ? `${run.seconds.toFixed(2)} s` : `FAILED (${run.error})`}`);
    }
    for (let rep = 0; rep < options.reps; rep++) {
      for (const set of SET_NAMES) {
        const order = rep % 2 === 0 ? compared : [...compared].reverse();
        for (const tool of order) await runOnce(tool, set, sets[set], false, rep);
      }
    }
    for (const tool of tools.filter((candidate) => candidate.subsetOnly)) {
      await runOnce(tool, 'small', subset, true, 0);
      await runOnce(tool, 'large', sets.large, false, 0);
    }
  } finally {
    // Only now: see the module doc.
    for (const prefix of destinations) target.clear(prefix);
  }
  const result = [...figures.values()];
  for (const figure of result) settle(figure);
  return result;
}

function compare(runs: readonly StoreRunFigure[]): StoreComparison[] {
  const comparisons: StoreComparison[] = [];
  for (const kind of TARGET_KINDS) {
    for (const set of SET_NAMES) {
      const ours = runs.find((run) => run.target === kind && run.set === set && run.ours);
      const rclones = runs.filter((run) => run.target === kind && run.set === set && !run.ours && !run.subset);
      if (ours === undefined || rclones.length === 0) continue;
      const usable = rclones.filter((run) => run.error === null && Number.isFinite(run.objectsPerSecond));
      const fastest = usable.length === 0 ? rclones[0]! : usable.reduce((best, run) => (run.objectsPerSecond > best.objectsPerSecond ? run : best));
      const failed = ours.error !== null || fastest.error !== null || ours.checkError !== null || ours.runs.length !== fastest.runs.length;
      // runs[i] of either is rep i: a tool's reps stop at its first failure, which fails the comparison.
      const perRep = ours.runs.map((run, rep) => fastest.runs[rep]!.seconds / run.seconds);
      comparisons.push({
        target: kind,
        set,
        rclone: fastest.tool,
        ratio: failed ? Number.NaN : median(perRep),
        ratioOfMedians: failed ? Number.NaN : ours.objectsPerSecond / fastest.objectsPerSecond,
      });
    }
  }
  return comparisons;
}

/** Measures the store section; a server that fails to start is reported and skipped. */
export async function measureStore(corpus: Corpus, options: StoreOptions): Promise<StoreFigures> {
  const startedAt = Date.now();
  const busyShareBefore = await busyShare();
  const objectSet = await ensureStoreObjects(corpus, options.quick ? QUICK_STORE_OBJECTS : DEFAULT_STORE_OBJECTS);
  const sets: Record<ObjectSetName, ObjectSet> = {
    small: await readObjectSet(join(objectSet.dir, 'small')),
    large: await readObjectSet(join(objectSet.dir, 'large')),
  };
  const scratch = mkdtempSync(join(tmpdir(), 'chunker-bench-store-'));
  const figures: StoreFigures = {
    objects: { dir: objectSet.dir, small: objectSet.small, large: objectSet.large },
    subsetObjects: 0,
    transfers: TRANSFERS,
    checkers: CHECKERS,
    reps: options.reps,
    rcloneVersion: findExecutable('rclone') === null ? null : rcloneVersion(),
    targets: [],
    runs: [],
    comparisons: [],
    busyShareBefore,
    busyShareAfter: null,
    seconds: 0,
  };
  try {
    const subset = await subsetOf(sets.small, options.quick ? QUICK_SUBSET_OBJECTS : SUBSET_OBJECTS, join(scratch, 'subset'));
    figures.subsetObjects = subset.count;
    warm(sets.small);
    warm(sets.large);
    for (const kind of options.targets) {
      options.onStep(`store: starting the ${kind} server`);
      let target: BenchTarget;
      try {
        target = await startTarget(kind, join(scratch, kind));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        options.onStep(`store: ${kind} server failed to start: ${message}`);
        figures.targets.push({ kind, description: '', rcloneMissing: null, error: message });
        continue;
      }
      figures.targets.push({ kind, description: target.description, rcloneMissing: target.rcloneMissing, error: null });
      try {
        figures.runs.push(...(await measureTarget(target, sets, subset, join(scratch, kind), options)));
      } finally {
        await target.stop();
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  figures.comparisons = compare(figures.runs);
  figures.busyShareAfter = await busyShare();
  figures.seconds = (Date.now() - startedAt) / 1000;
  return figures;
}
