/**
 * The objects of a directory tree, for `chunker sync`: every regular file under the root,
 * named by its path relative to the root with '/' separators, opened only when its
 * upload starts. Like `rclone copy`, symbolic links and special files are not followed or
 * sent; they are reported back as ignored.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { ChunkerError } from '../errors.js';
import { checkObjectName } from '../store/object-name.js';
import { openFileSource } from '../store/object-source.js';
import { forEachConcurrently } from './pool.js';
import type { UploadObject } from './upload.js';

export interface DirectoryObjects {
  /** Sorted by name. */
  readonly objects: UploadObject[];
  /** Relative paths of entries that are neither regular files nor directories. */
  readonly ignored: string[];
}

export interface DirectoryWalkOptions {
  /** Absolute paths left out with everything under them (e.g. a state dir inside the root). */
  readonly exclude?: readonly string[];
}

/**
 * Sizes looked up at once. One at a time, each lstat waits for a round trip to libuv's
 * thread pool: about a tenth of a second per few thousand files before any upload starts.
 */
const STAT_CONCURRENCY = 32;

/** Walks `root`; fails with `invalid_argument` for a path that is not a valid object name. */
export async function listDirectoryObjects(root: string, options: DirectoryWalkOptions = {}): Promise<DirectoryObjects> {
  const base = resolve(root);
  const excluded = new Set((options.exclude ?? []).map((path) => resolve(path)));
  const files: { name: string; path: string }[] = [];
  const ignored: string[] = [];
  const walk = async (directory: string): Promise<void> => {
    for (const entry of await readdir(directory, { withFileTypes: true })) {
      const path = join(directory, entry.name);
      if (excluded.has(path)) continue;
      const name = relative(base, path).split(sep).join('/');
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) {
        try {
          checkObjectName(name, `object name for ${path}`);
        } catch (error) {
          throw new ChunkerError('invalid_argument', `${(error as Error).message}; rename the file or leave it out of the directory`);
        }
        files.push({ name, path });
      } else ignored.push(name);
    }
  };
  await walk(base);
  const objects: UploadObject[] = new Array<UploadObject>(files.length);
  await forEachConcurrently(files, STAT_CONCURRENCY, async ({ name, path }, index) => {
    const { size } = await lstat(path);
    objects[index] = { name, size, source: () => openFileSource(path) };
  });
  objects.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { objects, ignored };
}
