/**
 * known_hosts matching for the SFTP backend: plain, bracketed-port, wildcard, negated and
 * hashed host patterns, markers, and the three verdicts (trusted, unknown, changed). The
 * hashed lines were written by `ssh-keygen -H`, so they check against OpenSSH itself.
 */
import { describe, expect, it } from 'vitest';
import { checkHostKey, keyFingerprint, knownHostName, parseKnownHosts, preferredHostKeyAlgorithms } from '../../port/store/sftp/known-hosts.js';

const KEY_A = 'AAAAC3NzaC1lZDI1NTE5AAAAIHBASzQyM9fLpLIIrcM3lqYpOsN71/sHsBGbmPiiD3jx';
const KEY_B = 'AAAAC3NzaC1lZDI1NTE5AAAAIJEFXkY5sppTHk0HByaTHnpVaDEk0KamWsSLSbDOPve+';
// ssh-keygen -l of KEY_A.
const KEY_A_FINGERPRINT = 'SHA256:Shy1hTNhLUGR2zcHO017u7B0Fax6pujKE/+Prs64QXw';
// `ssh-keygen -H` of "example.org ssh-ed25519 KEY_A" and "[127.0.0.1]:2222 ssh-ed25519 KEY_A".
const HASHED_EXAMPLE_ORG = `|1|9guoDmRpDgXryfSUObA8lw1jXZY=|2UEg6OxUYCimnh8PrFK9mad2jBo= ssh-ed25519 ${KEY_A}`;
const HASHED_LOCAL_2222 = `|1|MzhRBYboLq1uhQuJqiGJV9EI5HI=|jborJrt1r526UJq5WsxoiTM0uVk= ssh-ed25519 ${KEY_A}`;

const keyA = Buffer.from(KEY_A, 'base64');
const keyB = Buffer.from(KEY_B, 'base64');
const verdict = (text: string, host: string, port: number, key: Buffer) => checkHostKey(parseKnownHosts(text), host, port, key).kind;

describe('known_hosts', () => {
  it('names hosts as OpenSSH does: bare on port 22, [host]:port otherwise', () => {
    expect(knownHostName('example.org', 22)).toBe('example.org');
    expect(knownHostName('127.0.0.1', 2222)).toBe('[127.0.0.1]:2222');
  });

  it('computes the SHA256 fingerprint ssh-keygen prints', () => {
    expect(keyFingerprint(keyA)).toBe(KEY_A_FINGERPRINT);
  });

  it('trusts a listed key, and only on the listed port', () => {
    const text = `# comment\n\n[127.0.0.1]:2222 ssh-ed25519 ${KEY_A} comment here\n`;
    expect(verdict(text, '127.0.0.1', 2222, keyA)).toBe('trusted');
    expect(verdict(text, '127.0.0.1', 22, keyA)).toBe('unknown');
    expect(verdict(text, '127.0.0.1', 2223, keyA)).toBe('unknown');
  });

  it('tells a changed key from an unknown host', () => {
    const text = `host.example,10.0.0.1 ssh-ed25519 ${KEY_A}\n`;
    expect(verdict(text, '10.0.0.1', 22, keyB)).toBe('changed');
    expect(verdict(text, 'other.example', 22, keyB)).toBe('unknown');
    expect(verdict(`${text}host.example ssh-ed25519 ${KEY_B}\n`, 'host.example', 22, keyB)).toBe('trusted');
  });

  it('matches wildcards case-insensitively and honours negation', () => {
    const text = `*.example.org,!bad.example.org ssh-ed25519 ${KEY_A}\n`;
    expect(verdict(text, 'Good.Example.org', 22, keyA)).toBe('trusted');
    expect(verdict(text, 'bad.example.org', 22, keyA)).toBe('unknown');
    expect(verdict(`[host?]:* ssh-ed25519 ${KEY_A}\n`, 'host1', 2222, keyA)).toBe('trusted');
  });

  it('matches hashed names written by ssh-keygen -H', () => {
    expect(verdict(HASHED_EXAMPLE_ORG, 'example.org', 22, keyA)).toBe('trusted');
    expect(verdict(HASHED_EXAMPLE_ORG, 'example.com', 22, keyA)).toBe('unknown');
    expect(verdict(HASHED_LOCAL_2222, '127.0.0.1', 2222, keyA)).toBe('trusted');
    expect(verdict(HASHED_LOCAL_2222, '127.0.0.1', 2222, keyB)).toBe('changed');
  });

  it('refuses @revoked keys and ignores @cert-authority lines', () => {
    const text = `@revoked * ssh-ed25519 ${KEY_B}\nhost ssh-ed25519 ${KEY_B}\n@cert-authority host ssh-ed25519 ${KEY_A}\n`;
    expect(verdict(text, 'host', 22, keyB)).toBe('revoked');
    expect(verdict(text, 'host', 22, keyA)).toBe('changed');
  });

  it('skips malformed lines and keys whose blob disagrees with the type', () => {
    const lines = parseKnownHosts(`host\nhost ssh-ed25519\nhost ssh-rsa ${KEY_A}\n@bogus host ssh-ed25519 ${KEY_A}\nhost ssh-ed25519 ${KEY_A}\n`);
    expect(lines.map((line) => line.line)).toEqual([5]);
  });

  it('asks for the host key algorithms of the key types known for the host', () => {
    const lines = parseKnownHosts(`host ssh-ed25519 ${KEY_A}\nother ssh-ed25519 ${KEY_B}\n`);
    expect(preferredHostKeyAlgorithms(lines, 'host', 22)).toEqual(['ssh-ed25519']);
    expect(preferredHostKeyAlgorithms(lines, 'nobody', 22)).toEqual([]);
  });
});
