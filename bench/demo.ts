/**
 * `npm run demo`: the main job end to end on real data. Archives a real directory tree
 * from this machine as NARs (our writer, checked against `nix-store --dump` when it is
 * installed), derives a version 2 with a few files changed, chunks both with the default
 * preset (SHA-256 per chunk), and shows how much of version 2 a store holding version 1
 * already has. NARs go to a temporary directory that is removed at the end.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunkStream } from '../port/engine/chunk-stream.js';
import { SIZE_PRESETS } from '../port/engine/chunking-options.js';
import { narStream, type NarWriteOptions } from '../port/engine/nar-writer.js';
import { ChunkLedger, ReuseTally } from './dedup.js';
import { histogram, renderHistogram, summarizeSizes } from './distribution.js';
import { Progress } from './progress.js';
import { pickTrees, type TreeSurvey } from './tree-survey.js';
import { formatBytes, formatPercent, MIB } from './units.js';
import { emptyVariantStats, variantTransform, type VariantSpec, type VariantStats } from './variant.js';

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
const PRESET = 'default';
const NAR_PIECE_BYTES = 1 * MIB;

interface ArchiveResult {
  narBytes: number;
  sha256: string;
}

/** Streams one tree's NAR to `destination` and through `eachChunk`, hashing the NAR too. */
async function archiveAndChunk(
  tree: TreeSurvey,
  destination: string,
  options: NarWriteOptions,
  progress: Progress,
  eachChunk: (chunk: Parameters<ChunkLedger['add']>[0]) => void,
): Promise<ArchiveResult> {
  const fd = openSync(destination, 'w');
  const narHash = createHash('sha256');
  let narBytes = 0;
  async function* teed(): AsyncGenerator<Uint8Array> {
    for await (const piece of narStream(tree.path, { ...options, pieceBytes: NAR_PIECE_BYTES })) {
      let offset = 0;
      while (offset < piece.length) offset += writeSync(fd, piece, offset, piece.length - offset);
      narHash.update(piece);
      narBytes += piece.length;
      progress.advance(piece.length);
      yield piece;
    }
  }
  try {
    for await (const chunks of chunkStream(teed(), { preset: PRESET, hash: 'sha256' })) for (const chunk of chunks) eachChunk(chunk);
  } finally {
    closeSync(fd);
  }
  return { narBytes, sha256: narHash.digest('hex') };
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

function treeFileName(version: string, path: string): string {
  return `${version}-${path.replace(/^\/+/, '').replace(/[^A-Za-z0-9._-]+/g, '_')}.nar`;
}

function plural(count: number, word: string): string {
  return `${count.toLocaleString('en-US')} ${word}${count === 1 ? '' : 's'}`;
}

async function run(workDir: string): Promise<void> {
  const startedAt = Date.now();
  process.stderr.write('demo: looking for a real directory tree to archive…\n');
  const trees = pickTrees(DEMO_CANDIDATES, TARGET_BYTES, (survey, taken) => {
    if (taken) process.stderr.write(`demo:   ${survey.path}: ${plural(survey.files, 'file')}, ${formatBytes(survey.contentBytes)}\n`);
    else if (survey.problem !== null) process.stderr.write(`demo:   ${survey.path}: skipped (${survey.problem})\n`);
  }, OVERSHOOT);
  if (trees.length === 0) throw new Error(`none of ${DEMO_CANDIDATES.join(', ')} could be archived`);
  const contentBytes = trees.reduce((sum, tree) => sum + tree.contentBytes, 0);
  const files = trees.reduce((sum, tree) => sum + tree.files, 0);
  if (contentBytes < MINIMUM_MEANINGFUL_BYTES) {
    process.stderr.write(`demo: note: only ${formatBytes(contentBytes)} of files found; the figures are still real, just smaller\n`);
  }
  const spec: VariantSpec = { seed: 'chunker-demo', fraction: Math.min(1, EDITED_FILES / Math.max(files, 1)), edit: 'insert-middle' };
  const checkWithNix = hasNixStore();
  const progress = new Progress('demo', contentBytes * (checkWithNix ? 3 : 2));

  const store = new ChunkLedger(); // the store after uploading version 1
  const v1Hashes: string[] = [];
  let v1NarBytes = 0;
  for (const tree of trees) {
    progress.relabel(`version 1: ${tree.path}`);
    const result = await archiveAndChunk(tree, join(workDir, treeFileName('v1', tree.path)), {}, progress, (chunk) => store.add(chunk));
    v1NarBytes += result.narBytes;
    v1Hashes.push(result.sha256);
  }

  const v2 = new ChunkLedger();
  const reuse = new ReuseTally(store);
  const added = new ChunkLedger();
  const edits: VariantStats = emptyVariantStats();
  let v2NarBytes = 0;
  for (const tree of trees) {
    progress.relabel(`version 2: ${tree.path}`);
    const options: NarWriteOptions = { transform: variantTransform(spec, tree.path, edits) };
    const result = await archiveAndChunk(tree, join(workDir, treeFileName('v2', tree.path)), options, progress, (chunk) => {
      v2.add(chunk);
      reuse.add(chunk);
      if (!store.has(chunk)) added.add(chunk);
    });
    v2NarBytes += result.narBytes;
  }

  let nixCheck = 'skipped (nix-store not installed)';
  if (checkWithNix) {
    let matching = 0;
    for (const [index, tree] of trees.entries()) {
      progress.relabel(`checking against nix-store --dump: ${tree.path}`);
      if ((await nixStoreDumpSha256(tree.path, progress)) === v1Hashes[index]) matching++;
    }
    nixCheck = matching === trees.length ? `yes, byte for byte (${matching}/${trees.length} NARs)` : `NO: ${matching}/${trees.length} NARs match`;
  }
  progress.relabel('demo');
  progress.finish('done');

  const sizes = SIZE_PRESETS[PRESET];
  const v1Sizes = summarizeSizes(store.lengths);
  const out: string[] = [];
  out.push(
    `Chunker demo: ${trees.map((tree) => tree.path).join(', ')} — ${plural(files, 'file')}, ${formatBytes(contentBytes)}`,
    `Chunking: ${PRESET} preset (min ${formatBytes(sizes.minSize)} / avg ${formatBytes(sizes.avgSize)} / max ${formatBytes(sizes.maxSize)}), SHA-256 per chunk`,
    '',
    `Version 1: ${plural(trees.length, 'NAR')}, ${formatBytes(v1NarBytes)} (NARs identical to nix-store --dump: ${nixCheck})`,
    `  chunks:       ${store.chunks.toLocaleString('en-US')} (${store.uniqueChunks.toLocaleString('en-US')} distinct)`,
    `  unique bytes: ${formatBytes(store.uniqueBytes)} of ${formatBytes(store.bytes)} (${formatPercent(store.bytes - store.uniqueBytes, store.bytes)} repeats within version 1)`,
    `  chunk sizes:  min ${formatBytes(v1Sizes.min)}  p50 ${formatBytes(v1Sizes.p50)}  p90 ${formatBytes(v1Sizes.p90)}  max ${formatBytes(v1Sizes.max)}  mean ${formatBytes(v1Sizes.mean)}`,
    ...renderHistogram(histogram(store.lengths, sizes.minSize, sizes.maxSize)).map((line) => `    ${line}`),
    '',
    `Version 2: ${plural(edits.editedFiles, 'file')} changed (a short line inserted mid-file, ${edits.addedBytes} bytes in all), ${formatBytes(v2NarBytes)} of NARs, ${plural(v2.chunks, 'chunk')}`,
    `  already in the store from version 1: ${formatBytes(reuse.presentBytes)} of ${formatBytes(reuse.bytes)} (${formatPercent(reuse.presentBytes, reuse.bytes)}), ${reuse.presentChunks.toLocaleString('en-US')} of ${plural(reuse.chunks, 'chunk')}`,
    `  new to upload:                        ${formatBytes(added.uniqueBytes)} in ${plural(added.uniqueChunks, 'chunk')}`,
    '',
    `Done in ${((Date.now() - startedAt) / 1000).toFixed(1)} s.`,
  );
  console.log(out.join('\n'));
}

const workDir = mkdtempSync(join(tmpdir(), 'chunker-demo-'));
const cleanUp = () => rmSync(workDir, { recursive: true, force: true });
for (const [signal, number] of [['SIGINT', 2], ['SIGTERM', 15]] as const) {
  process.once(signal, () => {
    cleanUp();
    process.exit(128 + number);
  });
}
try {
  await run(workDir);
} catch (error) {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  cleanUp();
}
