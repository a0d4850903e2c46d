import { TenantMismatchError, VerifyError } from './errors.js';

/** Sealpost's tenant ids: `ten_` and up to 64 letters or digits. */
const TENANT_ID = /^ten_[0-9A-Za-z]{1,64}$/;

export function isTenantId(value: unknown): value is string {
  return typeof value === 'string' && TENANT_ID.test(value);
}

/** The caller's expected tenant, checked before anything else is read. */
export function expectedTenant(value: unknown, name: string): string {
  if (!isTenantId(value)) throw new VerifyError('SP_VERIFY_MALFORMED_INPUT', `${name} must be your tenant id (ten_…)`);
  return value;
}

/**
 * Refuses a document signed for another tenant than `expected`. Called once its signature has
 * verified: what it names is then Sealpost's word, and only the tenant it names may act on it.
 */
export function checkTenant(expected: string, actual: unknown): void {
  if (actual !== expected) throw new TenantMismatchError(expected, typeof actual === 'string' ? actual : String(actual));
}
