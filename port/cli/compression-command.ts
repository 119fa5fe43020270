/** `chunker compress`, `chunker decompress` and `chunker dict train`. */
import { readFile } from 'node:fs/promises';
import {
  COMPRESSION_CODECS,
  CompressionDictionary,
  DECOMPRESSION_CODECS,
  DEFAULT_MAX_OUTPUT_BYTES,
  compress,
  decompress,
  detectCodec,
  trainDictionary,
  type CompressionCodec,
  type DecompressionCodec,
} from '../engine/compression.js';
import { ChunkerError } from '../errors.js';
import { parseArgs, parseByteSize, UsageError } from './args.js';
import { openInput } from './input.js';
import { writeOut } from './output.js';

export const COMPRESSION_USAGE = `chunker compress FILE|- [--codec zstd|lz4|xz|bzip2|none] [--level N] [--dictionary FILE]
  Writes one compressed frame to stdout (zstd level 3 by default; zstd levels may be negative).
chunker decompress FILE|- [--codec auto|zstd|lz4|xz|bzip2|none] [--max-output SIZE] [--dictionary FILE]
  Writes the decompressed bytes to stdout; the codec is detected by default. Output past
  --max-output (default 1G) fails with size_exceeded before it is produced.
chunker dict train FILE... [--max-bytes SIZE] [--split SIZE]
  Trains a zstd dictionary (default at most 110K) from the files as samples, or from
  pieces of --split bytes of them, and writes it to stdout; its id goes to stderr.`;

async function readInput(path: string): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of await openInput(path)) pieces.push(piece);
  return Buffer.concat(pieces);
}

async function readDictionary(path: string | undefined): Promise<CompressionDictionary | undefined> {
  if (path === undefined) return undefined;
  try {
    return CompressionDictionary.load(await readFile(path));
  } catch (error) {
    if (error instanceof ChunkerError) throw error;
    const { code, message } = error as NodeJS.ErrnoException;
    throw new ChunkerError(code === 'ENOENT' ? 'not_found' : 'io_error', message);
  }
}

function parseLevel(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new UsageError(`--level expects an integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

function parseCodec<T extends string>(text: string | undefined, allowed: readonly T[], fallback: T): T {
  if (text === undefined) return fallback;
  if (!allowed.includes(text as T)) throw new UsageError(`--codec expects ${allowed.join(', ')}, got ${JSON.stringify(text)}`);
  return text as T;
}

function refuseTerminal(): void {
  if (process.stdout.isTTY) throw new UsageError('refusing to write binary data to a terminal; redirect stdout');
}

export async function compressCommand(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, { values: ['codec', 'level', 'dictionary'], flags: [] });
  if (args.positionals.length !== 1) throw new UsageError('compress needs exactly one FILE (or - for stdin)');
  const codec = parseCodec<CompressionCodec>(args.values.get('codec'), COMPRESSION_CODECS, 'zstd');
  const level = args.values.has('level') ? parseLevel(args.values.get('level')!) : undefined;
  const dictionary = await readDictionary(args.values.get('dictionary'));
  refuseTerminal();
  const input = await readInput(args.positionals[0]!);
  await writeOut(await compress(input, { codec, level, dictionary }));
}

export async function decompressCommand(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, { values: ['codec', 'max-output', 'dictionary'], flags: [] });
  if (args.positionals.length !== 1) throw new UsageError('decompress needs exactly one FILE (or - for stdin)');
  const codec = parseCodec<DecompressionCodec>(args.values.get('codec'), DECOMPRESSION_CODECS, 'auto');
  const maxOutputBytes = args.values.has('max-output')
    ? parseByteSize('max-output', args.values.get('max-output')!)
    : DEFAULT_MAX_OUTPUT_BYTES;
  const dictionary = await readDictionary(args.values.get('dictionary'));
  refuseTerminal();
  const input = await readInput(args.positionals[0]!);
  const output = await decompress(input, { codec, maxOutputBytes, dictionary });
  await writeOut(output);
  process.stderr.write(`${input.length} -> ${output.length} bytes (${codec === 'auto' ? detectCodec(input) : codec})\n`);
}

export async function dictCommand(argv: readonly string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== 'train') throw new UsageError(`dict needs a subcommand: train\n${COMPRESSION_USAGE}`);
  const args = parseArgs(rest, { values: ['max-bytes', 'split'], flags: [] });
  if (args.positionals.length === 0) throw new UsageError('dict train needs at least one FILE');
  const maxBytes = args.values.has('max-bytes') ? parseByteSize('max-bytes', args.values.get('max-bytes')!) : undefined;
  const split = args.values.has('split') ? parseByteSize('split', args.values.get('split')!) : undefined;
  if (split === 0) throw new UsageError('--split must be at least 1 byte');
  refuseTerminal();
  const samples: Uint8Array[] = [];
  for (const path of args.positionals) {
    const bytes = await readInput(path);
    if (split === undefined) samples.push(bytes);
    else for (let at = 0; at < bytes.length; at += split) samples.push(bytes.subarray(at, at + split));
  }
  const dictionary = await trainDictionary(samples, { maxBytes });
  await writeOut(dictionary.bytes);
  process.stderr.write(`dictionary id ${dictionary.id}, ${dictionary.bytes.length} bytes, from ${samples.length} samples\n`);
}
