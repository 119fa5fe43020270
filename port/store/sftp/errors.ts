/**
 * Translates what ssh2 reports into store errors. ssh2 fails in three ways:
 *   - SFTP status replies: an Error whose numeric `code` is the SSH_FX_* status;
 *   - connection-level failures: an Error with a `level` (client-socket,
 *     client-authentication, client-timeout, handshake, protocol, agent, …) and for
 *     socket failures a Node errno `code` (ECONNREFUSED, …);
 *   - requests cut off by a closed channel: "No response from server".
 */
import { ChunkerError } from '../../errors.js';
import { storeError, type StoreErrorCode } from '../backend.js';

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02 §7). */
export const SFTP_STATUS = {
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

const CODE_BY_STATUS: Record<number, StoreErrorCode> = {
  [SFTP_STATUS.NO_SUCH_FILE]: 'not_found',
  [SFTP_STATUS.PERMISSION_DENIED]: 'store_permission',
  // OpenSSH reports ENOSPC, EEXIST and most other errno values as plain FAILURE.
  [SFTP_STATUS.FAILURE]: 'store_error',
  [SFTP_STATUS.BAD_MESSAGE]: 'store_error',
  [SFTP_STATUS.NO_CONNECTION]: 'store_unavailable',
  [SFTP_STATUS.CONNECTION_LOST]: 'store_unavailable',
  [SFTP_STATUS.OP_UNSUPPORTED]: 'store_config',
};

const CODE_BY_LEVEL: Record<string, StoreErrorCode> = {
  'client-socket': 'store_unavailable',
  'client-dns': 'store_unavailable',
  'client-timeout': 'store_unavailable',
  protocol: 'store_unavailable',
  'client-authentication': 'store_auth',
  agent: 'store_auth',
  handshake: 'store_error',
};

const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

interface Ssh2Error {
  code?: unknown;
  level?: unknown;
  message?: unknown;
}

/** The SFTP status code carried by `error`, if it is a status reply. */
export function sftpStatusOf(error: unknown): number | undefined {
  const code = (error as Ssh2Error | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The store error for `error`, which happened while doing `what` (e.g. "put a/b"). */
export function translateSftpError(error: unknown, location: string, what: string): ChunkerError {
  if (error instanceof ChunkerError) return error;
  const details = (error ?? {}) as Ssh2Error;
  const message = typeof details.message === 'string' ? details.message : String(error);
  const text = `${location}: ${what}: ${message}`;
  if (typeof details.code === 'number') return storeError(CODE_BY_STATUS[details.code] ?? 'store_error', text);
  if (typeof details.code === 'string' && UNAVAILABLE_ERRNO.has(details.code)) return storeError('store_unavailable', text);
  if (typeof details.level === 'string' && details.level in CODE_BY_LEVEL) return storeError(CODE_BY_LEVEL[details.level]!, text);
  if (message === 'No response from server') return storeError('store_unavailable', `${text} (the connection closed)`);
  return storeError('store_error', text);
}
