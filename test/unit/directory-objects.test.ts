/**
 * The upload order of a directory walk (port/transfer/directory-objects.ts): objects are
 * spread round-robin over their directories, so concurrent puts land in different
 * directories, while every directory's objects keep their sorted order.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { listDirectoryObjects, spreadOverDirectories } from '../../port/transfer/directory-objects.js';

const work = mkdtempSync(join(tmpdir(), 'chunker-directory-objects-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const named = (names: readonly string[]) => names.map((name) => ({ name }));
const namesOf = (objects: readonly { name: string }[]) => objects.map((object) => object.name);
const directoryOf = (name: string) => (name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '');

describe('spreadOverDirectories', () => {
  it('takes one object from each directory in turn, in the order directories first appear', () => {
    const spread = spreadOverDirectories(named(['a/1', 'a/2', 'a/3', 'b/1', 'c/1', 'c/2', 'top']));
    expect(namesOf(spread)).toEqual(['a/1', 'b/1', 'c/1', 'top', 'a/2', 'c/2', 'a/3']);
  });

  it('leaves a single directory, and an empty list, as they are', () => {
    expect(namesOf(spreadOverDirectories(named(['x/3', 'x/1', 'x/2'])))).toEqual(['x/3', 'x/1', 'x/2']);
    expect(spreadOverDirectories([])).toEqual([]);
  });

  it('is a permutation that keeps each directory in order and starts with every directory once', () => {
    const name = fc.tuple(fc.constantFrom('', 'd0', 'd1', 'd1/e', 'd2'), fc.string({ minLength: 1, maxLength: 4 })).map(([dir, file]) => (dir === '' ? file : `${dir}/${file}`));
    fc.assert(
      fc.property(fc.uniqueArray(name.filter((value) => !value.endsWith('/') && !value.includes('//')), { maxLength: 60 }), (names) => {
        const spread = namesOf(spreadOverDirectories(named(names)));
        expect([...spread].sort()).toEqual([...names].sort());
        const directories = [...new Set(names.map(directoryOf))];
        for (const directory of directories) {
          expect(spread.filter((entry) => directoryOf(entry) === directory)).toEqual(names.filter((entry) => directoryOf(entry) === directory));
        }
        expect(new Set(spread.slice(0, directories.length).map(directoryOf)).size).toBe(directories.length);
      }),
    );
  });
});

describe('listDirectoryObjects', () => {
  it('returns a chunk tree spread over its directories, each sorted by name', async () => {
    const root = join(work, 'tree');
    for (const [directory, files] of [
      ['chunks/aa', ['1', '2', '3']],
      ['chunks/bb', ['1', '2']],
      ['nar', ['x']],
    ] as const) {
      mkdirSync(join(root, directory), { recursive: true });
      for (const file of files) writeFileSync(join(root, directory, file), file);
    }
    const { objects, ignored } = await listDirectoryObjects(root);
    expect(ignored).toEqual([]);
    expect(namesOf(objects)).toEqual(['chunks/aa/1', 'chunks/bb/1', 'nar/x', 'chunks/aa/2', 'chunks/bb/2', 'chunks/aa/3']);
    expect(objects.every((object) => object.size === 1)).toBe(true);
  });

  it('leaves out excluded directories, reports links as ignored, and rejects a name no store takes', async () => {
    const root = join(work, 'mixed');
    mkdirSync(join(root, 'state', 'deep'), { recursive: true });
    mkdirSync(join(root, 'data'));
    writeFileSync(join(root, 'data', 'kept'), 'abc');
    writeFileSync(join(root, 'state', 'deep', 'journal'), 'x');
    symlinkSync(join(root, 'data', 'kept'), join(root, 'data', 'link'));
    const { objects, ignored } = await listDirectoryObjects(root, { exclude: [join(root, 'state')] });
    expect(objects.map((object) => [object.name, object.size])).toEqual([['data/kept', 3]]);
    expect(ignored).toEqual(['data/link']);
    writeFileSync(join(root, 'data', 'bad\\name'), '');
    await expect(listDirectoryObjects(root)).rejects.toThrow(/bad\\\\name.*rename the file/);
  });
});

