/**
 * The real Nix tools are the oracle here: `nix-store --dump`, `nix-store --restore`,
 * `nix-hash` and `nix hash to-base32` must agree with our writer, reader and base32.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNixBase32, encodeNixBase32 } from '../../port/engine/nix-base32.js';
import { narStream, writeNar } from '../../port/engine/nar-writer.js';
import { NarReader, readNarEntries } from '../../port/engine/nar-reader.js';
import type { NarEntry } from '../../port/engine/nar-format.js';

const NIX_ENV = { ...process.env, NIX_CONFIG: 'experimental-features = nix-command' };
const MAX_CAPTURE_BYTES = 512 * 1024 * 1024;

function nix(command: string, args: string[], input?: Buffer): Buffer {
  return execFileSync(command, args, { env: NIX_ENV, maxBuffer: MAX_CAPTURE_BYTES, input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** SHA-256 of a command's stdout, streamed so large dumps are never held whole. */
function commandOutputSha256(command: string, args: string[]): Promise<{ sha256: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: NIX_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    const hash = createHash('sha256');
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (piece: Buffer) => {
      hash.update(piece);
      bytes += piece.length;
    });
    child.stderr.on('data', (piece: Buffer) => (stderr += piece.toString()));
    child.on('error', reject);
    child.on('close', (status) =>
      status === 0 ? resolve({ sha256: hash.digest('hex'), bytes }) : reject(new Error(`${command} exited ${status}: ${stderr}`)),
    );
  });
}

async function ourNar(path: string): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of narStream(path)) pieces.push(piece);
  return Buffer.concat(pieces);
}

async function ourNarSha256(path: string): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const piece of narStream(path)) {
    hash.update(piece);
    bytes += piece.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Index of the first differing byte, or -1: a readable failure instead of a giant diff. */
function firstDifference(a: Buffer, b: Buffer): number {
  const common = Math.min(a.length, b.length);
  for (let index = 0; index < common; index++) if (a[index] !== b[index]) return index;
  return a.length === b.length ? -1 : common;
}

/** The listing a correct reader must produce, built by walking the tree independently. */
function walkListing(root: string): NarEntry[] {
  const entries: NarEntry[] = [];
  const visit = (absolute: Buffer, relative: string): void => {
    const stats = lstatSync(absolute);
    if (stats.isSymbolicLink()) {
      entries.push({ path: relative, type: 'symlink', target: readlinkSync(absolute, { encoding: 'buffer' }).toString('utf8') });
    } else if (stats.isFile()) {
      entries.push({ path: relative, type: (stats.mode & 0o100) !== 0 ? 'executable' : 'regular', size: stats.size });
    } else {
      entries.push({ path: relative, type: 'directory' });
      const names = readdirSync(absolute, { encoding: 'buffer' }).sort(Buffer.compare);
      for (const name of names) {
        const text = name.toString('utf8');
        visit(Buffer.concat([absolute, Buffer.from('/'), name]), relative === '' ? text : `${relative}/${text}`);
      }
    }
  };
  visit(Buffer.from(root), '');
  return entries;
}

function withoutOffsets(entries: NarEntry[]): NarEntry[] {
  return entries.map(({ contentOffset: _ignored, ...rest }) => rest);
}

/** Names whose byte order differs from locale order (case, punctuation, accents, scripts). */
const TRICKY_NAMES = [
  'B', 'a', 'A', 'Z', 'ab', 'a-b', 'a_b', 'a.b', '_underscore', '~tilde', '-dash', '.hidden', '..double',
  'e-plain', '\u00e9-accent', '\u00e4', 'z', '\u65e5\u672c\u8a9e', '\ud83d\ude00 emoji', 'space name', '10', '9', 'x'.repeat(255),
];

function buildTrickyTree(root: string): void {
  mkdirSync(root);
  writeFileSync(join(root, 'hello.txt'), 'hello\n');
  writeFileSync(join(root, 'empty'), '');
  for (const size of [1, 7, 8, 9, 15, 16, 17]) writeFileSync(join(root, `size-${size}`), randomBytes(size));
  writeFileSync(join(root, 'big.bin'), randomBytes(3 * 1024 * 1024 + 5));
  writeFileSync(join(root, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
  writeFileSync(join(root, 'owner-exec-only'), 'x', { mode: 0o700 });
  writeFileSync(join(root, 'group-exec-only'), 'x');
  chmodSync(join(root, 'group-exec-only'), 0o654);
  writeFileSync(join(root, 'read-only'), 'r');
  chmodSync(join(root, 'read-only'), 0o444);
  symlinkSync('hello.txt', join(root, 'link-to-file'));
  symlinkSync('does/not/exist', join(root, 'dangling'));
  symlinkSync('sub', join(root, 'link-to-dir'));
  symlinkSync('/etc/hostname', join(root, 'absolute-link'));
  symlinkSync('x'.repeat(1000), join(root, 'long-target'));
  mkdirSync(join(root, 'empty-dir'));
  mkdirSync(join(root, 'sub', 'deeper', 'deepest'), { recursive: true });
  writeFileSync(join(root, 'sub', 'deeper', 'deepest', 'leaf'), 'leaf');
  writeFileSync(join(root, 'sub', 'sibling'), randomBytes(100));
  mkdirSync(join(root, 'names'));
  for (const name of TRICKY_NAMES) writeFileSync(join(root, 'names', name), name);
  // A name that is not UTF-8 at all, and a symlink whose target is not UTF-8.
  const rootBytes = Buffer.from(root);
  writeFileSync(Buffer.concat([rootBytes, Buffer.from('/names/f'), Buffer.from([0xff, 0xfe]), Buffer.from('o')]), 'latin');
  symlinkSync(Buffer.from([0x74, 0xe9]), Buffer.concat([rootBytes, Buffer.from('/names/latin-target')]));
}

let workDir = '';
let tree = '';

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'chunker-nix-tools-'));
  tree = join(workDir, 'tree');
  buildTrickyTree(tree);
});

afterAll(() => {
  if (workDir !== '') rmSync(workDir, { recursive: true, force: true });
});

describe('NAR writer against nix-store --dump', () => {
  it('the tricky names really do sort differently by bytes than by locale', () => {
    const byBytes = [...TRICKY_NAMES].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const byLocale = [...TRICKY_NAMES].sort((a, b) => a.localeCompare(b));
    expect(byBytes).not.toEqual(byLocale);
  });

  it('is byte-identical on a tree with every kind of entry and awkward names', async () => {
    const theirs = nix('nix-store', ['--dump', tree]);
    const ours = await ourNar(tree);
    expect(firstDifference(ours, theirs)).toBe(-1);
    expect(ours.length).toBeGreaterThan(3 * 1024 * 1024);
  });

  it('is byte-identical for a single regular file, an executable and a symlink as the root', async () => {
    for (const root of [join(tree, 'hello.txt'), join(tree, 'run.sh'), join(tree, 'empty'), join(tree, 'link-to-file'), join(tree, 'empty-dir')]) {
      const theirs = nix('nix-store', ['--dump', root]);
      expect(firstDifference(await ourNar(root), theirs)).toBe(-1);
    }
  });

  it('is byte-identical on small real system directories', async () => {
    const candidates = ['/etc/ssl', '/usr/share/doc/apt', '/usr/share/doc/git', '/usr/share/doc/openssl', '/etc/apt'];
    const present = candidates.filter((path) => existsSync(path));
    expect(present.length).toBeGreaterThanOrEqual(2);
    for (const root of present) {
      const theirs = nix('nix-store', ['--dump', root]);
      expect({ root, difference: firstDifference(await ourNar(root), theirs) }).toEqual({ root, difference: -1 });
    }
  });

  it('has the same SHA-256 as nix-store --dump on large real directories', async () => {
    const candidates = ['/usr/share/doc', '/usr/lib/python3.11', '/usr/include'];
    const present = candidates.filter((path) => existsSync(path));
    expect(present.length).toBeGreaterThanOrEqual(1);
    for (const root of present) {
      const [theirs, ours] = await Promise.all([commandOutputSha256('nix-store', ['--dump', root]), ourNarSha256(root)]);
      expect({ root, ...ours }).toEqual({ root, ...theirs });
    }
  }, 300_000);

  it('gives the NAR hash nix-hash computes for a directory', async () => {
    const nixHash = nix('nix-hash', ['--type', 'sha256', '--base32', tree]).toString().trim();
    const ours = encodeNixBase32(createHash('sha256').update(await ourNar(tree)).digest());
    expect(ours).toBe(nixHash);
  });
});

describe('nix-store --restore of our NAR', () => {
  it('rebuilds the same tree', async () => {
    const narPath = join(workDir, 'tree.nar');
    const narBytes = await writeNar(tree, narPath);
    const ours = readFileSync(narPath);
    expect(ours.length).toBe(narBytes);

    const restored = join(workDir, 'restored');
    nix('nix-store', ['--restore', restored], ours);
    expect(firstDifference(nix('nix-store', ['--dump', restored]), ours)).toBe(-1);

    // Check a few properties directly, not only through another dump.
    expect(readFileSync(join(restored, 'big.bin')).equals(readFileSync(join(tree, 'big.bin')))).toBe(true);
    expect(lstatSync(join(restored, 'run.sh')).mode & 0o100).not.toBe(0);
    expect(lstatSync(join(restored, 'group-exec-only')).mode & 0o100).toBe(0);
    expect(readlinkSync(join(restored, 'dangling'))).toBe('does/not/exist');
    expect(readdirSync(join(restored, 'empty-dir'))).toEqual([]);
    expect(walkListing(restored)).toEqual(walkListing(tree));
  });
});

describe('NAR reader on nix-store --dump output', () => {
  it('lists exactly what is on disk, with offsets that point at the contents', async () => {
    const theirs = nix('nix-store', ['--dump', tree]);
    const reader = new NarReader();
    const entries = [...reader.push(theirs), ...reader.end()];
    expect(withoutOffsets(entries)).toEqual(walkListing(tree));

    let filesChecked = 0;
    for (const entry of entries) {
      if (entry.contentOffset === undefined || entry.size === undefined) continue;
      if (entry.path.includes('\ufffd')) continue; // not UTF-8 on disk; its name cannot round-trip through a string
      const onDisk = readFileSync(join(tree, entry.path));
      expect(theirs.subarray(entry.contentOffset, entry.contentOffset + entry.size).equals(onDisk)).toBe(true);
      filesChecked++;
    }
    expect(filesChecked).toBeGreaterThan(30);
  });

  it('streams a large real dump and lists every file system object', async () => {
    const root = ['/usr/share/doc', '/usr/lib/python3.11', '/etc'].find((path) => existsSync(path))!;
    const child = spawn('nix-store', ['--dump', root], { stdio: ['ignore', 'pipe', 'inherit'] });
    const entries: NarEntry[] = [];
    for await (const entry of readNarEntries(child.stdout)) entries.push(entry);
    expect(withoutOffsets(entries)).toEqual(walkListing(root));
  }, 300_000);
});

describe('Nix base32 against the nix tools', () => {
  function nixToBase32(type: string, hexHashes: string[]): string[] {
    return nix('nix', ['hash', 'to-base32', '--type', type, ...hexHashes]).toString().trim().split('\n');
  }

  for (const [type, byteCount] of [['sha256', 32], ['md5', 16], ['sha1', 20], ['sha512', 64]] as const) {
    it(`matches nix hash to-base32 --type ${type} on random hashes, and decodes back`, () => {
      const hashes = Array.from({ length: type === 'sha256' ? 300 : 60 }, () => randomBytes(byteCount));
      hashes.push(Buffer.alloc(byteCount, 0x00), Buffer.alloc(byteCount, 0xff));
      const expected = nixToBase32(type, hashes.map((hash) => hash.toString('hex')));
      expect(expected).toHaveLength(hashes.length);
      hashes.forEach((hash, index) => {
        expect(encodeNixBase32(hash)).toBe(expected[index]);
        expect(Buffer.from(decodeNixBase32(expected[index]!)).equals(hash)).toBe(true);
      });
    });
  }

  it('matches nix-hash --flat --base32 on files', () => {
    const files = readdirSync(tree)
      .map((name) => join(tree, name))
      .filter((path) => lstatSync(path).isFile());
    expect(files.length).toBeGreaterThan(10);
    const expected = nix('nix-hash', ['--type', 'sha256', '--base32', '--flat', ...files]).toString().trim().split('\n');
    expect(files.map((path) => encodeNixBase32(createHash('sha256').update(readFileSync(path)).digest()))).toEqual(expected);
  });
});
