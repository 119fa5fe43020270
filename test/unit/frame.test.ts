import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_FRAME_BYTES,
  FRAME_HEADER_BYTES,
  FRAME_LENGTH_LIMIT_BYTES,
  FrameDecoder,
  encodeFrame,
  type FrameItem,
} from '../../port/frame.js';

const bytes = (...values: number[]) => Uint8Array.from(values);
const payloads = (items: FrameItem[]) =>
  items.map((item) => (item.kind === 'frame' ? Array.from(item.payload) : { tooLarge: item.length }));

describe('encodeFrame', () => {
  it('prefixes the payload with its 4-byte big-endian length', () => {
    expect(Array.from(encodeFrame(bytes(0xaa, 0xbb, 0xcc)))).toEqual([0, 0, 0, 3, 0xaa, 0xbb, 0xcc]);
    expect(encodeFrame(new Uint8Array(0x01_02_03)).subarray(0, 4)).toEqual(Buffer.from([0, 1, 2, 3]));
  });

  it('encodes an empty payload as a bare zero length', () => {
    expect(Array.from(encodeFrame(new Uint8Array(0)))).toEqual([0, 0, 0, 0]);
  });
});

describe('FrameDecoder', () => {
  it('returns a frame that arrives in one push as a view of that push, without copying', () => {
    const stream = encodeFrame(bytes(1, 2, 3));
    const [item] = new FrameDecoder().push(stream);
    expect(item?.kind).toBe('frame');
    const payload = (item as { payload: Uint8Array }).payload;
    expect(Array.from(payload)).toEqual([1, 2, 3]);
    expect(payload.buffer).toBe(stream.buffer);
    expect(payload.byteOffset).toBe(stream.byteOffset + FRAME_HEADER_BYTES);
  });

  it('returns every frame of one push, in order', () => {
    const stream = Buffer.concat([encodeFrame(bytes(1)), encodeFrame(bytes(2, 2)), encodeFrame(bytes(3, 3, 3))]);
    expect(payloads(new FrameDecoder().push(stream))).toEqual([[1], [2, 2], [3, 3, 3]]);
  });

  it('waits for more when a frame arrives byte by byte, then copies it once', () => {
    const decoder = new FrameDecoder();
    const stream = encodeFrame(bytes(9, 8, 7, 6, 5));
    for (let i = 0; i < stream.length - 1; i++) {
      expect(decoder.push(stream.subarray(i, i + 1))).toEqual([]);
      expect(decoder.atFrameBoundary).toBe(false);
      // A partial header is held as is; a complete one becomes the expected length.
      expect(decoder.bufferedBytes).toBe(i < FRAME_HEADER_BYTES ? (i + 1) % FRAME_HEADER_BYTES : i + 1 - FRAME_HEADER_BYTES);
    }
    const items = decoder.push(stream.subarray(stream.length - 1));
    expect(payloads(items)).toEqual([[9, 8, 7, 6, 5]]);
    expect((items[0] as { payload: Uint8Array }).payload.buffer).not.toBe(stream.buffer);
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.atFrameBoundary).toBe(true);
  });

  it('keeps a completed multi-piece payload independent of later pushes', () => {
    const decoder = new FrameDecoder();
    const first = Buffer.from([0, 0, 0, 2, 0x11]);
    const second = Buffer.from([0x22, 0, 0, 0, 1, 0x33]);
    const items = decoder.push(first);
    expect(items).toEqual([]);
    const [a, b] = decoder.push(second);
    second.fill(0);
    first.fill(0);
    expect(Array.from((a as { payload: Uint8Array }).payload)).toEqual([0x11, 0x22]);
    // The second frame is a view of the push (documented: do not modify pushed buffers).
    expect(b?.kind).toBe('frame');
  });

  it('returns a zero-length frame as an empty payload (the caller rejects it)', () => {
    expect(payloads(new FrameDecoder().push(bytes(0, 0, 0, 0, 0, 0, 0, 1, 7)))).toEqual([[], [7]]);
  });

  it('accepts a frame of exactly the maximum and rejects one byte more before buffering it', () => {
    const decoder = new FrameDecoder(4);
    expect(payloads(decoder.push(encodeFrame(bytes(1, 2, 3, 4))))).toEqual([[1, 2, 3, 4]]);
    expect(payloads(decoder.push(bytes(0, 0, 0, 5)))).toEqual([{ tooLarge: 5 }]);
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.atFrameBoundary).toBe(false);
  });

  it('skips exactly the oversized payload, even when it looks like frames, then decodes what follows', () => {
    const decoder = new FrameDecoder(8);
    const hidden = encodeFrame(bytes(0xee)); // inside the skipped payload: must not surface
    const oversized = Buffer.concat([Buffer.from([0, 0, 0, 12]), hidden, Buffer.alloc(12 - hidden.length, 0xff)]);
    const after = encodeFrame(bytes(4, 5));
    const stream = Buffer.concat([oversized, after]);
    const items: FrameItem[] = [];
    for (let i = 0; i < stream.length; i += 3) items.push(...decoder.push(stream.subarray(i, i + 3)));
    expect(payloads(items)).toEqual([{ tooLarge: 12 }, [4, 5]]);
    expect(decoder.atFrameBoundary).toBe(true);
  });

  it('reports the largest possible length against the default maximum', () => {
    const items = new FrameDecoder().push(bytes(0xff, 0xff, 0xff, 0xff));
    expect(items).toEqual([{ kind: 'too_large', length: FRAME_LENGTH_LIMIT_BYTES }]);
    expect(DEFAULT_MAX_FRAME_BYTES).toBe(64 * 1024 * 1024);
  });

  it('reads a header split across pushes', () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(bytes(0, 0))).toEqual([]);
    expect(decoder.bufferedBytes).toBe(2);
    expect(decoder.push(bytes(0))).toEqual([]);
    expect(payloads(decoder.push(bytes(2, 7, 8)))).toEqual([[7, 8]]);
  });

  it('refuses a maximum the length prefix cannot express or that is not a positive integer', () => {
    expect(() => new FrameDecoder(0)).toThrow(RangeError);
    expect(() => new FrameDecoder(2 ** 32)).toThrow(RangeError);
    expect(() => new FrameDecoder(1.5)).toThrow(RangeError);
  });
});
