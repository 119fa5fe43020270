/**
 * The golden vectors in protocol/vectors: every frame decodes to its value, the value
 * re-encodes to exactly its frame, alternative encodings decode to the same value, and
 * the port's own codec, dispatcher and answers agree with them.
 */
import { describe, expect, it } from 'vitest';
import { Decoder, Encoder } from '@msgpack/msgpack';
import { Dispatcher, portOps } from '../../port/dispatch.js';
import { DEFAULT_MAX_FRAME_BYTES, FrameDecoder, encodeFrame, type FrameItem } from '../../port/frame.js';
import { createPortContext } from '../../port/ops/context.js';
import { packageVersion } from '../../port/ops/hello.js';
import { ERROR_PERMANENCE, decodeMessage, encodeMessageFrame, requestId, type Message } from '../../port/protocol.js';
import { DEFAULT_BUDGET, DEFAULT_MAX_SESSIONS } from '../../port/session.js';
import {
  fromJsonForm,
  hexBytes,
  loadInvalidVectors,
  loadValueVectors,
  toJsonForm,
  type JsonForm,
  type Vector,
} from '../support/vector-json.js';

const canonicalEncoder = new Encoder({ sortKeys: true, useBigInt64: true });
const decoder = new Decoder({ useBigInt64: true });
const vectorFiles = loadValueVectors();
const allVectors = [...vectorFiles.values()].flat();
const byName = new Map(allVectors.map((vector) => [vector.name, vector]));

/** The single payload of a whole frame, checked to be exactly one frame. */
function payloadOf(frameHex: string): Uint8Array {
  const items = new FrameDecoder(2 ** 32 - 1).push(hexBytes(frameHex));
  expect(items).toHaveLength(1);
  const [item] = items as [FrameItem];
  if (item.kind !== 'frame') throw new Error('not a frame');
  return item.payload;
}

function canonicalHex(value: JsonForm): string {
  return encodeFrame(canonicalEncoder.encode(fromJsonForm(value))).toString('hex');
}

/** A decoded reply or event as the port would hold it (uints as numbers, not bigints). */
function asPortMessage(value: unknown): Message {
  return JSON.parse(JSON.stringify(toJsonForm(value)), (_key, item: unknown) => {
    if (item !== null && typeof item === 'object' && Object.keys(item).length === 1 && '$bin' in item) {
      return hexBytes((item as { $bin: string }).$bin);
    }
    return item;
  }) as Message;
}

function freshDispatcher(): Dispatcher {
  const context = createPortContext({ maxFrameBytes: DEFAULT_MAX_FRAME_BYTES, maxSessions: DEFAULT_MAX_SESSIONS }, DEFAULT_BUDGET);
  return new Dispatcher(context);
}

/** Every message the dispatcher sends for one frame (awaiting asynchronous operations). */
async function answersTo(frame: Uint8Array, dispatcher = freshDispatcher()): Promise<Message[]> {
  const sent: Message[] = [];
  for (const item of new FrameDecoder().push(frame)) await dispatcher.handle(item, (message) => sent.push(message));
  return sent;
}

describe('protocol vectors', () => {
  it('are named uniquely across all files', () => {
    const names = [...allVectors, ...loadInvalidVectors()].map((vector) => vector.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeGreaterThan(100);
  });

  for (const [file, vectors] of vectorFiles) {
    describe(file, () => {
      for (const vector of vectors) {
        it(`${vector.name} decodes to its value and re-encodes to its frame`, () => {
          const payload = payloadOf(vector.hex);
          expect(toJsonForm(decoder.decode(payload))).toEqual(vector.value);
          // On failure this shows the canonical hex, which is how a new vector is written.
          expect(canonicalHex(vector.value)).toBe(vector.hex);
          for (const alternative of vector.also_valid_hex ?? []) {
            expect(alternative).not.toBe(vector.hex);
            expect(toJsonForm(decoder.decode(payloadOf(alternative))), alternative).toEqual(vector.value);
          }
        });
      }
    });
  }

  it('requests decode with the port codec and carry a usable id', () => {
    for (const vector of vectorFiles.get('requests.json')!) {
      for (const frame of [vector.hex, ...(vector.also_valid_hex ?? [])]) {
        const message = decodeMessage(payloadOf(frame));
        expect(requestId(message), vector.name).toBe((vector.value as { id: number }).id);
      }
    }
  });

  it('replies and events re-encode with the port encoder to exactly their frame', () => {
    for (const vector of [...vectorFiles.get('replies.json')!, ...vectorFiles.get('events.json')!]) {
      const message = asPortMessage(decoder.decode(payloadOf(vector.hex)));
      expect(encodeMessageFrame(message).toString('hex'), vector.name).toBe(vector.hex);
    }
  });

  it('cover every op with a request and every error code with a reply or an event', () => {
    const ops = new Set(vectorFiles.get('requests.json')!.map((vector) => (vector.value as { op: string }).op));
    expect([...ops].sort()).toEqual([...portOps().keys()].sort());
    const codes = new Set(
      [...vectorFiles.get('replies.json')!, ...vectorFiles.get('events.json')!]
        .map((vector) => (vector.value as { error?: { code: string; permanent: boolean } }).error)
        .filter((error) => error !== undefined)
        .map((error) => {
          expect(error.permanent, error.code).toBe(ERROR_PERMANENCE[error.code as keyof typeof ERROR_PERMANENCE]);
          return error.code;
        }),
    );
    expect([...codes].sort()).toEqual(Object.keys(ERROR_PERMANENCE).sort());
  });

  it('cover every MessagePack format the protocol relies on, canonical or alternative', () => {
    const heads = new Set<string>();
    const formatOf = (byte: number): string => {
      if (byte <= 0x7f) return 'positive fixint';
      if (byte <= 0x8f) return 'fixmap';
      if (byte <= 0x9f) return 'fixarray';
      if (byte <= 0xbf) return 'fixstr';
      if (byte >= 0xe0) return 'negative fixint';
      return byte.toString(16);
    };
    for (const vector of [...vectorFiles.get('msgpack.json')!, ...vectorFiles.get('msgpack-large.json')!]) {
      for (const frame of [vector.hex, ...(vector.also_valid_hex ?? [])]) heads.add(formatOf(payloadOf(frame)[0]!));
    }
    const required = ['positive fixint', 'negative fixint', 'fixmap', 'fixarray', 'fixstr'];
    // nil, false, true; bin8/16/32; uint8..64; int8..64; str8/16/32; array16/32; map16/32.
    required.push('c0', 'c2', 'c3', 'c4', 'c5', 'c6', 'cc', 'cd', 'ce', 'cf', 'd0', 'd1', 'd2', 'd3');
    required.push('d9', 'da', 'db', 'dc', 'dd', 'de', 'df');
    expect([...heads].sort()).toEqual(required.sort());
  });

  it('pair with the port: each `answers` reply is exactly what the dispatcher sends for its request', async () => {
    const answered = allVectors.filter((vector): vector is Vector & { answers: string } => vector.answers !== undefined);
    expect(answered.length).toBeGreaterThanOrEqual(5);
    for (const reply of answered) {
      const request = byName.get(reply.answers)!;
      const dispatcher = freshDispatcher();
      for (const name of reply.after ?? []) {
        const [earlier] = await answersTo(hexBytes(byName.get(name)!.hex), dispatcher);
        expect(earlier?.ok, `${reply.name}: ${name} first`).toBe(true);
      }
      const [message, ...extra] = await answersTo(hexBytes(request.hex), dispatcher);
      expect(extra).toEqual([]);
      if (reply.name === 'reply.hello') {
        // The package version moves; everything else is fixed by protocol 1.
        expect(toJsonForm(message)).toEqual({ ...(reply.value as object), version: packageVersion() });
      } else {
        expect(encodeMessageFrame(message!).toString('hex'), reply.name).toBe(reply.hex);
      }
    }
  });
});

describe('invalid frames', () => {
  for (const vector of loadInvalidVectors()) {
    it(`${vector.name} is answered with ${vector.expect.code} as ${vector.expect.as}`, async () => {
      const answers = await answersTo(hexBytes(vector.hex));
      expect(answers).toHaveLength(1);
      const [answer] = answers as [Message];
      const error = answer.error as { code: string; permanent: boolean };
      expect(error.code).toBe(vector.expect.code);
      expect(error.permanent).toBe(ERROR_PERMANENCE[vector.expect.code as keyof typeof ERROR_PERMANENCE]);
      if (vector.expect.as === 'event') {
        expect(answer.event).toBe('error');
        expect(answer).not.toHaveProperty('id');
      } else {
        expect(answer.id).toBe(vector.expect.id);
        expect(answer.ok).toBe(false);
      }
    });
  }
});
