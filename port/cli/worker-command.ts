/**
 * Running a command's work in a worker thread with a small young generation: the main
 * thread starts the worker, forwards the first Ctrl-C to it as an abort, and reports
 * whatever the work failed with exactly as if it had run in the main thread. The
 * worker's output goes to the process's stdout and stderr (Node pipes a worker's streams
 * to the main thread's).
 *
 * Why a worker: V8 fixes the most new space a heap may grow to when it creates the
 * isolate, and by default lets it grow to 16 MiB semi-spaces (module loading keeps enough
 * alive to get there early; a steady allocator never shrinks it back). With that new
 * space and the upload engine's small live heap (about 8 MiB), V8 kept a full GC going
 * nearly all the time: uploading 2000 small objects ran 30–40 of them back to back
 * (--trace-gc: incremental marking started again as soon as one finished), which with the
 * garbage they left waiting (30+ MiB of packet and file buffers, cold in cache, faulted in
 * anew) cost a quarter of the process's CPU. A running isolate's heap cannot be resized
 * (v8.setFlagsFromString is too late for it), a worker's can (`resourceLimits`): with
 * 2 MiB semi-spaces the same upload ran one full GC and took 20–35% less CPU.
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { ChunkerError } from '../errors.js';
import { UsageError } from './args.js';

/**
 * Young generation of the worker: V8 splits it into two semi-spaces and a large-object
 * space of equal size, so 6 MiB gives 2 MiB semi-spaces. 1 MiB semi-spaces measured alike;
 * with 3–4 MiB the same upload ran 7–28 full GCs, with 8 MiB as many as by default.
 */
export const WORKER_YOUNG_GENERATION_MB = 6;

/** The main thread's message asking the work to stop (the user pressed Ctrl-C). */
const INTERRUPT = 'interrupt';

/** A failure of the work, as it crosses to the main thread (structured clone keeps no class). */
interface WorkerFailure {
  readonly code?: string;
  readonly permanent?: boolean;
  readonly usage?: boolean;
  /** Set for Node's file system errors (ENOENT, EACCES, …), which cli.ts reports as io_error. */
  readonly syscall?: string;
  readonly message: string;
  readonly stack?: string;
}

function describeFailure(error: unknown): WorkerFailure {
  if (error instanceof ChunkerError) return { code: error.code, permanent: error.permanent, usage: error instanceof UsageError, message: error.message };
  if (error instanceof Error) {
    const { syscall } = error as NodeJS.ErrnoException;
    return { message: error.message, stack: error.stack, ...(typeof syscall === 'string' ? { syscall } : {}) };
  }
  return { message: String(error) };
}

function reviveFailure(failure: WorkerFailure): Error {
  if (failure.code !== undefined) return failure.usage === true ? new UsageError(failure.message) : new ChunkerError(failure.code, failure.message, failure.permanent);
  const error = new Error(failure.message);
  if (failure.stack !== undefined) error.stack = failure.stack;
  if (failure.syscall !== undefined) Object.assign(error, { syscall: failure.syscall });
  return error;
}

/**
 * Runs the worker module `entry` (which calls `serveInWorker`) with `data` and settles
 * when it has finished: rejects with the error its work failed with. The first Ctrl-C
 * while it runs aborts the work's signal; a second one ends the process as usual.
 */
export async function runInWorker(entry: URL, data: unknown): Promise<void> {
  const worker = new Worker(entry, { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB } });
  let failure: WorkerFailure | undefined;
  worker.on('message', (message: WorkerFailure) => {
    failure = message;
  });
  const interrupt = (): void => worker.postMessage(INTERRUPT);
  process.once('SIGINT', interrupt);
  try {
    await new Promise<void>((resolve, reject) => {
      // An exception the work did not catch (a bug): the worker is gone.
      worker.once('error', reject);
      worker.once('exit', (code) => (code === 0 ? resolve() : reject(new ChunkerError('internal_error', `the worker thread exited with status ${code}`))));
    });
  } finally {
    process.off('SIGINT', interrupt);
  }
  if (failure !== undefined) throw reviveFailure(failure);
}

/**
 * The worker side: runs `work` with the data `runInWorker` was given and a signal that
 * aborts with `interrupted()` when the main thread forwards a Ctrl-C; a failure goes back
 * to the main thread. Call once, at the top of the worker module.
 */
export function serveInWorker<T>(work: (data: T, signal: AbortSignal) => Promise<void>, interrupted: () => unknown): void {
  if (isMainThread || parentPort === null) throw new Error('serveInWorker must run in a worker thread started by runInWorker');
  const port = parentPort;
  const controller = new AbortController();
  port.on('message', (message: unknown) => {
    if (message === INTERRUPT && !controller.signal.aborted) controller.abort(interrupted());
  });
  // Listening for an interrupt must not keep the worker alive once the work is done.
  port.unref();
  work(workerData as T, controller.signal).catch((error: unknown) => port.postMessage(describeFailure(error)));
}
