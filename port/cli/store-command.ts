/** `chunker store ls|cat|put|rm URL …`: one store operation from the command line. */
import { ChunkerError } from '../errors.js';
import type { StoreBackend } from '../store/backend.js';
import { bytesSource, openFileSource, type FileSource } from '../store/object-source.js';
import { openStore } from '../store/open-store.js';
import { withResilience } from '../store/resilient.js';
import { parseArgs, UsageError } from './args.js';
import { openInput } from './input.js';
import { writeOut } from './output.js';

export const STORE_USAGE = `chunker store ls URL [PREFIX]
  Lists the objects under PREFIX (default all), one "size<TAB>name" line each, unsorted.
chunker store cat URL NAME...
  Writes the objects' bytes to stdout, one after another.
chunker store put URL NAME FILE|-
  Stores FILE (or stdin) as NAME, atomically: readers see the old object or the new one.
chunker store rm URL NAME...
  Removes the objects; removing a missing object succeeds.
  URL: file:///path, sftp://user@host:port/path, s3://bucket/prefix, http(s)://host/path, memory:`;

/** Bytes per ranged read when `cat` streams a large object from a store that has ranges. */
export const CAT_RANGE_BYTES = 8 * 1024 * 1024;

async function list(store: StoreBackend, prefix: string): Promise<void> {
  let text = '';
  for await (const info of store.list(prefix)) {
    text += `${info.size}\t${info.name}\n`;
    if (text.length >= 64 * 1024) {
      await writeOut(text);
      text = '';
    }
  }
  if (text !== '') await writeOut(text);
}

async function cat(store: StoreBackend, name: string): Promise<void> {
  if (!store.capabilities.ranges) {
    await writeOut(await store.get(name));
    return;
  }
  // A missing object fails the first read with not_found.
  for (let offset = 0; ; ) {
    const bytes = await store.get(name, { offset, length: CAT_RANGE_BYTES });
    if (bytes.length > 0) await writeOut(bytes);
    offset += bytes.length;
    if (bytes.length < CAT_RANGE_BYTES) break;
  }
}

async function put(store: StoreBackend, name: string, path: string): Promise<void> {
  if (path === '-') {
    const parts: Buffer[] = [];
    for await (const part of await openInput('-')) parts.push(part);
    await store.put(name, bytesSource(Buffer.concat(parts)));
    return;
  }
  let source: FileSource;
  try {
    source = await openFileSource(path);
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'EISDIR') throw new ChunkerError('invalid_argument', `${path} is a directory`);
    throw new ChunkerError(code === 'ENOENT' ? 'not_found' : 'io_error', message);
  }
  try {
    await store.put(name, source);
  } finally {
    await source.close();
  }
}

const SUBCOMMANDS: Record<string, { operands: [number, number]; run: (store: StoreBackend, operands: string[]) => Promise<void> }> = {
  ls: { operands: [0, 1], run: (store, [prefix]) => list(store, prefix ?? '') },
  cat: {
    operands: [1, Number.POSITIVE_INFINITY],
    run: async (store, names) => {
      for (const name of names) await cat(store, name);
    },
  },
  put: { operands: [2, 2], run: (store, [name, path]) => put(store, name!, path!) },
  rm: {
    operands: [1, Number.POSITIVE_INFINITY],
    run: async (store, names) => {
      for (const name of names) await store.delete(name);
    },
  },
};

export async function storeCommand(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, { values: [], flags: [] });
  const [subcommand, url, ...operands] = args.positionals;
  const spec = subcommand === undefined ? undefined : SUBCOMMANDS[subcommand];
  if (spec === undefined) throw new UsageError(`store needs one of ${Object.keys(SUBCOMMANDS).join(', ')}\n${STORE_USAGE}`);
  const [fewest, most] = spec.operands;
  if (url === undefined || operands.length < fewest || operands.length > most) {
    throw new UsageError(`wrong number of arguments for store ${subcommand}\n${STORE_USAGE}`);
  }
  const store = withResilience(await openStore(url));
  try {
    await spec.run(store, operands);
  } finally {
    await store.close();
  }
}
