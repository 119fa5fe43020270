/**
 * A store that fails on a schedule, for unit tests of the store wrappers and the transfer
 * engine. It wraps a real backend (a MemoryBackend unless told otherwise) and, per
 * operation, works through a queue of faults: fail the next N calls with an error, stall
 * them until aborted (or forever), cut a put after K bytes of its source, or break a list
 * after K items. Calls without a queued fault go to the wrapped backend, after an optional
 * latency. Every call is recorded, with the signal it was given.
 *
 *   const store = new FaultyBackend().failNext('put', 'store_unavailable', 2);
 *   await withRetry(store, fastPolicy).put('a', source); // third attempt succeeds
 *   expect(store.callCount('put')).toBe(3);
 */
import { abortError } from '../../port/store/abort.js';
import {
  storeError,
  type ByteRange,
  type ObjectInfo,
  type ObjectSource,
  type OperationOptions,
  type StoreBackend,
  type StoreCapabilities,
  type StoreErrorCode,
} from '../../port/store/backend.js';
import { MemoryBackend } from '../../port/store/memory.js';

export type StoreOperation = 'stat' | 'get' | 'put' | 'delete' | 'list';

/** What a fault throws: a store code (a fresh error per call) or a given error. */
export type FaultError = StoreErrorCode | Error;

type Fault =
  | { readonly kind: 'fail'; readonly error: FaultError }
  | { readonly kind: 'stall'; readonly honourSignal: boolean }
  | { readonly kind: 'cut-put'; readonly afterBytes: number; readonly error: FaultError }
  | { readonly kind: 'cut-list'; readonly afterItems: number; readonly error: FaultError };

interface QueuedFault {
  remaining: number;
  readonly fault: Fault;
}

export interface RecordedCall {
  readonly operation: StoreOperation;
  /** The object name, or the prefix for list. */
  readonly name: string;
  readonly signal: AbortSignal | undefined;
}

export interface FaultyBackendOptions {
  /** Capabilities to report instead of the wrapped backend's. */
  readonly capabilities?: StoreCapabilities;
  /** How latency waits; must reject when `signal` aborts. Defaults to a real timer. */
  readonly sleep?: (ms: number, signal: AbortSignal | undefined) => Promise<void>;
}

function realSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    function onAbort(): void {
      clearTimeout(timer);
      reject(abortError(signal!, 'injected latency'));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class FaultyBackend implements StoreBackend {
  readonly capabilities: StoreCapabilities;
  readonly calls: RecordedCall[] = [];
  /** Stalled calls that were released by their signal aborting. */
  abandonedStalls = 0;
  private readonly faults = new Map<StoreOperation, QueuedFault[]>();
  private readonly latencyMs = new Map<StoreOperation, number>();
  private readonly sleep: (ms: number, signal: AbortSignal | undefined) => Promise<void>;

  constructor(
    readonly inner: StoreBackend = new MemoryBackend('memory:faulty'),
    options: FaultyBackendOptions = {},
  ) {
    this.capabilities = options.capabilities ?? inner.capabilities;
    this.sleep = options.sleep ?? realSleep;
  }

  get location(): string {
    return this.inner.location;
  }

  /** The next `count` calls of `operation` fail with `error`. */
  failNext(operation: StoreOperation, error: FaultError, count = 1): this {
    return this.enqueue(operation, { kind: 'fail', error }, count);
  }

  /**
   * The next `count` calls of `operation` never settle on their own; with `honourSignal`
   * (the default) they reject when their signal aborts, as a well-behaved backend does.
   */
  stallNext(operation: StoreOperation, count = 1, { honourSignal = true } = {}): this {
    return this.enqueue(operation, { kind: 'stall', honourSignal }, count);
  }

  /** The next `count` puts read their source normally until more than `afterBytes` bytes, then fail (a connection cut mid-upload). */
  failPutAfterBytes(afterBytes: number, error: FaultError, count = 1): this {
    return this.enqueue('put', { kind: 'cut-put', afterBytes, error }, count);
  }

  /** The next `count` lists yield `afterItems` objects, then fail. */
  failListAfter(afterItems: number, error: FaultError, count = 1): this {
    return this.enqueue('list', { kind: 'cut-list', afterItems, error }, count);
  }

  /** Every later call of `operation` (of every operation if omitted) first waits `ms`. */
  setLatency(ms: number, operation?: StoreOperation): this {
    for (const each of operation === undefined ? (['stat', 'get', 'put', 'delete', 'list'] as const) : [operation]) this.latencyMs.set(each, ms);
    return this;
  }

  /** Drops queued faults (all of them, or those of one operation). */
  clearFaults(operation?: StoreOperation): this {
    if (operation === undefined) this.faults.clear();
    else this.faults.delete(operation);
    return this;
  }

  callCount(operation: StoreOperation): number {
    return this.calls.filter((call) => call.operation === operation).length;
  }

  async stat(name: string, options: OperationOptions = {}): Promise<ObjectInfo | null> {
    await this.before('stat', name, options.signal);
    return this.inner.stat(name, options);
  }

  async get(name: string, range?: ByteRange, options: OperationOptions = {}): Promise<Uint8Array> {
    await this.before('get', name, options.signal);
    return this.inner.get(name, range, options);
  }

  async put(name: string, source: ObjectSource, options: OperationOptions = {}): Promise<void> {
    const fault = await this.before('put', name, options.signal);
    if (fault?.kind !== 'cut-put') return this.inner.put(name, source, options);
    let bytesRead = 0;
    const cut: ObjectSource = {
      size: source.size,
      read: async (offset, length) => {
        if (bytesRead + length > fault.afterBytes) throw this.errorFor(fault.error, 'put', name);
        bytesRead += length;
        return source.read(offset, length);
      },
    };
    return this.inner.put(name, cut, options);
  }

  async delete(name: string, options: OperationOptions = {}): Promise<void> {
    await this.before('delete', name, options.signal);
    return this.inner.delete(name, options);
  }

  async *list(prefix: string, options: OperationOptions = {}): AsyncIterable<ObjectInfo> {
    const fault = await this.before('list', prefix, options.signal);
    let yielded = 0;
    for await (const info of this.inner.list(prefix, options)) {
      if (fault?.kind === 'cut-list' && yielded >= fault.afterItems) throw this.errorFor(fault.error, 'list', prefix);
      yield info;
      yielded++;
    }
    if (fault?.kind === 'cut-list') throw this.errorFor(fault.error, 'list', prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private enqueue(operation: StoreOperation, fault: Fault, count: number): this {
    const queue = this.faults.get(operation) ?? [];
    queue.push({ remaining: count, fault });
    this.faults.set(operation, queue);
    return this;
  }

  private takeFault(operation: StoreOperation): Fault | undefined {
    const queue = this.faults.get(operation);
    const head = queue?.[0];
    if (head === undefined) return undefined;
    if (--head.remaining <= 0) queue!.shift();
    return head.fault;
  }

  private errorFor(error: FaultError, operation: StoreOperation, name: string): Error {
    return typeof error === 'string' ? storeError(error, `injected ${error} on ${operation} ${name}`) : error;
  }

  /** Records the call, waits out latency, and applies a 'fail' or 'stall' fault; returns the fault the operation applies itself. */
  private async before(operation: StoreOperation, name: string, signal: AbortSignal | undefined): Promise<Fault | undefined> {
    this.calls.push({ operation, name, signal });
    const fault = this.takeFault(operation);
    const latency = this.latencyMs.get(operation) ?? 0;
    if (latency > 0) await this.sleep(latency, signal);
    if (fault?.kind === 'fail') throw this.errorFor(fault.error, operation, name);
    if (fault?.kind === 'stall') await this.stall(fault.honourSignal, signal);
    return fault;
  }

  private stall(honourSignal: boolean, signal: AbortSignal | undefined): Promise<never> {
    return new Promise((_, reject) => {
      if (!honourSignal || signal === undefined) return;
      const release = () => {
        this.abandonedStalls++;
        reject(abortError(signal, 'stalled call'));
      };
      if (signal.aborted) release();
      else signal.addEventListener('abort', release, { once: true });
    });
  }
}
