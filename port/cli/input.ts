/** Opens a CLI input: a file path, or `-` for standard input, as a stream of buffers. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ChunkerError } from '../errors.js';

/** Large reads keep per-buffer overhead (one native call each) negligible. */
export const READ_BUFFER_BYTES = 8 * 1024 * 1024;

export async function openInput(path: string): Promise<AsyncIterable<Buffer>> {
  if (path === '-') return process.stdin;
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new ChunkerError('invalid_argument', `${path} is a directory`);
  } catch (error) {
    if (error instanceof ChunkerError) throw error;
    const { code, message } = error as NodeJS.ErrnoException;
    throw new ChunkerError(code === 'ENOENT' ? 'not_found' : 'io_error', message);
  }
  return createReadStream(path, { highWaterMark: READ_BUFFER_BYTES });
}
