/**
 * The SIGKILL/resume test, for any store with a URL: a `chunker sync` is killed with
 * SIGKILL part way (once its progress output shows objects done), then run again; the
 * second run must send exactly what the store was missing, and at the end every object
 * must be byte-identical to its file. A backend's test file calls `describeSyncResume`
 * with a factory for a fresh, empty store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { seededBytes } from './random-bytes.js';
import { listStore, parseSyncSummary, runStoreCli, spawnCli, type StoreTarget } from './store-cli.js';

const OBJECT_COUNT = 24;
const OBJECT_BYTES = 32 * 1024;
/** Slow enough (about 3 s for everything) that the kill lands part way. */
const FIRST_RUN_BWLIMIT = '256K';
/** Objects done before the first run is killed. */
const KILL_AFTER_OBJECTS = 6;
const PROGRESS_DEADLINE_MS = 60_000;

/** Starts a sync and SIGKILLs it once a progress line shows `KILL_AFTER_OBJECTS` done. */
async function syncUntilKilled(target: StoreTarget, args: readonly string[]): Promise<{ doneAtKill: number; stderr: string }> {
  const child = spawnCli(target, args);
  child.stdin!.end();
  let stderr = '';
  let doneAtKill = -1;
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
  const deadline = setTimeout(() => child.kill('SIGKILL'), PROGRESS_DEADLINE_MS);
  child.stderr!.setEncoding('utf8').on('data', (part: string) => {
    stderr += part;
    if (doneAtKill >= 0) return;
    for (const match of stderr.matchAll(/objects (\d+)\/\d+/g)) {
      if (Number(match[1]) >= KILL_AFTER_OBJECTS) {
        doneAtKill = Number(match[1]);
        child.kill('SIGKILL');
        break;
      }
    }
  });
  const signal = await exited;
  clearTimeout(deadline);
  if (doneAtKill < 0) throw new Error(`sync ended (${signal}) before showing ${KILL_AFTER_OBJECTS} objects done:\n${stderr}`);
  expect(signal).toBe('SIGKILL');
  return { doneAtKill, stderr };
}

export function describeSyncResume(backendName: string, makeTarget: () => Promise<StoreTarget>): void {
  describe(`chunker sync after SIGKILL: ${backendName}`, () => {
    let target: StoreTarget;
    let work: string;
    const files = new Map<string, Uint8Array>();

    beforeAll(async () => {
      target = await makeTarget();
      work = mkdtempSync(join(tmpdir(), 'chunker-sync-resume-'));
      for (let index = 0; index < OBJECT_COUNT; index++) {
        const name = `chunks/${(index % 4).toString(16).padStart(2, '0')}/object-${index}`;
        const bytes = seededBytes(OBJECT_BYTES + index, 1000 + index);
        files.set(name, bytes);
        const path = join(work, 'source', ...name.split('/'));
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, bytes);
      }
    });
    afterAll(async () => {
      rmSync(work, { recursive: true, force: true });
      await target?.teardown?.();
    });

    it('resumes, sends only what was missing, and ends with every object byte-identical', async () => {
      const source = join(work, 'source');
      const state = join(work, 'state');
      const common = [source, target.url, '--state-dir', state, '--transfers', '2'];

      const killed = await syncUntilKilled(target, ['sync', ...common, '--bwlimit', FIRST_RUN_BWLIMIT, '--progress', '--stats', '100ms']);
      const afterKill = await listStore(target);
      // Nothing partial is visible: whatever is listed is complete.
      for (const [name, size] of afterKill) expect(size, name).toBe(files.get(name)?.length);
      expect(afterKill.size).toBeGreaterThanOrEqual(killed.doneAtKill);
      expect(afterKill.size).toBeLessThan(OBJECT_COUNT);
      expect(readdirSync(state).filter((name) => name.endsWith('.journal'))).toHaveLength(1);

      const resumed = await runStoreCli(target, ['sync', ...common]);
      expect(resumed.status, resumed.stderr).toBe(0);
      const summary = parseSyncSummary(resumed.stderr);
      expect(summary).toMatchObject({ uploaded: OBJECT_COUNT - afterKill.size, skipped: afterKill.size, total: OBJECT_COUNT });
      // The journal vouched for objects the killed run finished (the store confirmed each).
      expect(summary.resumed).toBeGreaterThan(0);
      expect(summary.resumed).toBeLessThanOrEqual(afterKill.size);
      expect(readdirSync(state).filter((name) => name.endsWith('.journal'))).toHaveLength(0);

      const final = await listStore(target);
      expect([...final.keys()].sort()).toEqual([...files.keys()].sort());
      // Sizes match (above) and the objects read back in name order are the files in that
      // order, so each object is byte-identical to its file.
      const names = [...files.keys()].sort();
      const cat = await runStoreCli(target, ['store', 'cat', target.url, ...names]);
      expect(cat.status, cat.stderr).toBe(0);
      expect(cat.stdout.equals(Buffer.concat(names.map((name) => files.get(name)!)))).toBe(true);
      for (const name of names) expect(final.get(name), name).toBe(files.get(name)!.length);
      // A third run finds everything in place and sends nothing.
      const again = await runStoreCli(target, ['sync', ...common]);
      expect(parseSyncSummary(again.stderr)).toMatchObject({ uploaded: 0, skipped: OBJECT_COUNT });
    });
  });
}
