/**
 * The one error type the engine throws. `code` is stable and machine-readable
 * (it travels on the wire and is listed in protocol/spec.md); `message` is for people.
 * `permanent` says whether repeating the same request could ever succeed.
 */
export class ChunkerError extends Error {
  override readonly name = 'ChunkerError';
  constructor(
    readonly code: string,
    message: string,
    readonly permanent: boolean = true,
  ) {
    super(message);
  }
}

/** Renders a value for an error message without dumping huge buffers. */
function describeValue(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.length})`;
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * Every bad-argument error is built here so they all read alike:
 * "Expected <what> for <name> but received <value>".
 */
export function invalidParameter(name: string, expected: string, received: unknown): ChunkerError {
  return new ChunkerError(
    'invalid_argument',
    `Expected ${expected} for ${name} but received ${describeValue(received)}`,
  );
}
