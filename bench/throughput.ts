/**
 * Whole-corpus throughput: cut-point scan (native call alone and through the TS session),
 * plain hashing, and chunk+hash through the session. Every file is read once per pass in
 * 64 MiB pieces and each piece goes through every selected variant in turn, so all
 * variants see the same bytes under the same machine conditions; only the variant's own
 * call is inside the timing (the read is not). A variant's figure is its best pass.
 */
import { native, NativeHashAlg } from '../port/native.js';
import { feed, finish, openSession, resume, type SessionState } from '../port/engine/chunk-session.js';
import { runToCompletion } from './session-steps.js';
import { resolveChunkingOptions, toNativeParams, type HashAlgorithm, type SizePreset } from '../port/engine/chunking-options.js';
import { readPieces, type Piece } from './corpus-reader.js';
import { collectGarbage, megabytesPerSecond, timed } from './timing.js';

const UNLIMITED_CHUNKS = 0xffffffff;

export type ThroughputGroup = 'scan' | 'hash' | 'chunkhash';

interface Variant {
  readonly name: string;
  readonly group: ThroughputGroup;
  readonly description: string;
  /** Processes one piece and returns the seconds spent in the measured calls and chunks cut. */
  piece(piece: Piece): { seconds: number; chunks: number };
}

export interface ThroughputFigure {
  name: string;
  group: ThroughputGroup;
  description: string;
  bytes: number;
  chunks: number;
  /** Seconds of the best pass. */
  seconds: number;
  megabytesPerSecond: number;
  /** MB/s of every pass, in order. */
  passes: number[];
}

/**
 * The native call alone, one piece at a time as a complete buffer (atEnd = true): cut
 * points at piece borders differ from a streamed file's, the bytes scanned do not.
 */
function nativeScan(preset: SizePreset): Variant {
  const params = toNativeParams(resolveChunkingOptions({ preset, hash: 'none' }));
  return {
    name: `scan.native.${preset}`,
    group: 'scan',
    description: `native.chunk, ${preset} preset, hash none`,
    piece: ({ bytes }) => {
      const { value, seconds } = timed(() => native.chunk(params, bytes, true, NativeHashAlg.None, Number.MAX_SAFE_INTEGER, UNLIMITED_CHUNKS));
      return { seconds, chunks: value.lengths.length };
    },
  };
}

/** A session per file, fed piece by piece with the default byte budget, as chunkStream does. */
function sessionVariant(name: string, group: ThroughputGroup, preset: SizePreset, hash: HashAlgorithm, description: string): Variant {
  let state: SessionState | null = null;
  return {
    name,
    group,
    description,
    piece: ({ bytes, offset, last }) => {
      const { value, seconds } = timed(() => {
        let current = offset === 0 || state === null ? openSession({ preset, hash }) : state;
        let chunks = 0;
        if (bytes.length > 0) {
          const fed = runToCompletion(feed(current, bytes), resume);
          current = fed.state;
          chunks += fed.chunks;
        }
        if (last) {
          chunks += runToCompletion(finish(current), finish).chunks;
          state = null;
        } else {
          state = current;
        }
        return chunks;
      });
      return { seconds, chunks: value };
    },
  };
}

function hashVariant(alg: 'sha256' | 'blake3'): Variant {
  const nativeAlg = alg === 'sha256' ? NativeHashAlg.Sha256 : NativeHashAlg.Blake3;
  return {
    name: `hash.${alg}`,
    group: 'hash',
    description: `native.hash(${alg}) of each 64 MiB piece, one thread`,
    piece: ({ bytes }) => ({ seconds: timed(() => native.hash(nativeAlg, bytes)).seconds, chunks: 0 }),
  };
}

export function throughputVariants(groups: ReadonlySet<ThroughputGroup>): Variant[] {
  const variants: Variant[] = [];
  if (groups.has('scan')) {
    variants.push(nativeScan('default'), nativeScan('nif'));
    variants.push(sessionVariant('scan.session.default', 'scan', 'default', 'none', 'feed/finish session, default preset, hash none'));
    variants.push(sessionVariant('scan.session.nif', 'scan', 'nif', 'none', 'feed/finish session, nif preset, hash none'));
  }
  if (groups.has('hash')) variants.push(hashVariant('sha256'), hashVariant('blake3'));
  if (groups.has('chunkhash')) {
    variants.push(sessionVariant('chunkhash.sha256', 'chunkhash', 'default', 'sha256', 'session, default preset, SHA-256 per chunk'));
    variants.push(sessionVariant('chunkhash.blake3', 'chunkhash', 'default', 'blake3', 'session, default preset, BLAKE3 per chunk'));
  }
  return variants;
}

/**
 * Runs `passes` passes over `files`; `onBytes` is called with the bytes read so far
 * (for progress). Returns one figure per variant, from its fastest pass.
 */
export function measureThroughput(
  files: readonly string[],
  variants: readonly Variant[],
  passes: number,
  buffer: Buffer,
  onBytes: (bytesRead: number) => void,
): ThroughputFigure[] {
  const perPass = variants.map(() => [] as { seconds: number; bytes: number; chunks: number }[]);
  let bytesRead = 0;
  for (let pass = 0; pass < passes; pass++) {
    const totals = variants.map(() => ({ seconds: 0, bytes: 0, chunks: 0 }));
    for (const file of files) {
      for (const piece of readPieces(file, buffer)) {
        variants.forEach((variant, index) => {
          collectGarbage();
          const { seconds, chunks } = variant.piece(piece);
          const total = totals[index]!;
          total.seconds += seconds;
          total.bytes += piece.bytes.length;
          total.chunks += chunks;
        });
        bytesRead += piece.bytes.length;
        onBytes(bytesRead);
      }
    }
    totals.forEach((total, index) => perPass[index]!.push(total));
  }
  return variants.map((variant, index) => {
    const runs = perPass[index]!;
    const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    return {
      name: variant.name,
      group: variant.group,
      description: variant.description,
      bytes: best.bytes,
      chunks: best.chunks,
      seconds: best.seconds,
      megabytesPerSecond: megabytesPerSecond(best.bytes, best.seconds),
      passes: runs.map((run) => megabytesPerSecond(run.bytes, run.seconds)),
    };
  });
}

