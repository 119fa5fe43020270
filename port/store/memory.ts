/**
 * A store held in a Map, for unit tests and for fakes that wrap it. It keeps copies, so
 * callers mutating their buffers afterwards cannot change stored objects.
 */
import { checkListPrefix, checkObjectName } from './object-name.js';
import { readWholeSource } from './object-source.js';
import { storeError, type ByteRange, type ObjectInfo, type ObjectSource, type StoreBackend, type StoreCapabilities } from './backend.js';

export class MemoryBackend implements StoreBackend {
  readonly capabilities: StoreCapabilities = { ranges: true, multipart: false, atomicRename: false, maxConcurrency: 64 };
  private readonly objects = new Map<string, Uint8Array>();
  private closed = false;

  constructor(readonly location = 'memory:') {}

  // Methods are async so that every failure, argument errors included, is a rejection.
  async stat(name: string): Promise<ObjectInfo | null> {
    this.checkOpen();
    const bytes = this.objects.get(checkObjectName(name));
    return bytes === undefined ? null : { name, size: bytes.length };
  }

  async get(name: string, range?: ByteRange): Promise<Uint8Array> {
    this.checkOpen();
    const bytes = this.objects.get(checkObjectName(name));
    if (bytes === undefined) throw storeError('not_found', `${this.location}: no object ${name}`);
    const start = Math.min(range?.offset ?? 0, bytes.length);
    const end = range === undefined ? bytes.length : Math.min(start + range.length, bytes.length);
    return bytes.slice(start, end);
  }

  async put(name: string, source: ObjectSource): Promise<void> {
    this.checkOpen();
    checkObjectName(name);
    // Read fully before publishing, so a failing source leaves the old object in place.
    const bytes = await readWholeSource(source);
    this.objects.set(name, bytes);
  }

  async delete(name: string): Promise<void> {
    this.checkOpen();
    this.objects.delete(checkObjectName(name));
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    this.checkOpen();
    checkListPrefix(prefix);
    for (const [name, bytes] of [...this.objects]) {
      if (name.startsWith(prefix)) yield { name, size: bytes.length };
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private checkOpen(): void {
    if (this.closed) throw storeError('store_closed', `${this.location} is closed`);
  }
}
