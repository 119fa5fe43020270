/**
 * Upload progress on stderr. On a terminal one status line is redrawn in place at every
 * event (the scheduler already limits events to ten a second); otherwise — a log file,
 * a pipe — a plain line is printed every `statsIntervalMs`, like rclone's `--stats`.
 */
import type { UploadProgress } from '../transfer/progress.js';

/** Width assumed for a terminal that does not report one. */
const DEFAULT_COLUMNS = 80;

const IEC_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `1536` → `1.5 KiB`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < IEC_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${IEC_UNITS[unit]}`;
}

/** `3725` → `1h02m`, `125` → `2m05s`, `7.2` → `7s`. */
export function formatDuration(seconds: number): string {
  const whole = Math.round(seconds);
  if (whole >= 3600) return `${Math.floor(whole / 3600)}h${String(Math.floor((whole % 3600) / 60)).padStart(2, '0')}m`;
  if (whole >= 60) return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
  return `${whole}s`;
}

/** One status line, e.g. `12.0 MiB / 40.0 MiB 30%, 3.1 MiB/s, ETA 9s; objects 120/400 (30 skipped); transfers 8 (5 active)`. */
export function formatProgress(progress: UploadProgress): string {
  const objects = `objects ${progress.objectsDone}/${progress.objectsTotal} (${progress.objectsSkipped} skipped${progress.objectsFailed > 0 ? `, ${progress.objectsFailed} failed` : ''})`;
  if (progress.phase === 'checking') return `checking ${progress.objectsChecked}/${progress.objectsTotal}; ${objects}`;
  if (progress.phase === 'verifying') {
    return `verifying ${progress.objectsVerified}/${progress.objectsDone - progress.objectsSkipped}; ${objects}`;
  }
  const percent = progress.bytesTotal === 0 ? 100 : Math.floor((progress.bytesDone / progress.bytesTotal) * 100);
  const eta = progress.etaSeconds === null ? '-' : formatDuration(progress.etaSeconds);
  return (
    `${formatBytes(progress.bytesDone)} / ${formatBytes(progress.bytesTotal)} ${percent}%, ` +
    `${formatBytes(progress.bytesPerSecond)}/s, ETA ${eta}; ${objects}; transfers ${progress.concurrency} (${progress.inFlight} active)`
  );
}

/** The part of a stream the display needs (process.stderr, or a fake in tests). */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): unknown;
}

export class ProgressDisplay {
  private lastPrintAt: number;
  private drawn = false;

  constructor(
    private readonly stream: ProgressStream,
    /** Non-terminal streams: time between lines; 0 prints none. */
    private readonly statsIntervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.lastPrintAt = now();
  }

  update(progress: UploadProgress): void {
    const done = progress.phase === 'done';
    if (this.stream.isTTY) {
      // A pseudo-terminal without a size reports 0 columns.
      const width = Math.max(20, (this.stream.columns || DEFAULT_COLUMNS) - 1);
      this.stream.write(`\r\x1b[2K${formatProgress(progress).slice(0, width)}${done ? '\n' : ''}`);
      this.drawn = !done;
      return;
    }
    if (done || this.statsIntervalMs <= 0 || this.now() - this.lastPrintAt < this.statsIntervalMs) return;
    this.lastPrintAt = this.now();
    this.stream.write(`${formatProgress(progress)}\n`);
  }

  /** Ends the redrawn line so the summary starts on its own. */
  finish(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}
