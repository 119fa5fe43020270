/** Inputs and helpers shared by the compression tests. */
import { seededBytes, structuredBytes } from './random-bytes.js';

/** Levels worth covering per codec: the extremes and the default. */
export const TEST_LEVELS = {
  zstd: [-7, -1, 1, 3, 9, 19],
  lz4: [1, 3, 9, 12],
  xz: [0, 1, 6],
  bzip2: [1, 5, 9],
  none: [0],
} as const;

/**
 * Text that shares vocabulary across samples, the way small files in one package do:
 * what dictionary training is for.
 */
export function dictionarySamples(count: number, seed: number): Uint8Array[] {
  const words = ['nix', 'store', 'derivation', 'output', 'lib', 'bin', 'share', 'include', 'python3', 'perl', 'version'];
  const noise = seededBytes(count * 64, seed);
  const samples: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    let text = '';
    for (let line = 0; line < 24; line++) {
      const a = words[noise[i * 64 + line]! % words.length]!;
      const b = words[noise[i * 64 + line + 24]! % words.length]!;
      text += `{"path": "/nix/store/${a}-${b}-${(noise[i * 64 + line]! * 7919) % 1000}", "size": ${noise[i * 64 + line + 12]! * 31}},\n`;
    }
    samples.push(new TextEncoder().encode(text));
  }
  return samples;
}

/** A mix of compressible and random bytes. */
export function mixedBytes(length: number, seed: number): Uint8Array {
  const out = structuredBytes(length, seed);
  out.set(seededBytes(Math.floor(length / 4), seed + 1), Math.floor(length / 2));
  return out;
}
