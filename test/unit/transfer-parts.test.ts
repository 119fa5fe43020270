import { describe, expect, it } from 'vitest';
import { commonPrefix } from '../../port/transfer/existence.js';
import { parseJournal } from '../../port/transfer/journal.js';
import { ProgressTracker, type UploadProgress } from '../../port/transfer/progress.js';
import { WeightedSemaphore } from '../../port/transfer/semaphore.js';
import { chunkerRejectionOf } from '../support/chunker-error.js';
import { FakeClock, settle } from '../support/fake-clock.js';

describe('WeightedSemaphore', () => {
  it('admits in order, and a request larger than the capacity alone', async () => {
    const semaphore = new WeightedSemaphore(100);
    const admitted: string[] = [];
    const take = (label: string, weight: number): Promise<number> =>
      semaphore.acquire(weight).then((charge) => {
        admitted.push(label);
        return charge;
      });
    const a = await take('a', 60);
    const big = take('big', 500);
    const small = take('small', 1);
    await settle();
    // `small` would fit, but `big` asked first.
    expect(admitted).toEqual(['a']);
    semaphore.release(a);
    expect(await big).toBe(100);
    await settle();
    expect(admitted).toEqual(['a', 'big']);
    semaphore.release(100);
    expect(await small).toBe(1);
    expect(semaphore.inUse).toBe(1);
  });

  it('drops an aborted waiter and lets the ones behind it through', async () => {
    const semaphore = new WeightedSemaphore(10);
    await semaphore.acquire(5);
    const controller = new AbortController();
    const blocked = semaphore.acquire(10, controller.signal);
    const behind = semaphore.acquire(5);
    controller.abort();
    expect((await chunkerRejectionOf(() => blocked)).code).toBe('aborted');
    expect(await behind).toBe(5);
    expect(semaphore.inUse).toBe(10);
  });
});

describe('parseJournal', () => {
  const header = `chunker-upload-journal 1 ${JSON.stringify('key')}\n`;

  it('reads records, keeps the last size of a name, skips junk and a torn last line', () => {
    const text = `${header}5 a/b\n6 a/b\n\nxx\n-1 c\n7 ../escape\n8 name with spaces\n9 torn`;
    expect([...parseJournal(text, 'key')]).toEqual([
      ['a/b', 6],
      ['name with spaces', 8],
    ]);
  });

  it('ignores a journal of another key, or without a header', () => {
    expect(parseJournal(`${header}5 a\n`, 'other').size).toBe(0);
    expect(parseJournal('5 a\n', 'key').size).toBe(0);
    expect(parseJournal('', 'key').size).toBe(0);
  });
});

describe('commonPrefix', () => {
  it('is the longest shared start', () => {
    expect(commonPrefix(['chunks/ab1', 'chunks/ab2', 'chunks/ac'])).toBe('chunks/a');
    expect(commonPrefix(['x'])).toBe('x');
    expect(commonPrefix(['a', 'b'])).toBe('');
    expect(commonPrefix([])).toBe('');
  });
});

describe('ProgressTracker', () => {
  it('smooths the rate, derives the ETA, and emits at most once per interval', async () => {
    const clock = new FakeClock();
    const events: UploadProgress[] = [];
    const tracker = new ProgressTracker(2, 2_000_000, {
      onProgress: (event) => events.push(event),
      intervalMs: 100,
      clock,
      load: () => ({ concurrency: 3, inFlight: 1 }),
    });
    tracker.beginUploading();
    expect(events).toHaveLength(1);
    const first = tracker.begin(1_000_000);
    first.read(100_000);
    tracker.changed();
    expect(events).toHaveLength(1);
    await clock.advance(1000);
    first.read(600_000);
    tracker.changed();
    expect(events).toHaveLength(2);
    // 600 kB in the first second: the first sample is taken as it is.
    expect(events[1]).toMatchObject({ bytesDone: 600_000, bytesPerSecond: 600_000, concurrency: 3, inFlight: 1 });
    expect(events[1]!.etaSeconds).toBeCloseTo(1_400_000 / 600_000, 6);
    await clock.advance(1000);
    tracker.complete(first);
    // 400 kB in the next second: the average moves toward it, not all the way.
    const rate = events[2]!.bytesPerSecond;
    expect(rate).toBeLessThan(600_000);
    expect(rate).toBeGreaterThan(400_000);
    const second = tracker.begin(1_000_000);
    second.read(1_000_000);
    tracker.complete(second);
    const final = tracker.finish();
    expect(final).toMatchObject({ phase: 'done', objectsDone: 2, bytesDone: 2_000_000, etaSeconds: 0, bytesPerSecond: 1_000_000 });
    expect(events.at(-1)).toBe(final);
  });
});
