import { describe, expect, it } from 'vitest';
import { describeLoadFailure } from '../../port/native.js';

describe('native addon load failure', () => {
  it('names each missing system library and the package that installs it', () => {
    const message = describeLoadFailure([
      '/repo/build/Release/chunker.node: libzstd.so.1: cannot open shared object file: No such file or directory',
      '/repo/dist/build/Release/chunker.node: not found',
    ]);
    expect(message).toContain('tried /repo/build/Release/chunker.node: libzstd.so.1: cannot open shared object file');
    expect(message).toContain('The system library libzstd.so.1 (zstd compression) is missing: apt-get install -y libzstd1');
    expect(message).toContain('libzstd-dev liblz4-dev liblzma-dev libbz2-dev');
  });

  it('covers every library the addon links, and unknown ones by name', () => {
    const cases: Array<[string, string]> = [
      ['liblz4.so.1', 'liblz4-1'],
      ['liblzma.so.5', 'liblzma5'],
      ['libbz2.so.1.0', 'libbz2-1.0'],
      ['libcrypto.so.3', 'libssl3'],
    ];
    for (const [soname, runtime] of cases) {
      expect(describeLoadFailure([`x.node: ${soname}: cannot open shared object file: No such file or directory`])).toContain(
        `${soname} (`,
      );
      expect(describeLoadFailure([`x.node: ${soname}: cannot open shared object file`])).toContain(`apt-get install -y ${runtime}`);
    }
    expect(describeLoadFailure(['x.node: libfoo.so.9: cannot open shared object file'])).toContain(
      'The system library libfoo.so.9 is missing.',
    );
    expect(describeLoadFailure(['x.node: not found'])).not.toContain('is missing');
  });
});
