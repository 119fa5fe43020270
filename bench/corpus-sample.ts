/**
 * Samples of the corpus for benchmarks that cannot afford all of it (xz, bzip2, dictionary
 * training): slices of SAMPLE_SLICE_BYTES taken at even intervals across every file, so a
 * few megabytes still hold binaries, headers, locales, docs and the rest in proportion.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { MIB } from './units.js';

/** Bytes per slice: long enough for a compressor to find the file's own redundancy. */
export const SAMPLE_SLICE_BYTES = MIB;

/**
 * About `bytes` of the files (whole slices; all of them when they hold less), the slices
 * evenly spaced over the files taken as one stream. `phase` (0 ≤ phase < 1) shifts every
 * slice by that fraction of the spacing, so samples of different phases do not overlap
 * when the spacing is at least twice the slice.
 */
export function spreadSample(files: readonly string[], bytes: number, phase = 0): Buffer {
  const sizes = files.map((path) => statSync(path).size);
  const total = sizes.reduce((sum, size) => sum + size, 0);
  const count = Math.max(1, Math.floor(Math.min(bytes, total) / SAMPLE_SLICE_BYTES));
  const stride = total / count;
  const out = Buffer.allocUnsafeSlow(count * SAMPLE_SLICE_BYTES);
  let filled = 0;
  for (let slice = 0; slice < count; slice++) {
    let position = Math.min(Math.floor((slice + phase) * stride), total - SAMPLE_SLICE_BYTES);
    let want = Math.min(SAMPLE_SLICE_BYTES, total - Math.max(position, 0));
    position = Math.max(position, 0);
    // Find the file holding `position`; a slice may run on into the next files.
    let file = 0;
    let start = 0;
    while (position >= start + sizes[file]!) start += sizes[file++]!;
    while (want > 0 && file < files.length) {
      const offset = position - start;
      const take = Math.min(want, sizes[file]! - offset);
      const fd = openSync(files[file]!, 'r');
      try {
        for (let done = 0; done < take; ) {
          const read = readSync(fd, out, filled + done, take - done, offset + done);
          if (read === 0) throw new Error(`${files[file]} shrank while being sampled`);
          done += read;
        }
      } finally {
        closeSync(fd);
      }
      filled += take;
      want -= take;
      position += take;
      start += sizes[file++]!;
    }
  }
  return out.subarray(0, filled);
}
