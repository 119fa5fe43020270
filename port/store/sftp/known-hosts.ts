/**
 * Host key checking against an OpenSSH known_hosts file (sshd(8) "SSH_KNOWN_HOSTS FILE
 * FORMAT"). A line is `[@marker] patterns keytype base64-key [comment]`:
 *   - patterns: comma-separated host names; `[host]:port` for a port other than 22;
 *     `*` and `?` wildcards; a leading `!` negates; or one hashed name `|1|salt|hash`,
 *     the HMAC-SHA1 of the name keyed by the salt (what `ssh-keygen -H` writes).
 *   - `@revoked` marks a key that must be refused; `@cert-authority` lines (host
 *     certificates) are not supported and are ignored.
 * The name looked up is `host` on port 22 and `[host]:port` otherwise, as OpenSSH does.
 */
import { createHash, createHmac } from 'node:crypto';

const DEFAULT_SSH_PORT = 22;

export interface KnownHostLine {
  /** 1-based line number in the file, for messages. */
  readonly line: number;
  readonly marker: 'revoked' | 'cert-authority' | undefined;
  readonly patterns: string;
  readonly keyType: string;
  /** The public key blob (SSH wire format), decoded from base64. */
  readonly key: Buffer;
}

export type HostKeyVerdict =
  /** A line for this host names exactly this key. */
  | { readonly kind: 'trusted' }
  /** No line for this host has a key of the offered type. */
  | { readonly kind: 'unknown'; readonly knownTypes: readonly string[] }
  /** Lines for this host have keys of the offered type, but none is this key. */
  | { readonly kind: 'changed'; readonly known: readonly KnownHostLine[] }
  /** The key is marked `@revoked`. */
  | { readonly kind: 'revoked'; readonly line: number };

/** Parses the file's text; malformed lines are skipped, as ssh skips them. */
export function parseKnownHosts(text: string): KnownHostLine[] {
  const lines: KnownHostLine[] = [];
  text.split('\n').forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) return;
    let marker: KnownHostLine['marker'];
    if (fields[0].startsWith('@')) {
      const name = fields.shift()!;
      if (name !== '@revoked' && name !== '@cert-authority') return;
      marker = name === '@revoked' ? 'revoked' : 'cert-authority';
    }
    const [patterns, keyType, encoded] = fields;
    if (patterns === undefined || keyType === undefined || encoded === undefined) return;
    const key = Buffer.from(encoded, 'base64');
    if (key.length === 0 || keyTypeOf(key) !== keyType) return;
    lines.push({ line: index + 1, marker, patterns, keyType, key });
  });
  return lines;
}

/** The name known_hosts files use for `host` at `port`. */
export function knownHostName(host: string, port: number): string {
  return port === DEFAULT_SSH_PORT ? host : `[${host}]:${port}`;
}

/** The key type string at the start of an SSH public key blob (`ssh-ed25519`, …). */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return '';
  const length = key.readUInt32BE(0);
  return length + 4 > key.length ? '' : key.toString('latin1', 4, 4 + length);
}

/** OpenSSH's fingerprint form: `SHA256:` and unpadded base64 of the key blob's digest. */
export function keyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

function hashedNameMatches(pattern: string, name: string): boolean {
  const [, magic, salt, hash] = pattern.split('|');
  if (magic !== '1' || salt === undefined || hash === undefined) return false;
  const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
  return digest === hash;
}

/** Whether a line's pattern list names `name` (a positive match and no negated one). */
function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedNameMatches(patterns, name);
  let matched = false;
  for (const pattern of patterns.split(',')) {
    const negated = pattern.startsWith('!');
    if (globToRegExp(negated ? pattern.slice(1) : pattern).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** The plain (unmarked) and revoked lines that apply to `host` at `port`. */
export function linesForHost(lines: readonly KnownHostLine[], host: string, port: number): KnownHostLine[] {
  const name = knownHostName(host, port);
  return lines.filter((line) => line.marker !== 'cert-authority' && patternsMatch(line.patterns, name));
}

/** Decides whether `offered` (the server's host key blob) is the key known for the host. */
export function checkHostKey(lines: readonly KnownHostLine[], host: string, port: number, offered: Buffer): HostKeyVerdict {
  const applicable = linesForHost(lines, host, port);
  const revoked = applicable.find((line) => line.marker === 'revoked' && line.key.equals(offered));
  if (revoked !== undefined) return { kind: 'revoked', line: revoked.line };
  const plain = applicable.filter((line) => line.marker === undefined);
  if (plain.some((line) => line.key.equals(offered))) return { kind: 'trusted' };
  const offeredType = keyTypeOf(offered);
  const sameType = plain.filter((line) => line.keyType === offeredType);
  if (sameType.length > 0) return { kind: 'changed', known: sameType };
  return { kind: 'unknown', knownTypes: [...new Set(plain.map((line) => line.keyType))] };
}

// Host key algorithms a server may sign with for each key type in known_hosts.
const ALGORITHMS_BY_KEY_TYPE: Record<string, readonly string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/**
 * The host key algorithms to ask for first so the server presents a key type the file
 * already knows (as OpenSSH's client orders them); otherwise a server with several host
 * keys could offer one the file lacks and the host would look unknown.
 */
export function preferredHostKeyAlgorithms(lines: readonly KnownHostLine[], host: string, port: number): string[] {
  const types = new Set(linesForHost(lines, host, port).filter((line) => line.marker === undefined).map((line) => line.keyType));
  return [...types].flatMap((type) => ALGORITHMS_BY_KEY_TYPE[type] ?? []);
}
