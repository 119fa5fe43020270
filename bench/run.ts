/**
 * `npm run bench`: throughput, per-chunk overhead, peers, dedup, Elixir, compression and store uploads on the
 * real NAR corpus (bench/corpus.ts). Writes bench/results/latest.json and prints a short table.
 *
 *   node --expose-gc dist/bench/run.js [--quick] [--only scan,hash,chunkhash,overhead,peers,dedup,elixir,compression,store] [--passes N]
 *                                      [--store-targets s3,sftp,http,local]
 *
 * --quick uses about 200 MB of the corpus (whole NARs, smallest first) and one pass.
 * --store-targets limits the store section to the servers named (default: all), e.g.
 * `npm run bench -- --only store --store-targets sftp` to iterate on one backend in about
 * a minute instead of measuring all four.
 */
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { native } from '../port/native.js';
import type { SizePreset } from '../port/engine/chunking-options.js';
import { ensureCorpus, selectTrees, type CorpusTree } from './corpus.js';
import { allocatePieceBuffer, warmPageCache } from './corpus-reader.js';
import { measureDedup, type PresetDedup } from './dedup.js';
import { timeFromFile, type FromFileFigure } from './from-file.js';
import { buildSample, measureOverhead, type OverheadFigures } from './overhead.js';
import { PEERS, timePeer, type PeerFigure } from './peers.js';
import { Progress } from './progress.js';
import { packageRoot, ratio, renderTable, writeJson, type Row } from './report.js';
import { measureThroughput, throughputVariants, type ThroughputFigure, type ThroughputGroup } from './throughput.js';
import { busyShare } from './machine.js';
import { FEED_PIECE_BYTES, HEADROOM_VM_FLAGS, measureElixir, type ElixirFigures, type LatencyFigure } from './elixir-section.js';
import { measureCompression, PIECE_BYTES as COMPRESSION_PIECE_BYTES, ZSTD_LEVEL, type CompressionFigures } from './compression-section.js';
import { measureStore, type StoreFigures } from './store-section.js';
import { renderStore, storeTargets } from './store-report.js';
import { TARGET_KINDS, type TargetKind } from './store-servers.js';
import { garbageCollectionExposed, nowSeconds } from './timing.js';
import { formatBytes, formatRate, MIB } from './units.js';

const SECTIONS = ['scan', 'hash', 'chunkhash', 'overhead', 'peers', 'dedup', 'elixir', 'compression', 'store'] as const;
type Section = (typeof SECTIONS)[number];
const QUICK_BYTES = 200e6;
const PEER_REPS = 3;
/**
 * Pieces for the from-file runs: small enough that a piece read from the page cache is
 * still in the CPU cache when it is chunked and hashed (64 MiB pieces measured ~30% slower
 * end to end here), as a peer's own small reads are.
 */
const FROM_FILE_PIECE_BYTES = 4 * MIB;
const DEDUP_PRESETS: readonly SizePreset[] = ['default', 'nif', 'small'];

const TARGET_SCAN_MBPS = 1500;
const TARGET_CHUNK_SHA256_VS_OPENSSL = 0.85;
const TARGET_PER_CHUNK_MICROS = 1;
const TARGET_ELIXIR_FEED_RATIO = 0.7;
const TARGET_ELIXIR_CHUNK_FILE_RATIO = 0.9;
const TARGET_INGEST_P99_MICROS = 1000;
const TARGET_ZSTD_VS_CLI = 0.95;
/** Largest relative difference of our zstd's ratio from the CLI's at the same level. */
const TARGET_ZSTD_RATIO_TOLERANCE = 0.01;
/** Warn when other work takes more than this share of all CPUs (a third of a core on two). */
const BUSY_WARNING_SHARE = 0.15;

interface Args {
  quick: boolean;
  only: Set<Section>;
  passes: number;
  storeTargets: readonly TargetKind[];
}

/** A bad command line: reported as its message alone, without a stack. */
class UsageError extends Error {}

const USAGE = `usage: node --expose-gc dist/bench/run.js [--quick] [--only ${SECTIONS.join(',')}] [--passes N] [--store-targets ${TARGET_KINDS.join(',')}]`;

/** The comma-separated names in `text`, each checked against `known`. */
function nameList<T extends string>(text: string, known: readonly T[], what: string): T[] {
  const names = text.split(',').map((name) => name.trim()).filter((name) => name !== '');
  const unknown = names.filter((name) => !(known as readonly string[]).includes(name));
  if (unknown.length > 0) throw new UsageError(`unknown ${what} ${unknown.join(', ')}; known: ${known.join(', ')}`);
  return names as T[];
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { quick: false, only: new Set(SECTIONS), passes: 0, storeTargets: TARGET_KINDS };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string => {
      const next = inline ?? argv[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value\n${USAGE}`);
      return next;
    };
    if (flag === '--quick') args.quick = true;
    else if (flag === '--only') args.only = new Set(nameList(value(), SECTIONS, 'section(s)'));
    else if (flag === '--store-targets') args.storeTargets = nameList(value(), TARGET_KINDS, 'store target(s)');
    else if (flag === '--passes') {
      args.passes = Number(value());
      if (!Number.isInteger(args.passes) || args.passes < 1) throw new UsageError(`--passes must be a positive integer\n${USAGE}`);
    } else if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new UsageError(`unknown argument ${arg}\n${USAGE}`);
  }
  if (args.passes === 0) args.passes = args.quick ? 1 : 3;
  return args;
}

function step(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

/** The faster of two measurements of the same thing, carrying the times of both. */
function keepFaster<T extends { runs: number[]; seconds: number; error?: string | null }>(best: T, next: T): T {
  if (best.error != null) return best;
  if (next.error != null) return { ...next, runs: [...best.runs, ...next.runs] };
  const faster = next.seconds < best.seconds ? next : best;
  return { ...faster, runs: [...best.runs, ...next.runs] };
}

function figure(figures: readonly ThroughputFigure[], name: string): ThroughputFigure | undefined {
  return figures.find((entry) => entry.name === name);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const startedAt = nowSeconds();
  if (!garbageCollectionExposed()) step('note: run with node --expose-gc (npm run bench does) for steadier numbers');
  const busyAtStart = await busyShare();
  if (busyAtStart !== null && busyAtStart > BUSY_WARNING_SHARE) {
    step(`note: the CPUs are ${(busyAtStart * 100).toFixed(0)}% busy with other work; figures will be low (chunk+hash most)`);
  }

  const { dir, manifest } = await ensureCorpus();
  const trees: CorpusTree[] = args.quick ? selectTrees(manifest, QUICK_BYTES) : manifest.trees;
  const v1Files = trees.map((tree) => join(dir, tree.v1.file));
  const v1Bytes = trees.reduce((sum, tree) => sum + tree.v1.bytes, 0);
  const v2Bytes = trees.reduce((sum, tree) => sum + tree.v2.bytes, 0);
  step(`corpus ${dir}: ${trees.length} NARs, ${formatBytes(v1Bytes)} v1${args.quick ? ' (--quick subset)' : ''}`);
  const buffer = allocatePieceBuffer();

  // The store section reads its own object set (and warms it itself).
  if ([...args.only].some((section) => section !== 'store')) {
    step('warming the page cache');
    warmPageCache(args.only.has('dedup') ? [...v1Files, ...trees.map((tree) => join(dir, tree.v2.file))] : v1Files, buffer);
  }

  // Throughput: one interleaved pass structure for scan, hash and chunk+hash.
  const groups = new Set<ThroughputGroup>((['scan', 'hash', 'chunkhash'] as const).filter((group) => args.only.has(group)));
  let throughput: ThroughputFigure[] = [];
  if (groups.size > 0) {
    const variants = throughputVariants(groups);
    const progress = new Progress(`throughput (${variants.length} variants × ${args.passes} passes)`, v1Bytes * args.passes);
    throughput = measureThroughput(v1Files, variants, args.passes, buffer, (bytes) => progress.update(bytes));
    progress.finish('done');
  }

  let overhead: OverheadFigures | null = null;
  if (args.only.has('overhead')) {
    const sample = buildSample(v1Files, trees.map((tree) => tree.v1.bytes), buffer);
    step('per-chunk overhead (4 configs, round-robin)');
    overhead = measureOverhead(sample);
  }

  let peers: PeerFigure[] = [];
  let fromFile: FromFileFigure[] = [];
  if (args.only.has('peers')) {
    step(`peers and our from-file runs (best of ${PEER_REPS})`);
    const pieceBuffer = allocatePieceBuffer(FROM_FILE_PIECE_BYTES);
    const ourModes = [['hash', 'sha256'], ['chunk', 'sha256'], ['hash', 'blake3'], ['chunk', 'blake3']] as const;
    // Rounds alternate ours and the peers, so a burst of other load does not favour either side.
    for (let round = 0; round < PEER_REPS; round++) {
      const ours = ourModes.map(([mode, hash]) => timeFromFile(mode, hash, v1Files, pieceBuffer, 1));
      const tools = PEERS.map((spec) => timePeer(spec, v1Files, v1Bytes, 1));
      fromFile = round === 0 ? ours : fromFile.map((best, index) => keepFaster(best, ours[index]!));
      peers = round === 0 ? tools : peers.map((best, index) => keepFaster(best, tools[index]!));
    }
    for (const peer of peers) if (peer.error !== null) step(`peer ${peer.name}: ${peer.error}`);
  }

  const dedup: PresetDedup[] = [];
  if (args.only.has('dedup')) {
    const pairs = trees.map((tree) => ({ v1: join(dir, tree.v1.file), v2: join(dir, tree.v2.file) }));
    for (const preset of DEDUP_PRESETS) {
      const progress = new Progress(`dedup ${preset}`, v1Bytes + v2Bytes);
      let done = 0;
      dedup.push(await measureDedup(preset, pairs, buffer, (bytes) => progress.update((done += bytes))));
      progress.finish('done');
    }
  }

  let elixir: ElixirFigures | null = null;
  if (args.only.has('elixir')) {
    step('elixir: Chunker.feed/2 and chunk_file/2 through the port pool, against this process');
    elixir = measureElixir(v1Files, args.passes, allocatePieceBuffer(FEED_PIECE_BYTES));
    if (elixir.error !== null) step(`elixir section skipped: ${elixir.error}`);
  }

  let compression: CompressionFigures | null = null;
  if (args.only.has('compression')) {
    step(`compression: zstd -${ZSTD_LEVEL} against the zstd CLI and @mongodb-js/zstd; lz4, xz, bzip2 against their CLIs; a zstd dictionary (best of ${args.passes})`);
    compression = await measureCompression(v1Files, args.quick, args.passes, allocatePieceBuffer(COMPRESSION_PIECE_BYTES));
    if (compression.cliError !== null) step(`zstd CLI: ${compression.cliError}`);
  }

  let store: StoreFigures | null = null;
  if (args.only.has('store')) {
    step(`store: uploads by chunker sync and rclone copy to servers on 127.0.0.1 (median of ${args.passes})`);
    store = await measureStore({ dir, manifest }, { quick: args.quick, reps: args.passes, targets: args.storeTargets, onStep: step });
  }

  const maxRssBytes = process.resourceUsage().maxRSS * 1024;
  const openssl = peers.find((peer) => peer.name.startsWith('openssl'));
  const b3sum = peers.find((peer) => peer.name.startsWith('b3sum'));
  const ours = (name: string) => fromFile.find((entry) => entry.name === name);
  const scanDefault = figure(throughput, 'scan.native.default');
  const chunkSha256FromFile = ours('chunk+sha256 from file');
  const zstdCli = compression?.wholeNar.cli ?? null;
  const zstdOurs = compression?.wholeNar.ours ?? null;
  const zstdSpeed = zstdOurs && zstdCli ? zstdOurs.megabytesPerSecond / zstdCli.megabytesPerSecond : null;
  const zstdRatioOff = zstdOurs && zstdCli ? Math.abs(zstdOurs.ratio / zstdCli.ratio - 1) : null;
  const perChunk = compression?.perChunk ?? null;
  const targets = [
    {
      name: 'cut-point scan (native, default preset) ≥ 1.5 GB/s',
      measured: scanDefault?.megabytesPerSecond ?? null,
      unit: 'MB/s',
      met: scanDefault === undefined ? null : scanDefault.megabytesPerSecond >= TARGET_SCAN_MBPS,
    },
    {
      name: 'chunk+SHA-256 from file ≥ 0.85 × openssl dgst -sha256',
      measured: chunkSha256FromFile && openssl?.available ? chunkSha256FromFile.megabytesPerSecond / openssl.megabytesPerSecond : null,
      unit: '× openssl',
      met:
        chunkSha256FromFile && openssl?.available
          ? chunkSha256FromFile.megabytesPerSecond / openssl.megabytesPerSecond >= TARGET_CHUNK_SHA256_VS_OPENSSL
          : null,
    },
    {
      name: 'per-chunk overhead (native, hash none) < 1 µs',
      measured: overhead?.native.perChunkMicros ?? null,
      unit: 'µs',
      met: overhead === null ? null : overhead.native.perChunkMicros < TARGET_PER_CHUNK_MICROS,
    },
    {
      name: 'Chunker.feed/2 ≥ 0.70 × in-process TypeScript',
      measured: elixir?.feed?.ratio ?? null,
      unit: '× in-process',
      met: elixir?.feed ? elixir.feed.ratio >= TARGET_ELIXIR_FEED_RATIO : null,
    },
    {
      name: 'Chunker.chunk_file/2 ≥ 0.90 × in-process TypeScript from file',
      measured: elixir?.chunkFile?.ratio ?? null,
      unit: '× in-process',
      met: elixir?.chunkFile ? elixir.chunkFile.ratio >= TARGET_ELIXIR_CHUNK_FILE_RATIO : null,
    },
    {
      name: 'BEAM probe p99 lateness during ingestion < 1 ms (default pool)',
      measured: elixir?.latency?.ingest.p99_us ?? null,
      unit: 'µs',
      met: elixir?.latency?.ingest.p99_us === undefined ? null : elixir.latency.ingest.p99_us < TARGET_INGEST_P99_MICROS,
    },
    {
      name: 'BEAM probe p99 lateness during ingestion < 1 ms (pool leaving a core)',
      measured: elixir?.headroom?.ingest.p99_us ?? null,
      unit: 'µs',
      met: elixir?.headroom?.ingest.p99_us === undefined ? null : elixir.headroom.ingest.p99_us < TARGET_INGEST_P99_MICROS,
    },
    {
      name: 'native zstd -3 ≥ 0.95 × zstd CLI speed (ratio within ±1%)',
      measured: zstdSpeed,
      unit: '× zstd CLI',
      met: zstdSpeed === null || zstdRatioOff === null ? null : zstdSpeed >= TARGET_ZSTD_VS_CLI && zstdRatioOff <= TARGET_ZSTD_RATIO_TOLERANCE,
    },
    {
      name: 'native zstd per chunk faster than @mongodb-js/zstd',
      measured: perChunk ? perChunk.ours.megabytesPerSecond / perChunk.mongodb.megabytesPerSecond : null,
      unit: '× @mongodb-js/zstd',
      met: perChunk ? perChunk.ours.megabytesPerSecond > perChunk.mongodb.megabytesPerSecond : null,
    },
    ...(args.only.has('store') ? storeTargets(store) : []),
  ];

  const results = {
    format: 1,
    createdAt: new Date().toISOString(),
    args: { quick: args.quick, only: [...args.only], passes: args.passes },
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      hashHelperThreads: native.info().hashHelperThreads,
      chunkerHashThreadsEnv: process.env.CHUNKER_HASH_THREADS ?? null,
      gcExposed: garbageCollectionExposed(),
      /** Share of all CPUs busy with other work just before and just after the run. */
      busyShareAtStart: busyAtStart,
      busyShareAtEnd: await busyShare(),
      loadAverage: loadavg(),
    },
    corpus: {
      dir,
      key: manifest.key,
      v1Tool: manifest.v1Tool,
      variant: manifest.variant,
      nars: trees.map((tree) => ({ name: tree.name, sourcePath: tree.sourcePath, files: tree.files, v1Bytes: tree.v1.bytes, v2Bytes: tree.v2.bytes, editedFiles: tree.v2.editedFiles })),
      v1Bytes,
      v2Bytes,
    },
    throughput,
    overhead,
    peers: { ours: fromFile, tools: peers },
    dedup,
    elixir,
    compression,
    store,
    targets,
    memory: { maxRssBytes },
    durationSeconds: nowSeconds() - startedAt,
  };
  const resultsPath = join(packageRoot(), 'bench', 'results', 'latest.json');
  writeJson(resultsPath, results);

  const busyAtEnd = results.machine.busyShareAtEnd;
  printSummary({ trees, v1Bytes, v2Bytes, v1Tool: manifest.v1Tool, passes: args.passes, throughput, fromFile, openssl, b3sum, overhead, dedup, elixir, compression, store, targets, maxRssBytes });
  const busiest = Math.max(busyAtStart ?? 0, busyAtEnd ?? 0);
  if (busiest > BUSY_WARNING_SHARE) {
    console.log(`\nNote: other work kept the CPUs up to ${(busiest * 100).toFixed(0)}% busy around this run; figures are likely low (rerun on a quiet machine).`);
  }
  console.log(`\nWrote ${resultsPath} (${results.durationSeconds.toFixed(0)} s)`);
}

interface Summary {
  trees: readonly CorpusTree[];
  v1Bytes: number;
  v2Bytes: number;
  v1Tool: string;
  passes: number;
  throughput: readonly ThroughputFigure[];
  fromFile: readonly FromFileFigure[];
  openssl: PeerFigure | undefined;
  b3sum: PeerFigure | undefined;
  overhead: OverheadFigures | null;
  dedup: readonly PresetDedup[];
  elixir: ElixirFigures | null;
  compression: CompressionFigures | null;
  store: StoreFigures | null;
  targets: readonly { name: string; measured: number | null; unit: string; met: boolean | null }[];
  maxRssBytes: number;
}

function printSummary(summary: Summary): void {
  const { trees, throughput, fromFile, openssl, b3sum, overhead, dedup } = summary;
  console.log(
    `Corpus: ${trees.length} NARs, ${formatBytes(summary.v1Bytes)} v1 + ${formatBytes(summary.v2Bytes)} v2 (v1 by ${summary.v1Tool}): ` +
      trees.map((tree) => `${tree.sourcePath} ${formatBytes(tree.v1.bytes)}`).join(', '),
  );
  console.log(`Peak RSS: ${formatBytes(summary.maxRssBytes)}`);

  if (throughput.length > 0) {
    console.log(`\nThroughput in memory (MB/s = 10^6 B/s, best of ${summary.passes} pass${summary.passes === 1 ? '' : 'es'}, 64 MiB pieces, read excluded)`);
    const rows: Row[] = throughput.map((entry) => [
      entry.name,
      formatRate(entry.megabytesPerSecond),
      entry.chunks > 0 ? String(entry.chunks) : '',
      entry.description,
    ]);
    console.log(renderTable(['variant', 'MB/s', 'chunks', 'what'], rows));
  }

  if (fromFile.length > 0) {
    console.log(`\nPeers (same files, page cache warm, best of ${PEER_REPS}; "from file" = read in ${FROM_FILE_PIECE_BYTES / MIB} MiB pieces included, "in memory" = read excluded)`);
    const peerFor = (name: string) => (name.includes('sha256') ? openssl : b3sum);
    const inMemory = (name: string) => throughput.find((entry) => entry.name === name);
    const rows: Row[] = [];
    for (const entry of fromFile) {
      const peer = peerFor(entry.name);
      rows.push([entry.name, formatRate(entry.megabytesPerSecond), peer?.name ?? 'n/a', formatRate(peer?.megabytesPerSecond ?? NaN), ratio(entry.megabytesPerSecond, peer?.megabytesPerSecond ?? NaN)]);
    }
    for (const name of ['hash.sha256', 'chunkhash.sha256', 'hash.blake3', 'chunkhash.blake3']) {
      const entry = inMemory(name);
      const peer = peerFor(name);
      if (entry !== undefined) {
        rows.push([`${name} (in memory)`, formatRate(entry.megabytesPerSecond), peer?.name ?? 'n/a', formatRate(peer?.megabytesPerSecond ?? NaN), ratio(entry.megabytesPerSecond, peer?.megabytesPerSecond ?? NaN)]);
      }
    }
    console.log(renderTable(['ours', 'MB/s', 'peer', 'MB/s', 'ours/peer'], rows));
  }

  if (overhead !== null) {
    console.log(`\nPer-chunk overhead, hash none (${formatBytes(overhead.sampleBytes)} sample, best of ${overhead.reps})`);
    console.log(
      renderTable(
        ['config', 'chunks', 'scanned', 'native ms', 'session ms'],
        overhead.runs.map((run) => [
          run.config,
          String(run.chunks),
          `${(run.scannedShare * 100).toFixed(1)}%`,
          (run.nativeSeconds * 1e3).toFixed(1),
          (run.sessionSeconds * 1e3).toFixed(1),
        ]),
      ),
    );
    console.log(
      renderTable(
        ['estimate', 'µs/chunk', 'µs/chunk (fit)', 'ns/scanned B', 'ns/scanned B (fit)'],
        (['native', 'session'] as const).map((side) => [
          side,
          overhead[side].perChunkMicros.toFixed(3),
          overhead[side].fitPerChunkMicros.toFixed(3),
          overhead[side].perScannedByteNanos.toFixed(3),
          overhead[side].fitPerScannedByteNanos.toFixed(3),
        ]),
      ),
    );
  }

  if (dedup.length > 0) {
    console.log('\nDedup: v2 (2% of files with bytes appended) against a store holding v1, SHA-256 chunk digests');
    console.log(
      renderTable(
        ['preset', 'v1 chunks', 'mean', 'v1 unique', 'v2 present', 'v2 new bytes', 'new objects', 'store objects'],
        dedup.map((entry) => [
          entry.preset,
          String(entry.v1.chunks),
          formatBytes(entry.v1.meanChunkBytes),
          formatBytes(entry.v1.uniqueBytes),
          `${entry.v2.presentPercent.toFixed(2)}%`,
          formatBytes(entry.v2.newBytes),
          String(entry.v2.newChunks),
          String(entry.storeObjects),
        ]),
      ),
    );
    const finest = dedup.reduce((a, b) => (b.v2.newBytes < a.v2.newBytes ? b : a));
    const others = dedup.filter((entry) => entry !== finest);
    console.log(
      `Reading: against ${finest.preset} (least to send for v2), ` +
        others
          .map((entry) => `${entry.preset} sends ${(entry.v2.newBytes / Math.max(1, finest.v2.newBytes)).toFixed(1)}× the bytes with ${(entry.storeObjects / finest.storeObjects).toFixed(2)}× the store objects`)
          .join('; '),
    );
  }

  const { elixir } = summary;
  if (elixir?.available === true && elixir.feed !== null && elixir.chunkFile !== null && elixir.latency !== null) {
    console.log(`\nElixir (OTP ${elixir.otpRelease}, pool of ${elixir.poolSize} ports) against this process on the same bytes, SHA-256, metadata-only replies`);
    console.log(
      renderTable(
        ['path', 'Elixir MB/s', 'in-process MB/s', 'ratio'],
        [
          [`Chunker.feed/2, ${FEED_PIECE_BYTES / MIB} MiB pieces`, formatRate(elixir.feed.elixirMBps), formatRate(elixir.feed.typescriptMBps), elixir.feed.ratio.toFixed(2)],
          ['Chunker.chunk_file/2', formatRate(elixir.chunkFile.elixirMBps), formatRate(elixir.chunkFile.typescriptMBps), elixir.chunkFile.ratio.toFixed(2)],
        ],
      ),
    );
    console.log('BEAM scheduler latency: a probe woken on every 1 ms tick, how late it ran (µs)');
    const latencyRow = (name: string, figure: LatencyFigure): Row => [
      name,
      String(figure.samples),
      String(figure.p50_us ?? ''),
      String(figure.p99_us ?? ''),
      String(figure.max_us ?? ''),
      figure.mb_per_s === undefined ? '' : formatRate(figure.mb_per_s),
    ];
    console.log(
      renderTable(
        ['while', 'samples', 'p50', 'p99', 'max', 'corpus MB/s'],
        [
          latencyRow('idle', elixir.latency.idle),
          latencyRow(`ingesting through the pool (${elixir.poolSize} sessions)`, elixir.latency.ingest),
          latencyRow('hashing in the BEAM with :crypto.hash/2', elixir.latency.crypto),
          ...(elixir.headroom === null
            ? []
            : [
                latencyRow(`idle, BEAM with ${HEADROOM_VM_FLAGS}`, elixir.headroom.idle),
                latencyRow(
                  `ingesting, pool leaving a core (${elixir.headroom.poolSize} sessions, ${elixir.headroom.hashThreads === 0 ? 'no' : elixir.headroom.hashThreads} hash helpers)`,
                  elixir.headroom.ingest,
                ),
              ]),
        ],
      ),
    );
  }

  const { compression } = summary;
  if (compression !== null) {
    const { wholeNar, perChunk, decompress } = compression;
    const codecRow = (figure: { name: string; megabytesPerSecond: number; ratio: number }, peer: { megabytesPerSecond: number } | null): Row => [
      figure.name,
      formatRate(figure.megabytesPerSecond),
      figure.ratio.toFixed(4),
      peer === null ? '' : ratio(figure.megabytesPerSecond, peer.megabytesPerSecond),
    ];
    const cliName = compression.cliVersion === null ? 'zstd CLI' : compression.cliVersion.replace(/^\*+\s*|\s*\*+$/g, '');
    console.log(
      `\nCompression, zstd level ${ZSTD_LEVEL} on one core (libzstd ${compression.libzstd}; CLI: ${compression.cliError ?? cliName}); ` +
        `ratio = compressed / original, "vs" = MB/s against the row's peer`,
    );
    console.log(`Whole NARs: ${wholeNar.files.length} smallest, ${formatBytes(wholeNar.bytes)}, reads excluded (the CLI reads its file in the timed process)`);
    console.log(
      renderTable(
        ['what', 'MB/s', 'ratio', 'vs CLI'],
        [
          codecRow(wholeNar.ours, wholeNar.cli),
          ...(wholeNar.cli === null ? [] : [codecRow(wholeNar.cli, null)]),
          codecRow(wholeNar.mongodb, wholeNar.cli),
          ['engine decompress() of the engine\'s frames', formatRate(decompress.megabytesPerSecond), '', ''],
        ],
      ),
    );
    console.log(`Per chunk: the first ${formatBytes(perChunk.bytes)} of the corpus, default preset, ${perChunk.chunks} chunks of ${formatBytes(perChunk.meanChunkBytes)} on average`);
    console.log(renderTable(['what', 'MB/s', 'ratio', 'vs @mongodb-js'], [codecRow(perChunk.ours, perChunk.mongodb), codecRow(perChunk.mongodb, null)]));
    printCodecPeers(compression);
  }

  if (summary.store !== null) console.log(renderStore(summary.store));

  console.log('\nTargets');
  for (const target of summary.targets) {
    const measured = target.measured === null ? 'not measured' : `${target.measured.toFixed(target.unit === 'MB/s' ? 0 : 3)} ${target.unit}`;
    const verdict = target.met === null ? '' : target.met ? 'met' : 'BELOW TARGET';
    console.log(`  ${target.name}: ${measured} ${verdict}`.trimEnd());
  }
}

/** lz4, xz, bzip2 against their tools, every codec's decompression, and the dictionary's effect. */
function printCodecPeers({ codecs, dictionary }: CompressionFigures): void {
  console.log(
    '\nOther codecs at the engine\'s default levels, against their CLIs at the same level, on a spread sample of the corpus ' +
      '(1 MiB slices at even intervals; the CLI timed as a whole process, file read included)',
  );
  const compressRows: Row[] = [];
  for (const figures of codecs) {
    const { oursCompress, toolCompress } = figures;
    if (oursCompress === null) continue;
    const sample = formatBytes(figures.sampleBytes);
    compressRows.push([`${oursCompress.name}`, sample, formatRate(oursCompress.megabytesPerSecond), oursCompress.ratio.toFixed(4), toolCompress ? ratio(oursCompress.megabytesPerSecond, toolCompress.megabytesPerSecond) : 'n/a']);
    if (toolCompress) compressRows.push([toolCompress.name, sample, formatRate(toolCompress.megabytesPerSecond), toolCompress.ratio.toFixed(4), '']);
    else compressRows.push([`${figures.codec} CLI: ${figures.toolError ?? 'not measured'}`, sample, '', '', '']);
  }
  console.log(renderTable(['compress', 'sample', 'MB/s', 'ratio', 'vs CLI'], compressRows));
  const decompressRows: Row[] = [];
  for (const figures of codecs) {
    const { oursDecompress, toolDecompress } = figures;
    const sample = formatBytes(figures.sampleBytes);
    decompressRows.push([oursDecompress.name, sample, formatRate(oursDecompress.megabytesPerSecond), toolDecompress ? ratio(oursDecompress.megabytesPerSecond, toolDecompress.megabytesPerSecond) : 'n/a']);
    if (toolDecompress) decompressRows.push([toolDecompress.name, sample, formatRate(toolDecompress.megabytesPerSecond), '']);
  }
  console.log('Decompression of the engine\'s frames (MB/s of decompressed bytes)');
  console.log(renderTable(['decompress', 'sample', 'MB/s', 'vs CLI'], decompressRows));
  console.log(
    `zstd dictionary for small chunks: ${formatBytes(dictionary.dictionaryBytes)} (id ${dictionary.dictionaryId}) trained in ` +
      `${dictionary.trainSeconds.toFixed(1)} s on ${dictionary.trainSamples} small-preset chunks of a ${formatBytes(dictionary.trainBytes)} sample; ` +
      `tested on the chunks of another ${formatBytes(dictionary.testBytes)} sample (no shared bytes), each chunk compressed alone at level 3`,
  );
  console.log(
    renderTable(
      ['chunks', 'count', 'mean', 'ratio plain', 'ratio dict', 'dict saves', 'MB/s plain', 'MB/s dict'],
      dictionary.rows.map((row) => [
        row.name,
        String(row.chunks),
        formatBytes(row.meanChunkBytes),
        row.plainRatio.toFixed(4),
        row.dictionaryRatio.toFixed(4),
        `${((1 - row.dictionaryRatio / row.plainRatio) * 100).toFixed(1)}%`,
        formatRate(row.plainMegabytesPerSecond),
        formatRate(row.dictionaryMegabytesPerSecond),
      ]),
    ),
  );
  const [first] = dictionary.perTree;
  if (first === undefined) return;
  console.log(
    `Per tree, a dictionary of its own: trained on ${formatBytes(first.trainBytes)} of the tree, tested on another ` +
      `${formatBytes(first.testBytes)} of it; compressed / original bytes without → with the dictionary`,
  );
  const sizeNames = dictionary.rows.map((row) => row.name);
  console.log(
    renderTable(
      ['tree', ...sizeNames],
      dictionary.perTree.map((tree) => [
        tree.tree,
        ...sizeNames.map((name) => {
          if (tree.error !== null) return 'n/a';
          const size = tree.sizes.find((entry) => entry.name === name)!;
          const saves = (1 - size.dictionaryRatio / size.plainRatio) * 100;
          return `${size.plainRatio.toFixed(3)} → ${size.dictionaryRatio.toFixed(3)} (${saves >= 0 ? '−' : '+'}${Math.abs(saves).toFixed(1)}%)`;
        }),
      ]),
    ),
  );
}

main().catch((error: unknown) => {
  const text = error instanceof UsageError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`bench failed: ${text}\n`);
  process.exit(1);
});
