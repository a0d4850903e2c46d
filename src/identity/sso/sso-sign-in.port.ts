import type { FastifyReply } from 'fastify';

/** A person the tenant's IdP vouched for, after every SSO check passed. */
export interface VerifiedSsoIdentity {
  readonly tenantId: string;
  /** Lower-cased; verified by the IdP, in one of the tenant's verified domains. */
  readonly email: string;
  /** The IdP's stable id for the person: OIDC `sub`, SAML NameID. */
  readonly subject: string;
  readonly provider: 'oidc' | 'saml';
  /**
   * True only when the IdP asserted multi-factor authentication by a value the tenant's MFA rule
   * names (OIDC `amr`/`acr`, SAML AuthnContextClassRef). When false, Sealpost must ask for its own
   * second factor: SSO never bypasses it.
   */
  readonly mfaAsserted: boolean;
}

/** What the identity core does with a verified SSO login: an operator session (identity/sessions/sso-sign-in.ts). */
export interface SsoSignIn {
  complete(identity: VerifiedSsoIdentity, reply: FastifyReply): Promise<unknown>;
}
