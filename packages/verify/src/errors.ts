/**
 * Every error code `@sealpost/verify` throws, with what it means. Codes are a contract with
 * the code that catches them: a code is never reused once retired. The README lists each one
 * (a test keeps the two in step).
 *
 * @example
 * ```ts
 * import { VERIFY_ERROR_CODES } from '@sealpost/verify';
 * console.log(VERIFY_ERROR_CODES.SP_VERIFY_BAD_SIGNATURE); // 'no signature verifies with the key'
 * ```
 */
export const VERIFY_ERROR_CODES = {
  SP_VERIFY_MALFORMED_INPUT: 'a header, body, receipt, JWKS or option is missing or not in the documented format',
  SP_VERIFY_UNKNOWN_KEY: 'the key id is not in the JWKS given',
  SP_VERIFY_EXPIRED_KEY: 'the key was not valid at the signing time (before its nbf or after its exp)',
  SP_VERIFY_BAD_SIGNATURE: 'no signature verifies with the key',
  SP_VERIFY_STALE_TIMESTAMP: 'the timestamp is further from now than the tolerance allows',
  SP_VERIFY_TENANT_MISMATCH: 'the envelope or receipt is for another tenant than the one expected, even if its signature is valid',
  SP_VERIFY_JCS_LONE_SURROGATE: 'a string or member name holds a lone UTF-16 surrogate (RFC 8785 §3.2.2.2)',
  SP_VERIFY_JCS_NON_FINITE: 'a number is NaN or infinite (RFC 8785 §3.2.2.3)',
  SP_VERIFY_JCS_UNSUPPORTED: 'a value has no JSON form (undefined, function, symbol, bigint, boxed primitive)',
  SP_VERIFY_JCS_TOO_DEEP: 'a value is nested deeper than the canonicaliser allows, or is circular',
} as const;

/**
 * Literal union of every code a {@link VerifyError} may carry.
 *
 * @example
 * ```ts
 * import type { VerifyErrorCode } from '@sealpost/verify';
 * const retryable = (code: VerifyErrorCode): boolean => code === 'SP_VERIFY_UNKNOWN_KEY'; // refresh the JWKS, try again
 * ```
 */
export type VerifyErrorCode = keyof typeof VERIFY_ERROR_CODES;

/**
 * The codes {@link canonicalize} throws, carried by {@link JcsError}.
 *
 * @example
 * ```ts
 * import type { JcsErrorCode } from '@sealpost/verify';
 * const code: JcsErrorCode = 'SP_VERIFY_JCS_NON_FINITE';
 * ```
 */
export type JcsErrorCode = Extract<VerifyErrorCode, `SP_VERIFY_JCS_${string}`>;

/**
 * The only error type the verifier throws. Match on `code`, not on `message`: messages are
 * short, stable-ish English and deliberately say little about which byte failed.
 *
 * @example
 * ```ts
 * import { verifyWebhook, VerifyError } from '@sealpost/verify';
 * try {
 *   verifyWebhook({ headers, body, jwks, tenant: 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z' });
 * } catch (err) {
 *   if (err instanceof VerifyError && err.code === 'SP_VERIFY_UNKNOWN_KEY') {
 *     // the key was published after our copy of jwks.json: fetch it again and retry once
 *   }
 *   throw err;
 * }
 * ```
 */
export class VerifyError<C extends VerifyErrorCode = VerifyErrorCode> extends Error {
  /** Which rule failed; one of {@link VERIFY_ERROR_CODES}. */
  readonly code: C;

  constructor(code: C, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VerifyError';
    this.code = code;
  }
}

/**
 * Thrown by {@link canonicalize} for a value RFC 8785 cannot represent. A `VerifyError`, so
 * one `catch` handles both.
 *
 * @example
 * ```ts
 * import { canonicalize, JcsError } from '@sealpost/verify';
 * try {
 *   canonicalize({ n: Number.NaN });
 * } catch (err) {
 *   if (err instanceof JcsError) console.log(err.code); // 'SP_VERIFY_JCS_NON_FINITE'
 * }
 * ```
 */
export class JcsError extends VerifyError<JcsErrorCode> {
  constructor(code: JcsErrorCode, message: string) {
    super(code, message);
    this.name = 'JcsError';
  }
}

/**
 * Thrown when a webhook envelope or receipt carries another `tenant` than the one the caller
 * expects: a signature proves Sealpost made the document, and this check proves it was made
 * for you (DESIGN §6), so another tenant's genuine request replayed to your endpoint is
 * refused. A `VerifyError`, so one `catch` handles both.
 *
 * @example
 * ```ts
 * import { verifyWebhook, TenantMismatchError } from '@sealpost/verify';
 * try {
 *   verifyWebhook({ headers, body, jwks, tenant: 'ten_01JDG3ZK8Q4W7N2M5R9T6V3X1Z' });
 * } catch (err) {
 *   if (err instanceof TenantMismatchError) console.warn('replayed from another tenant', err.actual);
 *   throw err;
 * }
 * ```
 */
export class TenantMismatchError extends VerifyError<'SP_VERIFY_TENANT_MISMATCH'> {
  /** The tenant the caller expected. */
  readonly expected: string;
  /** The tenant the signed document names. */
  readonly actual: string;

  constructor(expected: string, actual: string) {
    super('SP_VERIFY_TENANT_MISMATCH', 'signed for another tenant');
    this.name = 'TenantMismatchError';
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * Type guard for {@link VerifyError}, also true for {@link JcsError}.
 *
 * @example
 * ```ts
 * import { isVerifyError } from '@sealpost/verify';
 * if (isVerifyError(err)) res.status(401).end(); // the request is not from Sealpost
 * ```
 */
export function isVerifyError(value: unknown): value is VerifyError {
  return value instanceof VerifyError;
}
