/**
 * One HTTP exchange over a keep-alive connection pool: send a request (streaming a body
 * from an ObjectSource in bounded pieces), read the whole reply, and check that the body
 * that arrived is as long as the server said. Everything that goes wrong on the way comes
 * out as a store error (http-errors.ts); a source that fails comes out as its own error.
 *
 * Retries belong to the retry wrapper, with one exception every HTTP client needs: a
 * request sent on a pooled connection that the server closed while it sat idle fails
 * with ECONNRESET before any answer. That is not a server failure, and Node's own docs
 * ask the caller to resend; it is resent once, on a fresh connection, if the connection
 * failed before it took more than the first piece of a body (a connection that took
 * more was not stale). Every operation of the store is idempotent, so the resend is safe.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { invalidParameter } from '../errors.js';
import { storeError, type ObjectSource } from './backend.js';
import { abortError, networkError, type RequestDescription } from './http-errors.js';

/** Bytes of an upload read from its source and written at a time; two are in memory at most. */
export const PUT_PIECE_BYTES = 1024 * 1024;

export type HttpMethod = 'GET' | 'HEAD' | 'PUT' | 'DELETE';

export interface HttpExchange {
  readonly method: HttpMethod;
  /** The request path, already percent-encoded, starting with '/'. */
  readonly path: string;
  /** The URL for messages (no credentials). */
  readonly target: string;
  readonly headers?: http.OutgoingHttpHeaders;
  /** Sent with a Content-Length of `body.size`. */
  readonly body?: ObjectSource;
  readonly signal?: AbortSignal;
}

export interface HttpReply {
  readonly status: number;
  readonly statusMessage: string | undefined;
  readonly headers: http.IncomingHttpHeaders;
  /** The whole body; empty for HEAD and for replies that came before the upload finished. */
  readonly body: Uint8Array;
}

export interface HttpClientConfig {
  readonly protocol: 'http:' | 'https:';
  readonly hostname: string;
  readonly port: number | undefined;
  /** Value of the Authorization header, if any. */
  readonly authorization: string | undefined;
  /** Connections kept per host; requests beyond it wait for a free one. */
  readonly maxSockets: number;
  /** Extra trusted CA certificates (PEM) for https. */
  readonly ca: string | undefined;
}

const EMPTY = new Uint8Array(0);

/** Largest reply body accepted into memory (a Buffer's limit is about this). */
const MAX_BODY_BYTES = 2 ** 32;

// Socket errors that a pooled connection, closed by the server while idle, produces.
const STALE_CONNECTION_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** The Content-Length header as a number, or undefined when absent or malformed. */
export function contentLength(headers: http.IncomingHttpHeaders): number | undefined {
  const value = headers['content-length'];
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  const length = Number(value);
  return Number.isSafeInteger(length) ? length : undefined;
}

/** Reads a reply body whole; a body shorter than its Content-Length is a cut transfer. */
async function readBody(response: http.IncomingMessage, request: RequestDescription): Promise<Uint8Array> {
  const declared = contentLength(response.headers);
  if (declared !== undefined && declared > MAX_BODY_BYTES) {
    response.destroy();
    throw storeError('store_error', `${request.method} ${request.target}: a body of ${declared} bytes is more than one reply can hold`);
  }
  // With a declared length the body lands in one buffer, so a large object is held once.
  const whole = declared !== undefined ? Buffer.allocUnsafe(declared) : undefined;
  const pieces: Buffer[] = [];
  let received = 0;
  for await (const piece of response as AsyncIterable<Buffer>) {
    if (whole === undefined) pieces.push(piece);
    else if (received + piece.length <= whole.length) piece.copy(whole, received);
    received += piece.length;
  }
  if (declared !== undefined && received !== declared) {
    throw storeError('store_unavailable', `${request.method} ${request.target}: transfer cut after ${received} of ${declared} bytes`);
  }
  if (whole !== undefined) return whole;
  return pieces.length === 0 ? EMPTY : Buffer.concat(pieces, received);
}

/** Resolves when `request` can take more data, or when it is gone. */
function writable(request: http.ClientRequest): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      request.off('drain', done);
      request.off('close', done);
      resolve();
    };
    request.on('drain', done);
    request.on('close', done);
  });
}

/**
 * Writes `source` as the request body, reading the next piece while the last one drains.
 * Stops quietly when the request is destroyed (an early reply, a reset); calls `handed`
 * with the bytes handed to the socket so far after each piece.
 */
async function writeBody(request: http.ClientRequest, source: ObjectSource, handed: (bytes: number) => void): Promise<void> {
  const size = source.size;
  const readPiece = async (offset: number): Promise<Uint8Array> => {
    const length = Math.min(PUT_PIECE_BYTES, size - offset);
    const piece = await source.read(offset, length);
    if (piece.length !== length) throw invalidParameter('object source', `${length} bytes at offset ${offset}`, piece.length);
    return piece;
  };
  if (size === 0) {
    request.end();
    handed(0);
    return;
  }
  let offset = 0;
  let next = readPiece(0);
  for (;;) {
    const piece = await next;
    if (request.destroyed) return;
    offset += piece.length;
    if (offset === size) {
      request.end(piece);
      handed(offset);
      return;
    }
    next = readPiece(offset);
    // If the request dies while this read is pending, nobody awaits it; keep its failure quiet.
    next.catch(() => undefined);
    const flowing = request.write(piece);
    handed(offset);
    if (!flowing) await writable(request);
    if (request.destroyed) return;
  }
}

/** A keep-alive pool to one server and the exchanges made over it. */
export class HttpClient {
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;

  constructor(private readonly config: HttpClientConfig) {
    const poolOptions = { keepAlive: true, maxSockets: config.maxSockets, maxFreeSockets: config.maxSockets };
    if (config.protocol === 'https:') {
      this.transport = https;
      this.agent = new https.Agent({ ...poolOptions, ...(config.ca !== undefined ? { ca: config.ca } : {}) });
    } else {
      this.transport = http;
      this.agent = new http.Agent(poolOptions);
    }
  }

  /** Sends `exchange` and returns the server's reply, whatever its status. */
  async send(exchange: HttpExchange): Promise<HttpReply> {
    const description = { method: exchange.method, target: exchange.target };
    if (exchange.signal?.aborted) throw abortError(exchange.signal, description);
    return this.attempt(exchange, description, true);
  }

  /** Closes pooled connections; requests in flight fail. */
  destroy(): void {
    this.agent.destroy();
  }

  private attempt(exchange: HttpExchange, description: RequestDescription, mayResend: boolean): Promise<HttpReply> {
    return new Promise<HttpReply>((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { ...exchange.headers };
      if (this.config.authorization !== undefined) headers.authorization = this.config.authorization;
      if (exchange.body !== undefined) headers['content-length'] = exchange.body.size;
      const request = this.transport.request({
        agent: this.agent,
        protocol: this.config.protocol,
        hostname: this.config.hostname,
        port: this.config.port,
        method: exchange.method,
        path: exchange.path,
        headers,
        signal: exchange.signal,
      });
      let settled = false;
      let answered = false;
      let bodySent = exchange.body === undefined;
      let bodyBytesHanded = 0;
      const fail = (error: unknown): void => {
        if (settled) return;
        settled = true;
        request.destroy();
        reject(exchange.signal?.aborted ? abortError(exchange.signal, description) : networkError(error, description));
      };

      request.on('error', (error: NodeJS.ErrnoException) => {
        if (settled) return;
        const stale = request.reusedSocket && !answered && bodyBytesHanded <= PUT_PIECE_BYTES && STALE_CONNECTION_CODES.has(error.code ?? '');
        if (stale && mayResend && !exchange.signal?.aborted) {
          settled = true;
          resolve(this.attempt(exchange, description, false));
          return;
        }
        fail(error);
      });

      request.on('response', (response) => {
        answered = true;
        if (settled) {
          response.resume();
          return;
        }
        const status = response.statusCode ?? 0;
        if (!bodySent) {
          // The server answered before taking the whole upload (401, 413, …): the
          // connection is mid-body and cannot be reused, so drop it after the status.
          settled = true;
          response.resume();
          request.destroy();
          resolve({ status, statusMessage: response.statusMessage, headers: response.headers, body: EMPTY });
          return;
        }
        const read = exchange.method === 'HEAD' ? (response.resume(), Promise.resolve(EMPTY)) : readBody(response, description);
        read.then((body) => {
          if (settled) return;
          settled = true;
          resolve({ status, statusMessage: response.statusMessage, headers: response.headers, body });
        }, fail);
      });

      if (exchange.body === undefined) {
        request.end();
        return;
      }
      const size = exchange.body.size;
      const handed = (bytes: number): void => {
        bodyBytesHanded = bytes;
        bodySent = bytes === size;
      };
      writeBody(request, exchange.body, handed).catch((sourceError: unknown) => {
        // The source failed: abandon the request so the server discards the partial body.
        if (settled) return;
        settled = true;
        request.destroy();
        reject(sourceError);
      });
    });
  }
}
