/** `chunker hash FILE [--base32] [--type sha256|blake3]`: the digest of a whole file. */
import { createHash } from 'node:crypto';
import { createBLAKE3 } from 'hash-wasm';
import { encodeNixBase32 } from '../engine/nix-base32.js';
import { parseArgs, UsageError } from './args.js';
import { openInput } from './input.js';
import { hex, writeOut } from './output.js';

export const HASH_USAGE = `chunker hash FILE|- [--type sha256|blake3] [--base32]
  Prints the digest in hex, or in Nix base32 with --base32 (as nix-hash --flat --base32).`;

interface StreamingDigest {
  update(bytes: Uint8Array): void;
  digest(): Uint8Array;
}

async function openDigest(type: string): Promise<StreamingDigest> {
  if (type === 'sha256') {
    const hash = createHash('sha256');
    return { update: (bytes) => hash.update(bytes), digest: () => hash.digest() };
  }
  if (type === 'blake3') {
    // Streaming BLAKE3 of a whole file; chunk digests use the native implementation.
    const hash = await createBLAKE3();
    hash.init();
    return { update: (bytes) => hash.update(bytes), digest: () => hash.digest('binary') };
  }
  throw new UsageError(`--type expects sha256 or blake3, got ${JSON.stringify(type)}`);
}

export async function hashCommand(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, { values: ['type'], flags: ['base32'] });
  if (args.positionals.length !== 1) throw new UsageError('hash needs exactly one FILE (or - for stdin)');
  const digest = await openDigest(args.values.get('type') ?? 'sha256');
  for await (const bytes of await openInput(args.positionals[0]!)) digest.update(bytes);
  const value = digest.digest();
  await writeOut(`${args.flags.has('base32') ? encodeNixBase32(value) : hex(value)}\n`);
}
