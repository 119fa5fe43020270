/**
 * A store for scheduler tests: a MemoryBackend that counts calls, measures how many puts
 * (and how many source bytes) are in flight at once, takes a little real time per put,
 * and fails chosen operations on purpose.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ByteRange, ObjectInfo, ObjectSource, OperationOptions, StoreBackend } from '../../port/store/backend.js';
import { MemoryBackend } from '../../port/store/memory.js';
import { readWholeSource } from '../../port/store/object-source.js';
import { abortError } from '../../port/store/abort.js';

export interface PutObservation {
  readonly name: string;
  readonly size: number;
  /** Puts running when this one started, itself included. */
  readonly concurrent: number;
  /** Source bytes of the puts running when this one started, its own included. */
  readonly bytesInFlight: number;
}

export class FlakyStore implements StoreBackend {
  readonly inner = new MemoryBackend('flaky:');
  readonly location = 'flaky:';
  readonly capabilities = this.inner.capabilities;
  /** Real milliseconds each put takes (after reading its source). */
  putDelayMs = 2;
  readonly puts: PutObservation[] = [];
  statCalls = 0;
  listCalls = 0;
  maxConcurrentPuts = 0;
  maxBytesInFlight = 0;
  /** Called as each put starts, to check an invariant at that moment. */
  onPutStart?: (observation: PutObservation) => void;
  /** Returns an error to fail this put with (before anything is stored), or undefined. */
  failPut?: (name: string, attempt: number) => Error | undefined;
  /** Stores only the first N bytes and still resolves: a broken backend verify must catch. */
  truncateTo?: number;
  private running = 0;
  private bytesRunning = 0;
  private readonly attempts = new Map<string, number>();

  putCount(name?: string): number {
    return name === undefined ? this.puts.length : this.puts.filter((put) => put.name === name).length;
  }

  async stat(name: string): Promise<ObjectInfo | null> {
    this.statCalls++;
    return this.inner.stat(name);
  }

  get(name: string, range?: ByteRange): Promise<Uint8Array> {
    return this.inner.get(name, range);
  }

  async put(name: string, source: ObjectSource, options?: OperationOptions): Promise<void> {
    this.running++;
    this.bytesRunning += source.size;
    const observation = { name, size: source.size, concurrent: this.running, bytesInFlight: this.bytesRunning };
    this.puts.push(observation);
    this.maxConcurrentPuts = Math.max(this.maxConcurrentPuts, this.running);
    this.maxBytesInFlight = Math.max(this.maxBytesInFlight, this.bytesRunning);
    try {
      this.onPutStart?.(observation);
      const attempt = (this.attempts.get(name) ?? 0) + 1;
      this.attempts.set(name, attempt);
      const bytes = await readWholeSource(source);
      await sleep(this.putDelayMs, undefined, options?.signal ? { signal: options.signal } : undefined).catch((error: unknown) => {
        throw options?.signal?.aborted ? abortError(options.signal) : error;
      });
      const failure = this.failPut?.(name, attempt);
      if (failure) throw failure;
      const stored = this.truncateTo === undefined ? bytes : bytes.subarray(0, this.truncateTo);
      await this.inner.put(name, { size: stored.length, read: async (offset, length) => stored.subarray(offset, offset + length) });
    } finally {
      this.running--;
      this.bytesRunning -= source.size;
    }
  }

  delete(name: string): Promise<void> {
    return this.inner.delete(name);
  }

  list(prefix: string): AsyncIterable<ObjectInfo> {
    this.listCalls++;
    return this.inner.list(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
