/**
 * The real NAR corpus for the benchmarks (DESIGN.md "Benchmark corpus"): NARs of large
 * system directories found on this machine, about 1 GiB of contents, plus a "v2" of each
 * with a few bytes appended to 2% of the files (a package update).
 *
 * Built once into `${CHUNKER_BENCH_CACHE:-~/.cache/chunker-bench}/corpus-<key>/`, where the
 * key hashes the picked trees (paths, file counts, sizes) and the v2 recipe; a later run
 * that finds the same trees reuses it. v1 comes from `nix-store --dump` when it is
 * installed (our writer otherwise); v2 always comes from our NAR writer's transform, and
 * its size is checked against v1 plus the edits. Never committed.
 *
 * `node dist/bench/corpus.js` builds (or finds) the corpus and prints its manifest path.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { narStream, type NarWriteOptions } from '../port/engine/nar-writer.js';
import { Progress } from './progress.js';
import { pickTrees, type TreeSurvey } from './tree-survey.js';
import { formatBytes, MIB } from './units.js';
import { emptyVariantStats, variantTransform, type VariantSpec } from './variant.js';

const CORPUS_FORMAT = 1;
const DEFAULT_TARGET_BYTES = 1024 * MIB;

/**
 * Candidate trees in the order they are taken: varied kinds first (binaries, headers,
 * locales, docs, python, man pages, a JDK, compiler libraries), bulkier ones after.
 */
export const CORPUS_CANDIDATES: readonly string[] = [
  '/usr/bin',
  '/usr/include',
  '/usr/share/locale',
  '/usr/share/doc',
  '/usr/lib/python3*',
  '/usr/share/man',
  '/usr/lib/jvm/*',
  '/usr/lib/gcc',
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/libexec',
  '/usr/sbin',
  '/usr/share/perl',
  '/usr/lib/llvm-*',
  '/usr/share/i18n',
  '/usr/share/zoneinfo',
  '/usr/share/fonts',
  '/usr/share/icons',
  '/usr/lib',
  '/usr/share',
  '/opt',
];

/** The v2 recipe: append a few bytes to 2% of the files. */
export const CORPUS_VARIANT: VariantSpec = { seed: 'chunker-bench-v2', fraction: 0.02, edit: 'append' };

export interface CorpusNar {
  /** File name inside the corpus directory. */
  file: string;
  bytes: number;
}

export interface CorpusTree {
  name: string;
  sourcePath: string;
  files: number;
  contentBytes: number;
  symlinks: number;
  directories: number;
  v1: CorpusNar;
  v2: CorpusNar & { editedFiles: number; addedBytes: number };
}

export interface CorpusManifest {
  format: number;
  key: string;
  createdAt: string;
  targetBytes: number;
  /** What produced the v1 NARs. */
  v1Tool: string;
  variant: VariantSpec;
  trees: CorpusTree[];
  totals: { files: number; contentBytes: number; v1Bytes: number; v2Bytes: number; editedFiles: number };
}

export interface Corpus {
  dir: string;
  manifest: CorpusManifest;
}

export function corpusCacheRoot(): string {
  const configured = process.env.CHUNKER_BENCH_CACHE;
  return configured !== undefined && configured !== '' ? configured : join(homedir(), '.cache', 'chunker-bench');
}

function targetBytes(): number {
  const configured = process.env.CHUNKER_BENCH_CORPUS_MB;
  if (configured === undefined || configured === '') return DEFAULT_TARGET_BYTES;
  const megabytes = Number(configured);
  if (!Number.isFinite(megabytes) || megabytes <= 0) throw new Error(`CHUNKER_BENCH_CORPUS_MB must be a positive number, got ${configured}`);
  return Math.round(megabytes * MIB);
}

function log(message: string): void {
  process.stderr.write(`corpus: ${message}\n`);
}

function treeName(path: string): string {
  return path.replace(/^\/+/, '').replace(/[^A-Za-z0-9._-]+/g, '_');
}

function hasNixStore(): boolean {
  return spawnSync('nix-store', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** `nix-store --dump path > destination`, with progress from the growing file size. */
async function dumpWithNixStore(path: string, destination: string, progress: Progress, base: number): Promise<number> {
  const fd = openSync(destination, 'w');
  const timer = setInterval(() => progress.update(base + statSync(destination).size), 250);
  try {
    const child = spawn('nix-store', ['--dump', path], { stdio: ['ignore', fd, 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const status = await new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', resolve);
    });
    if (status !== 0) throw new Error(`nix-store --dump ${path} exited with ${status}: ${stderr.trim()}`);
  } finally {
    clearInterval(timer);
    closeSync(fd);
  }
  return statSync(destination).size;
}

/** Our writer into `destination`, with progress per piece. */
async function dumpWithWriter(
  path: string,
  destination: string,
  options: NarWriteOptions,
  progress: Progress,
  base: number,
): Promise<number> {
  const fd = openSync(destination, 'w');
  let written = 0;
  try {
    for await (const piece of narStream(path, { ...options, pieceBytes: 4 * MIB })) {
      let offset = 0;
      while (offset < piece.length) offset += writeSync(fd, piece, offset, piece.length - offset);
      written += piece.length;
      progress.update(base + written);
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

function corpusKey(target: number, trees: readonly TreeSurvey[]): string {
  const identity = {
    format: CORPUS_FORMAT,
    target,
    variant: CORPUS_VARIANT,
    trees: trees.map(({ path, files, contentBytes, symlinks, directories }) => ({ path, files, contentBytes, symlinks, directories })),
  };
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 16);
}

function readManifest(dir: string): CorpusManifest | null {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) return null;
  try {
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as CorpusManifest;
    const intact = manifest.trees.every(
      (tree) => statSync(join(dir, tree.v1.file)).size === tree.v1.bytes && statSync(join(dir, tree.v2.file)).size === tree.v2.bytes,
    );
    return intact ? manifest : null;
  } catch {
    return null;
  }
}

async function buildCorpus(dir: string, key: string, target: number, trees: readonly TreeSurvey[]): Promise<CorpusManifest> {
  const building = `${dir}.building`;
  rmSync(building, { recursive: true, force: true });
  mkdirSync(building, { recursive: true });
  const useNixStore = hasNixStore();
  const v1Tool = useNixStore ? 'nix-store --dump' : 'narStream (nix-store not found)';
  const totalContent = trees.reduce((sum, tree) => sum + tree.contentBytes, 0);
  log(`building in ${building}: ${trees.length} trees, ${formatBytes(totalContent)} of contents; v1 by ${v1Tool}, v2 by our NAR writer`);
  const progress = new Progress('corpus', totalContent * 2);
  const built: CorpusTree[] = [];
  let done = 0;
  for (const tree of trees) {
    const name = treeName(tree.path);
    const v1File = `v1-${name}.nar`;
    const v2File = `v2-${name}.nar`;
    progress.relabel(`corpus v1 ${tree.path}`);
    const v1Bytes = useNixStore
      ? await dumpWithNixStore(tree.path, join(building, v1File), progress, done)
      : await dumpWithWriter(tree.path, join(building, v1File), {}, progress, done);
    done += tree.contentBytes;
    progress.relabel(`corpus v2 ${tree.path}`);
    const stats = emptyVariantStats();
    const transform = variantTransform(CORPUS_VARIANT, tree.path, stats);
    const v2Bytes = await dumpWithWriter(tree.path, join(building, v2File), { transform }, progress, done);
    done += tree.contentBytes;
    if (v2Bytes !== v1Bytes + stats.narBytesDelta) {
      throw new Error(
        `v2 NAR of ${tree.path} is ${v2Bytes} bytes but v1 (${v1Bytes}) plus the edits (${stats.narBytesDelta}) is ` +
          `${v1Bytes + stats.narBytesDelta}: the tree changed while archiving, or the writer disagrees with ${v1Tool}`,
      );
    }
    progress.note(
      `corpus: ${tree.path}: ${tree.files} files, v1 ${formatBytes(v1Bytes)}, v2 ${formatBytes(v2Bytes)} (${stats.editedFiles} files edited)`,
    );
    built.push({
      name,
      sourcePath: tree.path,
      files: tree.files,
      contentBytes: tree.contentBytes,
      symlinks: tree.symlinks,
      directories: tree.directories,
      v1: { file: v1File, bytes: v1Bytes },
      v2: { file: v2File, bytes: v2Bytes, editedFiles: stats.editedFiles, addedBytes: stats.addedBytes },
    });
  }
  const manifest: CorpusManifest = {
    format: CORPUS_FORMAT,
    key,
    createdAt: new Date().toISOString(),
    targetBytes: target,
    v1Tool,
    variant: CORPUS_VARIANT,
    trees: built,
    totals: {
      files: built.reduce((sum, tree) => sum + tree.files, 0),
      contentBytes: built.reduce((sum, tree) => sum + tree.contentBytes, 0),
      v1Bytes: built.reduce((sum, tree) => sum + tree.v1.bytes, 0),
      v2Bytes: built.reduce((sum, tree) => sum + tree.v2.bytes, 0),
      editedFiles: built.reduce((sum, tree) => sum + tree.v2.editedFiles, 0),
    },
  };
  // The manifest is written last and the directory renamed into place: a corpus directory
  // without a manifest is never mistaken for a complete one.
  writeFileSync(join(building, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(building, dir);
  progress.relabel('corpus');
  progress.finish(`built ${formatBytes(manifest.totals.v1Bytes)} v1 + ${formatBytes(manifest.totals.v2Bytes)} v2`);
  return manifest;
}

/** Finds the cached corpus for this machine's trees, building it first if needed. */
export async function ensureCorpus(): Promise<Corpus> {
  const target = targetBytes();
  const root = corpusCacheRoot();
  log(`surveying candidate trees for ~${formatBytes(target)} of contents`);
  const trees = pickTrees(CORPUS_CANDIDATES, target, (survey, taken) => {
    const what = survey.problem !== null ? `skipped: ${survey.problem}` : taken ? 'taken' : 'not taken (would overshoot)';
    log(`  ${survey.path}: ${survey.files} files, ${formatBytes(survey.contentBytes)} — ${what}`);
  });
  if (trees.length === 0) throw new Error('No archivable system directories found for the benchmark corpus');
  const key = corpusKey(target, trees);
  const dir = join(root, `corpus-${key}`);
  const cached = readManifest(dir);
  if (cached !== null) {
    log(`reusing ${dir} (${formatBytes(cached.totals.v1Bytes)} v1 + ${formatBytes(cached.totals.v2Bytes)} v2)`);
    return { dir, manifest: cached };
  }
  mkdirSync(root, { recursive: true });
  const stale = readdirSync(root).filter((name) => name.startsWith('corpus-') && name !== `corpus-${key}`);
  if (stale.length > 0) log(`note: other corpora in ${root} no longer match this machine: ${stale.join(', ')} (delete them to free space)`);
  return { dir, manifest: await buildCorpus(dir, key, target, trees) };
}

/**
 * Trees in manifest order whose v1 NARs add up to about `limitBytes` (for --quick):
 * a tree is taken while it keeps the total within 1.25 × the limit; at least one tree.
 */
export function selectTrees(manifest: CorpusManifest, limitBytes: number): CorpusTree[] {
  const chosen: CorpusTree[] = [];
  let total = 0;
  for (const tree of [...manifest.trees].sort((a, b) => a.v1.bytes - b.v1.bytes)) {
    if (total >= limitBytes) break;
    if (total + tree.v1.bytes <= limitBytes * 1.25) {
      chosen.push(tree);
      total += tree.v1.bytes;
    }
  }
  if (chosen.length === 0) {
    const smallest = [...manifest.trees].sort((a, b) => a.v1.bytes - b.v1.bytes)[0];
    if (smallest !== undefined) chosen.push(smallest);
  }
  return manifest.trees.filter((tree) => chosen.includes(tree));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { dir } = await ensureCorpus();
  console.log(join(dir, 'manifest.json'));
}
