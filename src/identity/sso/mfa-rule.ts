/**
 * Which IdP assertions count as multi-factor authentication. A tenant names the values; without
 * a match Sealpost asks for its own second factor after the SSO login (docs/identity.md).
 */

/**
 * OIDC `amr` values (RFC 8176 §2) that count as MFA unless the tenant says otherwise: `mfa`
 * (multiple factors), `hwk` (a hardware-bound key, e.g. a security key) and `otp` (a one-time
 * code, which IdPs send only as a factor on top of a password). Entra ID, Okta and Keycloak
 * send `mfa` after a second factor. `pwd`, `swk`, `pin` and the like are single factors.
 */
export const DEFAULT_OIDC_MFA_AMR: readonly string[] = ['mfa', 'hwk', 'otp'];
/** `acr` values are IdP-specific: none counts unless the tenant names it. */
export const DEFAULT_OIDC_MFA_ACR: readonly string[] = [];
/** SAML AuthnContextClassRef values are IdP-specific too: none counts unless the tenant names it. */
export const DEFAULT_SAML_MFA_AUTHN_CONTEXTS: readonly string[] = [];

/** True when any `amr` value or the `acr` is one the rule names. Non-string claims count as absent. */
export function oidcAssertsMfa(claims: { amr?: unknown; acr?: unknown }, rule: { amr: readonly string[]; acr: readonly string[] }): boolean {
  const amr = Array.isArray(claims.amr) ? claims.amr.filter((v): v is string => typeof v === 'string') : [];
  if (amr.some((value) => rule.amr.includes(value))) return true;
  return typeof claims.acr === 'string' && rule.acr.includes(claims.acr);
}

/** True when an AuthnContextClassRef of the (signed) assertion is one the tenant names. */
export function samlAssertsMfa(classRefs: readonly string[], rule: readonly string[]): boolean {
  return classRefs.some((value) => rule.includes(value));
}
