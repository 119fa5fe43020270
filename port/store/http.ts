/**
 * A store on a plain HTTP(S) server, the way Nix binary caches are served and uploaded
 * to: `http(s)://[user:password@]host[:port]/path/`. Objects are files under the path:
 *   stat   HEAD       (404 → null; the size is the Content-Length)
 *   get    GET        (with `Range: bytes=a-b` for a range)
 *   put    PUT        (Content-Length, streamed from the source in bounded pieces)
 *   delete DELETE     (404 → already gone)
 *   list   GET on directories, reading a JSON directory index (http-listing.ts)
 * The server must accept PUT and DELETE: nginx with `dav_methods PUT DELETE;
 * create_full_put_path on;` (and `client_max_body_size` above the largest object), or
 * any WebDAV server.
 *
 * Atomicity comes from the server, not from a rename of ours: nginx's WebDAV module
 * writes the request body to a file under `client_body_temp_path` and renames it onto the
 * target only once the whole body has arrived, so a reader sees the old object or the
 * new one, and an interrupted upload leaves at most a temp file outside the served root.
 * (Keep `client_body_temp_path` on the same file system as the root, or nginx copies
 * instead of renaming.) A server that writes PUT bodies in place would break the put
 * contract; this backend cannot detect that.
 *
 * Credentials in the URL are sent as HTTP basic auth on every request and never appear in
 * `location` or messages. Connections are kept alive in a pool of
 * `capabilities.maxConcurrency` sockets.
 */
import { readFileSync } from 'node:fs';
import { ChunkerError, invalidParameter } from '../errors.js';
import { checkByteRange, storeError, type ByteRange, type ObjectInfo, type ObjectSource, type OperationOptions, type StoreBackend, type StoreCapabilities } from './backend.js';
import { statusError } from './http-errors.js';
import { LISTING_REQUIREMENT, parseDirectoryIndex, walkDirectoryIndexes, type IndexEntry } from './http-listing.js';
import { HttpClient, PUT_PIECE_BYTES, contentLength, type HttpExchange, type HttpMethod, type HttpReply } from './http-request.js';
import { checkListPrefix, checkObjectName } from './object-name.js';

/** Connections (and so operations) at once to one server, unless the options say otherwise. */
export const DEFAULT_HTTP_MAX_CONCURRENCY = 16;
/** Most connections the options may ask for. */
export const MAX_HTTP_MAX_CONCURRENCY = 1024;

/** The `http` section of the store options (for http: and https: URLs). */
export interface HttpStoreOptions {
  /** Connections kept to the server; also the store's `maxConcurrency` (default 16). */
  readonly maxConcurrency?: number;
  /** A PEM file of CA certificates to trust for https, besides the system's. */
  readonly caFile?: string;
}

/** `bytes=a-b` for a range of at least one byte. */
function rangeHeader(range: ByteRange): string {
  return `bytes=${range.offset}-${range.offset + range.length - 1}`;
}

/** The first byte offset of a `Content-Range: bytes a-b/n` header, if there is one. */
function contentRangeStart(value: string | undefined): number | undefined {
  const match = value === undefined ? null : /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(value.trim());
  return match === null ? undefined : Number(match[1]);
}

export class HttpBackend implements StoreBackend {
  readonly capabilities: StoreCapabilities;
  private readonly client: HttpClient;
  /** The URL's path, ending in '/', percent-encoded as it came. */
  private readonly basePath: string;
  /** scheme://host:port, for messages. */
  private readonly origin: string;
  private closed = false;

  constructor(
    readonly location: string,
    url: URL,
    options: HttpStoreOptions,
  ) {
    const maxConcurrency = options.maxConcurrency ?? DEFAULT_HTTP_MAX_CONCURRENCY;
    if (!Number.isSafeInteger(maxConcurrency) || maxConcurrency < 1 || maxConcurrency > MAX_HTTP_MAX_CONCURRENCY) {
      throw invalidParameter('http.maxConcurrency', `an integer from 1 to ${MAX_HTTP_MAX_CONCURRENCY}`, options.maxConcurrency);
    }
    // The piece being sent and the next one, read ahead (http-request.ts).
    this.capabilities = { ranges: true, multipart: false, atomicRename: false, maxConcurrency, putBufferBytes: 2 * PUT_PIECE_BYTES };
    this.basePath = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
    this.origin = url.origin;
    const authorization =
      url.username === '' && url.password === ''
        ? undefined
        : `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    this.client = new HttpClient({
      protocol: url.protocol === 'https:' ? 'https:' : 'http:',
      // URL keeps IPv6 literals bracketed; the socket layer wants them bare.
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: url.port === '' ? undefined : Number(url.port),
      authorization,
      maxSockets: maxConcurrency,
      ca: options.caFile === undefined ? undefined : readCaFile(options.caFile),
    });
  }

  async stat(name: string, options?: OperationOptions): Promise<ObjectInfo | null> {
    const reply = await this.send('HEAD', checkObjectName(name), options);
    if (reply.status === 404 || this.isDirectoryRedirect(reply, name)) return null;
    if (reply.status !== 200) throw this.statusError(reply, 'HEAD', name);
    const size = contentLength(reply.headers);
    if (size === undefined) throw storeError('store_error', `HEAD ${this.target(name)}: the server gave no Content-Length`);
    return { name, size };
  }

  async get(name: string, range?: ByteRange, options?: OperationOptions): Promise<Uint8Array> {
    checkObjectName(name);
    if (range === undefined) return this.getWhole(name, options);
    checkByteRange(range);
    if (range.length === 0) {
      // No request can ask for zero bytes; still, a missing object must fail.
      if ((await this.stat(name, options)) === null) throw this.notFound(name);
      return new Uint8Array(0);
    }
    const reply = await this.send('GET', name, options, { range: rangeHeader(range) });
    switch (reply.status) {
      case 206: {
        const start = contentRangeStart(reply.headers['content-range'] as string | undefined);
        if (start !== range.offset || reply.body.length > range.length) {
          throw storeError('store_integrity', `GET ${this.target(name)}: asked for ${rangeHeader(range)}, got ${reply.headers['content-range'] ?? 'no Content-Range'} with ${reply.body.length} bytes`);
        }
        return reply.body;
      }
      case 200: {
        // The server ignored Range and sent the whole object (nginx with max_ranges 0, some proxies).
        const start = Math.min(range.offset, reply.body.length);
        return new Uint8Array(reply.body.subarray(start, Math.min(start + range.length, reply.body.length)));
      }
      case 416: // the offset is at or past the end
        return new Uint8Array(0);
      default:
        throw this.readError(reply, name);
    }
  }

  async put(name: string, source: ObjectSource, options?: OperationOptions): Promise<void> {
    checkObjectName(name);
    const reply = await this.send('PUT', name, options, { 'content-type': 'application/octet-stream' }, source);
    // 201 Created, or 204 No Content when it replaced an object (200 from some servers).
    if (reply.status !== 201 && reply.status !== 204 && reply.status !== 200) throw this.statusError(reply, 'PUT', name);
  }

  async delete(name: string, options?: OperationOptions): Promise<void> {
    const reply = await this.send('DELETE', checkObjectName(name), options);
    if (reply.status !== 204 && reply.status !== 200 && reply.status !== 404) throw this.statusError(reply, 'DELETE', name);
  }

  async *list(prefix: string, options?: OperationOptions): AsyncIterable<ObjectInfo> {
    checkListPrefix(prefix);
    this.checkOpen();
    yield* walkDirectoryIndexes((dir) => this.readDirectory(dir, options), prefix);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client.destroy();
  }

  private async getWhole(name: string, options?: OperationOptions): Promise<Uint8Array> {
    const reply = await this.send('GET', name, options);
    if (reply.status !== 200) throw this.readError(reply, name);
    return reply.body;
  }

  private async readDirectory(dir: string, options?: OperationOptions): Promise<IndexEntry[] | null> {
    const reply = await this.send('GET', dir, options, { accept: 'application/json' });
    if (reply.status === 404) return null;
    const target = this.target(dir);
    if (reply.status === 403 || reply.status === 405) {
      throw storeError('store_config', `GET ${target}: the server refused to list the directory (${reply.status}); ${LISTING_REQUIREMENT}`);
    }
    if (reply.status !== 200) throw this.statusError(reply, 'GET', dir);
    return parseDirectoryIndex(reply.body, reply.headers['content-type'], target);
  }

  /**
   * One request for `name` ('' or a directory ending in '/' for listings). Argument checks
   * come first, so that they fail as `invalid_argument` even on a closed store.
   */
  private send(method: HttpMethod, name: string, options: OperationOptions | undefined, headers?: HttpExchange['headers'], body?: ObjectSource): Promise<HttpReply> {
    this.checkOpen();
    const path = this.basePath + name.split('/').map(encodeURIComponent).join('/');
    return this.client.send({ method, path, target: this.target(name), headers, body, signal: options?.signal });
  }

  /** nginx answers a request for a directory without its trailing '/' with a redirect to it. */
  private isDirectoryRedirect(reply: HttpReply, name: string): boolean {
    if (reply.status !== 301 && reply.status !== 302) return false;
    const location = reply.headers.location;
    if (location === undefined) return false;
    try {
      // Servers escape paths in their own way; compare the decoded forms.
      return decodeURIComponent(new URL(location, this.origin).pathname) === `${decodeURIComponent(this.basePath)}${name}/`;
    } catch {
      return false;
    }
  }

  private readError(reply: HttpReply, name: string): ChunkerError {
    if (reply.status === 404 || this.isDirectoryRedirect(reply, name)) return this.notFound(name);
    return this.statusError(reply, 'GET', name);
  }

  private notFound(name: string): ChunkerError {
    return storeError('not_found', `${this.location}: no object ${name}`);
  }

  private statusError(reply: HttpReply, method: HttpMethod, name: string): ChunkerError {
    return statusError(reply.status, reply.statusMessage, { method, target: this.target(name) }, reply.headers.location);
  }

  private target(name: string): string {
    return `${this.location}${this.location.endsWith('/') ? '' : '/'}${name}`;
  }

  private checkOpen(): void {
    if (this.closed) throw storeError('store_closed', `${this.location} is closed`);
  }
}

function readCaFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw storeError('store_config', `Cannot read the CA file ${path} (http.caFile): ${(error as Error).message}`);
  }
}

/** Opens an http: or https: store; nothing is sent until the first operation. */
export function openHttpStore(url: URL, location: string, options: HttpStoreOptions = {}): HttpBackend {
  if (url.search !== '' || url.hash !== '') {
    throw storeError('store_config', `${location}: an http store URL takes no query or fragment`);
  }
  if (url.hostname === '') throw storeError('store_config', `${location}: the URL names no host`);
  return new HttpBackend(location, url, options);
}
