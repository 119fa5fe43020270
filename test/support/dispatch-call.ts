/** Requests through a Dispatcher the way the port program hands it a frame's payload. */
import { encode } from '@msgpack/msgpack';
import { expect } from 'vitest';
import type { Dispatcher } from '../../port/dispatch.js';
import type { Message } from '../../port/protocol.js';

export interface WireError {
  code: string;
  message: string;
  permanent: boolean;
}

/** Sends `message` as one frame and returns the single answer it gets. */
export async function callDispatcher(target: Dispatcher, message: Message): Promise<Message> {
  const sent: Message[] = [];
  await target.handlePayload(encode(message, { useBigInt64: true }), (answer) => sent.push(answer));
  expect(sent).toHaveLength(1);
  return sent[0]!;
}

/** The error an answer carries; fails the test when the answer is a success. */
export function wireErrorOf(answer: Message): WireError {
  expect(answer.ok, JSON.stringify(answer)).toBe(false);
  return answer.error as WireError;
}
