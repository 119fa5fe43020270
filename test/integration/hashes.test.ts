import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blake3 } from 'hash-wasm';
import { native, NativeHashAlg } from '../../port/native.js';
import { chunkBuffer } from '../../port/engine/chunk-session.js';
import { seededBytes } from '../support/random-bytes.js';

// Lengths around BLAKE3's 64-byte block and 1 KiB chunk boundaries and SIMD batch widths.
const LENGTHS = [0, 1, 63, 64, 65, 1023, 1024, 1025, 2048, 3073, 8193, 16_385, 65_536, 1_000_003, 9_437_191];

describe('native BLAKE3 against b3sum and hash-wasm', () => {
  const dir = mkdtempSync(join(tmpdir(), 'chunker-b3-'));
  for (const length of LENGTHS) {
    it(`${length} bytes`, async () => {
      const data = seededBytes(length, length + 1);
      const file = join(dir, `input-${length}`);
      writeFileSync(file, data);
      const ours = native.hash(NativeHashAlg.Blake3, data).toString('hex');
      expect(ours).toBe(execFileSync('b3sum', ['--no-names', file], { encoding: 'utf8' }).trim());
      expect(ours).toBe(await blake3(data));
    });
  }

  it('every chunk digest of a multi-megabyte input equals hash-wasm', async () => {
    const data = seededBytes(5 * 1024 * 1024, 99);
    const chunks = chunkBuffer(data, { preset: 'small', hash: 'blake3' });
    for (const chunk of chunks) {
      expect(Buffer.from(chunk.hash!).toString('hex')).toBe(await blake3(data.subarray(chunk.offset, chunk.offset + chunk.length)));
    }
  });

  it('native SHA-256 equals openssl dgst', () => {
    const data = seededBytes(3_000_017, 5);
    const file = join(dir, 'sha-input');
    writeFileSync(file, data);
    const openssl = execFileSync('openssl', ['dgst', '-sha256', '-r', file], { encoding: 'utf8' }).split(' ')[0];
    expect(native.hash(NativeHashAlg.Sha256, data).toString('hex')).toBe(openssl);
    rmSync(dir, { recursive: true, force: true });
  });
});
