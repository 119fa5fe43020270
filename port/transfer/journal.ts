/**
 * The resume journal of an upload: an append-only text file in a state directory that
 * lists the objects whose put has resolved. A killed or failed run leaves it behind; the
 * next run with the same key reads it back.
 *
 * The journal is a hint, never proof: the scheduler trusts an entry only when the
 * store's own size for the name agrees with both the entry and the object being
 * uploaded, so a lost, stale or forged line can cost a re-upload but never a missing
 * object. Nothing half-written is in it, because an entry is appended only after its put
 * resolved, and a put is atomic (port/store/backend.ts).
 *
 * Format (UTF-8, one record per line, '\n'-terminated):
 *   chunker-upload-journal 1 <key as a JSON string>
 *   <size in bytes> <object name>
 *   ...
 * Object names cannot contain control characters (object-name.ts), so a newline always
 * ends a record. A last line without its newline is a write cut short by a crash and is
 * ignored, as is any line that does not parse. A journal whose header names another key
 * belongs to another job and is replaced.
 *
 * Durability: each record is written (appended) as soon as it is known, so a killed
 * process loses nothing the kernel has seen; the file is fsynced at most every
 * JOURNAL_FSYNC_INTERVAL_MS and on close, so a power cut costs at most that much
 * re-uploading. The append is a synchronous write: it lands in the page cache in a few
 * microseconds, where an asynchronous one cost the event loop a round trip through
 * libuv's thread pool (and a promise chain) per record, hundreds of them a second when
 * the objects are small. Opening compacts the file (duplicates dropped) by writing a temp file,
 * fsyncing and renaming it into place. A successful run removes the journal.
 */
import { createHash } from 'node:crypto';
import { writeSync } from 'node:fs';
import { mkdir, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { checkObjectName } from '../store/object-name.js';
import { systemClock, type Clock } from '../store/wrappers/clock.js';

/** Longest time a written record may wait for its fsync. */
export const JOURNAL_FSYNC_INTERVAL_MS = 1000;

const JOURNAL_MAGIC = 'chunker-upload-journal 1';
const RECORD = /^(\d+) (.+)$/;

/** The journal file of the job named `key` inside `stateDir`. */
export function journalPath(stateDir: string, key: string): string {
  const digest = createHash('sha256').update(key).digest('hex').slice(0, 24);
  return join(stateDir, `upload-${digest}.journal`);
}

function headerLine(key: string): string {
  return `${JOURNAL_MAGIC} ${JSON.stringify(key)}\n`;
}

/** The records of a journal's text (name → size), following the rules in the module doc. */
export function parseJournal(text: string, key: string): Map<string, number> {
  const entries = new Map<string, number>();
  const lines = text.split('\n');
  // The piece after the last newline is either '' or a record cut short: never trusted.
  lines.pop();
  if (lines[0] !== headerLine(key).slice(0, -1)) return entries;
  for (const line of lines.slice(1)) {
    const match = RECORD.exec(line);
    if (match === null) continue;
    const size = Number(match[1]);
    const name = match[2]!;
    try {
      checkObjectName(name);
    } catch {
      continue;
    }
    if (Number.isSafeInteger(size)) entries.set(name, size);
  }
  return entries;
}

async function readIfPresent(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

/** Fsyncs a directory so a rename or unlink in it survives a crash. */
async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads the records of the job's journal without changing anything (for dry runs). */
export async function readJournal(stateDir: string, key: string): Promise<Map<string, number>> {
  return parseJournal(await readIfPresent(journalPath(stateDir, key)), key);
}

export class UploadJournal {
  /** The fsyncs and the close, in order; never rejects (failures go to `failure`). */
  private writing: Promise<void> = Promise.resolve();
  private syncQueued = false;
  private failure: unknown;
  private unsynced = false;
  private lastSyncAt: number;
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly stateDir: string,
    /** The records earlier runs left (name → size): hints, to be checked against the store. */
    readonly previous: ReadonlyMap<string, number>,
    private readonly handle: FileHandle,
    private readonly clock: Clock,
  ) {
    this.lastSyncAt = clock.now();
  }

  /** Opens (creating the state directory and file as needed) and compacts the job's journal. */
  static async open(stateDir: string, key: string, clock: Clock = systemClock): Promise<UploadJournal> {
    await mkdir(stateDir, { recursive: true });
    const path = journalPath(stateDir, key);
    const previous = parseJournal(await readIfPresent(path), key);
    let text = headerLine(key);
    for (const [name, size] of previous) text += `${size} ${name}\n`;
    const temp = `${path}.tmp`;
    const writer = await open(temp, 'w');
    try {
      await writer.writeFile(text);
      await writer.sync();
    } finally {
      await writer.close();
    }
    await rename(temp, path);
    await syncDirectory(stateDir);
    const handle = await open(path, 'a');
    return new UploadJournal(path, stateDir, previous, handle, clock);
  }

  /** Appends a confirmed object. Write failures surface from `flush`, `close` or `discard`. */
  record(name: string, size: number): void {
    if (this.closed) throw new Error('UploadJournal.record after close');
    if (this.failure !== undefined) return;
    try {
      const line = Buffer.from(`${size} ${name}\n`);
      for (let written = 0; written < line.length; ) written += writeSync(this.handle.fd, line, written);
      this.unsynced = true;
    } catch (error) {
      this.failure ??= error;
      return;
    }
    if (!this.syncQueued && this.clock.now() - this.lastSyncAt >= JOURNAL_FSYNC_INTERVAL_MS) {
      this.syncQueued = true;
      this.writing = this.writing.then(async () => {
        this.syncQueued = false;
        await this.sync();
      });
    }
  }

  /** Fsyncs every record so far. */
  async flush(): Promise<void> {
    this.writing = this.writing.then(async () => {
      if (this.unsynced) await this.sync();
    });
    await this.writing;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Flushes and closes; the file stays for the next run. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      await this.flush();
    } finally {
      this.closed = true;
      await this.handle.close();
    }
  }

  /**
   * Closes and removes the file: the job is complete, nothing is left to resume, so
   * earlier write failures no longer matter.
   */
  async discard(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.writing;
      await this.handle.close();
    }
    await unlink(this.path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await syncDirectory(this.stateDir);
  }

  private async sync(): Promise<void> {
    try {
      await this.handle.sync();
      this.unsynced = false;
      this.lastSyncAt = this.clock.now();
    } catch (error) {
      this.failure ??= error;
    }
  }
}
