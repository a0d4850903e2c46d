import type { SsoSignIn } from '../sso/sso-sign-in.port.js';
import type { MemberService } from '../operators/member.service.js';
import type { LoginService } from './login.service.js';

/**
 * A verified SSO login becomes an operator session: the operator is found (or created just in
 * time, with the tenant's default SSO role) and signed in. The second factor is satisfied only
 * when the IdP asserted MFA by a value the tenant's SSO setting names; otherwise the session is
 * pending and reaches nothing but the second-factor step (or enrolment), as after a password.
 */
export function ssoSignInThroughSessions(members: MemberService, login: LoginService): SsoSignIn {
  return {
    async complete(identity, reply) {
      const { operatorId } = await members.findOrCreateForSso(identity.tenantId, identity.email, identity.provider);
      const signedIn = await login.signIn(identity.tenantId, operatorId, identity.provider, identity.mfaAsserted, reply.request.ip || 'unknown');
      const { issued } = signedIn;
      reply.header('set-cookie', issued.setCookie);
      reply.header('cache-control', 'no-store');
      return {
        second_factor_required: signedIn.secondFactorRequired,
        enrolment_required: signedIn.enrolmentRequired,
        session: { id: issued.session.id, second_factor_satisfied: issued.session.secondFactorSatisfied },
        csrf_token: issued.csrfToken,
      };
    },
  };
}
