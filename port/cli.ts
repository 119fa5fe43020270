#!/usr/bin/env node
/**
 * The standalone command line. Results go to stdout, everything else (summaries, errors)
 * to stderr; a failure exits non-zero with "chunker: <code>: <message>".
 */
import { ChunkerError } from './errors.js';
import { UsageError } from './cli/args.js';

type Command = (argv: readonly string[]) => Promise<void>;

/** Exit statuses: 1 for a failed operation, 2 for a malformed command line. */
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

// Each command's module is loaded only when the command runs (or the usage is shown):
// loading them all, with the native addon and every store's client library, cost every
// command about 0.1 s before it could start.
const COMMANDS: Record<string, () => Promise<Command>> = {
  chunk: async () => (await import('./cli/chunk-command.js')).chunkCommand,
  nar: async () => (await import('./cli/nar-command.js')).narCommand,
  hash: async () => (await import('./cli/hash-command.js')).hashCommand,
  compress: async () => (await import('./cli/compression-command.js')).compressCommand,
  decompress: async () => (await import('./cli/compression-command.js')).decompressCommand,
  dict: async () => (await import('./cli/compression-command.js')).dictCommand,
  store: async () => (await import('./cli/store-command.js')).storeCommand,
  sync: async () => (await import('./cli/sync-launch.js')).syncCommand,
};

async function usage(): Promise<string> {
  const texts = await Promise.all([
    import('./cli/chunk-command.js').then((module) => module.CHUNK_USAGE),
    import('./cli/nar-command.js').then((module) => module.NAR_USAGE),
    import('./cli/hash-command.js').then((module) => module.HASH_USAGE),
    import('./cli/compression-command.js').then((module) => module.COMPRESSION_USAGE),
    import('./cli/store-command.js').then((module) => module.STORE_USAGE),
    import('./cli/sync-command.js').then((module) => module.SYNC_USAGE),
  ]);
  return `usage:\n${texts.join('\n')}`;
}

async function main(argv: readonly string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stderr.write(`${await usage()}\n`);
    if (name === undefined) process.exitCode = EXIT_USAGE;
    return;
  }
  const load = COMMANDS[name];
  if (load === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)}\n${await usage()}`);
  await (await load())(rest);
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
