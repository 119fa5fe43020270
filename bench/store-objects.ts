/**
 * The object set the store benchmark uploads, built once from the corpus and cached:
 * `chunks/<2 hex>/<64 hex>` — the first SMALL_OBJECTS distinct chunks (default preset,
 * SHA-256 names) of the corpus NARs, as a chunk store holds them — and `nar/<file>` — a
 * few whole NARs as the large objects. Built in a temp directory and renamed into place,
 * so an interrupted build is never mistaken for a finished one.
 */
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chunkStream } from '../port/engine/chunk-stream.js';
import type { Corpus } from './corpus.js';
import { allocatePieceBuffer, readPieces } from './corpus-reader.js';
import { MIB } from './units.js';

export interface StoreObjectSet {
  dir: string;
  small: { count: number; bytes: number };
  large: { count: number; bytes: number };
}

export interface StoreObjectSpec {
  /** Distinct chunks to write as small objects. */
  smallObjects: number;
  /** Whole NARs taken as large objects, largest first, up to this many bytes in all. */
  largeBytes: number;
}

/**
 * s3rver (a Node.js server) stores about 200 small objects per second on this kind of
 * machine, so the small set is a few thousand chunks rather than tens of thousands: three
 * reps of both tools on every server then fit in a few minutes. 256 MiB of NARs, largest
 * first, gives three large objects of the corpus (161, 53 and 43 MB).
 */
export const DEFAULT_STORE_OBJECTS: StoreObjectSpec = { smallObjects: 2000, largeBytes: 256 * MIB };

async function* pieces(path: string, buffer: Buffer): AsyncGenerator<Uint8Array> {
  for (const piece of readPieces(path, buffer)) yield piece.bytes;
}

function readRange(fd: number, offset: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const read = readSync(fd, bytes, filled, length - filled, offset + filled);
    if (read === 0) throw new Error('corpus file shrank while being read');
    filled += read;
  }
  return bytes;
}

async function writeSmallObjects(corpus: Corpus, into: string, wanted: number): Promise<{ count: number; bytes: number }> {
  const seen = new Set<string>();
  let bytes = 0;
  const buffer = allocatePieceBuffer();
  for (const tree of corpus.manifest.trees) {
    const path = join(corpus.dir, tree.v1.file);
    const fd = openSync(path, 'r');
    try {
      for await (const chunks of chunkStream(pieces(path, buffer), { preset: 'default', hash: 'sha256' })) {
        for (const chunk of chunks) {
          const name = Buffer.from(chunk.hash!).toString('hex');
          if (seen.has(name)) continue;
          seen.add(name);
          const dir = join(into, 'chunks', name.slice(0, 2));
          mkdirSync(dir, { recursive: true });
          writeFileSync(join(dir, name), readRange(fd, chunk.offset, chunk.length));
          bytes += chunk.length;
          if (seen.size === wanted) return { count: seen.size, bytes };
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  return { count: seen.size, bytes };
}

function linkLargeObjects(corpus: Corpus, into: string, budgetBytes: number): { count: number; bytes: number } {
  const nars = corpus.manifest.trees.map((tree) => tree.v1).sort((a, b) => b.bytes - a.bytes);
  mkdirSync(join(into, 'nar'), { recursive: true });
  let count = 0;
  let bytes = 0;
  for (const nar of nars) {
    if (bytes + nar.bytes > budgetBytes) continue;
    linkSync(join(corpus.dir, nar.file), join(into, 'nar', nar.file));
    count++;
    bytes += nar.bytes;
  }
  return { count, bytes };
}

function sizeOfTree(dir: string): { count: number; bytes: number } {
  let count = 0;
  let bytes = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    count++;
    bytes += statSync(join(entry.parentPath, entry.name)).size;
  }
  return { count, bytes };
}

/** The cached object set for `corpus` and `spec`, built on first use. */
export async function ensureStoreObjects(corpus: Corpus, spec: StoreObjectSpec = DEFAULT_STORE_OBJECTS): Promise<StoreObjectSet> {
  const dir = join(corpus.dir, `store-objects-${spec.smallObjects}-${spec.largeBytes}`);
  if (!existsSync(dir)) {
    const building = `${dir}.building-${process.pid}`;
    rmSync(building, { recursive: true, force: true });
    await writeSmallObjects(corpus, join(building, 'small'), spec.smallObjects);
    linkLargeObjects(corpus, join(building, 'large'), spec.largeBytes);
    renameSync(building, dir);
  }
  return { dir, small: sizeOfTree(join(dir, 'small')), large: sizeOfTree(join(dir, 'large')) };
}
