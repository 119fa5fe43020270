import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkerError } from '../../port/errors.js';
import { encodeNarStrings } from '../../port/engine/nar-format.js';
import {
  DEFAULT_NAR_PIECE_BYTES,
  MAX_NAR_PIECE_BYTES,
  SYNC_READ_MAX_FILE_BYTES,
  narStream,
  writeNar,
  type NarWriteOptions,
} from '../../port/engine/nar-writer.js';
import { chunkerRejectionOf } from '../support/chunker-error.js';

type Token = string | Uint8Array;

function fileTokens(contents: Token, executable = false): Token[] {
  return ['(', 'type', 'regular', ...(executable ? ['executable', ''] : []), 'contents', contents, ')'];
}

function symlinkTokens(target: Token): Token[] {
  return ['(', 'type', 'symlink', 'target', target, ')'];
}

/** Entries must already be in the order the NAR lists them. */
function directoryTokens(entries: [Token, Token[]][]): Token[] {
  return ['(', 'type', 'directory', ...entries.flatMap(([name, node]) => ['entry', '(', 'name', name, 'node', ...node, ')']), ')'];
}

function expectedNar(node: Token[]): Buffer {
  return encodeNarStrings('nix-archive-1', ...node);
}

async function collectPieces(path: string, options?: NarWriteOptions): Promise<Buffer[]> {
  const pieces: Buffer[] = [];
  for await (const piece of narStream(path, options)) pieces.push(piece);
  return pieces;
}

async function narOf(path: string, options?: NarWriteOptions): Promise<Buffer> {
  return Buffer.concat(await collectPieces(path, options));
}

async function expectRejection(promise: Promise<unknown>, code: string, messagePart?: RegExp): Promise<ChunkerError> {
  const error = await chunkerRejectionOf(() => promise);
  expect(error.code).toBe(code);
  if (messagePart) expect(error.message).toMatch(messagePart);
  return error;
}

let dir = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'chunker-nar-writer-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('narStream output', () => {
  it('serializes a regular file as the root', async () => {
    const path = join(dir, 'file');
    writeFileSync(path, 'hello world');
    expect((await narOf(path)).equals(expectedNar(fileTokens('hello world')))).toBe(true);
  });

  it('marks a file executable exactly when the owner-execute bit is set', async () => {
    const cases: [number, boolean][] = [[0o755, true], [0o700, true], [0o100, true], [0o644, false], [0o654, false], [0o611, false]];
    for (const [mode, executable] of cases) {
      const path = join(dir, `mode-${mode.toString(8)}`);
      writeFileSync(path, 'x');
      chmodSync(path, mode);
      expect((await narOf(path)).equals(expectedNar(fileTokens('x', executable)))).toBe(true);
    }
  });

  it('serializes symlinks without following them, even dangling ones', async () => {
    const path = join(dir, 'link');
    symlinkSync('../nowhere/at all', path);
    expect((await narOf(path)).equals(expectedNar(symlinkTokens('../nowhere/at all')))).toBe(true);
  });

  it('sorts directory entries by bytes, not by locale or creation order', async () => {
    const root = join(dir, 'root');
    mkdirSync(root);
    const names = ['b', 'B', 'a', '\u00e9', '_', 'Z', '10', '9', 'a b'];
    for (const name of names) writeFileSync(join(root, name), name);
    mkdirSync(join(root, 'sub'));
    mkdirSync(join(root, 'sub', 'empty'));
    symlinkSync('b', join(root, 'sub', 'to-b'));
    const byBytes = [...names, 'sub'].sort((left, right) => Buffer.compare(Buffer.from(left), Buffer.from(right)));
    expect(byBytes).not.toEqual([...names, 'sub'].sort((left, right) => left.localeCompare(right)));
    const expected = expectedNar(
      directoryTokens(
        byBytes.map((name): [Token, Token[]] => [
          name,
          name === 'sub' ? directoryTokens([['empty', directoryTokens([])], ['to-b', symlinkTokens('b')]]) : fileTokens(name),
        ]),
      ),
    );
    expect((await narOf(root)).equals(expected)).toBe(true);
  });

  it('keeps names that are not UTF-8 byte for byte', async () => {
    const root = join(dir, 'root');
    mkdirSync(root);
    const name = Buffer.from([0x66, 0xff, 0x80]);
    writeFileSync(Buffer.concat([Buffer.from(`${root}/`), name]), 'raw');
    expect((await narOf(root)).equals(expectedNar(directoryTokens([[name, fileTokens('raw')]])))).toBe(true);
  });

  it('yields full pieces of pieceBytes (only the last shorter) that concatenate to the same NAR', async () => {
    const root = join(dir, 'root');
    mkdirSync(root);
    const big = randomBytes(SYNC_READ_MAX_FILE_BYTES * 2 + 3);
    const small = randomBytes(SYNC_READ_MAX_FILE_BYTES - 1);
    writeFileSync(join(root, 'big'), big);
    writeFileSync(join(root, 'small'), small);
    mkdirSync(join(root, 'tiny'));
    for (let index = 0; index < 20; index++) writeFileSync(join(root, 'tiny', String(index).padStart(2, '0')), randomBytes(index));
    const checkPieces = async (path: string, pieceBytesList: (number | undefined)[]): Promise<Buffer> => {
      const expected = await narOf(path, { pieceBytes: MAX_NAR_PIECE_BYTES });
      for (const pieceBytes of pieceBytesList) {
        const pieces = await collectPieces(path, pieceBytes === undefined ? {} : { pieceBytes });
        const size = pieceBytes ?? DEFAULT_NAR_PIECE_BYTES;
        expect(pieces.slice(0, -1).every((piece) => piece.length === size)).toBe(true);
        expect(pieces.at(-1)!.length).toBeGreaterThan(0);
        expect(pieces.at(-1)!.length).toBeLessThanOrEqual(size);
        expect(Buffer.concat(pieces).equals(expected)).toBe(true);
      }
      return expected;
    };
    const whole = await checkPieces(root, [7, 8, 100, 4096, DEFAULT_NAR_PIECE_BYTES, undefined]);
    expect(whole.includes(big)).toBe(true);
    expect(whole.includes(small)).toBe(true);
    // One-byte pieces on the small files only: a large file would take one read per byte.
    await checkPieces(join(root, 'tiny'), [1, 3]);
  });

  it('lets the event loop run during a long archive even if the consumer never waits', async () => {
    const root = join(dir, 'many');
    mkdirSync(root);
    for (let index = 0; index < 3000; index++) writeFileSync(join(root, String(index)), 'x');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      await narOf(root);
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });
});

describe('narStream transform', () => {
  it('offers every regular file with its relative path and size, and rewrites only the chosen ones', async () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(root, 'a'), 'alpha');
    writeFileSync(join(root, 'sub', 'c'), 'gamma!');
    writeFileSync(join(root, 'sub', 'run'), 'exec', { mode: 0o755 });
    symlinkSync('a', join(root, 'link'));
    const offered: [string, number][] = [];
    const rewritten: string[] = [];
    const nar = await narOf(root, {
      transform: {
        shouldTransform: (relativePath, size) => {
          offered.push([relativePath, size]);
          return relativePath.startsWith('sub/');
        },
        transform: (relativePath, contents) => {
          rewritten.push(relativePath);
          return Buffer.concat([contents, Buffer.from(' v2')]);
        },
      },
    });
    expect(offered).toEqual([['a', 5], ['sub/c', 6], ['sub/run', 4]]);
    expect(rewritten).toEqual(['sub/c', 'sub/run']);
    const expected = expectedNar(
      directoryTokens([
        ['a', fileTokens('alpha')],
        ['link', symlinkTokens('a')],
        ['sub', directoryTokens([['c', fileTokens('gamma! v2')], ['run', fileTokens('exec v2', true)]])],
      ]),
    );
    expect(nar.equals(expected)).toBe(true);
  });

  it('gives a root file the relative path "" and leaves output unchanged when nothing is chosen', async () => {
    const path = join(dir, 'file');
    writeFileSync(path, 'same');
    const seen: string[] = [];
    const nar = await narOf(path, {
      transform: { shouldTransform: (relativePath) => (seen.push(relativePath), false), transform: () => Buffer.from('never') },
    });
    expect(seen).toEqual(['']);
    expect(nar.equals(await narOf(path))).toBe(true);
  });

  it('rejects a transform result that is not bytes', async () => {
    const path = join(dir, 'file');
    writeFileSync(path, 'x');
    const transform = { shouldTransform: () => true, transform: () => 'text' as unknown as Uint8Array };
    await expectRejection(narOf(path, { transform }), 'invalid_argument', /transform result/);
  });
});

describe('narStream errors', () => {
  it('rejects a FIFO with unsupported_file_type, also deep inside a tree', async () => {
    const root = join(dir, 'root');
    mkdirSync(join(root, 'deep'), { recursive: true });
    execFileSync('mkfifo', [join(root, 'deep', 'pipe')]);
    await expectRejection(narOf(join(root, 'deep', 'pipe')), 'unsupported_file_type', /deep\/pipe: it is a FIFO/);
    await expectRejection(narOf(root), 'unsupported_file_type', /a FIFO/);
  });

  it('rejects a socket with unsupported_file_type', async () => {
    const socketPath = join(dir, 'socket');
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      await expectRejection(narOf(socketPath), 'unsupported_file_type', /it is a socket/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('rejects a character device with unsupported_file_type', async () => {
    await expectRejection(narOf('/dev/null'), 'unsupported_file_type', /character device/);
  });

  it('reports file_changed when a file shrinks while it streams', async () => {
    const path = join(dir, 'shrinking');
    writeFileSync(path, randomBytes(SYNC_READ_MAX_FILE_BYTES * 4));
    const pieces = narStream(path, { pieceBytes: 4096 });
    expect((await pieces.next()).done).toBe(false);
    truncateSync(path, 10_000);
    const drain = async (): Promise<void> => {
      for await (const _piece of pieces) void _piece;
    };
    await expectRejection(drain(), 'file_changed', /shrank while being archived: expected 262144 bytes, found 1\d{4}/);
  });

  it('passes file system errors through with their code', async () => {
    await expect(narOf(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('rejects bad arguments with invalid_argument', async () => {
    const path = join(dir, 'file');
    writeFileSync(path, 'x');
    await expectRejection(narOf(''), 'invalid_argument', /path/);
    for (const pieceBytes of [0, -1, 1.5, MAX_NAR_PIECE_BYTES + 1]) {
      await expectRejection(narOf(path, { pieceBytes }), 'invalid_argument', /pieceBytes/);
    }
    const incomplete = { shouldTransform: () => true } as unknown as NarWriteOptions['transform'];
    await expectRejection(narOf(path, { transform: incomplete }), 'invalid_argument', /transform/);
  });
});

describe('writeNar', () => {
  it('writes the NAR to the destination, returns its size and leaves no temporary file', async () => {
    const root = join(dir, 'root');
    mkdirSync(root);
    writeFileSync(join(root, 'big'), randomBytes(SYNC_READ_MAX_FILE_BYTES * 3));
    writeFileSync(join(root, 'small'), 'small');
    const out = join(dir, 'out');
    mkdirSync(out);
    const destination = join(out, 'root.nar');
    writeFileSync(destination, 'an older version to be replaced');
    const size = await writeNar(root, destination);
    const expected = await narOf(root);
    expect(size).toBe(expected.length);
    expect(readFileSync(destination).equals(expected)).toBe(true);
    expect(readdirSync(out)).toEqual(['root.nar']);
  });

  it('creates nothing and cleans up when archiving fails', async () => {
    const root = join(dir, 'root');
    mkdirSync(root);
    writeFileSync(join(root, 'a'), randomBytes(SYNC_READ_MAX_FILE_BYTES * 3));
    execFileSync('mkfifo', [join(root, 'z-fifo')]);
    const out = join(dir, 'out');
    mkdirSync(out);
    await expectRejection(writeNar(root, join(out, 'root.nar')), 'unsupported_file_type');
    expect(readdirSync(out)).toEqual([]);
    expect(existsSync(join(out, 'root.nar'))).toBe(false);
  });

  it('rejects an empty destination', async () => {
    await expectRejection(writeNar(dir, ''), 'invalid_argument', /destination/);
  });
});
