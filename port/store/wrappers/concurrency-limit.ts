/**
 * `withConcurrencyLimit(backend, limit)`: every stat, get, put and delete of the backend
 * runs under `limit` (an AdaptiveLimit), so the limit sees each attempt's latency and
 * failure (latencies are compared per kind of operation). Compose it inside the retry wrapper — `withRetry(withConcurrencyLimit(b, l))` —
 * so that every retried attempt is a sample and a backoff sleep does not hold a slot.
 *
 * `list` is not limited: it is one long-lived iteration, and holding a slot for its whole
 * length would starve the operations it exists to plan.
 */
import type { ByteRange, ObjectSource, OperationOptions, StoreBackend } from '../backend.js';
import type { AdaptiveLimit } from './adaptive-limit.js';

export function withConcurrencyLimit(backend: StoreBackend, limit: AdaptiveLimit): StoreBackend {
  return {
    location: backend.location,
    capabilities: { ...backend.capabilities, maxConcurrency: Math.min(backend.capabilities.maxConcurrency, limit.max) },
    stat: (name: string, options?: OperationOptions) => limit.run(() => backend.stat(name, options), options?.signal, 'stat'),
    get: (name: string, range?: ByteRange, options?: OperationOptions) =>
      limit.run(() => backend.get(name, range, options), options?.signal, 'get'),
    put: (name: string, source: ObjectSource, options?: OperationOptions) =>
      limit.run(() => backend.put(name, source, options), options?.signal, 'put'),
    delete: (name: string, options?: OperationOptions) => limit.run(() => backend.delete(name, options), options?.signal, 'delete'),
    list: (prefix: string, options?: OperationOptions) => backend.list(prefix, options),
    close: () => backend.close(),
  };
}
