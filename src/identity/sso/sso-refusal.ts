import { SealpostError, isSealpostError } from '../../errors/sealpost-error.js';

/**
 * A refused SSO login. The caller sees only "SSO login refused"; `reason` (a fixed phrase, never
 * IdP- or attacker-chosen text) goes to the log and the `sso.login_refused` audit event.
 */
export function loginRefused(reason: string, cause?: unknown, libraryCode?: string): SealpostError {
  return new SealpostError('SP_ERR_SSO_LOGIN_REFUSED', 'SSO login refused', { cause, logDetail: { reason, ...(libraryCode ? { library_code: libraryCode } : {}) } });
}

export function emailRefused(reason: string): SealpostError {
  return new SealpostError('SP_ERR_SSO_EMAIL_REFUSED', 'The e-mail address the identity provider asserted is not accepted for this tenant', { logDetail: { reason } });
}

export function idpUnavailable(reason: string, cause?: unknown, libraryCode?: string): SealpostError {
  return new SealpostError('SP_ERR_SSO_IDP_UNAVAILABLE', 'The identity provider could not be reached or its metadata is invalid', {
    cause,
    logDetail: { reason, ...(libraryCode ? { library_code: libraryCode } : {}) },
  });
}

const LOGIN_CODES = new Set(['SP_ERR_SSO_LOGIN_REFUSED', 'SP_ERR_SSO_EMAIL_REFUSED', 'SP_ERR_SSO_IDP_UNAVAILABLE']);

/** The audit details of a refusal thrown by the login services, or undefined for other errors. */
export function refusalDetails(err: unknown): { code: string; reason: string; library_code?: string } | undefined {
  if (!isSealpostError(err) || !LOGIN_CODES.has(err.code)) return undefined;
  const reason = typeof err.logDetail?.['reason'] === 'string' ? err.logDetail['reason'] : 'unspecified';
  const library = err.logDetail?.['library_code'];
  return { code: err.code, reason, ...(typeof library === 'string' ? { library_code: library.slice(0, 64) } : {}) };
}
