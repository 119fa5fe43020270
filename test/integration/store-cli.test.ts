import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededBytes } from '../support/random-bytes.js';
import { listStore, parseSyncSummary, runStoreCli, spawnCli, type StoreTarget } from '../support/store-cli.js';

const work = mkdtempSync(join(tmpdir(), 'chunker-store-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let storeCounter = 0;
const freshStore = (): StoreTarget => ({ url: `file://${join(work, `store-${storeCounter++}`)}` });

describe('chunker store', () => {
  it('puts from a file and stdin, lists, cats and removes', async () => {
    const target = freshStore();
    const fileBytes = seededBytes(100_000, 1);
    const file = join(work, 'object.bin');
    writeFileSync(file, fileBytes);
    const stdinBytes = seededBytes(5_000, 2);
    expect((await runStoreCli(target, ['store', 'put', target.url, 'a/file', file])).status).toBe(0);
    expect((await runStoreCli(target, ['store', 'put', target.url, 'b/stdin', '-'], stdinBytes)).status).toBe(0);
    expect(await listStore(target)).toEqual(new Map([['a/file', 100_000], ['b/stdin', 5_000]]));
    expect(await listStore(target, 'b/')).toEqual(new Map([['b/stdin', 5_000]]));
    const cat = await runStoreCli(target, ['store', 'cat', target.url, 'b/stdin', 'a/file']);
    expect(cat.status).toBe(0);
    expect(cat.stdout.equals(Buffer.concat([stdinBytes, fileBytes]))).toBe(true);
    expect((await runStoreCli(target, ['store', 'rm', target.url, 'a/file', 'never/there'])).status).toBe(0);
    expect([...(await listStore(target)).keys()]).toEqual(['b/stdin']);
  });

  it('fails cat of a missing object with not_found', async () => {
    const target = freshStore();
    const run = await runStoreCli(target, ['store', 'cat', target.url, 'missing']);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^chunker: not_found: /);
    expect(run.stdout.length).toBe(0);
  });

  it('rejects malformed command lines with status 2, and unknown schemes with store_config', async () => {
    const target = freshStore();
    for (const args of [['store'], ['store', 'cat', target.url], ['store', 'put', target.url, 'x'], ['store', 'frob', target.url]]) {
      const run = await runStoreCli(target, args);
      expect(run.status, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/^chunker: usage: /);
    }
    const unknown = await runStoreCli(target, ['store', 'ls', 'gopher://example/x']);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/^chunker: store_config: /);
  });
});

describe('chunker sync', () => {
  const source = join(work, 'source');
  mkdirSync(join(source, 'nested', 'deeper'), { recursive: true });
  const files: Record<string, Uint8Array> = {
    'top.bin': seededBytes(3_000, 10),
    'nested/a.bin': seededBytes(70_000, 11),
    'nested/deeper/b.bin': seededBytes(0, 12),
  };
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(source, ...name.split('/')), bytes);
  symlinkSync(join(source, 'top.bin'), join(source, 'link.bin'));

  it('uploads a tree by relative names, leaves out links and a state dir inside it, then skips it all', async () => {
    const target = freshStore();
    const stateDir = join(source, '.chunker-state');
    const first = await runStoreCli(target, ['sync', source, target.url, '--state-dir', stateDir, '--progress', '--stats', '0']);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toContain('not regular files: link.bin');
    expect(parseSyncSummary(first.stderr)).toMatchObject({ uploaded: 3, skipped: 0, total: 3 });
    const stored = await listStore(target);
    expect(stored).toEqual(new Map(Object.entries(files).map(([name, bytes]) => [name, bytes.length])));
    const second = await runStoreCli(target, ['sync', source, target.url, '--state-dir', stateDir]);
    expect(parseSyncSummary(second.stderr)).toMatchObject({ uploaded: 0, skipped: 3 });
  });

  it('prints what a dry run would upload and sends nothing', async () => {
    const target = freshStore();
    const run = await runStoreCli(target, ['sync', source, target.url, '--dry-run', '--state-dir', join(work, 'dry-state')]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout.toString('utf8').split('\n').filter(Boolean)).toEqual(Object.keys(files).sort());
    expect(run.stderr).toContain('would upload 3 objects');
    expect((await listStore(target)).size).toBe(0);
  });

  // 40 files sync in the main thread, 300 small ones in a worker (sync-launch.ts).
  it.each([
    { files: 40, bytes: 16 * 1024, bwlimit: '64K' },
    { files: 300, bytes: 1024, bwlimit: '16K' },
  ])('stops on Ctrl-C with aborted, keeping the journal, and the same command then finishes the job ($files files)', async ({ files, bytes, bwlimit }) => {
    const target = freshStore();
    const tree = join(work, `interrupt-${files}`);
    const names: string[] = [];
    for (let index = 0; index < files; index++) {
      const directory = (index % 4).toString().padStart(2, '0');
      mkdirSync(join(tree, 'chunks', directory), { recursive: true });
      writeFileSync(join(tree, 'chunks', directory, `object-${index}`), seededBytes(bytes, 100 + index));
      names.push(`chunks/${directory}/object-${index}`);
    }
    const stateDir = join(work, `interrupt-state-${files}`);
    // Paced to take about 10 s or more: the interrupt lands part way.
    const child = spawnCli(target, ['sync', tree, target.url, '--state-dir', stateDir, '--bwlimit', bwlimit, '--progress', '--stats', '100ms']);
    child.stdin!.end();
    let stderr = '';
    let interrupted = false;
    child.stderr!.setEncoding('utf8').on('data', (part: string) => {
      stderr += part;
      if (!interrupted && new RegExp(`objects [1-9]\\d*/${files}`).test(stderr)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    expect(interrupted, stderr).toBe(true);
    expect(status, stderr).toBe(1);
    expect(stderr).toMatch(/chunker: aborted: interrupted; run the same command again to resume/);
    const stored = (await listStore(target)).size;
    expect(stored).toBeGreaterThan(0);
    expect(stored).toBeLessThan(names.length);
    const rerun = await runStoreCli(target, ['sync', tree, target.url, '--state-dir', stateDir]);
    expect(rerun.status, rerun.stderr).toBe(0);
    expect(parseSyncSummary(rerun.stderr)).toMatchObject({ uploaded: names.length - stored, skipped: stored, resumed: stored });
    expect([...(await listStore(target)).keys()].sort()).toEqual([...names].sort());
  });

  it('rejects a bad --bwlimit as a usage error, and a missing source as not_found', async () => {
    const target = freshStore();
    const bad = await runStoreCli(target, ['sync', source, target.url, '--bwlimit', '10X']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--bwlimit: .*bandwidth limit.*"10X"/);
    const missing = await runStoreCli(target, ['sync', join(work, 'no-such-dir'), target.url, '--state-dir', join(work, 'unused-state')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^chunker: not_found: /);
    // A bad command line is reported before anything the store would say.
    const both = await runStoreCli(target, ['sync', source, 'gopher://example/x', '--transfers', '0']);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/^chunker: usage: --transfers must be at least 1/);
    const scheme = await runStoreCli(target, ['sync', source, 'gopher://example/x', '--state-dir', join(work, 'unused-state')]);
    expect(scheme.status).toBe(1);
    expect(scheme.stderr).toMatch(/^chunker: store_config: /);
  });
});
