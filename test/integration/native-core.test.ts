import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';

// The C core is tested on its own too (no Node): the BLAKE3 check builds a small program
// and compares every implementation path with b3sum, also under ASan/UBSan; the codec
// check drives the compression core the same way, the MD5-pair check the upload digests.
describe('native core, built and checked without Node', () => {
  it('BLAKE3: every path equals b3sum on boundary lengths, one-shot and streamed', () => {
    const result = spawnSync('bash', [join(REPO_ROOT, 'native', 'core', 'test', 'check_blake3.sh')], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    expect(result.stderr + result.stdout).toMatch(/check_blake3: OK/);
    expect(result.status).toBe(0);
  });

  it('codecs: streaming decoder in random pieces, limits, every truncation, dictionaries, context reuse', () => {
    const result = spawnSync('bash', [join(REPO_ROOT, 'native', 'core', 'test', 'check_codec.sh')], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    expect(result.stderr + result.stdout).toMatch(/check_codec: OK/);
    expect(result.status).toBe(0);
  });

  it('upload digests: paired MD5 and part SHA-256 equal libcrypto, in and out of step, random parts', () => {
    const result = spawnSync('bash', [join(REPO_ROOT, 'native', 'core', 'test', 'check_md5_pair.sh')], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    expect(result.stderr + result.stdout).toMatch(/check_md5_pair: OK/);
    expect(result.status).toBe(0);
  });
});
