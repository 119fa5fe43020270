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
import { openLocalStore } from './local.js';
import { openHttpStore, type HttpStoreOptions } from './http.js';
import { MemoryBackend } from './memory.js';
import { openSftpStore, type SftpStoreOptions } from './sftp.js';
import { openS3Store } from './s3.js';
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

const OPENERS: Record<string, BackendOpener> = {
  'memory:': (url) => Promise.resolve(new MemoryBackend(url.href)),
  'file:': (url) => openLocalStore(url),
  'http:': async (url, options) => openHttpStore(url, redactLocation(url), options.http),
  'https:': async (url, options) => openHttpStore(url, redactLocation(url), options.http),
  'sftp:': (url, options) => openSftpStore(url, options.sftp),
  's3:': (url, options) => openS3Store(url, options.s3),
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
