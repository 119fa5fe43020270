// Runs npm `s3rver` for the S3 backend tests, in its own process so a test can kill it
// by PID mid-upload. Usage: node --openssl-legacy-provider s3rver-launcher.mjs CONFIG_JSON
// where CONFIG_JSON is {"directory": "...", "port": 0, "buckets": ["name", ...]}.
// Prints one line {"port": N} on stdout once it is listening (port 0 picks a free one),
// and exits when its stdin closes (the test process is gone).
//
// s3rver 3.7.1 falls short of S3 where the store contract depends on it; this launcher
// closes exactly these gaps (s3rver-s3-gaps.mjs) and changes nothing else:
//   - PutObject writes straight to the object's file, so an interrupted upload leaves a
//     truncated object that GET, HEAD and LIST serve; S3 publishes an object whole.
//   - AbortMultipartUpload answers 405 and ListMultipartUploads 501.
// It is also started with --openssl-legacy-provider: its ListObjectsV2 continuation
// tokens use DES, which Node 17+ (OpenSSL 3) refuses without it, so any listing longer
// than one page would fail with InternalError.
import S3rver from 's3rver';
import { closeS3Gaps } from './s3rver-s3-gaps.mjs';

const config = JSON.parse(process.argv[2] ?? '{}');
const server = new S3rver({
  address: '127.0.0.1',
  port: config.port ?? 0,
  directory: config.directory,
  silent: true,
  configureBuckets: (config.buckets ?? []).map((name) => ({ name, configs: [] })),
});
closeS3Gaps(server);
const { port } = await server.run();
process.stdout.write(`${JSON.stringify({ port })}\n`);
// The test harness holds stdin open; when it goes away, so does this server.
process.stdin.on('end', () => process.exit(0)).resume();
