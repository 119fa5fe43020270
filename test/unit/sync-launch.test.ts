/**
 * Where `chunker sync` runs its upload (port/cli/sync-launch.ts): in a worker for many
 * small files, in the main thread for few or large ones; the look at the tree stops after
 * WORKER_MIN_FILES files.
 */
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleFiles, syncWantsWorker, WORKER_MAX_MEAN_FILE_BYTES, WORKER_MIN_FILES } from '../../port/cli/sync-launch.js';

const work = mkdtempSync(join(tmpdir(), 'chunker-sync-launch-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A tree of `count` files of `bytes` each, spread over 16 directories. */
function tree(name: string, count: number, bytes: number): string {
  const root = join(work, name);
  for (let index = 0; index < count; index++) {
    const directory = join(root, 'chunks', (index % 16).toString(16).padStart(2, '0'));
    mkdirSync(directory, { recursive: true });
    writeFileSync(join(directory, `object-${index}`), Buffer.alloc(bytes));
  }
  return root;
}

describe('sampleFiles', () => {
  it('counts files and bytes, and stops at the limit', () => {
    const root = tree('sample', 40, 100);
    expect(sampleFiles(root, 1000)).toEqual({ files: 40, bytes: 4000 });
    expect(sampleFiles(root, 25)).toEqual({ files: 25, bytes: 2500 });
    expect(sampleFiles(join(work, 'absent'), 10)).toEqual({ files: 0, bytes: 0 });
  });
});

describe('syncWantsWorker', () => {
  it('picks the worker for many small files only', () => {
    const many = tree('many-small', WORKER_MIN_FILES, 1000);
    const few = tree('few-small', WORKER_MIN_FILES - 1, 1000);
    expect(syncWantsWorker([many, 'memory:'])).toBe(true);
    expect(syncWantsWorker(['--transfers', '4', many, 'memory:', '--dry-run'])).toBe(true);
    expect(syncWantsWorker([few, 'memory:'])).toBe(false);
  });

  it('keeps large files in the main thread', () => {
    const root = tree('large', WORKER_MIN_FILES, 0);
    const one = join(root, 'chunks', '00', 'object-0');
    // Sparse (truncate writes nothing): the mean size just at, then just over, the limit.
    truncateSync(one, WORKER_MIN_FILES * WORKER_MAX_MEAN_FILE_BYTES);
    expect(syncWantsWorker([root, 'memory:'])).toBe(true);
    truncateSync(one, WORKER_MIN_FILES * WORKER_MAX_MEAN_FILE_BYTES + 1);
    expect(syncWantsWorker([root, 'memory:'])).toBe(false);
  });

  it('leaves a malformed command line to the sync itself, which reports it', () => {
    const many = tree('usage', WORKER_MIN_FILES, 10);
    expect(syncWantsWorker([many])).toBe(false);
    expect(syncWantsWorker([many, 'memory:', '--frob'])).toBe(false);
    expect(syncWantsWorker([join(work, 'absent'), 'memory:'])).toBe(false);
  });
});
