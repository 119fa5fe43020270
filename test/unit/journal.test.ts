/**
 * The resume journal (port/transfer/journal.ts) as a file: a record is in the file the
 * moment `record` returns (what resuming after SIGKILL relies on), closing keeps it and
 * discarding removes it.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseJournal, UploadJournal } from '../../port/transfer/journal.js';
import { FakeClock } from '../support/fake-clock.js';

const work = mkdtempSync(join(tmpdir(), 'chunker-journal-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('UploadJournal', () => {
  it('has each record in the file as soon as record returns, before any flush', async () => {
    const clock = new FakeClock();
    const journal = await UploadJournal.open(join(work, 'state'), 'job', clock);
    journal.record('chunks/aa/one', 10);
    expect(parseJournal(readFileSync(journal.path, 'utf8'), 'job')).toEqual(new Map([['chunks/aa/one', 10]]));
    // Past the fsync interval the next record queues an fsync; the records stay in order.
    await clock.advance(60_000);
    journal.record('chunks/bb/two', 20);
    journal.record('chunks/aa/one', 11);
    expect(readFileSync(journal.path, 'utf8').split('\n').slice(1)).toEqual(['10 chunks/aa/one', '20 chunks/bb/two', '11 chunks/aa/one', '']);
    await journal.close();
    expect(() => journal.record('late', 1)).toThrow(/after close/);
    const reopened = await UploadJournal.open(join(work, 'state'), 'job', clock);
    expect(reopened.previous).toEqual(new Map([['chunks/aa/one', 11], ['chunks/bb/two', 20]]));
    await reopened.discard();
    expect(existsSync(reopened.path)).toBe(false);
  });
});
