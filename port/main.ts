#!/usr/bin/env node
/**
 * The port program's stdin/stdout loop (protocol/spec.md §1) and nothing else: frames in
 * from stdin, answers out to stdout as frames, logs to stderr.
 *
 * - stdout carries frames only. When a write is refused (write() returns false: the client
 *   is not reading), stdin is paused until 'drain', so memory stays bounded and requests
 *   wait in the pipe instead of in this process.
 * - Replies produced while handling one stdin chunk are written corked, one syscall.
 * - stdin end: once every in-flight request is answered and stdout has flushed, exit 0.
 *   Never exit right after a write: a pipe write may still be pending.
 * - stdout closed by the reader (EPIPE): exit quietly, there is nobody left to answer.
 *
 * Usage: node dist/port/main.js [--max-frame-bytes N] [--max-sessions N]
 */
import { Dispatcher } from './dispatch.js';
import { DEFAULT_MAX_FRAME_BYTES, FRAME_LENGTH_LIMIT_BYTES, FrameDecoder } from './frame.js';
import { createPortContext, type PortLimits } from './ops/context.js';
import { encodeMessageFrame, errorReply, toWireError, type Message } from './protocol.js';
import { DEFAULT_BUDGET, DEFAULT_MAX_SESSIONS } from './session.js';

/** Exit status for a malformed command line (the port never started serving). */
const EXIT_USAGE = 2;
/** Exit status when stdout fails for a reason other than the reader leaving. */
const EXIT_OUTPUT_FAILED = 1;

const USAGE = 'usage: node dist/port/main.js [--max-frame-bytes N] [--max-sessions N]';

function log(line: string): void {
  process.stderr.write(`chunker port: ${line}\n`);
}

class UsageError extends Error {}

function parseLimits(argv: readonly string[]): PortLimits {
  const limits: PortLimits = { maxFrameBytes: DEFAULT_MAX_FRAME_BYTES, maxSessions: DEFAULT_MAX_SESSIONS };
  const bounds = {
    '--max-frame-bytes': ['maxFrameBytes', FRAME_LENGTH_LIMIT_BYTES],
    '--max-sessions': ['maxSessions', Number.MAX_SAFE_INTEGER],
  } as const;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    if (!Object.hasOwn(bounds, flag)) throw new UsageError(`unknown argument ${JSON.stringify(argv[i])}`);
    const [key, upper] = bounds[flag as keyof typeof bounds];
    const text = inline ?? argv[++i];
    const value = Number(text);
    if (text === undefined || !/^\d+$/.test(text) || value < 1 || value > upper) {
      throw new UsageError(`${flag} needs an integer between 1 and ${upper}, got ${JSON.stringify(text)}`);
    }
    limits[key] = value;
  }
  return limits;
}

function serve(limits: PortLimits): void {
  const { stdin, stdout } = process;
  const dispatcher = new Dispatcher(createPortContext(limits, DEFAULT_BUDGET));
  const decoder = new FrameDecoder(limits.maxFrameBytes);
  let inFlight = 0;
  let inputEnded = false;
  let waitingForDrain = false;
  let exiting = false;

  const write = (frame: Buffer): void => {
    if (stdout.write(frame) || waitingForDrain) return;
    waitingForDrain = true;
    stdin.pause();
    stdout.once('drain', () => {
      waitingForDrain = false;
      if (!inputEnded) stdin.resume();
    });
  };

  const send = (message: Message): void => {
    let frame: Buffer;
    try {
      frame = encodeMessageFrame(message);
    } catch (error) {
      // A reply that cannot be encoded is a bug; the client still gets an answer.
      log(`could not encode a reply: ${(error as Error).stack ?? String(error)}`);
      if (typeof message.id !== 'number') return;
      frame = encodeMessageFrame(errorReply(message.id, toWireError(error)));
    }
    write(frame);
  };

  const exitWhenDone = (): void => {
    if (!inputEnded || inFlight > 0 || exiting) return;
    exiting = true;
    if (!decoder.atFrameBoundary) log('stdin ended in the middle of a frame; that frame is discarded');
    // 'finish' comes once everything written has reached the pipe.
    stdout.end(() => process.exit(0));
  };

  const settled = (): void => {
    inFlight--;
    exitWhenDone();
  };

  stdin.on('data', (bytes: Buffer) => {
    stdout.cork();
    try {
      for (const item of decoder.push(bytes)) {
        let later: Promise<void> | undefined;
        try {
          later = dispatcher.handle(item, send);
        } catch (error) {
          // The dispatcher answers every failure itself; reaching here is a bug. Keep going
          // so the frames after this one are still answered.
          log(`internal error while handling a frame: ${(error as Error).stack ?? String(error)}`);
        }
        if (later !== undefined) {
          inFlight++;
          later.then(settled, (error: unknown) => {
            log(`internal error after a request: ${(error as Error).stack ?? String(error)}`);
            settled();
          });
        }
      }
    } finally {
      stdout.uncork();
    }
  });
  stdin.on('end', () => {
    inputEnded = true;
    exitWhenDone();
  });
  stdin.on('error', (error) => {
    log(`stdin failed: ${error.message}`);
    inputEnded = true;
    exitWhenDone();
  });

  stdout.on('error', (error: NodeJS.ErrnoException) => {
    // The reader went away: nobody is left to answer, and that is not a crash.
    if (error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED') process.exit(0);
    log(`stdout failed: ${error.message}`);
    process.exit(EXIT_OUTPUT_FAILED);
  });

  // Requests never throw out of the dispatcher; anything that still escapes is a bug to
  // report, not a reason to drop every open session.
  process.on('uncaughtException', (error) => log(`internal error: ${error.stack ?? String(error)}`));
  process.on('unhandledRejection', (reason) => log(`internal error (promise): ${(reason as Error)?.stack ?? String(reason)}`));
}

function main(argv: readonly string[]): void {
  let limits: PortLimits;
  try {
    limits = parseLimits(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    log(`${error.message}\n${USAGE}`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  serve(limits);
}

main(process.argv.slice(2));
