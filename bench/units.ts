/** Human-readable sizes and rates for bench output (binary prefixes for sizes). */

const SIZE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < SIZE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 ? 0 : value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${SIZE_UNITS[unit]}`;
}

/** Decimal MB/s as the bench reports it. */
export function formatRate(megabytesPerSecond: number): string {
  if (!Number.isFinite(megabytesPerSecond)) return 'n/a';
  return megabytesPerSecond >= 100 ? megabytesPerSecond.toFixed(0) : megabytesPerSecond.toFixed(1);
}

export function formatPercent(part: number, whole: number): string {
  return whole > 0 ? `${((part / whole) * 100).toFixed(2)}%` : 'n/a';
}

export const MIB = 1024 * 1024;
