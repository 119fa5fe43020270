/** Lists the entries of a NAR file on disk (for `nar ls`), validating it on the way. */
import { createReadStream } from 'node:fs';
import { invalidParameter } from '../errors.js';
import type { NarEntry } from './nar-format.js';
import { readNarEntries } from './nar-reader.js';

/** Read size for NAR files; contents are skipped, so larger reads only cost memory. */
const LISTING_READ_BYTES = 1024 * 1024;

/**
 * Returns every entry of the NAR at `file`, in archive order (parents before children,
 * siblings by name). Throws ChunkerError 'invalid_nar' if the file is not a valid NAR.
 */
export async function listNar(file: string): Promise<NarEntry[]> {
  if (typeof file !== 'string' || file === '') throw invalidParameter('file', 'a non-empty path string', file);
  const entries: NarEntry[] = [];
  for await (const entry of readNarEntries(createReadStream(file, { highWaterMark: LISTING_READ_BYTES }))) {
    entries.push(entry);
  }
  return entries;
}
