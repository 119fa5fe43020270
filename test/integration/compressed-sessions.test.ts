/**
 * Sessions over real compressed NARs: a NAR from `nix-store --dump`, compressed by the real
 * `xz`, `zstd`, `bzip2` and `lz4` commands, fed to a session in random slices, gives
 * exactly the chunks of the plain NAR — in-process and through the port program, with
 * compressed payloads that the `zstd` command reads back. A 1 GiB bomb streams through a
 * session of the port program while its peak RSS stays far below 1 GiB.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chunkBuffer, type Chunk } from '../../port/engine/chunk-session.js';
import { restoreChunk, type CompressionCodec } from '../../port/engine/compression.js';
import { SessionRegistry, type SessionStep } from '../../port/session.js';
import { PortClient, type Message } from '../support/port-client.js';
import { seededBytes } from '../support/random-bytes.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
const work = mkdtempSync(join(tmpdir(), 'chunker-compressed-sessions-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type RealCodec = Exclude<CompressionCodec, 'none'>;
/** Each command at the level a binary cache would use (Nix writes xz -6 by default). */
const TOOLS: Record<RealCodec, string[]> = {
  xz: ['xz', '-6', '-T1', '-c'],
  zstd: ['zstd', '-3', '-q', '-c'],
  bzip2: ['bzip2', '-9', '-c'],
  lz4: ['lz4', '-q', '-c'],
};

let nar: Buffer;
const packed = new Map<RealCodec, Buffer>();
beforeAll(() => {
  // About 5 MB of shared objects and Perl modules (Debian's perl-base).
  const source = ['/usr/lib/x86_64-linux-gnu/perl-base', '/usr/share/perl5'].find((path) => existsSync(path));
  expect(source, 'a directory of Perl modules to dump').toBeDefined();
  nar = execFileSync('nix-store', ['--dump', source!], { maxBuffer: GiB });
  expect(nar.subarray(8, 21).toString('latin1')).toBe('nix-archive-1');
  for (const [codec, argv] of Object.entries(TOOLS) as Array<[RealCodec, string[]]>) {
    packed.set(codec, execFileSync(argv[0]!, argv.slice(1), { input: nar, maxBuffer: GiB }));
  }
});

/** Slice sizes from 1 byte to 256 KiB, reproducible from the seed. */
function randomSlices(seed: number, count: number): number[] {
  const noise = seededBytes(count * 4, seed);
  return Array.from({ length: count }, (_, i) => {
    const word = noise[i * 4]! | (noise[i * 4 + 1]! << 8) | (noise[i * 4 + 2]! << 16);
    return 1 + (word % (noise[i * 4 + 3]! < 32 ? 64 : 256 * KiB));
  });
}

const described = (chunks: readonly Chunk[]) => chunks.map(({ offset, length, hash }) => `${offset}+${length}:${Buffer.from(hash!).toString('hex')}`);

describe('a session over a compressed NAR', () => {
  for (const codec of Object.keys(TOOLS) as RealCodec[]) {
    it(`.nar.${codec} in random slices, named and under auto, gives exactly the plain NAR's chunks`, () => {
      const expected = described(chunkBuffer(nar, { preset: 'small' }));
      const input = packed.get(codec)!;
      for (const [seed, requested] of [
        [1, codec],
        [2, 'auto'],
      ] as const) {
        const registry = new SessionRegistry();
        const budget = { bytes: 512 * KiB, ms: 1000 };
        const id = registry.open({ preset: 'small' }, budget, { inputCompression: requested });
        const chunks: Chunk[] = [];
        const take = (step: SessionStep) => (chunks.push(...step.chunks), step.more);
        const slices = randomSlices(seed, 4096);
        let position = 0;
        for (let i = 0; position < input.length; i++) {
          const size = Math.min(slices[i % slices.length]!, input.length - position);
          let more = take(registry.feed(id, input.subarray(position, position + size)));
          position += size;
          while (more) more = take(registry.continue(id));
        }
        let more = take(registry.finish(id));
        while (more) more = take(registry.continue(id));
        expect(described(chunks), `${codec} as ${requested}`).toEqual(expected);
        expect(registry.counters.bytesIn).toBe(nar.length);
      }
    });
  }
});

describe('the port program', () => {
  /** Feeds `input` in random slices through `port`, continuing and finishing; returns every chunk list. */
  async function streamThrough(port: PortClient, session: number, input: Uint8Array, seed: number): Promise<Message[]> {
    const lists: Message[] = [];
    const drain = async (reply: Message): Promise<void> => {
      lists.push(reply.chunks as Message);
      while (reply.more === true) {
        reply = await port.ok('continue', { session });
        lists.push(reply.chunks as Message);
      }
    };
    const slices = randomSlices(seed, 1024);
    let position = 0;
    for (let i = 0; position < input.length; i++) {
      const size = Math.min(slices[i % slices.length]!, input.length - position);
      await drain(await port.ok('feed', { session, data: input.subarray(position, position + size) }));
      position += size;
    }
    await drain(await port.ok('finish', { session }));
    return lists;
  }

  it('open with input_compression auto and compress zstd: the plain chunks, and payloads that zstd -d reads', async () => {
    const port = PortClient.start();
    try {
      const hello = await port.ok('hello', { protocol: 1 });
      expect(hello.capabilities).toContain('session_compression');
      const plain = (await port.ok('chunk', { data: nar })).chunks as { lengths: number[]; hashes: Uint8Array };
      for (const codec of ['xz', 'zstd', 'bzip2'] as const) {
        const opened = await port.ok('open', { input_compression: 'auto', compress: { codec: 'zstd', level: 3 } });
        const lists = await streamThrough(port, opened.session as number, packed.get(codec)!, 7);
        const lengths = lists.flatMap((list) => list.lengths as number[]);
        const hashes = Buffer.concat(lists.map((list) => list.hashes as Uint8Array));
        expect(lengths, codec).toEqual(plain.lengths);
        expect(hashes.equals(plain.hashes), codec).toBe(true);

        let offset = 0;
        let compressed = 0;
        for (const list of lists) {
          const codecs = list.codecs as CompressionCodec[];
          const payloads = list.payloads as Uint8Array[];
          (list.lengths as number[]).forEach((length, index) => {
            const original = nar.subarray(offset, offset + length);
            const stored = { codec: codecs[index]!, payload: payloads[index]! };
            expect(Buffer.from(restoreChunk(stored, length)).equals(original)).toBe(true);
            if (stored.codec === 'zstd') {
              compressed++;
              // The real tool reads what a session stores (every 8th chunk, to keep it quick).
              if (compressed % 8 === 1) expect(execFileSync('zstd', ['-d', '-q', '-c'], { input: stored.payload }).equals(original)).toBe(true);
            }
            offset += length;
          });
        }
        expect(compressed).toBeGreaterThan(lengths.length / 2);
      }
      expect((await port.ok('stats')).sessions).toBe(0);
    } finally {
      port.stop();
    }
  });

  it('a 1 GiB zstd bomb streams through a compressing session; the port peak RSS stays far below 1 GiB', async () => {
    const bombPath = join(work, 'bomb.zst');
    const made = spawnSync('bash', ['-c', `set -o pipefail; head -c ${GiB} /dev/zero | zstd -3 -q -c > ${bombPath}`]);
    expect(made.status, made.stderr.toString()).toBe(0);
    const bomb = readFileSync(bombPath);
    expect(bomb.length).toBeLessThan(MiB);
    const port = PortClient.start();
    try {
      // A limit refuses it: size_exceeded, and the session is gone.
      const limited = await port.ok('open', { input_compression: 'zstd', max_output: 64 * MiB, options: { hash: 'none' } });
      let refused = await port.request('feed', { session: limited.session, data: bomb });
      while (refused.ok === true && refused.more === true) refused = await port.request('continue', { session: limited.session });
      expect(refused.error).toMatchObject({ code: 'size_exceeded', permanent: true });
      expect((await port.request('continue', { session: limited.session })).error).toMatchObject({ code: 'unknown_session' });

      // Without a limit the whole gigabyte is chunked and compressed, a budget at a time.
      const opened = await port.ok('open', { input_compression: 'auto', compress: { codec: 'zstd' }, options: { hash: 'none' } });
      const lists = await streamThrough(port, opened.session as number, bomb, 3);
      const total = lists.reduce((sum, list) => sum + (list.lengths as number[]).reduce((a, b) => a + b, 0), 0);
      expect(total).toBe(GiB);
      const largestReply = Math.max(...lists.map((list) => (list.payloads as Uint8Array[]).reduce((sum, payload) => sum + payload.length, 0)));
      expect(largestReply).toBeLessThan(MiB);
      const status = readFileSync(`/proc/${port.child.pid}/status`, 'utf8');
      const peakKiB = Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)![1]);
      process.stderr.write(`1 GiB zstd bomb through a session: ${lists.length} replies, port peak RSS ${(peakKiB / KiB).toFixed(1)} MiB\n`);
      expect(peakKiB * KiB).toBeLessThan(256 * MiB);
    } finally {
      port.stop();
    }
  });
});
