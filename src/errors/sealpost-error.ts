import { ERROR_CODES, type ErrorCode } from './error-codes.js';

/**
 * Every domain error Sealpost throws. Services throw these, never HTTP-shaped errors; the HTTP
 * error handler and the SMTP mapper translate them at the edge.
 *
 * `message` is safe to show to the caller (it is the problem+json `detail`): it must say what
 * went wrong without revealing secrets or which part of a credential failed. Anything more goes
 * into `logDetail`, which only reaches the log.
 */
export class SealpostError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly logDetail: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; logDetail?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SealpostError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.logDetail = options.logDetail;
  }

  get title(): string {
    return ERROR_CODES[this.code].title;
  }
}

export function isSealpostError(value: unknown): value is SealpostError {
  return value instanceof SealpostError;
}
