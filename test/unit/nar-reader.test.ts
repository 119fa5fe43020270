import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkerError } from '../../port/errors.js';
import {
  MAX_NAR_NAME_BYTES,
  MAX_NAR_PATH_BYTES,
  MAX_NAR_SYMLINK_TARGET_BYTES,
  encodeNarStrings,
  type NarEntry,
} from '../../port/engine/nar-format.js';
import { NarReader, readNarEntries } from '../../port/engine/nar-reader.js';
import { listNar } from '../../port/engine/nar-listing.js';
import { chunkerErrorOf } from '../support/chunker-error.js';

type Token = string | Uint8Array;
type TestNode =
  | { type: 'file'; contents: Uint8Array | string; executable?: boolean }
  | { type: 'symlink'; target: Token }
  | { type: 'directory'; entries: [Token, TestNode][] };

/** The token sequence of a node, entries in the order given (so tests can misorder them). */
function nodeTokens(node: TestNode): Token[] {
  switch (node.type) {
    case 'file': {
      const contents = typeof node.contents === 'string' ? Buffer.from(node.contents) : node.contents;
      return ['(', 'type', 'regular', ...(node.executable ? ['executable', ''] : []), 'contents', contents, ')'];
    }
    case 'symlink':
      return ['(', 'type', 'symlink', 'target', node.target, ')'];
    case 'directory':
      return [
        '(', 'type', 'directory',
        ...node.entries.flatMap(([name, child]) => ['entry', '(', 'name', name, 'node', ...nodeTokens(child), ')']),
        ')',
      ];
  }
}

function narTokens(node: TestNode): Token[] {
  return ['nix-archive-1', ...nodeTokens(node)];
}

/** Byte offset at which token `index` of `tokens` starts. */
function offsetOfToken(tokens: Token[], index: number): number {
  return encodeNarStrings(...tokens.slice(0, index)).length;
}

function readAll(nar: Uint8Array): NarEntry[] {
  const reader = new NarReader();
  return [...reader.push(nar), ...reader.end()];
}

function expectInvalidNar(action: () => unknown, messagePart: RegExp | string, offset?: number): ChunkerError {
  const error = chunkerErrorOf(action);
  expect(error.code).toBe('invalid_nar');
  expect(error.message).toMatch(messagePart);
  if (offset !== undefined) expect(error.message).toContain(`at byte offset ${offset}:`);
  return error;
}

const sampleTree: TestNode = {
  type: 'directory',
  entries: [
    ['bin', { type: 'directory', entries: [['tool', { type: 'file', contents: 'ELF!!', executable: true }]] }],
    ['empty', { type: 'file', contents: '' }],
    ['empty-dir', { type: 'directory', entries: [] }],
    ['link', { type: 'symlink', target: 'bin/tool' }],
    ['share', { type: 'directory', entries: [['doc', { type: 'file', contents: 'twelve bytes' }]] }],
  ],
};
const sampleNar = encodeNarStrings(...narTokens(sampleTree));

describe('NarReader on valid NARs', () => {
  it('reads a single regular file with its size and contents offset', () => {
    const tokens = narTokens({ type: 'file', contents: 'hello' });
    const nar = encodeNarStrings(...tokens);
    const entries = readAll(nar);
    const contentsIndex = tokens.indexOf('contents') + 1;
    expect(entries).toEqual([{ path: '', type: 'regular', size: 5, contentOffset: offsetOfToken(tokens, contentsIndex) + 8 }]);
    expect(Buffer.from(nar.subarray(entries[0]!.contentOffset!, entries[0]!.contentOffset! + 5)).toString()).toBe('hello');
  });

  it('reads executables, empty files and symlinks as the root', () => {
    expect(readAll(encodeNarStrings(...narTokens({ type: 'file', contents: 'x', executable: true })))).toMatchObject([
      { path: '', type: 'executable', size: 1 },
    ]);
    const empty = encodeNarStrings(...narTokens({ type: 'file', contents: '' }));
    expect(readAll(empty)).toEqual([{ path: '', type: 'regular', size: 0, contentOffset: empty.length - 16 }]);
    expect(readAll(encodeNarStrings(...narTokens({ type: 'symlink', target: '/nix/store/x' })))).toEqual([
      { path: '', type: 'symlink', target: '/nix/store/x' },
    ]);
  });

  it('lists a directory tree parents first, with paths joined by "/"', () => {
    const entries = readAll(sampleNar);
    expect(entries.map(({ path, type }) => `${type} ${path}`)).toEqual([
      'directory ',
      'directory bin',
      'executable bin/tool',
      'regular empty',
      'directory empty-dir',
      'symlink link',
      'directory share',
      'regular share/doc',
    ]);
    const doc = entries.find((entry) => entry.path === 'share/doc')!;
    expect(sampleNar.subarray(doc.contentOffset!, doc.contentOffset! + doc.size!).toString()).toBe('twelve bytes');
    expect(entries.find((entry) => entry.path === 'link')!.target).toBe('bin/tool');
  });

  it('reads identically however the input is split', () => {
    const whole = readAll(sampleNar);
    for (let split = 0; split <= sampleNar.length; split++) {
      const reader = new NarReader();
      const entries = [...reader.push(sampleNar.subarray(0, split)), ...reader.push(sampleNar.subarray(split)), ...reader.end()];
      expect(entries).toEqual(whole);
    }
    const byteByByte = new NarReader();
    const entries: NarEntry[] = [];
    for (let index = 0; index < sampleNar.length; index++) entries.push(...byteByByte.push(sampleNar.subarray(index, index + 1)));
    entries.push(...byteByByte.end());
    expect(entries).toEqual(whole);
  });

  it('emits a file entry as soon as its size is read, before its contents arrive', () => {
    const tokens = narTokens({ type: 'file', contents: Buffer.alloc(1000, 7) });
    const nar = encodeNarStrings(...tokens);
    const headerEnd = offsetOfToken(tokens, tokens.indexOf('contents') + 1) + 8;
    const reader = new NarReader();
    expect(reader.push(nar.subarray(0, headerEnd))).toEqual([{ path: '', type: 'regular', size: 1000, contentOffset: headerEnd }]);
    expect(reader.push(nar.subarray(headerEnd))).toEqual([]);
    expect(reader.end()).toEqual([]);
  });

  it('reports progress through bytesRead and done', () => {
    const reader = new NarReader();
    expect(reader.done).toBe(false);
    reader.push(sampleNar.subarray(0, 30));
    expect(reader.bytesRead).toBe(30);
    expect(reader.done).toBe(false);
    reader.push(sampleNar.subarray(30));
    expect(reader.bytesRead).toBe(sampleNar.length);
    expect(reader.done).toBe(true);
  });

  it('accepts names and targets up to the limits, and any bytes in names except "/" and NUL', () => {
    const longName = 'n'.repeat(MAX_NAR_NAME_BYTES);
    const longTarget = 't'.repeat(MAX_NAR_SYMLINK_TARGET_BYTES);
    const oddName = Buffer.from([0xff, 0x01, 0x2e, 0x2e, 0x20]);
    const nar = encodeNarStrings(
      ...narTokens({
        type: 'directory',
        entries: [
          [longName, { type: 'symlink', target: longTarget }],
          [oddName, { type: 'file', contents: '' }],
        ],
      }),
    );
    const entries = readAll(nar);
    expect(entries[1]).toEqual({ path: longName, type: 'symlink', target: longTarget });
    expect(entries[2]!.path).toBe(oddName.toString('utf8'));
  });

  it('accepts a file size of 2^53 - 1 (then reports the missing contents)', () => {
    const nar = encodeNarStrings('nix-archive-1', '(', 'type', 'regular', 'contents');
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(2n ** 53n - 1n);
    const reader = new NarReader();
    expect(reader.push(Buffer.concat([nar, size]))).toEqual([
      { path: '', type: 'regular', size: Number.MAX_SAFE_INTEGER, contentOffset: nar.length + 8 },
    ]);
    expectInvalidNar(() => reader.end(), /truncated: input ended while expecting 9007199254740991 more bytes of file contents/);
  });
});

describe('readNarEntries', () => {
  it('yields the same entries from an async source of pieces', async () => {
    async function* pieces(): AsyncGenerator<Uint8Array> {
      for (let offset = 0; offset < sampleNar.length; offset += 13) yield sampleNar.subarray(offset, offset + 13);
    }
    const entries: NarEntry[] = [];
    for await (const entry of readNarEntries(pieces())) entries.push(entry);
    expect(entries).toEqual(readAll(sampleNar));
  });

  it('rejects a truncated source with ChunkerError', async () => {
    async function* truncated(): AsyncGenerator<Uint8Array> {
      yield sampleNar.subarray(0, sampleNar.length - 8);
    }
    const consume = async (): Promise<void> => {
      for await (const _entry of readNarEntries(truncated())) void _entry;
    };
    await expect(consume()).rejects.toMatchObject({ code: 'invalid_nar', message: expect.stringMatching(/truncated/) });
  });
});

describe('listNar', () => {
  it('lists a NAR file, and rejects a file that is not a valid NAR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chunker-nar-listing-'));
    try {
      const good = join(dir, 'good.nar');
      writeFileSync(good, sampleNar);
      expect(await listNar(good)).toEqual(readAll(sampleNar));
      const bad = join(dir, 'bad.nar');
      writeFileSync(bad, sampleNar.subarray(0, sampleNar.length - 1));
      await expect(listNar(bad)).rejects.toMatchObject({ code: 'invalid_nar' });
      await expect(listNar('')).rejects.toMatchObject({ code: 'invalid_argument' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('NarReader rejects malformed NARs', () => {
  it('rejects a wrong magic string, a wrong magic length and non-NAR bytes at offset 0', () => {
    expectInvalidNar(() => readAll(encodeNarStrings('nix-archive-2', '(')), /bad magic/, 0);
    expectInvalidNar(() => readAll(encodeNarStrings('nix')), /bad magic/, 0);
    expectInvalidNar(() => readAll(Buffer.from('\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03')), /bad magic/, 0);
    expectInvalidNar(() => readAll(Buffer.from('{"not": "a nar"}')), /bad magic/, 0);
  });

  it('rejects unknown tokens where a known one must be, naming what was expected', () => {
    const cases: [Token[], number, RegExp][] = [
      [['nix-archive-1', '(', 'type', 'fifo', ')'], 3, /expected "regular" or "symlink" or "directory" but found "fifo"/],
      [['nix-archive-1', '(', 'kind'], 2, /expected "type" but found "kind"/],
      [['nix-archive-1', '[', 'type'], 1, /expected "\(" but found "\["/],
      [['nix-archive-1', '(', 'type', 'regular', 'contentz', ''], 4, /expected "executable" or "contents"/],
      [['nix-archive-1', '(', 'type', 'regular', 'executable', '', 'executable'], 6, /expected "contents"/],
      [['nix-archive-1', '(', 'type', 'symlink', 'link', 'x'], 4, /expected "target"/],
      [['nix-archive-1', '(', 'type', 'symlink', 'target', 'x', 'extra'], 6, /expected "\)"/],
      [['nix-archive-1', '(', 'type', 'directory', 'entries'], 4, /expected "entry" or "\)"/],
      [['nix-archive-1', '(', 'type', 'directory', 'entry', '(', 'nom'], 6, /expected "name"/],
      [['nix-archive-1', '(', 'type', 'directory', 'entry', '(', 'name', 'a', 'nod'], 8, /expected "node"/],
    ];
    for (const [tokens, badIndex, message] of cases) {
      expectInvalidNar(() => readAll(encodeNarStrings(...tokens)), message, offsetOfToken(tokens, badIndex));
    }
  });

  it('rejects a token that is longer than any token allowed there, before buffering it', () => {
    const tokens: Token[] = ['nix-archive-1', '(', 'type', 'x'.repeat(100)];
    const nar = encodeNarStrings(...tokens);
    const offset = offsetOfToken(tokens, 3);
    // Only the length prefix is pushed: the error must not wait for the body.
    expectInvalidNar(() => new NarReader().push(nar.subarray(0, offset + 8)), /found a string of 100 bytes/, offset);
  });

  it('rejects a non-empty value after "executable"', () => {
    const tokens: Token[] = ['nix-archive-1', '(', 'type', 'regular', 'executable', '1', 'contents', 'x', ')'];
    expectInvalidNar(() => readAll(encodeNarStrings(...tokens)), /expected "" but found a string of 1 bytes/, offsetOfToken(tokens, 5));
  });

  it('rejects non-zero padding after a string and after file contents, at the exact byte', () => {
    const tokens = narTokens({ type: 'file', contents: 'abc' });
    const nar = encodeNarStrings(...tokens);
    const openPadding = offsetOfToken(tokens, 1) + 8 + 1 + 3; // "(" is 1 byte, then 7 padding bytes
    const corruptToken = Buffer.from(nar);
    corruptToken[openPadding] = 0x20;
    expectInvalidNar(() => readAll(corruptToken), /non-zero padding byte 0x20/, openPadding);

    const contentsPadding = offsetOfToken(tokens, tokens.length - 1) - 1;
    const corruptContents = Buffer.from(nar);
    corruptContents[contentsPadding] = 0xff;
    expectInvalidNar(() => readAll(corruptContents), /non-zero padding byte 0xff/, contentsPadding);
  });

  it('rejects unsorted and duplicate directory entries', () => {
    const file: TestNode = { type: 'file', contents: '' };
    const unsorted = narTokens({ type: 'directory', entries: [['b', file], ['a', file]] });
    expectInvalidNar(() => readAll(encodeNarStrings(...unsorted)), /"a" .* is not sorted after "b"/, offsetOfToken(unsorted, unsorted.lastIndexOf('a')));
    const duplicate = narTokens({ type: 'directory', entries: [['a', file], ['a', file]] });
    expectInvalidNar(() => readAll(encodeNarStrings(...duplicate)), /duplicate entry name "a"/, offsetOfToken(duplicate, duplicate.lastIndexOf('a')));
    // Byte order, not locale order: "B" (0x42) sorts before "a" (0x61), and "é" after "z".
    expect(() => readAll(encodeNarStrings(...narTokens({ type: 'directory', entries: [['B', file], ['a', file], ['z', file], ['\u00e9', file]] }))))
      .not.toThrow();
    expectInvalidNar(() => readAll(encodeNarStrings(...narTokens({ type: 'directory', entries: [['a', file], ['B', file]] }))), /not sorted/);
  });

  it('rejects names that are empty, "." or "..", or contain "/" or NUL', () => {
    const file: TestNode = { type: 'file', contents: '' };
    const cases: [Token, RegExp][] = [
      ['', /is empty/],
      ['.', /is "\."/],
      ['..', /is "\.\."/],
      ['a/b', /contains "\/"/],
      ['/', /contains "\/"/],
      [Buffer.from([0x61, 0x00, 0x62]), /contains a NUL byte/],
    ];
    for (const [name, message] of cases) {
      const tokens = narTokens({ type: 'directory', entries: [[name, file]] });
      expectInvalidNar(() => readAll(encodeNarStrings(...tokens)), message, offsetOfToken(tokens, 7));
    }
  });

  it('rejects names and symlink targets over their limits from the length alone', () => {
    const nameTokens: Token[] = ['nix-archive-1', '(', 'type', 'directory', 'entry', '(', 'name'];
    const nameLength = Buffer.alloc(8);
    nameLength.writeBigUInt64LE(BigInt(MAX_NAR_NAME_BYTES + 1));
    expectInvalidNar(
      () => new NarReader().push(Buffer.concat([encodeNarStrings(...nameTokens), nameLength])),
      `entry name of ${MAX_NAR_NAME_BYTES + 1} bytes exceeds the limit of ${MAX_NAR_NAME_BYTES} bytes`,
      offsetOfToken(nameTokens, nameTokens.length),
    );

    const targetTokens: Token[] = ['nix-archive-1', '(', 'type', 'symlink', 'target'];
    const targetLength = Buffer.alloc(8);
    targetLength.writeBigUInt64LE(2n ** 64n - 1n);
    expectInvalidNar(
      () => new NarReader().push(Buffer.concat([encodeNarStrings(...targetTokens), targetLength])),
      `symlink target of ${2n ** 64n - 1n} bytes exceeds the limit`,
      offsetOfToken(targetTokens, targetTokens.length),
    );
  });

  it('rejects absurd token lengths and file sizes over 2^53 - 1', () => {
    const tokens: Token[] = ['nix-archive-1', '('];
    const hugeLength = Buffer.alloc(8);
    hugeLength.writeBigUInt64LE(2n ** 63n);
    expectInvalidNar(
      () => new NarReader().push(Buffer.concat([encodeNarStrings(...tokens), hugeLength])),
      `expected "type" but found a string of ${2n ** 63n} bytes`,
      offsetOfToken(tokens, 2),
    );

    const fileTokens: Token[] = ['nix-archive-1', '(', 'type', 'regular', 'contents'];
    for (const size of [2n ** 53n, 2n ** 64n - 1n]) {
      const sizeBytes = Buffer.alloc(8);
      sizeBytes.writeBigUInt64LE(size);
      expectInvalidNar(
        () => new NarReader().push(Buffer.concat([encodeNarStrings(...fileTokens), sizeBytes])),
        `file size ${size} exceeds the limit of ${Number.MAX_SAFE_INTEGER} bytes`,
        offsetOfToken(fileTokens, fileTokens.length),
      );
    }
  });

  it('rejects paths longer than MAX_NAR_PATH_BYTES', () => {
    const segment = 'd'.repeat(1500);
    let node: TestNode = { type: 'file', contents: '' };
    for (let depth = 0; depth < 3; depth++) node = { type: 'directory', entries: [[segment, node]] };
    expect(3 * segment.length + 2).toBeGreaterThan(MAX_NAR_PATH_BYTES);
    expectInvalidNar(() => readAll(encodeNarStrings(...narTokens(node))), `path of ${3 * 1500 + 2} bytes exceeds the limit of ${MAX_NAR_PATH_BYTES} bytes`);
  });

  it('rejects a symlink target containing NUL', () => {
    const tokens = narTokens({ type: 'symlink', target: Buffer.from('a\0b') });
    expectInvalidNar(() => readAll(encodeNarStrings(...tokens)), /symlink target contains a NUL byte/, offsetOfToken(tokens, 5));
  });

  it('rejects every truncation of a valid NAR at end()', () => {
    for (let length = 0; length < sampleNar.length; length++) {
      const reader = new NarReader();
      reader.push(sampleNar.subarray(0, length));
      expectInvalidNar(() => reader.end(), /truncated: input ended while expecting/, length);
    }
  });

  it('rejects trailing data after the root node, in the same push or a later one', () => {
    const withGarbage = Buffer.concat([sampleNar, Buffer.alloc(8)]);
    expectInvalidNar(() => readAll(withGarbage), /8 bytes of trailing data after the end of the NAR/, sampleNar.length);
    const reader = new NarReader();
    reader.push(sampleNar);
    expectInvalidNar(() => reader.push(Buffer.from([0])), /trailing data/, sampleNar.length);
  });

  it('stays failed after an error', () => {
    const reader = new NarReader();
    const first = expectInvalidNar(() => reader.push(encodeNarStrings('nix-archive-0')), /bad magic/);
    expect(chunkerErrorOf(() => reader.push(sampleNar))).toBe(first);
    expect(chunkerErrorOf(() => reader.end())).toBe(first);
  });
});
