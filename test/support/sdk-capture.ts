/**
 * The request the AWS SDK would send, captured instead of sent: an S3Client whose request
 * handler records what it is handed and stops there. Tests set our own S3 requests beside
 * these (test/unit/s3-put-object.test.ts, s3-multipart.test.ts).
 */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

export interface CapturedRequest {
  method: string;
  hostname: string;
  port: number | undefined;
  path: string;
  /** Parameters without a value (`?uploads`) as ''. */
  query: Record<string, string>;
  /** Names in lower case. */
  headers: Record<string, string>;
  body: Buffer;
}

class Captured extends Error {
  constructor(readonly request: CapturedRequest) {
    super('request captured');
  }
}

interface HandledRequest {
  method: string;
  hostname: string;
  port?: number;
  path: string;
  query: Record<string, string | null>;
  headers: Record<string, string>;
  body?: unknown;
}

/** What a client made from `config` sends in `send`; no retries, checksums only where S3 requires them. */
export async function captureSdkRequest(config: S3ClientConfig, send: (client: S3Client) => Promise<unknown>): Promise<CapturedRequest> {
  const client = new S3Client({
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    ...config,
    requestHandler: {
      handle: async (request: HandledRequest) => {
        const body = typeof request.body === 'string' ? Buffer.from(request.body) : Buffer.from((request.body as Uint8Array | undefined) ?? []);
        throw new Captured({
          method: request.method,
          hostname: request.hostname,
          port: request.port,
          path: request.path,
          query: Object.fromEntries(Object.entries(request.query).map(([name, value]) => [name, value ?? ''])),
          headers: Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value])),
          body,
        });
      },
    },
  });
  try {
    await send(client);
  } catch (error) {
    if (error instanceof Captured) return error.request;
    throw error;
  } finally {
    client.destroy();
  }
  throw new Error('the SDK sent nothing');
}
