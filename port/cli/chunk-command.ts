/** `chunker chunk FILE|-`: prints the chunks of one input. */
import { chunkStream } from '../engine/chunk-stream.js';
import {
  DECOMPRESSION_CODECS,
  DEFAULT_STREAM_MAX_OUTPUT_BYTES,
  DecompressingStream,
  type DecompressionCodec,
} from '../engine/compression.js';
import { resolveChunkingOptions, type ChunkingOptions, type HashAlgorithm, type SizePreset } from '../engine/chunking-options.js';
import { parseArgs, parseByteSize, parseInteger, parseSeed, UsageError } from './args.js';
import { openInput } from './input.js';
import { hex, writeOut } from './output.js';

export const CHUNK_USAGE = `chunker chunk FILE|- [--preset default|nif|small] [--min N] [--avg N] [--max N]
                     [--level 0-3] [--seed S] [--hash sha256|blake3|none] [--json]
                     [--decompress auto|zstd|lz4|xz|bzip2|none] [--max-output SIZE]
  Prints one line per chunk: "offset length hash", or with --json one JSON object per line:
  {"offset":N,"length":N,"gear":"<u64 decimal>","hash":"<hex>"}. Sizes accept K/M suffixes.
  A summary goes to stderr. --decompress chunks the decompressed bytes of a compressed
  input (a .nar.xz, .nar.zst, ...) as it is read; auto passes plain input through.`;

export async function chunkCommand(argv: readonly string[]): Promise<void> {
  const args = parseArgs(argv, { values: ['min', 'avg', 'max', 'level', 'seed', 'hash', 'preset', 'decompress', 'max-output'], flags: ['json'] });
  if (args.positionals.length !== 1) throw new UsageError('chunk needs exactly one FILE (or - for stdin)');
  const options: ChunkingOptions = {};
  const { values } = args;
  if (values.has('preset')) options.preset = values.get('preset') as SizePreset;
  if (values.has('min')) options.minSize = parseByteSize('min', values.get('min')!);
  if (values.has('avg')) options.avgSize = parseByteSize('avg', values.get('avg')!);
  if (values.has('max')) options.maxSize = parseByteSize('max', values.get('max')!);
  if (values.has('level')) options.normalization = parseInteger('level', values.get('level')!);
  if (values.has('seed')) options.seed = parseSeed(values.get('seed')!);
  if (values.has('hash')) options.hash = values.get('hash') as HashAlgorithm;
  // Validate before opening the input so bad options fail fast even on stdin.
  const resolved = resolveChunkingOptions(options);
  const json = args.flags.has('json');
  const decompress = values.get('decompress');
  if (decompress !== undefined && !DECOMPRESSION_CODECS.includes(decompress as DecompressionCodec)) {
    throw new UsageError(`--decompress expects ${DECOMPRESSION_CODECS.join(', ')}, got ${JSON.stringify(decompress)}`);
  }
  const maxOutputBytes = values.has('max-output')
    ? parseByteSize('max-output', values.get('max-output')!)
    : DEFAULT_STREAM_MAX_OUTPUT_BYTES;
  const input = await openInput(args.positionals[0]!);
  const source =
    decompress === undefined
      ? input
      : new DecompressingStream(input, {
          codec: decompress as DecompressionCodec,
          maxOutputBytes,
          plainWhenUnknown: decompress === 'auto',
        });

  let count = 0;
  let bytes = 0;
  for await (const chunks of chunkStream(source, resolved)) {
    if (chunks.length === 0) continue;
    let text = '';
    for (const chunk of chunks) {
      text += json
        ? `{"offset":${chunk.offset},"length":${chunk.length},"gear":"${chunk.gear}","hash":"${hex(chunk.hash)}"}\n`
        : `${chunk.offset}\t${chunk.length}\t${hex(chunk.hash)}\n`;
    }
    count += chunks.length;
    bytes += chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    await writeOut(text);
  }
  const sizes = `${resolved.minSize}/${resolved.avgSize}/${resolved.maxSize}`;
  process.stderr.write(
    `${count} chunks, ${bytes} bytes, mean ${count ? Math.round(bytes / count) : 0} bytes (min/avg/max ${sizes}, level ${resolved.normalization}, ${resolved.hash})\n`,
  );
}
