/**
 * Slice sizing from the measured scan rate (port/slice-pacer.ts) and its use by the
 * session registry: fast scans get few large slices, a nearly spent budget small ones.
 */
import { describe, expect, it } from 'vitest';
import { FIRST_SLICE_BYTES, MAX_SLICE_BYTES, MIN_SLICE_BYTES, SlicePacer } from '../../port/slice-pacer.js';
import { SessionRegistry, type Clock } from '../../port/session.js';
import { structuredBytes } from '../support/random-bytes.js';

const MiB = 1024 * 1024;

describe('SlicePacer', () => {
  it('starts with FIRST_SLICE_BYTES before any slice was timed', () => {
    const pacer = new SlicePacer();
    expect(pacer.bytesPerMs).toBeNull();
    expect(pacer.sliceBytes(10, 10)).toBe(FIRST_SLICE_BYTES);
  });

  it('aims a slice at a quarter of the budget, and never past what is left of it', () => {
    const pacer = new SlicePacer();
    pacer.record(10 * MiB, 10); // 1 MiB per ms
    expect(pacer.sliceBytes(10, 10)).toBe(2.5 * MiB);
    expect(pacer.sliceBytes(10, 0.5)).toBe(0.5 * MiB);
    expect(pacer.sliceBytes(10, -3)).toBe(MIN_SLICE_BYTES);
  });

  it('keeps slices between MIN_SLICE_BYTES and MAX_SLICE_BYTES', () => {
    const fast = new SlicePacer();
    fast.record(1024 * MiB, 1);
    expect(fast.sliceBytes(1000, 1000)).toBe(MAX_SLICE_BYTES);
    const slow = new SlicePacer();
    slow.record(1024, 100);
    expect(slow.sliceBytes(10, 10)).toBe(MIN_SLICE_BYTES);
  });

  it('ignores slices too short to time and empty ones', () => {
    const pacer = new SlicePacer();
    pacer.record(MiB, 0.01);
    pacer.record(0, 5);
    pacer.record(MiB, Number.NaN);
    expect(pacer.bytesPerMs).toBeNull();
  });

  it('moves its rate towards newer slices without jumping to them', () => {
    const pacer = new SlicePacer();
    pacer.record(4 * MiB, 4);
    pacer.record(MiB, 4); // a slow slice: a quarter of the rate
    const rate = pacer.bytesPerMs!;
    expect(rate).toBeLessThan(MiB);
    expect(rate).toBeGreaterThan(MiB / 4);
  });
});

describe('session registry slices', () => {
  /** A clock that advances `stepMs` on every reading, counting the readings. */
  function countingClock(stepMs: number): { clock: Clock; readings: () => number } {
    let nowMs = 0;
    let readings = 0;
    return {
      clock: () => {
        readings++;
        return (nowMs += stepMs);
      },
      readings: () => readings,
    };
  }

  it('scans a large feed in a few slices once the rate is known to be fast', () => {
    const { clock, readings } = countingClock(0.5);
    const registry = new SessionRegistry({ now: clock });
    const id = registry.open({}, { bytes: 64 * MiB, ms: 1000 });
    const data = structuredBytes(16 * MiB, 21);
    const step = registry.feed(id, data);
    expect(step.more).toBe(false);
    // Fixed 1 MiB slices would read the clock after each of 16 slices.
    expect(readings()).toBeLessThan(8);
    expect(registry.pacer.bytesPerMs).toBeGreaterThan(MiB);
  });

  it('still stops a request once its milliseconds have passed', () => {
    const { clock } = countingClock(4);
    const registry = new SessionRegistry({ now: clock });
    const id = registry.open({}, { bytes: 64 * MiB, ms: 10 });
    const first = registry.feed(id, structuredBytes(32 * MiB, 22));
    expect(first.more).toBe(true);
    const scanned = first.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    expect(scanned).toBeLessThan(8 * MiB);
  });
});
