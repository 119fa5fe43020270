/** `hash` (spec §4): the digest of one input. */
import { nativeHashAlg, type HashAlgorithm } from '../engine/chunking-options.js';
import { invalidParameter } from '../errors.js';
import { native } from '../native.js';
import { readBin, readOptionalString, type Message, type Request } from '../protocol.js';

const DIGEST_ALGORITHMS: readonly HashAlgorithm[] = ['sha256', 'blake3'];

export function hashOp(request: Request): Message {
  const data = readBin(request.args, 'data');
  const algorithm = readOptionalString(request.args, 'algorithm') ?? 'sha256';
  if (!DIGEST_ALGORITHMS.includes(algorithm as HashAlgorithm)) {
    throw invalidParameter('algorithm', DIGEST_ALGORITHMS.join(' | '), algorithm);
  }
  return { hash: native.hash(nativeHashAlg(algorithm as HashAlgorithm), data) };
}
