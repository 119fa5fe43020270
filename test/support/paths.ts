import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The shared folder beside the checkout (CI clones the repo next to it). */
export const SHARED_DIR = process.env.CHUNKER_SHARED_DIR ?? resolve(REPO_ROOT, '..', 'shared');
export const FASTCDC_VECTORS_DIR = join(SHARED_DIR, 'vectors', 'fastcdc');

export const CLI_PATH = join(REPO_ROOT, 'dist', 'port', 'cli.js');

export function requireShared(): void {
  if (!existsSync(FASTCDC_VECTORS_DIR)) {
    throw new Error(`Shared vectors not found at ${FASTCDC_VECTORS_DIR}; set CHUNKER_SHARED_DIR`);
  }
}
