/**
 * A small argument parser for the CLI: `--name value`, `--name=value`, boolean flags,
 * positionals. Unknown options are errors, so a typo never silently falls back to a default.
 */
import { ChunkerError } from '../errors.js';

export interface ArgSpec {
  /** Options that take a value. */
  values: readonly string[];
  /** Options that are on when present. */
  flags: readonly string[];
}

export interface ParsedArgs {
  positionals: string[];
  values: Map<string, string>;
  flags: Set<string>;
}

export class UsageError extends ChunkerError {
  constructor(message: string) {
    super('usage', message);
  }
}

export function parseArgs(argv: readonly string[], spec: ArgSpec): ParsedArgs {
  const parsed: ParsedArgs = { positionals: [], values: new Map(), flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-' || !arg.startsWith('-')) {
      parsed.positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      parsed.positionals.push(...argv.slice(i + 1));
      break;
    }
    const eq = arg.indexOf('=');
    const name = (eq >= 0 ? arg.slice(0, eq) : arg).replace(/^--?/, '');
    if (spec.flags.includes(name)) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      parsed.flags.add(name);
    } else if (spec.values.includes(name)) {
      const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      parsed.values.set(name, value);
    } else {
      throw new UsageError(`unknown option ${arg}`);
    }
  }
  return parsed;
}

const SIZE_UNITS: Record<string, number> = { '': 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** Parses a byte count such as `65536`, `64K`, `64KiB` or `1M` (binary units). */
export function parseByteSize(name: string, text: string): number {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match ? SIZE_UNITS[match[2]!.toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new UsageError(`--${name} expects a byte size like 65536, 64K or 1M, got ${JSON.stringify(text)}`);
  }
  const value = Number(match[1]) * unit;
  if (!Number.isSafeInteger(value)) throw new UsageError(`--${name} is too large: ${text}`);
  return value;
}

export function parseInteger(name: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`--${name} expects a non-negative integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** Parses a 64-bit seed written in decimal or as 0x-prefixed hex. */
export function parseSeed(text: string): bigint {
  if (!/^(0x[0-9a-f]+|\d+)$/i.test(text)) {
    throw new UsageError(`--seed expects a decimal or 0x-hex integer, got ${JSON.stringify(text)}`);
  }
  const seed = BigInt(text);
  if (seed >= 1n << 64n) throw new UsageError(`--seed must fit in 64 bits, got ${text}`);
  return seed;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses a duration such as `500ms`, `5s`, `2m` or `1h` (a bare number is seconds) into milliseconds. */
export function parseDuration(name: string, text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new UsageError(`--${name} expects a duration like 500ms, 5s or 1m, got ${JSON.stringify(text)}`);
  return Math.round(Number(match[1]) * DURATION_UNITS_MS[match[2] ?? 's']!);
}
