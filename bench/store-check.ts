/**
 * The store benchmark's correctness check, so that a fast but broken upload cannot win:
 * the destination, listed through our store backend, must hold exactly the source's
 * names at the source's sizes, and a few sampled objects must read back byte-identical.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openStore, type StoreOpenOptions } from '../port/store/open-store.js';

/** Objects read back and compared byte for byte (first, middle and last by name). */
const SAMPLED_OBJECTS = 3;
/** Mismatched names quoted in a failed check. */
const QUOTED_NAMES = 3;

/** Returns null when the store at `url` holds exactly `source` (name → size, files under `sourceDir`), else what is wrong. */
export async function checkDestination(url: string, options: StoreOpenOptions, sourceDir: string, source: ReadonlyMap<string, number>): Promise<string | null> {
  const store = await openStore(url, options);
  try {
    const stored = new Map<string, number>();
    for await (const info of store.list('')) stored.set(info.name, info.size);
    const missing = [...source.keys()].filter((name) => !stored.has(name));
    const extra = [...stored.keys()].filter((name) => !source.has(name));
    const wrongSize = [...source].filter(([name, size]) => stored.has(name) && stored.get(name) !== size).map(([name]) => name);
    const problems: string[] = [];
    const quote = (names: string[]) => `${names.length} (${names.slice(0, QUOTED_NAMES).join(', ')}${names.length > QUOTED_NAMES ? ', …' : ''})`;
    if (missing.length > 0) problems.push(`missing ${quote(missing)}`);
    if (extra.length > 0) problems.push(`unexpected ${quote(extra)}`);
    if (wrongSize.length > 0) problems.push(`wrong size ${quote(wrongSize)}`);
    if (problems.length > 0) return `${url}: ${problems.join('; ')}`;
    const names = [...source.keys()].sort();
    const sampled = new Set(Array.from({ length: SAMPLED_OBJECTS }, (_, index) => names[Math.floor((index * (names.length - 1)) / Math.max(1, SAMPLED_OBJECTS - 1))]!));
    for (const name of sampled) {
      const bytes = await store.get(name);
      if (!Buffer.from(bytes).equals(readFileSync(join(sourceDir, name)))) return `${url}: ${name} reads back different bytes`;
    }
    return null;
  } finally {
    await store.close();
  }
}
