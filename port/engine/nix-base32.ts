/**
 * Nix's base32: the text form of hashes in store paths, narinfo files and `nix hash`.
 *
 * It is not RFC 4648. The alphabet drops `e`, `o`, `t` and `u`, and the bytes are read as
 * one little-endian number whose 5-bit groups are printed from the most significant group
 * down (Nix's `printHash32`): the first character carries the highest bits of the last
 * byte. `nix hash to-base32` is the oracle the integration tests check against.
 */
import { ChunkerError, invalidParameter } from '../errors.js';

export const NIX_BASE32_ALPHABET = '0123456789abcdfghijklmnpqrsvwxyz';

const BITS_PER_CHARACTER = 5;
const BITS_PER_BYTE = 8;

/** Character code -> digit value, or -1 for characters outside the alphabet. */
const DIGIT_BY_CHAR_CODE: Int8Array = (() => {
  const table = new Int8Array(128).fill(-1);
  for (let digit = 0; digit < NIX_BASE32_ALPHABET.length; digit++) {
    table[NIX_BASE32_ALPHABET.charCodeAt(digit)] = digit;
  }
  return table;
})();

/** Number of characters that encode `byteCount` bytes: ceil(byteCount * 8 / 5). */
export function nixBase32Length(byteCount: number): number {
  if (!Number.isSafeInteger(byteCount) || byteCount < 0) {
    throw invalidParameter('byteCount', 'a non-negative integer', byteCount);
  }
  return Math.ceil((byteCount * BITS_PER_BYTE) / BITS_PER_CHARACTER);
}

export function encodeNixBase32(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw invalidParameter('bytes', 'a Uint8Array', bytes);
  const length = nixBase32Length(bytes.length);
  let text = '';
  for (let group = length - 1; group >= 0; group--) {
    const bit = group * BITS_PER_CHARACTER;
    const byteIndex = bit >>> 3;
    const shift = bit & 7;
    // A group may straddle two bytes; past the last byte the missing high bits are zero.
    const low = bytes[byteIndex]! >>> shift;
    const high = byteIndex + 1 < bytes.length ? bytes[byteIndex + 1]! << (BITS_PER_BYTE - shift) : 0;
    text += NIX_BASE32_ALPHABET[(low | high) & 0x1f];
  }
  return text;
}

export function decodeNixBase32(text: string): Uint8Array {
  if (typeof text !== 'string') throw invalidParameter('text', 'a string', text);
  const byteCount = Math.floor((text.length * BITS_PER_CHARACTER) / BITS_PER_BYTE);
  if (nixBase32Length(byteCount) !== text.length) {
    throw new ChunkerError(
      'invalid_base32',
      `Nix base32 text of ${text.length} characters has an impossible length (no byte count encodes to it)`,
    );
  }
  const bytes = new Uint8Array(byteCount);
  for (let index = 0; index < text.length; index++) {
    const charCode = text.charCodeAt(index);
    const digit = charCode < 128 ? DIGIT_BY_CHAR_CODE[charCode]! : -1;
    if (digit < 0) {
      throw new ChunkerError(
        'invalid_base32',
        `Nix base32 text has invalid character ${JSON.stringify(text[index])} at position ${index}`,
      );
    }
    const group = text.length - 1 - index;
    const bit = group * BITS_PER_CHARACTER;
    const byteIndex = bit >>> 3;
    const shift = bit & 7;
    bytes[byteIndex]! |= (digit << shift) & 0xff;
    const carry = digit >>> (BITS_PER_BYTE - shift);
    if (byteIndex + 1 < byteCount) {
      bytes[byteIndex + 1]! |= carry;
    } else if (carry !== 0) {
      // Bits beyond the last byte must be zero, or two texts would decode to the same bytes.
      throw new ChunkerError(
        'invalid_base32',
        `Nix base32 text has non-zero leftover bits in its first character ${JSON.stringify(text[index])}`,
      );
    }
  }
  return bytes;
}
