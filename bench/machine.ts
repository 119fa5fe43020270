/**
 * How busy the machine is, so a run on a loaded machine says so. The load average lags
 * by a minute; instead this samples /proc/stat (Linux) over a short interval.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

function cpuTimes(): { busy: number; total: number } | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    if (fields.length < 5 || fields.some((value) => !Number.isFinite(value))) return null;
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
    const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0); // without guest time (counted in user)
    return { busy: total - idle, total };
  } catch {
    return null;
  }
}

/**
 * Share of all CPUs' time spent busy over `milliseconds` while this process sleeps
 * (0..1; 0.5 on two cores is one core fully taken by something else), or null off Linux.
 */
export async function busyShare(milliseconds = 500): Promise<number | null> {
  const before = cpuTimes();
  await sleep(milliseconds);
  const after = cpuTimes();
  if (before === null || after === null || after.total <= before.total) return null;
  return (after.busy - before.busy) / (after.total - before.total);
}
