import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/paths.js';

// The C core is tested on its own too (no Node): the BLAKE3 check builds a small program
// and compares every implementation path with b3sum, also under ASan/UBSan; the codec
// check drives the compression core the same way, the MD5-pair check the upload digests.
const CHECKS = [
  { script: 'check_blake3.sh', name: 'BLAKE3: every path equals b3sum on boundary lengths, one-shot and streamed' },
  { script: 'check_codec.sh', name: 'codecs: streaming decoder in random pieces, limits, every truncation, dictionaries, context reuse' },
  { script: 'check_md5_pair.sh', name: 'upload digests: paired MD5 and part SHA-256 equal libcrypto, in and out of step, random parts' },
];

describe('native core, built and checked without Node', () => {
  for (const { script, name } of CHECKS) {
    it(name, () => {
      const result = spawnSync('bash', [join(REPO_ROOT, 'native', 'core', 'test', script)], { encoding: 'utf8', maxBuffer: 64 << 20 });
      expect(result.stderr + result.stdout).toMatch(new RegExp(`${script.replace('.sh', '')}: OK`));
      expect(result.status).toBe(0);
    });
  }
});
