/**
 * Commands run in a worker thread (port/cli/worker-command.ts, built in dist/): the worker
 * gets the small young generation it exists for, and whatever its work fails with reaches
 * the main thread as the same kind of error, so the CLI reports it as before. (Ctrl-C
 * forwarding is tested through `chunker sync` in store-cli.test.ts.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/paths.js';

const distUrl = (path: string) => pathToFileURL(join(REPO_ROOT, 'dist', 'port', path)).href;
// The worker and this test must share dist's classes, or instanceof would not match.
const { runInWorker, WORKER_YOUNG_GENERATION_MB } = (await import(distUrl('cli/worker-command.js'))) as typeof import('../../port/cli/worker-command.js');
const { ChunkerError } = (await import(distUrl('errors.js'))) as typeof import('../../port/errors.js');
const { UsageError } = (await import(distUrl('cli/args.js'))) as typeof import('../../port/cli/args.js');

const work = mkdtempSync(join(tmpdir(), 'chunker-worker-command-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A worker module whose work does what `workerData` names. */
const fixture = join(work, 'fixture.mjs');
writeFileSync(
  fixture,
  `import { readFile } from 'node:fs/promises';
import { getHeapSpaceStatistics } from 'node:v8';
import { resourceLimits } from 'node:worker_threads';
import { serveInWorker } from ${JSON.stringify(distUrl('cli/worker-command.js'))};
import { ChunkerError } from ${JSON.stringify(distUrl('errors.js'))};
import { UsageError } from ${JSON.stringify(distUrl('cli/args.js'))};

serveInWorker(async (kind) => {
  if (kind === 'heap') {
    const newSpace = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
    throw new ChunkerError('heap', JSON.stringify({ young: resourceLimits.maxYoungGenerationSizeMb, newSpaceBytes: newSpace.space_size }));
  }
  if (kind === 'chunker') throw new ChunkerError('store_unavailable', 'the server went away', false);
  if (kind === 'usage') throw new UsageError('--frob is not an option');
  if (kind === 'io') await readFile(${JSON.stringify(join(work, 'missing'))});
  if (kind === 'bug') throw new TypeError('undefined is not a function');
  if (kind === 'crash') setTimeout(() => { throw new RangeError('thrown outside the work'); });
}, () => new ChunkerError('aborted', 'interrupted'));
`,
);
const run = (kind: string) => runInWorker(pathToFileURL(fixture), kind);

/** What `run(kind)` rejects with; fails the test if it resolves. */
async function failureOf<T = Error>(kind: string): Promise<T> {
  try {
    await run(kind);
  } catch (error) {
    return error as T;
  }
  throw new Error(`the ${kind} work did not fail`);
}

describe('runInWorker', () => {
  it('runs the work in a worker whose young generation is capped', async () => {
    const error = await failureOf<InstanceType<typeof ChunkerError>>('heap');
    expect(error).toBeInstanceOf(ChunkerError);
    const { young, newSpaceBytes } = JSON.parse(error.message) as { young: number; newSpaceBytes: number };
    expect(young).toBe(WORKER_YOUNG_GENERATION_MB);
    // Two semi-spaces of a third of the young generation each, at most.
    expect(newSpaceBytes).toBeLessThanOrEqual(((2 * WORKER_YOUNG_GENERATION_MB) / 3) * 1024 * 1024);
  });

  it('resolves when the work succeeds', async () => {
    await expect(run('nothing')).resolves.toBeUndefined();
  });

  it('rejects with the ChunkerError the work failed with: code, message and permanence', async () => {
    const error = await failureOf('chunker');
    expect(error).toBeInstanceOf(ChunkerError);
    expect(error).toMatchObject({ code: 'store_unavailable', message: 'the server went away', permanent: false });
  });

  it('keeps a usage error a UsageError, so the CLI still exits with status 2', async () => {
    const error = await failureOf('usage');
    expect(error).toBeInstanceOf(UsageError);
    expect(error).toMatchObject({ code: 'usage', message: '--frob is not an option' });
  });

  it('keeps the syscall of a file system error and the stack of a bug', async () => {
    const io = await failureOf<NodeJS.ErrnoException>('io');
    expect(io.syscall).toBe('open');
    expect(io.message).toMatch(/ENOENT/);
    const bug = await failureOf('bug');
    expect(bug.message).toBe('undefined is not a function');
    expect(bug.stack).toMatch(/fixture\.mjs/);
  });

  it('rejects when the worker dies of an exception outside the work', async () => {
    await expect(run('crash')).rejects.toThrow(/thrown outside the work/);
  });
});
