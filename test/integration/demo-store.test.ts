/**
 * The demo's job on a small fixture tree, into real file:// chunk stores: version 1 goes
 * in, version 2 mostly finds its chunks already stored, a version 2 NAR comes back
 * identical; every object follows the layout; a damaged chunk is caught on restore; and
 * the built `npm run demo` script does the same from the command line.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decompressSync } from '../../port/engine/compression.js';
import { narStream } from '../../port/engine/nar-writer.js';
import { openStore } from '../../port/store/open-store.js';
import { CHUNKS_PREFIX, NAR_INDEX_PREFIX, narIndexName, parseNarIndex } from '../../bench/chunk-store-layout.js';
import { runDemoPipeline, type DemoPipelineOptions, type DemoPipelineResult } from '../../bench/demo-pipeline.js';
import { restoreNar } from '../../bench/nar-restore.js';
import { chunkerRejectionOf } from '../support/chunker-error.js';
import { REPO_ROOT } from '../support/paths.js';
import { seededBytes, structuredBytes } from '../support/random-bytes.js';

const DEMO_SCRIPT = join(REPO_ROOT, 'dist', 'bench', 'demo.js');
const CHUNK_NAME = /^chunks\/([0-9a-f]{2})\/(\1[0-9a-f]{62})(\.zst)?$/;
const INDEX_NAME = /^nar\/[0-9a-f]{64}\.json$/;

const work = mkdtempSync(join(tmpdir(), 'chunker-demo-store-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * About 4 MiB: compressible text-like files (some edited in version 2), a few random
 * files that zstd cannot shrink (stored as they are), an executable and a symlink.
 */
function buildFixtureTree(root: string): void {
  mkdirSync(join(root, 'share', 'doc'), { recursive: true });
  mkdirSync(join(root, 'bin'));
  for (let i = 0; i < 40; i++) writeFileSync(join(root, 'share', 'doc', `page-${i}.txt`), structuredBytes(20_000 + i * 2_500, 100 + i));
  for (let i = 0; i < 3; i++) writeFileSync(join(root, 'bin', `blob-${i}`), seededBytes(300_000 + i * 200_000, 200 + i));
  chmodSync(join(root, 'bin', 'blob-0'), 0o755);
  symlinkSync('blob-0', join(root, 'bin', 'tool'));
}

const tree = join(work, 'tree');
buildFixtureTree(tree);
let storeCounter = 0;
function freshStore(): string {
  return pathToFileURL(join(work, `store-${storeCounter++}`)).href;
}

function pipelineOptions(storeUrl: string): DemoPipelineOptions {
  const stagingDir = join(work, `staging-${storeCounter}`);
  mkdirSync(stagingDir, { recursive: true });
  return { trees: [tree], variant: { seed: 'demo-store-test', fraction: 0.3, edit: 'insert-middle' }, storeUrl, stagingDir };
}

async function narSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const piece of narStream(path)) hash.update(piece);
  return hash.digest('hex');
}

describe('demo pipeline into a file:// chunk store', () => {
  const storeUrl = freshStore();
  const options = pipelineOptions(storeUrl);
  let first: DemoPipelineResult;
  beforeAll(async () => {
    first = await runDemoPipeline(options);
  });

  it('uploads version 1, skips most of version 2, and restores a version 2 NAR identical', async () => {
    const { v1, v2, edits, restore } = first;
    expect(v1.nars).toHaveLength(1);
    expect(v1.nars[0]!.ingest.narSha256).toBe(await narSha256(tree));
    expect(v1.totals.distinctChunks).toBeGreaterThan(10);
    expect(v1.totals.objectsUploaded).toBe(v1.totals.distinctChunks);
    expect(v1.totals.objectsSkipped).toBe(0);
    expect(v1.totals.bytesUploaded).toBe(v1.totals.storedBytes);
    expect(v1.totals.indexesUploaded).toBe(1);
    // Text compresses, the random blobs do not: both kinds of object are in the store.
    expect(v1.totals.compressedChunks).toBeGreaterThan(0);
    expect(v1.totals.compressedChunks).toBeLessThan(v1.totals.distinctChunks);
    expect(v1.totals.storedBytes).toBeLessThan(v1.totals.distinctBytes);

    expect(edits.editedFiles).toBeGreaterThan(0);
    expect(v2.totals.objectsSkipped).toBeGreaterThan(0);
    expect(v2.totals.objectsUploaded).toBeGreaterThan(0);
    expect(v2.totals.objectsUploaded + v2.totals.objectsSkipped).toBe(v2.totals.distinctChunks);
    expect(v2.totals.objectsUploaded).toBeLessThan(v1.totals.objectsUploaded);
    expect(v2.totals.indexesUploaded).toBe(1);

    expect(restore).toMatchObject({ tree, identical: true, error: null });
    expect(restore.narSha256).toBe(v2.nars[0]!.ingest.narSha256);
    expect(restore.narSha256).not.toBe(v1.nars[0]!.ingest.narSha256);
    expect(readdirSync(options.stagingDir)).toEqual([]);
  });

  it('writes only layout names, each chunk object holding the chunk its name says', async () => {
    const { v1, v2, usage } = first;
    const store = await openStore(storeUrl);
    try {
      const names: string[] = [];
      for await (const info of store.list('')) names.push(info.name);
      const chunkNames = names.filter((name) => name.startsWith(CHUNKS_PREFIX));
      const indexNames = names.filter((name) => name.startsWith(NAR_INDEX_PREFIX));
      expect(chunkNames.length + indexNames.length).toBe(names.length);
      expect(chunkNames.every((name) => CHUNK_NAME.test(name))).toBe(true);
      expect(indexNames.every((name) => INDEX_NAME.test(name))).toBe(true);
      expect(chunkNames).toHaveLength(v1.totals.objectsUploaded + v2.totals.objectsUploaded);
      expect(indexNames.sort()).toEqual([v1, v2].map((version) => narIndexName(version.nars[0]!.ingest.narSha256)).sort());
      expect(usage.chunks.objects).toBe(chunkNames.length);
      expect(usage.indexes.objects).toBe(2);
      expect(usage.diskBytes).toBeGreaterThanOrEqual(usage.chunks.bytes + usage.indexes.bytes);

      for (const name of chunkNames) {
        const [, , digest, zst] = CHUNK_NAME.exec(name)!;
        const payload = await store.get(name);
        const chunk = zst === undefined ? payload : decompressSync(payload, { codec: 'zstd' });
        expect(createHash('sha256').update(chunk).digest('hex'), name).toBe(digest);
      }

      const indexName = narIndexName(v2.nars[0]!.ingest.narSha256);
      const index = parseNarIndex(await store.get(indexName), indexName);
      expect(index.narSize).toBe(v2.nars[0]!.ingest.narBytes);
      expect(index.chunks).toHaveLength(v2.nars[0]!.ingest.chunks);
      expect(index.chunking).toMatchObject({ minSize: 16_384, avgSize: 65_536, maxSize: 262_144 });
    } finally {
      await store.close();
    }
  });

  it('uploads nothing when run again into the same store', async () => {
    const again = await runDemoPipeline(pipelineOptions(storeUrl));
    for (const version of [again.v1, again.v2]) {
      expect(version.totals.objectsUploaded).toBe(0);
      expect(version.totals.indexesUploaded).toBe(0);
      expect(version.totals.objectsSkipped).toBe(version.totals.distinctChunks);
    }
    expect(again.restore.identical).toBe(true);
  });

  it('refuses to restore from a damaged chunk (store_integrity) or a missing index (not_found)', async () => {
    const damagedUrl = freshStore();
    const damaged = await runDemoPipeline(pipelineOptions(damagedUrl));
    const store = await openStore(damagedUrl);
    try {
      const digest = damaged.v2.nars[0]!.ingest.narSha256;
      const index = parseNarIndex(await store.get(narIndexName(digest)), 'index');
      const raw = index.chunks.find((chunk) => chunk.codec === 'none')!;
      const rawName = `chunks/${raw.sha256.slice(0, 2)}/${raw.sha256}`;
      const bytes = Buffer.from(await store.get(rawName));
      bytes[0] = bytes[0]! ^ 0xff;
      writeFileSync(join(new URL(damagedUrl).pathname, rawName), bytes);
      expect((await chunkerRejectionOf(() => restoreNar(store, digest, () => {}))).code).toBe('store_integrity');
      expect((await chunkerRejectionOf(() => restoreNar(store, 'ee'.repeat(32), () => {}))).code).toBe('not_found');
    } finally {
      await store.close();
    }
  });
});

describe('npm run demo (dist/bench/demo.js)', () => {
  /** Chunk objects uploaded and skipped, from each version's "uploaded:" line. */
  function uploadLines(stdout: string): { uploaded: number; skipped: number }[] {
    const count = (text: string): number => Number(text.replaceAll(',', ''));
    return [...stdout.matchAll(/^ {2}uploaded: +([\d,]+) chunk objects? .*; skipped as already stored: ([\d,]+) objects?/gm)].map((match) => ({
      uploaded: count(match[1]!),
      skipped: count(match[2]!),
    }));
  }

  function runDemo(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
    if (!existsSync(DEMO_SCRIPT)) throw new Error(`${DEMO_SCRIPT} is missing: run npm run build:ts first`);
    const result = spawnSync(process.execPath, [DEMO_SCRIPT, ...args], { env: { ...process.env, ...env }, encoding: 'utf8' });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it('fills a store given with --store, keeps it, and a second run uploads nothing', () => {
    const storeUrl = freshStore();
    const first = runDemo(['--store', storeUrl, tree]);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^ {2}restored NAR identical: yes \(SHA-256 [0-9a-f]{64}\)$/m);
    expect(uploadLines(first.stdout)).toHaveLength(2);
    const [v1, v2] = uploadLines(first.stdout);
    expect(v1!.uploaded).toBeGreaterThan(0);
    expect(v1!.skipped).toBe(0);
    expect(v2!.uploaded).toBeGreaterThan(0);
    expect(v2!.skipped).toBeGreaterThan(0);
    expect(first.stdout).toContain(`The store is kept at ${storeUrl}`);
    expect(readdirSync(new URL(storeUrl).pathname).sort()).toEqual(['chunks', 'nar']);

    const second = runDemo([tree], { CHUNKER_DEMO_STORE: storeUrl });
    expect(second.status, second.stderr).toBe(0);
    expect(uploadLines(second.stdout).map((line) => line.uploaded)).toEqual([0, 0]);
    expect(second.stdout).toContain('+ 0 NAR indexes');
    expect(second.stdout).toContain('restored NAR identical: yes');
  });

  it('uses a temporary store by default and leaves nothing behind', () => {
    const scratch = join(work, 'tmp');
    mkdirSync(scratch);
    const run = runDemo([tree], { TMPDIR: scratch, CHUNKER_DEMO_STORE: '' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^Store: file:\/\/.*\/store \(temporary\)$/m);
    expect(run.stdout).toContain('restored NAR identical: yes');
    expect(readdirSync(scratch)).toEqual([]);
  });

  it('rejects an unknown option with status 2 and a bad store URL with status 1', () => {
    const unknown = runDemo(['--frob']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option --frob/);
    const bad = runDemo(['--store', 'gopher://nowhere/x', tree]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/demo failed: .*gopher:/);
  });
});
