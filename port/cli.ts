#!/usr/bin/env node
/**
 * The standalone command line. Results go to stdout, everything else (summaries, errors)
 * to stderr; a failure exits non-zero with "chunker: <code>: <message>".
 */
import { ChunkerError } from './errors.js';
import { UsageError } from './cli/args.js';
import { CHUNK_USAGE, chunkCommand } from './cli/chunk-command.js';
import { COMPRESSION_USAGE, compressCommand, decompressCommand, dictCommand } from './cli/compression-command.js';
import { HASH_USAGE, hashCommand } from './cli/hash-command.js';
import { NAR_USAGE, narCommand } from './cli/nar-command.js';
import { STORE_USAGE, storeCommand } from './cli/store-command.js';
import { SYNC_USAGE, syncCommand } from './cli/sync-command.js';

const USAGE = `usage:
${CHUNK_USAGE}
${NAR_USAGE}
${HASH_USAGE}
${COMPRESSION_USAGE}
${STORE_USAGE}
${SYNC_USAGE}`;

/** Exit statuses: 1 for a failed operation, 2 for a malformed command line. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

const COMMANDS: Record<string, (argv: readonly string[]) => Promise<void>> = {
  chunk: chunkCommand,
  nar: narCommand,
  hash: hashCommand,
  compress: compressCommand,
  decompress: decompressCommand,
  dict: dictCommand,
  store: storeCommand,
  sync: syncCommand,
};

async function main(argv: readonly string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stderr.write(`${USAGE}\n`);
    if (name === undefined) process.exitCode = EXIT_USAGE;
    return;
  }
  const command = COMMANDS[name];
  if (command === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)}\n${USAGE}`);
  await command(rest);
}

// A closed stdout (e.g. `| head`) is the reader's choice, not an error worth a stack trace.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ChunkerError) {
    process.stderr.write(`chunker: ${error.code}: ${error.message}\n`);
    process.exitCode = error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
  } else if (typeof (error as NodeJS.ErrnoException).syscall === 'string') {
    // File system failures (ENOENT, EACCES, ...) are the user's to fix, not a crash.
    process.stderr.write(`chunker: io_error: ${(error as Error).message}\n`);
    process.exitCode = EXIT_FAILURE;
  } else {
    process.stderr.write(`chunker: internal_error: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = EXIT_FAILURE;
  }
});
