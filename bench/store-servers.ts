/**
 * The servers the store benchmark uploads to, started here on 127.0.0.1 by the test
 * harnesses (test/support/servers), and how each tool names a fresh destination on them:
 * our store URL and environment, rclone's remote and environment. rclone's remote is
 * configured only through RCLONE_CONFIG_<NAME>_* variables and an empty config file, so
 * nothing of the user's rclone setup takes part.
 *
 * Equivalent settings: both tools get the same --transfers and --checkers (store-section.ts);
 * for S3 rclone's upload cutoff, chunk size and upload concurrency are set to our
 * multipart threshold, part size and part concurrency; for SFTP both use the same key
 * and known_hosts file. Destinations are removed on the server's disk between runs
 * (nothing else uses them), so every run starts from an empty destination.
 */
import { accessSync, constants, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoreOpenOptions } from '../port/store/open-store.js';
import { DEFAULT_MULTIPART_THRESHOLD_BYTES, DEFAULT_PART_BYTES, DEFAULT_PART_CONCURRENCY } from '../port/store/s3-config.js';
import { NginxServer } from '../test/support/servers/nginx.js';
import { S3RVER_ACCESS_KEY_ID, S3RVER_REGION, S3RVER_SECRET_ACCESS_KEY, startS3rver } from '../test/support/servers/s3rver.js';
import { startSshd } from '../test/support/servers/sshd.js';
import { MIB } from './units.js';

export const TARGET_KINDS = ['s3', 'sftp', 'http', 'local'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/** One way of running rclone against a target. */
export interface RcloneVariant {
  /** Short label for the report, e.g. "rclone" or "rclone (md5sum check)". */
  readonly label: string;
  readonly flags: readonly string[];
  /**
   * Whether the variant is too slow for the whole small set (it then runs once on a
   * subset, and is reported as a rate but not used for the ratio).
   */
  readonly subsetOnly: boolean;
}

export interface BenchTarget {
  readonly kind: TargetKind;
  /** What the server is, for the report. */
  readonly description: string;
  /** Our store URL for a destination named `prefix`. */
  oursUrl(prefix: string): string;
  /** Environment our CLI needs for this target (credentials, endpoint, key files). */
  readonly oursEnv: Readonly<Record<string, string>>;
  /** The same settings as options, for opening the store in this process (the checks). */
  readonly openOptions: StoreOpenOptions;
  /** rclone's destination for `prefix`; undefined when rclone cannot write to this server. */
  rcloneDestination(prefix: string): string | undefined;
  readonly rcloneEnv: Readonly<Record<string, string>>;
  readonly rcloneVariants: readonly RcloneVariant[];
  /** Why rclone is not measured here, when it is not. */
  readonly rcloneMissing: string | null;
  /** Removes the destination `prefix` with everything in it. */
  clear(prefix: string): void;
  /** Stops the server by PID and removes its files. */
  stop(): Promise<void>;
}

/** The bucket the S3 target creates. */
const BUCKET = 'chunker-bench';
/** rclone remote name (upper case: it is part of the RCLONE_CONFIG_<NAME>_* variables). */
const REMOTE = 'CHUNKERBENCH';

/** An rclone environment for remote REMOTE with `settings` (option name → value). */
function rcloneEnvironment(configFile: string, settings: Readonly<Record<string, string>>): Record<string, string> {
  const env: Record<string, string> = { RCLONE_CONFIG: configFile };
  for (const [name, value] of Object.entries(settings)) env[`RCLONE_CONFIG_${REMOTE}_${name.toUpperCase()}`] = value;
  return env;
}

/**
 * Where the S3 and SFTP servers keep what they are sent: tmpfs when the machine has one.
 * On the benchmark VM's ext4 (no journal) file creation stays slower for minutes after
 * many files are removed, and each server's destinations are removed when its runs are
 * done, so the next server's figures depended on the one before: SFTP small was 1.29×
 * rclone alone and 0.86-1.17× after the S3 section. The local target stays on disk.
 */
export function serverDataParent(): string {
  try {
    if (!statSync('/dev/shm').isDirectory()) return tmpdir();
    accessSync('/dev/shm', constants.W_OK);
    return '/dev/shm';
  } catch {
    return tmpdir();
  }
}

function mebibytes(bytes: number): string {
  return `${bytes / MIB}M`;
}

async function startS3Target(configFile: string): Promise<BenchTarget> {
  const server = await startS3rver([BUCKET], serverDataParent());
  return {
    kind: 's3',
    description: `s3rver (npm) on 127.0.0.1, data in ${server.directory}`,
    oursUrl: (prefix) => `s3://${BUCKET}/${prefix}`,
    oursEnv: {
      AWS_ACCESS_KEY_ID: S3RVER_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: S3RVER_SECRET_ACCESS_KEY,
      AWS_REGION: S3RVER_REGION,
      AWS_ENDPOINT_URL: server.endpoint,
    },
    openOptions: {
      s3: { endpoint: server.endpoint, region: S3RVER_REGION, credentials: { accessKeyId: S3RVER_ACCESS_KEY_ID, secretAccessKey: S3RVER_SECRET_ACCESS_KEY } },
    },
    rcloneDestination: (prefix) => `${REMOTE}:${BUCKET}/${prefix}`,
    rcloneEnv: rcloneEnvironment(configFile, {
      type: 's3',
      provider: 'Other',
      access_key_id: S3RVER_ACCESS_KEY_ID,
      secret_access_key: S3RVER_SECRET_ACCESS_KEY,
      region: S3RVER_REGION,
      endpoint: server.endpoint,
    }),
    rcloneVariants: [
      {
        label: 'rclone',
        flags: [
          `--s3-upload-cutoff=${mebibytes(DEFAULT_MULTIPART_THRESHOLD_BYTES)}`,
          `--s3-chunk-size=${mebibytes(DEFAULT_PART_BYTES)}`,
          `--s3-upload-concurrency=${DEFAULT_PART_CONCURRENCY}`,
        ],
        subsetOnly: false,
      },
    ],
    rcloneMissing: null,
    // s3rver keeps key K of a bucket as files named K plus suffixes under directory/bucket/.
    clear: (prefix) => rmSync(join(server.directory, BUCKET, prefix), { recursive: true, force: true }),
    stop: () => server.stop(),
  };
}

async function startSftpTarget(configFile: string): Promise<BenchTarget> {
  const server = await startSshd(serverDataParent());
  return {
    kind: 'sftp',
    description: `OpenSSH sshd (internal-sftp) on 127.0.0.1, user ${server.user}, ed25519 key, root ${server.rootDir}`,
    oursUrl: (prefix) => server.url(prefix),
    oursEnv: { CHUNKER_SFTP_IDENTITY_FILE: server.clientKeyPath, CHUNKER_SFTP_KNOWN_HOSTS: server.knownHostsPath },
    openOptions: { sftp: { identityFile: server.clientKeyPath, knownHostsFile: server.knownHostsPath } },
    rcloneDestination: (prefix) => `${REMOTE}:${server.rootDir}/${prefix}`,
    rcloneEnv: rcloneEnvironment(configFile, {
      type: 'sftp',
      host: server.host,
      port: String(server.port),
      user: server.user,
      key_file: server.clientKeyPath,
      known_hosts_file: server.knownHostsPath,
    }),
    rcloneVariants: [
      // Without the hash check rclone, like us, checks sizes only; it is the faster variant.
      { label: 'rclone --sftp-disable-hashcheck', flags: ['--sftp-disable-hashcheck'], subsetOnly: false },
      // rclone's default runs `md5sum` over a new SSH session after every file.
      { label: 'rclone (default: md5sum per file)', flags: [], subsetOnly: true },
    ],
    rcloneMissing: null,
    clear: (prefix) => rmSync(join(server.rootDir, prefix), { recursive: true, force: true }),
    stop: () => server.stop(),
  };
}

async function startHttpTarget(): Promise<BenchTarget> {
  const server = await NginxServer.start();
  return {
    kind: 'http',
    description: 'nginx (Debian nginx-light, WebDAV PUT/DELETE) on 127.0.0.1',
    oursUrl: (prefix) => server.url(`/${prefix}/`),
    oursEnv: {},
    openOptions: {},
    rcloneDestination: () => undefined,
    rcloneEnv: {},
    rcloneVariants: [],
    rcloneMissing: "rclone's webdav backend needs PROPFIND and MKCOL, which nginx-light lacks",
    clear: (prefix) => rmSync(join(server.root, prefix), { recursive: true, force: true }),
    stop: () => server.stop(),
  };
}

async function startLocalTarget(configFile: string): Promise<BenchTarget> {
  const root = mkdtempSync(join(tmpdir(), 'chunker-bench-local-'));
  return {
    kind: 'local',
    description: `a directory on this machine's disk (${root})`,
    oursUrl: (prefix) => `file://${join(root, prefix)}`,
    oursEnv: {},
    openOptions: {},
    rcloneDestination: (prefix) => join(root, prefix),
    rcloneEnv: { RCLONE_CONFIG: configFile },
    rcloneVariants: [{ label: 'rclone', flags: [], subsetOnly: false }],
    rcloneMissing: null,
    clear: (prefix) => rmSync(join(root, prefix), { recursive: true, force: true }),
    stop: async () => rmSync(root, { recursive: true, force: true }),
  };
}

/** Starts the server of `kind`; `scratch` holds the (empty) rclone config file. */
export async function startTarget(kind: TargetKind, scratch: string): Promise<BenchTarget> {
  mkdirSync(scratch, { recursive: true });
  const configFile = join(scratch, 'rclone.conf');
  writeFileSync(configFile, '');
  switch (kind) {
    case 's3':
      return startS3Target(configFile);
    case 'sftp':
      return startSftpTarget(configFile);
    case 'http':
      return startHttpTarget();
    case 'local':
      return startLocalTarget(configFile);
  }
}
