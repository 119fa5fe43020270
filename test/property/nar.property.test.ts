import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChunkerError } from '../../port/errors.js';
import { encodeNarStrings, type NarEntry } from '../../port/engine/nar-format.js';
import { NarReader } from '../../port/engine/nar-reader.js';
import { SYNC_READ_MAX_FILE_BYTES, narStream } from '../../port/engine/nar-writer.js';

type Model =
  | { kind: 'file'; contents: Uint8Array; executable: boolean }
  | { kind: 'symlink'; target: string }
  | { kind: 'directory'; entries: [string, Model][] };

// Characters chosen so byte order and locale order disagree, with multi-byte UTF-8 too.
const NAME_CHARACTERS = ['a', 'b', 'B', 'Z', '_', '-', '.', '~', ' ', '0', '9', '\u00e9', '\u00c9', '\u65e5', '\ud83d\ude00'];

const nameArbitrary = fc
  .string({ unit: fc.constantFrom(...NAME_CHARACTERS), minLength: 1, maxLength: 6 })
  .filter((name) => name !== '.' && name !== '..');

const targetArbitrary = fc.string({ unit: fc.constantFrom(...NAME_CHARACTERS, '/'), minLength: 1, maxLength: 12 });

/** Deterministic filler so large files do not make fast-check shrink megabytes of bytes. */
function patternBytes(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  let state = seed | 1;
  for (let index = 0; index < size; index++) {
    state = (Math.imul(state, 1103515245) + 12345) | 0;
    bytes[index] = state >>> 24;
  }
  return bytes;
}

const contentsArbitrary = fc.oneof(
  { weight: 12, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: SYNC_READ_MAX_FILE_BYTES - 8, max: SYNC_READ_MAX_FILE_BYTES * 3 }), fc.integer())
      .map(([size, seed]) => patternBytes(size, seed)),
  },
);

const modelArbitrary: fc.Arbitrary<Model> = fc.letrec<{ root: Model; node: Model; directory: Model }>((tie) => ({
  // Mostly directory roots, so trees have some depth; single-node roots stay possible.
  root: fc.oneof({ weight: 4, arbitrary: tie('directory') }, { weight: 1, arbitrary: tie('node') }),
  node: fc.oneof(
    { depthSize: 'medium', maxDepth: 6, withCrossShrink: true },
    fc.record({ kind: fc.constant('file' as const), contents: contentsArbitrary, executable: fc.boolean() }),
    fc.record({ kind: fc.constant('symlink' as const), target: targetArbitrary }),
    tie('directory'),
  ),
  directory: fc.record({
    kind: fc.constant('directory' as const),
    entries: fc.uniqueArray(fc.tuple(nameArbitrary, tie('node')), { selector: ([name]) => name, maxLength: 6 }),
  }),
})).root;

function byNameBytes([left]: [string, Model], [right]: [string, Model]): number {
  return Buffer.compare(Buffer.from(left), Buffer.from(right));
}

function modelTokens(model: Model): (string | Uint8Array)[] {
  switch (model.kind) {
    case 'file':
      return ['(', 'type', 'regular', ...(model.executable ? ['executable', ''] : []), 'contents', model.contents, ')'];
    case 'symlink':
      return ['(', 'type', 'symlink', 'target', model.target, ')'];
    case 'directory':
      return [
        '(', 'type', 'directory',
        ...[...model.entries].sort(byNameBytes).flatMap(([name, child]) => ['entry', '(', 'name', name, 'node', ...modelTokens(child), ')']),
        ')',
      ];
  }
}

function modelNar(model: Model): Buffer {
  return encodeNarStrings('nix-archive-1', ...modelTokens(model));
}

/** The entries a reader must report, with file contents to check offsets against. */
function modelListing(model: Model, path = ''): (NarEntry & { contents?: Uint8Array })[] {
  switch (model.kind) {
    case 'file':
      return [{ path, type: model.executable ? 'executable' : 'regular', size: model.contents.length, contents: model.contents }];
    case 'symlink':
      return [{ path, type: 'symlink', target: model.target }];
    case 'directory':
      return [
        { path, type: 'directory' },
        ...[...model.entries].sort(byNameBytes).flatMap(([name, child]) => modelListing(child, path === '' ? name : `${path}/${name}`)),
      ];
  }
}

function expectListingMatches(nar: Uint8Array, entries: NarEntry[], model: Model): void {
  const expected = modelListing(model);
  expect(entries.map(({ contentOffset: _offset, ...rest }) => rest)).toEqual(expected.map(({ contents: _contents, ...rest }) => rest));
  entries.forEach((entry, index) => {
    const contents = expected[index]!.contents;
    if (contents === undefined) return;
    expect(Buffer.from(nar.subarray(entry.contentOffset!, entry.contentOffset! + entry.size!)).equals(contents)).toBe(true);
  });
}

function readWhole(nar: Uint8Array): NarEntry[] {
  const reader = new NarReader();
  return [...reader.push(nar), ...reader.end()];
}

function readSplit(nar: Uint8Array, cuts: number[]): NarEntry[] {
  const positions = [...new Set(cuts.map((cut) => cut % (nar.length + 1)))].sort((a, b) => a - b);
  const reader = new NarReader();
  const entries: NarEntry[] = [];
  let previous = 0;
  for (const position of [...positions, nar.length]) {
    entries.push(...reader.push(nar.subarray(previous, position)));
    previous = position;
  }
  entries.push(...reader.end());
  return entries;
}

function materialize(model: Model, path: string): void {
  switch (model.kind) {
    case 'file':
      writeFileSync(path, model.contents);
      chmodSync(path, model.executable ? 0o755 : 0o644);
      return;
    case 'symlink':
      symlinkSync(model.target, path);
      return;
    case 'directory':
      mkdirSync(path);
      for (const [name, child] of model.entries) materialize(child, join(path, name));
  }
}

/** Feeds bytes to a fresh reader; anything thrown must be a ChunkerError 'invalid_nar'. */
function readExpectingOnlyNarErrors(nar: Uint8Array, cuts: number[]): void {
  try {
    readSplit(nar, cuts);
  } catch (error) {
    if (!(error instanceof ChunkerError) || error.code !== 'invalid_nar') throw error;
    expect(error.message).toMatch(/^Invalid NAR at byte offset \d+: /);
  }
}

let workDir = '';
beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'chunker-nar-property-'));
});
afterAll(() => {
  rmSync(workDir, { recursive: true, force: true });
});

describe('NAR properties', () => {
  it('reading an encoded tree lists exactly its entries, offsets pointing at the contents', () => {
    fc.assert(
      fc.property(modelArbitrary, (model) => {
        const nar = modelNar(model);
        expectListingMatches(nar, readWhole(nar), model);
      }),
      { numRuns: 300 },
    );
  });

  it('a NAR split at random points reads identically', () => {
    fc.assert(
      fc.property(modelArbitrary, fc.array(fc.nat(), { maxLength: 40 }), (model, cuts) => {
        const nar = modelNar(model);
        expect(readSplit(nar, cuts)).toEqual(readWhole(nar));
      }),
      { numRuns: 300 },
    );
  });

  it('random trees written to disk archive to the expected NAR and read back to the same listing', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(modelArbitrary, fc.constantFrom(64, 4096, 65536, undefined), async (model, pieceBytes) => {
        const root = join(workDir, `tree-${run++}`);
        materialize(model, root);
        try {
          const pieces: Buffer[] = [];
          for await (const piece of narStream(root, pieceBytes === undefined ? {} : { pieceBytes })) pieces.push(piece);
          const nar = Buffer.concat(pieces);
          expect(nar.equals(modelNar(model))).toBe(true);
          expectListingMatches(nar, readWhole(nar), model);
        } finally {
          rmSync(root, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  });

  it('random bytes never make the reader throw anything but ChunkerError', () => {
    const magic = encodeNarStrings('nix-archive-1');
    fc.assert(
      fc.property(fc.boolean(), fc.uint8Array({ maxLength: 300 }), fc.array(fc.nat(), { maxLength: 5 }), (withMagic, bytes, cuts) => {
        readExpectingOnlyNarErrors(withMagic ? Buffer.concat([magic, bytes]) : bytes, cuts);
      }),
      { numRuns: 1000 },
    );
  });

  it('mutated and truncated NARs never make the reader throw anything but ChunkerError', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 16 }) }),
      fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
      fc.record({ kind: fc.constant('length' as const), at: fc.nat(), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
    );
    fc.assert(
      fc.property(modelArbitrary, fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 6 }), (model, mutations, cuts) => {
        let nar = modelNar(model);
        for (const change of mutations) {
          const at = change.at % (nar.length + 1);
          if (change.kind === 'set' && at < nar.length) {
            nar = Buffer.from(nar);
            nar[at] = change.value;
          } else if (change.kind === 'truncate') {
            nar = nar.subarray(0, at);
          } else if (change.kind === 'delete') {
            nar = Buffer.concat([nar.subarray(0, at), nar.subarray(at + change.count)]);
          } else if (change.kind === 'insert') {
            nar = Buffer.concat([nar.subarray(0, at), change.bytes, nar.subarray(at)]);
          } else if (change.kind === 'length') {
            // Overwrite an aligned 8-byte word (where lengths live) with an arbitrary u64.
            const word = at - (at % 8);
            if (word + 8 <= nar.length) {
              nar = Buffer.from(nar);
              nar.writeBigUInt64LE(change.value, word);
            }
          }
        }
        readExpectingOnlyNarErrors(nar, cuts);
      }),
      { numRuns: 1000 },
    );
  });
});
