/**
 * Compression against real tools and real data: NARs of system directories round-trip
 * through every codec; the `zstd`, `lz4`, `xz` and `bzip2` commands read what we write and
 * we read what they write; @mongodb-js/zstd (an independent zstd binding) agrees with
 * ours both ways; decompression bombs of 1 GiB are refused with size_exceeded in child
 * processes whose peak RSS stays far below 1 GiB; the CLI and the port program serve it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import * as mongodbZstd from '@mongodb-js/zstd';
import {
  COMPRESSION_CODECS,
  compress,
  compressSync,
  decompress,
  decompressSync,
  type CompressionCodec,
} from '../../port/engine/compression.js';
import { narStream } from '../../port/engine/nar-writer.js';
import { runCli } from '../support/cli.js';
import { dictionarySamples } from '../support/compression.js';
import { REPO_ROOT } from '../support/paths.js';
import { PortClient } from '../support/port-client.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const work = mkdtempSync(join(tmpdir(), 'chunker-compression-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type RealCodec = Exclude<CompressionCodec, 'none'>;
const CODECS: RealCodec[] = ['zstd', 'lz4', 'xz', 'bzip2'];

/** Each codec's command line: compress stdin to stdout, and decompress stdin to stdout. */
const TOOLS: Record<RealCodec, { compress: string[]; decompress: string[] }> = {
  zstd: { compress: ['zstd', '-3', '-q', '-c'], decompress: ['zstd', '-d', '-q', '-c'] },
  lz4: { compress: ['lz4', '-q', '-c'], decompress: ['lz4', '-d', '-q', '-c'] },
  xz: { compress: ['xz', '-6', '-T1', '-c'], decompress: ['xz', '-d', '-c'] },
  bzip2: { compress: ['bzip2', '-9', '-c'], decompress: ['bzip2', '-d', '-c'] },
};

function tool(argv: string[], input: Uint8Array): Buffer {
  return execFileSync(argv[0]!, argv.slice(1), { input, maxBuffer: 2 * GiB, stdio: ['pipe', 'pipe', 'pipe'] });
}

async function narOf(path: string): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of narStream(path)) pieces.push(piece);
  return Buffer.concat(pieces);
}

/** A small NAR (~5 MB of shared objects and Perl modules) for level sweeps, a larger one (~26 MB) for the tools. */
let smallNar: Buffer;
let largeNar: Buffer;
beforeAll(async () => {
  const perl = ['/usr/lib/x86_64-linux-gnu/perl-base', '/usr/lib/x86_64-linux-gnu/perl', '/usr/share/perl5'];
  const present = perl.filter((path) => existsSync(path));
  expect(present.length).toBeGreaterThan(0);
  smallNar = await narOf(present[0]!);
  // nix-store --dump, as the other integration tests do: the NAR as Nix itself writes it.
  largeNar = execFileSync('nix-store', ['--dump', present[Math.min(1, present.length - 1)]!], { maxBuffer: GiB });
  expect(smallNar.subarray(0, 32).toString('latin1')).toContain('nix-archive-1');
  expect(largeNar.length).toBeGreaterThan(smallNar.length);
});

describe('real NARs', () => {
  const levels: Record<CompressionCodec, number[]> = {
    zstd: [-5, 1, 3, 9, 19],
    lz4: [1, 9, 12],
    xz: [0, 6, 9],
    bzip2: [1, 9],
    none: [0],
  };
  for (const codec of COMPRESSION_CODECS) {
    it(`${codec}: every level round-trips the NAR, inline and off the JS thread`, async () => {
      let previous = Infinity;
      for (const level of levels[codec]) {
        const packed = await compress(smallNar, { codec, level });
        expect(Buffer.from(decompressSync(packed, { codec, maxOutputBytes: smallNar.length })).equals(smallNar)).toBe(true);
        expect(Buffer.from(await decompress(packed, { codec })).equals(smallNar)).toBe(true);
        // Higher levels never come out much larger on real data.
        if (codec !== 'none') expect(packed.length).toBeLessThan(previous * 1.02);
        previous = packed.length;
      }
    });
  }

  for (const codec of CODECS) {
    it(`${codec}: the ${TOOLS[codec].decompress[0]} command reads our output, and we read its output`, async () => {
      const ours = await compress(largeNar, { codec });
      expect(tool(TOOLS[codec].decompress, ours).equals(largeNar)).toBe(true);
      const theirs = tool(TOOLS[codec].compress, largeNar);
      expect(Buffer.from(await decompress(theirs)).equals(largeNar)).toBe(true);
      expect(Buffer.from(await decompress(theirs, { codec, maxOutputBytes: largeNar.length })).equals(largeNar)).toBe(true);
    });
  }

  it('reads multi-threaded and multi-frame tool output (xz -T2 blocks, zstd -T2, concatenated files)', async () => {
    const xzBlocks = tool(['xz', '-1', '-T2', '--block-size=1MiB', '-c'], largeNar);
    expect(Buffer.from(await decompress(xzBlocks)).equals(largeNar)).toBe(true);
    const zstdThreads = tool(['zstd', '-3', '-T2', '-q', '-c'], largeNar);
    expect(Buffer.from(await decompress(zstdThreads)).equals(largeNar)).toBe(true);
    const half = largeNar.length >> 1;
    for (const codec of CODECS) {
      const joined = Buffer.concat([tool(TOOLS[codec].compress, largeNar.subarray(0, half)), tool(TOOLS[codec].compress, largeNar.subarray(half))]);
      expect(Buffer.from(await decompress(joined)).equals(largeNar), codec).toBe(true);
    }
  });

  it('a zstd dictionary from the command line works here, and ours works there', () => {
    const dir = join(work, 'samples');
    execFileSync('mkdir', ['-p', dir]);
    const samples = dictionarySamples(400, 12);
    samples.forEach((sample, index) => writeFileSync(join(dir, `s${index}`), sample));
    const dictionaryPath = join(work, 'cli.dict');
    execFileSync('zstd', ['--train', '-q', '-r', dir, '--maxdict=8192', '-o', dictionaryPath]);
    const trained = runCli(['dict', 'train', ...samples.map((_, index) => join(dir, `s${index}`)), '--max-bytes', '8K']);
    expect(trained.status, trained.stderr).toBe(0);
    const oursPath = join(work, 'ours.dict');
    writeFileSync(oursPath, trained.stdoutBytes);
    const chunk = dictionarySamples(1, 1234)[0]!;
    for (const dictionary of [dictionaryPath, oursPath]) {
      const theirs = execFileSync('zstd', ['-q', '-c', '-D', dictionary], { input: chunk });
      const file = join(work, 'chunk.zst');
      writeFileSync(file, theirs);
      const back = runCli(['decompress', file, '--dictionary', dictionary]);
      expect(back.status, back.stderr).toBe(0);
      expect(back.stdoutBytes.equals(Buffer.from(chunk))).toBe(true);
      writeFileSync(join(work, 'chunk.raw'), chunk);
      const ours = runCli(['compress', join(work, 'chunk.raw'), '--dictionary', dictionary]);
      expect(execFileSync('zstd', ['-d', '-q', '-c', '-D', dictionary], { input: ours.stdoutBytes }).equals(Buffer.from(chunk))).toBe(true);
      const missing = spawnSync('zstd', ['-d', '-q', '-c'], { input: ours.stdoutBytes });
      expect(missing.status).not.toBe(0);
    }
  });
});

describe('@mongodb-js/zstd as an independent check', () => {
  it('decompresses our frames, and we decompress its frames (the NAR, several levels)', async () => {
    for (const level of [1, 3, 9]) {
      const ours = compressSync(largeNar, { level });
      expect((await mongodbZstd.decompress(Buffer.from(ours))).equals(largeNar)).toBe(true);
      const theirs = await mongodbZstd.compress(largeNar, level);
      expect(Buffer.from(decompressSync(theirs)).equals(largeNar)).toBe(true);
    }
  });

  it('agrees on arbitrary inputs (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 20_000 }), fc.constantFrom(-3, 1, 3, 12), async (data, level) => {
        const ours = compressSync(data, { level });
        expect((await mongodbZstd.decompress(Buffer.from(ours))).equals(Buffer.from(data))).toBe(true);
        if (level > 0) {
          const theirs = await mongodbZstd.compress(Buffer.from(data), level);
          expect(Buffer.from(decompressSync(theirs, { codec: 'zstd' })).equals(Buffer.from(data))).toBe(true);
        }
      }),
      { numRuns: 150 },
    );
  });
});

describe('decompression bombs (1 GiB of zeros) in a child process', () => {
  const bombs = new Map<RealCodec, string>();
  const LIMIT_BYTES = 32 * MiB;
  /** Far below the 1 GiB the bombs inflate to: node itself, the 32 MiB output, decoder state. */
  const RSS_CEILING_BYTES = 256 * MiB;

  beforeAll(async () => {
    // Made by the real tools from a stream of zeros; nothing large is ever on disk.
    const fastest: Record<RealCodec, string> = { zstd: 'zstd -3 -q -c', lz4: 'lz4 -1 -q -c', xz: 'xz -0 -T1 -c', bzip2: 'bzip2 -9 -c' };
    await Promise.all(
      CODECS.map(
        (codec) =>
          new Promise<void>((resolve, reject) => {
            const path = join(work, `bomb.${codec}`);
            const child = spawn('bash', ['-c', `set -o pipefail; head -c ${GiB} /dev/zero | ${fastest[codec]} > ${path}`]);
            child.on('error', reject);
            child.on('close', (status) => (status === 0 ? resolve() : reject(new Error(`making the ${codec} bomb failed: ${status}`))));
            bombs.set(codec, path);
          }),
      ),
    );
  }, 120_000);

  /** Decompresses a bomb in a fresh node process; returns what it reports. */
  function inflateInChild(path: string, maxOutputBytes: number, sync: boolean): { code: string; maxRssBytes: number; baseRssBytes: number } {
    const engine = join(REPO_ROOT, 'dist', 'port', 'engine', 'compression.js');
    const script = `
      import { readFileSync } from 'node:fs';
      const { decompress, decompressSync } = await import(${JSON.stringify(engine)});
      const input = readFileSync(${JSON.stringify(path)});
      const baseRssBytes = process.resourceUsage().maxRSS * 1024;
      let code = 'none';
      try {
        const options = { maxOutputBytes: ${maxOutputBytes} };
        ${sync ? 'decompressSync(input, options);' : 'await decompress(input, options);'}
      } catch (error) { code = error.code; }
      process.stdout.write(JSON.stringify({ code, maxRssBytes: process.resourceUsage().maxRSS * 1024, baseRssBytes }));
    `;
    // Through sh: Linux carries a process's peak RSS across exec, and a child forked straight
    // from this (large) test process would start with the test process's peak as its own.
    // sh is small, and the node it forks starts afresh.
    const command = [process.execPath, '--input-type=module', '-e', script];
    const result = spawnSync('sh', ['-c', '"$0" "$@"; exit $?', ...command], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as { code: string; maxRssBytes: number; baseRssBytes: number };
  }

  for (const codec of CODECS) {
    it(`${codec}: refused with size_exceeded; peak RSS stays far below 1 GiB`, () => {
      const path = bombs.get(codec)!;
      const size = statSync(path).size;
      expect(size).toBeLessThan(8 * MiB);
      for (const sync of [false, true]) {
        const { code, maxRssBytes, baseRssBytes } = inflateInChild(path, LIMIT_BYTES, sync);
        process.stderr.write(
          `bomb ${codec} (${size} bytes -> 1 GiB, limit 32 MiB, ${sync ? 'inline' : 'thread pool'}): ${code}, ` +
            `peak RSS ${(maxRssBytes / MiB).toFixed(1)} MiB (${(baseRssBytes / MiB).toFixed(1)} MiB before decompressing)\n`,
        );
        expect(code).toBe('size_exceeded');
        expect(maxRssBytes).toBeLessThan(RSS_CEILING_BYTES);
        expect(maxRssBytes - baseRssBytes).toBeLessThan(LIMIT_BYTES + 96 * MiB);
      }
    });
  }

  it('streamed decompression (DecompressingStream into the chunker) gets through all 1 GiB with a small peak RSS', () => {
    const root = join(REPO_ROOT, 'dist', 'port', 'engine');
    const script = `
      import { createReadStream } from 'node:fs';
      const { DecompressingStream } = await import(${JSON.stringify(join(root, 'compression.js'))});
      const { chunkStream } = await import(${JSON.stringify(join(root, 'chunk-stream.js'))});
      const source = new DecompressingStream(createReadStream(${JSON.stringify(bombs.get('zstd')!)}));
      let bytes = 0, chunks = 0;
      for await (const list of chunkStream(source, { hash: 'none' })) for (const chunk of list) { bytes += chunk.length; chunks++; }
      process.stdout.write(JSON.stringify({ bytes, chunks, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
    `;
    const command = [process.execPath, '--input-type=module', '-e', script];
    const result = spawnSync('sh', ['-c', '"$0" "$@"; exit $?', ...command], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const { bytes, chunks, maxRssBytes } = JSON.parse(result.stdout) as { bytes: number; chunks: number; maxRssBytes: number };
    process.stderr.write(`streamed zstd bomb: ${bytes} bytes in ${chunks} chunks, peak RSS ${(maxRssBytes / MiB).toFixed(1)} MiB\n`);
    expect(bytes).toBe(GiB);
    expect(chunks).toBe(GiB / (256 * 1024));
    expect(maxRssBytes).toBeLessThan(RSS_CEILING_BYTES);
  });

  it('chunk_file refuses a bomb past max_output with size_exceeded', async () => {
    const port = PortClient.start();
    try {
      const refused = await port.request('chunk_file', { path: bombs.get('xz')!, compression: 'auto', max_output: 64 * MiB });
      expect(refused.error).toMatchObject({ code: 'size_exceeded' });
    } finally {
      port.stop();
    }
  });

  it('the CLI refuses a bomb with chunker: size_exceeded and exit status 1', () => {
    const result = runCli(['decompress', bombs.get('zstd')!, '--max-output', '16M']);
    expect(result.status).toBe(1);
    expect(result.stdoutBytes.length).toBe(0);
    expect(result.stderr).toMatch(/^chunker: size_exceeded: zstd: the output exceeds the limit of 16777216 bytes\n$/);
  });
});

describe('chunker compress / decompress / dict train', () => {
  it('compresses for every codec so that the tool decompresses it, and decompresses the tool output', () => {
    const file = join(work, 'small.nar');
    writeFileSync(file, smallNar);
    for (const codec of CODECS) {
      const packed = runCli(['compress', file, '--codec', codec]);
      expect(packed.status, packed.stderr).toBe(0);
      expect(packed.stderr).toBe('');
      expect(tool(TOOLS[codec].decompress, packed.stdoutBytes).equals(smallNar)).toBe(true);
      const theirs = join(work, `small.nar.${codec}`);
      writeFileSync(theirs, tool(TOOLS[codec].compress, smallNar));
      const back = runCli(['decompress', theirs]);
      expect(back.status, back.stderr).toBe(0);
      expect(back.stdoutBytes.equals(smallNar)).toBe(true);
      expect(back.stderr).toContain(`(${codec})`);
    }
    const fast = runCli(['compress', '-', '--level', '-5'], smallNar);
    expect(fast.status, fast.stderr).toBe(0);
    expect(tool(TOOLS.zstd.decompress, fast.stdoutBytes).equals(smallNar)).toBe(true);
  });

  it('reports errors as chunker: <code>: <message> with a non-zero status', () => {
    const packed = compressSync(smallNar, { codec: 'xz' });
    const cases: Array<[string[], Uint8Array | undefined, number, RegExp]> = [
      [['decompress', '-'], packed.subarray(0, packed.length - 10), 1, /^chunker: truncated_input: xz: /],
      [['decompress', '-'], Buffer.from('plain text is no compressed format'), 1, /^chunker: unknown_format: /],
      [['decompress', '-', '--max-output', '1K'], packed, 1, /^chunker: size_exceeded: /],
      [['decompress', '-', '--codec', 'zstd'], packed, 1, /^chunker: corrupt_input: zstd: /],
      [['compress', '-', '--codec', 'xz', '--level', '12'], smallNar, 1, /^chunker: invalid_argument: .*0 to 9/],
      [['compress', '-', '--codec', 'gzip'], smallNar, 2, /^chunker: usage: --codec expects/],
      [['compress', '-', '--level', 'high'], smallNar, 2, /^chunker: usage: --level expects an integer/],
      [['compress', join(work, 'missing')], undefined, 1, /^chunker: not_found: /],
      [['decompress', '-', '--dictionary', join(work, 'missing.dict')], packed, 1, /^chunker: not_found: /],
      [['dict', 'train', join(REPO_ROOT, 'package.json')], undefined, 1, /^chunker: training_failed: /],
      [['dict', 'fit'], undefined, 2, /^chunker: usage: dict needs a subcommand/],
    ];
    for (const [args, input, status, stderr] of cases) {
      const result = runCli(args, input);
      expect(result.status, args.join(' ')).toBe(status);
      expect(result.stderr, args.join(' ')).toMatch(stderr);
      expect(result.stdoutBytes.length, args.join(' ')).toBe(0);
    }
  });

  it('dict train with --split makes samples from pieces of one file', () => {
    const file = join(work, 'samples.txt');
    writeFileSync(file, Buffer.concat(dictionarySamples(300, 5)));
    const result = runCli(['dict', 'train', file, '--split', '1K', '--max-bytes', '4K']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdoutBytes.length).toBeLessThanOrEqual(4096);
    expect(result.stderr).toMatch(/^dictionary id \d+, \d+ bytes, from \d+ samples\n$/);
    expect(readFileSync(file).length).toBeGreaterThan(0);
  });
});

describe('compressed NAR input', () => {
  it('chunk_file of a .nar.zst / .nar.xz / .nar.bz2 / .nar.lz4 gives exactly the chunks of the plain NAR', async () => {
    const plainPath = join(work, 'large.nar');
    writeFileSync(plainPath, largeNar);
    const port = PortClient.start();
    try {
      const plain = await port.ok('chunk_file', { path: plainPath });
      expect(plain.size).toBe(largeNar.length);
      const passedThrough = await port.ok('chunk_file', { path: plainPath, compression: 'auto' });
      expect(passedThrough).toMatchObject({ chunks: plain.chunks, size: largeNar.length, codec: 'none' });
      for (const codec of CODECS) {
        const path = join(work, `large.nar.${codec}`);
        writeFileSync(path, tool(TOOLS[codec].compress, largeNar));
        for (const compression of ['auto', codec]) {
          const reply = await port.ok('chunk_file', { path, compression });
          expect(reply.chunks, `${codec} as ${compression}`).toEqual(plain.chunks);
          expect(reply).toMatchObject({ size: largeNar.length, compressed_size: statSync(path).size, codec });
        }
        const cli = runCli(['chunk', path, '--decompress', 'auto', '--json']);
        expect(cli.status, cli.stderr).toBe(0);
        expect(cli.stdout).toBe(runCli(['chunk', plainPath, '--json']).stdout);
      }
      const wrong = await port.request('chunk_file', { path: join(work, 'large.nar.xz'), compression: 'zstd' });
      expect(wrong.error).toMatchObject({ code: 'corrupt_input' });
      const bad = await port.request('chunk_file', { path: plainPath, compression: 'gzip' });
      expect(bad.error).toMatchObject({ code: 'invalid_argument' });
    } finally {
      port.stop();
    }
  });
});

describe('the port program', () => {
  it('compresses, decompresses and trains over the wire, and refuses a bomb', async () => {
    const port = PortClient.start();
    try {
      const hello = await port.ok('hello', { protocol: 1 });
      expect(hello.capabilities).toContain('compression');
      for (const codec of COMPRESSION_CODECS) {
        const packed = await port.ok('compress', { data: smallNar, codec });
        const back = await port.ok('decompress', { data: packed.data, codec: codec === 'none' ? 'none' : 'auto' });
        expect(Buffer.from(back.data as Uint8Array).equals(smallNar)).toBe(true);
      }
      const trained = await port.ok('train_dictionary', { samples: dictionarySamples(400, 6), max_bytes: 8192 });
      expect(trained.dictionary_id).toBeGreaterThan(0);
      const bomb = compressSync(new Uint8Array(256 * MiB));
      const refused = await port.request('decompress', { data: bomb });
      expect(refused.ok).toBe(false);
      expect(refused.error).toMatchObject({ code: 'size_exceeded', permanent: true });
      // Still serving.
      expect((await port.ok('hash', { data: Buffer.from('x') })).hash).toHaveLength(32);
    } finally {
      port.stop();
    }
  });
});
