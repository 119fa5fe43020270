/**
 * The decompressing front of a streaming session whose input is a compressed NAR
 * (`.nar.xz`, `.nar.zst`, `.nar.bz2`, `.nar.lz4`): compressed bytes are pushed as they
 * arrive, and decompressed pieces are pulled one at a time, each of at most the size the
 * caller asks for, so the caller bounds the work (and the memory) of every step.
 *
 * Memory: the compressed bytes not yet decoded (at most what was pushed last, plus the
 * few bytes `auto` gathers to detect the format), the decoder's own state (bounded by
 * native/core/codec.h: a zstd window of at most 2^27 bytes, an xz decoder of at most
 * 256 MiB — 9 MiB for the default `xz -6`), and one piece at a time. The whole stream
 * never produces more than `maxOutputBytes`: past it a pull fails with size_exceeded.
 *
 * Unlike a chunking session's state this is a mutable object (the native decoder is),
 * and after any error it is unusable: the stream cannot be resumed.
 */
import { ChunkerError } from '../errors.js';
import {
  DETECT_BYTES,
  StreamDecoderSync,
  detectCodec,
  type CompressionCodec,
  type DecompressionCodec,
} from './compression.js';

const EMPTY = new Uint8Array(0);

export class InputDecoder {
  /** The codec asked for; `auto` detects it from the first DETECT_BYTES (plain input passes through). */
  readonly requested: DecompressionCodec;
  readonly maxOutputBytes: number;
  #decoder: StreamDecoderSync | null = null;
  /** Compressed bytes pushed and not yet decoded: #input from #pos. */
  #input: Uint8Array = EMPTY;
  #pos = 0;
  /** The last step filled its piece, so the decoder may hold output without more input. */
  #outputPending = false;
  #done = false;

  constructor(requested: DecompressionCodec, maxOutputBytes: number) {
    this.requested = requested;
    this.maxOutputBytes = maxOutputBytes;
    if (requested !== 'auto') this.#decoder = new StreamDecoderSync(requested, maxOutputBytes);
  }

  /** The codec in use: the requested one, or under `auto` the detected one (`none` for plain input) once known. */
  get codec(): CompressionCodec | null {
    return this.#decoder?.codec ?? null;
  }

  /** The whole stream has been decoded. */
  get done(): boolean {
    return this.#done;
  }

  /** Decompressed bytes produced so far. */
  get produced(): number {
    return this.#decoder?.produced ?? 0;
  }

  /** Compressed bytes held, not yet decoded. */
  get heldBytes(): number {
    return this.#input.length - this.#pos;
  }

  /** Appends compressed bytes. The decoder reads them until they are used up; see ownInput. */
  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.heldBytes === 0) {
      this.#input = bytes;
    } else {
      const joined = new Uint8Array(this.heldBytes + bytes.length);
      joined.set(this.#input.subarray(this.#pos));
      joined.set(bytes, this.heldBytes);
      this.#input = joined;
    }
    this.#pos = 0;
  }

  /** Replaces the held bytes with a private copy, so the caller may reuse the buffer it pushed. */
  ownInput(): void {
    if (this.heldBytes > 0) this.#input = this.#input.slice(this.#pos);
    else this.#input = EMPTY;
    this.#pos = 0;
  }

  /**
   * Whether next() could produce something now: a piece, the end of the stream, or an
   * error. False means it needs more input first (never with `atEnd` before the end).
   */
  ready(atEnd: boolean): boolean {
    if (this.#done) return false;
    if (atEnd || this.#outputPending) return true;
    return this.#decoder === null ? this.heldBytes >= DETECT_BYTES : this.heldBytes > 0;
  }

  /**
   * The next decompressed piece (1 to `pieceBytes` bytes), or null when the decoder needs
   * more input or the stream is done. `atEnd` says no more input follows: the stream must
   * then end within what was pushed, or this fails with truncated_input.
   */
  next(pieceBytes: number, atEnd: boolean): Uint8Array | null {
    while (this.ready(atEnd)) {
      const decoder = this.#decoder ?? this.#detect();
      const { output, consumed, done } = decoder.step(this.#input.subarray(this.#pos), atEnd, pieceBytes);
      this.#pos += consumed;
      if (this.#pos >= this.#input.length) this.ownInput();
      this.#outputPending = output.length === pieceBytes;
      this.#done = done;
      if (output.length > 0) return output;
      if (consumed === 0 && !done && !this.#outputPending) {
        // No progress at all: with more input to come, wait for it; at the end, the codec
        // should have reported the truncation itself.
        if (!atEnd) return null;
        throw new ChunkerError('internal', `${decoder.codec}: the decoder stopped before the end of the stream`, false);
      }
    }
    return null;
  }

  /** Under `auto`: picks the codec from the held bytes (`none` when no magic number matches). */
  #detect(): StreamDecoderSync {
    const codec = detectCodec(this.#input.subarray(this.#pos)) ?? 'none';
    this.#decoder = new StreamDecoderSync(codec, this.maxOutputBytes);
    return this.#decoder;
  }
}
