/**
 * `npm run demo`: the main job end to end on real data. Archives real directory trees from
 * this machine as NARs (our writer, checked against `nix-store --dump` when it is
 * installed), puts them into a chunk store — chunked with the default preset (SHA-256 per
 * chunk), each chunk compressed with zstd level 3 where that pays, uploaded by the
 * transfer scheduler, one index per NAR — then a version 2 with a few files changed into
 * the same store, and rebuilds one version 2 NAR from the store to check it is identical.
 *
 * The store is a temporary `file://` directory removed at the end, unless `--store URL`
 * (or CHUNKER_DEMO_STORE) names one, which is kept: a second run into it finds everything
 * already stored. Staged chunks go to a temporary directory that is always removed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from '../port/cli/args.js';
import { SIZE_PRESETS } from '../port/engine/chunking-options.js';
import { DEFAULT_MAX_RATIO } from '../port/engine/compression.js';
import { ChunkLedger, ReuseTally } from './dedup.js';
import { DEMO_PRESET, runDemoPipeline, type DemoPipelineResult, type DemoVersion } from './demo-pipeline.js';
import { histogram, renderHistogram, summarizeSizes } from './distribution.js';
import { DEFAULT_CHUNK_COMPRESSION } from './nar-ingest.js';
import { Progress } from './progress.js';
import { pickTrees, surveyTree, type TreeSurvey } from './tree-survey.js';
import { formatBytes, formatPercent, MIB } from './units.js';
import type { VariantSpec } from './variant.js';

/** Environment variable naming the store when --store is not given. */
const STORE_ENVIRONMENT = 'CHUNKER_DEMO_STORE';

/** Trees a Debian machine has, in order of preference; later ones are fallbacks. */
const DEMO_CANDIDATES: readonly string[] = [
  '/usr/share/doc',
  '/usr/share/man',
  '/usr/lib/python3*',
  '/usr/share/locale',
  '/usr/include',
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/bin',
  '/usr/share',
  '/usr/lib',
  '/usr',
];
const TARGET_BYTES = 160 * MIB;
/** Trees are added while the total stays below TARGET_BYTES × this, to bound the run time. */
const OVERSHOOT = 2;
const MINIMUM_MEANINGFUL_BYTES = 100 * MIB;
/** About this many files change in version 2. */
const EDITED_FILES = 25;

const USAGE = `npm run demo -- [--store URL] [DIR...]
  Archives DIRs (default: real trees picked from /usr, about ${TARGET_BYTES / MIB} MiB) as NARs, puts them
  into a chunk store, then a version 2 with a few files changed, and restores one NAR.
  --store URL   the store to fill and keep (file:///path, sftp://…, s3://…, http://…);
                default $${STORE_ENVIRONMENT}, else a temporary directory removed at the end`;

interface DemoArgs {
  help: boolean;
  /** Store URL given by the user, or null for a temporary one. */
  storeUrl: string | null;
  trees: string[];
}

function parseDemoArgs(argv: readonly string[]): DemoArgs {
  const args = parseArgs(argv, { values: ['store'], flags: ['help'] });
  const help = args.flags.has('help');
  const given = args.values.get('store') ?? process.env[STORE_ENVIRONMENT];
  return { help, storeUrl: given === undefined || given === '' ? null : given, trees: args.positionals.map((path) => resolve(path)) };
}

/** SHA-256 of `nix-store --dump path`, streamed (nothing written to disk). */
async function nixStoreDumpSha256(path: string, progress: Progress): Promise<string> {
  const child = spawn('nix-store', ['--dump', path], { stdio: ['ignore', 'pipe', 'pipe'] });
  const hash = createHash('sha256');
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  child.stdout.on('data', (data: Buffer) => {
    hash.update(data);
    progress.advance(data.length);
  });
  const status = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (status !== 0) throw new Error(`nix-store --dump ${path} exited with ${status}: ${stderr.trim()}`);
  return hash.digest('hex');
}

function hasNixStore(): boolean {
  return spawnSync('nix-store', ['--version'], { stdio: 'ignore' }).status === 0;
}

function plural(count: number, word: string, words = `${word}s`): string {
  return `${count.toLocaleString('en-US')} ${count === 1 ? word : words}`;
}

function chooseTrees(given: readonly string[]): TreeSurvey[] {
  if (given.length > 0) {
    return given.map((path) => {
      const survey = surveyTree(path);
      if (survey.problem !== null) throw new Error(`cannot archive ${path}: ${survey.problem}`);
      return survey;
    });
  }
  process.stderr.write('demo: looking for a real directory tree to archive…\n');
  const trees = pickTrees(DEMO_CANDIDATES, TARGET_BYTES, (survey, taken) => {
    if (taken) process.stderr.write(`demo:   ${survey.path}: ${plural(survey.files, 'file')}, ${formatBytes(survey.contentBytes)}\n`);
    else if (survey.problem !== null) process.stderr.write(`demo:   ${survey.path}: skipped (${survey.problem})\n`);
  }, OVERSHOOT);
  if (trees.length === 0) throw new Error(`none of ${DEMO_CANDIDATES.join(', ')} could be archived`);
  return trees;
}

/** The upload line of a version: what the scheduler sent and what it found already stored. */
function uploadLine(version: DemoVersion): string {
  const t = version.totals;
  return (
    `  uploaded:     ${plural(t.objectsUploaded, 'chunk object')} (${formatBytes(t.bytesUploaded)}) + ${plural(t.indexesUploaded, 'NAR index', 'NAR indexes')} (${formatBytes(t.indexBytesUploaded)}); ` +
    `skipped as already stored: ${plural(t.objectsSkipped, 'object')} (${formatBytes(t.bytesSkipped)}); ${t.seconds.toFixed(1)} s in all`
  );
}

function compressionLine(version: DemoVersion): string {
  const t = version.totals;
  const kept = t.distinctChunks - t.compressedChunks;
  return `  stored as:    ${formatBytes(t.storedBytes)} for ${formatBytes(t.distinctBytes)} of distinct chunks (${t.compressedChunks.toLocaleString('en-US')} zstd, ${kept.toLocaleString('en-US')} kept as they are)`;
}

function restoreLine(result: DemoPipelineResult): string {
  const { restore } = result;
  const what = `version 2 NAR of ${restore.tree}`;
  if (restore.error !== null) return `Restore: ${what} from the store failed: ${restore.error}\n  restored NAR identical: NO`;
  return (
    `Restore: ${what} (${formatBytes(restore.narBytes)}, ${plural(restore.chunks, 'chunk')}) rebuilt from the store: index read, chunks fetched, decompressed, concatenated\n` +
    `  restored NAR identical: ${restore.identical ? `yes (SHA-256 ${restore.narSha256})` : 'NO'}`
  );
}

function storeLine(result: DemoPipelineResult): string {
  const { usage } = result;
  const narBytes = result.v1.totals.narBytes + result.v2.totals.narBytes;
  const held = usage.chunks.bytes + usage.indexes.bytes;
  const disk = usage.diskBytes === null ? '' : `; on disk ${formatBytes(usage.diskBytes)} (${formatPercent(usage.diskBytes, narBytes)})`;
  return (
    `Store now holds: ${plural(usage.chunks.objects, 'chunk object')} (${formatBytes(usage.chunks.bytes)}) + ${plural(usage.indexes.objects, 'NAR index', 'NAR indexes')} (${formatBytes(usage.indexes.bytes)}) = ` +
    `${formatBytes(held)}, ${formatPercent(held, narBytes)} of this run's ${formatBytes(narBytes)} of NARs (v1 + v2)${disk}`
  );
}

/** Runs the demo; returns the report (printed once the temporary files are gone) and whether the restore matched. */
async function run(args: DemoArgs, workDir: string): Promise<{ report: string[]; identical: boolean }> {
  const trees = chooseTrees(args.trees);
  const contentBytes = trees.reduce((sum, tree) => sum + tree.contentBytes, 0);
  const files = trees.reduce((sum, tree) => sum + tree.files, 0);
  if (args.trees.length === 0 && contentBytes < MINIMUM_MEANINGFUL_BYTES) {
    process.stderr.write(`demo: note: only ${formatBytes(contentBytes)} of files found; the figures are still real, just smaller\n`);
  }
  const temporaryStore = args.storeUrl === null;
  const storeUrl = args.storeUrl ?? pathToFileURL(join(workDir, 'store')).href;
  const stagingDir = join(workDir, 'staging');
  mkdirSync(stagingDir);
  const variant: VariantSpec = { seed: 'chunker-demo', fraction: Math.min(1, EDITED_FILES / Math.max(files, 1)), edit: 'insert-middle' };
  const checkWithNix = hasNixStore();
  const progress = new Progress('demo', contentBytes * (checkWithNix ? 3 : 2));

  const v1 = new ChunkLedger(); // what a store holding version 1 has
  const v2 = new ChunkLedger();
  const reuse = new ReuseTally(v1);
  const result = await runDemoPipeline({
    trees: trees.map((tree) => tree.path),
    variant,
    storeUrl,
    stagingDir,
    onChunk: (version, chunk) => {
      if (version === 1) v1.add(chunk);
      else {
        v2.add(chunk);
        reuse.add(chunk);
      }
    },
    onNarBytes: (bytes) => progress.advance(bytes),
    onStep: (label) => progress.relabel(label),
  });

  let nixCheck = 'skipped (nix-store not installed)';
  if (checkWithNix) {
    let matching = 0;
    for (const nar of result.v1.nars) {
      progress.relabel(`checking against nix-store --dump: ${nar.tree}`);
      if ((await nixStoreDumpSha256(nar.tree, progress)) === nar.ingest.narSha256) matching++;
    }
    const count = result.v1.nars.length;
    nixCheck = matching === count ? `yes, byte for byte (${matching}/${count} NARs)` : `NO: ${matching}/${count} NARs match`;
  }
  progress.relabel('demo');
  progress.finish('done');

  const sizes = SIZE_PRESETS[DEMO_PRESET];
  const v1Sizes = summarizeSizes(v1.lengths);
  const compression = `zstd level ${DEFAULT_CHUNK_COMPRESSION.level} where it saves at least ${Math.round((1 - DEFAULT_MAX_RATIO) * 100)}%, else as they are`;
  const out: string[] = [
    `Chunker demo: ${trees.map((tree) => tree.path).join(', ')} — ${plural(files, 'file')}, ${formatBytes(contentBytes)}`,
    `Chunking: ${DEMO_PRESET} preset (min ${formatBytes(sizes.minSize)} / avg ${formatBytes(sizes.avgSize)} / max ${formatBytes(sizes.maxSize)}), SHA-256 per chunk; chunks stored ${compression}`,
    `Store: ${result.location}${temporaryStore ? ' (temporary)' : ''}`,
    '',
    `Version 1: ${plural(result.v1.nars.length, 'NAR')}, ${formatBytes(result.v1.totals.narBytes)} (NARs identical to nix-store --dump: ${nixCheck})`,
    `  chunks:       ${v1.chunks.toLocaleString('en-US')} (${v1.uniqueChunks.toLocaleString('en-US')} distinct)`,
    `  unique bytes: ${formatBytes(v1.uniqueBytes)} of ${formatBytes(v1.bytes)} (${formatPercent(v1.bytes - v1.uniqueBytes, v1.bytes)} repeats within version 1)`,
    `  chunk sizes:  min ${formatBytes(v1Sizes.min)}  p50 ${formatBytes(v1Sizes.p50)}  p90 ${formatBytes(v1Sizes.p90)}  max ${formatBytes(v1Sizes.max)}  mean ${formatBytes(v1Sizes.mean)}`,
    ...renderHistogram(histogram(v1.lengths, sizes.minSize, sizes.maxSize)).map((line) => `    ${line}`),
    compressionLine(result.v1),
    uploadLine(result.v1),
    '',
    `Version 2: ${plural(result.edits.editedFiles, 'file')} changed (a short line inserted mid-file, ${result.edits.addedBytes} bytes in all), ${formatBytes(result.v2.totals.narBytes)} of NARs, ${plural(v2.chunks, 'chunk')}`,
    `  chunks version 1 already had: ${formatBytes(reuse.presentBytes)} of ${formatBytes(reuse.bytes)} (${formatPercent(reuse.presentBytes, reuse.bytes)}), ${reuse.presentChunks.toLocaleString('en-US')} of ${plural(reuse.chunks, 'chunk')}`,
    uploadLine(result.v2),
    '',
    storeLine(result),
    restoreLine(result),
    '',
    temporaryStore
      ? `The store was temporary and has been removed; keep one with --store file://$PWD/chunk-store (or ${STORE_ENVIRONMENT}=URL): a second run into it uploads nothing.`
      : `The store is kept at ${result.location}; a second run into it uploads nothing.`,
  ];
  return { report: out, identical: result.restore.identical };
}

let args: DemoArgs;
try {
  args = parseDemoArgs(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
  process.exit(2);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const startedAt = Date.now();
const workDir = mkdtempSync(join(tmpdir(), 'chunker-demo-'));
const cleanUp = () => rmSync(workDir, { recursive: true, force: true });
for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15]] as const) {
  process.once(signal, () => {
    cleanUp();
    process.exit(128 + number);
  });
}
try {
  const { report, identical } = await run(args, workDir);
  cleanUp();
  console.log([...report, `Done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s.`].join('\n'));
  if (!identical) process.exitCode = 1;
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  cleanUp();
}
