import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FRAME_HEADER_BYTES, FrameDecoder, encodeFrame, type FrameItem } from '../../port/frame.js';

const payloadsArb = fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 0, maxLength: 12 });

/** Cuts `stream` at the given points (taken modulo its length). */
function slices(stream: Uint8Array, cuts: number[]): Uint8Array[] {
  const bounds = [...new Set([0, ...cuts.map((cut) => cut % (stream.length + 1)), stream.length])].sort((a, b) => a - b);
  return bounds.slice(1).map((end, i) => stream.subarray(bounds[i], end));
}

function decodeAll(decoder: FrameDecoder, pieces: Uint8Array[]): FrameItem[] {
  return pieces.flatMap((piece) => decoder.push(piece));
}

const asArrays = (items: FrameItem[]) => items.map((item) => (item.kind === 'frame' ? Array.from(item.payload) : item));

describe('frame decoder properties', () => {
  it('any slicing of a frame stream gives exactly the encoded payloads', () => {
    fc.assert(
      fc.property(payloadsArb, fc.array(fc.nat(), { maxLength: 20 }), (payloads, cuts) => {
        const stream = Buffer.concat(payloads.map((payload) => encodeFrame(payload)));
        const decoder = new FrameDecoder(1024);
        expect(asArrays(decodeAll(decoder, slices(stream, cuts)))).toEqual(payloads.map((payload) => Array.from(payload)));
        expect(decoder.atFrameBoundary).toBe(true);
        expect(decoder.bufferedBytes).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('every truncated prefix asks for more: the complete frames so far, never an error', () => {
    fc.assert(
      fc.property(payloadsArb.filter((payloads) => payloads.length > 0), fc.array(fc.nat(), { maxLength: 6 }), (payloads, cuts) => {
        const frames = payloads.map((payload) => encodeFrame(payload));
        const stream = Buffer.concat(frames);
        const frameEnds: number[] = [];
        frames.reduce((end, frame) => (frameEnds.push(end + frame.length), end + frame.length), 0);
        for (let length = 0; length < stream.length; length++) {
          const decoder = new FrameDecoder(1024);
          const items = decodeAll(decoder, slices(stream.subarray(0, length), cuts));
          const complete = frameEnds.filter((end) => end <= length).length;
          expect(items.every((item) => item.kind === 'frame')).toBe(true);
          expect(asArrays(items)).toEqual(payloads.slice(0, complete).map((payload) => Array.from(payload)));
          expect(decoder.atFrameBoundary).toBe(frameEnds.includes(length) || length === 0);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('random bytes give frames within the maximum or too_large items, and nothing else', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 2000 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        fc.integer({ min: 1, max: 600 }),
        (garbage, cuts, maxFrameBytes) => {
          const decoder = new FrameDecoder(maxFrameBytes);
          const items = decodeAll(decoder, slices(garbage, cuts));
          // Bytes the items account for: whole frames, and the headers of refused ones.
          let accounted = 0;
          for (const item of items) {
            if (item.kind === 'frame') {
              expect(item.payload.length).toBeLessThanOrEqual(maxFrameBytes);
              accounted += FRAME_HEADER_BYTES + item.payload.length;
            } else {
              expect(item.kind).toBe('too_large');
              expect(item.length).toBeGreaterThan(maxFrameBytes);
              accounted += FRAME_HEADER_BYTES;
            }
          }
          expect(accounted).toBeLessThanOrEqual(garbage.length);
          expect(decoder.bufferedBytes).toBeLessThanOrEqual(Math.max(FRAME_HEADER_BYTES, maxFrameBytes));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an oversized frame is refused at its header and costs no memory while it is skipped', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4096 }),
        fc.integer({ min: 1, max: 200_000 }),
        fc.array(fc.integer({ min: 1, max: 50_000 }), { minLength: 1, maxLength: 20 }),
        (maxFrameBytes, excess, pieceSizes) => {
          const length = maxFrameBytes + excess;
          const decoder = new FrameDecoder(maxFrameBytes);
          const header = Buffer.alloc(FRAME_HEADER_BYTES);
          header.writeUInt32BE(length);
          expect(decoder.push(header)).toEqual([{ kind: 'too_large', length }]);
          let sent = 0;
          let piece = 0;
          while (sent < length) {
            const size = Math.min(pieceSizes[piece++ % pieceSizes.length]!, length - sent);
            expect(decoder.push(new Uint8Array(size).fill(0x41))).toEqual([]);
            sent += size;
            // Bounded by the header, whatever the frame's size.
            expect(decoder.bufferedBytes).toBe(0);
          }
          expect(decoder.atFrameBoundary).toBe(true);
          expect(decoder.push(encodeFrame(Uint8Array.of(1)))).toHaveLength(1);
        },
      ),
      { numRuns: 100 },
    );
  });
});
