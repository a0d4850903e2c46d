/**
 * Every error code `@sealpost/client` throws, with what it means. Receipt checks throw
 * `@sealpost/verify`'s `VerifyError` (its own `SP_VERIFY_*` codes) unchanged.
 *
 * @example
 * ```ts
 * import { CLIENT_ERROR_CODES } from '@sealpost/client';
 * console.log(CLIENT_ERROR_CODES.SP_CLIENT_REJECTED);
 * ```
 */
export const CLIENT_ERROR_CODES = {
  SP_CLIENT_INVALID_INPUT: 'an option or the payload is not what sendPayload accepts (nothing was sent)',
  SP_CLIENT_REJECTED: 'the relay refused the request with a 4xx other than 429; retrying the same request cannot succeed',
  SP_CLIENT_GAVE_UP: 'every attempt met a 429, a 5xx or a network failure, or the relay asked to wait longer than maxRetryAfterMs',
  SP_CLIENT_BAD_RESPONSE: 'the relay answered 2xx with something that is not an accepted receipt for this payload and tenant',
} as const;

/**
 * Literal union of every code a {@link SealpostClientError} may carry.
 *
 * @example
 * ```ts
 * import type { ClientErrorCode } from '@sealpost/client';
 * const permanent = (code: ClientErrorCode): boolean => code === 'SP_CLIENT_REJECTED';
 * ```
 */
export type ClientErrorCode = keyof typeof CLIENT_ERROR_CODES;

/**
 * The error `sendPayload` throws when it does not return a verified receipt. Match on `code`;
 * `status` and `problem` carry the relay's last answer (RFC 9457 problem details) when there was one.
 *
 * @example
 * ```ts
 * import { isSealpostClientError } from '@sealpost/client';
 * try {
 *   await client.sendPayload(order, { idempotencyKey: `order-${order.id}` });
 * } catch (err) {
 *   if (isSealpostClientError(err) && err.code === 'SP_CLIENT_GAVE_UP') queueForLater(order); // same key next time
 *   else throw err;
 * }
 * ```
 */
export class SealpostClientError extends Error {
  readonly code: ClientErrorCode;
  /** HTTP status of the relay's last answer, if it answered. */
  readonly status: number | undefined;
  /** The relay's problem+json body (`code`, `title`, `detail`, `instance`), if it sent one. */
  readonly problem: Readonly<Record<string, unknown>> | undefined;
  /** How many requests were made. */
  readonly attempts: number;

  constructor(code: ClientErrorCode, message: string, details: { status?: number; problem?: Record<string, unknown>; attempts?: number; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SealpostClientError';
    this.code = code;
    this.status = details.status;
    this.problem = details.problem;
    this.attempts = details.attempts ?? 0;
  }
}

/**
 * True for errors this package throws (checked by `code`, so it also holds across two copies of
 * the package in one program).
 *
 * @example
 * ```ts
 * import { isSealpostClientError } from '@sealpost/client';
 * if (isSealpostClientError(err)) console.error(err.code, err.status);
 * ```
 */
export function isSealpostClientError(err: unknown): err is SealpostClientError {
  const code: unknown = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && Object.hasOwn(CLIENT_ERROR_CODES, code);
}
