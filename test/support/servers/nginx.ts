/**
 * A real nginx (Debian nginx-light) serving a temp directory over WebDAV PUT/DELETE with a
 * JSON directory index, on 127.0.0.1 at a free port, for the http store tests.
 *
 * Everything lives under one temp prefix: config, served root, pid and logs, and every
 * temp path (the WebDAV module writes request bodies under client_body_temp_path before
 * renaming them into the root), so nothing outside it is touched, as root or not.
 * `master_process off` keeps nginx to one process, so killing the PID stops the server
 * entirely (a killed master would leave its workers serving).
 *
 * Locations besides `/` (all WebDAV, all under the same root):
 *   /private/    basic auth: user `chunker`, password `PRIVATE_PASSWORD`
 *   /small/      client_max_body_size 1k (413 for anything larger)
 *   /readonly/   no dav_methods (405 for PUT and DELETE)
 *   /noindex/    autoindex off (403 for directory listings)
 *   /noranges/   max_ranges 0 (Range ignored, 200 with the whole object)
 *   /slow/       limit_rate SLOW_RATE_BYTES_PER_SECOND per response
 *   /moved/      301 to MOVED_LOCATION for everything
 * With `tls`, it speaks HTTPS with a self-signed certificate for 127.0.0.1 made by openssl.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PRIVATE_USER = 'chunker';
export const PRIVATE_PASSWORD = 'correct horse';
/** Response rate of /slow/, so a download can be caught in the middle. */
export const SLOW_RATE_BYTES_PER_SECOND = 256 * 1024;

/** Where /moved/ redirects to. */
export const MOVED_LOCATION = 'https://cache.example.org/';

/** How long nginx gets to start answering, and to exit after a signal. */
const START_DEADLINE_MS = 15_000;
const EXIT_DEADLINE_MS = 10_000;
const POLL_INTERVAL_MS = 25;
/** Attempts at finding a free port when another process takes it between probe and bind. */
const PORT_ATTEMPTS = 5;

const NGINX_CANDIDATES = [process.env.NGINX, '/usr/sbin/nginx', '/usr/bin/nginx'];

function findNginx(): string {
  const found = NGINX_CANDIDATES.find((path): path is string => path !== undefined && existsSync(path));
  if (found === undefined) {
    throw new Error('nginx not found (looked at $NGINX, /usr/sbin/nginx, /usr/bin/nginx); install Debian nginx-light: bash .ci/packages.sh test');
  }
  return found;
}

/** A port nothing listens on right now (the kernel's pick for port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** An htpasswd line in the salted-SHA1 form nginx reads. */
function htpasswdLine(user: string, password: string): string {
  const salt = randomBytes(8);
  const digest = createHash('sha1').update(password).update(salt).digest();
  return `${user}:{SSHA}${Buffer.concat([digest, salt]).toString('base64')}\n`;
}

/** How nginx listens: plain HTTP, or HTTPS with a self-signed certificate made for the run. */
export interface NginxOptions {
  readonly tls?: boolean;
}

/** A self-signed certificate for 127.0.0.1 (also the CA a client must trust), made by openssl. */
function makeCertificate(prefix: string): void {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', join(prefix, 'key.pem'), '-out', join(prefix, 'cert.pem'),
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
}

function config(prefix: string, root: string, port: number, tls: boolean): string {
  const dav = 'dav_methods PUT DELETE; create_full_put_path on;';
  // Run as whoever starts us: without a master there is no privilege drop, and as root
  // the `user` directive would otherwise default the temp directories to nobody.
  return `
master_process off;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} notice;
events { worker_connections 1024; }
http {
  access_log ${join(prefix, 'access.log')};
  client_body_temp_path ${join(prefix, 'temp', 'body')};
  proxy_temp_path ${join(prefix, 'temp', 'proxy')};
  fastcgi_temp_path ${join(prefix, 'temp', 'fastcgi')};
  uwsgi_temp_path ${join(prefix, 'temp', 'uwsgi')};
  scgi_temp_path ${join(prefix, 'temp', 'scgi')};
  default_type application/octet-stream;
  keepalive_requests 100000;
  server {
    listen 127.0.0.1:${port}${tls ? ' ssl' : ''};
    ${tls ? `ssl_certificate ${join(prefix, 'cert.pem')}; ssl_certificate_key ${join(prefix, 'key.pem')};` : ''}
    root ${root};
    client_max_body_size 0;
    autoindex on;
    autoindex_format json;
    location / { ${dav} }
    location /private/ {
      ${dav}
      auth_basic "chunker test";
      auth_basic_user_file ${join(prefix, 'htpasswd')};
    }
    location /small/ { ${dav} client_max_body_size 1k; }
    location /readonly/ { }
    location /noindex/ { ${dav} autoindex off; }
    location /noranges/ { ${dav} max_ranges 0; }
    location /slow/ { ${dav} limit_rate ${SLOW_RATE_BYTES_PER_SECOND}; }
    location /moved/ { return 301 ${MOVED_LOCATION}; }
  }
}
`;
}

export class NginxServer {
  /** The directory nginx serves; objects appear here as files. */
  readonly root: string;
  /** Where nginx keeps request bodies until the WebDAV module renames them into `root`. */
  readonly bodyTempDir: string;
  private process: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private stderr = '';

  private constructor(
    readonly prefix: string,
    readonly port: number,
    private readonly tls: boolean,
  ) {
    this.root = join(prefix, 'root');
    this.bodyTempDir = join(prefix, 'temp', 'body');
  }

  /** Starts nginx on a free port in a new temp prefix. */
  static async start(options: NginxOptions = {}): Promise<NginxServer> {
    const tls = options.tls ?? false;
    const binary = findNginx();
    let lastError: unknown;
    for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
      const prefix = mkdtempSync(join(tmpdir(), 'chunker-nginx-'));
      const server = new NginxServer(prefix, await freePort(), tls);
      if (tls) makeCertificate(prefix);
      mkdirSync(server.root);
      mkdirSync(join(prefix, 'temp'));
      writeFileSync(join(prefix, 'htpasswd'), htpasswdLine(PRIVATE_USER, PRIVATE_PASSWORD));
      writeFileSync(join(prefix, 'nginx.conf'), config(prefix, server.root, server.port, tls));
      try {
        await server.launch(binary);
        return server;
      } catch (error) {
        rmSync(prefix, { recursive: true, force: true });
        lastError = error;
        if (!/Address already in use/.test(String(error))) break;
      }
    }
    throw lastError;
  }

  /** The certificate clients must trust when started with `tls`. */
  get certificatePath(): string {
    return join(this.prefix, 'cert.pem');
  }

  /** `http(s)://127.0.0.1:port/path` (path starting with '/'), with optional credentials. */
  url(path = '/', credentials?: { user: string; password: string }): string {
    const userinfo = credentials === undefined ? '' : `${encodeURIComponent(credentials.user)}:${encodeURIComponent(credentials.password)}@`;
    return `${this.tls ? 'https' : 'http'}://${userinfo}127.0.0.1:${this.port}${path}`;
  }

  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** Stops the process by its PID (keeping the files), and waits until it is gone. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.process;
    if (child === null) return;
    this.process = null;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_DEADLINE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Starts nginx again on the same port and root, after `kill`. */
  async restart(): Promise<void> {
    if (this.process !== null) throw new Error('nginx is still running; kill() it first');
    await this.launch(findNginx());
  }

  /** Kills nginx by PID and removes the temp prefix. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.prefix, { recursive: true, force: true });
  }

  /** The error log so far, for failure messages. */
  errorLog(): string {
    const path = join(this.prefix, 'error.log');
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  private wrotePidFile(pid: number | undefined): boolean {
    try {
      return Number(readFileSync(join(this.prefix, 'nginx.pid'), 'utf8').trim()) === pid;
    } catch {
      return false;
    }
  }

  private async launch(binary: string): Promise<void> {
    this.stderr = '';
    const child = spawn(binary, ['-p', `${this.prefix}/`, '-c', join(this.prefix, 'nginx.conf'), '-e', join(this.prefix, 'error.log'), '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.process = child;
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    let gone = false;
    this.exited = new Promise((resolve) =>
      child.once('exit', () => {
        gone = true;
        resolve();
      }),
    );
    child.once('error', (error) => (this.stderr += `spawn failed: ${error.message}\n`));
    const deadline = Date.now() + START_DEADLINE_MS;
    // nginx writes its pid file after binding the listening socket; checking the PID in it
    // tells our nginx apart from anyone else who might answer on the port.
    while (!(this.wrotePidFile(child.pid) && (await accepts(this.port)))) {
      if (gone || Date.now() > deadline) {
        await this.kill('SIGKILL');
        throw new Error(`nginx did not start on 127.0.0.1:${this.port}${gone ? ' (it exited)' : ` within ${START_DEADLINE_MS} ms`}:\n${this.stderr}${this.errorLog()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  }
}
