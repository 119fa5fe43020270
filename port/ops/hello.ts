/** `hello` (spec §4): protocol check and what this port offers. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HASH_ALGORITHMS, SIZE_PRESETS } from '../engine/chunking-options.js';
import { ChunkerError } from '../errors.js';
import { PROTOCOL_VERSION, readOptionalString, readUint, type Message, type Request } from '../protocol.js';
import type { PortContext } from './context.js';

/**
 * Optional features a client may use after checking for them (spec §4 `hello`):
 * `spool` — the `spool` op and feed's `spool` argument;
 * `compression` — the `compress`, `decompress` and `train_dictionary` ops;
 * `stores` — the `store_*` ops;
 * `session_compression` — `open`'s `compress`, `input_compression` and `max_output`.
 */
export const CAPABILITIES = ['spool', 'compression', 'stores', 'session_compression'] as const;

/** How far up from this module package.json may be (port/ops/ and dist/port/ops/). */
const PACKAGE_SEARCH_DEPTH = 5;

let cachedVersion: string | undefined;

/** The package version, read once from the nearest package.json named "chunker". */
export function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < PACKAGE_SEARCH_DEPTH; depth++, dir = dirname(dir)) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'chunker' && typeof manifest.version === 'string') return (cachedVersion = manifest.version);
    } catch {
      // No (readable) package.json at this level: keep walking up.
    }
  }
  return (cachedVersion = '0.0.0-unknown');
}

function presetsOnTheWire(): Message {
  const presets: Message = {};
  for (const [name, sizes] of Object.entries(SIZE_PRESETS)) {
    presets[name] = { min_size: sizes.minSize, avg_size: sizes.avgSize, max_size: sizes.maxSize };
  }
  return presets;
}

export function helloOp(request: Request, context: PortContext, opNames: readonly string[]): Message {
  const protocol = readUint(request.args, 'protocol');
  readOptionalString(request.args, 'client');
  if (protocol !== PROTOCOL_VERSION) {
    throw new ChunkerError('unsupported_protocol', `This port speaks protocol ${PROTOCOL_VERSION}, not ${protocol}`);
  }
  return {
    protocol: PROTOCOL_VERSION,
    version: packageVersion(),
    ops: [...opNames],
    hashes: [...HASH_ALGORITHMS],
    max_frame_bytes: context.limits.maxFrameBytes,
    default_budget: { bytes: context.defaultBudget.bytes, ms: context.defaultBudget.ms },
    presets: presetsOnTheWire(),
    capabilities: [...CAPABILITIES],
  };
}
