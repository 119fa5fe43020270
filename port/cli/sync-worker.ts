/** The worker thread `chunker sync` runs its upload in (worker-command.ts tells why). */
import { interruptedSync, runSyncJob, type SyncJob } from './sync-command.js';
import { serveInWorker } from './worker-command.js';

serveInWorker<SyncJob>(runSyncJob, interruptedSync);
