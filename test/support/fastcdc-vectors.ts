/** Loads the shared FastCDC vectors and the crate's published level 0/3 expectations. */
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { FASTCDC_VECTORS_DIR, REPO_ROOT, requireShared } from './paths.js';

export interface ExpectedChunk {
  offset: number;
  length: number;
  gear: bigint;
}

export interface VectorCase {
  name: string;
  input: Uint8Array;
  minSize: number;
  avgSize: number;
  maxSize: number;
  normalization: number;
  chunks: ExpectedChunk[];
}

interface RawChunk {
  offset?: number;
  length: number;
  gear: string;
}

interface RawCase {
  name: string;
  input?: string;
  min_size: number;
  avg_size: number;
  max_size: number;
  normalization: number;
  chunks?: RawChunk[];
  chunks_count?: number;
  each_length?: number;
  gear?: string;
}

function withOffsets(raw: RawChunk[]): ExpectedChunk[] {
  let offset = 0;
  return raw.map((chunk) => {
    const expected = { offset, length: chunk.length, gear: BigInt(chunk.gear) };
    if (chunk.offset !== undefined && chunk.offset !== offset) {
      throw new Error(`vector offsets are not contiguous at ${chunk.offset}`);
    }
    offset += chunk.length;
    return expected;
  });
}

export function loadFixture(): Uint8Array {
  requireShared();
  const meta = JSON.parse(readFileSync(join(FASTCDC_VECTORS_DIR, 'vectors.json'), 'utf8')) as {
    fixture: string;
    fixture_sha256: string;
    fixture_bytes: number;
  };
  const bytes = readFileSync(join(FASTCDC_VECTORS_DIR, meta.fixture));
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== meta.fixture_sha256 || bytes.length !== meta.fixture_bytes) {
    throw new Error(`fixture ${meta.fixture} does not match its recorded sha256/size`);
  }
  return bytes;
}

function toCase(raw: RawCase, fixture: Uint8Array): VectorCase {
  const base = {
    name: raw.name,
    minSize: raw.min_size,
    avgSize: raw.avg_size,
    maxSize: raw.max_size,
    normalization: raw.normalization,
  };
  if (raw.chunks) return { ...base, input: fixture, chunks: withOffsets(raw.chunks) };
  // The all-zeros case is described rather than listed: derive its input and chunks.
  const zeros = /^(\d+) zero bytes$/.exec(raw.input ?? '');
  if (!zeros || raw.chunks_count === undefined || raw.each_length === undefined || raw.gear === undefined) {
    throw new Error(`unrecognised vector case ${raw.name}`);
  }
  const input = new Uint8Array(Number(zeros[1]));
  const chunks = withOffsets(Array.from({ length: raw.chunks_count }, () => ({ length: raw.each_length!, gear: raw.gear! })));
  return { ...base, input, chunks };
}

/** The shared vectors (level 1) plus the crate's published level 0 and 3 cases. */
export function loadVectorCases(): VectorCase[] {
  const fixture = loadFixture();
  const shared = JSON.parse(readFileSync(join(FASTCDC_VECTORS_DIR, 'vectors.json'), 'utf8')) as { cases: RawCase[] };
  const crate = JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'fastcdc-crate-levels.json'), 'utf8')) as {
    cases: RawCase[];
  };
  return [...shared.cases, ...crate.cases].map((raw) => toCase(raw, fixture));
}
