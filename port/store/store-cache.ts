/**
 * Open stores kept for reuse: the port opens a store on the first request that names its
 * URL and keeps its connections for the requests after (an sftp or https handshake per
 * request would dominate small operations). Keyed by URL and options, so a request with
 * different options gets its own backend.
 */
import type { StoreBackend } from './backend.js';
import { openStore, type StoreOpenOptions } from './open-store.js';

/** Most distinct stores kept open at once; the least recently used is closed beyond it. */
export const MAX_OPEN_STORES = 16;

/** Applied to each backend once, when it is opened (retry, timeouts, ...). */
export type BackendWrapper = (backend: StoreBackend) => StoreBackend;

/** An open store: the backend as opened, and the same backend with the cache's wrappers. */
export interface CachedStore {
  readonly raw: StoreBackend;
  readonly wrapped: StoreBackend;
}

export class StoreCache {
  // Insertion order doubles as recency: a hit is deleted and re-inserted.
  readonly #stores = new Map<string, Promise<CachedStore>>();

  constructor(
    private readonly wrap: BackendWrapper = (backend) => backend,
    private readonly open: typeof openStore = openStore,
  ) {}

  /** The wrapped store for `location` and `options`, opening it on first use. */
  async get(location: string, options: StoreOpenOptions = {}): Promise<StoreBackend> {
    return (await this.entry(location, options)).wrapped;
  }

  /**
   * The store without the cache's wrappers, for callers that compose their own stack
   * around it (uploads add limits and their own retries; wrapping twice would retry
   * every failure twice over).
   */
  async getRaw(location: string, options: StoreOpenOptions = {}): Promise<StoreBackend> {
    return (await this.entry(location, options)).raw;
  }

  /** Closes every open store (the port is exiting). */
  async closeAll(): Promise<void> {
    await Promise.all(this.evictBeyond(0));
  }

  private entry(location: string, options: StoreOpenOptions): Promise<CachedStore> {
    const key = `${location}\n${JSON.stringify(options)}`;
    let store = this.#stores.get(key);
    if (store !== undefined) {
      this.#stores.delete(key);
    } else {
      store = this.open(location, options).then((raw) => ({ raw, wrapped: this.wrap(raw) }));
      // A store that failed to open is not kept: the next request tries again.
      store.catch(() => this.#stores.get(key) === store && this.#stores.delete(key));
      void this.evictBeyond(MAX_OPEN_STORES - 1);
    }
    this.#stores.set(key, store);
    return store;
  }

  private evictBeyond(keep: number): Promise<void>[] {
    const closing: Promise<void>[] = [];
    while (this.#stores.size > keep) {
      const [key, store] = this.#stores.entries().next().value as [string, Promise<CachedStore>];
      this.#stores.delete(key);
      // Evicting a store still in use fails its in-flight requests (retryable errors);
      // MAX_OPEN_STORES distinct stores at once is far beyond normal use.
      closing.push(store.then(({ raw }) => raw.close()).catch(() => undefined));
    }
    return closing;
  }
}
