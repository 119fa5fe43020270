/**
 * Progress of an upload: counters the scheduler updates, and snapshots sent to a callback
 * at a bounded rate (at most one per `intervalMs`, default DEFAULT_PROGRESS_INTERVAL_MS,
 * so ≤ 10 a second) plus one final snapshot with `phase: 'done'`.
 *
 * Bytes count as done when the backend has read them from the source (so a large object
 * advances while it is sent) and are settled when its put resolves. `objectsDone`
 * and `bytesDone` include skipped objects, so both reach their totals at the end of a
 * successful run, and neither ever decreases between snapshots (bytes read for an object
 * that then fails stay counted until the final snapshot, which is exact).
 *
 * The rate is an exponentially weighted moving average of the bytes read per second,
 * with time constant RATE_TIME_CONSTANT_MS, so it follows changes within seconds without
 * jumping with every object. ETA = bytes left / rate. The final snapshot carries the
 * average rate of the whole upload phase instead.
 */
import type { Clock } from '../store/wrappers/clock.js';

/** Shortest time between two progress snapshots, by default. */
export const DEFAULT_PROGRESS_INTERVAL_MS = 100;
/** Time constant of the rate's moving average. */
export const RATE_TIME_CONSTANT_MS = 3000;
/** A rate sample needs at least this much time since the previous one. */
const MIN_RATE_SAMPLE_MS = 50;

export type UploadPhase = 'checking' | 'uploading' | 'verifying' | 'done';

export interface UploadProgress {
  readonly phase: UploadPhase;
  readonly objectsTotal: number;
  /** Objects whose presence in the store has been checked. */
  readonly objectsChecked: number;
  /** Uploaded objects whose stored size has been checked afterwards. */
  readonly objectsVerified: number;
  /** Objects uploaded or skipped. */
  readonly objectsDone: number;
  /** Objects the store already had (or, in a dry run, would be skipped). */
  readonly objectsSkipped: number;
  readonly objectsFailed: number;
  readonly bytesTotal: number;
  /** Bytes uploaded (read by the backend) or skipped. */
  readonly bytesDone: number;
  readonly bytesSkipped: number;
  /** The concurrency limit now. */
  readonly concurrency: number;
  /** Store operations running now. */
  readonly inFlight: number;
  /** Smoothed upload rate in bytes per second (0 until measured). */
  readonly bytesPerSecond: number;
  /** Seconds left at the current rate; null while the rate is unknown. */
  readonly etaSeconds: number | null;
  readonly elapsedMs: number;
}

export interface ProgressOptions {
  readonly onProgress?: (progress: UploadProgress) => void;
  readonly intervalMs?: number;
  readonly clock: Clock;
  /** The limiter's view: current limit and operations in flight. */
  readonly load: () => { readonly concurrency: number; readonly inFlight: number };
}

/** One object being uploaded: `read` reports how far the backend has read its source. */
export class ObjectProgress {
  readBytes = 0;
  constructor(readonly size: number) {}

  read(end: number): void {
    this.readBytes = Math.max(this.readBytes, Math.min(end, this.size));
  }
}

export class ProgressTracker {
  private phase: UploadPhase = 'checking';
  private checked = 0;
  private verified = 0;
  private skipped = 0;
  private skippedBytes = 0;
  private uploaded = 0;
  private uploadedBytes = 0;
  private failed = 0;
  private readonly active = new Set<ObjectProgress>();
  private readonly startedAt: number;
  private uploadStartedAt: number | undefined;
  private lastEmitAt = Number.NEGATIVE_INFINITY;
  private lastBytesDone = 0;
  private rate: number | undefined;
  private rateSampleAt: number;
  private rateSampleBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly intervalMs: number;

  constructor(
    readonly objectsTotal: number,
    readonly bytesTotal: number,
    private readonly options: ProgressOptions,
  ) {
    this.intervalMs = options.intervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
    this.startedAt = options.clock.now();
    this.rateSampleAt = this.startedAt;
  }

  /** Starts a timer that refreshes rate and ETA while nothing completes (large objects). */
  start(): void {
    if (this.options.onProgress === undefined) return;
    this.timer = setInterval(() => this.changed(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  beginUploading(): void {
    this.phase = 'uploading';
    this.uploadStartedAt = this.options.clock.now();
    this.rateSampleAt = this.uploadStartedAt;
    this.changed();
  }

  beginVerifying(): void {
    this.phase = 'verifying';
    this.changed();
  }

  verify(count: number): void {
    this.verified += count;
    this.changed();
  }

  /** An uploaded object turned out not to be stored after all: it counts as failed. */
  unconfirm(size: number): void {
    this.uploaded--;
    this.uploadedBytes -= size;
    this.failed++;
    this.changed();
  }

  check(count: number): void {
    this.checked += count;
    this.changed();
  }

  skip(size: number): void {
    this.skipped++;
    this.skippedBytes += size;
    this.changed();
  }

  begin(size: number): ObjectProgress {
    const object = new ObjectProgress(size);
    this.active.add(object);
    return object;
  }

  complete(object: ObjectProgress): void {
    this.active.delete(object);
    this.uploaded++;
    this.uploadedBytes += object.size;
    this.changed();
  }

  fail(object: ObjectProgress): void {
    this.active.delete(object);
    this.failed++;
    this.changed();
  }

  /** Emits a snapshot if the interval has passed since the last one. */
  changed(): void {
    if (this.options.onProgress === undefined) return;
    if (this.options.clock.now() - this.lastEmitAt < this.intervalMs) return;
    this.options.onProgress(this.snapshot());
  }

  /** The final, exact snapshot (phase 'done'); emitted to the callback too. */
  finish(): UploadProgress {
    this.stop();
    this.phase = 'done';
    const now = this.options.clock.now();
    const uploadMs = this.uploadStartedAt === undefined ? 0 : now - this.uploadStartedAt;
    const progress: UploadProgress = {
      ...this.counters(this.skippedBytes + this.uploadedBytes, now),
      bytesPerSecond: uploadMs > 0 ? (this.uploadedBytes / uploadMs) * 1000 : 0,
      etaSeconds: 0,
    };
    this.options.onProgress?.(progress);
    return progress;
  }

  /** Bytes of objects confirmed uploaded. */
  get bytesUploaded(): number {
    return this.uploadedBytes;
  }

  get objectsUploaded(): number {
    return this.uploaded;
  }

  private snapshot(): UploadProgress {
    const now = this.options.clock.now();
    this.lastEmitAt = now;
    let reading = 0;
    for (const object of this.active) reading += object.readBytes;
    const transferred = this.uploadedBytes + reading;
    this.sampleRate(now, transferred);
    const bytesDone = Math.max(this.lastBytesDone, this.skippedBytes + transferred);
    this.lastBytesDone = bytesDone;
    const rate = this.rate ?? 0;
    return {
      ...this.counters(bytesDone, now),
      bytesPerSecond: rate,
      etaSeconds: rate > 0 ? Math.max(0, this.bytesTotal - bytesDone) / rate : null,
    };
  }

  private counters(bytesDone: number, now: number): Omit<UploadProgress, 'bytesPerSecond' | 'etaSeconds'> {
    const { concurrency, inFlight } = this.options.load();
    return {
      phase: this.phase,
      objectsTotal: this.objectsTotal,
      objectsChecked: this.checked,
      objectsVerified: this.verified,
      objectsDone: this.skipped + this.uploaded,
      objectsSkipped: this.skipped,
      objectsFailed: this.failed,
      bytesTotal: this.bytesTotal,
      bytesDone,
      bytesSkipped: this.skippedBytes,
      concurrency,
      inFlight,
      elapsedMs: now - this.startedAt,
    };
  }

  private sampleRate(now: number, transferred: number): void {
    if (this.phase !== 'uploading') return;
    const elapsed = now - this.rateSampleAt;
    if (elapsed < MIN_RATE_SAMPLE_MS) return;
    const sample = ((transferred - this.rateSampleBytes) / elapsed) * 1000;
    const weight = 1 - Math.exp(-elapsed / RATE_TIME_CONSTANT_MS);
    this.rate = this.rate === undefined ? sample : this.rate + weight * (sample - this.rate);
    this.rateSampleAt = now;
    this.rateSampleBytes = transferred;
  }
}
