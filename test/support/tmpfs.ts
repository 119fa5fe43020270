/**
 * Small tmpfs mounts for tests that need a real file system to run out of space or to
 * refuse writes (root is not stopped by chmod). Mounting needs root (CAP_SYS_ADMIN), which
 * the CI machine has; without it the test fails with a message that says so, never skips.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TmpfsMount {
  readonly path: string;
  /** Changes the mount's options in place (`ro`, `rw`), keeping its files. */
  remount(options: string): Promise<void>;
  /** Unmounts and removes the mount point; safe to call twice. */
  unmount(): Promise<void>;
}

/** Mounts a fresh tmpfs with mount `options` (e.g. `size=1m`, `ro`) on a new temp directory. */
export async function mountTmpfs(options: string): Promise<TmpfsMount> {
  const path = await mkdtemp(join(tmpdir(), 'chunker-tmpfs-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', path]);
  } catch (error) {
    await rmdir(path);
    const detail = error instanceof Error ? error.message : String(error);
    throw new Error(`This test mounts a tmpfs (-o ${options}) and needs root with CAP_SYS_ADMIN: ${detail}`);
  }
  let mounted = true;
  return {
    path,
    async remount(newOptions) {
      await run('mount', ['-o', `remount,${newOptions}`, path]);
    },
    async unmount() {
      if (!mounted) return;
      await run('umount', [path]);
      mounted = false;
      await rmdir(path);
    },
  };
}
