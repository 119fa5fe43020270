/**
 * A streaming NAR reader and validator.
 *
 * Bytes may arrive in any slicing; entries come out as soon as their header is complete.
 * Memory stays bounded whatever the input: file contents are skipped by counting, never
 * buffered, and the only bytes kept are one string at a time, capped by the largest string
 * that can legally appear where it is read (a token's own length, MAX_NAR_NAME_BYTES for
 * names, MAX_NAR_SYMLINK_TARGET_BYTES for targets), plus the last name seen in each open
 * directory to check the order. MAX_NAR_PATH_BYTES bounds how many directories can be open,
 * so the worst case is a few MiB however large or hostile the input.
 *
 * Only the canonical form that `nix-store --dump` writes is accepted (see nar-format.ts);
 * anything else is a ChunkerError 'invalid_nar' whose message names the problem and the
 * byte offset where it starts. After an error the reader stays failed.
 */
import { ChunkerError } from '../errors.js';
import {
  MAX_NAR_FILE_BYTES,
  MAX_NAR_NAME_BYTES,
  MAX_NAR_PATH_BYTES,
  MAX_NAR_SYMLINK_TARGET_BYTES,
  NAR_ALIGNMENT_BYTES,
  NAR_MAGIC,
  invalidNarNameReason,
  narPaddingBytes,
  type NarEntry,
} from './nar-format.js';

/** What the grammar expects next. */
enum Expect {
  Magic,
  NodeOpen,
  TypeKey,
  TypeValue,
  ExecutableOrContents,
  ExecutableValue,
  ContentsKey,
  ContentsSize,
  NodeClose,
  TargetKey,
  TargetValue,
  EntryOrClose,
  EntryOpen,
  NameKey,
  NameValue,
  NodeKey,
  EntryClose,
  Done,
}

/** Which part of the byte stream is being consumed. */
enum Phase {
  /** The 8-byte length prefix of a string (or a file's size). */
  Length,
  /** A string's bytes and padding. */
  StringBody,
  /** File contents, skipped without looking. */
  Contents,
  /** The zero padding after file contents. */
  ContentsPadding,
}

const TOKEN = {
  magic: Buffer.from(NAR_MAGIC),
  open: Buffer.from('('),
  close: Buffer.from(')'),
  type: Buffer.from('type'),
  regular: Buffer.from('regular'),
  symlink: Buffer.from('symlink'),
  directory: Buffer.from('directory'),
  executable: Buffer.from('executable'),
  contents: Buffer.from('contents'),
  target: Buffer.from('target'),
  entry: Buffer.from('entry'),
  name: Buffer.from('name'),
  node: Buffer.from('node'),
} as const;

/** The tokens accepted in each token position; the longest one caps the string length. */
const TOKENS_BY_EXPECT: Partial<Record<Expect, readonly Buffer[]>> = {
  [Expect.Magic]: [TOKEN.magic],
  [Expect.NodeOpen]: [TOKEN.open],
  [Expect.TypeKey]: [TOKEN.type],
  [Expect.TypeValue]: [TOKEN.regular, TOKEN.symlink, TOKEN.directory],
  [Expect.ExecutableOrContents]: [TOKEN.executable, TOKEN.contents],
  [Expect.ExecutableValue]: [Buffer.alloc(0)],
  [Expect.ContentsKey]: [TOKEN.contents],
  [Expect.NodeClose]: [TOKEN.close],
  [Expect.TargetKey]: [TOKEN.target],
  [Expect.EntryOrClose]: [TOKEN.entry, TOKEN.close],
  [Expect.EntryOpen]: [TOKEN.open],
  [Expect.NameKey]: [TOKEN.name],
  [Expect.NodeKey]: [TOKEN.node],
  [Expect.EntryClose]: [TOKEN.close],
};

/** Longest string that may appear where `expect` says; longer lengths fail before buffering. */
function maxStringBytes(expect: Expect): number {
  if (expect === Expect.NameValue) return MAX_NAR_NAME_BYTES;
  if (expect === Expect.TargetValue) return MAX_NAR_SYMLINK_TARGET_BYTES;
  const tokens = TOKENS_BY_EXPECT[expect] ?? [];
  return tokens.reduce((longest, token) => Math.max(longest, token.length), 0);
}

function describeExpected(expect: Expect): string {
  switch (expect) {
    case Expect.NameValue:
      return 'an entry name';
    case Expect.TargetValue:
      return 'a symlink target';
    case Expect.ContentsSize:
      return 'a file size';
    case Expect.Done:
      return 'the end of the NAR';
    default:
      return (TOKENS_BY_EXPECT[expect] ?? []).map((token) => JSON.stringify(token.toString('latin1'))).join(' or ');
  }
}

/** Shows a string from hostile input safely and briefly. */
function quoteBytes(bytes: Uint8Array): string {
  const shown = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 40)).toString('latin1');
  return `${JSON.stringify(shown)}${bytes.length > 40 ? '...' : ''} (${bytes.length} bytes)`;
}

function readUint32LE(source: Uint8Array, start: number): number {
  return (source[start]! | (source[start + 1]! << 8) | (source[start + 2]! << 16)) + source[start + 3]! * 0x100_0000;
}

function formatU64(high: number, low: number): string {
  return ((BigInt(high) << 32n) | BigInt(low)).toString();
}

/** Whether `length` bytes of `source` from `start` equal `token` (tokens are a few bytes). */
function bytesEqual(token: Uint8Array, source: Uint8Array, start: number, length: number): boolean {
  if (token.length !== length) return false;
  for (let index = 0; index < length; index++) {
    if (source[start + index] !== token[index]) return false;
  }
  return true;
}

interface DirectoryFrame {
  path: string;
  pathBytes: number;
  /** The previous entry's name, to check order; null before the first entry. */
  previousName: Buffer | null;
}

export class NarReader {
  private expect = Expect.Magic;
  private phase = Phase.Length;
  /** Bytes consumed so far: the NAR offset of the next byte. */
  private offset = 0;
  private failure: ChunkerError | null = null;

  /** The current item (length prefix or string body) being gathered across pushes. */
  private readonly scratch = Buffer.allocUnsafe(NAR_ALIGNMENT_BYTES + Math.max(MAX_NAR_NAME_BYTES, MAX_NAR_SYMLINK_TARGET_BYTES));
  private gathered = 0;
  private itemBytes = NAR_ALIGNMENT_BYTES;
  private itemOffset = 0;
  /** Offset of the current string's length prefix, for messages. */
  private stringOffset = 0;
  private stringLength = 0;
  private contentsRemaining = 0;

  private readonly directories: DirectoryFrame[] = [];
  private nodePath = '';
  private nodePathBytes = 0;
  private executable = false;

  /** The NAR offset of the next byte to be pushed (the number of bytes consumed). */
  get bytesRead(): number {
    return this.offset;
  }

  /** Whether a complete NAR has been read (anything more is an error). */
  get done(): boolean {
    return this.expect === Expect.Done;
  }

  /** Consumes the next bytes of the NAR and returns the entries whose headers completed. */
  push(bytes: Uint8Array): NarEntry[] {
    if (this.failure) throw this.failure;
    const entries: NarEntry[] = [];
    try {
      this.consume(bytes, entries);
    } catch (error) {
      if (error instanceof ChunkerError) this.failure = error;
      throw error;
    }
    return entries;
  }

  /**
   * Declares the input finished; throws if the NAR is incomplete. Returns no entries (every
   * entry comes out of push); the array keeps push and end interchangeable for callers.
   */
  end(): NarEntry[] {
    if (this.failure) throw this.failure;
    if (this.expect !== Expect.Done) {
      const waitingFor =
        this.phase === Phase.Contents
          ? `${this.contentsRemaining} more bytes of file contents`
          : this.phase === Phase.ContentsPadding
            ? 'the padding after file contents'
            : describeExpected(this.expect);
      this.failure = this.invalid(this.offset, `truncated: input ended while expecting ${waitingFor}`);
      throw this.failure;
    }
    return [];
  }

  private invalid(offset: number, problem: string): ChunkerError {
    return new ChunkerError('invalid_nar', `Invalid NAR at byte offset ${offset}: ${problem}`);
  }

  private consume(bytes: Uint8Array, entries: NarEntry[]): void {
    let position = 0;
    while (position < bytes.length) {
      if (this.expect === Expect.Done) {
        throw this.invalid(this.offset, `${bytes.length - position} bytes of trailing data after the end of the NAR`);
      }
      if (this.phase === Phase.Contents) {
        const skipped = Math.min(this.contentsRemaining, bytes.length - position);
        position += skipped;
        this.offset += skipped;
        this.contentsRemaining -= skipped;
        if (this.contentsRemaining === 0) this.startPadding();
        continue;
      }
      // Gather the current item; use it in place when the input holds all of it.
      const available = bytes.length - position;
      if (this.gathered === 0 && available >= this.itemBytes) {
        const itemStart = position;
        position += this.itemBytes;
        this.offset += this.itemBytes;
        this.handleItem(bytes, itemStart, entries);
      } else {
        const count = Math.min(this.itemBytes - this.gathered, available);
        this.scratch.set(bytes.subarray(position, position + count), this.gathered);
        this.gathered += count;
        position += count;
        this.offset += count;
        if (this.gathered < this.itemBytes) return;
        this.gathered = 0;
        this.handleItem(this.scratch, 0, entries);
      }
    }
  }

  private startItem(phase: Phase, itemBytes: number): void {
    this.phase = phase;
    this.itemBytes = itemBytes;
    this.itemOffset = this.offset;
  }

  private startPadding(): void {
    const padding = narPaddingBytes(this.stringLength);
    if (padding === 0) this.afterContents();
    else this.startItem(Phase.ContentsPadding, padding);
  }

  private afterContents(): void {
    this.expect = Expect.NodeClose;
    this.startItem(Phase.Length, NAR_ALIGNMENT_BYTES);
  }

  /** Handles the complete current item, which occupies `source` from `start`. */
  private handleItem(source: Uint8Array, start: number, entries: NarEntry[]): void {
    switch (this.phase) {
      case Phase.Length:
        this.handleLength(source, start, entries);
        return;
      case Phase.StringBody: {
        const length = this.stringLength;
        this.checkZeroPadding(source, start, length);
        this.startItem(Phase.Length, NAR_ALIGNMENT_BYTES);
        this.handleString(source, start, length, entries);
        return;
      }
      case Phase.ContentsPadding:
        this.checkZeroPadding(source, start, 0);
        this.afterContents();
        return;
      case Phase.Contents:
        return;
    }
  }

  /** Checks that the current item's bytes from `from` on are all zero. */
  private checkZeroPadding(source: Uint8Array, start: number, from: number): void {
    for (let index = from; index < this.itemBytes; index++) {
      const byte = source[start + index]!;
      if (byte !== 0) {
        throw this.invalid(this.itemOffset + index, `non-zero padding byte 0x${byte.toString(16).padStart(2, '0')}`);
      }
    }
  }

  private handleLength(source: Uint8Array, start: number, entries: NarEntry[]): void {
    const low = readUint32LE(source, start);
    const high = readUint32LE(source, start + 4);
    const lengthOffset = this.itemOffset;
    // Above 2^53 a length no longer fits a JS number exactly; nothing that large is legal.
    const exceedsSafe = high > 0x1f_ffff;
    const length = high * 0x1_0000_0000 + low;

    if (this.expect === Expect.ContentsSize) {
      if (exceedsSafe || length > MAX_NAR_FILE_BYTES) {
        throw this.invalid(lengthOffset, `file size ${formatU64(high, low)} exceeds the limit of ${MAX_NAR_FILE_BYTES} bytes`);
      }
      entries.push({
        path: this.nodePath,
        type: this.executable ? 'executable' : 'regular',
        size: length,
        contentOffset: this.offset,
      });
      this.stringLength = length;
      if (length === 0) {
        this.afterContents();
      } else {
        this.contentsRemaining = length;
        this.phase = Phase.Contents;
      }
      return;
    }

    if (exceedsSafe || length > maxStringBytes(this.expect)) {
      throw this.stringTooLong(lengthOffset, formatU64(high, low));
    }
    this.stringOffset = lengthOffset;
    this.stringLength = length;
    const bodyBytes = length + narPaddingBytes(length);
    if (bodyBytes === 0) {
      this.startItem(Phase.Length, NAR_ALIGNMENT_BYTES);
      this.handleString(source, start, 0, entries);
    } else {
      this.startItem(Phase.StringBody, bodyBytes);
    }
  }

  private stringTooLong(lengthOffset: number, shownLength: string): ChunkerError {
    switch (this.expect) {
      case Expect.Magic:
        return this.invalid(lengthOffset, `bad magic: not a NAR (expected ${JSON.stringify(NAR_MAGIC)})`);
      case Expect.NameValue:
        return this.invalid(lengthOffset, `entry name of ${shownLength} bytes exceeds the limit of ${MAX_NAR_NAME_BYTES} bytes`);
      case Expect.TargetValue:
        return this.invalid(
          lengthOffset,
          `symlink target of ${shownLength} bytes exceeds the limit of ${MAX_NAR_SYMLINK_TARGET_BYTES} bytes`,
        );
      default:
        return this.invalid(lengthOffset, `expected ${describeExpected(this.expect)} but found a string of ${shownLength} bytes`);
    }
  }

  private unexpected(value: Uint8Array): ChunkerError {
    if (this.expect === Expect.Magic) {
      return this.invalid(this.stringOffset, `bad magic: not a NAR (expected ${JSON.stringify(NAR_MAGIC)}, found ${quoteBytes(value)})`);
    }
    return this.invalid(this.stringOffset, `expected ${describeExpected(this.expect)} but found ${quoteBytes(value)}`);
  }

  /**
   * Advances the grammar by one complete string, `length` bytes of `source` from `start`.
   * Its length was already checked against what may appear here.
   */
  private handleString(source: Uint8Array, start: number, length: number, entries: NarEntry[]): void {
    const is = (token: Uint8Array): boolean => bytesEqual(token, source, start, length);
    const expectToken = (token: Uint8Array, next: Expect): void => {
      if (!is(token)) throw this.unexpected(source.subarray(start, start + length));
      this.expect = next;
    };
    switch (this.expect) {
      case Expect.Magic:
        return expectToken(TOKEN.magic, Expect.NodeOpen);
      case Expect.NodeOpen:
        return expectToken(TOKEN.open, Expect.TypeKey);
      case Expect.TypeKey:
        return expectToken(TOKEN.type, Expect.TypeValue);
      case Expect.TypeValue:
        if (is(TOKEN.regular)) {
          this.executable = false;
          this.expect = Expect.ExecutableOrContents;
        } else if (is(TOKEN.symlink)) {
          this.expect = Expect.TargetKey;
        } else if (is(TOKEN.directory)) {
          entries.push({ path: this.nodePath, type: 'directory' });
          this.directories.push({ path: this.nodePath, pathBytes: this.nodePathBytes, previousName: null });
          this.expect = Expect.EntryOrClose;
        } else {
          throw this.unexpected(source.subarray(start, start + length));
        }
        return;
      case Expect.ExecutableOrContents:
        if (is(TOKEN.executable)) {
          this.executable = true;
          this.expect = Expect.ExecutableValue;
        } else if (is(TOKEN.contents)) {
          this.expect = Expect.ContentsSize;
        } else {
          throw this.unexpected(source.subarray(start, start + length));
        }
        return;
      case Expect.ExecutableValue:
        // The length limit of 0 already let only the empty string through.
        this.expect = Expect.ContentsKey;
        return;
      case Expect.ContentsKey:
        return expectToken(TOKEN.contents, Expect.ContentsSize);
      case Expect.TargetKey:
        return expectToken(TOKEN.target, Expect.TargetValue);
      case Expect.TargetValue: {
        const target = Buffer.from(source.buffer, source.byteOffset + start, length);
        if (target.includes(0)) throw this.invalid(this.stringOffset, 'symlink target contains a NUL byte');
        entries.push({ path: this.nodePath, type: 'symlink', target: target.toString('utf8') });
        this.expect = Expect.NodeClose;
        return;
      }
      case Expect.NodeClose:
        expectToken(TOKEN.close, Expect.NodeClose);
        return this.closeNode();
      case Expect.EntryOrClose:
        if (is(TOKEN.entry)) {
          this.expect = Expect.EntryOpen;
        } else if (is(TOKEN.close)) {
          this.directories.pop();
          this.closeNode();
        } else {
          throw this.unexpected(source.subarray(start, start + length));
        }
        return;
      case Expect.EntryOpen:
        return expectToken(TOKEN.open, Expect.NameKey);
      case Expect.NameKey:
        return expectToken(TOKEN.name, Expect.NameValue);
      case Expect.NameValue:
        return this.enterEntry(Buffer.copyBytesFrom(source, start, length));
      case Expect.NodeKey:
        return expectToken(TOKEN.node, Expect.NodeOpen);
      case Expect.EntryClose:
        return expectToken(TOKEN.close, Expect.EntryOrClose);
      case Expect.ContentsSize:
      case Expect.Done:
        throw new Error(`NarReader: no string is read while expecting ${describeExpected(this.expect)}`);
    }
  }

  /** Takes ownership of `name` (a copy), keeping it to check the next entry's order. */
  private enterEntry(name: Buffer): void {
    const directory = this.directories[this.directories.length - 1];
    if (directory === undefined) throw new Error('NarReader: entry name outside a directory');
    const reason = invalidNarNameReason(name);
    if (reason !== null) throw this.invalid(this.stringOffset, `entry name ${quoteBytes(name)} ${reason}`);
    if (directory.previousName !== null) {
      const order = Buffer.compare(directory.previousName, name);
      if (order === 0) throw this.invalid(this.stringOffset, `duplicate entry name ${quoteBytes(name)}`);
      if (order > 0) {
        throw this.invalid(
          this.stringOffset,
          `entry name ${quoteBytes(name)} is not sorted after ${quoteBytes(directory.previousName)}`,
        );
      }
    }
    directory.previousName = name;
    const pathBytes = directory.pathBytes === 0 ? name.length : directory.pathBytes + 1 + name.length;
    if (pathBytes > MAX_NAR_PATH_BYTES) {
      throw this.invalid(this.stringOffset, `path of ${pathBytes} bytes exceeds the limit of ${MAX_NAR_PATH_BYTES} bytes`);
    }
    const decodedName = name.toString('utf8');
    this.nodePath = directory.path === '' ? decodedName : `${directory.path}/${decodedName}`;
    this.nodePathBytes = pathBytes;
    this.expect = Expect.NodeKey;
  }

  private closeNode(): void {
    this.expect = this.directories.length === 0 ? Expect.Done : Expect.EntryClose;
  }
}

/**
 * Reads a NAR from any async source of bytes (a file stream, an upload), yielding entries
 * as their headers arrive. Throws ChunkerError 'invalid_nar' on malformed input.
 */
export async function* readNarEntries(source: AsyncIterable<Uint8Array>): AsyncGenerator<NarEntry> {
  const reader = new NarReader();
  for await (const piece of source) {
    yield* reader.push(piece);
  }
  yield* reader.end();
}
