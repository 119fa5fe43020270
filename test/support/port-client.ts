/**
 * A test client for the real port program (dist/port/main.js): spawns it, writes request
 * frames, and matches reply frames to requests by id. Events (messages without an id)
 * queue up for `nextEvent`.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { FRAME_LENGTH_LIMIT_BYTES, FrameDecoder, encodeFrame } from '../../port/frame.js';
import { REPO_ROOT } from './paths.js';

export const PORT_MAIN_PATH = join(REPO_ROOT, 'dist', 'port', 'main.js');

export type Message = Record<string, unknown>;

export interface PortExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const UINT32_MAX = 2 ** 32 - 1;
const encoder = new Encoder({ useBigInt64: true, sortKeys: true });

/**
 * That encoder writes bigints as uint64 but numbers above 2^32 as float64; give it
 * bigints for those, as a careful client must.
 */
function widenLargeInts(value: unknown): unknown {
  if (typeof value === 'number') return Number.isInteger(value) && value > UINT32_MAX ? BigInt(value) : value;
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) return value.map(widenLargeInts);
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, widenLargeInts(item)]));
}

/** A whole request frame, as a client would write it. */
export function requestFrame(message: Message): Buffer {
  return encodeFrame(encoder.encode(widenLargeInts(message)));
}

interface Waiter {
  resolve: (message: Message) => void;
  reject: (error: Error) => void;
}

export class PortClient {
  readonly child: ChildProcessWithoutNullStreams;
  readonly exited: Promise<PortExit>;
  /** Everything the port wrote to stderr so far. */
  stderr = '';
  /** Raw reply frames by id, for byte-exact comparisons. */
  readonly replyFrames = new Map<number, Buffer>();
  #nextId = 1;
  #exit: PortExit | null = null;
  readonly #decoder = new FrameDecoder(FRAME_LENGTH_LIMIT_BYTES);
  readonly #messageDecoder = new Decoder({ useBigInt64: true });
  readonly #replies = new Map<number, Message>();
  readonly #replyWaiters = new Map<number, Waiter>();
  readonly #events: Message[] = [];
  readonly #eventWaiters: Waiter[] = [];

  private constructor(args: readonly string[]) {
    this.child = spawn(process.execPath, [PORT_MAIN_PATH, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.setEncoding('utf8');
    this.child.stderr.on('data', (text: string) => (this.stderr += text));
    this.child.stdout.on('data', (bytes: Buffer) => this.#receive(bytes));
    // Writes after the port exited fail with EPIPE; the tests look at the exit instead.
    this.child.stdin.on('error', () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
        this.#exit = { code, signal };
        const error = new Error(`the port exited (code ${code}, signal ${signal}); stderr:\n${this.stderr}`);
        for (const waiter of [...this.#replyWaiters.values(), ...this.#eventWaiters]) waiter.reject(error);
        this.#replyWaiters.clear();
        this.#eventWaiters.length = 0;
        resolve({ code, signal });
      });
    });
  }

  /** Spawns the built port; fails with what to run when it has not been built. */
  static start(args: readonly string[] = []): PortClient {
    if (!existsSync(PORT_MAIN_PATH)) {
      throw new Error(`${PORT_MAIN_PATH} is missing: build it with \`npx tsc -p tsconfig.build.json\` (npm run build:ts)`);
    }
    return new PortClient(args);
  }

  #receive(bytes: Buffer): void {
    for (const item of this.#decoder.push(bytes)) {
      if (item.kind !== 'frame') throw new Error('the port wrote a frame longer than 4 GiB');
      const message = this.#messageDecoder.decode(item.payload) as Message;
      // ids above 2^32 travel as uint64 and decode as bigint.
      const id = typeof message.id === 'bigint' ? Number(message.id) : message.id;
      if (typeof id === 'number') {
        this.replyFrames.set(id, encodeFrame(item.payload));
        const waiter = this.#replyWaiters.get(id);
        if (waiter === undefined) this.#replies.set(id, message);
        else {
          this.#replyWaiters.delete(id);
          waiter.resolve(message);
        }
      } else {
        const waiter = this.#eventWaiters.shift();
        if (waiter === undefined) this.#events.push(message);
        else waiter.resolve(message);
      }
    }
  }

  /** Writes raw bytes to the port's stdin. */
  sendRaw(bytes: Uint8Array): void {
    this.child.stdin.write(bytes);
  }

  /** Sends a message as it is (no id added). */
  send(message: Message): void {
    this.sendRaw(requestFrame(message));
  }

  /** A fresh request id. */
  nextId(): number {
    return this.#nextId++;
  }

  /** Sends `{id, op, ...args}` and returns the id without waiting. */
  post(op: string, args: Message = {}): number {
    const id = this.nextId();
    this.send({ ...args, id, op });
    return id;
  }

  /** The reply to `id`, whenever it arrives. */
  reply(id: number): Promise<Message> {
    const early = this.#replies.get(id);
    if (early !== undefined) {
      this.#replies.delete(id);
      return Promise.resolve(early);
    }
    if (this.#exit !== null) return Promise.reject(new Error(`the port has exited; no reply to ${id}`));
    return new Promise((resolve, reject) => this.#replyWaiters.set(id, { resolve, reject }));
  }

  request(op: string, args: Message = {}): Promise<Message> {
    return this.reply(this.post(op, args));
  }

  /** A request that must succeed; returns its reply. */
  async ok(op: string, args: Message = {}): Promise<Message> {
    const reply = await this.request(op, args);
    if (reply.ok !== true) throw new Error(`${op} failed: ${JSON.stringify(reply.error)}`);
    return reply;
  }

  nextEvent(): Promise<Message> {
    const queued = this.#events.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.#exit !== null) return Promise.reject(new Error('the port has exited; no more events'));
    return new Promise((resolve, reject) => this.#eventWaiters.push({ resolve, reject }));
  }

  /** Closes the port's stdin; the port should then exit with status 0. */
  endInput(): Promise<PortExit> {
    this.child.stdin.end();
    return this.exited;
  }

  /** Stops the process if it is still running (test cleanup). */
  stop(): void {
    if (this.#exit === null) this.child.kill('SIGKILL');
  }
}

/** A chunk list (spec §3) in a form that compares well in assertions. */
export interface ComparableChunk {
  offset: number;
  length: number;
  hash: string | null;
}

/** Expands a wire chunk list into one entry per chunk. */
export function expandChunkList(list: unknown): ComparableChunk[] {
  const { offset, lengths, hashes } = list as { offset: number; lengths: number[]; hashes: Uint8Array | null };
  const chunks: ComparableChunk[] = [];
  let at = offset;
  lengths.forEach((length, i) => {
    const hash = hashes === null ? null : Buffer.from(hashes.subarray(i * 32, i * 32 + 32)).toString('hex');
    chunks.push({ offset: at, length, hash });
    at += length;
  });
  return chunks;
}
