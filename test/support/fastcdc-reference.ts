/**
 * A deliberately plain FastCDC v2020 written from the facts in
 * shared/vectors/fastcdc/README.md (BigInt arithmetic, no tricks), used only to check the
 * native implementation on cases no published vector covers (levels, seeds, sizes).
 * The mask table is read from that README rather than retyped.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FASTCDC_VECTORS_DIR } from './paths.js';

const U64 = (1n << 64n) - 1n;

export function referenceGearTable(seed = 0n): { gear: bigint[]; gearLs: bigint[] } {
  const gear: bigint[] = [];
  const gearLs: bigint[] = [];
  for (let i = 0; i < 256; i++) {
    const digest = createHash('md5').update(Buffer.alloc(64, i)).digest();
    const value = digest.readBigUInt64BE(0);
    gear.push(value ^ seed);
    gearLs.push(((value << 1n) & U64) ^ ((seed << 1n) & U64));
  }
  return { gear, gearLs };
}

function readMasks(): Map<number, bigint> {
  const text = readFileSync(join(FASTCDC_VECTORS_DIR, 'README.md'), 'utf8');
  const masks = new Map<number, bigint>();
  for (const match of text.matchAll(/\b(\d{1,2}) 0x([0-9a-f]{16})\b/g)) {
    masks.set(Number(match[1]), BigInt(`0x${match[2]}`));
  }
  if (masks.size !== 20) throw new Error(`expected 20 masks in the vectors README, found ${masks.size}`);
  return masks;
}

export interface ReferenceChunk {
  offset: number;
  length: number;
  gear: bigint;
}

export function referenceChunks(
  data: Uint8Array,
  minSize: number,
  avgSize: number,
  maxSize: number,
  level = 1,
  seed = 0n,
): ReferenceChunk[] {
  const masks = readMasks();
  const bits = Math.round(Math.log2(avgSize));
  const maskS = masks.get(bits + level)!;
  const maskL = masks.get(bits - level)!;
  const maskSLs = (maskS << 1n) & U64;
  const maskLLs = (maskL << 1n) & U64;
  const { gear, gearLs } = referenceGearTable(seed);

  const cut = (start: number, n: number): [number, bigint] => {
    if (n <= minSize) return [n, 0n];
    const remaining = Math.min(n, maxSize);
    const center = n < avgSize ? n : avgSize;
    let hash = 0n;
    let i = Math.floor(minSize / 2);
    const phases: Array<[number, bigint, bigint]> = [
      [Math.floor(center / 2), maskSLs, maskS],
      [Math.floor(remaining / 2), maskLLs, maskL],
    ];
    for (const [end, maskLs, mask] of phases) {
      for (; i < end; i++) {
        const a = 2 * i;
        hash = ((hash << 2n) + gearLs[data[start + a]!]!) & U64;
        if ((hash & maskLs) === 0n) return [a, hash];
        hash = (hash + gear[data[start + a + 1]!]!) & U64;
        if ((hash & mask) === 0n) return [a + 1, hash];
      }
    }
    return [remaining, hash];
  };

  const chunks: ReferenceChunk[] = [];
  let offset = 0;
  while (offset < data.length) {
    const [length, hash] = cut(offset, data.length - offset);
    chunks.push({ offset, length, gear: hash });
    offset += length;
  }
  return chunks;
}
