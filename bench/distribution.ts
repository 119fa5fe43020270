/**
 * Chunk size distribution: a few quantiles and a small text histogram whose buckets are
 * laid out on the chunking sizes (below min, doublings from min up to max, exactly max).
 */
import { quantileSorted } from './timing.js';
import { formatBytes } from './units.js';

export interface SizeSummary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  max: number;
  mean: number;
}

export interface HistogramBucket {
  label: string;
  count: number;
  bytes: number;
}

export function summarizeSizes(lengths: readonly number[]): SizeSummary {
  const sorted = Float64Array.from(lengths).sort();
  if (sorted.length === 0) return { count: 0, min: 0, p50: 0, p90: 0, max: 0, mean: 0 };
  const total = lengths.reduce((sum, length) => sum + length, 0);
  return {
    count: sorted.length,
    min: sorted[0]!,
    p50: quantileSorted(sorted, 0.5),
    p90: quantileSorted(sorted, 0.9),
    max: sorted[sorted.length - 1]!,
    mean: total / sorted.length,
  };
}

/** Buckets: < min, [min, 2·min), [2·min, 4·min), … up to max, then = max (forced cuts). */
export function histogram(lengths: readonly number[], minSize: number, maxSize: number): HistogramBucket[] {
  const edges: number[] = [minSize];
  while (edges[edges.length - 1]! * 2 < maxSize) edges.push(edges[edges.length - 1]! * 2);
  edges.push(maxSize);
  const buckets: HistogramBucket[] = [{ label: `< ${formatBytes(minSize)}`, count: 0, bytes: 0 }];
  for (let i = 0; i + 1 < edges.length; i++) {
    buckets.push({ label: `${formatBytes(edges[i]!)} – ${formatBytes(edges[i + 1]!)}`, count: 0, bytes: 0 });
  }
  buckets.push({ label: `= ${formatBytes(maxSize)} (max)`, count: 0, bytes: 0 });
  for (const length of lengths) {
    let index: number;
    if (length < minSize) index = 0;
    else if (length >= maxSize) index = buckets.length - 1;
    else {
      index = 1;
      while (index < edges.length - 1 && length >= edges[index]!) index++;
    }
    const bucket = buckets[index]!;
    bucket.count++;
    bucket.bytes += length;
  }
  return buckets;
}

/** One line per bucket: label, a bar scaled to the fullest bucket, count and share. */
export function renderHistogram(buckets: readonly HistogramBucket[], width = 40): string[] {
  const most = Math.max(1, ...buckets.map((bucket) => bucket.count));
  const total = buckets.reduce((sum, bucket) => sum + bucket.count, 0);
  const labelWidth = Math.max(...buckets.map((bucket) => bucket.label.length));
  const countWidth = Math.max(...buckets.map((bucket) => String(bucket.count).length));
  return buckets.map((bucket) => {
    const bar = '#'.repeat(Math.round((bucket.count / most) * width));
    const share = total > 0 ? ((bucket.count / total) * 100).toFixed(1).padStart(5) : '  0.0';
    return `${bucket.label.padEnd(labelWidth)}  ${bar.padEnd(width)}  ${String(bucket.count).padStart(countWidth)}  ${share}%`;
  });
}
