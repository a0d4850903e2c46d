import type { FastifyReply } from 'fastify';
import { SealpostError } from '../../errors/sealpost-error.js';

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

/** What the identity core does with a verified SSO login (implemented by the operators/sessions service after merge). */
export interface SsoSignIn {
  complete(identity: VerifiedSsoIdentity, reply: FastifyReply): Promise<unknown>;
}

/** Until operator sessions exist, a verified SSO login has nothing to sign in to: refuse plainly. */
export const SIGN_IN_UNAVAILABLE: SsoSignIn = {
  complete() {
    return Promise.reject(new SealpostError('SP_ERR_SSO_SIGN_IN_UNAVAILABLE', 'SSO login verified, but operator sign-in is not available in this build'));
  },
};
