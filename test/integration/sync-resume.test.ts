// TODO(merge): run describeSyncResume against file://, sftp:// (sshd), s3:// (s3rver) and
// http:// (nginx) from the backends project; dirstore: stands in until file:// exists.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIR_STORE_NODE_ARGS } from '../support/store-cli.js';
import { describeSyncResume } from '../support/sync-resume.js';

describeSyncResume('dirstore (directory-backed stand-in)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chunker-dirstore-'));
  return { url: `dirstore://${dir}`, nodeArgs: DIR_STORE_NODE_ARGS, teardown: async () => rmSync(dir, { recursive: true, force: true }) };
});
