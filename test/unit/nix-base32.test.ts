import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  NIX_BASE32_ALPHABET,
  decodeNixBase32,
  encodeNixBase32,
  nixBase32Length,
} from '../../port/engine/nix-base32.js';
import { chunkerErrorOf } from '../support/chunker-error.js';

/**
 * Reference model written from the definition rather than the bit twiddling: the bytes are
 * one little-endian number, printed in base 32 with the most significant digit first.
 */
function referenceEncode(bytes: Uint8Array): string {
  let value = 0n;
  for (let index = bytes.length - 1; index >= 0; index--) value = (value << 8n) | BigInt(bytes[index]!);
  const length = Math.ceil((bytes.length * 8) / 5);
  let text = '';
  for (let digit = 0; digit < length; digit++) {
    text = NIX_BASE32_ALPHABET[Number(value & 31n)] + text;
    value >>= 5n;
  }
  return text;
}

function expectBase32Error(action: () => unknown, messagePart: RegExp): void {
  const error = chunkerErrorOf(action);
  expect(error.code).toBe('invalid_base32');
  expect(error.message).toMatch(messagePart);
}

describe('nixBase32Length', () => {
  it('is ceil(bytes * 8 / 5) and matches the encoded length', () => {
    for (let byteCount = 0; byteCount <= 130; byteCount++) {
      expect(nixBase32Length(byteCount)).toBe(Math.ceil((byteCount * 8) / 5));
      expect(encodeNixBase32(new Uint8Array(byteCount))).toHaveLength(nixBase32Length(byteCount));
    }
  });

  it('rejects counts that are not non-negative integers', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '32' as unknown as number]) {
      expect(() => nixBase32Length(bad)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    }
  });
});

describe('encodeNixBase32', () => {
  it('uses the 32-character Nix alphabet without e, o, t, u', () => {
    expect(NIX_BASE32_ALPHABET).toHaveLength(32);
    expect(new Set(NIX_BASE32_ALPHABET).size).toBe(32);
    for (const missing of 'eotu') expect(NIX_BASE32_ALPHABET).not.toContain(missing);
  });

  it('agrees with the big-number reference model', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        expect(encodeNixBase32(bytes)).toBe(referenceEncode(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('prints the last byte first: changing the last byte changes the first character', () => {
    const bytes = new Uint8Array(32);
    const zero = encodeNixBase32(bytes);
    bytes[31] = 0x80;
    const changed = encodeNixBase32(bytes);
    expect(changed[0]).not.toBe(zero[0]);
    expect(changed.slice(1)).toBe(zero.slice(1));
  });

  it('encodes an all-zero hash as all zeros', () => {
    expect(encodeNixBase32(new Uint8Array(32))).toBe('0'.repeat(52));
  });

  it('accepts Buffers and subarray views', () => {
    const backing = Buffer.from([9, 1, 2, 3, 4, 5, 9]);
    expect(encodeNixBase32(backing.subarray(1, 6))).toBe(encodeNixBase32(new Uint8Array([1, 2, 3, 4, 5])));
  });

  it('rejects non-byte input', () => {
    expect(() => encodeNixBase32('abc' as unknown as Uint8Array)).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
  });
});

describe('decodeNixBase32', () => {
  it('round-trips any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        expect(decodeNixBase32(encodeNixBase32(bytes))).toEqual(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips any valid text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const text = encodeNixBase32(bytes);
        expect(encodeNixBase32(decodeNixBase32(text))).toBe(text);
      }),
    );
  });

  it('rejects characters outside the alphabet, naming the position', () => {
    const valid = encodeNixBase32(new Uint8Array(32).fill(0x5a));
    for (const bad of ['e', 'o', 't', 'u', 'A', 'Z', ' ', '-', '=', '\u00e9', '\u{1f600}'.slice(0, 1), '\0']) {
      const text = `${valid.slice(0, 10)}${bad}${valid.slice(11)}`;
      expectBase32Error(() => decodeNixBase32(text), /invalid character .* at position 10/);
    }
  });

  it('rejects every length that no byte count encodes to', () => {
    const validLengths = new Set<number>();
    for (let byteCount = 0; byteCount <= 70; byteCount++) validLengths.add(nixBase32Length(byteCount));
    let rejected = 0;
    for (let length = 0; length <= 110; length++) {
      const text = '0'.repeat(length);
      if (validLengths.has(length)) {
        expect(decodeNixBase32(text)).toEqual(new Uint8Array(Math.floor((length * 5) / 8)));
      } else {
        expectBase32Error(() => decodeNixBase32(text), /impossible length/);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(10);
  });

  it('rejects non-zero leftover bits in the first character', () => {
    let checkedByteCounts = 0;
    for (let byteCount = 1; byteCount <= 64; byteCount++) {
      const length = nixBase32Length(byteCount);
      const leftoverBits = length * 5 - byteCount * 8;
      if (leftoverBits === 0) continue;
      checkedByteCounts++;
      // The first character holds the top group; only its low (5 - leftover) bits are real.
      const largestFirstDigit = (1 << (5 - leftoverBits)) - 1;
      const rest = '0'.repeat(length - 1);
      expect(decodeNixBase32(NIX_BASE32_ALPHABET[largestFirstDigit] + rest)).toHaveLength(byteCount);
      for (let digit = largestFirstDigit + 1; digit < 32; digit++) {
        expectBase32Error(() => decodeNixBase32(NIX_BASE32_ALPHABET[digit] + rest), /leftover bits/);
      }
    }
    expect(checkedByteCounts).toBeGreaterThan(40);
  });

  it('rejects non-string input', () => {
    expect(() => decodeNixBase32(new Uint8Array(2) as unknown as string)).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
  });
});
