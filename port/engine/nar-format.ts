/**
 * The NAR (Nix ARchive) wire format, shared by the writer and the reader.
 *
 * A NAR is a sequence of strings. Each string is a u64 little-endian byte length, the
 * bytes, then zero padding to a multiple of 8. The grammar (what `nix-store --dump` emits):
 *
 *   nar       = "nix-archive-1" node
 *   node      = "(" "type" ( regular | symlink | directory ) ")"
 *   regular   = "regular" [ "executable" "" ] "contents" <u64 size> <size bytes> <padding>
 *   symlink   = "symlink" "target" <target>
 *   directory = "directory" { "entry" "(" "name" <name> "node" node ")" }
 *
 * Directory entries appear sorted by name in byte order, each name at most once.
 */

export const NAR_MAGIC = 'nix-archive-1';

/** NAR strings are padded to this many bytes; the length prefix is this many bytes too. */
export const NAR_ALIGNMENT_BYTES = 8;

/**
 * Longest directory entry name the reader accepts. Linux caps names at 255 bytes, but
 * other systems count characters rather than bytes, so allow room for long UTF-8 names.
 */
export const MAX_NAR_NAME_BYTES = 4096;

/** Longest symlink target the reader accepts: Linux PATH_MAX (readlink cannot return more). */
export const MAX_NAR_SYMLINK_TARGET_BYTES = 4096;

/**
 * Longest relative path (names joined by `/`) the reader accepts. Nix dumps and restores
 * through full paths, which the kernel limits to PATH_MAX (4096 bytes), so no real NAR
 * goes deeper; the cap also bounds the reader's directory stack.
 */
export const MAX_NAR_PATH_BYTES = 4096;

/** Largest file size the reader accepts: sizes and offsets must stay exact JS numbers. */
export const MAX_NAR_FILE_BYTES = Number.MAX_SAFE_INTEGER;

export type NarEntryType = 'regular' | 'executable' | 'symlink' | 'directory';

/** One file system object inside a NAR, as the reader reports it. */
export interface NarEntry {
  /**
   * Path relative to the NAR root, names joined by `/`; the root itself is `''`.
   * Names are decoded as UTF-8 (bytes that are not UTF-8 show as U+FFFD).
   */
  path: string;
  type: NarEntryType;
  /** File size in bytes (regular and executable files only). */
  size?: number;
  /** Byte offset of the file's contents from the start of the NAR (files only). */
  contentOffset?: number;
  /** Symlink target (symlinks only), decoded as UTF-8. */
  target?: string;
}

/** Zero bytes a string of `length` bytes is padded with. */
export function narPaddingBytes(length: number): number {
  return (NAR_ALIGNMENT_BYTES - (length % NAR_ALIGNMENT_BYTES)) % NAR_ALIGNMENT_BYTES;
}

/** Bytes a string of `length` bytes occupies in a NAR: prefix, bytes and padding. */
export function narStringBytes(length: number): number {
  return NAR_ALIGNMENT_BYTES + length + narPaddingBytes(length);
}

/** Writes the u64 little-endian length prefix of a NAR string at `offset`. */
export function writeNarLength(target: Buffer, offset: number, length: number): void {
  target.writeUInt32LE(length % 0x1_0000_0000, offset);
  target.writeUInt32LE(Math.floor(length / 0x1_0000_0000), offset + 4);
}

/** Encodes one or more NAR strings back to back (used to prebuild token sequences). */
export function encodeNarStrings(...values: (string | Uint8Array)[]): Buffer {
  const parts = values.map((value) => (typeof value === 'string' ? Buffer.from(value, 'utf8') : value));
  const total = parts.reduce((sum, part) => sum + narStringBytes(part.length), 0);
  const encoded = Buffer.alloc(total);
  let offset = 0;
  for (const part of parts) {
    writeNarLength(encoded, offset, part.length);
    encoded.set(part, offset + NAR_ALIGNMENT_BYTES);
    offset += narStringBytes(part.length);
  }
  return encoded;
}

/**
 * Why a directory entry name is not allowed, or null when it is. Such names would let a
 * NAR escape its root or collide on restore, so Nix refuses them too.
 */
export function invalidNarNameReason(name: Uint8Array): string | null {
  if (name.length === 0) return 'is empty';
  if (name.length === 1 && name[0] === 0x2e) return 'is "."';
  if (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e) return 'is ".."';
  if (name.includes(0x2f)) return 'contains "/"';
  if (name.includes(0x00)) return 'contains a NUL byte';
  return null;
}
