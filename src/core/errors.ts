// A closed set of error codes and one table that maps them to HTTP. Each protocol renders its own
// envelope around the message (V2: {"error": "..."}), so the message must read well on its own:
// what was wrong, and what to send instead.

export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'CANCELLED'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'INTERNAL';

export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
  DEADLINE_EXCEEDED: 504,
  // 499 is nginx's "client closed request": nobody reads it, but logs and metrics should say what happened.
  CANCELLED: 499,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  INTERNAL: 500,
};

export interface FerryErrorOptions {
  /** seconds a client should wait before retrying; rendered as a Retry-After header */
  retryAfterSeconds?: number;
  cause?: unknown;
}

export class FerryError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message: string, options: FerryErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FerryError';
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }
}

export const invalid = (message: string): FerryError => new FerryError('INVALID_ARGUMENT', message);
export const notFound = (message: string): FerryError => new FerryError('NOT_FOUND', message);

/** Turns anything thrown into a FerryError; unknown errors become INTERNAL without leaking internals. */
export function asFerryError(err: unknown): FerryError {
  if (err instanceof FerryError) return err;
  return new FerryError('INTERNAL', 'internal error; the server log has the details under this request id', {
    cause: err,
  });
}
