/**
 * Progress display for long bench steps, on stderr so stdout stays clean for results.
 * On a TTY: one bar redrawn in place with \r (at most every REDRAW_MILLISECONDS).
 * Otherwise (CI logs, pipes): a plain line every PLAIN_STEP_PERCENT or
 * PLAIN_INTERVAL_MILLISECONDS, whichever comes first, so logs stay short but alive.
 */
import { formatBytes } from './units.js';

const BAR_WIDTH = 28;
const REDRAW_MILLISECONDS = 100;
const PLAIN_INTERVAL_MILLISECONDS = 10_000;
const PLAIN_STEP_PERCENT = 25;

export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

export class Progress {
  private done = 0;
  private lastDrawAt = 0;
  private lastPlainPercent = -1;
  private lastPlainAt = 0;
  private readonly tty: boolean;
  private readonly startedAt = Date.now();

  /**
   * @param label shown before the bar
   * @param total expected units (bytes unless `unit` is 'items'); 0 when unknown
   */
  constructor(
    private label: string,
    private total: number,
    private readonly unit: 'bytes' | 'items' = 'bytes',
    private readonly stream: ProgressStream = process.stderr,
  ) {
    this.tty = stream.isTTY === true;
  }

  /** Starts a new phase on the same display (e.g. "v2" after "v1"). */
  relabel(label: string, total = this.total): void {
    this.label = label;
    this.total = total;
    this.lastPlainPercent = -1;
  }

  advance(units: number, detail = ''): void {
    this.update(this.done + units, detail);
  }

  update(done: number, detail = ''): void {
    this.done = done;
    const now = Date.now();
    if (this.tty) {
      if (now - this.lastDrawAt < REDRAW_MILLISECONDS) return;
      this.lastDrawAt = now;
      this.drawBar(detail);
      return;
    }
    const percent = this.percent();
    const stepped = percent !== null && percent >= this.lastPlainPercent + PLAIN_STEP_PERCENT;
    if (stepped || now - this.lastPlainAt >= PLAIN_INTERVAL_MILLISECONDS) {
      this.lastPlainAt = now;
      if (percent !== null) this.lastPlainPercent = percent - (percent % PLAIN_STEP_PERCENT);
      this.stream.write(`${this.describe(detail)}\n`);
    }
  }

  /** Ends the display with a final line (the bar is replaced on a TTY). */
  finish(message: string): void {
    const seconds = ((Date.now() - this.startedAt) / 1000).toFixed(1);
    const line = `${this.label}: ${message} (${seconds} s)`;
    this.stream.write(this.tty ? `\r\x1b[K${line}\n` : `${line}\n`);
  }

  /** Prints a message without breaking the bar. */
  note(message: string): void {
    this.stream.write(this.tty ? `\r\x1b[K${message}\n` : `${message}\n`);
    this.lastDrawAt = 0;
  }

  private percent(): number | null {
    if (this.total <= 0) return null;
    return Math.min(100, Math.floor((this.done / this.total) * 100));
  }

  private amount(value: number): string {
    return this.unit === 'bytes' ? formatBytes(value) : String(value);
  }

  private describe(detail: string): string {
    const percent = this.percent();
    const amounts = this.total > 0 ? `${this.amount(this.done)} / ${this.amount(this.total)}` : this.amount(this.done);
    const head = percent === null ? `${this.label}: ${amounts}` : `${this.label}: ${percent}% ${amounts}`;
    return detail === '' ? head : `${head}  ${detail}`;
  }

  private drawBar(detail: string): void {
    const percent = this.percent();
    let bar = '';
    if (percent !== null) {
      const filled = Math.round((percent / 100) * BAR_WIDTH);
      bar = `[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${String(percent).padStart(3)}% `;
    }
    const amounts = this.total > 0 ? `${this.amount(this.done)} / ${this.amount(this.total)}` : this.amount(this.done);
    let line = `${this.label} ${bar}${amounts}${detail === '' ? '' : `  ${detail}`}`;
    const columns = this.stream.columns ?? 100;
    if (line.length > columns - 1) line = line.slice(0, columns - 1);
    this.stream.write(`\r\x1b[K${line}`);
  }
}
