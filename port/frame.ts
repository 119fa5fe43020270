/**
 * Length-prefixed frames (protocol/spec.md §1): a 4-byte unsigned big-endian length `N`,
 * then `N` payload bytes — Erlang's `{:packet, 4}`.
 *
 * The decoder is pure: it takes bytes in any slicing and returns what became complete.
 * - A partial frame is not an error; the decoder simply waits for more bytes.
 * - The length is checked against the maximum *before* any payload is buffered: an
 *   oversized frame yields a `too_large` item and its `N` bytes are then skipped as they
 *   arrive, so it never costs more memory than its header.
 * - Pieces of a frame are kept as a list of views and copied once, when the frame is
 *   complete; a frame that arrives inside one pushed buffer is returned as a view of it,
 *   without any copy (so fed data reaches the chunker without being copied again).
 */

/** Size of the length prefix. */
export const FRAME_HEADER_BYTES = 4;
/** The largest length a 4-byte prefix can express. */
export const FRAME_LENGTH_LIMIT_BYTES = 0xffff_ffff;
/** Default maximum payload size (spec §1), changed with `--max-frame-bytes`. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

export type FrameItem =
  /** A complete payload (possibly empty: the spec forbids N = 0, the caller rejects it). */
  | { readonly kind: 'frame'; readonly payload: Uint8Array }
  /** A frame whose length exceeds the maximum; its payload is being skipped. */
  | { readonly kind: 'too_large'; readonly length: number };

const EMPTY = new Uint8Array(0);

export class FrameDecoder {
  readonly #maxFrameBytes: number;
  /** Header bytes seen so far when a header straddles pushes. */
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerFill = 0;
  /** Payload length of the frame being collected, or -1 while reading a header. */
  #expected = -1;
  /** Views of the current frame's payload received so far. */
  #pieces: Uint8Array[] = [];
  #piecesBytes = 0;
  /** Payload bytes of an oversized frame still to discard. */
  #skipRemaining = 0;

  constructor(maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {
    if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1 || maxFrameBytes > FRAME_LENGTH_LIMIT_BYTES) {
      throw new RangeError(`maxFrameBytes must be an integer in 1..${FRAME_LENGTH_LIMIT_BYTES}, got ${maxFrameBytes}`);
    }
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Bytes held for an incomplete frame (header and payload). */
  get bufferedBytes(): number {
    return this.#headerFill + this.#piecesBytes;
  }

  /** True between frames, i.e. when the stream could end here without truncating a frame. */
  get atFrameBoundary(): boolean {
    return this.#headerFill === 0 && this.#expected < 0 && this.#skipRemaining === 0;
  }

  /**
   * Consumes `bytes` and returns the items that became complete, in stream order.
   * Returned payloads may be views of `bytes`: the caller must not modify it afterwards.
   */
  push(bytes: Uint8Array): FrameItem[] {
    const items: FrameItem[] = [];
    let pos = 0;
    while (pos < bytes.length) {
      if (this.#skipRemaining > 0) {
        const skipped = Math.min(this.#skipRemaining, bytes.length - pos);
        this.#skipRemaining -= skipped;
        pos += skipped;
      } else if (this.#expected < 0) {
        pos = this.#readHeader(bytes, pos, items);
      } else {
        pos = this.#readPayload(bytes, pos, items);
      }
    }
    return items;
  }

  #readHeader(bytes: Uint8Array, pos: number, items: FrameItem[]): number {
    let length: number;
    if (this.#headerFill === 0 && bytes.length - pos >= FRAME_HEADER_BYTES) {
      length = readUint32BE(bytes, pos);
      pos += FRAME_HEADER_BYTES;
    } else {
      const take = Math.min(FRAME_HEADER_BYTES - this.#headerFill, bytes.length - pos);
      this.#header.set(bytes.subarray(pos, pos + take), this.#headerFill);
      this.#headerFill += take;
      pos += take;
      if (this.#headerFill < FRAME_HEADER_BYTES) return pos;
      this.#headerFill = 0;
      length = readUint32BE(this.#header, 0);
    }
    if (length > this.#maxFrameBytes) {
      items.push({ kind: 'too_large', length });
      this.#skipRemaining = length;
    } else if (length === 0) {
      items.push({ kind: 'frame', payload: EMPTY });
    } else {
      this.#expected = length;
    }
    return pos;
  }

  #readPayload(bytes: Uint8Array, pos: number, items: FrameItem[]): number {
    const expected = this.#expected;
    const available = bytes.length - pos;
    if (this.#piecesBytes === 0 && available >= expected) {
      // The whole payload is inside this push: hand out a view, no copy.
      items.push({ kind: 'frame', payload: bytes.subarray(pos, pos + expected) });
      this.#expected = -1;
      return pos + expected;
    }
    const take = Math.min(expected - this.#piecesBytes, available);
    this.#pieces.push(bytes.subarray(pos, pos + take));
    this.#piecesBytes += take;
    if (this.#piecesBytes === expected) {
      items.push({ kind: 'frame', payload: joinPieces(this.#pieces, expected) });
      this.#pieces = [];
      this.#piecesBytes = 0;
      this.#expected = -1;
    }
    return pos + take;
  }
}

function readUint32BE(bytes: Uint8Array, pos: number): number {
  return ((bytes[pos]! << 24) >>> 0) + (bytes[pos + 1]! << 16) + (bytes[pos + 2]! << 8) + bytes[pos + 3]!;
}

/** The one copy a multi-piece frame costs. */
function joinPieces(pieces: readonly Uint8Array[], length: number): Uint8Array {
  const joined = Buffer.allocUnsafeSlow(length);
  let at = 0;
  for (const piece of pieces) {
    joined.set(piece, at);
    at += piece.length;
  }
  return joined;
}

/** Prefixes `payload` with its length: one allocation, one copy. */
export function encodeFrame(payload: Uint8Array): Buffer {
  if (payload.length > FRAME_LENGTH_LIMIT_BYTES) {
    throw new RangeError(`A frame payload of ${payload.length} bytes does not fit a 4-byte length`);
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}
