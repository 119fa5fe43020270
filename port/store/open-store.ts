/**
 * Opens a store by URL. Each scheme maps to one backend module; the options object has
 * one section per backend so a caller (CLI, port op, Elixir) can pass them through.
 *
 *   file:///path          local directory (the embedded default)
 *   memory:               in-process map (tests)
 *   sftp://user@host:port/path
 *   s3://bucket/prefix    (AWS_* environment, AWS_ENDPOINT_URL for S3-compatible servers)
 *   http(s)://host/path   (GET/HEAD/PUT/DELETE, as WebDAV-enabled web servers accept)
 */
import { invalidParameter } from '../errors.js';
import { storeError, type StoreBackend } from './backend.js';
import type { HttpStoreOptions } from './http.js';
import { MemoryBackend } from './memory.js';
import type { SftpStoreOptions } from './sftp.js';
import type { S3StoreOptions } from './s3-config.js';

/** Per-backend options; a backend reads only its own section. */
export interface StoreOpenOptions {
  readonly memory?: Record<string, never>;
  /** For http: and https: stores (port/store/http.ts). */
  readonly http?: HttpStoreOptions;
  readonly sftp?: SftpStoreOptions;
  /** Endpoint, region, credentials, part sizes: see S3StoreOptions in s3-config.ts. */
  readonly s3?: S3StoreOptions;
}

export type BackendOpener = (url: URL, options: StoreOpenOptions) => Promise<StoreBackend>;

// A backend's module, with its client library (the AWS SDK, ssh2), is loaded when a URL of
// its scheme is first opened: loading every one up front cost each command about 0.2 s.
const OPENERS: Record<string, BackendOpener> = {
  'memory:': (url) => Promise.resolve(new MemoryBackend(url.href)),
  'file:': async (url) => (await import('./local.js')).openLocalStore(url),
  'http:': async (url, options) => (await import('./http.js')).openHttpStore(url, redactLocation(url), options.http),
  'https:': async (url, options) => (await import('./http.js')).openHttpStore(url, redactLocation(url), options.http),
  'sftp:': async (url, options) => (await import('./sftp.js')).openSftpStore(url, options.sftp),
  's3:': async (url, options) => (await import('./s3.js')).openS3Store(url, options.s3),
};

/** Parses `location` and opens the backend for its scheme. */
export async function openStore(location: string, options: StoreOpenOptions = {}): Promise<StoreBackend> {
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw invalidParameter('store URL', 'a URL such as file:///srv/chunks or s3://bucket/prefix', location);
  }
  const opener = OPENERS[url.protocol];
  if (opener === undefined) {
    throw storeError('store_config', `Unsupported store scheme ${url.protocol} in ${location}; expected one of ${Object.keys(OPENERS).join(' ')}`);
  }
  return opener(url, options);
}

/** The URL with its password (if any) replaced, for messages. */
export function redactLocation(url: URL): string {
  if (url.password === '') return url.href;
  const copy = new URL(url.href);
  copy.password = '***';
  return copy.href;
}
