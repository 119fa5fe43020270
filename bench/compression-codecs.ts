/**
 * Part of the compression section: lz4, xz and bzip2 at the engine's default levels against
 * their command-line tools at the same levels, on the same bytes, and decompression of the
 * same frames by the engine and by each tool (zstd included).
 *
 * - Levels: the engine's defaults, which are the tools' own defaults: `lz4 -1`, `xz -6`
 *   (with `-T1`: one thread, as the engine's xz), `bzip2 -9`. zstd's compression is
 *   measured by compression-section.ts; here only its decompression (`zstd -d`).
 * - Bytes: a spread sample of the corpus (corpus-sample.ts), smaller for the slow codecs
 *   (SAMPLE_BYTES), the same for the engine and the tool.
 * - Timing: the engine's `compress()`/`decompress()` of the whole sample as one frame, from
 *   memory (it runs on one pool thread); the tool as a whole process, `tool -c FILE >
 *   /dev/null` (so its process start and file read count against it: a few ms). Best of
 *   the passes; the two alternate within a pass.
 * - Ratio: compressed / original; the tool's from an untimed run. The engine decompresses
 *   the tool's output and the tool the engine's, both checked against the sample (untimed).
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compress, decompress, levelRange, type CompressionCodec } from '../port/engine/compression.js';
import { codecFigure, type CodecFigure } from './codec-figure.js';
import { spreadSample } from './corpus-sample.js';
import { findExecutable } from './peers.js';
import { collectGarbage, megabytesPerSecond, nowSeconds } from './timing.js';
import { MIB } from './units.js';

type ToolCodec = Exclude<CompressionCodec, 'none'>;

/**
 * Sample bytes per codec (and with --quick). xz -6 compresses 2–4 MB/s here and bzip2 -9
 * about 12, so their samples are small enough for the section to take tens of seconds.
 */
export const SAMPLE_BYTES: Record<ToolCodec, { full: number; quick: number }> = {
  lz4: { full: 128 * MIB, quick: 32 * MIB },
  zstd: { full: 128 * MIB, quick: 32 * MIB },
  xz: { full: 4 * MIB, quick: 2 * MIB },
  bzip2: { full: 8 * MIB, quick: 4 * MIB },
};

/** The tool's arguments to compress at the engine's default level (`shown` in the table), and to decompress. */
const TOOL_ARGS: Record<ToolCodec, { compress: (level: number) => string[]; shown: (level: number) => string; decompress: string[] }> = {
  lz4: { compress: (level) => [`-${level}`, '-q', '-c'], shown: (level) => `lz4 -${level}`, decompress: ['-d', '-q', '-c'] },
  zstd: { compress: (level) => [`-${level}`, '--single-thread', '-q', '-c'], shown: (level) => `zstd -${level}`, decompress: ['-d', '-q', '-c'] },
  xz: { compress: (level) => [`-${level}`, '-T1', '-c'], shown: (level) => `xz -${level} -T1`, decompress: ['-d', '-T1', '-c'] },
  bzip2: { compress: (level) => [`-${level}`, '-c'], shown: (level) => `bzip2 -${level}`, decompress: ['-d', '-c'] },
};

export interface DecompressFigure {
  name: string;
  /** Decompressed bytes. */
  bytes: number;
  seconds: number;
  runs: number[];
  megabytesPerSecond: number;
}

export interface CodecPeerFigures {
  codec: ToolCodec;
  level: number;
  sampleBytes: number;
  /** The tool's version line, or null when it is missing. */
  tool: string | null;
  /** Why the tool's rows are missing. */
  toolError: string | null;
  /** Null for zstd (compression-section.ts measures it). */
  oursCompress: CodecFigure | null;
  toolCompress: CodecFigure | null;
  oursDecompress: DecompressFigure;
  toolDecompress: DecompressFigure | null;
}

function decompressFigure(name: string, bytes: number, runs: number[]): DecompressFigure {
  const seconds = Math.min(...runs);
  return { name, bytes, seconds, runs, megabytesPerSecond: megabytesPerSecond(bytes, seconds) };
}

/** Runs the tool on `path` with stdout to /dev/null; whole process timed. */
function timeTool(command: string, args: readonly string[], path: string): number {
  const devNull = openSync('/dev/null', 'w');
  try {
    const started = nowSeconds();
    const result = spawnSync(command, [...args, path], { stdio: ['ignore', devNull, 'pipe'], encoding: 'utf8' });
    const seconds = nowSeconds() - started;
    if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}: ${result.stderr.trim()}`);
    return seconds;
  } finally {
    closeSync(devNull);
  }
}

/** The tool's output for `path` (untimed). */
function runTool(command: string, args: readonly string[], path: string, expectBytes: number): Buffer {
  const result = spawnSync(command, [...args, path], { maxBuffer: expectBytes * 2 + MIB });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}: ${result.stderr.toString().trim()}`);
  return result.stdout;
}

function toolVersion(command: string): string | null {
  if (findExecutable(command) === null) return null;
  // lz4 and bzip2 print their version on stderr; xz and zstd on stdout.
  const flag = command === 'bzip2' ? '--help' : '--version';
  const result = spawnSync(command, [flag], { encoding: 'utf8' });
  const line = `${result.stdout}\n${result.stderr}`.split('\n').find((text) => /\d+\.\d+/.test(text));
  return line?.trim().replace(/^\*+\s*|\s*\*+$/g, '').replace(/,.*$/, '') ?? command;
}

async function measureCodec(codec: ToolCodec, files: readonly string[], quick: boolean, passes: number, dir: string): Promise<CodecPeerFigures> {
  const level = levelRange(codec).default;
  const sample = spreadSample(files, quick ? SAMPLE_BYTES[codec].quick : SAMPLE_BYTES[codec].full);
  const samplePath = join(dir, `sample.${codec}.in`);
  writeFileSync(samplePath, sample);
  const tool = toolVersion(codec);
  let toolError: string | null = tool === null ? `${codec} not found on PATH` : null;
  const toolArgs = TOOL_ARGS[codec];
  const measureCompression = codec !== 'zstd';

  const oursRuns: number[] = [];
  const toolRuns: number[] = [];
  let frame: Uint8Array = new Uint8Array(0);
  for (let pass = 0; pass < (measureCompression ? passes : 1); pass++) {
    collectGarbage();
    const started = nowSeconds();
    frame = await compress(sample, { codec, level });
    oursRuns.push(nowSeconds() - started);
    if (measureCompression && toolError === null) {
      try {
        toolRuns.push(timeTool(codec, toolArgs.compress(level), samplePath));
      } catch (error) {
        toolError = (error as Error).message;
      }
    }
  }
  const framePath = join(dir, `sample.${codec}.ours`);
  writeFileSync(framePath, frame);

  let toolCompress: CodecFigure | null = null;
  if (measureCompression && toolError === null) {
    try {
      const theirs = runTool(codec, toolArgs.compress(level), samplePath, sample.length);
      const back = await decompress(theirs, { codec, maxOutputBytes: sample.length });
      if (Buffer.compare(back, sample) !== 0) throw new Error(`the engine does not read ${codec}'s output back to the sample`);
      toolCompress = codecFigure(`${toolArgs.shown(level)} (CLI)`, sample.length, theirs.length, toolRuns);
    } catch (error) {
      toolError = (error as Error).message;
    }
  }

  const oursDecompressRuns: number[] = [];
  const toolDecompressRuns: number[] = [];
  for (let pass = 0; pass < passes; pass++) {
    collectGarbage();
    const started = nowSeconds();
    const output = await decompress(frame, { codec, maxOutputBytes: sample.length });
    oursDecompressRuns.push(nowSeconds() - started);
    if (Buffer.compare(output, sample) !== 0) throw new Error(`${codec} round trip differs`);
    if (toolError === null) {
      try {
        toolDecompressRuns.push(timeTool(codec, toolArgs.decompress, framePath));
      } catch (error) {
        toolError = (error as Error).message;
      }
    }
  }
  let toolDecompress: DecompressFigure | null = null;
  if (toolError === null) {
    try {
      if (Buffer.compare(runTool(codec, toolArgs.decompress, framePath, sample.length), sample) !== 0) {
        throw new Error(`${codec} -d does not read the engine's frame back to the sample`);
      }
      toolDecompress = decompressFigure(`${codec} ${toolArgs.decompress.join(' ')} (CLI)`, sample.length, toolDecompressRuns);
    } catch (error) {
      toolError = (error as Error).message;
    }
  }

  return {
    codec,
    level,
    sampleBytes: sample.length,
    tool,
    toolError,
    oursCompress: measureCompression ? codecFigure(`engine ${codec} level ${level}`, sample.length, frame.length, oursRuns) : null,
    toolCompress,
    oursDecompress: decompressFigure(`engine ${codec} decompress()`, sample.length, oursDecompressRuns),
    toolDecompress,
  };
}

/** lz4, xz, bzip2 and zstd against their tools; see the module comment. */
export async function measureCodecPeers(files: readonly string[], quick: boolean, passes: number): Promise<CodecPeerFigures[]> {
  const dir = mkdtempSync(join(tmpdir(), 'chunker-bench-codecs-'));
  try {
    const figures: CodecPeerFigures[] = [];
    for (const codec of ['lz4', 'xz', 'bzip2', 'zstd'] as const) figures.push(await measureCodec(codec, files, quick, passes, dir));
    return figures;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
