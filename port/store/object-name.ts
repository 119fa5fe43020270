/**
 * Object names are relative, '/'-separated keys. The rules keep one name meaning one
 * place on every backend: no absolute paths, no `.`/`..` segments (which a file system or
 * an SFTP server would resolve), no empty segments, no backslashes or control bytes, and
 * no segment that starts with the temp prefix backends use for unfinished puts.
 */
import { invalidParameter } from '../errors.js';

/** Longest accepted name, in UTF-8 bytes (S3's key limit). */
export const MAX_OBJECT_NAME_BYTES = 1024;

/** Prefix of the temp names local and sftp puts write before renaming; never listed. */
export const TEMP_NAME_PREFIX = '.chunker-tmp-';

// Control bytes and backslash; '/' separates segments and is checked per segment.
const FORBIDDEN_CHARACTERS = /[\u0000-\u001f\u007f\\]/;

/** Throws `invalid_argument` unless `name` is a valid object name; returns it. */
export function checkObjectName(name: unknown, argument = 'object name'): string {
  if (typeof name !== 'string' || name.length === 0) throw invalidParameter(argument, 'a non-empty string', name);
  if (Buffer.byteLength(name) > MAX_OBJECT_NAME_BYTES) {
    throw invalidParameter(argument, `at most ${MAX_OBJECT_NAME_BYTES} UTF-8 bytes`, name);
  }
  if (FORBIDDEN_CHARACTERS.test(name)) throw invalidParameter(argument, 'no control characters or backslashes', name);
  for (const segment of name.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw invalidParameter(argument, "a relative path without empty, '.' or '..' segments", name);
    }
    if (segment.startsWith(TEMP_NAME_PREFIX)) throw invalidParameter(argument, `no segment starting with ${TEMP_NAME_PREFIX}`, name);
  }
  return name;
}

/** Whether `name` is a valid object name (backends skip names on the server that are not). */
export function isObjectName(name: string): boolean {
  try {
    checkObjectName(name);
    return true;
  } catch {
    return false;
  }
}

/** Throws unless `prefix` could start a valid name ('' lists everything). */
export function checkListPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string') throw invalidParameter('prefix', 'a string', prefix);
  if (prefix === '') return prefix;
  if (prefix.startsWith('/') || FORBIDDEN_CHARACTERS.test(prefix)) {
    throw invalidParameter('prefix', 'a relative name prefix', prefix);
  }
  return prefix;
}
