/**
 * Per-chunk overhead of cutting, without hashing: what each extra chunk costs beyond the
 * bytes the gear loop scans.
 *
 * Method. FastCDC's time is (bytes the gear loop scans) × (cost per scanned byte) +
 * (chunks) × (cost per chunk). The bytes below min_size of every chunk are skipped, not
 * scanned, so a config with more chunks also scans a different share of the input; the
 * naive "t_small − t_large" would credit those skipped bytes to the chunk count. So:
 *  - the same sample (64 MiB drawn from every corpus NAR) is cut with four configs whose
 *    min:avg:max is the same 1:4:16 — tiny 64/256/1024 (hundreds of thousands of chunks),
 *    then the small, default and nif presets — so the chunk-length distribution has the
 *    same shape relative to min and the scanned share is similar;
 *  - the scanned bytes are counted exactly from the result: Σ max(0, length − min_size);
 *  - cost per scanned byte comes from the nif config (≈ 70 chunks in 64 MiB, so its
 *    per-chunk part is negligible): c = t_nif / scanned_nif;
 *  - per-chunk overhead = (t_tiny − c × scanned_tiny) / chunks_tiny ("two-point"),
 *    cross-checked by a least-squares fit of t = c·scanned + o·chunks over all four configs.
 * Each time is the best of REPS runs, taken round-robin over the configs (the least
 * disturbed run is the closest to the work's own cost). Measured for the native call alone and for the TS
 * session (which also builds one Chunk object, with a BigInt gear, per chunk).
 */
import { native, NativeHashAlg } from '../port/native.js';
import { feed, finish, openSession, resume } from '../port/engine/chunk-session.js';
import { runToCompletion } from './session-steps.js';
import { resolveChunkingOptions, SIZE_PRESETS, toNativeParams, type ChunkSizes } from '../port/engine/chunking-options.js';
import { readPieces } from './corpus-reader.js';
import { collectGarbage, minimum, timed } from './timing.js';
import { MIB } from './units.js';

const REPS = 7;
const SAMPLE_BYTES = 64 * MIB;
const UNLIMITED_CHUNKS = 0xffffffff;

const CONFIGS: readonly { name: string; sizes: ChunkSizes }[] = [
  { name: 'tiny 64/256/1024', sizes: { minSize: 64, avgSize: 256, maxSize: 1024 } },
  { name: 'small preset', sizes: SIZE_PRESETS.small },
  { name: 'default preset', sizes: SIZE_PRESETS.default },
  { name: 'nif preset', sizes: SIZE_PRESETS.nif },
];

export interface OverheadRun {
  config: string;
  sizes: ChunkSizes;
  chunks: number;
  scannedBytes: number;
  /** Share of the sample the gear loop scanned. */
  scannedShare: number;
  nativeSeconds: number;
  sessionSeconds: number;
}

export interface OverheadEstimate {
  /** Two-point estimate (tiny vs nif), microseconds per chunk. */
  perChunkMicros: number;
  /** Least-squares estimate over all configs, microseconds per chunk. */
  fitPerChunkMicros: number;
  /** Scan cost, nanoseconds per scanned byte (from nif; and from the fit). */
  perScannedByteNanos: number;
  fitPerScannedByteNanos: number;
}

export interface OverheadFigures {
  method: string;
  sampleBytes: number;
  reps: number;
  runs: OverheadRun[];
  native: OverheadEstimate;
  session: OverheadEstimate;
}

/** 64 MiB made of equal slices from the middle of every file (varied content). */
export function buildSample(files: readonly string[], sizes: readonly number[], buffer: Buffer): Uint8Array {
  const sample = new Uint8Array(SAMPLE_BYTES);
  const share = Math.floor(SAMPLE_BYTES / files.length);
  let filled = 0;
  files.forEach((file, index) => {
    const want = index === files.length - 1 ? SAMPLE_BYTES - filled : share;
    const start = Math.max(0, Math.floor((sizes[index]! - want) / 2));
    for (const piece of readPieces(file, buffer)) {
      const from = Math.max(start - piece.offset, 0);
      const to = Math.min(piece.bytes.length, start + want - piece.offset);
      if (to > from && filled < SAMPLE_BYTES) {
        const slice = piece.bytes.subarray(from, Math.min(to, from + SAMPLE_BYTES - filled));
        sample.set(slice, filled);
        filled += slice.length;
      }
      if (piece.offset + piece.bytes.length >= start + want) break;
    }
  });
  return filled === SAMPLE_BYTES ? sample : sample.subarray(0, filled);
}

function sessionChunks(sample: Uint8Array, sizes: ChunkSizes): number {
  const fed = runToCompletion(feed(openSession({ ...sizes, hash: 'none' }), sample), resume);
  return fed.chunks + runToCompletion(finish(fed.state), finish).chunks;
}

interface Prepared {
  name: string;
  sizes: ChunkSizes;
  cut: () => { lengths: Uint32Array };
  chunks: number;
  scannedBytes: number;
  nativeTimes: number[];
  sessionTimes: number[];
}

function prepare(sample: Uint8Array, name: string, sizes: ChunkSizes): Prepared {
  const params = toNativeParams(resolveChunkingOptions({ ...sizes, hash: 'none' }));
  const cut = () => native.chunk(params, sample, true, NativeHashAlg.None, Number.MAX_SAFE_INTEGER, UNLIMITED_CHUNKS);
  const { lengths } = cut();
  let scannedBytes = 0;
  for (const length of lengths) scannedBytes += Math.max(0, length - sizes.minSize);
  return { name, sizes, cut, chunks: lengths.length, scannedBytes, nativeTimes: [], sessionTimes: [] };
}

function measureOnce(sample: Uint8Array, config: Prepared): void {
  collectGarbage();
  config.nativeTimes.push(timed(config.cut).seconds);
  collectGarbage();
  const session = timed(() => sessionChunks(sample, config.sizes));
  if (session.value !== config.chunks) throw new Error(`session cut ${session.value} chunks, native ${config.chunks} (${config.name})`);
  config.sessionTimes.push(session.seconds);
}

/** Least squares for t = c·s + o·n (no intercept), solved from the 2×2 normal equations. */
function fit(runs: readonly OverheadRun[], seconds: (run: OverheadRun) => number): { perByte: number; perChunk: number } {
  let ss = 0;
  let sn = 0;
  let nn = 0;
  let ts = 0;
  let tn = 0;
  for (const run of runs) {
    const t = seconds(run);
    ss += run.scannedBytes * run.scannedBytes;
    sn += run.scannedBytes * run.chunks;
    nn += run.chunks * run.chunks;
    ts += t * run.scannedBytes;
    tn += t * run.chunks;
  }
  const determinant = ss * nn - sn * sn;
  return { perByte: (ts * nn - tn * sn) / determinant, perChunk: (tn * ss - ts * sn) / determinant };
}

function estimate(runs: readonly OverheadRun[], seconds: (run: OverheadRun) => number): OverheadEstimate {
  const tiny = runs[0]!;
  const nif = runs[runs.length - 1]!;
  const perByte = seconds(nif) / nif.scannedBytes;
  const perChunk = (seconds(tiny) - perByte * tiny.scannedBytes) / tiny.chunks;
  const fitted = fit(runs, seconds);
  return {
    perChunkMicros: perChunk * 1e6,
    fitPerChunkMicros: fitted.perChunk * 1e6,
    perScannedByteNanos: perByte * 1e9,
    fitPerScannedByteNanos: fitted.perByte * 1e9,
  };
}

export function measureOverhead(sample: Uint8Array): OverheadFigures {
  const configs = CONFIGS.map(({ name, sizes }) => prepare(sample, name, sizes));
  // Round-robin over the configs, so a burst of other load hits all of them alike.
  for (let rep = 0; rep < REPS; rep++) {
    for (const config of configs) measureOnce(sample, config);
  }
  const runs: OverheadRun[] = configs.map((config) => ({
    config: config.name,
    sizes: config.sizes,
    chunks: config.chunks,
    scannedBytes: config.scannedBytes,
    scannedShare: config.scannedBytes / sample.length,
    nativeSeconds: minimum(config.nativeTimes),
    sessionSeconds: minimum(config.sessionTimes),
  }));
  return {
    method:
      'per-chunk = (t_tiny - c*scanned_tiny)/chunks_tiny with c = t_nif/scanned_nif, scanned = sum(max(0, len - min)); ' +
      `configs share min:avg:max = 1:4:16; fit = least squares t = c*scanned + o*chunks over tiny/small/default/nif; best of ${REPS} round-robin runs`,
    sampleBytes: sample.length,
    reps: REPS,
    runs,
    native: estimate(runs, (run) => run.nativeSeconds),
    session: estimate(runs, (run) => run.sessionSeconds),
  };
}
