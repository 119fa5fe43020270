import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatBytes, formatDuration, formatProgress, ProgressDisplay } from '../../port/cli/progress-display.js';
import { DEFAULT_STATS_INTERVAL_MS, parseSyncArgs, runSync, type SyncSettings } from '../../port/cli/sync-command.js';
import { MemoryBackend } from '../../port/store/memory.js';
import type { UploadProgress } from '../../port/transfer/progress.js';
import { chunkerErrorOf } from '../support/chunker-error.js';
import { seededBytes } from '../support/random-bytes.js';

const work = mkdtempSync(join(tmpdir(), 'chunker-sync-unit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

class FakeStream {
  text = '';
  constructor(
    readonly isTTY: boolean,
    readonly columns = 200,
  ) {}
  write(text: string): boolean {
    this.text += text;
    return true;
  }
}

const progress = (overrides: Partial<UploadProgress>): UploadProgress => ({
  phase: 'uploading',
  objectsTotal: 400,
  objectsChecked: 400,
  objectsVerified: 0,
  objectsDone: 120,
  objectsSkipped: 30,
  objectsFailed: 0,
  bytesTotal: 40 * 1024 * 1024,
  bytesDone: 12 * 1024 * 1024,
  bytesSkipped: 0,
  concurrency: 8,
  inFlight: 5,
  bytesPerSecond: 3.25 * 1024 * 1024,
  etaSeconds: 8.6,
  elapsedMs: 4000,
  ...overrides,
});

describe('sync options', () => {
  it('has rclone-like defaults and reads every option', () => {
    const defaults = parseSyncArgs(['src', 'memory:']);
    expect(defaults.settings).toMatchObject({
      transfers: 8,
      checkers: 8,
      bandwidthBytesPerSecond: 0,
      memoryBudgetBytes: 128 * 1024 * 1024,
      progress: false,
      statsIntervalMs: DEFAULT_STATS_INTERVAL_MS,
      checkExisting: true,
      dryRun: false,
    });
    expect(defaults.settings.stateDir).toMatch(/chunker[/\\]sync$/);
    const given = parseSyncArgs(['src', 'memory:', '--transfers=3', '--checkers', '2', '--bwlimit', '1.5M', '--max-memory', '64M', '--progress', '--stats', '500ms', '--state-dir', '/tmp/s', '--no-check-dest', '--dry-run']);
    expect(given.settings).toEqual({
      transfers: 3,
      checkers: 2,
      bandwidthBytesPerSecond: 1.5 * 1024 * 1024,
      memoryBudgetBytes: 64 * 1024 * 1024,
      progress: true,
      statsIntervalMs: 500,
      stateDir: '/tmp/s',
      checkExisting: false,
      dryRun: true,
    });
  });

  it('rejects bad values as usage errors', () => {
    for (const argv of [['src'], ['src', 'memory:', '--transfers', '0'], ['src', 'memory:', '--stats', 'soon'], ['src', 'memory:', '--bwlimit', '-1'], ['src', 'memory:', '--fast']]) {
      expect(chunkerErrorOf(() => parseSyncArgs(argv)).code, argv.join(' ')).toBe('usage');
    }
  });
});

describe('runSync (in process, memory store)', () => {
  const source = join(work, 'tree');
  mkdirSync(join(source, 'd'), { recursive: true });
  for (let index = 0; index < 12; index++) writeFileSync(join(source, 'd', `f${index}`), seededBytes(1_000 * (index + 1), index));

  const settings = (overrides: Partial<SyncSettings>): SyncSettings => ({
    ...parseSyncArgs([source, 'memory:']).settings,
    stateDir: join(work, 'state'),
    ...overrides,
  });

  it('uploads the tree, draws progress in place on a terminal, and prints a summary', async () => {
    const store = new MemoryBackend();
    const stderr = new FakeStream(true);
    const summary = await runSync(store, source, settings({ progress: true }), { stderr, stdout: async () => {} });
    expect(summary).toMatchObject({ objectsUploaded: 12, objectsTotal: 12 });
    expect(await store.stat('d/f11')).toEqual({ name: 'd/f11', size: 12_000 });
    expect(stderr.text).toContain('\r\x1b[2K');
    expect(stderr.text).toMatch(/objects 12\/12 \(0 skipped\); transfers \d+ \(\d+ active\)\n/);
    expect(stderr.text).toMatch(/sync: uploaded 12 objects \(76\.2 KiB\), skipped 0 already stored, 12 objects \(76\.2 KiB\) in all; /);
  });

  it('prints plain lines at the stats interval when stderr is not a terminal, and none at 0', async () => {
    const quiet = new FakeStream(false);
    await runSync(new MemoryBackend(), source, settings({ progress: true, statsIntervalMs: 0 }), { stderr: quiet, stdout: async () => {} });
    expect(quiet.text.split('\n').filter(Boolean)).toHaveLength(1);
    expect(quiet.text).not.toContain('\r');
  });
});

describe('progress display', () => {
  it('formats sizes, durations and a status line', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    // A rate below 1 KiB/s is a fraction of bytes: whole bytes are what a reader wants.
    expect(formatBytes(291.09304760157204)).toBe('291 B');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
    expect(formatDuration(7.2)).toBe('7s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatProgress(progress({}))).toBe('12.0 MiB / 40.0 MiB 30%, 3.3 MiB/s, ETA 9s; objects 120/400 (30 skipped); transfers 8 (5 active)');
    expect(formatProgress(progress({ etaSeconds: null, objectsFailed: 2 }))).toContain('ETA -; objects 120/400 (30 skipped, 2 failed)');
    expect(formatProgress(progress({ phase: 'checking', objectsChecked: 50 }))).toBe('checking 50/400; objects 120/400 (30 skipped)');
  });

  it('on a pipe, prints a line only once per interval', () => {
    let now = 0;
    const stream = new FakeStream(false);
    const display = new ProgressDisplay(stream, 1000, () => now);
    for (now = 0; now <= 3500; now += 100) display.update(progress({ elapsedMs: now }));
    display.update(progress({ phase: 'done' }));
    expect(stream.text.split('\n').filter(Boolean)).toHaveLength(3);
  });

  it('on a terminal, clips the line to the width and ends it when done', () => {
    const stream = new FakeStream(true, 40);
    const display = new ProgressDisplay(stream, 1000);
    display.update(progress({}));
    expect(stream.text).toBe(`\r\x1b[2K${formatProgress(progress({})).slice(0, 39)}`);
    display.update(progress({ phase: 'done' }));
    expect(stream.text.endsWith('\n')).toBe(true);
  });
});
