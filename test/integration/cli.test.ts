import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync, symlinkSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';
import { loadVectorCases, loadFixture } from '../support/fastcdc-vectors.js';
import { referenceChunks } from '../support/fastcdc-reference.js';
import { FASTCDC_VECTORS_DIR } from '../support/paths.js';
import { seededBytes } from '../support/random-bytes.js';

interface JsonChunk {
  offset: number;
  length: number;
  gear: string;
  hash: string;
}

function parseJsonLines(stdout: string): JsonChunk[] {
  return stdout
    .trim()
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as JsonChunk);
}

const work = mkdtempSync(join(tmpdir(), 'chunker-cli-'));

describe('chunker chunk', () => {
  for (const vector of loadVectorCases()) {
    it(`reproduces ${vector.name} through --json`, () => {
      const file = join(work, `${vector.name}.bin`);
      writeFileSync(file, vector.input);
      const args = ['chunk', file, '--json', '--min', `${vector.minSize}`, '--avg', `${vector.avgSize}`];
      args.push('--max', `${vector.maxSize}`, '--level', `${vector.normalization}`);
      const result = runCli(args);
      expect(result.stderr).toMatch(new RegExp(`^${vector.chunks.length} chunks, ${vector.input.length} bytes`));
      expect(result.status).toBe(0);
      const chunks = parseJsonLines(result.stdout);
      expect(chunks.map(({ offset, length, gear }) => ({ offset, length, gear: BigInt(gear) }))).toEqual(vector.chunks);
      for (const chunk of chunks) {
        const bytes = vector.input.subarray(chunk.offset, chunk.offset + chunk.length);
        expect(chunk.hash).toBe(createHash('sha256').update(bytes).digest('hex'));
      }
    });
  }

  it('with a seed and every level, matches the reference implementation', () => {
    const data = seededBytes(400_000, 17);
    const file = join(work, 'seeded.bin');
    writeFileSync(file, data);
    for (const level of [0, 1, 2, 3]) {
      const seed = 0xfeedface12345678n;
      const result = runCli(['chunk', file, '--json', '--preset', 'small', '--level', `${level}`, '--seed', `0x${seed.toString(16)}`]);
      expect(result.status).toBe(0);
      const expected = referenceChunks(data, 4096, 16_384, 65_536, level, seed);
      expect(parseJsonLines(result.stdout).map(({ offset, length, gear }) => ({ offset, length, gear: BigInt(gear) }))).toEqual(expected);
    }
  });

  it('reads stdin and gives the same chunks as the file, with blake3 digests', () => {
    const fixture = join(FASTCDC_VECTORS_DIR, 'SekienAkashita.jpg');
    const fromFile = runCli(['chunk', fixture, '--json', '--preset', 'small', '--hash', 'blake3']);
    const fromStdin = runCli(['chunk', '-', '--json', '--preset', 'small', '--hash', 'blake3'], loadFixture());
    expect(fromFile.status).toBe(0);
    expect(fromStdin.stdout).toBe(fromFile.stdout);
    const first = parseJsonLines(fromFile.stdout)[0]!;
    const b3 = execFileSync('b3sum', ['--no-names', '-'], { input: loadFixture().subarray(0, first.length) });
    expect(first.hash).toBe(b3.toString().trim());
  });

  it('uses the default preset (16K/64K/256K, level 1, sha256) when no option is given', () => {
    const result = runCli(['chunk', join(FASTCDC_VECTORS_DIR, 'SekienAkashita.jpg')]);
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/min\/avg\/max 16384\/65536\/262144, level 1, sha256/);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^0\t\d+\t[0-9a-f]{64}$/);
  });

  const bad: Array<[string, string[], RegExp, number]> = [
    ['min too small', ['--min', '10'], /invalid_argument: .*min_size.*10/, 1],
    ['avg above max', ['--avg', '1M', '--max', '256K'], /min_size <= avg_size <= max_size/, 1],
    ['level 9', ['--level', '9'], /normalization/, 1],
    ['seed too wide', ['--seed', `${1n << 64n}`], /seed must fit in 64 bits/, 2],
    ['size with unknown unit', ['--min', '4X'], /--min expects a byte size/, 2],
    ['unknown hash', ['--hash', 'md5'], /hash.*md5/, 1],
    ['unknown option', ['--fast'], /unknown option --fast/, 2],
  ];
  for (const [name, extra, pattern, status] of bad) {
    it(`rejects ${name} on stderr with exit ${status} and nothing on stdout`, () => {
      const result = runCli(['chunk', join(FASTCDC_VECTORS_DIR, 'SekienAkashita.jpg'), ...extra]);
      expect(result.status).toBe(status);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(pattern);
    });
  }

  it('reports a missing file as an error, not a crash', () => {
    const result = runCli(['chunk', join(work, 'does-not-exist')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^chunker: not_found: /);
    expect(result.stderr).not.toMatch(/at .*\.js:\d+/);
  });
});

describe('chunker nar and hash', () => {
  const tree = join(work, 'tree');
  mkdirSync(join(tree, 'sub'), { recursive: true });
  writeFileSync(join(tree, 'a.txt'), 'hello\n');
  writeFileSync(join(tree, 'sub', 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(tree, 'sub', 'run.sh'), 0o755);
  symlinkSync('a.txt', join(tree, 'link'));

  it('nar dump equals nix-store --dump', () => {
    const ours = runCli(['nar', 'dump', tree]);
    expect(ours.status).toBe(0);
    expect(ours.stdoutBytes.equals(execFileSync('nix-store', ['--dump', tree]))).toBe(true);
  });

  it('nar ls lists every entry with offsets that point at the contents', () => {
    const narFile = join(work, 'tree.nar');
    const nar = execFileSync('nix-store', ['--dump', tree]);
    writeFileSync(narFile, nar);
    const result = runCli(['nar', 'ls', narFile, '--json']);
    expect(result.status).toBe(0);
    const entries = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(entries.map((entry) => entry.path).sort()).toEqual(['', 'a.txt', 'link', 'sub', 'sub/run.sh']);
    const script = entries.find((entry) => entry.path === 'sub/run.sh')!;
    expect(script.type).toBe('executable');
    const offset = script.contentOffset as number;
    expect(nar.subarray(offset, offset + (script.size as number)).toString()).toBe('#!/bin/sh\necho hi\n');
  });

  it('nar ls rejects a truncated NAR with a clear error', () => {
    const narFile = join(work, 'truncated.nar');
    const nar = execFileSync('nix-store', ['--dump', tree]);
    writeFileSync(narFile, nar.subarray(0, nar.length - 20));
    const result = runCli(['nar', 'ls', narFile]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^chunker: invalid_nar: .*/);
  });

  it('hash --base32 equals nix-hash --flat --base32; hex equals sha256sum; blake3 equals b3sum', () => {
    const file = join(FASTCDC_VECTORS_DIR, 'SekienAkashita.jpg');
    const nix = execFileSync('nix-hash', ['--type', 'sha256', '--flat', '--base32', file], { encoding: 'utf8' }).trim();
    expect(runCli(['hash', file, '--base32']).stdout.trim()).toBe(nix);
    const sha = execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0];
    expect(runCli(['hash', file]).stdout.trim()).toBe(sha);
    const b3 = execFileSync('b3sum', ['--no-names', file], { encoding: 'utf8' }).trim();
    expect(runCli(['hash', file, '--type', 'blake3']).stdout.trim()).toBe(b3);
  });
});
