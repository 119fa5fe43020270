import { describe, expect, it } from 'vitest';
import { MemoryBackend } from '../../port/store/memory.js';
import { bytesSource } from '../../port/store/object-source.js';
import { parseBandwidth, TokenBucket, UNLIMITED_BANDWIDTH, withBandwidthLimit } from '../../port/store/wrappers/bandwidth.js';
import { chunkerErrorOf, chunkerRejectionOf } from '../support/chunker-error.js';
import { FakeClock, settle } from '../support/fake-clock.js';
import { seededBytes } from '../support/random-bytes.js';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('parseBandwidth', () => {
  it('reads rclone-style rates: binary suffixes, decimals, bare numbers as KiB/s', () => {
    const cases: [string, number][] = [
      ['10M', 10 * MiB],
      ['10m', 10 * MiB],
      ['10Mi', 10 * MiB],
      ['10MiB', 10 * MiB],
      ['1.5M', 1.5 * MiB],
      ['512K', 512 * KiB],
      ['512kb', 512 * KiB],
      ['1G', 1024 * MiB],
      ['2T', 2 * 1024 * 1024 * MiB],
      ['10B', 10],
      ['10', 10 * KiB],
      [' 3M ', 3 * MiB],
      ['.5K', 512],
    ];
    for (const [text, expected] of cases) expect(parseBandwidth(text), text).toBe(expected);
  });

  it('reads "off" and 0 as unlimited', () => {
    for (const text of ['off', 'OFF', '0', '0M', '0.0']) expect(parseBandwidth(text), text).toBe(UNLIMITED_BANDWIDTH);
  });

  it('refuses anything else with invalid_argument naming the option', () => {
    for (const text of ['', 'M', '-1', '10X', '10 M', '1e3', '10MB/s', 'fast', '0.0001']) {
      const error = chunkerErrorOf(() => parseBandwidth(text));
      expect(error.code, text).toBe('invalid_argument');
      expect(error.message).toContain('bandwidth limit');
    }
  });
});

describe('TokenBucket', () => {
  it('lets a burst through at once, then paces to the rate', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(1000, { burstBytes: 100, clock });
    await bucket.take(100);
    expect(clock.now()).toBe(0);
    const taking = bucket.take(1000);
    await settle();
    expect(clock.pending).toBe(1);
    await clock.runAll();
    await taking;
    expect(clock.now()).toBe(1000);
  });

  it('serves concurrent callers in the order they asked, at the rate', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(1000, { burstBytes: 1, clock });
    await bucket.take(1);
    const finished: [number, number][] = [];
    const takes = [0, 1, 2].map((index) => bucket.take(500).then(() => finished.push([index, clock.now()])));
    await clock.runAll();
    await Promise.all(takes);
    expect(finished).toEqual([
      [0, 500],
      [1, 1000],
      [2, 1500],
    ]);
  });

  it('refills while idle, up to the burst only', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(1000, { burstBytes: 200, clock });
    await bucket.take(200);
    await clock.advance(60_000);
    await bucket.take(200);
    expect(clock.now()).toBe(60_000);
    const taking = bucket.take(100);
    await clock.runAll();
    await taking;
    expect(clock.now()).toBe(60_100);
  });

  it('gives the bytes back when a waiting take is aborted', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket(1000, { burstBytes: 100, clock });
    await bucket.take(100);
    const controller = new AbortController();
    const waiting = bucket.take(10_000, controller.signal);
    controller.abort();
    expect((await chunkerRejectionOf(() => waiting)).code).toBe('aborted');
    // Only the 100 bytes of the first take are owed: the next 100 wait 100 ms, not 10 s.
    const next = bucket.take(100);
    await clock.runAll();
    await next;
    expect(clock.now()).toBe(100);
  });

  it('validates its rate', () => {
    expect(chunkerErrorOf(() => new TokenBucket(0)).code).toBe('invalid_argument');
    expect(chunkerErrorOf(() => new TokenBucket(Number.NaN)).code).toBe('invalid_argument');
  });
});

describe('withBandwidthLimit', () => {
  it('paces puts as their sources are read, across concurrent puts', async () => {
    const clock = new FakeClock();
    const inner = new MemoryBackend();
    const store = withBandwidthLimit(inner, 20 * KiB, { burstBytes: KiB, clock });
    const objects = Array.from({ length: 10 }, (_, index) => seededBytes(10 * KiB, index));
    let finishedAt = -1;
    const puts = Promise.all(objects.map((bytes, index) => store.put(`o/${index}`, bytesSource(bytes)))).then(() => (finishedAt = clock.now()));
    await clock.runAll();
    await puts;
    // 100 KiB at 20 KiB/s, less the 1 KiB the full bucket lets through at once.
    expect(finishedAt).toBeCloseTo(((100 * KiB - KiB) / (20 * KiB)) * 1000, 6);
    for (const [index, bytes] of objects.entries()) {
      expect(Buffer.from(await inner.get(`o/${index}`)).equals(Buffer.from(bytes))).toBe(true);
    }
  });

  it('paces gets by the bytes they return, separately from puts', async () => {
    const clock = new FakeClock();
    const inner = new MemoryBackend();
    await inner.put('big', bytesSource(seededBytes(40 * KiB, 1)));
    const store = withBandwidthLimit(inner, 10 * KiB, { burstBytes: 1, clock });
    const reads = Promise.all([store.get('big'), store.get('big', { offset: 0, length: 10 * KiB })]);
    await clock.runAll();
    const [whole, part] = await reads;
    expect(whole.length).toBe(40 * KiB);
    expect(part.length).toBe(10 * KiB);
    expect(clock.now()).toBeCloseTo(5000, 0);
  });

  it('returns the backend itself when unlimited', () => {
    const inner = new MemoryBackend();
    expect(withBandwidthLimit(inner, UNLIMITED_BANDWIDTH)).toBe(inner);
  });
});
