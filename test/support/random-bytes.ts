/** Seeded pseudo-random bytes (xorshift64*), so failures reproduce from the seed alone. */
export function seededBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let state = BigInt(seed) * 0x9e3779b97f4a7c15n + 1n;
  const mask = (1n << 64n) - 1n;
  let i = 0;
  while (i < length) {
    state ^= state >> 12n;
    state ^= (state << 25n) & mask;
    state ^= state >> 27n;
    let word = (state * 0x2545f4914f6cdd1dn) & mask;
    for (let b = 0; b < 8 && i < length; b++, i++) {
      out[i] = Number(word & 0xffn);
      word >>= 8n;
    }
  }
  return out;
}

/** Bytes with long repeated runs and structure, closer to real files than noise is. */
export function structuredBytes(length: number, seed: number): Uint8Array {
  const noise = seededBytes(length, seed);
  const out = new Uint8Array(length);
  let i = 0;
  while (i < length) {
    const run = 1 + (noise[i]! % 200);
    const fill = noise[(i * 7) % length]! % 4 === 0;
    for (let j = 0; j < run && i < length; j++, i++) out[i] = fill ? 0x20 : noise[i]!;
  }
  return out;
}
